//! Console parameters read from the URL query, so a bookmarked URL
//! reproduces the console's behaviour (`/nodes?interval=2&retry=5`).

/// Keep-alive timing of a console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleParams {
    /// Seconds between keep-alives.
    pub interval_s: u32,
    /// Consecutive failed keep-alives before the node is declared dead.
    pub retry: u32,
}

impl Default for ConsoleParams {
    fn default() -> Self {
        Self {
            interval_s: 5,
            retry: 3,
        }
    }
}

impl ConsoleParams {
    /// Reads the parameters; missing or out-of-range values keep defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let default = Self::default();
        let number = |key: &str, range: std::ops::RangeInclusive<u32>, fallback: u32| {
            get(key)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|v| range.contains(v))
                .unwrap_or(fallback)
        };
        Self {
            interval_s: number("interval", 1..=3600, default.interval_s),
            retry: number("retry", 1..=100, default.retry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> ConsoleParams {
        ConsoleParams::from_lookup(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_apply_when_absent() {
        assert_eq!(parse(&[]), ConsoleParams::default());
    }

    #[test]
    fn values_are_read_from_the_query() {
        let p = parse(&[("interval", "2"), ("retry", "5")]);
        assert_eq!((p.interval_s, p.retry), (2, 5));
    }

    #[test]
    fn nonsense_keeps_defaults() {
        let p = parse(&[("interval", "0"), ("retry", "many")]);
        assert_eq!(p, ConsoleParams::default());
    }
}
