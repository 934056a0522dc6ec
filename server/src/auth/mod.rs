//! Users, passwords, sessions and the guards that require them.
//!
//! Sessions live in the shared database, so a console signed in on one node
//! is signed in on every node of the cluster. The browser holds a random
//! token in an HttpOnly, SameSite=Lax cookie; the database holds its SHA-256.

pub mod centralize;
pub mod client;
pub mod handlers;
pub mod limiter;
pub mod password;
pub mod recent;
pub mod store;
pub mod tokens;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use app::api::{Me, UserRole};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{Db, StoreError};
use crate::error::ApiError;

/// Users, sessions and logins; cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<AuthParts>);

/// The fields of [`Auth`].
pub struct AuthParts {
    pub db: Db,
    pub config: Arc<Config>,
    /// This node's name (sessions record where they were opened).
    pub node: String,
    /// Cookies are `Secure` when the node is reached over HTTPS.
    pub https: bool,
    /// Failed logins per client address, on this node.
    pub addresses: limiter::AddressLimiter,
    /// The password hashing threads.
    pub hasher: password::Hasher,
    /// Set while this node's own data is being centralized: sign-ins wait.
    centralizing: std::sync::atomic::AtomicBool,
    /// Sessions verified lately, for keep-alives while the database is
    /// silent (see [`recent`]).
    pub recent: recent::Recent,
}

impl std::ops::Deref for Auth {
    type Target = AuthParts;

    fn deref(&self) -> &AuthParts {
        &self.0
    }
}

impl Auth {
    pub fn new(db: Db, config: Arc<Config>, node: String, url: &str) -> Self {
        Self(Arc::new(AuthParts {
            addresses: limiter::AddressLimiter::new(
                config.login_max_failures_per_address,
                config.login_lockout,
            ),
            hasher: password::Hasher::new(config.login_workers, config.login_wait),
            https: url.starts_with("https://"),
            db,
            config,
            node,
            centralizing: Default::default(),
            recent: Default::default(),
        }))
    }

    /// Refuses (or again accepts) sign-ins while this node's data is
    /// centralized into the cluster.
    pub fn hold_sign_ins(&self, hold: bool) {
        self.centralizing
            .store(hold, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "vigil_session";
/// Name of the cookie of a browser that signed in before (see [`limiter`]).
pub const DEVICE_COOKIE: &str = "vigil_device";
/// How long a browser stays known after its last sign-in.
const DEVICE_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);
/// How long an account's failed logins are remembered.
const FAILURES_KEPT_MS: i64 = 24 * 3600 * 1000;

/// The signed-in user of a request; extracting it answers 401 when missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: UserRole,
    /// May change the Global content tree.
    pub manage_global_content: bool,
    /// The API token the request came with (its id), if not a session.
    pub token: Option<String>,
}

impl CurrentUser {
    pub fn me(&self) -> Me {
        Me {
            username: self.username.clone(),
            role: self.role,
            manage_global_content: self.manage_global_content,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = Auth::from_ref(state);
        if let Some(bearer) = tokens::bearer(&parts.headers) {
            // A token, when given, decides alone: no falling back to a
            // cookie the same request may carry.
            return tokens::user(&app, bearer)
                .await?
                .ok_or_else(ApiError::unauthorized);
        }
        session_user(&parts.headers, &app)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The user behind the request's session cookie, if it is live.
pub async fn session_user(
    headers: &HeaderMap,
    app: &Auth,
) -> Result<Option<CurrentUser>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    Ok(store::session_user(&app.db, &token_hash(token)).await?)
}

/// The session token from the `Cookie` headers.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The device token from the `Cookie` headers.
pub fn device_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, DEVICE_COOKIE)
}

fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Why a login was refused.
#[derive(Debug)]
pub enum LoginError {
    Invalid,
    /// The account or the client address must wait this long.
    LockedOut(std::time::Duration),
    /// Every password worker stayed busy.
    Busy,
    /// This node's data is being centralized into the cluster.
    Centralizing,
    Internal(anyhow::Error),
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        use axum::http::StatusCode;
        match e {
            LoginError::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong user name or password",
            ),
            LoginError::LockedOut(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!(
                    "too many failed logins; try again in {} s",
                    wait.as_secs() + 1
                ),
            )
            .retry_after(wait.as_secs() + 1),
            LoginError::Centralizing => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "centralization_in_progress",
                app::api::centralize::SIGN_IN_DURING_CENTRALIZATION,
            )
            .retry_after(5),
            LoginError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many sign-ins at once; try again in a moment",
            )
            .retry_after(1),
            LoginError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// Who is signing in, and from where.
pub struct Attempt<'a> {
    pub client: IpAddr,
    /// The request's device cookie, if any.
    pub device: Option<&'a str>,
    pub username: &'a str,
    pub password: &'a str,
}

/// Checks the credentials and opens a session; returns the cookies to set
/// (the session's, and the device's on a browser new to the account).
///
/// Cheap refusals come first (the client address); then a password worker
/// is reserved, and only its holder reads the database and hashes, so one
/// node's login work is bounded however many attempts arrive.
pub async fn login(
    app: &Auth,
    attempt: Attempt<'_>,
) -> Result<(Vec<HeaderValue>, CurrentUser), LoginError> {
    let Attempt {
        client,
        device,
        username,
        password,
    } = attempt;
    if app.centralizing.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(LoginError::Centralizing);
    }
    app.addresses.check(client).map_err(LoginError::LockedOut)?;
    let slot = app.hasher.slot().await.map_err(|e| match e {
        password::HashError::Busy => LoginError::Busy,
        other => LoginError::Internal(other.into()),
    })?;
    let internal = |e: StoreError| LoginError::Internal(e.into());
    let account = username.to_lowercase();
    let found = store::find_user(&app.db, username)
        .await
        .map_err(internal)?;
    let known_device = match (device, &found) {
        (Some(token), Some(row)) => {
            store::device_user(&app.db, &token_hash(token))
                .await
                .map_err(internal)?
                == Some(row.user.id)
        }
        _ => false,
    };
    if !known_device {
        let failures = store::login_failures(&app.db, &account, FAILURES_KEPT_MS)
            .await
            .map_err(internal)?;
        if let Some((failures, age_ms)) = failures {
            let delay = limiter::account_delay(
                failures,
                app.config.login_max_failures,
                app.config.login_lockout,
            );
            let age = std::time::Duration::from_millis(age_ms.max(0) as u64);
            if age < delay {
                return Err(LoginError::LockedOut(delay - age));
            }
        }
    }
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let ok = slot
        .verify(password.to_owned(), stored)
        .await
        .map_err(|e| LoginError::Internal(e.into()))?;
    let user = match found {
        Some(row) if ok => row.user,
        _ => {
            app.addresses.failed(client);
            store::login_failed(&app.db, &account, FAILURES_KEPT_MS)
                .await
                .map_err(internal)?;
            tracing::info!(%client, username, "login refused");
            return Err(LoginError::Invalid);
        }
    };
    app.addresses.succeeded(client);
    store::login_succeeded(&app.db, &account)
        .await
        .map_err(internal)?;
    let mut cookies = vec![open_session(app, user.id).await.map_err(internal)?];
    if !known_device {
        let token = new_token();
        store::add_device(
            &app.db,
            &token_hash(&token),
            user.id,
            DEVICE_TTL.as_millis() as i64,
        )
        .await
        .map_err(internal)?;
        cookies.push(cookie_header(
            app,
            DEVICE_COOKIE,
            &token,
            DEVICE_TTL.as_secs(),
        ));
    }
    tracing::info!(%client, username, "signed in");
    Ok((cookies, user))
}

/// Starts a session for a user; returns the cookie to set.
async fn open_session(app: &Auth, user_id: i64) -> Result<HeaderValue, StoreError> {
    let token = new_token();
    let ttl = app.config.session_ttl;
    store::create_session(
        &app.db,
        &token_hash(&token),
        user_id,
        ttl.as_millis() as i64,
        &app.node,
    )
    .await?;
    Ok(session_cookie(app, &token, ttl.as_secs()))
}

/// A single-use token with which another node of the cluster will open a
/// session for `user` (console failover crosses origins, so the cookie
/// cannot follow).
pub async fn issue_handoff(app: &Auth, user: &CurrentUser) -> Result<String, StoreError> {
    let token = new_token();
    store::create_handoff(
        &app.db,
        &token_hash(&token),
        user.id,
        app.config.handoff_ttl.as_millis() as i64,
    )
    .await?;
    Ok(token)
}

/// Redeems a hand-off token: the session cookie for its user, or `None` if
/// the token is unknown, expired or already used.
pub async fn redeem_handoff(app: &Auth, token: &str) -> Result<Option<HeaderValue>, StoreError> {
    match store::redeem_handoff(&app.db, &token_hash(token)).await? {
        Some(user_id) => Ok(Some(open_session(app, user_id).await?)),
        None => Ok(None),
    }
}

/// Ends the request's session, if any; returns the cookie that clears it.
pub async fn logout(app: &Auth, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(token) = session_token(headers) {
        store::delete_session(&app.db, &token_hash(token)).await?;
    }
    Ok(session_cookie(app, "", 0))
}

fn session_cookie(app: &Auth, token: &str, max_age_s: u64) -> HeaderValue {
    cookie_header(app, SESSION_COOKIE, token, max_age_s)
}

fn cookie_header(app: &Auth, name: &str, token: &str, max_age_s: u64) -> HeaderValue {
    let secure = if app.https { "; Secure" } else { "" };
    let cookie =
        format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&cookie).expect("cookie is ASCII")
}

/// Adds a `Set-Cookie` header.
pub fn set_cookie(headers: &mut HeaderMap, cookie: HeaderValue) {
    headers.append(SET_COOKIE, cookie);
}

/// Creates the `admin` user on a database that has no users yet. The
/// password comes from the configuration or is generated and logged once.
pub async fn bootstrap_admin(app: &Auth) -> Result<(), anyhow::Error> {
    if store::count_users(&app.db).await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &app.config.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => (password::generate(), true),
    };
    password::check_policy(&password)
        .map_err(|m| anyhow::anyhow!("the configured admin password is refused: {m}"))?;
    let hash = app.hasher.hash(password.clone()).await?;
    // Another node starting at the same moment may win; then nothing happens.
    if store::create_user(&app.db, "admin", &hash, UserRole::Admin).await? && generated {
        tracing::warn!(
            "created user `admin` with generated password {password} \
             (shown once; set VIGIL_ADMIN_PASSWORD to choose it)"
        );
    }
    Ok(())
}

/// Checks a new user's name and password; the message says what is wrong.
pub fn check_new_user(username: &str, password: &str) -> Result<(), String> {
    let name_ok = (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !name_ok {
        return Err("username must be 1 to 64 letters, digits or . _ - @".into());
    }
    password::check_policy(password)
}

/// Keeps only same-site relative paths for post-login redirects.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_token_is_found_among_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; vigil_session=abc; b=2"),
        );
        assert_eq!(session_token(&h), Some("abc"));
        h.insert(COOKIE, HeaderValue::from_static("vigil_session="));
        assert_eq!(session_token(&h), None);
    }

    #[test]
    fn new_users_need_a_plain_name_and_a_long_password() {
        assert!(check_new_user("ops.viewer", "long enough pw").is_ok());
        assert!(check_new_user("", "long enough pw").is_err());
        assert!(check_new_user("a b", "long enough pw").is_err());
        assert!(check_new_user("viewer", "short").is_err());
        assert!(check_new_user("viewer", "          ").is_err());
    }

    #[test]
    fn only_relative_paths_are_redirect_targets() {
        assert_eq!(safe_next(Some("/nodes?x=1")), "/nodes?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
