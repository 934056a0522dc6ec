//! All SQL of the command queue: enqueue, claim, release, deliver, complete
//! and rescue (writes here; what the console reads in [`views`]). Every
//! operation takes a batch, so a busy queue costs a few statements per
//! batch, not per command. The commands counter of the state string is
//! moved by the callers, after commit (see `keepalive::bumper`).

mod views;
pub use views::*;

use sqlx::Row;

use super::{CommandState, NewCommand, Routing};
use crate::db::{placeholders, Db, Dialect, StoreError};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// One change of one command, for the timeline.
pub struct Event<'a> {
    pub command: &'a str,
    pub state: CommandState,
    pub note: String,
}

/// Writes events, many rows per statement.
async fn record(
    dialect: Dialect,
    tx: &mut Tx,
    node: &str,
    events: &[Event<'_>],
) -> Result<(), StoreError> {
    let now = dialect.now_ms();
    for chunk in events.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, {now}, $1, ${}, ${})",
                    3 * i + 2,
                    3 * i + 3,
                    3 * i + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO command_events (command_id, at, node, state, note) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(node);
        for e in chunk {
            q = q.bind(e.command).bind(e.state.as_str()).bind(&e.note);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Queues commands (ids chosen by the caller) on behalf of `node`.
pub async fn enqueue(
    db: &Db,
    node: &str,
    commands: &[(String, NewCommand)],
    ttl_ms: i64,
    max_attempts: i64,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    for chunk in commands.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 4 + 5 * i;
                format!(
                    "(${b}, ${}, ${}, ${}, 'queued', {now}, ${}, $1, {now} + $2, 0, $3, {now}, {now})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO commands (id, product_id, kind, args, state, created_at, created_by, \
             created_on, expires_at, attempts, max_attempts, ready_at, updated_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(node).bind(ttl_ms).bind(max_attempts);
        for (id, c) in chunk {
            q = q
                .bind(id)
                .bind(&c.product_id)
                .bind(&c.kind)
                .bind(&c.args)
                .bind(&c.created_by);
        }
        q.execute(&mut *tx).await?;
    }
    let events: Vec<Event> = commands
        .iter()
        .map(|(id, c)| Event {
            command: id,
            state: CommandState::Queued,
            note: format!("queued by {}", c.created_by),
        })
        .collect();
    record(db.dialect(), &mut tx, node, &events).await?;
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
    let sql = format!(
        "UPDATE commands SET state = 'dispatched', holder = $1, lease_until = {now} + $2, \
         attempts = attempts + 1, updated_at = {now} WHERE id IN ({})",
        placeholders(3, claimed.len())
    );
    let mut q = sqlx::query(&sql).bind(node).bind(rules.lease_ms);
    for c in &claimed {
        q = q.bind(&c.id);
    }
    q.execute(&mut *tx).await?;
    let events: Vec<Event> = claimed
        .iter()
        .zip(notes)
        .map(|(c, note)| Event {
            command: &c.id,
            state: CommandState::Dispatched,
            note,
        })
        .collect();
    record(d, &mut tx, node, &events).await?;
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
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "SELECT attempts, max_attempts FROM commands WHERE id = $1 AND state = 'dispatched' AND holder = $2",
    )
    .bind(id)
    .bind(node)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(Released::NotHeld);
    };
    let (attempts, max): (i64, i64) = (row.try_get("attempts")?, row.try_get("max_attempts")?);
    if !counted {
        sqlx::query(&format!(
            "UPDATE commands SET state = 'queued', holder = NULL, lease_until = NULL, \
             attempts = attempts - 1, ready_at = {now}, updated_at = {now} WHERE id = $1"
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let event = Event {
            command: id,
            state: CommandState::Queued,
            note: format!("{reason}; left to the home node"),
        };
        record(db.dialect(), &mut tx, node, &[event]).await?;
        tx.commit().await?;
        return Ok(Released::Requeued);
    }
    let (outcome, event) = if attempts >= max {
        sqlx::query(&format!(
            "UPDATE commands SET state = 'dead', lease_until = NULL, finished_at = {now}, \
             updated_at = {now} WHERE id = $1"
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        (
            Released::Dead,
            Event {
                command: id,
                state: CommandState::Dead,
                note: format!("{reason}; dead after {attempts} attempt(s)"),
            },
        )
    } else {
        sqlx::query(&format!(
            "UPDATE commands SET state = 'queued', holder = NULL, lease_until = NULL, \
             ready_at = {now} + $2, updated_at = {now} WHERE id = $1"
        ))
        .bind(id)
        .bind(delay_ms)
        .execute(&mut *tx)
        .await?;
        (
            Released::Requeued,
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
    record(db.dialect(), &mut tx, node, &[event]).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Fails a command `node` holds without retry (the shared queue's way with
/// a product it cannot reach).
pub async fn fail(db: &Db, node: &str, id: &str, reason: &str) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(&format!(
        "UPDATE commands SET state = 'failed', output = $3, lease_until = NULL, finished_at = {now}, \
         updated_at = {now} WHERE id = $1 AND state = 'dispatched' AND holder = $2"
    ))
    .bind(id)
    .bind(node)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    let failed = done.rows_affected() == 1;
    if failed {
        let event = Event {
            command: id,
            state: CommandState::Failed,
            note: reason.to_owned(),
        };
        record(db.dialect(), &mut tx, node, &[event]).await?;
    }
    tx.commit().await?;
    Ok(failed)
}

/// Notes on the timeline that `node` woke the product for the command. The
/// state does not change, so the commands counter does not move (the
/// product's fetch moves it a moment later).
pub async fn notified(db: &Db, node: &str, id: &str, how: &str) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM commands WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(state) = state.as_deref().and_then(CommandState::parse) {
        let event = Event {
            command: id,
            state,
            note: format!("product notified ({how})"),
        };
        record(db.dialect(), &mut tx, node, &[event]).await?;
    }
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
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "SELECT c.id, c.product_id, c.kind, c.args FROM commands c WHERE c.product_id IN ({}) \
         AND c.state IN ('queued', 'dispatched') AND c.expires_at > {now} \
         ORDER BY c.created_at, c.id{}",
        placeholders(1, products.len()),
        d.skip_locked()
    );
    let mut q = sqlx::query(&sql);
    for p in products {
        q = q.bind(p);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    let mut ids: Vec<String> = Vec::new();
    for row in &rows {
        let product: String = row.try_get("product_id")?;
        let Some(slot) = products.iter().position(|p| *p == product) else {
            continue;
        };
        if out[slot].len() >= limit {
            continue;
        }
        let c = Deliverable {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            args: row.try_get("args")?,
        };
        ids.push(c.id.clone());
        out[slot].push(c);
    }
    for chunk in ids.chunks(500) {
        let sql = format!(
            "UPDATE commands SET attempts = attempts + CASE WHEN state = 'queued' THEN 1 ELSE 0 END, \
             state = 'delivered', holder = $1, lease_until = {now} + $2, updated_at = {now} \
             WHERE id IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(node).bind(lease_ms);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
    }
    let events: Vec<Event> = ids
        .iter()
        .map(|id| Event {
            command: id,
            state: CommandState::Delivered,
            note: "fetched by the product".into(),
        })
        .collect();
    record(d, &mut tx, node, &events).await?;
    tx.commit().await?;
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
    let mut tx = db.begin_write().await?;
    let mut current: std::collections::HashMap<String, (String, CommandState)> = Default::default();
    for chunk in acks.chunks(500) {
        let sql = format!(
            "SELECT c.id, c.product_id, c.state FROM commands c WHERE c.id IN ({}){}",
            placeholders(1, chunk.len()),
            d.lock_rows()
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q.bind(&a.command);
        }
        for row in q.fetch_all(&mut *tx).await? {
            let state: String = row.try_get("state")?;
            if let Some(state) = CommandState::parse(&state) {
                current.insert(row.try_get("id")?, (row.try_get("product_id")?, state));
            }
        }
    }
    let mut changes: Vec<&Ack> = Vec::new();
    for (i, a) in acks.iter().enumerate() {
        match current.get_mut(&a.command) {
            Some((product, state)) if *product == a.product => {
                out[i] = Some(if state.is_final() {
                    Completion::AlreadyFinal(*state)
                } else {
                    // A second result in the same batch finds it final.
                    *state = a.outcome;
                    changes.push(a);
                    Completion::Recorded
                });
            }
            _ => {}
        }
    }
    for chunk in changes.chunks(300) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "UPDATE commands SET state = v.column2, output = v.column3, lease_until = NULL, \
             finished_at = {now}, updated_at = {now}, holder = COALESCE(holder, $1) \
             FROM (VALUES {}) AS v WHERE commands.id = v.column1",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(node);
        for a in chunk {
            q = q.bind(&a.command).bind(a.outcome.as_str()).bind(&a.output);
        }
        q.execute(&mut *tx).await?;
    }
    let events: Vec<Event> = changes
        .iter()
        .map(|a| Event {
            command: &a.command,
            state: a.outcome,
            note: format!("result posted: {}", a.outcome.as_str()),
        })
        .collect();
    record(d, &mut tx, node, &events).await?;
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
    let now = db.dialect().now_ms();
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
    let mut events: Vec<Event> = Vec::new();
    if !expired.is_empty() {
        let sql = format!(
            "UPDATE commands SET state = 'expired', lease_until = NULL, finished_at = {now}, \
             updated_at = {now} WHERE id IN ({})",
            placeholders(1, expired.len())
        );
        let mut q = sqlx::query(&sql);
        for id in &expired {
            q = q.bind(id);
        }
        q.execute(&mut *tx).await?;
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
    let mut lapsed_ids = Vec::with_capacity(lapsed.len());
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
                 updated_at = {now} WHERE id = $1"
            ))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            out.dead += 1;
            lapsed_ids.push((
                id,
                CommandState::Dead,
                format!("lease of {holder} ran out; dead after {attempts} attempt(s)"),
            ));
        } else {
            let delay = delay_ms(attempts);
            sqlx::query(&format!(
                "UPDATE commands SET state = 'queued', holder = NULL, lease_until = NULL, \
                 ready_at = {now} + $2, updated_at = {now} WHERE id = $1"
            ))
            .bind(&id)
            .bind(delay)
            .execute(&mut *tx)
            .await?;
            out.requeued += 1;
            lapsed_ids.push((
                id,
                CommandState::Queued,
                format!(
                    "lease of {holder} ran out; queued again, retry in {:.1} s",
                    delay as f64 / 1000.0
                ),
            ));
        }
    }
    events.extend(lapsed_ids.iter().map(|(id, state, note)| Event {
        command: id,
        state: *state,
        note: note.clone(),
    }));
    record(db.dialect(), &mut tx, node, &events).await?;
    tx.commit().await?;
    Ok(out)
}
