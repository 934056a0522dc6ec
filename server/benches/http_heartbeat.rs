//! HTTP heartbeats: a real node's endpoint (bearer key check, JSON body,
//! liveness record) against a bare axum handler returning 204, under the
//! same wrk load in the same run.
//!
//!     cargo bench -p server --bench http_heartbeat     (needs wrk)
//!
//! wrk sends the heartbeats of a fleet of PRODUCTS products (a random one
//! per request, its own key) with a 45-byte activity payload. The two
//! targets take turns, ROUNDS times each, and the medians are compared:
//! on a shared 2-core machine single runs vary by a fifth.

use std::time::Duration;

use app::api::NodeRole;
use axum::routing::post;
use testkit::bench::{heartbeat_script, median, register_fleet, wrk};
use testkit::{self, TestNode};

const SECONDS: u32 = 5;
const CONNECTIONS: u32 = 64;
const ROUNDS: usize = 3;
const PRODUCTS: usize = 1000;

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
    let fleet = register_fleet(&node.url, "bench", PRODUCTS).await;
    let script_path = dir.join("heartbeat.lua");
    std::fs::write(&script_path, heartbeat_script(&fleet)).unwrap();

    println!(
        "wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, heartbeats of {PRODUCTS} products (45-byte JSON payload), {ROUNDS} rounds each, alternating"
    );
    let (mut bare_rates, mut node_rates) = (Vec::new(), Vec::new());
    let mut node_errors = 0;
    for round in 1..=ROUNDS {
        for (name, url) in [("bare axum 204", &bare_url), ("node heartbeat", &node.url)] {
            let (url, script) = (url.clone(), script_path.clone());
            let run = tokio::task::spawn_blocking(move || {
                wrk(
                    &url,
                    CONNECTIONS,
                    SECONDS,
                    &["-s", script.to_str().unwrap()],
                )
            })
            .await
            .unwrap();
            let (rate, errors) = (run.requests_per_s, run.non_2xx);
            println!("round {round}: {name:<15} {rate:>8.0} requests/s ({errors} non-2xx)");
            if name.starts_with("bare") {
                bare_rates.push(rate);
            } else {
                node_rates.push(rate);
                node_errors += errors;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let (bare, node_rate) = (median(bare_rates), median(node_rates));
    println!("median bare axum 204:  {bare:.0} requests/s");
    println!("median node heartbeat: {node_rate:.0} requests/s");
    println!(
        "ratio node / bare: {:.0} %",
        100.0 * node_rate / bare.max(1.0)
    );
    assert_eq!(node_errors, 0, "every heartbeat must be accepted");
    node.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
