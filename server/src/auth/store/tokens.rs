//! All SQL of API tokens.

use app::api::{ApiToken, UserRole};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{current_user, role_of};
use crate::auth::CurrentUser;
use crate::db::{Db, StoreError};

/// A token to store: only its hash.
pub struct NewToken<'a> {
    pub id: &'a str,
    pub user: i64,
    pub name: &'a str,
    pub hash: &'a str,
    pub prefix: &'a str,
    pub role: Option<UserRole>,
    pub expires_at: Option<i64>,
}

/// Stores a token; `false` when the user has one of that name.
pub async fn create(db: &Db, t: &NewToken<'_>) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(&format!(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, role, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, {now}, $7) ON CONFLICT DO NOTHING"
    ))
    .bind(t.id)
    .bind(t.user)
    .bind(t.name)
    .bind(t.hash)
    .bind(t.prefix)
    .bind(t.role.map(UserRole::as_str))
    .bind(t.expires_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

fn token_of(row: &AnyRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: row
            .try_get::<Option<String>, _>("role")?
            .map(role_of)
            .transpose()?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// A user's tokens, newest first (revoked ones included).
pub async fn list(db: &Db, user: i64) -> Result<Vec<ApiToken>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, role, created_at, expires_at, revoked_at FROM api_tokens \
         WHERE user_id = $1 ORDER BY created_at DESC, name",
    )
    .bind(user)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(token_of).collect::<Result<_, _>>()?)
}

/// Revokes one of the user's tokens; `false` if they have no live token
/// of that id.
pub async fn revoke(db: &Db, user: i64, id: &str) -> Result<bool, StoreError> {
    let now = db.dialect().now_ms();
    let done = sqlx::query(&format!(
        "UPDATE api_tokens SET revoked_at = {now} \
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
    ))
    .bind(id)
    .bind(user)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The user behind a live token, and the token's own role and id.
pub async fn user_of(
    db: &Db,
    hash: &str,
) -> Result<Option<(CurrentUser, Option<UserRole>, String)>, StoreError> {
    let now = db.dialect().now_ms();
    let row = sqlx::query(&format!(
        "SELECT u.id, u.username, u.role, u.manage_global_content, t.role AS token_role, \
         t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > {now})"
    ))
    .bind(hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let narrower = row
        .try_get::<Option<String>, _>("token_role")?
        .map(role_of)
        .transpose()?;
    Ok(Some((
        current_user(&row)?,
        narrower,
        row.try_get("token_id")?,
    )))
}

/// Whose token this is, live or not (for the audit trail of a refused
/// call): the user name and the token's id.
pub async fn owner_of(db: &Db, hash: &str) -> Result<Option<(String, String)>, StoreError> {
    let row = sqlx::query(
        "SELECT u.username, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(row
        .map(|r| Ok::<_, sqlx::Error>((r.try_get("username")?, r.try_get("id")?)))
        .transpose()?)
}
