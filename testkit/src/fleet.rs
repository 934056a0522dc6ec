//! A fleet's history written straight into a database: products, their
//! status changes, commands and logs, the same for a seed on both engines
//! (investigation tests and benchmarks).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use server::db::Db;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub products: usize,
    pub changes_per_product: usize,
    pub commands_per_product: usize,
    pub logs_per_product: usize,
    pub seed: u64,
    /// The generated times lie in the ten days before this.
    pub now_ms: i64,
}

/// Names that try the query language's escaping: quotes, SQL, LIKE
/// wildcards, case, non-ASCII.
const ODD_NAMES: &[&str] = &[
    "a%b",
    "axb",
    "a_b",
    "O'Brien",
    "'; DROP TABLE products; --",
    "x\"y",
    "back\\slash",
    "naïve",
    "ÉCOLE",
    "Web-01",
    "web-02",
    "/* comment */",
    "日本",
];

use query::registry::{COMMAND_STATES as STATES, PRODUCT_STATUS as STATUSES};

const DAY: i64 = 86_400_000;

/// The UUID of product `i`.
pub fn product_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// Rows per INSERT: under both engines' limits on bound parameters.
const BATCH: usize = 400;

async fn insert(
    db: &Db,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(BATCH) {
        let width = columns.len();
        let values = (0..chunk.len())
            .map(|r| {
                let params = (1..=width)
                    .map(|c| format!("${}", r * width + c))
                    .collect::<Vec<_>>();
                format!("({})", params.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {values}",
            columns.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for v in chunk.iter().flatten() {
            q = match v {
                Value::Text(s) => q.bind(s.clone()),
                Value::Int(n) => q.bind(*n),
                Value::NullText => q.bind(None::<String>),
                Value::NullInt => q.bind(None::<i64>),
            };
        }
        q.execute(db.pool()).await?;
    }
    Ok(())
}

/// A cell of a generated row.
#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Int(i64),
    NullText,
    NullInt,
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Writes the fleet. The database must be migrated and hold no products.
pub async fn fill(db: &Db, f: &Fleet) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(f.seed);
    let mut products = Vec::with_capacity(f.products);
    for i in 0..f.products {
        let name = ODD_NAMES.get(i).map_or_else(
            || format!("{}-{i:05}", ["web", "db", "fw", "nas"][i % 4]),
            |n| n.to_string(),
        );
        let seen = rng
            .gen_bool(0.9)
            .then(|| f.now_ms - rng.gen_range(0..10 * DAY));
        products.push(vec![
            text(product_id(i)),
            text(name),
            text(*["firewall", "router", "storage"].choose(&mut rng).unwrap()),
            text(format!("{}.{}", rng.gen_range(1..4), rng.gen_range(0..10))),
            if rng.gen_bool(0.3) {
                text("http://127.0.0.1:9/cb")
            } else {
                Value::NullText
            },
            text("00"),
            text("00"),
            text(*STATUSES.choose(&mut rng).unwrap()),
            if rng.gen_bool(0.8) {
                text(*["udp", "http"].choose(&mut rng).unwrap())
            } else {
                Value::NullText
            },
            if rng.gen_bool(0.8) {
                text(*["one_way", "two_way"].choose(&mut rng).unwrap())
            } else {
                Value::NullText
            },
            Value::Int(f.now_ms - 20 * DAY + rng.gen_range(0..DAY)),
            seen.map_or(Value::NullInt, Value::Int),
            Value::Int(*[30_000, 60_000, 90_000].choose(&mut rng).unwrap()),
            if rng.gen_bool(0.9) {
                text(*["node-a", "node-b", "node-c"].choose(&mut rng).unwrap())
            } else {
                Value::NullText
            },
        ]);
    }
    insert(
        db,
        "products",
        &[
            "id",
            "name",
            "product_type",
            "version",
            "callback_url",
            "product_key",
            "nonce",
            "status",
            "transport",
            "mode",
            "registered_at",
            "last_seen",
            "offline_after_ms",
            "home_node",
        ],
        products,
    )
    .await?;

    let mut changes = Vec::new();
    for i in 0..f.products {
        for _ in 0..f.changes_per_product {
            let at = f.now_ms - rng.gen_range(0..10 * DAY);
            changes.push(vec![
                text(product_id(i)),
                text(*STATUSES.choose(&mut rng).unwrap()),
                text(*STATUSES.choose(&mut rng).unwrap()),
                Value::Int(at),
                Value::Int(at + rng.gen_range(0..5_000)),
                text(
                    *["timeout", "heartbeat", "registered"]
                        .choose(&mut rng)
                        .unwrap(),
                ),
            ]);
        }
    }
    insert(
        db,
        "product_transitions",
        &[
            "product_id",
            "from_status",
            "to_status",
            "at",
            "recorded_at",
            "cause",
        ],
        changes,
    )
    .await?;

    let mut commands = Vec::new();
    for i in 0..f.products {
        for c in 0..f.commands_per_product {
            let created = f.now_ms - rng.gen_range(0..10 * DAY);
            let state = *STATES.choose(&mut rng).unwrap();
            let ended = matches!(state, "succeeded" | "failed" | "expired" | "dead");
            commands.push(vec![
                text(format!("10000000-0000-4000-8000-{:012x}", i * 1000 + c)),
                text(product_id(i)),
                text(*["reboot", "ping", "update"].choose(&mut rng).unwrap()),
                text("{}"),
                text(state),
                Value::Int(created),
                text(*["alice", "bob", "admin"].choose(&mut rng).unwrap()),
                text(*["node-a", "node-b"].choose(&mut rng).unwrap()),
                Value::Int(created + DAY),
                Value::Int(rng.gen_range(0..4)),
                Value::Int(5),
                Value::Int(created),
                if ended {
                    text(
                        *["ok", "100% done", "failed: disk_full"]
                            .choose(&mut rng)
                            .unwrap(),
                    )
                } else {
                    Value::NullText
                },
                if ended {
                    Value::Int(created + rng.gen_range(0..60_000))
                } else {
                    Value::NullInt
                },
                Value::Int(created),
            ]);
        }
    }
    insert(
        db,
        "commands",
        &[
            "id",
            "product_id",
            "kind",
            "args",
            "state",
            "created_at",
            "created_by",
            "created_on",
            "expires_at",
            "attempts",
            "max_attempts",
            "ready_at",
            "output",
            "finished_at",
            "updated_at",
        ],
        commands,
    )
    .await?;

    let mut logs = Vec::new();
    for i in 0..f.products {
        for _ in 0..f.logs_per_product {
            let at = f.now_ms - rng.gen_range(0..10 * DAY);
            logs.push(vec![
                text(product_id(i)),
                Value::Int(at),
                text(*["info", "warn", "error"].choose(&mut rng).unwrap()),
                text(
                    *[
                        "disk 91% full",
                        "link up",
                        "link_down eth0",
                        "reboot requested",
                        "it's \"fine\"",
                    ]
                    .choose(&mut rng)
                    .unwrap(),
                ),
                Value::Int(at + rng.gen_range(0..2_000)),
                text(*["node-a", "node-b"].choose(&mut rng).unwrap()),
            ]);
        }
    }
    insert(
        db,
        "product_logs",
        &[
            "product_id",
            "at",
            "level",
            "message",
            "received_at",
            "node",
        ],
        logs,
    )
    .await?;
    Ok(())
}
