//! Investigations over a large fleet: the time of five typical queries
//! (first page and total, through HTTP as the console asks them) and the
//! rate of a CSV export, on SQLite and PostgreSQL.
//!
//!     make bench-investigations        (starts a throwaway PostgreSQL)
//!     cargo bench -p server --bench investigations
//!
//! The fleet is written straight into a fresh database by
//! `testkit::fleet` (100 000 products with 5 status changes, 2 commands and
//! 10 log lines each over ten days). `VIGIL_BENCH_PRODUCTS` changes its
//! size, `VIGIL_BENCH_ENGINES=sqlite` (or `postgres`) measures one engine,
//! `VIGIL_BENCH_RUNS` sets the runs per query (40).

use std::time::{Duration, Instant};

use app::api::NodeRole;
use serde_json::json;
use server::db::Db;
use testkit::fleet::{self, Fleet};
use testkit::{self, TestNode};

const QUERIES: &[(&str, &str)] = &[
    (
        "offline web products",
        r#"products where status = offline and name ~ "web-*" and last_seen older_than 1d fields name, type, version, home_node, last_seen sort last_seen desc limit 100"#,
    ),
    ("products per status", "products group by status count"),
    (
        "went offline today",
        "status_changes during last 24h where to = offline fields at, product.name, from, to, cause limit 100",
    ),
    (
        "failed commands this week",
        "commands during last 7d where state in (failed, dead) fields created_at, product.name, kind, state, output limit 100",
    ),
    (
        "errors in the last hour",
        "logs during last 1h where level = error fields at, product.name, message limit 100",
    ),
];

const EXPORT: &str = "logs during last 10d fields at, product.name, level, message";

#[tokio::main]
async fn main() {
    let products = testkit::bench::env_usize("VIGIL_BENCH_PRODUCTS", 100_000);
    let runs = testkit::bench::env_usize("VIGIL_BENCH_RUNS", 40);
    let only = std::env::var("VIGIL_BENCH_ENGINES").unwrap_or_default();
    let client = reqwest::Client::new();
    for db in testkit::databases().await {
        if !only.is_empty() && !only.contains(db.engine) {
            continue;
        }
        let now = server::cluster::now_ms() as i64;
        let started = Instant::now();
        let store = Db::connect(&db.url).await.expect("database");
        let f = Fleet {
            products,
            changes_per_product: 5,
            commands_per_product: 2,
            logs_per_product: 10,
            seed: 1,
            now_ms: now,
        };
        fleet::fill(&store, &f).await.expect("fleet");
        // Statistics as a running cluster would have them.
        sqlx::query("ANALYZE")
            .execute(store.pool())
            .await
            .expect("analyze");
        println!(
            "{}: {products} products, {} status changes, {} commands, {} log lines written in {:.1} s",
            db.engine,
            products * 5,
            products * 2,
            products * 10,
            started.elapsed().as_secs_f64()
        );
        let node = TestNode::start(testkit::config(&db, "bench", NodeRole::Active)).await;
        let cookie = testkit::bench::admin_session(&node.url).await;
        for (name, query) in QUERIES {
            let mut times = Vec::with_capacity(runs);
            let mut total = 0;
            for i in 0..runs + 3 {
                let t = Instant::now();
                let reply: serde_json::Value = client
                    .post(format!("{}/api/v1/investigations/run", node.url))
                    .header("cookie", &cookie)
                    .json(&json!({"query": query}))
                    .send()
                    .await
                    .expect("run")
                    .json()
                    .await
                    .expect("json");
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                assert!(reply["total"].is_i64(), "{name}: {reply}");
                total = reply["total"].as_i64().unwrap();
                if i >= 3 {
                    times.push(ms); // the first runs warm the caches
                }
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "{}: {name:<26} p50 {:>7.1} ms  p95 {:>7.1} ms  ({total} rows in all)",
                db.engine,
                testkit::bench::percentile(&times, 0.5),
                testkit::bench::percentile(&times, 0.95)
            );
        }
        let t = Instant::now();
        let mut response = client
            .get(format!("{}/api/v1/investigations/run", node.url))
            .query(&[("format", "csv"), ("query", EXPORT)])
            .header("cookie", &cookie)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .expect("export");
        let (mut lines, mut bytes) = (0u64, 0u64);
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        }
        let secs = t.elapsed().as_secs_f64();
        let rows = lines.saturating_sub(1);
        println!(
            "{}: CSV export of {rows} log lines ({:.1} MB) in {secs:.2} s: {:.0} rows/s",
            db.engine,
            bytes as f64 / 1e6,
            rows as f64 / secs
        );
        node.stop().await;
    }
}
