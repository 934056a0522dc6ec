//! Vigil: a multi-server management console for fleets of managed products.
//!
//! This crate is one Vigil **node**: an axum server that shares its database
//! (SQLite embedded, PostgreSQL for clusters) with the other nodes of the
//! cluster and serves the operator console.
//!
//! # Layout
//!
//! One folder per capability; inside each, `handlers.rs` (thin HTTP
//! handlers), plain domain logic in `mod.rs`, and `store.rs` holding all of
//! that capability's SQL.
//!
//! - [`cidr`]: networks as the configuration names them.
//! - [`config`]: layered configuration (defaults, TOML, `VIGIL_*`, flags).
//! - [`db`]: the pool, migrations, and the few SQLite/PostgreSQL differences.
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
//! - [`console`]: the Leptos pages, their static files and login guard.
//! - [`error`]: the JSON error every failure is answered with.
//! - [`listener`]: the accept loop and its connection limits and timeouts.
//!
//! [`serve`] runs a node on a listener until a shutdown signal; [`router`]
//! builds its routes (integration tests start real nodes with both).

pub mod auth;
pub mod cidr;
pub mod config;
pub mod console;
pub mod db;
pub mod enrollment;
pub mod error;
pub mod keepalive;
pub mod listener;
pub mod nodes;
pub mod products;
pub mod provision;
pub mod queue;
#[doc(hidden)]
pub mod testkit;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post, put};
use axum::Router;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use app::state::StateString;

use crate::auth::limiter::AddressLimiter;
use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::{Db, Dialect};
use crate::error::ApiError;
use crate::nodes::NodeIdentity;

/// Largest request body any endpoint accepts.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach. axum clones the state for every request,
/// so it is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(app: &AppState) -> Self {
        app.leptos.clone()
    }
}

impl FromRef<AppState> for products::SharedProducts {
    fn from_ref(app: &AppState) -> Self {
        app.products.clone()
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    pub node: Arc<NodeIdentity>,
    /// Failed logins per client address, on this node.
    pub addresses: Arc<AddressLimiter>,
    /// The password hashing threads.
    pub hasher: Arc<Hasher>,
    /// What the listener's limits closed.
    pub connections: Arc<listener::ConnStats>,
    pub leptos: LeptosOptions,
    /// The latest state string, for waiting keep-alives.
    pub state_watch: Arc<watch::Sender<StateString>>,
    /// Turns true when the node begins to shut down, ending long polls.
    pub closing: Arc<watch::Sender<bool>>,
    pub products: products::SharedProducts,
    /// Wakes this node's queue dispatcher (a command was queued here).
    pub queue_wake: Arc<tokio::sync::Notify>,
    /// Moves busy state counters after commit (see `keepalive::bumper`).
    pub bumper: Arc<keepalive::bumper::Bumper>,
    /// Products' fetches and results, written by group commit.
    pub queue_io: queue::Io,
}

impl Shared {
    /// The commands changed: their counter moves shortly.
    pub fn commands_changed(&self) {
        self.bumper.mark(app::state::StateClass::Commands);
    }
}

impl Shared {
    pub fn offline_after_ms(&self) -> i64 {
        self.config.node_offline_after.as_millis() as i64
    }
}

/// Every route of a node.
pub fn router(app: AppState) -> Router {
    // Console and admin calls: authenticated by the session cookie, so
    // cross-site requests are refused.
    let console_api = Router::new()
        .route("/api/v1/keepalive", get(keepalive::handlers::keepalive))
        .route("/api/v1/nodes", get(nodes::handlers::list))
        .route("/api/v1/nodes/{name}/role", put(nodes::handlers::set_role))
        .route("/api/v1/auth/handoff", post(auth::handlers::handoff_issue))
        .route("/api/v1/me", get(auth::handlers::me))
        .route(
            "/api/v1/users",
            get(auth::users::list).post(auth::users::create),
        )
        .route("/api/v1/users/{name}", delete(auth::users::remove))
        .route("/api/v1/users/{name}/role", put(auth::users::set_role))
        .route("/api/v1/auth/login", post(auth::handlers::login_json))
        .route("/api/v1/auth/logout", post(auth::handlers::logout_json))
        .route("/api/v1/products", get(products::handlers::list))
        .route("/api/v1/products/counts", get(products::handlers::counts))
        .route("/api/v1/products/history", get(products::handlers::history))
        .route("/api/v1/enrollment", get(enrollment::handlers::show))
        .route(
            "/api/v1/enrollment/rotate",
            post(enrollment::handlers::rotate),
        )
        .route("/api/v1/products/{id}", get(products::handlers::detail))
        .route(
            "/api/v1/products/{id}/reenroll",
            post(products::enroll::reenroll),
        )
        .route(
            "/api/v1/commands",
            get(queue::handlers::list).post(queue::handlers::create),
        )
        .route("/api/v1/commands/{id}", get(queue::handlers::detail))
        .merge(console::routes(&app))
        .route("/auth/login", post(auth::handlers::login_form))
        .route("/auth/logout", post(auth::handlers::logout_form))
        .route("/auth/handoff", get(auth::handlers::handoff_redeem))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            auth::csrf::guard,
        ));
    // The product wire protocol: bearer keys and the enrollment secret, never
    // cookies, so no cross-site guard on this hot path.
    let product_api = Router::new()
        .route(
            "/api/v1/products/register",
            post(products::enroll::register),
        )
        .route(
            "/api/v1/products/{id}/handshake",
            post(products::enroll::handshake),
        )
        .route(
            "/api/v1/products/{id}/heartbeat",
            post(products::handlers::heartbeat),
        )
        .route("/api/v1/products/{id}/logs", post(products::handlers::logs))
        .route(
            "/api/v1/products/{id}/commands",
            get(products::handlers::commands),
        )
        .route(
            "/api/v1/products/{id}/commands/{cid}/result",
            post(products::handlers::result),
        )
        .route("/api/v1/provision/hello", post(provision::handlers::hello));
    Router::new()
        .merge(console_api)
        .merge(product_api)
        .route("/healthz", get(nodes::handlers::healthz))
        .route("/metrics", get(products::metrics::metrics))
        .fallback(console::not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(console::security_headers))
        .with_state(app)
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
    listener: TcpListener,
    registry: AbortOnDrop,
    follower: AbortOnDrop,
    udp: AbortOnDrop,
    keywatch: AbortOnDrop,
    flusher: AbortOnDrop,
    sweeper: AbortOnDrop,
    dispatcher: AbortOnDrop,
    rescuer: AbortOnDrop,
    bumper: AbortOnDrop,
    queue_tasks: [AbortOnDrop; 3],
}

impl Node {
    /// Opens the database (running migrations), creates the first admin if
    /// needed and registers the node. Any failure is returned before
    /// anything is served.
    pub async fn start(listener: TcpListener, config: Config) -> Result<Node, anyhow::Error> {
        let local = listener.local_addr()?;
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        if Dialect::from_url(config.database_url.expose())? == Dialect::Sqlite {
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", config.data_dir.display()))?;
        }
        let db = Db::connect(config.database_url.expose()).await?;
        enrollment::seed(&db, config.enrollment_secret.as_ref().map(|s| s.expose())).await?;
        let socket = products::udp::bind(config.udp_listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on UDP {}: {e}", config.udp_listen))?;
        let socket = Arc::new(socket);
        let products = Arc::new(products::Products {
            recorder: Default::default(),
            keys: Default::default(),
            udp: Default::default(),
            hellos: Default::default(),
            udp_endpoint: socket.local_addr()?.to_string(),
            udp_socket: socket.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(products::callback::Resolver::new(
                    config.callback_allow.clone(),
                )))
                .build()?,
            callback_allow: config.callback_allow.clone(),
        });
        let keys_since = products::keywatch::load(&db, &products).await?;
        let node = NodeIdentity::new(
            config.node_name.clone(),
            url.trim_end_matches('/').to_owned(),
            config.role,
        );
        let leptos = LeptosOptions::builder()
            .output_name("vigil")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .build();
        let (queue_io, queue_tasks) =
            queue::Io::start(db.clone(), config.node_name.clone(), config.queue.lease);
        let app = AppState(Arc::new(Shared {
            db: db.clone(),
            addresses: Arc::new(AddressLimiter::new(
                config.login_max_failures_per_address,
                config.login_lockout,
            )),
            hasher: Arc::new(Hasher::new(config.login_workers, config.login_wait)),
            connections: Default::default(),
            node: Arc::new(node.clone()),
            config: Arc::new(config.clone()),
            leptos,
            state_watch: Arc::new(watch::channel(StateString::default()).0),
            closing: Arc::new(watch::channel(false).0),
            products: products.clone(),
            queue_wake: Default::default(),
            bumper: Default::default(),
            queue_io,
        }));
        auth::bootstrap_admin(&app).await?;
        nodes::store::refresh(&db, &node, true).await?;
        app.state_watch
            .send_replace(keepalive::store::read(&db).await?);
        let registry = AbortOnDrop(tokio::spawn(nodes::registry::run(
            db.clone(),
            node.clone(),
            config.node_offline_after,
            app.closing.subscribe(),
        )));
        let udp = AbortOnDrop(tokio::spawn(products::udp::run(
            socket,
            db.clone(),
            products.clone(),
        )));
        let keywatch = AbortOnDrop(tokio::spawn(products::keywatch::run(
            db.clone(),
            products.clone(),
            keys_since,
        )));
        let flusher = AbortOnDrop(tokio::spawn(products::liveness::run(
            db.clone(),
            node.name.clone(),
            products,
            app.closing.subscribe(),
        )));
        let sweeper = AbortOnDrop(tokio::spawn(products::sweep::run(
            db.clone(),
            node.name.clone(),
            config.node_offline_after,
            app.closing.subscribe(),
        )));
        let dispatcher = AbortOnDrop(tokio::spawn(queue::dispatch::run(
            app.clone(),
            app.queue_wake.clone(),
        )));
        let rescuer = AbortOnDrop(tokio::spawn(queue::rescue::run(app.clone())));
        let bumper = AbortOnDrop(tokio::spawn(keepalive::bumper::run(
            db.clone(),
            app.bumper.clone(),
            app.closing.subscribe(),
        )));
        let follower = AbortOnDrop(tokio::spawn(keepalive::watch::follow(
            db,
            config.database_url.expose().to_owned(),
            app.state_watch.clone(),
        )));
        Ok(Node {
            queue_tasks: queue_tasks.map(AbortOnDrop),
            app,
            listener,
            registry,
            follower,
            udp,
            keywatch,
            flusher,
            sweeper,
            dispatcher,
            rescuer,
            bumper,
        })
    }

    /// The URL this node registered under.
    pub fn url(&self) -> &str {
        &self.app.node.url
    }

    /// Serves until `shutdown` completes, then marks the node stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), anyhow::Error> {
        let Node {
            app,
            listener,
            registry,
            follower,
            udp,
            keywatch,
            flusher,
            sweeper,
            dispatcher,
            rescuer,
            bumper,
            queue_tasks,
        } = self;
        let (db, node, closing) = (app.db.clone(), app.node.clone(), app.closing.clone());
        tracing::info!(node = %node.name, role = %node.role.get(), url = %node.url, "node serving");
        let limits = listener::Limits {
            max_connections: app.config.max_connections,
            header_timeout: app.config.header_timeout,
            idle_timeout: app.config.idle_timeout,
        };
        let stats = app.connections.clone();
        listener::serve(listener, router(app), limits, stats, async move {
            shutdown.await;
            // Waiting keep-alives answer now instead of holding the exit.
            closing.send_replace(true);
        })
        .await;
        drop((follower, udp, keywatch, dispatcher, rescuer, queue_tasks));
        // These stop between writes, and the flusher writes what it holds.
        registry.finish().await;
        flusher.finish().await;
        sweeper.finish().await;
        bumper.finish().await;
        if let Err(e) = nodes::store::mark_stopped(&db, &node.name).await {
            tracing::warn!(error = %e, "could not mark the node stopped");
        }
        db.close().await;
        tracing::info!(node = %node.name, "node stopped");
        Ok(())
    }
}

/// Aborts a background task when its owner goes away, so a node that is
/// dropped (or a test that kills one) leaves nothing running.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    /// Waits for the task to end by itself.
    async fn finish(mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
