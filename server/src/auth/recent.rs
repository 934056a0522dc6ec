//! Sessions this node verified lately, for the one request that must be
//! answered while the database is silent: the console's keep-alive, which
//! tells the console the database is out of reach instead of leaving it to
//! guess. Nothing else is served from here: every other route reads the
//! session from the database, so a sign-out or a removed user holds as
//! soon as the database answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;

use super::{session_token, store, token_hash, tokens, Auth, CurrentUser};
use crate::error::ApiError;

/// How long a verified session may stand in for the database.
const TRUST_FOR: Duration = Duration::from_secs(300);
/// The most sessions remembered; past it the oldest half is forgotten.
const MOST: usize = 10_000;
/// How long the session lookup may take before the memory is used.
const BUDGET: Duration = Duration::from_millis(250);

/// Verified sessions by token hash.
#[derive(Default)]
pub struct Recent(Mutex<HashMap<String, (CurrentUser, Instant)>>);

impl Recent {
    pub fn remember(&self, hash: &str, user: &CurrentUser) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MOST && !map.contains_key(hash) {
            let mut ages: Vec<Instant> = map.values().map(|(_, at)| *at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            map.retain(|_, (_, at)| *at > cut);
        }
        map.insert(hash.to_owned(), (user.clone(), Instant::now()));
    }

    pub fn forget(&self, hash: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    fn recall(&self, hash: &str) -> Option<CurrentUser> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < TRUST_FOR)
            .map(|(user, _)| user.clone())
    }
}

/// The keep-alive's user: as [`CurrentUser`], except that a session cookie
/// this node verified within the last five minutes still counts while the
/// database does not answer within a quarter of a second. API tokens get
/// no such grace.
pub struct KeepAliveUser {
    pub user: CurrentUser,
    /// The session came from memory: the database did not answer.
    pub database_silent: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for KeepAliveUser
where
    Auth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = Auth::from_ref(state);
        if tokens::bearer(&parts.headers).is_some() {
            let user = CurrentUser::from_request_parts(parts, state).await?;
            return Ok(Self {
                user,
                database_silent: false,
            });
        }
        let Some(token) = session_token(&parts.headers) else {
            return Err(ApiError::unauthorized());
        };
        let hash = token_hash(token);
        match tokio::time::timeout(BUDGET, store::session_user(&app.db, &hash)).await {
            Ok(Ok(Some(user))) => {
                app.recent.remember(&hash, &user);
                Ok(Self {
                    user,
                    database_silent: false,
                })
            }
            Ok(Ok(None)) => {
                app.recent.forget(&hash);
                Err(ApiError::unauthorized())
            }
            Ok(Err(_)) | Err(_) => app
                .recent
                .recall(&hash)
                .map(|user| Self {
                    user,
                    database_silent: true,
                })
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "timeout",
                        "the database did not answer in time",
                    )
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::UserRole;

    fn user(id: i64) -> CurrentUser {
        CurrentUser {
            id,
            username: format!("u{id}"),
            role: UserRole::Viewer,
            manage_global_content: false,
            token: None,
        }
    }

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let recent = Recent::default();
        recent.remember("a", &user(1));
        assert_eq!(recent.recall("a").map(|u| u.id), Some(1));
        recent.forget("a");
        assert!(recent.recall("a").is_none());
        for i in 0..(MOST + 10) {
            recent.remember(&format!("k{i}"), &user(i as i64));
        }
        let len = recent.0.lock().unwrap().len();
        assert!(len <= MOST, "bounded: {len}");
        assert!(
            recent.recall(&format!("k{}", MOST + 9)).is_some(),
            "the newest stays"
        );
    }
}
