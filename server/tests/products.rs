//! Managed products over the wire protocol: registration, handshake, every
//! source of liveness, the offline sweep, and bad input of every kind.

mod common;

use std::time::{Duration, Instant};

use app::api::NodeRole;
use common::{client, error_code, get, login};
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use server::config::{Config, DEFAULT_ENROLLMENT_SECRET};
use server::testkit::{self, TestDb, TestNode};
use tokio::net::UdpSocket;

/// A registered product, as an agent would hold it.
struct Product {
    id: String,
    key: String,
    udp: String,
}

fn fast_config(db: &TestDb, name: &str) -> Config {
    let mut config = testkit::config(db, name, NodeRole::Active);
    config.heartbeat_interval = Duration::from_secs(1);
    config.offline_after = Some(Duration::from_secs(2));
    config
}

async fn register(node: &str, uuid: &str, callback: Option<&str>) -> (u16, Value) {
    let response = client()
        .post(format!("{node}/api/v1/products/register"))
        .json(&json!({
            "enrollment_secret": DEFAULT_ENROLLMENT_SECRET,
            "uuid": uuid,
            "name": format!("product-{}", &uuid[..4]),
            "product_type": "firewall",
            "version": "1.0",
            "callback_url": callback,
        }))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn registered(node: &str, uuid: &str) -> Product {
    let (status, body) = register(node, uuid, None).await;
    assert_eq!(status, 200, "{body}");
    Product {
        id: body["product_id"].as_str().unwrap().to_owned(),
        key: body["key"].as_str().unwrap().to_owned(),
        udp: body["udp_endpoint"].as_str().unwrap().to_owned(),
    }
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn datagram(p: &Product, kind: Kind, seq: u64, payload: &[u8]) -> Vec<u8> {
    let id = *uuid::Uuid::parse_str(&p.id).unwrap().as_bytes();
    protocol::encode(
        kind,
        id,
        seq,
        now_ms(),
        payload,
        &hex::decode(&p.key).unwrap(),
    )
}

async fn call(node: &str, p: &Product, what: &str, body: Value) -> u16 {
    let request = if what == "commands" {
        client().get(format!("{node}/api/v1/products/{}/commands", p.id))
    } else {
        client()
            .post(format!("{node}/api/v1/products/{}/{what}", p.id))
            .json(&body)
    };
    request
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn status_of(node: &str, cookie: &str, id: &str) -> Value {
    let (status, body) = get(&format!("{node}/api/v1/products/{id}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the product has `status`, up to `within`.
async fn wait_status(node: &str, cookie: &str, id: &str, status: &str, within: Duration) -> Value {
    let until = Instant::now() + within;
    loop {
        let body = status_of(node, cookie, id).await;
        if body["product"]["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < until,
            "still {} after {within:?}, wanted {status}",
            body["product"]["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metric(node: &str, result: &str) -> u64 {
    let text = client()
        .get(format!("{node}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("vigil_udp_datagrams_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .expect("metric present")
}

#[tokio::test]
async fn registering_twice_updates_one_product() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let uuid = new_uuid();
        let first = registered(&a.url, &uuid).await;
        let second = registered(&a.url, &uuid.to_uppercase()).await;
        assert_eq!(first.id, second.id, "{}", db.engine);
        assert_ne!(first.key, second.key, "a new key each time");
        let cookie = login(&a.url).await;
        let (_, list) = get(&format!("{}/api/v1/products", a.url), Some(&cookie)).await;
        assert_eq!(list["total"], 1, "{}", db.engine);
        assert_eq!(list["products"][0]["status"], "pending");
        let (_, counts) = get(&format!("{}/api/v1/products/counts", a.url), Some(&cookie)).await;
        assert_eq!(
            counts,
            json!({"pending": 1, "online": 0, "offline": 0, "unmanaged": 0})
        );
        // The old key no longer works.
        assert_eq!(call(&a.url, &first, "heartbeat", json!({})).await, 401);
        a.stop().await;
    }
}

#[tokio::test]
async fn bad_registrations_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let url = format!("{}/api/v1/products/register", a.url);
        let wrong_secret = client()
            .post(&url)
            .json(
                &json!({"enrollment_secret": "guess", "uuid": new_uuid(), "name": "x",
                          "product_type": "t", "version": "1"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_secret.status(), 401, "{}", db.engine);
        let body: Value = wrong_secret.json().await.unwrap();
        assert_eq!(error_code(&body), "bad_enrollment_secret");
        let (status, body) = register(&a.url, "not-a-uuid", None).await;
        assert_eq!((status, error_code(&body)), (400, "invalid_registration"));
        a.stop().await;
    }
}

#[tokio::test]
async fn handshake_picks_udp_when_the_hello_arrives_and_http_when_not() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();

        let (_, reply) = register(&a.url, &new_uuid(), None).await;
        let p = Product {
            id: reply["product_id"].as_str().unwrap().into(),
            key: reply["key"].as_str().unwrap().into(),
            udp: reply["udp_endpoint"].as_str().unwrap().into(),
        };
        let hello = json!({"nonce": reply["nonce"]}).to_string();
        socket
            .send_to(&datagram(&p, Kind::Hello, 1, hello.as_bytes()), &p.udp)
            .await
            .unwrap();
        let response = client()
            .post(format!("{}/api/v1/products/{}/handshake", a.url, p.id))
            .header(AUTHORIZATION, format!("Bearer {}", p.key))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"transport": "udp", "mode": "one_way"}),
            "{}",
            db.engine
        );

        let silent = registered(&a.url, &new_uuid()).await;
        let started = Instant::now();
        let response = client()
            .post(format!("{}/api/v1/products/{}/handshake", a.url, silent.id))
            .header(AUTHORIZATION, format!("Bearer {}", silent.key))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["transport"], "http", "{}", db.engine);
        assert!(started.elapsed() < Duration::from_secs(5));
        a.stop().await;
    }
}

/// A product's callback endpoint: answers 204 when the signature is right.
async fn callback_server(key: std::sync::Arc<std::sync::Mutex<String>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/wake",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let key = key.clone();
                async move {
                    let key = hex::decode(key.lock().unwrap().as_str()).unwrap_or_default();
                    let expected = protocol::sign_hex(&body, &key);
                    let given = headers
                        .get("x-vigil-signature")
                        .and_then(|v| v.to_str().ok());
                    if given == Some(expected.as_str()) && body.as_ref() == br#"{"wake":true}"# {
                        axum::http::StatusCode::NO_CONTENT
                    } else {
                        axum::http::StatusCode::FORBIDDEN
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wake", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn handshake_picks_two_way_when_the_callback_answers() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let key = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let callback = callback_server(key.clone()).await;
        let (_, reply) = register(&a.url, &new_uuid(), Some(&callback)).await;
        *key.lock().unwrap() = reply["key"].as_str().unwrap().into();
        let handshake = |id: String, bearer: String| {
            client()
                .post(format!("{}/api/v1/products/{id}/handshake", a.url))
                .header(AUTHORIZATION, format!("Bearer {bearer}"))
                .json(&json!({}))
                .send()
        };
        let body: Value = handshake(
            reply["product_id"].as_str().unwrap().into(),
            reply["key"].as_str().unwrap().into(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body["mode"], "two_way", "{}", db.engine);

        let (_, unreachable) = register(&a.url, &new_uuid(), Some("http://127.0.0.1:9/wake")).await;
        let body: Value = handshake(
            unreachable["product_id"].as_str().unwrap().into(),
            unreachable["key"].as_str().unwrap().into(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(body["mode"], "one_way", "{}", db.engine);
        a.stop().await;
    }
}

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
        let udp = status_of(&a.url, &cookie, &products[0].id).await;
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

#[tokio::test]
async fn the_product_list_filters_sorts_and_pages() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        let mut all = Vec::new();
        for _ in 0..5 {
            all.push(registered(&a.url, &new_uuid()).await);
        }
        assert_eq!(call(&a.url, &all[0], "heartbeat", json!({})).await, 204);
        wait_status(
            &a.url,
            &cookie,
            &all[0].id,
            "online",
            Duration::from_secs(3),
        )
        .await;
        let page = |query: &str| get_page(&a.url, &cookie, query.to_owned());
        let (total, names) = page("limit=2&offset=2").await;
        let (_, first) = page("limit=2").await;
        assert!(
            names.iter().all(|n| !first.contains(n)),
            "pages do not overlap"
        );
        assert_eq!((total, names.len()), (5, 2), "{}", db.engine);
        let (total, _) = page("status=online").await;
        assert_eq!(total, 1);
        let (total, _) = page(&format!("q={}", &all[3].id[..8].to_uppercase())).await;
        assert_eq!(total, 1, "{}: search by id, any case", db.engine);
        let (_, by_status) = page("sort=status").await;
        assert_eq!(by_status.len(), 5);
        let (status, body) = get(
            &format!("{}/api/v1/products?sort=size", a.url),
            Some(&cookie),
        )
        .await;
        assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_sort"));
        a.stop().await;
    }
}

async fn get_page(node: &str, cookie: &str, query: String) -> (i64, Vec<String>) {
    let (status, body) = get(&format!("{node}/api/v1/products?{query}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    let names = body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    (body["total"].as_i64().unwrap(), names)
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
