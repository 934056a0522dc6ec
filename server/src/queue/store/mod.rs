//! All SQL of the command queue: enqueue, claim, release, deliver, complete
//! and rescue (writes here; what the console reads in [`views`]). Every
//! operation takes a batch, so a busy queue costs a few statements per
//! batch, not per command. The commands counter of the state string is
//! moved by the callers, after commit (see `keepalive::bumper`).

mod views;
pub use views::*;

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::{CommandState, NewCommand, Routing};
use crate::db::{Db, Dialect, StoreError};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Clears the columns of the current attempt (claim, notification,
/// fetch), after [`archive`] copied them to the timeline.
const CLEAR_ATTEMPT: &str = "claimed_at = NULL, claimed_by = NULL, claim_note = NULL, \
     notified_at = NULL, notified_by = NULL, notify_note = NULL, delivered_at = NULL, \
     delivered_by = NULL";

/// One change of one command, for the timeline.
pub struct Event<'a> {
    pub command: &'a str,
    pub state: CommandState,
    pub note: String,
}

/// A batch as the one JSON parameter of a statement.
fn json(rows: impl serde::Serialize) -> String {
    serde_json::to_string(&rows).expect("plain strings serialize")
}

/// Writes timeline rows, one statement for all of them.
async fn record(
    d: Dialect,
    tx: &mut Tx,
    node: &str,
    events: &[Event<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::json!({"cid": e.command, "state": e.state.as_str(), "note": e.note}))
        .collect();
    let sql = format!(
        "INSERT INTO command_events (command_id, at, node, state, note) \
         SELECT v.cid, {}, $1, v.state, v.note FROM {}",
        d.now_ms(),
        d.json_table(2, "v", &["cid", "state", "note"])
    );
    sqlx::query(&sql)
        .bind(node)
        .bind(json(rows))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Copies the current attempt of each command (claim, notification, fetch,
/// kept in columns on the usual path) to the timeline, before a change off
/// that path clears them.
async fn archive(d: Dialect, tx: &mut Tx, ids: &[&str]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = d.json_texts(1);
    let sql = format!(
        "INSERT INTO command_events (command_id, at, node, state, note) \
         SELECT id, claimed_at, claimed_by, 'dispatched', claim_note FROM commands \
         WHERE id IN ({list}) AND claimed_at IS NOT NULL \
         UNION ALL SELECT id, notified_at, notified_by, 'dispatched', notify_note FROM commands \
         WHERE id IN ({list}) AND notified_at IS NOT NULL \
         UNION ALL SELECT id, delivered_at, delivered_by, 'delivered', 'fetched by the product' \
         FROM commands WHERE id IN ({list}) AND delivered_at IS NOT NULL"
    );
    sqlx::query(&sql).bind(json(ids)).execute(&mut **tx).await?;
    Ok(())
}

/// Queues commands (ids chosen by the caller) on behalf of `node`. Their
/// "queued" entry of the timeline is the row's own `created_*` columns.
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
         created_on, expires_at, attempts, max_attempts, ready_at, updated_at) \
         SELECT v.cid, v.product, v.kind, v.args, 'queued', {now}, v.creator, $2, {now} + $3, 0, \
         $4, {now}, {now} FROM {}",
        d.json_table(1, "v", &["cid", "product", "kind", "args", "creator"])
    );
    let mut tx = db.begin_write().await?;
    sqlx::query(&sql)
        .bind(json(rows))
        .bind(node)
        .bind(ttl_ms)
        .bind(max_attempts)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A command this node claimed, with what it needs to wake the product.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub product_id: String,
    pub callback_url: Option<String>,
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
        "SELECT c.id, c.product_id, c.attempts, c.max_attempts, p.callback_url, p.product_key, \
         p.home_node, CASE WHEN {home_up} THEN 1 ELSE 0 END AS home_up \
         FROM commands c JOIN products p ON p.id = c.product_id \
         WHERE c.state = 'queued' AND c.ready_at <= {now} AND c.expires_at > {now} \
         AND p.mode = 'two_way' {routing} \
         ORDER BY c.ready_at LIMIT $2{}",
        d.skip_locked()
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
        let home_up: i64 = row.try_get("home_up")?;
        let stolen = rules.routing == Routing::Affinity
            && home_up == 1
            && home.as_deref().is_some_and(|h| h != node);
        notes.push(match (rules.routing, home) {
            (Routing::Shared, _) => "claimed from the shared queue".to_string(),
            (_, Some(h)) if h == node => "claimed as the product's home node".to_string(),
            (_, None) => "claimed: the product has no home node yet".to_string(),
            (_, Some(h)) if home_up == 0 => format!("claimed: home node {h} is non-operational"),
            (_, Some(h)) => format!(
                "claimed: home node {h} left it unclaimed for {} s",
                rules.affinity_ms / 1000
            ),
        });
        claimed.push(Claimed {
            id: row.try_get("id")?,
            product_id: row.try_get("product_id")?,
            callback_url: row.try_get("callback_url")?,
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

/// What became of a command this node could not hand over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// Back in the queue, ready again after the delay.
    Requeued,
    /// Attempts exhausted.
    Dead,
    /// The node no longer held it (its lease ran out meanwhile).
    NotHeld,
}

/// Gives back a command `node` holds but could not deliver: queued again
/// after `delay_ms`, or `dead` once its attempts are spent. An attempt that
/// is not `counted` (a node that is not the product's home tried while the
/// home node is up) gives the item back as it was, with a fresh affinity
/// window for the home node.
pub async fn release(
    db: &Db,
    node: &str,
    id: &str,
    delay_ms: i64,
    reason: &str,
    counted: bool,
) -> Result<Released, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(&format!(
        "SELECT attempts, max_attempts FROM commands WHERE id = $1 AND state = 'dispatched' \
         AND holder = $2{}",
        d.lock_rows()
    ))
    .bind(id)
    .bind(node)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(Released::NotHeld);
    };
    let (attempts, max): (i64, i64) = (row.try_get("attempts")?, row.try_get("max_attempts")?);
    archive(d, &mut tx, &[id]).await?;
    let (outcome, set, delay, event) = if !counted {
        (
            Released::Requeued,
            "state = 'queued', holder = NULL, lease_until = NULL, attempts = attempts - 1, \
             ready_at = {now} + $2",
            0,
            Event {
                command: id,
                state: CommandState::Queued,
                note: format!("{reason}; left to the home node"),
            },
        )
    } else if attempts >= max {
        (
            Released::Dead,
            "state = 'dead', lease_until = NULL, finished_at = {now}",
            0,
            Event {
                command: id,
                state: CommandState::Dead,
                note: format!("{reason}; dead after {attempts} attempt(s)"),
            },
        )
    } else {
        (
            Released::Requeued,
            "state = 'queued', holder = NULL, lease_until = NULL, ready_at = {now} + $2",
            delay_ms,
            Event {
                command: id,
                state: CommandState::Queued,
                note: format!(
                    "{reason}; released, retry in {:.1} s",
                    delay_ms as f64 / 1000.0
                ),
            },
        )
    };
    let set = set.replace("{now}", now);
    let sql =
        format!("UPDATE commands SET {set}, {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1");
    let mut update = sqlx::query(&sql).bind(id);
    if set.contains("$2") {
        update = update.bind(delay);
    }
    update.execute(&mut *tx).await?;
    record(d, &mut tx, node, &[event]).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Fails a command `node` holds without retry (the shared queue's way with
/// a product it cannot reach).
pub async fn fail(db: &Db, node: &str, id: &str, reason: &str) -> Result<bool, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut tx = db.begin_write().await?;
    let held: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM commands WHERE id = $1 AND state = 'dispatched' AND holder = $2{}",
        d.lock_rows()
    ))
    .bind(id)
    .bind(node)
    .fetch_optional(&mut *tx)
    .await?;
    if held.is_some() {
        archive(d, &mut tx, &[id]).await?;
        sqlx::query(&format!(
            "UPDATE commands SET state = 'failed', output = $2, lease_until = NULL, \
             finished_at = {now}, {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1"
        ))
        .bind(id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let event = Event {
            command: id,
            state: CommandState::Failed,
            note: reason.to_owned(),
        };
        record(d, &mut tx, node, &[event]).await?;
    }
    tx.commit().await?;
    Ok(held.is_some())
}

/// Notes on the timelines that `node` woke the products of these commands
/// (id, how), in one statement. The state does not change, so the
/// commands counter does not move (the product's fetch moves it a moment
/// later). A command that another node claimed meanwhile is left alone.
pub async fn notified_many(
    db: &Db,
    node: &str,
    notices: &[(String, String)],
) -> Result<(), StoreError> {
    if notices.is_empty() {
        return Ok(());
    }
    let d = db.dialect();
    let now = d.now_ms();
    let rows: Vec<serde_json::Value> = notices
        .iter()
        .map(
            |(id, how)| serde_json::json!({"cid": id, "note": format!("product notified ({how})")}),
        )
        .collect();
    let sql = format!(
        "UPDATE commands SET notified_at = {now}, notified_by = $1, notify_note = v.note \
         FROM {} WHERE commands.id = v.cid AND commands.claimed_by = $1",
        d.json_table(2, "v", &["cid", "note"])
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
    // become `delivered`. Rows another transaction is changing are waited
    // for and checked again (a command claimed meanwhile is still this
    // product's to fetch; one fetched meanwhile is not).
    let sql = format!(
        "UPDATE commands SET attempts = attempts + CASE WHEN state = 'queued' THEN 1 ELSE 0 END, \
         state = 'delivered', holder = $1, lease_until = {now} + $2, delivered_at = {now}, \
         delivered_by = $1, updated_at = {now} \
         WHERE id IN (SELECT w.id FROM (SELECT c.id, ROW_NUMBER() OVER \
         (PARTITION BY c.product_id ORDER BY c.created_at, c.id) AS n FROM commands c \
         WHERE c.product_id IN ({}) AND c.state IN ('queued', 'dispatched') \
         AND c.expires_at > {now}) AS w WHERE w.n <= $4) \
         AND state IN ('queued', 'dispatched') AND expires_at > {now} \
         RETURNING id, product_id, kind, args, created_at",
        d.json_texts(3)
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
/// `None` when the command is not that product's.
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
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "UPDATE commands SET state = v.state, output = v.output, lease_until = NULL, \
         finished_at = {now}, finished_by = $1, holder = COALESCE(holder, $1), updated_at = {now} \
         FROM {} WHERE commands.id = v.cid AND commands.product_id = v.product \
         AND commands.state IN ('queued', 'dispatched', 'delivered') RETURNING id, product_id",
        d.json_table(2, "v", &["cid", "product", "state", "output"])
    );
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
        // Repeats, results for ended commands, and strangers' ids.
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
                Some((product, state)) if *product == a.product => CommandState::parse(state)
                    .filter(|s| s.is_final())
                    .map(Completion::AlreadyFinal),
                _ => None,
            };
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// What one rescue round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rescued {
    pub requeued: usize,
    pub dead: usize,
    pub expired: usize,
}

/// Ends commands past their TTL, and returns to the queue (or declares
/// dead) commands whose claim or delivery lease ran out, at most `limit`
/// of each per round. `delay_ms` gives the backoff of an item by attempts.
pub async fn rescue(
    db: &Db,
    node: &str,
    limit: i64,
    delay_ms: impl Fn(i64) -> i64,
) -> Result<Rescued, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut tx = db.begin_write().await?;
    let expired: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM commands WHERE state IN ('queued', 'dispatched', 'delivered') \
         AND expires_at <= {now} LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let lapsed = sqlx::query(&format!(
        "SELECT id, holder, attempts, max_attempts FROM commands \
         WHERE state IN ('dispatched', 'delivered') AND lease_until < {now} LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let lapsed_ids: Vec<String> = lapsed
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut ending: Vec<&str> = expired
        .iter()
        .chain(&lapsed_ids)
        .map(String::as_str)
        .collect();
    ending.sort_unstable();
    ending.dedup();
    archive(d, &mut tx, &ending).await?;
    let mut events: Vec<Event> = Vec::new();
    if !expired.is_empty() {
        let sql = format!(
            "UPDATE commands SET state = 'expired', lease_until = NULL, finished_at = {now}, \
             {CLEAR_ATTEMPT}, updated_at = {now} WHERE id IN ({})",
            d.json_texts(1)
        );
        sqlx::query(&sql)
            .bind(json(&expired))
            .execute(&mut *tx)
            .await?;
        events.extend(expired.iter().map(|id| Event {
            command: id,
            state: CommandState::Expired,
            note: "not finished within its time to live".into(),
        }));
    }
    let mut out = Rescued {
        expired: expired.len(),
        ..Rescued::default()
    };
    let mut lapsed_events = Vec::with_capacity(lapsed.len());
    for row in &lapsed {
        let id: String = row.try_get("id")?;
        if expired.contains(&id) {
            continue;
        }
        let holder: Option<String> = row.try_get("holder")?;
        let (attempts, max): (i64, i64) = (row.try_get("attempts")?, row.try_get("max_attempts")?);
        let holder = holder.unwrap_or_else(|| "?".into());
        if attempts >= max {
            sqlx::query(&format!(
                "UPDATE commands SET state = 'dead', lease_until = NULL, finished_at = {now}, \
                 {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1"
            ))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            out.dead += 1;
            lapsed_events.push((
                id,
                CommandState::Dead,
                format!("lease of {holder} ran out; dead after {attempts} attempt(s)"),
            ));
        } else {
            let delay = delay_ms(attempts);
            sqlx::query(&format!(
                "UPDATE commands SET state = 'queued', holder = NULL, lease_until = NULL, \
                 ready_at = {now} + $2, {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1"
            ))
            .bind(&id)
            .bind(delay)
            .execute(&mut *tx)
            .await?;
            out.requeued += 1;
            lapsed_events.push((
                id,
                CommandState::Queued,
                format!(
                    "lease of {holder} ran out; queued again, retry in {:.1} s",
                    delay as f64 / 1000.0
                ),
            ));
        }
    }
    events.extend(lapsed_events.iter().map(|(id, state, note)| Event {
        command: id,
        state: *state,
        note: note.clone(),
    }));
    record(d, &mut tx, node, &events).await?;
    tx.commit().await?;
    Ok(out)
}
