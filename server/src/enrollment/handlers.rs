//! `GET /api/v1/enrollment` and `POST /api/v1/enrollment/rotate` (admins).

use axum::extract::State;

use app::api::{EnrollmentSecret, UserRole};

use super::{generate, store, Enrollment};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::openapi::Signed;

fn admin_only(user: &CurrentUser) -> Result<(), ApiError> {
    if user.role == UserRole::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only admins see or rotate the enrollment secret",
        ))
    }
}

fn reply(current: store::Current) -> Json<EnrollmentSecret> {
    Json(EnrollmentSecret {
        secret: current.secret,
        updated_at: current.updated_at,
        updated_by: current.updated_by,
    })
}

/// The current secret.
#[utoipa::path(
    get,
    path = "/api/v1/enrollment",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The enrollment secret (admins)", body = EnrollmentSecret), Signed),
)]
pub async fn show(
    State(enrollment): State<Enrollment>,
    user: CurrentUser,
) -> Result<Json<EnrollmentSecret>, ApiError> {
    admin_only(&user)?;
    Ok(reply(store::current(&enrollment.db).await?))
}

/// Replaces the secret with a new random one, on every node at once.
/// Registered products keep their own keys; only new enrollments need it.
#[utoipa::path(
    post,
    path = "/api/v1/enrollment/rotate",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The new secret", body = EnrollmentSecret), Signed),
)]
pub async fn rotate(
    State(enrollment): State<Enrollment>,
    user: CurrentUser,
) -> Result<Json<EnrollmentSecret>, ApiError> {
    admin_only(&user)?;
    store::replace(&enrollment.db, &generate(), &user.username).await?;
    tracing::info!(by = %user.username, "enrollment secret rotated");
    Ok(reply(store::current(&enrollment.db).await?))
}
