//! A product joins: registration (`POST /api/v1/products/register`) and the
//! handshake that picks its heartbeat transport and communication mode —
//! two-way when the node reaches its HTTP callback, or when it answers a
//! wake datagram probe.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use rand::RngCore;

use app::api::{
    HandshakeReply, HandshakeRequest, Mode, Reenrolled, RegisterReply, RegisterRequest, Transport,
    UserRole,
};

use super::handlers::ProductCaller;
use super::keys::KeyEntry;
use super::store::Registered;
use super::{store, validate, validate_udp_port, Products, Registration};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::openapi::{BadBody, Keyed, Missing, Signed};
use protocol::api::ErrorBody;

/// How long a handshake waits for the product's UDP hello.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// How long it waits for the hello that answers a wake probe.
const PROBE_WAIT: Duration = Duration::from_secs(1);
/// A hello older than this allows no wake probe.
const PROBE_AFTER_HELLO: Duration = Duration::from_secs(10);

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// `POST /api/v1/products/register`. A UUID already registered is taken
/// over only with its current key as bearer token, or after an admin's
/// re-enrolment; otherwise 409 `already_registered`.
#[utoipa::path(
    post,
    path = "/api/v1/products/register",
    tag = "public",
    responses((status = 200, description = "Registered: the product's id and key", body = RegisterReply), BadBody, (status = 401, description = "`unauthorized`: wrong enrollment secret or key", body = ErrorBody), (status = 429, description = "throttled (Retry-After)", body = ErrorBody), (status = 503, description = "`timeout`", body = ErrorBody)),
)]
pub async fn register(
    State(app): State<Products>,
    headers: HeaderMap,
    Json(req): Json<RegisterRequest>,
) -> Result<Json<RegisterReply>, ApiError> {
    if !app.enrollment.accepts(&req.enrollment_secret).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_enrollment_secret",
            "the enrollment secret is wrong",
        ));
    }
    let id = validate(&req, &app.config.callback_allow)
        .map_err(|m| ApiError::bad_request("invalid_registration", m))?;
    let proof = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
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
    let offline_ms = offline_after.as_millis() as i64;
    let (claim, changed_at) =
        match store::register(&app.db, &registration, offline_ms, proof).await? {
            Registered::Done {
                claim,
                key_changed_at,
            } => (claim, key_changed_at),
            Registered::Taken => {
                tracing::warn!(product = %id, "registration of a registered product refused");
                return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_registered",
                "this product is registered: re-register with its current key as bearer token, \
                 or ask an admin to re-enroll it",
            ));
            }
        };
    app.keys.registered(&registration, changed_at);
    let nodes = app.nodes.summaries().await?;
    tracing::info!(product = %id, name = %registration.name, ?claim, "product registered");
    Ok(Json(RegisterReply {
        product_id: id,
        key: registration.key,
        nonce: registration.nonce,
        udp_endpoint: app.udp_endpoint.clone(),
        heartbeat_interval_s: app.config.heartbeat_interval.as_secs(),
        offline_after_s: offline_after.as_secs(),
        nodes,
    }))
}

/// `POST /api/v1/products/{id}/reenroll` (admins): revokes the product's
/// key at once and lets the next registration of its UUID with the
/// enrollment secret take it over.
#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/reenroll",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, description = "A new key for the product", body = Reenrolled), Signed, Missing),
)]
pub async fn reenroll(
    State(app): State<Products>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Reenrolled>, ApiError> {
    if user.role != UserRole::Admin {
        return Err(ApiError::forbidden("only admins re-enroll products"));
    }
    let bytes = super::keys::id_bytes(&id).ok_or_else(|| ApiError::not_found("no such product"))?;
    let id = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
    if !store::revoke(&app.db, &id, &random_hex(32), &user.username).await? {
        return Err(ApiError::not_found("no such product"));
    }
    // Other nodes drop it within a second (keywatch); this one at once.
    app.keys.forget(bytes);
    tracing::info!(product = %id, admin = %user.username, "product key revoked for re-enrolment");
    Ok(Json(Reenrolled { product_id: id }))
}

/// Asks the product's callback to wake (the handshake's two-way test).
async fn notify(app: &Products, product: &KeyEntry) -> bool {
    super::notify::wake(
        app,
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
async fn probe_udp_wake(app: &Products, product: &KeyEntry, port: u16) -> bool {
    let hellos = &app.hellos;
    let Some(from) = hellos.take_for_probe(&product.id, PROBE_AFTER_HELLO) else {
        return false;
    };
    let Some(id) = super::keys::id_bytes(&product.id) else {
        return false;
    };
    let challenge = random_hex(16);
    hellos.expect_answer(&product.id, &challenge);
    let payload = serde_json::json!({ "nonce": challenge }).to_string();
    let target = std::net::SocketAddr::new(from.ip(), port);
    let probe = super::notify::wake_udp(app, id, &product.key, target, payload.as_bytes());
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
#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/handshake",
    request_body(content = Option<HandshakeRequest>, description = "Optional: the product's preferred transport"),
    tag = "product",
    security(("product_key" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, description = "The transport and mode to use", body = HandshakeReply), Keyed, BadBody, Missing),
)]
pub async fn handshake(
    State(app): State<Products>,
    ProductCaller(product): ProductCaller,
    body: axum::body::Bytes,
) -> Result<Json<HandshakeReply>, ApiError> {
    let req: HandshakeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        HandshakeRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))?
    };
    validate_udp_port(req.udp_port).map_err(|m| ApiError::bad_request("invalid_handshake", m))?;
    let hellos = &app.hellos;
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
        transport: if udp { Transport::Udp } else { Transport::Http },
        mode: if two_way { Mode::TwoWay } else { Mode::OneWay },
    };
    store::set_handshake(
        &app.db,
        &product.id,
        reply.transport,
        reply.mode,
        req.udp_port,
    )
    .await?;
    Ok(Json(reply))
}
