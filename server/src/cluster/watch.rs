//! Follows the cluster's state counters so that waiting keep-alives wake the
//! moment a counter moves, on any node: PostgreSQL pushes a notification
//! (trigger on `state_counters`); SQLite, embedded and local, is polled.

use std::sync::Arc;
use std::time::Duration;

use app::state::StateString;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::db::{Db, Dialect};

/// How often SQLite counters are read.
const SQLITE_POLL: Duration = Duration::from_millis(50);
/// PostgreSQL notifications can be lost while the listener reconnects; the
/// counters are also read this often.
const POSTGRES_FALLBACK: Duration = Duration::from_secs(1);

/// Runs until aborted, publishing every new state string on `tx`.
pub async fn follow(db: Db, tx: Arc<watch::Sender<StateString>>) {
    match db.dialect() {
        Dialect::Sqlite => loop {
            tokio::time::sleep(SQLITE_POLL).await;
            publish(&db, &tx).await;
        },
        Dialect::Postgres => loop {
            // The server in use now: after a failover, the new primary.
            match PgListener::connect(&db.url()).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen("vigil_state").await {
                        tracing::warn!(error = %e, "cannot LISTEN for state changes");
                    }
                    publish(&db, &tx).await;
                    loop {
                        tokio::select! {
                            received = listener.recv() => {
                                if let Err(e) = received {
                                    tracing::warn!(error = %e, "state notifications interrupted");
                                    break;
                                }
                            }
                            _ = tokio::time::sleep(POSTGRES_FALLBACK) => {}
                        }
                        publish(&db, &tx).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for state changes; retrying");
                    tokio::time::sleep(POSTGRES_FALLBACK).await;
                    publish(&db, &tx).await;
                }
            }
        },
    }
}

async fn publish(db: &Db, tx: &watch::Sender<StateString>) {
    match super::store::read(db).await {
        Ok(state) => {
            tx.send_if_modified(|current| {
                let changed = *current != state;
                if changed {
                    *current = state;
                }
                changed
            });
        }
        Err(e) => tracing::debug!(error = %e, "cannot read state counters"),
    }
}
