//! Runs the statements an investigation compiles to. Their text comes from
//! the query compiler (registry names only); every value is bound here.

use std::time::Duration;

use futures_util::TryStreamExt;
use query::sql::{Param, Statement};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};
use tokio::sync::mpsc;

use crate::db::{Db, Dialect, StoreError};

/// How a column of the result is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Text,
    Int,
    Bool,
}

impl Read {
    /// How a column of this type (as the query crate names it) is read.
    pub fn of(ty: &str) -> Read {
        match ty {
            "int" | "timestamp" | "duration" => Read::Int,
            "bool" => Read::Bool,
            _ => Read::Text,
        }
    }
}

/// A cell of the result.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
}

fn bind(s: &Statement) -> Query<'_, Any, AnyArguments<'_>> {
    s.params.iter().fold(sqlx::query(&s.sql), |q, p| match p {
        Param::Text(t) => q.bind(t.as_str()),
        Param::Int(n) => q.bind(*n),
    })
}

fn cells(row: &AnyRow, columns: &[Read]) -> Result<Vec<Cell>, sqlx::Error> {
    columns
        .iter()
        .enumerate()
        .map(|(i, read)| {
            Ok(match read {
                Read::Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Cell::Null, Cell::Text),
                Read::Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Cell::Null, Cell::Int),
                Read::Bool => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Cell::Null, |n| Cell::Bool(n != 0)),
            })
        })
        .collect()
}

/// PostgreSQL ends a statement that runs longer than `limit` itself, so a
/// query the node gave up on does not keep the server busy.
async fn bounded<T>(
    db: &Db,
    limit: Duration,
    work: impl for<'c> AsyncFnOnce(&'c mut sqlx::AnyConnection) -> Result<T, sqlx::Error>,
) -> Result<T, StoreError> {
    let run = async {
        let mut tx = db.pool().begin().await?;
        if db.dialect() == Dialect::Postgres {
            sqlx::query(&format!(
                "SET LOCAL statement_timeout = {}",
                limit.as_millis()
            ))
            .execute(&mut *tx)
            .await?;
        }
        let out = work(&mut tx).await?;
        tx.commit().await?;
        Ok::<T, sqlx::Error>(out)
    };
    match tokio::time::timeout(limit, run).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(StoreError::Timeout),
    }
}

/// One page of rows and the total, side by side on two connections (each
/// a scan of its own on a large table).
pub async fn page(
    db: &Db,
    limit: Duration,
    rows: &Statement,
    total: &Statement,
    columns: &[Read],
) -> Result<(Vec<Vec<Cell>>, i64), StoreError> {
    let (found, count) = tokio::join!(
        self::rows(db, limit, rows, columns),
        self::count(db, limit, total)
    );
    Ok((found?, count?))
}

/// The rows of a statement.
pub async fn rows(
    db: &Db,
    limit: Duration,
    rows: &Statement,
    columns: &[Read],
) -> Result<Vec<Vec<Cell>>, StoreError> {
    bounded(db, limit, async |conn| {
        let found = bind(rows).fetch_all(&mut *conn).await?;
        found
            .iter()
            .map(|r| cells(r, columns))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
}

/// The count a statement answers.
pub async fn count(db: &Db, limit: Duration, total: &Statement) -> Result<i64, StoreError> {
    bounded(db, limit, async |conn| {
        bind(total)
            .fetch_one(&mut *conn)
            .await?
            .try_get::<i64, _>(0)
    })
    .await
}

/// Rows sent per batch of [`each`].
const BATCH: usize = 512;

/// Every row, sent in batches as the database hands them over (the CSV
/// export); stops early when the receiver is gone (the client left).
pub async fn each(
    db: &Db,
    limit: Duration,
    rows: &Statement,
    columns: &[Read],
    out: &mpsc::Sender<Result<Vec<Vec<Cell>>, String>>,
) -> Result<u64, StoreError> {
    bounded(db, limit, async |conn| {
        let mut stream = bind(rows).fetch(&mut *conn);
        let (mut n, mut batch) = (0, Vec::with_capacity(BATCH));
        while let Some(row) = stream.try_next().await? {
            n += 1;
            batch.push(cells(&row, columns)?);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if out.send(Ok(full)).await.is_err() {
                    return Ok(n);
                }
            }
        }
        let _ = out.send(Ok(batch)).await;
        Ok(n)
    })
    .await
}

/// The database's plan of a statement, one line per step.
pub async fn plan(db: &Db, statement: &Statement) -> Result<Vec<String>, StoreError> {
    let explained = Statement {
        sql: match db.dialect() {
            Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {}", statement.sql),
            Dialect::Postgres => format!("EXPLAIN {}", statement.sql),
        },
        params: statement.params.clone(),
    };
    let rows = bind(&explained).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| match db.dialect() {
            Dialect::Sqlite => r.try_get::<String, _>("detail"),
            Dialect::Postgres => r.try_get::<String, _>(0),
        })
        .collect::<Result<_, _>>()
        .map_err(StoreError::Other)
}
