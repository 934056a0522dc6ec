//! The JSON shapes of Vigil's HTTP API, shared by the node and the console.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether a node takes everything (`active`) or is a fallback (`passive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Active,
    Passive,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
        }
    }
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NodeRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Self::Active),
            "passive" => Ok(Self::Passive),
            other => Err(format!(
                "unknown role {other:?} (expected active or passive)"
            )),
        }
    }
}

/// What a console may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    Operator,
    Viewer,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }
}

impl FromStr for UserRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "operator" => Ok(Self::Operator),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!("unknown user role {other:?}")),
        }
    }
}

/// A node as listed in keep-alive replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub name: String,
    pub url: String,
    pub role: NodeRole,
    pub operational: bool,
}

/// A node as shown on the Nodes page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub name: String,
    pub url: String,
    pub role: NodeRole,
    pub operational: bool,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds of the node's last registry refresh.
    pub last_seen: i64,
}

/// `GET /api/v1/nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// The node that answered.
    pub node: String,
    pub nodes: Vec<NodeDetail>,
    /// Unix milliseconds on the node's database clock.
    pub server_time: i64,
}

/// `GET /api/v1/keepalive`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepAlive {
    /// The node that answered.
    pub node: String,
    pub nodes: Vec<NodeSummary>,
    /// Comma-separated counters, see [`crate::state`].
    pub state: String,
    /// Unix milliseconds on the node's database clock.
    pub server_time: i64,
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub node: String,
    pub role: NodeRole,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user (`GET /api/v1/me`, login reply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: UserRole,
}

/// `POST /api/v1/auth/handoff`: carries the session to another node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Single use; redeem at `<node>/auth/handoff?token=…&next=…`.
    pub token: String,
    pub expires_in_s: u64,
}

/// `PUT /api/v1/nodes/{name}/role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRole {
    pub role: NodeRole,
}

/// Every error reply: `{"error": {"code": …, "message": …}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`unauthorized`, `invalid_json`, …).
    pub code: String,
    /// For humans.
    pub message: String,
}
