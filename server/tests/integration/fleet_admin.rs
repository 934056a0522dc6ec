//! Cluster administration around the fleet: console users, the enrollment
//! secret (seeded from the configuration, rotated by admins) and the
//! fleet's status over time.

use crate::common;

use std::time::Duration;

use app::api::NodeRole;
use common::products::{fast_config, register};
use common::{client, error_code, get, login, post, user_session};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::Secret;
use testkit::ENROLLMENT_SECRET;
use testkit::{self, TestNode};

async fn register_with(node: &str, secret: &str) -> StatusCode {
    client()
        .post(format!("{node}/api/v1/products/register"))
        .json(&json!({
            "enrollment_secret": secret, "uuid": uuid::Uuid::new_v4().to_string(),
            "name": "fw", "product_type": "firewall", "version": "1"
        }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn admins_add_users_and_nobody_else_does() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let viewer = user_session(&a.url, &admin, "viewer1", "viewer").await;
        let (status, me) = get(&format!("{}/api/v1/me", a.url), Some(&viewer)).await;
        assert_eq!(status, 200, "{}", db.engine);
        assert_eq!(
            me,
            json!({"username": "viewer1", "role": "viewer", "manage_global_content": false})
        );

        let users = format!("{}/api/v1/users", a.url);
        let new = json!({"username": "x1", "password": "long enough pw", "role": "admin"});
        let (status, body) = post(&users, Some(&viewer), new.clone()).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let (status, _) = post(&users, None, new).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let again = json!({"username": "viewer1", "password": "long enough pw", "role": "viewer"});
        let (status, body) = post(&users, Some(&admin), again).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "user_exists")
        );
        let short = json!({"username": "v2", "password": "short", "role": "viewer"});
        let (status, body) = post(&users, Some(&admin), short).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_user")
        );
        let role = json!({"username": "v2", "password": "long enough pw", "role": "root"});
        let (status, _) = post(&users, Some(&admin), role).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        a.stop().await;
    }
}

#[tokio::test]
async fn a_rotated_enrollment_secret_applies_on_every_node_at_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let (status, body) = get(&format!("{}/api/v1/enrollment", a.url), Some(&admin)).await;
        assert_eq!(status, 200, "{}: {body}", db.engine);
        assert_eq!(body["secret"], ENROLLMENT_SECRET);
        assert_eq!(body["updated_by"], "configuration");

        let operator = user_session(&a.url, &admin, "op", "operator").await;
        let (status, _) = get(&format!("{}/api/v1/enrollment", a.url), Some(&operator)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "operators do not see it");
        let rotate = format!("{}/api/v1/enrollment/rotate", a.url);
        let (status, _) = post(&rotate, Some(&operator), Value::Null).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "operators do not rotate it");

        let (status, rotated) = post(&rotate, Some(&admin), Value::Null).await;
        assert_eq!(status, 200, "{rotated}");
        let secret = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(secret, ENROLLMENT_SECRET);
        assert_eq!(rotated["updated_by"], json!("admin"));
        // The other node refuses the old secret and takes the new one.
        assert_eq!(
            register_with(&b.url, ENROLLMENT_SECRET).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(register_with(&b.url, &secret).await, StatusCode::OK);

        // A restart with the same configuration keeps the rotated secret…
        b.stop().await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        assert_eq!(
            register_with(&b.url, &secret).await,
            StatusCode::OK,
            "{}",
            db.engine
        );
        // …and a node configured with a new secret sets it for the cluster.
        let mut config = testkit::config(&db, "node-c", NodeRole::Active);
        config.enrollment_secret = Some(Secret::new("configured-anew-0123456789"));
        let c = TestNode::start(config).await;
        assert_eq!(
            register_with(&a.url, "configured-anew-0123456789").await,
            StatusCode::OK
        );
        assert_eq!(
            register_with(&a.url, &secret).await,
            StatusCode::UNAUTHORIZED
        );
        for node in [a, b, c] {
            node.stop().await;
        }
    }
}

#[tokio::test]
async fn the_fleet_history_ends_with_the_counts_of_now() {
    for db in testkit::databases().await {
        let a = TestNode::start(fast_config(&db, "node-a")).await;
        let cookie = login(&a.url).await;
        for _ in 0..3 {
            let (status, _) = register(&a.url, &uuid::Uuid::new_v4().to_string(), None).await;
            assert_eq!(status, 200);
        }
        // The sweep holder takes its first sample as soon as it holds the lease.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let url = format!("{}/api/v1/products/history?window=1h", a.url);
        let (status, body) = get(&url, Some(&cookie)).await;
        assert_eq!(status, 200, "{}: {body}", db.engine);
        let points = body["points"].as_array().unwrap();
        assert!(points.len() >= 2, "a sample and now: {body}");
        let last = points.last().unwrap();
        assert_eq!(
            (last["pending"].as_i64(), last["online"].as_i64()),
            (Some(3), Some(0))
        );
        assert!(points
            .windows(2)
            .all(|w| w[0]["at"].as_i64() < w[1]["at"].as_i64()));

        let (status, body) = get(
            &format!("{}/api/v1/products/history?window=5y", a.url),
            Some(&cookie),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_window")
        );
        let (status, _) = get(&url, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        a.stop().await;
    }
}

async fn send(
    method: reqwest::Method,
    url: &str,
    cookie: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, url)
        .header(reqwest::header::COOKIE, cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn admins_change_roles_and_remove_users_but_never_the_last_admin() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let viewer = user_session(&a.url, &admin, "ops", "viewer").await;
        let (status, list) = get(&format!("{}/api/v1/users", a.url), Some(&admin)).await;
        assert_eq!(status, 200, "{}", db.engine);
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["admin", "ops"]);
        let (status, _) = get(&format!("{}/api/v1/users", a.url), Some(&viewer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Promoted, the session they hold has the new role at once.
        let role = format!("{}/api/v1/users/ops/role", a.url);
        let (status, _) = send(
            reqwest::Method::PUT,
            &role,
            &admin,
            Some(json!({"role": "operator"})),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, me) = get(&format!("{}/api/v1/me", a.url), Some(&viewer)).await;
        assert_eq!(me["role"], "operator");

        let (status, body) = send(
            reqwest::Method::PUT,
            &format!("{}/api/v1/users/admin/role", a.url),
            &admin,
            Some(json!({"role": "viewer"})),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "conflict"),
            "the last admin stays"
        );
        let (status, _) = send(
            reqwest::Method::PUT,
            &format!("{}/api/v1/users/nobody/role", a.url),
            &admin,
            Some(json!({"role": "viewer"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(
            reqwest::Method::DELETE,
            &format!("{}/api/v1/users/admin", a.url),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "nobody removes themselves");

        // Removed, their session ends with them.
        let (status, _) = send(
            reqwest::Method::DELETE,
            &format!("{}/api/v1/users/ops", a.url),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = get(&format!("{}/api/v1/me", a.url), Some(&viewer)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        a.stop().await;
    }
}

/// With no secret configured, the first node generates one; the next node
/// keeps it, and the well-known secret of earlier versions enrolls nothing.
#[tokio::test]
async fn a_cluster_without_a_configured_secret_generates_one_at_first_start() {
    for db in testkit::databases().await {
        let unconfigured = |name: &str| {
            let mut config = testkit::config(&db, name, NodeRole::Active);
            config.enrollment_secret = None;
            config
        };
        let a = TestNode::start(unconfigured("node-a")).await;
        let admin = login(&a.url).await;
        let (status, body) = get(&format!("{}/api/v1/enrollment", a.url), Some(&admin)).await;
        assert_eq!(status, 200, "{}: {body}", db.engine);
        let secret = body["secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 48, "{secret}");
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(body["updated_by"], "generated");

        let b = TestNode::start(unconfigured("node-b")).await;
        assert_eq!(register_with(&b.url, &secret).await, StatusCode::OK);
        for guess in ["vigil-default-enrollment-secret", ENROLLMENT_SECRET, ""] {
            assert_eq!(
                register_with(&b.url, guess).await,
                StatusCode::UNAUTHORIZED,
                "{}: {guess:?}",
                db.engine
            );
        }
        a.stop().await;
        b.stop().await;
    }
}

/// A cluster that still enrolled with the built-in secret of earlier
/// versions gets a generated one at its next start.
#[tokio::test]
async fn the_old_built_in_secret_is_replaced_at_start() {
    for db in testkit::databases().await {
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.enrollment_secret = Some(Secret::new("vigil-default-enrollment-secret"));
        let a = TestNode::start(config).await;
        assert_eq!(
            register_with(&a.url, "vigil-default-enrollment-secret").await,
            StatusCode::OK,
            "configured explicitly, it is what the operator asked for"
        );
        a.stop().await;
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.enrollment_secret = None;
        let a = TestNode::start(config).await;
        assert_eq!(
            register_with(&a.url, "vigil-default-enrollment-secret").await,
            StatusCode::UNAUTHORIZED,
            "{}",
            db.engine
        );
        a.stop().await;
    }
}
