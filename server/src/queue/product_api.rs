//! The product side of the queue: a product fetches its commands (a long
//! poll that is also proof of life) and posts each one's result. Products
//! authenticate with their bearer key (`products::handlers::ProductCaller`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use app::api::{CommandResult, CommandsReply, ProductCommand};
use app::state::StateClass;

use super::store::{self, Ack, Completion};
use super::{clip_output, CommandState, Queue};
use crate::error::{ApiError, Json, Query};
use crate::openapi::{BadBody, BadQuery, Keyed, Missing};
use crate::products::handlers::ProductCaller;
use crate::products::Source;
use protocol::api::ErrorBody;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollQuery {
    wait: Option<u64>,
}

/// Longest a poll may wait for a command.
const MAX_POLL_WAIT: Duration = Duration::from_secs(30);

/// `GET /api/v1/products/{id}/commands?wait=<ms>`: hands the product its
/// waiting commands; with `wait`, holds the request until one is queued
/// (on any node) or the time is up. Every poll is proof of life.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}/commands",
    tag = "product",
    security(("product_key" = [])),
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, description = "Commands to run (long poll with `wait`)", body = CommandsReply), Keyed, BadQuery, Missing),
)]
pub async fn commands(
    State(app): State<Queue>,
    ProductCaller(product): ProductCaller,
    Query(q): Query<PollQuery>,
) -> Result<Json<CommandsReply>, ApiError> {
    app.products.heard(&product, Source::Poll);
    let wait = Duration::from_millis(q.wait.unwrap_or(0)).min(MAX_POLL_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before looking, so a command queued meanwhile wakes us.
    let mut state = app.signals.state();
    let mut closing = app.signals.closing();
    loop {
        let found = if store::waiting(&app.db, &product.id).await? {
            app.io
                .deliveries
                .submit(product.id.to_string())
                .await
                .ok_or_else(|| ApiError::internal("the node is stopping"))?
                .map_err(ApiError::internal)?
        } else {
            Vec::new()
        };
        if !found.is_empty() {
            app.changed();
        }
        if !found.is_empty() || tokio::time::Instant::now() >= deadline || *closing.borrow() {
            let commands = found
                .into_iter()
                .map(|c| ProductCommand {
                    args: serde_json::from_str(&c.args).unwrap_or_default(),
                    id: c.id,
                    kind: c.kind,
                })
                .collect();
            return Ok(Json(CommandsReply { commands }));
        }
        let seen = state.borrow_and_update().get(StateClass::Commands);
        let moved = async {
            while state.changed().await.is_ok() {
                if state.borrow_and_update().get(StateClass::Commands) != seen {
                    return;
                }
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = moved => {}
            _ = closing.changed() => {}
        }
    }
}

/// `POST /api/v1/products/{id}/commands/{cid}/result`: the outcome of a
/// command; posting it again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/products/{id}/commands/{cid}/result",
    tag = "product",
    security(("product_key" = [])),
    params(("id" = String, Path, description = "product id"), ("cid" = String, Path, description = "command id")),
    responses((status = 204, description = "Result recorded"), Keyed, BadBody, Missing, (status = 409, description = "`conflict`: the command is not this product's or is finished", body = ErrorBody)),
)]
pub async fn result(
    State(app): State<Queue>,
    ProductCaller(product): ProductCaller,
    Path((_product, cid)): Path<(String, String)>,
    Json(req): Json<CommandResult>,
) -> Result<StatusCode, ApiError> {
    let outcome = match req.status.as_str() {
        "succeeded" => CommandState::Succeeded,
        "failed" => CommandState::Failed,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_result",
                "status must be succeeded or failed",
            ))
        }
    };
    let output = match req.output {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    app.products.heard(&product, Source::CommandResult);
    let ack = Ack {
        product: product.id.to_string(),
        command: cid.clone(),
        outcome,
        output: clip_output(output),
    };
    let done = app
        .io
        .acks
        .submit(ack)
        .await
        .ok_or_else(|| ApiError::internal("the node is stopping"))?
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("no such command for this product"))?;
    match done {
        Completion::NotDelivered => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_delivered",
                "this command was not handed to the product yet",
            ));
        }
        Completion::Recorded => app.changed(),
        Completion::AlreadyFinal(state) => {
            tracing::debug!(command = %cid, state = state.as_str(), "repeated result ignored");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
