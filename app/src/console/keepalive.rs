//! The keep-alive loop: long polls the node, publishes the state string to
//! the views, notices when the node dies and fails over to another one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

use super::browser::{self, now_ms};
use super::{Choice, Console, Link};
use crate::api::NodeSummary;
use crate::client::{self, ClientError};
use crate::failover;
use crate::state::StateString;

/// Fewest milliseconds between two keep-alives, however fast answers come.
const MIN_GAP_MS: i64 = 200;
/// A hand-off token is renewed this often while the node is alive…
const HANDOFF_RENEW_MS: i64 = 60_000;
/// …and trusted for this long (the node keeps it for 120 s).
const HANDOFF_USABLE_MS: i64 = 110_000;

/// How long past its own wait a keep-alive may take before it counts as
/// failed: a third of the interval, within bounds. A node that hangs (its
/// process frozen, its sockets open) answers nothing, so this deadline is
/// all that tells it from a slow one; tying it to the interval keeps "not
/// answering" and the failover within the interval × retry budget.
fn grace_ms(interval_s: u32) -> u32 {
    (interval_s.saturating_mul(1000) / 3).clamp(300, 4_000)
}

async fn sleep_ms(ms: i64) {
    TimeoutFuture::new(ms.clamp(0, u32::MAX as i64) as u32).await;
}

/// What the loop remembers between keep-alives.
struct Session {
    known: Vec<NodeSummary>,
    last: Option<StateString>,
    node: Option<String>,
    last_good: Option<i64>,
    handoff: Option<(String, i64)>,
}

impl Session {
    fn usable_token(&self) -> Option<&str> {
        self.handoff
            .as_ref()
            .filter(|(_, at)| now_ms() - at < HANDOFF_USABLE_MS)
            .map(|(token, _)| token.as_str())
    }
}

/// Runs until `alive` turns false or the browser moves to another node.
pub async fn run(console: Console, alive: Arc<AtomicBool>) {
    let mut s = Session {
        known: browser::load_nodes(),
        last: None,
        node: None,
        last_good: None,
        handoff: None,
    };
    let mut failures = 0;
    let mut trouble_since = None;
    while alive.load(Ordering::Relaxed) {
        let p = console.params.get_untracked();
        if !p.poll {
            console
                .link
                .try_set(Link::Off("Keep-alive paused (poll=0)"));
            sleep_ms(1000).await;
            continue;
        }
        // The first request answers at once; later ones wait for a change.
        // After a failure the node is asked to answer at once, so a hung
        // node is found out within the grace.
        let wait_ms = if s.last.is_some() && failures == 0 {
            p.interval_s * 1000
        } else {
            0
        };
        let deadline_ms = wait_ms + grace_ms(p.interval_s);
        let started = now_ms();
        match client::keepalive(s.last.as_ref(), wait_ms, deadline_ms, &p.states).await {
            Ok(reply) => {
                failures = 0;
                trouble_since = None;
                s.last_good = Some(now_ms());
                s.last = StateString::parse(&reply.state);
                console.state.try_set(s.last.clone());
                console
                    .link
                    .try_set(match reply.database_unreachable_since {
                        Some(since) => Link::NoDatabase {
                            node: reply.node.clone(),
                            since,
                        },
                        None => Link::Up {
                            node: reply.node.clone(),
                            at: reply.server_time,
                        },
                    });
                // A node that has not read the list yet (its database down
                // since it started) sends none: keep the one we have.
                if !reply.nodes.is_empty() {
                    browser::save_nodes(&reply.nodes);
                    s.known = reply.nodes;
                }
                s.node = Some(reply.node);
                if s.handoff
                    .as_ref()
                    .is_none_or(|(_, at)| now_ms() - at > HANDOFF_RENEW_MS)
                {
                    if let Ok(h) = client::handoff().await {
                        s.handoff = Some((h.token, now_ms()));
                    }
                }
                sleep_ms(MIN_GAP_MS - (now_ms() - started)).await;
            }
            Err(ClientError::Unauthorized) => return browser::go_to_login(),
            Err(_) => {
                failures += 1;
                let since = *trouble_since.get_or_insert_with(now_ms);
                if failures < p.retry {
                    console.link.try_set(Link::Trouble {
                        node: s.node.clone(),
                        since,
                        last_good: s.last_good,
                        failures,
                    });
                    // Attempts start about an interval apart (±20 %: consoles
                    // that lost the same node retry out of step); one that
                    // ran into its deadline has used its interval already.
                    let jitter = 0.8 + 0.4 * browser::random();
                    let next = started + (f64::from(p.interval_s) * 1000.0 * jitter) as i64;
                    sleep_ms(next - now_ms()).await;
                    continue;
                }
                console.link.try_set(Link::Down {
                    since,
                    last_good: s.last_good,
                    auto: p.auto,
                });
                if !fail_over(console, &s, &alive).await {
                    return; // the browser is leaving for another node
                }
                failures = 0;
                trouble_since = None;
                console.choices.try_set(None);
            }
        }
    }
}

/// Looks for a node to move to. Returns `true` if the current node answers
/// again (the loop resumes), `false` once the browser is on its way elsewhere
/// or the page is going away.
async fn fail_over(console: Console, s: &Session, alive: &AtomicBool) -> bool {
    let here = browser::origin();
    let path = browser::path_and_query();
    let mut attempt = 0;
    while alive.load(Ordering::Relaxed) {
        let p = console.params.get_untracked();
        let candidates = failover::candidates(&s.known, &here);
        if p.auto {
            sleep_ms(i64::from(failover::jittered_delay_ms(
                attempt,
                browser::random(),
            )))
            .await;
            for node in &candidates {
                if client::probe(&node.url).await {
                    if let Some(url) =
                        failover::target(&node.url, &s.known, s.usable_token(), &path)
                    {
                        browser::go(&url);
                        return false;
                    }
                }
            }
        } else if console.choices.get_untracked().is_none() {
            let choices = candidates
                .iter()
                .filter_map(|n| {
                    failover::target(&n.url, &s.known, s.usable_token(), &path).map(|target| {
                        Choice {
                            name: n.name.clone(),
                            url: n.url.clone(),
                            role: n.role,
                            target,
                        }
                    })
                })
                .collect();
            console.choices.try_set(Some(choices));
        }
        if client::probe(&here).await {
            return true;
        }
        attempt += 1;
        if !p.auto {
            sleep_ms(i64::from(p.interval_s) * 1000).await;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::grace_ms;

    #[test]
    fn the_grace_follows_the_interval_within_bounds() {
        assert_eq!(grace_ms(1), 333);
        assert_eq!(grace_ms(5), 1_666);
        assert_eq!(grace_ms(60), 4_000);
        assert_eq!(grace_ms(0), 300);
    }
}
