//! A standalone node's users arriving in the cluster: matched by name
//! (whatever its case); a missing user is created with their password
//! hash, role and Global permission, so they sign in as before.

use std::collections::HashMap;

use super::store;
use crate::db::{Db, StoreError};

/// The source's users as the cluster knows them.
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// The source's user ids mapped to the cluster's. In a dry run a
    /// missing user maps to a negative id that owns nothing.
    pub ids: HashMap<i64, i64>,
    /// The source's user ids to their names.
    pub names: HashMap<i64, String>,
    /// How many users were (or, in a dry run, would be) created.
    pub created: u64,
}

pub async fn import_users(target: &Db, source: &Db, dry_run: bool) -> Result<Users, StoreError> {
    let mut users = Users::default();
    let there: HashMap<String, i64> = store::all_users(target)
        .await?
        .into_iter()
        .map(|u| (u.user.username.to_lowercase(), u.user.id))
        .collect();
    for u in store::all_users(source).await? {
        let name = &u.user.username;
        users.names.insert(u.user.id, name.clone());
        if let Some(id) = there.get(&name.to_lowercase()) {
            users.ids.insert(u.user.id, *id);
            continue;
        }
        users.created += 1;
        if dry_run {
            users.ids.insert(u.user.id, -u.user.id);
            continue;
        }
        store::create_user(target, name, &u.password_hash, u.user.role).await?;
        if u.user.manage_global_content {
            store::set_manage_global(target, name, true).await?;
        }
        if let Some(t) = store::find_user(target, name).await? {
            users.ids.insert(u.user.id, t.user.id);
        }
    }
    Ok(users)
}
