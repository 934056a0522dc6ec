//! Bad input always gets a JSON error with the right status.

use crate::common;

use app::api::NodeRole;
use common::{client, error_code, get, login};
use reqwest::header::{CONTENT_TYPE, COOKIE};
use testkit::{self, TestNode};

#[tokio::test]
async fn bad_requests_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let login_url = format!("{}/api/v1/auth/login", a.url);
        let send = |body: Vec<u8>, content_type: &'static str| {
            client()
                .post(&login_url)
                .header(CONTENT_TYPE, content_type)
                .body(body)
                .send()
        };
        let cases = [
            (
                b"{\"username\": ".to_vec(),
                "application/json",
                400,
                "invalid_json",
            ),
            (
                b"{\"username\": 3}".to_vec(),
                "application/json",
                422,
                "invalid_body",
            ),
            (
                b"username=admin".to_vec(),
                "text/plain",
                415,
                "unsupported_media_type",
            ),
            (
                vec![b' '; server::BODY_LIMIT + 1],
                "application/json",
                413,
                "body_too_large",
            ),
        ];
        for (body, content_type, status, code) in cases {
            let response = send(body, content_type).await.unwrap();
            assert_eq!(response.status(), status, "{}: {code}", db.engine);
            let json: serde_json::Value = response.json().await.expect("JSON error body");
            assert_eq!(error_code(&json), code);
            assert!(json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (status, body) = get(&format!("{}/api/v1/no-such-thing", a.url), Some(&cookie)).await;
        assert_eq!(status, 404, "{}", db.engine);
        assert_eq!(error_code(&body), "not_found");
        let (status, body) = get(&format!("{}/definitely/not/here", a.url), None).await;
        assert_eq!(status, 404);
        assert_eq!(error_code(&body), "not_found");

        let response = client()
            .delete(format!("{}/api/v1/keepalive", a.url))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&json), "method_not_allowed");
        a.stop().await;
    }
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let response = client()
            .post(format!("{}/api/v1/auth/logout", a.url))
            .header(COOKIE, &cookie)
            .header("Origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{}", db.engine);
        let (status, _) = get(&format!("{}/api/v1/me", a.url), Some(&cookie)).await;
        assert_eq!(status, 200, "the session survived the forged logout");

        let same_origin = client()
            .post(format!("{}/api/v1/auth/logout", a.url))
            .header(COOKIE, &cookie)
            .header("Origin", &a.url)
            .send()
            .await
            .unwrap();
        assert_eq!(same_origin.status(), 204);
        a.stop().await;
    }
}

#[tokio::test]
async fn an_unusable_database_stops_the_node_with_a_clear_error() {
    let db = testkit::databases().await.remove(0);
    let mut config = testkit::config(&db, "node-a", NodeRole::Active);
    config.database_url = server::config::Secret::new("mysql://localhost/vigil");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = server::Node::start(listener, config)
        .await
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("unsupported database URL"),
        "{error}"
    );

    let mut config = testkit::config(&db, "node-a", NodeRole::Active);
    config.database_url = server::config::Secret::new("sqlite:///nonexistent-dir/x/vigil.db");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = server::Node::start(listener, config)
        .await
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("cannot open the database"),
        "{error}"
    );
}
