//! All SQL of content: the folders and items of each user's tree and of the
//! Global tree (`user_id` NULL), and the statements investigations compile
//! to (`run`).

pub mod alerts;
pub mod centralize;
pub mod run;

use app::state::StateClass;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Owner;
use crate::cluster::store::bump;
use crate::db::{Db, StoreError, WriteTx};

/// A folder as stored; `parent` is '' at the top of its tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderRow {
    pub id: String,
    pub owner: Owner,
    pub parent: String,
    pub name: String,
}

/// An item as stored; `folder` is '' at the top of its tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemRow {
    pub id: String,
    pub owner: Owner,
    pub folder: String,
    pub kind: String,
    pub name: String,
    pub definition: String,
    pub canonical: String,
    pub hash: String,
    pub updated_at: i64,
    pub updated_by: String,
}

const FOLDER_COLUMNS: &str = "id, user_id, parent, name";
const ITEM_COLUMNS: &str =
    "id, user_id, folder, kind, name, definition, canonical, hash, updated_at, updated_by";

fn owner_of(row: &AnyRow) -> Result<Owner, sqlx::Error> {
    Ok(match row.try_get::<Option<i64>, _>("user_id")? {
        Some(id) => Owner::User(id),
        None => Owner::Global,
    })
}

fn folder_of(row: &AnyRow) -> Result<FolderRow, sqlx::Error> {
    Ok(FolderRow {
        id: row.try_get("id")?,
        owner: owner_of(row)?,
        parent: row.try_get("parent")?,
        name: row.try_get("name")?,
    })
}

fn item_of(row: &AnyRow) -> Result<ItemRow, sqlx::Error> {
    Ok(ItemRow {
        id: row.try_get("id")?,
        owner: owner_of(row)?,
        folder: row.try_get("folder")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        definition: row.try_get("definition")?,
        canonical: row.try_get("canonical")?,
        hash: row.try_get("hash")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// A unique index refused the write: a name taken in that folder.
fn taken(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("{what} is already taken in that folder"))
        }
        _ => StoreError::Other(e),
    }
}

/// Everything the user may see: their own tree and the Global one.
pub async fn trees(db: &Db, user: i64) -> Result<(Vec<FolderRow>, Vec<ItemRow>), StoreError> {
    let folders = sqlx::query(&format!(
        "SELECT {FOLDER_COLUMNS} FROM content_folders \
         WHERE user_id = $1 OR user_id IS NULL ORDER BY name, id"
    ))
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    let items = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM content_items \
         WHERE user_id = $1 OR user_id IS NULL ORDER BY name, id"
    ))
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    Ok((
        folders.iter().map(folder_of).collect::<Result<_, _>>()?,
        items.iter().map(item_of).collect::<Result<_, _>>()?,
    ))
}

/// Every folder of one tree (to check a move, or find what a delete takes).
pub async fn folders_of(tx: &mut WriteTx, owner: Owner) -> Result<Vec<FolderRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {FOLDER_COLUMNS} FROM content_folders WHERE COALESCE(user_id, 0) = $1"
    ))
    .bind(owner.key())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(folder_of).collect::<Result<_, _>>()?)
}

pub async fn folder(db: &Db, id: &str) -> Result<Option<FolderRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {FOLDER_COLUMNS} FROM content_folders WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(folder_of).transpose()?)
}

pub async fn item(db: &Db, id: &str) -> Result<Option<ItemRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM content_items WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(item_of).transpose()?)
}

/// How many folders and items a tree holds.
pub async fn sizes(tx: &mut WriteTx, owner: Owner) -> Result<(i64, i64), StoreError> {
    let folders: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM content_folders WHERE COALESCE(user_id, 0) = $1")
            .bind(owner.key())
            .fetch_one(&mut **tx)
            .await?;
    let items: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM content_items WHERE COALESCE(user_id, 0) = $1")
            .bind(owner.key())
            .fetch_one(&mut **tx)
            .await?;
    Ok((folders, items))
}

/// Opens the transaction of a change to content (see [`commit`]).
pub async fn begin(db: &Db) -> Result<WriteTx, StoreError> {
    db.begin_write().await
}

/// Ends a change: moves the content counter in the same transaction, so
/// every console refreshes its trees.
pub async fn commit(mut tx: WriteTx) -> Result<(), StoreError> {
    bump(&mut *tx, StateClass::Content).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn insert_folder(db: &Db, tx: &mut WriteTx, f: &FolderRow) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    sqlx::query(&format!(
        "INSERT INTO content_folders (id, user_id, parent, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, {now}, {now})"
    ))
    .bind(&f.id)
    .bind(f.owner.user_id())
    .bind(&f.parent)
    .bind(&f.name)
    .execute(&mut **tx)
    .await
    .map_err(|e| taken(e, &format!("the name \"{}\"", f.name)))?;
    Ok(())
}

/// Renames and/or moves a folder.
pub async fn update_folder(db: &Db, tx: &mut WriteTx, f: &FolderRow) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(&format!(
        "UPDATE content_folders SET parent = $2, name = $3, updated_at = {now} WHERE id = $1"
    ))
    .bind(&f.id)
    .bind(&f.parent)
    .bind(&f.name)
    .execute(&mut **tx)
    .await
    .map_err(|e| taken(e, &format!("the name \"{}\"", f.name)))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes folders and every item in them; returns the items deleted.
pub async fn delete_folders(tx: &mut WriteTx, ids: &[String]) -> Result<u64, StoreError> {
    let mut items = 0;
    for id in ids {
        items += sqlx::query("DELETE FROM content_items WHERE folder = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM content_folders WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(items)
}

pub async fn insert_item(db: &Db, tx: &mut WriteTx, i: &ItemRow) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let sql = format!(
        "INSERT INTO content_items ({ITEM_COLUMNS}, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {now}, $9, {now})"
    );
    write_item(tx, &sql, i).await.map(|_| ())
}

/// Writes an item's tree, folder, name and definition.
pub async fn update_item(db: &Db, tx: &mut WriteTx, i: &ItemRow) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let sql = format!(
        "UPDATE content_items SET user_id = $2, folder = $3, kind = $4, name = $5, \
         definition = $6, canonical = $7, hash = $8, updated_by = $9, updated_at = {now} \
         WHERE id = $1"
    );
    if write_item(tx, &sql, i).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Runs an insert or update that binds an item's columns as `$1`…`$9`;
/// returns the rows it changed.
async fn write_item(tx: &mut WriteTx, sql: &str, i: &ItemRow) -> Result<u64, StoreError> {
    let done = bind_item(sqlx::query(sql), i)
        .execute(&mut **tx)
        .await
        .map_err(|e| taken(e, &format!("the name \"{}\"", i.name)))?;
    Ok(done.rows_affected())
}

/// Binds an item's columns in the order of `write_item`.
pub(super) fn bind_item<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    i: &'q ItemRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&i.id)
        .bind(i.owner.user_id())
        .bind(&i.folder)
        .bind(&i.kind)
        .bind(&i.name)
        .bind(&i.definition)
        .bind(&i.canonical)
        .bind(&i.hash)
        .bind(&i.updated_by)
}

pub async fn delete_item(tx: &mut WriteTx, id: &str) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM content_items WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The item's current row inside a change (it may have moved or gone since
/// it was read).
pub async fn item_in(tx: &mut WriteTx, id: &str) -> Result<Option<ItemRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM content_items WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(item_of).transpose()?)
}

/// The item names taken in one folder of one tree.
pub async fn names_in(
    tx: &mut WriteTx,
    owner: Owner,
    folder: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM content_items WHERE COALESCE(user_id, 0) = $1 AND folder = $2",
    )
    .bind(owner.key())
    .bind(folder)
    .fetch_all(&mut **tx)
    .await?)
}
