//! `GET /api/v1/nodes` and `GET /healthz`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use app::api::{Health, NodeList, SetRole, UserRole};

use super::Nodes;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::openapi::{BadBody, Missing, Signed};

/// The cluster's nodes with their details.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The cluster's nodes", body = NodeList), Signed),
)]
pub async fn list(
    State(nodes): State<Nodes>,
    _user: CurrentUser,
) -> Result<Json<NodeList>, ApiError> {
    let (records, now) = nodes.records().await?;
    let offline_after = nodes.offline_after_ms();
    Ok(Json(NodeList {
        node: nodes.me().name.clone(),
        nodes: records
            .iter()
            .map(|n| n.detail(now, offline_after))
            .collect(),
        server_time: now,
    }))
}

/// Liveness probe for load balancers and for other nodes' consoles, which
/// call it cross-origin before failing over here.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "public",
    responses((status = 200, description = "The node answers", body = app::api::Health)),
)]
pub async fn healthz(State(nodes): State<Nodes>) -> impl IntoResponse {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Json(Health {
            status: "ok".into(),
            node: nodes.me().name.clone(),
            role: nodes.me().role.get(),
        }),
    )
}

/// `PUT /api/v1/nodes/{name}/role` (admins): promote or demote a node until
/// it restarts (its configured role applies again then).
#[utoipa::path(
    put,
    path = "/api/v1/nodes/{name}/role",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("name" = String, Path, description = "node name")),
    responses((status = 204, description = "Role changed"), Signed, BadBody, Missing),
)]
pub async fn set_role(
    State(nodes): State<Nodes>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(body): Json<SetRole>,
) -> Result<StatusCode, ApiError> {
    if user.role != UserRole::Admin {
        return Err(ApiError::forbidden("only admins change node roles"));
    }
    nodes
        .set_role(&name, body.role)
        .await
        .map_err(|e| match e {
            crate::db::StoreError::NotFound => ApiError::not_found(format!("no node named {name}")),
            other => other.into(),
        })?;
    tracing::info!(node = %name, role = %body.role, by = %user.username, "node role changed");
    Ok(StatusCode::NO_CONTENT)
}
