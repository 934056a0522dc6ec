//! Group commit: calls that each need a small write (a product's fetch, a
//! posted result) queue up here, and one task writes whatever has gathered
//! in one transaction, then answers each caller. An idle node writes at
//! once; a busy one writes hundreds per transaction. Nothing is answered
//! before it is committed.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// Most items written in one transaction.
pub const MAX_BATCH: usize = 512;

/// The sending side; cheap to clone.
pub struct Batcher<I, O> {
    tx: mpsc::Sender<(I, oneshot::Sender<O>)>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the writing task; `write` gets a batch and returns one answer
    /// per item, in order.
    pub fn start<F, Fut>(write: F) -> (Self, tokio::task::JoinHandle<()>)
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(I, oneshot::Sender<O>)>(4 * MAX_BATCH);
        let task = tokio::spawn(async move {
            let mut pending = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut pending, MAX_BATCH).await > 0 {
                let (items, replies): (Vec<I>, Vec<oneshot::Sender<O>>) = pending.drain(..).unzip();
                for (answer, reply) in write(items).await.into_iter().zip(replies) {
                    let _ = reply.send(answer);
                }
            }
        });
        (Self { tx }, task)
    }

    /// Queues `item` and waits for its answer (`None` if the node stops).
    pub async fn submit(&self, item: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((item, reply)).await.ok()?;
        answer.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_caller_gets_its_own_answer() {
        let (batcher, _task) = Batcher::start(|items: Vec<u32>| async move {
            items.into_iter().map(|i| i * 10).collect::<Vec<_>>()
        });
        let calls: Vec<_> = (0..100u32)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.submit(i).await) })
            })
            .collect();
        for call in calls {
            let (i, answer) = call.await.unwrap();
            assert_eq!(answer, Some(i * 10));
        }
    }
}
