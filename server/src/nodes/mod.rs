//! The node registry: which nodes form the cluster and which of them are
//! operational right now.

pub mod handlers;
pub mod registry;
pub mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use app::api::{NodeDetail, NodeRole, NodeSummary};

/// Who this node is, as written to the registry.
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    pub name: String,
    pub url: String,
    /// The role from the configuration, written when the node starts.
    pub configured_role: NodeRole,
    /// The role in the registry now (an admin may change it while the node
    /// runs); shared by every clone.
    pub role: RoleCell,
}

impl NodeIdentity {
    pub fn new(name: String, url: String, role: NodeRole) -> Self {
        Self {
            name,
            url,
            configured_role: role,
            role: RoleCell(Arc::new(AtomicBool::new(role == NodeRole::Passive))),
        }
    }
}

/// A node's current role, readable without locking.
#[derive(Clone, Debug)]
pub struct RoleCell(Arc<AtomicBool>);

impl RoleCell {
    pub fn get(&self) -> NodeRole {
        if self.0.load(Ordering::Relaxed) {
            NodeRole::Passive
        } else {
            NodeRole::Active
        }
    }

    pub fn set(&self, role: NodeRole) {
        self.0.store(role == NodeRole::Passive, Ordering::Relaxed);
    }
}

/// A registry row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub name: String,
    pub url: String,
    pub role: NodeRole,
    pub started_at: i64,
    pub last_seen: i64,
    /// When the node stopped or was noticed silent; `None` while it runs.
    pub down_since: Option<i64>,
}

impl NodeRecord {
    /// Operational: running, and its row refreshed within `offline_after_ms`
    /// of `now` (both on the database clock).
    pub fn operational(&self, now: i64, offline_after_ms: i64) -> bool {
        self.down_since.is_none() && now - self.last_seen <= offline_after_ms
    }

    pub fn summary(&self, now: i64, offline_after_ms: i64) -> NodeSummary {
        NodeSummary {
            name: self.name.clone(),
            url: self.url.clone(),
            role: self.role,
            operational: self.operational(now, offline_after_ms),
        }
    }

    pub fn detail(&self, now: i64, offline_after_ms: i64) -> NodeDetail {
        NodeDetail {
            name: self.name.clone(),
            url: self.url.clone(),
            role: self.role,
            operational: self.operational(now, offline_after_ms),
            started_at: self.started_at,
            last_seen: self.last_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(last_seen: i64, down_since: Option<i64>) -> NodeRecord {
        NodeRecord {
            name: "a".into(),
            url: "http://a".into(),
            role: NodeRole::Active,
            started_at: 0,
            last_seen,
            down_since,
        }
    }

    #[test]
    fn fresh_running_node_is_operational() {
        assert!(record(10_000, None).operational(14_000, 5_000));
        assert!(record(10_000, None).operational(15_000, 5_000));
    }

    #[test]
    fn silent_node_is_not_operational() {
        assert!(!record(10_000, None).operational(15_001, 5_000));
    }

    #[test]
    fn stopped_node_is_not_operational_even_if_fresh() {
        assert!(!record(10_000, Some(10_500)).operational(10_600, 5_000));
    }
}
