//! Cluster-wide singletons: work that exactly one node does at a time (the
//! offline sweep, the queue rescue, the provisioning rescue). One task per
//! node runs them all; each job has its own lease, so the cluster may spread
//! them over several nodes, and a dead holder's lease runs out after
//! [`LEASE_TTL`], when another node takes the job over.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::store;
use crate::db::{Db, StoreError};

/// A dead holder's lease runs out after this.
pub const LEASE_TTL: Duration = Duration::from_secs(3);
/// The runner's clock: no job runs more often than this.
pub const TICK: Duration = Duration::from_millis(250);

/// One round of a job, borrowed from it.
pub type Round<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Work done by one node of the cluster at a time.
pub trait Singleton: Send + 'static {
    /// The lease's name (one row in `leases`).
    fn lease(&self) -> &'static str;
    /// How often its holder runs a round (a multiple of [`TICK`]).
    fn every(&self) -> Duration;
    /// One round; runs only while this node holds the lease.
    fn round(&mut self) -> Round<'_>;
}

struct Slot {
    job: Box<dyn Singleton>,
    next: Instant,
    holding: bool,
}

/// Runs `jobs` for `node` until `closing` turns true; it stops between
/// rounds, never in the middle of one.
pub async fn run(
    db: Db,
    node: String,
    jobs: Vec<Box<dyn Singleton>>,
    mut closing: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let mut slots: Vec<Slot> = jobs
        .into_iter()
        .map(|job| Slot {
            job,
            next: start,
            holding: false,
        })
        .collect();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = closing.changed() => if changed.is_err() || *closing.borrow() { return },
        }
        let now = Instant::now();
        for slot in slots.iter_mut().filter(|s| s.next <= now) {
            slot.next = now + slot.job.every();
            let lease = slot.job.lease();
            let held =
                match store::hold_lease(&db, lease, &node, LEASE_TTL.as_millis() as i64).await {
                    Ok(held) => held,
                    Err(e) => {
                        tracing::debug!(lease, error = %e, "lease not renewed");
                        continue;
                    }
                };
            if held != slot.holding {
                tracing::info!(lease, holding = held, "singleton lease");
                slot.holding = held;
            }
            if held {
                if let Err(e) = slot.job.round().await {
                    tracing::debug!(lease, error = %e, "singleton round skipped");
                }
            }
        }
    }
}
