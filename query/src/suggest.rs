//! What may come next at the cursor, for the console's editor. It reads the
//! text before the cursor loosely (the query there is usually unfinished).

use std::ops::Range;

use crate::registry::{self, Object, Type};

/// One proposal: the text to put in place of `replace`, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub text: String,
    pub detail: String,
}

const CLAUSES: &[(&str, &str)] = &[
    ("where", "filter the rows"),
    ("during last", "bound the time (24h, 7d)"),
    ("fields", "choose the columns"),
    ("group by", "count rows per value"),
    ("sort", "order the rows"),
    ("limit", "rows per page (at most 10000)"),
];

/// The suggestions at byte `cursor` of `text`, and the range of the
/// partly typed word they replace.
pub fn suggest(text: &str, cursor: usize) -> (Vec<Suggestion>, Range<usize>) {
    let cursor = floor_boundary(text, cursor.min(text.len()));
    let before = &text[..cursor];
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.' || *c == '@')
        .last()
        .map_or(cursor, |(i, _)| i);
    let partial = before[start..].to_ascii_lowercase();
    let tokens = tokens(&before[..start]);
    let all = candidates(&tokens);
    let picked = all
        .into_iter()
        .filter(|s| s.text.starts_with(&partial) && s.text != partial)
        .take(50)
        .collect();
    (picked, start..cursor)
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Words, quoted texts (as `"`) and symbols, lower-cased.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '"' {
            let mut escaped = false;
            for c in chars.by_ref() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => break,
                    _ => {}
                }
            }
            out.push("\"".into());
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.' {
            let mut w = String::from(c);
            while let Some(&n) = chars.peek() {
                if !(n.is_ascii_alphanumeric() || n == '_' || n == '.') {
                    break;
                }
                w.push(n);
                chars.next();
            }
            out.push(w.to_ascii_lowercase());
        } else {
            let mut s = String::from(c);
            if let Some(&'=') = chars.peek() {
                s.push('=');
                chars.next();
            }
            out.push(s);
        }
    }
    out
}

fn s(text: &str, detail: &str) -> Suggestion {
    Suggestion {
        text: text.into(),
        detail: detail.into(),
    }
}

fn candidates(tokens: &[String]) -> Vec<Suggestion> {
    let Some(first) = tokens.first() else {
        return registry::OBJECTS
            .iter()
            .map(|o| s(o.name, o.about))
            .collect();
    };
    let Some(object) = registry::object(first) else {
        return Vec::new();
    };
    let last = tokens.last().map(String::as_str).unwrap_or("");
    let before_last = tokens.len().checked_sub(2).map(|i| tokens[i].as_str());
    let fields = |o: &Object| {
        o.fields
            .iter()
            .map(|f| s(f.name, f.about))
            .collect::<Vec<_>>()
    };
    match last {
        _ if tokens.len() == 1 => clauses(),
        "where" | "and" | "or" | "not" | "(" => {
            let mut out = fields(object);
            out.push(s("not", "negate a condition"));
            out
        }
        "fields" | "by" => fields(object),
        "sort" | "," if in_clause(tokens, "sort") => {
            let mut out = fields(object);
            if tokens.iter().any(|t| t == "group") {
                out.push(s("count", "the size of each group"));
            }
            out
        }
        "," => fields(object),
        "during" => vec![s("last", "then a duration: 24h, 7d")],
        "group" => vec![s("by", "then a field")],
        "last" | "older_than" | "newer_than" => ["1h", "24h", "7d", "30d"]
            .iter()
            .map(|d| s(d, "a duration"))
            .collect(),
        _ => match object.field(last) {
            Some(f) if before_last != Some("fields") && !in_clause(tokens, "sort") => {
                f.ty.operators()
                    .iter()
                    .map(|op| s(op.text(), f.ty.name()))
                    .collect()
            }
            _ => match before_last.and_then(|b| object.field(b)) {
                Some(f) if is_operator(last) => values(f.ty),
                _ => {
                    let mut out = vec![s("and", "both conditions"), s("or", "either condition")];
                    out.extend(clauses());
                    out
                }
            },
        },
    }
}

fn clauses() -> Vec<Suggestion> {
    CLAUSES.iter().map(|(c, d)| s(c, d)).collect()
}

/// Whether the last clause keyword before the end is `keyword`.
fn in_clause(tokens: &[String], keyword: &str) -> bool {
    let clause = tokens.iter().rev().find(|t| {
        matches!(
            t.as_str(),
            "where" | "during" | "fields" | "group" | "sort" | "limit"
        )
    });
    clause.is_some_and(|c| c == keyword)
}

fn is_operator(t: &str) -> bool {
    matches!(
        t,
        "=" | "!="
            | "<"
            | "<="
            | ">"
            | ">="
            | "~"
            | "contains"
            | "in"
            | "older_than"
            | "newer_than"
    )
}

fn values(ty: Type) -> Vec<Suggestion> {
    match ty {
        Type::Enum(values) => values.iter().map(|v| s(v, "value")).collect(),
        Type::String => vec![s("@me", "you")],
        Type::Bool => vec![s("true", "bool"), s("false", "bool")],
        Type::Uuid => vec![s("@product", "the product of a one-click investigation")],
        _ => Vec::new(),
    }
}
