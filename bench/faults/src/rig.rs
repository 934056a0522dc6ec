//! The cluster under load, and the faults applied to it in turn.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use tokio::sync::watch;

use crate::checks::{self, Window};
use crate::cluster::{Agent, Fleet, Node, ADMIN_PASSWORD};
use crate::postgres::Pair;
use crate::{commands, consoles, diskfull, Args};
use testkit::proxy::{Mode, Proxy};

/// Everything running; dropping it stops every process.
struct Rig {
    pair: Pair,
    proxies: Vec<Proxy>,
    nodes: Vec<Node>,
    _fleets: Vec<Fleet>,
    agents: Vec<Agent>,
    pool: AnyPool,
    commands: Arc<Mutex<commands::Record>>,
    consoles: Arc<Mutex<consoles::Record>>,
    stop: watch::Sender<bool>,
    load: String,
}

/// Signs in as the bootstrap admin; returns the session cookie.
pub async fn sign_in(node: &str) -> anyhow::Result<String> {
    let reply = reqwest::Client::new()
        .post(format!("{node}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?;
    if !reply.status().is_success() {
        bail!("sign-in refused: {}", reply.status());
    }
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vigil_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("no session cookie")
}

/// Polls `sql` (one number) until it reaches `want`, for up to `limit`.
async fn wait_count(pool: &AnyPool, sql: &str, want: i64, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
        if n >= want {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!("{sql}: {n} of {want} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    Ok(AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?)
}

impl Rig {
    async fn start(args: &Args, work: &Path) -> anyhow::Result<Rig> {
        let started = Instant::now();
        let pair = Pair::start(&work.join("pg"))?;
        pair.psql("CREATE DATABASE vigil", "postgres")?;
        let mut proxies = Vec::new();
        for server in &pair.servers {
            proxies.push(Proxy::start(([127, 0, 0, 1], server.port).into()).await?);
        }
        let url = format!(
            "postgres://postgres@{}/vigil?target_session_attrs=read-write",
            proxies
                .iter()
                .map(|p| p.addr.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut nodes = Vec::new();
        for name in ["n1", "n2", "n3"] {
            let mut node = Node::new(name, &url, work, &[]);
            node.start().await?;
            nodes.push(node);
        }
        let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
        let pool = connect(&pair.url("vigil")).await?;
        let mut agents = Vec::new();
        for i in 0..10 {
            let two_way = i < 5;
            let name = format!("agent-{}-{i}", if two_way { "2w" } else { "1w" });
            agents.push(Agent::start(&name, &urls, two_way, work)?);
        }
        wait_count(
            &pool,
            "SELECT COUNT(*) FROM products WHERE name LIKE 'agent-%' AND mode IS NOT NULL",
            10,
            Duration::from_secs(60),
        )
        .await?;
        let agent_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM products WHERE name LIKE 'agent-%' ORDER BY name")
                .fetch_all(&pool)
                .await?;

        let mut fleets = Vec::new();
        let share = args.products / (2 * nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            for (j, transport) in ["udp", "http"].into_iter().enumerate() {
                let last = i == nodes.len() - 1 && j == 1;
                let count = if last {
                    args.products - share * (2 * nodes.len() - 1)
                } else {
                    share
                };
                let prefix = format!("{}-{transport}", node.name);
                let log = work.join(format!("{prefix}.log"));
                fleets.push(Fleet::start(
                    &node.url,
                    &prefix,
                    count,
                    transport,
                    args.heartbeat_seconds,
                    &log,
                )?);
            }
        }
        let total = (args.products + agents.len()) as i64;
        wait_count(
            &pool,
            "SELECT COUNT(*) FROM products WHERE status = 'online'",
            total,
            Duration::from_secs(600),
        )
        .await?;
        let cookie = sign_in(&nodes[0].url).await?;
        let (stop, stopping) = watch::channel(false);
        let consoles = consoles::start(
            args.consoles,
            urls.clone(),
            cookie.clone(),
            stopping.clone(),
        );
        let commands = commands::start(args.commands_per_minute, urls, cookie, agent_ids, stopping);
        let load = format!(
            "{} products ({} s heartbeats, UDP and HTTP), {} commands/min, {} consoles, 3 nodes",
            args.products, args.heartbeat_seconds, args.commands_per_minute, args.consoles
        );
        println!(
            "rig ready in {:.0} s: {load}",
            started.elapsed().as_secs_f64()
        );
        Ok(Rig {
            pair,
            proxies,
            nodes,
            _fleets: fleets,
            agents,
            pool,
            commands,
            consoles,
            stop,
            load,
        })
    }

    async fn window(
        &self,
        name: &str,
        fault: String,
        silenced: Vec<String>,
    ) -> anyhow::Result<Window> {
        Ok(Window {
            name: name.to_owned(),
            fault,
            start: Instant::now(),
            end: Instant::now(),
            start_db_ms: checks::db_now(&self.pool, true).await?,
            silenced,
        })
    }

    /// One fault, from its start to its end (the checks come later).
    async fn inject(&mut self, scenario: &str, turn: usize, args: &Args) -> anyhow::Result<Window> {
        let k = turn % self.nodes.len();
        let node = self.nodes[k].name.clone();
        let mut window = match scenario {
            "kill" => {
                let w = self
                    .window(
                        scenario,
                        format!("SIGKILL {node}, restarted at once"),
                        vec![],
                    )
                    .await?;
                self.nodes[k].kill().await?;
                self.nodes[k].start().await?;
                w
            }
            "freeze" => {
                let fault = format!("SIGSTOP {node} for {} s, then SIGCONT", args.fault_seconds);
                // Its products report to it alone: they cannot be heard.
                let w = self.window(scenario, fault, vec![node]).await?;
                self.nodes[k].signal("STOP")?;
                tokio::time::sleep(args.fault()).await;
                self.nodes[k].signal("CONT")?;
                w
            }
            "blackhole" => {
                let fault = format!(
                    "database black-holed (dropped, not refused) for {} s",
                    args.fault_seconds
                );
                let w = self.window(scenario, fault, vec![]).await?;
                self.proxies.iter().for_each(|p| p.set(Mode::Drop));
                tokio::time::sleep(args.fault()).await;
                self.proxies.iter().for_each(|p| p.set(Mode::Pass));
                w
            }
            "delay" | "reset" => {
                // Extra scenarios: every database round trip 100 ms slower
                // for the fault's length, or every connection reset once.
                let (mode, fault) = if scenario == "delay" {
                    (
                        Mode::Delay(Duration::from_millis(100)),
                        format!(
                            "database 100 ms slower each way for {} s",
                            args.fault_seconds
                        ),
                    )
                } else {
                    (
                        Mode::Reset,
                        "every database connection reset (RST)".to_owned(),
                    )
                };
                let w = self.window(scenario, fault, vec![]).await?;
                self.proxies.iter().for_each(|p| p.set(mode));
                if scenario == "delay" {
                    tokio::time::sleep(args.fault()).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                self.proxies.iter().for_each(|p| p.set(Mode::Pass));
                w
            }
            "promote" => {
                let w = self
                    .window(
                        scenario,
                        "primary killed (immediate), standby promoted".into(),
                        vec![],
                    )
                    .await?;
                self.pair.fail_over()?;
                self.pool = connect(&self.pair.url("vigil")).await?;
                w
            }
            other => bail!("unknown scenario {other}"),
        };
        window.end = Instant::now();
        Ok(window)
    }

    async fn check(&self, window: &Window) -> anyhow::Result<String> {
        let runs: Vec<String> = self.agents.iter().flat_map(Agent::runs).collect();
        // Copies, so no lock is held across the checks' awaits.
        let load = self.commands.lock().expect("record").clone();
        let consoles = self.consoles.lock().expect("record").clone();
        let outcome = checks::check(&self.pool, true, window, &load, &consoles, &runs).await?;
        let verdict = if outcome.passed() { "PASS" } else { "FAIL" };
        let mut text = format!("{} {verdict} |", outcome.row(window, &self.load));
        for note in &outcome.notes {
            text.push_str(&format!("\n  - {note}"));
        }
        if !load.errors.is_empty() {
            text.push_str(&format!(
                "\n  - command requests not accepted: {:?}",
                load.errors
            ));
        }
        text.push_str(&format!(
            "\n  - consoles: {} replies ({} saying the database was silent), {} moves",
            consoles.replies, consoles.database_silent, consoles.moves
        ));
        Ok(text)
    }
}

/// Runs the scenarios (or the soak) and returns the report.
pub async fn run(args: &Args, work: &Path) -> anyhow::Result<String> {
    let cluster: Vec<&str> = args
        .scenarios
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "diskfull")
        .collect();
    let mut report = format!(
        "### vigil-faults, {}\n\n{} verdict |\n{}---|\n",
        run_date(),
        checks::HEADER.lines().next().unwrap_or_default(),
        checks::HEADER.lines().nth(1).unwrap_or_default()
    );
    let diskfull_wanted = args.scenarios.iter().any(|s| s == "diskfull");
    // In a soak the full disk comes during the cluster's run, at 22 min.
    let mut soak_disk = None;
    if !cluster.is_empty() || args.soak_minutes.is_some() {
        let mut rig = Rig::start(args, work).await?;
        if let (Some(_), true) = (args.soak_minutes, diskfull_wanted) {
            let (args, work) = (args.clone(), work.to_owned());
            soak_disk = Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(22 * 60)).await;
                diskfull::run(&args, &work).await
            }));
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        let plan = schedule(args, &cluster);
        let started = Instant::now();
        let mut whole = match args.soak_minutes {
            Some(minutes) => Some(
                rig.window("soak", format!("all of the above, {minutes} min"), vec![])
                    .await?,
            ),
            None => None,
        };
        let mut rebuild_at: Option<Instant> = None;
        for (turn, (at, scenario)) in plan.into_iter().enumerate() {
            tokio::time::sleep_until((started + at).into()).await;
            if rebuild_at.is_some_and(|t| t <= Instant::now()) {
                // A base backup takes seconds; off the runtime's threads,
                // so the consoles and the load keep their pace meanwhile.
                tokio::task::block_in_place(|| rig.pair.rebuild_standby())?;
                rebuild_at = None;
            }
            println!("{:>5.0} s: {scenario}", started.elapsed().as_secs_f64());
            let window = rig.inject(scenario, turn, args).await?;
            if let Some(whole) = whole.as_mut() {
                whole.silenced.extend(window.silenced.iter().cloned());
            }
            if scenario == "promote" {
                rebuild_at = Some(Instant::now() + args.settle());
            }
            tokio::time::sleep(args.settle()).await;
            let row = rig.check(&window).await?;
            println!("{row}");
            report.push_str(&row);
            report.push('\n');
        }
        if let (Some(window), Some(minutes)) = (whole, args.soak_minutes) {
            // The whole soak, checked once more at its end.
            tokio::time::sleep_until((started + Duration::from_secs(minutes * 60)).into()).await;
            let row = rig.check(&window).await?;
            println!("{row}");
            report.push_str(&row);
            report.push('\n');
        }
        rig.stop.send_replace(true);
    }
    if let Some(disk) = soak_disk {
        let row = disk.await??;
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    } else if diskfull_wanted {
        let row = diskfull::run(args, work).await?;
        println!("{row}");
        report.push_str(&row);
        report.push('\n');
    }
    Ok(report)
}

/// When each fault starts, from the end of the warm-up: in turn, or for a
/// soak a kill every 5 minutes and the others between the kills.
fn schedule<'a>(args: &Args, cluster: &[&'a str]) -> Vec<(Duration, &'a str)> {
    let step = args.fault() + args.settle() + Duration::from_secs(10);
    match args.soak_minutes {
        None => cluster
            .iter()
            .enumerate()
            .map(|(i, s)| (step * i as u32, *s))
            .collect(),
        Some(minutes) => {
            let mut plan = Vec::new();
            let others: Vec<&str> = ["freeze", "blackhole", "promote"]
                .into_iter()
                .filter(|s| cluster.contains(s))
                .collect();
            let mut others = others.into_iter();
            let mut minute = 5;
            while minute < minutes {
                plan.push((Duration::from_secs(minute * 60), "kill"));
                if let Some(other) = others.next() {
                    plan.push((Duration::from_secs(minute * 60 + 150), other));
                }
                minute += 5;
            }
            plan
        }
    }
}

fn run_date() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d %H:%M UTC")
        .env("TZ", "UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
