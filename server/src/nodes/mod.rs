//! The node registry: which nodes form the cluster and which of them are
//! operational right now.

pub mod csrf;
pub mod handlers;
pub mod registry;
pub mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::api::{NodeDetail, NodeRole, NodeSummary};
use tokio::sync::watch;

use crate::cluster::{Ending, Task};
use crate::db::{Db, StoreError};

/// The node registry as handlers and other capabilities reach it; cheap to
/// clone.
#[derive(Clone)]
pub struct Nodes {
    db: Db,
    me: Arc<NodeIdentity>,
    offline_after: Duration,
}

impl Nodes {
    /// The registry of `db`, seen by the node `me`; a node silent for
    /// `offline_after` is not operational.
    pub fn new(db: Db, me: NodeIdentity, offline_after: Duration) -> Self {
        Self {
            db,
            me: Arc::new(me),
            offline_after,
        }
    }

    /// This node.
    pub fn me(&self) -> &NodeIdentity {
        &self.me
    }

    pub fn offline_after_ms(&self) -> i64 {
        self.offline_after.as_millis() as i64
    }

    /// Writes this node's row as it starts (configured role, start time).
    pub async fn join(&self) -> Result<(), StoreError> {
        store::refresh(&self.db, &self.me, true).await.map(|_| ())
    }

    /// Marks this node stopped, as it leaves.
    pub async fn leave(&self) -> Result<(), StoreError> {
        store::mark_stopped(&self.db, &self.me.name).await
    }

    /// Every registered node and the database clock.
    pub async fn records(&self) -> Result<(Vec<NodeRecord>, i64), StoreError> {
        store::list(&self.db).await
    }

    /// Every registered node as products and consoles see it.
    pub async fn summaries(&self) -> Result<Vec<NodeSummary>, StoreError> {
        let (records, now) = self.records().await?;
        let offline_after = self.offline_after_ms();
        Ok(records
            .iter()
            .map(|n| n.summary(now, offline_after))
            .collect())
    }

    /// Sets the role of the node `name` until it restarts.
    pub async fn set_role(&self, name: &str, role: NodeRole) -> Result<(), StoreError> {
        store::set_role(&self.db, name, role).await?;
        if name == self.me.name {
            self.me.role.set(role);
        }
        Ok(())
    }

    /// The task that keeps this node's row fresh (see [`registry`]).
    pub fn task(&self, closing: watch::Receiver<bool>) -> Task {
        Task::spawn(
            "node registry",
            Ending::Finish,
            registry::run(
                self.db.clone(),
                (*self.me).clone(),
                self.offline_after,
                closing,
            ),
        )
    }
}

/// Who this node is, as written to the registry.
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    pub name: String,
    pub url: String,
    /// The URL was derived from the bound address (no `public_url`).
    pub derived_url: bool,
    /// The role from the configuration, written when the node starts.
    pub configured_role: NodeRole,
    /// The role in the registry now (an admin may change it while the node
    /// runs); shared by every clone.
    pub role: RoleCell,
}

impl NodeIdentity {
    pub fn new(name: String, url: String, derived_url: bool, role: NodeRole) -> Self {
        Self {
            name,
            url,
            derived_url,
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

/// The node that ran last on a database: a standalone node's name.
pub async fn newest(db: &Db) -> Result<Option<String>, StoreError> {
    let (nodes, _) = store::list(db).await?;
    Ok(nodes
        .into_iter()
        .max_by_key(|n| n.last_seen)
        .map(|n| n.name))
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
