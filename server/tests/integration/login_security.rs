//! What an attacker on the network can do to sign-in: bounded password
//! work, throttling by account (cluster-wide) and by client address, the
//! device cookie that keeps the owner of a guessed-at account signed in,
//! user names and passwords, and the cross-site guard.

use crate::common;

use std::net::IpAddr;
use std::time::Duration;

use app::api::NodeRole;
use common::{client, error_code, login, post, session_cookie};
use reqwest::header::{COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use server::config::Secret;
use testkit::{self, TestNode, ADMIN_PASSWORD};

fn client_from(address: &str) -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn attempt(http: &Client, node: &str, username: &str, password: &str) -> Response {
    http.post(format!("{node}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request")
}

fn device_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vigil_device="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// More logins at once than the node has hashing workers: the ones that
/// find no worker within the wait are told "busy" (503, Retry-After) at
/// once, none fails with 500.
#[tokio::test]
async fn a_login_flood_beyond_the_hashing_workers_gets_busy_answers_not_errors() {
    for db in testkit::databases().await {
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.login_workers = 1;
        config.login_wait = Duration::from_millis(1);
        config.login_max_failures_per_address = 1000;
        config.login_max_failures = 1000;
        let a = TestNode::start(config).await;
        let http = client();
        let attempts = (0..24).map(|i| {
            let (http, url) = (http.clone(), a.url.clone());
            async move { attempt(&http, &url, &format!("user{i}"), "wrong password x").await }
        });
        let answers = futures_join_all(attempts).await;
        let mut statuses: Vec<u16> = Vec::new();
        for answer in answers {
            let status = answer.status();
            statuses.push(status.as_u16());
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert!(answer.headers().contains_key(RETRY_AFTER));
                let body: Value = answer.json().await.unwrap();
                assert_eq!(error_code(&body), "busy");
            }
        }
        assert!(statuses.contains(&503), "{}: {statuses:?}", db.engine);
        assert!(statuses.contains(&401), "{}: {statuses:?}", db.engine);
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 503),
            "{statuses:?}"
        );
        a.stop().await;
    }
}

/// Runs futures concurrently (the tests have no `futures` crate).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Failures on one node delay the account on every node, even with the
/// right password; a browser that signed in to the account before (device
/// cookie) is not held, so guessing cannot lock the owner out.
#[tokio::test]
async fn failed_logins_delay_the_account_on_every_node_but_not_a_known_browser() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let http = client();
        let first = attempt(&http, &a.url, "admin", ADMIN_PASSWORD).await;
        assert_eq!(first.status(), 200);
        let device = device_cookie(&first).expect("a first sign-in remembers the browser");

        let attacker = client_from("127.0.0.3");
        for _ in 0..5 {
            let r = attempt(&attacker, &a.url, "ADMIN", "guess guess guess").await;
            assert_eq!(r.status(), 401, "{}", db.engine);
        }
        // Node B, another address, the right password: still delayed.
        let held = attempt(&client_from("127.0.0.4"), &b.url, "admin", ADMIN_PASSWORD).await;
        assert_eq!(held.status(), 429, "{}", db.engine);
        assert!(held.headers().contains_key(RETRY_AFTER));
        let body: Value = held.json().await.unwrap();
        assert_eq!(error_code(&body), "too_many_attempts");

        // The owner's browser carries its device cookie and gets in.
        let owner = http
            .post(format!("{}/api/v1/auth/login", b.url))
            .header(COOKIE, &device)
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(owner.status(), 200, "{}", db.engine);
        assert!(session_cookie(&owner).is_some());

        // A forged device cookie is no key.
        for _ in 0..5 {
            attempt(&attacker, &a.url, "admin", "guess guess guess").await;
        }
        let forged = attacker
            .post(format!("{}/api/v1/auth/login", b.url))
            .header(COOKIE, "vigil_device=forged")
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 429, "{}", db.engine);
        a.stop().await;
        b.stop().await;
    }
}

/// Too many failures from one address refuse that address, whatever the
/// account, and only that address.
#[tokio::test]
async fn too_many_failures_from_one_address_refuse_that_address_only() {
    for db in testkit::databases().await {
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.login_max_failures_per_address = 3;
        let a = TestNode::start(config).await;
        let attacker = client_from("127.0.0.5");
        for i in 0..3 {
            let r = attempt(&attacker, &a.url, &format!("name{i}"), "guess guess guess").await;
            assert_eq!(r.status(), 401);
        }
        let refused = attempt(&attacker, &a.url, "another", "guess guess guess").await;
        assert_eq!(refused.status(), 429, "{}", db.engine);
        let other = attempt(&client_from("127.0.0.6"), &a.url, "admin", ADMIN_PASSWORD).await;
        assert_eq!(other.status(), 200, "{}", db.engine);
        a.stop().await;
    }
}

/// `X-Forwarded-For` names the client only when the peer is a trusted
/// proxy; from anyone else it changes nothing.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    for db in testkit::databases().await {
        let mut config = testkit::config(&db, "node-a", NodeRole::Active);
        config.login_max_failures_per_address = 2;
        config.trusted_proxies = vec!["127.0.0.7/32".parse().unwrap()];
        let a = TestNode::start(config).await;
        let forwarded = |http: &Client, client: &str, user: &str| {
            http.post(format!("{}/api/v1/auth/login", a.url))
                .header("x-forwarded-for", client)
                .json(&json!({"username": user, "password": "guess guess guess"}))
                .send()
        };
        // Through the proxy: each forwarded client has its own count.
        let proxy = client_from("127.0.0.7");
        for user in ["u1", "u2"] {
            assert_eq!(
                forwarded(&proxy, "203.0.113.1", user)
                    .await
                    .unwrap()
                    .status(),
                401
            );
        }
        let refused = forwarded(&proxy, "203.0.113.1", "u3").await.unwrap();
        assert_eq!(refused.status(), 429, "{}", db.engine);
        let other = forwarded(&proxy, "203.0.113.2", "u4").await.unwrap();
        assert_eq!(other.status(), 401, "another client behind the proxy");
        // Not a proxy: changing the header does not escape the count.
        let direct = client_from("127.0.0.8");
        for (i, fake) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
            let r = forwarded(&direct, fake, &format!("d{i}")).await.unwrap();
            assert_eq!(r.status(), 401);
        }
        let still = forwarded(&direct, "198.51.100.3", "d9").await.unwrap();
        assert_eq!(still.status(), 429, "{}", db.engine);
        a.stop().await;
    }
}

/// `ADMIN` is `admin`: no second user differing only in case, and sign-in
/// ignores case.
#[tokio::test]
async fn user_names_are_unique_whatever_their_case() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let users = format!("{}/api/v1/users", a.url);
        let (status, body) = post(
            &users,
            Some(&admin),
            json!({"username": "ADMIN", "password": "mauve lantern 42", "role": "viewer"}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{}: {body}", db.engine);
        assert_eq!(error_code(&body), "user_exists");
        let r = attempt(&client(), &a.url, "Admin", ADMIN_PASSWORD).await;
        assert_eq!(r.status(), 200, "{}", db.engine);
        a.stop().await;
    }
}

/// One password policy: the API refuses blanks, short and common ones, and
/// a node refuses to start with a weak configured admin password.
#[tokio::test]
async fn weak_passwords_are_refused_by_the_api_and_at_start() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let users = format!("{}/api/v1/users", a.url);
        for weak in ["          ", "a", "password1234", "eleven char"] {
            let (status, body) = post(
                &users,
                Some(&admin),
                json!({"username": "weak", "password": weak, "role": "viewer"}),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{weak:?}: {body}");
            assert_eq!(error_code(&body), "invalid_user");
        }
        a.stop().await;

        let other = testkit::databases().await.remove(0);
        let mut config = testkit::config(&other, "node-weak", NodeRole::Active);
        config.admin_password = Some(Secret::new("a"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = server::Node::start(listener, config).await;
        let error = refused.err().expect("a weak admin password stops the node");
        assert!(error.to_string().contains("admin password"), "{error}");
    }
}

/// An admin cannot demote themselves (another admin can), as the README
/// says.
#[tokio::test]
async fn an_admin_cannot_demote_themselves() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let other = common::user_session(&a.url, &admin, "second", "admin").await;
        let response = client()
            .put(format!("{}/api/v1/users/admin/role", a.url))
            .header(COOKIE, &admin)
            .json(&json!({"role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CONFLICT, "{}", db.engine);
        let response = client()
            .put(format!("{}/api/v1/users/admin/role", a.url))
            .header(COOKIE, &other)
            .json(&json!({"role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", db.engine);
        a.stop().await;
    }
}

/// The cross-site guard compares `Origin` with the cluster's node URLs,
/// scheme included; a `Host` header an attacker chose proves nothing.
#[tokio::test]
async fn the_cross_site_guard_ignores_the_host_header_and_checks_the_scheme() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let b = TestNode::start(testkit::config(&db, "node-b", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        let logout = |origin: String, host: Option<&'static str>| {
            let mut request = client()
                .post(format!("{}/api/v1/auth/logout", a.url))
                .header(COOKIE, &admin)
                .header(ORIGIN, origin);
            if let Some(host) = host {
                request = request.header("host", host);
            }
            request.send()
        };
        let evil = logout("http://evil.example".into(), Some("evil.example")).await;
        assert_eq!(evil.unwrap().status(), 403, "{}", db.engine);
        let https = a.url.replace("http://", "https://");
        assert_eq!(logout(https, None).await.unwrap().status(), 403);
        // Another node of the cluster is one of ours.
        assert_eq!(logout(b.url.clone(), None).await.unwrap().status(), 204);
        a.stop().await;
        b.stop().await;
    }
}

/// Headers on every answer: no framing, no sniffing, no referrer, and
/// signed-in answers are not cached; an over-large body under `/api` gets
/// a JSON error like every other.
#[tokio::test]
async fn answers_carry_security_headers_and_api_errors_stay_json() {
    for db in testkit::databases().await {
        let a = TestNode::start(testkit::config(&db, "node-a", NodeRole::Active)).await;
        let admin = login(&a.url).await;
        for path in ["/api/v1/me", "/nodes", "/login"] {
            let response = client()
                .get(format!("{}{path}", a.url))
                .header(COOKIE, &admin)
                .send()
                .await
                .unwrap();
            let h = response.headers();
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "same-origin");
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
        let product = common::products::register(&a.url, &uuid::Uuid::new_v4().to_string(), None)
            .await
            .1;
        let response = client()
            .post(format!(
                "{}/api/v1/products/{}/handshake",
                a.url,
                product["product_id"].as_str().unwrap()
            ))
            .bearer_auth(product["key"].as_str().unwrap())
            .body(vec![b' '; 100 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            db.engine
        );
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "body_too_large");
        a.stop().await;
    }
}
