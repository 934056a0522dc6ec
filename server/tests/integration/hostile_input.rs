//! What an attacker's traffic costs and gains, on both databases: made-up
//! product ids are refused from memory, a forced key reload does not open
//! the door to a replay, and activity data nested too deeply is refused on
//! both transports rather than stored as nothing.

use crate::common;

use std::time::{Duration, Instant};

use common::products::*;
use common::{client, error_code};
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use testkit::{self, TestNode};
use tokio::net::UdpSocket;

/// A value of `/metrics` outside the datagram counters.
async fn gauge(node: &str, name: &str) -> u64 {
    common::metric_value(node, name)
        .await
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// Waits until `node`'s count of `result` reaches `n`, up to `within`.
async fn wait_metric(node: &str, result: &str, n: u64, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if metric(node, result).await >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metric(node, result).await >= n
}

#[tokio::test]
async fn unknown_ids_cost_no_query_and_products_registered_elsewhere_are_heard_within_a_second() {
    for db in testkit::databases().await {
        let engine = db.engine;
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let b = TestNode::start(fast_config(&db, "node-b")).await;
        let a_udp = registered(&a.url, &new_uuid()).await.udp;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let lookups = gauge(&a.url, "vigil_product_key_lookups_total").await;
        for _ in 0..50 {
            let stranger = Product {
                id: new_uuid(),
                key: "11".repeat(32),
                udp: a_udp.clone(),
            };
            let d = datagram(&stranger, Kind::Heartbeat, 1, b"");
            socket.send_to(&d, &a_udp).await.unwrap();
        }
        assert!(
            wait_metric(&a.url, "unknown_product", 50, Duration::from_secs(2)).await,
            "{engine}"
        );
        assert_eq!(
            gauge(&a.url, "vigil_product_key_lookups_total").await,
            lookups,
            "{engine}: made-up ids reached the database"
        );
        assert!(
            gauge(&a.url, "vigil_udp_kernel_drops").await < 50,
            "{engine}"
        );

        // Registered on node B, heard on node A within a second.
        let p = registered(&b.url, &new_uuid()).await;
        let registered_at = Instant::now();
        let accepted = metric(&a.url, "accepted").await;
        let mut seq = 0;
        while metric(&a.url, "accepted").await == accepted {
            assert!(
                registered_at.elapsed() < Duration::from_millis(1_500),
                "{engine}: node A still does not know the product"
            );
            seq += 1;
            let d = datagram(&p, Kind::Heartbeat, seq, b"");
            socket.send_to(&d, &a_udp).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        a.stop().await;
        b.stop().await;
    }
}

/// A badly signed datagram makes the node read the key again, from a
/// database whose `last_seq` lags the flush; the sequence accepted in
/// memory must still count, so the captured datagram is a replay.
#[tokio::test]
async fn a_forced_key_reload_does_not_allow_a_replay() {
    for db in testkit::databases().await {
        let engine = db.engine;
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let p = registered(&a.url, &new_uuid()).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Old enough for a bad tag to cause a reload.
        tokio::time::sleep(server::products::keys::RELOAD_AFTER + Duration::from_millis(100)).await;
        let captured = datagram(&p, Kind::Heartbeat, 10, b"");
        socket.send_to(&captured, &p.udp).await.unwrap();
        assert!(
            wait_metric(&a.url, "accepted", 1, Duration::from_secs(1)).await,
            "{engine}"
        );
        let forged = Product {
            id: p.id.clone(),
            key: "22".repeat(32),
            udp: p.udp.clone(),
        };
        socket
            .send_to(&datagram(&forged, Kind::Heartbeat, 11, b""), &p.udp)
            .await
            .unwrap();
        assert!(
            wait_metric(&a.url, "bad_tag", 1, Duration::from_secs(1)).await,
            "{engine}"
        );
        socket.send_to(&captured, &p.udp).await.unwrap();
        assert!(
            wait_metric(&a.url, "replay", 1, Duration::from_secs(1)).await,
            "{engine}: the captured datagram was accepted again"
        );
        assert_eq!(metric(&a.url, "accepted").await, 1, "{engine}");
        a.stop().await;
    }
}

/// `{"a":{"a":…}}` with `depth` objects.
fn nested(depth: usize) -> String {
    let mut text = String::from("1");
    for _ in 0..depth {
        text = format!("{{\"a\":{text}}}");
    }
    text
}

async fn heartbeat_with(node: &str, p: &Product, body: String) -> (u16, Value) {
    let response = client()
        .post(format!("{node}/api/v1/products/{}/heartbeat", p.id))
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn activity_nested_too_deeply_is_refused_on_both_transports() {
    for db in testkit::databases().await {
        let engine = db.engine;
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let p = registered(&a.url, &new_uuid()).await;
        for depth in [33, 100, 200] {
            let (status, body) =
                heartbeat_with(&a.url, &p, format!("{{\"payload\":{}}}", nested(depth))).await;
            assert_eq!(
                (status, error_code(&body)),
                (400, "invalid_activity"),
                "{engine}: depth {depth}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("32 levels"),
                "{body}"
            );
        }
        let (status, body) =
            heartbeat_with(&a.url, &p, format!("{{\"payload\":{}}}", nested(32))).await;
        assert_eq!(status, 204, "{engine}: {body}");

        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let deep = nested(40);
        socket
            .send_to(&datagram(&p, Kind::Heartbeat, 1, deep.as_bytes()), &p.udp)
            .await
            .unwrap();
        assert!(
            wait_metric(&a.url, "malformed", 1, Duration::from_secs(1)).await,
            "{engine}"
        );
        socket
            .send_to(
                &datagram(&p, Kind::Heartbeat, 2, br#"{"cpu":{"load":1}}"#),
                &p.udp,
            )
            .await
            .unwrap();
        assert!(
            wait_metric(&a.url, "accepted", 1, Duration::from_secs(1)).await,
            "{engine}"
        );
        assert_eq!(metric(&a.url, "malformed").await, 1, "{engine}");
        a.stop().await;
    }
}
