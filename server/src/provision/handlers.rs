//! `POST /api/v1/provision/hello`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{store, Provision, LEASE};
use crate::error::{ApiError, Json};
use crate::openapi::BadBody;
use protocol::api::ErrorBody;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Hello {
    enrollment_secret: String,
    uuid: String,
    ip: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    request_id: String,
}

/// Logs the request with this node and processes it here, right away.
#[utoipa::path(
    post,
    path = "/api/v1/provision/hello",
    tag = "public",
    responses((status = 202, description = "Accepted: a command is queued for the device", body = Accepted), BadBody, (status = 401, description = "`unauthorized`: wrong enrollment secret", body = ErrorBody), (status = 503, description = "`timeout`", body = ErrorBody)),
)]
pub async fn hello(
    State(app): State<Provision>,
    Json(hello): Json<Hello>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if !app.enrollment.accepts(&hello.enrollment_secret).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_enrollment_secret",
            "the enrollment secret is wrong",
        ));
    }
    let uuid = uuid::Uuid::parse_str(hello.uuid.trim())
        .map_err(|_| ApiError::bad_request("invalid_hello", "uuid must be a UUID"))?
        .hyphenated()
        .to_string();
    let ip: std::net::IpAddr = hello.ip.trim().parse().map_err(|_| {
        ApiError::bad_request("invalid_hello", "ip must be an IPv4 or IPv6 address")
    })?;
    if store::is_registered(&app.db, &uuid).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_registered",
            "this device is a registered product: it cannot be provisioned again",
        ));
    }
    let request = store::Request {
        id: uuid::Uuid::new_v4().to_string(),
        uuid,
        ip: ip.to_string(),
        received_by: app.queue.node().to_owned(),
    };
    store::log(&app.db, &request, LEASE.as_millis() as i64).await?;
    let id = request.id.clone();
    tokio::spawn(async move {
        if let Err(e) = app.process(&request).await {
            // The lease runs out and the rescue tries again.
            tracing::warn!(request = %request.id, error = %e, "provisioning request failed; will retry");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(Accepted { request_id: id })))
}
