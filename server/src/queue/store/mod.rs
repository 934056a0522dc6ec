//! All SQL of the command queue: the usual path here (enqueue, claim,
//! notified, deliver, complete), releases and rescue in [`detours`], what
//! the console reads in [`views`]. Every
//! operation takes a batch, so a busy queue costs a few statements per
//! batch, not per command. Batches that wait for rows another batch holds
//! (results) change them in id order; the others (claims, fetches,
//! rescues) skip held rows instead of waiting
//! ([`oldest_per_product`]); notifications only add
//! timeline rows, so they lock nothing. The commands counter of the
//! state string is moved by the callers, after commit (see
//! `cluster::bumper`).

mod detours;
mod dialect;
mod views;
pub use detours::*;
pub use views::*;

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::{fate, CommandState, NewCommand, Routing};
use crate::db::{Db, StoreError};
use dialect::{oldest_per_product, skip_locked};

/// A batch as the one JSON parameter of a statement.
fn json(rows: impl serde::Serialize) -> String {
    serde_json::to_string(&rows).expect("plain strings serialize")
}

/// Queues commands (ids chosen by the caller) on behalf of `node`. Their
/// "queued" entry of the timeline is the row's own `created_*` columns.
/// Each takes its product's mode (`wake` for two-way products, see
/// migration 0014); a command for a product that does not exist fails the
/// whole batch.
pub async fn enqueue(
    db: &Db,
    node: &str,
    commands: &[(String, NewCommand)],
    ttl_ms: i64,
    max_attempts: i64,
) -> Result<(), StoreError> {
    if commands.is_empty() {
        return Ok(());
    }
    let d = db.dialect();
    let now = d.now_ms();
    let rows: Vec<serde_json::Value> = commands
        .iter()
        .map(|(id, c)| {
            serde_json::json!({
                "cid": id, "product": c.product_id, "kind": c.kind,
                "args": c.args, "creator": c.created_by,
            })
        })
        .collect();
    let sql = format!(
        "INSERT INTO commands (id, product_id, kind, args, state, created_at, created_by, \
         created_on, expires_at, attempts, max_attempts, ready_at, updated_at, wake) \
         SELECT v.cid, v.product, v.kind, v.args, 'queued', {now}, v.creator, $2, {now} + $3, 0, \
         $4, {now}, {now}, CASE WHEN p.mode = 'two_way' THEN 1 ELSE 0 END \
         FROM {} JOIN products p ON p.id = v.product{}",
        d.json_table(1, "v", &["cid", "product", "kind", "args", "creator"]),
        d.lock_shared("p")
    );
    let mut tx = db.begin_write().await?;
    let queued = sqlx::query(&sql)
        .bind(json(rows))
        .bind(node)
        .bind(ttl_ms)
        .bind(max_attempts)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if queued != commands.len() as u64 {
        // Dropped, so the batch rolls back.
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// A command this node claimed, with what it needs to wake the product.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub product_id: String,
    pub callback_url: Option<String>,
    /// Where the product listens for wake datagrams, if it does.
    pub udp_port: Option<u16>,
    pub product_key: String,
    /// Attempts including this claim.
    pub attempts: i64,
    pub max_attempts: i64,
    /// Taken past the affinity timeout from a home node that is still
    /// operational (that node may well reach the product).
    pub stolen: bool,
}

/// The timings a claim is judged by.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRules {
    pub routing: Routing,
    pub affinity_ms: i64,
    pub node_offline_after_ms: i64,
    pub lease_ms: i64,
}

/// Claims up to `limit` queued commands of two-way products for `node`:
/// its own products' at once, others' only when their home node is
/// non-operational or let them wait past the affinity timeout (with
/// [`Routing::Affinity`]); any (with [`Routing::Shared`]).
pub async fn claim(
    db: &Db,
    node: &str,
    rules: ClaimRules,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let home_up = format!(
        "EXISTS (SELECT 1 FROM nodes n WHERE n.name = p.home_node AND n.down_since IS NULL \
         AND n.last_seen >= {now} - $1)"
    );
    let routing = match rules.routing {
        Routing::Affinity => format!(
            "AND (p.home_node = $3 OR p.home_node IS NULL OR c.ready_at <= {now} - $4 OR NOT {home_up})"
        ),
        Routing::Shared => String::new(),
    };
    let sql = format!(
        "SELECT c.id, c.product_id, c.attempts, c.max_attempts, p.callback_url, p.udp_port, \
         p.product_key, p.home_node, CASE WHEN {home_up} THEN 1 ELSE 0 END AS home_up \
         FROM commands c JOIN products p ON p.id = c.product_id \
         WHERE c.state = 'queued' AND c.wake = 1 AND c.ready_at <= {now} \
         AND c.expires_at > {now} AND p.mode = 'two_way' {routing} \
         ORDER BY c.ready_at LIMIT $2{}",
        skip_locked(d)
    );
    let mut tx = db.begin_write().await?;
    let mut pick = sqlx::query(&sql)
        .bind(rules.node_offline_after_ms)
        .bind(limit);
    if rules.routing == Routing::Affinity {
        pick = pick.bind(node).bind(rules.affinity_ms);
    }
    let rows = pick.fetch_all(&mut *tx).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(vec![]);
    }
    let mut claimed = Vec::with_capacity(rows.len());
    let mut notes = Vec::with_capacity(rows.len());
    for row in &rows {
        let home: Option<String> = row.try_get("home_node")?;
        let home_up = row.try_get::<i64, _>("home_up")? == 1;
        let (note, stolen) = fate::claimed(
            rules.routing,
            node,
            home.as_deref(),
            home_up,
            rules.affinity_ms,
        );
        notes.push(note);
        claimed.push(Claimed {
            id: row.try_get("id")?,
            product_id: row.try_get("product_id")?,
            callback_url: row.try_get("callback_url")?,
            udp_port: row
                .try_get::<Option<i64>, _>("udp_port")?
                .and_then(|p| u16::try_from(p).ok()),
            product_key: row.try_get("product_key")?,
            attempts: row.try_get::<i64, _>("attempts")? + 1,
            max_attempts: row.try_get("max_attempts")?,
            stolen,
        });
    }
    let rows: Vec<serde_json::Value> = claimed
        .iter()
        .zip(notes)
        .map(|(c, note)| serde_json::json!({"cid": c.id, "note": note}))
        .collect();
    let sql = format!(
        "UPDATE commands SET state = 'dispatched', holder = $1, lease_until = {now} + $2, \
         attempts = attempts + 1, updated_at = {now}, claimed_at = {now}, claimed_by = $1, \
         claim_note = v.note FROM {} WHERE commands.id = v.cid",
        d.json_table(3, "v", &["cid", "note"])
    );
    sqlx::query(&sql)
        .bind(node)
        .bind(rules.lease_ms)
        .bind(json(rows))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// A product woken for one of its commands.
#[derive(Clone, Debug)]
pub struct Notice {
    pub command: String,
    /// How it was woken (for the timeline).
    pub how: String,
    /// When the product answered.
    pub answered: std::time::Instant,
}

/// Notes on the timelines that `node` woke the products of these commands,
/// at the time each answered, in one statement. The command's row is not
/// touched: its state does not change, so the commands counter does not
/// move (the product's fetch moves it a moment later), and nothing waits
/// for a fetch or a result that holds the row.
pub async fn notified_many(db: &Db, node: &str, notices: &[Notice]) -> Result<(), StoreError> {
    if notices.is_empty() {
        return Ok(());
    }
    let d = db.dialect();
    let rows: Vec<serde_json::Value> = notices
        .iter()
        .map(|n| {
            serde_json::json!({
                "cid": n.command,
                "note": fate::notified(&n.how),
                // The database's clock dates the row: how long ago, by ours.
                "ago": n.answered.elapsed().as_millis().to_string(),
            })
        })
        .collect();
    let sql = format!(
        "INSERT INTO command_events (command_id, at, node, state, note) \
         SELECT v.cid, {} - CAST(v.ago AS BIGINT), $1, 'dispatched', v.note FROM {}",
        d.now_ms(),
        d.json_table(2, "v", &["cid", "note", "ago"])
    );
    let mut tx = db.begin_write().await?;
    sqlx::query(&sql)
        .bind(node)
        .bind(json(rows))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A command as a product receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Deliverable {
    pub id: String,
    pub kind: String,
    pub args: String,
}

/// Whether any command waits for the product; a read without a write lock,
/// because most polls find nothing.
pub async fn waiting(db: &Db, product: &str) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM commands c WHERE c.product_id = $1 AND c.state IN ('queued', 'dispatched') \
         AND c.expires_at > {now} LIMIT 1"
    ))
    .bind(product)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Hands each product its waiting commands (queued or dispatched, oldest
/// first, at most `limit` each): they become `delivered`, held by `node`
/// for `lease_ms`; a result must arrive before that or they are queued
/// again. One transaction for all the products.
pub async fn deliver_many(
    db: &Db,
    node: &str,
    products: &[String],
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<Vec<Deliverable>>, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut out: Vec<Vec<Deliverable>> = vec![Vec::new(); products.len()];
    if products.is_empty() {
        return Ok(out);
    }
    let slots: HashMap<&str, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    // One statement: the oldest `limit` waiting commands of each product
    // become `delivered`. Rows another transaction is changing are left for
    // it: a fetch elsewhere hands them over; a claim wakes the product
    // again; a rescue moves the commands counter, which ends long polls.
    let waiting = "state IN ('queued', 'dispatched')";
    let (held, locked) =
        oldest_per_product(d, 3, 4, &format!("c.{waiting} AND c.expires_at > {now}"));
    let sql = format!(
        "{held}UPDATE commands SET attempts = attempts + CASE WHEN state = 'queued' THEN 1 ELSE 0 END, \
         state = 'delivered', holder = $1, lease_until = {now} + $2, delivered_at = {now}, \
         delivered_by = $1, updated_at = {now} {locked} \
         RETURNING commands.id, commands.product_id, commands.kind, commands.args, \
         commands.created_at"
    );
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(&sql)
        .bind(node)
        .bind(lease_ms)
        .bind(json(products))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut handed: Vec<(usize, i64, Deliverable)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let product: String = row.try_get("product_id")?;
        let Some(&slot) = slots.get(product.as_str()) else {
            continue;
        };
        handed.push((
            slot,
            row.try_get("created_at")?,
            Deliverable {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                args: row.try_get("args")?,
            },
        ));
    }
    handed.sort_by(|a, b| (a.1, &a.2.id).cmp(&(b.1, &b.2.id)));
    for (slot, _, c) in handed {
        out[slot].push(c);
    }
    Ok(out)
}

/// What a posted result did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    Recorded,
    /// The command had ended already; nothing changed.
    AlreadyFinal(CommandState),
    /// The command is the product's but was never handed to it (still
    /// queued or only dispatched): a result for it cannot be genuine.
    NotDelivered,
}

/// A product's result for one of its commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub product: String,
    pub command: String,
    pub outcome: CommandState,
    pub output: String,
}

/// Records results, all in one transaction. Each gets its own answer:
/// `None` when the command is not that product's. Only a command handed to
/// its product (`delivered`) takes a result.
pub async fn complete_many(
    db: &Db,
    node: &str,
    acks: &[Ack],
) -> Result<Vec<Option<Completion>>, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut out = vec![None; acks.len()];
    if acks.is_empty() {
        return Ok(out);
    }
    // The first result for a command (from its product) in the batch
    // counts; a repeat finds it final, as it would in a later batch.
    let mut firsts: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, a) in acks.iter().enumerate() {
        firsts
            .entry((a.command.as_str(), a.product.as_str()))
            .or_insert(i);
    }
    let rows: Vec<serde_json::Value> = firsts
        .values()
        .map(|&i| {
            let a = &acks[i];
            serde_json::json!({
                "cid": a.command, "product": a.product,
                "state": a.outcome.as_str(), "output": a.output,
            })
        })
        .collect();
    // The rows are changed in id order (the batch sorted, each row found by
    // its id): two batches over the same commands (a repeated result)
    // wait for each other in one order, never in a circle. Fetches and
    // rescues skip rows held here rather than wait.
    let open = "state = 'delivered'";
    let sql = format!(
        "UPDATE commands SET state = v.state, output = v.output, lease_until = NULL, \
         finished_at = {now}, finished_by = $1, holder = COALESCE(holder, $1), updated_at = {now} \
         FROM (SELECT v.cid, v.product, v.state, v.output FROM {} ORDER BY v.cid) AS v \
         WHERE commands.id = v.cid AND commands.product_id = v.product AND commands.{open} \
         RETURNING commands.id, commands.product_id",
        d.json_table(2, "v", &["cid", "product", "state", "output"])
    );
    let mut tx = db.begin_write().await?;
    let recorded: HashSet<(String, String)> = sqlx::query_as(&sql)
        .bind(node)
        .bind(json(rows))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let mut others: Vec<&str> = Vec::new();
    for (i, a) in acks.iter().enumerate() {
        let first = firsts[&(a.command.as_str(), a.product.as_str())] == i;
        if first && recorded.contains(&(a.command.clone(), a.product.clone())) {
            out[i] = Some(Completion::Recorded);
        } else {
            others.push(&a.command);
        }
    }
    if !others.is_empty() {
        // Repeats, results for ended or undelivered commands, and
        // strangers' ids.
        let sql = format!(
            "SELECT id, product_id, state FROM commands WHERE id IN ({})",
            d.json_texts(1)
        );
        let mut current: HashMap<String, (String, String)> = HashMap::new();
        for row in sqlx::query(&sql)
            .bind(json(&others))
            .fetch_all(&mut *tx)
            .await?
        {
            current.insert(
                row.try_get("id")?,
                (row.try_get("product_id")?, row.try_get("state")?),
            );
        }
        for (i, a) in acks.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            out[i] = match current.get(&a.command) {
                Some((product, state)) if *product == a.product => match CommandState::parse(state)
                {
                    Some(s) if s.is_final() => Some(Completion::AlreadyFinal(s)),
                    Some(_) => Some(Completion::NotDelivered),
                    None => None,
                },
                _ => None,
            };
        }
    }
    tx.commit().await?;
    Ok(out)
}
