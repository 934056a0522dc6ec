//! Webhook deliveries from the outbox: each firing's `fire` and `clear`
//! POSTed to every destination of its alert, signed, retried with backoff
//! while the receiver is down. A cluster singleton sends them, so a
//! delivery goes out once in the normal case; the receiver drops a repeat
//! (after a node died mid-send) by its idempotency key. A clear goes out
//! after its fire; when a receiver answers again after failures, all that
//! waits for it goes at once.
//!
//! Headers: `X-Vigil-Event` (`fire` or `clear`), `Idempotency-Key`
//! (`<firing id>:<event>`), `X-Vigil-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the body with the destination's secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::store::{self, Delivery};
use crate::cluster::singleton::{Round, Singleton};
use crate::db::Db;
use crate::outbound::Cidr;

/// Deliveries sent per round.
const BATCH: i64 = 50;
/// The longest wait between two tries of a delivery.
const MAX_BACKOFF_MS: i64 = 300_000;

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long after `attempts` failed tries the next one comes.
pub fn backoff_ms(attempts: i64) -> i64 {
    1000i64
        .saturating_mul(1 << attempts.clamp(0, 20))
        .min(MAX_BACKOFF_MS)
}

/// The outbox sender (a cluster singleton).
pub struct Outbox {
    db: Db,
    http: reqwest::Client,
    allow: Arc<Vec<Cidr>>,
}

impl Outbox {
    pub fn new(
        db: Db,
        allow: Vec<Cidr>,
        ca_cert: Option<&std::path::Path>,
    ) -> Result<Self, anyhow::Error> {
        let http = crate::outbound::client(&allow, ca_cert)?
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            db,
            http,
            allow: Arc::new(allow),
        })
    }

    async fn send(&self, d: &Delivery) -> Result<(), String> {
        crate::outbound::check_url(&d.url, &self.allow)?;
        let response = self
            .http
            .post(&d.url)
            .header("content-type", "application/json")
            .header("x-vigil-event", &d.event)
            .header("idempotency-key", format!("{}:{}", d.firing, d.event))
            .header("x-vigil-signature", signature(&d.secret, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", response.status()))
        }
    }
}

impl Singleton for Outbox {
    fn lease(&self) -> &'static str {
        "alert_outbox"
    }

    fn every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn round(&mut self) -> Round<'_> {
        Box::pin(async move {
            // A destination that failed once this round is not tried again
            // in it: one dead receiver holds up the others by one timeout.
            let mut failed: HashMap<String, String> = HashMap::new();
            for d in store::due(&self.db, BATCH).await? {
                let sent = match failed.get(&d.url) {
                    Some(why) => Err(why.clone()),
                    None => self.send(&d).await,
                };
                match sent {
                    Ok(()) => {
                        store::delivered(&self.db, &d.id).await?;
                        if d.attempts > 0 {
                            store::release(&self.db, &d.url).await?;
                        }
                    }
                    Err(why) => {
                        failed.insert(d.url.clone(), why.clone());
                        tracing::debug!(url = %d.url, error = %why, "webhook not delivered; retrying later");
                        store::retry_later(&self.db, &d.id, backoff_ms(d.attempts), &why).await?;
                    }
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_back_off_up_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(3), 8000);
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
