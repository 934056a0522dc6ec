//! The full disk, for the single node on SQLite: its data directory is a
//! small tmpfs that a filler file fills up while products report and
//! commands are queued; the filler is then removed. Checked: the API
//! answers the failed writes with a clear error, the node stays up, nothing
//! accepted is lost, the database passes `PRAGMA integrity_check`, no product
//! that kept reporting went offline, and how long after the space returns
//! the first write succeeds.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::any::AnyPoolOptions;
use tokio::sync::watch;

use crate::checks::{self, Window};
use crate::cluster::{Agent, Fleet, Node};
use crate::{commands, consoles, rig, Args};

const TMPFS_SIZE: &str = "96m";
const PRODUCTS: usize = 1_000;

fn mount_dir(work: &Path) -> PathBuf {
    work.join("disk")
}

/// Unmounts the tmpfs if a run left it mounted (an interrupted run).
pub fn unmount_all(work: &Path) {
    let dir = mount_dir(work);
    if dir.exists() {
        let _ = Command::new("umount").arg(&dir).status();
    }
}

/// Fills the file system under `dir` with `filler` until a write fails.
fn fill(filler: &Path) -> anyhow::Result<u64> {
    let mut file = std::fs::File::create(filler)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while file
        .write_all(&chunk)
        .and_then(|_| file.sync_data())
        .is_ok()
    {
        written += chunk.len() as u64;
    }
    // The last bytes too: whatever a smaller write still finds.
    while file
        .write_all(&[0u8; 512])
        .and_then(|_| file.sync_data())
        .is_ok()
    {
        written += 512;
    }
    Ok(written)
}

pub async fn run(args: &Args, work: &Path) -> anyhow::Result<String> {
    let dir = mount_dir(work);
    std::fs::create_dir_all(&dir)?;
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        bail!("diskfull needs to mount a tmpfs (run as root)");
    }
    let result = run_mounted(args, work, &dir).await;
    // The node and the agents are killed as their handles drop; the file
    // system is busy until they are gone.
    for _ in 0..20 {
        let quiet = Command::new("umount")
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if quiet {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    result
}

/// The node's database is on the small disk (`dir`); its log, the agents'
/// and the fleet's stay in `work`.
async fn run_mounted(args: &Args, work: &Path, dir: &Path) -> anyhow::Result<String> {
    let db_path = dir.join("vigil.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let mut node = Node::new(
        "solo",
        &url,
        work,
        &[("VIGIL_DATA_DIR", &dir.display().to_string())],
    );
    node.start().await?;
    let urls = vec![node.url.clone()];
    let agents = [
        Agent::start("agent-disk-2w", &urls, true, work)?,
        Agent::start("agent-disk-1w", &urls, false, work)?,
    ];
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=ro", db_path.display()))
        .await?;
    let _fleet = Fleet::start(
        &node.url,
        "solo-http",
        PRODUCTS,
        "http",
        args.heartbeat_seconds,
        &work.join("solo-fleet.log"),
    )?;
    let started = Instant::now();
    loop {
        let online: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE status = 'online'")
                .fetch_one(&pool)
                .await?;
        if online >= (PRODUCTS + agents.len()) as i64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("diskfull: only {online} products online");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM products WHERE name LIKE 'agent-%' ORDER BY name")
            .fetch_all(&pool)
            .await?;
    let cookie = rig::sign_in(&node.url).await?;
    let (stop, stopping) = watch::channel(false);
    let per_minute = (args.commands_per_minute / 4).max(60);
    let load = commands::start(
        per_minute,
        urls.clone(),
        cookie.clone(),
        ids,
        stopping.clone(),
    );
    let screens = consoles::start(5, urls, cookie, stopping);
    tokio::time::sleep(Duration::from_secs(20)).await;

    let mut window = Window {
        name: "diskfull".into(),
        fault: format!(
            "SQLite data disk ({TMPFS_SIZE} tmpfs) full for {} s",
            args.fault_seconds
        ),
        start: Instant::now(),
        end: Instant::now(),
        start_db_ms: checks::db_now(&pool, false).await?,
        silenced: Vec::new(),
    };
    let filler = dir.join("filler");
    let filled = fill(&filler).context("fill the disk")?;
    tokio::time::sleep(args.fault()).await;
    let alive = reqwest::get(format!("{}/healthz", node.url))
        .await
        .is_ok_and(|r| r.status().is_success());
    std::fs::remove_file(&filler)?;
    window.end = Instant::now();
    tokio::time::sleep(args.settle()).await;

    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await?;
    let runs: Vec<String> = agents.iter().flat_map(Agent::runs).collect();
    let load = load.lock().expect("record").clone();
    let screens = screens.lock().expect("record").clone();
    let outcome = checks::check(&pool, false, &window, &load, &screens, &runs).await?;
    stop.send_replace(true);
    let passed = outcome.passed() && integrity == "ok" && alive;
    let verdict = if passed { "PASS" } else { "FAIL" };
    let load_text = format!(
        "1 node on SQLite, {PRODUCTS} products (HTTP), {per_minute} commands/min, 5 consoles"
    );
    let mut text = format!("{} {verdict} |", outcome.row(&window, &load_text));
    text.push_str(&format!(
        "\n  - filler wrote {} MB; node answered /healthz while full: {alive}; integrity_check: {integrity}",
        filled / 1_000_000
    ));
    text.push_str(&format!(
        "\n  - command requests not accepted: {:?}",
        load.errors
    ));
    for note in &outcome.notes {
        text.push_str(&format!("\n  - {note}"));
    }
    Ok(text)
}
