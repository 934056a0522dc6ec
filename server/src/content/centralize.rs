//! A standalone node's content arriving in the cluster's database, by the
//! rules of [`merge`](super::merge). First a plan, made in memory from the
//! source and the cluster (a dry run shows it and stops there); then the
//! plan is written in batches, each its own transaction. A run stopped
//! between batches leaves whole items only, and the rules are their own
//! journal: running the source again merges what arrived and places the
//! rest where an uninterrupted run would have.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::merge::{Fate, Path, Tree};
use super::store::centralize::{self as sql, AlertParts};
use super::store::{self, alerts::Enable, FolderRow, ItemRow};
use super::Owner;
use crate::db::{Db, StoreError};

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
    let alerts = sql::all_alert_parts(db).await?;
    Ok(Export {
        folders,
        items,
        alerts,
    })
}

impl Export {
    /// The items, for progress.
    pub fn size(&self) -> usize {
        self.items.len()
    }
}

/// What centralizing a source did, or would do, in one owner's tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OwnerReport {
    /// The owner's user id in the source; `None` for the Global tree.
    pub source_user: Option<i64>,
    /// Real duplicates merged into the item already there.
    pub merged: u64,
    /// Copied with their own name to the same place.
    pub copied: u64,
    /// False duplicates put in the source node's subfolder, by path.
    pub moved: Vec<String>,
    /// Alerts that arrive disabled on a node where they were enabled, and
    /// why.
    pub disabled: Vec<String>,
}

/// What centralizing a source did, or would do in a dry run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub merged: u64,
    pub copied: u64,
    pub folders_created: u64,
    /// Per tree, the Global one first, then by source user id.
    pub owners: Vec<OwnerReport>,
}

impl Report {
    /// Every moved item's path.
    pub fn moved(&self) -> Vec<&str> {
        self.owners
            .iter()
            .flat_map(|o| o.moved.iter().map(String::as_str))
            .collect()
    }

    /// Every alert arriving disabled, and why.
    pub fn disabled(&self) -> Vec<&str> {
        self.owners
            .iter()
            .flat_map(|o| o.disabled.iter().map(String::as_str))
            .collect()
    }
}

/// What the cluster holds that merging needs, read once per source.
pub struct Cluster {
    trees: HashMap<i64, (Vec<FolderRow>, Vec<ItemRow>)>,
    limits: Limits,
}

/// Reads the cluster's trees and alert limits.
pub async fn cluster(db: &Db) -> Result<Cluster, StoreError> {
    let (folders, items) = sql::placement(db).await?;
    let mut trees: HashMap<i64, (Vec<FolderRow>, Vec<ItemRow>)> = HashMap::new();
    for f in folders {
        trees.entry(f.owner.key()).or_default().0.push(f);
    }
    for i in items {
        trees.entry(i.owner.key()).or_default().1.push(i);
    }
    let (limit, on) = sql::limits(db).await?;
    let mut count: HashMap<String, i64> = HashMap::new();
    for (_, node) in &on {
        *count.entry(node.clone()).or_default() += 1;
    }
    Ok(Cluster {
        trees,
        limits: Limits {
            limit,
            count,
            on: on.into_iter().collect(),
        },
    })
}

/// Each node's alert limit and what is enabled on it, as a plan enables
/// alerts.
struct Limits {
    limit: HashMap<String, i64>,
    count: HashMap<String, i64>,
    on: HashSet<(String, String)>,
}

impl Limits {
    /// What enabling `item` on `node` comes to, noted if it is done.
    fn enable(&mut self, item: &str, node: &str) -> Enable {
        let Some(&limit) = self.limit.get(node) else {
            return Enable::NoSuchNode;
        };
        if !self.on.insert((item.to_owned(), node.to_owned())) {
            return Enable::AlreadyOn;
        }
        let count = self.count.entry(node.to_owned()).or_default();
        if *count >= limit {
            self.on.remove(&(item.to_owned(), node.to_owned()));
            return Enable::Full {
                enabled: *count,
                limit,
            };
        }
        *count += 1;
        Enable::Done
    }
}

/// An alert to enable: (cluster item, node, by, owner report index, name).
type Enabling = (String, String, String, usize, String);

/// The writes a source comes to, in order.
pub struct Plan {
    folders: Vec<FolderRow>,
    items: Vec<ItemRow>,
    /// Per new item: the source item whose alert parts it takes.
    alerts: HashMap<String, String>,
    enables: Vec<Enabling>,
    pub report: Report,
}

impl Plan {
    /// The items to write, for progress.
    pub fn size(&self) -> usize {
        self.items.len()
    }
}

/// One tree's owner in the cluster, its source folder paths and items.
type Placing<'a> = (Owner, Vec<Path>, Vec<&'a ItemRow>);

/// Decides where each item of the source `node` goes in `cluster`. `users`
/// maps the source's user ids to the cluster's; trees of unmapped users
/// are left out.
pub fn plan(node: &str, source: &Export, users: &HashMap<i64, i64>, cluster: Cluster) -> Plan {
    let Cluster {
        trees: mut there,
        mut limits,
    } = cluster;
    let owner = |o: Owner| match o {
        Owner::Global => Some(Owner::Global),
        Owner::User(id) => users.get(&id).map(|t| Owner::User(*t)),
    };
    let paths = folder_paths(&source.folders);
    // Per tree in the cluster (by source owner): its folder paths and the
    // items to place, in a stable order (by path and name).
    let mut trees: BTreeMap<Option<i64>, Placing> = BTreeMap::new();
    for f in &source.folders {
        let Some(to) = owner(f.owner) else { continue };
        let entry = trees
            .entry(f.owner.user_id())
            .or_insert((to, Vec::new(), Vec::new()));
        entry.1.push(paths.get(&f.id).cloned().unwrap_or_default());
    }
    for i in &source.items {
        let Some(to) = owner(i.owner) else { continue };
        trees
            .entry(i.owner.user_id())
            .or_insert((to, Vec::new(), Vec::new()))
            .2
            .push(i);
    }
    let mut plan = Plan {
        folders: Vec::new(),
        items: Vec::new(),
        alerts: HashMap::new(),
        enables: Vec::new(),
        report: Report::default(),
    };
    for (source_user, (to, mut folders, mut items)) in trees {
        let at = plan.report.owners.len();
        plan.report.owners.push(OwnerReport {
            source_user,
            ..OwnerReport::default()
        });
        folders.sort();
        items.sort_by_cached_key(|i| {
            (
                paths.get(&i.folder).cloned().unwrap_or_default(),
                i.name.clone(),
            )
        });
        let (folders_there, items_there) = there.remove(&to.key()).unwrap_or_default();
        let mut target = Target::of(to, &folders_there, &items_there);
        for path in &folders {
            target.folder(path, &mut plan);
        }
        for item in items {
            let path = paths.get(&item.folder).cloned().unwrap_or_default();
            let fresh = uuid::Uuid::new_v4().to_string();
            let fate = target
                .tree
                .place(node, &path, &item.name, &item.hash, &fresh);
            let report = &mut plan.report.owners[at];
            // The item's id in the cluster, and where it goes if it is new.
            let (id, new_place) = match fate {
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
            if let Some((path, name)) = new_place {
                let folder = target.folder(&path, &mut plan);
                plan.items.push(ItemRow {
                    id: id.clone(),
                    owner: to,
                    folder,
                    name,
                    ..item.clone()
                });
                if source.alerts.contains_key(&item.id) {
                    plan.alerts.insert(id.clone(), item.id.clone());
                }
            }
            // Enabled where it was enabled, a merged alert included.
            let Some(parts) = source.alerts.get(&item.id) else {
                continue;
            };
            for on in &parts.enabled_on {
                match limits.enable(&id, on) {
                    Enable::Done => plan.enables.push((
                        id.clone(),
                        on.clone(),
                        item.updated_by.clone(),
                        at,
                        item.name.clone(),
                    )),
                    Enable::AlreadyOn => {}
                    why => plan.report.owners[at]
                        .disabled
                        .push(disabled(&item.name, on, why)),
                }
            }
        }
    }
    let r = &mut plan.report;
    r.merged = r.owners.iter().map(|o| o.merged).sum();
    r.copied = r.owners.iter().map(|o| o.copied).sum();
    plan
}

fn disabled(name: &str, on: &str, why: Enable) -> String {
    match why {
        Enable::Full { enabled, limit } => {
            format!("{name}: {on} already has {enabled} of {limit} alerts enabled")
        }
        _ => format!("{name}: {on} is not a node of this cluster"),
    }
}

/// Enables the alerts of `enables` in order while their item is `ready`;
/// notes those a node's limit refuses. Returns how many it went through.
async fn enable(
    db: &Db,
    tx: &mut crate::db::WriteTx,
    enables: &[Enabling],
    ready: impl Fn(&str) -> bool,
    report: &mut Report,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for (id, on, by, at, name) in enables.iter().take_while(|e| ready(&e.0)) {
        if let why @ (Enable::Full { .. } | Enable::NoSuchNode) =
            store::alerts::enable(db, tx, id, on, by).await?
        {
            report.owners[*at].disabled.push(disabled(name, on, why));
        }
        n += 1;
    }
    Ok(n)
}

/// Writes a plan, `batch` items per transaction. After each one,
/// `progress` hears how many items are written; an error from it stops
/// the run there (what was committed stays, whole).
pub async fn apply(
    db: &Db,
    mut plan: Plan,
    source: &Export,
    batch: usize,
    mut progress: impl FnMut(u64) -> Result<(), String>,
) -> Result<Report, anyhow::Error> {
    let mut tx = store::begin(db).await?;
    sql::insert_folders(db, &mut tx, &plan.folders).await?;
    let mut done = 0;
    let mut enabled = 0;
    let mut written: HashSet<&str> = HashSet::new();
    for chunk in plan.items.chunks(batch.max(1)) {
        sql::insert_items(db, &mut tx, chunk).await?;
        for i in chunk {
            written.insert(&i.id);
            if let Some(parts) = plan.alerts.get(&i.id).and_then(|s| source.alerts.get(s)) {
                sql::put_alert(&mut tx, &i.id, parts).await?;
            }
        }
        // Enables of items written so far (merged ones point at items
        // already there).
        let ready = |id: &str| !plan.alerts.contains_key(id) || written.contains(id);
        enabled = enable(
            db,
            &mut tx,
            &plan.enables[enabled..],
            ready,
            &mut plan.report,
        )
        .await?
            + enabled;
        store::commit(tx).await?;
        done += chunk.len() as u64;
        progress(done).map_err(anyhow::Error::msg)?;
        tx = store::begin(db).await?;
    }
    enable(
        db,
        &mut tx,
        &plan.enables[enabled..],
        |_| true,
        &mut plan.report,
    )
    .await?;
    store::commit(tx).await?;
    Ok(plan.report)
}

/// Plans and writes (unless `dry_run`) a source's content in one go.
pub async fn import(
    db: &Db,
    node: &str,
    source: &Export,
    users: &HashMap<i64, i64>,
    dry_run: bool,
) -> Result<Report, anyhow::Error> {
    let plan = plan(node, source, users, cluster(db).await?);
    if dry_run {
        return Ok(plan.report);
    }
    apply(db, plan, source, 1000, |_| Ok(())).await
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

    /// The id of the folder at `path`; missing ones (and their parents)
    /// go into the plan.
    fn folder(&mut self, path: &Path, plan: &mut Plan) -> String {
        let mut parent = String::new();
        for depth in 1..=path.len() {
            let here = path[..depth].to_vec();
            if let Some(id) = self.folders.get(&here) {
                parent = id.clone();
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            plan.folders.push(FolderRow {
                id: id.clone(),
                owner: self.owner,
                parent: parent.clone(),
                name: path[depth - 1].clone(),
            });
            plan.report.folders_created += 1;
            self.folders.insert(here, id.clone());
            parent = id;
        }
        parent
    }
}
