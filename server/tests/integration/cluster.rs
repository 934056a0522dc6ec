//! Nodes of one cluster see each other through the shared database, on
//! SQLite and PostgreSQL alike.

use crate::common;

use std::time::{Duration, Instant};

use app::api::NodeRole;
use common::{get, login};
use serde_json::Value;
use testkit::{self, TestNode};

/// `(name, operational)` of every node in `/api/v1/nodes` of `node`.
async fn nodes_seen_by(node: &str, cookie: &str) -> Vec<(String, bool)> {
    let (status, body) = get(&format!("{node}/api/v1/nodes"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body["nodes"]
        .as_array()
        .expect("nodes array")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["operational"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn state_string(node: &str, cookie: &str) -> Vec<i64> {
    let (status, body) = get(&format!("{node}/api/v1/keepalive"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body["state"]
        .as_str()
        .expect("state")
        .split(',')
        .map(|n| n.parse().expect("number"))
        .collect()
}

#[tokio::test]
async fn two_nodes_on_one_database_list_each_other() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Passive)).await;
        for node in [&a.url, &b.url] {
            let cookie = login(node).await;
            let seen = nodes_seen_by(node, &cookie).await;
            assert_eq!(
                seen,
                vec![("node-a".into(), true), ("node-b".into(), true)],
                "{}: nodes seen by {node}",
                db.engine
            );
        }
        let cookie = login(&a.url).await;
        let (_, keepalive) = get(&format!("{}/api/v1/keepalive", a.url), Some(&cookie)).await;
        assert_eq!(keepalive["node"], "node-a");
        let b_entry = &keepalive["nodes"][1];
        assert_eq!(b_entry["name"], "node-b", "{}", db.engine);
        assert_eq!(b_entry["role"], "passive");
        assert_eq!(b_entry["url"], Value::String(b.url.clone()));
        assert!(keepalive["server_time"].as_i64().unwrap() > 1_700_000_000_000);
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn killed_node_becomes_non_operational_within_6_s() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        b.kill();
        let killed = Instant::now();
        loop {
            let seen = nodes_seen_by(&a.url, &cookie).await;
            if seen.contains(&("node-b".into(), false)) {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(6),
                "{}: node-b still operational 6 s after it died: {seen:?}",
                db.engine
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(nodes_seen_by(&a.url, &cookie)
            .await
            .contains(&("node-a".into(), true)));
        a.stop().await;
    }
}

#[tokio::test]
async fn gracefully_stopped_node_is_non_operational_at_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        b.stop().await;
        let seen = nodes_seen_by(&a.url, &cookie).await;
        assert!(
            seen.contains(&("node-b".into(), false)),
            "{}: {seen:?}",
            db.engine
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn state_position_0_moves_when_a_node_joins_or_leaves() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let before = state_string(&a.url, &cookie).await;
        assert_eq!(before.len(), 7, "seven positions");
        // Unchanged while nothing happens, though nodes refresh every second.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(state_string(&a.url, &cookie).await, before, "{}", db.engine);

        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let joined = state_string(&a.url, &cookie).await;
        assert_ne!(joined[0], before[0], "{}: join moves position 0", db.engine);
        assert_eq!(joined[1..], before[1..], "other positions stay");

        b.stop().await;
        let left = state_string(&a.url, &cookie).await;
        assert_ne!(left[0], joined[0], "{}: leave moves position 0", db.engine);
        a.stop().await;
    }
}

#[tokio::test]
async fn restarted_node_is_operational_again() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        b.stop().await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Passive)).await;
        let cookie = login(&a.url).await;
        let (_, body) = get(&format!("{}/api/v1/nodes", a.url), Some(&cookie)).await;
        let b_row = &body["nodes"][1];
        assert_eq!(b_row["operational"], true, "{}", db.engine);
        assert_eq!(b_row["role"], "passive", "role change recorded");
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn healthz_answers_without_login_and_cross_origin() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Passive)).await;
        let response = common::client()
            .get(format!("{}/healthz", a.url))
            .header("Origin", "http://other-node.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["node"], "node-a");
        assert_eq!(body["role"], "passive");
        a.stop().await;
    }
}
