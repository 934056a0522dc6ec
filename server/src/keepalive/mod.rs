//! The console's keep-alive: who is in the cluster, and the state string that
//! tells a console which of its views are out of date. A keep-alive may wait
//! (long poll) until a watched counter moves, so changes reach screens at
//! once while each console sends about one request per interval.

pub mod handlers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::api::NodeSummary;

use crate::cluster::Signals;
use crate::db::Db;
use crate::nodes::Nodes;

/// What the keep-alive reads: the state counters, their signals, and the
/// node registry.
#[derive(Clone)]
pub struct KeepAlive {
    pub db: Db,
    pub nodes: Nodes,
    pub signals: Signals,
    /// Keep-alives waiting for a change right now.
    pub waiting: Arc<AtomicUsize>,
    /// What the node last read, for the replies it gives while the
    /// database does not answer.
    pub last: Arc<Mutex<Known>>,
}

/// The node list last read, and since when the database has not answered.
#[derive(Default)]
pub struct Known {
    pub nodes: Vec<NodeSummary>,
    pub unreachable_since: Option<i64>,
}

/// How long a keep-alive waits for the database before it answers with
/// what the node last knew: a console that asked for an answer at once
/// gives up after its grace (300 ms at least), one that long-polls waits
/// longer.
pub const DATABASE_AT_ONCE: Duration = Duration::from_millis(250);
pub const DATABASE_WAITING: Duration = Duration::from_secs(1);

impl KeepAlive {
    pub fn new(db: Db, nodes: Nodes, signals: Signals) -> Self {
        Self {
            db,
            nodes,
            signals,
            waiting: Default::default(),
            last: Default::default(),
        }
    }

    /// This node's keep-alive series, in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        format!(
            "# HELP vigil_keepalive_waiting Console keep-alives waiting for a change.\n\
             # TYPE vigil_keepalive_waiting gauge\nvigil_keepalive_waiting {}\n",
            self.waiting.load(Ordering::Relaxed)
        )
    }
}

/// Counts one waiting keep-alive while it lives.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Longest a keep-alive may wait for a change.
pub const MAX_WAIT_MS: u64 = 60_000;
