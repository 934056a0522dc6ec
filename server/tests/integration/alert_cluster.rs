//! Alerts on three real node processes sharing one database, one of them
//! killed with SIGKILL, on both engines: a fleet alert fires and notifies
//! once and moves to another node within one period; a node alert covers
//! the products homed on the nodes where it is enabled, adopts those of a
//! dead one, and no product is evaluated twice in one period.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::alerts::{alert, enable_on, firings_until, products, receiver, set};
use common::{get, login, post};
use reqwest::StatusCode;
use serde_json::json;
use server::cluster::now_ms;
use server::db::Db;
use sqlx::Row;
use testkit::process::NodeProcess;
use testkit::TestDb;

const PERIOD_MS: i64 = 10_000;

/// Nodes `node-a`, `node-b` and `node-c` as processes on `db`.
async fn cluster(db: &TestDb) -> Vec<NodeProcess> {
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(
            NodeProcess::start(
                Path::new(env!("CARGO_BIN_EXE_vigil")),
                db,
                name,
                // Test products never beat; their status is set by hand.
                &[("VIGIL_HEARTBEAT_INTERVAL", "1h")],
            )
            .await,
        );
    }
    nodes
}

/// Every firing of an alert: key, opening node, whether it is cleared.
async fn firings(store: &Db, alert: &str) -> Vec<(String, String, bool)> {
    sqlx::query("SELECT key, node, cleared_at FROM alert_firings WHERE item_id = $1 ORDER BY key")
        .bind(alert)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let cleared: Option<i64> = r.get("cleared_at");
            (r.get("key"), r.get("node"), cleared.is_some())
        })
        .collect()
}

/// Waits for an evaluation of `alert` since `since` that `wanted` accepts;
/// its time.
async fn evaluation_when(
    store: &Db,
    alert: &str,
    since: i64,
    what: &str,
    wanted: impl Fn(&str, &str) -> bool,
) -> i64 {
    loop {
        let records = server::alerts::store::evaluations(store, alert, since)
            .await
            .unwrap();
        if let Some((_, _, at)) = records.iter().find(|(n, h, _)| wanted(n, h)) {
            return *at;
        }
        assert!(now_ms() - since < 4 * PERIOD_MS, "{what}: {records:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_fleet_alert_on_three_nodes_fires_and_notifies_once_through_a_kill_9() {
    for db in testkit::databases().await {
        let mut nodes = cluster(&db).await;
        let store = Db::connect(&db.url).await.unwrap();
        let admin = login(&nodes[0].url).await;
        let down = Arc::new(AtomicBool::new(true));
        let (hook, got) = receiver(down.clone()).await;
        let ids = products(&nodes[0].url, 3).await;
        set(&store, &ids, "online", "node-a").await;
        let mut body = alert("Two down", "fleet", "rows > 1");
        body["alert"]["webhooks"] = json!([hook]);
        let (status, made) = post(
            &format!("{}/api/v1/content", nodes[0].url),
            Some(&admin),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        let secret = made["alert"]["secrets"][0]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        for node in ["node-b", "node-c"] {
            enable_on(&nodes[0].url, &admin, &id, node).await;
        }

        set(&store, &ids[..2], "offline", "node-a").await;
        let open = firings_until(&nodes[0].url, &admin, db.engine, |f| f.len() == 1).await;
        let receiver_down = Instant::now();
        let firing = open[0]["id"].as_str().unwrap().to_owned();
        let evaluator = open[0]["node"].as_str().unwrap().to_owned();

        let dead = nodes.iter().position(|n| n.name == evaluator).unwrap();
        nodes[dead].kill().await;
        let killed = now_ms();
        let alive = nodes[(dead + 1) % 3].url.clone();
        let admin = login(&alive).await;
        let taken = evaluation_when(&store, &id, killed, "nobody took over", |node, _| {
            node != evaluator
        })
        .await;
        eprintln!(
            "{}: another node evaluated {} ms after the evaluator was killed",
            db.engine,
            taken - killed
        );
        assert!(
            taken - killed <= PERIOD_MS + 1_500,
            "{}: taken over after {} ms",
            db.engine,
            taken - killed
        );
        let open = firings_until(&alive, &admin, db.engine, |f| f.len() == 1).await;
        assert_eq!(open[0]["id"], firing.as_str(), "still the one firing");

        set(&store, &ids[..2], "online", "node-a").await;
        firings_until(&alive, &admin, db.engine, |f| f.is_empty()).await;
        assert_eq!(firings(&store, &id).await.len(), 1, "{}", db.engine);

        // The receiver was down for 30 s: it gets both events once back.
        tokio::time::sleep(Duration::from_secs(30).saturating_sub(receiver_down.elapsed())).await;
        assert!(got.lock().unwrap().is_empty());
        down.store(false, Ordering::SeqCst);
        let back = Instant::now();
        while got.lock().unwrap().len() < 2 {
            assert!(back.elapsed() < Duration::from_secs(60), "{}", db.engine);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!(
            "{}: both events delivered {} ms after the receiver came back",
            db.engine,
            back.elapsed().as_millis()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = got.lock().unwrap().clone();
        let events: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(events, ["fire", "clear"], "{}", db.engine);
        for (event, key, signature, body) in &got {
            assert_eq!(key, &format!("{firing}:{event}"));
            assert_eq!(signature, &server::alerts::signature(&secret, body));
        }
        let outbox: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT event, delivered_at FROM alert_outbox WHERE firing_id = $1")
                .bind(&firing)
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(outbox.len(), 2, "one delivery per event: {outbox:?}");
        assert!(outbox.iter().all(|(_, at)| at.is_some()), "{outbox:?}");
    }
}

/// Each home's evaluation times, from the records of `alert` since `since`.
async fn evaluated_homes(store: &Db, alert: &str, since: i64) -> BTreeMap<String, Vec<i64>> {
    let mut homes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (_, evaluated, at) in server::alerts::store::evaluations(store, alert, since)
        .await
        .unwrap()
    {
        for home in evaluated.split(',') {
            homes.entry(home.to_owned()).or_default().push(at);
        }
    }
    homes
}

#[tokio::test]
async fn a_node_alert_covers_its_nodes_and_adopts_a_dead_ones_products_once_per_period() {
    for db in testkit::databases().await {
        let mut nodes = cluster(&db).await;
        let store = Db::connect(&db.url).await.unwrap();
        let fleet = testkit::fleet::Fleet {
            products: 300,
            changes_per_product: 0,
            commands_per_product: 0,
            logs_per_product: 0,
            seed: 17,
            now_ms: now_ms(),
        };
        testkit::fleet::fill(&store, &fleet).await.unwrap();
        let ids: Vec<String> = (0..300).map(testkit::fleet::product_id).collect();
        for (i, home) in ["node-a", "node-b", "node-c"].iter().enumerate() {
            set(&store, &ids[i * 100..(i + 1) * 100], "offline", home).await;
        }
        let admin = login(&nodes[0].url).await;
        let started = now_ms();
        let (status, made) = post(
            &format!("{}/api/v1/content", nodes[0].url),
            Some(&admin),
            alert("Each down", "node", "per product"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        enable_on(&nodes[0].url, &admin, &id, "node-b").await;

        // Each of the 200 products homed on node-a and node-b fires, from
        // its home; node-c's are not covered.
        let start = Instant::now();
        while firings(&store, &id).await.len() < 200 {
            assert!(start.elapsed() < Duration::from_secs(30), "{}", db.engine);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let open = firings(&store, &id).await;
        assert_eq!(open.len(), 200, "{}", db.engine);
        for (key, node, _) in &open {
            assert!(
                key.starts_with(&format!("{node}/")),
                "{key} fired by {node}"
            );
        }
        let coverage = |via: String| {
            let admin = admin.clone();
            let id = id.clone();
            async move {
                let (status, c) =
                    get(&format!("{via}/api/v1/alerts/{id}/coverage"), Some(&admin)).await;
                assert_eq!(status, StatusCode::OK, "{c}");
                c
            }
        };
        let c = coverage(nodes[0].url.clone()).await;
        assert_eq!(
            (&c["nodes"], &c["uncovered"]),
            (
                &json!([{"node": "node-a", "operational": true, "products": 100},
                        {"node": "node-b", "operational": true, "products": 100}]),
                &json!(100)
            ),
            "{}: {c}",
            db.engine
        );

        nodes[1].kill().await;
        let killed = now_ms();
        let adopted = evaluation_when(&store, &id, killed, "node-b's products adopted", |n, h| {
            n == "node-a" && h.split(',').any(|home| home == "node-b")
        })
        .await;
        eprintln!(
            "{}: node-b's products adopted {} ms after it was killed",
            db.engine,
            adopted - killed
        );
        let c = coverage(nodes[0].url.clone()).await;
        assert_eq!(
            c["nodes"],
            json!([{"node": "node-a", "operational": true, "products": 200},
                   {"node": "node-b", "operational": false, "products": 0}]),
            "{}: {c}",
            db.engine
        );
        // The adopter does the work: ten of node-b's products come back and
        // their firings clear.
        set(&store, &ids[100..110], "online", "node-b").await;
        let start = Instant::now();
        while firings(&store, &id).await.iter().filter(|f| f.2).count() < 10 {
            assert!(start.elapsed() < Duration::from_secs(25), "{}", db.engine);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        let homes = evaluated_homes(&store, &id, started).await;
        assert!(!homes.contains_key("node-c"), "{}: {homes:?}", db.engine);
        for (home, times) in &homes {
            assert!(times.len() >= 3, "{}: {home} {times:?}", db.engine);
            for pair in times.windows(2) {
                assert!(
                    pair[1] - pair[0] >= PERIOD_MS / 2,
                    "{}: {home}'s products evaluated twice in one period: {times:?}",
                    db.engine
                );
            }
        }
        let all = firings(&store, &id).await;
        assert_eq!(all.len(), 200, "{}: no key fired twice", db.engine);
        assert!(all.iter().all(|(key, ..)| !key.starts_with("node-c/")));
    }
}
