//! Vigil: a multi-server management console for fleets of managed products.
//!
//! This crate is one Vigil **node**: an axum server that shares its database
//! (SQLite embedded, PostgreSQL for clusters) with the other nodes of the
//! cluster and serves the operator console.
//!
//! # Layout
//!
//! One folder per capability; inside each, its state (what it holds on a
//! node, reached by handlers through axum's `FromRef`), `handlers.rs` (thin
//! HTTP handlers), plain domain logic, and `store.rs` holding all of that
//! capability's SQL. `docs/ARCHITECTURE.md` says which capability may call
//! which; this file only wires them together.
//!
//! Shared by every capability:
//! - [`cidr`]: networks as the configuration names them.
//! - [`config`]: layered configuration (defaults, TOML, `VIGIL_*`, flags).
//! - [`db`]: the pool, migrations, and the few SQLite/PostgreSQL differences.
//! - [`cluster`]: the node's signals, leases and singletons, background
//!   tasks, the shared state counters.
//! - [`error`]: the JSON error every failure is answered with.
//! - [`listener`]: the accept loop and its connection limits and timeouts.
//! - [`tls`]: HTTPS (the certificate, its reload on SIGHUP, the redirect).
//! - [`outbound`]: where requests to URLs chosen by others may go.
//! - [`trail`]: the audit trail's records (appended, searched, pruned).
//!
//! The capabilities:
//! - [`nodes`]: the node registry and its once-a-second refresh task.
//! - [`auth`]: users, argon2 passwords, database sessions, CSRF guard.
//! - [`keepalive`]: the console keep-alive and its state string counters.
//! - [`products`]: registration, UDP/HTTP liveness, the offline sweep, the
//!   fleet's status over time.
//! - [`enrollment`]: the cluster's enrollment secret, seeded from the
//!   configuration and rotated by admins.
//! - [`queue`]: the shared command queue, routed to each product's home
//!   node, with leases, backoff and a rescue singleton.
//! - [`provision`]: device "hello" requests, processed by the receiving node.
//! - [`content`]: each user's folders of investigations and the Global
//!   tree; investigations run over the fleet (the `query` crate).
//! - [`alerts`]: evaluation of the alerts enabled on this node, firings.
//! - [`centralize`]: a standalone node's data arriving in the cluster.
//! - [`audit`]: the audit trail of what people and tokens did.
//! - [`console`]: the Leptos pages, their static files and login guard.
//!
//! [`serve`] runs a node on a listener until a shutdown signal; [`router`]
//! builds its routes (integration tests start real nodes with both).

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod centralize;
pub mod cidr;
pub mod cluster;
pub mod config;
pub mod console;
pub mod content;
pub mod db;
pub mod enrollment;
pub mod error;
pub mod keepalive;
pub mod listener;
pub mod nodes;
pub mod openapi;
pub mod outbound;
pub mod products;
pub mod provision;
pub mod queue;
mod routes;
pub mod tls;
pub mod trail;

use std::future::Future;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

pub use routes::router;

use crate::alerts::Alerts;
use crate::audit::Audit;
use crate::auth::Auth;
use crate::centralize::handlers::Centralize;
use crate::cluster::singleton::{self, Singleton};
use crate::cluster::{Ending, Signals, Task};
use crate::config::Config;
use crate::console::Console;
use crate::content::Content;
use crate::db::{Db, Dialect};
use crate::enrollment::Enrollment;
use crate::keepalive::KeepAlive;
use crate::nodes::{NodeIdentity, Nodes};
use crate::products::Products;
use crate::provision::Provision;
use crate::queue::Queue;

/// Largest request body any endpoint accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The router's state: one state per capability, each reached by its
/// handlers through `FromRef` (a handler names only the one it needs).
/// axum clones the router's state for every request, so it is one
/// reference count, not one per capability.
#[derive(Clone)]
pub struct AppState(Arc<Capabilities>);

/// Lets handlers extract each capability's state from [`AppState`].
macro_rules! reach {
    ($($field:ident: $state:ty),+ $(,)?) => {
        $(impl FromRef<AppState> for $state {
            fn from_ref(app: &AppState) -> Self {
                app.0.$field.clone()
            }
        })+
    };
}

reach! {
    auth: Auth,
    nodes: Nodes,
    keepalive: KeepAlive,
    enrollment: Enrollment,
    products: Products,
    queue: Queue,
    provision: Provision,
    console: Console,
    content: Content,
    alerts: Alerts,
    centralize: Centralize,
    audit: Audit,
    leptos: LeptosOptions,
}

impl std::ops::Deref for AppState {
    type Target = Capabilities;

    fn deref(&self) -> &Capabilities {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Capabilities {
    pub auth: Auth,
    pub nodes: Nodes,
    pub keepalive: KeepAlive,
    pub enrollment: Enrollment,
    pub products: Products,
    pub queue: Queue,
    pub provision: Provision,
    pub console: Console,
    pub content: Content,
    pub alerts: Alerts,
    pub centralize: Centralize,
    pub audit: Audit,
    pub leptos: LeptosOptions,
    pub connections: Arc<listener::ConnStats>,
    /// The certificate when the node serves HTTPS.
    pub tls: Option<Arc<tls::Tls>>,
}

/// Runs a node on `listener` until `shutdown` completes (see [`Node`]).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), anyhow::Error> {
    Node::start(listener, config).await?.run(shutdown).await
}

/// A node that has joined its cluster and is about to serve.
pub struct Node {
    app: AppState,
    db: Db,
    signals: Signals,
    limits: listener::Limits,
    listener: TcpListener,
    /// The plain-HTTP listener that redirects to HTTPS (`redirect_listen`).
    redirect: Option<TcpListener>,
    /// Its background tasks, ended in this order (see [`Task::end_all`]).
    tasks: Vec<Task>,
}

impl Node {
    /// Opens the database (running migrations), creates the first admin if
    /// needed and registers the node. Any failure is returned before
    /// anything is served.
    pub async fn start(listener: TcpListener, config: Config) -> Result<Node, anyhow::Error> {
        let local = listener.local_addr()?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::Tls::load(cert, key)?),
            _ => None,
        };
        let redirect = match config.redirect_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?,
            ),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local}"));
        if Dialect::from_url(config.database_url.expose())? == Dialect::Sqlite {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", config.data_dir.display()))?;
        }
        let db = Db::connect(config.database_url.expose()).await?;
        let config = Arc::new(config);
        let enrollment = Enrollment::new(db.clone());
        enrollment
            .seed(config.enrollment_secret.as_ref().map(|s| s.expose()))
            .await?;
        let me = NodeIdentity::new(
            config.node_name.clone(),
            url.trim_end_matches('/').to_owned(),
            config.public_url.is_none(),
            config.role,
        );
        let nodes = Nodes::new(db.clone(), me, config.node_offline_after);
        let signals = Signals::new(cluster::store::read(&db).await?);
        let products = Products::open(
            db.clone(),
            config.clone(),
            nodes.clone(),
            enrollment.clone(),
            signals.clone(),
        )
        .await?;
        let (queue, queue_writers) = Queue::start(
            db.clone(),
            queue::QueueConfig::of(&config),
            nodes.clone(),
            products.clone(),
            signals.clone(),
        );
        let provision = Provision {
            db: db.clone(),
            config: config.clone(),
            enrollment: enrollment.clone(),
            queue: queue.clone(),
        };
        let auth = Auth::new(
            db.clone(),
            config.clone(),
            nodes.me().name.clone(),
            &nodes.me().url,
        );
        auth::bootstrap_admin(&auth).await?;
        nodes.join().await?;
        let content = Content::new(db.clone(), &config);
        content.publish().await?;
        let alerts = Alerts::new(db.clone(), content.clone(), nodes.clone());
        let singletons: Vec<Box<dyn Singleton>> = [
            products.singletons(),
            queue.singletons(),
            provision.singletons(),
            alerts.singletons(config.callback_allow.clone(), config.ca_cert.as_deref())?,
        ]
        .into_iter()
        .flatten()
        .collect();
        let audit = Audit {
            db: db.clone(),
            auth: auth.clone(),
            node: config.node_name.clone(),
        };
        // Ended in this order: those that finish write what they hold, and
        // the counter writer comes after everything that moves counters.
        let tasks: Vec<Task> = [
            vec![nodes.task(signals.closing())],
            products.tasks(),
            queue_writers,
            queue.tasks(),
            alerts.tasks(signals.closing(), signals.state()),
            audit
                .task(config.audit_retention_days, signals.closing())
                .into_iter()
                .collect(),
            centralize::join::standalone_source(&config)
                .map(|source_url| {
                    centralize::join::Join {
                        target: db.clone(),
                        auth: auth.clone(),
                        node: config.node_name.clone(),
                        source_url,
                        log_retention: i64::from(config.log_retention),
                    }
                    .task(signals.closing())
                })
                .into_iter()
                .collect(),
            vec![Task::spawn(
                "singletons",
                Ending::Finish,
                singleton::run(
                    db.clone(),
                    config.node_name.clone(),
                    singletons,
                    signals.closing(),
                ),
            )],
            signals.tasks(&db),
        ]
        .into_iter()
        .flatten()
        .collect();
        let leptos = LeptosOptions::builder()
            .output_name("vigil")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .build();
        let app = AppState(Arc::new(Capabilities {
            keepalive: KeepAlive::new(db.clone(), nodes.clone(), signals.clone()),
            console: Console {
                defaults_query: config.console_defaults.as_str().into(),
            },
            content,
            alerts,
            centralize: Centralize { db: db.clone() },
            audit,
            connections: Default::default(),
            tls,
            auth,
            nodes,
            enrollment,
            products,
            queue,
            provision,
            leptos,
        }));
        Ok(Node {
            limits: listener::Limits {
                max_connections: config.max_connections,
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
            },
            app,
            db,
            signals,
            listener,
            redirect,
            tasks,
        })
    }

    /// The URL this node registered under.
    pub fn url(&self) -> &str {
        &self.app.nodes.me().url
    }

    /// Serves until `shutdown` completes, then marks the node stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), anyhow::Error> {
        let Node {
            app,
            db,
            signals,
            limits,
            listener,
            redirect,
            tasks,
        } = self;
        let nodes = app.nodes.clone();
        let name = nodes.me().name.clone();
        tracing::info!(node = %name, role = %nodes.me().role.get(), url = %nodes.me().url, "node serving");
        let stats = app.connections.clone();
        let tls = app.tls.clone();
        let hangups = tls.clone().map(|tls| tokio::spawn(tls.reload_on_hangup()));
        let (stop_redirect, redirect_stops) = tokio::sync::watch::channel(false);
        let redirecting = redirect.map(|plain| {
            let https_base = app.auth.config.public_url.clone();
            let https_port = listener.local_addr().map_or(443, |a| a.port());
            tokio::spawn(listener::serve(
                plain,
                tls::redirect_router(https_base, https_port),
                limits,
                Default::default(),
                None,
                async move {
                    let mut stops = redirect_stops;
                    let _ = stops.wait_for(|stop| *stop).await;
                },
            ))
        });
        listener::serve(listener, router(app), limits, stats, tls, async move {
            shutdown.await;
            // Waiting keep-alives answer now instead of holding the exit.
            signals.close();
        })
        .await;
        stop_redirect.send_replace(true);
        if let Some(redirecting) = redirecting {
            let _ = redirecting.await;
        }
        if let Some(hangups) = hangups {
            hangups.abort();
        }
        Task::end_all(tasks).await;
        if let Err(e) = nodes.leave().await {
            tracing::warn!(error = %e, "could not mark the node stopped");
        }
        db.close().await;
        tracing::info!(node = %name, "node stopped");
        Ok(())
    }
}
