//! All SQL of provisioning requests (and the unmanaged product a request
//! creates).

use app::state::StateClass;
use rand::RngCore;
use sqlx::Row;

use crate::cluster::store::bump;
use crate::db::{Db, StoreError};

/// A logged provisioning request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub uuid: String,
    pub ip: String,
    pub received_by: String,
}

/// Logs a request received by `node`, which holds it for `lease_ms`.
pub async fn log(db: &Db, r: &Request, lease_ms: i64) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO provision_requests (id, uuid, ip, received_by, received_at, state, holder, lease_until) \
         VALUES ($1, $2, $3, $4, {now}, 'pending', $4, {now} + $5)"
    ))
    .bind(&r.id)
    .bind(&r.uuid)
    .bind(&r.ip)
    .bind(&r.received_by)
    .bind(lease_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a request processed.
pub async fn done(db: &Db, id: &str, node: &str) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "UPDATE provision_requests SET state = 'done', processed_by = $2, processed_at = {now}, \
         command_id = $1 WHERE id = $1 AND state = 'pending'"
    ))
    .bind(id)
    .bind(node)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes over up to `limit` pending requests whose lease ran out.
pub async fn take_over(
    db: &Db,
    node: &str,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Request>, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(&format!(
        "SELECT id, uuid, ip, received_by FROM provision_requests \
         WHERE state = 'pending' AND lease_until < {now} LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut taken = Vec::with_capacity(rows.len());
    for row in &rows {
        let r = Request {
            id: row.try_get("id")?,
            uuid: row.try_get("uuid")?,
            ip: row.try_get("ip")?,
            received_by: row.try_get("received_by")?,
        };
        sqlx::query(&format!(
            "UPDATE provision_requests SET holder = $2, lease_until = {now} + $3 WHERE id = $1"
        ))
        .bind(&r.id)
        .bind(node)
        .bind(lease_ms)
        .execute(&mut *tx)
        .await?;
        taken.push(r);
    }
    tx.commit().await?;
    Ok(taken)
}

/// Whether `uuid` is a product whose agent registered (not only a device
/// a hello announced).
pub async fn is_registered(db: &Db, uuid: &str) -> Result<bool, StoreError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM products WHERE id = $1")
        .bind(uuid)
        .fetch_optional(db.pool())
        .await?;
    Ok(status.is_some_and(|s| s != "unmanaged"))
}

/// Creates the product of a provisioned device as `unmanaged` unless it is
/// known already (a registered product keeps its record). `true` while the
/// product is unmanaged, `false` once its agent registered.
pub async fn upsert_unmanaged(
    db: &Db,
    uuid: &str,
    ip: &str,
    offline_after_ms: i64,
) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(&format!(
        "INSERT INTO products (id, name, product_type, version, product_key, nonce, status, \
         registered_at, offline_after_ms, last_seq) \
         VALUES ($1, $2, 'unmanaged device', '', $3, '', 'unmanaged', {now}, $4, 0) \
         ON CONFLICT (id) DO NOTHING"
    ))
    .bind(uuid)
    .bind(format!("device {ip}"))
    .bind(hex::encode(key))
    .bind(offline_after_ms)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        bump(&mut *tx, StateClass::Products).await?;
    }
    let status: String = sqlx::query_scalar("SELECT status FROM products WHERE id = $1")
        .bind(uuid)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(status == "unmanaged")
}

/// One request and what became of it.
pub async fn get(
    db: &Db,
    id: &str,
) -> Result<Option<(Request, String, Option<String>)>, StoreError> {
    let row = sqlx::query(
        "SELECT id, uuid, ip, received_by, state, processed_by FROM provision_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok((
            Request {
                id: r.try_get("id")?,
                uuid: r.try_get("uuid")?,
                ip: r.try_get("ip")?,
                received_by: r.try_get("received_by")?,
            },
            r.try_get("state")?,
            r.try_get("processed_by")?,
        ))
    })
    .transpose()
    .map_err(StoreError::Other)
}
