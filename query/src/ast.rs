//! What the parser reads: the query as written, with the place of every part.

use std::ops::Range;

/// A part of the query and where it stands in the text (byte offsets).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }
}

/// One query as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub object: Spanned<String>,
    /// `during last <duration>`, in milliseconds.
    pub during: Option<Spanned<i64>>,
    pub filter: Option<Expr>,
    pub output: Output,
    pub sort: Vec<SortKey>,
    pub limit: Option<Spanned<i64>>,
}

/// What the rows hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// The object's default fields.
    Default,
    Fields(Vec<Spanned<String>>),
    /// `group by <field> count`: one row per value, with the number of rows.
    GroupCount(Spanned<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub field: Spanned<String>,
    pub descending: bool,
}

/// A condition of `where`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Spanned<String>,
        op: Spanned<Op>,
        value: Spanned<Literal>,
    },
    In {
        field: Spanned<String>,
        values: Vec<Spanned<Literal>>,
    },
}

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`: a glob (`*` any text, `?` one character), case-insensitive.
    Glob,
    /// Holds the text, case-insensitive.
    Contains,
    /// A time further in the past than the duration.
    OlderThan,
    /// A time within the duration.
    NewerThan,
    /// `in (…)`, only in an `Expr::In`.
    In,
}

impl Op {
    /// The operator as written in a query.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Glob => "~",
            Op::Contains => "contains",
            Op::OlderThan => "older_than",
            Op::NewerThan => "newer_than",
            Op::In => "in",
        }
    }
}

/// A value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    /// Milliseconds.
    Duration(i64),
    Bool(bool),
    /// A bare word: the value of an enumeration (`offline`).
    Word(String),
    /// `@me`: the name of the user who runs the query.
    Me,
    /// `@product`: the product a one-click investigation runs on.
    Product,
}
