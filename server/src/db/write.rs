//! Write transactions, begun and ended with plain `BEGIN`/`COMMIT`/`ROLLBACK`
//! on a pooled connection rather than through sqlx's transaction type.
//!
//! sqlx counts the transactions open on a connection and refuses to begin
//! one while its count is above zero. SQLite ends a transaction by itself
//! when its disk is full (`SQLITE_FULL`); the `COMMIT` and then the
//! `ROLLBACK` sqlx sends next both fail, its count stays at one, and the
//! connection went back to the pool unable to begin anything again: once
//! the disk had filled up, the node never wrote again. Here a connection
//! whose transaction did not end cleanly is closed, not reused.

use sqlx::any::Any;
use sqlx::pool::PoolConnection;
use sqlx::Executor;
use tokio::sync::OwnedMutexGuard;

/// A transaction that is going to write; derefs to its connection and rolls
/// back when dropped without [`WriteTx::commit`].
pub struct WriteTx {
    conn: Option<PoolConnection<Any>>,
    /// This node's SQLite write turn, released once the transaction ended.
    turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Runs `begin` on `conn`; the connection is closed if that fails.
    pub(super) async fn begin(
        mut conn: PoolConnection<Any>,
        begin: &str,
        turn: Option<OwnedMutexGuard<()>>,
    ) -> Result<Self, sqlx::Error> {
        if let Err(e) = conn.execute(begin).await {
            conn.close_on_drop();
            return Err(e);
        }
        Ok(Self {
            conn: Some(conn),
            turn,
        })
    }

    /// Commits, then lets the next writer of this node in. On failure the
    /// transaction is rolled back (if the database has not ended it
    /// already) and the connection closed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let conn = self.conn.as_mut().expect("an open transaction");
        conn.execute("COMMIT").await?;
        // Committed: back to the pool as it is.
        self.conn = None;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let turn = self.turn.take();
        // Rolled back before the connection, or the write turn, serves
        // anyone else; a connection that cannot roll back is closed.
        let end = async move {
            if conn.execute("ROLLBACK").await.is_err() {
                conn.close_on_drop();
            }
            drop(conn);
            drop(turn);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(end);
            }
            // No runtime left (the process is ending): nothing will use
            // the connection again.
            Err(_) => drop(end),
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        self.conn.as_ref().expect("an open transaction")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().expect("an open transaction")
    }
}
