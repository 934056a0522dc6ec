//! The product wire protocol over HTTP (registration and the handshake in
//! [`super::enroll`]) and the console's product API.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::Deserialize;

use app::api::{FleetHistory, LogsRequest, ProductDetail, ProductPage, StatusCounts};

use super::keys::KeyEntry;
use super::{history, now_ms, store, Products, Source, Status};
use crate::auth::CurrentUser;
use crate::cluster::store::clock;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Keyed, Missing, Signed};

/// Most log lines in one upload.
const MAX_LOG_ENTRIES: usize = 500;
const MAX_LOG_MESSAGE: usize = 4096;

/// A product authenticated by its bearer key; the id in the path must be
/// its own.
pub struct ProductCaller(pub Arc<KeyEntry>);

impl<S: Send + Sync> FromRequestParts<S> for ProductCaller
where
    Products: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_product_key",
                "missing or wrong product key",
            )
        };
        // Product routes name the product `id` (a command result has `cid` too).
        let params = RawPathParams::from_request_parts(parts, state)
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
        let products = Products::from_ref(state);
        let keys = &products.keys;
        let entry = keys
            .get(&products.db, *id.as_bytes())
            .await?
            .ok_or_else(unauthorized)?;
        if entry.bearer_matches(token) {
            return Ok(Self(entry));
        }
        // Re-registered on another node since we cached the key?
        if entry.loaded_at.elapsed() > super::keys::RELOAD_AFTER {
            if let Some(fresh) = keys.load(&products.db, *id.as_bytes()).await? {
                if fresh.bearer_matches(token) {
                    return Ok(Self(fresh));
                }
            }
        }
        Err(unauthorized())
    }
}

/// The heartbeat body as received: the payload stays raw JSON text (it was
/// checked while parsing), so nothing is built and printed again.
#[derive(Deserialize)]
pub struct HeartbeatBody {
    payload: Option<Box<serde_json::value::RawValue>>,
}

/// `POST /api/v1/products/{id}/heartbeat` (body: `app::api::HeartbeatRequest`).
/// Activity data nesting deeper than [`super::MAX_ACTIVITY_DEPTH`] is
/// refused before the body is parsed, so it can neither reach the parser's
/// recursion limit nor be stored as nothing.
#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/heartbeat",
    request_body(content = Option<protocol::api::HeartbeatRequest>, description = "Optional: activity figures"),
    tag = "product",
    security(("product_key" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 204, description = "Seen"), Keyed, BadBody, Missing),
)]
pub async fn heartbeat(
    State(products): State<Products>,
    ProductCaller(product): ProductCaller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ));
    }
    // The payload sits one level inside the body.
    if !super::nesting_within(&body, super::MAX_ACTIVITY_DEPTH + 1) {
        return Err(ApiError::bad_request(
            "invalid_activity",
            format!(
                "activity data nests more than {} levels deep",
                super::MAX_ACTIVITY_DEPTH
            ),
        ));
    }
    let req: HeartbeatBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))?;
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
#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/logs",
    tag = "product",
    security(("product_key" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 202, description = "Accepted: stored with the next batch"), Keyed, BadBody, Missing),
)]
pub async fn logs(
    State(products): State<Products>,
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
        &products.db,
        &product.id,
        &products.nodes.me().name,
        &req.entries,
        i64::from(products.config.log_retention),
    )
    .await?;
    products.heard(&product, Source::Logs);
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/products?status=&q=&sort=&limit=&offset=` for the console.
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "A page of products", body = ProductPage), Signed, BadQuery),
)]
pub async fn list(
    State(products): State<Products>,
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
    let (total, page) = store::list(&products.db, &filter, sort, limit, offset).await?;
    Ok(Json(ProductPage {
        total,
        products: page,
    }))
}

/// `GET /api/v1/products/counts`.
#[utoipa::path(
    get,
    path = "/api/v1/products/counts",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Products by status", body = StatusCounts), Signed),
)]
pub async fn counts(
    State(products): State<Products>,
    _user: CurrentUser,
) -> Result<Json<StatusCounts>, ApiError> {
    Ok(Json(status_counts(&products).await?))
}

async fn status_counts(products: &Products) -> Result<StatusCounts, ApiError> {
    let mut counts = StatusCounts::default();
    for (status, n) in store::counts(&products.db).await? {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    window: Option<String>,
}

/// `GET /api/v1/products/history?window=1h|24h|7d`: sampled counts, thinned
/// for a chart, ending with the counts of now.
#[utoipa::path(
    get,
    path = "/api/v1/products/history",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Online and offline counts over time", body = FleetHistory), Signed, BadQuery),
)]
pub async fn history(
    State(products): State<Products>,
    _user: CurrentUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<FleetHistory>, ApiError> {
    let window = q.window.unwrap_or_else(|| "1h".into());
    let span = history::window(&window)
        .ok_or_else(|| ApiError::bad_request("invalid_window", "window is 1h, 24h or 7d"))?;
    let now = clock(&products.db).await?;
    let mut points = store::samples(&products.db, now - span.as_millis() as i64).await?;
    let c = status_counts(&products).await?;
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
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, description = "A product, its history and logs", body = ProductDetail), Signed, Missing),
)]
pub async fn detail(
    State(products): State<Products>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ProductDetail>, ApiError> {
    let id = id.to_lowercase();
    let (product, activity) = store::get(&products.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such product"))?;
    Ok(Json(ProductDetail {
        product,
        activity: activity.and_then(|a| serde_json::from_str(&a).ok()),
        history: store::transitions(&products.db, &id, 50).await?,
        logs: store::logs(&products.db, &id, 50).await?,
    }))
}
