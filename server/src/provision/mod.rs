//! Provisioning: a device announces itself with a "hello" (authenticated by
//! the enrollment secret). The node that received it logs the request and
//! processes it: the device becomes an `unmanaged` product until its agent
//! registers, and a `provision` command is queued for it. If that node dies
//! first, another takes the request over once its lease has run out.

pub mod handlers;
pub mod store;

use std::time::Duration;

use crate::queue::{self, NewCommand};
use crate::AppState;

/// How long the receiving node has to process a request before another
/// node may.
pub const LEASE: Duration = Duration::from_secs(10);

/// Processes one request this node holds. Each step can be repeated
/// harmlessly (the command's id is the request's), so a request processed
/// twice after a lost lease still yields one product and one command.
pub async fn process(app: &AppState, request: &store::Request) -> Result<(), anyhow::Error> {
    let offline_after = app.config.product_offline_after().as_millis() as i64;
    let unmanaged =
        store::upsert_unmanaged(&app.db, &request.uuid, &request.ip, offline_after).await?;
    // A product that registered meanwhile is no device to provision: a
    // hello must not queue commands for it.
    if unmanaged && queue::store::get(&app.db, &request.id).await?.is_none() {
        let args = serde_json::json!({"ip": request.ip, "request_id": request.id}).to_string();
        let command = NewCommand {
            product_id: request.uuid.clone(),
            kind: "provision".into(),
            args,
            created_by: format!("provisioning ({})", request.received_by),
        };
        let q = &app.config.queue;
        queue::store::enqueue(
            &app.db,
            &app.node.name,
            &[(request.id.clone(), command)],
            q.ttl.as_millis() as i64,
            i64::from(q.max_attempts),
        )
        .await?;
        app.commands_changed();
        app.queue_wake.notify_one();
    }
    store::done(&app.db, &request.id, &app.node.name).await?;
    tracing::info!(request = %request.id, device = %request.uuid, ip = %request.ip, "provisioning request processed");
    Ok(())
}

/// Takes over requests whose node did not process them in time (run by the
/// queue rescue holder).
pub async fn rescue(app: &AppState) -> Result<(), crate::db::StoreError> {
    for request in store::take_over(&app.db, &app.node.name, LEASE.as_millis() as i64, 100).await? {
        if let Err(e) = process(app, &request).await {
            tracing::warn!(request = %request.id, error = %e, "provisioning request failed; will retry");
        }
    }
    Ok(())
}
