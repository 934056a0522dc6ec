//! Helpers shared by the integration tests: an HTTP client and sign-in.
#![allow(dead_code)]

pub mod alerts;
pub mod products;
pub mod queue;
pub mod standalone;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use testkit::ADMIN_PASSWORD;

/// A client that neither follows redirects nor keeps cookies, so tests see
/// exactly what the node answered. One for the whole test binary: building
/// one reads the system's root certificates, which thousands of calls
/// would repeat.
pub fn client() -> Client {
    static CLIENT: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client")
        })
        .clone()
}

/// Signs in as the bootstrap admin; returns the `Cookie` header value.
pub async fn login(node: &str) -> String {
    let response = client()
        .post(format!("{node}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK, "login on {node}");
    session_cookie(&response).expect("login sets the session cookie")
}

/// The `name=value` part of the session cookie a response set.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vigil_session=") && !v.starts_with("vigil_session=;"))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// GET with a session; returns status and JSON body (or `Value::Null`).
pub async fn get(url: &str, cookie: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The error code of a JSON error body.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// POST JSON with a session; returns status and JSON body (or `Value::Null`).
pub async fn post(url: &str, cookie: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = client().post(url).json(&body);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Adds a console user through the admin API and signs them in; returns
/// their `Cookie` header value.
pub async fn user_session(node: &str, admin_cookie: &str, username: &str, role: &str) -> String {
    let password = format!("{username}-password-long");
    let (status, body) = post(
        &format!("{node}/api/v1/users"),
        Some(admin_cookie),
        json!({"username": username, "password": password, "role": role}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "add user {username}: {body}");
    let response = client()
        .post(format!("{node}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK, "login as {username}");
    session_cookie(&response).expect("login sets the session cookie")
}

/// The value of one series of the node's `/metrics` (its name with any
/// labels, as printed), if present.
pub async fn metric_value(node: &str, series: &str) -> Option<u64> {
    let text = client()
        .get(format!("{node}/metrics"))
        .send()
        .await
        .expect("metrics request")
        .text()
        .await
        .expect("metrics text");
    metric_in(&text, series)
}

/// The value of one series in a `/metrics` text, if present.
pub fn metric_in(text: &str, series: &str) -> Option<u64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
}
