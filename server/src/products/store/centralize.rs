//! The SQL of resource synchronization: a source's product records and
//! their histories, copied into the cluster's database.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Db, StoreError, WriteTx};

/// How a copied column is read and bound.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    /// Stored as SMALLINT on PostgreSQL.
    Small,
}

use Kind::{Int, Small, Text};

/// A column's value, as read from the source.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

/// A row read from the source, its columns in the order of its table's
/// list below.
#[derive(Clone, Debug, PartialEq)]
pub struct Record(Vec<Value>);

const PRODUCT: &[(&str, Kind)] = &[
    ("id", Text),
    ("name", Text),
    ("product_type", Text),
    ("version", Text),
    ("callback_url", Text),
    ("product_key", Text),
    ("nonce", Text),
    ("status", Text),
    ("transport", Text),
    ("mode", Text),
    ("registered_at", Int),
    ("last_seen", Int),
    ("offline_after_ms", Int),
    ("deadline", Int),
    ("home_node", Text),
    ("activity", Text),
    ("last_seq", Int),
    ("udp_port", Int),
];

const TRANSITION: &[(&str, Kind)] = &[
    ("product_id", Text),
    ("from_status", Text),
    ("to_status", Text),
    ("at", Int),
    ("recorded_at", Int),
    ("cause", Text),
];

const LOG: &[(&str, Kind)] = &[
    ("product_id", Text),
    ("at", Int),
    ("level", Text),
    ("message", Text),
    ("received_at", Int),
    ("node", Text),
];

const COMMAND: &[(&str, Kind)] = &[
    ("id", Text),
    ("product_id", Text),
    ("kind", Text),
    ("args", Text),
    ("state", Text),
    ("created_at", Int),
    ("created_by", Text),
    ("created_on", Text),
    ("expires_at", Int),
    ("attempts", Int),
    ("max_attempts", Int),
    ("ready_at", Int),
    ("holder", Text),
    ("lease_until", Int),
    ("output", Text),
    ("finished_at", Int),
    ("updated_at", Int),
    ("claimed_at", Int),
    ("claimed_by", Text),
    ("claim_note", Text),
    ("delivered_at", Int),
    ("delivered_by", Text),
    ("finished_by", Text),
    ("wake", Small),
];

const COMMAND_EVENT: &[(&str, Kind)] = &[
    ("command_id", Text),
    ("at", Int),
    ("node", Text),
    ("state", Text),
    ("note", Text),
];

fn names(columns: &[(&str, Kind)]) -> String {
    columns
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn record(row: &AnyRow, columns: &[(&str, Kind)]) -> Result<Record, sqlx::Error> {
    columns
        .iter()
        .map(|(name, kind)| {
            Ok(match kind {
                Int | Small => Value::Int(row.try_get(*name)?),
                Text => Value::Text(row.try_get(*name)?),
            })
        })
        .collect::<Result<_, _>>()
        .map(Record)
}

impl Record {
    fn text(&self, columns: &[(&str, Kind)], name: &str) -> Option<&str> {
        let at = columns.iter().position(|(n, _)| *n == name)?;
        match &self.0[at] {
            Value::Text(t) => t.as_deref(),
            Value::Int(_) => None,
        }
    }

    fn int(&self, columns: &[(&str, Kind)], name: &str) -> Option<i64> {
        let at = columns.iter().position(|(n, _)| *n == name)?;
        match &self.0[at] {
            Value::Int(i) => *i,
            Value::Text(_) => None,
        }
    }

    fn set(&mut self, columns: &[(&str, Kind)], name: &str, value: Value) {
        if let Some(at) = columns.iter().position(|(n, _)| *n == name) {
            self.0[at] = value;
        }
    }
}

/// A product record of the source, with what merging reads of it.
#[derive(Clone, Debug)]
pub struct Product {
    pub id: String,
    pub status: String,
    pub last_seen: Option<i64>,
    record: Record,
}

impl Product {
    /// Whether an agent ever registered it (it has a key).
    pub fn has_agent(&self) -> bool {
        self.record
            .text(PRODUCT, "product_key")
            .is_some_and(|k| !k.is_empty())
    }

    /// Arrives without a reporting agent: `unmanaged`.
    pub fn make_unmanaged(&mut self) {
        self.status = "unmanaged".into();
        self.record
            .set(PRODUCT, "status", Value::Text(Some(self.status.clone())));
        self.record.set(PRODUCT, "deadline", Value::Int(None));
    }
}

/// Every product record of a source.
pub async fn products(db: &Db) -> Result<Vec<Product>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM products ORDER BY id",
        names(PRODUCT)
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let record = record(row, PRODUCT)?;
            Ok(Product {
                id: record.text(PRODUCT, "id").unwrap_or_default().to_owned(),
                status: record
                    .text(PRODUCT, "status")
                    .unwrap_or_default()
                    .to_owned(),
                last_seen: record.int(PRODUCT, "last_seen"),
                record,
            })
        })
        .collect()
}

/// The cluster's `last_seen` of the products among `ids` it has.
pub async fn known(db: &Db, ids: &[String]) -> Result<HashMap<String, Option<i64>>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT id, last_seen FROM products WHERE id IN ({list})");
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(db.pool()).await? {
            out.insert(row.try_get("id")?, row.try_get("last_seen")?);
        }
    }
    Ok(out)
}

/// Binds a record's values into `INSERT INTO table (columns) VALUES (…)`
/// with a tail of extra literal columns.
async fn insert(
    tx: &mut WriteTx,
    table: &str,
    columns: &[(&str, Kind)],
    records: &[Record],
    conflict: &str,
) -> Result<(), StoreError> {
    let per = columns.len();
    for chunk in records.chunks((2000 / per).max(1)) {
        let values = (0..chunk.len())
            .map(|r| {
                let binds: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(c, (_, kind))| match kind {
                        Small => format!("CAST(${} AS SMALLINT)", r * per + c + 1),
                        _ => format!("${}", r * per + c + 1),
                    })
                    .collect();
                format!("({})", binds.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {values} {conflict}",
            names(columns)
        );
        let mut q = sqlx::query(&sql);
        for rec in chunk {
            for v in &rec.0 {
                q = match v {
                    Value::Int(i) => q.bind(*i),
                    Value::Text(t) => q.bind(t.clone()),
                };
            }
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Adds new product records; nodes pick up their keys.
pub async fn insert_products(
    db: &Db,
    tx: &mut WriteTx,
    products: &[&Product],
) -> Result<(), StoreError> {
    let records: Vec<Record> = products.iter().map(|p| p.record.clone()).collect();
    insert(
        tx,
        "products",
        PRODUCT,
        &records,
        "ON CONFLICT (id) DO NOTHING",
    )
    .await?;
    touch_keys(db, tx, products).await
}

/// Replaces the cluster's records by the source's (newer) ones.
pub async fn replace_products(
    db: &Db,
    tx: &mut WriteTx,
    products: &[&Product],
) -> Result<(), StoreError> {
    let set = PRODUCT[1..]
        .iter()
        .enumerate()
        .map(|(i, (n, _))| format!("{n} = ${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("UPDATE products SET {set} WHERE id = $1");
    for p in products {
        let mut q = sqlx::query(&sql);
        for v in &p.record.0 {
            q = match v {
                Value::Int(i) => q.bind(*i),
                Value::Text(t) => q.bind(t.clone()),
            };
        }
        q.execute(&mut **tx).await?;
    }
    touch_keys(db, tx, products).await
}

/// Marks keys as changed, so every node reloads them.
async fn touch_keys(db: &Db, tx: &mut WriteTx, products: &[&Product]) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    for p in products {
        sqlx::query(&format!(
            "UPDATE products SET key_changed_at = {now} WHERE id = $1"
        ))
        .bind(&p.id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The products whose histories came from source `database_id` already.
pub async fn journaled(db: &Db, database_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT product_id FROM centralize_journal WHERE database_id = $1")
            .bind(database_id)
            .fetch_all(db.pool())
            .await?,
    )
}

/// Copies the histories of `ids` from `source`: status changes, the last
/// `retention` logs, finished commands, and commands still to do (queued
/// again in the cluster; the queue expires those past their time). The
/// journal notes them in the same transaction.
pub async fn copy_histories(
    source: &Db,
    tx: &mut WriteTx,
    database_id: &str,
    ids: &[String],
    retention: i64,
) -> Result<(), StoreError> {
    for id in ids {
        let transitions = read(
            source,
            TRANSITION,
            "product_transitions",
            "product_id = $1 ORDER BY id",
            id,
        )
        .await?;
        insert(tx, "product_transitions", TRANSITION, &transitions, "").await?;
        let mut logs = read(
            source,
            LOG,
            "product_logs",
            &format!("product_id = $1 ORDER BY id DESC LIMIT {retention}"),
            id,
        )
        .await?;
        logs.reverse();
        insert(tx, "product_logs", LOG, &logs, "").await?;
        let mut commands = read(
            source,
            COMMAND,
            "commands",
            "product_id = $1 ORDER BY created_at, id",
            id,
        )
        .await?;
        let mut events = Vec::new();
        for c in &mut commands {
            let command = c.text(COMMAND, "id").unwrap_or_default().to_owned();
            events.extend(
                read(
                    source,
                    COMMAND_EVENT,
                    "command_events",
                    "command_id = $1 ORDER BY id",
                    &command,
                )
                .await?,
            );
            if matches!(
                c.text(COMMAND, "state"),
                Some("queued" | "dispatched" | "delivered")
            ) {
                // Whoever held it is not in this cluster: queued again,
                // for any node to claim, until it expires.
                c.set(COMMAND, "state", Value::Text(Some("queued".into())));
                c.set(COMMAND, "holder", Value::Text(None));
                c.set(COMMAND, "lease_until", Value::Int(None));
            }
        }
        insert(
            tx,
            "commands",
            COMMAND,
            &commands,
            "ON CONFLICT (id) DO NOTHING",
        )
        .await?;
        insert(tx, "command_events", COMMAND_EVENT, &events, "").await?;
        sqlx::query(
            "INSERT INTO centralize_journal (database_id, product_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(database_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        // The merged history keeps the newest logs only.
        sqlx::query(
            "DELETE FROM product_logs WHERE product_id = $1 AND id NOT IN \
             (SELECT id FROM product_logs WHERE product_id = $1 ORDER BY at DESC, id DESC \
              LIMIT $2)",
        )
        .bind(id)
        .bind(retention)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn read(
    source: &Db,
    columns: &[(&str, Kind)],
    table: &str,
    filter: &str,
    id: &str,
) -> Result<Vec<Record>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM {table} WHERE {filter}",
        names(columns)
    ))
    .bind(id)
    .fetch_all(source.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| record(r, columns))
        .collect::<Result<_, _>>()?)
}
