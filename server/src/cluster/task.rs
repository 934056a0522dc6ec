//! A node's background tasks, started from one list and ended in order.

use std::future::Future;

/// How a task ends when its node shuts down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Aborted at once: it holds nothing that must be written.
    Abort,
    /// It stops by itself between writes once the node's `closing` signal
    /// turns true (writing what it holds); the node waits for it.
    Finish,
}

/// A running background task; aborted when dropped, so a node that is
/// dropped (or a test that kills one) leaves nothing running.
pub struct Task {
    name: &'static str,
    ending: Ending,
    handle: tokio::task::JoinHandle<()>,
}

impl Task {
    /// Starts `work` on the runtime.
    pub fn spawn(
        name: &'static str,
        ending: Ending,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self {
            name,
            ending,
            handle: tokio::spawn(work),
        }
    }

    /// Wraps a task already started elsewhere.
    pub fn from_handle(
        name: &'static str,
        ending: Ending,
        handle: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            name,
            ending,
            handle,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Ends a node's tasks: aborts those that may be aborted, then waits,
    /// in list order, for those that finish by themselves.
    pub async fn end_all(tasks: Vec<Task>) {
        let (finishing, aborted): (Vec<Task>, Vec<Task>) =
            tasks.into_iter().partition(|t| t.ending == Ending::Finish);
        drop(aborted);
        for mut task in finishing {
            if let Err(e) = (&mut task.handle).await {
                if e.is_panic() {
                    tracing::error!(task = task.name, "background task panicked");
                }
            }
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
