//! Node configuration: defaults, then a TOML file, then `VIGIL_*` environment
//! variables, then command-line flags, merged into one typed [`Config`].
//! Every key can be set in the file and as `VIGIL_<KEY>`; the common ones
//! also as flags. What a node runs with is here; where each value may come
//! from and how the layers are merged, in [`sources`].

mod sources;
mod values;
pub use sources::{keys, ServeArgs};
pub use values::{parse_duration, Reach, Routing};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::api::NodeRole;
use serde::Deserialize;

use crate::cidr::Cidr;
use values::{duration, optional_duration};

/// A value that must never reach a log or a terminal.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything a node needs to run. The field names are the keys of the TOML
/// file and, upper-cased behind `VIGIL_`, of the environment.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://…` (embedded, default) or `postgres://…` (cluster).
    pub database_url: Secret,
    /// HTTP listen address (HTTPS with `tls_cert`).
    pub listen: SocketAddr,
    /// PEM certificate chain this node serves HTTPS with (beside `tls_key`);
    /// read again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Plain-HTTP address answering every request with a redirect to HTTPS
    /// (only with `tls_cert`).
    pub redirect_listen: Option<SocketAddr>,
    /// A CA certificate (PEM) trusted for `https://` product callbacks and
    /// alert webhooks, beside the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// URL other nodes and browsers use to reach this node; derived from the
    /// bound address when unset.
    pub public_url: Option<String>,
    pub node_name: String,
    pub role: NodeRole,
    /// Where the embedded database lives by default.
    pub data_dir: PathBuf,
    /// The built console (`pkg/` with the .wasm, .js and .css).
    pub site_root: PathBuf,
    /// A node whose registry row is older than this is non-operational.
    #[serde(deserialize_with = "duration")]
    pub node_offline_after: Duration,
    /// How long a console session lasts.
    #[serde(deserialize_with = "duration")]
    pub session_ttl: Duration,
    /// Password of the `admin` user created on first start; generated and
    /// logged once when unset.
    pub admin_password: Option<Secret>,
    /// Failed logins of one account (cluster-wide) before each further
    /// attempt must wait a delay that doubles with every failure.
    pub login_max_failures: u32,
    /// The longest such delay.
    #[serde(deserialize_with = "duration")]
    pub login_lockout: Duration,
    /// Failed logins from one client address before this node refuses it
    /// for `login_lockout`.
    pub login_max_failures_per_address: u32,
    /// Threads hashing passwords (each hash takes about 19 MiB).
    pub login_workers: usize,
    /// How long a login waits for a free hashing thread before the node
    /// answers 503 busy.
    #[serde(deserialize_with = "duration")]
    pub login_wait: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (CIDRs).
    pub trusted_proxies: Vec<Cidr>,
    /// Open HTTP connections beyond which new ones are closed at once.
    pub max_connections: usize,
    /// A request's headers must arrive within this.
    #[serde(deserialize_with = "duration")]
    pub header_timeout: Duration,
    /// A connection with no request in flight is closed after this.
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// How long a console's session hand-off token (failover) stays valid.
    #[serde(deserialize_with = "duration")]
    pub handoff_ttl: Duration,
    /// Shared secret products present to register; when unset, the cluster
    /// generates one at its first start (admins see it in the console).
    pub enrollment_secret: Option<Secret>,
    /// UDP listen address for product datagrams.
    pub udp_listen: SocketAddr,
    /// How often products are asked to send a heartbeat.
    #[serde(deserialize_with = "duration")]
    pub heartbeat_interval: Duration,
    /// A product without liveness for this long is offline (default 3 ×
    /// the heartbeat interval).
    #[serde(deserialize_with = "optional_duration")]
    pub offline_after: Option<Duration>,
    /// Log lines kept per product (older ones are dropped).
    pub log_retention: u32,
    /// Days the audit trail is kept (0: for ever).
    pub audit_retention_days: u32,
    /// Console parameters used when a URL does not give them, written like
    /// a URL query (`interval=2&retry=5&auto=0`).
    pub console_defaults: String,
    /// How queued work finds a node.
    pub queue_routing: Routing,
    /// How long the home node has to claim an item before others may.
    #[serde(deserialize_with = "duration")]
    pub queue_affinity_timeout: Duration,
    /// How long a claim or a delivery holds an item.
    #[serde(deserialize_with = "duration")]
    pub queue_lease: Duration,
    /// Attempts (claims and deliveries) before an item is `dead`.
    pub queue_max_attempts: u32,
    /// A command still queued by then is `expired`; one handed over keeps
    /// its lease, and expires if that runs out past this time.
    #[serde(deserialize_with = "duration")]
    pub command_ttl: Duration,
    /// First retry delay of a command; doubles each attempt up to
    /// `queue_backoff_max`.
    #[serde(deserialize_with = "duration")]
    pub queue_backoff_base: Duration,
    #[serde(deserialize_with = "duration")]
    pub queue_backoff_max: Duration,
    /// Callback URLs this node may notify (prefixes; empty: all), e.g. the
    /// network segments it can reach.
    pub notify_only: Reach,
    /// Internal networks (loopback, private, link-local…) product callbacks
    /// may point into anyway; refused otherwise.
    pub callback_allow: Vec<Cidr>,
    /// How long one investigation may run (a CSV export: six times as long).
    #[serde(deserialize_with = "duration")]
    pub investigation_timeout: Duration,
    /// Rows a CSV export of an investigation holds at most.
    pub investigation_csv_max_rows: u64,
    /// Alerts this node evaluates at most (enabled on it).
    pub alert_limit: u32,
}

impl Default for Config {
    fn default() -> Self {
        let data_dir = PathBuf::from("data");
        Self {
            database_url: Secret::new(sqlite_url(&data_dir)),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            tls_cert: None,
            tls_key: None,
            redirect_listen: None,
            ca_cert: None,
            public_url: None,
            node_name: gethostname::gethostname().to_string_lossy().into_owned(),
            role: NodeRole::Active,
            data_dir,
            site_root: PathBuf::from("target/site"),
            node_offline_after: Duration::from_secs(5),
            session_ttl: Duration::from_secs(12 * 3600),
            admin_password: None,
            login_max_failures: 5,
            login_lockout: Duration::from_secs(15 * 60),
            login_max_failures_per_address: 20,
            login_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            login_wait: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            console_defaults: String::new(),
            handoff_ttl: Duration::from_secs(120),
            enrollment_secret: None,
            udp_listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            heartbeat_interval: Duration::from_secs(10),
            offline_after: None,
            log_retention: 1000,
            audit_retention_days: 365,
            queue_routing: Routing::Affinity,
            queue_affinity_timeout: Duration::from_secs(3),
            queue_lease: Duration::from_secs(30),
            queue_max_attempts: 5,
            command_ttl: Duration::from_secs(24 * 3600),
            queue_backoff_base: Duration::from_secs(1),
            queue_backoff_max: Duration::from_secs(300),
            notify_only: Reach::default(),
            callback_allow: Vec::new(),
            investigation_timeout: Duration::from_secs(10),
            investigation_csv_max_rows: 1_000_000,
            alert_limit: 100,
        }
    }
}

/// The embedded database in `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("vigil.db").display())
}

impl Config {
    fn validate(&self) -> Result<(), anyhow::Error> {
        if self.node_name.trim().is_empty() || self.node_name.len() > 128 {
            anyhow::bail!("node name must be 1 to 128 characters");
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("public URL must start with http:// or https://");
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            anyhow::bail!("tls_cert and tls_key go together: give both or neither");
        }
        if self.https()
            && self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
        {
            anyhow::bail!("public_url must be https:// when the node serves HTTPS (tls_cert)");
        }
        if self.redirect_listen.is_some() && !self.https() {
            anyhow::bail!("redirect_listen redirects to HTTPS: it needs tls_cert and tls_key");
        }
        app::params::ConsoleParams::parse_defaults(&self.console_defaults)
            .map_err(|e| anyhow::anyhow!("console_defaults: {e}"))?;
        if self.heartbeat_interval < Duration::from_secs(1) {
            anyhow::bail!("heartbeat_interval must be at least 1s");
        }
        if self.product_offline_after() < self.heartbeat_interval {
            anyhow::bail!("offline_after must be at least the heartbeat interval");
        }
        if self.investigation_timeout < Duration::from_secs(1)
            || self.investigation_csv_max_rows == 0
        {
            anyhow::bail!("investigation_timeout must be at least 1s and investigation_csv_max_rows at least 1");
        }
        if self.queue_max_attempts == 0 || self.queue_lease < Duration::from_secs(1) {
            anyhow::bail!("queue_max_attempts must be at least 1 and queue_lease at least 1s");
        }
        if let Some(secret) = &self.enrollment_secret {
            if secret.expose().trim().len() < 16 {
                anyhow::bail!("enrollment_secret must be at least 16 characters");
            }
        }
        if self.login_workers == 0 || self.max_connections == 0 {
            anyhow::bail!("login_workers and max_connections must be at least 1");
        }
        if self.header_timeout.is_zero() || self.idle_timeout.is_zero() {
            anyhow::bail!("header_timeout and idle_timeout must be above zero");
        }
        if self.node_offline_after < Duration::from_secs(2) {
            anyhow::bail!("node_offline_after must be at least 2s (nodes refresh every second)");
        }
        Ok(())
    }
}

impl Config {
    /// Whether this node serves HTTPS.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// Silence after which a product is offline.
    pub fn product_offline_after(&self) -> Duration {
        self.offline_after.unwrap_or(self.heartbeat_interval * 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Config {
            admin_password: Some(Secret::new("hunter2")),
            database_url: Secret::new("postgres://u:pw@h/db"),
            ..Default::default()
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("pw@"));
    }
}
