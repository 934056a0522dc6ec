//! `GET /api/v1/keepalive`.

use axum::extract::State;

use app::api::KeepAlive;

use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::nodes::store as nodes;
use crate::AppState;

/// Node list and state string for a signed-in console.
pub async fn keepalive(
    State(app): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<KeepAlive>, ApiError> {
    // Counters first: the data read after them is at least as new.
    let state = super::store::read(&app.db).await?;
    let (records, now) = nodes::list(&app.db).await?;
    let offline_after = app.offline_after_ms();
    Ok(Json(KeepAlive {
        node: app.node.name.clone(),
        nodes: records
            .iter()
            .map(|n| n.summary(now, offline_after))
            .collect(),
        state: state.to_string(),
        server_time: now,
    }))
}
