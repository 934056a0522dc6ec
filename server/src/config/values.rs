//! The kinds of value the configuration holds beyond plain numbers and
//! strings: durations, the queue's routing, and the callbacks a node may
//! reach.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `500ms`, `5s`, `2m`, `12h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (examples: 500ms, 5s, 2m, 12h)"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        other => Err(format!("unknown duration unit {other:?} in {text:?}")),
    }
}

/// A duration as written in the configuration: text with a unit, or a
/// number of seconds.
struct Written(Duration);

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Written;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration such as 500ms, 5s, 2m or 12h")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Written, E> {
                parse_duration(text).map(Written).map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<Written, E> {
                Ok(Written(Duration::from_secs(secs)))
            }

            fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<Written, E> {
                u64::try_from(secs)
                    .map(|s| Written(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Written::deserialize(d).map(|w| w.0)
}

pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    Option::<Written>::deserialize(d).map(|w| w.map(|w| w.0))
}

/// How queued work finds a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// The product's home node first; others only as a fallback, and a node
    /// that cannot reach the product releases the item.
    Affinity,
    /// Any node takes any item and fails what it cannot reach: the old
    /// "hit and miss" shared queue, kept only to measure the difference.
    Shared,
}

impl std::str::FromStr for Routing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "affinity" => Ok(Self::Affinity),
            "shared" => Ok(Self::Shared),
            other => Err(format!(
                "unknown queue routing {other:?} (expected affinity or shared)"
            )),
        }
    }
}

/// The callback URLs a node may notify: every URL, or only those under
/// given prefixes (the network segments the node can reach). Shared by the
/// clones of a configuration, so it can be changed while the node runs.
#[derive(Clone, Debug, Default)]
pub struct Reach(Arc<RwLock<Option<Vec<String>>>>);

impl Reach {
    /// Only URLs starting with one of `prefixes`.
    pub fn only(prefixes: Vec<String>) -> Self {
        Self(Arc::new(RwLock::new(Some(prefixes))))
    }

    /// Changes the prefixes (`None`: every URL).
    pub fn set(&self, prefixes: Option<Vec<String>>) {
        *self.0.write().expect("reach lock") = prefixes;
    }

    pub fn allows(&self, url: &str) -> bool {
        match &*self.0.read().expect("reach lock") {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| url.starts_with(p.as_str())),
        }
    }
}

impl<'de> Deserialize<'de> for Reach {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::only(Vec::<String>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn reach_allows_only_its_prefixes_until_changed() {
        let reach = Reach::only(vec!["http://10.1.".into()]);
        assert!(reach.allows("http://10.1.2.3/wake"));
        assert!(!reach.allows("http://10.2.2.3/wake"));
        reach.set(None);
        assert!(reach.allows("http://10.2.2.3/wake"));
        assert!(Reach::default().allows("http://anything/"));
    }
}
