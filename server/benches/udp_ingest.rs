//! UDP heartbeat ingest: a real node's listener against a bare receive loop
//! on the same socket set-up, both fed by the same sender in the same run.
//!
//!     cargo bench -p server --bench udp_ingest
//!
//! The sender replays pre-signed heartbeats of PRODUCTS products as fast as
//! one thread can; a receiver's rate is what it took in while the sender ran.

use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::NodeRole;
use protocol::Kind;
use testkit::{self, TestNode};

const PRODUCTS: usize = 1000;
const PER_PRODUCT: usize = 3500;
const SEND_FOR: Duration = Duration::from_secs(4);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sends `datagrams` round-robin for SEND_FOR; returns how many were sent.
fn blast(to: SocketAddr, datagrams: &[Vec<u8>]) -> u64 {
    let socket = StdUdp::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let mut sent = 0u64;
    for d in datagrams.iter().cycle() {
        if sent.is_multiple_of(1024) && started.elapsed() >= SEND_FOR {
            break;
        }
        if socket.send_to(d, to).is_ok() {
            sent += 1;
        }
    }
    sent
}

fn rate(n: u64, over: Duration) -> f64 {
    n as f64 / over.as_secs_f64()
}

#[tokio::main]
async fn main() {
    // A node with PRODUCTS registered products.
    let db = testkit::databases().await.remove(0);
    let mut config = testkit::config(&db, "bench", NodeRole::Active);
    config.heartbeat_interval = Duration::from_secs(10);
    let node = TestNode::start(config).await;
    let http = reqwest::Client::new();
    let mut keys = Vec::new();
    for i in 0..PRODUCTS {
        let reply = testkit::register_product(&http, &node.url, &format!("b{i}"), None).await;
        keys.push((
            *uuid::Uuid::parse_str(reply["product_id"].as_str().unwrap())
                .unwrap()
                .as_bytes(),
            hex::decode(reply["key"].as_str().unwrap()).unwrap(),
            reply["udp_endpoint"]
                .as_str()
                .unwrap()
                .parse::<SocketAddr>()
                .unwrap(),
        ));
    }
    let node_udp = keys[0].2;
    // Pre-signed heartbeats with a small activity payload, sequences rising
    // per product in send order.
    let payload = br#"{"load":0.42,"uptime_s":86400}"#;
    let base = now_ms();
    let mut datagrams = Vec::with_capacity(PRODUCTS * PER_PRODUCT);
    for round in 0..PER_PRODUCT {
        for (id, key, _) in &keys {
            datagrams.push(protocol::encode(
                Kind::Heartbeat,
                *id,
                (round + 1) as u64,
                base,
                payload,
                key,
            ));
        }
    }
    let datagrams = Arc::new(datagrams);
    println!(
        "{} products, {} distinct signed datagrams of {} bytes",
        PRODUCTS,
        datagrams.len(),
        datagrams[0].len()
    );

    // 1. Bare loop: receive and count, on a socket bound the same way.
    let bare = server::products::udp::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let bare_addr = bare.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while bare.recv_from(&mut buf).await.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let d = datagrams.clone();
    let started = Instant::now();
    let sent = tokio::task::spawn_blocking(move || blast(bare_addr, &d))
        .await
        .unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bare_got = received.load(Ordering::Relaxed);
    receiver.abort();
    println!(
        "bare loop:  sent {sent}, received {bare_got}: {:.0} datagrams/s received",
        rate(bare_got, took)
    );

    // 2. The node: parse, look up the key, verify HMAC-SHA256, check the
    // sequence and clock, record liveness.
    let metrics = |url: String| async move {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let get = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!("vigil_udp_datagrams_total{{result=\"{name}\"}} "))
                })
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (
            get("accepted"),
            get("replay"),
            get("bad_tag") + get("malformed") + get("stale") + get("unknown_product"),
        )
    };
    let before = metrics(node.url.clone()).await;
    let d = datagrams.clone();
    let started = Instant::now();
    let sent = tokio::task::spawn_blocking(move || blast(node_udp, &d))
        .await
        .unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = metrics(node.url.clone()).await;
    let (accepted, replays, bad) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    let handled = accepted + replays + bad;
    println!(
        "node:       sent {sent}, handled {handled} ({accepted} accepted, {replays} replays of recycled datagrams, {bad} bad): {:.0} datagrams/s handled",
        rate(handled, took)
    );
    println!(
        "ratio node / bare loop: {:.0} %",
        100.0 * rate(handled, took) / rate(bare_got, took).max(1.0)
    );
    assert_eq!(bad, 0, "valid datagrams must never count as bad");
    node.stop().await;
}
