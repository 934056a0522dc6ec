//! The canonical form of a checked query: one spelling for one meaning, so
//! its hash recognises the same definition written two ways.
//!
//! Keywords and names in lower case, single spaces, every default written
//! out (fields, sort, limit), `fields` in name order, the terms of `and` /
//! `or` and the values of `in` sorted and without repeats, double negation
//! removed, parentheses only where needed, literals in one form (durations
//! in their largest exact unit, times in UTC ISO 8601).

use crate::ast::Op;
use crate::check::{Checked, Cond, Shape, SortBy, Value};
use crate::registry::{Field, Type};
use crate::time;

/// The canonical text of a checked query.
pub fn canonical(q: &Checked) -> String {
    let mut out = String::from(q.object.name);
    if let Some(d) = q.during {
        out.push_str(" during last ");
        out.push_str(&time::format_duration(d));
    }
    if let Some(filter) = &q.filter {
        out.push_str(" where ");
        out.push_str(&cond(&normalize(filter.clone())));
    }
    match &q.shape {
        Shape::Rows(fields) => {
            let mut names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            names.sort_unstable();
            out.push_str(" fields ");
            out.push_str(&names.join(", "));
        }
        Shape::GroupCount(f) => {
            out.push_str(" group by ");
            out.push_str(f.name);
            out.push_str(" count");
        }
    }
    let keys: Vec<String> = q
        .sort
        .iter()
        .map(|(by, desc)| {
            let name = match by {
                SortBy::Field(f) => f.name,
                SortBy::Count => "count",
            };
            if *desc {
                format!("{name} desc")
            } else {
                name.to_string()
            }
        })
        .collect();
    out.push_str(" sort ");
    out.push_str(&keys.join(", "));
    out.push_str(&format!(" limit {}", q.limit));
    out
}

/// Flattens nested `and`/`or`, drops double negation, sorts and dedups.
fn normalize(c: Cond) -> Cond {
    match c {
        Cond::Not(inner) => match normalize(*inner) {
            Cond::Not(x) => *x,
            x => Cond::Not(Box::new(x)),
        },
        Cond::And(terms) => join(terms, true),
        Cond::Or(terms) => join(terms, false),
        leaf => leaf,
    }
}

fn join(terms: Vec<Cond>, and: bool) -> Cond {
    let mut flat = Vec::new();
    for t in terms.into_iter().map(normalize) {
        match t {
            Cond::And(inner) if and => flat.extend(inner),
            Cond::Or(inner) if !and => flat.extend(inner),
            t => flat.push(t),
        }
    }
    let mut keyed: Vec<(String, Cond)> = flat.into_iter().map(|t| (cond(&t), t)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    let mut flat: Vec<Cond> = keyed.into_iter().map(|(_, t)| t).collect();
    if flat.len() == 1 {
        return flat.pop().expect("one term");
    }
    if and {
        Cond::And(flat)
    } else {
        Cond::Or(flat)
    }
}

fn cond(c: &Cond) -> String {
    match c {
        Cond::And(terms) => terms
            .iter()
            .map(|t| match t {
                Cond::Or(_) => format!("({})", cond(t)),
                _ => cond(t),
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Cond::Or(terms) => terms.iter().map(cond).collect::<Vec<_>>().join(" or "),
        Cond::Not(inner) => match **inner {
            Cond::And(_) | Cond::Or(_) => format!("not ({})", cond(inner)),
            _ => format!("not {}", cond(inner)),
        },
        Cond::Compare { field, op, value } => {
            let shown = match op {
                Op::OlderThan | Op::NewerThan => match value {
                    Value::Int(ms) => time::format_duration(*ms),
                    other => literal(field, other),
                },
                Op::Glob | Op::Contains => match value {
                    Value::Text(s) => quote(s),
                    other => literal(field, other),
                },
                _ => literal(field, value),
            };
            format!("{} {} {shown}", field.name, op.text())
        }
        Cond::In { field, values } => {
            let mut shown: Vec<String> = values.iter().map(|v| literal(field, v)).collect();
            shown.sort();
            shown.dedup();
            format!("{} in ({})", field.name, shown.join(", "))
        }
    }
}

/// A value as the canonical form writes it for a field of its type.
pub fn literal(field: &Field, v: &Value) -> String {
    match (field.ty, v) {
        (_, Value::Me) => "@me".into(),
        (_, Value::Product) => "@product".into(),
        (Type::Enum(_), Value::Text(s)) => s.clone(),
        (Type::Timestamp, Value::Int(ms)) => quote(&time::format_timestamp(*ms)),
        (Type::Duration, Value::Int(ms)) => time::format_duration(*ms),
        (_, Value::Int(n)) => n.to_string(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Text(s)) => quote(s),
    }
}

/// Text in double quotes, with `"`, `\`, newlines and tabs escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
