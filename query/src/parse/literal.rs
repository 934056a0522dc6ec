//! Values as a query writes them: text in quotes, numbers, durations,
//! words, `@me` and `@product`.

use winnow::combinator::{alt, opt, preceded};
use winnow::stream::{Location, Stream};
use winnow::token::take_while;
use winnow::Parser;

use super::fail::Fail;
use super::{is_keyword, word, ws, In, R};
use crate::ast::{Literal, Spanned};
use crate::limits;

pub(super) fn value(i: &mut In<'_>) -> R<Spanned<Literal>> {
    preceded(
        ws,
        alt((
            string.map(Literal::Str),
            number,
            "@me".value(Literal::Me),
            "@product".value(Literal::Product),
            word.verify_map(|w: &str| {
                let w = w.to_ascii_lowercase();
                match w.as_str() {
                    "true" => Some(Literal::Bool(true)),
                    "false" => Some(Literal::Bool(false)),
                    _ if is_keyword(&w) => None,
                    _ => Some(Literal::Word(w)),
                }
            }),
        ))
        .with_span()
        .map(|(v, span)| Spanned::new(v, span)),
    )
    .context("a value (\"text\", a number, a duration such as 24h, a word, @me or @product)")
    .parse_next(i)
}

/// `"…"` with `\"`, `\\`, `\n` and `\t`.
fn string(i: &mut In<'_>) -> R<String> {
    let start = i.current_token_start();
    "\"".parse_next(i)?;
    let mut out = String::new();
    loop {
        let Some(c) = i.next_token() else {
            let end = i.current_token_start();
            return Err(Fail::cut(
                start..end,
                "this text has no closing quote".into(),
            ));
        };
        match c {
            '"' => break,
            '\\' => {
                let at = i.current_token_start() - 1;
                match i.next_token() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    _ => {
                        let end = i.current_token_start();
                        let message = "unknown escape (use \\\", \\\\, \\n or \\t)".to_string();
                        return Err(Fail::cut(at..end, message));
                    }
                }
            }
            '\0' => {
                let at = i.current_token_start() - 1;
                return Err(Fail::cut(
                    at..at + 1,
                    "text cannot hold the NUL character".into(),
                ));
            }
            c => out.push(c),
        }
        if out.len() > limits::STRING {
            let end = i.current_token_start();
            let message = format!("a text value is limited to {} bytes", limits::STRING);
            return Err(Fail::cut(start..end, message));
        }
    }
    Ok(out)
}

/// A whole number, or a duration: a number and a unit (`ms`, `s`, `m`,
/// `h`, `d`, `w`).
fn number(i: &mut In<'_>) -> R<Literal> {
    let ((digits, unit), span) = (
        (opt("-"), take_while(1.., |c: char| c.is_ascii_digit())).take(),
        take_while(0.., |c: char| c.is_ascii_alphanumeric() || c == '_'),
    )
        .with_span()
        .parse_next(i)?;
    let Ok(n) = digits.parse::<i64>() else {
        return Err(Fail::cut(span, "this number is too large".into()));
    };
    if unit.is_empty() {
        return Ok(Literal::Int(n));
    }
    match crate::time::unit_ms(unit).and_then(|ms| n.checked_mul(ms)) {
        Some(ms) if n >= 0 => Ok(Literal::Duration(ms)),
        Some(_) => Err(Fail::cut(span, "a duration cannot be negative".into())),
        None if crate::time::unit_ms(unit).is_some() => {
            Err(Fail::cut(span, "this duration is too long".into()))
        }
        None => Err(Fail::cut(
            span,
            format!("unknown unit \"{unit}\" (use ms, s, m, h, d or w)"),
        )),
    }
}

pub(super) fn duration(i: &mut In<'_>) -> R<Spanned<i64>> {
    preceded(ws, number.with_span())
        .verify_map(|(l, span)| match l {
            Literal::Duration(ms) => Some(Spanned::new(ms, span)),
            _ => None,
        })
        .context("a duration (30s, 15m, 24h, 7d)")
        .parse_next(i)
}

pub(super) fn integer(i: &mut In<'_>) -> R<Spanned<i64>> {
    preceded(ws, number.with_span())
        .verify_map(|(l, span)| match l {
            Literal::Int(n) => Some(Spanned::new(n, span)),
            _ => None,
        })
        .parse_next(i)
}
