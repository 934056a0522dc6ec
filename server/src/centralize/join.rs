//! A node that starts on the cluster's database while its data directory
//! still holds the standalone database it ran on before: it registers that
//! source (with its dry run), waits for its turn (sources go one at a time,
//! in the order their nodes connected), runs it, and marks both sides.
//! While it runs, this node refuses sign-ins with a message saying so.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::store;
use crate::auth::Auth;
use crate::cluster::{Ending, Task};
use crate::config::{sqlite_url, Config};
use crate::db::{Db, Dialect};

/// How often a waiting source looks whether its turn came, and a running
/// one renews its heartbeat.
const TICK: Duration = Duration::from_secs(1);

/// The standalone database in the node's data directory, if the node now
/// runs on another database.
pub fn standalone_source(config: &Config) -> Option<String> {
    let file = config.data_dir.join("vigil.db");
    if !file.is_file() {
        return None;
    }
    let url = config.database_url.expose();
    if Dialect::from_url(url).ok()? == Dialect::Sqlite {
        let path = url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap_or_default();
        let same = match (Path::new(path).canonicalize(), file.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => true,
        };
        if same {
            return None;
        }
    }
    Some(sqlite_url(&config.data_dir))
}

/// Faults a test can inject through `VIGIL_CENTRALIZE_FAULTS`, e.g.
/// `batch=10,pause_ms=300,fail_after=20`: smaller batches, a pause after
/// each, and a failure once that many records are written (on the first
/// attempt only, so a retry completes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub batch: Option<usize>,
    pub pause_ms: u64,
    pub fail_after: Option<u64>,
}

impl Faults {
    pub fn parse(spec: &str) -> Faults {
        let mut f = Faults::default();
        for part in spec.split(',') {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match (k.trim(), v.trim().parse::<u64>()) {
                ("batch", Ok(n)) => f.batch = Some(n.max(1) as usize),
                ("pause_ms", Ok(n)) => f.pause_ms = n,
                ("fail_after", Ok(n)) => f.fail_after = Some(n),
                _ => {}
            }
        }
        f
    }

    fn from_env() -> Faults {
        std::env::var("VIGIL_CENTRALIZE_FAULTS")
            .map(|s| Faults::parse(&s))
            .unwrap_or_default()
    }
}

/// Everything the join needs.
pub struct Join {
    pub target: Db,
    pub auth: Auth,
    pub node: String,
    pub source_url: String,
    pub log_retention: i64,
}

impl Join {
    /// The node's join task, when it has a standalone database to bring.
    pub fn task(self, closing: watch::Receiver<bool>) -> Task {
        Task::spawn("centralize", Ending::Abort, async move {
            if let Err(e) = self.run(closing).await {
                tracing::error!(error = %format!("{e:#}"), "centralization stopped");
            }
        })
    }

    async fn run(self, mut closing: watch::Receiver<bool>) -> Result<(), anyhow::Error> {
        let source = Db::connect(&self.source_url).await?;
        let cluster = store::database_id(&self.target).await?;
        let id = store::database_id(&source).await?;
        if id == cluster || store::is_marked(&source, &cluster).await? {
            return Ok(());
        }
        let plan = super::prepare(&self.target, source.clone(), &self.node, true).await?;
        let row = store::register(&self.target, &id, &self.node, &plan.outcome).await?;
        tracing::info!(node = %self.node, status = %row.status, "standalone database to centralize");
        if row.status == "running" {
            // This node stopped while it ran.
            let why = format!("{} stopped during its centralization", self.node);
            store::finish(&self.target, &id, Err(&why)).await?;
        }
        loop {
            if *closing.borrow() {
                return Ok(());
            }
            store::fail_stale(&self.target).await?;
            let status = store::source(&self.target, &id)
                .await?
                .map(|s| s.status)
                .unwrap_or_default();
            match status.as_str() {
                "done" => {
                    store::mark(&source, &cluster).await?;
                    return Ok(());
                }
                "pending" => {
                    store::heartbeat(&self.target, &id, 0).await?;
                    if store::claim(&self.target, &id, 0).await? {
                        self.centralize(&source, &id).await?;
                        continue;
                    }
                }
                _ => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = closing.changed() => {}
            }
        }
    }

    /// Runs the source whose turn this node took; its status tells how it
    /// ended.
    async fn centralize(&self, source: &Db, id: &str) -> Result<(), anyhow::Error> {
        self.auth.hold_sign_ins(true);
        let done = Arc::new(AtomicU64::new(0));
        let beat = {
            let (db, id, done) = (self.target.clone(), id.to_owned(), done.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TICK).await;
                    let at = done.load(Ordering::Relaxed) as i64;
                    if let Err(e) = store::heartbeat(&db, &id, at).await {
                        tracing::warn!(error = %e, "centralization heartbeat");
                    }
                }
            })
        };
        let result = self.attempt(source, id, &done).await;
        beat.abort();
        self.auth.hold_sign_ins(false);
        match result {
            Ok(outcome) => {
                store::heartbeat(&self.target, id, done.load(Ordering::Relaxed) as i64).await?;
                store::finish(&self.target, id, Ok(&outcome)).await?;
                tracing::info!(node = %self.node, "centralization done");
            }
            Err(e) => {
                let why = format!("{e:#}");
                tracing::warn!(node = %self.node, error = %why, "centralization failed");
                store::finish(&self.target, id, Err(&why)).await?;
            }
        }
        Ok(())
    }

    async fn attempt(
        &self,
        source: &Db,
        id: &str,
        done: &AtomicU64,
    ) -> Result<app::api::centralize::Outcome, anyhow::Error> {
        let faults = Faults::from_env();
        let attempts = store::source(&self.target, id)
            .await?
            .map(|s| s.attempts)
            .unwrap_or(1);
        let prepared = super::prepare(&self.target, source.clone(), &self.node, false).await?;
        store::set_total(&self.target, id, prepared.total() as i64).await?;
        let batch = faults.batch.unwrap_or(super::BATCH);
        super::apply(&self.target, prepared, self.log_retention, batch, |n| {
            done.store(n, Ordering::Relaxed);
            if faults.pause_ms > 0 {
                tokio::task::block_in_place(|| {
                    std::thread::sleep(Duration::from_millis(faults.pause_ms))
                });
            }
            match faults.fail_after {
                Some(after) if attempts <= 1 && n >= after => {
                    Err(format!("injected fault: stopped after {n} records"))
                }
                _ => Ok(()),
            }
        })
        .await
    }
}
