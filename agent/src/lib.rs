//! A client of Vigil's product wire protocol, written only against the
//! protocol (not the node's code), as a third-party agent would be. Used by
//! `vigil-agent` and by the fleet simulator `vigil-sim`.

mod udp;
pub use udp::{read_wake, Datagrams, Wake, WakeRejected, WAKE_WINDOW_MS};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use protocol::api::{
    CommandResult, CommandsReply, ErrorBody, HandshakeRequest, HeartbeatRequest, LogEntry,
    LogsRequest, RegisterRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

pub use protocol::api::{
    HandshakeReply as Handshake, Mode, NodeRole, ProductCommand as Command,
    RegisterReply as Identity, Transport,
};

/// The product id of an identity, as bytes.
fn id_bytes(me: &Identity) -> anyhow::Result<[u8; 16]> {
    Ok(*uuid::Uuid::parse_str(&me.product_id)?.as_bytes())
}

/// The product key of an identity, as bytes.
fn key_bytes(me: &Identity) -> anyhow::Result<Vec<u8>> {
    Ok(hex::decode(&me.key)?)
}

/// A product's description for registration.
#[derive(Clone, Debug)]
pub struct Product {
    pub uuid: String,
    pub name: String,
    pub product_type: String,
    pub version: String,
    pub callback_url: Option<String>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A call the node answered with an error status: its HTTP status and the
/// error's stable code (`bad_product_key`, `already_registered`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub call: &'static str,
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: HTTP {} {}: {}",
            self.call, self.status, self.code, self.message
        )
    }
}

impl std::error::Error for Refused {}

/// The node refused the call with `status` (for example 401: the node does
/// not know this product's key).
pub fn refused_with(error: &anyhow::Error, status: u16) -> bool {
    error
        .downcast_ref::<Refused>()
        .is_some_and(|r| r.status == status)
}

/// HTTP calls of the protocol against one node.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// A body the node answers without content.
struct Nothing;

trait Answer: Sized {
    async fn read(response: reqwest::Response) -> reqwest::Result<Self>;
}

impl<T: DeserializeOwned> Answer for Json<T> {
    async fn read(response: reqwest::Response) -> reqwest::Result<Self> {
        response.json().await.map(Json)
    }
}

impl Answer for Nothing {
    async fn read(_: reqwest::Response) -> reqwest::Result<Self> {
        Ok(Nothing)
    }
}

struct Json<T>(T);

impl Client {
    pub fn new() -> Self {
        Self::trusting(None).expect("HTTP client")
    }

    /// A client that verifies `https://` nodes against the system's roots
    /// and, when given, the CA certificates of the PEM file `ca_cert` (a
    /// private CA).
    pub fn trusting(ca_cert: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            anyhow::ensure!(
                !certs.is_empty(),
                "--ca-cert {}: no certificate in the file",
                path.display()
            );
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            http: builder.build()?,
        })
    }

    /// Sends `request` (with the product's key when `key` is given and the
    /// JSON `body` when given) and reads the answer; an error status becomes
    /// a [`Refused`].
    async fn call<A: Answer>(
        &self,
        call: &'static str,
        request: reqwest::RequestBuilder,
        key: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<A> {
        let mut request = request;
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.context(call)?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => (body.error.code, body.error.message),
                Err(_) => (String::new(), text),
            };
            return Err(Refused {
                call,
                status: status.as_u16(),
                code,
                message,
            }
            .into());
        }
        A::read(response).await.context(call)
    }

    fn product_url(server: &str, me: &Identity, rest: &str) -> String {
        format!("{server}/api/v1/products/{}/{rest}", me.product_id)
    }

    /// Registers `p`. A product registered before proves it is itself with
    /// `current_key`: the enrollment secret alone does not take over a
    /// registered product.
    pub async fn register(
        &self,
        server: &str,
        secret: &str,
        p: &Product,
        current_key: Option<&str>,
    ) -> anyhow::Result<Identity> {
        let body = RegisterRequest {
            enrollment_secret: secret.to_owned(),
            uuid: p.uuid.clone(),
            name: p.name.clone(),
            product_type: p.product_type.clone(),
            version: p.version.clone(),
            callback_url: p.callback_url.clone(),
            udp_port: None,
        };
        let request = self.http.post(format!("{server}/api/v1/products/register"));
        let Json(me) = self
            .call("register", request, current_key, Some(&body))
            .await?;
        Ok(me)
    }

    /// Asks the node to pick transport and mode; `udp_port` is where this
    /// product listens for wake datagrams, if it does.
    pub async fn handshake(
        &self,
        server: &str,
        me: &Identity,
        udp_port: Option<u16>,
    ) -> anyhow::Result<Handshake> {
        let request = self.http.post(Self::product_url(server, me, "handshake"));
        let body = HandshakeRequest { udp_port };
        let Json(reply) = self
            .call("handshake", request, Some(&me.key), Some(&body))
            .await?;
        Ok(reply)
    }

    pub async fn heartbeat(
        &self,
        server: &str,
        me: &Identity,
        payload: Option<&Value>,
    ) -> anyhow::Result<()> {
        let request = self.http.post(Self::product_url(server, me, "heartbeat"));
        let body = HeartbeatRequest {
            payload: payload.cloned(),
        };
        let Nothing = self
            .call("heartbeat", request, Some(&me.key), Some(&body))
            .await?;
        Ok(())
    }

    pub async fn logs(
        &self,
        server: &str,
        me: &Identity,
        entries: &[(u64, &str, &str)],
    ) -> anyhow::Result<()> {
        let body = LogsRequest {
            entries: entries
                .iter()
                .map(|(at, level, message)| LogEntry {
                    at: *at as i64,
                    level: (*level).to_owned(),
                    message: (*message).to_owned(),
                })
                .collect(),
        };
        let request = self.http.post(Self::product_url(server, me, "logs"));
        let Nothing = self
            .call("logs", request, Some(&me.key), Some(&body))
            .await?;
        Ok(())
    }

    /// Fetches waiting commands; the node may hold the call up to `wait_ms`.
    pub async fn commands(
        &self,
        server: &str,
        me: &Identity,
        wait_ms: u64,
    ) -> anyhow::Result<Vec<Command>> {
        let request = self
            .http
            .get(Self::product_url(
                server,
                me,
                &format!("commands?wait={wait_ms}"),
            ))
            .timeout(Duration::from_millis(wait_ms) + Duration::from_secs(10));
        let Json(reply): Json<CommandsReply> = self
            .call("commands", request, Some(&me.key), None::<&()>)
            .await?;
        Ok(reply.commands)
    }

    /// Posts a command's result (`succeeded` or `failed`).
    pub async fn result(
        &self,
        server: &str,
        me: &Identity,
        command: &str,
        succeeded: bool,
        output: &Value,
    ) -> anyhow::Result<()> {
        let body = CommandResult {
            status: if succeeded { "succeeded" } else { "failed" }.into(),
            output: output.clone(),
        };
        let url = Self::product_url(server, me, &format!("commands/{command}/result"));
        let Nothing = self
            .call("result", self.http.post(url), Some(&me.key), Some(&body))
            .await?;
        Ok(())
    }
}

/// Checks the `X-Vigil-Signature` of a notification: the hex HMAC-SHA256 of
/// the body under the product's key.
pub fn signature_ok(body: &[u8], key_hex: &str, signature: &str) -> bool {
    let Ok(key) = hex::decode(key_hex) else {
        return false;
    };
    let expected = protocol::sign_hex(body, &key);
    expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Runs one of the built-in commands; returns whether it succeeded and its
/// output.
pub fn execute(kind: &str, args: &Value) -> (bool, Value) {
    match kind {
        "ping" => (true, json!({"pong": true, "at": now_ms()})),
        "collect_inventory" => (true, inventory()),
        "restart_service" => {
            let service = args["service"].as_str().unwrap_or("").to_owned();
            if service.is_empty() {
                return (
                    false,
                    json!({"error": "args.service names the service to restart"}),
                );
            }
            // A safe no-op: reports what it would do.
            (
                true,
                json!({"service": service, "restarted": false, "note": "restart_service is a no-op in vigil-agent"}),
            )
        }
        other => (
            false,
            json!({"error": format!("unsupported command {other:?}")}),
        ),
    }
}

/// What the machine is: host, OS, kernel, CPUs and memory (from /proc where
/// there is one).
fn inventory() -> Value {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let memory_kb = read("/proc/meminfo").and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    json!({
        "host": gethostname::gethostname().to_string_lossy(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "kernel": read("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned()),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "memory_kb": memory_kb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_commands_answer_and_unknown_ones_fail() {
        assert!(execute("ping", &Value::Null).0);
        let (ok, inventory) = execute("collect_inventory", &Value::Null);
        assert!(ok && inventory["os"].is_string());
        assert!(!execute("restart_service", &json!({})).0);
        assert!(execute("restart_service", &json!({"service": "sshd"})).0);
        assert!(!execute("format_disk", &Value::Null).0);
    }

    #[test]
    fn notifications_need_the_right_signature() {
        let key = "00ff00ff";
        let body = br#"{"wake":true}"#;
        let good = protocol::sign_hex(body, &hex::decode(key).unwrap());
        assert!(signature_ok(body, key, &good));
        assert!(!signature_ok(
            body,
            key,
            &good.replace('a', "b").replace('0', "1")
        ));
        assert!(!signature_ok(b"{}", key, &good));
    }
}
