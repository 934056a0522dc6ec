//! Password hashing (argon2id). Hashing is slow on purpose, so it always runs
//! off the async runtime.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;

/// Hashes a password into a PHC string.
pub async fn hash(password: String) -> Result<String, anyhow::Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC string. When there is no stored
/// hash (unknown user), the same work is done anyway so that response times
/// do not tell which user names exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, anyhow::Error> {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => {
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| anyhow::anyhow!("stored password hash is invalid: {e}"))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        }
        None => {
            let salt = SaltString::generate(&mut OsRng);
            let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
            Ok(false)
        }
    })
    .await?
}

/// A random password for the first admin when none was configured.
pub fn generate() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_password_verifies_and_wrong_does_not() {
        let stored = hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(stored.clone()))
            .await
            .unwrap());
        assert!(!verify("battery staple".into(), Some(stored)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
