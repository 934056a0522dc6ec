//! A client of Vigil's product wire protocol, written only against the
//! protocol (not the node's code), as a third-party agent would be. Used by
//! `vigil-agent` and by the fleet simulator `vigil-sim`.

mod udp;
pub use udp::{read_wake, Datagrams, Wake, WakeRejected, WAKE_WINDOW_MS};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A node as registration lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub url: String,
    pub role: String,
    pub operational: bool,
}

/// What registration returns; an agent keeps it in its state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Identity {
    pub product_id: String,
    pub key: String,
    pub nonce: String,
    pub udp_endpoint: String,
    pub heartbeat_interval_s: u64,
    pub offline_after_s: u64,
    pub nodes: Vec<NodeInfo>,
}

impl Identity {
    fn id_bytes(&self) -> anyhow::Result<[u8; 16]> {
        Ok(*uuid::Uuid::parse_str(&self.product_id)?.as_bytes())
    }

    fn key_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Ok(hex::decode(&self.key)?)
    }
}

/// What the handshake decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    pub transport: String,
    pub mode: String,
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

async fn expect(response: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!("{what}: HTTP {status}: {body}")
}

impl Client {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
        }
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
        let mut request = self.http.post(format!("{server}/api/v1/products/register"));
        if let Some(key) = current_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .json(&json!({
                "enrollment_secret": secret,
                "uuid": p.uuid,
                "name": p.name,
                "product_type": p.product_type,
                "version": p.version,
                "callback_url": p.callback_url,
            }))
            .send()
            .await
            .context("register")?;
        Ok(expect(response, "register").await?.json().await?)
    }

    /// Asks the node to pick transport and mode; `udp_port` is where this
    /// product listens for wake datagrams, if it does.
    pub async fn handshake(
        &self,
        server: &str,
        me: &Identity,
        udp_port: Option<u16>,
    ) -> anyhow::Result<Handshake> {
        let body = match udp_port {
            Some(port) => json!({ "udp_port": port }),
            None => json!({}),
        };
        let response = self
            .http
            .post(format!(
                "{server}/api/v1/products/{}/handshake",
                me.product_id
            ))
            .bearer_auth(&me.key)
            .json(&body)
            .send()
            .await
            .context("handshake")?;
        Ok(expect(response, "handshake").await?.json().await?)
    }

    pub async fn heartbeat(
        &self,
        server: &str,
        me: &Identity,
        payload: Option<&Value>,
    ) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!(
                "{server}/api/v1/products/{}/heartbeat",
                me.product_id
            ))
            .bearer_auth(&me.key)
            .json(&json!({ "payload": payload }))
            .send()
            .await
            .context("heartbeat")?;
        expect(response, "heartbeat").await?;
        Ok(())
    }

    pub async fn logs(
        &self,
        server: &str,
        me: &Identity,
        entries: &[(u64, &str, &str)],
    ) -> anyhow::Result<()> {
        let entries: Vec<Value> = entries
            .iter()
            .map(|(at, level, message)| json!({"at": at, "level": level, "message": message}))
            .collect();
        let response = self
            .http
            .post(format!("{server}/api/v1/products/{}/logs", me.product_id))
            .bearer_auth(&me.key)
            .json(&json!({ "entries": entries }))
            .send()
            .await
            .context("logs")?;
        expect(response, "logs").await?;
        Ok(())
    }
}

/// A command as the node hands it over.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Command {
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub args: Value,
}

impl Client {
    /// Fetches waiting commands; the node may hold the call up to `wait_ms`.
    pub async fn commands(
        &self,
        server: &str,
        me: &Identity,
        wait_ms: u64,
    ) -> anyhow::Result<Vec<Command>> {
        let response = self
            .http
            .get(format!(
                "{server}/api/v1/products/{}/commands?wait={wait_ms}",
                me.product_id
            ))
            .bearer_auth(&me.key)
            .timeout(Duration::from_millis(wait_ms) + Duration::from_secs(10))
            .send()
            .await
            .context("commands")?;
        #[derive(Deserialize)]
        struct Reply {
            commands: Vec<Command>,
        }
        let reply: Reply = expect(response, "commands").await?.json().await?;
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
        let status = if succeeded { "succeeded" } else { "failed" };
        let response = self
            .http
            .post(format!(
                "{server}/api/v1/products/{}/commands/{command}/result",
                me.product_id
            ))
            .bearer_auth(&me.key)
            .json(&json!({ "status": status, "output": output }))
            .send()
            .await
            .context("result")?;
        expect(response, "result").await?;
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
