//! All SQL of centralization: the cluster's sources and their status, and
//! the markers on both sides.

use app::api::centralize::{Outcome, Source};
use app::state::StateClass;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::cluster::store::bump;
use crate::db::{Db, StoreError};

/// A waiting or running source whose node stopped renewing it for this
/// long is gone: it holds up nobody, and its run has failed.
pub const STALE_MS: i64 = 10_000;

/// A database's identity.
pub async fn database_id(db: &Db) -> Result<String, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM cluster_settings WHERE name = 'database_id'")
            .fetch_one(db.pool())
            .await?,
    )
}

/// Whether the source was centralized into the cluster `cluster`.
pub async fn is_marked(source: &Db, cluster: &str) -> Result<bool, StoreError> {
    let row: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM centralized_into WHERE database_id = $1")
            .bind(cluster)
            .fetch_optional(source.pool())
            .await?;
    Ok(row.is_some())
}

/// Marks the source as centralized into `cluster`.
pub async fn mark(source: &Db, cluster: &str) -> Result<(), StoreError> {
    let now = source.dialect().now_ms();
    sqlx::query(&format!(
        "INSERT INTO centralized_into (database_id, at) VALUES ($1, {now}) ON CONFLICT DO NOTHING"
    ))
    .bind(cluster)
    .execute(source.pool())
    .await?;
    Ok(())
}

/// Registers a source as pending (its node connected now) unless it is
/// known; a known one keeps its place and status. Returns its row.
pub async fn register(
    db: &Db,
    database_id: &str,
    node: &str,
    plan: &Outcome,
) -> Result<Source, StoreError> {
    let now = db.dialect().now_ms();
    let plan = serde_json::to_string(plan)
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
    let mut tx = db.begin_write().await?;
    let added = sqlx::query(&format!(
        "INSERT INTO centralize_sources (database_id, node, status, connected_at, heartbeat_at, plan) \
         VALUES ($1, $2, 'pending', {now}, {now}, $3) ON CONFLICT (database_id) DO NOTHING"
    ))
    .bind(database_id)
    .bind(node)
    .bind(&plan)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Centralization).await?;
    }
    tx.commit().await?;
    source(db, database_id).await?.ok_or(StoreError::NotFound)
}

const COLUMNS: &str = "database_id, node, status, error, connected_at, attempts, started_at, \
                       finished_at, done, total, plan, report";

fn source_of(row: &AnyRow) -> Result<Source, sqlx::Error> {
    let json = |col: &str| -> Result<Option<Outcome>, sqlx::Error> {
        Ok(row
            .try_get::<Option<String>, _>(col)?
            .and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(Source {
        node: row.try_get("node")?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
        connected_at: row.try_get("connected_at")?,
        attempts: row.try_get("attempts")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        done: row.try_get("done")?,
        total: row.try_get("total")?,
        plan: json("plan")?,
        report: json("report")?,
    })
}

pub async fn source(db: &Db, database_id: &str) -> Result<Option<Source>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM centralize_sources WHERE database_id = $1"
    ))
    .bind(database_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(source_of).transpose()?)
}

/// Every source, in the order their nodes connected.
pub async fn list(db: &Db) -> Result<Vec<Source>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM centralize_sources ORDER BY connected_at, node"
    ))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(source_of).collect::<Result<_, _>>()?)
}

/// Renews a source's heartbeat, with its progress while it runs.
pub async fn heartbeat(db: &Db, database_id: &str, done: i64) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(&format!(
        "UPDATE centralize_sources SET heartbeat_at = {now}, done = $2 \
         WHERE database_id = $1 AND done <> $2"
    ))
    .bind(database_id)
    .bind(done)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Centralization).await?;
    } else {
        sqlx::query(&format!(
            "UPDATE centralize_sources SET heartbeat_at = {now} WHERE database_id = $1"
        ))
        .bind(database_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes the source's turn if it is pending, nothing runs, and no source
/// whose node is still there connected before it. `true` if taken.
pub async fn claim(db: &Db, database_id: &str, total: i64) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let taken = sqlx::query(&format!(
        "UPDATE centralize_sources SET status = 'running', attempts = attempts + 1, \
         started_at = {now}, finished_at = NULL, heartbeat_at = {now}, done = 0, total = $2, \
         error = NULL \
         WHERE database_id = $1 AND status = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM centralize_sources o WHERE o.database_id <> $1 \
           AND o.heartbeat_at > {now} - {STALE_MS} AND (o.status = 'running' \
           OR (o.status = 'pending' AND (o.connected_at < centralize_sources.connected_at \
             OR (o.connected_at = centralize_sources.connected_at \
                 AND o.node < centralize_sources.node)))))"
    ))
    .bind(database_id)
    .bind(total)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Centralization).await?;
    }
    tx.commit().await?;
    Ok(taken.rows_affected() > 0)
}

/// Records a run started by hand (`vigil centralize`): running now, with
/// its plan, whatever else is in line.
pub async fn run_now(
    db: &Db,
    database_id: &str,
    node: &str,
    plan: &Outcome,
    total: i64,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let plan = serde_json::to_string(plan)
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO centralize_sources (database_id, node, status, connected_at, heartbeat_at, \
         plan, attempts, started_at, total) \
         VALUES ($1, $2, 'running', {now}, {now}, $3, 1, {now}, $4) \
         ON CONFLICT (database_id) DO UPDATE SET status = 'running', error = NULL, \
         heartbeat_at = {now}, started_at = {now}, finished_at = NULL, done = 0, \
         total = excluded.total, attempts = centralize_sources.attempts + 1"
    ))
    .bind(database_id)
    .bind(node)
    .bind(&plan)
    .bind(total)
    .execute(&mut *tx)
    .await?;
    bump(&mut *tx, StateClass::Centralization).await?;
    tx.commit().await?;
    Ok(())
}

/// Records how many records the run that just started will write.
pub async fn set_total(db: &Db, database_id: &str, total: i64) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE centralize_sources SET total = $2, done = 0 WHERE database_id = $1")
        .bind(database_id)
        .bind(total)
        .execute(&mut *tx)
        .await?;
    bump(&mut *tx, StateClass::Centralization).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a run: `done` with its report, or `failed` with the error.
pub async fn finish(
    db: &Db,
    database_id: &str,
    result: Result<&Outcome, &str>,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let (status, error, report) = match result {
        Ok(outcome) => (
            "done",
            None,
            Some(
                serde_json::to_string(outcome)
                    .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?,
            ),
        ),
        Err(e) => ("failed", Some(e.to_owned()), None),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "UPDATE centralize_sources SET status = $2, error = $3, \
         report = COALESCE($4, report), finished_at = {now}, heartbeat_at = {now} \
         WHERE database_id = $1"
    ))
    .bind(database_id)
    .bind(status)
    .bind(error)
    .bind(report)
    .execute(&mut *tx)
    .await?;
    bump(&mut *tx, StateClass::Centralization).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs whose node stopped renewing them have failed.
pub async fn fail_stale(db: &Db) -> Result<u64, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let failed = sqlx::query(&format!(
        "UPDATE centralize_sources SET status = 'failed', finished_at = {now}, \
         error = node || ' stopped during its centralization' \
         WHERE status = 'running' AND heartbeat_at < {now} - {STALE_MS}"
    ))
    .execute(&mut *tx)
    .await?;
    if failed.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Centralization).await?;
    }
    tx.commit().await?;
    Ok(failed.rows_affected())
}

/// A failed source of `node` goes back to pending, in its
/// place. `false` if `node` has no failed source.
pub async fn retry(db: &Db, node: &str) -> Result<bool, StoreError> {
    let mut tx = db.begin_write().await?;
    let again = sqlx::query(
        "UPDATE centralize_sources SET status = 'pending', error = NULL, done = 0 \
         WHERE node = $1 AND status = 'failed'",
    )
    .bind(node)
    .execute(&mut *tx)
    .await?;
    if again.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Centralization).await?;
    }
    tx.commit().await?;
    Ok(again.rows_affected() > 0)
}
