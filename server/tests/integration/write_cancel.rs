//! A writer cancelled while its transaction is being opened (a task aborted
//! when its node stops) must not leave the database locked for the others.

use std::time::Duration;

use server::db::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_cancelled_while_opening_its_transaction_leaves_no_lock_behind() {
    for test_db in testkit::databases().await {
        let db = Db::connect(&test_db.url).await.expect("connect");
        // Cancel `begin_write` at many points of its flight (after it was
        // polled `polls` times); whatever point, the next writer gets in.
        for polls in 0..300 {
            tokio::select! {
                biased;
                _ = db.begin_write() => {}
                () = yields(polls) => {}
            }
            let next = tokio::time::timeout(Duration::from_secs(3), async {
                let mut tx = db.begin_write().await?;
                sqlx::query("UPDATE state_counters SET value = value + 1 WHERE position = 5")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, anyhow::Error>(())
            })
            .await;
            assert!(
                matches!(next, Ok(Ok(()))),
                "{}: after a cancel at poll {polls}: {next:?}",
                test_db.engine
            );
        }
        db.close().await;
    }
}

/// Completes after yielding to the runtime `n` times.
async fn yields(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}
