//! The background task that keeps this node's registry row fresh and notices
//! nodes that went silent.

use std::time::Duration;

use tokio::sync::watch;

use super::{store, NodeIdentity};
use crate::db::Db;

/// How often a node refreshes its row.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Runs until `closing` turns true; it stops between ticks, never in the
/// middle of a write (an abandoned SQLite write transaction would hold the
/// database lock). Errors (e.g. the database is briefly unreachable) are
/// logged and retried on the next tick.
pub async fn run(
    db: Db,
    me: NodeIdentity,
    offline_after: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let offline_after_ms = offline_after.as_millis() as i64;
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = closing.changed() => if changed.is_err() || *closing.borrow() { return },
        }
        let result = async {
            let role = store::refresh(&db, &me, false).await?;
            if role != me.role.get() {
                tracing::info!(%role, "role changed in the registry");
                me.role.set(role);
            }
            store::mark_stale(&db, offline_after_ms).await
        }
        .await;
        match result {
            Ok(_) if failing => {
                tracing::info!("node registry reachable again");
                failing = false;
            }
            Ok(_) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot refresh the node registry; retrying every second");
                failing = true;
            }
            Err(_) => {}
        }
    }
}
