//! The folder routes of content (`/api/v1/content/folders…`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::api::content::{Deleted, Folder, FolderChange, NewFolder};

use super::handlers::{full, no_folder};
use super::store::{self, FolderRow};
use super::tree::Folders;
use super::{check_name, Content, Owner, MAX_DEPTH, MAX_FOLDERS};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Missing, Signed};
use protocol::api::ErrorBody;

/// A folder as the API shows it.
pub fn reply(f: FolderRow) -> Folder {
    Folder {
        id: f.id,
        scope: f.owner.scope(),
        parent: Some(f.parent).filter(|p| !p.is_empty()),
        name: f.name,
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

/// `POST /api/v1/content/folders`.
#[utoipa::path(
    post,
    path = "/api/v1/content/folders",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 201, description = "Created", body = Folder), Signed, BadBody, Missing, (status = 409, description = "`conflict`", body = ErrorBody)),
)]
pub async fn create(
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
    Ok((StatusCode::CREATED, Json(reply(folder))))
}

fn too_deep() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "too_deep",
        format!("folders nest at most {MAX_DEPTH} deep"),
    )
}

/// `PATCH /api/v1/content/folders/{id}`: rename and/or move within its tree.
#[utoipa::path(
    patch,
    path = "/api/v1/content/folders/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "folder id")),
    responses((status = 200, description = "Changed", body = Folder), Signed, BadBody, Missing, (status = 409, description = "`conflict`", body = ErrorBody)),
)]
pub async fn change(
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
    Ok(Json(reply(folder)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteFolder {
    /// Delete what the folder holds too (the console asks first).
    #[serde(default)]
    recursive: bool,
}

/// `DELETE /api/v1/content/folders/{id}[?recursive=true]`.
#[utoipa::path(
    delete,
    path = "/api/v1/content/folders/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "folder id")),
    responses((status = 200, description = "What was deleted", body = Deleted), Signed, BadQuery, Missing, (status = 409, description = "`not_empty`", body = ErrorBody)),
)]
pub async fn delete(
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
