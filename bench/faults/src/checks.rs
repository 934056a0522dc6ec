//! The invariants, read from the database and the load's own records after
//! a fault: false offline transitions, lost and stuck commands, commands run
//! twice, stale consoles, and the time to the first write after the fault.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sqlx::{AnyPool, Row};

use crate::{commands, consoles};

/// One fault, as the checks need it.
pub struct Window {
    pub name: String,
    pub fault: String,
    /// When the fault began and ended (harness clock).
    pub start: Instant,
    pub end: Instant,
    /// When it began, on the database's clock (ms).
    pub start_db_ms: i64,
    /// Node whose products could not report during the fault (frozen or
    /// dead longer than they may be silent): their offline transitions are
    /// expected, not false.
    pub silenced: Vec<String>,
}

/// What one fault did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub false_offline: u64,
    pub expected_offline: u64,
    pub accepted: usize,
    pub lost: u64,
    pub past_lease: u64,
    pub stuck_queued: u64,
    pub run_twice: u64,
    pub stale_consoles: u64,
    pub went_back: u64,
    pub recovery: Option<Duration>,
    pub states: BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.false_offline == 0
            && self.lost == 0
            && self.past_lease == 0
            && self.stuck_queued == 0
            && self.stale_consoles == 0
            && self.went_back == 0
    }

    /// One Markdown table row.
    pub fn row(&self, window: &Window, load: &str) -> String {
        let mut states = String::new();
        for (state, n) in &self.states {
            let _ = write!(states, "{state} {n} ");
        }
        format!(
            "| {} | {load} | {} | {} ({} expected) | {} of {} ({} past lease, {} stuck queued) | {} | {} | {} | {} |",
            window.name,
            window.fault,
            self.false_offline,
            self.expected_offline,
            self.lost,
            self.accepted,
            self.past_lease,
            self.stuck_queued,
            self.run_twice,
            self.stale_consoles,
            self.recovery
                .map_or("none".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            states.trim_end(),
        )
    }
}

pub const HEADER: &str = "| scenario | load | fault | false offline | commands lost | run twice (at-least-once) | stale consoles | first write after the fault | final command states |\n|---|---|---|---|---|---|---|---|---|";

/// The database's clock in ms.
pub async fn db_now(pool: &AnyPool, postgres: bool) -> anyhow::Result<i64> {
    let sql = if postgres {
        "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    } else {
        "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// Checks everything since `window.start`; commands accepted before it are
/// checked too (none may be lost, whenever it was queued).
pub async fn check(
    pool: &AnyPool,
    postgres: bool,
    window: &Window,
    load: &commands::Record,
    consoles: &consoles::Record,
    runs: &[String],
) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let now = db_now(pool, postgres).await?;

    let offline = sqlx::query(
        "SELECT p.name, t.at FROM product_transitions t JOIN products p ON p.id = t.product_id \
         WHERE t.to_status = 'offline' AND t.recorded_at >= $1",
    )
    .bind(window.start_db_ms)
    .fetch_all(pool)
    .await?;
    for row in &offline {
        let name: String = row.try_get("name")?;
        let expected = window
            .silenced
            .iter()
            .any(|node| name.starts_with(&format!("{node}-")));
        if expected {
            out.expected_offline += 1;
        } else {
            out.false_offline += 1;
            if out.notes.len() < 5 {
                out.notes.push(format!("false offline: {name}"));
            }
        }
    }

    let rows = sqlx::query("SELECT id, state, lease_until FROM commands")
        .fetch_all(pool)
        .await?;
    let mut states: HashMap<String, (String, Option<i64>)> = HashMap::new();
    for row in &rows {
        states.insert(
            row.try_get("id")?,
            (row.try_get("state")?, row.try_get("lease_until")?),
        );
    }
    let settled = Instant::now() - Duration::from_secs(90);
    out.accepted = load.accepted.len();
    for (id, at) in &load.accepted {
        match states.get(id) {
            None => {
                out.lost += 1;
                if out.notes.len() < 10 {
                    out.notes.push(format!("lost: command {id}"));
                }
            }
            Some((state, lease)) => {
                *out.states.entry(state.clone()).or_default() += 1;
                let in_flight = state == "dispatched" || state == "delivered";
                if in_flight && lease.is_some_and(|l| l < now - 5_000) {
                    out.past_lease += 1;
                }
                if state == "queued" && *at < settled {
                    out.stuck_queued += 1;
                }
            }
        }
    }

    let mut counts: HashMap<&str, u64> = HashMap::new();
    for id in runs {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    out.run_twice = counts.values().filter(|n| **n > 1).count() as u64;

    let mut stale: Vec<usize> = Vec::new();
    for s in consoles.stale.iter().filter(|s| s.to >= window.start) {
        stale.push(s.console);
        if out.notes.len() < 15 {
            out.notes.push(format!(
                "console {} had no good reply for {:.1} s, on {}",
                s.console,
                (s.to - s.from).as_secs_f64(),
                s.node
            ));
        }
    }
    let promise = consoles::promise();
    stale.extend(
        consoles
            .last_good
            .iter()
            .enumerate()
            .filter(|(_, at)| at.elapsed() > promise)
            .map(|(i, _)| i),
    );
    stale.sort_unstable();
    stale.dedup();
    out.stale_consoles = stale.len() as u64;
    out.went_back = consoles.went_back;
    out.recovery = load.first_after(window.end).map(|t| t - window.end);
    Ok(out)
}
