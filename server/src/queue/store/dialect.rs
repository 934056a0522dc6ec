//! What SQLite and PostgreSQL write differently in the queue's statements
//! (what every store needs is in `db::Dialect`).

use crate::db::Dialect;

/// Suffix of a `SELECT … FROM commands c …` that claims rows: other
/// PostgreSQL transactions skip rows locked here instead of waiting;
/// SQLite needs nothing (its write transactions are serialised).
pub(super) fn skip_locked(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR NO KEY UPDATE OF c SKIP LOCKED",
    }
}

/// How an `UPDATE commands SET …` reaches, for each product of the JSON
/// array of ids bound at `$products`, its oldest `$limit` commands that
/// match `filter` (on alias `c`). Returns the statement's `WITH` prefix
/// and what follows its `SET …` (its `FROM` and `WHERE`).
///
/// PostgreSQL locks each product's rows as it finds them, skipping rows
/// another transaction holds (so it never waits, and never deadlocks),
/// then reaches each locked row by its address (`ctid`, which a lock
/// reports for the row's newest version): no second lookup by id.
/// SQLite needs no locks (its writers take turns) and has no `LATERAL`:
/// it numbers each product's rows.
pub(super) fn oldest_per_product(
    d: Dialect,
    products: usize,
    limit: usize,
    filter: &str,
) -> (String, String) {
    match d {
        Dialect::Sqlite => (
            String::new(),
            format!(
                "WHERE commands.id IN (SELECT w.id FROM (SELECT c.id, ROW_NUMBER() OVER \
                 (PARTITION BY c.product_id ORDER BY c.created_at, c.id) AS n \
                 FROM commands c WHERE c.product_id IN (SELECT value FROM json_each(${products})) \
                 AND {filter}) AS w WHERE w.n <= ${limit})"
            ),
        ),
        Dialect::Postgres => (
            format!(
                "WITH held AS MATERIALIZED (SELECT c.ctid FROM \
                 json_array_elements_text(${products}::json) AS w(product) CROSS JOIN LATERAL \
                 (SELECT c.ctid FROM commands c WHERE c.product_id = w.product AND {filter} \
                 ORDER BY c.created_at, c.id LIMIT ${limit} FOR NO KEY UPDATE SKIP LOCKED) AS c) "
            ),
            "FROM held WHERE commands.ctid = held.ctid".to_owned(),
        ),
    }
}
