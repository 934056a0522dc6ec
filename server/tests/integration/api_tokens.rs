//! Personal API tokens on both engines and two nodes: shown once, the
//! user's role or a narrower one, never more; refused on product routes;
//! expiry and revocation hold on every node at once; a token cannot mint
//! tokens or sessions.

use crate::common;

use app::api::NodeRole;
use common::{client, error_code, get, login, post, user_session};
use reqwest::header::{AUTHORIZATION, COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::db::Db;
use testkit::TestNode;

/// A request with `Authorization: Bearer <token>`.
async fn with_token(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, url)
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token(node: &str, cookie: &str, body: Value) -> (StatusCode, Value) {
    post(&format!("{node}/api/v1/tokens"), Some(cookie), body).await
}

#[tokio::test]
async fn tokens_act_for_their_user_within_their_role_and_die_on_every_node_at_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let get_ = reqwest::Method::GET;

        // Nobody signed in gets 401; a bad body a JSON error.
        let tokens_url = format!("{}/api/v1/tokens", a.url);
        assert_eq!(get(&tokens_url, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            post(&tokens_url, None, json!({"name": "x"})).await.0,
            StatusCode::UNAUTHORIZED
        );
        let bad = client()
            .post(&tokens_url)
            .header(COOKIE, &admin)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let (status, body) = token(&a.url, &admin, json!({"name": "  "})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_name")
        );

        // Made once, shown once.
        let (status, made) =
            token(&a.url, &admin, json!({"name": "ci", "expires_in_days": 30})).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {made}", db.engine);
        let secret = made["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("vgt_") && secret.len() > 60);
        let (_, listed) = get(&format!("{}/api/v1/tokens", b.url), Some(&admin)).await;
        assert_eq!(listed[0]["name"], "ci");
        assert!(
            !listed.to_string().contains(&secret[4..]),
            "the list never shows the secret"
        );
        let (status, _) = token(&a.url, &admin, json!({"name": "ci"})).await;
        assert_eq!(status, StatusCode::CONFLICT);

        // The user's role, on any node.
        let products = format!("{}/api/v1/products", b.url);
        assert_eq!(
            with_token(get_.clone(), &products, &secret, None).await.0,
            StatusCode::OK
        );
        let users = format!("{}/api/v1/users", b.url);
        let (status, me) =
            with_token(get_.clone(), &format!("{}/api/v1/me", b.url), &secret, None).await;
        assert_eq!(
            (status, me["role"].as_str()),
            (StatusCode::OK, Some("admin"))
        );

        // A narrower token stays narrow.
        let (_, viewer) = token(
            &a.url,
            &admin,
            json!({"name": "read-only", "role": "viewer"}),
        )
        .await;
        let viewer = viewer["token"].as_str().unwrap().to_owned();
        assert_eq!(
            with_token(get_.clone(), &products, &viewer, None).await.0,
            StatusCode::OK
        );
        let (status, body) = with_token(
            reqwest::Method::POST,
            &users,
            &viewer,
            Some(json!({"username": "eve", "password": "eve-password-long", "role": "admin"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

        // Never more than the user.
        let operator = user_session(&a.url, &admin, "olga", "operator").await;
        let (status, body) = token(&a.url, &operator, json!({"name": "up", "role": "admin"})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_role")
        );
        let (status, _) = token(
            &a.url,
            &operator,
            json!({"name": "x", "expires_in_days": 0}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // A token makes neither tokens nor sessions.
        let (status, _) = with_token(
            reqwest::Method::POST,
            &format!("{}/api/v1/tokens", a.url),
            &viewer,
            Some(json!({"name": "more"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let handoff = format!("{}/api/v1/auth/handoff", a.url);
        assert_eq!(
            with_token(reqwest::Method::POST, &handoff, &secret, None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );

        // Never on product routes.
        let target = Db::connect(&db.url).await.unwrap();
        let product = testkit::two_way_product(&target, "p1").await;
        let beat = format!("{}/api/v1/products/{product}/heartbeat", a.url);
        let (status, _) = with_token(reqwest::Method::POST, &beat, &secret, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A token decides alone, even beside a live session cookie.
        let response = client()
            .get(&products)
            .header(AUTHORIZATION, "Bearer vgt_not-a-token")
            .header(COOKIE, &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        // Revoked on a, refused on b at once; nobody else revokes it.
        let id = made["id"].as_str().unwrap();
        let revoke = |node: &str, cookie: &str| {
            client()
                .delete(format!("{node}/api/v1/tokens/{id}"))
                .header(COOKIE, cookie.to_owned())
                .send()
        };
        assert_eq!(
            revoke(&a.url, &operator).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            revoke(&a.url, &admin).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            with_token(get_.clone(), &products, &secret, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (_, listed) = get(&format!("{}/api/v1/tokens", a.url), Some(&admin)).await;
        let ci = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "ci")
            .unwrap();
        assert!(ci["revoked_at"].is_i64());

        // Expired: refused.
        sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE name = 'read-only'")
            .execute(target.pool())
            .await
            .unwrap();
        assert_eq!(
            with_token(get_.clone(), &products, &viewer, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        a.stop().await;
        b.stop().await;
    }
}
