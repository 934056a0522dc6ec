//! HTTPS against plain HTTP, in the same run: two nodes on one SQLite
//! database, one serving plain HTTP and one TLS (a certificate from a CA
//! made here), under the same wrk loads, taking turns ROUNDS times:
//!
//! - product heartbeats (a fleet of PRODUCTS, a random one per request);
//! - console keep-alives (an admin session, answered at once).
//!
//!     make bench-tls     (cargo bench -p server --bench tls; needs wrk)
//!
//! wrk keeps its connections open, as agents and consoles do, so this is
//! the steady cost of TLS (record encryption); handshakes are counted
//! separately with `-H "Connection: close"` on the keep-alive.

use std::time::Duration;

use app::api::NodeRole;
use testkit::bench::{admin_session, heartbeat_script, median, register_fleet, wrk};
use testkit::tls::TestCa;
use testkit::{self, TestNode};

const SECONDS: u32 = 5;
const CONNECTIONS: u32 = 64;
const ROUNDS: usize = 3;
const PRODUCTS: usize = 1000;

#[tokio::main]
async fn main() {
    let db = testkit::databases().await.remove(0);
    let ca = TestCa::new("bench CA");
    let written = ca.write(&db.dir.join("tls"), &["127.0.0.1"]).unwrap();
    let plain = TestNode::start(testkit::config(&db, "plain", NodeRole::Active)).await;
    let mut config = testkit::config(&db, "tls", NodeRole::Active);
    config.tls_cert = Some(written.cert);
    config.tls_key = Some(written.key);
    let tls = TestNode::start(config).await;

    let fleet = register_fleet(&plain.url, "bench", PRODUCTS).await;
    let script = db.dir.join("heartbeat.lua");
    std::fs::write(&script, heartbeat_script(&fleet)).unwrap();
    let cookie = format!("Cookie: {}", admin_session(&plain.url).await);

    println!(
        "wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {ROUNDS} rounds, plain and TLS alternating; \
         heartbeats of {PRODUCTS} products; keep-alives of one admin session"
    );
    let loads: [(&str, Vec<String>, &str); 3] = [
        (
            "heartbeat",
            vec!["-s".into(), script.to_str().unwrap().into()],
            "",
        ),
        (
            "keep-alive",
            vec!["-H".into(), cookie.clone()],
            "/api/v1/keepalive",
        ),
        (
            "keep-alive, new connection each",
            vec![
                "-H".into(),
                cookie.clone(),
                "-H".into(),
                "Connection: close".into(),
            ],
            "/api/v1/keepalive",
        ),
    ];
    let mut summary = Vec::new();
    for (load, extra, path) in &loads {
        let (mut plain_rates, mut tls_rates) = (Vec::new(), Vec::new());
        let mut non_2xx = 0;
        for round in 1..=ROUNDS {
            for (name, base) in [("plain", &plain.url), ("TLS", &tls.url)] {
                let (url, extra) = (format!("{base}{path}"), extra.clone());
                let run = tokio::task::spawn_blocking(move || {
                    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
                    wrk(&url, CONNECTIONS, SECONDS, &extra)
                })
                .await
                .unwrap();
                println!(
                    "round {round}: {load:<32} {name:<5} {:>8.0} requests/s ({} non-2xx)",
                    run.requests_per_s, run.non_2xx
                );
                non_2xx += run.non_2xx;
                if name == "TLS" {
                    tls_rates.push(run.requests_per_s);
                } else {
                    plain_rates.push(run.requests_per_s);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let (p, t) = (median(plain_rates), median(tls_rates));
        summary.push(format!(
            "{load:<32} plain {p:>8.0}  TLS {t:>8.0} requests/s  (TLS / plain {:.0} %)",
            100.0 * t / p.max(1.0)
        ));
        assert_eq!(non_2xx, 0, "{load}: every request must be answered 2xx");
    }
    println!("medians:");
    for line in summary {
        println!("  {line}");
    }
    tls.stop().await;
    plain.stop().await;
}
