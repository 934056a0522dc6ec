//! A standalone node's users arriving in the cluster: matched by name
//! (whatever its case); a missing user is created with their password
//! hash, role and Global permission, so they sign in as before.

use std::collections::HashMap;

use super::store;
use crate::db::{Db, StoreError};

/// The source's user ids mapped to the cluster's, and how many users were
/// (or, in a dry run, would be) created. In a dry run a missing user maps
/// to a negative id that owns nothing.
pub async fn import_users(
    target: &Db,
    source: &Db,
    dry_run: bool,
) -> Result<(HashMap<i64, i64>, u64), StoreError> {
    let mut map = HashMap::new();
    let mut created = 0;
    let there: HashMap<String, i64> = store::all_users(target)
        .await?
        .into_iter()
        .map(|u| (u.user.username.to_lowercase(), u.user.id))
        .collect();
    for u in store::all_users(source).await? {
        let name = &u.user.username;
        if let Some(id) = there.get(&name.to_lowercase()) {
            map.insert(u.user.id, *id);
            continue;
        }
        created += 1;
        if dry_run {
            map.insert(u.user.id, -u.user.id);
            continue;
        }
        store::create_user(target, name, &u.password_hash, u.user.role).await?;
        if u.user.manage_global_content {
            store::set_manage_global(target, name, true).await?;
        }
        if let Some(t) = store::find_user(target, name).await? {
            map.insert(u.user.id, t.user.id);
        }
    }
    Ok((map, created))
}
