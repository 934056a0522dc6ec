//! vigil-sim: many virtual products in one process, for demos, load tests
//! and benchmarks. Reads commands on stdin: `stop N`, `start N`, `status`,
//! `quit`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent::{Client, Datagrams, Identity, Product, Transport};
use clap::Parser;
use protocol::Kind;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(name = "vigil-sim", about = "Simulates a fleet of managed products")]
struct Args {
    /// CA certificate (PEM) to verify https:// nodes with, beside the
    /// system's roots (a private CA).
    #[arg(long, env = "VIGIL_CA_CERT")]
    ca_cert: Option<std::path::PathBuf>,
    /// A node of the cluster.
    #[arg(long, env = "VIGIL_SERVER", default_value = "http://127.0.0.1:3000")]
    server: String,
    /// The cluster's enrollment secret (admins see it on the Settings page).
    #[arg(long, env = "VIGIL_ENROLLMENT_SECRET", hide_env_values = true)]
    enroll: String,
    /// How many products.
    #[arg(long, default_value_t = 50)]
    count: usize,
    /// Seconds between heartbeats of one product.
    #[arg(long, default_value_t = 5.0)]
    interval: f64,
    /// Spread of the interval, as a fraction (0.2 = ±20 %).
    #[arg(long, default_value_t = 0.2)]
    jitter: f64,
    /// `udp` or `http`.
    #[arg(long, default_value = "udp")]
    transport: Transport,
    /// Name prefix; the same prefix gives the same products (UUIDs) again.
    #[arg(long, default_value = "sim")]
    prefix: String,
    /// Registrations in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

struct Counters {
    sent: AtomicU64,
    errors: AtomicU64,
}

/// A small xorshift generator: jitter needs no cryptographic randomness.
fn jittered(interval: f64, jitter: f64, state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let unit = (*state % 10_000) as f64 / 10_000.0;
    Duration::from_secs_f64((interval * (1.0 + jitter * (2.0 * unit - 1.0))).max(0.05))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::trusting(args.ca_cert.as_deref())?;
    let namespace = uuid::Uuid::NAMESPACE_URL;
    let mut identities: Vec<Identity> = Vec::with_capacity(args.count);
    for chunk in (0..args.count)
        .collect::<Vec<_>>()
        .chunks(args.concurrency.max(1))
    {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let (client, server, secret) =
                (client.clone(), args.server.clone(), args.enroll.clone());
            let name = format!("{}-{i:05}", args.prefix);
            let product = Product {
                uuid: uuid::Uuid::new_v5(&namespace, format!("vigil-sim/{name}").as_bytes())
                    .to_string(),
                name,
                product_type: "simulated".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                callback_url: None,
            };
            set.spawn(async move { (i, client.register(&server, &secret, &product, None).await) });
        }
        let mut done: Vec<(usize, Identity)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (i, identity) = joined?;
            done.push((i, identity?));
        }
        done.sort_by_key(|(i, _)| *i);
        identities.extend(done.into_iter().map(|(_, id)| id));
    }
    println!(
        "registered {} products on {} ({} heartbeats every {} s)",
        identities.len(),
        args.server,
        args.transport,
        args.interval
    );

    let udp = Arc::new(Datagrams::bind().await?);
    let counters = Arc::new(Counters {
        sent: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let mut switches = Vec::new();
    for (i, me) in identities.into_iter().enumerate() {
        let running = Arc::new(AtomicBool::new(true));
        switches.push(running.clone());
        let (client, server, udp, counters) = (
            client.clone(),
            args.server.clone(),
            udp.clone(),
            counters.clone(),
        );
        let (transport, interval, jitter) = (args.transport, args.interval, args.jitter);
        tokio::spawn(async move {
            let mut rng =
                0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
            // Spread the first heartbeats over one interval.
            tokio::time::sleep(jittered(interval / 2.0, 1.0, &mut rng)).await;
            let mut beats = 0u64;
            loop {
                if running.load(Ordering::Relaxed) {
                    beats += 1;
                    let activity = serde_json::json!({"simulated": true, "beats": beats, "load": (rng % 400) as f64 / 100.0});
                    let sent = if transport == Transport::Udp {
                        udp.send(&me, Kind::Heartbeat, activity.to_string().as_bytes())
                            .await
                    } else {
                        client.heartbeat(&server, &me, Some(&activity)).await
                    };
                    let counter = if sent.is_ok() {
                        &counters.sent
                    } else {
                        &counters.errors
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(jittered(interval, jitter, &mut rng)).await;
            }
        });
    }

    let report = |switches: &[Arc<AtomicBool>]| {
        let running = switches
            .iter()
            .filter(|s| s.load(Ordering::Relaxed))
            .count();
        println!(
            "running {running} of {}; heartbeats sent {}, failed {}",
            switches.len(),
            counters.sent.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed)
        );
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => report(&switches),
            line = lines.next_line() => {
                let Some(line) = line? else {
                    // stdin closed: keep running until killed.
                    std::future::pending::<()>().await;
                    unreachable!()
                };
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["stop", n] | ["start", n] => {
                        let want_running = words[0] == "start";
                        let n: usize = n.parse().unwrap_or(0);
                        // Stop from the end, start from the front: the same products each time.
                        let mut changed = 0;
                        let order: Box<dyn Iterator<Item = &Arc<AtomicBool>>> = if want_running {
                            Box::new(switches.iter())
                        } else {
                            Box::new(switches.iter().rev())
                        };
                        for s in order {
                            if changed == n {
                                break;
                            }
                            if s.load(Ordering::Relaxed) != want_running {
                                s.store(want_running, Ordering::Relaxed);
                                changed += 1;
                            }
                        }
                        println!("{} {changed}", if want_running { "started" } else { "stopped" });
                        report(&switches);
                    }
                    ["status"] => report(&switches),
                    ["quit"] => {
                        report(&switches);
                        return Ok(());
                    }
                    [] => {}
                    _ => println!("commands: stop N | start N | status | quit"),
                }
            }
        }
    }
}
