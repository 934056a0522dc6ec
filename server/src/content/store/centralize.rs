//! The SQL of centralization on the content side: a source's whole content
//! (every tree, with the settings of its alerts), and one owner's tree in
//! the cluster.

use std::collections::HashMap;

use sqlx::Row;

use super::alerts::rule_of;
use super::{FolderRow, ItemRow};
use crate::content::alerts::Rule;
use crate::content::Owner;
use crate::db::{Db, Dialect, StoreError, WriteTx};

/// An alert's settings, where it is enabled, and its webhooks with their
/// secrets.
#[derive(Clone, Debug)]
pub struct AlertParts {
    pub rule: Rule,
    pub enabled_on: Vec<String>,
    pub webhooks: Vec<(String, String)>,
}

/// Every folder and item of every tree. The rows come as one JSON array
/// per table: reading a row at a time costs more than the row itself.
pub async fn everything(db: &Db) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    let folders: Vec<(String, Option<i64>, String, String)> =
        json_rows(db, "content_folders", &["id", "user_id", "parent", "name"]).await?;
    #[allow(clippy::type_complexity)]
    let items: Vec<(
        String,
        Option<i64>,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        String,
    )> = json_rows(
        db,
        "content_items",
        &[
            "id",
            "user_id",
            "folder",
            "kind",
            "name",
            "definition",
            "canonical",
            "hash",
            "updated_at",
            "updated_by",
        ],
    )
    .await?;
    Ok((
        folders_of(folders),
        items
            .into_iter()
            .map(
                |(id, user, folder, kind, name, definition, canonical, hash, at, by)| ItemRow {
                    id,
                    owner: owner(user),
                    folder,
                    kind,
                    name,
                    definition,
                    canonical,
                    hash,
                    updated_at: at,
                    updated_by: by,
                },
            )
            .collect(),
    ))
}

fn folders_of(rows: Vec<(String, Option<i64>, String, String)>) -> Vec<FolderRow> {
    rows.into_iter()
        .map(|(id, user, parent, name)| FolderRow {
            id,
            owner: owner(user),
            parent,
            name,
        })
        .collect()
}

fn owner(user: Option<i64>) -> Owner {
    user.map_or(Owner::Global, Owner::User)
}

/// Every row of `table`, as one JSON array of arrays of `columns`.
async fn json_rows<T: serde::de::DeserializeOwned>(
    db: &Db,
    table: &str,
    columns: &[&str],
) -> Result<Vec<T>, StoreError> {
    let list = columns.join(", ");
    let sql = match db.dialect() {
        Dialect::Sqlite => format!("SELECT json_group_array(json_array({list})) FROM {table}"),
        Dialect::Postgres => {
            format!("SELECT COALESCE(json_agg(json_build_array({list}))::text, '[]') FROM {table}")
        }
    };
    let text: String = sqlx::query_scalar(&sql).fetch_one(db.pool()).await?;
    serde_json::from_str(&text).map_err(|e| StoreError::Other(sqlx::Error::Decode(Box::new(e))))
}

/// Every tree's folders, and of every item what placing needs: its id,
/// owner, folder, name and definition hash (the rest left empty).
pub async fn placement(db: &Db) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    let folders: Vec<(String, Option<i64>, String, String)> =
        json_rows(db, "content_folders", &["id", "user_id", "parent", "name"]).await?;
    let items: Vec<(String, Option<i64>, String, String, String)> = match db.dialect() {
        Dialect::Sqlite => {
            json_rows(
                db,
                "content_items",
                &["id", "user_id", "folder", "name", "hash"],
            )
            .await?
        }
        // PostgreSQL hands rows over faster than it builds JSON.
        Dialect::Postgres => {
            sqlx::query("SELECT id, user_id, folder, name, hash FROM content_items")
                .fetch_all(db.pool())
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("id")?,
                        r.try_get("user_id")?,
                        r.try_get("folder")?,
                        r.try_get("name")?,
                        r.try_get("hash")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?
        }
    };
    Ok((
        folders_of(folders),
        items
            .into_iter()
            .map(|(id, user, folder, name, hash)| ItemRow {
                id,
                owner: owner(user),
                folder,
                kind: String::new(),
                name,
                definition: String::new(),
                canonical: String::new(),
                hash,
                updated_at: 0,
                updated_by: String::new(),
            })
            .collect(),
    ))
}

/// Every alert's parts as the source holds them, by item id.
pub async fn all_alert_parts(db: &Db) -> Result<HashMap<String, AlertParts>, StoreError> {
    let mut out = HashMap::new();
    let settings = sqlx::query(
        "SELECT item_id, condition, threshold, period_ms, for_ms, clear_for_ms, severity, scope \
         FROM alert_settings",
    )
    .fetch_all(db.pool())
    .await?;
    for row in &settings {
        out.insert(
            row.try_get::<String, _>("item_id")?,
            AlertParts {
                rule: rule_of(row)?,
                enabled_on: Vec::new(),
                webhooks: Vec::new(),
            },
        );
    }
    let enabled = sqlx::query("SELECT item_id, node FROM alert_enabled ORDER BY item_id, node")
        .fetch_all(db.pool())
        .await?;
    for row in &enabled {
        if let Some(parts) = out.get_mut(&row.try_get::<String, _>("item_id")?) {
            parts.enabled_on.push(row.try_get("node")?);
        }
    }
    let webhooks =
        sqlx::query("SELECT item_id, url, secret FROM alert_destinations ORDER BY item_id, url")
            .fetch_all(db.pool())
            .await?;
    for row in &webhooks {
        if let Some(parts) = out.get_mut(&row.try_get::<String, _>("item_id")?) {
            parts
                .webhooks
                .push((row.try_get("url")?, row.try_get("secret")?));
        }
    }
    Ok(out)
}

/// Each node's alert limit, and every (alert, node) enabled.
#[allow(clippy::type_complexity)]
pub async fn limits(db: &Db) -> Result<(HashMap<String, i64>, Vec<(String, String)>), StoreError> {
    let limits = sqlx::query("SELECT node, alert_limit FROM alert_limits")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("node")?, r.try_get("alert_limit")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let on = sqlx::query("SELECT item_id, node FROM alert_enabled")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("item_id")?, r.try_get("node")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((limits, on))
}

/// Writes new folders, parents first, many to a statement.
pub async fn insert_folders(
    db: &Db,
    tx: &mut WriteTx,
    rows: &[FolderRow],
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    for chunk in rows.chunks(500) {
        let values = placeholders(chunk.len(), 4, &format!("{now}, {now}"));
        let sql = format!(
            "INSERT INTO content_folders (id, user_id, parent, name, created_at, updated_at) VALUES {values}"
        );
        let mut q = sqlx::query(&sql);
        for f in chunk {
            q = q
                .bind(&f.id)
                .bind(f.owner.user_id())
                .bind(&f.parent)
                .bind(&f.name);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes new items, many to a statement. SQLite takes them as one JSON
/// array (binding each value costs it more than the row).
pub async fn insert_items(db: &Db, tx: &mut WriteTx, rows: &[ItemRow]) -> Result<(), StoreError> {
    #[derive(serde::Serialize)]
    struct Item<'a> {
        id: &'a str,
        user_id: Option<i64>,
        folder: &'a str,
        kind: &'a str,
        name: &'a str,
        definition: &'a str,
        canonical: &'a str,
        hash: &'a str,
        updated_by: &'a str,
    }
    const FIELDS: [&str; 9] = [
        "id",
        "user_id",
        "folder",
        "kind",
        "name",
        "definition",
        "canonical",
        "hash",
        "updated_by",
    ];
    let now = db.dialect().now_ms();
    let columns = FIELDS.join(", ");
    if db.dialect() == Dialect::Postgres {
        // PostgreSQL takes bound rows faster than it takes JSON apart.
        for chunk in rows.chunks(500) {
            let values = placeholders(chunk.len(), 9, &format!("{now}, {now}"));
            let sql = format!(
                "INSERT INTO content_items ({columns}, updated_at, created_at) VALUES {values}"
            );
            let mut q = sqlx::query(&sql);
            for i in chunk {
                q = super::bind_item(q, i);
            }
            q.execute(&mut **tx).await?;
        }
        return Ok(());
    }
    let values: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("json_extract(value, '$.{f}')"))
        .collect();
    let sql = format!(
        "INSERT INTO content_items ({columns}, updated_at, created_at) \
         SELECT {}, {now}, {now} FROM json_each($1)",
        values.join(", ")
    );
    for chunk in rows.chunks(5000) {
        let items: Vec<Item> = chunk
            .iter()
            .map(|i| Item {
                id: &i.id,
                user_id: i.owner.user_id(),
                folder: &i.folder,
                kind: &i.kind,
                name: &i.name,
                definition: &i.definition,
                canonical: &i.canonical,
                hash: &i.hash,
                updated_by: &i.updated_by,
            })
            .collect();
        let json = serde_json::to_string(&items)
            .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
        sqlx::query(&sql).bind(json).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `($1, …, $n, tail), (…)` for `rows` rows of `n` bound values each.
fn placeholders(rows: usize, n: usize, tail: &str) -> String {
    (0..rows)
        .map(|r| {
            let binds: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({}, {tail})", binds.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes a copied alert's settings and webhooks (with the source's
/// secrets, so its receivers keep checking signatures as before).
pub async fn put_alert(tx: &mut WriteTx, item: &str, parts: &AlertParts) -> Result<(), StoreError> {
    super::alerts::put_settings(tx, item, &parts.rule).await?;
    for (url, secret) in &parts.webhooks {
        sqlx::query(
            "INSERT INTO alert_destinations (item_id, url, secret) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(item)
        .bind(url)
        .bind(secret)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
