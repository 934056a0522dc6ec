//! Managed products: registration and handshake, liveness from every source
//! (UDP and HTTP heartbeats, logs, polls, notifications), and the status
//! engine that turns silence into `offline` without false alarms.
//!
//! Liveness is recorded in memory on the node that received it and written
//! in batches every second ([`liveness`]). Each node also records how far it
//! has written ("mark"); the offline sweep ([`sweep`]), a cluster-wide
//! singleton, only judges products up to the oldest mark of the operational
//! nodes, so a late flush or a database outage never makes a product that
//! kept reporting look offline.

pub mod centralize;
pub mod enroll;
pub mod handlers;
pub mod history;
pub mod keys;
pub mod keywatch;
pub mod liveness;
pub mod metrics;
pub mod notify;
mod state;
pub mod store;
pub mod sweep;
pub mod udp;

use std::sync::Arc;

use crate::cluster::{now_ms, same_secret};

pub use protocol::api::ProductStatus as Status;

/// Where a proof of life came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    UdpHeartbeat,
    UdpHello,
    HttpHeartbeat,
    Logs,
    Poll,
    Notification,
    CommandResult,
}

impl Source {
    /// The cause written on an `→ online` transition.
    pub fn cause(self) -> &'static str {
        match self {
            Self::UdpHeartbeat => "UDP heartbeat",
            Self::UdpHello => "UDP hello",
            Self::HttpHeartbeat => "HTTP heartbeat",
            Self::Logs => "log upload",
            Self::Poll => "command poll",
            Self::Notification => "notification answered",
            Self::CommandResult => "command result",
        }
    }
}

/// One proof of life, as received by this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Liveness {
    pub product: Arc<str>,
    /// Unix milliseconds on this node's clock.
    pub at: i64,
    /// Highest datagram sequence accepted (0 for HTTP sources).
    pub seq: i64,
    /// Latest activity data as received (checked to be a small JSON object
    /// when written, not on the hot path).
    pub activity: Option<Vec<u8>>,
    pub source: Source,
}

/// A validated registration, with the secrets the node generated.
#[derive(Clone, Debug)]
pub struct Registration {
    pub id: String,
    pub name: String,
    pub product_type: String,
    pub version: String,
    pub callback_url: Option<String>,
    /// Where the product listens for wake datagrams.
    pub udp_port: Option<u16>,
    pub key: String,
    pub nonce: String,
}

/// Largest activity object a product may send.
pub const MAX_ACTIVITY_BYTES: usize = 4096;

/// Checks a registration request; the message says what is wrong.
/// `allow` lists the networks a callback may point into although they are
/// internal (`callback_allow`).
pub fn validate(
    req: &app::api::RegisterRequest,
    allow: &[crate::outbound::Cidr],
) -> Result<String, String> {
    let id = uuid::Uuid::parse_str(req.uuid.trim())
        .map_err(|_| "uuid must be a UUID".to_string())?
        .hyphenated()
        .to_string();
    let text = |name: &str, value: &str, max: usize| {
        if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
            Err(format!("{name} must be 1 to {max} printable characters"))
        } else {
            Ok(())
        }
    };
    text("name", &req.name, 200)?;
    text("product_type", &req.product_type, 100)?;
    text("version", &req.version, 100)?;
    if let Some(url) = &req.callback_url {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() <= 2000
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err("callback_url must be an http:// or https:// URL".into());
        }
        crate::outbound::check_url(url, allow)
            .map_err(|why| format!("callback_url refused: {why}"))?;
    }
    validate_udp_port(req.udp_port)?;
    Ok(id)
}

/// How a registration may take a UUID that is already in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody had it.
    New,
    /// Only a provisioning hello knew it: its key was never handed out.
    Provisioned,
    /// The caller proved it holds the current key.
    Proof,
    /// An admin opened it for re-enrolment.
    Reenrolment,
}

impl Claim {
    /// The cause written in the product's history when the claim replaces
    /// a key someone held.
    pub fn cause(self) -> Option<&'static str> {
        match self {
            Self::New | Self::Provisioned => None,
            Self::Proof => Some("re-registered with its current key"),
            Self::Reenrolment => {
                Some("re-enrolled with the enrollment secret after an admin revoked its key")
            }
        }
    }
}

/// Whether a registration presenting `proof` (a bearer key, if any) may
/// take over the product with `status`, `current_key` and the admin's
/// re-enrolment flag. The enrollment secret alone never takes over a
/// product whose key was handed out.
pub fn claim(
    status: &str,
    reenroll_allowed: bool,
    current_key: &str,
    proof: Option<&str>,
) -> Option<Claim> {
    if status == Status::Unmanaged.as_str() {
        Some(Claim::Provisioned)
    } else if proof.is_some_and(|p| same_secret(current_key, p)) {
        Some(Claim::Proof)
    } else if reenroll_allowed {
        Some(Claim::Reenrolment)
    } else {
        None
    }
}

/// Checks a wake port, given at registration or in a handshake.
pub fn validate_udp_port(port: Option<u16>) -> Result<(), String> {
    match port {
        Some(0) => Err("udp_port must be 1 to 65535".into()),
        _ => Ok(()),
    }
}

/// Deepest nesting of arrays and objects accepted in activity data (the
/// object itself is level 1). Deeper data is refused, not stored as null.
pub const MAX_ACTIVITY_DEPTH: usize = 32;

/// Whether the JSON `text` nests arrays and objects at most `max` levels
/// deep. A byte scan that skips strings, so it costs nothing like a parse
/// and cannot be made to recurse.
pub fn nesting_within(text: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Activity data sent as raw bytes (a datagram payload): kept as sent if it
/// is a JSON object of at most 4 KiB nesting at most
/// [`MAX_ACTIVITY_DEPTH`] levels, checked without building it.
pub fn activity_raw(bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_ACTIVITY_BYTES || !nesting_within(bytes, MAX_ACTIVITY_DEPTH) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    Some(text.to_owned())
}

pub use state::Products;

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::RegisterRequest;

    fn request() -> RegisterRequest {
        RegisterRequest {
            enrollment_secret: "s".into(),
            uuid: "0E7E3C9A-1B2C-4D5E-8F90-A1B2C3D4E5F6".into(),
            name: "fw-01".into(),
            product_type: "firewall".into(),
            version: "1.2".into(),
            callback_url: Some("http://203.0.113.5:8080/wake".into()),
            udp_port: Some(40001),
        }
    }

    #[test]
    fn registration_ids_are_normalised_uuids() {
        assert_eq!(
            validate(&request(), &[]).unwrap(),
            "0e7e3c9a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
        );
    }

    #[test]
    fn bad_registrations_say_what_is_wrong() {
        let mut r = request();
        r.uuid = "not-a-uuid".into();
        assert!(validate(&r, &[]).unwrap_err().contains("uuid"));
        let mut r = request();
        r.name = " ".into();
        assert!(validate(&r, &[]).unwrap_err().contains("name"));
        let mut r = request();
        r.callback_url = Some("ftp://x".into());
        assert!(validate(&r, &[]).unwrap_err().contains("callback_url"));
        let mut r = request();
        r.udp_port = Some(0);
        assert!(validate(&r, &[]).unwrap_err().contains("udp_port"));
    }

    #[test]
    fn only_proof_an_admin_or_a_provisioned_record_let_a_registration_take_a_uuid() {
        let key = "ab".repeat(32);
        assert_eq!(claim("online", false, &key, None), None);
        assert_eq!(claim("offline", false, &key, Some("cd")), None);
        assert_eq!(
            claim("pending", false, &key, Some(&key)),
            Some(Claim::Proof)
        );
        assert_eq!(claim("online", true, &key, None), Some(Claim::Reenrolment));
        assert_eq!(
            claim("unmanaged", false, &key, None),
            Some(Claim::Provisioned)
        );
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(nesting_within(br#"{"a":{"b":[1,2]}}"#, 3));
        assert!(!nesting_within(br#"{"a":{"b":[1,2]}}"#, 2));
        assert!(nesting_within(br#"{"a":"[[[[{{{{\"[["}"#, 1));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!nesting_within(deep.as_bytes(), MAX_ACTIVITY_DEPTH));
    }

    #[test]
    fn activity_nested_too_deeply_is_refused_not_kept() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(activity_raw(deep.as_bytes()), None);
        let fine = format!("{{\"a\":{}1{}}}", "[".repeat(10), "]".repeat(10));
        assert_eq!(
            activity_raw(fine.as_bytes()).as_deref(),
            Some(fine.as_str())
        );
    }

    #[test]
    fn raw_activity_must_be_a_json_object() {
        assert_eq!(activity_raw(br#"{"a":1}"#).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(activity_raw(b"[1]"), None);
        assert_eq!(activity_raw(br#"{"a":"#), None);
        assert_eq!(activity_raw(&[0xff, 0xfe]), None);
    }
}
