//! Test support: fresh databases on both engines, and real nodes started
//! in-process on port 0. Used by the integration tests in `server/tests/`
//! and the benchmarks; never part of the node.

pub mod bench;
pub mod fleet;
pub mod process;
pub mod proxy;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use rand::distributions::{Alphanumeric, DistString};
use sqlx::Connection;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use app::api::{Mode, NodeRole, Transport};
use server::config::{Config, Secret};

/// The admin password of test nodes.
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// The enrollment secret of test nodes.
pub const ENROLLMENT_SECRET: &str = "test-enrollment-secret-0123456789";

/// One empty database on one engine.
#[derive(Clone, Debug)]
pub struct TestDb {
    /// `sqlite` or `postgres`, for failure messages.
    pub engine: &'static str,
    pub url: String,
    /// Where SQLite test files go.
    pub dir: PathBuf,
}

impl TestDb {
    /// A node's data directory: where the SQLite database is, or for
    /// PostgreSQL a directory of its own (one holding a `vigil.db` would
    /// be a standalone database the node centralizes on start).
    pub fn data_dir(&self) -> PathBuf {
        match self.engine {
            "sqlite" => self.dir.clone(),
            _ => self.dir.join("postgres-node"),
        }
    }
}

fn random_suffix() -> String {
    Alphanumeric
        .sample_string(&mut rand::thread_rng(), 12)
        .to_lowercase()
}

/// A fresh database on every engine available to this test run: always
/// SQLite, and PostgreSQL when `VIGIL_TEST_POSTGRES_URL` names a server
/// (`make test` starts one). With `VIGIL_REQUIRE_POSTGRES=1` a missing
/// PostgreSQL fails the test instead of skipping that engine.
pub async fn databases() -> Vec<TestDb> {
    let dir = std::env::temp_dir().join(format!("vigil-test-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("create test dir");
    let mut dbs = vec![TestDb {
        engine: "sqlite",
        url: format!("sqlite://{}?mode=rwc", dir.join("vigil.db").display()),
        dir: dir.clone(),
    }];
    match std::env::var("VIGIL_TEST_POSTGRES_URL") {
        Ok(admin_url) => dbs.push(TestDb {
            engine: "postgres",
            url: create_postgres_database(&admin_url).await,
            dir,
        }),
        Err(_) if std::env::var("VIGIL_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("VIGIL_REQUIRE_POSTGRES=1 but VIGIL_TEST_POSTGRES_URL is not set")
        }
        Err(_) => eprintln!("note: VIGIL_TEST_POSTGRES_URL unset; testing SQLite only"),
    }
    dbs
}

async fn create_postgres_database(admin_url: &str) -> String {
    let name = format!("vigil_test_{}", random_suffix());
    let mut conn = sqlx::postgres::PgConnection::connect(admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .expect("postgres URL with a database path");
    format!("{base}/{name}")
}

/// A node configuration for tests.
pub fn config(db: &TestDb, name: &str, role: NodeRole) -> Config {
    Config {
        database_url: Secret::new(db.url.clone()),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        udp_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        node_name: name.to_owned(),
        role,
        data_dir: db.data_dir(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        enrollment_secret: Some(Secret::new(ENROLLMENT_SECRET)),
        // Test products answer callbacks on loopback.
        callback_allow: vec!["127.0.0.0/8".parse().expect("a network")],
        ..Config::default()
    }
}

/// A node running in this process.
pub struct TestNode {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), anyhow::Error>>,
}

impl TestNode {
    /// Starts a node; it is registered and accepting when this returns.
    pub async fn start(config: Config) -> TestNode {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .expect("bind");
        let node = server::Node::start(listener, config)
            .await
            .expect("node starts");
        let url = node.url().to_owned();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(node.run(async {
            let _ = stopped.await;
        }));
        TestNode {
            url,
            stop: Some(stop),
            task,
        }
    }

    /// Graceful stop, as on SIGTERM.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Abrupt stop, as if the process died: nothing is cleaned up.
    pub fn kill(self) {
        self.task.abort();
    }
}

/// Writes a two-way product straight into the store (no node, no
/// handshake; its callback goes nowhere); returns its id.
pub async fn two_way_product(db: &server::db::Db, name: &str) -> String {
    use server::products::{store, Registration};
    let id = uuid::Uuid::new_v4().to_string();
    let r = Registration {
        id: id.clone(),
        name: name.into(),
        product_type: "test".into(),
        version: "1".into(),
        callback_url: Some("http://127.0.0.1:9/".into()),
        udp_port: None,
        key: "00".repeat(32),
        nonce: "n".into(),
    };
    store::register(db, &r, 3_600_000, None)
        .await
        .expect("register");
    store::set_handshake(db, &id, Transport::Http, Mode::TwoWay, None)
        .await
        .expect("handshake");
    id
}

/// Registers a product on the node at `url` with the test enrollment
/// secret (benchmarks' fleets); returns the registration reply.
pub async fn register_product(
    http: &reqwest::Client,
    url: &str,
    name: &str,
    callback_url: Option<&str>,
) -> serde_json::Value {
    let uuid = uuid::Uuid::new_v4().to_string();
    let callback_url = callback_url.map(|base| format!("{base}{uuid}"));
    http.post(format!("{url}/api/v1/products/register"))
        .json(&serde_json::json!({
            "enrollment_secret": ENROLLMENT_SECRET,
            "uuid": uuid, "name": name, "product_type": "bench", "version": "1",
            "callback_url": callback_url,
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration reply")
}
