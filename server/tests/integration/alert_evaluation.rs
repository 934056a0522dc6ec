//! Alert evaluation on real nodes, on both databases: a fleet alert fires
//! once however many nodes have it enabled, and clears; a node alert is
//! evaluated by each node over its own products only.

use crate::common;

use std::time::{Duration, Instant};

use app::api::NodeRole;
use common::alerts::{alert, enable_on, firings_until, products, receiver, set};
use common::{get, login, post};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::db::Db;
use testkit::{self, TestNode};

#[tokio::test]
async fn a_fleet_alert_fires_once_across_nodes_and_clears() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let store = Db::connect(&db.url).await.unwrap();
        let admin = login(&a.url).await;
        let ids = products(&a.url, 12).await;
        set(&store, &ids, "online", "node-a").await;

        let (status, made) = post(
            &format!("{}/api/v1/content", a.url),
            Some(&admin),
            alert("Ten down", "fleet", "rows > 9"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        enable_on(&a.url, &admin, &id, "node-b").await;

        set(&store, &ids[..10], "offline", "node-a").await;
        let open = firings_until(&a.url, &admin, db.engine, |f| !f.is_empty()).await;
        assert_eq!(open.len(), 1, "{}: {open:?}", db.engine);
        assert_eq!(open[0]["matched"], 10);
        assert_eq!(open[0]["key"], "");
        let samples = open[0]["samples"].as_array().unwrap();
        assert_eq!(
            samples.len(),
            3,
            "a few rows, read as it opened: {samples:?}"
        );
        // Another period on both nodes opens nothing more.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let (_, all) = get(&format!("{}/api/v1/alerts/firings", b.url), Some(&admin)).await;
        assert_eq!(all.as_array().unwrap().len(), 1, "{}: {all}", db.engine);

        set(&store, &ids[..10], "online", "node-a").await;
        firings_until(&a.url, &admin, db.engine, |f| f.is_empty()).await;
        let (_, all) = get(&format!("{}/api/v1/alerts/firings", a.url), Some(&admin)).await;
        assert!(all[0]["cleared_at"].is_i64(), "{all}");
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn a_node_alert_is_evaluated_by_each_node_over_its_own_products() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let store = Db::connect(&db.url).await.unwrap();
        let admin = login(&a.url).await;
        let ids = products(&a.url, 10).await;
        set(&store, &ids[..5], "offline", "node-a").await;
        set(&store, &ids[5..], "offline", "node-b").await;

        // Tried first: each node would fire for its own five.
        let test = |scope: &str, condition: &str| {
            json!({"definition": "products where status = offline",
                   "alert": {"condition": condition, "period": "10s", "scope": scope}})
        };
        let try_on = |node: &str, body: Value| {
            let (node, admin) = (node.to_owned(), admin.clone());
            async move { post(&format!("{node}/api/v1/alerts/test"), Some(&admin), body).await }
        };
        let (status, tried) = try_on(&a.url, test("node", "rows > 4")).await;
        assert_eq!(status, StatusCode::OK, "{tried}");
        assert_eq!(
            tried,
            json!({"over": "node-a", "fires": [{"key": "node-a/", "matched": 5}]}),
            "{}",
            db.engine
        );
        let (_, tried) = try_on(&b.url, test("fleet", "rows > 9")).await;
        assert_eq!(
            tried,
            json!({"over": "fleet", "fires": [{"key": "", "matched": 10}]}),
            "{}",
            db.engine
        );
        let (_, tried) = try_on(&b.url, test("fleet", "rows > 10")).await;
        assert_eq!(tried["fires"], json!([]));
        // Per product: one key per offline product.
        let (_, tried) = try_on(&a.url, test("fleet", "per product")).await;
        let fires = tried["fires"].as_array().unwrap();
        assert_eq!(fires.len(), 10, "{}: {tried}", db.engine);
        assert!(fires
            .iter()
            .all(|f| f["matched"] == 1 && ids.contains(&f["key"].as_str().unwrap().to_owned())));
        let (status, made) = post(
            &format!("{}/api/v1/content", a.url),
            Some(&admin),
            alert("Five down here", "node", "rows > 4"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        let started = server::cluster::now_ms() - 1_000;
        enable_on(&a.url, &admin, &id, "node-b").await;

        let open = firings_until(&a.url, &admin, db.engine, |f| f.len() == 2).await;
        let mut keys: Vec<&str> = open.iter().map(|f| f["key"].as_str().unwrap()).collect();
        keys.sort();
        assert_eq!(keys, ["node-a/", "node-b/"], "{}", db.engine);
        for f in &open {
            assert_eq!(f["matched"], 5);
            assert_eq!(f["samples"].as_array().map(Vec::len), Some(3), "{f}");
            assert_eq!(
                format!("{}/", f["node"].as_str().unwrap()),
                f["key"].as_str().unwrap(),
                "each node fires for its own products"
            );
        }
        let records = server::alerts::store::evaluations(&store, &id, started)
            .await
            .unwrap();
        assert!(!records.is_empty());
        for (node, homes, _) in &records {
            assert_eq!(node, homes, "{}: {node} evaluated {homes}", db.engine);
        }
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn each_firing_and_clear_reaches_the_webhook_once_signed_even_after_it_was_down() {
    use std::sync::atomic::{AtomicBool, Ordering};
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let store = Db::connect(&db.url).await.unwrap();
        let admin = login(&a.url).await;
        let down = std::sync::Arc::new(AtomicBool::new(true));
        let (hook, got) = receiver(down.clone()).await;
        let ids = products(&a.url, 3).await;
        set(&store, &ids, "online", "node-a").await;
        let mut body = alert("Two down", "fleet", "rows > 1");
        body["alert"]["webhooks"] = json!([hook]);
        let (status, made) = post(&format!("{}/api/v1/content", a.url), Some(&admin), body).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(made["alert"]["spec"]["webhooks"], json!([hook]));
        let secret = made["alert"]["secrets"][0]["secret"]
            .as_str()
            .unwrap()
            .to_owned();

        set(&store, &ids[..2], "offline", "node-a").await;
        firings_until(&a.url, &admin, db.engine, |f| f.len() == 1).await;
        // The receiver is down for a few tries, then comes back.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(got.lock().unwrap().is_empty());
        down.store(false, Ordering::SeqCst);
        set(&store, &ids[..2], "online", "node-a").await;
        let start = Instant::now();
        while got.lock().unwrap().len() < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(45),
                "{}: {:?}",
                db.engine,
                got.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = got.lock().unwrap().clone();
        assert_eq!(
            got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(),
            ["fire", "clear"],
            "{}",
            db.engine
        );
        for (event, key, signature, body) in &got {
            assert_eq!(
                signature,
                &server::alerts::signature(&secret, body),
                "{event}"
            );
            assert!(key.ends_with(&format!(":{event}")));
            let sent: Value = serde_json::from_str(body).unwrap();
            assert_eq!(sent["alert"], "Two down");
        }
        assert_eq!(
            got[0].1.split(':').next(),
            got[1].1.split(':').next(),
            "one firing"
        );
        a.stop().await;
    }
}

/// The node evaluating a fleet alert dies: another node where it is
/// enabled takes the evaluation over, and the firing stays one firing.
#[tokio::test]
async fn a_fleet_alert_moves_to_another_node_when_its_evaluator_dies() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let store = Db::connect(&db.url).await.unwrap();
        let admin = login(&b.url).await;
        let ids = products(&b.url, 3).await;
        set(&store, &ids, "offline", "node-b").await;
        let (status, made) = post(
            &format!("{}/api/v1/content", a.url),
            Some(&admin),
            alert("Two down", "fleet", "rows > 1"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        enable_on(&a.url, &admin, &id, "node-b").await;
        let open = firings_until(&b.url, &admin, db.engine, |f| f.len() == 1).await;
        let evaluator = open[0]["node"].as_str().unwrap().to_owned();
        let (dead, alive) = if evaluator == "node-a" {
            (a, b)
        } else {
            (b, a)
        };
        let admin = login(&alive.url).await;
        dead.kill();
        let killed = server::cluster::now_ms();

        set(&store, &ids, "online", "node-b").await;
        firings_until(&alive.url, &admin, db.engine, |f| f.is_empty()).await;
        // The next evaluation comes at the alert's next point in its period
        // (10 s), from the other node: well within two periods.
        let took = server::cluster::now_ms() - killed;
        eprintln!(
            "{}: cleared by the other node {took} ms after the evaluator died",
            db.engine
        );
        assert!(took < 20_000, "{}: {took} ms", db.engine);
        let (_, all) = get(
            &format!("{}/api/v1/alerts/firings", alive.url),
            Some(&admin),
        )
        .await;
        assert_eq!(
            all.as_array().unwrap().len(),
            1,
            "{}: one firing, opened and cleared: {all}",
            db.engine
        );
        let records = server::alerts::store::evaluations(&store, &id, killed)
            .await
            .unwrap();
        assert!(
            records.iter().any(|(node, _, _)| node != &evaluator),
            "{}: nobody took over: {records:?}",
            db.engine
        );
        alive.stop().await;
    }
}
