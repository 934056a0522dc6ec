//! Session hand-off: a console failing over to another node (another origin)
//! stays signed in through a short-lived, single-use token.

use crate::common;

use std::time::Duration;

use app::api::NodeRole;
use common::{client, get, login, session_cookie};
use reqwest::header::{COOKIE, LOCATION};
use testkit::{self, TestNode};

async fn issue_token(node: &str, cookie: &str) -> String {
    let response = client()
        .post(format!("{node}/api/v1/auth/handoff"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

async fn redeem(node: &str, token: &str, next: &str) -> reqwest::Response {
    client()
        .get(format!("{node}/auth/handoff"))
        .query(&[("token", token), ("next", next)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_from_node_a_opens_a_session_on_node_b_once() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let token = issue_token(&a.url, &login(&a.url).await).await;

        let first = redeem(&b.url, &token, "/nodes?interval=1&retry=2").await;
        assert_eq!(first.status(), 303, "{}", db.engine);
        assert_eq!(first.headers()[LOCATION], "/nodes?interval=1&retry=2");
        let cookie = session_cookie(&first).expect("a session on node B");
        let (status, me) = get(&format!("{}/api/v1/me", b.url), Some(&cookie)).await;
        assert_eq!(
            (status.as_u16(), me["username"].as_str()),
            (200, Some("admin"))
        );

        let again = redeem(&b.url, &token, "/nodes").await;
        assert_eq!(again.status(), 303);
        assert_eq!(
            again.headers()[LOCATION],
            "/login?error=handoff&next=/nodes",
            "{}: single use",
            db.engine
        );
        assert!(session_cookie(&again).is_none());
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn forged_and_expired_tokens_lead_to_the_login_page() {
    for db in testkit::databases().await {
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.handoff_ttl = Duration::from_millis(300);
        let a = TestNode::start(config).await;
        let forged = redeem(&a.url, "0123456789abcdef", "/nodes").await;
        assert_eq!(
            forged.headers()[LOCATION],
            "/login?error=handoff&next=/nodes",
            "{}",
            db.engine
        );
        assert!(session_cookie(&forged).is_none());

        let token = issue_token(&a.url, &login(&a.url).await).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let expired = redeem(&a.url, &token, "/nodes").await;
        assert_eq!(
            expired.headers()[LOCATION],
            "/login?error=handoff&next=/nodes",
            "{}: expired",
            db.engine
        );
        assert!(session_cookie(&expired).is_none());
        a.stop().await;
    }
}

#[tokio::test]
async fn next_pointing_off_site_is_refused() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        for next in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
        ] {
            let token = issue_token(&a.url, &cookie).await;
            let response = redeem(&a.url, &token, next).await;
            assert_eq!(response.headers()[LOCATION], "/", "{}: {next}", db.engine);
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn tokens_are_issued_only_to_signed_in_consoles() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let response = client()
            .post(format!("{}/api/v1/auth/handoff", a.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{}", db.engine);
        a.stop().await;
    }
}
