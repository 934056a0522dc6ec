//! vigil-agent: the agent of one managed machine. Registers once (identity
//! kept in a state file), negotiates its heartbeat transport, reports
//! liveness with activity data (host, uptime, load), uploads its logs, runs
//! the commands it is given (polling for them, or woken by the node in
//! two-way mode: through its HTTP callback, or by a signed UDP wake datagram
//! on its heartbeat socket), and moves to another node of the cluster when
//! its node stops answering.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use agent::{now_ms, Client, Datagrams, Identity, Mode, NodeRole, Product, Transport, Wake};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use protocol::Kind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Parser)]
#[command(
    name = "vigil-agent",
    about = "Reports this machine to a Vigil cluster"
)]
struct Args {
    /// CA certificate (PEM) to verify https:// nodes with, beside the
    /// system's roots (a private CA).
    #[arg(long, env = "VIGIL_CA_CERT")]
    ca_cert: Option<std::path::PathBuf>,
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
    /// Listen here for the node's wake-up calls (two-way mode), e.g.
    /// 0.0.0.0:8089. Without it the agent polls (one-way mode).
    #[arg(long, env = "VIGIL_AGENT_CALLBACK_LISTEN")]
    callback_listen: Option<SocketAddr>,
    /// The callback URL nodes use (default: http://<callback-listen>/vigil/wake).
    #[arg(long, env = "VIGIL_AGENT_CALLBACK_URL")]
    callback_url: Option<String>,
    /// Listen for the node's signed wake datagrams on the heartbeat socket
    /// (two-way mode without an HTTP callback; needs the UDP transport).
    #[arg(long, env = "VIGIL_AGENT_UDP_WAKE")]
    udp_wake: bool,
}

/// The identity, once registered: what wake-ups are signed with.
type SharedIdentity = Arc<RwLock<Option<Identity>>>;

/// Receives the node's wake datagrams: a probe is answered with a hello, a
/// wake wakes the command loop; anything else is ignored.
async fn serve_wakes(udp: Arc<Datagrams>, identity: SharedIdentity, wake: Arc<Notify>) {
    let mut buf = vec![0u8; protocol::MAX_DATAGRAM + 1];
    loop {
        let n = match udp.receive(&mut buf).await {
            Ok(n) => n,
            Err(_) => continue, // ICMP errors surface here; the socket stays usable
        };
        let Some(me) = identity.read().expect("identity lock").clone() else {
            continue;
        };
        match agent::read_wake(&buf[..n], &me) {
            // Signed with our key, so only a node can have sent it.
            Ok(Wake::Probe(challenge)) => {
                let _ = udp.answer_probe(&me, &challenge).await;
            }
            Ok(Wake::Fetch) => wake.notify_one(),
            Err(_) => {}
        }
    }
}

/// Accepts the node's signed wake-up calls and wakes the command loop.
async fn serve_callbacks(
    listener: tokio::net::TcpListener,
    identity: SharedIdentity,
    wake: Arc<Notify>,
) {
    let handler = move |headers: HeaderMap, body: Bytes| {
        let (identity, wake) = (identity.clone(), wake.clone());
        async move {
            let signature = headers
                .get("x-vigil-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let key = identity
                .read()
                .expect("identity lock")
                .as_ref()
                .map(|me| me.key.clone())
                .unwrap_or_default();
            if agent::signature_ok(&body, &key, signature) {
                wake.notify_one();
                StatusCode::NO_CONTENT
            } else {
                StatusCode::UNAUTHORIZED
            }
        }
    };
    let app = axum::Router::new().route("/vigil/wake", axum::routing::post(handler));
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("callback listener stopped: {e}");
    }
}

/// Fetches the waiting commands, runs them and posts their results.
async fn run_commands(client: &Client, server: &str, me: &Identity) -> anyhow::Result<()> {
    for command in client.commands(server, me, 0).await? {
        let (ok, output) = agent::execute(&command.kind, &command.args);
        println!(
            "command {} {}: {}",
            command.kind,
            command.id,
            if ok { "succeeded" } else { "failed" }
        );
        client.result(server, me, &command.id, ok, &output).await?;
    }
    Ok(())
}

/// What survives a restart.
#[derive(Serialize, Deserialize)]
struct State {
    uuid: String,
    identity: Option<Identity>,
    #[serde(default)]
    callback_url: Option<String>,
}

fn load_state(path: &PathBuf) -> State {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| State {
            uuid: uuid::Uuid::new_v4().to_string(),
            identity: None,
            callback_url: None,
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
        nodes.sort_by_key(|n| n.role != NodeRole::Active);
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
    let client = Client::trusting(args.ca_cert.as_deref())?;
    let udp = Arc::new(Datagrams::bind().await?);
    let mut state = load_state(&args.state);
    let mut server = args.servers[0].clone();
    let shared: SharedIdentity = Arc::default();
    let wake = Arc::new(Notify::new());
    let udp_port = if args.udp_wake {
        tokio::spawn(serve_wakes(udp.clone(), shared.clone(), wake.clone()));
        Some(udp.port()?)
    } else {
        None
    };
    let callback_url = match args.callback_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let bound = listener.local_addr()?;
            tokio::spawn(serve_callbacks(listener, shared.clone(), wake.clone()));
            Some(
                args.callback_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{bound}/vigil/wake")),
            )
        }
        None => None,
    };
    let product = Product {
        uuid: state.uuid.clone(),
        name: args
            .name
            .clone()
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned()),
        product_type: args.product_type.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        callback_url: callback_url.clone(),
    };
    // The key registering again proves this is the same product.
    let mut last_key = state.identity.as_ref().map(|me| me.key.clone());
    // Re-register when the callback changed, so the node knows it.
    if state.identity.is_some() && state.callback_url != callback_url {
        println!("callback changed; registering again");
        state.identity = None;
    }
    loop {
        // Register where needed, on the first node that answers.
        let me = match &state.identity {
            Some(me) => me.clone(),
            None => {
                let mut registered = None;
                for candidate in candidates(&args, None, &server) {
                    let proof = last_key.as_deref();
                    match client
                        .register(&candidate, &args.enroll, &product, proof)
                        .await
                    {
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
                last_key = Some(me.key.clone());
                state.identity = Some(me.clone());
                state.callback_url = callback_url.clone();
                save_state(&args.state, &state)?;
                println!("registered as {} on {server}", me.product_id);
                me
            }
        };
        *shared.write().expect("identity lock") = Some(me.clone());
        let _ = udp.hello(&me).await;
        let handshake = client.handshake(&server, &me, udp_port).await;
        let (transport, mode) = match &handshake {
            Ok(h) => (h.transport, h.mode),
            Err(e) if agent::refused_with(e, 401) => {
                state.identity = None; // unknown here: register again
                continue;
            }
            Err(_) => (Transport::Http, Mode::OneWay),
        };
        println!("reporting to {server} over {transport} ({mode})");
        let _ = client
            .logs(&server, &me, &[(now_ms(), "info", "vigil-agent started")])
            .await;
        let interval = Duration::from_secs(args.interval.unwrap_or(me.heartbeat_interval_s).max(1));
        // Report until the node fails, then move on. Commands are fetched
        // on every beat, and at once when the node wakes us.
        let mut failures = 0;
        let mut beat = tokio::time::interval(interval);
        while failures < 3 {
            let woken = tokio::select! {
                _ = beat.tick() => false,
                _ = wake.notified() => true,
            };
            let mut sent = Ok(());
            if !woken {
                let data = activity();
                sent = if transport == Transport::Udp {
                    udp.send(&me, Kind::Heartbeat, data.to_string().as_bytes())
                        .await
                } else {
                    client.heartbeat(&server, &me, Some(&data)).await
                };
            }
            // The fetch also tells whether the node still answers.
            let sent = sent.and(run_commands(&client, &server, &me).await);
            match sent {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    eprintln!("{server}: {e:#}");
                }
            }
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
