//! Console parameters, read from the URL query so that a bookmarked URL
//! reproduces the console's behaviour (`/nodes?auto=0&interval=2&retry=5`).
//! A node may configure other defaults; the URL wins.

use crate::state::Watched;

/// The six keep-alive parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleParams {
    /// Load and start the keep-alive machinery at all.
    pub run: bool,
    /// Fail over without asking the user.
    pub auto: bool,
    /// State-string positions to watch.
    pub states: Watched,
    /// Send keep-alives at all.
    pub poll: bool,
    /// Seconds between keep-alives.
    pub interval_s: u32,
    /// Consecutive failed keep-alives before the node is declared dead.
    pub retry: u32,
}

impl Default for ConsoleParams {
    fn default() -> Self {
        Self {
            run: true,
            auto: true,
            states: Watched::All,
            poll: true,
            interval_s: 5,
            retry: 3,
        }
    }
}

/// The query keys of the parameters, in the order they are written.
pub const KEYS: [&str; 6] = ["run", "auto", "states", "poll", "interval", "retry"];

const INTERVAL_S: std::ops::RangeInclusive<u32> = 1..=3600;
const RETRY: std::ops::RangeInclusive<u32> = 1..=100;

fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Some(true),
        "0" | "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

fn parse_number(text: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    text.trim().parse().ok().filter(|n| range.contains(n))
}

impl ConsoleParams {
    /// Reads the parameters from `get` (a query lookup); values that are
    /// missing or invalid keep those of `defaults`.
    pub fn from_lookup(defaults: &ConsoleParams, get: impl Fn(&str) -> Option<String>) -> Self {
        let flag =
            |key: &str, default: bool| get(key).and_then(|v| parse_flag(&v)).unwrap_or(default);
        Self {
            run: flag("run", defaults.run),
            auto: flag("auto", defaults.auto),
            states: get("states")
                .and_then(|v| Watched::parse(&v))
                .unwrap_or_else(|| defaults.states.clone()),
            poll: flag("poll", defaults.poll),
            interval_s: get("interval")
                .and_then(|v| parse_number(&v, INTERVAL_S))
                .unwrap_or(defaults.interval_s),
            retry: get("retry")
                .and_then(|v| parse_number(&v, RETRY))
                .unwrap_or(defaults.retry),
        }
    }

    /// Parses a query string (`interval=2&retry=5`, no leading `?`).
    pub fn from_query(defaults: &ConsoleParams, query: &str) -> Self {
        let pairs = parse_query(query);
        Self::from_lookup(defaults, |key| {
            pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    /// Parses a node's configured defaults strictly: every key must be known
    /// and every value valid.
    pub fn parse_defaults(query: &str) -> Result<Self, String> {
        for (key, value) in parse_query(query) {
            let valid = match key.as_str() {
                "run" | "auto" | "poll" => parse_flag(&value).is_some(),
                "states" => Watched::parse(&value).is_some(),
                "interval" => parse_number(&value, INTERVAL_S).is_some(),
                "retry" => parse_number(&value, RETRY).is_some(),
                _ => return Err(format!("unknown console parameter {key:?}")),
            };
            if !valid {
                return Err(format!(
                    "invalid value {value:?} for console parameter {key}"
                ));
            }
        }
        Ok(Self::from_query(&Self::default(), query))
    }

    /// The query pairs of the parameters that differ from `defaults`.
    pub fn to_pairs(&self, defaults: &ConsoleParams) -> Vec<(&'static str, String)> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        let mut pairs = Vec::new();
        if self.run != defaults.run {
            pairs.push(("run", flag(self.run)));
        }
        if self.auto != defaults.auto {
            pairs.push(("auto", flag(self.auto)));
        }
        if self.states != defaults.states {
            pairs.push(("states", self.states.to_string()));
        }
        if self.poll != defaults.poll {
            pairs.push(("poll", flag(self.poll)));
        }
        if self.interval_s != defaults.interval_s {
            pairs.push(("interval", self.interval_s.to_string()));
        }
        if self.retry != defaults.retry {
            pairs.push(("retry", self.retry.to_string()));
        }
        pairs
    }

    /// `query` with the console parameters replaced by `self` (only those
    /// that differ from `defaults` are written); other keys are kept.
    pub fn merge_into(&self, query: &str, defaults: &ConsoleParams) -> String {
        let mut pairs: Vec<(String, String)> = parse_query(query)
            .into_iter()
            .filter(|(k, _)| !KEYS.contains(&k.as_str()))
            .collect();
        pairs.extend(
            self.to_pairs(defaults)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `query` with the keys of `set` replaced (an empty value removes the
/// key); other keys keep their place.
pub fn with_pairs(query: &str, set: &[(&str, String)]) -> String {
    let mut pairs: Vec<(String, String)> = parse_query(query)
        .into_iter()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
        .collect();
    pairs.extend(
        set.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.clone())),
    );
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Splits `a=1&b=2` into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-encodes a query component (`/` and `,` stay readable).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~,/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|&b| hex(b)),
                    bytes.get(i + 2).and_then(|&b| hex(b)),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> ConsoleParams {
        ConsoleParams::from_query(&ConsoleParams::default(), query)
    }

    #[test]
    fn defaults_apply_when_absent() {
        let p = parse("");
        assert_eq!(p, ConsoleParams::default());
        assert!(p.run && p.auto && p.poll);
        assert_eq!((p.interval_s, p.retry, p.states), (5, 3, Watched::All));
    }

    #[test]
    fn every_parameter_is_read_from_the_query() {
        let p = parse("run=0&auto=off&states=0,2&poll=false&interval=2&retry=5");
        assert!(!p.run && !p.auto && !p.poll);
        assert_eq!(p.states, Watched::Only(vec![0, 2]));
        assert_eq!((p.interval_s, p.retry), (2, 5));
    }

    #[test]
    fn nonsense_keeps_the_defaults() {
        let p = parse("interval=0&retry=many&auto=maybe&states=x");
        assert_eq!(p, ConsoleParams::default());
    }

    #[test]
    fn node_defaults_apply_and_the_url_wins() {
        let node = ConsoleParams::parse_defaults("interval=10&auto=0").unwrap();
        let p = ConsoleParams::from_query(&node, "interval=2");
        assert_eq!((p.interval_s, p.auto), (2, false));
    }

    #[test]
    fn bad_node_defaults_are_refused() {
        assert!(ConsoleParams::parse_defaults("interval=0").is_err());
        assert!(ConsoleParams::parse_defaults("intervl=3").is_err());
        assert!(ConsoleParams::parse_defaults("").is_ok());
    }

    #[test]
    fn url_round_trip_keeps_parameters_and_other_keys() {
        let defaults = ConsoleParams::default();
        let p = parse("auto=0&states=1,5&interval=2&retry=4&poll=0&run=0");
        let query = p.merge_into("status=offline&interval=9", &defaults);
        assert_eq!(ConsoleParams::from_query(&defaults, &query), p);
        assert!(query.starts_with("status=offline&"), "{query}");
        assert!(!query.contains("interval=9"));
    }

    #[test]
    fn only_non_default_values_are_written() {
        let p = parse("interval=5&retry=2");
        assert_eq!(p.merge_into("", &ConsoleParams::default()), "retry=2");
    }

    #[test]
    fn broken_escapes_are_kept_literally() {
        assert_eq!(parse_query("a=%zz%4"), vec![("a".into(), "%zz%4".into())]);
        assert_eq!(parse_query("a=%C3%A9"), vec![("a".into(), "é".into())]);
    }

    #[test]
    fn filters_replace_their_keys_and_keep_the_others() {
        let q = with_pairs(
            "?interval=2&status=online&q=old",
            &[("status", String::new()), ("q", "fw 1".into())],
        );
        assert_eq!(q, "interval=2&q=fw%201");
    }

    #[test]
    fn query_components_encode() {
        assert_eq!(encode("/nodes?a=1&b=x y"), "/nodes%3Fa%3D1%26b%3Dx%20y");
    }

    #[test]
    fn query_components_decode() {
        assert_eq!(
            parse_query("next=%2Fnodes%3Fa%3D1&x=a+b"),
            vec![
                ("next".into(), "/nodes?a=1".into()),
                ("x".into(), "a b".into())
            ]
        );
    }
}
