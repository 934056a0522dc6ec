//! The console's reads of products: pages, counts, one product, its history
//! and its logs.

use app::api::{LogEntry, ProductSummary, Transition};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Db, StoreError};

/// The newest log lines of a product, newest first.
pub async fn logs(db: &Db, product: &str, limit: i64) -> Result<Vec<LogEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT at, level, message FROM product_logs WHERE product_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(product)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LogEntry {
                at: r.try_get("at")?,
                level: r.try_get("level")?,
                message: r.try_get("message")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// Status changes of a product, newest first.
pub async fn transitions(
    db: &Db,
    product: &str,
    limit: i64,
) -> Result<Vec<Transition>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, at, cause FROM product_transitions \
         WHERE product_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(product)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Transition {
                from: r.try_get("from_status")?,
                to: r.try_get("to_status")?,
                at: r.try_get("at")?,
                cause: r.try_get("cause")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

fn summary(r: &AnyRow) -> Result<ProductSummary, sqlx::Error> {
    Ok(ProductSummary {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        product_type: r.try_get("product_type")?,
        version: r.try_get("version")?,
        status: r.try_get("status")?,
        transport: r.try_get("transport")?,
        mode: r.try_get("mode")?,
        last_seen: r.try_get("last_seen")?,
        home_node: r.try_get("home_node")?,
    })
}

const SUMMARY_COLUMNS: &str =
    "id, name, product_type, version, status, transport, mode, last_seen, home_node";

/// One product with its latest activity data (JSON text).
pub async fn get(
    db: &Db,
    id: &str,
) -> Result<Option<(ProductSummary, Option<String>)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS}, activity FROM products WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| Ok((summary(&r)?, r.try_get("activity")?)))
        .transpose()
        .map_err(StoreError::Other)
}

/// How a product list is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Name,
    Status,
    LastSeen,
}

impl Sort {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "name" => Some(Self::Name),
            "status" => Some(Self::Status),
            "last_seen" => Some(Self::LastSeen),
            _ => None,
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Name => "name, id",
            Self::Status => "status, name, id",
            Self::LastSeen => "last_seen DESC, name, id",
        }
    }
}

/// Filters of a product list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<String>,
    /// Part of the name, type or id (any case).
    pub search: Option<String>,
}

const FILTER_WHERE: &str = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR LOWER(name) LIKE $2 \
     OR LOWER(product_type) LIKE $2 OR id LIKE $2)";

fn like_pattern(search: &Option<String>) -> Option<String> {
    search.as_ref().map(|s| {
        let escaped: String = s
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| *c != '%' && *c != '_')
            .collect();
        format!("%{escaped}%")
    })
}

/// One page of products and how many match in all.
pub async fn list(
    db: &Db,
    filter: &Filter,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<ProductSummary>), StoreError> {
    let pattern = like_pattern(&filter.search);
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM products WHERE {FILTER_WHERE}"
    ))
    .bind(&filter.status)
    .bind(&pattern)
    .fetch_one(db.pool())
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM products WHERE {FILTER_WHERE} \
         ORDER BY {} LIMIT $3 OFFSET $4",
        sort.order_by()
    ))
    .bind(&filter.status)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let products = rows
        .iter()
        .map(summary)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)?;
    Ok((total, products))
}

/// `(status, count)` over the fleet.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM products GROUP BY status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}
