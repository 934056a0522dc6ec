//! Alert evaluation: every node evaluates the alerts enabled on it, keeps
//! what each remembers between periods in the database (so another node
//! can take over), and opens and clears firings, once each.
//!
//! The definitions, their settings and where they are enabled belong to
//! `content`; this capability runs them.

pub(crate) mod evaluate;
pub mod handlers;
mod hysteresis;
pub mod store;

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

    /// The evaluator, until the node closes.
    pub fn tasks(&self, closing: watch::Receiver<bool>) -> Vec<Task> {
        vec![Task::spawn(
            "alert evaluator",
            Ending::Abort,
            evaluate::run(self.clone(), closing),
        )]
    }
}
