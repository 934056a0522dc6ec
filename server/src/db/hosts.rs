//! PostgreSQL URLs that name several servers, as libpq reads them:
//! `postgres://vigil@db-a:5432,db-b:5432/vigil?target_session_attrs=read-write`.
//!
//! The node connects to the first server that answers and, with
//! `read-write` (or `primary`), takes writes: a standby is passed over. When
//! the server in use stops answering, [`follow_primary`] looks for the new
//! primary in the same list and points the pool at it, so a promoted standby
//! takes over without restarting the node.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection};
use tokio::sync::watch;

/// How long connecting to one server, or one health check, may take: a
/// silent server (a cut link drops packets, it answers nothing) must not
/// hold the node longer than this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the pool's server is checked while the node runs.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The servers a database URL names, each as a URL of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosts {
    pub urls: Vec<String>,
    /// `target_session_attrs=read-write` or `primary`: only a server that
    /// takes writes will do.
    pub read_write: bool,
}

impl Hosts {
    /// Splits `url`; a URL with one host and no `target_session_attrs`
    /// comes back as it is. Rejects a `target_session_attrs` it does not
    /// know rather than ignoring it.
    pub fn parse(url: &str) -> Result<Self, anyhow::Error> {
        let Some((scheme, rest)) = url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "postgres" | "postgresql"))
        else {
            return Ok(Self::single(url));
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        let (user, hosts) = match authority.rfind('@') {
            Some(i) => (&authority[..=i], &authority[i + 1..]),
            None => ("", authority),
        };
        let mut read_write = false;
        let mut kept = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("target_session_attrs", value)) => {
                    read_write = match value {
                        "read-write" | "primary" => true,
                        "any" => false,
                        other => anyhow::bail!(
                            "target_session_attrs={other} is not supported \
                             (use read-write, primary or any)"
                        ),
                    }
                }
                _ if !pair.is_empty() => kept.push(pair),
                _ => {}
            }
        }
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        if !hosts.contains(',') && !read_write {
            return Ok(Self::single(url));
        }
        if hosts.split(',').any(str::is_empty) {
            anyhow::bail!("invalid database URL: an empty host in the list");
        }
        let urls = hosts
            .split(',')
            .map(|host| format!("{scheme}://{user}{host}{path}{query}"))
            .collect();
        Ok(Self { urls, read_write })
    }

    fn single(url: &str) -> Self {
        Self {
            urls: vec![url.to_owned()],
            read_write: false,
        }
    }

    /// Whether the node must watch for another server to take over.
    pub fn several(&self) -> bool {
        self.urls.len() > 1
    }

    /// The first server in the list that answers within
    /// [`CONNECT_TIMEOUT`] and, when `read_write`, takes writes.
    pub async fn pick(&self) -> Result<(String, AnyConnectOptions), anyhow::Error> {
        let mut reasons = Vec::new();
        for url in &self.urls {
            let options = AnyConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("invalid database URL: {e}"))?;
            match tokio::time::timeout(CONNECT_TIMEOUT, usable(&options, self.read_write)).await {
                Ok(Ok(())) => return Ok((url.clone(), options)),
                Ok(Err(e)) => reasons.push(format!("{}: {e}", redacted(url))),
                Err(_) => reasons.push(format!("{}: no answer", redacted(url))),
            }
        }
        anyhow::bail!("no usable database server ({})", reasons.join("; "))
    }
}

/// A URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}…{}", &url[..s + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Connects once and, when `read_write`, checks the server is not a standby.
async fn usable(options: &AnyConnectOptions, read_write: bool) -> Result<(), anyhow::Error> {
    let mut conn = options.connect().await?;
    let result = if read_write {
        ensure_primary(&mut conn).await
    } else {
        Ok(())
    };
    let _ = conn.close().await;
    result
}

/// Fails on a standby (a server still in recovery takes no writes).
pub async fn ensure_primary(conn: &mut AnyConnection) -> Result<(), anyhow::Error> {
    let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut *conn)
        .await?;
    if standby {
        anyhow::bail!("a standby (read-only)");
    }
    Ok(())
}

/// While the node runs: checks the pool's server every second, and when it
/// does not answer, points the pool (and `current`, the URL in use) at the
/// first usable server of `hosts`. Connections to the old server fail their
/// check when next taken from the pool and are replaced by connections to
/// the new one.
pub async fn follow_primary(
    pool: AnyPool,
    hosts: Hosts,
    current: Arc<Mutex<String>>,
    mut closing: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = closing.changed() => if changed.is_err() || *closing.borrow() { return },
        }
        let check = async {
            let mut conn = pool.acquire().await?;
            if hosts.read_write {
                ensure_primary(&mut conn).await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        if let Ok(Ok(())) = tokio::time::timeout(CONNECT_TIMEOUT, check).await {
            continue;
        }
        match hosts.pick().await {
            Ok((url, options)) => {
                let mut in_use = current.lock().unwrap_or_else(|e| e.into_inner());
                if *in_use != url {
                    tracing::warn!(server = %redacted(&url), "database server changed");
                    *in_use = url;
                }
                pool.set_connect_options(options);
            }
            Err(e) => tracing::warn!(error = %e, "no database server answers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts_and_keeps_the_rest_of_the_url() {
        let hosts = Hosts::parse(
            "postgres://vigil:pw@db-a:5432,db-b:6543/vigil?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            hosts.urls,
            [
                "postgres://vigil:pw@db-a:5432/vigil?sslmode=disable",
                "postgres://vigil:pw@db-b:6543/vigil?sslmode=disable",
            ]
        );
        assert!(hosts.read_write && hosts.several());
    }

    #[test]
    fn one_host_without_attributes_is_unchanged() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "sqlite:///tmp/vigil.db?mode=rwc",
            "sqlite::memory:",
        ] {
            let hosts = Hosts::parse(url).unwrap();
            assert_eq!(hosts.urls, [url]);
            assert!(!hosts.read_write && !hosts.several());
        }
    }

    #[test]
    fn refuses_unknown_attributes_and_empty_hosts() {
        assert!(Hosts::parse("postgres://a,b/v?target_session_attrs=standby").is_err());
        assert!(Hosts::parse("postgres://u@a,,b/v").is_err());
        assert!(Hosts::parse("postgres://u@/v?target_session_attrs=primary").is_err());
        let any = Hosts::parse("postgres://a,b/v?target_session_attrs=any").unwrap();
        assert!(!any.read_write);
    }

    #[test]
    fn messages_hide_the_password() {
        assert_eq!(
            redacted("postgres://vigil:secret@db-a:5432/vigil"),
            "postgres://…@db-a:5432/vigil"
        );
    }
}
