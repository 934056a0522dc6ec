//! The shared database: one pool, either SQLite (embedded default) or
//! PostgreSQL (clusters), and the few places where their SQL differs.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

mod error;
pub mod hosts;
mod write;
pub use error::StoreError;
pub use write::WriteTx;

/// Which SQL engine the pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Reads the engine from a database URL.
    pub fn from_url(url: &str) -> Result<Self, anyhow::Error> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("unsupported database URL (expected sqlite:… or postgres://…)")
        }
    }

    /// SQL expression for the database's clock in Unix milliseconds.
    ///
    /// Nodes compare timestamps written by other nodes, so they use the
    /// database's clock rather than their own, which may be skewed. On
    /// PostgreSQL it is read when each row is written (`clock_timestamp()`),
    /// not when the statement began: a statement that waited for another's
    /// row lock must not write a time earlier than that other's.
    pub fn now_ms(self) -> &'static str {
        match self {
            Self::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Self::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Suffix of a `SELECT` whose rows the transaction is about to change:
    /// PostgreSQL locks them (others wait); SQLite needs nothing.
    pub fn lock_rows(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// Suffix of a `SELECT` that reads rows of `alias` another transaction
    /// must not change until this one ends: PostgreSQL takes a share lock
    /// (a writer waits, and this waits for a writer); SQLite needs nothing.
    pub fn lock_shared(self, alias: &str) -> String {
        match self {
            Self::Sqlite => String::new(),
            Self::Postgres => format!(" FOR SHARE OF {alias}"),
        }
    }

    /// Subquery of the strings of a JSON array bound at `$n`: `x IN (…)`
    /// over a batch with one parameter, so the statement's text (and its
    /// prepared plan) is the same whatever the batch's size.
    pub fn json_texts(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Self::Postgres => format!("SELECT json_array_elements_text(${n}::json)"),
        }
    }

    /// A JSON array of objects bound at `$n` as a table named `alias` with
    /// the text columns `columns` (the objects' keys), for `INSERT … SELECT`
    /// and `UPDATE … FROM` over a whole batch with one parameter.
    pub fn json_table(self, n: usize, alias: &str, columns: &[&str]) -> String {
        match self {
            Self::Sqlite => format!(
                "(SELECT {} FROM json_each(${n})) AS {alias}",
                columns
                    .iter()
                    .map(|c| format!("json_extract(value, '$.{c}') AS {c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Postgres => format!(
                "json_to_recordset(${n}::json) AS {alias}({})",
                columns
                    .iter()
                    .map(|c| format!("{c} TEXT"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Statement that opens a transaction that will write.
    ///
    /// SQLite must take the write lock up front: a deferred transaction that
    /// reads and then writes fails at once when another writer got in first.
    fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// How long a SQLite writer waits for its turn before it fails.
const SQLITE_BUSY: Duration = Duration::from_secs(10);

/// PostgreSQL session settings of every connection. A statement waits at
/// most `lock_timeout` for a row another session locked, and a session that
/// stops talking inside a transaction (its node frozen, its link cut) is
/// ended after `idle_in_transaction_session_timeout`, which releases its
/// locks. Without them one hung node held every other node's writers, and
/// through them their connection pools, for as long as it hung.
const POSTGRES_SESSION: &str =
    "SET lock_timeout = '5s'; SET idle_in_transaction_session_timeout = '10s'";

/// Whether `e` means the connection to the database broke (its server
/// killed or failing over, the link reset): nothing the request did wrong.
pub fn unreachable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolClosed)
}

/// Whether `e` means the database's disk is full (SQLite's `SQLITE_FULL`,
/// PostgreSQL's `disk_full`): the write was refused, nothing was changed.
pub fn disk_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("13" | "53100")),
        _ => false,
    }
}

/// Whether `e` means the database did not answer, or a lock was not
/// released, in time (not a fault of the request).
pub fn timed_out(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        // lock_not_available, query_canceled (a statement timeout)
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("55P03" | "57014")),
        _ => false,
    }
}

/// A handle on the shared database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite lets one transaction write at a time and makes the others
    /// retry on a timer, which is not fair: under load a writer can lose
    /// every retry until its busy timeout fails it. This node's writers
    /// queue here instead, first come first served.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The URL of the server in use (one of several, see [`hosts`]).
    current: Arc<std::sync::Mutex<String>>,
    /// The servers the URL names, when the node must follow a failover.
    hosts: Option<Arc<hosts::Hosts>>,
}

/// Bytes of an SQLite database each connection maps (address space; the
/// pages are the kernel's file cache, shared by the connections).
const SQLITE_MMAP: u64 = 256 * 1024 * 1024;

impl Db {
    /// Connects and runs the migrations; any failure stops the caller.
    pub async fn connect(url: &str) -> Result<Self, anyhow::Error> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let hosts = hosts::Hosts::parse(url)?;
        let read_write = hosts.read_write;
        let (current, options) = if hosts.several() || read_write {
            hosts.pick().await?
        } else {
            let options = AnyConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("invalid database URL: {e}"))?;
            (url.to_owned(), options)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // Reads through a memory map, not a system call per
                        // page: a long scan (an investigation, a CSV export)
                        // spent half its time in the kernel without it.
                        let pragmas = format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; \
                             PRAGMA mmap_size = {SQLITE_MMAP};",
                            SQLITE_BUSY.as_millis()
                        );
                        conn.execute(pragmas.as_str()).await?;
                    } else {
                        conn.execute(POSTGRES_SESSION).await?;
                    }
                    if read_write {
                        // The pool follows the primary; a standby that
                        // answers at its address is no use.
                        hosts::ensure_primary(conn)
                            .await
                            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let writer = (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let db = Self {
            pool,
            dialect,
            writer,
            current: Arc::new(std::sync::Mutex::new(current)),
            hosts: hosts.several().then(|| Arc::new(hosts)),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), anyhow::Error> {
        let result = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await,
            Dialect::Postgres => sqlx::migrate!("migrations/postgres").run(&self.pool).await,
        };
        result.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))
    }

    /// The connection pool, for the stores.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The URL of the database server in use, for connections outside the
    /// pool (PostgreSQL's LISTEN).
    pub fn url(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When the URL names several servers: the task that moves the pool to
    /// the new primary after a failover (see [`hosts::follow_primary`]).
    pub fn follow_primary(
        &self,
        closing: tokio::sync::watch::Receiver<bool>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let hosts = self.hosts.as_deref()?.clone();
        Some(hosts::follow_primary(
            self.pool.clone(),
            hosts,
            self.current.clone(),
            closing,
        ))
    }

    /// The SQL engine behind the pool.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Opens a transaction that is going to write (see [`Dialect::begin_write`]).
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let turn = match &self.writer {
            // As long as SQLite's own busy timeout: a writer that waits
            // longer fails the same way.
            Some(writer) => Some(
                tokio::time::timeout(SQLITE_BUSY, writer.clone().lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?,
            ),
            None => None,
        };
        // The `BEGIN` runs in its own task: a caller cancelled while it is
        // in flight (a task aborted at shutdown) must not leave a pooled
        // connection inside a transaction nobody will end. SQLite would
        // then refuse every other writer. Finished here, the transaction
        // is dropped, and so rolled back, if the caller is gone.
        let (pool, begin) = (self.pool.clone(), self.dialect.begin_write());
        let tx = tokio::spawn(async move {
            let conn = pool.acquire().await?;
            WriteTx::begin(conn, begin, turn).await
        })
        .await
        .map_err(|e| StoreError::Other(sqlx::Error::Protocol(format!("BEGIN failed: {e}"))))??;
        Ok(tx)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
