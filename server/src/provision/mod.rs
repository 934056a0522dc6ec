//! Provisioning: a device announces itself with a "hello" (authenticated by
//! the enrollment secret). The node that received it logs the request and
//! processes it: the device becomes an `unmanaged` product until its agent
//! registers, and a `provision` command is queued for it. If that node dies
//! first, another takes the request over once its lease has run out.

pub mod handlers;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::singleton::{Round, Singleton};
use crate::config::Config;
use crate::db::{Db, StoreError};
use crate::enrollment::Enrollment;
use crate::queue::{NewCommand, Queue};

/// How long the receiving node has to process a request before another
/// node may.
pub const LEASE: Duration = Duration::from_secs(10);

/// Provisioning on a node; cheap to clone.
#[derive(Clone)]
pub struct Provision {
    pub db: Db,
    pub config: Arc<Config>,
    pub enrollment: Enrollment,
    pub queue: Queue,
}

impl Provision {
    /// This node's name.
    fn node(&self) -> &str {
        self.queue.node()
    }

    /// Processes one request this node holds. Each step can be repeated
    /// harmlessly (the command's id is the request's), so a request
    /// processed twice after a lost lease still yields one product and one
    /// command.
    pub async fn process(&self, request: &store::Request) -> Result<(), anyhow::Error> {
        let offline_after = self.config.product_offline_after().as_millis() as i64;
        let unmanaged =
            store::upsert_unmanaged(&self.db, &request.uuid, &request.ip, offline_after).await?;
        // A product that registered meanwhile is no device to provision: a
        // hello must not queue commands for it.
        if unmanaged && !self.queue.exists(&request.id).await? {
            let args = serde_json::json!({"ip": request.ip, "request_id": request.id}).to_string();
            let command = NewCommand {
                product_id: request.uuid.clone(),
                kind: "provision".into(),
                args,
                created_by: format!("provisioning ({})", request.received_by),
            };
            self.queue
                .enqueue_as(&[(request.id.clone(), command)])
                .await?;
        }
        store::done(&self.db, &request.id, self.node()).await?;
        tracing::info!(request = %request.id, device = %request.uuid, ip = %request.ip, "provisioning request processed");
        Ok(())
    }

    /// Takes over requests whose node did not process them in time.
    async fn rescue(&self) -> Result<(), StoreError> {
        for request in
            store::take_over(&self.db, self.node(), LEASE.as_millis() as i64, 100).await?
        {
            if let Err(e) = self.process(&request).await {
                tracing::warn!(request = %request.id, error = %e, "provisioning request failed; will retry");
            }
        }
        Ok(())
    }

    /// The cluster-wide singleton of provisioning: the rescue of requests
    /// whose node died.
    pub fn singletons(&self) -> Vec<Box<dyn Singleton>> {
        vec![Box::new(Rescue(self.clone()))]
    }
}

struct Rescue(Provision);

impl Singleton for Rescue {
    fn lease(&self) -> &'static str {
        "provision_rescue"
    }

    fn every(&self) -> Duration {
        Duration::from_millis(500)
    }

    fn round(&mut self) -> Round<'_> {
        Box::pin(self.0.rescue())
    }
}
