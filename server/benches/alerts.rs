//! Alert evaluation at fleet scale: 1 000 enabled alerts of every kind over
//! 100 000 products, period 60 s, on three node processes sharing one
//! PostgreSQL and on one node on SQLite. Prints each node's CPU, the
//! database's CPU (PostgreSQL), the evaluation time per period (queries
//! and writes, from the evaluation records) and the firing latency: a
//! probe product goes offline at a random moment and the time until its
//! firing is listed by the API.
//!
//!     make bench-alerts        (starts a throwaway PostgreSQL)
//!
//! `VIGIL_BENCH_PRODUCTS` (100000), `VIGIL_BENCH_ALERTS` (1000),
//! `VIGIL_BENCH_PERIODS` (measured periods, 3) and `VIGIL_BENCH_ENGINES`
//! (`sqlite` or `postgres`) change the run.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use server::cluster::now_ms;
use server::db::Db;
use sqlx::Row;
use testkit::fleet::{self, Fleet};
use testkit::process::NodeProcess;
use testkit::TestDb;

const PERIOD_S: u64 = 60;
const PROBES: usize = 20;

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every PostgreSQL process on the machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// The definition, condition and scope of alert `i`: a mix of every kind,
/// over products, status changes and commands.
fn mixed(i: usize) -> (String, &'static str, &'static str) {
    let kind = ["firewall", "router", "storage"][i % 3];
    let version = format!("{}.{}", 1 + i % 3, i % 10);
    match i % 10 {
        0..=2 => (
            format!(r#"products where status = offline and type = "{kind}""#),
            "rows > 5000",
            "node",
        ),
        3 | 4 => (
            format!(r#"products where status = offline and version = "{version}""#),
            "rows > 5000",
            "fleet",
        ),
        5 => (
            format!(r#"products where status = online and type = "{kind}""#),
            "rows = 0",
            "fleet",
        ),
        6 => (
            "products where status = offline group by type count".into(),
            "count > 20000",
            "fleet",
        ),
        7 => (
            "status_changes during last 1h where to = offline".into(),
            "rows > 100000",
            "fleet",
        ),
        8 => (
            r#"commands during last 1d where state in (failed, dead)"#.into(),
            "rows > 100000",
            "fleet",
        ),
        _ => (
            format!(
                r#"products where status = offline and name = "db-{:05}""#,
                i * 7
            ),
            "per product",
            "node",
        ),
    }
}

/// Probe `k`: an alert on one product that goes offline during the run.
fn probe(k: usize) -> (String, &'static str, &'static str) {
    let definition = format!(r#"products where name = "probe-{k:02}" and status = offline"#);
    match k % 3 {
        0 => (definition, "rows > 0", "fleet"),
        1 => (definition, "rows > 0", "node"),
        _ => (definition, "per product", "node"),
    }
}

/// CPU figures at one moment of the run.
struct Sample {
    /// Seconds since the measured window began.
    elapsed: f64,
    at_ms: i64,
    /// Each node's CPU seconds so far.
    nodes: Vec<f64>,
    postgres: f64,
}

impl Sample {
    fn take(nodes: &[NodeProcess], started: Instant) -> Sample {
        Sample {
            elapsed: started.elapsed().as_secs_f64(),
            at_ms: now_ms(),
            nodes: nodes
                .iter()
                .map(|n| cpu_seconds(n.pid().expect("the node runs")))
                .collect(),
            postgres: postgres_cpu_seconds(),
        }
    }
}

async fn create(
    client: &reqwest::Client,
    node: &str,
    cookie: &str,
    name: &str,
    a: (String, &str, &str),
) -> String {
    let response = client
        .post(format!("{node}/api/v1/content"))
        .header("cookie", cookie)
        .json(&json!({
            "kind": "alert", "scope": "global", "name": name, "definition": a.0,
            "alert": {"condition": a.1, "period": format!("{PERIOD_S}s"), "scope": a.2}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{name}");
    let made: Value = response.json().await.unwrap();
    made["id"].as_str().unwrap().to_owned()
}

async fn run(db: TestDb, names: &[&str], products: usize, alerts: usize, periods: u64) {
    let bin = Path::new(env!("CARGO_BIN_EXE_vigil"));
    let mut nodes = Vec::new();
    for name in names {
        let env = [
            ("VIGIL_HEARTBEAT_INTERVAL", "1h"),
            ("VIGIL_ALERT_LIMIT", "5000"),
            ("RUST_LOG", "warn"),
        ];
        nodes.push(NodeProcess::start(bin, &db, name, &env).await);
    }
    let store = Db::connect(&db.url).await.unwrap();
    let now = now_ms();
    let filling = Instant::now();
    fleet::fill(
        &store,
        &Fleet {
            products,
            changes_per_product: 3,
            commands_per_product: 1,
            logs_per_product: 0,
            seed: 7,
            now_ms: now,
        },
    )
    .await
    .unwrap();
    if names.len() == 1 {
        sqlx::query("UPDATE products SET home_node = $1")
            .bind(names[0])
            .execute(store.pool())
            .await
            .unwrap();
    }
    for k in 0..PROBES {
        sqlx::query(
            "UPDATE products SET name = $1, status = 'online', home_node = $2 WHERE id = $3",
        )
        .bind(format!("probe-{k:02}"))
        .bind(names[k % names.len()])
        .bind(fleet::product_id(k))
        .execute(store.pool())
        .await
        .unwrap();
    }
    if db.engine == "postgres" {
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    }
    eprintln!("{}: fleet written in {:.0?}", db.engine, filling.elapsed());

    let client = reqwest::Client::new();
    let cookie = testkit::bench::admin_session(&nodes[0].url).await;
    let creating = Instant::now();
    let mut probes = Vec::new();
    for i in 0..alerts {
        let (name, spec) = if i < PROBES {
            (format!("probe {i:02}"), probe(i))
        } else {
            (format!("alert {i:04}"), mixed(i))
        };
        let id = create(&client, &nodes[0].url, &cookie, &name, spec).await;
        for other in &nodes[1..] {
            let r = client
                .put(format!(
                    "{}/api/v1/content/{id}/nodes/{}",
                    nodes[0].url, other.name
                ))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        }
        if i < PROBES {
            probes.push(id);
        }
    }
    eprintln!(
        "{}: {alerts} alerts made and enabled on {} node(s) in {:.0?}; warming up one period",
        db.engine,
        nodes.len(),
        creating.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(PERIOD_S + 5)).await;

    let window = Duration::from_secs(PERIOD_S * periods);
    let started = Instant::now();
    let start = Sample::take(&nodes, started);
    // Each probe goes offline at a random moment of its share of the window.
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let share = window.as_millis() as u64 / PROBES as u64;
    let mut when: Vec<(u64, usize)> = (0..PROBES)
        .map(|k| (k as u64 * share + rng.gen_range(0..share / 2), k))
        .collect();
    when.sort();
    let mut offline_at: HashMap<String, i64> = HashMap::new();
    let mut seen_at: HashMap<String, i64> = HashMap::new();
    let mut next = 0;
    // (seconds measured, each node's CPU seconds, PostgreSQL's), at the
    // end of the window; probes are watched a period longer.
    let mut at_end: Option<Sample> = None;
    let last_probe = Duration::from_millis(when.last().map_or(0, |w| w.0));
    while started.elapsed() < last_probe + Duration::from_secs(PERIOD_S + 10)
        && (seen_at.len() < PROBES || at_end.is_none())
    {
        if at_end.is_none() && started.elapsed() >= window {
            at_end = Some(Sample::take(&nodes, started));
        }
        while next < when.len() && started.elapsed().as_millis() as u64 >= when[next].0 {
            let k = when[next].1;
            sqlx::query("UPDATE products SET status = 'offline' WHERE id = $1")
                .bind(fleet::product_id(k))
                .execute(store.pool())
                .await
                .unwrap();
            offline_at.insert(probes[k].clone(), now_ms());
            next += 1;
        }
        let firings: Value = client
            .get(format!(
                "{}/api/v1/alerts/firings?active=true&limit=1000",
                nodes[0].url
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = now_ms();
        for f in firings.as_array().unwrap() {
            let alert = f["alert_id"].as_str().unwrap();
            if offline_at.contains_key(alert) && !seen_at.contains_key(alert) {
                seen_at.insert(alert.to_owned(), t);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let end = at_end.unwrap_or_else(|| Sample::take(&nodes, started));
    let (measured, started_ms, ended_ms) = (end.elapsed - start.elapsed, start.at_ms, end.at_ms);

    println!(
        "{}: {} node(s), {products} products, {alerts} alerts (period {PERIOD_S} s), {:.0} s measured",
        db.engine,
        nodes.len(),
        measured
    );
    for ((n, c0), c1) in nodes.iter().zip(&start.nodes).zip(&end.nodes) {
        let cpu = c1 - c0;
        println!(
            "  {} CPU: {:.1} % of one core",
            n.name,
            100.0 * cpu / measured
        );
    }
    if db.engine == "postgres" {
        let cpu = end.postgres - start.postgres;
        println!(
            "  PostgreSQL CPU (all its processes): {:.1} % of one core",
            100.0 * cpu / measured
        );
    }
    let rows = sqlx::query(
        "SELECT node, COUNT(*) AS n, CAST(SUM(took_ms) AS BIGINT) AS took, MAX(took_ms) AS worst \
         FROM alert_evaluations \
         WHERE at >= $1 AND at < $2 GROUP BY node ORDER BY node",
    )
    .bind(started_ms)
    .bind(ended_ms)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let per_period = measured / PERIOD_S as f64;
    for r in &rows {
        let (node, n, took, worst): (String, i64, i64, i64) =
            (r.get("node"), r.get("n"), r.get("took"), r.get("worst"));
        println!(
            "  {node}: {:.0} evaluations and {:.1} s of evaluation time (queries and writes) per period; slowest {worst} ms",
            n as f64 / per_period,
            took as f64 / 1000.0 / per_period
        );
    }
    let mut latencies: Vec<f64> = offline_at
        .iter()
        .filter_map(|(alert, at)| seen_at.get(alert).map(|s| (s - at) as f64 / 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "  firing latency (offline → listed by the API), {} of {} probes: p50 {:.1} s, p95 {:.1} s, max {:.1} s",
        latencies.len(),
        offline_at.len(),
        testkit::bench::percentile(&latencies, 0.5),
        testkit::bench::percentile(&latencies, 0.95),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    drop(nodes);
}

#[tokio::main]
async fn main() {
    let products = testkit::bench::env_usize("VIGIL_BENCH_PRODUCTS", 100_000);
    let alerts = testkit::bench::env_usize("VIGIL_BENCH_ALERTS", 1000).max(PROBES);
    let periods = testkit::bench::env_usize("VIGIL_BENCH_PERIODS", 3) as u64;
    let only = std::env::var("VIGIL_BENCH_ENGINES").unwrap_or_default();
    for db in testkit::databases().await {
        if !only.is_empty() && !only.contains(db.engine) {
            continue;
        }
        let names: &[&str] = if db.engine == "postgres" {
            &["node-a", "node-b", "node-c"]
        } else {
            &["node-a"]
        };
        run(db, names, products, alerts, periods).await;
    }
}
