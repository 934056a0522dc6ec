//! The keep-alive state string: one counter per monitored object class,
//! separated by commas. A view refreshes when a counter it watches changes.

/// Positions in the state string; fixed, new classes are appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateClass {
    Nodes = 0,
    Products = 1,
    Commands = 2,
    Content = 3,
    Alerts = 4,
    Centralization = 5,
    Audit = 6,
}

impl StateClass {
    /// Every class, in position order.
    pub const ALL: [StateClass; 7] = [
        Self::Nodes,
        Self::Products,
        Self::Commands,
        Self::Content,
        Self::Alerts,
        Self::Centralization,
        Self::Audit,
    ];

    pub fn position(self) -> usize {
        self as usize
    }
}

/// A parsed state string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateString(Vec<i64>);

impl StateString {
    /// Parses `"3,0,12,…"`; `None` if any field is not a number.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self::default());
        }
        text.split(',')
            .map(|n| n.trim().parse().ok())
            .collect::<Option<Vec<i64>>>()
            .map(Self)
    }

    /// Builds a state string from counters in position order.
    pub fn from_counters(counters: Vec<i64>) -> Self {
        Self(counters)
    }

    /// The counter of one class, if the string has that position.
    pub fn get(&self, class: StateClass) -> Option<i64> {
        self.0.get(class.position()).copied()
    }

    /// Positions whose counter differs between `self` and `newer`
    /// (a position missing on one side counts as changed).
    pub fn changed_positions(&self, newer: &StateString) -> Vec<usize> {
        let len = self.0.len().max(newer.0.len());
        (0..len)
            .filter(|&i| self.0.get(i) != newer.0.get(i))
            .collect()
    }
}

/// The positions a console watches: all of them, or a chosen few.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Watched {
    #[default]
    All,
    Only(Vec<usize>),
}

impl Watched {
    /// Parses `all` or a comma-separated list of positions (`0,2,5`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("all") {
            return Some(Self::All);
        }
        let mut positions = text
            .split(',')
            .map(|p| p.trim().parse::<usize>().ok().filter(|&p| p < 64))
            .collect::<Option<Vec<_>>>()?;
        positions.sort_unstable();
        positions.dedup();
        Some(Self::Only(positions))
    }

    pub fn contains(&self, position: usize) -> bool {
        match self {
            Self::All => true,
            Self::Only(positions) => positions.contains(&position),
        }
    }
}

impl std::fmt::Display for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Only(positions) => {
                let list: Vec<String> = positions.iter().map(|p| p.to_string()).collect();
                f.write_str(&list.join(","))
            }
        }
    }
}

impl StateString {
    /// Whether a watched position differs between `self` and `newer`.
    pub fn differs(&self, newer: &StateString, watched: &Watched) -> bool {
        self.changed_positions(newer)
            .into_iter()
            .any(|p| watched.contains(p))
    }
}

impl std::fmt::Display for StateString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let s = StateString::parse("3,0,12,0,0,7").unwrap();
        assert_eq!(s.to_string(), "3,0,12,0,0,7");
        assert_eq!(s.get(StateClass::Commands), Some(12));
        assert_eq!(s.get(StateClass::Centralization), Some(7));
    }

    #[test]
    fn rejects_non_numbers() {
        assert_eq!(StateString::parse("1,x,3"), None);
        assert_eq!(StateString::parse("1,,3"), None);
    }

    #[test]
    fn reports_only_changed_positions() {
        let old = StateString::parse("1,2,3,4,5,6").unwrap();
        let new = StateString::parse("1,9,3,4,5,7").unwrap();
        assert_eq!(old.changed_positions(&new), vec![1, 5]);
        assert!(old.changed_positions(&old).is_empty());
    }

    #[test]
    fn only_watched_positions_count() {
        let old = StateString::parse("1,2,3").unwrap();
        let new = StateString::parse("1,9,3").unwrap();
        assert!(old.differs(&new, &Watched::All));
        assert!(old.differs(&new, &Watched::parse("1").unwrap()));
        assert!(!old.differs(&new, &Watched::parse("0,2").unwrap()));
    }

    #[test]
    fn watched_positions_parse_and_print() {
        assert_eq!(Watched::parse("all"), Some(Watched::All));
        assert_eq!(Watched::parse(""), Some(Watched::All));
        assert_eq!(Watched::parse("5, 0,5"), Some(Watched::Only(vec![0, 5])));
        assert_eq!(Watched::parse("0,x"), None);
        assert_eq!(Watched::parse("999"), None);
        assert_eq!(Watched::Only(vec![0, 2]).to_string(), "0,2");
    }

    #[test]
    fn appended_positions_count_as_changed() {
        let old = StateString::parse("1,2").unwrap();
        let new = StateString::parse("1,2,0").unwrap();
        assert_eq!(old.changed_positions(&new), vec![2]);
    }
}
