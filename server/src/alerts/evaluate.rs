//! The evaluator: each node evaluates the alerts enabled on it, each once
//! per period at a point of the period fixed by the alert's id (spread, not
//! all at the top of the minute).
//!
//! - Scope `node`: over the products homed on this node, and on the nodes
//!   that are down, when this node is the first operational one (by name)
//!   of those where the alert is enabled: every node computes the same
//!   split from the registry, so a product is evaluated by one node.
//! - Scope `fleet`: over the whole fleet by the node holding the alert's
//!   lease; its writes count only while it still holds it (fencing).
//!
//! A firing is keyed by alert and key (the home node for `node` scope,
//! then a group's value or a product's id), and the unique index on open
//! firings keeps a second evaluation from opening another.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use app::api::content::{AlertScope, Severity};
use app::state::{StateClass, StateString};
use tokio::sync::watch;
use tokio::time::Instant;

use super::hysteresis::{step, Step};
use super::observe::{observe, samples};
use super::{store, Alerts};
use crate::cluster::store::{clock, hold_lease, live_leases, renew_leases};
use crate::content::EnabledAlert;
use crate::db::StoreError;

/// How often the evaluator looks for due alerts and renews its leases.
const TICK: Duration = Duration::from_secs(1);
/// A fleet alert's lease outlives its holder by this much at most; the
/// holder renews all of its leases every tick in one statement. Every node
/// tries an alert at the same point of its period, so when the holder dies
/// a node that found it held at its point of the period takes it as soon
/// as it runs out (see `Waiting`): within one period, none missed.
const LEASE_TTL_MS: i64 = 5_000;

/// The alerts enabled on this node are read again at least this often,
/// and whenever the content or alerts counters move.
const RELOAD: Duration = Duration::from_secs(30);

/// The alerts enabled here, as last read.
struct Enabled {
    alerts: Vec<EnabledAlert>,
    /// The content and alerts counters they were read at.
    at: Option<(Option<i64>, Option<i64>)>,
    read: Instant,
}

impl Enabled {
    async fn refresh(
        &mut self,
        alerts: &Alerts,
        state: &watch::Receiver<StateString>,
    ) -> Result<(), StoreError> {
        let now = {
            let s = state.borrow();
            (s.get(StateClass::Content), s.get(StateClass::Alerts))
        };
        if self.at != Some(now) || self.read.elapsed() >= RELOAD {
            self.alerts = alerts.content.alerts_enabled_here().await?;
            self.at = Some(now);
            self.read = Instant::now();
        }
        Ok(())
    }
}

/// Runs until `closing` turns true.
pub async fn run(
    alerts: Alerts,
    mut closing: watch::Receiver<bool>,
    state: watch::Receiver<StateString>,
) {
    let mut enabled = Enabled {
        alerts: Vec::new(),
        at: None,
        read: Instant::now(),
    };
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut held: BTreeSet<String> = BTreeSet::new();
    let mut waiting = Waiting::default();
    let mut tick = tokio::time::interval(TICK);
    let mut rounds = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = closing.changed() => {}
        }
        if *closing.borrow() {
            return;
        }
        let leases: Vec<String> = held.iter().cloned().collect();
        if let Err(e) = renew_leases(&alerts.db, &alerts.me, &leases, LEASE_TTL_MS).await {
            tracing::warn!(error = %e, "alert leases not renewed");
        }
        if let Err(e) = enabled.refresh(&alerts, &state).await {
            tracing::warn!(error = %e, "alerts enabled here not read; retrying next second");
            continue;
        }
        if let Err(e) = round(&alerts, &enabled.alerts, &mut due, &mut held, &mut waiting).await {
            tracing::warn!(error = %e, "alert evaluation failed; retrying next second");
        }
        rounds += 1;
        if rounds.is_multiple_of(3600) {
            let _ = store::forget_evaluations(&alerts.db).await;
        }
    }
}

/// Where in its period an alert is evaluated: the same offset on every node.
fn offset(id: &str, period: Duration) -> Duration {
    let hash = id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Duration::from_millis(hash % period.as_millis().max(1) as u64)
}

/// Fleet alerts whose lease another node held at their point of the
/// period: if that node dies before the next point, its lease runs out and
/// this node evaluates them then, instead of a period later.
#[derive(Default)]
struct Waiting(BTreeSet<String>);

impl Waiting {
    /// The waiting alerts whose lease nobody holds any more.
    async fn orphaned(&mut self, db: &crate::db::Db) -> Result<BTreeSet<String>, StoreError> {
        if self.0.is_empty() {
            return Ok(BTreeSet::new());
        }
        let names: Vec<String> = self.0.iter().map(|id| lease_name(id)).collect();
        let live = live_leases(db, &names).await?;
        Ok(self
            .0
            .iter()
            .filter(|id| !live.contains(&lease_name(id)))
            .cloned()
            .collect())
    }
}

async fn round(
    alerts: &Alerts,
    enabled: &[EnabledAlert],
    due: &mut HashMap<String, Instant>,
    held: &mut BTreeSet<String>,
    waiting: &mut Waiting,
) -> Result<(), StoreError> {
    due.retain(|id, _| enabled.iter().any(|a| &a.id == id));
    held.retain(|lease| enabled.iter().any(|a| lease_name(&a.id) == *lease));
    waiting.0.retain(|id| due.contains_key(id));
    let orphaned = waiting.orphaned(&alerts.db).await?;
    let now = Instant::now();
    let nodes = alerts.nodes.summaries().await?;
    for alert in enabled {
        let next = *due
            .entry(alert.id.clone())
            .or_insert_with(|| now + offset(&alert.id, alert.rule.period));
        if next > now && !orphaned.contains(&alert.id) {
            continue;
        }
        if next <= now {
            due.insert(alert.id.clone(), now + alert.rule.period);
        }
        let down: Vec<&str> = nodes
            .iter()
            .filter(|n| !n.operational)
            .map(|n| n.name.as_str())
            .collect();
        let up: Vec<&str> = nodes
            .iter()
            .filter(|n| n.operational)
            .map(|n| n.name.as_str())
            .collect();
        match evaluate(alerts, alert, &up, &down, held).await {
            Ok(true) => {
                waiting.0.remove(&alert.id);
            }
            Ok(false) => {
                waiting.0.insert(alert.id.clone());
            }
            Err(e) => tracing::warn!(alert = %alert.name, error = %e, "alert not evaluated"),
        }
    }
    Ok(())
}

/// The home nodes whose products this node evaluates an alert over.
pub fn homes(me: &str, enabled_on: &[String], up: &[&str], down: &[&str]) -> Vec<String> {
    let adopter = enabled_on.iter().filter(|n| up.contains(&n.as_str())).min();
    let mut homes = vec![me.to_string()];
    if adopter.is_some_and(|a| a == me) {
        homes.extend(down.iter().filter(|d| **d != me).map(|d| d.to_string()));
    }
    homes
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn lease_name(id: &str) -> String {
    format!("alert:{id}")
}

async fn evaluate(
    alerts: &Alerts,
    alert: &EnabledAlert,
    up: &[&str],
    down: &[&str],
    held: &mut BTreeSet<String>,
) -> Result<bool, StoreError> {
    let started = std::time::Instant::now();
    let me = alerts.me.as_ref();
    let lease = lease_name(&alert.id);
    let mut fence = None;
    let homes = match alert.rule.scope {
        AlertScope::Fleet => {
            if !hold_lease(&alerts.db, &lease, me, LEASE_TTL_MS).await? {
                held.remove(&lease);
                return Ok(false); // another node where it is enabled evaluates it
            }
            held.insert(lease.clone());
            fence = Some((lease.as_str(), me));
            Vec::new()
        }
        AlertScope::Node => homes(me, &alert.nodes, up, down),
    };
    let Ok(mut q) = query::analyze(&alert.definition, query::Kind::Alert) else {
        return Err(StoreError::Conflict(format!(
            "alert {} no longer checks",
            alert.name
        )));
    };
    let now = clock(&alerts.db).await?;
    let seen = observe(alerts, alert, &mut q, &homes, now).await?;
    // Keys of a node-scope alert start with their home node.
    let scopes: Vec<String> = if homes.is_empty() {
        vec![String::new()]
    } else {
        homes.iter().map(|h| format!("{h}/")).collect()
    };
    let Some(mut tx) = store::begin(&alerts.db, fence).await? else {
        return Ok(false); // the lease moved meanwhile
    };
    let mut changed = false;
    let mut keys = 0;
    for scope in &scopes {
        let mut memory = store::states(&mut tx, &alert.id, scope).await?;
        let mut all: BTreeSet<String> = memory.keys().cloned().collect();
        all.extend(
            seen.keys()
                .filter(|k| k.starts_with(scope.as_str()))
                .cloned(),
        );
        for key in all {
            keys += 1;
            let found = seen.get(&key);
            let (next, what) = step(
                memory.remove(&key).unwrap_or_default(),
                found.is_some(),
                now,
                alert.rule.hold.as_millis() as i64,
                alert.rule.clear_for.as_millis() as i64,
            );
            match what {
                Step::Open => {
                    let matched = found.copied().unwrap_or(0);
                    let id = uuid::Uuid::new_v4().to_string();
                    let sev = severity(alert.rule.severity);
                    let samples = samples(alerts, alert, &q, &key, now).await?.to_string();
                    if store::open(
                        &alerts.db, &mut tx, &id, &alert.id, &key, me, sev, matched, &samples,
                    )
                    .await?
                    {
                        changed = true;
                        let body = event_body(alert, &id, "fire", &key, matched, now);
                        store::queue_deliveries(
                            &alerts.db,
                            &mut tx,
                            &id,
                            "fire",
                            &body,
                            &alert.webhooks,
                        )
                        .await?;
                    }
                }
                Step::Clear => {
                    if let Some(id) = store::clear(&alerts.db, &mut tx, &alert.id, &key).await? {
                        changed = true;
                        let body = event_body(alert, &id, "clear", &key, 0, now);
                        store::queue_deliveries(
                            &alerts.db,
                            &mut tx,
                            &id,
                            "clear",
                            &body,
                            &alert.webhooks,
                        )
                        .await?;
                    }
                }
                Step::Keep => {}
            }
            store::put_state(&mut tx, &alert.id, &key, &next).await?;
        }
    }
    let record = store::Evaluation {
        item: &alert.id,
        node: me,
        homes: homes.join(","),
        keys,
        started,
        changed,
    };
    store::finish(&alerts.db, tx, record).await?;
    Ok(true)
}

/// The JSON a webhook receives for one event of a firing.
fn event_body(
    alert: &EnabledAlert,
    firing: &str,
    event: &str,
    key: &str,
    matched: i64,
    at: i64,
) -> String {
    serde_json::json!({
        "event": event,
        "firing_id": firing,
        "alert_id": alert.id,
        "alert": alert.name,
        "key": key,
        "severity": severity(alert.rule.severity),
        "matched": matched,
        "at": at,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::homes;

    #[test]
    fn the_first_operational_enabled_node_adopts_the_products_of_nodes_that_are_down() {
        let enabled = vec!["node-a".to_string(), "node-b".to_string()];
        assert_eq!(
            homes("node-a", &enabled, &["node-a", "node-b"], &["node-c"]),
            ["node-a", "node-c"]
        );
        assert_eq!(
            homes("node-b", &enabled, &["node-a", "node-b"], &["node-c"]),
            ["node-b"]
        );
        // node-a is down: node-b adopts its products and node-c's.
        assert_eq!(
            homes("node-b", &enabled, &["node-b"], &["node-a", "node-c"]),
            ["node-b", "node-a", "node-c"]
        );
    }
}
