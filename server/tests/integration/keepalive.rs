//! The keep-alive long poll: it answers as soon as a watched counter moves,
//! on any node of the cluster, and otherwise when its wait ends.

use crate::common;

use std::time::{Duration, Instant};

use app::api::NodeRole;
use common::{client, error_code, get, login, metric_value};
use reqwest::header::COOKIE;
use serde_json::{json, Value};
use testkit::{self, TestNode};

async fn keepalive(node: &str, cookie: &str, query: &str) -> (u16, Value) {
    let (status, body) = get(&format!("{node}/api/v1/keepalive?{query}"), Some(cookie)).await;
    (status.as_u16(), body)
}

/// Returns once `count` keep-alives wait on `node` (its gauge says so), so a
/// test changes things only when the polls are surely waiting.
async fn until_waiting(node: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric_value(node, "vigil_keepalive_waiting").await != Some(count) {
        assert!(
            Instant::now() < deadline,
            "{count} keep-alive(s) never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn set_role(node: &str, cookie: &str, name: &str, role: &str) -> u16 {
    client()
        .put(format!("{node}/api/v1/nodes/{name}/role"))
        .header(COOKIE, cookie)
        .json(&json!({ "role": role }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn long_poll_wakes_within_100_ms_of_a_change_on_another_node() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (_, first) = keepalive(&a.url, &cookie, "").await;
        let state = first["state"].as_str().unwrap().to_owned();

        let waiting = {
            let (url, cookie, state) = (a.url.clone(), cookie.clone(), state.clone());
            tokio::spawn(async move {
                let (status, body) =
                    keepalive(&url, &cookie, &format!("state={state}&wait=10000")).await;
                (status, body, Instant::now())
            })
        };
        until_waiting(&a.url, 1).await;

        let changed_at = Instant::now();
        assert_eq!(set_role(&b.url, &cookie, "node-b", "passive").await, 204);
        let (status, body, answered_at) = waiting.await.unwrap();
        let lag = answered_at - changed_at;
        assert_eq!(status, 200);
        assert_ne!(body["state"].as_str().unwrap(), state, "{}", db.engine);
        assert_eq!(body["nodes"][1]["role"], "passive");
        assert!(
            lag < Duration::from_millis(100),
            "{}: answered {lag:?} after the change",
            db.engine
        );
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn long_poll_answers_when_its_wait_ends() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (_, first) = keepalive(&a.url, &cookie, "").await;
        let state = first["state"].as_str().unwrap();
        let started = Instant::now();
        let (status, body) = keepalive(&a.url, &cookie, &format!("state={state}&wait=700")).await;
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert_eq!(body["state"], state, "{}", db.engine);
        assert!(
            took >= Duration::from_millis(650) && took < Duration::from_millis(2000),
            "{took:?}"
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn changes_at_unwatched_positions_do_not_wake_the_poll() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (_, first) = keepalive(&a.url, &cookie, "").await;
        let state = first["state"].as_str().unwrap().to_owned();
        let poll = |watch: &str| {
            let (url, cookie) = (a.url.clone(), cookie.clone());
            let query = format!("state={state}&wait=1500&watch={watch}");
            tokio::spawn(async move { keepalive(&url, &cookie, &query).await })
        };
        let unwatched = poll("1,2");
        until_waiting(&a.url, 1).await;
        // A second poll watches the position that changes: once it has
        // answered, the node has seen the change, and the first must still
        // be waiting.
        let watched = poll("0");
        until_waiting(&a.url, 2).await;
        assert_eq!(set_role(&a.url, &cookie, "node-a", "passive").await, 204);
        let (_, seen) = watched.await.unwrap();
        assert_ne!(seen["state"], state, "{}", db.engine);
        assert_eq!(
            metric_value(&a.url, "vigil_keepalive_waiting").await,
            Some(1),
            "{}: position 0 is not watched by the first poll",
            db.engine
        );
        assert!(!unwatched.is_finished(), "{}", db.engine);
        let (_, body) = unwatched.await.unwrap();
        assert_ne!(
            body["state"], state,
            "the reply still carries the current state"
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn stale_state_answers_at_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let started = Instant::now();
        let (status, _) = keepalive(&a.url, &cookie, "state=0,0,0,0,0,0&wait=10000").await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(1), "{}", db.engine);
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_keepalive_parameters_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        for (query, code) in [
            ("state=1,x&wait=10", "invalid_state"),
            ("watch=zero", "invalid_watch"),
            ("wait=soon", "invalid_query"),
        ] {
            let (status, body) = keepalive(&a.url, &cookie, query).await;
            assert_eq!(status, 400, "{}: {query}", db.engine);
            assert_eq!(error_code(&body), code);
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn shutdown_ends_waiting_polls_at_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (_, first) = keepalive(&a.url, &cookie, "").await;
        let query = format!("state={}&wait=30000", first["state"].as_str().unwrap());
        let waiting = {
            let (url, cookie) = (a.url.clone(), cookie.clone());
            tokio::spawn(async move { keepalive(&url, &cookie, &query).await })
        };
        until_waiting(&a.url, 1).await;
        let started = Instant::now();
        a.stop().await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{}: stop took {:?}",
            db.engine,
            started.elapsed()
        );
        assert_eq!(waiting.await.unwrap().0, 200);
    }
}

#[tokio::test]
async fn only_admins_change_node_roles_and_nodes_adopt_them() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        assert_eq!(
            set_role(&a.url, &cookie, "nobody", "passive").await,
            404,
            "{}",
            db.engine
        );
        assert_eq!(set_role(&a.url, "", "node-a", "passive").await, 401);
        assert_eq!(set_role(&a.url, &cookie, "node-a", "passive").await, 204);
        let (_, health) = get(&format!("{}/healthz", a.url), None).await;
        assert_eq!(health["role"], "passive");
        // The registry refresh that follows keeps the role set by the admin.
        let nodes_url = format!("{}/api/v1/nodes", a.url);
        let (_, before) = get(&nodes_url, Some(&cookie)).await;
        let seen = before["nodes"][0]["last_seen"].as_i64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let nodes = loop {
            let (_, nodes) = get(&nodes_url, Some(&cookie)).await;
            if nodes["nodes"][0]["last_seen"].as_i64().unwrap() > seen {
                break nodes;
            }
            assert!(
                Instant::now() < deadline,
                "the registry was never refreshed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(nodes["nodes"][0]["role"], "passive", "{}", db.engine);
        a.stop().await;
    }
}
