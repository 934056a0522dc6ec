//! The console's queue API: queue a command (operators and admins), list
//! commands, and one command's timeline.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::api::{CommandDetail, CommandPage, CommandSummary, NewCommandRequest, UserRole};

use super::{store, validate, CommandState, NewCommand, Queue};
use crate::auth::CurrentUser;
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Missing, Signed};

/// `POST /api/v1/commands`.
#[utoipa::path(
    post,
    path = "/api/v1/commands",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 201, description = "Queued", body = CommandSummary), Signed, BadBody, Missing),
)]
pub async fn create(
    State(app): State<Queue>,
    user: CurrentUser,
    Json(req): Json<NewCommandRequest>,
) -> Result<(StatusCode, Json<CommandSummary>), ApiError> {
    if user.role == UserRole::Viewer {
        return Err(ApiError::forbidden("viewers cannot queue commands"));
    }
    let args =
        validate(&req.kind, &req.args).map_err(|m| ApiError::bad_request("invalid_command", m))?;
    let product = req.product_id.trim().to_lowercase();
    if !app.products.exists(&product).await? {
        return Err(ApiError::not_found(format!("no product {product}")));
    }
    let ids = app
        .enqueue(vec![NewCommand {
            product_id: product.clone(),
            kind: req.kind.clone(),
            args,
            created_by: user.username.clone(),
        }])
        .await?;
    tracing::info!(command = %ids[0], %product, kind = %req.kind, by = %user.username, "command queued");
    let (summary, _, _) = store::get(&app.db, &ids[0])
        .await?
        .ok_or_else(|| ApiError::internal("a queued command vanished"))?;
    Ok((StatusCode::CREATED, Json(summary)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(
    get,
    path = "/api/v1/commands",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    responses((status = 200, description = "A page of commands", body = CommandPage), Signed, BadQuery),
)]
pub async fn list(
    State(app): State<Queue>,
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
#[utoipa::path(
    get,
    path = "/api/v1/commands/{id}",
    tag = "console",
    security(("session" = []), ("api_token" = [])),
    params(("id" = String, Path, description = "command id")),
    responses((status = 200, description = "A command and its timeline", body = CommandDetail), Signed, Missing),
)]
pub async fn detail(
    State(app): State<Queue>,
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
