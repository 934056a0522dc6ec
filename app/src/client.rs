//! The browser's typed client of the node's API. Runs only in the browser
//! (from effects), so the node never calls it.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;

use crate::api::{ErrorBody, KeepAlive, NodeList};

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

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    let response = Request::get(path)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| ClientError::Network(e.to_string()))?;
    match response.status() {
        200 => response
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

pub async fn keepalive() -> Result<KeepAlive, ClientError> {
    get_json("/api/v1/keepalive").await
}

pub async fn nodes() -> Result<NodeList, ClientError> {
    get_json("/api/v1/nodes").await
}
