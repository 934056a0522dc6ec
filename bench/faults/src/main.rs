//! vigil-faults: Vigil under load with faults injected, and its invariants
//! checked after each fault (see docs/RELIABILITY.md).
//!
//! The rig: a PostgreSQL primary with a synchronous streaming standby, a TCP
//! proxy of ours in front of each (pass, delay, drop, reset), three nodes
//! whose database URL names both servers (`target_session_attrs=read-write`),
//! simulated fleets over UDP and HTTP, ten agents that run commands (five
//! two-way, five one-way), a steady command load and headless consoles.
//!
//! ```text
//! vigil-faults                                   # every scenario once
//! vigil-faults --scenarios blackhole,promote     # some of them
//! vigil-faults --soak-minutes 30                 # all of them on a schedule
//! ```
//! Every run ends by itself and stops what it started.

mod checks;
mod cluster;
mod commands;
mod consoles;
mod diskfull;
mod postgres;

mod rig;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Clone)]
#[command(name = "vigil-faults", about = "Vigil under load with faults injected")]
pub struct Args {
    /// Scenarios, in order: kill, freeze, blackhole, promote, diskfull; and
    /// two more on request: delay (100 ms more per database round trip)
    /// and reset (every database connection reset).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,freeze,blackhole,promote,diskfull"
    )]
    scenarios: Vec<String>,
    /// Run every scenario on a schedule for this many minutes instead: a
    /// kill every 5 minutes, the others spread between them.
    #[arg(long)]
    soak_minutes: Option<u64>,
    /// Simulated products (half UDP, half HTTP, spread over the nodes).
    #[arg(long, default_value_t = 20_000)]
    products: usize,
    /// Seconds between two heartbeats of a simulated product.
    #[arg(long, default_value_t = 10)]
    heartbeat_seconds: u32,
    /// Commands queued per minute (to the agents' products).
    #[arg(long, default_value_t = 1_000)]
    commands_per_minute: u32,
    /// Headless consoles.
    #[arg(long, default_value_t = 50)]
    consoles: usize,
    /// How long a freeze, a black hole or a full disk lasts.
    #[arg(long, default_value_t = 30)]
    fault_seconds: u64,
    /// Seconds between the end of a fault and its checks.
    #[arg(long, default_value_t = 60)]
    settle_seconds: u64,
    /// Append the result tables to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn fault(&self) -> Duration {
        Duration::from_secs(self.fault_seconds)
    }

    fn settle(&self) -> Duration {
        Duration::from_secs(self.settle_seconds)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let work = std::env::temp_dir().join(format!("vigil-faults-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    // Ctrl-C drops the run, and with it every process it started.
    let outcome = tokio::select! {
        outcome = rig::run(&args, &work) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    diskfull::unmount_all(&work);
    let _ = std::fs::remove_dir_all(&work);
    let report = outcome?;
    println!("{report}");
    if let Some(path) = &args.out {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{report}")?;
    }
    if report.contains("| FAIL") {
        std::process::exit(1);
    }
    Ok(())
}
