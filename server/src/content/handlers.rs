//! The content routes: the trees, folders and items (`/api/v1/content…`).
//! Running them is in [`super::investigate`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::api::content::{
    Deleted, Duplicate, Folder, FolderChange, Item, ItemChange, ItemKind, NewFolder, NewItem, Trees,
};

use super::store::{self, FolderRow, ItemRow};
use super::tree::Folders;
use super::{check_name, define, Content, Owner, MAX_DEPTH, MAX_FOLDERS, MAX_ITEMS};
use crate::auth::CurrentUser;
use crate::db::WriteTx;
use crate::error::{ApiError, Json};

fn folder_reply(f: FolderRow) -> Folder {
    Folder {
        id: f.id,
        scope: f.owner.scope(),
        parent: Some(f.parent).filter(|p| !p.is_empty()),
        name: f.name,
    }
}

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
    }
}

fn no_folder() -> ApiError {
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

async fn visible_folder(
    content: &Content,
    user: &CurrentUser,
    id: &str,
) -> Result<FolderRow, ApiError> {
    match store::folder(&content.db, id).await? {
        Some(f) if f.owner.visible_to(user) => Ok(f),
        _ => Err(no_folder()),
    }
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
pub async fn trees(
    State(content): State<Content>,
    user: CurrentUser,
) -> Result<Json<Trees>, ApiError> {
    let (folders, items) = store::trees(&content.db, user.id).await?;
    Ok(Json(Trees {
        folders: folders.into_iter().map(folder_reply).collect(),
        items: items.into_iter().map(item_reply).collect(),
        manage_global: user.manage_global_content,
    }))
}

/// `POST /api/v1/content/folders`.
pub async fn create_folder(
    State(content): State<Content>,
    user: CurrentUser,
    Json(new): Json<NewFolder>,
) -> Result<(StatusCode, Json<Folder>), ApiError> {
    let owner = Owner::of(new.scope, &user);
    owner.check_change(&user)?;
    let folder = FolderRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner,
        parent: new.parent.unwrap_or_default(),
        name: check_name(&new.name)?,
    };
    let mut tx = store::begin(&content.db).await?;
    let all = store::folders_of(&mut tx, owner).await?;
    let tree = Folders::new(&all);
    if !folder.parent.is_empty() && !tree.contains(&folder.parent) {
        return Err(no_folder());
    }
    if tree.depth(&folder.parent) + 1 > MAX_DEPTH {
        return Err(too_deep());
    }
    if all.len() as i64 >= MAX_FOLDERS {
        return Err(full(format!("a tree holds at most {MAX_FOLDERS} folders")));
    }
    store::insert_folder(&content.db, &mut tx, &folder).await?;
    store::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(folder_reply(folder))))
}

fn too_deep() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "too_deep",
        format!("folders nest at most {MAX_DEPTH} deep"),
    )
}

fn full(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "tree_full", message)
}

/// `PATCH /api/v1/content/folders/{id}`: rename and/or move within its tree.
pub async fn change_folder(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<FolderChange>,
) -> Result<Json<Folder>, ApiError> {
    let mut folder = visible_folder(&content, &user, &id).await?;
    folder.owner.check_change(&user)?;
    if let Some(name) = &change.name {
        folder.name = check_name(name)?;
    }
    let mut tx = store::begin(&content.db).await?;
    if let Some(parent) = change.parent {
        let parent = parent.unwrap_or_default();
        let all = store::folders_of(&mut tx, folder.owner).await?;
        let tree = Folders::new(&all);
        if !parent.is_empty() && !tree.contains(&parent) {
            return Err(no_folder());
        }
        if !parent.is_empty() && tree.is_within(&parent, &folder.id) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "a folder cannot move into itself or a folder inside it",
            ));
        }
        if tree.depth(&parent) + 1 + tree.height(&folder.id) > MAX_DEPTH {
            return Err(too_deep());
        }
        folder.parent = parent;
    }
    store::update_folder(&content.db, &mut tx, &folder).await?;
    store::commit(tx).await?;
    Ok(Json(folder_reply(folder)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteFolder {
    /// Delete what the folder holds too (the console asks first).
    #[serde(default)]
    recursive: bool,
}

/// `DELETE /api/v1/content/folders/{id}[?recursive=true]`.
pub async fn delete_folder(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(how): Query<DeleteFolder>,
) -> Result<Json<Deleted>, ApiError> {
    let folder = visible_folder(&content, &user, &id).await?;
    folder.owner.check_change(&user)?;
    let mut tx = store::begin(&content.db).await?;
    let all = store::folders_of(&mut tx, folder.owner).await?;
    let subtree = Folders::new(&all).subtree(&folder.id);
    let items = store::delete_folders(&mut tx, &subtree).await?;
    let folders = subtree.len() as u64;
    if !how.recursive && (folders > 1 || items > 0) {
        // Dropped without commit: nothing was deleted.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "folder_not_empty",
            format!(
                "\"{}\" holds {} folder(s) and {items} item(s); delete with recursive=true to remove them too",
                folder.name,
                folders - 1
            ),
        ));
    }
    store::commit(tx).await?;
    Ok(Json(Deleted { folders, items }))
}

/// `POST /api/v1/content`: a new item.
pub async fn create_item(
    State(content): State<Content>,
    user: CurrentUser,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    if new.kind == ItemKind::Alert {
        return Err(ApiError::bad_request(
            "unsupported_kind",
            "alerts are not available on this node yet; save the query as an investigation",
        ));
    }
    let owner = Owner::of(new.scope, &user);
    owner.check_change(&user)?;
    let definition = define(&new.definition, new.kind)?;
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
    store::commit(tx).await?;
    let saved = visible_item(&content, &user, &item.id).await?;
    Ok((StatusCode::CREATED, Json(item_reply(saved))))
}

/// `GET /api/v1/content/{id}`.
pub async fn item(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Item>, ApiError> {
    Ok(Json(item_reply(visible_item(&content, &user, &id).await?)))
}

/// `PATCH /api/v1/content/{id}`: edit, rename, move (within or across
/// trees).
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
    if let Some(text) = &change.definition {
        let kind = ItemKind::parse(&item.kind).unwrap_or_default();
        let definition = define(text, kind)?;
        item.definition = definition.text;
        item.canonical = definition.canonical;
        item.hash = definition.hash;
    }
    item.updated_by = user.username.clone();
    let mut tx = store::begin(&content.db).await?;
    folder_in(&mut tx, item.owner, &item.folder).await?;
    store::update_item(&content.db, &mut tx, &item).await?;
    store::commit(tx).await?;
    Ok(Json(item_reply(visible_item(&content, &user, &id).await?)))
}

/// `POST /api/v1/content/{id}/duplicate`: a copy, by default beside the
/// original as "… (copy)". Anyone may copy a Global item into their tree.
pub async fn duplicate(
    State(content): State<Content>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(to): Json<Duplicate>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let original = visible_item(&content, &user, &id).await?;
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
    store::commit(tx).await?;
    let saved = visible_item(&content, &user, &copy.id).await?;
    Ok((StatusCode::CREATED, Json(item_reply(saved))))
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
