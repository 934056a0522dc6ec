//! The JSON shapes of Vigil's HTTP API, shared by the node and the console.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod centralize;
pub mod content;

pub use protocol::api::{
    CommandResult, CommandState, CommandsReply, ErrorBody, ErrorDetail, HandshakeReply,
    HandshakeRequest, HeartbeatRequest, LogEntry, LogsRequest, Mode, NodeRole, NodeSummary,
    ProductCommand, ProductStatus, RegisterReply, RegisterRequest, Transport,
};

/// What a console may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    Operator,
    Viewer,
}

impl UserRole {
    /// How much the role may do: viewer < operator < admin.
    pub fn rank(self) -> u8 {
        match self {
            Self::Viewer => 0,
            Self::Operator => 1,
            Self::Admin => 2,
        }
    }

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

/// A node as shown on the Nodes page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeList {
    /// The node that answered.
    pub node: String,
    pub nodes: Vec<NodeDetail>,
    /// Unix milliseconds on the node's database clock.
    pub server_time: i64,
}

/// `GET /api/v1/keepalive`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeepAlive {
    /// The node that answered.
    pub node: String,
    pub nodes: Vec<NodeSummary>,
    /// Comma-separated counters, see [`crate::state`].
    pub state: String,
    /// Unix milliseconds on the node's database clock (its own clock while
    /// the database does not answer).
    pub server_time: i64,
    /// Set while the node cannot reach the database: since when (Unix ms,
    /// the node's clock). `state` and `nodes` are then what the node last
    /// knew, and may be out of date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_unreachable_since: Option<i64>,
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub node: String,
    pub role: NodeRole,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user (`GET /api/v1/me`, login reply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub username: String,
    pub role: UserRole,
    /// May manage the Global content tree.
    #[serde(default)]
    pub manage_global_content: bool,
}

/// One record of the audit trail (`GET /api/v1/audit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    /// The user name.
    pub actor: String,
    /// `session`, `token:<id>` or `password` (a sign-in).
    pub via: String,
    pub client: String,
    pub node: String,
    /// What was done, e.g. `user.create`, `token.revoke`, `sign_in`.
    pub action: String,
    /// What it was done to: the request's path, or the account signed in to.
    pub target: String,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    pub status: i64,
}

/// A page of the audit trail, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: i64,
}

/// A personal API token as listed (`GET /api/v1/tokens`); the secret
/// itself is shown once, when made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// Its first characters (`vgt_1a2b…`), to tell tokens apart.
    pub prefix: String,
    /// Narrower than the user's role, or `None` for the user's own.
    pub role: Option<UserRole>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    pub name: String,
    /// Days until it expires (1–3650); `None` never.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// A narrower role than the user's.
    #[serde(default)]
    pub role: Option<UserRole>,
}

/// The reply to `POST /api/v1/tokens`: the only time `token` is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}

/// `POST /api/v1/auth/handoff`: carries the session to another node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Handoff {
    /// Single use; redeem at `<node>/auth/handoff?token=…&next=…`.
    pub token: String,
    pub expires_in_s: u64,
}

/// `PUT /api/v1/nodes/{name}/role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetRole {
    pub role: NodeRole,
}

/// `POST /api/v1/products/{id}/reenroll` (admins): the product's key is
/// revoked; its next registration with the enrollment secret takes it over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reenrolled {
    pub product_id: String,
}

/// A product as listed in the console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductSummary {
    pub id: String,
    pub name: String,
    pub product_type: String,
    pub version: String,
    /// `pending`, `online`, `offline` or `unmanaged`.
    pub status: String,
    pub transport: Option<String>,
    pub mode: Option<String>,
    pub last_seen: Option<i64>,
    pub home_node: Option<String>,
}

/// A status change of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub at: i64,
    pub cause: String,
}

/// `GET /api/v1/products`: one page of products.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductPage {
    /// Products matching the filters, on every page.
    pub total: i64,
    pub products: Vec<ProductSummary>,
}

/// `GET /api/v1/products/counts`: how many products have each status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusCounts {
    pub pending: i64,
    pub online: i64,
    pub offline: i64,
    pub unmanaged: i64,
}

/// `GET /api/v1/products/{id}`: one product with its history and logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProductDetail {
    pub product: ProductSummary,
    pub activity: Option<serde_json::Value>,
    pub history: Vec<Transition>,
    pub logs: Vec<LogEntry>,
}

/// The fleet's status counts at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FleetPoint {
    /// Unix milliseconds (database clock).
    pub at: i64,
    pub pending: i64,
    pub online: i64,
    pub offline: i64,
    pub unmanaged: i64,
}

/// `GET /api/v1/products/history?window=1h|24h|7d`: the fleet's status over
/// time, oldest first; the last point is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FleetHistory {
    pub window: String,
    pub points: Vec<FleetPoint>,
}

/// `GET /api/v1/enrollment` (admins): the secret products enroll with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentSecret {
    pub secret: String,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
    /// The admin who rotated it, `configuration`, or `generated` (at the
    /// cluster's first start).
    pub updated_by: String,
}

/// `POST /api/v1/users` (admins): a new console user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: UserRole,
}

/// `POST /api/v1/commands` (operators and admins).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewCommandRequest {
    pub product_id: String,
    pub kind: String,
    /// A JSON object; absent means `{}`.
    #[serde(default)]
    pub args: serde_json::Value,
}

/// A command as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommandSummary {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub kind: String,
    /// `queued`, `dispatched`, `delivered`, `succeeded`, `failed`,
    /// `expired` or `dead`.
    pub state: String,
    pub attempts: i64,
    /// The node that holds (or last held) it.
    pub holder: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
}

/// One change on a command's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommandEvent {
    pub at: i64,
    pub node: String,
    pub state: String,
    pub note: String,
}

/// `GET /api/v1/commands/{id}`: a command, its arguments, result and
/// timeline (oldest first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommandDetail {
    pub command: CommandSummary,
    pub args: serde_json::Value,
    pub output: Option<String>,
    pub events: Vec<CommandEvent>,
}

/// `GET /api/v1/commands?state=&product=&node=&limit=&offset=`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommandPage {
    pub total: i64,
    pub commands: Vec<CommandSummary>,
}

/// A console user as admins see them (`GET /api/v1/users`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub username: String,
    pub role: UserRole,
    /// May manage the Global content tree.
    #[serde(default)]
    pub manage_global_content: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// `PUT /api/v1/users/{name}/role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetUserRole {
    pub role: UserRole,
}

/// `PUT /api/v1/users/{name}/permissions` (admins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPermissions {
    pub manage_global_content: bool,
}
