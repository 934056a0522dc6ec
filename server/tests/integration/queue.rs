//! The command queue on both databases: who may queue, one-way delivery by
//! poll (and long poll), two-way delivery by callback, results, leases,
//! retries and time to live.

use crate::common;

use std::time::{Duration, Instant};

use common::products::two_way::Callbacks;
use common::products::*;
use common::queue::*;
use common::{error_code, get, login, post, user_session};
use reqwest::StatusCode;
use serde_json::json;
use testkit::{self, TestNode};

#[tokio::test]
async fn operators_queue_commands_viewers_cannot_and_bad_requests_say_why() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let admin = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let viewer = user_session(&a.url, &admin, "viewer", "viewer").await;
        let operator = user_session(&a.url, &admin, "operator", "operator").await;

        let (status, body) = queue(&a.url, &viewer, &p.id, "ping").await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{}",
            db.engine
        );
        let (status, body) = queue(&a.url, &operator, &p.id, "ping").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            (body["state"].as_str(), body["created_by"].as_str()),
            (Some("queued"), Some("operator"))
        );
        let (status, body) = queue(&a.url, &operator, &p.id, "Rm -rf").await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_command")
        );
        let (status, _) = queue(&a.url, &operator, &new_uuid(), "ping").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = post(
            &format!("{}/api/v1/commands", a.url),
            Some(&operator),
            json!({"product_id": p.id, "kind": "ping", "args": [1]}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_command")
        );

        // The viewer still reads the queue.
        let (status, page) = get(
            &format!("{}/api/v1/commands?state=queued", a.url),
            Some(&viewer),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 1);
        let (status, body) = get(
            &format!("{}/api/v1/commands?state=done", a.url),
            Some(&viewer),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_state")
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn one_way_products_get_commands_by_poll_and_repeated_results_are_harmless() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let b = TestNode::start(queue_config(&db, "node-b")).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let other = registered(&a.url, &new_uuid()).await;
        assert!(
            poll(&b.url, &p, 0).await.is_empty(),
            "{}: nothing queued yet",
            db.engine
        );

        let (_, queued) = queue(&a.url, &cookie, &p.id, "collect_inventory").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        // Any node delivers to a polling product.
        let got = poll(&b.url, &p, 0).await;
        assert_eq!(got.len(), 1, "{}", db.engine);
        assert_eq!(
            (got[0]["id"].as_str(), got[0]["kind"].as_str()),
            (Some(cid.as_str()), Some("collect_inventory"))
        );
        assert_eq!(got[0]["args"], json!({"n": 1}));
        assert!(
            poll(&b.url, &p, 0).await.is_empty(),
            "delivered once while its lease runs"
        );
        assert_eq!(
            command(&a.url, &cookie, &cid).await["command"]["state"],
            "delivered"
        );

        let (status, body) = result(&b.url, &other, &cid, json!({"status": "succeeded"})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "not its command"
        );
        let (status, body) = result(&b.url, &p, &cid, json!({"status": "done"})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_result")
        );
        let ok = json!({"status": "succeeded", "output": {"cpus": 2}});
        assert_eq!(
            result(&b.url, &p, &cid, ok.clone()).await.0,
            StatusCode::NO_CONTENT
        );
        let late = json!({"status": "failed", "output": "again"});
        assert_eq!(
            result(&a.url, &p, &cid, late).await.0,
            StatusCode::NO_CONTENT,
            "repeating is harmless"
        );
        let detail = command(&a.url, &cookie, &cid).await;
        assert_eq!(detail["command"]["state"], "succeeded");
        assert_eq!(detail["output"], r#"{"cpus":2}"#);
        let timeline = notes(&detail);
        assert_eq!(timeline.len(), 3, "{timeline:?}");
        assert!(
            timeline[0].starts_with("node-a queued: queued by admin"),
            "{timeline:?}"
        );
        assert!(timeline[1].starts_with("node-b delivered"), "{timeline:?}");
        assert!(timeline[2].starts_with("node-b succeeded"), "{timeline:?}");
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn a_waiting_poll_returns_as_soon_as_a_command_is_queued_on_another_node() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let b = TestNode::start(queue_config(&db, "node-b")).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let started = Instant::now();
        let waiting = tokio::spawn({
            let (url, p) = (
                b.url.clone(),
                Product {
                    id: p.id.clone(),
                    key: p.key.clone(),
                    udp: p.udp.clone(),
                },
            );
            async move { poll(&url, &p, 10_000).await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        queue(&a.url, &cookie, &p.id, "ping").await;
        let got = waiting.await.unwrap();
        let took = started.elapsed();
        assert_eq!(got.len(), 1, "{}", db.engine);
        assert!(
            took < Duration::from_secs(3),
            "{}: the poll took {took:?}",
            db.engine
        );
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn two_way_products_are_woken_through_their_callback_and_the_wake_is_liveness() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let callbacks = Callbacks::default();
        let base = callbacks.serve([127, 0, 0, 1]).await;
        let (p, _) = callbacks.register(&a.url, &base).await;
        callbacks.set_fetch(&p.id, false);
        assert_eq!(
            handshake(&a.url, &p).await["mode"],
            "two_way",
            "{}",
            db.engine
        );
        // The handshake's callback test is a notification, and proof of
        // life: the product is online without a heartbeat.
        let product = wait_status(&a.url, &cookie, &p.id, "online", Duration::from_secs(3)).await;
        assert_eq!(product["history"][0]["cause"], "notification answered");
        callbacks.set_fetch(&p.id, true);

        let (_, queued) = queue(&a.url, &cookie, &p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap();
        let detail = wait_state(&a.url, &cookie, cid, "succeeded", Duration::from_secs(5)).await;
        let timeline = notes(&detail);
        assert!(
            timeline[1].contains("dispatched: claimed as the product's home node"),
            "{timeline:?}"
        );
        assert!(
            timeline
                .iter()
                .any(|n| n.contains("product notified (callback answered)")),
            "{timeline:?}"
        );
        assert!(
            timeline.iter().any(|n| n.starts_with("node-a delivered")),
            "{timeline:?}"
        );
        assert_eq!(
            callbacks
                .bad_signatures
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn unreachable_two_way_products_are_retried_with_backoff_then_dead() {
    for db in testkit::databases().await {
        let mut config = queue_config(&db, "node-a");
        config.queue_max_attempts = 3;
        let a = TestNode::start(config).await;
        let cookie = login(&a.url).await;
        let callbacks = Callbacks::default();
        let base = callbacks.serve([127, 0, 0, 1]).await;
        let (p, _) = callbacks.register(&a.url, &base).await;
        assert_eq!(handshake(&a.url, &p).await["mode"], "two_way");
        callbacks.set_answer(&p.id, 503);

        let (_, queued) = queue(&a.url, &cookie, &p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap();
        let detail = wait_state(&a.url, &cookie, cid, "dead", Duration::from_secs(10)).await;
        assert_eq!(detail["command"]["attempts"], 3, "{}", db.engine);
        let timeline = notes(&detail);
        let releases: Vec<&String> = timeline
            .iter()
            .filter(|n| n.contains("released, retry in"))
            .collect();
        assert_eq!(releases.len(), 2, "{timeline:?}");
        assert!(
            timeline
                .last()
                .unwrap()
                .contains("callback failed: HTTP 503; dead after 3 attempt(s)"),
            "{timeline:?}"
        );
        let events = detail["events"].as_array().unwrap();
        let claims: Vec<i64> = events
            .iter()
            .filter(|e| e["state"] == "dispatched")
            .map(|e| e["at"].as_i64().unwrap())
            .collect();
        assert_eq!(claims.len(), 3);
        // Backoff: 100–200 ms, then 200–400 ms (plus at most a dispatcher tick).
        assert!(claims[1] - claims[0] >= 100, "{claims:?}");
        assert!(claims[2] - claims[1] >= 200, "{claims:?}");
        a.stop().await;
    }
}

#[tokio::test]
async fn an_unanswered_delivery_is_queued_again_when_its_lease_runs_out() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let (_, queued) = queue(&a.url, &cookie, &p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap();
        assert_eq!(poll(&a.url, &p, 0).await.len(), 1);
        // No result: after the 2 s lease (and a backoff) it comes again.
        let detail = wait_state(&a.url, &cookie, cid, "queued", Duration::from_secs(5)).await;
        assert!(
            notes(&detail)
                .last()
                .unwrap()
                .contains("lease of node-a ran out; queued again"),
            "{}",
            db.engine
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = poll(&a.url, &p, 0).await;
        assert_eq!(again.len(), 1, "at-least-once: delivered again");
        assert_eq!(again[0]["id"], cid);
        assert_eq!(
            command(&a.url, &cookie, cid).await["command"]["attempts"],
            2
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn commands_past_their_time_to_live_expire() {
    for db in testkit::databases().await {
        let mut config = queue_config(&db, "node-a");
        config.command_ttl = Duration::from_secs(1);
        let a = TestNode::start(config).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let (_, queued) = queue(&a.url, &cookie, &p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap();
        let detail = wait_state(&a.url, &cookie, cid, "expired", Duration::from_secs(4)).await;
        assert!(
            notes(&detail).last().unwrap().contains("time to live"),
            "{}",
            db.engine
        );
        assert!(
            poll(&a.url, &p, 0).await.is_empty(),
            "expired commands are not delivered"
        );
        a.stop().await;
    }
}

/// A product may report only on what it was handed: a result for a command
/// it never fetched is refused (the command keeps waiting), one for another
/// product's command is not found.
#[tokio::test]
async fn a_result_for_a_command_not_yet_fetched_is_refused() {
    for db in testkit::databases().await {
        let a = TestNode::start(queue_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let p = registered(&a.url, &new_uuid()).await;
        let other = registered(&a.url, &new_uuid()).await;
        let (_, queued) = queue(&a.url, &cookie, &p.id, "ping").await;
        let cid = queued["id"].as_str().unwrap().to_owned();
        let forged = json!({"status": "succeeded", "output": "forged"});
        let (status, body) = result(&a.url, &p, &cid, forged.clone()).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "not_delivered"),
            "{}: {body}",
            db.engine
        );
        let (status, body) = result(&a.url, &other, &cid, forged).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{}",
            db.engine
        );
        assert_eq!(
            command(&a.url, &cookie, &cid).await["command"]["state"],
            "queued"
        );
        assert_eq!(poll(&a.url, &p, 0).await.len(), 1, "{}", db.engine);
        let ok = json!({"status": "succeeded", "output": "pong"});
        assert_eq!(result(&a.url, &p, &cid, ok).await.0, StatusCode::NO_CONTENT);
        let detail = command(&a.url, &cookie, &cid).await;
        assert_eq!(detail["output"], "pong", "{}", db.engine);
        a.stop().await;
    }
}
