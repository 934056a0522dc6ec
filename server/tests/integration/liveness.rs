//! Liveness from every source, the offline sweep, bad input of every kind,
//! and no false offline when a node dies or the database stops writing.

use crate::common;

use std::time::{Duration, Instant};

use common::products::*;
use common::{client, error_code, login};
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use testkit::{self, TestNode};
use tokio::net::UdpSocket;

#[tokio::test]
async fn every_source_of_liveness_keeps_a_product_online_and_silence_makes_it_offline() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sources = ["udp", "heartbeat", "logs", "commands"];
        let mut products = Vec::new();
        for _ in sources {
            products.push(registered(&a.url, &new_uuid()).await);
        }
        // 4 s of liveness every 400 ms, twice the offline delay.
        for round in 1..=10u64 {
            for (source, p) in sources.iter().zip(&products) {
                match *source {
                    "udp" => {
                        let payload = json!({"load": round}).to_string();
                        socket
                            .send_to(
                                &datagram(p, Kind::Heartbeat, round, payload.as_bytes()),
                                &p.udp,
                            )
                            .await
                            .unwrap();
                    }
                    "logs" => {
                        let logs = json!({"entries": [{"at": 1, "level": "info", "message": format!("round {round}")}]});
                        assert_eq!(call(&a.url, p, "logs", logs).await, 202);
                    }
                    "heartbeat" => assert_eq!(
                        call(&a.url, p, "heartbeat", json!({"payload": {"cpu": round}})).await,
                        204
                    ),
                    _ => assert_eq!(call(&a.url, p, "commands", Value::Null).await, 200),
                }
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
            if round >= 4 {
                for (source, p) in sources.iter().zip(&products) {
                    let body = status_of(&a.url, &cookie, &p.id).await;
                    assert_eq!(
                        body["product"]["status"], "online",
                        "{}: {source} round {round}",
                        db.engine
                    );
                }
            }
        }
        // The last datagram's activity is written by the next flush (≤ 1 s).
        let mut udp = status_of(&a.url, &cookie, &products[0].id).await;
        for _ in 0..30 {
            if udp["activity"] == json!({"load": 10}) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            udp = status_of(&a.url, &cookie, &products[0].id).await;
        }
        assert_eq!(
            udp["activity"],
            json!({"load": 10}),
            "{}: latest UDP activity",
            db.engine
        );
        assert_eq!(udp["product"]["home_node"], "node-a");
        let logs = status_of(&a.url, &cookie, &products[2].id).await;
        assert_eq!(logs["logs"][0]["message"], "round 10");

        // Silence: offline after 2 s (+ flush and sweep, each every second).
        for p in &products {
            let body = wait_status(&a.url, &cookie, &p.id, "offline", Duration::from_secs(6)).await;
            let history: Vec<(String, String)> = body["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["from"].as_str().unwrap().into(),
                        t["to"].as_str().unwrap().into(),
                    )
                })
                .collect();
            assert_eq!(
                history,
                vec![
                    ("online".into(), "offline".into()),
                    ("pending".into(), "online".into())
                ],
                "{}",
                db.engine
            );
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_datagrams_are_dropped_counted_and_the_listener_keeps_serving() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let p = registered(&a.url, &new_uuid()).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();

        // Random bytes, sent at a pace the loopback buffer can take.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for i in 0..100_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 1200) as usize;
            let bytes: Vec<u8> = (0..len).map(|j| (state >> (j % 56)) as u8).collect();
            socket.send_to(&bytes, &p.udp).await.unwrap();
            if i % 200 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let stranger = Product {
            id: new_uuid(),
            key: p.key.clone(),
            udp: p.udp.clone(),
        };
        socket
            .send_to(&datagram(&stranger, Kind::Heartbeat, 1, b""), &p.udp)
            .await
            .unwrap();
        let forged = Product {
            id: p.id.clone(),
            key: "00".repeat(32),
            udp: p.udp.clone(),
        };
        socket
            .send_to(&datagram(&forged, Kind::Heartbeat, 1, b""), &p.udp)
            .await
            .unwrap();
        let good = datagram(&p, Kind::Heartbeat, 5, b"");
        socket.send_to(&good, &p.udp).await.unwrap();
        socket.send_to(&good, &p.udp).await.unwrap(); // replay
        let id = *uuid::Uuid::parse_str(&p.id).unwrap().as_bytes();
        let old = protocol::encode(
            Kind::Heartbeat,
            id,
            9,
            now_ms() - 10 * 60 * 1000,
            b"",
            &hex::decode(&p.key).unwrap(),
        );
        socket.send_to(&old, &p.udp).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Every random datagram is malformed; the kernel may drop a few
        // before the node sees them, never the node.
        let malformed = metric(&a.url, "malformed").await;
        assert!(
            malformed > 99_000,
            "{}: {malformed} malformed counted",
            db.engine
        );
        assert_eq!(metric(&a.url, "unknown_product").await, 1);
        assert_eq!(metric(&a.url, "bad_tag").await, 1);
        assert_eq!(metric(&a.url, "replay").await, 1);
        assert_eq!(metric(&a.url, "stale").await, 1);
        assert_eq!(metric(&a.url, "accepted").await, 1);

        // Still serving: the next valid heartbeat is accepted.
        socket
            .send_to(&datagram(&p, Kind::Heartbeat, 6, b""), &p.udp)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(metric(&a.url, "accepted").await, 2, "{}", db.engine);
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_product_calls_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let p = registered(&a.url, &new_uuid()).await;
        let wrong = Product {
            id: p.id.clone(),
            key: "ab".repeat(32),
            udp: p.udp.clone(),
        };
        assert_eq!(
            call(&a.url, &wrong, "heartbeat", json!({})).await,
            401,
            "{}",
            db.engine
        );
        let big = "x".repeat(5000);
        assert_eq!(
            call(&a.url, &p, "heartbeat", json!({"payload": {"big": big}})).await,
            400
        );
        assert_eq!(
            call(&a.url, &p, "heartbeat", json!({"payload": [1]})).await,
            400
        );
        let too_many: Vec<Value> = (0..501)
            .map(|i| json!({"at": i, "level": "info", "message": "m"}))
            .collect();
        assert_eq!(
            call(&a.url, &p, "logs", json!({"entries": too_many})).await,
            400
        );
        let garbage = client()
            .post(format!("{}/api/v1/products/{}/heartbeat", a.url, p.id))
            .header(AUTHORIZATION, format!("Bearer {}", p.key))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 400);
        let body: Value = garbage.json().await.unwrap();
        assert_eq!(error_code(&body), "invalid_json");
        let unknown = Product {
            id: new_uuid(),
            key: p.key.clone(),
            udp: p.udp.clone(),
        };
        assert_eq!(call(&a.url, &unknown, "heartbeat", json!({})).await, 401);
        a.stop().await;
    }
}

/// Kill one of two nodes while products report to both: none goes offline.
#[tokio::test]
async fn a_node_dying_causes_no_false_offline() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let b = TestNode::start(fast_config(&db, "node-b")).await;
        let cookie = login(&a.url).await;
        let mut products = Vec::new();
        for _ in 0..6 {
            products.push(registered(&a.url, &new_uuid()).await);
        }
        let beat = |node: String, i: usize| {
            let p = &products[i];
            let (id, key) = (p.id.clone(), p.key.clone());
            async move {
                client()
                    .post(format!("{node}/api/v1/products/{id}/heartbeat"))
                    .header(AUTHORIZATION, format!("Bearer {key}"))
                    .json(&json!({}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        };
        // Half report to each node.
        for _ in 0..5 {
            for i in 0..products.len() {
                let node = if i % 2 == 0 {
                    a.url.clone()
                } else {
                    b.url.clone()
                };
                assert_eq!(beat(node, i).await, 204);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        b.kill();
        // The products notice and move to node A, as agents fail over.
        for round in 0..25 {
            for i in 0..products.len() {
                assert_eq!(beat(a.url.clone(), i).await, 204);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            for p in &products {
                let body = status_of(&a.url, &cookie, &p.id).await;
                assert_eq!(
                    body["product"]["status"], "online",
                    "{}: round {round}",
                    db.engine
                );
            }
        }
        a.stop().await;
    }
}

/// The database refuses writes for 30 s while products keep reporting: none
/// goes offline, during or after. (Writes are blocked by a lock held from
/// another connection; reads still work, so the test can watch.)
#[tokio::test]
async fn a_database_outage_causes_no_false_offline() {
    use sqlx::{Connection, Executor};
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let mut products = Vec::new();
        for _ in 0..4 {
            products.push(registered(&a.url, &new_uuid()).await);
        }
        let beat_all = || async {
            for p in &products {
                assert_eq!(call(&a.url, p, "heartbeat", json!({})).await, 204);
            }
        };
        for _ in 0..5 {
            beat_all().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for p in &products {
            wait_status(&a.url, &cookie, &p.id, "online", Duration::from_secs(3)).await;
        }

        sqlx::any::install_default_drivers();
        let mut blocker = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let lock = if db.engine == "sqlite" {
            "BEGIN EXCLUSIVE"
        } else {
            "BEGIN; LOCK TABLE nodes, products, liveness_marks, state_counters, leases IN EXCLUSIVE MODE"
        };
        blocker.execute(lock).await.unwrap();
        let outage = Instant::now();
        while outage.elapsed() < Duration::from_secs(30) {
            beat_all().await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            for p in &products {
                let body = status_of(&a.url, &cookie, &p.id).await;
                assert_eq!(
                    body["product"]["status"], "online",
                    "{}: during the outage",
                    db.engine
                );
            }
        }
        blocker.execute("ROLLBACK").await.unwrap();
        drop(blocker);
        let after = Instant::now();
        while after.elapsed() < Duration::from_secs(8) {
            beat_all().await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            for p in &products {
                let body = status_of(&a.url, &cookie, &p.id).await;
                assert_eq!(
                    body["product"]["status"], "online",
                    "{}: after the outage",
                    db.engine
                );
                let history = body["history"].as_array().unwrap();
                assert_eq!(
                    history.len(),
                    1,
                    "{}: only pending -> online: {history:?}",
                    db.engine
                );
            }
        }
        a.stop().await;
    }
}
