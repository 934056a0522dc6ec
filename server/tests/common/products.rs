//! Products as the tests drive them: registration, signed datagrams,
//! protocol calls, and watching statuses through the console API.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use app::api::NodeRole;
use protocol::Kind;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use server::config::{Config, DEFAULT_ENROLLMENT_SECRET};
use server::testkit::{self, TestDb};

use super::{client, get};

/// A registered product, as an agent would hold it.
pub struct Product {
    pub id: String,
    pub key: String,
    pub udp: String,
}

pub fn fast_config(db: &TestDb, name: &str) -> Config {
    let mut config = testkit::config(db, name, NodeRole::Active);
    config.heartbeat_interval = Duration::from_secs(1);
    config.offline_after = Some(Duration::from_secs(2));
    config
}

pub async fn register(node: &str, uuid: &str, callback: Option<&str>) -> (u16, Value) {
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

pub async fn registered(node: &str, uuid: &str) -> Product {
    let (status, body) = register(node, uuid, None).await;
    assert_eq!(status, 200, "{body}");
    Product {
        id: body["product_id"].as_str().unwrap().to_owned(),
        key: body["key"].as_str().unwrap().to_owned(),
        udp: body["udp_endpoint"].as_str().unwrap().to_owned(),
    }
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn datagram(p: &Product, kind: Kind, seq: u64, payload: &[u8]) -> Vec<u8> {
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

pub async fn call(node: &str, p: &Product, what: &str, body: Value) -> u16 {
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

pub async fn status_of(node: &str, cookie: &str, id: &str) -> Value {
    let (status, body) = get(&format!("{node}/api/v1/products/{id}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the product has `status`, up to `within`.
pub async fn wait_status(
    node: &str,
    cookie: &str,
    id: &str,
    status: &str,
    within: Duration,
) -> Value {
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

pub async fn metric(node: &str, result: &str) -> u64 {
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
