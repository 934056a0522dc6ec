//! vigil-agent: the agent of one managed machine. Registers once (identity
//! kept in a state file), negotiates its heartbeat transport, reports
//! liveness with activity data (host, uptime, load), uploads its logs, polls
//! for commands, and moves to another node of the cluster when its node
//! stops answering.

use std::path::PathBuf;
use std::time::Duration;

use agent::{now_ms, Client, Datagrams, Identity, Product};
use clap::Parser;
use protocol::Kind;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "vigil-agent",
    about = "Reports this machine to a Vigil cluster"
)]
struct Args {
    /// A node of the cluster (repeat for more; the registration reply adds
    /// the others).
    #[arg(long = "server", env = "VIGIL_SERVER", required = true)]
    servers: Vec<String>,
    /// The cluster's enrollment secret.
    #[arg(long, env = "VIGIL_ENROLLMENT_SECRET")]
    enroll: String,
    /// Product name (default: the host name).
    #[arg(long)]
    name: Option<String>,
    /// Product type.
    #[arg(long, default_value = "endpoint-agent")]
    product_type: String,
    /// Seconds between heartbeats (default: what the node asks for).
    #[arg(long)]
    interval: Option<u64>,
    /// Where the identity is kept.
    #[arg(long, env = "VIGIL_AGENT_STATE", default_value = "vigil-agent.json")]
    state: PathBuf,
}

/// What survives a restart.
#[derive(Serialize, Deserialize)]
struct State {
    uuid: String,
    identity: Option<Identity>,
}

fn load_state(path: &PathBuf) -> State {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| State {
            uuid: uuid::Uuid::new_v4().to_string(),
            identity: None,
        })
}

fn save_state(path: &PathBuf, state: &State) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state)?)?;
    std::fs::rename(tmp, path)?;
    Ok(())
}

/// Host name, uptime and load, from /proc where there is one.
fn activity() -> serde_json::Value {
    let uptime = std::fs::read_to_string("/proc/uptime").ok().and_then(|t| {
        t.split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
    });
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|t| {
        t.split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
    });
    json!({
        "host": gethostname::gethostname().to_string_lossy(),
        "uptime_s": uptime.map(|u| u as u64),
        "load1": load,
        "agent": env!("CARGO_PKG_VERSION"),
    })
}

/// The servers to try, in order: the current one, then the cluster's other
/// operational nodes, active before passive, then the configured ones.
fn candidates(args: &Args, identity: Option<&Identity>, current: &str) -> Vec<String> {
    let mut list = vec![current.to_owned()];
    if let Some(id) = identity {
        let mut nodes: Vec<_> = id.nodes.iter().filter(|n| n.operational).collect();
        nodes.sort_by_key(|n| n.role != "active");
        list.extend(nodes.iter().map(|n| n.url.clone()));
    }
    list.extend(args.servers.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    list.retain(|s| seen.insert(s.clone()));
    list
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::new();
    let udp = Datagrams::bind().await?;
    let mut state = load_state(&args.state);
    let mut server = args.servers[0].clone();
    let product = Product {
        uuid: state.uuid.clone(),
        name: args
            .name
            .clone()
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned()),
        product_type: args.product_type.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        callback_url: None,
    };
    loop {
        // Register where needed, on the first node that answers.
        let me = match &state.identity {
            Some(me) => me.clone(),
            None => {
                let mut registered = None;
                for candidate in candidates(&args, None, &server) {
                    match client.register(&candidate, &args.enroll, &product).await {
                        Ok(me) => {
                            server = candidate;
                            registered = Some(me);
                            break;
                        }
                        Err(e) => eprintln!("register on {candidate}: {e:#}"),
                    }
                }
                let Some(me) = registered else {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                };
                state.identity = Some(me.clone());
                save_state(&args.state, &state)?;
                println!("registered as {} on {server}", me.product_id);
                me
            }
        };
        let _ = udp.hello(&me, now_ms()).await;
        let handshake = client.handshake(&server, &me).await;
        let transport = match &handshake {
            Ok(h) => h.transport.clone(),
            Err(e) if e.to_string().contains("401") => {
                state.identity = None; // unknown here: register again
                continue;
            }
            Err(_) => "http".into(),
        };
        println!("reporting to {server} over {transport}");
        let _ = client
            .logs(&server, &me, &[(now_ms(), "info", "vigil-agent started")])
            .await;
        let interval = Duration::from_secs(args.interval.unwrap_or(me.heartbeat_interval_s).max(1));
        // Report until the node fails, then move on.
        let mut failures = 0;
        while failures < 3 {
            let data = activity();
            let sent = if transport == "udp" {
                // A poll each beat tells whether the node still answers.
                udp.send(&me, Kind::Heartbeat, now_ms(), data.to_string().as_bytes())
                    .await
                    .and(client.poll(&server, &me).await.map(|_| ()))
            } else {
                client.heartbeat(&server, &me, Some(&data)).await
            };
            match sent {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    eprintln!("{server}: {e:#}");
                }
            }
            tokio::time::sleep(interval).await;
        }
        // Next node: the UDP endpoint belongs to the old node, so report
        // over HTTP there until the next handshake decides otherwise.
        let next = candidates(&args, Some(&me), &server)
            .into_iter()
            .find(|s| *s != server);
        if let Some(next) = next {
            println!("{server} stopped answering; moving to {next}");
            server = next;
        }
    }
}
