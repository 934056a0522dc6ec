//! All SQL of alerts as content: their settings, the nodes they are enabled
//! on, and each node's limit.

use std::collections::HashMap;
use std::time::Duration;

use app::api::content::{AlertScope, Severity};
use app::state::StateClass;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::super::alerts::{Condition, Rule};
use crate::cluster::store::bump;
use crate::db::{Db, Dialect, StoreError, WriteTx};

/// What an enable came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enable {
    Done,
    AlreadyOn,
    /// The node has `enabled` of its `limit` alerts enabled already.
    Full {
        enabled: i64,
        limit: i64,
    },
    /// No node of that name has started with alerts.
    NoSuchNode,
}

pub(super) fn rule_of(row: &AnyRow) -> Result<Rule, sqlx::Error> {
    let bad = |what: &str| sqlx::Error::Decode(format!("bad alert {what}").into());
    let ms = |col: &str| -> Result<Duration, sqlx::Error> {
        Ok(Duration::from_millis(
            row.try_get::<i64, _>(col)?.max(0) as u64
        ))
    };
    let condition: String = row.try_get("condition")?;
    Ok(Rule {
        condition: Condition::from_columns(&condition, row.try_get("threshold")?)
            .ok_or_else(|| bad("condition"))?,
        period: ms("period_ms")?,
        hold: ms("for_ms")?,
        clear_for: ms("clear_for_ms")?,
        severity: match row.try_get::<String, _>("severity")?.as_str() {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return Err(bad("severity")),
        },
        scope: match row.try_get::<String, _>("scope")?.as_str() {
            "node" => AlertScope::Node,
            "fleet" => AlertScope::Fleet,
            _ => return Err(bad("scope")),
        },
    })
}

/// Writes an alert's settings (new or changed).
pub async fn put_settings(tx: &mut WriteTx, item: &str, rule: &Rule) -> Result<(), StoreError> {
    let (condition, threshold) = rule.condition.columns();
    let severity = match rule.severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    };
    let scope = match rule.scope {
        AlertScope::Node => "node",
        AlertScope::Fleet => "fleet",
    };
    sqlx::query(
        "INSERT INTO alert_settings (item_id, condition, threshold, period_ms, for_ms, clear_for_ms, severity, scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (item_id) DO UPDATE SET condition = excluded.condition, threshold = excluded.threshold, \
         period_ms = excluded.period_ms, for_ms = excluded.for_ms, clear_for_ms = excluded.clear_for_ms, \
         severity = excluded.severity, scope = excluded.scope",
    )
    .bind(item)
    .bind(condition)
    .bind(threshold)
    .bind(rule.period.as_millis() as i64)
    .bind(rule.hold.as_millis() as i64)
    .bind(rule.clear_for.as_millis() as i64)
    .bind(severity)
    .bind(scope)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The settings and enabled nodes of every alert the user may see.
pub async fn visible(
    db: &Db,
    user: i64,
) -> Result<HashMap<String, (Rule, Vec<String>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.item_id, s.condition, s.threshold, s.period_ms, s.for_ms, s.clear_for_ms, s.severity, s.scope \
         FROM alert_settings s JOIN content_items i ON i.id = s.item_id \
         WHERE i.user_id = $1 OR i.user_id IS NULL",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    let mut out = HashMap::new();
    for row in &rows {
        out.insert(
            row.try_get::<String, _>("item_id")?,
            (rule_of(row)?, Vec::new()),
        );
    }
    let enabled = sqlx::query(
        "SELECT e.item_id, e.node FROM alert_enabled e JOIN content_items i ON i.id = e.item_id \
         WHERE i.user_id = $1 OR i.user_id IS NULL ORDER BY e.node",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    for row in &enabled {
        let item: String = row.try_get("item_id")?;
        if let Some((_, nodes)) = out.get_mut(&item) {
            nodes.push(row.try_get("node")?);
        }
    }
    Ok(out)
}

/// The names of the alerts the user may see, by id.
pub async fn names_visible(db: &Db, user: i64) -> Result<HashMap<String, String>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.item_id, i.name FROM alert_settings s JOIN content_items i ON i.id = s.item_id \
         WHERE i.user_id = $1 OR i.user_id IS NULL",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("item_id")?, r.try_get("name")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// One alert's settings and enabled nodes.
pub async fn of(db: &Db, item: &str) -> Result<Option<(Rule, Vec<String>)>, StoreError> {
    let row = sqlx::query(
        "SELECT condition, threshold, period_ms, for_ms, clear_for_ms, severity, scope \
         FROM alert_settings WHERE item_id = $1",
    )
    .bind(item)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let nodes: Vec<String> =
        sqlx::query_scalar("SELECT node FROM alert_enabled WHERE item_id = $1 ORDER BY node")
            .bind(item)
            .fetch_all(db.pool())
            .await?;
    Ok(Some((rule_of(&row)?, nodes)))
}

/// Records this node's `alert_limit` (at start).
pub async fn publish_limit(db: &Db, node: &str, limit: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alert_limits (node, alert_limit) VALUES ($1, $2) \
         ON CONFLICT (node) DO UPDATE SET alert_limit = excluded.alert_limit",
    )
    .bind(node)
    .bind(limit)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Enables an alert on `node` unless that node is at its limit. The node's
/// limit row is locked first, so two enables on one node cannot both take
/// its last place.
pub async fn enable(
    db: &Db,
    tx: &mut WriteTx,
    item: &str,
    node: &str,
    by: &str,
) -> Result<Enable, StoreError> {
    let lock = match db.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let limit: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT alert_limit FROM alert_limits WHERE node = $1{lock}"
    ))
    .bind(node)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(limit) = limit else {
        return Ok(Enable::NoSuchNode);
    };
    let on: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM alert_enabled WHERE item_id = $1 AND node = $2")
            .bind(item)
            .bind(node)
            .fetch_optional(&mut **tx)
            .await?;
    if on.is_some() {
        return Ok(Enable::AlreadyOn);
    }
    let enabled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert_enabled WHERE node = $1")
        .bind(node)
        .fetch_one(&mut **tx)
        .await?;
    if enabled >= limit {
        return Ok(Enable::Full { enabled, limit });
    }
    let now = db.dialect().now_ms();
    sqlx::query(&format!(
        "INSERT INTO alert_enabled (item_id, node, enabled_at, enabled_by) VALUES ($1, $2, {now}, $3)"
    ))
    .bind(item)
    .bind(node)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    bump(&mut **tx, StateClass::Alerts).await?;
    Ok(Enable::Done)
}

/// Disables an alert on `node`; whether it was enabled there.
pub async fn disable(tx: &mut WriteTx, item: &str, node: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM alert_enabled WHERE item_id = $1 AND node = $2")
        .bind(item)
        .bind(node)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() > 0 {
        bump(&mut **tx, StateClass::Alerts).await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Moves the alerts counter (an alert's definition changed).
pub async fn changed(tx: &mut WriteTx) -> Result<(), StoreError> {
    bump(&mut **tx, StateClass::Alerts).await
}

/// An alert enabled on a node, as its evaluator needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnabledAlert {
    pub id: String,
    pub name: String,
    pub definition: String,
    pub rule: Rule,
    /// Who last wrote it: `@me` in its query.
    pub author: String,
    /// Every node it is enabled on (this one included).
    pub nodes: Vec<String>,
    /// Its webhooks: URL and signing secret.
    pub webhooks: Vec<(String, String)>,
}

/// The alerts enabled on `node`.
pub async fn enabled_on(db: &Db, node: &str) -> Result<Vec<EnabledAlert>, StoreError> {
    let rows = sqlx::query(
        "SELECT i.id, i.name, i.definition, i.updated_by, s.condition, s.threshold, s.period_ms, \
         s.for_ms, s.clear_for_ms, s.severity, s.scope \
         FROM alert_enabled e JOIN content_items i ON i.id = e.item_id \
         JOIN alert_settings s ON s.item_id = e.item_id WHERE e.node = $1 ORDER BY i.id",
    )
    .bind(node)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut place: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for row in &rows {
        place.insert(row.try_get("id")?, out.len());
        out.push(EnabledAlert {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            definition: row.try_get("definition")?,
            rule: rule_of(row)?,
            author: row.try_get("updated_by")?,
            nodes: Vec::new(),
            webhooks: Vec::new(),
        });
    }
    let hooks = sqlx::query(
        "SELECT d.item_id, d.url, d.secret FROM alert_destinations d \
         WHERE d.item_id IN (SELECT item_id FROM alert_enabled WHERE node = $1) ORDER BY d.url",
    )
    .bind(node)
    .fetch_all(db.pool())
    .await?;
    for row in &hooks {
        let item: String = row.try_get("item_id")?;
        if let Some(&i) = place.get(&item) {
            out[i]
                .webhooks
                .push((row.try_get("url")?, row.try_get("secret")?));
        }
    }
    let pairs = sqlx::query(
        "SELECT e.item_id, e.node FROM alert_enabled e \
         WHERE e.item_id IN (SELECT item_id FROM alert_enabled WHERE node = $1) ORDER BY e.node",
    )
    .bind(node)
    .fetch_all(db.pool())
    .await?;
    for row in &pairs {
        let item: String = row.try_get("item_id")?;
        if let Some(&i) = place.get(&item) {
            out[i].nodes.push(row.try_get("node")?);
        }
    }
    Ok(out)
}

/// Sets an alert's webhook URLs: new ones get a fresh secret, kept ones
/// keep theirs, the others go.
pub async fn put_destinations(
    tx: &mut WriteTx,
    item: &str,
    urls: &[String],
) -> Result<(), StoreError> {
    let current: Vec<String> =
        sqlx::query_scalar("SELECT url FROM alert_destinations WHERE item_id = $1")
            .bind(item)
            .fetch_all(&mut **tx)
            .await?;
    for gone in current.iter().filter(|u| !urls.contains(u)) {
        sqlx::query("DELETE FROM alert_destinations WHERE item_id = $1 AND url = $2")
            .bind(item)
            .bind(gone)
            .execute(&mut **tx)
            .await?;
    }
    for new in urls.iter().filter(|u| !current.contains(u)) {
        sqlx::query("INSERT INTO alert_destinations (item_id, url, secret) VALUES ($1, $2, $3)")
            .bind(item)
            .bind(new)
            .bind(new_secret())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The webhook URLs and secrets of the alerts the user may see, by alert.
pub async fn destinations(
    db: &Db,
    user: i64,
) -> Result<HashMap<String, Vec<(String, String)>>, StoreError> {
    let rows = sqlx::query(
        "SELECT d.item_id, d.url, d.secret FROM alert_destinations d JOIN content_items i ON i.id = d.item_id \
         WHERE i.user_id = $1 OR i.user_id IS NULL ORDER BY d.url",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in &rows {
        out.entry(row.try_get("item_id")?)
            .or_default()
            .push((row.try_get("url")?, row.try_get("secret")?));
    }
    Ok(out)
}

/// 24 random bytes in hex: a webhook's signing secret.
fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
