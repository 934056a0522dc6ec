//! The reachability scenario: three nodes on one PostgreSQL, each able to
//! reach only the products of its own network segment. Routing by home node
//! delivers every command through a node that reaches its product; the old
//! shared queue ("hit and miss") fails most of them. When a node dies, its
//! products' commands are taken over after the lease and complete once the
//! products report to another node.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::products::two_way::Callbacks;
use common::products::*;
use common::{get, login, post};
use futures_free::join_all_limited;
use serde_json::json;
use server::config::Reach;
use server::queue::Routing;
use testkit::{self, TestDb, TestNode};

const SEGMENTS: u8 = 3;
const PER_SEGMENT: usize = 100;
const COMMANDS_PER_PRODUCT: usize = 10;

/// Runs futures with at most `limit` in flight (no extra crate for it).
mod futures_free {
    use std::future::Future;

    pub async fn join_all_limited<T: Send + 'static>(
        futures: Vec<impl Future<Output = T> + Send + 'static>,
        limit: usize,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(futures.len());
        let mut set = tokio::task::JoinSet::new();
        let mut index = 0;
        let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
        let mut results: Vec<Option<T>> = (0..futures.len()).map(|_| None).collect();
        while index < futures.len() || !set.is_empty() {
            while index < futures.len() && set.len() < limit {
                let f = futures[index].take().unwrap();
                let i = index;
                set.spawn(async move { (i, f.await) });
                index += 1;
            }
            if let Some(done) = set.join_next().await {
                let (i, value) = done.expect("task");
                results[i] = Some(value);
            }
        }
        out.extend(results.into_iter().map(|r| r.unwrap()));
        out
    }
}

struct Segment {
    node: TestNode,
    reach: Reach,
    products: Vec<Product>,
}

fn prefix(segment: u8) -> String {
    format!("http://127.0.{segment}.1:")
}

/// Three nodes, each reaching one segment, with 100 two-way products each.
async fn cluster(db: &TestDb, routing: Routing, callbacks: &Callbacks) -> Vec<Segment> {
    let mut segments = Vec::new();
    for s in 1..=SEGMENTS {
        let mut config = fast_config(db, &format!("node-{s}"));
        config.heartbeat_interval = Duration::from_secs(5);
        config.offline_after = Some(Duration::from_secs(60));
        config.queue_routing = routing;
        // Long enough for a starved test machine to drain its backlog; the
        // node-death phase waits for it once.
        config.queue_lease = Duration::from_secs(10);
        config.queue_backoff_base = Duration::from_millis(200);
        config.queue_backoff_max = Duration::from_secs(1);
        config.notify_only = Reach::only(vec![prefix(s)]);
        let reach = config.notify_only.clone();
        let node = TestNode::start(config).await;
        let base = callbacks.serve([127, 0, s, 1]).await;
        let registrations = (0..PER_SEGMENT)
            .map(|_| {
                let (url, base, callbacks) = (node.url.clone(), base.clone(), callbacks.clone());
                async move {
                    let (p, nonce) = callbacks.register(&url, &base).await;
                    // The hello ends the handshake's wait for it at once.
                    let hello = json!({ "nonce": nonce }).to_string();
                    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                    let bytes = datagram(&p, protocol::Kind::Hello, 1, hello.as_bytes());
                    socket.send_to(&bytes, &p.udp).await.unwrap();
                    assert_eq!(handshake(&url, &p).await["mode"], "two_way");
                    assert_eq!(call(&url, &p, "heartbeat", json!({})).await, 204);
                    p
                }
            })
            .collect();
        let products = join_all_limited(registrations, 64).await;
        segments.push(Segment {
            node,
            reach,
            products,
        });
    }
    // Every product's home is its segment's node once liveness is written.
    let cookie = login(&segments[0].node.url).await;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = get(
            &format!("{}/api/v1/products?limit=1000", segments[0].node.url),
            Some(&cookie),
        )
        .await;
        let homed = page["products"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["home_node"].is_string())
            .count();
        if homed == SEGMENTS as usize * PER_SEGMENT {
            break;
        }
        assert!(
            Instant::now() < until,
            "only {homed} products have a home node"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    segments
}

/// Queues `per_product` commands for each product, each from a random node.
async fn queue_all(segments: &[Segment], products: &[&Product], cookie: &str, per_product: usize) {
    let urls: Vec<String> = segments.iter().map(|s| s.node.url.clone()).collect();
    let mut calls = Vec::new();
    for (i, p) in products.iter().enumerate() {
        for k in 0..per_product {
            let url = urls[(i * 7 + k * 13 + rand_index()) % urls.len()].clone();
            let (cookie, id) = (cookie.to_owned(), p.id.clone());
            calls.push(async move {
                let (status, body) = post(
                    &format!("{url}/api/v1/commands"),
                    Some(&cookie),
                    json!({"product_id": id, "kind": "ping"}),
                )
                .await;
                assert_eq!(status, 201, "{body}");
            });
        }
    }
    join_all_limited(calls, 32).await;
}

fn rand_index() -> usize {
    (uuid::Uuid::new_v4().as_u128() % 3) as usize
}

/// Commands by state, through the API.
async fn states(node: &str, cookie: &str) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for state in [
        "queued",
        "dispatched",
        "delivered",
        "succeeded",
        "failed",
        "expired",
        "dead",
    ] {
        let (_, page) = get(
            &format!("{node}/api/v1/commands?state={state}&limit=1"),
            Some(cookie),
        )
        .await;
        out.insert(state.to_owned(), page["total"].as_i64().unwrap());
    }
    out
}

/// Waits until `total` commands are final; returns the states.
async fn settle(node: &str, cookie: &str, total: i64, within: Duration) -> HashMap<String, i64> {
    let until = Instant::now() + within;
    loop {
        let s = states(node, cookie).await;
        let done: i64 = ["succeeded", "failed", "expired", "dead"]
            .iter()
            .map(|k| s[*k])
            .sum();
        if done >= total || Instant::now() > until {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// For every command of `products`: the nodes that notified the product
/// and the node that delivered it, checked against the node that reaches it.
async fn misrouted(node: &str, cookie: &str, reaching: &HashMap<String, String>) -> usize {
    let (_, page) = get(&format!("{node}/api/v1/commands?limit=1000"), Some(cookie)).await;
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut offset = 0;
    let total = page["total"].as_i64().unwrap();
    while offset < total {
        let (_, page) = get(
            &format!("{node}/api/v1/commands?limit=1000&offset={offset}"),
            Some(cookie),
        )
        .await;
        for c in page["commands"].as_array().unwrap() {
            ids.push((
                c["id"].as_str().unwrap().into(),
                c["product_id"].as_str().unwrap().into(),
            ));
        }
        offset += 1000;
    }
    let checks: Vec<_> = ids
        .into_iter()
        .map(|(id, product)| {
            let (url, cookie, node) = (
                node.to_owned(),
                cookie.to_owned(),
                reaching[&product].clone(),
            );
            async move {
                let (_, detail) = get(&format!("{url}/api/v1/commands/{id}"), Some(&cookie)).await;
                detail["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| {
                        let note = e["note"].as_str().unwrap();
                        (note.starts_with("product notified") || e["state"] == "delivered")
                            && e["node"] != node.as_str()
                    })
                    .count()
            }
        })
        .collect();
    join_all_limited(checks, 32).await.into_iter().sum()
}

fn postgres(dbs: Vec<TestDb>) -> Option<TestDb> {
    let found = dbs.into_iter().find(|d| d.engine == "postgres");
    if found.is_none() {
        eprintln!("note: the reachability scenario needs PostgreSQL; skipped");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn home_node_routing_delivers_everything_through_nodes_that_reach_the_product() {
    let Some(db) = postgres(testkit::databases().await) else {
        return;
    };
    let callbacks = Callbacks::default();
    let segments = cluster(&db, Routing::Affinity, &callbacks).await;
    let cookie = login(&segments[0].node.url).await;
    let products: Vec<&Product> = segments.iter().flat_map(|s| &s.products).collect();
    let reaching: HashMap<String, String> = segments
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.products
                .iter()
                .map(move |p| (p.id.clone(), format!("node-{}", i + 1)))
        })
        .collect();

    let started = Instant::now();
    queue_all(&segments, &products, &cookie, COMMANDS_PER_PRODUCT).await;
    eprintln!("queued in {:?}", started.elapsed());
    let total = (products.len() * COMMANDS_PER_PRODUCT) as i64;
    let a = segments[0].node.url.clone();
    let s = settle(&a, &cookie, total, Duration::from_secs(120)).await;
    eprintln!(
        "affinity routing: {total} commands in {:?}: {s:?}",
        started.elapsed()
    );
    assert_eq!(s["succeeded"], total, "{s:?}");
    assert_eq!((s["failed"], s["dead"], s["expired"]), (0, 0, 0));
    assert_eq!(
        misrouted(&a, &cookie, &reaching).await,
        0,
        "notified or delivered by a node that cannot reach"
    );
    assert_eq!(callbacks.bad_signatures.load(Ordering::Relaxed), 0);

    // node-3 dies while it holds commands of its (slow) products.
    let mut segments = segments;
    let third = segments.pop().unwrap();
    for p in &third.products {
        callbacks.set_delay(&p.id, 2_000);
    }
    let theirs: Vec<&Product> = third.products.iter().collect();
    queue_all(&segments, &theirs, &cookie, 1).await;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let s = states(&a, &cookie).await;
        if s["dispatched"] as usize == theirs.len() {
            break;
        }
        assert!(
            Instant::now() < until,
            "node-3 did not claim its products' commands: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    third.node.kill();
    // Its products move to node-1's network and report there.
    segments[0].reach.set(Some(vec![prefix(1), prefix(3)]));
    for p in &third.products {
        callbacks.set_delay(&p.id, 0);
        callbacks.move_to(&p.id, &a);
        assert_eq!(call(&a, p, "heartbeat", json!({})).await, 204);
    }
    let total = total + theirs.len() as i64;
    let s = settle(&a, &cookie, total, Duration::from_secs(60)).await;
    eprintln!("after node-3 died: {s:?}");
    assert_eq!(s["succeeded"], total, "{s:?}");
    assert_eq!((s["failed"], s["dead"]), (0, 0));
    for s in segments {
        s.node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_old_shared_queue_fails_what_the_claiming_node_cannot_reach() {
    let Some(db) = postgres(testkit::databases().await) else {
        return;
    };
    let callbacks = Callbacks::default();
    let segments = cluster(&db, Routing::Shared, &callbacks).await;
    let cookie = login(&segments[0].node.url).await;
    let products: Vec<&Product> = segments.iter().flat_map(|s| &s.products).collect();
    queue_all(&segments, &products, &cookie, COMMANDS_PER_PRODUCT).await;
    let total = (products.len() * COMMANDS_PER_PRODUCT) as i64;
    let s = settle(
        &segments[0].node.url,
        &cookie,
        total,
        Duration::from_secs(120),
    )
    .await;
    let rate = s["failed"] as f64 / total as f64;
    eprintln!(
        "shared queue: {s:?}, {:.0} % failed for unreachability",
        rate * 100.0
    );
    assert_eq!(s["failed"] + s["succeeded"], total, "{s:?}");
    // Three nodes, one reaching each product: about two thirds fail.
    assert!(rate > 0.4, "{s:?}");
    for s in segments {
        s.node.stop().await;
    }
}
