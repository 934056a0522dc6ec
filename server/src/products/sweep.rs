//! The offline sweep: a cluster-wide singleton (see `cluster::singleton`)
//! that marks products offline once their silence passed `offline_after`,
//! judged only up to the liveness watermark (see the module documentation of
//! `products`). Its holder also samples the fleet's counts for the dashboard
//! chart ([`super::history`]).

use std::time::Duration;

use super::{history, store};
use crate::cluster::singleton::{Round, Singleton};
use crate::cluster::store::clock;
use crate::db::{Db, StoreError};

/// How often the holder sweeps (and renews its lease). Offline detection
/// lags the deadline by at most a flush interval (1 s, see `liveness`) plus
/// this.
pub const EVERY: Duration = Duration::from_millis(250);

/// The sweep and its sampling clock.
pub struct Sweep {
    db: Db,
    node_offline_after_ms: i64,
    sampled: Option<tokio::time::Instant>,
}

impl Sweep {
    pub fn new(db: Db, node_offline_after_ms: i64) -> Self {
        Self {
            db,
            node_offline_after_ms,
            sampled: None,
        }
    }

    async fn once(&mut self) -> Result<(), StoreError> {
        if let Some(watermark) = store::watermark(&self.db, self.node_offline_after_ms).await? {
            let gone = store::sweep_offline(&self.db, watermark).await?;
            if !gone.is_empty() {
                tracing::info!(count = gone.len(), "products went offline");
            }
        }
        if self
            .sampled
            .is_none_or(|at| at.elapsed() >= history::SAMPLE_EVERY)
        {
            self.sampled = Some(tokio::time::Instant::now());
            let now = clock(&self.db).await?;
            store::sample(&self.db, now - history::KEEP.as_millis() as i64).await?;
        }
        Ok(())
    }
}

impl Singleton for Sweep {
    fn lease(&self) -> &'static str {
        "offline_sweep"
    }

    fn every(&self) -> Duration {
        EVERY
    }

    fn round(&mut self) -> Round<'_> {
        Box::pin(self.once())
    }
}
