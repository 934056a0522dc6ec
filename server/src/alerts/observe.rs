//! What an alert's query sees now: which keys hold and how many rows each
//! matched (once for the fleet, or once per home node), a few rows for a
//! firing as it opens, and the editor's dry run. Reads only.

use std::collections::HashMap;

use app::api::content::AlertScope;

use super::Alerts;
use crate::cluster::store::clock;
use crate::content::alerts::Condition;
use crate::content::{Cell, EnabledAlert};
use crate::db::StoreError;

/// Rows of a per-product or grouped evaluation.
const KEYS: i64 = 10_000;

/// What one evaluation saw: each key whose condition holds, with how many
/// rows matched.
pub type Seen = HashMap<String, i64>;

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Bool(b) => b.to_string(),
    }
}

fn cell_json(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Null => serde_json::Value::Null,
        Cell::Text(s) => s.clone().into(),
        Cell::Int(n) => (*n).into(),
        Cell::Bool(b) => (*b).into(),
    }
}

/// How many products each home node has ('' for none yet).
pub async fn products_per_home(alerts: &Alerts) -> Result<HashMap<String, i64>, StoreError> {
    let q = query::analyze(
        "products group by home_node count limit 10000",
        query::Kind::Investigation,
    )
    .map_err(|e| StoreError::Conflict(e.to_string()))?;
    let rows = alerts
        .content
        .rows(&q, "", clock(&alerts.db).await?)
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let count = match r.get(1) {
                Some(Cell::Int(n)) => *n,
                _ => 0,
            };
            (cell_text(&r[0]), count)
        })
        .collect())
}

/// Runs an alert's condition once, now (the editor's "Test now"): over the
/// fleet, or over this node's products for a `node` alert. Writes nothing.
pub async fn dry_run(
    alerts: &Alerts,
    alert: &EnabledAlert,
) -> Result<Vec<(String, i64)>, StoreError> {
    let Ok(mut q) = query::analyze(&alert.definition, query::Kind::Alert) else {
        return Err(StoreError::Conflict("the query does not check".into()));
    };
    let homes = match alert.rule.scope {
        AlertScope::Fleet => Vec::new(),
        AlertScope::Node => vec![alerts.me.to_string()],
    };
    let now = clock(&alerts.db).await?;
    let seen = observe(alerts, alert, &mut q, &homes, now).await?;
    let mut fires: Vec<(String, i64)> = seen.into_iter().collect();
    fires.sort();
    Ok(fires)
}

/// Runs the alert's query and says which keys hold.
pub async fn observe(
    alerts: &Alerts,
    alert: &EnabledAlert,
    q: &mut query::Checked,
    homes: &[String],
    now: i64,
) -> Result<Seen, StoreError> {
    let mut seen = Seen::new();
    match alert.rule.condition {
        // One count per home; a few rows are read only when a firing opens.
        Condition::RowsAbove(_) | Condition::NoRows => {
            for (prefix, narrowed) in home_keys(q, homes) {
                let total = alerts.content.count(&narrowed, &alert.author, now).await?;
                let holds = match alert.rule.condition {
                    Condition::RowsAbove(n) => total > n,
                    _ => total == 0,
                };
                if holds {
                    seen.insert(prefix, total);
                }
            }
        }
        // Both read (key, count) groups: a group's value, or a product.
        Condition::GroupAbove(_) | Condition::PerProduct => {
            let above = match alert.rule.condition {
                Condition::GroupAbove(n) => n,
                _ => {
                    q.product_ids(KEYS);
                    0
                }
            };
            q.limit = KEYS;
            for (prefix, narrowed) in home_keys(q, homes) {
                let rows = alerts.content.rows(&narrowed, &alert.author, now).await?;
                for row in rows {
                    let count = match row.get(1) {
                        Some(Cell::Int(c)) => *c,
                        _ => 0,
                    };
                    if count > above {
                        seen.insert(format!("{prefix}{}", cell_text(&row[0])), count);
                    }
                }
            }
        }
    }
    Ok(seen)
}

/// A few of the rows behind a firing of a `rows` condition, as it opens
/// (its key is `<home>/` for a node alert, '' for a fleet alert).
pub async fn samples(
    alerts: &Alerts,
    alert: &EnabledAlert,
    q: &query::Checked,
    key: &str,
    now: i64,
) -> Result<serde_json::Value, StoreError> {
    if !matches!(
        alert.rule.condition,
        Condition::RowsAbove(_) | Condition::NoRows
    ) {
        return Ok(serde_json::Value::Null);
    }
    let mut few = q.clone();
    few.limit = 3;
    if let Some(home) = key.strip_suffix('/') {
        few.within_homes(&[home.to_owned()]);
    }
    let rows = alerts.content.rows(&few, &alert.author, now).await?;
    Ok(rows
        .iter()
        .map(|r| r.iter().map(cell_json).collect::<Vec<_>>())
        .collect::<Vec<_>>()
        .into())
}

/// The query as evaluated: once for the fleet (key prefix ''), or once per
/// home node (prefix `<home>/`) for a node-scope alert.
fn home_keys(q: &query::Checked, homes: &[String]) -> Vec<(String, query::Checked)> {
    if homes.is_empty() {
        return vec![(String::new(), q.clone())];
    }
    homes
        .iter()
        .map(|h| {
            let mut one = q.clone();
            one.within_homes(std::slice::from_ref(h));
            (format!("{h}/"), one)
        })
        .collect()
}
