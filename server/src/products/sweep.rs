//! The offline sweep: a cluster-wide singleton that marks products offline
//! once their silence passed `offline_after`, judged only up to the liveness
//! watermark (see the module documentation of `products`). Its holder also
//! samples the fleet's counts for the dashboard chart ([`super::history`]).

use std::time::Duration;

use tokio::sync::watch;

use super::{history, store};
use crate::db::Db;

/// How often the holder sweeps (and renews its lease). Offline detection
/// lags the deadline by at most a flush interval (1 s, see `liveness`) plus
/// this.
pub const EVERY: Duration = Duration::from_millis(250);
/// A dead holder's lease runs out after this; another node takes over.
pub const LEASE_TTL: Duration = Duration::from_secs(3);
const LEASE: &str = "offline_sweep";

/// Runs until `closing`.
pub async fn run(
    db: Db,
    node: String,
    node_offline_after: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut holding = false;
    let mut sampled: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = closing.changed() => if changed.is_err() || *closing.borrow() { return },
        }
        match sweep_once(&db, &node, node_offline_after).await {
            Ok(held) => {
                if held != holding {
                    tracing::info!(holding = held, "offline sweep lease");
                    holding = held;
                }
                if held && sampled.is_none_or(|at| at.elapsed() >= history::SAMPLE_EVERY) {
                    sampled = Some(tokio::time::Instant::now());
                    if let Err(e) = sample(&db).await {
                        tracing::debug!(error = %e, "fleet sample skipped");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "offline sweep skipped"),
        }
    }
}

/// One round: returns whether this node holds the lease.
pub async fn sweep_once(
    db: &Db,
    node: &str,
    node_offline_after: Duration,
) -> Result<bool, crate::db::StoreError> {
    if !store::hold_lease(db, LEASE, node, LEASE_TTL.as_millis() as i64).await? {
        return Ok(false);
    }
    if let Some(watermark) = store::watermark(db, node_offline_after.as_millis() as i64).await? {
        let gone = store::sweep_offline(db, watermark).await?;
        if !gone.is_empty() {
            tracing::info!(count = gone.len(), "products went offline");
        }
    }
    Ok(true)
}

async fn sample(db: &Db) -> Result<(), crate::db::StoreError> {
    let now = crate::nodes::store::clock(db).await?;
    store::sample(db, now - history::KEEP.as_millis() as i64).await
}
