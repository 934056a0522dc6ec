//! Enabling alerts on nodes (`/api/v1/content/{id}/nodes/{node}`).

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::alerts::limit_message;
use super::handlers::visible_item;
use super::store::alerts::Enable;
use super::store::{self, ItemRow};
use super::Content;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::openapi::{Missing, Signed};
use protocol::api::ErrorBody;

/// The alert `id` if `user` may change it.
async fn changeable_alert(
    content: &Content,
    user: &CurrentUser,
    id: &str,
) -> Result<ItemRow, ApiError> {
    let item = visible_item(content, user, id).await?;
    if item.kind != "alert" {
        return Err(ApiError::bad_request(
            "not_an_alert",
            "only alerts are enabled on nodes",
        ));
    }
    item.owner.check_change(user)?;
    Ok(item)
}

/// `PUT /api/v1/content/{id}/nodes/{node}`: enables an alert on a node,
/// unless that node is at its `alert_limit` (409 `alert_limit`).
#[utoipa::path(
    put,
    path = "/api/v1/content/{id}/nodes/{node}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "alert id"), ("node" = String, Path, description = "node name")),
    responses((status = 204, description = "Enabled on the node"), Signed, Missing, (status = 400, description = "`not_an_alert`", body = ErrorBody), (status = 409, description = "`alert_limit`: the node evaluates its limit", body = ErrorBody)),
)]
pub async fn enable(
    State(content): State<Content>,
    user: CurrentUser,
    Path((id, node)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let item = changeable_alert(&content, &user, &id).await?;
    let mut tx = store::begin(&content.db).await?;
    match store::alerts::enable(&content.db, &mut tx, &item.id, &node, &user.username).await? {
        Enable::Done | Enable::AlreadyOn => {}
        Enable::Full { enabled, limit } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "alert_limit",
                limit_message(&node, enabled, limit),
            ))
        }
        Enable::NoSuchNode => {
            return Err(ApiError::not_found(format!(
                "no node named {node} runs alerts"
            )))
        }
    }
    tx.commit().await.map_err(crate::db::StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/content/{id}/nodes/{node}`: disables an alert there.
#[utoipa::path(
    delete,
    path = "/api/v1/content/{id}/nodes/{node}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "alert id"), ("node" = String, Path, description = "node name")),
    responses((status = 204, description = "Disabled on the node"), Signed, Missing, (status = 400, description = "`not_an_alert`", body = ErrorBody)),
)]
pub async fn disable(
    State(content): State<Content>,
    user: CurrentUser,
    Path((id, node)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let item = changeable_alert(&content, &user, &id).await?;
    let mut tx = store::begin(&content.db).await?;
    store::alerts::disable(&mut tx, &item.id, &node).await?;
    tx.commit().await.map_err(crate::db::StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
