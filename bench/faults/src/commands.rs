//! The command load: `ping` commands queued at a steady rate to the agents'
//! products through the console API, round-robin over the nodes; a refused
//! or unanswered request moves to the next node. Every command the API
//! accepted (201) is recorded: each must reach a final state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::watch;

#[derive(Clone, Default)]
pub struct Record {
    /// Accepted commands: id and when the 201 came back.
    pub accepted: Vec<(String, Instant)>,
    /// Requests that got no 201 from any node (not commands: never queued).
    pub refused: u64,
    /// Answers other than 201, by status and error code ("no answer" when
    /// the request failed or timed out).
    pub errors: BTreeMap<String, u64>,
}

/// Queues `per_minute` commands a minute to `products` until `stop`.
pub fn start(
    per_minute: u32,
    nodes: Vec<String>,
    cookie: String,
    products: Vec<String>,
    stop: watch::Receiver<bool>,
) -> Arc<Mutex<Record>> {
    let record = Arc::new(Mutex::new(Record::default()));
    let client = reqwest::Client::new();
    let every = Duration::from_secs(60) / per_minute.max(1);
    let turn = Arc::new(AtomicU64::new(0));
    let out = record.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n = 0usize;
        while !*stop.borrow() {
            tick.tick().await;
            let product = products[n % products.len()].clone();
            n += 1;
            let (client, nodes, cookie, record, turn) = (
                client.clone(),
                nodes.clone(),
                cookie.clone(),
                record.clone(),
                turn.clone(),
            );
            // Each request in its own task: a hung node must not slow the
            // rate the others see.
            tokio::spawn(async move {
                let first = turn.fetch_add(1, Ordering::Relaxed) as usize;
                for k in 0..nodes.len() {
                    let node = &nodes[(first + k) % nodes.len()];
                    let reply = client
                        .post(format!("{node}/api/v1/commands"))
                        .header("Cookie", &cookie)
                        .json(&json!({"product_id": product, "kind": "ping", "args": {}}))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    let (status, body) = match reply {
                        Ok(r) => (r.status().as_u16(), r.json::<Value>().await.ok()),
                        Err(_) => (0, None),
                    };
                    let mut record = record.lock().expect("record");
                    match (status, body.as_ref().and_then(|b| b["id"].as_str())) {
                        (201, Some(id)) => {
                            record.accepted.push((id.to_owned(), Instant::now()));
                            return;
                        }
                        (0, _) => *record.errors.entry("no answer".into()).or_default() += 1,
                        (status, _) => {
                            let code = body
                                .as_ref()
                                .and_then(|b| b["error"]["code"].as_str())
                                .unwrap_or("(no JSON error)");
                            *record.errors.entry(format!("{status} {code}")).or_default() += 1;
                        }
                    }
                }
                record.lock().expect("record").refused += 1;
            });
        }
    });
    out
}

impl Record {
    /// The first accepted command after `at`: a write that went through.
    pub fn first_after(&self, at: Instant) -> Option<Instant> {
        self.accepted
            .iter()
            .map(|(_, t)| *t)
            .filter(|t| *t >= at)
            .min()
    }
}
