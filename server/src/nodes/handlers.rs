//! `GET /api/v1/nodes` and `GET /healthz`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use app::api::{Health, NodeList, SetRole, UserRole};

use super::Nodes;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};

/// The cluster's nodes with their details.
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
