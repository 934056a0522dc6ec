//! The content routes: the trees, folders and items (`/api/v1/content…`).
//! Running them is in [`super::investigate`].

use axum::extract::{Path, State};
use axum::http::StatusCode;

use app::api::content::{
    AlertInfo, Duplicate, Item, ItemChange, ItemKind, NewItem, Trees, WebhookSecret,
};

use super::alerts::Rule;
use super::store::{self, ItemRow};
use super::tree::Folders;
use super::{check_name, define, define_alert, Content, Owner, MAX_ITEMS};
use crate::auth::CurrentUser;
use crate::db::WriteTx;
use crate::error::{ApiError, Json};
use crate::openapi::{BadBody, Missing, Signed};
use protocol::api::ErrorBody;

/// An item as the API shows it.
pub fn item_reply(i: ItemRow) -> Item {
    Item {
        id: i.id,
        scope: i.owner.scope(),
        folder: Some(i.folder).filter(|f| !f.is_empty()),
        kind: ItemKind::parse(&i.kind).unwrap_or_default(),
        name: i.name,
        definition: i.definition,
        canonical: i.canonical,
        hash: i.hash,
        updated_at: i.updated_at,
        updated_by: i.updated_by,
        alert: None,
    }
}

/// An alert's settings; its webhooks' secrets only for who may change it.
fn alert_info(
    rule: &Rule,
    enabled_on: Vec<String>,
    hooks: Vec<(String, String)>,
    may_change: bool,
) -> AlertInfo {
    let mut spec = rule.spec();
    spec.webhooks = hooks.iter().map(|(url, _)| url.clone()).collect();
    AlertInfo {
        spec,
        enabled_on,
        secrets: if may_change {
            hooks
                .into_iter()
                .map(|(url, secret)| WebhookSecret { url, secret })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// An item as the API shows it, with its alert settings if it is one.
async fn full_reply(content: &Content, user: &CurrentUser, i: ItemRow) -> Result<Item, ApiError> {
    let alert = match i.kind.as_str() {
        "alert" => {
            let hooks = store::alerts::destinations(&content.db, user.id)
                .await?
                .remove(&i.id)
                .unwrap_or_default();
            let may_change = i.owner.check_change(user).is_ok();
            store::alerts::of(&content.db, &i.id)
                .await?
                .map(|(rule, nodes)| alert_info(&rule, nodes, hooks, may_change))
        }
        _ => None,
    };
    Ok(Item {
        alert,
        ..item_reply(i)
    })
}

pub(super) fn no_folder() -> ApiError {
    ApiError::not_found("no such folder")
}

/// The item `id` if `user` may see it; another user's answers as missing.
pub async fn visible_item(
    content: &Content,
    user: &CurrentUser,
    id: &str,
) -> Result<ItemRow, ApiError> {
    match store::item(&content.db, id).await? {
        Some(item) if item.owner.visible_to(user) => Ok(item),
        _ => Err(ApiError::not_found("no such item")),
    }
}

/// A tree at its size limit.
pub(super) fn full(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "tree_full", message)
}

/// `folder` ('' for the top) must be a folder of `owner`'s tree.
async fn folder_in(tx: &mut WriteTx, owner: Owner, folder: &str) -> Result<(), ApiError> {
    if folder.is_empty() || Folders::new(&store::folders_of(tx, owner).await?).contains(folder) {
        Ok(())
    } else {
        Err(no_folder())
    }
}

/// `GET /api/v1/content`: the user's tree and the Global one.
#[utoipa::path(
    get,
    path = "/api/v1/content",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The caller's tree and the Global tree", body = Trees), Signed),
)]
pub async fn trees(
    State(content): State<Content>,
    user: CurrentUser,
) -> Result<Json<Trees>, ApiError> {
    let (folders, items) = store::trees(&content.db, user.id).await?;
    let mut alerts = store::alerts::visible(&content.db, user.id).await?;
    let mut hooks = store::alerts::destinations(&content.db, user.id).await?;
    Ok(Json(Trees {
        folders: folders.into_iter().map(super::folders::reply).collect(),
        items: items
            .into_iter()
            .map(|i| {
                let may_change = i.owner.check_change(&user).is_ok();
                let hooks = hooks.remove(&i.id).unwrap_or_default();
                let alert = alerts
                    .remove(&i.id)
                    .map(|(rule, nodes)| alert_info(&rule, nodes, hooks, may_change));
                Item {
                    alert,
                    ..item_reply(i)
                }
            })
            .collect(),
        manage_global: user.manage_global_content,
    }))
}

/// `POST /api/v1/content`: a new item. A new alert is enabled on this node
/// only (unless this node is at its `alert_limit`: then it is saved
/// disabled, and the reply shows it enabled nowhere).
#[utoipa::path(
    post,
    path = "/api/v1/content",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 201, description = "Created", body = Item), Signed, BadBody, Missing, (status = 409, description = "`conflict`", body = ErrorBody)),
)]
pub async fn create_item(
    State(content): State<Content>,
    user: CurrentUser,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let owner = Owner::of(new.scope, &user);
    owner.check_change(&user)?;
    let (definition, rule) = match (new.kind, &new.alert) {
        (ItemKind::Alert, Some(spec)) => {
            let (d, rule) = define_alert(&new.definition, spec)?;
            (d, Some(rule))
        }
        (ItemKind::Alert, None) => {
            return Err(ApiError::bad_request(
                "invalid_alert",
                "an alert needs its settings: alert {condition, period, …}",
            ))
        }
        (_, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_alert",
                "only an item of kind alert has alert settings",
            ))
        }
        (kind, None) => (define(&new.definition, kind)?, None),
    };
    let hooks = content.check_webhooks(new.alert.as_ref().map_or(&[][..], |a| &a.webhooks))?;
    let item = ItemRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner,
        folder: new.folder.unwrap_or_default(),
        kind: new.kind.as_str().to_owned(),
        name: check_name(&new.name)?,
        definition: definition.text,
        canonical: definition.canonical,
        hash: definition.hash,
        updated_at: 0,
        updated_by: user.username.clone(),
    };
    let mut tx = store::begin(&content.db).await?;
    folder_in(&mut tx, owner, &item.folder).await?;
    if store::sizes(&mut tx, owner).await?.1 >= MAX_ITEMS {
        return Err(full(format!("a tree holds at most {MAX_ITEMS} items")));
    }
    store::insert_item(&content.db, &mut tx, &item).await?;
    if let Some(rule) = &rule {
        new_alert(&content, &mut tx, &item.id, rule, &user).await?;
        store::alerts::put_destinations(&mut tx, &item.id, &hooks).await?;
    }
    store::commit(tx).await?;
    let saved = visible_item(&content, &user, &item.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(full_reply(&content, &user, saved).await?),
    ))
}

/// Stores a new alert's settings and enables it on this node if it has
/// room.
async fn new_alert(
    content: &Content,
    tx: &mut WriteTx,
    id: &str,
    rule: &Rule,
    user: &CurrentUser,
) -> Result<(), ApiError> {
    store::alerts::put_settings(tx, id, rule).await?;
    store::alerts::enable(&content.db, tx, id, &content.node, &user.username).await?;
    store::alerts::changed(tx).await?;
    Ok(())
}

/// `GET /api/v1/content/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/content/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "item id")),
    responses((status = 200, description = "The item", body = Item), Signed, Missing),
)]
pub async fn item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Item>, ApiError> {
    let item = visible_item(&content, &user, &id).await?;
    Ok(Json(full_reply(&content, &user, item).await?))
}

/// `PATCH /api/v1/content/{id}`: edit, rename, move (within or across
/// trees).
#[utoipa::path(
    patch,
    path = "/api/v1/content/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "item id")),
    responses((status = 200, description = "Changed", body = Item), Signed, BadBody, Missing, (status = 409, description = "`conflict`", body = ErrorBody)),
)]
pub async fn change_item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<ItemChange>,
) -> Result<Json<Item>, ApiError> {
    let mut item = visible_item(&content, &user, &id).await?;
    item.owner.check_change(&user)?;
    if let Some(scope) = change.scope {
        let owner = Owner::of(scope, &user);
        owner.check_change(&user)?;
        if owner != item.owner {
            item.owner = owner;
            item.folder = String::new();
        }
    }
    if let Some(folder) = change.folder {
        item.folder = folder.unwrap_or_default();
    }
    if let Some(name) = &change.name {
        item.name = check_name(name)?;
    }
    let kind = ItemKind::parse(&item.kind).unwrap_or_default();
    let mut rule = None;
    if kind == ItemKind::Alert && (change.definition.is_some() || change.alert.is_some()) {
        let spec = match &change.alert {
            Some(spec) => spec.clone(),
            None => match store::alerts::of(&content.db, &item.id).await? {
                Some((old, _)) => old.spec(),
                None => return Err(ApiError::internal("an alert without settings")),
            },
        };
        let text = change.definition.as_deref().unwrap_or(&item.definition);
        let (definition, checked) = define_alert(text, &spec)?;
        (item.definition, item.canonical, item.hash) =
            (definition.text, definition.canonical, definition.hash);
        rule = Some(checked);
    } else if change.alert.is_some() {
        return Err(ApiError::bad_request(
            "invalid_alert",
            "only an item of kind alert has alert settings",
        ));
    } else if let Some(text) = &change.definition {
        let definition = define(text, kind)?;
        (item.definition, item.canonical, item.hash) =
            (definition.text, definition.canonical, definition.hash);
    }
    item.updated_by = user.username.clone();
    let mut tx = store::begin(&content.db).await?;
    folder_in(&mut tx, item.owner, &item.folder).await?;
    store::update_item(&content.db, &mut tx, &item).await?;
    if let Some(rule) = &rule {
        store::alerts::put_settings(&mut tx, &item.id, rule).await?;
        store::alerts::changed(&mut tx).await?;
    }
    if let Some(spec) = &change.alert {
        let hooks = content.check_webhooks(&spec.webhooks)?;
        store::alerts::put_destinations(&mut tx, &item.id, &hooks).await?;
    }
    store::commit(tx).await?;
    let saved = visible_item(&content, &user, &id).await?;
    Ok(Json(full_reply(&content, &user, saved).await?))
}

/// `POST /api/v1/content/{id}/duplicate`: a copy, by default beside the
/// original as "… (copy)". Anyone may copy a Global item into their tree.
#[utoipa::path(
    post,
    path = "/api/v1/content/{id}/duplicate",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "item id")),
    responses((status = 201, description = "The copy", body = Item), Signed, BadBody, Missing, (status = 409, description = "`conflict`", body = ErrorBody)),
)]
pub async fn duplicate(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(to): Json<Duplicate>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let original = visible_item(&content, &user, &id).await?;
    // A copy of an alert is a new alert: enabled on this node only.
    let rule = match original.kind.as_str() {
        "alert" => store::alerts::of(&content.db, &original.id)
            .await?
            .map(|(rule, _)| rule),
        _ => None,
    };
    let owner = to.scope.map_or(original.owner, |s| Owner::of(s, &user));
    owner.check_change(&user)?;
    let folder = match to.folder {
        Some(f) => f.unwrap_or_default(),
        None if owner == original.owner => original.folder.clone(),
        None => String::new(),
    };
    let mut tx = store::begin(&content.db).await?;
    folder_in(&mut tx, owner, &folder).await?;
    if store::sizes(&mut tx, owner).await?.1 >= MAX_ITEMS {
        return Err(full(format!("a tree holds at most {MAX_ITEMS} items")));
    }
    let taken = store::names_in(&mut tx, owner, &folder).await?;
    let name = match &to.name {
        Some(name) => check_name(name)?,
        None => free_name(&original.name, &taken),
    };
    let copy = ItemRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner,
        folder,
        name,
        updated_by: user.username.clone(),
        ..original
    };
    store::insert_item(&content.db, &mut tx, &copy).await?;
    if let Some(rule) = &rule {
        new_alert(&content, &mut tx, &copy.id, rule, &user).await?;
    }
    store::commit(tx).await?;
    let saved = visible_item(&content, &user, &copy.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(full_reply(&content, &user, saved).await?),
    ))
}

/// `name (copy)`, `name (copy 2)`, … : the first not in `taken`.
fn free_name(name: &str, taken: &[String]) -> String {
    let base: String = name.chars().take(super::MAX_NAME - 12).collect();
    (1..)
        .map(|n| match n {
            1 if !taken.iter().any(|t| t == name) => name.to_owned(),
            1 => format!("{base} (copy)"),
            n => format!("{base} (copy {n})"),
        })
        .find(|candidate| !taken.contains(candidate))
        .expect("an unused name")
}

/// `DELETE /api/v1/content/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/content/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "item id")),
    responses((status = 204, description = "Deleted"), Signed, Missing),
)]
pub async fn delete_item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let item = visible_item(&content, &user, &id).await?;
    item.owner.check_change(&user)?;
    let mut tx = store::begin(&content.db).await?;
    store::delete_item(&mut tx, &item.id).await?;
    store::commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::free_name;

    #[test]
    fn a_copy_takes_the_first_free_name() {
        let taken = vec!["web".to_string(), "web (copy)".to_string()];
        assert_eq!(free_name("web", &taken), "web (copy 2)");
        assert_eq!(free_name("db", &taken), "db");
    }
}
