//! A database that goes silent under a node (a cut link: the connections
//! stay open and nothing answers). The console's keep-alive still answers
//! within its budget, with what the node last knew and since when the
//! database has not answered, so a console can say so instead of hopping
//! from node to node; once the database answers again, so does everything.

use std::time::{Duration, Instant};

use app::api::NodeRole;
use serde_json::Value;
use testkit::proxy::{Mode, Proxy};
use testkit::{TestDb, TestNode};

use crate::common::{get, login};

async fn keepalive(node: &str, cookie: &str, query: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = get(&format!("{node}/api/v1/keepalive?{query}"), Some(cookie)).await;
    (status.as_u16(), body, started.elapsed())
}

/// `host:port` of a PostgreSQL URL.
fn server_of(url: &str) -> String {
    let rest = url.split_once('@').map_or(url, |(_, r)| r);
    rest.split('/').next().expect("host").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_answer_while_the_database_is_silent_and_say_since_when() {
    for db in testkit::databases().await {
        if db.engine != "postgres" {
            continue;
        }
        let server = server_of(&db.url);
        let proxy = Proxy::start(server.parse().expect("address"))
            .await
            .expect("proxy");
        let proxied = TestDb {
            url: db.url.replace(&server, &proxy.addr.to_string()),
            ..db.clone()
        };
        let node = TestNode::start(testkit::config(&proxied, "silent-a", NodeRole::Active)).await;
        let cookie = login(&node.url).await;
        let (status, before, _) = keepalive(&node.url, &cookie, "wait=0").await;
        assert_eq!(status, 200, "{before}");
        assert!(
            before.get("database_unreachable_since").is_none(),
            "{before}"
        );
        let state = before["state"].as_str().expect("state").to_owned();

        proxy.set(Mode::Drop);
        let (status, during, took) = keepalive(&node.url, &cookie, "wait=0").await;
        assert_eq!(status, 200, "{during}");
        assert!(took < Duration::from_secs(2), "answered at once: {took:?}");
        let since = during["database_unreachable_since"].as_i64();
        assert!(since.is_some(), "says the database is silent: {during}");
        assert_eq!(during["state"], before["state"], "what it last knew");
        assert_eq!(during["nodes"], before["nodes"], "the nodes it last knew");

        // A long poll ends with its wait, still saying so, since the same time.
        let (status, polled, took) =
            keepalive(&node.url, &cookie, &format!("wait=1000&state={state}")).await;
        assert_eq!(status, 200, "{polled}");
        assert!(took < Duration::from_secs(3), "within its wait: {took:?}");
        assert_eq!(polled["database_unreachable_since"].as_i64(), since);

        proxy.set(Mode::Pass);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, after, _) = keepalive(&node.url, &cookie, "wait=0").await;
            if status == 200 && after.get("database_unreachable_since").is_none() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "never recovered: {status} {after}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        node.kill();
    }
}

/// A node frozen inside a transaction (SIGSTOP, a hung process) holds its
/// row locks. Another node's write waiting on them gives up after
/// `lock_timeout` with `503 timeout`, instead of holding its connection for
/// as long as the freeze lasts (which, under load, emptied the other nodes'
/// pools and stalled every console); and the frozen session is ended after
/// `idle_in_transaction_session_timeout`, which releases the locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_frozen_inside_a_transaction_holds_the_others_back_only_briefly() {
    for db in testkit::databases().await {
        if db.engine != "postgres" {
            continue;
        }
        let node = TestNode::start(testkit::config(&db, "frozen-a", NodeRole::Active)).await;
        let store = server::db::Db::connect(&db.url).await.expect("connect");
        let product = testkit::two_way_product(&store, "held").await;
        let cookie = login(&node.url).await;
        let queue = || async {
            let started = Instant::now();
            let (status, body) = crate::common::post(
                &format!("{}/api/v1/commands", node.url),
                Some(&cookie),
                serde_json::json!({"product_id": product, "kind": "ping", "args": {}}),
            )
            .await;
            (status.as_u16(), body, started.elapsed())
        };
        assert_eq!(queue().await.0, 201, "queues while nothing holds the row");

        // The "frozen node": a node's session (with the settings every node
        // connection gets) locked the product's row inside a transaction,
        // and then said nothing more.
        let mut frozen = store.pool().acquire().await.expect("a node's connection");
        sqlx::query("BEGIN")
            .execute(&mut *frozen)
            .await
            .expect("begin");
        sqlx::query("SELECT id FROM products WHERE id = $1 FOR UPDATE")
            .bind(&product)
            .execute(&mut *frozen)
            .await
            .expect("lock the row");
        let locked_at = Instant::now();

        let (status, body, took) = queue().await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("timeout")),
            "{body}"
        );
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_secs(8),
            "gave up after the lock timeout: {took:?}"
        );

        // Once the frozen session has been ended, the same call goes through.
        let deadline = locked_at + Duration::from_secs(20);
        loop {
            let (status, body, _) = queue().await;
            if status == 201 {
                break;
            }
            assert!(Instant::now() < deadline, "still held: {status} {body}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            locked_at.elapsed() >= Duration::from_secs(9),
            "released by the session's end, not before"
        );
        assert!(
            sqlx::query("SELECT 1").execute(&mut *frozen).await.is_err(),
            "the frozen session was ended"
        );
        drop(frozen);
        store.close().await;
        node.kill();
    }
}
