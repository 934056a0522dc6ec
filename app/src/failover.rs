//! Where a console goes when its node dies: pure rules, tested here, used by
//! the keep-alive loop in the browser.

use crate::api::{NodeRole, NodeSummary};
use crate::params::encode;

/// The nodes to try, in order: operational ones other than the current
/// node, active before passive, otherwise in registry order.
pub fn candidates<'a>(nodes: &'a [NodeSummary], current_url: &str) -> Vec<&'a NodeSummary> {
    let mut list: Vec<&NodeSummary> = nodes
        .iter()
        .filter(|n| n.operational && n.url != current_url)
        .collect();
    // A stable sort keeps registry order within each role.
    list.sort_by_key(|n| n.role == NodeRole::Passive);
    list
}

/// The URL the browser is sent to on `node_url`: only a URL of the cluster's
/// own registry is ever a target, and `here` (path and query) must be a
/// local path. With a hand-off token the next node opens a session first.
pub fn target(
    node_url: &str,
    registry: &[NodeSummary],
    token: Option<&str>,
    here: &str,
) -> Option<String> {
    let listed = registry.iter().any(|n| n.url == node_url);
    let well_formed = (node_url.starts_with("http://") || node_url.starts_with("https://"))
        && !node_url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    let local = here.starts_with('/') && !here.starts_with("//") && !here.contains('\\');
    if !(listed && well_formed && local) {
        return None;
    }
    let base = node_url.trim_end_matches('/');
    Some(match token {
        Some(token) => format!(
            "{base}/auth/handoff?token={}&next={}",
            encode(token),
            encode(here)
        ),
        None => format!("{base}{here}"),
    })
}

/// Delay before failover attempt `attempt` (0-based): "full jitter" over an
/// exponentially growing window, so a thousand consoles that lost the same
/// node do not reach the next one in lockstep. `random` is in [0, 1).
pub fn jittered_delay_ms(attempt: u32, random: f64) -> u32 {
    const BASE_MS: u32 = 400;
    const CAP_MS: u32 = 8_000;
    let window = BASE_MS.saturating_mul(1 << attempt.min(10)).min(CAP_MS);
    (f64::from(window) * random.clamp(0.0, 0.999_999)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, role: NodeRole, operational: bool) -> NodeSummary {
        NodeSummary {
            name: name.into(),
            url: format!("http://{name}:3000"),
            role,
            operational,
        }
    }

    #[test]
    fn active_nodes_come_before_passive_and_dead_ones_are_skipped() {
        let nodes = vec![
            node("p1", NodeRole::Passive, true),
            node("a1", NodeRole::Active, true),
            node("here", NodeRole::Active, true),
            node("a2", NodeRole::Active, false),
            node("a3", NodeRole::Active, true),
            node("p2", NodeRole::Passive, true),
        ];
        let order: Vec<&str> = candidates(&nodes, "http://here:3000")
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(order, ["a1", "a3", "p1", "p2"]);
    }

    #[test]
    fn targets_must_come_from_the_registry() {
        let nodes = vec![node("b", NodeRole::Active, true)];
        assert_eq!(
            target("http://b:3000", &nodes, None, "/nodes?x=1").as_deref(),
            Some("http://b:3000/nodes?x=1")
        );
        assert_eq!(target("http://evil.example", &nodes, None, "/nodes"), None);
        assert_eq!(
            target("http://b:3000", &nodes, None, "//evil.example/"),
            None
        );
        assert_eq!(
            target("http://b:3000", &nodes, None, "https://evil.example/"),
            None
        );
    }

    #[test]
    fn registry_urls_that_are_not_http_are_refused() {
        let mut bad = node("b", NodeRole::Active, true);
        bad.url = "javascript:alert(1)".into();
        let nodes = vec![bad];
        assert_eq!(target("javascript:alert(1)", &nodes, None, "/"), None);
    }

    #[test]
    fn a_token_goes_through_the_handoff_endpoint() {
        let nodes = vec![node("b", NodeRole::Active, true)];
        assert_eq!(
            target(
                "http://b:3000",
                &nodes,
                Some("abc"),
                "/nodes?interval=1&retry=2"
            )
            .as_deref(),
            Some("http://b:3000/auth/handoff?token=abc&next=/nodes%3Finterval%3D1%26retry%3D2")
        );
    }

    #[test]
    fn delays_spread_and_grow_but_stay_capped() {
        assert_eq!(jittered_delay_ms(0, 0.0), 0);
        assert!(jittered_delay_ms(0, 0.99) < 400);
        assert!(jittered_delay_ms(3, 0.99) > 3_000);
        assert!(jittered_delay_ms(30, 0.99) < 8_000);
    }
}
