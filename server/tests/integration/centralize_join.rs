//! A standalone node joins the cluster, on both engines: its users, content
//! and product records arrive; product records merge by UUID with both
//! histories; a record without an agent is `unmanaged` until its agent
//! registers; a run that fails (an injected fault) is retried and ends as
//! an uninterrupted run does, and sign-ins wait while it runs.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use app::api::centralize::{Centralization, ProductsOutcome};
use common::standalone::{fill, Item};
use common::{error_code, get, login, post};
use reqwest::StatusCode;
use serde_json::json;
use server::config::sqlite_url;
use server::db::Db;
use sqlx::Row;
use testkit::process::NodeProcess;

fn item(owner: &str, path: &[&str], name: &str, definition: &str) -> Item {
    (
        owner.into(),
        path.iter().map(|s| s.to_string()).collect(),
        name.into(),
        definition.into(),
    )
}

/// A product as its agent left it, with `transitions` status changes and
/// one log line.
async fn product(db: &Db, id: &str, key: &str, last_seen: Option<i64>, transitions: usize) {
    sqlx::query(
        "INSERT INTO products (id, name, product_type, version, product_key, nonce, status, \
         registered_at, last_seen, offline_after_ms) \
         VALUES ($1, $1, 'test', '1', $2, 'n', $3, 1, $4, 30000)",
    )
    .bind(id)
    .bind(key)
    .bind(if key.is_empty() {
        "unmanaged"
    } else {
        "offline"
    })
    .bind(last_seen)
    .execute(db.pool())
    .await
    .unwrap();
    for at in 0..transitions {
        sqlx::query(
            "INSERT INTO product_transitions (product_id, from_status, to_status, at, \
             recorded_at, cause) VALUES ($1, 'online', 'offline', $2, $2, 'test')",
        )
        .bind(id)
        .bind(at as i64 + last_seen.unwrap_or(0))
        .execute(db.pool())
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO product_logs (product_id, at, level, message, received_at, node) \
         VALUES ($1, 1, 'info', 'hello', 1, 'solo')",
    )
    .bind(id)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn count(db: &Db, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

const SHARED: &str = "11111111-1111-4111-8111-111111111111";
const AGENTLESS: &str = "22222222-2222-4222-8222-222222222222";
const OWN: &str = "33333333-3333-4333-8333-333333333333";

#[tokio::test]
async fn products_merge_by_uuid_keep_both_histories_and_arrive_unmanaged_without_an_agent() {
    for db in testkit::databases().await {
        let cluster = Db::connect(&db.url).await.unwrap();
        product(&cluster, SHARED, "aa", Some(1_000), 2).await;
        let dir = db.dir.join(format!("{}-solo", db.engine));
        std::fs::create_dir_all(&dir).unwrap();
        let url = sqlite_url(&dir);
        let source = Db::connect(&url).await.unwrap();
        product(&source, SHARED, "bb", Some(2_000), 3).await;
        product(&source, AGENTLESS, "", None, 0).await;
        product(&source, OWN, "cc", Some(500), 1).await;

        let run = || server::centralize::centralize(&cluster, &url, Some("solo"), false, 100);
        let outcome = run().await.unwrap();
        assert_eq!(
            outcome.products,
            ProductsOutcome {
                new: 2,
                merged: 1,
                unmanaged: 1
            },
            "{}",
            db.engine
        );
        // One record, the one seen last (its key), with both histories.
        let key: String = sqlx::query_scalar("SELECT product_key FROM products WHERE id = $1")
            .bind(SHARED)
            .fetch_one(cluster.pool())
            .await
            .unwrap();
        assert_eq!(key, "bb", "{}", db.engine);
        let transitions = "SELECT COUNT(*) FROM product_transitions WHERE product_id = $1";
        let logs = "SELECT COUNT(*) FROM product_logs WHERE product_id = $1";
        assert_eq!(count(&cluster, transitions, SHARED).await, 5);
        assert_eq!(count(&cluster, logs, SHARED).await, 2);
        assert_eq!(count(&cluster, transitions, OWN).await, 1);
        let status = "SELECT CASE WHEN status = 'unmanaged' THEN 1 ELSE 0 END FROM products \
                      WHERE id = $1";
        assert_eq!(count(&cluster, status, AGENTLESS).await, 1);

        // Again: nothing is copied twice.
        let again = run().await.unwrap();
        assert_eq!(again.products.merged, 3, "{}", db.engine);
        assert_eq!(count(&cluster, transitions, SHARED).await, 5);
        assert_eq!(count(&cluster, logs, OWN).await, 1);

        // Its agent registers: the record is managed from then on.
        let node =
            testkit::TestNode::start(testkit::config(&db, "vigil-1", app::api::NodeRole::Active))
                .await;
        let reply = reqwest::Client::new()
            .post(format!("{}/api/v1/products/register", node.url))
            .json(&json!({
                "enrollment_secret": testkit::ENROLLMENT_SECRET,
                "uuid": AGENTLESS, "name": "found", "product_type": "test", "version": "1",
            }))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
        assert_eq!(count(&cluster, status, AGENTLESS).await, 0, "{}", db.engine);
        node.stop().await;
    }
}

/// What the cluster holds, engine-independent: every item by owner, path
/// and definition, every product with its history's length.
async fn snapshot(db: &Db) -> Vec<String> {
    let folders: Vec<(String, String, String)> =
        sqlx::query("SELECT id, parent, name FROM content_folders")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("id"), r.get("parent"), r.get("name")))
            .collect();
    let path = |mut id: String| {
        let mut out = Vec::new();
        while let Some((_, parent, name)) = folders.iter().find(|f| f.0 == id) {
            out.push(name.clone());
            id = parent.clone();
        }
        out.reverse();
        out.join("/")
    };
    let mut out: Vec<String> = sqlx::query(
        "SELECT COALESCE(u.username, 'Global') AS owner, i.folder, i.name, i.hash \
         FROM content_items i LEFT JOIN users u ON u.id = i.user_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "{}:{}/{}={}",
            r.get::<String, _>("owner"),
            path(r.get("folder")),
            r.get::<String, _>("name"),
            r.get::<String, _>("hash")
        )
    })
    .collect();
    out.extend(
        sqlx::query(
            "SELECT p.id, p.status, (SELECT COUNT(*) FROM product_transitions t \
             WHERE t.product_id = p.id) AS n FROM products p",
        )
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.get::<String, _>("id"),
                r.get::<String, _>("status"),
                r.get::<i64, _>("n")
            )
        }),
    );
    out.sort();
    out
}

/// The cluster's state before the node joins, on `db`.
async fn cluster_before(db: &Db) {
    fill(
        db,
        &[
            item("", &["ops"], "offline", "products where status = offline"),
            item("ann", &[], "mine", "products where status = online"),
        ],
    )
    .await;
    product(db, SHARED, "aa", Some(1_000), 2).await;
}

/// The standalone node's database in `dir`.
async fn standalone_in(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let url = sqlite_url(dir);
    let source = Db::connect(&url).await.unwrap();
    let mut items = vec![
        // A real duplicate, a false duplicate, and copies.
        item("", &["ops"], "offline", "products where status = offline"),
        item("ann", &[], "mine", "products where status = offline"),
    ];
    for n in 0..12 {
        items.push(item(
            "bob",
            &["net"],
            &format!("item {n}"),
            "products where status = online",
        ));
    }
    fill(&source, &items).await;
    product(&source, SHARED, "bb", Some(2_000), 3).await;
    product(&source, AGENTLESS, "", None, 0).await;
    product(&source, OWN, "cc", Some(500), 1).await;
    source.close().await;
    url
}

async fn until_status(cluster: &Db, status: &str) -> Instant {
    let started = Instant::now();
    loop {
        let now: Option<String> = sqlx::query_scalar("SELECT status FROM centralize_sources")
            .fetch_optional(cluster.pool())
            .await
            .unwrap();
        if now.as_deref() == Some(status) {
            return Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still {now:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_centralizes_on_start_fails_when_told_and_a_retry_ends_as_an_uninterrupted_run(
) {
    for db in testkit::databases().await {
        // What an uninterrupted run makes of the same cluster and source.
        let reference_dir = db.dir.join(format!("{}-reference", db.engine));
        std::fs::create_dir_all(&reference_dir).unwrap();
        let reference = Db::connect(&sqlite_url(&reference_dir)).await.unwrap();
        cluster_before(&reference).await;
        let source_dir = db.dir.join(format!("{}-solo", db.engine));
        let url = standalone_in(&source_dir.join("first")).await;
        server::centralize::centralize(&reference, &url, Some("solo"), false, 1000)
            .await
            .unwrap();

        // A cluster that ran before (its admin), and its content.
        testkit::TestNode::start(testkit::config(&db, "vigil-1", app::api::NodeRole::Active))
            .await
            .stop()
            .await;
        let cluster = Db::connect(&db.url).await.unwrap();
        cluster_before(&cluster).await;
        let dir = source_dir.join("node");
        standalone_in(&dir).await;
        let mut node = NodeProcess::start(
            Path::new(env!("CARGO_BIN_EXE_vigil")),
            &db,
            "solo",
            &[
                ("VIGIL_DATA_DIR", dir.to_str().unwrap()),
                (
                    "VIGIL_CENTRALIZE_FAULTS",
                    "batch=2,pause_ms=400,fail_after=6",
                ),
            ],
        )
        .await;
        until_status(&cluster, "running").await;
        let refused = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", node.url))
            .json(&json!({"username": "admin", "password": testkit::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(error_code(&body), "centralization_in_progress");
        assert_eq!(
            body["error"]["message"],
            "Content centralization is in progress. Please log in again in a moment."
        );

        until_status(&cluster, "failed").await;
        let admin = login(&node.url).await;
        let (status, body) =
            get(&format!("{}/api/v1/centralization", node.url), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK);
        let c: Centralization = serde_json::from_value(body).unwrap();
        assert_eq!(
            c.status_line().as_deref(),
            Some("Content centralization failed for the following 1 node(s): solo")
        );
        let source = &c.sources[0];
        assert!(
            source.error.as_deref().unwrap().contains("injected fault"),
            "{source:?}"
        );
        let plan = source.plan.as_ref().expect("the dry run is kept");
        assert_eq!((plan.merged(), plan.moved(), plan.products.new), (1, 1, 2));
        assert_ne!(snapshot(&cluster).await, snapshot(&reference).await);

        // Only admins retry.
        let viewer = common::user_session(&node.url, &admin, "vera", "viewer").await;
        let retry = format!("{}/api/v1/centralization/solo/retry", node.url);
        assert_eq!(
            post(&retry, Some(&viewer), json!({})).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, _) = post(&retry, Some(&admin), json!({})).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        until_status(&cluster, "done").await;
        let (_, body) = post(&retry, Some(&admin), json!({})).await;
        assert_eq!(error_code(&body), "not_found");
        let mut after = snapshot(&cluster).await;
        after.retain(|l| !l.starts_with("vera:"));
        assert_eq!(after, snapshot(&reference).await, "{}", db.engine);
        node.kill().await;

        // Marked on both sides: starting again changes nothing.
        let marked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM centralized_into")
            .fetch_one(Db::connect(&sqlite_url(&dir)).await.unwrap().pool())
            .await
            .unwrap();
        assert_eq!(marked, 1);
        let node = NodeProcess::start(
            Path::new(env!("CARGO_BIN_EXE_vigil")),
            &db,
            "solo",
            &[("VIGIL_DATA_DIR", dir.to_str().unwrap())],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut again = snapshot(&cluster).await;
        again.retain(|l| !l.starts_with("vera:"));
        assert_eq!(again, snapshot(&reference).await, "{}", db.engine);
        drop(node);
    }
}
