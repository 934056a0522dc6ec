//! `GET /api/v1/keepalive[?state=…&wait=…&watch=…]`.

use std::time::Duration;

use axum::extract::State;
use serde::Deserialize;

use app::api::KeepAlive;
use app::state::{StateString, Watched};

use super::{KeepAlive as Capability, MAX_WAIT_MS};
use crate::auth::CurrentUser;
use crate::cluster::store;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadQuery, Signed};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeepAliveQuery {
    /// The state string the console last saw.
    state: Option<String>,
    /// Milliseconds to wait for a watched counter to move (default 0).
    wait: Option<u64>,
    /// Positions that matter to the console (`all` or `0,2`).
    watch: Option<String>,
}

/// Node list and state string for a signed-in console. With `state` and
/// `wait`, answers as soon as a watched position differs from `state`, or
/// when `wait` ends.
#[utoipa::path(
    get,
    path = "/api/v1/keepalive",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The state string and the nodes", body = KeepAlive), Signed, BadQuery),
)]
pub async fn keepalive(
    State(app): State<Capability>,
    _user: CurrentUser,
    Query(query): Query<KeepAliveQuery>,
) -> Result<Json<KeepAlive>, ApiError> {
    let known = match query.state.as_deref() {
        Some(text) => Some(StateString::parse(text).ok_or_else(|| {
            ApiError::bad_request("invalid_state", "state must be comma-separated integers")
        })?),
        None => None,
    };
    let watched = Watched::parse(query.watch.as_deref().unwrap_or("all")).ok_or_else(|| {
        ApiError::bad_request("invalid_watch", "watch must be `all` or positions like 0,2")
    })?;
    let wait = Duration::from_millis(query.wait.unwrap_or(0).min(MAX_WAIT_MS));
    // Subscribe before reading, so a change between the two still wakes us.
    let mut changes = app.signals.state();
    let mut state = store::read(&app.db).await?;
    if let Some(known) = known.filter(|k| !wait.is_zero() && !k.differs(&state, &watched)) {
        let _waiting = super::Waiting::enter(&app.waiting);
        let deadline = tokio::time::Instant::now() + wait;
        let mut closing = app.signals.closing();
        // The guard `wait_for` returns is not `Send`; drop it right there.
        let closed = async move {
            let _ = closing.wait_for(|closing| *closing).await;
        };
        tokio::pin!(closed);
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    state = store::read(&app.db).await?;
                    if known.differs(&state, &watched) {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = &mut closed => break,
            }
        }
    }
    let (records, now) = app.nodes.records().await?;
    let offline_after = app.nodes.offline_after_ms();
    Ok(Json(KeepAlive {
        node: app.nodes.me().name.clone(),
        nodes: records
            .iter()
            .map(|n| n.summary(now, offline_after))
            .collect(),
        state: state.to_string(),
        server_time: now,
    }))
}
