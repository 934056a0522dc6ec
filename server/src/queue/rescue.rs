//! The queue rescue: a cluster-wide singleton that ends commands past their
//! time to live and puts back in the queue those whose claim or delivery
//! lease ran out (their node died, or the product never answered).

use std::time::Duration;

use super::dispatch::retry_delay_ms;
use super::store;
use crate::products::store::hold_lease;
use crate::AppState;

/// How often the holder looks.
pub const EVERY: Duration = Duration::from_millis(500);
/// A dead holder's lease runs out after this; another node takes over.
const LEASE_TTL: Duration = Duration::from_secs(3);
const LEASE: &str = "queue_rescue";
/// Most commands handled per round (and per kind of change).
const ROUND: i64 = 1000;

/// Runs until the node closes.
pub async fn run(app: AppState) {
    let mut closing = app.closing.subscribe();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closing.changed() => return,
        }
        if let Err(e) = once(&app).await {
            tracing::debug!(error = %e, "queue rescue skipped");
        }
    }
}

/// One round; does nothing unless this node holds the lease.
pub async fn once(app: &AppState) -> Result<(), crate::db::StoreError> {
    let node = &app.node.name;
    if !hold_lease(&app.db, LEASE, node, LEASE_TTL.as_millis() as i64).await? {
        return Ok(());
    }
    let done = store::rescue(&app.db, node, ROUND, |attempts| {
        retry_delay_ms(app, attempts)
    })
    .await?;
    if done != store::Rescued::default() {
        app.commands_changed();
        tracing::info!(
            requeued = done.requeued,
            dead = done.dead,
            expired = done.expired,
            "queue rescue"
        );
    }
    crate::provision::rescue(app).await
}
