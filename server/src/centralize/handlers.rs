//! `GET /api/v1/centralization` and the retry action.

use app::api::centralize::Centralization;
use app::api::UserRole;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::store;
use crate::auth::CurrentUser;
use crate::db::Db;
use crate::error::{ApiError, Json};
use crate::openapi::{Missing, Signed};

/// The capability's state on a node.
#[derive(Clone)]
pub struct Centralize {
    pub db: Db,
}

/// Every source and its status. Plans and reports name users and their
/// items, so only admins see them.
#[utoipa::path(
    get,
    path = "/api/v1/centralization",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Sources being or having been centralized", body = Centralization), Signed),
)]
pub async fn list(
    State(c): State<Centralize>,
    user: CurrentUser,
) -> Result<Json<Centralization>, ApiError> {
    let mut sources = store::list(&c.db).await?;
    let admin = user.role == UserRole::Admin;
    if !admin {
        for s in &mut sources {
            s.plan = None;
            s.report = None;
        }
    }
    Ok(Json(Centralization {
        sources,
        can_retry: admin,
    }))
}

/// Puts a failed source back in line; its node runs it again.
#[utoipa::path(
    post,
    path = "/api/v1/centralization/{node}/retry",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("node" = String, Path, description = "the source node")),
    responses((status = 204, description = "Back in line"), Signed, Missing),
)]
pub async fn retry(
    State(c): State<Centralize>,
    user: CurrentUser,
    Path(node): Path<String>,
) -> Result<StatusCode, ApiError> {
    if user.role != UserRole::Admin {
        return Err(ApiError::forbidden("only admins retry a centralization"));
    }
    if !store::retry(&c.db, &node).await? {
        return Err(ApiError::not_found(format!(
            "no failed centralization for a node named {node}"
        )));
    }
    tracing::info!(%node, by = %user.username, "centralization retried");
    Ok(StatusCode::NO_CONTENT)
}
