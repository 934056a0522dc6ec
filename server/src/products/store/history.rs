//! All SQL of the fleet's status over time: one row of counts per sample.

use app::api::FleetPoint;
use sqlx::Row;

use crate::db::{Db, StoreError};

/// Records how many products have each status now and forgets samples
/// taken before `keep_from` (database clock, Unix milliseconds).
pub async fn sample(db: &Db, keep_from: i64) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    // `WHERE true`: SQLite needs it to tell the upsert from a join clause.
    sqlx::query(&format!(
        "INSERT INTO fleet_samples (at, pending, online, offline, unmanaged) \
         SELECT {now}, \
           COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'offline' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN status = 'unmanaged' THEN 1 ELSE 0 END), 0) \
         FROM products WHERE true ON CONFLICT (at) DO NOTHING"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM fleet_samples WHERE at < $1")
        .bind(keep_from)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Samples taken at or after `since`, oldest first.
pub async fn samples(db: &Db, since: i64) -> Result<Vec<FleetPoint>, StoreError> {
    let rows = sqlx::query(
        "SELECT at, pending, online, offline, unmanaged FROM fleet_samples \
         WHERE at >= $1 ORDER BY at",
    )
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FleetPoint {
                at: r.try_get("at")?,
                pending: r.try_get("pending")?,
                online: r.try_get("online")?,
                offline: r.try_get("offline")?,
                unmanaged: r.try_get("unmanaged")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}
