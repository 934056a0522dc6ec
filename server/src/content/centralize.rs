//! A standalone node's content arriving in the cluster's database, by the
//! rules of [`merge`](super::merge), one owner's tree at a time, the whole
//! source in one transaction: a failure leaves nothing of it, and the
//! rules make a second run change nothing.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::merge::{Fate, Path, Tree};
use super::store::centralize::{self as sql, AlertParts};
use super::store::{self, alerts::Enable, FolderRow, ItemRow};
use super::Owner;
use crate::db::{Db, StoreError, WriteTx};

/// A source's whole content, read from its database.
#[derive(Clone, Debug)]
pub struct Export {
    folders: Vec<FolderRow>,
    items: Vec<ItemRow>,
    alerts: HashMap<String, AlertParts>,
}

/// Reads every tree of a source database.
pub async fn export(db: &Db) -> Result<Export, StoreError> {
    let (folders, items) = sql::everything(db).await?;
    let mut alerts = HashMap::new();
    for item in items.iter().filter(|i| i.kind == "alert") {
        if let Some(parts) = sql::alert_parts(db, &item.id).await? {
            alerts.insert(item.id.clone(), parts);
        }
    }
    Ok(Export {
        folders,
        items,
        alerts,
    })
}

impl Export {
    /// Items and folders, for progress.
    pub fn size(&self) -> usize {
        self.folders.len() + self.items.len()
    }

    /// The source's user ids that own content.
    pub fn owners(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .folders
            .iter()
            .map(|f| f.owner)
            .chain(self.items.iter().map(|i| i.owner))
            .filter_map(Owner::user_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// What centralizing a source did, or would do in a dry run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Real duplicates merged into the item already there.
    pub merged: u64,
    /// Copied with their own name to the same place.
    pub copied: u64,
    /// False duplicates put in the source node's subfolder.
    pub moved: Vec<String>,
    pub folders_created: u64,
    /// Alerts that arrive disabled on a node where they were enabled, and
    /// why.
    pub disabled: Vec<String>,
}

/// Brings a source's content into the cluster's database. `users` maps
/// the source's user ids to the cluster's; `node` names the source in
/// subfolders. With `dry_run` nothing is written.
pub async fn import(
    db: &Db,
    node: &str,
    source: &Export,
    users: &HashMap<i64, i64>,
    dry_run: bool,
) -> Result<Report, StoreError> {
    let owner = |o: Owner| match o {
        Owner::Global => Some(Owner::Global),
        Owner::User(id) => users.get(&id).map(|t| Owner::User(*t)),
    };
    let paths = folder_paths(&source.folders);
    // Per tree in the cluster: the folder paths and the items to place,
    // in a stable order (by path and name).
    let mut trees: BTreeMap<i64, (Owner, Vec<Path>, Vec<&ItemRow>)> = BTreeMap::new();
    for f in &source.folders {
        let Some(to) = owner(f.owner) else { continue };
        let entry = trees
            .entry(to.key())
            .or_insert((to, Vec::new(), Vec::new()));
        entry.1.push(paths.get(&f.id).cloned().unwrap_or_default());
    }
    for i in &source.items {
        let Some(to) = owner(i.owner) else { continue };
        trees
            .entry(to.key())
            .or_insert((to, Vec::new(), Vec::new()))
            .2
            .push(i);
    }
    let mut report = Report::default();
    // One change for the whole source: it arrives whole or not at all.
    let mut tx = store::begin(db).await?;
    let (all_folders, all_items) = sql::everything_in(&mut tx).await?;
    let mut cluster: HashMap<i64, (Vec<FolderRow>, Vec<ItemRow>)> = HashMap::new();
    for f in all_folders {
        cluster.entry(f.owner.key()).or_default().0.push(f);
    }
    for i in all_items {
        cluster.entry(i.owner.key()).or_default().1.push(i);
    }
    for (_, (to, mut folders, mut items)) in trees {
        folders.sort();
        items.sort_by_key(|i| {
            (
                paths.get(&i.folder).cloned().unwrap_or_default(),
                i.name.clone(),
            )
        });
        let (folders_there, items_there) = cluster.remove(&to.key()).unwrap_or_default();
        let mut target = Target::of(to, &folders_there, &items_there);
        for path in &folders {
            target
                .folder(db, &mut tx, path, &mut report, dry_run)
                .await?;
        }
        for item in items {
            let path = paths.get(&item.folder).cloned().unwrap_or_default();
            let fresh = uuid::Uuid::new_v4().to_string();
            // The item's id in the cluster, and where it goes if it is new.
            let (id, new_place) = match target
                .tree
                .place(node, &path, &item.name, &item.hash, &fresh)
            {
                Fate::Merged { into } => {
                    report.merged += 1;
                    (into, None)
                }
                Fate::Copied { path, name } => {
                    report.copied += 1;
                    (fresh, Some((path, name)))
                }
                Fate::Moved { path, name } => {
                    report.moved.push(format!("{}/{name}", path.join("/")));
                    (fresh, Some((path, name)))
                }
            };
            if let Some((at, name)) = new_place {
                let folder = target
                    .folder(db, &mut tx, &at, &mut report, dry_run)
                    .await?;
                if !dry_run {
                    let row = ItemRow {
                        id: id.clone(),
                        owner: to,
                        folder,
                        name,
                        ..item.clone()
                    };
                    store::insert_item(db, &mut tx, &row).await?;
                    if let Some(parts) = source.alerts.get(&item.id) {
                        sql::put_alert(&mut tx, &id, parts).await?;
                    }
                }
            }
            if dry_run {
                continue;
            }
            // Enabled where it was enabled, a merged alert included.
            if let Some(parts) = source.alerts.get(&item.id) {
                for on in &parts.enabled_on {
                    if let Enable::Full { enabled, limit } =
                        store::alerts::enable(db, &mut tx, &id, on, &item.updated_by).await?
                    {
                        report.disabled.push(format!(
                            "{}: {on} already has {enabled} of {limit} alerts enabled",
                            item.name
                        ));
                    }
                }
            }
        }
    }
    if !dry_run {
        store::commit(tx).await?;
    }
    Ok(report)
}

/// Each source folder's path from the top of its tree.
fn folder_paths(folders: &[FolderRow]) -> HashMap<String, Path> {
    let by_id: HashMap<&str, &FolderRow> = folders.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in folders {
        let mut path = Vec::new();
        let mut at = Some(f);
        // A cycle cannot be stored, but a damaged source must not hang us.
        while let Some(folder) = at.filter(|_| path.len() <= folders.len()) {
            path.push(folder.name.clone());
            at = by_id.get(folder.parent.as_str()).copied();
        }
        path.reverse();
        out.insert(f.id.clone(), path);
    }
    out
}

/// One tree in the cluster while a source's items are placed in it.
struct Target {
    owner: Owner,
    folders: HashMap<Path, String>,
    tree: Tree,
}

impl Target {
    /// The cluster's tree of `owner`, from its folders and items.
    fn of(owner: Owner, folders: &[FolderRow], items: &[ItemRow]) -> Target {
        let paths = folder_paths(folders);
        let mut tree = Tree::default();
        for i in items {
            let path = paths.get(&i.folder).cloned().unwrap_or_default();
            tree.add(path, i.name.clone(), i.id.clone(), i.hash.clone());
        }
        Target {
            owner,
            folders: paths.into_iter().map(|(id, path)| (path, id)).collect(),
            tree,
        }
    }

    /// The id of the folder at `path`, made (with its parents) if missing.
    async fn folder(
        &mut self,
        db: &Db,
        tx: &mut WriteTx,
        path: &Path,
        report: &mut Report,
        dry_run: bool,
    ) -> Result<String, StoreError> {
        let mut parent = String::new();
        for depth in 1..=path.len() {
            let here = path[..depth].to_vec();
            if let Some(id) = self.folders.get(&here) {
                parent = id.clone();
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            if !dry_run {
                let row = FolderRow {
                    id: id.clone(),
                    owner: self.owner,
                    parent: parent.clone(),
                    name: path[depth - 1].clone(),
                };
                store::insert_folder(db, tx, &row).await?;
            }
            report.folders_created += 1;
            self.folders.insert(here, id.clone());
            parent = id;
        }
        Ok(parent)
    }
}
