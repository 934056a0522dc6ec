//! Keeps every node's key cache true to the database: a few times a second
//! a node asks which products' keys changed since it last looked (one
//! indexed query that reads nothing when nothing changed), drops the keys it
//! holds that were replaced or revoked, and learns the ids registered on
//! other nodes. So a revoked key stops working on every node within a
//! second, and datagrams for unknown ids are refused from memory.

use std::time::Duration;

use super::{keys::Keys, store, Products};
use crate::db::{Db, StoreError};

/// How often a node asks.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// Each question reaches back this far before the previous answer's clock:
/// a registration stamps its row before it commits, so a row may become
/// visible a little after the time it carries. Rows seen twice are
/// harmless (an entry is only dropped for a newer change than its own).
const OVERLAP_MS: i64 = 2_000;

/// Loads every registered id; returns the database clock to poll from.
pub async fn load(db: &Db, keys: &Keys) -> Result<i64, StoreError> {
    let (now, ids) = store::ids(db).await?;
    keys.learn(ids.iter().map(String::as_str));
    Ok(now)
}

/// Polls until the task is aborted. A database that cannot be reached
/// only delays what the node learns; the node keeps serving meanwhile.
pub async fn run(products: Products, mut since: i64) {
    let db = &products.db;
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match store::key_changes(db, since - OVERLAP_MS).await {
            Ok((now, changes)) => {
                if failing {
                    tracing::info!("key changes are read again");
                    failing = false;
                }
                let dropped = products.keys.changed(&changes);
                if dropped > 0 {
                    tracing::debug!(dropped, "dropped replaced product keys");
                }
                since = now;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot read key changes; retrying");
                }
                failing = true;
            }
        }
    }
}
