//! The cluster's enrollment secret: what products present to register and
//! devices to send a provisioning hello.
//!
//! The secret lives in the shared database so that every node checks the
//! same one and an admin can rotate it from the console at once. A
//! configured secret seeds it: on first start, and again whenever the
//! configured value changes (a node's configuration stays the way to set it
//! without the console). Without one, the first node of a cluster generates
//! a random secret; there is no built-in default.

pub mod handlers;
pub mod store;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::cluster::same_secret;
use crate::db::{Db, StoreError};

/// The secret earlier versions fell back to. Anyone could read it, so a
/// cluster still using it gets a generated one at its next start.
const LEGACY_DEFAULT: &str = "vigil-default-enrollment-secret";

/// A fresh secret: 24 random bytes, URL-safe hex.
pub fn generate() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database remembers of a configured secret (never the secret).
fn fingerprint(configured: &str) -> String {
    hex::encode(Sha256::digest(configured.as_bytes()))
}

/// The cluster's enrollment secret; cheap to clone.
#[derive(Clone)]
pub struct Enrollment {
    db: Db,
}

impl Enrollment {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Seeds the cluster's secret from this node's configuration, or
    /// generates one when the cluster has none (or only the well-known
    /// secret of earlier versions).
    pub async fn seed(&self, configured: Option<&str>) -> Result<(), StoreError> {
        seed(&self.db, configured).await
    }

    /// Whether `presented` is the cluster's secret (compared in constant
    /// time).
    pub async fn accepts(&self, presented: &str) -> Result<bool, StoreError> {
        let current = store::current(&self.db).await?;
        Ok(same_secret(presented, &current.secret))
    }
}

async fn seed(db: &Db, configured: Option<&str>) -> Result<(), StoreError> {
    if let Some(configured) = configured {
        if store::seed(db, configured, &fingerprint(configured)).await? {
            tracing::info!("enrollment secret set from this node's configuration");
        }
        return Ok(());
    }
    let legacy = store::current_opt(db)
        .await?
        .is_some_and(|c| c.secret == LEGACY_DEFAULT);
    if legacy {
        store::replace(db, &generate(), "generated").await?;
        tracing::warn!(
            "the cluster enrolled products with the well-known default secret; \
             replaced it with a generated one (admins see it on the Settings page)"
        );
    } else if store::generate_if_missing(db, &generate()).await? {
        tracing::info!(
            "generated the cluster's enrollment secret; admins see it on the Settings page"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }

    #[test]
    fn fingerprints_hide_the_secret_and_follow_it() {
        let f = fingerprint("s3cret");
        assert!(!f.contains("s3cret"));
        assert_eq!(f, fingerprint("s3cret"));
        assert_ne!(f, fingerprint("s3cret2"));
    }
}
