//! What a store can tell its callers.

/// A store failure, without database text a client could see.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The statement ran past the time its caller allows.
    #[error("timed out")]
    Timeout,
    #[error("database error: {0}")]
    Other(#[from] sqlx::Error),
}
