//! `GET /api/v1/nodes` and `GET /healthz`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use app::api::{Health, NodeList, SetRole, UserRole};

use super::store;
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::AppState;

/// The cluster's nodes with their details.
pub async fn list(
    State(app): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<NodeList>, ApiError> {
    let (records, now) = store::list(&app.db).await?;
    let offline_after = app.offline_after_ms();
    Ok(Json(NodeList {
        node: app.node.name.clone(),
        nodes: records
            .iter()
            .map(|n| n.detail(now, offline_after))
            .collect(),
        server_time: now,
    }))
}

/// Liveness probe for load balancers and for other nodes' consoles, which
/// call it cross-origin before failing over here.
pub async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Json(Health {
            status: "ok".into(),
            node: app.node.name.clone(),
            role: app.node.role.get(),
        }),
    )
}

/// `PUT /api/v1/nodes/{name}/role` (admins): promote or demote a node until
/// it restarts (its configured role applies again then).
pub async fn set_role(
    State(app): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(body): Json<SetRole>,
) -> Result<StatusCode, ApiError> {
    if user.role != UserRole::Admin {
        return Err(ApiError::forbidden("only admins change node roles"));
    }
    store::set_role(&app.db, &name, body.role)
        .await
        .map_err(|e| match e {
            crate::db::StoreError::NotFound => ApiError::not_found(format!("no node named {name}")),
            other => other.into(),
        })?;
    if name == app.node.name {
        app.node.role.set(body.role);
    }
    tracing::info!(node = %name, role = %body.role, by = %user.username, "node role changed");
    Ok(StatusCode::NO_CONTENT)
}
