//! Personal API tokens: `Authorization: Bearer vgt_…` on the console API,
//! with the user's role or a narrower one, until they expire or are
//! revoked. Only a token's SHA-256 is stored, and every request looks it
//! up, so a revocation holds on every node at once. Product routes never
//! read this header as a user: they take product keys only. A token is not
//! a cookie, so a browser never sends it by itself to another site.

use app::api::{ApiToken, CreatedApiToken, NewApiToken, UserRole};
use axum::extract::{Path, State};
use axum::http::{header::AUTHORIZATION, HeaderMap, StatusCode};

use super::store::tokens::{self as store, NewToken};
use super::{new_token, token_hash, Auth, CurrentUser};
use crate::error::{ApiError, Json};
use crate::openapi::{BadBody, Missing, Signed};
use protocol::api::ErrorBody;

/// What every token starts with.
pub const PREFIX: &str = "vgt_";
/// Longest token name.
const MAX_NAME: usize = 64;
/// Longest lifetime, in days.
const MAX_DAYS: u32 = 3650;

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The role a request with a token has: the user's, or the token's if it
/// is narrower.
pub fn narrow(user: UserRole, token: Option<UserRole>) -> UserRole {
    match token {
        Some(t) if t.rank() < user.rank() => t,
        _ => user,
    }
}

/// The user a live token acts for, with its role narrowed.
pub async fn user(app: &Auth, token: &str) -> Result<Option<CurrentUser>, ApiError> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let Some((mut user, narrower, id)) = store::user_of(&app.db, &token_hash(token)).await? else {
        return Ok(None);
    };
    user.role = narrow(user.role, narrower);
    user.manage_global_content &= user.role != UserRole::Viewer;
    user.token = Some(id);
    Ok(Some(user))
}

/// Whose token this is even when it is revoked or expired: its user name
/// and id. Only a token that exists is named.
pub async fn owner(app: &Auth, token: &str) -> Result<Option<(String, String)>, ApiError> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    Ok(store::owner_of(&app.db, &token_hash(token)).await?)
}

/// `GET /api/v1/tokens`: the caller's tokens.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "The caller's API tokens, without secrets", body = Vec<ApiToken>), Signed),
)]
pub async fn list(
    State(app): State<Auth>,
    user: CurrentUser,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(store::list(&app.db, user.id).await?))
}

/// `POST /api/v1/tokens`: a new token, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 201, description = "The token, its secret shown this once", body = CreatedApiToken), Signed, BadBody, (status = 409, description = "`name_taken`", body = ErrorBody)),
)]
pub async fn create(
    State(app): State<Auth>,
    user: CurrentUser,
    Json(req): Json<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    if user.token.is_some() {
        return Err(ApiError::forbidden(
            "tokens are made from a signed-in console, not with another token",
        ));
    }
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a token needs a name of 1 to {MAX_NAME} characters"),
        ));
    }
    if let Some(role) = req.role {
        if role.rank() > user.role.rank() {
            return Err(ApiError::bad_request(
                "invalid_role",
                format!(
                    "a token cannot do more than its user: {} is above {}",
                    role.as_str(),
                    user.role.as_str()
                ),
            ));
        }
    }
    let expires_at = match req.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_DAYS).contains(&days) => {
            Some(crate::cluster::now_ms() + i64::from(days) * 86_400_000)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_expiry",
                format!("a token expires in 1 to {MAX_DAYS} days, or never"),
            ))
        }
    };
    let secret = format!("{PREFIX}{}", new_token());
    let id = uuid::Uuid::new_v4().to_string();
    let prefix = format!("{}…", &secret[..PREFIX.len() + 6]);
    let role = req.role.filter(|r| *r != user.role);
    let stored = store::create(
        &app.db,
        &NewToken {
            id: &id,
            user: user.id,
            name,
            hash: &token_hash(&secret),
            prefix: &prefix,
            role,
            expires_at,
        },
    )
    .await?;
    if !stored {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "name_taken",
            format!("you already have a token named \"{name}\""),
        ));
    }
    tracing::info!(user = %user.username, token = %name, "API token created");
    let info = store::list(&app.db, user.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::internal("the new token is missing"))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiToken {
            token: secret,
            info,
        }),
    ))
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of the caller's tokens.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 204, description = "Revoked"), Signed, Missing),
)]
pub async fn revoke(
    State(app): State<Auth>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !store::revoke(&app.db, user.id, &id).await? {
        return Err(ApiError::not_found("you have no live token of that id"));
    }
    tracing::info!(user = %user.username, token = %id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_does_more_than_its_user() {
        use UserRole::*;
        assert_eq!(narrow(Admin, Some(Viewer)), Viewer);
        assert_eq!(narrow(Operator, Some(Admin)), Operator);
        assert_eq!(narrow(Viewer, None), Viewer);
        assert_eq!(narrow(Admin, None), Admin);
    }

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "bearer vgt_x".parse().unwrap());
        assert_eq!(bearer(&h), Some("vgt_x"));
    }
}
