//! What the benchmarks share: settings from the environment, percentiles
//! and an admin session.

use serde_json::json;

use crate::ADMIN_PASSWORD;

/// The number in environment variable `name`, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` percentile (0 to 1) of sorted figures, by nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Signs in as the admin of a test node; the `Cookie` header value.
pub async fn admin_session(url: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .to_owned();
    cookie.split(';').next().unwrap_or_default().to_owned()
}
