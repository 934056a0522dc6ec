//! The console's queue API: queue a command (operators and admins), list
//! commands, and one command's timeline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::api::{CommandDetail, CommandPage, CommandSummary, NewCommandRequest, UserRole};

use super::{store, validate, CommandState, NewCommand};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json, Query};
use crate::products::store as products;
use crate::AppState;

/// Queues commands for the dispatchers; wakes this node's at once.
pub async fn enqueue(app: &AppState, commands: Vec<NewCommand>) -> Result<Vec<String>, ApiError> {
    let q = &app.config.queue;
    let with_ids: Vec<(String, NewCommand)> = commands
        .into_iter()
        .map(|c| (uuid::Uuid::new_v4().to_string(), c))
        .collect();
    store::enqueue(
        &app.db,
        &app.node.name,
        &with_ids,
        q.ttl.as_millis() as i64,
        i64::from(q.max_attempts),
    )
    .await?;
    app.commands_changed();
    app.queue_wake.notify_one();
    Ok(with_ids.into_iter().map(|(id, _)| id).collect())
}

/// `POST /api/v1/commands`.
pub async fn create(
    State(app): State<AppState>,
    user: CurrentUser,
    Json(req): Json<NewCommandRequest>,
) -> Result<(StatusCode, Json<CommandSummary>), ApiError> {
    if user.role == UserRole::Viewer {
        return Err(ApiError::forbidden("viewers cannot queue commands"));
    }
    let args =
        validate(&req.kind, &req.args).map_err(|m| ApiError::bad_request("invalid_command", m))?;
    let product = req.product_id.trim().to_lowercase();
    if products::get(&app.db, &product).await?.is_none() {
        return Err(ApiError::not_found(format!("no product {product}")));
    }
    let ids = enqueue(
        &app,
        vec![NewCommand {
            product_id: product.clone(),
            kind: req.kind.clone(),
            args,
            created_by: user.username.clone(),
        }],
    )
    .await?;
    tracing::info!(command = %ids[0], %product, kind = %req.kind, by = %user.username, "command queued");
    let (summary, _, _) = store::get(&app.db, &ids[0])
        .await?
        .ok_or_else(|| ApiError::internal("a queued command vanished"))?;
    Ok((StatusCode::CREATED, Json(summary)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    product: Option<String>,
    node: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `GET /api/v1/commands?state=&product=&node=&limit=&offset=`.
pub async fn list(
    State(app): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<CommandPage>, ApiError> {
    let state = given(q.state);
    if let Some(s) = &state {
        CommandState::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_state", format!("unknown command state {s:?}"))
        })?;
    }
    let filter = store::Filter {
        state,
        product: given(q.product).map(|p| p.to_lowercase()),
        node: given(q.node),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).max(0);
    let (total, commands) = store::list(&app.db, &filter, limit, offset).await?;
    Ok(Json(CommandPage { total, commands }))
}

/// `GET /api/v1/commands/{id}`.
pub async fn detail(
    State(app): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<CommandDetail>, ApiError> {
    let (command, args, output) = store::get(&app.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such command"))?;
    Ok(Json(CommandDetail {
        command,
        args: serde_json::from_str(&args).unwrap_or(serde_json::Value::Null),
        output,
        events: store::events(&app.db, &id).await?,
    }))
}
