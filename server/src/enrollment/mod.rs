//! The cluster's enrollment secret: what products present to register and
//! devices to send a provisioning hello.
//!
//! The secret lives in the shared database so that every node checks the
//! same one and an admin can rotate it from the console at once. The
//! configured secret seeds it: on first start, and again whenever the
//! configured value changes (a node's configuration stays the way to set it
//! without the console).

pub mod handlers;
pub mod store;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::DEFAULT_ENROLLMENT_SECRET;
use crate::db::{Db, StoreError};

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

/// Seeds the cluster's secret from this node's configuration; warns when the
/// cluster enrolls with the well-known default.
pub async fn seed(db: &Db, configured: &str) -> Result<(), StoreError> {
    if store::seed(db, configured, &fingerprint(configured)).await? {
        tracing::info!("enrollment secret set from this node's configuration");
    }
    let current = store::current(db).await?;
    if current.secret == DEFAULT_ENROLLMENT_SECRET {
        tracing::warn!(
            "products enroll with the default secret; rotate it in the console or set VIGIL_ENROLLMENT_SECRET"
        );
    }
    Ok(())
}

/// Whether `presented` is the cluster's secret (compared in constant time).
pub async fn accepts(db: &Db, presented: &str) -> Result<bool, StoreError> {
    let current = store::current(db).await?;
    Ok(crate::products::same_secret(presented, &current.secret))
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
