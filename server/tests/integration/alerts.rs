//! Alerts as content: enabled where they were created, enabled elsewhere
//! up to each node's limit, changed only by their owners (or with the
//! Global permission), on both databases.

use crate::common;

use app::api::NodeRole;
use common::{client, error_code, get, login, post, user_session};
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::{self, TestNode};

async fn call(method: reqwest::Method, url: &str, cookie: &str) -> (StatusCode, Value) {
    let response = client()
        .request(method, url)
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn alert(name: &str, scope: &str, condition: &str) -> Value {
    json!({
        "kind": "alert", "scope": scope, "name": name,
        "definition": "products where status = offline",
        "alert": {"condition": condition, "period": "60s", "for": "120s", "clear_for": "5m"}
    })
}

async fn create(node: &str, cookie: &str, body: Value) -> Value {
    let (status, reply) = post(&format!("{node}/api/v1/content"), Some(cookie), body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply
}

fn alerts_position(keepalive: &Value) -> i64 {
    keepalive["state"]
        .as_str()
        .unwrap()
        .split(',')
        .nth(4)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_alert_is_enabled_where_it_was_made_and_elsewhere_up_to_each_nodes_limit() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let mut config = testkit::config(&db, "node-b", NodeRole::Active);
        config.alert_limit = 2;
        let b = TestNode::start(config).await;
        let admin = login(&a.url).await;
        let alice = user_session(&a.url, &admin, "alice", "operator").await;
        let ctx = db.engine;

        let first = create(&a.url, &alice, alert("Ten down", "mine", "rows  > 9")).await;
        assert_eq!(
            first["alert"]["enabled_on"],
            json!(["node-a"]),
            "{ctx}: {first}"
        );
        assert_eq!(first["alert"]["spec"]["condition"], "rows > 9");
        assert_eq!(first["alert"]["spec"]["for"], "2m");
        assert!(first["canonical"].as_str().unwrap().ends_with(
            "alert when rows > 9 every 1m for 2m clear_for 5m severity warning scope node"
        ));
        let id = first["id"].as_str().unwrap();

        let (_, before) = get(&format!("{}/api/v1/keepalive", a.url), Some(&alice)).await;
        let on_b = |id: &str| format!("{}/api/v1/content/{id}/nodes/node-b", a.url);
        assert_eq!(
            call(reqwest::Method::PUT, &on_b(id), &alice).await.0,
            StatusCode::NO_CONTENT,
            "{ctx}"
        );
        let (_, after) = get(&format!("{}/api/v1/keepalive", a.url), Some(&alice)).await;
        assert!(
            alerts_position(&after) > alerts_position(&before),
            "{ctx}: {before} {after}"
        );
        let (_, shown) = get(&format!("{}/api/v1/content/{id}", b.url), Some(&alice)).await;
        assert_eq!(
            shown["alert"]["enabled_on"],
            json!(["node-a", "node-b"]),
            "{ctx}"
        );
        // Enabling twice changes nothing.
        assert_eq!(
            call(reqwest::Method::PUT, &on_b(id), &alice).await.0,
            StatusCode::NO_CONTENT
        );

        let second = create(&a.url, &alice, alert("Any down", "mine", "rows > 0")).await;
        let third = create(&a.url, &alice, alert("Each down", "mine", "per product")).await;
        assert_ne!(
            second["hash"], third["hash"],
            "the condition is part of the definition"
        );
        let (second, third) = (
            second["id"].as_str().unwrap(),
            third["id"].as_str().unwrap(),
        );
        assert_eq!(
            call(reqwest::Method::PUT, &on_b(second), &alice).await.0,
            StatusCode::NO_CONTENT
        );
        let (status, body) = call(reqwest::Method::PUT, &on_b(third), &alice).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "alert_limit"),
            "{ctx}"
        );
        assert_eq!(
            body["error"]["message"],
            "node-b already has 2 of 2 alerts enabled; disable one there or raise alert_limit"
        );
        assert_eq!(
            call(reqwest::Method::DELETE, &on_b(second), &alice).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(reqwest::Method::PUT, &on_b(third), &alice).await.0,
            StatusCode::NO_CONTENT
        );

        let (status, _) = call(
            reqwest::Method::PUT,
            &format!("{}/api/v1/content/{id}/nodes/node-z", a.url),
            &alice,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn only_owners_and_the_global_permission_change_alerts() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let url = a.url.clone();
        let admin = login(&url).await;
        let alice = user_session(&url, &admin, "alice", "operator").await;
        let bob = user_session(&url, &admin, "bob", "operator").await;
        let vic = user_session(&url, &admin, "vic", "viewer").await;
        let ctx = db.engine;

        let mine = create(&url, &alice, alert("Mine", "mine", "rows > 1")).await;
        let mine = mine["id"].as_str().unwrap();
        for (method, path) in [
            (
                reqwest::Method::PUT,
                format!("{url}/api/v1/content/{mine}/nodes/node-a"),
            ),
            (
                reqwest::Method::DELETE,
                format!("{url}/api/v1/content/{mine}/nodes/node-a"),
            ),
            (reqwest::Method::GET, format!("{url}/api/v1/content/{mine}")),
        ] {
            assert_eq!(
                call(method, &path, &bob).await.0,
                StatusCode::NOT_FOUND,
                "{ctx}: {path}"
            );
        }

        let global = create(&url, &admin, alert("Fleet", "global", "rows > 3")).await;
        assert_eq!(global["error"], Value::Null);
        let (status, body) = post(
            &format!("{url}/api/v1/content"),
            Some(&vic),
            alert("G", "global", "rows > 1"),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{ctx}"
        );
        let global = global["id"].as_str().unwrap();
        for user in [&vic, &alice] {
            let (status, body) = call(
                reqwest::Method::DELETE,
                &format!("{url}/api/v1/content/{global}/nodes/node-a"),
                user,
            )
            .await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{ctx}"
            );
        }
        // A viewer keeps alerts of their own.
        create(&url, &vic, alert("Vic's", "mine", "rows = 0")).await;

        for (spec, why) in [
            (
                json!({"condition": "rows >= 1", "period": "60s"}),
                "condition",
            ),
            (json!({"condition": "rows > 1", "period": "5s"}), "period"),
            (
                json!({"condition": "count > 1", "period": "60s"}),
                "count needs group by",
            ),
        ] {
            let body =
                json!({"kind": "alert", "name": why, "definition": "products", "alert": spec});
            let (status, reply) = post(&format!("{url}/api/v1/content"), Some(&alice), body).await;
            assert_eq!(
                (status, error_code(&reply)),
                (StatusCode::BAD_REQUEST, "invalid_alert"),
                "{why}"
            );
        }
        let (status, reply) = post(
            &format!("{url}/api/v1/content"),
            Some(&alice),
            json!({"kind": "alert", "name": "x", "definition": "products"}),
        )
        .await;
        assert_eq!(
            (status, error_code(&reply)),
            (StatusCode::BAD_REQUEST, "invalid_alert")
        );
        a.stop().await;
    }
}

/// The alert routes that read or try: who may call them and what bad input
/// gets.
#[tokio::test]
async fn firings_coverage_and_tests_answer_only_what_the_caller_may_see() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let url = a.url.clone();
        let admin = login(&url).await;
        let alice = user_session(&url, &admin, "alice", "operator").await;
        let bob = user_session(&url, &admin, "bob", "viewer").await;
        let ctx = db.engine;
        let made = create(&url, &alice, alert("Hers", "mine", "rows > 1")).await;
        let id = made["id"].as_str().unwrap();
        let (status, plain) = post(
            &format!("{url}/api/v1/content"),
            Some(&alice),
            json!({"name": "Plain", "definition": "products"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);

        // A firing of Alice's alert, as an evaluation would write it.
        let store = server::db::Db::connect(&db.url).await.unwrap();
        sqlx::query(
            "INSERT INTO alert_firings (id, item_id, key, node, severity, started_at, matched, samples) \
             VALUES ('f1', $1, '', 'node-a', 'warning', 1, 2, '[]')",
        )
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
        let firings = format!("{url}/api/v1/alerts/firings");
        let (_, hers) = get(&firings, Some(&alice)).await;
        assert_eq!(hers.as_array().unwrap().len(), 1, "{ctx}: {hers}");
        let (_, his) = get(&firings, Some(&bob)).await;
        assert_eq!(his, json!([]), "{ctx}: another user's firing shown");
        let (status, body) = get(&format!("{firings}?limit=many"), Some(&alice)).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );

        let coverage = |id: &str| format!("{url}/api/v1/alerts/{id}/coverage");
        assert_eq!(get(&coverage(id), Some(&alice)).await.0, StatusCode::OK);
        assert_eq!(
            get(&coverage(id), Some(&bob)).await.0,
            StatusCode::NOT_FOUND,
            "{ctx}"
        );
        let (status, body) = get(&coverage(plain["id"].as_str().unwrap()), Some(&alice)).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "not_an_alert")
        );

        let test = format!("{url}/api/v1/alerts/test");
        let spec = json!({"condition": "rows > 1", "period": "60s"});
        let (status, _) = post(
            &test,
            Some(&bob),
            json!({"definition": "products", "alert": spec}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{ctx}: anyone may try a condition");
        let (status, body) = post(
            &test,
            Some(&bob),
            json!({"definition": "prodcts", "alert": spec}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_definition")
        );
        let bad =
            json!({"definition": "products", "alert": {"condition": "rows ~ 1", "period": "60s"}});
        let (status, body) = post(&test, Some(&bob), bad).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_alert")
        );

        for (path, body) in [
            (firings.clone(), None),
            (coverage(id), None),
            (
                test.clone(),
                Some(json!({"definition": "products", "alert": spec})),
            ),
        ] {
            let status = match body {
                None => get(&path, None).await.0,
                Some(b) => post(&path, None, b).await.0,
            };
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
        a.stop().await;
    }
}
