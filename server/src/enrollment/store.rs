//! All SQL of the enrollment secret (rows of `cluster_settings`).

use sqlx::Row;

use crate::db::{Db, StoreError};

const SECRET: &str = "enrollment_secret";
const SEED: &str = "enrollment_secret_seed";

/// The secret and who set it last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    pub secret: String,
    /// Unix milliseconds (database clock).
    pub updated_at: i64,
    /// A user name, or `configuration`.
    pub updated_by: String,
}

/// Stores the configured secret unless the cluster already has it from the
/// same configured value; returns whether the secret changed.
pub async fn seed(db: &Db, configured: &str, fingerprint: &str) -> Result<bool, StoreError> {
    let mut tx = db.begin_write().await?;
    let seeded: Option<String> =
        sqlx::query_scalar("SELECT value FROM cluster_settings WHERE name = $1")
            .bind(SEED)
            .fetch_optional(&mut *tx)
            .await?;
    if seeded.as_deref() == Some(fingerprint) {
        tx.commit().await?;
        return Ok(false);
    }
    for (name, value) in [(SECRET, configured), (SEED, fingerprint)] {
        put(db, &mut tx, name, value, "configuration").await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Replaces the secret (a rotation from the console).
pub async fn replace(db: &Db, secret: &str, by: &str) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    put(db, &mut tx, SECRET, secret, by).await?;
    tx.commit().await?;
    Ok(())
}

async fn put(
    db: &Db,
    tx: &mut crate::db::WriteTx,
    name: &str,
    value: &str,
    by: &str,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    sqlx::query(&format!(
        "INSERT INTO cluster_settings (name, value, updated_at, updated_by) VALUES ($1, $2, {now}, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by"
    ))
    .bind(name)
    .bind(value)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores `secret` unless the cluster has one; returns whether it did. Of
/// nodes starting at once, the first to write wins and the rest keep it.
pub async fn generate_if_missing(db: &Db, secret: &str) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(&format!(
        "INSERT INTO cluster_settings (name, value, updated_at, updated_by) \
         VALUES ($1, $2, {now}, 'generated') ON CONFLICT (name) DO NOTHING"
    ))
    .bind(SECRET)
    .bind(secret)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The cluster's secret; seeded at every node's start, so always present.
pub async fn current(db: &Db) -> Result<Current, StoreError> {
    current_opt(db).await?.ok_or(StoreError::NotFound)
}

/// The cluster's secret, if it has one yet.
pub async fn current_opt(db: &Db) -> Result<Option<Current>, StoreError> {
    let row =
        sqlx::query("SELECT value, updated_at, updated_by FROM cluster_settings WHERE name = $1")
            .bind(SECRET)
            .fetch_optional(db.pool())
            .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Current {
        secret: row.try_get("value")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    }))
}
