//! The console's reads of the queue: pages of commands and one command's
//! timeline.

use app::api::{CommandEvent, CommandSummary};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Db, StoreError};

/// What the commands page filters on (all optional).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub state: Option<String>,
    pub product: Option<String>,
    /// The node that holds or last held the command.
    pub node: Option<String>,
}

const COLUMNS: &str = "c.id, c.product_id, p.name AS product_name, c.kind, c.state, c.attempts, \
     c.holder, c.created_at, c.created_by, c.updated_at";

fn summary(r: &AnyRow) -> Result<CommandSummary, sqlx::Error> {
    Ok(CommandSummary {
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        product_name: r.try_get("product_name")?,
        kind: r.try_get("kind")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        holder: r.try_get("holder")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// One page of commands, newest first, and how many match in all.
pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<CommandSummary>), StoreError> {
    // Each filter is one condition with its own parameter; absent ones
    // compare the parameter with NULL and drop out.
    let conditions = "($1 IS NULL OR c.state = $1) AND ($2 IS NULL OR c.product_id = $2) \
                      AND ($3 IS NULL OR c.holder = $3)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM commands c WHERE {conditions}"
    ))
    .bind(&filter.state)
    .bind(&filter.product)
    .bind(&filter.node)
    .fetch_one(db.pool())
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM commands c JOIN products p ON p.id = c.product_id \
         WHERE {conditions} ORDER BY c.created_at DESC, c.id LIMIT $4 OFFSET $5"
    ))
    .bind(&filter.state)
    .bind(&filter.product)
    .bind(&filter.node)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let commands = rows
        .iter()
        .map(summary)
        .collect::<Result<_, _>>()
        .map_err(StoreError::Other)?;
    Ok((total, commands))
}

/// One command with its arguments and output.
pub async fn get(
    db: &Db,
    id: &str,
) -> Result<Option<(CommandSummary, String, Option<String>)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, c.args, c.output FROM commands c JOIN products p ON p.id = c.product_id \
         WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| Ok((summary(&r)?, r.try_get("args")?, r.try_get("output")?)))
        .transpose()
        .map_err(StoreError::Other)
}

/// A command's timeline, oldest first: its timeline rows (notifications,
/// attempts that left the usual path, releases, expiry) merged with what
/// its row keeps of the usual path (queued, the current attempt's claim
/// and fetch, the posted result).
pub async fn events(db: &Db, id: &str) -> Result<Vec<CommandEvent>, StoreError> {
    let row = sqlx::query(
        "SELECT state, created_at, created_on, created_by, claimed_at, claimed_by, claim_note, \
         delivered_at, delivered_by, finished_at, finished_by FROM commands WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(vec![]);
    };
    let rows = sqlx::query(
        "SELECT at, node, state, note FROM command_events WHERE command_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let from_row = |row: &AnyRow| -> Result<(CommandEvent, Vec<CommandEvent>), sqlx::Error> {
        let state: String = row.try_get("state")?;
        let by: String = row.try_get("created_by")?;
        let queued = CommandEvent {
            at: row.try_get("created_at")?,
            node: row.try_get("created_on")?,
            state: "queued".into(),
            note: format!("queued by {by}"),
        };
        let mut steps = Vec::with_capacity(3);
        let columns = [
            ("claimed_at", "claimed_by", "dispatched"),
            ("delivered_at", "delivered_by", "delivered"),
            ("finished_at", "finished_by", state.as_str()),
        ];
        for (at, node, step_state) in columns {
            let (Some(at), Some(node)) = (
                row.try_get::<Option<i64>, _>(at)?,
                row.try_get::<Option<String>, _>(node)?,
            ) else {
                continue;
            };
            let note = match step_state {
                "dispatched" => row
                    .try_get::<Option<String>, _>("claim_note")?
                    .unwrap_or_default(),
                "delivered" => "fetched by the product".into(),
                _ => format!("result posted: {state}"),
            };
            steps.push(CommandEvent {
                at,
                node,
                state: step_state.to_owned(),
                note,
            });
        }
        Ok((queued, steps))
    };
    let (queued, usual) = from_row(&row).map_err(StoreError::Other)?;
    // In time order after "queued" (a stable sort: timeline rows keep
    // their order within a step).
    let mut timeline = Vec::with_capacity(rows.len() + usual.len() + 1);
    for r in &rows {
        timeline.push(CommandEvent {
            at: r.try_get("at").map_err(StoreError::Other)?,
            node: r.try_get("node").map_err(StoreError::Other)?,
            state: r.try_get("state").map_err(StoreError::Other)?,
            note: r.try_get("note").map_err(StoreError::Other)?,
        });
    }
    timeline.extend(usual);
    timeline.sort_by_key(|e| (e.at, step(e)));
    timeline.insert(0, queued);
    Ok(timeline)
}

/// Where an event falls among the steps of one attempt, for events of the
/// same millisecond: the claim, the notification it led to, the fetch,
/// then how the attempt ended.
fn step(e: &CommandEvent) -> u8 {
    match e.state.as_str() {
        "dispatched" if e.note.starts_with("claimed") => 0,
        "dispatched" => 1,
        "delivered" => 2,
        _ => 3,
    }
}
