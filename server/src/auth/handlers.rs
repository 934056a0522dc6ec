//! Sign-in and sign-out, as JSON API calls and as plain HTML form posts (the
//! console's login form works before the WASM has loaded).

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use app::api::{Handoff, LoginRequest, Me};
use app::params::encode;

use super::client::ClientIp;
use super::{device_token, safe_next, set_cookie, Attempt, Auth, CurrentUser, LoginError};
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, Signed};
use protocol::api::ErrorBody;

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "public",
    responses((status = 200, description = "Signed in: the session cookie is set", body = Me), BadBody, (status = 401, description = "`invalid_credentials`", body = ErrorBody), (status = 429, description = "`too_many_attempts` (Retry-After)", body = ErrorBody), (status = 503, description = "`busy`, `timeout` or `centralization_in_progress`", body = ErrorBody)),
)]
pub async fn login_json(
    State(app): State<Auth>,
    ClientIp(client): ClientIp,
    request_headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let attempt = Attempt {
        client,
        device: device_token(&request_headers),
        username: &req.username,
        password: &req.password,
    };
    let result = super::login(&app, attempt).await;
    record_sign_in(&app, client, &req.username, &result).await;
    let (cookies, user) = result?;
    let mut headers = HeaderMap::new();
    for cookie in cookies {
        set_cookie(&mut headers, cookie);
    }
    Ok((headers, Json(user.me())).into_response())
}

/// Puts a sign-in that reached the password check on the audit trail
/// (refusals before it, such as a locked-out address, write nothing: a
/// flood of them must not become a flood of writes).
async fn record_sign_in(
    app: &Auth,
    client: std::net::IpAddr,
    username: &str,
    result: &Result<(Vec<axum::http::HeaderValue>, super::CurrentUser), LoginError>,
) {
    let status = match result {
        Ok(_) => 200,
        Err(LoginError::Invalid) => 401,
        Err(_) => return,
    };
    let name: String = username.trim().chars().take(64).collect();
    let entry = crate::trail::Entry {
        actor: name.clone(),
        via: "password".into(),
        client: client.to_string(),
        node: app.node.clone(),
        action: "sign_in".into(),
        target: name,
        status,
    };
    if let Err(e) = crate::trail::record(&app.db, &entry).await {
        tracing::error!(error = %e, "could not record a sign-in");
    }
}

/// `POST /api/v1/auth/logout`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "public",
    responses((status = 204, description = "Signed out: the cookie is cleared"), (status = 503, description = "`timeout`", body = ErrorBody)),
)]
pub async fn logout_json(
    State(app): State<Auth>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut out = HeaderMap::new();
    set_cookie(&mut out, super::logout(&app, &headers).await?);
    Ok((StatusCode::NO_CONTENT, out).into_response())
}

/// `GET /api/v1/me`.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "Who is calling", body = Me), Signed),
)]
pub async fn me(user: CurrentUser) -> Json<Me> {
    Json(user.me())
}

/// The console's login form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /auth/login`: redirects to `next` or back to the login page.
pub async fn login_form(
    State(app): State<Auth>,
    ClientIp(client): ClientIp,
    request_headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let attempt = Attempt {
        client,
        device: device_token(&request_headers),
        username: &form.username,
        password: &form.password,
    };
    let result = super::login(&app, attempt).await;
    record_sign_in(&app, client, &form.username, &result).await;
    match result {
        Ok((cookies, _)) => {
            let mut headers = HeaderMap::new();
            for cookie in cookies {
                set_cookie(&mut headers, cookie);
            }
            (headers, Redirect::to(&next)).into_response()
        }
        Err(e) => {
            let reason = match e {
                LoginError::Invalid => "invalid",
                LoginError::LockedOut(_) => "locked",
                LoginError::Busy => "busy",
                LoginError::Centralizing => "centralizing",
                LoginError::Internal(cause) => {
                    tracing::error!(%cause, "login failed");
                    "internal"
                }
            };
            let query = format!("/login?error={reason}&next={}", encode(&next));
            Redirect::to(&query).into_response()
        }
    }
}

/// `POST /auth/logout`: back to the login page.
pub async fn logout_form(
    State(app): State<Auth>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut out = HeaderMap::new();
    set_cookie(&mut out, super::logout(&app, &headers).await?);
    Ok((out, Redirect::to("/login")).into_response())
}

/// `POST /api/v1/auth/handoff`: a token the console keeps for failover.
#[utoipa::path(
    post,
    path = "/api/v1/auth/handoff",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "A single-use hand-off token for another node", body = Handoff), Signed),
)]
pub async fn handoff_issue(
    State(app): State<Auth>,
    user: CurrentUser,
) -> Result<Json<Handoff>, ApiError> {
    // A hand-off opens a session with the user's whole role: never from a
    // token, which may be narrower.
    if user.token.is_some() {
        return Err(ApiError::forbidden(
            "a session hand-off needs a signed-in console, not a token",
        ));
    }
    Ok(Json(Handoff {
        token: super::issue_handoff(&app, &user).await?,
        expires_in_s: app.config.handoff_ttl.as_secs(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandoffQuery {
    token: String,
    next: Option<String>,
}

/// `GET /auth/handoff?token=…&next=…`: where a console lands after failing
/// over. A good token opens a session here and goes on to `next` (a path on
/// this node only); any other token leads to the login page.
pub async fn handoff_redeem(
    State(app): State<Auth>,
    Query(query): Query<HandoffQuery>,
) -> Result<Response, ApiError> {
    let next = safe_next(query.next.as_deref()).to_owned();
    match super::redeem_handoff(&app, &query.token).await? {
        Some(cookie) => {
            let mut headers = HeaderMap::new();
            set_cookie(&mut headers, cookie);
            Ok((headers, Redirect::to(&next)).into_response())
        }
        None => {
            tracing::info!("hand-off token refused");
            let login = format!("/login?error=handoff&next={}", encode(&next));
            Ok(Redirect::to(&login).into_response())
        }
    }
}
