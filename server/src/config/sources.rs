//! Where configuration comes from, lowest precedence first: the defaults,
//! the TOML file, the `VIGIL_*` environment, the flags of `vigil serve`.
//! The layers are merged by the `config` crate into the one [`Config`].

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use config::{File, FileFormat, Value};
use serde::Deserialize;

use super::{sqlite_url, Config, Secret};

/// Keys whose environment value is a comma-separated list.
const LISTS: [&str; 3] = ["notify_only", "trusted_proxies", "callback_allow"];

/// Options of `vigil serve`: the file, and the common keys as flags (every
/// key is also a `VIGIL_*` variable and a file key).
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "VIGIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path?mode=rwc or postgres://user@host/db.
    #[arg(long)]
    pub database_url: Option<String>,
    /// HTTP listen address (HTTPS with --tls-cert).
    #[arg(long)]
    pub listen: Option<String>,
    /// PEM certificate chain to serve HTTPS with (reread on SIGHUP).
    #[arg(long)]
    pub tls_cert: Option<String>,
    /// PEM private key of --tls-cert.
    #[arg(long)]
    pub tls_key: Option<String>,
    /// Plain-HTTP address that redirects to HTTPS.
    #[arg(long)]
    pub redirect_listen: Option<String>,
    /// CA certificate (PEM) trusted for https callbacks and webhooks.
    #[arg(long)]
    pub ca_cert: Option<String>,
    /// Public URL of this node (what browsers and other nodes use).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Node name, unique in the cluster (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// `active` or `passive`.
    #[arg(long)]
    pub role: Option<String>,
    /// Directory of the embedded database.
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Directory of the built console.
    #[arg(long)]
    pub site_root: Option<String>,
    /// Age after which a silent node is non-operational (e.g. 5s).
    #[arg(long)]
    pub node_offline_after: Option<String>,
    /// Console session lifetime (e.g. 12h).
    #[arg(long)]
    pub session_ttl: Option<String>,
    /// Secret products present to register.
    #[arg(long)]
    pub enrollment_secret: Option<String>,
    /// UDP listen address for product heartbeats.
    #[arg(long)]
    pub udp_listen: Option<String>,
    /// Heartbeat interval asked of products (e.g. 10s).
    #[arg(long)]
    pub heartbeat_interval: Option<String>,
    /// Silence after which a product is offline (default 3 × heartbeat interval).
    #[arg(long)]
    pub offline_after: Option<String>,
    /// Console parameters when a URL gives none (e.g. "interval=2&retry=5").
    #[arg(long)]
    pub console_defaults: Option<String>,
    /// `affinity` (home node first) or `shared` (the old hit-and-miss queue).
    #[arg(long)]
    pub queue_routing: Option<String>,
    /// How long a product's home node has to claim its command (e.g. 3s).
    #[arg(long)]
    pub queue_affinity_timeout: Option<String>,
    /// How long a claim or a delivery holds a command (e.g. 30s).
    #[arg(long)]
    pub queue_lease: Option<String>,
    /// Callback URL prefixes this node may notify, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub notify_only: Option<Vec<String>>,
    /// Reverse proxies trusted for X-Forwarded-For (CIDRs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Open HTTP connections beyond which new ones are closed at once.
    #[arg(long)]
    pub max_connections: Option<String>,
    /// Threads hashing passwords (default: one per core).
    #[arg(long)]
    pub login_workers: Option<String>,
    /// Internal networks callbacks may reach, comma-separated (e.g. 127.0.0.0/8).
    #[arg(long, value_delimiter = ',')]
    pub callback_allow: Option<Vec<String>>,
}

impl ServeArgs {
    /// The flags given, by key.
    fn given(self) -> Vec<(&'static str, Value)> {
        let text = [
            ("database_url", self.database_url),
            ("listen", self.listen),
            ("tls_cert", self.tls_cert),
            ("tls_key", self.tls_key),
            ("redirect_listen", self.redirect_listen),
            ("ca_cert", self.ca_cert),
            ("public_url", self.public_url),
            ("node_name", self.node_name),
            ("role", self.role),
            ("data_dir", self.data_dir),
            ("site_root", self.site_root),
            ("node_offline_after", self.node_offline_after),
            ("session_ttl", self.session_ttl),
            ("enrollment_secret", self.enrollment_secret),
            ("udp_listen", self.udp_listen),
            ("heartbeat_interval", self.heartbeat_interval),
            ("offline_after", self.offline_after),
            ("console_defaults", self.console_defaults),
            ("queue_routing", self.queue_routing),
            ("queue_affinity_timeout", self.queue_affinity_timeout),
            ("queue_lease", self.queue_lease),
            ("max_connections", self.max_connections),
            ("login_workers", self.login_workers),
        ];
        let lists = [
            ("notify_only", self.notify_only),
            ("trusted_proxies", self.trusted_proxies),
            ("callback_allow", self.callback_allow),
        ];
        text.into_iter()
            .filter_map(|(k, v)| Some((k, Value::from(v?))))
            .chain(
                lists
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, Value::from(v?)))),
            )
            .collect()
    }
}

impl Config {
    /// Merges defaults, the TOML file, the environment and the flags.
    pub fn load(args: ServeArgs) -> Result<Self, anyhow::Error> {
        let file = match &args.config {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Self::layered(file.as_deref(), std::env::vars(), args)
    }

    /// The layers as given: the file's text, the process environment (only
    /// `VIGIL_<KEY>` variables of known keys are read) and the flags.
    fn layered(
        file: Option<&str>,
        env: impl Iterator<Item = (String, String)>,
        args: ServeArgs,
    ) -> Result<Self, anyhow::Error> {
        let known = keys();
        let env: HashMap<String, String> = env
            .filter_map(|(name, value)| {
                let key = name.strip_prefix("VIGIL_")?.to_ascii_lowercase();
                known.contains(&key.as_str()).then_some((key, value))
            })
            .collect();
        let mut builder = config::Config::builder();
        if let Some(text) = file {
            builder = builder.add_source(File::from_str(text, FileFormat::Toml));
        }
        // Variables and flags lie over the file, flags last; a value stays
        // text until its field's type reads it (so "0123" stays "0123").
        for (key, value) in env {
            let value = if LISTS.contains(&key.as_str()) {
                Value::from(split_list(&value))
            } else {
                Value::from(value)
            };
            builder = builder.set_override(key, value)?;
        }
        for (key, value) in args.given() {
            builder = builder.set_override(key, value)?;
        }
        let layers = builder
            .build()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        let mut c: Config = layers
            .clone()
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        // The database follows `data_dir` unless it is named.
        if layers.get::<String>("database_url").is_err() {
            c.database_url = Secret::new(sqlite_url(&c.data_dir));
        }
        c.validate()?;
        Ok(c)
    }
}

/// `a, b,c` as `["a", "b", "c"]`.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every configuration key: the field names of [`Config`], read from its
/// `Deserialize` implementation so the list cannot drift from the struct.
pub fn keys() -> &'static [&'static str] {
    struct Fields(&'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("only structs"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(serde::de::Error::custom("fields read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(&[]);
    let _ = Config::deserialize(&mut fields);
    fields.0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::api::NodeRole;

    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)], args: ServeArgs) -> Result<Config, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::layered(file, env, args).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        let file = "node_name = \"from-file\"\nrole = \"passive\"\nlisten = \"127.0.0.1:4000\"\n\
                    node_offline_after = \"8s\"\nqueue_lease = 40";
        let args = ServeArgs {
            node_name: Some("from-flag".into()),
            ..Default::default()
        };
        let env = [
            ("VIGIL_NODE_NAME", "from-env"),
            ("VIGIL_LISTEN", "127.0.0.1:4001"),
        ];
        let c = load(Some(file), &env, args).unwrap();
        assert_eq!(c.node_name, "from-flag");
        assert_eq!(c.role, NodeRole::Passive);
        assert_eq!(c.listen.port(), 4001);
        assert_eq!(c.node_offline_after, Duration::from_secs(8));
        assert_eq!(c.queue_lease, Duration::from_secs(40));
        assert_eq!(c.session_ttl, Config::default().session_ttl);
    }

    #[test]
    fn every_key_is_read_from_the_environment() {
        let env = [
            ("VIGIL_LOGIN_MAX_FAILURES", "7"),
            ("VIGIL_LOGIN_LOCKOUT", "2m"),
            ("VIGIL_HEADER_TIMEOUT", "3s"),
            ("VIGIL_QUEUE_MAX_ATTEMPTS", "9"),
            ("VIGIL_COMMAND_TTL", "1h"),
            ("VIGIL_LOG_RETENTION", "50"),
            ("VIGIL_ADMIN_PASSWORD", "0012345678901234"),
            ("VIGIL_NODE_NAME", "1234"),
            ("VIGIL_QUEUE_ROUTING", "shared"),
            ("VIGIL_NOTIFY_ONLY", "http://10.1.,http://10.2."),
            // Not keys: other programs' and the test tools' variables.
            ("VIGIL_LOG", "debug"),
            ("VIGIL_BIN", "/x"),
        ];
        let c = load(None, &env, ServeArgs::default()).unwrap();
        assert_eq!(c.login_max_failures, 7);
        assert_eq!(c.login_lockout, Duration::from_secs(120));
        assert_eq!(c.header_timeout, Duration::from_secs(3));
        assert_eq!(c.queue_max_attempts, 9);
        assert_eq!(c.command_ttl, Duration::from_secs(3600));
        assert_eq!(c.log_retention, 50);
        assert_eq!(c.admin_password.unwrap().expose(), "0012345678901234");
        assert_eq!(c.node_name, "1234");
        assert_eq!(c.queue_routing, super::super::Routing::Shared);
        assert!(c.notify_only.allows("http://10.2.0.1/"));
        assert!(!c.notify_only.allows("http://10.3.0.1/"));
    }

    #[test]
    fn callback_allowances_are_networks_from_the_file_the_environment_or_the_flags() {
        let c = load(
            Some("callback_allow = [\"127.0.0.0/8\", \"fd00::/8\"]"),
            &[],
            ServeArgs::default(),
        )
        .unwrap();
        assert_eq!(c.callback_allow.len(), 2);
        assert!(c.callback_allow[0].contains("127.0.0.9".parse().unwrap()));
        let c = load(
            None,
            &[("VIGIL_CALLBACK_ALLOW", "10.0.0.0/8,10.9.0.0/16")],
            ServeArgs::default(),
        )
        .unwrap();
        assert_eq!(c.callback_allow.len(), 2);
        let args = ServeArgs {
            callback_allow: Some(vec!["10.1.0.0/16".into()]),
            ..Default::default()
        };
        let c = load(None, &[], args).unwrap();
        assert_eq!(c.callback_allow, ["10.1.0.0/16".parse().unwrap()]);
        assert!(load(
            Some("callback_allow = [\"10.0.0.0/40\"]"),
            &[],
            ServeArgs::default()
        )
        .is_err());
        assert!(Config::default().callback_allow.is_empty());
    }

    #[test]
    fn data_dir_moves_the_default_database_but_not_a_named_one() {
        let args = ServeArgs {
            data_dir: Some("/var/lib/vigil".into()),
            ..Default::default()
        };
        let c = load(None, &[], args).unwrap();
        assert_eq!(
            c.database_url.expose(),
            "sqlite:///var/lib/vigil/vigil.db?mode=rwc"
        );
        let c = load(
            Some("data_dir = \"/srv\"\ndatabase_url = \"postgres://db/vigil\""),
            &[],
            ServeArgs::default(),
        )
        .unwrap();
        assert_eq!(c.database_url.expose(), "postgres://db/vigil");
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let args = ServeArgs {
            console_defaults: Some("interval=0".into()),
            ..Default::default()
        };
        assert!(load(None, &[], args)
            .unwrap_err()
            .contains("console_defaults"));
        let error = load(
            None,
            &[("VIGIL_SESSION_TTL", "5 parsecs")],
            ServeArgs::default(),
        )
        .unwrap_err();
        assert!(error.contains("session_ttl"), "{error}");
        let error = load(Some("role = \"boss\""), &[], ServeArgs::default()).unwrap_err();
        assert!(error.contains("role"), "{error}");
    }

    #[test]
    fn https_settings_must_agree() {
        let only_cert = "tls_cert = \"n.pem\"";
        let error = load(Some(only_cert), &[], ServeArgs::default()).unwrap_err();
        assert!(error.contains("tls_cert and tls_key"), "{error}");
        let plain_url =
            format!("{only_cert}\ntls_key = \"n.key\"\npublic_url = \"http://n1:3000\"");
        let error = load(Some(&plain_url), &[], ServeArgs::default()).unwrap_err();
        assert!(error.contains("public_url must be https://"), "{error}");
        let error = load(
            None,
            &[("VIGIL_REDIRECT_LISTEN", "127.0.0.1:8080")],
            ServeArgs::default(),
        )
        .unwrap_err();
        assert!(error.contains("redirect_listen"), "{error}");
        let args = ServeArgs {
            tls_cert: Some("n.pem".into()),
            tls_key: Some("n.key".into()),
            redirect_listen: Some("127.0.0.1:8080".into()),
            ..Default::default()
        };
        let c = load(None, &[], args).unwrap();
        assert!(c.https() && c.redirect_listen.is_some());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let error = load(Some("databse_url = \"x\""), &[], ServeArgs::default()).unwrap_err();
        assert!(error.contains("databse_url"), "{error}");
    }

    #[test]
    fn the_key_list_is_the_struct() {
        let keys = keys();
        assert!(keys.contains(&"database_url") && keys.contains(&"callback_allow"));
        assert!(keys.contains(&"queue_backoff_max") && keys.contains(&"admin_password"));
    }

    /// The README's configuration table names every key, with its variable.
    #[test]
    fn the_readme_documents_every_key() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("a Configuration section in the README");
        let documented: Vec<&str> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| l[3..].split('`').next())
            .collect();
        for key in keys() {
            assert!(documented.contains(key), "README: no row for `{key}`");
            let variable = format!("`VIGIL_{}`", key.to_ascii_uppercase());
            assert!(table.contains(&variable), "README: {variable} is not named");
        }
        for key in documented {
            assert!(
                keys().contains(&key),
                "README documents `{key}`, which is no key"
            );
        }
    }
}
