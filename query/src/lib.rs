//! Vigil's investigation language: a small typed query language over the
//! fleet, never SQL.
//!
//! ```text
//! products where status = offline and name ~ "web-*" and last_seen older_than 24h
//!   fields name, type, version, home_node, last_seen sort last_seen desc limit 500
//! ```
//!
//! # Layout
//! - [`parse`](parse::parse) (winnow) reads the text into an [`ast::Query`],
//!   keeping the place of every part;
//! - [`check`](check::check) resolves names against the fixed [`registry`]
//!   and types every value, to a [`Checked`] query;
//! - [`canonical`](canonical::canonical) prints a checked query in its one
//!   canonical spelling (its hash identifies the definition);
//! - [`suggest`] proposes what may come next, for the console's editor;
//! - `sql` (feature `sql`, on the node only) compiles a checked query to
//!   parameterised SQL for SQLite or PostgreSQL with sea-query.
//!
//! All of it but `sql` also runs in the browser, so the console validates
//! as the user types.

pub mod ast;
pub mod canonical;
pub mod check;
pub mod parse;
pub mod registry;
mod suggest;
pub mod time;

#[cfg(feature = "sql")]
pub mod sql;

use std::fmt;
use std::ops::Range;

pub use canonical::canonical;
pub use check::{Checked, Cond, Shape, SortBy, Value};
pub use registry::{Field, Object, Type};
pub use suggest::{suggest, Suggestion};

/// What a query may be part of: `@product` is only for one-click
/// investigations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Investigation,
    OneClick,
    Alert,
}

/// The bounds on one query, so that no query costs much to parse, check or
/// run.
pub mod limits {
    /// Bytes of query text.
    pub const TEXT: usize = 4096;
    /// Bytes of one text value.
    pub const STRING: usize = 1024;
    /// Nesting of parentheses.
    pub const DEPTH: usize = 8;
    /// Conditions (comparisons and `in`) in one query.
    pub const TERMS: usize = 64;
    /// Values of one `in` list.
    pub const IN_LIST: usize = 100;
    /// Fields shown.
    pub const FIELDS: usize = 32;
    /// Rows per page (`limit`).
    pub const ROWS: i64 = 10_000;
    /// Rows per page without a `limit`.
    pub const DEFAULT_ROWS: i64 = 100;
}

/// A query that cannot be read or does not type-check: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Byte offsets in the query.
    pub span: Range<usize>,
    /// 1-based, counted in characters.
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Error {
    pub(crate) fn new(text: &str, span: Range<usize>, message: String) -> Self {
        let start = span.start.min(text.len());
        let before = text.get(..start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Error {
            span,
            line,
            col,
            message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, col {}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for Error {}

/// Parses and checks a query for an item of `kind`.
pub fn analyze(text: &str, kind: Kind) -> Result<Checked, Error> {
    let query = parse::parse(text)?;
    check::check(text, &query, kind)
}

/// One column of a query's rows: its name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: &'static str,
}

impl Checked {
    /// The columns of its rows, in order.
    pub fn columns(&self) -> Vec<Column> {
        match &self.shape {
            Shape::Rows(fields) => fields
                .iter()
                .map(|f| Column {
                    name: f.name,
                    ty: f.ty.name(),
                })
                .collect(),
            Shape::GroupCount(f) => vec![
                Column {
                    name: f.name,
                    ty: f.ty.name(),
                },
                Column {
                    name: "count",
                    ty: "int",
                },
            ],
        }
    }

    /// Sorts by one of its columns instead (a click on a column's header),
    /// or says why not.
    pub fn sort_by(&mut self, column: &str, descending: bool) -> Result<(), String> {
        let by = match &self.shape {
            Shape::GroupCount(_) if column == "count" => SortBy::Count,
            Shape::GroupCount(f) if f.name == column => SortBy::Field(f),
            Shape::Rows(fields) => match fields.iter().find(|f| f.name == column) {
                Some(f) => SortBy::Field(f),
                None => return Err(format!("{column} is not a column of this query")),
            },
            Shape::GroupCount(_) => return Err(format!("{column} is not a column of this query")),
        };
        self.sort = vec![(by, descending)];
        Ok(())
    }

    /// Keeps only rows of products homed on one of `nodes` (an alert a node
    /// evaluates over its own products).
    pub fn within_homes(&mut self, nodes: &[String]) {
        let name = if self.object.name == "products" {
            "home_node"
        } else {
            "product.home_node"
        };
        let field = self
            .object
            .field(name)
            .expect("every object knows the home node");
        let homes = Cond::In {
            field,
            values: nodes.iter().map(|n| Value::Text(n.clone())).collect(),
        };
        self.filter = Some(match self.filter.take() {
            Some(f) => Cond::And(vec![f, homes]),
            None => homes,
        });
    }

    /// The same rows, reduced to the id of the product each is about (one
    /// row per product), up to `limit`.
    pub fn product_ids(&mut self, limit: i64) {
        let name = if self.object.name == "products" {
            "id"
        } else {
            "product"
        };
        let field = self
            .object
            .field(name)
            .expect("every object names its product");
        self.shape = Shape::GroupCount(field);
        self.sort = vec![(SortBy::Field(field), false)];
        self.limit = limit;
    }

    /// Whether it needs a product to run on (`@product`).
    pub fn needs_product(&self) -> bool {
        self.filter
            .as_ref()
            .is_some_and(|c| mentions(c, &Value::Product))
    }
}

fn mentions(c: &Cond, v: &Value) -> bool {
    match c {
        Cond::And(t) | Cond::Or(t) => t.iter().any(|c| mentions(c, v)),
        Cond::Not(c) => mentions(c, v),
        Cond::Compare { value, .. } => value == v,
        Cond::In { values, .. } => values.contains(v),
    }
}

#[cfg(test)]
mod tests;
