//! Counter moves for busy classes (the command queue), written outside the
//! transactions that made the change and coalesced: a queue handling
//! thousands of commands a second moves its counter a hundred times a
//! second at most, instead of making every transaction wait in line for the
//! one counter row.
//!
//! A move is written after the change is committed, so a console never sees
//! the counter before the data. If the node dies in between, consoles catch
//! up at the class's next change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::state::StateClass;
use tokio::sync::{watch, Notify};

use super::store;
use crate::db::Db;

/// Moves within this window are written together.
pub const COALESCE: Duration = Duration::from_millis(10);

/// Classes whose counter must move, as bits by position.
#[derive(Default)]
pub struct Bumper {
    pending: AtomicU64,
    bell: Notify,
}

impl Bumper {
    /// Asks for the counter of `class` to move.
    pub fn mark(&self, class: StateClass) {
        self.pending
            .fetch_or(1 << class.position(), Ordering::AcqRel);
        self.bell.notify_one();
    }

    fn take(&self) -> Vec<usize> {
        let bits = self.pending.swap(0, Ordering::AcqRel);
        (0..64).filter(|p| bits & (1 << p) != 0).collect()
    }

    fn give_back(&self, positions: &[usize]) {
        let bits = positions.iter().fold(0u64, |acc, p| acc | 1 << p);
        self.pending.fetch_or(bits, Ordering::AcqRel);
    }
}

/// Writes the moves until the node closes, then once more.
pub async fn run(db: Db, bumper: Arc<Bumper>, mut closing: watch::Receiver<bool>) {
    loop {
        let last = tokio::select! {
            _ = bumper.bell.notified() => false,
            changed = closing.changed() => changed.is_err() || *closing.borrow(),
        };
        let positions = bumper.take();
        if !positions.is_empty() {
            if let Err(e) = store::bump_positions(&db, &positions).await {
                tracing::debug!(error = %e, "cannot move state counters; retrying");
                bumper.give_back(&positions);
                tokio::time::sleep(Duration::from_millis(200)).await;
                bumper.bell.notify_one();
            }
        }
        if last {
            return;
        }
        tokio::time::sleep(COALESCE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_gather_until_taken() {
        let b = Bumper::default();
        b.mark(StateClass::Commands);
        b.mark(StateClass::Commands);
        b.mark(StateClass::Nodes);
        assert_eq!(b.take(), vec![0, 2]);
        assert!(b.take().is_empty());
        b.give_back(&[2]);
        assert_eq!(b.take(), vec![2]);
    }
}
