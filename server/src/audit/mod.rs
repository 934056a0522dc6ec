//! The audit trail (`audit_events`, through the shared [`trail`] module):
//! a layer on the console API records every state-changing request, and
//! every request made with an API token, with who made it (user and how),
//! the client address, the node, the action, its target and the outcome.
//! Requests from nobody signed in are not recorded (anyone could fill the
//! trail), except calls with a revoked or expired token, named for its
//! owner. Sign-ins are recorded by `auth` itself. Admins search the trail here;
//! nothing changes or deletes a record but the retention prune.
//!
//! [`trail`]: crate::trail

pub mod handlers;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

use crate::auth::{self, Auth};
use crate::cluster::{Ending, Task};
use crate::db::Db;
use crate::trail::{self, Entry};

/// The capability's state on a node.
#[derive(Clone)]
pub struct Audit {
    pub db: Db,
    pub auth: Auth,
    pub node: String,
}

/// The action a console request stands for, by method and route.
pub fn action(method: &Method, route: &str) -> String {
    let name = match (method.as_str(), route) {
        ("POST", "/api/v1/users") => "user.create",
        ("DELETE", "/api/v1/users/{name}") => "user.remove",
        ("PUT", "/api/v1/users/{name}/role") => "user.role",
        ("PUT", "/api/v1/users/{name}/permissions") => "user.permissions",
        ("POST", "/api/v1/tokens") => "token.create",
        ("DELETE", "/api/v1/tokens/{id}") => "token.revoke",
        ("POST", "/api/v1/enrollment/rotate") => "enrollment.rotate",
        ("PUT", "/api/v1/nodes/{name}/role") => "node.role",
        ("POST", "/api/v1/commands") => "command.queue",
        ("POST", "/api/v1/products/{id}/reenroll") => "product.reenroll",
        ("POST", "/api/v1/content") => "content.create",
        ("PATCH", "/api/v1/content/{id}") => "content.change",
        ("DELETE", "/api/v1/content/{id}") => "content.delete",
        ("POST", "/api/v1/content/{id}/duplicate") => "content.duplicate",
        ("POST", "/api/v1/content/folders") => "folder.create",
        ("PATCH", "/api/v1/content/folders/{id}") => "folder.change",
        ("DELETE", "/api/v1/content/folders/{id}") => "folder.delete",
        ("PUT", "/api/v1/content/{id}/nodes/{node}") => "alert.enable",
        ("DELETE", "/api/v1/content/{id}/nodes/{node}") => "alert.disable",
        ("POST", "/api/v1/centralization/{node}/retry") => "centralization.retry",
        ("POST", "/api/v1/auth/logout" | "/auth/logout") => "sign_out",
        (m, r) => return format!("{} {r}", m.to_lowercase()),
    };
    name.to_owned()
}

/// Requests that change nothing, or that are recorded elsewhere (sign-in
/// by `auth`), or that the console makes by itself (hand-off tokens).
fn skipped(method: &Method, route: &str) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || matches!(
            route,
            "/api/v1/investigations/run"
                | "/api/v1/investigations/explain"
                | "/api/v1/content/{id}/run"
                | "/api/v1/alerts/test"
        );
    reads
        || matches!(
            route,
            "/api/v1/auth/login" | "/auth/login" | "/api/v1/auth/handoff"
        )
}

/// The layer: records the request after it is answered.
pub async fn layer(State(audit): State<Audit>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let token = auth::tokens::bearer(request.headers()).is_some();
    if route.is_empty() || (skipped(&method, &route) && !token) {
        return next.run(request).await;
    }
    // Who, before the request runs: a sign-out or a revocation ends the
    // session or token it came with.
    let who = match auth::tokens::bearer(request.headers()) {
        Some(t) => auth::tokens::user(&audit.auth, t).await.ok().flatten(),
        None => auth::session_user(request.headers(), &audit.auth)
            .await
            .ok()
            .flatten(),
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            auth::client::client_ip(
                c.0.ip(),
                request.headers(),
                &audit.auth.config.trusted_proxies,
            )
            .to_string()
        })
        .unwrap_or_default();
    let target = request.uri().path().to_owned();
    // Nobody signed in: only a call with a real (revoked or expired) token
    // is worth a record. Anything else would let anyone write to the
    // trail at will.
    let stale = match (&who, auth::tokens::bearer(request.headers())) {
        (None, Some(t)) => auth::tokens::owner(&audit.auth, t).await.ok().flatten(),
        _ => None,
    };
    let response = next.run(request).await;
    let (actor, via) = match (who, stale) {
        (Some(u), _) => {
            let via = match &u.token {
                Some(id) => format!("token:{id}"),
                None => "session".to_owned(),
            };
            (u.username, via)
        }
        (None, Some((name, id))) => (name, format!("token:{id}")),
        (None, None) => return response,
    };
    let entry = Entry {
        actor,
        via,
        client,
        node: audit.node.clone(),
        action: action(&method, &route),
        target,
        status: response.status().as_u16(),
    };
    if let Err(e) = trail::record(&audit.db, &entry).await {
        tracing::error!(error = %e, action = %entry.action, "could not record an audit event");
    }
    response
}

impl Audit {
    /// Drops records past the retention, hourly (on every node: the same
    /// cheap statement).
    pub fn task(&self, days: u32, mut closing: watch::Receiver<bool>) -> Option<Task> {
        if days == 0 {
            return None;
        }
        let db = self.db.clone();
        let keep = i64::from(days) * 86_400_000;
        Some(Task::spawn("audit-prune", Ending::Abort, async move {
            loop {
                if let Err(e) = trail::prune(&db, keep).await {
                    tracing::warn!(error = %e, "audit prune");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = closing.changed() => return,
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_actions() {
        assert_eq!(action(&Method::POST, "/api/v1/tokens"), "token.create");
        assert_eq!(
            action(&Method::DELETE, "/api/v1/tokens/{id}"),
            "token.revoke"
        );
        assert_eq!(
            action(&Method::GET, "/api/v1/products"),
            "get /api/v1/products"
        );
        assert!(skipped(&Method::GET, "/api/v1/products"));
        assert!(skipped(&Method::POST, "/api/v1/auth/login"));
        assert!(!skipped(&Method::POST, "/api/v1/commands"));
    }
}
