//! The shared command queue, routed by node affinity.
//!
//! Operators queue commands for products. Each product has a **home node**
//! (the node that most recently received liveness from it directly, see
//! `products`). For two-way products the home node claims the item, wakes
//! the product (a signed HTTP callback) and the product fetches it; another
//! node may claim it only when the home node is non-operational or has left
//! it unclaimed past the affinity timeout. A node that cannot reach the
//! product releases the item with backoff instead of failing it. One-way
//! products receive their commands when they poll, on any node.
//!
//! Claims are leases: an item held by a node that dies goes back to the
//! queue when its lease runs out ([`rescue`], a cluster-wide singleton).
//!
//! - [`Queue`]: the capability, and the one way to queue commands;
//!   [`store`]: all SQL of the queue; [`dispatch`]: each node's claim and
//!   notify loop; [`handlers`]: the console's API; [`product_api`]: the
//!   products' fetch and result.

pub mod batch;
pub mod dispatch;
pub mod fate;
pub mod handlers;
pub mod product_api;
pub mod rescue;
mod state;
pub mod store;

pub use state::Queue;

use std::time::Duration;

/// The group-commit writers of products' fetches and results, and of the
/// dispatcher's notifications.
#[derive(Clone)]
pub struct Io {
    pub deliveries: batch::Batcher<String, Result<Vec<store::Deliverable>, String>>,
    pub acks: batch::Batcher<store::Ack, Result<Option<store::Completion>, String>>,
    pub notices: batch::Batcher<store::Notice, Result<(), String>>,
}

/// Most commands handed over by one fetch.
pub const FETCH_LIMIT: usize = 32;

impl Io {
    /// Starts the writers for `node`.
    pub fn start(
        db: crate::db::Db,
        node: String,
        lease: Duration,
    ) -> (Self, [tokio::task::JoinHandle<()>; 3]) {
        let lease_ms = lease.as_millis() as i64;
        let (d, n) = (db.clone(), node.clone());
        let (deliveries, deliveries_task) = batch::Batcher::start(move |products: Vec<String>| {
            let (db, node) = (d.clone(), n.clone());
            async move {
                let count = products.len();
                match store::deliver_many(&db, &node, &products, lease_ms, FETCH_LIMIT).await {
                    Ok(lists) => lists.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e.to_string()); count],
                }
            }
        });
        let (d, n) = (db.clone(), node.clone());
        let (notices, notices_task) = batch::Batcher::start(move |notices: Vec<store::Notice>| {
            let (db, node) = (d.clone(), n.clone());
            async move {
                let answer = store::notified_many(&db, &node, &notices)
                    .await
                    .map_err(|e| e.to_string());
                vec![answer; notices.len()]
            }
        });
        let (acks, acks_task) = batch::Batcher::start(move |acks: Vec<store::Ack>| {
            let (db, node) = (db.clone(), node.clone());
            async move {
                match store::complete_many(&db, &node, &acks).await {
                    Ok(answers) => answers.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e.to_string()); acks.len()],
                }
            }
        });
        (
            Self {
                deliveries,
                acks,
                notices,
            },
            [deliveries_task, acks_task, notices_task],
        )
    }
}

/// Largest `args` object of a command.
pub const MAX_ARGS_BYTES: usize = 8 * 1024;
/// Largest result output kept.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;

pub use crate::config::Routing;
pub use protocol::api::CommandState;

/// The queue's timings and limits (from the node configuration).
#[derive(Clone, Debug)]
pub struct QueueConfig {
    pub routing: Routing,
    /// How long the home node has to claim an item before others may.
    pub affinity_timeout: Duration,
    /// How long a claim or a delivery holds an item.
    pub lease: Duration,
    /// Attempts (claims and deliveries) before an item is `dead`.
    pub max_attempts: u32,
    /// A command still queued by then is `expired`; one handed over keeps
    /// its lease, and expires if that runs out past this time.
    pub ttl: Duration,
    /// First retry delay; doubles each attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl QueueConfig {
    /// The queue's part of the node configuration.
    pub fn of(c: &crate::config::Config) -> Self {
        Self {
            routing: c.queue_routing,
            affinity_timeout: c.queue_affinity_timeout,
            lease: c.queue_lease,
            max_attempts: c.queue_max_attempts,
            ttl: c.command_ttl,
            backoff_base: c.queue_backoff_base,
            backoff_max: c.queue_backoff_max,
        }
    }
}

/// Delay before retry number `attempt` (1 for the first retry): exponential
/// from `base`, capped at `max`, with "equal jitter" (half fixed, half
/// random, `unit` in [0, 1)) so that items released together spread out.
pub fn backoff(attempt: u32, base: Duration, max: Duration, unit: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max);
    capped / 2 + capped.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

/// A command as an operator asks for it; checked by [`validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewCommand {
    pub product_id: String,
    pub kind: String,
    /// A JSON object, as text.
    pub args: String,
    pub created_by: String,
}

/// Checks kind and arguments; the message says what is wrong.
pub fn validate(kind: &str, args: &serde_json::Value) -> Result<String, String> {
    let kind_ok = (1..=64).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !kind_ok {
        return Err("kind must be 1 to 64 lowercase letters, digits or _".into());
    }
    let args = match args {
        serde_json::Value::Null => "{}".to_owned(),
        serde_json::Value::Object(_) => args.to_string(),
        _ => return Err("args must be a JSON object".into()),
    };
    if args.len() > MAX_ARGS_BYTES {
        return Err(format!("args must be at most {MAX_ARGS_BYTES} bytes"));
    }
    Ok(args)
}

/// Cuts a result's output to [`MAX_OUTPUT_BYTES`] on a character boundary.
pub fn clip_output(mut output: String) -> String {
    if output.len() > MAX_OUTPUT_BYTES {
        let mut end = MAX_OUTPUT_BYTES;
        while !output.is_char_boundary(end) {
            end -= 1;
        }
        output.truncate(end);
        output.push('…');
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, base, max, 0.999_999).as_millis(), 999);
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(30, base, max, 0.0), Duration::from_secs(30));
        assert!(backoff(30, base, max, 0.5) <= max);
    }

    #[test]
    fn commands_need_a_plain_kind_and_object_args() {
        assert_eq!(validate("ping", &json!(null)).unwrap(), "{}");
        assert_eq!(
            validate("restart_service", &json!({"service": "sshd"})).unwrap(),
            r#"{"service":"sshd"}"#
        );
        assert!(validate("Ping!", &json!({})).is_err());
        assert!(validate("", &json!({})).is_err());
        assert!(validate("ping", &json!([1])).is_err());
        let big = json!({"x": "a".repeat(MAX_ARGS_BYTES)});
        assert!(validate("ping", &big).unwrap_err().contains("at most"));
    }

    #[test]
    fn long_output_is_clipped_on_a_character_boundary() {
        let clipped = clip_output("é".repeat(MAX_OUTPUT_BYTES));
        assert!(clipped.len() <= MAX_OUTPUT_BYTES + '…'.len_utf8());
        assert!(clipped.ends_with('…'));
    }
}
