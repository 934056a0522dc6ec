//! All SQL of users and sessions (and, in `tokens`, of API tokens).

pub mod tokens;

use app::api::UserRole;
use sqlx::Row;

use super::CurrentUser;
use crate::db::{Db, StoreError};

/// A user row with its password hash.
#[derive(Debug)]
pub struct UserRow {
    pub user: CurrentUser,
    pub password_hash: String,
}

/// A user as a request sees them. A viewer never manages the Global tree,
/// whatever the stored permission says.
pub(super) fn current_user(row: &sqlx::any::AnyRow) -> Result<CurrentUser, sqlx::Error> {
    let role = role_of(row.try_get("role")?)?;
    let granted: i64 = row.try_get("manage_global_content")?;
    Ok(CurrentUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role,
        manage_global_content: granted != 0 && role != UserRole::Viewer,
        token: None,
    })
}

pub(super) fn role_of(text: String) -> Result<UserRole, sqlx::Error> {
    text.parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

pub async fn count_users(db: &Db) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?)
}

/// Creates a user; `false` when the name is taken, in any case (nothing is
/// changed then).
pub async fn create_user(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: UserRole,
) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO users (username, password_hash, role, created_at, manage_global_content) \
         VALUES ($1, $2, $3, {}, $4) ON CONFLICT DO NOTHING",
        db.dialect().now_ms()
    );
    let done = sqlx::query(&sql)
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(i64::from(role == UserRole::Admin))
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every user with their password hash (a standalone node's users, as
/// they are centralized).
pub async fn all_users(db: &Db) -> Result<Vec<UserRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, username, role, manage_global_content, password_hash FROM users ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UserRow {
                user: current_user(r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// The user of a name, whatever its case.
pub async fn find_user(db: &Db, username: &str) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, username, role, manage_global_content, password_hash FROM users \
         WHERE lower(username) = lower($1)",
    )
    .bind(username)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(UserRow {
        user: current_user(&row)?,
        password_hash: row.try_get("password_hash")?,
    }))
}

/// Stores a new session; also drops expired ones, which keeps the table small
/// without a separate task.
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    ttl_ms: i64,
    node: &str,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!("DELETE FROM sessions WHERE expires_at < {now}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, node) \
         VALUES ($1, $2, {now}, {now} + $3, $4)"
    ))
    .bind(token_hash)
    .bind(user_id)
    .bind(ttl_ms)
    .bind(node)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user of a live session.
pub async fn session_user(db: &Db, token_hash: &str) -> Result<Option<CurrentUser>, StoreError> {
    let sql = format!(
        "SELECT u.id, u.username, u.role, u.manage_global_content FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > {}",
        db.dialect().now_ms()
    );
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(current_user(&row)?))
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Stores a hand-off token; also drops expired ones.
pub async fn create_handoff(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    ttl_ms: i64,
) -> Result<(), StoreError> {
    let insert = "INSERT INTO handoff_tokens (token_hash, user_id, expires_at, used_at) \
                  VALUES ($1, $2, {now} + $3, NULL)";
    store_token(db, "handoff_tokens", insert, token_hash, user_id, ttl_ms).await
}

/// Writes a token row with `insert` (binding the token's hash, its user
/// and its lifetime; `{now}` stands for the database clock) in the same
/// transaction that drops the table's expired rows, which keeps the table
/// small without a separate task.
async fn store_token(
    db: &Db,
    table: &str,
    insert: &str,
    token_hash: &str,
    user_id: i64,
    ttl_ms: i64,
) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!("DELETE FROM {table} WHERE expires_at < {now}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&insert.replace("{now}", now))
        .bind(token_hash)
        .bind(user_id)
        .bind(ttl_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Uses up a live, unused hand-off token; returns its user. A token is
/// redeemed at most once, whichever node is asked, however many ask at once.
pub async fn redeem_handoff(db: &Db, token_hash: &str) -> Result<Option<i64>, StoreError> {
    let now = db.dialect().now_ms();
    let sql = format!(
        "UPDATE handoff_tokens SET used_at = {now} \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > {now} RETURNING user_id"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(token_hash)
        .fetch_optional(db.pool())
        .await?)
}

/// Every user, by name.
pub async fn list_users(db: &Db) -> Result<Vec<app::api::UserSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT username, role, created_at, manage_global_content FROM users ORDER BY username",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(app::api::UserSummary {
                username: r.try_get("username")?,
                role: role_of(r.try_get("role")?)?,
                created_at: r.try_get("created_at")?,
                manage_global_content: r.try_get::<i64, _>("manage_global_content")? != 0,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::Other)
}

/// Admins other than `except`: the last admin is never removed or demoted.
async fn other_admins(tx: &mut crate::db::WriteTx, except: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND lower(username) <> lower($1)",
    )
    .bind(except)
    .fetch_one(&mut **tx)
    .await?)
}

/// Changes a user's role (`NotFound`, or `Conflict` for the last admin).
pub async fn set_user_role(db: &Db, username: &str, role: UserRole) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    if role != UserRole::Admin && other_admins(&mut tx, username).await? == 0 {
        return Err(StoreError::Conflict(
            "the cluster needs at least one admin".into(),
        ));
    }
    // An admin manages the Global tree from the start; a viewer never does.
    let done = sqlx::query(
        "UPDATE users SET role = $2, manage_global_content = CASE $2 WHEN 'admin' THEN 1 \
         WHEN 'viewer' THEN 0 ELSE manage_global_content END WHERE lower(username) = lower($1)",
    )
    .bind(username)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Removes a user and their sessions (`NotFound`, or `Conflict` for the
/// last admin).
pub async fn delete_user(db: &Db, username: &str) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    if other_admins(&mut tx, username).await? == 0 {
        return Err(StoreError::Conflict(
            "the cluster needs at least one admin".into(),
        ));
    }
    let done = sqlx::query("DELETE FROM users WHERE lower(username) = lower($1)")
        .bind(username)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// An account's failed logins in a row, and how long ago the last one was
/// (database clock); `None` when it has none within `window_ms`.
pub async fn login_failures(
    db: &Db,
    account: &str,
    window_ms: i64,
) -> Result<Option<(u32, i64)>, StoreError> {
    let now = db.dialect().now_ms();
    let row = sqlx::query(&format!(
        "SELECT failures, {now} - last_failure_at AS age FROM login_failures \
         WHERE account = $1 AND last_failure_at > {now} - $2"
    ))
    .bind(account)
    .bind(window_ms)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let failures: i64 = row.try_get("failures")?;
    Ok(Some((
        u32::try_from(failures).unwrap_or(u32::MAX),
        row.try_get("age")?,
    )))
}

/// Counts a failed login of an account (starting again at one when the
/// last failure is older than `window_ms`); also forgets accounts quiet for
/// longer than that, which keeps the table small without a separate task.
pub async fn login_failed(db: &Db, account: &str, window_ms: i64) -> Result<(), StoreError> {
    let now = db.dialect().now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO login_failures (account, failures, last_failure_at) VALUES ($1, 1, {now}) \
         ON CONFLICT (account) DO UPDATE SET failures = CASE \
         WHEN login_failures.last_failure_at > {now} - $2 THEN login_failures.failures + 1 ELSE 1 END, \
         last_failure_at = excluded.last_failure_at"
    ))
    .bind(account)
    .bind(window_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "DELETE FROM login_failures WHERE last_failure_at < {now} - $1"
    ))
    .bind(window_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets an account's failures (it signed in).
pub async fn login_succeeded(db: &Db, account: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE account = $1")
        .bind(account)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Remembers a browser that signed in to a user's account; also drops
/// expired devices.
pub async fn add_device(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    ttl_ms: i64,
) -> Result<(), StoreError> {
    let insert = "INSERT INTO login_devices (token_hash, user_id, expires_at) \
                  VALUES ($1, $2, {now} + $3) \
                  ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at";
    store_token(db, "login_devices", insert, token_hash, user_id, ttl_ms).await
}

/// The user whose account a live device cookie signed in to.
pub async fn device_user(db: &Db, token_hash: &str) -> Result<Option<i64>, StoreError> {
    let sql = format!(
        "SELECT user_id FROM login_devices WHERE token_hash = $1 AND expires_at > {}",
        db.dialect().now_ms()
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(token_hash)
        .fetch_optional(db.pool())
        .await?)
}

/// Grants or revokes the `manage_global_content` permission (`NotFound`).
pub async fn set_manage_global(db: &Db, username: &str, granted: bool) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE users SET manage_global_content = $2 WHERE lower(username) = lower($1)",
    )
    .bind(username)
    .bind(i64::from(granted))
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A user's role, by name.
pub async fn role_of_user(db: &Db, username: &str) -> Result<UserRole, StoreError> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM users WHERE lower(username) = lower($1)")
            .bind(username)
            .fetch_optional(db.pool())
            .await?;
    Ok(role_of(role.ok_or(StoreError::NotFound)?)?)
}
