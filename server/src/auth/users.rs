//! Console users, managed by admins: list, add, change a role, remove.
//! The last admin can be neither demoted nor removed, and no admin can
//! demote or remove themselves.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use app::api::{Me, NewUser, SetPermissions, SetUserRole, UserRole, UserSummary};

use super::{check_new_user, password, store, Auth, CurrentUser};
use crate::db::StoreError;
use crate::error::{ApiError, Json};
use crate::openapi::{BadBody, Missing, Signed};
use protocol::api::ErrorBody;

fn admin_only(user: &CurrentUser) -> Result<(), ApiError> {
    if user.role == UserRole::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins manage users"))
    }
}

fn not_found_or(name: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(format!("no user named {name}")),
        other => other.into(),
    }
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Users (admins)", body = Vec<UserSummary>), Signed),
)]
pub async fn list(
    State(app): State<Auth>,
    user: CurrentUser,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    admin_only(&user)?;
    Ok(Json(store::list_users(&app.db).await?))
}

/// `POST /api/v1/users` (admins): adds a console user.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 201, description = "Created", body = Me), Signed, BadBody, (status = 409, description = "`conflict`: the name is taken", body = ErrorBody)),
)]
pub async fn create(
    State(app): State<Auth>,
    user: CurrentUser,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<Me>), ApiError> {
    admin_only(&user)?;
    let username = new.username.trim();
    check_new_user(username, &new.password)
        .map_err(|m| ApiError::bad_request("invalid_user", m))?;
    let hash = app.hasher.hash(new.password).await.map_err(|e| match e {
        password::HashError::Busy => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the node is busy; try again",
        )
        .retry_after(1),
        other => ApiError::internal(other),
    })?;
    if !store::create_user(&app.db, username, &hash, new.role).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "user_exists",
            format!("a user named {username} exists already (names ignore case)"),
        ));
    }
    tracing::info!(username, role = %new.role.as_str(), by = %user.username, "user added");
    Ok((
        StatusCode::CREATED,
        Json(Me {
            username: username.to_owned(),
            role: new.role,
            manage_global_content: new.role == UserRole::Admin,
        }),
    ))
}

/// `PUT /api/v1/users/{name}/role`.
#[utoipa::path(
    put,
    path = "/api/v1/users/{name}/role",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 204, description = "Role changed"), Signed, BadBody, Missing, (status = 409, description = "`conflict`: your own role, or the last admin", body = ErrorBody)),
)]
pub async fn set_role(
    State(app): State<Auth>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(body): Json<SetUserRole>,
) -> Result<StatusCode, ApiError> {
    admin_only(&user)?;
    if name.eq_ignore_ascii_case(&user.username) && body.role != UserRole::Admin {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot demote yourself; another admin can",
        ));
    }
    store::set_user_role(&app.db, &name, body.role)
        .await
        .map_err(not_found_or(&name))?;
    tracing::info!(username = %name, role = body.role.as_str(), by = %user.username, "user role changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/{name}`: the user and their sessions.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 204, description = "Removed"), Signed, Missing, (status = 409, description = "`conflict`: yourself, or the last admin", body = ErrorBody)),
)]
pub async fn remove(
    State(app): State<Auth>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&user)?;
    if name.eq_ignore_ascii_case(&user.username) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot remove yourself",
        ));
    }
    store::delete_user(&app.db, &name)
        .await
        .map_err(not_found_or(&name))?;
    tracing::info!(username = %name, by = %user.username, "user removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/users/{name}/permissions` (admins): grants or revokes
/// `manage_global_content`. Viewers only read, so they cannot have it.
#[utoipa::path(
    put,
    path = "/api/v1/users/{name}/permissions",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("name" = String, Path, description = "user name")),
    responses((status = 204, description = "Permissions set"), Signed, BadBody, Missing),
)]
pub async fn set_permissions(
    State(app): State<Auth>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(body): Json<SetPermissions>,
) -> Result<StatusCode, ApiError> {
    admin_only(&user)?;
    let role = store::role_of_user(&app.db, &name)
        .await
        .map_err(not_found_or(&name))?;
    if role == UserRole::Viewer && body.manage_global_content {
        return Err(ApiError::bad_request(
            "invalid_permission",
            "viewers only read; make them operators first",
        ));
    }
    store::set_manage_global(&app.db, &name, body.manage_global_content)
        .await
        .map_err(not_found_or(&name))?;
    tracing::info!(username = %name, manage_global_content = body.manage_global_content, by = %user.username, "permission changed");
    Ok(StatusCode::NO_CONTENT)
}
