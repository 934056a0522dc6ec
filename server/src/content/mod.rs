//! Content: each user's tree of folders with investigations, one-click
//! investigations and alerts, and the Global tree every user sees.
//!
//! Only the owner sees, runs or changes their items, by any route and by
//! id: another user's item answers as if it did not exist. The Global tree
//! is read by everyone and changed only with the `manage_global_content`
//! permission. Every change moves the content counter of the state string
//! in its own transaction, so open consoles refresh their trees.

pub mod alert_handlers;
pub mod alerts;
pub mod centralize;
pub mod folders;
pub mod handlers;
pub mod investigate;
pub mod merge;
pub mod store;
mod tree;

pub use store::alerts::EnabledAlert;
pub use store::run::Cell;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use app::api::content::{ItemKind, Scope};
use query::sql::Engine;

use crate::auth::CurrentUser;
use crate::config::Config;
use crate::db::{Db, Dialect};
use crate::error::ApiError;

/// Folders one tree may hold.
pub const MAX_FOLDERS: i64 = 1_000;
/// Items one tree may hold.
pub const MAX_ITEMS: i64 = 5_000;
/// Folders nest at most this deep.
pub const MAX_DEPTH: usize = 16;
/// Characters of a folder or item name.
pub const MAX_NAME: usize = 100;
/// Investigations one node runs at once; the rest are told to retry.
const CONCURRENT_RUNS: usize = 3;

/// Whose tree: a user's, or the Global one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    User(i64),
    Global,
}

impl Owner {
    /// The `user_id` column (NULL for Global).
    pub fn user_id(self) -> Option<i64> {
        match self {
            Owner::User(id) => Some(id),
            Owner::Global => None,
        }
    }

    /// `COALESCE(user_id, 0)`, as the unique indexes read it.
    pub fn key(self) -> i64 {
        self.user_id().unwrap_or(0)
    }

    /// The owner of `scope` for `user`.
    pub fn of(scope: Scope, user: &CurrentUser) -> Owner {
        match scope {
            Scope::Mine => Owner::User(user.id),
            Scope::Global => Owner::Global,
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Owner::User(_) => Scope::Mine,
            Owner::Global => Scope::Global,
        }
    }

    /// Whether `user` may see what this owner holds.
    pub fn visible_to(self, user: &CurrentUser) -> bool {
        match self {
            Owner::User(id) => id == user.id,
            Owner::Global => true,
        }
    }

    /// Whether `user` may change what this owner holds: their own tree,
    /// or the Global tree with the permission. Another user's tree is
    /// answered as missing, never as forbidden.
    pub fn check_change(self, user: &CurrentUser) -> Result<(), ApiError> {
        match self {
            Owner::User(id) if id == user.id => Ok(()),
            Owner::User(_) => Err(ApiError::not_found("no such content")),
            Owner::Global if user.manage_global_content => Ok(()),
            Owner::Global => Err(ApiError::forbidden(
                "changing the Global tree needs the manage_global_content permission",
            )),
        }
    }
}

/// The content capability's state on a node; cheap to clone.
#[derive(Clone)]
pub struct Content {
    db: Db,
    engine: Engine,
    /// How long one investigation may run.
    timeout: Duration,
    /// Rows a CSV export holds at most.
    csv_max_rows: i64,
    runs: Arc<Semaphore>,
    /// This node's name, where a new alert is enabled.
    node: Arc<str>,
    alert_limit: i64,
    /// Internal networks webhooks may point into anyway.
    webhook_allow: Arc<Vec<crate::outbound::Cidr>>,
}

impl Content {
    pub fn new(db: Db, config: &Config) -> Self {
        let engine = match db.dialect() {
            Dialect::Sqlite => Engine::Sqlite,
            Dialect::Postgres => Engine::Postgres,
        };
        Self {
            db,
            engine,
            timeout: config.investigation_timeout,
            csv_max_rows: config.investigation_csv_max_rows as i64,
            runs: Arc::new(Semaphore::new(CONCURRENT_RUNS)),
            node: config.node_name.as_str().into(),
            alert_limit: i64::from(config.alert_limit),
            webhook_allow: Arc::new(config.callback_allow.clone()),
        }
    }

    /// The alerts enabled on this node.
    pub async fn alerts_enabled_here(
        &self,
    ) -> Result<Vec<store::alerts::EnabledAlert>, crate::db::StoreError> {
        store::alerts::enabled_on(&self.db, &self.node).await
    }

    /// An alert's settings and enabled nodes, if `user` may see it.
    pub async fn alert_seen_by(
        &self,
        user: &CurrentUser,
        id: &str,
    ) -> Result<(alerts::Rule, Vec<String>), ApiError> {
        let item = handlers::visible_item(self, user, id).await?;
        store::alerts::of(&self.db, &item.id)
            .await?
            .ok_or_else(|| ApiError::bad_request("not_an_alert", "this item is not an alert"))
    }

    /// The names of the alerts `user` may see, by id.
    pub async fn alert_names_seen_by(
        &self,
        user: &CurrentUser,
    ) -> Result<std::collections::HashMap<String, String>, crate::db::StoreError> {
        store::alerts::names_visible(&self.db, user.id).await
    }

    /// The first `q.limit` rows of a checked query, for an alert (or the
    /// products per home), within the investigation timeout.
    pub async fn rows(
        &self,
        q: &query::Checked,
        me: &str,
        now_ms: i64,
    ) -> Result<Vec<Vec<store::run::Cell>>, crate::db::StoreError> {
        let rows = compiled(query::sql::rows(
            q,
            self.engine,
            &bindings(me, now_ms),
            0,
            q.limit,
        ))?;
        let reads: Vec<store::run::Read> = q
            .columns()
            .iter()
            .map(|c| store::run::Read::of(c.ty))
            .collect();
        store::run::rows(&self.db, self.timeout, &rows, &reads).await
    }

    /// How many rows a checked query finds, for an alert.
    pub async fn count(
        &self,
        q: &query::Checked,
        me: &str,
        now_ms: i64,
    ) -> Result<i64, crate::db::StoreError> {
        let total = compiled(query::sql::total(q, self.engine, &bindings(me, now_ms)))?;
        store::run::count(&self.db, self.timeout, &total).await
    }

    /// Records this node's `alert_limit` for the cluster (at start).
    pub async fn publish(&self) -> Result<(), crate::db::StoreError> {
        store::alerts::publish_limit(&self.db, &self.node, self.alert_limit).await
    }
}

fn bindings(me: &str, now_ms: i64) -> query::sql::Bindings<'_> {
    query::sql::Bindings {
        now_ms,
        me,
        product: None,
    }
}

/// An alert's query as SQL: alerts cannot name `@product`.
fn compiled(
    r: Result<query::sql::Statement, query::sql::CompileError>,
) -> Result<query::sql::Statement, crate::db::StoreError> {
    r.map_err(|_| crate::db::StoreError::Conflict("an alert cannot name @product".into()))
}

/// A definition that checked: as written, canonical, and the hash of the
/// canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub text: String,
    pub canonical: String,
    pub hash: String,
}

/// Checks a definition for an item of `kind`; the error names the place.
pub fn define(text: &str, kind: ItemKind) -> Result<Definition, ApiError> {
    let checked = query::analyze(text, query_kind(kind))
        .map_err(|e| ApiError::bad_request("invalid_definition", e.to_string()))?;
    let canonical = query::canonical(&checked);
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok(Definition {
        text: text.to_owned(),
        canonical,
        hash,
    })
}

/// Webhooks one alert may have.
pub const MAX_WEBHOOKS: usize = 5;

impl Content {
    /// Checks an alert's webhook URLs: http(s), no internal address unless
    /// allowed (`callback_allow`), at most [`MAX_WEBHOOKS`].
    pub fn check_webhooks(&self, urls: &[String]) -> Result<Vec<String>, ApiError> {
        if urls.len() > MAX_WEBHOOKS {
            return Err(ApiError::bad_request(
                "invalid_alert",
                format!("an alert has at most {MAX_WEBHOOKS} webhooks"),
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for url in urls {
            let url = url.trim().to_owned();
            crate::outbound::check_url(&url, &self.webhook_allow).map_err(|why| {
                ApiError::bad_request("invalid_alert", format!("webhook {url} refused: {why}"))
            })?;
            if !out.contains(&url) {
                out.push(url);
            }
        }
        Ok(out)
    }
}

/// Checks an alert: its query, then its condition and timing against it.
/// The canonical form covers both, so two copies that differ only in
/// their condition are different definitions.
pub fn define_alert(
    text: &str,
    spec: &app::api::content::AlertSpec,
) -> Result<(Definition, alerts::Rule), ApiError> {
    let checked = query::analyze(text, query::Kind::Alert)
        .map_err(|e| ApiError::bad_request("invalid_definition", e.to_string()))?;
    let rule = alerts::Rule::check(spec, &checked)?;
    let canonical = query::canonical(&checked) + &rule.canonical_suffix();
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok((
        Definition {
            text: text.to_owned(),
            canonical,
            hash,
        },
        rule,
    ))
}

pub fn query_kind(kind: ItemKind) -> query::Kind {
    match kind {
        ItemKind::Investigation => query::Kind::Investigation,
        ItemKind::OneClick => query::Kind::OneClick,
        ItemKind::Alert => query::Kind::Alert,
    }
}

/// A folder or item name: trimmed, 1 to [`MAX_NAME`] characters, no `/`
/// (paths are written with it) and no control characters.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a name has 1 to {MAX_NAME} characters"),
        ));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a name cannot hold \"/\" or control characters",
        ));
    }
    Ok(name.to_owned())
}
