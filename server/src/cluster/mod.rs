//! What every capability may use about the cluster it runs in: the node's
//! signals (the latest state string, counter moves, shutdown), cluster-wide
//! leases and the singleton runner that holds them, background tasks, and
//! two small helpers (the node clock, constant-time secret comparison).
//!
//! Nothing here knows a capability; capabilities build on it.

pub mod bumper;
pub mod singleton;
pub mod store;
pub mod task;
pub mod watch;

use std::sync::Arc;

use app::state::{StateClass, StateString};
use tokio::sync::watch as channel;

use crate::db::Db;
pub use task::{Ending, Task};

/// The node-wide signals a capability listens to or raises; cheap to clone.
#[derive(Clone)]
pub struct Signals {
    /// The latest state string, for waiting keep-alives and long polls.
    state: Arc<channel::Sender<StateString>>,
    /// Turns true when the node begins to shut down, ending long polls.
    closing: Arc<channel::Sender<bool>>,
    /// Moves busy state counters after commit (see [`bumper`]).
    bumper: Arc<bumper::Bumper>,
}

impl Signals {
    /// Signals starting from the state string `initial`.
    pub fn new(initial: StateString) -> Self {
        Self {
            state: Arc::new(channel::channel(initial).0),
            closing: Arc::new(channel::channel(false).0),
            bumper: Default::default(),
        }
    }

    /// Follows the state string (marked as seen: `changed()` waits for the
    /// next one).
    pub fn state(&self) -> channel::Receiver<StateString> {
        self.state.subscribe()
    }

    /// Follows the node's shutdown.
    pub fn closing(&self) -> channel::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The node begins to shut down: waiting requests answer now.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// The data of `class` changed (and is committed): its counter moves
    /// shortly, coalesced with other moves.
    pub fn changed(&self, class: StateClass) {
        self.bumper.mark(class);
    }

    /// The tasks behind the signals: the coalesced counter writer and the
    /// follower of the database's counters.
    pub fn tasks(&self, db: &Db) -> Vec<Task> {
        let mut tasks = vec![
            Task::spawn(
                "state counter writer",
                Ending::Finish,
                bumper::run(db.clone(), self.bumper.clone(), self.closing()),
            ),
            Task::spawn(
                "state follower",
                Ending::Abort,
                watch::follow(db.clone(), self.state.clone()),
            ),
        ];
        // A URL naming several PostgreSQL servers: follow a failover.
        if let Some(follow) = db.follow_primary(self.closing()) {
            tasks.push(Task::spawn("database failover", Ending::Abort, follow));
        }
        tasks
    }
}

/// Node clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
