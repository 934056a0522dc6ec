//! Sign-in, sessions shared by the cluster, and the guards in front of the
//! API and the console.

use crate::common;

use app::api::NodeRole;
use common::{client, error_code, get, login, session_cookie};
use reqwest::header::{COOKIE, LOCATION};
use serde_json::json;
use testkit::{self, TestNode, ADMIN_PASSWORD};

#[tokio::test]
async fn wrong_password_gets_401_json_and_no_session() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let response = client()
            .post(format!("{}/api/v1/auth/login", a.url))
            .json(&json!({"username": "admin", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{}", db.engine);
        assert!(session_cookie(&response).is_none(), "no session cookie");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "invalid_credentials");

        let unknown = client()
            .post(format!("{}/api/v1/auth/login", a.url))
            .json(&json!({"username": "nobody", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            unknown.status(),
            401,
            "unknown user is refused the same way"
        );
        a.stop().await;
    }
}

#[tokio::test]
async fn session_created_on_node_a_is_accepted_by_node_b() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let (status, me) = get(&format!("{}/api/v1/me", b.url), Some(&cookie)).await;
        assert_eq!(status, 200, "{}", db.engine);
        assert_eq!(
            me,
            json!({"username": "admin", "role": "admin", "manage_global_content": true})
        );
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn logout_ends_the_session_on_every_node() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let cookie = login(&a.url).await;
        let response = client()
            .post(format!("{}/api/v1/auth/logout", b.url))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let (status, _) = get(&format!("{}/api/v1/me", a.url), Some(&cookie)).await;
        assert_eq!(status, 401, "{}", db.engine);
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn unauthenticated_api_calls_get_401_json() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        for path in ["/api/v1/keepalive", "/api/v1/nodes", "/api/v1/me"] {
            let (status, body) = get(&format!("{}{path}", a.url), None).await;
            assert_eq!(status, 401, "{}: {path}", db.engine);
            assert_eq!(error_code(&body), "unauthorized", "{path}");
            let (status, _) = get(&format!("{}{path}", a.url), Some("vigil_session=forged")).await;
            assert_eq!(status, 401, "{path} with a forged session");
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_login_out() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let attempt = |password: &'static str| {
            client()
                .post(format!("{}/api/v1/auth/login", a.url))
                .json(&json!({"username": "admin", "password": password}))
                .send()
        };
        for _ in 0..5 {
            assert_eq!(attempt("wrong").await.unwrap().status(), 401);
        }
        let locked = attempt(ADMIN_PASSWORD).await.unwrap();
        assert_eq!(
            locked.status(),
            429,
            "{}: even the right password waits",
            db.engine
        );
        let body: serde_json::Value = locked.json().await.unwrap();
        assert_eq!(error_code(&body), "too_many_attempts");
        a.stop().await;
    }
}

#[tokio::test]
async fn console_pages_send_visitors_to_login() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let response = client()
            .get(format!("{}/nodes?interval=2", a.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", db.engine);
        assert_eq!(
            response.headers()[LOCATION],
            "/login?next=/nodes%3Finterval%3D2"
        );

        let login_page = client()
            .get(format!("{}/login", a.url))
            .send()
            .await
            .unwrap();
        assert_eq!(login_page.status(), 200);
        assert!(login_page.text().await.unwrap().contains("Sign in"));

        let cookie = login(&a.url).await;
        let page = client()
            .get(format!("{}/nodes", a.url))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        // The page's own heading, not the login form (the renderer may put
        // a hydration marker before the closing tag).
        let body = page.text().await.unwrap();
        assert!(body.contains("<h1>Nodes<"), "{body}");
        assert!(!body.contains("Sign in"), "{body}");
        a.stop().await;
    }
}

#[tokio::test]
async fn login_form_redirects_to_next_and_never_off_site() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let post = |next: &'static str, password: &'static str| {
            client()
                .post(format!("{}/auth/login", a.url))
                .form(&[
                    ("username", "admin"),
                    ("password", password),
                    ("next", next),
                ])
                .send()
        };
        let ok = post("/nodes?retry=5", ADMIN_PASSWORD).await.unwrap();
        assert_eq!(ok.status(), 303, "{}", db.engine);
        assert_eq!(ok.headers()[LOCATION], "/nodes?retry=5");
        assert!(session_cookie(&ok).is_some());

        let off_site = post("//evil.example/", ADMIN_PASSWORD).await.unwrap();
        assert_eq!(off_site.headers()[LOCATION], "/");

        let wrong = post("/nodes", "wrong").await.unwrap();
        assert_eq!(
            wrong.headers()[LOCATION],
            "/login?error=invalid&next=/nodes"
        );
        assert!(session_cookie(&wrong).is_none());
        a.stop().await;
    }
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let response = client()
            .post(format!("{}/api/v1/auth/login", a.url))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        a.stop().await;
    }
}
