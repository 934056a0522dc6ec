//! Helpers of the queue's and provisioning's tests: queue, read and wait
//! for commands, poll and answer as a product.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::Config;
use testkit::TestDb;

use super::products::*;
use super::{get, post};

/// A node with quick queue timings.
pub fn queue_config(db: &TestDb, name: &str) -> Config {
    let mut c = fast_config(db, name);
    c.queue_lease = Duration::from_secs(2);
    c.queue_backoff_base = Duration::from_millis(200);
    c.queue_backoff_max = Duration::from_millis(400);
    c
}

pub async fn queue(node: &str, cookie: &str, product: &str, kind: &str) -> (StatusCode, Value) {
    post(
        &format!("{node}/api/v1/commands"),
        Some(cookie),
        json!({"product_id": product, "kind": kind, "args": {"n": 1}}),
    )
    .await
}

pub async fn command(node: &str, cookie: &str, id: &str) -> Value {
    let (status, body) = get(&format!("{node}/api/v1/commands/{id}"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The command, once it exists.
pub async fn command_soon(node: &str, cookie: &str, id: &str) -> Value {
    for _ in 0..60 {
        let (status, body) = get(&format!("{node}/api/v1/commands/{id}"), Some(cookie)).await;
        if status == 200 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("command {id} never appeared")
}

/// Waits until the command is in `state`.
pub async fn wait_state(
    node: &str,
    cookie: &str,
    id: &str,
    state: &str,
    within: Duration,
) -> Value {
    let until = Instant::now() + within;
    loop {
        let body = command_soon(node, cookie, id).await;
        if body["command"]["state"] == state {
            return body;
        }
        assert!(
            Instant::now() < until,
            "command still {} after {within:?}, wanted {state}: {body}",
            body["command"]["state"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn poll(node: &str, p: &Product, wait_ms: u64) -> Vec<Value> {
    let response = super::client()
        .get(format!(
            "{node}/api/v1/products/{}/commands?wait={wait_ms}",
            p.id
        ))
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["commands"].as_array().unwrap().clone()
}

pub async fn result(node: &str, p: &Product, cid: &str, body: Value) -> (StatusCode, Value) {
    let response = super::client()
        .post(format!(
            "{node}/api/v1/products/{}/commands/{cid}/result",
            p.id
        ))
        .header(AUTHORIZATION, format!("Bearer {}", p.key))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until the product exists with `status` (it may not exist yet).
pub async fn wait_product(node: &str, cookie: &str, id: &str, status: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, body) = get(&format!("{node}/api/v1/products/{id}"), Some(cookie)).await;
        if code == 200 && body["product"]["status"] == status {
            return body;
        }
        assert!(Instant::now() < until, "product {id}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn notes(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e["node"].as_str().unwrap(),
                e["state"].as_str().unwrap(),
                e["note"].as_str().unwrap()
            )
        })
        .collect()
}
