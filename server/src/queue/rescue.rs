//! The queue rescue: a cluster-wide singleton (see `cluster::singleton`)
//! that ends commands past their time to live and puts back in the queue
//! those whose claim or delivery lease ran out (their node died, or the
//! product never answered).

use std::time::Duration;

use super::{fate, store, Queue};
use crate::cluster::singleton::{Round, Singleton};
use crate::db::StoreError;

/// How often the holder looks.
pub const EVERY: Duration = Duration::from_millis(500);
/// Most commands handled per round (and per kind of change).
const ROUND: i64 = 1000;

/// The rescue of one node's queue.
pub struct Rescue(pub Queue);

impl Rescue {
    async fn once(&self) -> Result<(), StoreError> {
        let queue = &self.0;
        let decide = |holder: &str, attempts, max| {
            fate::lapsed(holder, attempts, max, queue.retry_delay_ms(attempts))
        };
        let done = store::rescue(&queue.db, queue.node(), ROUND, decide).await?;
        if done != store::Rescued::default() {
            queue.changed();
            tracing::info!(
                requeued = done.requeued,
                dead = done.dead,
                expired = done.expired,
                "queue rescue"
            );
        }
        Ok(())
    }
}

impl Singleton for Rescue {
    fn lease(&self) -> &'static str {
        "queue_rescue"
    }

    fn every(&self) -> Duration {
        EVERY
    }

    fn round(&mut self) -> Round<'_> {
        Box::pin(self.once())
    }
}
