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
            let next = write_once(
                &db,
                "UPDATE state_counters SET value = value + 1 WHERE position = 5",
            )
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

/// One write transaction running `sql`, given 3 s.
async fn write_once(
    db: &Db,
    sql: &str,
) -> Result<Result<(), anyhow::Error>, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_secs(3), async {
        let mut tx = db.begin_write().await?;
        sqlx::query(sql).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(())
    })
    .await
}

/// Completes after yielding to the runtime `n` times.
async fn yields(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

/// SQLite ends a transaction by itself when its disk is full (here: the
/// connection's page limit). The node's next writes must not find a
/// connection left unable to begin: once there is room again, every write
/// goes through. (Before, a connection whose `COMMIT` failed that way went
/// back to the pool for good, and after a full disk the node never wrote
/// again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_after_sqlite_ended_a_transaction_on_a_full_disk() {
    let test_db = testkit::databases().await.remove(0);
    assert_eq!(test_db.engine, "sqlite");
    let db = Db::connect(&test_db.url).await.expect("connect");
    let mut tx = db.begin_write().await.expect("begin");
    sqlx::query("CREATE TABLE filler (b BLOB)")
        .execute(&mut *tx)
        .await
        .expect("create");
    tx.commit().await.expect("commit");
    // More rounds than the pool has connections, so every one of them
    // meets the full disk at least once.
    for round in 0..24 {
        let mut tx = db.begin_write().await.expect("begin while space is back");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *tx)
            .await
            .expect("page count");
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut *tx)
            .await
            .expect("limit");
        let full = sqlx::query("INSERT INTO filler VALUES (zeroblob(1048576))")
            .execute(&mut *tx)
            .await
            .expect_err("the disk is full");
        assert!(server::db::disk_full(&full), "round {round}: {full}");
        sqlx::query("PRAGMA max_page_count = 1073741823")
            .execute(&mut *tx)
            .await
            .expect("room again");
        assert!(
            tx.commit().await.is_err(),
            "SQLite ended the transaction itself"
        );
    }
    for _ in 0..24 {
        let next = write_once(&db, "INSERT INTO filler VALUES (x'00')").await;
        assert!(
            matches!(next, Ok(Ok(()))),
            "a write after the full disk: {next:?}"
        );
    }
    db.close().await;
}
