//! The type checker: a parsed query against the registry, to a [`Checked`]
//! query that names only known fields, with values of the right types.

use std::ops::Range;

use crate::ast::{Expr, Literal, Op, Output, Query, Spanned};
use crate::registry::{self, Field, Object, Type};
use crate::{limits, time, Error, Kind};

/// A query that type-checked: every name resolved, every value typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    pub object: &'static Object,
    /// `during last`, milliseconds.
    pub during: Option<i64>,
    pub filter: Option<Cond>,
    pub shape: Shape,
    pub sort: Vec<(SortBy, bool)>,
    pub limit: i64,
}

/// What each row holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Rows(Vec<&'static Field>),
    GroupCount(&'static Field),
}

/// A sort key: a field, or the count of a group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SortBy {
    Field(&'static Field),
    Count,
}

/// A typed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Compare {
        field: &'static Field,
        op: Op,
        value: Value,
    },
    In {
        field: &'static Field,
        values: Vec<Value>,
    },
}

/// A typed value; timestamps and durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    /// The user who runs the query.
    Me,
    /// The product a one-click investigation runs on.
    Product,
}

impl Value {
    /// Whether the value is only known when the query runs.
    pub fn is_bound_at_run(&self) -> bool {
        matches!(self, Value::Me | Value::Product)
    }
}

struct Checker<'t> {
    text: &'t str,
    kind: Kind,
    object: &'static Object,
    terms: usize,
}

/// Checks a parsed query for an item of `kind`.
pub fn check(text: &str, query: &Query, kind: Kind) -> Result<Checked, Error> {
    let object = registry::object(&query.object.value).ok_or_else(|| {
        let names = registry::OBJECTS.iter().map(|o| o.name);
        let hint = match registry::closest(&query.object.value, names) {
            Some(n) => format!("did you mean \"{n}\"?"),
            None => "products, status_changes, commands or logs".into(),
        };
        Error::new(
            text,
            query.object.span.clone(),
            format!("unknown object \"{}\" ({hint})", query.object.value),
        )
    })?;
    let mut c = Checker {
        text,
        kind,
        object,
        terms: 0,
    };
    if object.needs_during && query.during.is_none() {
        let message = format!(
            "{} needs \"during last <duration>\" (for example: during last 7d)",
            object.name
        );
        return Err(c.error(query.object.span.clone(), message));
    }
    let during = match &query.during {
        Some(d) if d.value <= 0 => {
            return Err(c.error(d.span.clone(), "the duration must be longer than 0".into()))
        }
        Some(d) => Some(d.value),
        None => None,
    };
    let filter = query.filter.as_ref().map(|e| c.cond(e)).transpose()?;
    let shape = c.shape(&query.output)?;
    let sort = c.sort(query, &shape)?;
    let limit = match &query.limit {
        None => limits::DEFAULT_ROWS,
        Some(l) if (1..=limits::ROWS).contains(&l.value) => l.value,
        Some(l) => {
            let message = format!("the limit is between 1 and {} rows per page", limits::ROWS);
            return Err(c.error(l.span.clone(), message));
        }
    };
    Ok(Checked {
        object,
        during,
        filter,
        shape,
        sort,
        limit,
    })
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, message: String) -> Error {
        Error::new(self.text, span, message)
    }

    fn field(&self, name: &Spanned<String>) -> Result<&'static Field, Error> {
        self.object.field(&name.value).ok_or_else(|| {
            let names = self.object.fields.iter().map(|f| f.name);
            let hint = match registry::closest(&name.value, names) {
                Some(n) => format!("did you mean \"{n}\"?"),
                None => format!(
                    "{} has: {}",
                    self.object.name,
                    self.object
                        .fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.error(
                name.span.clone(),
                format!("unknown field \"{}\" ({hint})", name.value),
            )
        })
    }

    fn cond(&mut self, e: &Expr) -> Result<Cond, Error> {
        Ok(match e {
            Expr::And(terms) => Cond::And(
                terms
                    .iter()
                    .map(|t| self.cond(t))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(terms) => Cond::Or(
                terms
                    .iter()
                    .map(|t| self.cond(t))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Cond::Not(Box::new(self.cond(inner)?)),
            Expr::Compare { field, op, value } => {
                self.count_term(&field.span)?;
                let f = self.field(field)?;
                self.operator(f, op)?;
                let value = match op.value {
                    Op::OlderThan | Op::NewerThan => self.age(value)?,
                    Op::Glob | Op::Contains => self.text(value)?,
                    _ => self.value(f, value)?,
                };
                Cond::Compare {
                    field: f,
                    op: op.value,
                    value,
                }
            }
            Expr::In { field, values } => {
                self.count_term(&field.span)?;
                let f = self.field(field)?;
                if !f.ty.operators().contains(&Op::In) {
                    return Err(self.not_applicable(f, "in", field.span.clone()));
                }
                if values.len() > limits::IN_LIST {
                    let span = values[limits::IN_LIST].span.clone();
                    let message =
                        format!("an \"in\" list holds at most {} values", limits::IN_LIST);
                    return Err(self.error(span, message));
                }
                let mut typed = values
                    .iter()
                    .map(|v| self.value(f, v))
                    .collect::<Result<Vec<_>, _>>()?;
                typed.sort();
                typed.dedup();
                Cond::In {
                    field: f,
                    values: typed,
                }
            }
        })
    }

    fn count_term(&mut self, span: &Range<usize>) -> Result<(), Error> {
        self.terms += 1;
        if self.terms > limits::TERMS {
            let message = format!("a query holds at most {} conditions", limits::TERMS);
            return Err(self.error(span.clone(), message));
        }
        Ok(())
    }

    fn operator(&self, f: &'static Field, op: &Spanned<Op>) -> Result<(), Error> {
        if f.ty.operators().contains(&op.value) {
            Ok(())
        } else {
            Err(self.not_applicable(f, op.value.text(), op.span.clone()))
        }
    }

    fn not_applicable(&self, f: &'static Field, op: &str, span: Range<usize>) -> Error {
        let allowed: Vec<&str> = f.ty.operators().iter().map(|o| o.text()).collect();
        let message = format!(
            "\"{op}\" does not apply to {} ({}; use {})",
            f.name,
            f.ty.name(),
            allowed.join(", ")
        );
        self.error(span, message)
    }

    /// The duration of `older_than` / `newer_than`.
    fn age(&self, v: &Spanned<Literal>) -> Result<Value, Error> {
        match v.value {
            Literal::Duration(ms) => Ok(Value::Int(ms)),
            _ => Err(self.error(
                v.span.clone(),
                "expected a duration (30s, 15m, 24h, 7d)".into(),
            )),
        }
    }

    /// The text of `~` / `contains`.
    fn text(&self, v: &Spanned<Literal>) -> Result<Value, Error> {
        match &v.value {
            Literal::Str(s) | Literal::Word(s) => Ok(Value::Text(s.clone())),
            _ => Err(self.error(v.span.clone(), "expected a text in quotes".into())),
        }
    }

    fn value(&self, f: &'static Field, v: &Spanned<Literal>) -> Result<Value, Error> {
        let wrong = |what: &str| {
            self.error(
                v.span.clone(),
                format!("{} is {}: expected {what}", f.name, article(f.ty)),
            )
        };
        match (f.ty, &v.value) {
            (_, Literal::Product) if self.kind != Kind::OneClick => Err(self.error(
                v.span.clone(),
                "@product is only for one-click investigations".into(),
            )),
            (Type::Uuid, Literal::Product) => Ok(Value::Product),
            (Type::String, Literal::Me) => Ok(Value::Me),
            (Type::String, Literal::Str(s) | Literal::Word(s)) => Ok(Value::Text(s.clone())),
            (Type::String, _) => Err(wrong("a text in quotes or @me")),
            (Type::Int, Literal::Int(n)) => Ok(Value::Int(*n)),
            (Type::Int, _) => Err(wrong("a whole number")),
            (Type::Bool, Literal::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Bool, _) => Err(wrong("true or false")),
            (Type::Duration, Literal::Duration(ms)) => Ok(Value::Int(*ms)),
            (Type::Duration, _) => Err(wrong("a duration (30s, 15m, 24h, 7d)")),
            (Type::Timestamp, Literal::Str(s)) => {
                time::parse_timestamp(s).map(Value::Int).ok_or_else(|| {
                    wrong("a time such as \"2026-12-01\" or \"2026-12-01T08:30:00Z\" (UTC)")
                })
            }
            (Type::Timestamp, _) => Err(wrong("a time such as \"2026-12-01T08:30:00Z\"")),
            (Type::Uuid, Literal::Str(s)) if is_uuid(s) => Ok(Value::Text(s.to_ascii_lowercase())),
            (Type::Uuid, _) => Err(wrong("a UUID in quotes or @product")),
            (Type::Enum(values), Literal::Str(s) | Literal::Word(s)) => {
                let s = s.to_ascii_lowercase();
                if values.contains(&s.as_str()) {
                    return Ok(Value::Text(s));
                }
                let hint = match registry::closest(&s, values.iter().copied()) {
                    Some(n) => format!("did you mean {n}?"),
                    None => format!("use {}", values.join(", ")),
                };
                Err(self.error(
                    v.span.clone(),
                    format!("\"{s}\" is not a value of {} ({hint})", f.name),
                ))
            }
            (Type::Enum(values), _) => Err(wrong(&format!("one of {}", values.join(", ")))),
        }
    }

    fn shape(&self, output: &Output) -> Result<Shape, Error> {
        match output {
            Output::Default => Ok(Shape::Rows(
                self.object
                    .default_fields
                    .iter()
                    .map(|n| self.object.field(n).expect("registry defaults are fields"))
                    .collect(),
            )),
            Output::Fields(names) => {
                if names.len() > limits::FIELDS {
                    let message = format!("a query shows at most {} fields", limits::FIELDS);
                    return Err(self.error(names[limits::FIELDS].span.clone(), message));
                }
                let mut fields: Vec<&'static Field> = Vec::new();
                for name in names {
                    let f = self.field(name)?;
                    if fields.iter().any(|g| g.name == f.name) {
                        return Err(
                            self.error(name.span.clone(), format!("{} is listed twice", f.name))
                        );
                    }
                    fields.push(f);
                }
                Ok(Shape::Rows(fields))
            }
            Output::GroupCount(name) => {
                let f = self.field(name)?;
                if !f.ty.groupable() {
                    let message =
                        format!("rows cannot be grouped by {} (a {})", f.name, f.ty.name());
                    return Err(self.error(name.span.clone(), message));
                }
                Ok(Shape::GroupCount(f))
            }
        }
    }

    fn sort(&self, query: &Query, shape: &Shape) -> Result<Vec<(SortBy, bool)>, Error> {
        if query.sort.is_empty() {
            return Ok(match shape {
                Shape::GroupCount(f) => vec![(SortBy::Count, true), (SortBy::Field(f), false)],
                Shape::Rows(_) => {
                    let (name, desc) = self.object.default_sort;
                    vec![(
                        SortBy::Field(self.object.field(name).expect("a field")),
                        desc,
                    )]
                }
            });
        }
        let mut keys = Vec::new();
        for key in &query.sort {
            let by = match (shape, key.field.value.as_str()) {
                (Shape::GroupCount(_), "count") => SortBy::Count,
                (Shape::GroupCount(g), _) => {
                    let f = self.field(&key.field)?;
                    if f.name != g.name {
                        let message = format!("a grouped query sorts by count or by {}", g.name);
                        return Err(self.error(key.field.span.clone(), message));
                    }
                    SortBy::Field(f)
                }
                (Shape::Rows(_), "count") => {
                    let message = "count is only for \"group by … count\"".to_string();
                    return Err(self.error(key.field.span.clone(), message));
                }
                (Shape::Rows(_), _) => SortBy::Field(self.field(&key.field)?),
            };
            if keys.iter().any(|(k, _)| *k == by) {
                return Err(self.error(
                    key.field.span.clone(),
                    format!("{} is sorted on twice", key.field.value),
                ));
            }
            keys.push((by, key.descending));
        }
        Ok(keys)
    }
}

fn article(ty: Type) -> &'static str {
    match ty {
        Type::Int => "an int",
        Type::Enum(_) => "an enum",
        Type::Uuid => "a uuid",
        Type::String => "a string",
        Type::Bool => "a bool",
        Type::Timestamp => "a timestamp",
        Type::Duration => "a duration",
    }
}

/// Eight-four-four-four-twelve hex digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
