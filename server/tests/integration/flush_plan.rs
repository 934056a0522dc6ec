//! A fleet coming back after an outage: the liveness flush must find each
//! product by its key even while the planner's statistics still say that
//! nothing is online (as right after a restart with the whole fleet
//! offline); otherwise every flush walks every online product.

use server::db::{Db, Dialect};
use server::products::store::flush_online_sql;

const FLEET: i64 = 10_000;

async fn plan(db: &Db, sql: &str, batch: &str) -> String {
    use sqlx::Row;
    let (explain, column) = match db.dialect() {
        Dialect::Postgres => ("EXPLAIN", 0),
        Dialect::Sqlite => ("EXPLAIN QUERY PLAN", 3),
    };
    let rows = sqlx::query(&format!("{explain} {sql}"))
        .bind("node-a")
        .bind(batch)
        .fetch_all(db.pool())
        .await
        .expect("explain");
    rows.iter()
        .map(|r| r.try_get::<String, _>(column).expect("plan text"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_flush_finds_products_by_key_while_statistics_say_nothing_is_online() {
    for test_db in testkit::databases().await {
        let db = Db::connect(&test_db.url).await.expect("connect");
        sqlx::query(
            "INSERT INTO products (id, name, product_type, version, product_key, nonce, status, \
             registered_at, offline_after_ms, last_seen, deadline) \
             SELECT 'p' || n, 'p' || n, 't', '1', 'k', 'n', 'offline', 0, 30000, 0, 30000 \
             FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) \
             SELECT n FROM s) AS s",
        )
        .bind(FLEET)
        .execute(db.pool())
        .await
        .expect("a fleet");
        // The statistics of a fleet that is all offline…
        sqlx::query("ANALYZE products")
            .execute(db.pool())
            .await
            .unwrap();
        // …then it comes back: most products are online again, unknown to
        // the planner.
        sqlx::query("UPDATE products SET status = 'online' WHERE id <> 'p1'")
            .execute(db.pool())
            .await
            .unwrap();
        let batch = serde_json::Value::Array(
            (1..=1000)
                .map(|n| serde_json::json!({"id": format!("p{n}"), "at": 1000, "act": null, "seq": 0}))
                .collect(),
        )
        .to_string();
        let plan = plan(&db, &flush_online_sql(db.dialect()), &batch).await;
        match db.dialect() {
            Dialect::Postgres => {
                assert!(plan.contains("products_pkey"), "{plan}");
                assert!(!plan.contains("products_status_deadline"), "{plan}");
            }
            Dialect::Sqlite => {
                assert!(
                    plan.contains("USING INDEX sqlite_autoindex_products"),
                    "{plan}"
                );
                assert!(!plan.contains("products_status_deadline"), "{plan}");
            }
        }
        // And the statement does its work: 999 online products written,
        // the offline one left to the status-change path.
        let written: Vec<String> = sqlx::query_scalar(&flush_online_sql(db.dialect()))
            .bind("node-a")
            .bind(&batch)
            .fetch_all(db.pool())
            .await
            .unwrap();
        assert_eq!(written.len(), 999, "{}", test_db.engine);
        assert!(!written.contains(&"p1".to_owned()));
        db.close().await;
    }
}
