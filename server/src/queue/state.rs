//! What the queue capability holds on a node, and the one way to queue
//! commands ([`Queue::enqueue`]).

use std::sync::Arc;

use app::state::StateClass;
use tokio::sync::Notify;

use super::store::{self, ClaimRules};
use super::{backoff, dispatch, rescue, Io, NewCommand, QueueConfig};
use crate::cluster::singleton::Singleton;
use crate::cluster::{Ending, Signals, Task};
use crate::db::{Db, StoreError};
use crate::nodes::Nodes;
use crate::products::Products;

/// The queue capability; cheap to clone.
#[derive(Clone)]
pub struct Queue(Arc<Parts>);

impl std::ops::Deref for Queue {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The fields of [`Queue`].
pub struct Parts {
    pub db: Db,
    pub config: QueueConfig,
    pub nodes: Nodes,
    pub products: Products,
    pub signals: Signals,
    /// Products' fetches and results, written by group commit.
    pub io: Io,
    /// Wakes this node's dispatcher (a command was queued here).
    pub(super) wake: Notify,
}

impl Queue {
    /// The queue of this node, with its group-commit writers (returned as
    /// tasks).
    pub fn start(
        db: Db,
        config: QueueConfig,
        nodes: Nodes,
        products: Products,
        signals: Signals,
    ) -> (Self, Vec<Task>) {
        let (io, writers) = Io::start(db.clone(), nodes.me().name.clone(), config.lease);
        let queue = Self(Arc::new(Parts {
            db,
            config,
            nodes,
            products,
            signals,
            io,
            wake: Notify::new(),
        }));
        let names = [
            "queue delivery writer",
            "queue result writer",
            "queue notice writer",
        ];
        let tasks = names
            .into_iter()
            .zip(writers)
            .map(|(name, handle)| Task::from_handle(name, Ending::Abort, handle))
            .collect();
        (queue, tasks)
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.nodes.me().name
    }

    /// Queues `commands` under fresh ids; returns the ids.
    pub async fn enqueue(&self, commands: Vec<NewCommand>) -> Result<Vec<String>, StoreError> {
        let with_ids: Vec<(String, NewCommand)> = commands
            .into_iter()
            .map(|c| (uuid::Uuid::new_v4().to_string(), c))
            .collect();
        self.enqueue_as(&with_ids).await?;
        Ok(with_ids.into_iter().map(|(id, _)| id).collect())
    }

    /// Queues commands under the ids given: writes them, moves the commands
    /// counter and wakes this node's dispatcher. The ids are the commands'
    /// primary keys, so queuing one twice fails rather than doubling it.
    pub async fn enqueue_as(&self, commands: &[(String, NewCommand)]) -> Result<(), StoreError> {
        let q = &self.config;
        store::enqueue(
            &self.db,
            self.node(),
            commands,
            q.ttl.as_millis() as i64,
            i64::from(q.max_attempts),
        )
        .await?;
        self.changed();
        self.wake.notify_one();
        Ok(())
    }

    /// Whether a command `id` exists.
    pub async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(store::get(&self.db, id).await?.is_some())
    }

    /// Commands changed (committed): the counter moves shortly.
    pub fn changed(&self) {
        self.signals.changed(StateClass::Commands);
    }

    /// The claim rules of this node's configuration.
    pub fn rules(&self) -> ClaimRules {
        let q = &self.config;
        ClaimRules {
            routing: q.routing,
            affinity_ms: q.affinity_timeout.as_millis() as i64,
            node_offline_after_ms: self.nodes.offline_after_ms(),
            lease_ms: q.lease.as_millis() as i64,
        }
    }

    /// Delay before the retry after `attempts` attempts.
    pub fn retry_delay_ms(&self, attempts: i64) -> i64 {
        let q = &self.config;
        let attempt = u32::try_from(attempts.max(1)).unwrap_or(u32::MAX);
        backoff(
            attempt,
            q.backoff_base,
            q.backoff_max,
            rand::random::<f64>(),
        )
        .as_millis() as i64
    }

    /// The node's dispatcher.
    pub fn tasks(&self) -> Vec<Task> {
        vec![Task::spawn(
            "queue dispatcher",
            Ending::Abort,
            dispatch::run(self.clone()),
        )]
    }

    /// The cluster-wide singleton of the queue: the rescue.
    pub fn singletons(&self) -> Vec<Box<dyn Singleton>> {
        vec![Box::new(rescue::Rescue(self.clone()))]
    }
}
