//! The SQL of centralization on the content side: a source's whole content
//! (every tree, with the settings of its alerts), and one owner's tree in
//! the cluster.

use sqlx::Row;

use super::{folder_of, item_of, FolderRow, ItemRow, FOLDER_COLUMNS, ITEM_COLUMNS};
use crate::content::alerts::Rule;
use crate::db::{Db, StoreError, WriteTx};

/// An alert's settings, where it is enabled, and its webhooks with their
/// secrets.
#[derive(Clone, Debug)]
pub struct AlertParts {
    pub rule: Rule,
    pub enabled_on: Vec<String>,
    pub webhooks: Vec<(String, String)>,
}

/// Every folder and item of every tree.
pub async fn everything(db: &Db) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    let mut conn = db.pool().acquire().await?;
    everything_on(&mut conn).await
}

/// Every folder and item of every tree, inside a change.
pub async fn everything_in(tx: &mut WriteTx) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    everything_on(tx).await
}

async fn everything_on(
    conn: &mut sqlx::AnyConnection,
) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    let folders = sqlx::query(&format!(
        "SELECT {FOLDER_COLUMNS} FROM content_folders ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let items = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM content_items ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    Ok((
        folders.iter().map(folder_of).collect::<Result<_, _>>()?,
        items.iter().map(item_of).collect::<Result<_, _>>()?,
    ))
}

/// An alert's parts as the source holds them.
pub async fn alert_parts(db: &Db, item: &str) -> Result<Option<AlertParts>, StoreError> {
    let Some((rule, enabled_on)) = super::alerts::of(db, item).await? else {
        return Ok(None);
    };
    let webhooks =
        sqlx::query("SELECT url, secret FROM alert_destinations WHERE item_id = $1 ORDER BY url")
            .bind(item)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("url")?, r.try_get("secret")?)))
            .collect::<Result<_, sqlx::Error>>()?;
    Ok(Some(AlertParts {
        rule,
        enabled_on,
        webhooks,
    }))
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
