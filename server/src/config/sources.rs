//! Where configuration comes from: the flags of `vigil serve` (each also a
//! `VIGIL_*` variable), the TOML file, and how they are merged over the
//! defaults into a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use app::api::NodeRole;
use clap::Args;
use serde::Deserialize;

use super::{sqlite_url, Config, Secret};
use crate::cidr::Cidr;
use crate::products::notify::Reach;
use crate::queue::Routing;

/// Options of `vigil serve`; each flag also reads a `VIGIL_*` variable.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "VIGIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path?mode=rwc or postgres://user@host/db.
    #[arg(long, env = "VIGIL_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// HTTP listen address.
    #[arg(long, env = "VIGIL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public URL of this node (what browsers and other nodes use).
    #[arg(long, env = "VIGIL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Node name, unique in the cluster (default: the host name).
    #[arg(long, env = "VIGIL_NODE_NAME")]
    pub node_name: Option<String>,
    /// `active` or `passive`.
    #[arg(long, env = "VIGIL_ROLE", value_parser = parse_role)]
    pub role: Option<NodeRole>,
    /// Directory of the embedded database.
    #[arg(long, env = "VIGIL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of the built console.
    #[arg(long, env = "VIGIL_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Age after which a silent node is non-operational (e.g. 5s).
    #[arg(long, env = "VIGIL_NODE_OFFLINE_AFTER", value_parser = parse_duration)]
    pub node_offline_after: Option<Duration>,
    /// Console session lifetime (e.g. 12h).
    #[arg(long, env = "VIGIL_SESSION_TTL", value_parser = parse_duration)]
    pub session_ttl: Option<Duration>,
    /// Secret products present to register.
    #[arg(long, env = "VIGIL_ENROLLMENT_SECRET", hide_env_values = true)]
    pub enrollment_secret: Option<String>,
    /// UDP listen address for product heartbeats.
    #[arg(long, env = "VIGIL_UDP_LISTEN")]
    pub udp_listen: Option<SocketAddr>,
    /// Heartbeat interval asked of products (e.g. 10s).
    #[arg(long, env = "VIGIL_HEARTBEAT_INTERVAL", value_parser = parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// Silence after which a product is offline (default 3 × heartbeat interval).
    #[arg(long, env = "VIGIL_OFFLINE_AFTER", value_parser = parse_duration)]
    pub offline_after: Option<Duration>,
    /// Console parameters when a URL gives none (e.g. "interval=2&retry=5").
    #[arg(long, env = "VIGIL_CONSOLE_DEFAULTS")]
    pub console_defaults: Option<String>,
    /// `affinity` (home node first) or `shared` (the old hit-and-miss queue).
    #[arg(long, env = "VIGIL_QUEUE_ROUTING")]
    pub queue_routing: Option<Routing>,
    /// How long a product's home node has to claim its command (e.g. 3s).
    #[arg(long, env = "VIGIL_QUEUE_AFFINITY_TIMEOUT", value_parser = parse_duration)]
    pub queue_affinity_timeout: Option<Duration>,
    /// How long a claim or a delivery holds a command (e.g. 30s).
    #[arg(long, env = "VIGIL_QUEUE_LEASE", value_parser = parse_duration)]
    pub queue_lease: Option<Duration>,
    /// Callback URL prefixes this node may notify, comma-separated.
    #[arg(long, env = "VIGIL_NOTIFY_ONLY", value_delimiter = ',')]
    pub notify_only: Option<Vec<String>>,
    /// Reverse proxies trusted for X-Forwarded-For (CIDRs, comma-separated).
    #[arg(long, env = "VIGIL_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<Cidr>>,
    /// Open HTTP connections beyond which new ones are closed at once.
    #[arg(long, env = "VIGIL_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Threads hashing passwords (default: one per core).
    #[arg(long, env = "VIGIL_LOGIN_WORKERS")]
    pub login_workers: Option<usize>,
    /// Internal networks callbacks may reach, comma-separated (e.g. 127.0.0.0/8).
    #[arg(long, env = "VIGIL_CALLBACK_ALLOW", value_delimiter = ',')]
    pub callback_allow: Option<Vec<Cidr>>,
}

/// The TOML file: the same keys as the flags, with underscores.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<Secret>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    node_name: Option<String>,
    role: Option<NodeRole>,
    data_dir: Option<PathBuf>,
    site_root: Option<PathBuf>,
    node_offline_after: Option<String>,
    session_ttl: Option<String>,
    admin_password: Option<Secret>,
    login_max_failures: Option<u32>,
    login_lockout: Option<String>,
    console_defaults: Option<String>,
    handoff_ttl: Option<String>,
    enrollment_secret: Option<Secret>,
    udp_listen: Option<SocketAddr>,
    heartbeat_interval: Option<String>,
    offline_after: Option<String>,
    log_retention: Option<u32>,
    queue_routing: Option<Routing>,
    queue_affinity_timeout: Option<String>,
    queue_lease: Option<String>,
    queue_max_attempts: Option<u32>,
    command_ttl: Option<String>,
    notify_only: Option<Vec<String>>,
    login_max_failures_per_address: Option<u32>,
    login_workers: Option<usize>,
    login_wait: Option<String>,
    trusted_proxies: Option<Vec<Cidr>>,
    max_connections: Option<usize>,
    header_timeout: Option<String>,
    idle_timeout: Option<String>,
    callback_allow: Option<Vec<Cidr>>,
}

impl Config {
    /// Merges defaults, the TOML file, the environment and the flags.
    pub fn load(args: ServeArgs) -> Result<Self, anyhow::Error> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("invalid {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let admin_password = std::env::var("VIGIL_ADMIN_PASSWORD").ok().map(Secret::new);
        Self::merge(file, args, admin_password)
    }

    fn merge(
        file: FileConfig,
        args: ServeArgs,
        admin_password: Option<Secret>,
    ) -> Result<Self, anyhow::Error> {
        let mut c = Config::default();
        let data_dir = args.data_dir.or(file.data_dir);
        if let Some(dir) = data_dir {
            c.database_url = Secret::new(sqlite_url(&dir));
            c.data_dir = dir;
        }
        let duration = |flag: Option<Duration>, text: Option<String>, default| -> Result<_, _> {
            match (flag, text) {
                (Some(d), _) => Ok(d),
                (None, Some(t)) => parse_duration(&t),
                (None, None) => Ok(default),
            }
        };
        c.node_offline_after = duration(
            args.node_offline_after,
            file.node_offline_after,
            c.node_offline_after,
        )
        .map_err(anyhow::Error::msg)?;
        c.session_ttl = duration(args.session_ttl, file.session_ttl, c.session_ttl)
            .map_err(anyhow::Error::msg)?;
        c.login_lockout =
            duration(None, file.login_lockout, c.login_lockout).map_err(anyhow::Error::msg)?;
        c.handoff_ttl =
            duration(None, file.handoff_ttl, c.handoff_ttl).map_err(anyhow::Error::msg)?;
        c.heartbeat_interval = duration(
            args.heartbeat_interval,
            file.heartbeat_interval,
            c.heartbeat_interval,
        )
        .map_err(anyhow::Error::msg)?;
        c.offline_after = match (args.offline_after, file.offline_after) {
            (Some(d), _) => Some(d),
            (None, Some(t)) => Some(parse_duration(&t).map_err(anyhow::Error::msg)?),
            (None, None) => None,
        };
        c.enrollment_secret = args
            .enrollment_secret
            .map(Secret::new)
            .or(file.enrollment_secret);
        c.udp_listen = args.udp_listen.or(file.udp_listen).unwrap_or(c.udp_listen);
        c.log_retention = file.log_retention.unwrap_or(c.log_retention);
        if let Some(url) = args.database_url.map(Secret::new).or(file.database_url) {
            c.database_url = url;
        }
        c.listen = args.listen.or(file.listen).unwrap_or(c.listen);
        c.public_url = args.public_url.or(file.public_url);
        c.node_name = args.node_name.or(file.node_name).unwrap_or(c.node_name);
        c.role = args.role.or(file.role).unwrap_or(c.role);
        c.site_root = args.site_root.or(file.site_root).unwrap_or(c.site_root);
        c.admin_password = admin_password.or(file.admin_password);
        c.login_max_failures = file.login_max_failures.unwrap_or(c.login_max_failures);
        c.console_defaults = args
            .console_defaults
            .or(file.console_defaults)
            .unwrap_or_default();
        let q = &mut c.queue;
        q.routing = args
            .queue_routing
            .or(file.queue_routing)
            .unwrap_or(q.routing);
        q.affinity_timeout = duration(
            args.queue_affinity_timeout,
            file.queue_affinity_timeout,
            q.affinity_timeout,
        )
        .map_err(anyhow::Error::msg)?;
        q.lease =
            duration(args.queue_lease, file.queue_lease, q.lease).map_err(anyhow::Error::msg)?;
        q.max_attempts = file.queue_max_attempts.unwrap_or(q.max_attempts);
        q.ttl = duration(None, file.command_ttl, q.ttl).map_err(anyhow::Error::msg)?;
        if let Some(prefixes) = args.notify_only.or(file.notify_only) {
            c.notify_only = Reach::only(prefixes);
        }
        c.login_max_failures_per_address = file
            .login_max_failures_per_address
            .unwrap_or(c.login_max_failures_per_address);
        c.login_workers = args
            .login_workers
            .or(file.login_workers)
            .unwrap_or(c.login_workers);
        c.login_wait = duration(None, file.login_wait, c.login_wait).map_err(anyhow::Error::msg)?;
        c.trusted_proxies = args
            .trusted_proxies
            .or(file.trusted_proxies)
            .unwrap_or_default();
        c.max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(c.max_connections);
        c.header_timeout =
            duration(None, file.header_timeout, c.header_timeout).map_err(anyhow::Error::msg)?;
        c.idle_timeout =
            duration(None, file.idle_timeout, c.idle_timeout).map_err(anyhow::Error::msg)?;
        if let Some(networks) = args.callback_allow.or(file.callback_allow) {
            c.callback_allow = networks;
        }
        c.validate()?;
        Ok(c)
    }
}

fn parse_role(text: &str) -> Result<NodeRole, String> {
    text.parse()
}

/// Parses `500ms`, `5s`, `2m`, `12h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (examples: 500ms, 5s, 2m, 12h)"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        other => Err(format!("unknown duration unit {other:?} in {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let file: FileConfig = toml::from_str(
            "node_name = \"from-file\"\nrole = \"passive\"\nlisten = \"127.0.0.1:4000\"\nnode_offline_after = \"8s\"",
        )
        .unwrap();
        let args = ServeArgs {
            node_name: Some("from-flag".into()),
            ..Default::default()
        };
        let c = Config::merge(file, args, None).unwrap();
        assert_eq!(c.node_name, "from-flag");
        assert_eq!(c.role, NodeRole::Passive);
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.node_offline_after, Duration::from_secs(8));
        assert_eq!(c.session_ttl, Config::default().session_ttl);
    }

    #[test]
    fn callback_allowances_are_networks_from_the_file_or_the_flags() {
        let file: FileConfig =
            toml::from_str("callback_allow = [\"127.0.0.0/8\", \"fd00::/8\"]").unwrap();
        let c = Config::merge(file, ServeArgs::default(), None).unwrap();
        assert_eq!(c.callback_allow.len(), 2);
        assert!(c.callback_allow[0].contains("127.0.0.9".parse().unwrap()));
        let args = ServeArgs {
            callback_allow: Some(vec!["10.1.0.0/16".parse().unwrap()]),
            ..Default::default()
        };
        let c = Config::merge(FileConfig::default(), args, None).unwrap();
        assert_eq!(c.callback_allow, ["10.1.0.0/16".parse().unwrap()]);
        assert!(toml::from_str::<FileConfig>("callback_allow = [\"10.0.0.0/40\"]").is_err());
        assert!(Config::default().callback_allow.is_empty());
    }

    #[test]
    fn data_dir_moves_the_default_database() {
        let args = ServeArgs {
            data_dir: Some("/var/lib/vigil".into()),
            ..Default::default()
        };
        let c = Config::merge(FileConfig::default(), args, None).unwrap();
        assert_eq!(
            c.database_url.expose(),
            "sqlite:///var/lib/vigil/vigil.db?mode=rwc"
        );
    }

    #[test]
    fn invalid_console_defaults_are_refused() {
        let args = ServeArgs {
            console_defaults: Some("interval=0".into()),
            ..Default::default()
        };
        let error = Config::merge(FileConfig::default(), args, None).unwrap_err();
        assert!(error.to_string().contains("console_defaults"), "{error}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("databse_url = \"x\"").is_err());
    }
}
