//! `GET /api/v1/keepalive[?state=…&wait=…&watch=…]`.

use std::time::Duration;

use axum::extract::State;
use serde::Deserialize;

use app::api::KeepAlive;
use app::state::{StateString, Watched};

use super::{KeepAlive as Capability, DATABASE_AT_ONCE, DATABASE_WAITING, MAX_WAIT_MS};
use crate::auth::recent::KeepAliveUser;
use crate::cluster::now_ms;
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
/// when `wait` ends. A database that does not answer within a short budget
/// does not hold the console: the reply carries what the node last knew and
/// `database_unreachable_since`.
#[utoipa::path(
    get,
    path = "/api/v1/keepalive",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The state string and the nodes", body = KeepAlive), Signed, BadQuery),
)]
pub async fn keepalive(
    State(app): State<Capability>,
    user: KeepAliveUser,
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
    // The whole answer must come within `wait` plus the console's grace
    // (300 ms at least): time spent on a silent database counts.
    let deadline = tokio::time::Instant::now() + wait;
    let budget = if wait.is_zero() {
        DATABASE_AT_ONCE
    } else {
        DATABASE_WAITING.min(wait)
    };
    // Subscribe before reading, so a change between the two still wakes us.
    let mut changes = app.signals.state();
    // A session taken from memory means the database is silent: no need
    // to wait for it again.
    let mut silent = user.database_silent;
    let mut state = if silent {
        silence(&app, &changes)
    } else {
        read_state(&app, &changes, budget).await
    };
    silent |= app
        .last
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unreachable_since
        .is_some();
    if let Some(known) = known.filter(|k| !wait.is_zero() && !k.differs(&state, &watched)) {
        let _waiting = super::Waiting::enter(&app.waiting);
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
                    state = read_state(&app, &changes, DATABASE_WAITING).await;
                    silent = app.last.lock().unwrap_or_else(|e| e.into_inner()).unreachable_since.is_some();
                    if known.differs(&state, &watched) {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
                _ = &mut closed => break,
            }
        }
    }
    let offline_after = app.nodes.offline_after_ms();
    let read = if silent {
        None
    } else {
        tokio::time::timeout(DATABASE_AT_ONCE, app.nodes.records())
            .await
            .ok()
    };
    let mut last = app.last.lock().unwrap_or_else(|e| e.into_inner());
    let server_time = match read {
        Some(Ok((records, now))) => {
            last.nodes = records
                .iter()
                .map(|n| n.summary(now, offline_after))
                .collect();
            now
        }
        Some(Err(_)) | None => {
            last.unreachable_since.get_or_insert_with(now_ms);
            now_ms()
        }
    };
    Ok(Json(KeepAlive {
        node: app.nodes.me().name.clone(),
        nodes: last.nodes.clone(),
        state: state.to_string(),
        server_time,
        database_unreachable_since: last.unreachable_since,
    }))
}

/// The state counters from the database, within `budget`; past it (a
/// silent or failing database), the last ones the node saw, and the outage
/// noted for the reply.
async fn read_state(
    app: &Capability,
    changes: &tokio::sync::watch::Receiver<StateString>,
    budget: Duration,
) -> StateString {
    let read = tokio::time::timeout(budget, store::read(&app.db)).await;
    let mut last = app.last.lock().unwrap_or_else(|e| e.into_inner());
    match read {
        Ok(Ok(state)) => {
            last.unreachable_since = None;
            state
        }
        _ => {
            drop(last);
            silence(app, changes)
        }
    }
}

/// Notes the database silent (since now, unless it already was) and
/// returns the last state the node saw.
fn silence(app: &Capability, changes: &tokio::sync::watch::Receiver<StateString>) -> StateString {
    app.last
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unreachable_since
        .get_or_insert_with(now_ms);
    changes.borrow().clone()
}
