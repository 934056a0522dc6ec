//! Centralization of content: 20 standalone sources with 100 users and
//! 2 000 items in total (the reference system needs about 15 s) arriving in
//! a fresh cluster database, on SQLite and PostgreSQL; then the same again
//! (nothing changes). Prints the time of each.
//!
//!     make bench-centralize        (starts a throwaway PostgreSQL)
//!
//! `VIGIL_BENCH_SOURCES` (20), `VIGIL_BENCH_USERS` (100),
//! `VIGIL_BENCH_ITEMS` (2000, in total) and `VIGIL_BENCH_ENGINES` change
//! the run.

use std::time::Instant;

use app::api::content::ItemKind;
use app::api::UserRole;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::auth::store::{create_user, find_user};
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
    let mut tx = content::begin(&db).await.unwrap();
    let mut folders = std::collections::HashMap::new();
    for _ in 0..items {
        let owner = if rng.gen_bool(0.2) {
            Owner::Global
        } else {
            Owner::User(ids[rng.gen_range(0..ids.len())])
        };
        let top = format!("team {}", rng.gen_range(0..4));
        let folder = match folders.get(&(owner.key(), top.clone())) {
            Some(id) => String::clone(id),
            None => {
                let row = FolderRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    owner,
                    parent: String::new(),
                    name: top.clone(),
                };
                content::insert_folder(&db, &mut tx, &row).await.unwrap();
                folders.insert((owner.key(), top), row.id.clone());
                row.id
            }
        };
        let d = &defs[rng.gen_range(0..defs.len())];
        let row = ItemRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            folder,
            kind: "investigation".into(),
            // Shared names across sources: real and false duplicates.
            name: format!("investigation {}", rng.gen_range(0..items.max(1) * 2)),
            definition: d.text.clone(),
            canonical: d.canonical.clone(),
            hash: d.hash.clone(),
            updated_at: 0,
            updated_by: "bench".into(),
        };
        if content::insert_item(&db, &mut tx, &row).await.is_err() {
            continue; // that name is taken in that folder already
        }
    }
    content::commit(tx).await.unwrap();
    url
}

#[tokio::main]
async fn main() {
    let sources = env_usize("VIGIL_BENCH_SOURCES", 20);
    let users = env_usize("VIGIL_BENCH_USERS", 100);
    let items = env_usize("VIGIL_BENCH_ITEMS", 2000);
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
        for round in ["first run", "second run"] {
            let started = Instant::now();
            let (mut copied, mut merged, mut moved) = (0, 0, 0);
            for (s, url) in urls.iter().enumerate() {
                let node = format!("node-{s:02}");
                let outcome =
                    server::centralize::centralize(&target, url, Some(&node), false, 1000)
                        .await
                        .unwrap();
                copied += outcome.copied();
                merged += outcome.merged();
                moved += outcome.moved();
            }
            println!(
                "{}: {round}: {sources} sources, {users} users, {items} items: {:.0} ms \
                 ({copied} copied, {merged} merged, {moved} into a node's subfolder)",
                db.engine,
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
}
