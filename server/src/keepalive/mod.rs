//! The console's keep-alive: who is in the cluster, and the state string that
//! tells a console which of its views are out of date. A keep-alive may wait
//! (long poll) until a watched counter moves, so changes reach screens at
//! once while each console sends about one request per interval.

pub mod handlers;

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
}

/// Longest a keep-alive may wait for a change.
pub const MAX_WAIT_MS: u64 = 60_000;
