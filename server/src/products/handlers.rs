//! The product wire protocol over HTTP, the console's product API and
//! `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use rand::RngCore;
use serde::Deserialize;

use app::api::{
    CommandResult, CommandsReply, FleetHistory, HandshakeReply, HandshakeRequest, LogsRequest,
    ProductCommand, ProductDetail, ProductPage, RegisterReply, RegisterRequest, StatusCounts,
};

use super::keys::KeyEntry;
use super::{history, now_ms, store, validate, Liveness, Registration, Source, Status};
use super::{Products, SharedProducts};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json, Query};
use crate::nodes::store as nodes;
use crate::queue::store::{Ack, Completion};
use crate::queue::{clip_output, CommandState};
use crate::AppState;
use app::state::StateClass;

/// How long a handshake waits for the product's UDP hello.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// How long it waits for the hello that answers a wake probe.
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// A hello older than this allows no wake probe.
const PROBE_AFTER_HELLO: Duration = Duration::from_secs(10);
/// Most log lines in one upload.
const MAX_LOG_ENTRIES: usize = 500;
const MAX_LOG_MESSAGE: usize = 4096;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `POST /api/v1/products/register`.
pub async fn register(
    State(app): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<Json<RegisterReply>, ApiError> {
    if !crate::enrollment::accepts(&app.db, &req.enrollment_secret).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_enrollment_secret",
            "the enrollment secret is wrong",
        ));
    }
    let id = validate(&req).map_err(|m| ApiError::bad_request("invalid_registration", m))?;
    let registration = Registration {
        id: id.clone(),
        name: req.name.trim().to_owned(),
        product_type: req.product_type.trim().to_owned(),
        version: req.version.trim().to_owned(),
        callback_url: req.callback_url.clone(),
        udp_port: req.udp_port,
        key: random_hex(32),
        nonce: random_hex(16),
    };
    let offline_after = app.config.product_offline_after();
    store::register(&app.db, &registration, offline_after.as_millis() as i64).await?;
    app.products.keys.registered(&registration);
    let (records, now) = nodes::list(&app.db).await?;
    tracing::info!(product = %id, name = %registration.name, "product registered");
    Ok(Json(RegisterReply {
        product_id: id,
        key: registration.key,
        nonce: registration.nonce,
        udp_endpoint: app.products.udp_endpoint.clone(),
        heartbeat_interval_s: app.config.heartbeat_interval.as_secs(),
        offline_after_s: offline_after.as_secs(),
        nodes: records
            .iter()
            .map(|n| n.summary(now, app.offline_after_ms()))
            .collect(),
    }))
}

/// A product authenticated by its bearer key; the id in the path must be
/// its own.
pub struct ProductCaller(pub Arc<KeyEntry>);

impl FromRequestParts<AppState> for ProductCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_product_key",
                "missing or wrong product key",
            )
        };
        // Product routes name the product `id` (a command result has `cid` too).
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|_| ApiError::not_found("no such product"))?;
        let id = params
            .iter()
            .find(|(name, _)| *name == "id")
            .and_then(|(_, value)| uuid::Uuid::parse_str(value).ok())
            .ok_or_else(|| ApiError::not_found("no such product"))?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        let keys = &app.products.keys;
        let entry = keys
            .get(&app.db, *id.as_bytes())
            .await?
            .ok_or_else(unauthorized)?;
        if entry.bearer_matches(token) {
            return Ok(Self(entry));
        }
        // Re-registered on another node since we cached the key?
        if entry.loaded_at.elapsed() > super::keys::RELOAD_AFTER {
            if let Some(fresh) = keys.load(&app.db, *id.as_bytes()).await? {
                if fresh.bearer_matches(token) {
                    return Ok(Self(fresh));
                }
            }
        }
        Err(unauthorized())
    }
}

fn record(products: &Products, product: &KeyEntry, source: Source, activity: Option<String>) {
    let activity = activity.map(String::into_bytes);
    products.recorder.record(Liveness {
        product: product.id.clone(),
        at: now_ms(),
        seq: 0,
        activity,
        source,
    });
}

/// Asks the product's callback to wake (the handshake's two-way test).
async fn notify(app: &AppState, product: &KeyEntry) -> bool {
    super::notify::wake(
        &app.products,
        &app.config.notify_only,
        &product.id,
        product.callback_url.as_deref(),
        &product.key,
    )
    .await
    .is_ok()
}

/// The handshake's test of the UDP wake path: a wake datagram carrying a
/// fresh challenge goes to `port` at the address the product's hello came
/// from; the product passes when a hello echoing that challenge comes back
/// in time. Only a hello of the last few seconds not probed before allows a
/// probe.
async fn probe_udp_wake(app: &AppState, product: &KeyEntry, port: u16) -> bool {
    let hellos = &app.products.hellos;
    let Some(from) = hellos.take_for_probe(&product.id, PROBE_AFTER_HELLO) else {
        return false;
    };
    let Ok(id) = uuid::Uuid::parse_str(&product.id) else {
        return false;
    };
    let challenge = random_hex(16);
    hellos.expect_answer(&product.id, &challenge);
    let payload = serde_json::json!({ "nonce": challenge }).to_string();
    let target = std::net::SocketAddr::new(from.ip(), port);
    let probe = super::notify::wake_udp(
        &app.products,
        *id.as_bytes(),
        &product.key,
        target,
        payload.as_bytes(),
    );
    if probe.await.is_err() {
        return false;
    }
    let deadline = tokio::time::Instant::now() + PROBE_WAIT;
    hellos.wait_answer(&product.id, &challenge, deadline).await
}

/// `POST /api/v1/products/{id}/handshake` (body: `app::api::HandshakeRequest`,
/// or empty): waits briefly for the UDP hello and tries the callback, then
/// records transport and mode. A product without a working callback that
/// names a wake port is two-way if it answers a wake datagram.
pub async fn handshake(
    State(app): State<AppState>,
    ProductCaller(product): ProductCaller,
    body: axum::body::Bytes,
) -> Result<Json<HandshakeReply>, ApiError> {
    let req: HandshakeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        HandshakeRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))?
    };
    if req.udp_port == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_handshake",
            "udp_port must be 1 to 65535",
        ));
    }
    let hellos = &app.products.hellos;
    let deadline = tokio::time::Instant::now() + HELLO_WAIT;
    let (hello, mut two_way) =
        tokio::join!(hellos.wait(&product.id, deadline), notify(&app, &product));
    let udp = hello.is_some();
    if let Some(port) = req.udp_port {
        product.set_udp_port(port);
    }
    if let (false, true, Some(port)) = (two_way, udp, product.udp_port()) {
        two_way = probe_udp_wake(&app, &product, port).await;
    }
    let reply = HandshakeReply {
        transport: if udp { "udp" } else { "http" }.into(),
        mode: if two_way { "two_way" } else { "one_way" }.into(),
    };
    store::set_handshake(
        &app.db,
        &product.id,
        &reply.transport,
        &reply.mode,
        req.udp_port,
    )
    .await?;
    Ok(Json(reply))
}

/// The heartbeat body as received: the payload stays raw JSON text (it was
/// checked while parsing), so nothing is built and printed again.
#[derive(Deserialize)]
pub struct HeartbeatBody {
    payload: Option<Box<serde_json::value::RawValue>>,
}

/// `POST /api/v1/products/{id}/heartbeat` (body: `app::api::HeartbeatRequest`).
pub async fn heartbeat(
    // Only what the hot path needs: one reference count, not the whole state.
    State(products): State<SharedProducts>,
    ProductCaller(product): ProductCaller,
    Json(req): Json<HeartbeatBody>,
) -> Result<StatusCode, ApiError> {
    let activity = match req.payload.as_deref().map(|p| p.get()) {
        None | Some("null") => None,
        Some(text) if !text.starts_with('{') => {
            return Err(ApiError::bad_request(
                "invalid_payload",
                "payload must be a JSON object",
            ));
        }
        Some(text) if text.len() > super::MAX_ACTIVITY_BYTES => {
            return Err(ApiError::bad_request(
                "invalid_payload",
                format!("payload is over {} bytes", super::MAX_ACTIVITY_BYTES),
            ));
        }
        Some(text) => Some(text.as_bytes()),
    };
    products
        .recorder
        .record_call(&product.id, now_ms(), Source::HttpHeartbeat, activity);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/products/{id}/logs`.
pub async fn logs(
    State(app): State<AppState>,
    ProductCaller(product): ProductCaller,
    Json(req): Json<LogsRequest>,
) -> Result<StatusCode, ApiError> {
    if req.entries.len() > MAX_LOG_ENTRIES {
        return Err(ApiError::bad_request(
            "too_many_entries",
            format!("at most {MAX_LOG_ENTRIES} entries per upload"),
        ));
    }
    if req
        .entries
        .iter()
        .any(|e| e.message.len() > MAX_LOG_MESSAGE || e.level.len() > 32)
    {
        return Err(ApiError::bad_request(
            "entry_too_long",
            format!("messages are limited to {MAX_LOG_MESSAGE} bytes, levels to 32"),
        ));
    }
    store::add_logs(
        &app.db,
        &product.id,
        &app.node.name,
        &req.entries,
        i64::from(app.config.log_retention),
    )
    .await?;
    record(&app.products, &product, Source::Logs, None);
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
pub struct PollQuery {
    wait: Option<u64>,
}

/// Longest a poll may wait for a command.
const MAX_POLL_WAIT: Duration = Duration::from_secs(30);

/// `GET /api/v1/products/{id}/commands?wait=<ms>`: hands the product its
/// waiting commands; with `wait`, holds the request until one is queued
/// (on any node) or the time is up. Every poll is proof of life.
pub async fn commands(
    State(app): State<AppState>,
    ProductCaller(product): ProductCaller,
    Query(q): Query<PollQuery>,
) -> Result<Json<CommandsReply>, ApiError> {
    record(&app.products, &product, Source::Poll, None);
    let wait = Duration::from_millis(q.wait.unwrap_or(0)).min(MAX_POLL_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before looking, so a command queued meanwhile wakes us.
    let mut state = app.state_watch.subscribe();
    let mut closing = app.closing.subscribe();
    loop {
        let found = if crate::queue::store::waiting(&app.db, &product.id).await? {
            app.queue_io
                .deliveries
                .submit(product.id.to_string())
                .await
                .ok_or_else(|| ApiError::internal("the node is stopping"))?
                .map_err(ApiError::internal)?
        } else {
            Vec::new()
        };
        if !found.is_empty() {
            app.commands_changed();
        }
        if !found.is_empty() || tokio::time::Instant::now() >= deadline || *closing.borrow() {
            let commands = found
                .into_iter()
                .map(|c| ProductCommand {
                    args: serde_json::from_str(&c.args).unwrap_or_default(),
                    id: c.id,
                    kind: c.kind,
                })
                .collect();
            return Ok(Json(CommandsReply { commands }));
        }
        let seen = state.borrow_and_update().get(StateClass::Commands);
        let moved = async {
            while state.changed().await.is_ok() {
                if state.borrow_and_update().get(StateClass::Commands) != seen {
                    return;
                }
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = moved => {}
            _ = closing.changed() => {}
        }
    }
}

/// `POST /api/v1/products/{id}/commands/{cid}/result`: the outcome of a
/// command; posting it again changes nothing.
pub async fn result(
    State(app): State<AppState>,
    ProductCaller(product): ProductCaller,
    Path((_, cid)): Path<(String, String)>,
    Json(req): Json<CommandResult>,
) -> Result<StatusCode, ApiError> {
    let outcome = match req.status.as_str() {
        "succeeded" => CommandState::Succeeded,
        "failed" => CommandState::Failed,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_result",
                "status must be succeeded or failed",
            ))
        }
    };
    let output = match req.output {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    record(&app.products, &product, Source::CommandResult, None);
    let ack = Ack {
        product: product.id.to_string(),
        command: cid.clone(),
        outcome,
        output: clip_output(output),
    };
    let done = app
        .queue_io
        .acks
        .submit(ack)
        .await
        .ok_or_else(|| ApiError::internal("the node is stopping"))?
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("no such command for this product"))?;
    match done {
        Completion::Recorded => app.commands_changed(),
        Completion::AlreadyFinal(state) => {
            tracing::debug!(command = %cid, state = state.as_str(), "repeated result ignored");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/products?status=&q=&sort=&limit=&offset=` for the console.
pub async fn list(
    State(app): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<ProductPage>, ApiError> {
    let status = q.status.filter(|s| !s.is_empty());
    if let Some(status) = &status {
        Status::parse(status)
            .ok_or_else(|| ApiError::bad_request("invalid_status", "unknown status"))?;
    }
    let sort = match q.sort.as_deref() {
        None | Some("") => store::Sort::Name,
        Some(s) => store::Sort::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_sort", "sort is name, status or last_seen")
        })?,
    };
    let filter = store::Filter {
        status,
        search: q.q.filter(|s| !s.trim().is_empty()),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).max(0);
    let (total, products) = store::list(&app.db, &filter, sort, limit, offset).await?;
    Ok(Json(ProductPage { total, products }))
}

/// `GET /api/v1/products/counts`.
pub async fn counts(
    State(app): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<StatusCounts>, ApiError> {
    Ok(Json(status_counts(&app).await?))
}

async fn status_counts(app: &AppState) -> Result<StatusCounts, ApiError> {
    let mut counts = StatusCounts::default();
    for (status, n) in store::counts(&app.db).await? {
        match Status::parse(&status) {
            Some(Status::Pending) => counts.pending = n,
            Some(Status::Online) => counts.online = n,
            Some(Status::Offline) => counts.offline = n,
            Some(Status::Unmanaged) => counts.unmanaged = n,
            None => {}
        }
    }
    Ok(counts)
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    window: Option<String>,
}

/// `GET /api/v1/products/history?window=1h|24h|7d`: sampled counts, thinned
/// for a chart, ending with the counts of now.
pub async fn history(
    State(app): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<FleetHistory>, ApiError> {
    let window = q.window.unwrap_or_else(|| "1h".into());
    let span = history::window(&window)
        .ok_or_else(|| ApiError::bad_request("invalid_window", "window is 1h, 24h or 7d"))?;
    let now = nodes::clock(&app.db).await?;
    let mut points = store::samples(&app.db, now - span.as_millis() as i64).await?;
    let c = status_counts(&app).await?;
    if points.last().is_none_or(|p| p.at < now) {
        points.push(app::api::FleetPoint {
            at: now,
            pending: c.pending,
            online: c.online,
            offline: c.offline,
            unmanaged: c.unmanaged,
        });
    }
    Ok(Json(FleetHistory {
        window,
        points: history::thin(points, history::MAX_POINTS),
    }))
}

/// `GET /api/v1/products/{id}` for the console.
pub async fn detail(
    State(app): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ProductDetail>, ApiError> {
    let id = id.to_lowercase();
    let (product, activity) = store::get(&app.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such product"))?;
    Ok(Json(ProductDetail {
        product,
        activity: activity.and_then(|a| serde_json::from_str(&a).ok()),
        history: store::transitions(&app.db, &id, 50).await?,
        logs: store::logs(&app.db, &id, 50).await?,
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut out = String::from(
        "# HELP vigil_udp_datagrams_total Product datagrams received, by outcome.\n\
         # TYPE vigil_udp_datagrams_total counter\n",
    );
    for (reason, n) in app.products.udp.snapshot() {
        out.push_str(&format!(
            "vigil_udp_datagrams_total{{result=\"{reason}\"}} {n}\n"
        ));
    }
    out.push_str(&format!(
        "# HELP vigil_liveness_pending Products with proof of life not yet written.\n\
         # TYPE vigil_liveness_pending gauge\nvigil_liveness_pending {}\n",
        app.products.recorder.len()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
