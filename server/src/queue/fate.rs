//! What becomes of a command that cannot go its usual way (retry, leave it
//! to the home node, or give up), and the words its timeline says. Decided
//! here, in plain code; the store only reads the facts and writes the
//! outcome in the same transaction.

use super::{CommandState, Routing};

/// Where a command goes after a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detour {
    /// `Queued` (to be tried again) or `Dead`.
    pub state: CommandState,
    /// Wait before the next claim (queued only).
    pub delay_ms: i64,
    /// The attempt does not count against the command's attempts.
    pub uncounted: bool,
    /// The timeline's note.
    pub note: String,
}

fn seconds(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn dead(note: String) -> Detour {
    Detour {
        state: CommandState::Dead,
        delay_ms: 0,
        uncounted: false,
        note,
    }
}

/// A node could not wake the product (`reason`) after attempt `attempts`
/// of `max`. An attempt that does not count (`counted` false: a node that
/// is not the product's home tried while the home node is up) leaves the
/// command to the home node at once; otherwise it is tried again after
/// `delay_ms`, or is dead once its attempts are spent.
pub fn undelivered(reason: &str, counted: bool, attempts: i64, max: i64, delay_ms: i64) -> Detour {
    if !counted {
        Detour {
            state: CommandState::Queued,
            delay_ms: 0,
            uncounted: true,
            note: format!("{reason}; left to the home node"),
        }
    } else if attempts >= max {
        dead(format!("{reason}; dead after {attempts} attempt(s)"))
    } else {
        Detour {
            state: CommandState::Queued,
            delay_ms,
            uncounted: false,
            note: format!("{reason}; released, retry in {}", seconds(delay_ms)),
        }
    }
}

/// The claim or delivery lease of `holder` ran out after attempt
/// `attempts` of `max`: tried again after `delay_ms`, or dead.
pub fn lapsed(holder: &str, attempts: i64, max: i64, delay_ms: i64) -> Detour {
    if attempts >= max {
        dead(format!(
            "lease of {holder} ran out; dead after {attempts} attempt(s)"
        ))
    } else {
        Detour {
            state: CommandState::Queued,
            delay_ms,
            uncounted: false,
            note: format!(
                "lease of {holder} ran out; queued again, retry in {}",
                seconds(delay_ms)
            ),
        }
    }
}

/// The timeline's note of a command that outlived its time to live.
pub const EXPIRED: &str = "not finished within its time to live";

/// The timeline's note of a product woken (`how`: the callback, a datagram).
pub fn notified(how: &str) -> String {
    format!("product notified ({how})")
}

/// Why `node` may take a command whose product's home is `home` (`home_up`:
/// that node is operational), and whether it takes it from a home node
/// that is up (then its failed attempt does not count, see [`undelivered`]).
pub fn claimed(
    routing: Routing,
    node: &str,
    home: Option<&str>,
    home_up: bool,
    affinity_ms: i64,
) -> (String, bool) {
    let stolen = routing == Routing::Affinity && home_up && home.is_some_and(|h| h != node);
    let note = match (routing, home) {
        (Routing::Shared, _) => "claimed from the shared queue".to_string(),
        (_, Some(h)) if h == node => "claimed as the product's home node".to_string(),
        (_, None) => "claimed: the product has no home node yet".to_string(),
        (_, Some(h)) if !home_up => format!("claimed: home node {h} is non-operational"),
        (_, Some(h)) => format!(
            "claimed: home node {h} left it unclaimed for {} s",
            affinity_ms / 1000
        ),
    };
    (note, stolen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undelivered_command_retries_until_its_attempts_are_spent() {
        let retry = undelivered("no answer", true, 2, 5, 1500);
        assert_eq!(retry.state, CommandState::Queued);
        assert_eq!(retry.delay_ms, 1500);
        assert_eq!(retry.note, "no answer; released, retry in 1.5 s");
        let last = undelivered("no answer", true, 5, 5, 1500);
        assert_eq!(last.state, CommandState::Dead);
        assert_eq!(last.note, "no answer; dead after 5 attempt(s)");
    }

    #[test]
    fn an_attempt_beside_a_live_home_node_does_not_count() {
        let left = undelivered("no route", false, 5, 5, 1500);
        assert_eq!(left.state, CommandState::Queued);
        assert!(left.uncounted);
        assert_eq!(left.delay_ms, 0);
    }

    #[test]
    fn a_lapsed_lease_requeues_or_ends_the_command() {
        assert_eq!(lapsed("n1", 1, 3, 200).state, CommandState::Queued);
        assert_eq!(
            lapsed("n1", 3, 3, 200).note,
            "lease of n1 ran out; dead after 3 attempt(s)"
        );
    }

    #[test]
    fn claims_say_why_and_know_when_they_take_from_a_live_home() {
        let (note, stolen) = claimed(Routing::Affinity, "b", Some("a"), true, 3000);
        assert_eq!(note, "claimed: home node a left it unclaimed for 3 s");
        assert!(stolen);
        let (note, stolen) = claimed(Routing::Affinity, "b", Some("a"), false, 3000);
        assert_eq!(note, "claimed: home node a is non-operational");
        assert!(!stolen);
        assert!(!claimed(Routing::Shared, "b", Some("a"), true, 3000).1);
        assert_eq!(
            claimed(Routing::Affinity, "a", Some("a"), true, 3000).0,
            "claimed as the product's home node"
        );
    }
}
