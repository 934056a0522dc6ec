//! All SQL of the state counters.

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
