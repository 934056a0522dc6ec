//! The audit trail's records: appended by the capabilities where people
//! act (sign-ins by `auth`, every other state-changing console request by
//! the `audit` layer), read and pruned by the `audit` capability. Nothing
//! in Vigil updates or deletes a record, except the retention prune.

use app::api::AuditEntry;
use app::state::StateClass;
use sqlx::Row;

use crate::cluster::store::bump;
use crate::db::{Db, StoreError};

/// One action to record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The user name.
    pub actor: String,
    /// `session`, `token:<id>` or `password` (a sign-in).
    pub via: String,
    pub client: String,
    pub node: String,
    pub action: String,
    pub target: String,
    /// The HTTP status the action was answered with.
    pub status: u16,
}

/// `ok`, `refused` or `failed`, from a status.
pub fn outcome(status: u16) -> &'static str {
    match status {
        500.. => "failed",
        400.. => "refused",
        _ => "ok",
    }
}

/// Appends one record, and moves the audit counter.
pub async fn record(db: &Db, e: &Entry) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO audit_events (at, actor, via, client, node, action, target, outcome, status) \
         VALUES ({now}, $1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&e.actor)
    .bind(&e.via)
    .bind(&e.client)
    .bind(&e.node)
    .bind(&e.action)
    .bind(&e.target)
    .bind(outcome(e.status))
    .bind(i64::from(e.status))
    .execute(&mut *tx)
    .await?;
    bump(&mut *tx, StateClass::Audit).await?;
    tx.commit().await?;
    Ok(())
}

/// What to look for; every field narrows the search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<String>,
    /// Actions starting with this (`user.` finds every user action).
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Targets containing this.
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A page of records, newest first, and how many match.
pub async fn search(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEntry>, i64), StoreError> {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    let like = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    };
    if let Some(a) = &f.actor {
        binds.push(a.to_lowercase());
        clauses.push(format!("LOWER(actor) = ${}", binds.len()));
    }
    if let Some(a) = &f.action {
        binds.push(format!("{}%", like(a)));
        clauses.push(format!("action LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(o) = &f.outcome {
        binds.push(o.clone());
        clauses.push(format!("outcome = ${}", binds.len()));
    }
    if let Some(t) = &f.target {
        binds.push(format!("%{}%", like(t)));
        clauses.push(format!("target LIKE ${} ESCAPE '\\'", binds.len()));
    }
    for (value, op) in [(f.since, ">="), (f.until, "<")] {
        if let Some(v) = value {
            ints.push(v);
            clauses.push(format!("at {op} ${}", binds.len() + ints.len()));
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let n = binds.len() + ints.len();
    let sql = format!(
        "SELECT id, at, actor, via, client, node, action, target, outcome, status \
         FROM audit_events {filter} ORDER BY id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut q = sqlx::query(&sql);
    let count_sql = format!("SELECT COUNT(*) FROM audit_events {filter}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        q = q.bind(b.clone());
        count = count.bind(b.clone());
    }
    for i in &ints {
        q = q.bind(*i);
        count = count.bind(*i);
    }
    let rows = q.bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                via: r.try_get("via")?,
                client: r.try_get("client")?,
                node: r.try_get("node")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                outcome: r.try_get("outcome")?,
                status: r.try_get("status")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((entries, count.fetch_one(db.pool()).await?))
}

/// Drops records older than `keep_ms`; returns how many.
pub async fn prune(db: &Db, keep_ms: i64) -> Result<u64, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(&format!("DELETE FROM audit_events WHERE at < {now} - $1"))
        .bind(keep_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_make_outcomes() {
        assert_eq!(outcome(201), "ok");
        assert_eq!(outcome(204), "ok");
        assert_eq!(outcome(403), "refused");
        assert_eq!(outcome(503), "failed");
    }
}
