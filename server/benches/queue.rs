//! The command queue: how many commands a second go enqueue → claim →
//! notify → deliver → ack, with one node and with three, on SQLite and PostgreSQL;
//! and how long a command takes from enqueue to the product's notification.
//!
//!     cargo bench -p server --bench queue
//!
//! Each pipeline runs in two shapes: `serial`, each node one step after
//! the other; `staged`, each node's steps side by side as a node runs them
//! (dispatcher, the products' fetches, their results), which also makes
//! those batches meet on the same rows.
//!
//! PostgreSQL figures need `VIGIL_TEST_POSTGRES_URL` (an admin URL; `make
//! bench-queue` starts a throwaway server). `VIGIL_BENCH_ENGINES=postgres`
//! (or `sqlite`) measures one engine only; `VIGIL_BENCH_RUNS` sets how many
//! runs each pipeline figure is the median of (3); `VIGIL_BENCH_ONLY` runs
//! only the parts it lists (of `1-serial,1-staged,3-serial,3-staged,latency`);
//! `VIGIL_BENCH_COMMANDS` sets how many commands a pipeline runs (60 000);
//! `VIGIL_BENCH_KEEP=1` keeps each pipeline's PostgreSQL database, to look
//! at its tables and indexes afterwards. The pipeline runs the store
//! functions the nodes run (the same batches a busy node's group commit
//! makes), without HTTP; the latency part runs real nodes and products.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use app::api::NodeRole;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use server::db::Db;
use server::nodes::{store as nodes, NodeIdentity};
use server::products::{store as products, Liveness, Source};
use server::queue::store::{self as queue, Ack, ClaimRules};
use server::queue::{CommandState, NewCommand, Routing};
use testkit::{self, TestDb, TestNode};

const PRODUCTS: usize = 1000;
const BATCH: usize = 500;

fn node_name(i: usize) -> String {
    format!("bench-{i}")
}

/// Registers two-way products, homed round-robin on `nodes` nodes.
async fn fleet(db: &Db, nodes: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(PRODUCTS);
    let mut homes: Vec<Vec<Liveness>> = vec![Vec::new(); nodes];
    for i in 0..PRODUCTS {
        let id = testkit::two_way_product(db, &format!("p{i}")).await;
        homes[i % nodes].push(Liveness {
            product: id.as_str().into(),
            at: server::cluster::now_ms(),
            seq: 0,
            activity: None,
            source: Source::HttpHeartbeat,
        });
        ids.push(id);
    }
    for (n, batch) in homes.iter().enumerate() {
        products::flush(db, &node_name(n), batch, 0).await.unwrap();
    }
    ids
}

/// Keeps the bench's nodes operational in the registry.
fn registry(db: Db, nodes: usize, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            for n in 0..nodes {
                let me = NodeIdentity::new(
                    node_name(n),
                    "http://127.0.0.1:9".into(),
                    false,
                    NodeRole::Active,
                );
                let _ = nodes::refresh(&db, &me, false).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

const RULES: ClaimRules = ClaimRules {
    routing: Routing::Affinity,
    affinity_ms: 3_000,
    node_offline_after_ms: 5_000,
    lease_ms: 30_000,
};

/// A dispatcher round: claims up to a batch, wakes each product and records
/// that it did; the woken products' ids (empty after a short pause when
/// nothing was waiting).
async fn claim_and_notify(db: &Db, node: &str) -> Vec<String> {
    let claimed = queue::claim(db, node, RULES, BATCH as i64).await.unwrap();
    if claimed.is_empty() {
        tokio::time::sleep(Duration::from_millis(2)).await;
        return Vec::new();
    }
    let notices: Vec<queue::Notice> = claimed
        .iter()
        .map(|c| queue::Notice {
            command: c.id.clone(),
            how: "callback answered".into(),
            answered: Instant::now(),
        })
        .collect();
    queue::notified_many(db, node, &notices).await.unwrap();
    claimed.into_iter().map(|c| c.product_id).collect()
}

/// One node's share of the pipeline, one step after the other: claim,
/// record the notification, deliver, ack, until `total` commands are done
/// cluster-wide (the shape of the figures before 2026-12-03).
async fn serial_worker(db: Db, n: usize, done: Arc<Mutex<usize>>, total: usize) {
    let node = node_name(n);
    loop {
        if *done.lock().unwrap() >= total {
            return;
        }
        let mut products = claim_and_notify(&db, &node).await;
        if products.is_empty() {
            continue;
        }
        products.sort();
        products.dedup();
        let delivered = queue::deliver_many(&db, &node, &products, 30_000, BATCH)
            .await
            .unwrap();
        let acks: Vec<Ack> = products
            .iter()
            .zip(delivered)
            .flat_map(|(p, list)| {
                list.into_iter().map(move |c| Ack {
                    product: p.clone(),
                    command: c.id,
                    outcome: CommandState::Succeeded,
                    output: "pong".into(),
                })
            })
            .collect();
        let answers = queue::complete_many(&db, &node, &acks).await.unwrap();
        let finished = answers.iter().filter(|a| a.is_some()).count();
        *done.lock().unwrap() += finished;
    }
}

/// One node's share of the pipeline, in the stages a node runs side by
/// side: its dispatcher claims and records notifications; the products'
/// fetches and results reach its group-commit writers. Runs until `total`
/// commands are done cluster-wide.
async fn staged_worker(db: Db, n: usize, done: Arc<Mutex<usize>>, total: usize) {
    let node = node_name(n);
    let (woken_tx, mut woken) = mpsc::unbounded_channel::<Vec<String>>();
    let (acks_tx, mut acks) = mpsc::unbounded_channel::<Ack>();
    // The dispatcher: claims, wakes each product (recorded as notified).
    let dispatcher = tokio::spawn({
        let (db, node, done) = (db.clone(), node.clone(), done.clone());
        async move {
            while *done.lock().unwrap() < total {
                let products = claim_and_notify(&db, &node).await;
                if !products.is_empty() {
                    let _ = woken_tx.send(products);
                }
            }
        }
    });
    // Woken products fetch; their fetches are written together.
    let fetches = tokio::spawn({
        let (db, node) = (db.clone(), node.clone());
        async move {
            let mut batch = Vec::new();
            while woken.recv_many(&mut batch, BATCH).await > 0 {
                let mut products: Vec<String> = batch.drain(..).flatten().collect();
                products.sort();
                products.dedup();
                let delivered = queue::deliver_many(&db, &node, &products, 30_000, BATCH)
                    .await
                    .unwrap();
                for (p, list) in products.iter().zip(delivered) {
                    for c in list {
                        let _ = acks_tx.send(Ack {
                            product: p.clone(),
                            command: c.id,
                            outcome: CommandState::Succeeded,
                            output: "pong".into(),
                        });
                    }
                }
            }
        }
    });
    // The products' results, written together.
    let mut batch = Vec::new();
    while acks.recv_many(&mut batch, BATCH).await > 0 {
        let answers = queue::complete_many(&db, &node, &batch).await.unwrap();
        batch.clear();
        *done.lock().unwrap() += answers.iter().filter(|a| a.is_some()).count();
    }
    dispatcher.await.unwrap();
    fetches.await.unwrap();
}

/// Drops a pipeline's PostgreSQL database, so that its clean-up (autovacuum
/// of its finished commands) does not run during the next measurement.
async fn discard(test: &TestDb) {
    use sqlx::Connection;
    if test.engine != "postgres" {
        return;
    }
    let (base, name) = test.url.rsplit_once('/').unwrap();
    let admin =
        std::env::var("VIGIL_TEST_POSTGRES_URL").unwrap_or_else(|_| format!("{base}/postgres"));
    let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Commands per second through the whole pipeline.
async fn pipeline(test: &TestDb, nodes: usize, total: usize, staged: bool) -> f64 {
    let db = Db::connect(&test.url).await.unwrap();
    let ids = fleet(&db, nodes).await;
    let stop = Arc::new(AtomicBool::new(false));
    let registry = registry(db.clone(), nodes, stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let done = Arc::new(Mutex::new(0usize));
    let started = Instant::now();
    let producer = tokio::spawn({
        let db = db.clone();
        async move {
            let mut queued = 0;
            while queued < total {
                let batch: Vec<(String, NewCommand)> = (queued..(queued + BATCH).min(total))
                    .map(|i| {
                        (
                            uuid::Uuid::new_v4().to_string(),
                            NewCommand {
                                product_id: ids[i % ids.len()].clone(),
                                kind: "ping".into(),
                                args: "{}".into(),
                                created_by: "bench".into(),
                            },
                        )
                    })
                    .collect();
                queued += batch.len();
                queue::enqueue(&db, &node_name(0), &batch, 3_600_000, 5)
                    .await
                    .unwrap();
            }
        }
    });
    let workers: Vec<_> = (0..nodes)
        .map(|n| {
            let (db, done) = (db.clone(), done.clone());
            if staged {
                tokio::spawn(staged_worker(db, n, done, total))
            } else {
                tokio::spawn(serial_worker(db, n, done, total))
            }
        })
        .collect();
    producer.await.unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    registry.await.unwrap();
    db.close().await;
    if std::env::var("VIGIL_BENCH_KEEP").is_err() {
        discard(test).await;
    }
    rate
}

/// Wake-ups as a product's callback server sees them.
#[derive(Clone, Default)]
struct Wakes(Arc<Mutex<HashMap<String, Instant>>>);

async fn wake(State(w): State<Wakes>, Path(id): Path<String>) -> StatusCode {
    w.0.lock().unwrap().insert(id, Instant::now());
    StatusCode::NO_CONTENT
}

/// Enqueue through another node's API → notification of the product by its
/// home node: p50, p99 in ms.
async fn latency(test: &TestDb, samples: usize) -> (f64, f64) {
    let wakes = Wakes::default();
    let app = axum::Router::new()
        .route("/wake/{id}", axum::routing::post(wake))
        .with_state(wakes.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/wake/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let home = TestNode::start(testkit::config(test, "home", NodeRole::Active)).await;
    let other = TestNode::start(testkit::config(test, "other", NodeRole::Active)).await;
    let client = reqwest::Client::new();
    let mut products_ids = Vec::new();
    for _ in 0..20 {
        let reply = testkit::register_product(&client, &home.url, "lat", Some(&base)).await;
        let uuid = reply["product_id"].as_str().unwrap().to_owned();
        let key = reply["key"].as_str().unwrap().to_owned();
        client
            .post(format!("{}/api/v1/products/{uuid}/handshake", home.url))
            .bearer_auth(&key)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        products_ids.push(uuid);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // homes written
    let login = client
        .post(format!("{}/api/v1/auth/login", other.url))
        .json(&serde_json::json!({"username": "admin", "password": testkit::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let product = &products_ids[i % products_ids.len()];
        wakes.0.lock().unwrap().remove(product);
        let started = Instant::now();
        // Queued through the other node's API: the home node hears of it
        // through the database (LISTEN/NOTIFY on PostgreSQL).
        let queued = client
            .post(format!("{}/api/v1/commands", other.url))
            .header(reqwest::header::COOKIE, &cookie)
            .json(&serde_json::json!({"product_id": product, "kind": "ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status(), 201);
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(at) = wakes.0.lock().unwrap().get(product) {
                lat.push(at.duration_since(started).as_secs_f64() * 1000.0);
                break;
            }
            assert!(Instant::now() < until, "no notification within 5 s");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    home.stop().await;
    other.stop().await;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        testkit::bench::percentile(&lat, 0.5),
        testkit::bench::percentile(&lat, 0.99),
    )
}

/// "median (lowest–highest)" of some rates.
fn spread(rates: &mut [f64]) -> String {
    if rates.is_empty() {
        return "not run".into();
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = rates[rates.len() / 2];
    format!(
        "{median:.0} ({:.0}–{:.0})",
        rates[0],
        rates[rates.len() - 1]
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::var("VIGIL_BENCH_ENGINES").unwrap_or_default();
    let wanted = |engine: &str| only.is_empty() || only.split(',').any(|e| e.trim() == engine);
    let parts = std::env::var("VIGIL_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == name);
    let dbs: Vec<TestDb> = testkit::databases()
        .await
        .into_iter()
        .filter(|d| wanted(d.engine))
        .collect();
    println!("pipeline: enqueue → claim → notify → deliver → ack, {PRODUCTS} two-way products, batches of {BATCH}");
    // Runs on a shared VM vary by ±20 %: each figure is the median of
    // `VIGIL_BENCH_RUNS` runs (3 unless set), with the lowest and highest.
    let runs: usize = std::env::var("VIGIL_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let fresh = |engine: &'static str| async move {
        testkit::databases()
            .await
            .into_iter()
            .find(|d| d.engine == engine)
    };
    let total: usize = std::env::var("VIGIL_BENCH_COMMANDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60_000);
    for engine in ["sqlite", "postgres"].into_iter().filter(|e| wanted(e)) {
        if fresh(engine).await.is_none() {
            println!("{engine}: skipped (no VIGIL_TEST_POSTGRES_URL)");
            continue;
        }
        for nodes in [1, 3] {
            let (mut serial, mut staged) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                if part(&format!("{nodes}-serial")) {
                    let test = fresh(engine).await.unwrap();
                    serial.push(pipeline(&test, nodes, total, false).await);
                }
                if part(&format!("{nodes}-staged")) {
                    let test = fresh(engine).await.unwrap();
                    staged.push(pipeline(&test, nodes, total, true).await);
                }
            }
            if serial.is_empty() && staged.is_empty() {
                continue;
            }
            println!(
                "{engine:>8}, {nodes} node(s): {total} commands, {runs} run(s), commands/s: \
                 serial {}, staged {}",
                spread(&mut serial),
                spread(&mut staged)
            );
        }
    }
    if !part("latency") {
        return;
    }
    println!(
        "latency: enqueue on one node → notification by the product's home node (200 commands)"
    );
    for test in dbs {
        let (p50, p99) = latency(&test, 200).await;
        println!("{:>8}: p50 {p50:.1} ms, p99 {p99:.1} ms", test.engine);
    }
}
