//! All SQL of the node registry.

use app::api::NodeRole;
use app::state::StateClass;
use sqlx::Row;

use super::{NodeIdentity, NodeRecord};
use crate::cluster::store::{bump, clock};
use crate::db::{Db, StoreError};

/// Refreshes this node's row and returns its role in the registry. A node
/// that is `joining` (just started) writes its configured role and start
/// time; one found marked down rejoins with its registry role. Both bump the
/// nodes counter; the usual refresh is a single cheap update.
pub async fn refresh(db: &Db, me: &NodeIdentity, joining: bool) -> Result<NodeRole, StoreError> {
    let now = db.dialect().now_ms();
    if !joining {
        let sql = format!(
            "UPDATE nodes SET last_seen = {now} \
             WHERE name = $1 AND url = $2 AND down_since IS NULL RETURNING role"
        );
        let role: Option<String> = sqlx::query_scalar(&sql)
            .bind(&me.name)
            .bind(&me.url)
            .fetch_optional(db.pool())
            .await?;
        if let Some(role) = role {
            return parse_role(role);
        }
    }
    let sql = format!(
        "INSERT INTO nodes (name, url, role, started_at, last_seen, down_since) \
         VALUES ($1, $2, $3, {now}, {now}, NULL) \
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, \
         role = CASE WHEN $4 = 1 THEN excluded.role ELSE nodes.role END, \
         started_at = CASE WHEN $4 = 1 THEN excluded.started_at ELSE nodes.started_at END, \
         last_seen = excluded.last_seen, down_since = NULL \
         RETURNING role"
    );
    let role = if joining {
        me.configured_role
    } else {
        me.role.get()
    };
    let mut tx = db.begin_write().await?;
    let role: String = sqlx::query_scalar(&sql)
        .bind(&me.name)
        .bind(&me.url)
        .bind(role.as_str())
        .bind(i64::from(joining))
        .fetch_one(&mut *tx)
        .await?;
    bump(&mut *tx, StateClass::Nodes).await?;
    tx.commit().await?;
    parse_role(role)
}

fn parse_role(text: String) -> Result<NodeRole, StoreError> {
    text.parse()
        .map_err(|e: String| StoreError::Other(sqlx::Error::Decode(e.into())))
}

/// Changes a node's role (it picks the change up on its next refresh).
pub async fn set_role(db: &Db, name: &str, role: NodeRole) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query("UPDATE nodes SET role = $2 WHERE name = $1 AND role <> $2")
        .bind(name)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        let exists: Option<String> = sqlx::query_scalar("SELECT name FROM nodes WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        return match exists {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound),
        };
    }
    bump(&mut *tx, StateClass::Nodes).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks nodes whose row went stale as down; returns how many changed.
pub async fn mark_stale(db: &Db, offline_after_ms: i64) -> Result<u64, StoreError> {
    let now = db.dialect().now_ms();
    let sql = format!(
        "UPDATE nodes SET down_since = {now} \
         WHERE down_since IS NULL AND last_seen < {now} - $1"
    );
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(&sql)
        .bind(offline_after_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed > 0 {
        bump(&mut *tx, StateClass::Nodes).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Marks a node as stopped (graceful shutdown).
pub async fn mark_stopped(db: &Db, name: &str) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let sql = format!("UPDATE nodes SET down_since = {now} WHERE name = $1 AND down_since IS NULL");
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(&sql).bind(name).execute(&mut *tx).await?;
    if changed.rows_affected() > 0 {
        bump(&mut *tx, StateClass::Nodes).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every registered node, ordered by name, and the database clock.
pub async fn list(db: &Db) -> Result<(Vec<NodeRecord>, i64), StoreError> {
    let sql = format!(
        "SELECT name, url, role, started_at, last_seen, down_since, {} AS now \
         FROM nodes ORDER BY name",
        db.dialect().now_ms()
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    let mut now = None;
    let nodes = rows
        .iter()
        .map(|row| {
            now = Some(row.try_get::<i64, _>("now")?);
            let role: String = row.try_get("role")?;
            Ok(NodeRecord {
                name: row.try_get("name")?,
                url: row.try_get("url")?,
                role: role
                    .parse::<NodeRole>()
                    .map_err(|e| sqlx::Error::Decode(e.into()))?,
                started_at: row.try_get("started_at")?,
                last_seen: row.try_get("last_seen")?,
                down_since: row.try_get("down_since")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let now = match now {
        Some(now) => now,
        None => clock(db).await?,
    };
    Ok((nodes, now))
}
