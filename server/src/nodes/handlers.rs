//! `GET /api/v1/nodes` and `GET /healthz`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use app::api::{Health, NodeList};

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
            role: app.node.role,
        }),
    )
}
