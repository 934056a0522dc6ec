//! Alert evaluation: every node evaluates the alerts enabled on it, keeps
//! what each remembers between periods in the database (so another node
//! can take over), and opens and clears firings, once each.
//!
//! The definitions, their settings and where they are enabled belong to
//! `content`; this capability runs them.

pub(crate) mod evaluate;
pub mod handlers;
mod hysteresis;
mod observe;
pub mod store;
mod webhook;

pub use webhook::signature;

use std::sync::Arc;

use tokio::sync::watch;

use crate::cluster::{Ending, Task};
use crate::content::Content;
use crate::db::Db;
use crate::nodes::Nodes;

/// The alert evaluator's state on a node; cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    db: Db,
    content: Content,
    nodes: Nodes,
    me: Arc<str>,
}

impl Alerts {
    pub fn new(db: Db, content: Content, nodes: Nodes) -> Self {
        let me = nodes.me().name.as_str().into();
        Self {
            db,
            content,
            nodes,
            me,
        }
    }

    /// The webhook sender, one node of the cluster at a time.
    pub fn singletons(
        &self,
        allow: Vec<crate::outbound::Cidr>,
        ca_cert: Option<&std::path::Path>,
    ) -> Result<Vec<Box<dyn crate::cluster::singleton::Singleton>>, anyhow::Error> {
        Ok(vec![Box::new(webhook::Outbox::new(
            self.db.clone(),
            allow,
            ca_cert,
        )?)])
    }

    /// The evaluator, until the node closes; it reloads the alerts enabled
    /// here when the content or alerts counters of `state` move.
    pub fn tasks(
        &self,
        closing: watch::Receiver<bool>,
        state: watch::Receiver<app::state::StateString>,
    ) -> Vec<Task> {
        vec![Task::spawn(
            "alert evaluator",
            Ending::Abort,
            evaluate::run(self.clone(), closing, state),
        )]
    }
}
