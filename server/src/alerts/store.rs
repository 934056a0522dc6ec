//! All SQL of alert evaluation: what each alert remembers per key, its
//! firings and the record of evaluations.

use std::collections::HashMap;

pub use app::api::content::Firing;
use app::state::StateClass;
use sqlx::Row;

use super::hysteresis::Memory;
use crate::cluster::store::{bump, still_holds};
use crate::db::{Db, StoreError, WriteTx};

/// Opens the transaction of one evaluation. With `fence`, the evaluation
/// counts only while this node still holds that lease (a node that was
/// frozen past its lease must not write what it saw): `None` when it lost
/// it.
pub async fn begin(db: &Db, fence: Option<(&str, &str)>) -> Result<Option<WriteTx>, StoreError> {
    let mut tx = db.begin_write().await?;
    if let Some((lease, holder)) = fence {
        if !still_holds(db, &mut tx, lease, holder).await? {
            return Ok(None);
        }
    }
    Ok(Some(tx))
}

/// The memory of every key of an alert whose key starts with `prefix`.
pub async fn states(
    tx: &mut WriteTx,
    item: &str,
    prefix: &str,
) -> Result<HashMap<String, Memory>, StoreError> {
    let rows = sqlx::query(
        "SELECT key, true_since, false_since, firing FROM alert_states WHERE item_id = $1",
    )
    .bind(item)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = HashMap::new();
    for row in &rows {
        let key: String = row.try_get("key")?;
        if !key.starts_with(prefix) {
            continue;
        }
        out.insert(
            key,
            Memory {
                true_since: row.try_get("true_since")?,
                false_since: row.try_get("false_since")?,
                firing: row.try_get::<i64, _>("firing")? != 0,
            },
        );
    }
    Ok(out)
}

pub async fn put_state(
    tx: &mut WriteTx,
    item: &str,
    key: &str,
    m: &Memory,
) -> Result<(), StoreError> {
    if !m.worth_keeping() {
        sqlx::query("DELETE FROM alert_states WHERE item_id = $1 AND key = $2")
            .bind(item)
            .bind(key)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO alert_states (item_id, key, true_since, false_since, firing) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (item_id, key) DO UPDATE SET true_since = excluded.true_since, \
         false_since = excluded.false_since, firing = excluded.firing",
    )
    .bind(item)
    .bind(key)
    .bind(m.true_since)
    .bind(m.false_since)
    .bind(i64::from(m.firing))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Opens a firing unless one is open for that alert and key (the unique
/// index decides, whoever evaluates); whether this one opened.
#[allow(clippy::too_many_arguments)]
pub async fn open(
    db: &Db,
    tx: &mut WriteTx,
    id: &str,
    item: &str,
    key: &str,
    node: &str,
    severity: &str,
    matched: i64,
    samples: &str,
) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(&format!(
        "INSERT INTO alert_firings (id, item_id, key, node, severity, started_at, matched, samples) \
         VALUES ($1, $2, $3, $4, $5, {now}, $6, $7) ON CONFLICT DO NOTHING"
    ))
    .bind(id)
    .bind(item)
    .bind(key)
    .bind(node)
    .bind(severity)
    .bind(matched)
    .bind(samples)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Clears the open firing of an alert and key; its id, if there was one.
pub async fn clear(
    db: &Db,
    tx: &mut WriteTx,
    item: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let now = db.dialect().now_ms();
    Ok(sqlx::query_scalar(&format!(
        "UPDATE alert_firings SET cleared_at = {now} WHERE item_id = $1 AND key = $2 AND cleared_at IS NULL \
         RETURNING id"
    ))
    .bind(item)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Queues one delivery per webhook of a firing's event, in the
/// transaction that opened or cleared it.
pub async fn queue_deliveries(
    db: &Db,
    tx: &mut WriteTx,
    firing: &str,
    event: &str,
    body: &str,
    webhooks: &[(String, String)],
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    for (url, secret) in webhooks {
        sqlx::query(&format!(
            "INSERT INTO alert_outbox (id, firing_id, event, url, secret, body, next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, {now}) ON CONFLICT DO NOTHING"
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(firing)
        .bind(event)
        .bind(url)
        .bind(secret)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A delivery waiting to be sent.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub firing: String,
    pub event: String,
    pub url: String,
    pub secret: String,
    pub body: String,
    pub attempts: i64,
}

/// Deliveries due now, oldest first; a clear waits for its firing's fire
/// to reach the same destination.
pub async fn due(db: &Db, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id, firing_id, event, url, secret, body, attempts FROM alert_outbox o \
         WHERE delivered_at IS NULL AND next_at <= {} AND NOT (event = 'clear' AND EXISTS \
         (SELECT 1 FROM alert_outbox f WHERE f.firing_id = o.firing_id AND f.url = o.url \
         AND f.event = 'fire' AND f.delivered_at IS NULL)) ORDER BY next_at, id LIMIT $1",
        db.dialect().now_ms()
    ))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get("id")?,
                firing: r.try_get("firing_id")?,
                event: r.try_get("event")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// Marks a delivery done.
pub async fn delivered(db: &Db, id: &str) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE alert_outbox SET delivered_at = {}, attempts = attempts + 1, last_error = NULL WHERE id = $1",
        db.dialect().now_ms()
    ))
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A destination answers again: what waits for it goes now.
pub async fn release(db: &Db, url: &str) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    sqlx::query(&format!(
        "UPDATE alert_outbox SET next_at = {now} WHERE url = $1 AND delivered_at IS NULL AND next_at > {now}"
    ))
    .bind(url)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Puts a delivery off by `delay_ms` after a failure.
pub async fn retry_later(db: &Db, id: &str, delay_ms: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "UPDATE alert_outbox SET attempts = attempts + 1, next_at = {} + $2, last_error = $3 WHERE id = $1",
        db.dialect().now_ms()
    ))
    .bind(id)
    .bind(delay_ms)
    .bind(error)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One evaluation, as recorded.
pub struct Evaluation<'a> {
    pub item: &'a str,
    pub node: &'a str,
    /// The home nodes it covered, comma-separated ('' for the fleet).
    pub homes: String,
    pub keys: i64,
    pub started: std::time::Instant,
    /// Whether a firing opened or cleared.
    pub changed: bool,
}

/// Records an evaluation and ends its transaction; moves the alerts
/// counter when a firing opened or cleared.
pub async fn finish(db: &Db, mut tx: WriteTx, e: Evaluation<'_>) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    sqlx::query(&format!(
        "INSERT INTO alert_evaluations (item_id, node, at, homes, keys, took_ms) \
         VALUES ($1, $2, {now}, $3, $4, $5)"
    ))
    .bind(e.item)
    .bind(e.node)
    .bind(&e.homes)
    .bind(e.keys)
    .bind(e.started.elapsed().as_millis() as i64)
    .execute(&mut *tx)
    .await?;
    if e.changed {
        bump(&mut *tx, StateClass::Alerts).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Drops evaluation records older than a day (by the evaluator, now and
/// then).
pub async fn forget_evaluations(db: &Db) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "DELETE FROM alert_evaluations WHERE at < {} - 86400000",
        db.dialect().now_ms()
    ))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Firings of the alerts `items`: the open ones, or the latest. Their
/// alert's name is left empty (content names them).
pub async fn firings(
    db: &Db,
    items: &[String],
    active: bool,
    limit: i64,
) -> Result<Vec<Firing>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let open = if active {
        " AND cleared_at IS NULL"
    } else {
        ""
    };
    let list = db.dialect().json_texts(1);
    let rows = sqlx::query(&format!(
        "SELECT id, item_id, key, node, severity, started_at, cleared_at, matched, samples \
         FROM alert_firings WHERE item_id IN ({list}){open} ORDER BY started_at DESC, id LIMIT $2"
    ))
    .bind(serde_json::to_string(items).expect("ids are JSON"))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let samples: String = r.try_get("samples")?;
            Ok(Firing {
                id: r.try_get("id")?,
                alert_id: r.try_get("item_id")?,
                alert: String::new(),
                key: r.try_get("key")?,
                node: r.try_get("node")?,
                severity: r.try_get("severity")?,
                started_at: r.try_get("started_at")?,
                cleared_at: r.try_get("cleared_at")?,
                matched: r.try_get("matched")?,
                samples: serde_json::from_str(&samples).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// Which nodes evaluated an alert over which homes since `since` (tests
/// and the coverage view).
pub async fn evaluations(
    db: &Db,
    item: &str,
    since: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT node, homes, at FROM alert_evaluations WHERE item_id = $1 AND at >= $2 ORDER BY at",
    )
    .bind(item)
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("node")?, r.try_get("homes")?, r.try_get("at")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}
