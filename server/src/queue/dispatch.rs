//! Each node's dispatcher: claims the queued commands of two-way products
//! that routing gives it, wakes each product (its HTTP callback, or a wake
//! datagram to where this node hears it from), and releases (with backoff)
//! what it cannot deliver.
//!
//! It wakes at once for commands queued on this node, within milliseconds
//! for commands queued elsewhere (the commands counter of the state string
//! moves, pushed by PostgreSQL or read from SQLite), and every
//! [`TICK`] for items whose backoff or affinity window ran out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use app::state::StateClass;

use super::store::{self, ClaimRules, Claimed, Released};
use super::{backoff, Routing};
use crate::products::notify::{wake_any, WakePath};
use crate::AppState;

/// Longest wait between two claim rounds.
pub const TICK: Duration = Duration::from_millis(250);
/// Most commands claimed in one round.
const BATCH: usize = 64;
/// Most notifications in flight at once.
const IN_FLIGHT: usize = 256;

/// The claim rules of this node's configuration.
pub fn rules(app: &AppState) -> ClaimRules {
    let q = &app.config.queue;
    ClaimRules {
        routing: q.routing,
        affinity_ms: q.affinity_timeout.as_millis() as i64,
        node_offline_after_ms: app.offline_after_ms(),
        lease_ms: q.lease.as_millis() as i64,
    }
}

/// Delay before the retry after `attempts` attempts.
pub fn retry_delay_ms(app: &AppState, attempts: i64) -> i64 {
    let q = &app.config.queue;
    let attempt = u32::try_from(attempts.max(1)).unwrap_or(u32::MAX);
    backoff(
        attempt,
        q.backoff_base,
        q.backoff_max,
        rand::random::<f64>(),
    )
    .as_millis() as i64
}

/// Runs until the node closes.
pub async fn run(app: AppState, local: Arc<Notify>) {
    let mut state = app.state_watch.subscribe();
    let mut closing = app.closing.subscribe();
    // Hand-overs in flight belong to this task: when the node stops (or a
    // test kills it), they stop with it, as they would with the process.
    let mut in_flight = JoinSet::new();
    let mut seen = state.borrow().get(StateClass::Commands);
    let mut failing = false;
    loop {
        while in_flight.try_join_next().is_some() {}
        let room = IN_FLIGHT.saturating_sub(in_flight.len()).min(BATCH);
        let claimed = if room == 0 {
            Ok(0)
        } else {
            claim_round(&app, &mut in_flight, room).await
        };
        match claimed {
            Ok(n) => {
                if failing {
                    tracing::info!("queue claims succeed again");
                    failing = false;
                }
                if room > 0 && n == room {
                    continue; // more may be waiting
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot claim queued commands");
                }
                failing = true;
            }
        }
        // Wait for a reason to look again.
        let tick = tokio::time::sleep(TICK);
        tokio::pin!(tick);
        loop {
            tokio::select! {
                _ = local.notified() => break,
                Some(_) = in_flight.join_next(), if room == 0 => break,
                _ = &mut tick => break,
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = state.borrow_and_update().get(StateClass::Commands);
                    if now != seen {
                        seen = now;
                        break;
                    }
                }
                _ = closing.changed() => return,
            }
        }
    }
}

/// Claims up to `room` commands and starts handing each over.
async fn claim_round(
    app: &AppState,
    in_flight: &mut JoinSet<()>,
    room: usize,
) -> Result<usize, crate::db::StoreError> {
    let claimed = store::claim(&app.db, &app.node.name, rules(app), room as i64).await?;
    let n = claimed.len();
    if n > 0 {
        app.commands_changed();
    }
    for c in claimed {
        let app = app.clone();
        in_flight.spawn(async move { hand_over(&app, c).await });
    }
    Ok(n)
}

/// Wakes the product of a claimed command; what it cannot deliver goes back
/// to the queue (affinity routing) or fails (the shared queue).
async fn hand_over(app: &AppState, c: Claimed) {
    let node = &app.node.name;
    let key = hex::decode(&c.product_key).unwrap_or_default();
    let product: Arc<str> = c.product_id.as_str().into();
    let path = WakePath {
        product: &product,
        key: &key,
        callback_url: c.callback_url.as_deref(),
        udp_port: c.udp_port,
    };
    let heard_within = app.config.product_offline_after();
    let woken = wake_any(&app.products, &app.config.notify_only, path, heard_within).await;
    let written = match woken {
        Ok(how) => {
            let notice = store::Notice {
                command: c.id.clone(),
                how,
                answered: std::time::Instant::now(),
            };
            if let Some(Err(e)) = app.queue_io.notices.submit(notice).await {
                tracing::warn!(command = %c.id, error = %e, "cannot record a notification");
            }
            Ok(())
        }
        Err(why) => match app.config.queue.routing {
            Routing::Affinity => {
                let delay = retry_delay_ms(app, c.attempts);
                let reason = why.to_string();
                match store::release(&app.db, node, &c.id, delay, &reason, !c.stolen).await {
                    Ok(released) => {
                        if released == Released::Dead {
                            tracing::info!(command = %c.id, product = %c.product_id, "command dead: {why}");
                        }
                        if released != Released::NotHeld {
                            app.commands_changed();
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Routing::Shared => store::fail(&app.db, node, &c.id, &why.to_string())
                .await
                .map(|failed| {
                    if failed {
                        app.commands_changed();
                    }
                }),
        },
    };
    if let Err(e) = written {
        // The lease runs out and the rescue puts the command back.
        tracing::warn!(command = %c.id, error = %e, "cannot record a hand-over");
    }
}
