//! SQL of product identities: registration (who may take a UUID), the keys
//! nodes authenticate with, admins' revocations, and the changes nodes poll
//! for so that a replaced key stops working everywhere at once.

use app::state::StateClass;
use sqlx::Row;

use super::record_transition;
use crate::cluster::store::bump;
use crate::db::{Db, StoreError};
use crate::products::{claim, Claim, Registration};

/// What a node needs to authenticate a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductAuth {
    pub id: String,
    pub key: String,
    pub nonce: String,
    pub callback_url: Option<String>,
    pub udp_port: Option<u16>,
    pub last_seq: i64,
    /// When the key last changed (database clock, ms).
    pub key_changed_at: i64,
}

/// What became of a registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    /// Stored; the key changed at this time (database clock, ms).
    Done { claim: Claim, key_changed_at: i64 },
    /// The UUID belongs to a registered product and the caller proved
    /// nothing that lets it take the product over.
    Taken,
}

/// Creates the product, or updates it when its UUID is known and the
/// registration may take it (see [`claim`]): a new key and nonce each time.
/// The decision and the write are one transaction, and the write only
/// happens if the key is still the one the decision saw, so two
/// registrations racing for a UUID cannot both win.
pub async fn register(
    db: &Db,
    r: &Registration,
    offline_after_ms: i64,
    proof: Option<&str>,
) -> Result<Registered, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let existing = sqlx::query(
        "SELECT status, product_key, CAST(CASE WHEN reenroll_allowed THEN 1 ELSE 0 END AS BIGINT) \
         AS reenroll FROM products WHERE id = $1",
    )
    .bind(&r.id)
    .fetch_optional(&mut *tx)
    .await?;
    let (claimed, status, old_key) = match &existing {
        None => (Claim::New, String::new(), String::new()),
        Some(row) => {
            let status: String = row.try_get("status")?;
            let key: String = row.try_get("product_key")?;
            let reenroll: i64 = row.try_get("reenroll")?;
            match claim(&status, reenroll != 0, &key, proof) {
                Some(c) => (c, status, key),
                None => return Ok(Registered::Taken),
            }
        }
    };
    let new = claimed == Claim::New;
    let sql = if new {
        format!(
            "INSERT INTO products (id, name, product_type, version, callback_url, product_key, \
             nonce, status, registered_at, offline_after_ms, last_seq, udp_port, key_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', {now}, $8, 0, $9, {now}) \
             ON CONFLICT (id) DO NOTHING RETURNING key_changed_at"
        )
    } else {
        // Only while the key is still the one the claim was judged on.
        format!(
            "UPDATE products SET name = $2, product_type = $3, version = $4, callback_url = $5, \
             product_key = $6, nonce = $7, offline_after_ms = $8, udp_port = $9, last_seq = 0, \
             key_changed_at = {now}, reenroll_allowed = FALSE, \
             status = CASE WHEN status = 'unmanaged' THEN 'pending' ELSE status END \
             WHERE id = $1 AND product_key = $10 RETURNING key_changed_at"
        )
    };
    let mut write = sqlx::query_scalar(&sql)
        .bind(&r.id)
        .bind(&r.name)
        .bind(&r.product_type)
        .bind(&r.version)
        .bind(&r.callback_url)
        .bind(&r.key)
        .bind(&r.nonce)
        .bind(offline_after_ms)
        .bind(r.udp_port.map(i64::from));
    if !new {
        write = write.bind(&old_key);
    }
    let written: Option<i64> = write.fetch_optional(&mut *tx).await?;
    let Some(key_changed_at) = written else {
        return Ok(Registered::Taken);
    };
    if let Some(cause) = claimed.cause() {
        let d = db.dialect();
        record_transition(d, &mut tx, &r.id, &status, &status, key_changed_at, cause).await?;
    }
    bump(&mut *tx, StateClass::Products).await?;
    tx.commit().await?;
    Ok(Registered::Done {
        claim: claimed,
        key_changed_at,
    })
}

/// Revokes a product's key at once (replacing it with `new_key`, which
/// nobody is told) and lets the next registration of its UUID with the
/// enrollment secret take it over. `false` when there is no such product.
pub async fn revoke(db: &Db, id: &str, new_key: &str, by: &str) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(&format!(
        "UPDATE products SET product_key = $2, reenroll_allowed = TRUE, key_changed_at = {now} \
         WHERE id = $1 RETURNING status, key_changed_at"
    ))
    .bind(id)
    .bind(new_key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let status: String = row.try_get("status")?;
    let at: i64 = row.try_get("key_changed_at")?;
    let cause = format!("key revoked by admin {by}; open for re-enrolment");
    record_transition(db.dialect(), &mut tx, id, &status, &status, at, &cause).await?;
    bump(&mut *tx, StateClass::Products).await?;
    tx.commit().await?;
    Ok(true)
}

/// The key and handshake data of a product.
pub async fn auth(db: &Db, id: &str) -> Result<Option<ProductAuth>, StoreError> {
    let row = sqlx::query(
        "SELECT id, product_key, nonce, callback_url, udp_port, last_seq, key_changed_at \
         FROM products WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(ProductAuth {
            id: row.try_get("id")?,
            key: row.try_get("product_key")?,
            nonce: row.try_get("nonce")?,
            callback_url: row.try_get("callback_url")?,
            udp_port: row
                .try_get::<Option<i64>, _>("udp_port")?
                .and_then(|p| u16::try_from(p).ok()),
            last_seq: row.try_get("last_seq")?,
            key_changed_at: row.try_get("key_changed_at")?,
        })
    })
    .transpose()
    .map_err(StoreError::Other)
}

/// Every product id, and the database clock when they were read.
pub async fn ids(db: &Db) -> Result<(i64, Vec<String>), StoreError> {
    let now: i64 = sqlx::query_scalar(&format!("SELECT {}", db.dialect().now_ms()))
        .fetch_one(db.pool())
        .await?;
    let ids = sqlx::query_scalar("SELECT id FROM products")
        .fetch_all(db.pool())
        .await?;
    Ok((now, ids))
}

/// The database clock, and the products whose key changed after `since`
/// (registered, re-keyed or revoked). One indexed query that reads no
/// product row when nothing changed.
pub async fn key_changes(db: &Db, since: i64) -> Result<(i64, Vec<(String, i64)>), StoreError> {
    let sql = format!(
        "SELECT CAST(NULL AS TEXT) AS id, {} AS changed \
         UNION ALL SELECT id, key_changed_at FROM products WHERE key_changed_at > $1",
        db.dialect().now_ms()
    );
    let mut now = 0;
    let mut changed = Vec::new();
    for row in sqlx::query(&sql).bind(since).fetch_all(db.pool()).await? {
        let at: i64 = row.try_get("changed")?;
        match row.try_get::<Option<String>, _>("id")? {
            Some(id) => changed.push((id, at)),
            None => now = at,
        }
    }
    Ok((now, changed))
}
