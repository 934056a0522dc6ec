//! The queue's writes off the usual path: a node giving a command back
//! (released, dead, failed) and the rescue of lapsed leases and expired
//! commands. With the notifications, only these write timeline rows; each
//! first copies the ended attempt's columns there ([`archive`]), so the
//! timeline stays whole.

use sqlx::Row;

use super::dialect::skip_locked;
use super::json;
use crate::db::WriteTx as Tx;
use crate::db::{Db, Dialect, StoreError};
use crate::queue::fate::{self, Detour};
use crate::queue::CommandState;

/// Clears the columns of the current attempt (claim, fetch), after
/// [`archive`] copied them to the timeline.
const CLEAR_ATTEMPT: &str = "claimed_at = NULL, claimed_by = NULL, claim_note = NULL, \
     delivered_at = NULL, delivered_by = NULL";

/// One change of one command, for the timeline.
pub struct Event<'a> {
    pub command: &'a str,
    pub state: CommandState,
    pub note: String,
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

/// Copies the current attempt of each command (claim, fetch, kept in
/// columns on the usual path) to the timeline, before a change off
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
         UNION ALL SELECT id, delivered_at, delivered_by, 'delivered', 'fetched by the product' \
         FROM commands WHERE id IN ({list}) AND delivered_at IS NOT NULL"
    );
    sqlx::query(&sql).bind(json(ids)).execute(&mut **tx).await?;
    Ok(())
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

/// Gives back a command `node` holds but could not deliver, as `decide`
/// says from its attempts so far and its most (see `fate::undelivered`).
/// An uncounted attempt gives the item back as it was, with a fresh
/// affinity window for the home node.
pub async fn release(
    db: &Db,
    node: &str,
    id: &str,
    decide: impl FnOnce(i64, i64) -> Detour,
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
    let detour = decide(attempts, max);
    let (outcome, set) = match (detour.state, detour.uncounted) {
        (CommandState::Dead, _) => (
            Released::Dead,
            "state = 'dead', lease_until = NULL, finished_at = {now}",
        ),
        (_, true) => (
            Released::Requeued,
            "state = 'queued', holder = NULL, lease_until = NULL, attempts = attempts - 1, \
             ready_at = {now} + $2",
        ),
        (_, false) => (
            Released::Requeued,
            "state = 'queued', holder = NULL, lease_until = NULL, ready_at = {now} + $2",
        ),
    };
    let event = Event {
        command: id,
        state: detour.state,
        note: detour.note,
    };
    let delay = detour.delay_ms;
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

/// What one rescue round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rescued {
    pub requeued: usize,
    pub dead: usize,
    pub expired: usize,
}

/// Ends queued commands past their TTL, and returns to the queue (or
/// declares dead) commands whose claim or delivery lease ran out, at most
/// `limit` of each per round; a lapsed one past its TTL expires instead.
/// (The TTL bounds a command's wait for a node and its product; once handed
/// over, its lease bounds it, so a result posted within the lease counts.)
/// `decide` says what becomes of a lapsed one from its holder, attempts
/// and most attempts (see `fate::lapsed`).
pub async fn rescue(
    db: &Db,
    node: &str,
    limit: i64,
    decide: impl Fn(&str, i64, i64) -> Detour,
) -> Result<Rescued, StoreError> {
    let d = db.dialect();
    let now = d.now_ms();
    let mut tx = db.begin_write().await?;
    // Rows other transactions are changing (a result arriving, a fetch) are
    // skipped, not waited for: the next round sees them as they end up.
    let mut expired: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT c.id FROM commands c WHERE c.state = 'queued' AND c.expires_at <= {now} \
         LIMIT $1{}",
        skip_locked(d)
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let lapsed = sqlx::query(&format!(
        "SELECT c.id, c.holder, c.attempts, c.max_attempts, \
         CASE WHEN c.expires_at <= {now} THEN 1 ELSE 0 END AS past_ttl FROM commands c \
         WHERE c.state IN ('dispatched', 'delivered') AND c.lease_until < {now} LIMIT $1{}",
        skip_locked(d)
    ))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    for row in &lapsed {
        if row.try_get::<i64, _>("past_ttl")? == 1 {
            expired.push(row.try_get("id")?);
        }
    }
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
            note: fate::EXPIRED.into(),
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
        let detour = decide(&holder, attempts, max);
        let sql = if detour.state == CommandState::Dead {
            out.dead += 1;
            format!(
                "UPDATE commands SET state = 'dead', lease_until = NULL, finished_at = {now}, \
                 {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1"
            )
        } else {
            out.requeued += 1;
            format!(
                "UPDATE commands SET state = 'queued', holder = NULL, lease_until = NULL, \
                 ready_at = {now} + $2, {CLEAR_ATTEMPT}, updated_at = {now} WHERE id = $1"
            )
        };
        let mut update = sqlx::query(&sql).bind(&id);
        if detour.state != CommandState::Dead {
            update = update.bind(detour.delay_ms);
        }
        update.execute(&mut *tx).await?;
        lapsed_events.push((id, detour.state, detour.note));
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
