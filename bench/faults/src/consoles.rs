//! Headless consoles: the browser console's keep-alive loop without the
//! browser. Each long-polls `/api/v1/keepalive` every `INTERVAL`, declares
//! its node down after `RETRY` failures in a row and moves to the first other
//! operational node that answers `/healthz`, as the console does. What is
//! recorded: every stretch without a good reply longer than the console's
//! promise (`interval × retry + 1 s`), and any reply whose state went back.
//! A reply saying the node cannot reach the database is a good reply: the
//! console shows the outage instead of data it presents as current.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

pub const INTERVAL: Duration = Duration::from_secs(2);
pub const RETRY: u32 = 3;

/// The longest a console may go without a good reply.
pub fn promise() -> Duration {
    INTERVAL * RETRY + Duration::from_secs(1)
}

/// A stretch without a good reply, past the promise.
#[derive(Clone, Debug)]
pub struct Stale {
    pub console: usize,
    pub from: Instant,
    pub to: Instant,
    /// The node it was on when the stretch began.
    pub node: String,
}

#[derive(Clone, Default)]
pub struct Record {
    pub stale: Vec<Stale>,
    /// Replies whose state string was behind one seen before.
    pub went_back: u64,
    pub replies: u64,
    /// Replies that said the node could not reach the database (the
    /// console shows that; they are good replies, not stale ones).
    pub database_silent: u64,
    pub moves: u64,
    /// Each console's last good reply.
    pub last_good: Vec<Instant>,
}

/// Starts `count` consoles signed in with `cookie`, spread over `nodes`;
/// they run until `stop` turns true.
pub fn start(
    count: usize,
    nodes: Vec<String>,
    cookie: String,
    stop: watch::Receiver<bool>,
) -> Arc<Mutex<Record>> {
    let record = Arc::new(Mutex::new(Record {
        last_good: vec![Instant::now(); count],
        ..Record::default()
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(count)
        .build()
        .expect("console client");
    for i in 0..count {
        let console = Console {
            i,
            client: client.clone(),
            cookie: cookie.clone(),
            nodes: nodes.clone(),
            current: nodes[i % nodes.len()].clone(),
            record: record.clone(),
        };
        tokio::spawn(console.run(stop.clone()));
    }
    record
}

struct Console {
    i: usize,
    client: reqwest::Client,
    cookie: String,
    /// Every node's URL, refreshed from the replies' `nodes`.
    nodes: Vec<String>,
    current: String,
    record: Arc<Mutex<Record>>,
}

/// The state string's positions as numbers.
fn positions(state: &str) -> Vec<i64> {
    state.split(',').filter_map(|p| p.parse().ok()).collect()
}

impl Console {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Spread the first requests over one interval.
        tokio::time::sleep(INTERVAL.mul_f64(self.i as f64 / 50.0)).await;
        let mut state: Option<String> = None;
        let mut seen: Vec<i64> = Vec::new();
        let mut last_good = Instant::now();
        let mut stale_from_node = self.current.clone();
        let mut failures = 0;
        let mut operational: Vec<String> = self.nodes.clone();
        while !*stop.borrow() {
            let wait = if failures == 0 && state.is_some() {
                INTERVAL
            } else {
                Duration::ZERO
            };
            let grace = (INTERVAL / 3).clamp(Duration::from_millis(300), Duration::from_secs(4));
            let mut url = format!(
                "{}/api/v1/keepalive?watch=all&wait={}",
                self.current,
                wait.as_millis()
            );
            if let Some(s) = &state {
                url.push_str(&format!("&state={s}"));
            }
            let sent = Instant::now();
            let reply = self
                .client
                .get(&url)
                .header("Cookie", &self.cookie)
                .timeout(wait + grace)
                .send()
                .await;
            let body = match reply {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                _ => None,
            };
            let Some(body) = body else {
                failures += 1;
                if failures >= RETRY {
                    self.move_on(&operational).await;
                    failures = 0;
                }
                let next = sent + INTERVAL;
                tokio::select! {
                    _ = tokio::time::sleep_until(next.into()) => {}
                    _ = stop.changed() => {}
                }
                continue;
            };
            failures = 0;
            let now = Instant::now();
            let new_state = body["state"].as_str().unwrap_or_default().to_owned();
            let new = positions(&new_state);
            {
                let mut record = self.record.lock().expect("record");
                record.replies += 1;
                if body
                    .get("database_unreachable_since")
                    .is_some_and(|v| !v.is_null())
                {
                    record.database_silent += 1;
                }
                record.last_good[self.i] = now;
                if seen.iter().zip(&new).any(|(old, new)| new < old) {
                    record.went_back += 1;
                }
                if now - last_good > promise() {
                    record.stale.push(Stale {
                        console: self.i,
                        from: last_good,
                        to: now,
                        node: stale_from_node.clone(),
                    });
                }
            }
            seen = seen
                .iter()
                .zip(&new)
                .map(|(a, b)| *a.max(b))
                .chain(new.iter().skip(seen.len()).copied())
                .collect();
            last_good = now;
            stale_from_node = self.current.clone();
            state = Some(new_state);
            if let Some(list) = body["nodes"].as_array() {
                operational = list
                    .iter()
                    .filter(|n| n["operational"].as_bool() == Some(true))
                    .filter_map(|n| n["url"].as_str().map(str::to_owned))
                    .collect();
                for url in &operational {
                    if !self.nodes.contains(url) {
                        self.nodes.push(url.clone());
                    }
                }
            }
            // At least 200 ms between requests, as the console.
            tokio::time::sleep_until((sent + Duration::from_millis(200)).into()).await;
        }
    }

    /// Moves to the first other operational node that answers `/healthz`
    /// (the last reply's list; every known node when that list is empty).
    async fn move_on(&mut self, operational: &[String]) {
        let candidates: Vec<String> = if operational.iter().any(|u| *u != self.current) {
            operational.to_vec()
        } else {
            self.nodes.clone()
        };
        for url in candidates.iter().filter(|u| **u != self.current) {
            let healthy = self
                .client
                .get(format!("{url}/healthz"))
                .timeout(Duration::from_millis(1500))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                self.current = url.clone();
                self.record.lock().expect("record").moves += 1;
                return;
            }
        }
    }
}
