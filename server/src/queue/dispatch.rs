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

use tokio::task::JoinSet;

use app::state::StateClass;

use super::store::{self, Claimed, Released};
use super::{fate, Queue, Routing};
use crate::products::notify::WakePath;

/// Longest wait between two claim rounds.
pub const TICK: Duration = Duration::from_millis(250);
/// Most commands claimed in one round.
const BATCH: usize = 64;
/// Most notifications in flight at once.
const IN_FLIGHT: usize = 256;

/// Runs until the node closes.
pub async fn run(app: Queue) {
    let local = &app.wake;
    let mut state = app.signals.state();
    let mut closing = app.signals.closing();
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
    app: &Queue,
    in_flight: &mut JoinSet<()>,
    room: usize,
) -> Result<usize, crate::db::StoreError> {
    let claimed = store::claim(&app.db, app.node(), app.rules(), room as i64).await?;
    let n = claimed.len();
    if n > 0 {
        app.changed();
    }
    for c in claimed {
        let app = app.clone();
        in_flight.spawn(async move { hand_over(&app, c).await });
    }
    Ok(n)
}

/// Wakes the product of a claimed command; what it cannot deliver goes back
/// to the queue (affinity routing) or fails (the shared queue).
async fn hand_over(app: &Queue, c: Claimed) {
    let node = app.node();
    let key = hex::decode(&c.product_key).unwrap_or_default();
    let product: Arc<str> = c.product_id.as_str().into();
    let path = WakePath {
        product: &product,
        key: &key,
        callback_url: c.callback_url.as_deref(),
        udp_port: c.udp_port,
    };
    let woken = app.products.wake(path).await;
    let written = match woken {
        Ok(how) => {
            let notice = store::Notice {
                command: c.id.clone(),
                how,
                answered: std::time::Instant::now(),
            };
            if let Some(Err(e)) = app.io.notices.submit(notice).await {
                tracing::warn!(command = %c.id, error = %e, "cannot record a notification");
            }
            Ok(())
        }
        Err(why) => match app.config.routing {
            Routing::Affinity => {
                let delay = app.retry_delay_ms(c.attempts);
                let reason = why.to_string();
                let decide =
                    |attempts, max| fate::undelivered(&reason, !c.stolen, attempts, max, delay);
                match store::release(&app.db, node, &c.id, decide).await {
                    Ok(released) => {
                        if released == Released::Dead {
                            tracing::info!(command = %c.id, product = %c.product_id, "command dead: {why}");
                        }
                        if released != Released::NotHeld {
                            app.changed();
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
                        app.changed();
                    }
                }),
        },
    };
    if let Err(e) = written {
        // The lease runs out and the rescue puts the command back.
        tracing::warn!(command = %c.id, error = %e, "cannot record a hand-over");
    }
}
