//! Alerts as content: an investigation plus a condition and its timing.
//! The definition is cluster-wide; whether it is enabled is per node, and
//! each node enables at most its `alert_limit` alerts.

use std::time::Duration;

use app::api::content::{AlertScope, AlertSpec, Severity};
use query::{Checked, Shape};

use crate::error::ApiError;

/// Alerts are evaluated at most this often.
pub const MIN_PERIOD: Duration = Duration::from_secs(10);

/// When an alert fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The query finds more than N rows.
    RowsAbove(i64),
    /// The query finds nothing.
    NoRows,
    /// A group of a `group by … count` query holds more than N rows.
    GroupAbove(i64),
    /// Each product the query finds fires on its own.
    PerProduct,
}

impl Condition {
    /// Reads `rows > N`, `rows = 0`, `count > N` or `per product`.
    pub fn parse(text: &str) -> Option<Condition> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |w: &str| w.parse::<i64>().ok().filter(|n| *n >= 0);
        Some(match words.as_slice() {
            ["rows", ">", n] => Condition::RowsAbove(number(n)?),
            ["rows", "=", "0"] => Condition::NoRows,
            ["count", ">", n] => Condition::GroupAbove(number(n)?),
            ["per", "product"] => Condition::PerProduct,
            _ => return None,
        })
    }

    /// The condition as stored: its kind and threshold.
    pub fn columns(self) -> (&'static str, i64) {
        match self {
            Condition::RowsAbove(n) => ("rows_above", n),
            Condition::NoRows => ("no_rows", 0),
            Condition::GroupAbove(n) => ("group_above", n),
            Condition::PerProduct => ("per_product", 0),
        }
    }

    pub fn from_columns(kind: &str, threshold: i64) -> Option<Condition> {
        Some(match kind {
            "rows_above" => Condition::RowsAbove(threshold),
            "no_rows" => Condition::NoRows,
            "group_above" => Condition::GroupAbove(threshold),
            "per_product" => Condition::PerProduct,
            _ => return None,
        })
    }

    /// The condition as people write it.
    pub fn text(self) -> String {
        match self {
            Condition::RowsAbove(n) => format!("rows > {n}"),
            Condition::NoRows => "rows = 0".into(),
            Condition::GroupAbove(n) => format!("count > {n}"),
            Condition::PerProduct => "per product".into(),
        }
    }
}

/// An alert's settings, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub condition: Condition,
    pub period: Duration,
    pub hold: Duration,
    pub clear_for: Duration,
    pub severity: Severity,
    pub scope: AlertScope,
}

fn duration(name: &str, text: &str) -> Result<Duration, ApiError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let ms = digits
        .parse::<i64>()
        .ok()
        .zip(query::time::unit_ms(if unit.is_empty() {
            "s"
        } else {
            unit
        }))
        .and_then(|(n, unit)| n.checked_mul(unit))
        .filter(|ms| *ms >= 0 && *ms <= 30 * 86_400_000);
    ms.map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_alert",
                format!("{name} is a duration such as 30s, 5m or 1h (at most 30d)"),
            )
        })
}

impl Rule {
    /// Checks an alert's settings against its query.
    pub fn check(spec: &AlertSpec, query: &Checked) -> Result<Rule, ApiError> {
        let condition = Condition::parse(&spec.condition).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_alert",
                "condition is \"rows > N\", \"rows = 0\", \"count > N\" or \"per product\"",
            )
        })?;
        let grouped = matches!(query.shape, Shape::GroupCount(_));
        match condition {
            Condition::GroupAbove(_) if !grouped => {
                return Err(ApiError::bad_request(
                    "invalid_alert",
                    "\"count > N\" needs a query with \"group by … count\"",
                ))
            }
            Condition::PerProduct if grouped => {
                return Err(ApiError::bad_request(
                    "invalid_alert",
                    "\"per product\" needs a query that lists rows, not groups",
                ))
            }
            _ => {}
        }
        let rule = Rule {
            condition,
            period: duration("period", &spec.period)?,
            hold: duration("for", &spec.for_)?,
            clear_for: duration("clear_for", &spec.clear_for)?,
            severity: spec.severity,
            scope: spec.scope,
        };
        if rule.period < MIN_PERIOD {
            return Err(ApiError::bad_request(
                "invalid_alert",
                "period is at least 10s",
            ));
        }
        Ok(rule)
    }

    /// The settings in their one spelling (the API shows this, and the
    /// canonical definition is built from it).
    pub fn spec(&self) -> AlertSpec {
        let d = |d: Duration| query::time::format_duration(d.as_millis() as i64);
        AlertSpec {
            condition: self.condition.text(),
            period: d(self.period),
            for_: d(self.hold),
            clear_for: d(self.clear_for),
            severity: self.severity,
            scope: self.scope,
            webhooks: Vec::new(),
        }
    }

    /// What the canonical form of an alert adds to its query's.
    pub fn canonical_suffix(&self) -> String {
        let s = self.spec();
        let severity = match s.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        };
        let scope = match s.scope {
            AlertScope::Node => "node",
            AlertScope::Fleet => "fleet",
        };
        format!(
            " alert when {} every {} for {} clear_for {} severity {severity} scope {scope}",
            s.condition, s.period, s.for_, s.clear_for
        )
    }
}

/// The refusal of an enable past a node's limit.
pub fn limit_message(node: &str, enabled: i64, limit: i64) -> String {
    format!("{node} already has {enabled} of {limit} alerts enabled; disable one there or raise alert_limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(condition: &str, period: &str) -> AlertSpec {
        AlertSpec {
            condition: condition.into(),
            period: period.into(),
            for_: "2m".into(),
            clear_for: "120s".into(),
            severity: Severity::Critical,
            scope: AlertScope::Fleet,
            webhooks: Vec::new(),
        }
    }

    #[test]
    fn an_alert_checks_its_condition_against_its_query() {
        let rows = query::analyze("products where status = offline", query::Kind::Alert).unwrap();
        let groups = query::analyze("products group by status count", query::Kind::Alert).unwrap();
        let rule = Rule::check(&spec("rows  >  9", "1m"), &rows).unwrap();
        assert_eq!(rule.condition, Condition::RowsAbove(9));
        assert_eq!(rule.spec().condition, "rows > 9");
        assert_eq!(rule.spec().clear_for, "2m");
        assert!(Rule::check(&spec("count > 3", "1m"), &rows).is_err());
        assert!(Rule::check(&spec("count > 3", "1m"), &groups).is_ok());
        assert!(Rule::check(&spec("per product", "1m"), &groups).is_err());
        assert!(Rule::check(&spec("rows > 1", "5s"), &rows).is_err());
        assert!(Rule::check(&spec("rows >= 1", "1m"), &rows).is_err());
        assert_eq!(
            rule.canonical_suffix(),
            " alert when rows > 9 every 1m for 2m clear_for 2m severity critical scope fleet"
        );
    }

    #[test]
    fn the_limit_message_names_the_node_and_its_numbers() {
        assert_eq!(
            limit_message("vigil-2", 100, 100),
            "vigil-2 already has 100 of 100 alerts enabled; disable one there or raise alert_limit"
        );
    }
}
