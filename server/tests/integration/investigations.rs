//! The investigation language against real data on both databases: random
//! valid queries give the same rows on SQLite and PostgreSQL, hostile text
//! stays a value, and pages, CSV exports and plans come back over HTTP.

use crate::common;

use std::time::Duration;

use app::api::NodeRole;
use common::{client, error_code, login, post};
use query::sql::{self, Bindings, Engine};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::content::store::run::{self, Cell, Read};
use server::db::{Db, Dialect};
use testkit::fleet::{self, Fleet};
use testkit::{self, TestNode};

const NOW: i64 = 1_800_000_000_000;

fn small_fleet() -> Fleet {
    Fleet {
        products: 60,
        changes_per_product: 4,
        commands_per_product: 3,
        logs_per_product: 4,
        seed: 7,
        now_ms: NOW,
    }
}

/// One random query the language accepts, over the generated data.
fn random_query(rng: &mut StdRng) -> String {
    let object = *query::registry::OBJECTS.choose(rng).unwrap();
    let mut text = object.name.to_string();
    if object.needs_during || rng.gen_bool(0.3) {
        text += &format!(" during last {}d", rng.gen_range(1..12));
    }
    if rng.gen_bool(0.8) {
        text += " where ";
        text += &condition(rng, object, 0);
    }
    let groupable: Vec<_> = object.fields.iter().filter(|f| f.ty.groupable()).collect();
    let grouped = rng.gen_bool(0.25);
    if grouped {
        let g = groupable.choose(rng).unwrap();
        text += &format!(" group by {} count", g.name);
        if rng.gen_bool(0.5) {
            let key = if rng.gen_bool(0.5) { "count" } else { g.name };
            text += &format!(" sort {key} {}", ["asc", "desc"].choose(rng).unwrap());
        }
    } else {
        if rng.gen_bool(0.6) {
            let n = rng.gen_range(1..=object.fields.len().min(6));
            let names: Vec<_> = object
                .fields
                .choose_multiple(rng, n)
                .map(|f| f.name)
                .collect();
            text += &format!(" fields {}", names.join(", "));
        }
        if rng.gen_bool(0.6) {
            let n = rng.gen_range(1..3);
            let keys: Vec<String> = object
                .fields
                .choose_multiple(rng, n)
                .map(|f| format!("{} {}", f.name, ["asc", "desc"].choose(rng).unwrap()))
                .collect();
            text += &format!(" sort {}", keys.join(", "));
        }
    }
    text += &format!(" limit {}", rng.gen_range(1..120));
    text
}

const TEXTS: &[&str] = &[
    "web", "a%b", "a_b", "O'Brien", "x\"y", "node-a", "reboot", "disk", "ÉCOLE", "", "*", "%", "_",
];

fn condition(rng: &mut StdRng, object: &query::Object, depth: usize) -> String {
    if depth < 2 && rng.gen_bool(0.3) {
        let join = ["and", "or"].choose(rng).unwrap();
        let not = if rng.gen_bool(0.2) { "not " } else { "" };
        return format!(
            "{not}({} {join} {})",
            condition(rng, object, depth + 1),
            condition(rng, object, depth + 1)
        );
    }
    let field = object.fields.choose(rng).unwrap();
    let op = *field.ty.operators().choose(rng).unwrap();
    use query::ast::Op;
    let value = |rng: &mut StdRng| -> String {
        match field.ty {
            query::Type::String => {
                format!("\"{}\"", TEXTS.choose(rng).unwrap().replace('"', "\\\""))
            }
            query::Type::Int => rng.gen_range(0..5).to_string(),
            query::Type::Bool => ["true", "false"].choose(rng).unwrap().to_string(),
            query::Type::Enum(values) => values.choose(rng).unwrap().to_string(),
            query::Type::Uuid => format!("\"{}\"", fleet::product_id(rng.gen_range(0..60))),
            query::Type::Timestamp => format!(
                "\"{}\"",
                query::time::format_timestamp(NOW - rng.gen_range(0..10 * 86_400_000))
            ),
            query::Type::Duration => format!("{}s", rng.gen_range(0..100)),
        }
    };
    match op {
        Op::In => {
            let values: Vec<String> = (0..rng.gen_range(1..4)).map(|_| value(rng)).collect();
            format!("{} in ({})", field.name, values.join(", "))
        }
        Op::OlderThan | Op::NewerThan => {
            format!("{} {} {}h", field.name, op.text(), rng.gen_range(1..240))
        }
        Op::Glob => format!(
            "{} ~ \"{}\"",
            field.name,
            ["web*", "a?b", "*o*", "É*", "a%b", "*-0001?"]
                .choose(rng)
                .unwrap()
        ),
        _ => format!("{} {} {}", field.name, op.text(), value(rng)),
    }
}

async fn run_on(db: &Db, text: &str, page: i64) -> (Vec<Vec<Cell>>, i64) {
    let checked =
        query::analyze(text, query::Kind::Investigation).unwrap_or_else(|e| panic!("{text}: {e}"));
    let engine = match db.dialect() {
        Dialect::Sqlite => Engine::Sqlite,
        Dialect::Postgres => Engine::Postgres,
    };
    let b = Bindings {
        now_ms: NOW,
        me: "alice",
        product: None,
    };
    let rows = sql::rows(&checked, engine, &b, page * checked.limit, checked.limit).unwrap();
    let total = sql::total(&checked, engine, &b).unwrap();
    let reads: Vec<Read> = checked.columns().iter().map(|c| Read::of(c.ty)).collect();
    run::page(db, Duration::from_secs(30), &rows, &total, &reads)
        .await
        .unwrap_or_else(|e| panic!("{text} on {:?}: {e}\n{}", db.dialect(), rows.sql))
}

/// Random valid queries compile and run on both engines, and return the
/// same rows in the same order for the same data.
#[tokio::test]
async fn random_queries_return_the_same_rows_on_both_engines() {
    let mut dbs = Vec::new();
    for test_db in testkit::databases().await {
        let db = Db::connect(&test_db.url).await.unwrap();
        fleet::fill(&db, &small_fleet()).await.unwrap();
        dbs.push(db);
    }
    // VIGIL_QUERY_CASES and VIGIL_QUERY_SEED widen a run by hand.
    let cases: usize = std::env::var("VIGIL_QUERY_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let seed = std::env::var("VIGIL_QUERY_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2026);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nonempty = 0;
    for _ in 0..cases {
        let text = random_query(&mut rng);
        let page = rng.gen_range(0..2);
        let first = run_on(&dbs[0], &text, page).await;
        nonempty += usize::from(!first.0.is_empty());
        for other in &dbs[1..] {
            assert_eq!(
                run_on(other, &text, page).await,
                first,
                "{text} (page {page})"
            );
        }
    }
    // The generator must reach real rows, or the comparison proves nothing.
    assert!(
        nonempty > cases / 3,
        "only {nonempty} of {cases} queries found rows"
    );
}

/// A node whose database holds the small fleet, and an admin session.
async fn node_with_fleet(test_db: &testkit::TestDb) -> (TestNode, String) {
    let node = TestNode::start(testkit::config(test_db, "node-a", NodeRole::Active)).await;
    let db = Db::connect(&test_db.url).await.unwrap();
    fleet::fill(&db, &small_fleet()).await.unwrap();
    let me = login(&node.url).await;
    (node, me)
}

async fn rows_of(url: &str, cookie: &str, query: &str) -> Vec<Value> {
    let (status, body) = post(
        &format!("{url}/api/v1/investigations/run"),
        Some(cookie),
        json!({"query": query}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].clone())
        .collect()
}

/// Quotes, comments, `;`, wildcards, unicode and NUL are values, never SQL.
#[tokio::test]
async fn hostile_text_is_only_ever_a_value() {
    for test_db in testkit::databases().await {
        let (node, me) = node_with_fleet(&test_db).await;
        let url = node.url.clone();
        let names = |q: &'static str| {
            let (url, me) = (url.clone(), me.clone());
            async move {
                rows_of(
                    &url,
                    &me,
                    &format!("products where {q} fields name sort name"),
                )
                .await
            }
        };
        let engine = test_db.engine;
        assert_eq!(
            names(r#"name = "'; DROP TABLE products; --""#).await,
            [json!("'; DROP TABLE products; --")],
            "{engine}"
        );
        assert_eq!(names(r#"name ~ "a%b""#).await, [json!("a%b")], "{engine}");
        assert_eq!(
            names(r#"name contains "_""#).await,
            [json!("a_b")],
            "{engine}"
        );
        assert_eq!(
            names(r#"name ~ "a?b""#).await,
            [json!("a%b"), json!("a_b"), json!("axb")],
            "{engine}"
        );
        assert_eq!(names(r#"name = "x\"y""#).await, [json!("x\"y")], "{engine}");
        assert_eq!(
            names(r#"name contains "\\""#).await,
            [json!("back\\slash")],
            "{engine}"
        );
        assert_eq!(
            names(r#"name contains "/*""#).await,
            [json!("/* comment */")],
            "{engine}"
        );
        assert_eq!(names(r#"name ~ "日*""#).await, [json!("日本")], "{engine}");
        assert_eq!(
            names(r#"name ~ "web-0?""#).await,
            [json!("Web-01"), json!("web-02")],
            "{engine}"
        );
        assert_eq!(
            names(r#"name = "naïve" or name = "o'brien""#).await,
            [json!("naïve")],
            "{engine}"
        );
        let messages = rows_of(
            &url,
            &me,
            r#"logs where message contains "%" group by message count"#,
        )
        .await;
        assert_eq!(messages, [json!("disk 91% full")], "{engine}");
        let (status, body) = post(
            &format!("{url}/api/v1/investigations/run"),
            Some(&me),
            json!({"query": "products where name = \"a\u{0}b\""}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_definition")
        );
        let (_, body) = post(
            &format!("{url}/api/v1/investigations/run"),
            Some(&me),
            json!({"query": "products"}),
        )
        .await;
        assert_eq!(body["total"], 60, "{engine}: the products table is whole");
        node.stop().await;
    }
}

#[tokio::test]
async fn pages_csv_exports_and_plans_come_back_over_http() {
    for test_db in testkit::databases().await {
        let (node, me) = node_with_fleet(&test_db).await;
        let url = node.url.clone();
        let engine = test_db.engine;
        let query = "products where status in (online, offline) fields name, last_seen, offline_after sort name limit 7";
        let (status, page) = post(
            &format!("{url}/api/v1/investigations/run"),
            Some(&me),
            json!({"query": query, "page": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["limit"], 7);
        assert_eq!(page["rows"].as_array().unwrap().len(), 7, "{engine}");
        assert_eq!(
            page["columns"][1],
            json!({"name": "last_seen", "type": "timestamp"})
        );
        let total = page["total"].as_i64().unwrap();

        let csv = client()
            .get(format!("{url}/api/v1/investigations/run"))
            .query(&[("format", "csv"), ("query", query)])
            .header(COOKIE, &me)
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let text = csv.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name,last_seen,offline_after");
        assert_eq!(
            lines.len() as i64,
            total + 1,
            "{engine}: every row, not one page"
        );
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.ends_with('s') || l.ends_with("m")),
            "{engine}: {text}"
        );

        let (status, plan) = post(
            &format!("{url}/api/v1/investigations/explain"),
            Some(&me),
            json!({"query": query}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert_eq!(plan["engine"], engine);
        let statement = plan["sql"].as_str().unwrap();
        assert!(statement.contains("\"products\""), "{statement}");
        assert!(
            !statement.contains("online"),
            "values are parameters: {statement}"
        );
        assert!(!plan["plan"].as_array().unwrap().is_empty());

        let (status, body) = post(
            &format!("{url}/api/v1/investigations/run"),
            Some(&me),
            json!({"query": "logs where product = @product", "kind": "one_click"}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "product_required")
        );
        let product = fleet::product_id(3);
        let (status, body) = post(&format!("{url}/api/v1/investigations/run"), Some(&me), json!({"query": "logs where product = @product fields product", "kind": "one_click", "product": product})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r[0] == json!(product)));
        assert_eq!(body["total"], 4, "{engine}");
        node.stop().await;
    }
}
