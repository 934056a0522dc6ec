//! What the benchmarks share: settings from the environment, percentiles,
//! an admin session, and wrk runs.

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

/// Registers `count` products named `<prefix>-<n>` on the node at `url`;
/// their `(id, key)` pairs.
pub async fn register_fleet(url: &str, prefix: &str, count: usize) -> Vec<(String, String)> {
    let client = reqwest::Client::new();
    let mut fleet = Vec::with_capacity(count);
    for i in 0..count {
        let reply = crate::register_product(&client, url, &format!("{prefix}-{i}"), None).await;
        fleet.push((
            reply["product_id"].as_str().expect("an id").to_owned(),
            reply["key"].as_str().expect("a key").to_owned(),
        ));
    }
    fleet
}

/// A wrk script sending the heartbeats of `fleet` (`(id, key)` pairs), a
/// random product per request, with a 45-byte activity payload.
pub fn heartbeat_script(fleet: &[(String, String)]) -> String {
    let ids: Vec<String> = fleet.iter().map(|(id, _)| format!("\"{id}\"")).collect();
    let keys: Vec<String> = fleet.iter().map(|(_, key)| format!("\"{key}\"")).collect();
    format!(
        "local ids = {{{}}}\nlocal keys = {{{}}}\n\
         local body = '{{\"payload\":{{\"load\":0.42,\"uptime_s\":86400}}}}'\n\
         request = function()\n  local i = math.random(#ids)\n\
         return wrk.format(\"POST\", \"/api/v1/products/\" .. ids[i] .. \"/heartbeat\",\n\
         {{[\"Content-Type\"] = \"application/json\", [\"Authorization\"] = \"Bearer \" .. keys[i]}}, body)\nend\n",
        ids.join(","),
        keys.join(",")
    )
}

/// What one wrk run measured.
#[derive(Clone, Copy, Debug)]
pub struct Wrk {
    pub requests_per_s: f64,
    pub non_2xx: u64,
}

/// Runs `wrk -t2 -c<connections> -d<seconds>s <extra> <url>` (blocking).
pub fn wrk(url: &str, connections: u32, seconds: u32, extra: &[&str]) -> Wrk {
    let out = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(extra)
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    Wrk {
        requests_per_s: find("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        non_2xx: find("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

/// The median of `values`.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
