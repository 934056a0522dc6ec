//! The parser (winnow): text to [`Query`], or the first error with its place.

use std::ops::Range;

use winnow::ascii::multispace0;
use winnow::combinator::{alt, cut_err, delimited, eof, opt, preceded, repeat, separated};
use winnow::error::ErrMode;
use winnow::stream::{Location, Stream};
use winnow::token::{literal, take_while};
use winnow::{LocatingSlice, ModalResult, Parser};

use crate::ast::{Expr, Op, Output, Query, SortKey, Spanned};
use crate::{limits, Error};

mod fail;
mod literal;

use fail::{explain, Fail};
use literal::{duration, integer, value};

type In<'a> = LocatingSlice<&'a str>;
type R<T> = ModalResult<T, Fail>;

/// Words that are part of the language, never a value or a field.
pub const KEYWORDS: &[&str] = &[
    "where",
    "and",
    "or",
    "not",
    "in",
    "contains",
    "older_than",
    "newer_than",
    "fields",
    "group",
    "by",
    "count",
    "sort",
    "asc",
    "desc",
    "limit",
    "during",
    "last",
    "true",
    "false",
];

/// Reads a whole query.
pub fn parse(text: &str) -> Result<Query, Error> {
    if text.len() > limits::TEXT {
        return Err(Error::new(
            text,
            limits::TEXT..text.len(),
            format!("a query is limited to {} bytes", limits::TEXT),
        ));
    }
    nesting(text)?;
    let mut input = LocatingSlice::new(text);
    match query.parse_next(&mut input) {
        Ok(q) => Ok(q),
        Err(ErrMode::Backtrack(f) | ErrMode::Cut(f)) => Err(explain(text, f)),
        Err(ErrMode::Incomplete(_)) => Err(Error::new(
            text,
            text.len()..text.len(),
            "the query ends too soon".into(),
        )),
    }
}

/// Parentheses nest at most [`limits::DEPTH`] deep; checked before parsing,
/// so a hostile query cannot make the parser recurse.
fn nesting(text: &str) -> Result<(), Error> {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                if depth > limits::DEPTH {
                    let message = format!("conditions nest at most {} deep", limits::DEPTH);
                    return Err(Error::new(text, i..i + 1, message));
                }
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn ws(i: &mut In<'_>) -> R<()> {
    multispace0.void().parse_next(i)
}

/// A word: letters, digits and `_`, not starting with a digit.
fn bare_word<'a>(i: &mut In<'a>) -> R<&'a str> {
    (
        take_while(1, |c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., |c: char| c.is_ascii_alphanumeric() || c == '_'),
    )
        .take()
        .parse_next(i)
}

/// A word after any white space.
fn word<'a>(i: &mut In<'a>) -> R<&'a str> {
    preceded(ws, bare_word).parse_next(i)
}

/// A keyword, in any case; its place.
fn kw<'a>(keyword: &'static str) -> impl Parser<In<'a>, Range<usize>, ErrMode<Fail>> {
    preceded(
        ws,
        bare_word
            .verify(move |w: &str| w.eq_ignore_ascii_case(keyword))
            .span(),
    )
}

/// A field name: `status`, `product.name`; lowercased.
fn field_name(i: &mut In<'_>) -> R<Spanned<String>> {
    preceded(
        ws,
        (
            bare_word.verify(|w: &str| !is_keyword(w)),
            opt(preceded(".", cut_err(bare_word))),
        )
            .take()
            .with_span()
            .map(|(name, span): (&str, _)| Spanned::new(name.to_ascii_lowercase(), span)),
    )
    .context("a field name")
    .parse_next(i)
}

fn is_keyword(w: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn query(i: &mut In<'_>) -> R<Query> {
    let object = preceded(ws, bare_word.with_span())
        .map(|(w, span): (&str, _)| Spanned::new(w.to_ascii_lowercase(), span))
        .context("an object (products, status_changes, commands or logs)")
        .parse_next(i)?;
    let mut q = Query {
        object,
        during: None,
        filter: None,
        output: Output::Default,
        sort: Vec::new(),
        limit: None,
    };
    let mut seen: Vec<&'static str> = Vec::new();
    loop {
        ws(i)?;
        if opt(eof).parse_next(i)?.is_some() {
            return Ok(q);
        }
        let start = i.current_token_start();
        let name = clause(i, &mut q)?;
        if seen.contains(&name) {
            let end = i.previous_token_end();
            return Err(Fail::cut(start..end, format!("\"{name}\" is given twice")));
        }
        seen.push(name);
    }
}

/// One clause; returns its name.
fn clause(i: &mut In<'_>, q: &mut Query) -> R<&'static str> {
    let start = i.checkpoint();
    let keyword = word
        .context(
            "a clause (where, during, fields, group by, sort or limit) or the end of the query",
        )
        .parse_next(i)?;
    match keyword.to_ascii_lowercase().as_str() {
        "where" => {
            q.filter = Some(cut_err(expr).parse_next(i)?);
            Ok("where")
        }
        "during" => {
            cut_err(kw("last").context("\"last\"")).parse_next(i)?;
            q.during = Some(cut_err(duration).parse_next(i)?);
            Ok("during")
        }
        "fields" | "group" if !matches!(q.output, Output::Default) => {
            let span = i.previous_token_end() - keyword.len()..i.previous_token_end();
            Err(Fail::cut(
                span,
                "use either \"fields\" or \"group by\", not both".into(),
            ))
        }
        "fields" => {
            let list = cut_err(separated(1.., field_name, (ws, ","))).parse_next(i)?;
            q.output = Output::Fields(list);
            Ok("fields")
        }
        "group" => {
            cut_err(kw("by").context("\"by\"")).parse_next(i)?;
            let field = cut_err(field_name).parse_next(i)?;
            cut_err(kw("count").context("\"count\"")).parse_next(i)?;
            q.output = Output::GroupCount(field);
            Ok("group by")
        }
        "sort" => {
            q.sort = cut_err(separated(1.., sort_key, (ws, ","))).parse_next(i)?;
            Ok("sort")
        }
        "limit" => {
            q.limit = Some(cut_err(integer.context("a number of rows")).parse_next(i)?);
            Ok("limit")
        }
        _ => {
            i.reset(&start);
            ws(i)?;
            Err(ErrMode::Cut(Fail {
                at: i.current_token_start(),
                end: None,
                expected: Some(
                    "a clause (where, during, fields, group by, sort or limit) or the end of the query",
                ),
                message: None,
            }))
        }
    }
}

fn sort_key(i: &mut In<'_>) -> R<SortKey> {
    let count = kw("count").map(|span| Spanned::new("count".to_string(), span));
    let field = alt((count, field_name)).parse_next(i)?;
    let direction = opt(alt((kw("asc").value(false), kw("desc").value(true)))).parse_next(i)?;
    Ok(SortKey {
        field,
        descending: direction.unwrap_or(false),
    })
}

/// `a or b or …`
fn expr(i: &mut In<'_>) -> R<Expr> {
    let terms: Vec<Expr> = separated(1.., conjunction, kw("or")).parse_next(i)?;
    Ok(flatten(terms, Expr::Or))
}

/// `a and b and …`
fn conjunction(i: &mut In<'_>) -> R<Expr> {
    let terms: Vec<Expr> = separated(1.., negation, kw("and")).parse_next(i)?;
    Ok(flatten(terms, Expr::And))
}

fn flatten(mut terms: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        terms.pop().expect("one term")
    } else {
        join(terms)
    }
}

/// Any number of `not`, then a condition or a parenthesised expression (a
/// loop, not recursion, for the `not`s).
fn negation(i: &mut In<'_>) -> R<Expr> {
    let nots: usize = repeat(0.., kw("not"))
        .fold(|| 0, |n, _| n + 1)
        .parse_next(i)?;
    let mut e = cut_err(primary).parse_next(i)?;
    for _ in 0..nots {
        e = Expr::Not(Box::new(e));
    }
    Ok(e)
}

fn primary(i: &mut In<'_>) -> R<Expr> {
    alt((
        delimited(
            (ws, "("),
            cut_err(expr),
            cut_err((ws, literal(")")).context("\")\"")),
        ),
        condition,
    ))
    .context("a condition (a field, \"not\" or \"(\")")
    .parse_next(i)
}

fn condition(i: &mut In<'_>) -> R<Expr> {
    let field = field_name.parse_next(i)?;
    let op = cut_err(operator).parse_next(i)?;
    if op.value == Op::In {
        let values = cut_err(delimited(
            (ws, literal("(")).context("\"(\""),
            separated(1.., value, (ws, ",")),
            (ws, literal(")")).context("\",\" or \")\""),
        ))
        .parse_next(i)?;
        return Ok(Expr::In { field, values });
    }
    let value = cut_err(value).parse_next(i)?;
    Ok(Expr::Compare { field, op, value })
}

fn operator(i: &mut In<'_>) -> R<Spanned<Op>> {
    preceded(
        ws,
        alt((
            "!=".value(Op::Ne),
            "<=".value(Op::Le),
            ">=".value(Op::Ge),
            "=".value(Op::Eq),
            "<".value(Op::Lt),
            ">".value(Op::Gt),
            "~".value(Op::Glob),
            word.verify_map(|w: &str| match w.to_ascii_lowercase().as_str() {
                "in" => Some(Op::In),
                "contains" => Some(Op::Contains),
                "older_than" => Some(Op::OlderThan),
                "newer_than" => Some(Op::NewerThan),
                _ => None,
            }),
        ))
        .with_span()
        .map(|(op, span)| Spanned::new(op, span)),
    )
    .context("an operator (=, !=, <, <=, >, >=, ~, contains, in, older_than or newer_than)")
    .parse_next(i)
}
