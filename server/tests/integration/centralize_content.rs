//! Centralization of content, on both engines: random trees from several
//! standalone sources (shared and distinct users, folders and names, equal
//! and different definitions) arrive in a random order; the cluster's trees
//! then obey the three rules for that order, nothing is lost, and a second
//! run changes nothing.

use crate::common;

use std::collections::{BTreeSet, HashMap};

use app::api::content::ItemKind;
use app::api::UserRole;
use common::standalone::{standalone, Item};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use server::auth::store::{create_user, find_user};
use server::content::centralize::{export, import};
use server::content::merge::{Fate, Tree};
use server::content::store::{self as content, ItemRow};
use server::content::Owner;
use server::db::Db;
use sqlx::Row;

const USERS: &[&str] = &["ann", "bob", "cy"];
const FOLDERS: &[&[&str]] = &[&[], &["ops"], &["ops", "db"], &["net"]];
const DEFINITIONS: &[&str] = &[
    "products where status = offline",
    "products where status = online",
    "products group by type count",
];

fn random_source(rng: &mut StdRng) -> Vec<Item> {
    let mut items: HashMap<(String, Vec<String>, String), String> = HashMap::new();
    for _ in 0..rng.gen_range(0..20) {
        let owner = if rng.gen_bool(0.25) {
            String::new()
        } else {
            USERS.choose(rng).unwrap().to_string()
        };
        let path: Vec<String> = FOLDERS
            .choose(rng)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let name = format!("item {}", rng.gen_range(0..5));
        items.insert(
            (owner, path, name),
            DEFINITIONS.choose(rng).unwrap().to_string(),
        );
    }
    items
        .into_iter()
        .map(|((o, p, n), d)| (o, p, n, d))
        .collect()
}

/// Maps a source's users to the cluster's by name, creating the missing.
async fn users(source: &Db, target: &Db) -> HashMap<i64, i64> {
    let mut map = HashMap::new();
    for name in USERS {
        if let Some(u) = find_user(source, name).await.unwrap() {
            create_user(target, name, &u.password_hash, UserRole::Operator)
                .await
                .unwrap();
            let t = find_user(target, name).await.unwrap().unwrap();
            map.insert(u.user.id, t.user.id);
        }
    }
    map
}

/// Every item of the cluster: owner, folder path, name, definition hash.
async fn contents(db: &Db) -> BTreeSet<(String, String, String, String)> {
    let folders = sqlx::query("SELECT id, parent, name FROM content_folders")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let by_id: HashMap<String, (String, String)> = folders
        .iter()
        .map(|r| (r.get("id"), (r.get("parent"), r.get("name"))))
        .collect();
    let path = |mut id: String| {
        let mut names = Vec::new();
        while let Some((parent, name)) = by_id.get(&id) {
            names.push(name.clone());
            id = parent.clone();
        }
        names.reverse();
        names.join("/")
    };
    sqlx::query(
        "SELECT COALESCE(u.username, '') AS owner, i.folder, i.name, i.hash \
         FROM content_items i LEFT JOIN users u ON u.id = i.user_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get("owner"),
            path(r.get("folder")),
            r.get("name"),
            r.get("hash"),
        )
    })
    .collect()
}

#[tokio::test]
async fn random_sources_merge_by_the_rules_lose_nothing_and_merge_once() {
    for db in testkit::databases().await {
        let target = Db::connect(&db.url).await.unwrap();
        for seed in 0..6u64 {
            sqlx::query("DELETE FROM content_items")
                .execute(target.pool())
                .await
                .unwrap();
            sqlx::query("DELETE FROM content_folders")
                .execute(target.pool())
                .await
                .unwrap();
            let mut rng = StdRng::seed_from_u64(seed);
            let dir = db.dir.join(format!("{}-seed-{seed}", db.engine));
            std::fs::create_dir_all(&dir).unwrap();
            let mut sources = Vec::new();
            for k in 0..rng.gen_range(2..5) {
                let node = format!("node-{k}");
                let items = random_source(&mut rng);
                let source = standalone(&dir, &node, &items).await;
                sources.push((node, items, source));
            }
            sources.shuffle(&mut rng);

            // The model: the rules applied in memory, in the same order.
            let mut model: HashMap<String, Tree> = HashMap::new();
            let mut expected = BTreeSet::new();
            for (node, items, source) in &sources {
                let mut sorted = items.clone();
                sorted.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
                for (owner, path, name, definition) in &sorted {
                    let hash = server::content::define(definition, ItemKind::Investigation)
                        .unwrap()
                        .hash;
                    let tree = model.entry(owner.clone()).or_default();
                    match tree.place(node, path, name, &hash, "") {
                        Fate::Merged { .. } => {}
                        Fate::Copied { path, name } | Fate::Moved { path, name } => {
                            expected.insert((owner.clone(), path.join("/"), name, hash));
                        }
                    }
                }
                let map = users(source, &target).await;
                let report = import(&target, node, &export(source).await.unwrap(), &map, false)
                    .await
                    .unwrap();
                assert_eq!(
                    report.copied + report.merged + report.moved().len() as u64,
                    items.len() as u64,
                    "{} seed {seed}: every item is accounted for",
                    db.engine
                );
            }
            let merged = contents(&target).await;
            assert_eq!(merged, expected, "{} seed {seed}", db.engine);

            // Nothing lost: each source item is in its place or its node's
            // subfolder, with its definition.
            for (node, items, _) in &sources {
                for (owner, path, name, definition) in items {
                    let hash = server::content::define(definition, ItemKind::Investigation)
                        .unwrap()
                        .hash;
                    let here = path.join("/");
                    let sub = if here.is_empty() {
                        node.clone()
                    } else {
                        format!("{here}/{node}")
                    };
                    assert!(
                        merged.iter().any(|(o, p, n, h)| o == owner
                            && h == &hash
                            && ((p == &here && n == name)
                                || (p == &sub && n.starts_with(name.as_str())))),
                        "{} seed {seed}: {node}'s {owner}:{here}/{name} lost",
                        db.engine
                    );
                }
            }

            // A second run, in another order, changes nothing.
            sources.shuffle(&mut rng);
            for (node, _, source) in &sources {
                let map = users(source, &target).await;
                let report = import(&target, node, &export(source).await.unwrap(), &map, false)
                    .await
                    .unwrap();
                assert_eq!(
                    (report.copied, report.moved().len(), report.folders_created),
                    (0, 0, 0),
                    "{} seed {seed}: {report:?}",
                    db.engine
                );
            }
            assert_eq!(contents(&target).await, merged, "{} seed {seed}", db.engine);
        }
    }
}

/// Writes an alert into `db`'s Global tree, enabled on `nodes`.
async fn global_alert(db: &Db, name: &str, condition: &str, nodes: &[&str]) -> String {
    let spec = app::api::content::AlertSpec {
        condition: condition.into(),
        period: "1m".into(),
        for_: "0s".into(),
        clear_for: "0s".into(),
        severity: Default::default(),
        scope: Default::default(),
        webhooks: vec!["https://hooks.example.com/vigil".into()],
    };
    let (d, rule) =
        server::content::define_alert("products where status = offline", &spec).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = content::begin(db).await.unwrap();
    let row = ItemRow {
        id: id.clone(),
        owner: Owner::Global,
        folder: String::new(),
        kind: "alert".into(),
        name: name.into(),
        definition: d.text,
        canonical: d.canonical,
        hash: d.hash,
        updated_at: 0,
        updated_by: "admin".into(),
    };
    content::insert_item(db, &mut tx, &row).await.unwrap();
    content::alerts::put_settings(&mut tx, &id, &rule)
        .await
        .unwrap();
    content::alerts::put_destinations(&mut tx, &id, &spec.webhooks)
        .await
        .unwrap();
    for node in nodes {
        content::alerts::enable(db, &mut tx, &id, node, "admin")
            .await
            .unwrap();
    }
    content::commit(tx).await.unwrap();
    id
}

/// The nodes an alert named `name` is enabled on in the cluster, and its
/// webhook secret.
async fn enabled(db: &Db, name: &str) -> (Vec<String>, String) {
    let id: String = sqlx::query_scalar("SELECT id FROM content_items WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .unwrap();
    let (_, on) = content::alerts::of(db, &id).await.unwrap().unwrap();
    let secret: String =
        sqlx::query_scalar("SELECT secret FROM alert_destinations WHERE item_id = $1")
            .bind(&id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    (on, secret)
}

#[tokio::test]
async fn alerts_stay_enabled_where_they_were_and_arrive_disabled_past_a_limit() {
    for db in testkit::databases().await {
        let target = Db::connect(&db.url).await.unwrap();
        content::alerts::publish_limit(&target, "solo", 1)
            .await
            .unwrap();
        content::alerts::publish_limit(&target, "other", 10)
            .await
            .unwrap();
        let path = db.dir.join(format!("{}-solo.db", db.engine));
        let source = Db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        content::alerts::publish_limit(&source, "solo", 10)
            .await
            .unwrap();
        global_alert(&source, "first", "rows > 1", &["solo"]).await;
        global_alert(&source, "second", "rows > 2", &["solo"]).await;
        global_alert(&source, "idle", "rows > 3", &[]).await;
        let secret: String = sqlx::query_scalar(
            "SELECT d.secret FROM alert_destinations d JOIN content_items i ON i.id = d.item_id \
             WHERE i.name = 'first'",
        )
        .fetch_one(source.pool())
        .await
        .unwrap();

        let solo = || async {
            import(
                &target,
                "solo",
                &export(&source).await.unwrap(),
                &HashMap::new(),
                false,
            )
            .await
            .unwrap()
        };
        let report = solo().await;
        assert_eq!(report.copied, 3, "{}", db.engine);
        assert_eq!(
            report.disabled(),
            ["second: solo already has 1 of 1 alerts enabled"],
            "{}",
            db.engine
        );
        assert_eq!(
            enabled(&target, "first").await,
            (vec!["solo".to_string()], secret)
        );
        assert_eq!(enabled(&target, "second").await.0, Vec::<String>::new());
        assert_eq!(enabled(&target, "idle").await.0, Vec::<String>::new());
        // Again: nothing changes; the alert still over the limit is still
        // reported.
        let again = solo().await;
        assert_eq!(
            (again.merged, again.copied, again.disabled().len()),
            (3, 0, 1)
        );
        assert_eq!(enabled(&target, "first").await.0, ["solo"]);

        // A real duplicate from another source, enabled on another node:
        // merged, and enabled there as well.
        let path = db.dir.join(format!("{}-duo.db", db.engine));
        let duo = Db::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        content::alerts::publish_limit(&duo, "other", 10)
            .await
            .unwrap();
        global_alert(&duo, "first", "rows > 1", &["other"]).await;
        let report = import(
            &target,
            "duo",
            &export(&duo).await.unwrap(),
            &HashMap::new(),
            false,
        )
        .await
        .unwrap();
        assert_eq!((report.merged, report.copied), (1, 0), "{}", db.engine);
        assert_eq!(enabled(&target, "first").await.0, ["other", "solo"]);
    }
}
