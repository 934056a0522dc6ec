//! All SQL of managed products: registration, liveness flushes, the offline
//! sweep, transitions and logs (writes here; what the console reads in
//! [`views`]).

pub mod centralize;
mod history;
mod keys;
mod views;
pub use history::{sample, samples};
pub use keys::*;
pub use views::*;

use app::api::LogEntry;
use app::state::StateClass;
use protocol::api::{Mode, Transport};
use sqlx::Row;

use super::{activity_raw, Liveness, Status};
use crate::cluster::store::bump;
use crate::db::{Db, Dialect, StoreError};

/// Records what the handshake decided, and the product's wake port when it
/// gave one. The product's queued commands follow its mode (a trigger the
/// queue owns, migration 0014).
pub async fn set_handshake(
    db: &Db,
    id: &str,
    transport: Transport,
    mode: Mode,
    udp_port: Option<u16>,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE products SET transport = $2, mode = $3, udp_port = COALESCE($4, udp_port) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(transport.as_str())
    .bind(mode.as_str())
    .bind(udp_port.map(i64::from))
    .execute(&mut *tx)
    .await?;
    bump(&mut *tx, StateClass::Products).await?;
    tx.commit().await?;
    Ok(())
}

/// The statement that writes a batch of liveness for products that are
/// online already (nearly all of a flush): `$1` the node, `$2` a JSON array
/// of `{id, at, act, seq}`; returns the ids it wrote.
///
/// Each product is found by its primary key whatever the planner's
/// statistics say. Written plainly (`WHERE id = … AND status = 'online'`),
/// PostgreSQL once planned it on the status index while its statistics
/// said nothing was online (right after an outage), and every flush then
/// walked every online product. The batch is applied in id order, so nodes
/// flushing the same products lock them in one order.
pub fn flush_online_sql(d: Dialect) -> String {
    let set = "last_seen = b.at, deadline = b.at + offline_after_ms, home_node = $1, \
               activity = COALESCE(b.act, activity), \
               last_seq = CASE WHEN b.seq > last_seq THEN b.seq ELSE last_seq END";
    let batch = format!(
        "SELECT b.id, CAST(b.at AS BIGINT) AS at, b.act, CAST(b.seq AS BIGINT) AS seq FROM {} \
         ORDER BY b.id",
        d.json_table(2, "b", &["id", "at", "act", "seq"])
    );
    match d {
        // A unary `+` keeps SQLite from using an index for the status term,
        // so the join on the key is all it can use.
        Dialect::Sqlite => format!(
            "UPDATE products SET {set} FROM ({batch}) AS b WHERE products.id = b.id \
             AND +products.status = 'online' AND (products.last_seen IS NULL OR products.last_seen <= b.at) \
             RETURNING products.id"
        ),
        // Each batch row looks its product up by key alone (`OFFSET 0` keeps
        // the status test from being pushed into that lookup) and locks it;
        // the update then reaches the locked row by its address.
        Dialect::Postgres => format!(
            "WITH b AS ({batch}), held AS MATERIALIZED (SELECT p.ctid AS row, b.at, b.act, b.seq \
             FROM b CROSS JOIN LATERAL (SELECT p.ctid, p.status, p.last_seen FROM products p \
             WHERE p.id = b.id OFFSET 0 FOR NO KEY UPDATE) AS p \
             WHERE p.status = 'online' AND (p.last_seen IS NULL OR p.last_seen <= b.at)) \
             UPDATE products SET {} FROM held WHERE products.ctid = held.row RETURNING products.id",
            set.replace("b.", "held.")
        ),
    }
}

/// Writes a batch of liveness received by `node` and moves its mark to
/// `flushed_through`, in one transaction: either all of it is durable, or
/// none and the node keeps it for the next try. Products already online
/// take one statement for the whole batch; each status change its own.
pub async fn flush(
    db: &Db,
    node: &str,
    batch: &[Liveness],
    flushed_through: i64,
) -> Result<usize, StoreError> {
    // Heartbeat data that is not a small JSON object is dropped here; the
    // heartbeat itself still counts.
    let activities: Vec<Option<String>> = batch
        .iter()
        .map(|l| l.activity.as_deref().and_then(activity_raw))
        .collect();
    // Written straight to text: a tree of JSON values per flush of a large
    // fleet cost hundreds of thousands of allocations.
    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: &'a str,
        at: i64,
        act: Option<&'a str>,
        seq: i64,
    }
    let rows: Vec<Row<'_>> = batch
        .iter()
        .zip(&activities)
        .map(|(l, act)| Row {
            id: &l.product,
            at: l.at,
            act: act.as_deref(),
            seq: l.seq,
        })
        .collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
    let mut tx = db.begin_write().await?;
    let written: std::collections::HashSet<String> = if batch.is_empty() {
        Default::default()
    } else {
        sqlx::query_scalar(&flush_online_sql(db.dialect()))
            .bind(node)
            .bind(rows)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
    };
    let mut changed = 0;
    for (l, activity) in batch.iter().zip(&activities) {
        if written.contains(&*l.product) {
            continue;
        }
        let from: Option<String> = sqlx::query_scalar("SELECT status FROM products WHERE id = $1")
            .bind(&*l.product)
            .fetch_optional(&mut *tx)
            .await?;
        match from.as_deref() {
            None | Some("online") => continue, // deleted, or newer liveness already written
            Some(from) => {
                sqlx::query(
                    "UPDATE products SET status = 'online', last_seen = $2, deadline = $2 + offline_after_ms, \
                     home_node = $3, activity = COALESCE($4, activity), \
                     last_seq = CASE WHEN $5 > last_seq THEN $5 ELSE last_seq END WHERE id = $1",
                )
                .bind(&*l.product)
                .bind(l.at)
                .bind(node)
                .bind(activity)
                .bind(l.seq)
                .execute(&mut *tx)
                .await?;
                record_transition(
                    db.dialect(),
                    &mut tx,
                    &l.product,
                    from,
                    Status::Online.as_str(),
                    l.at,
                    l.source.cause(),
                )
                .await?;
                changed += 1;
            }
        }
    }
    sqlx::query(
        "INSERT INTO liveness_marks (node, flushed_through) VALUES ($1, $2) \
         ON CONFLICT (node) DO UPDATE SET flushed_through = excluded.flushed_through",
    )
    .bind(node)
    .bind(flushed_through)
    .execute(&mut *tx)
    .await?;
    if changed > 0 {
        bump(&mut *tx, StateClass::Products).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

pub(super) async fn record_transition(
    dialect: Dialect,
    tx: &mut crate::db::WriteTx,
    product: &str,
    from: &str,
    to: &str,
    at: i64,
    cause: &str,
) -> Result<(), StoreError> {
    let now = dialect.now_ms();
    sqlx::query(&format!(
        "INSERT INTO product_transitions (product_id, from_status, to_status, at, recorded_at, cause) \
         VALUES ($1, $2, $3, $4, {now}, $5)"
    ))
    .bind(product)
    .bind(from)
    .bind(to)
    .bind(at)
    .bind(cause)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The liveness watermark: the oldest mark among operational nodes. No
/// operational node holds unwritten liveness received before it.
pub async fn watermark(db: &Db, node_offline_after_ms: i64) -> Result<Option<i64>, StoreError> {
    let sql = format!(
        "SELECT MIN(m.flushed_through) FROM liveness_marks m JOIN nodes n ON n.name = m.node \
         WHERE n.down_since IS NULL AND n.last_seen >= {} - $1",
        db.dialect().now_ms()
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(node_offline_after_ms)
        .fetch_one(db.pool())
        .await?)
}

/// Marks offline every online product whose deadline passed before
/// `watermark`; returns their ids. Reads only those rows (index on status,
/// deadline), so its cost follows the number of changes, not the fleet.
pub async fn sweep_offline(db: &Db, watermark: i64) -> Result<Vec<String>, StoreError> {
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(
        "UPDATE products SET status = 'offline' WHERE status = 'online' AND deadline < $1 \
         RETURNING id, last_seen, offline_after_ms",
    )
    .bind(watermark)
    .fetch_all(&mut *tx)
    .await?;
    let mut gone = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let last_seen: i64 = row.try_get("last_seen")?;
        let after: i64 = row.try_get("offline_after_ms")?;
        gone.push((
            id,
            last_seen + after,
            format!("no liveness for {} s", after / 1000),
        ));
    }
    // Many rows per statement: a fleet-wide outage is one short write.
    let now = db.dialect().now_ms();
    for chunk in gone.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, 'online', 'offline', ${}, {now}, ${})",
                    3 * i + 1,
                    3 * i + 2,
                    3 * i + 3
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO product_transitions (product_id, from_status, to_status, at, recorded_at, cause) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql);
        for (id, at, cause) in chunk {
            insert = insert.bind(id).bind(*at).bind(cause);
        }
        insert.execute(&mut *tx).await?;
    }
    let ids: Vec<String> = gone.into_iter().map(|(id, _, _)| id).collect();
    if !ids.is_empty() {
        bump(&mut *tx, StateClass::Products).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Stores log lines and keeps the newest `keep` per product.
pub async fn add_logs(
    db: &Db,
    product: &str,
    node: &str,
    entries: &[LogEntry],
    keep: i64,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    for e in entries {
        sqlx::query(&format!(
            "INSERT INTO product_logs (product_id, at, level, message, received_at, node) \
             VALUES ($1, $2, $3, $4, {now}, $5)"
        ))
        .bind(product)
        .bind(e.at)
        .bind(&e.level)
        .bind(&e.message)
        .bind(node)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "DELETE FROM product_logs WHERE product_id = $1 AND id <= \
         (SELECT id FROM product_logs WHERE product_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(product)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
