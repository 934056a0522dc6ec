//! `GET /api/v1/enrollment` and `POST /api/v1/enrollment/rotate` (admins).

use axum::extract::State;

use app::api::{EnrollmentSecret, UserRole};

use super::{generate, store};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json};
use crate::AppState;

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
pub async fn show(
    State(app): State<AppState>,
    user: CurrentUser,
) -> Result<Json<EnrollmentSecret>, ApiError> {
    admin_only(&user)?;
    Ok(reply(store::current(&app.db).await?))
}

/// Replaces the secret with a new random one, on every node at once.
/// Registered products keep their own keys; only new enrollments need it.
pub async fn rotate(
    State(app): State<AppState>,
    user: CurrentUser,
) -> Result<Json<EnrollmentSecret>, ApiError> {
    admin_only(&user)?;
    store::replace(&app.db, &generate(), &user.username).await?;
    tracing::info!(by = %user.username, "enrollment secret rotated");
    Ok(reply(store::current(&app.db).await?))
}
