//! The browser's typed client of the node's API. Runs only in the browser
//! (from effects), so the node never calls it.

use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::callback::Timeout;
use serde::de::DeserializeOwned;
use web_sys::AbortController;

use crate::api::{CommandState, ErrorBody, Handoff, KeepAlive, NodeList, ProductStatus};
use crate::params::encode;
use crate::state::{StateString, Watched};

pub mod content;

/// How long a plain API call may take before it counts as failed (a node
/// that hangs must not hang the console).
const GRACE_MS: u32 = 4_000;
/// How long a node may take to answer a failover probe.
const PROBE_MS: u32 = 1_500;

/// Why an API call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The session is gone: sign in again.
    Unauthorized,
    /// The node answered with an error.
    Api { status: u16, message: String },
    /// The node did not answer.
    Network(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("signed out"),
            Self::Api { status, message } => write!(f, "{message} (HTTP {status})"),
            Self::Network(e) => write!(f, "node unreachable: {e}"),
        }
    }
}

/// Sends a request, giving up after `timeout_ms`.
async fn send(request: RequestBuilder, timeout_ms: u32) -> Result<Response, ClientError> {
    send_with(request, None, timeout_ms).await
}

/// Sends a request with an optional JSON body, giving up after `timeout_ms`.
async fn send_with(
    request: RequestBuilder,
    json: Option<String>,
    timeout_ms: u32,
) -> Result<Response, ClientError> {
    let controller =
        AbortController::new().map_err(|_| ClientError::Network("no AbortController".into()))?;
    let request = request
        .abort_signal(Some(&controller.signal()))
        .header("Accept", "application/json");
    // Dropping the timer (when the answer comes first) cancels it.
    let _timer = Timeout::new(timeout_ms, move || controller.abort());
    let sent = match json {
        None => request.send().await,
        Some(body) => {
            let request = request
                .header("Content-Type", "application/json")
                .body(body)
                .map_err(|e| ClientError::Network(e.to_string()))?;
            request.send().await
        }
    };
    sent.map_err(|e| ClientError::Network(e.to_string()))
}

async fn json_of<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    match response.status() {
        200 | 201 => response
            .json()
            .await
            .map_err(|e| ClientError::Network(e.to_string())),
        401 => Err(ClientError::Unauthorized),
        status => {
            let message = match response.json::<ErrorBody>().await {
                Ok(body) => body.error.message,
                Err(_) => response.status_text(),
            };
            Err(ClientError::Api { status, message })
        }
    }
}

/// A keep-alive; with `known`, the node holds it up to `wait_ms` until a
/// watched position differs. It fails once `deadline_ms` have passed
/// without an answer (see `console::keepalive` for how long that is).
pub async fn keepalive(
    known: Option<&StateString>,
    wait_ms: u32,
    deadline_ms: u32,
    watched: &Watched,
) -> Result<KeepAlive, ClientError> {
    let mut url = format!("/api/v1/keepalive?watch={}", encode(&watched.to_string()));
    if let Some(known) = known {
        url.push_str(&format!(
            "&state={}&wait={wait_ms}",
            encode(&known.to_string())
        ));
    }
    json_of(send(Request::get(&url), deadline_ms).await?).await
}

pub async fn nodes() -> Result<NodeList, ClientError> {
    json_of(send(Request::get("/api/v1/nodes"), GRACE_MS).await?).await
}

/// A page of the audit trail (admins); `query` is the filter part.
pub async fn audit(query: &str) -> Result<crate::api::AuditPage, ClientError> {
    let url = format!("/api/v1/audit?{}", query.trim_start_matches('&'));
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

/// The signed-in user's API tokens.
pub async fn tokens() -> Result<Vec<crate::api::ApiToken>, ClientError> {
    json_of(send(Request::get("/api/v1/tokens"), GRACE_MS).await?).await
}

/// Makes an API token; the reply is the only time its secret is seen.
pub async fn create_token(
    new: &crate::api::NewApiToken,
) -> Result<crate::api::CreatedApiToken, ClientError> {
    let body = serde_json::to_string(new).map_err(|e| ClientError::Network(e.to_string()))?;
    json_of(send_with(Request::post("/api/v1/tokens"), Some(body), GRACE_MS).await?).await
}

/// Revokes one of the user's API tokens.
pub async fn revoke_token(id: &str) -> Result<(), ClientError> {
    let url = format!("/api/v1/tokens/{}", encode(id));
    done(send(Request::delete(&url), GRACE_MS).await?).await
}

/// Every standalone source being centralized, and its status.
pub async fn centralization() -> Result<crate::api::centralize::Centralization, ClientError> {
    json_of(send(Request::get("/api/v1/centralization"), GRACE_MS).await?).await
}

/// Puts a failed centralization back in line (admins).
pub async fn retry_centralization(node: &str) -> Result<(), ClientError> {
    let url = format!("/api/v1/centralization/{}/retry", encode(node));
    done(send(Request::post(&url), GRACE_MS).await?).await
}

/// A fresh single-use token to carry the session to another node.
pub async fn handoff() -> Result<Handoff, ClientError> {
    json_of(send(Request::post("/api/v1/auth/handoff"), GRACE_MS).await?).await
}

/// Whether the node at `base_url` answers its health check.
pub async fn probe(base_url: &str) -> bool {
    let url = format!("{}/healthz", base_url.trim_end_matches('/'));
    matches!(send(Request::get(&url), PROBE_MS).await, Ok(r) if r.ok())
}

/// Which products a list shows, and which page of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    /// Part of a name, type or id.
    pub search: String,
    /// `name`, `status` or `last_seen` (empty: by name).
    pub sort: String,
    pub limit: i64,
    pub offset: i64,
}

impl ProductFilter {
    fn query(&self) -> String {
        format!(
            "status={}&q={}&sort={}&limit={}&offset={}",
            self.status.map_or("", |s| s.as_str()),
            encode(self.search.trim()),
            encode(&self.sort),
            self.limit,
            self.offset
        )
    }
}

/// One page of products.
pub async fn products(filter: &ProductFilter) -> Result<crate::api::ProductPage, ClientError> {
    let url = format!("/api/v1/products?{}", filter.query());
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

pub async fn product_counts() -> Result<crate::api::StatusCounts, ClientError> {
    json_of(send(Request::get("/api/v1/products/counts"), GRACE_MS).await?).await
}

pub async fn product(id: &str) -> Result<crate::api::ProductDetail, ClientError> {
    json_of(
        send(
            Request::get(&format!("/api/v1/products/{}", encode(id))),
            GRACE_MS,
        )
        .await?,
    )
    .await
}

/// Revokes a product's key so that it can register again with the
/// enrollment secret (admins).
pub async fn reenroll_product(id: &str) -> Result<crate::api::Reenrolled, ClientError> {
    let url = format!("/api/v1/products/{}/reenroll", encode(id));
    json_of(send(Request::post(&url), GRACE_MS).await?).await
}

/// The signed-in user.
pub async fn me() -> Result<crate::api::Me, ClientError> {
    json_of(send(Request::get("/api/v1/me"), GRACE_MS).await?).await
}

/// The fleet's status over `window` (`1h`, `24h` or `7d`).
pub async fn fleet_history(window: &str) -> Result<crate::api::FleetHistory, ClientError> {
    let url = format!("/api/v1/products/history?window={}", encode(window));
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

/// The enrollment secret (admins).
pub async fn enrollment() -> Result<crate::api::EnrollmentSecret, ClientError> {
    json_of(send(Request::get("/api/v1/enrollment"), GRACE_MS).await?).await
}

/// Replaces the enrollment secret with a new random one (admins).
pub async fn rotate_enrollment() -> Result<crate::api::EnrollmentSecret, ClientError> {
    json_of(send(Request::post("/api/v1/enrollment/rotate"), GRACE_MS).await?).await
}

/// Queues a command (operators and admins).
pub async fn queue_command(
    request: &crate::api::NewCommandRequest,
) -> Result<crate::api::CommandSummary, ClientError> {
    let body = serde_json::to_string(request).map_err(|e| ClientError::Network(e.to_string()))?;
    json_of(send_with(Request::post("/api/v1/commands"), Some(body), GRACE_MS).await?).await
}

/// Which commands a list shows, and which page of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandFilter {
    pub state: Option<CommandState>,
    /// A product id (empty: every product).
    pub product: String,
    /// A node name (empty: every node).
    pub node: String,
    pub limit: i64,
    pub offset: i64,
}

impl CommandFilter {
    fn query(&self) -> String {
        format!(
            "state={}&product={}&node={}&limit={}&offset={}",
            self.state.map_or("", |s| s.as_str()),
            encode(self.product.trim()),
            encode(self.node.trim()),
            self.limit,
            self.offset
        )
    }
}

/// One page of commands.
pub async fn commands(filter: &CommandFilter) -> Result<crate::api::CommandPage, ClientError> {
    let url = format!("/api/v1/commands?{}", filter.query());
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

/// One command with its timeline.
pub async fn command(id: &str) -> Result<crate::api::CommandDetail, ClientError> {
    let url = format!("/api/v1/commands/{}", encode(id));
    json_of(send(Request::get(&url), GRACE_MS).await?).await
}

/// A call answered with 204 and no body.
async fn done(response: Response) -> Result<(), ClientError> {
    match response.status() {
        204 => Ok(()),
        _ => json_of::<serde_json::Value>(response).await.map(|_| ()),
    }
}

/// The console's users (admins).
pub async fn users() -> Result<Vec<crate::api::UserSummary>, ClientError> {
    json_of(send(Request::get("/api/v1/users"), GRACE_MS).await?).await
}

/// Adds a user (admins).
pub async fn add_user(user: &crate::api::NewUser) -> Result<crate::api::Me, ClientError> {
    let body = serde_json::to_string(user).map_err(|e| ClientError::Network(e.to_string()))?;
    json_of(send_with(Request::post("/api/v1/users"), Some(body), GRACE_MS).await?).await
}

/// Changes a user's role (admins).
pub async fn set_user_role(name: &str, role: crate::api::UserRole) -> Result<(), ClientError> {
    let url = format!("/api/v1/users/{}/role", encode(name));
    let body = serde_json::to_string(&crate::api::SetUserRole { role })
        .map_err(|e| ClientError::Network(e.to_string()))?;
    done(send_with(Request::put(&url), Some(body), GRACE_MS).await?).await
}

/// Grants or revokes the `manage_global_content` permission (admins).
pub async fn set_manage_global(name: &str, granted: bool) -> Result<(), ClientError> {
    let url = format!("/api/v1/users/{}/permissions", encode(name));
    let body = serde_json::to_string(&crate::api::SetPermissions {
        manage_global_content: granted,
    })
    .map_err(|e| ClientError::Network(e.to_string()))?;
    done(send_with(Request::put(&url), Some(body), GRACE_MS).await?).await
}

/// Removes a user (admins).
pub async fn remove_user(name: &str) -> Result<(), ClientError> {
    let url = format!("/api/v1/users/{}", encode(name));
    done(send(Request::delete(&url), GRACE_MS).await?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_make_the_query_with_every_value_encoded() {
        let products = ProductFilter {
            status: Some(ProductStatus::Offline),
            search: " web & db ".into(),
            sort: "last_seen".into(),
            limit: 100,
            offset: 200,
        };
        assert_eq!(
            products.query(),
            "status=offline&q=web%20%26%20db&sort=last_seen&limit=100&offset=200"
        );
        let commands = CommandFilter {
            product: "p-1".into(),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            commands.query(),
            "state=&product=p-1&node=&limit=10&offset=0"
        );
    }
}
