//! The JSON shapes of the product API (registration, handshake, heartbeat,
//! logs, commands and results), the errors every call may answer, and the
//! enums both sides of the wire name: written once, used by the node, the
//! console and the agent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a wire enum: its variants with their text, `ALL`, `as_str`,
/// `parse`, `Display`, `FromStr` and serde as that text.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order of the protocol.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        /// A string, one of the texts (the derive would not see the
        /// renames a macro writes).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| {
                    let expected: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (expected {})", stringify!($name), expected.join(", "))
                })
            }
        }
    };
}

wire_enum! {
    /// Where a command is in its life.
    CommandState {
        Queued = "queued",
        Dispatched = "dispatched",
        Delivered = "delivered",
        Succeeded = "succeeded",
        Failed = "failed",
        Expired = "expired",
        Dead = "dead",
    }
}

impl CommandState {
    /// No further change happens to a command in this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Expired | Self::Dead
        )
    }
}

wire_enum! {
    /// A product's status.
    ProductStatus {
        /// Registered, no proof of life yet.
        Pending = "pending",
        Online = "online",
        Offline = "offline",
        /// Known from a provisioning hello; its agent has not registered.
        Unmanaged = "unmanaged",
    }
}

wire_enum! {
    /// How a product's heartbeats travel (the handshake decides).
    Transport {
        Udp = "udp",
        Http = "http",
    }
}

wire_enum! {
    /// Whether a node can wake the product (`two_way`) or waits for its
    /// polls (`one_way`).
    Mode {
        OneWay = "one_way",
        TwoWay = "two_way",
    }
}

/// Whether a node takes everything (`active`) or is a fallback (`passive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// A node as listed in keep-alive replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeSummary {
    pub name: String,
    pub url: String,
    pub role: NodeRole,
    pub operational: bool,
}

/// Every error reply: `{"error": {"code": …, "message": …}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable (`unauthorized`, `invalid_json`, …).
    pub code: String,
    /// For humans.
    pub message: String,
}

/// `POST /api/v1/products/register`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub enrollment_secret: String,
    pub uuid: String,
    pub name: String,
    pub product_type: String,
    pub version: String,
    pub callback_url: Option<String>,
    /// The UDP port on which the product listens for wake datagrams, at the
    /// address its own datagrams come from.
    #[serde(default)]
    pub udp_port: Option<u16>,
}

/// Registration reply: the product's identity and where to report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterReply {
    pub product_id: String,
    /// Hex; keys the datagrams' HMAC and is the bearer token of HTTP calls.
    pub key: String,
    /// Goes in the UDP hello that decides the heartbeat transport.
    pub nonce: String,
    pub udp_endpoint: String,
    pub heartbeat_interval_s: u64,
    pub offline_after_s: u64,
    pub nodes: Vec<NodeSummary>,
}

/// `POST /api/v1/products/{id}/handshake` (the body may be empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandshakeRequest {
    /// Where the product now listens for wake datagrams (replaces the port
    /// given at registration, which an agent on an ephemeral port cannot
    /// know in advance).
    #[serde(default)]
    pub udp_port: Option<u16>,
}

/// `POST /api/v1/products/{id}/handshake`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandshakeReply {
    pub transport: Transport,
    pub mode: Mode,
}

/// `POST /api/v1/products/{id}/heartbeat`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    /// Activity data shown in the console (a JSON object, ≤ 4 KiB).
    pub payload: Option<serde_json::Value>,
}

/// One log line from a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    /// Unix milliseconds on the product's clock.
    pub at: i64,
    pub level: String,
    pub message: String,
}

/// `POST /api/v1/products/{id}/logs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogsRequest {
    pub entries: Vec<LogEntry>,
}

/// A queued command as a product receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductCommand {
    pub id: String,
    pub kind: String,
    pub args: serde_json::Value,
}

/// `GET /api/v1/products/{id}/commands`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandsReply {
    pub commands: Vec<ProductCommand>,
}

/// `POST /api/v1/products/{id}/commands/{cid}/result`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandResult {
    /// `succeeded` or `failed`.
    pub status: String,
    /// Text, or any JSON (kept as its JSON text).
    #[serde(default)]
    pub output: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_enums_round_trip_as_their_text() {
        for s in CommandState::ALL {
            assert_eq!(CommandState::parse(s.as_str()), Some(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert!(CommandState::Dead.is_final());
        assert!(!CommandState::Delivered.is_final());
        assert_eq!(CommandState::parse("done"), None);
        assert_eq!("two_way".parse::<Mode>(), Ok(Mode::TwoWay));
        assert!("both"
            .parse::<Mode>()
            .unwrap_err()
            .contains("one_way, two_way"));
        let reply: HandshakeReply =
            serde_json::from_str(r#"{"transport":"udp","mode":"one_way"}"#).unwrap();
        assert_eq!(reply.transport, Transport::Udp);
        assert_eq!(ProductStatus::ALL.len(), 4);
    }
}
