//! Centralization of content: 20 standalone sources with 100 users and
//! 2 000 items in total (the reference system needs about 15 s) arriving in
//! a fresh cluster database, on SQLite and PostgreSQL; then the same again
//! (nothing changes); then a million items from 10 sources into a fresh
//! database. Prints the time of each and the peak memory of the process
//! (the node's part: the sources are written before the peak is reset).
//!
//!     make bench-centralize        (starts a throwaway PostgreSQL)
//!
//! `VIGIL_BENCH_SOURCES` (20), `VIGIL_BENCH_USERS` (100),
//! `VIGIL_BENCH_ITEMS` (2000, in total), `VIGIL_BENCH_LARGE_ITEMS`
//! (1 000 000; 0 skips it), `VIGIL_BENCH_LARGE_SOURCES` (10) and
//! `VIGIL_BENCH_ENGINES` change the run.

use std::time::Instant;

use app::api::content::ItemKind;
use app::api::UserRole;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::auth::store::{create_user, find_user};
use server::content::store::centralize as bulk;
use server::content::store::{self as content, FolderRow, ItemRow};
use server::content::Owner;
use server::db::Db;
use testkit::bench::env_usize;

const DEFINITIONS: &[&str] = &[
    "products where status = offline",
    "products where status = online",
    "products group by type count",
    "logs during last 1h where level = error",
];

/// Writes one standalone source with `items` items over `users` users
/// (a fifth of them in the Global tree), in folders two deep.
async fn source(path: &std::path::Path, seed: u64, users: usize, items: usize) -> String {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Db::connect(&url).await.unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = Vec::new();
    for u in 0..users {
        let name = format!("user-{u:03}");
        create_user(&db, &name, "hash", UserRole::Operator)
            .await
            .unwrap();
        ids.push(find_user(&db, &name).await.unwrap().unwrap().user.id);
    }
    let defs: Vec<_> = DEFINITIONS
        .iter()
        .map(|d| server::content::define(d, ItemKind::Investigation).unwrap())
        .collect();
    let mut folders = std::collections::HashMap::new();
    let mut new_folders = Vec::new();
    let mut rows = Vec::new();
    let mut names = std::collections::HashSet::new();
    for _ in 0..items {
        let owner = if rng.gen_bool(0.2) {
            Owner::Global
        } else {
            Owner::User(ids[rng.gen_range(0..ids.len())])
        };
        let top = format!("team {}", rng.gen_range(0..4));
        let folder = folders
            .entry((owner.key(), top.clone()))
            .or_insert_with(|| {
                let row = FolderRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    owner,
                    parent: String::new(),
                    name: top,
                };
                let id = row.id.clone();
                new_folders.push(row);
                id
            })
            .clone();
        // Shared names across sources: real and false duplicates.
        let name = format!("investigation {}", rng.gen_range(0..items.max(1) * 2));
        if !names.insert((owner.key(), folder.clone(), name.clone())) {
            continue; // that name is taken in that folder already
        }
        let d = &defs[rng.gen_range(0..defs.len())];
        rows.push(ItemRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            folder,
            kind: "investigation".into(),
            name,
            definition: d.text.clone(),
            canonical: d.canonical.clone(),
            hash: d.hash.clone(),
            updated_at: 0,
            updated_by: "bench".into(),
        });
    }
    let mut tx = content::begin(&db).await.unwrap();
    bulk::insert_folders(&db, &mut tx, &new_folders)
        .await
        .unwrap();
    bulk::insert_items(&db, &mut tx, &rows).await.unwrap();
    content::commit(tx).await.unwrap();
    db.close().await;
    url
}

/// The node's peak resident memory so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts the peak over from the memory in use now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Centralizes every source, in order; prints the time, what happened and
/// the peak memory.
async fn run(target: &Db, engine: &str, urls: &[String], label: &str) {
    reset_peak();
    let before = peak_mib();
    let started = Instant::now();
    let (mut copied, mut merged, mut moved) = (0, 0, 0);
    for (s, url) in urls.iter().enumerate() {
        let node = format!("node-{s:02}");
        let outcome = server::centralize::centralize(target, url, Some(&node), false, 1000)
            .await
            .unwrap();
        copied += outcome.copied();
        merged += outcome.merged();
        moved += outcome.moved();
    }
    println!(
        "{engine}: {label}: {:.0} ms ({copied} copied, {merged} merged, {moved} into a node's \
         subfolder); peak memory {:.0} MiB (at start {before:.0} MiB)",
        started.elapsed().as_secs_f64() * 1000.0,
        peak_mib()
    );
}

#[tokio::main]
async fn main() {
    let sources = env_usize("VIGIL_BENCH_SOURCES", 20);
    let users = env_usize("VIGIL_BENCH_USERS", 100);
    let items = env_usize("VIGIL_BENCH_ITEMS", 2000);
    let large = env_usize("VIGIL_BENCH_LARGE_ITEMS", 1_000_000);
    let large_sources = env_usize("VIGIL_BENCH_LARGE_SOURCES", 10).max(1);
    let only = std::env::var("VIGIL_BENCH_ENGINES").unwrap_or_default();
    for db in testkit::databases().await {
        if !only.is_empty() && !only.contains(db.engine) {
            continue;
        }
        let mut urls = Vec::new();
        for s in 0..sources {
            let path = db.dir.join(format!("{}-source-{s}.db", db.engine));
            urls.push(source(&path, s as u64, users, items / sources).await);
        }
        let target = Db::connect(&db.url).await.unwrap();
        let label = format!("{sources} sources, {users} users, {items} items");
        run(&target, db.engine, &urls, &format!("{label}: first run")).await;
        run(&target, db.engine, &urls, &format!("{label}: second run")).await;
        if large == 0 {
            continue;
        }
        // A million items, from `large_sources` sources, into a fresh database.
        let mut urls = Vec::new();
        for s in 0..large_sources {
            let path = db.dir.join(format!("{}-large-{s}.db", db.engine));
            urls.push(source(&path, 1000 + s as u64, users, large / large_sources).await);
        }
        let fresh = testkit::databases()
            .await
            .into_iter()
            .find(|d| d.engine == db.engine)
            .unwrap();
        let target = Db::connect(&fresh.url).await.unwrap();
        let label = format!("{large_sources} sources, {users} users, {large} items");
        run(&target, db.engine, &urls, &format!("{label}: first run")).await;
    }
}
