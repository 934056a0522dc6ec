//! HTTP heartbeats: a real node's endpoint (bearer key check, JSON body,
//! liveness record) against a bare axum handler returning 204, under the
//! same wrk load in the same run.
//!
//!     cargo bench -p server --bench http_heartbeat     (needs wrk)

use std::process::Command;
use std::time::Duration;

use app::api::NodeRole;
use axum::routing::post;
use serde_json::json;
use server::testkit::{self, TestNode};

const SECONDS: u32 = 10;
const CONNECTIONS: u32 = 64;

/// Runs wrk with a POST script; returns requests/s and the non-2xx count.
fn wrk(url: &str, key: &str, dir: &std::path::Path) -> (f64, u64) {
    let script = dir.join("heartbeat.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{{\"payload\":{{\"load\":0.42,\"uptime_s\":86400}}}}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {key}\"\n"
        ),
    )
    .unwrap();
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    let errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (rate, errors)
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("vigil-http-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The bare handler: same path shape, answers 204, reads nothing.
    let bare = axum::Router::new().route(
        "/api/v1/products/{id}/heartbeat",
        post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, bare).await.unwrap() });

    let db = testkit::databases().await.remove(0);
    let node = TestNode::start(testkit::config(&db, "bench", NodeRole::Active)).await;
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/products/register", node.url))
        .json(
            &json!({"enrollment_secret": server::config::DEFAULT_ENROLLMENT_SECRET,
                      "uuid": uuid::Uuid::new_v4().to_string(), "name": "bench",
                      "product_type": "bench", "version": "1"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, key) = (
        reply["product_id"].as_str().unwrap().to_owned(),
        reply["key"].as_str().unwrap().to_owned(),
    );
    let path = format!("/api/v1/products/{id}/heartbeat");

    let (bare_rate, bare_err) = tokio::task::spawn_blocking({
        let (url, key, dir) = (format!("{bare_url}{path}"), key.clone(), dir.clone());
        move || wrk(&url, &key, &dir)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (node_rate, node_err) = tokio::task::spawn_blocking({
        let (url, key, dir) = (format!("{}{path}", node.url), key.clone(), dir.clone());
        move || wrk(&url, &key, &dir)
    })
    .await
    .unwrap();
    println!("wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, POST with a 45-byte JSON body");
    println!("bare axum 204:   {bare_rate:.0} requests/s ({bare_err} non-2xx)");
    println!("node heartbeat:  {node_rate:.0} requests/s ({node_err} non-2xx)");
    println!(
        "ratio node / bare: {:.0} %",
        100.0 * node_rate / bare_rate.max(1.0)
    );
    assert_eq!(node_err, 0, "every heartbeat must be accepted");
    node.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
