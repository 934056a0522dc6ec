//! Standalone databases for the centralization tests.

use std::collections::HashMap;

use app::api::content::ItemKind;
use app::api::UserRole;
use server::auth::store::{create_user, find_user};
use server::content::store::{self as content, FolderRow, ItemRow};
use server::content::Owner;
use server::db::Db;

/// One source item: owner ('' for Global), folder path, name, definition.
pub type Item = (String, Vec<String>, String, String);

/// Writes a standalone node's database holding `items`.
pub async fn standalone(dir: &std::path::Path, node: &str, items: &[Item]) -> Db {
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("{node}.db")).display()
    ))
    .await
    .unwrap();
    fill(&db, items).await;
    db
}

/// Writes `items` (and their owners) into `db`.
pub async fn fill(db: &Db, items: &[Item]) {
    let db = db.clone();
    let mut ids = HashMap::new();
    for (owner, ..) in items.iter().filter(|i| !i.0.is_empty()) {
        create_user(&db, owner, "hash", UserRole::Operator)
            .await
            .unwrap();
        let id = find_user(&db, owner).await.unwrap().unwrap().user.id;
        ids.insert(owner.clone(), id);
    }
    let mut folders: HashMap<(i64, Vec<String>), String> = HashMap::new();
    let mut tx = content::begin(&db).await.unwrap();
    for (owner, path, name, definition) in items {
        let owner = ids.get(owner).map_or(Owner::Global, |id| Owner::User(*id));
        let mut parent = String::new();
        for depth in 1..=path.len() {
            let key = (owner.key(), path[..depth].to_vec());
            if let Some(id) = folders.get(&key) {
                parent = id.clone();
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let row = FolderRow {
                id: id.clone(),
                owner,
                parent: parent.clone(),
                name: path[depth - 1].clone(),
            };
            content::insert_folder(&db, &mut tx, &row).await.unwrap();
            folders.insert(key, id.clone());
            parent = id;
        }
        let d = server::content::define(definition, ItemKind::Investigation).unwrap();
        let row = ItemRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            folder: parent,
            kind: "investigation".into(),
            name: name.clone(),
            definition: d.text,
            canonical: d.canonical,
            hash: d.hash,
            updated_at: 0,
            updated_by: "someone".into(),
        };
        content::insert_item(&db, &mut tx, &row).await.unwrap();
    }
    content::commit(tx).await.unwrap();
}
