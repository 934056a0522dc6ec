//! All SQL of the cluster's shared rows: the state counters and the leases.

use app::state::{StateClass, StateString};

use crate::db::{Db, StoreError};

/// Moves one counter of the state string; run it in the transaction that
/// made the change, so a console never sees the counter before the data.
pub async fn bump<'e, E>(executor: E, class: StateClass) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("UPDATE state_counters SET value = value + 1 WHERE position = $1")
        .bind(class.position() as i64)
        .execute(executor)
        .await?;
    Ok(())
}

/// Moves several counters at once, in a statement of its own (see
/// [`super::bumper`]).
pub async fn bump_positions(db: &Db, positions: &[usize]) -> Result<(), StoreError> {
    let list = positions
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(&format!(
        "UPDATE state_counters SET value = value + 1 WHERE position IN ({list})"
    ))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The current state string.
pub async fn read(db: &Db) -> Result<StateString, StoreError> {
    let values: Vec<i64> = sqlx::query_scalar("SELECT value FROM state_counters ORDER BY position")
        .fetch_all(db.pool())
        .await?;
    Ok(StateString::from_counters(values))
}

/// Takes or renews the lease `name` for `holder` for `ttl_ms`; `true` while
/// `holder` has it. The database clock decides, so node clocks may differ.
pub async fn hold_lease(
    db: &Db,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO leases (name, holder, until) VALUES ($1, $2, {now} + $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE leases.holder = excluded.holder OR leases.until < {now}"
    ))
    .bind(name)
    .bind(holder)
    .bind(ttl_ms)
    .execute(&mut *tx)
    .await?;
    let current: String = sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(current == holder)
}

/// Whether `holder` still holds the lease `name`, read inside a writer's
/// transaction (fencing: its writes count only then). On PostgreSQL the row
/// stays locked until the transaction ends, so nobody takes the lease
/// meanwhile.
pub async fn still_holds(
    db: &Db,
    tx: &mut crate::db::WriteTx,
    name: &str,
    holder: &str,
) -> Result<bool, StoreError> {
    let lock = match db.dialect() {
        crate::db::Dialect::Postgres => " FOR SHARE",
        crate::db::Dialect::Sqlite => "",
    };
    let held: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND until > {}{lock}",
        db.dialect().now_ms()
    ))
    .bind(name)
    .bind(holder)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(held.is_some())
}

/// Renews every lease in `names` that `holder` still holds, in one
/// statement; returns how many it renewed.
pub async fn renew_leases(
    db: &Db,
    holder: &str,
    names: &[String],
    ttl_ms: i64,
) -> Result<u64, StoreError> {
    if names.is_empty() {
        return Ok(0);
    }
    let now = db.dialect().now_ms();
    let list = db.dialect().json_texts(3);
    let names = serde_json::to_string(names).expect("names are JSON");
    let done = sqlx::query(&format!(
        "UPDATE leases SET until = {now} + $2 WHERE holder = $1 AND until >= {now} AND name IN ({list})"
    ))
    .bind(holder)
    .bind(ttl_ms)
    .bind(names)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Which of the leases in `names` some holder still holds now: the others
/// are free to take (their holder died or let them go).
pub async fn live_leases(db: &Db, names: &[String]) -> Result<Vec<String>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let now = db.dialect().now_ms();
    let list = db.dialect().json_texts(1);
    let names = serde_json::to_string(names).expect("names are JSON");
    Ok(sqlx::query_scalar(&format!(
        "SELECT name FROM leases WHERE until >= {now} AND name IN ({list})"
    ))
    .bind(names)
    .fetch_all(db.pool())
    .await?)
}

/// The database clock in Unix milliseconds: the one clock every node agrees
/// on.
pub async fn clock(db: &Db) -> Result<i64, StoreError> {
    let sql = format!("SELECT {} AS now", db.dialect().now_ms());
    Ok(sqlx::query_scalar(&sql).fetch_one(db.pool()).await?)
}
