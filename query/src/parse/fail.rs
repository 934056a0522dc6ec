//! Why the parser stopped: where, what it expected there, and the message
//! a user reads.

use std::ops::Range;

use winnow::error::{AddContext, ErrMode, FromExternalError, ParserError};
use winnow::stream::{Location, Stream};

use super::In;
use crate::Error;

/// Why the parser stopped: where, and what it expected there.
#[derive(Debug)]
pub(super) struct Fail {
    pub(super) at: usize,
    pub(super) end: Option<usize>,
    pub(super) expected: Option<&'static str>,
    pub(super) message: Option<String>,
}

impl Fail {
    pub(super) fn cut(span: Range<usize>, message: String) -> ErrMode<Fail> {
        ErrMode::Cut(Fail {
            at: span.start,
            end: Some(span.end),
            expected: None,
            message: Some(message),
        })
    }
}

impl<'a> ParserError<In<'a>> for Fail {
    type Inner = Self;

    fn from_input(input: &In<'a>) -> Self {
        Fail {
            at: input.current_token_start(),
            end: None,
            expected: None,
            message: None,
        }
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }

    /// Of two alternatives that failed, the one that read further explains
    /// more.
    fn or(self, other: Self) -> Self {
        if other.at >= self.at {
            other
        } else {
            self
        }
    }
}

impl<'a> AddContext<In<'a>, &'static str> for Fail {
    /// A description applies when its parser failed before reading anything
    /// but white space; of those, the outermost (the broadest) is kept. A
    /// parser that read part of its input leaves the word to an inner one.
    fn add_context(
        mut self,
        input: &In<'a>,
        start: &<In<'a> as Stream>::Checkpoint,
        context: &'static str,
    ) -> Self {
        if self.message.is_some() {
            return self;
        }
        let mut from = *input;
        from.reset(start);
        let begin = from.current_token_start();
        let skipped = self
            .at
            .checked_sub(begin)
            .map(|n| from.peek_slice(n.min(from.eof_offset())));
        if skipped.is_some_and(|s| s.trim().is_empty()) {
            self.expected = Some(context);
        }
        self
    }
}

impl<'a, E> FromExternalError<In<'a>, E> for Fail {
    fn from_external_error(input: &In<'a>, _e: E) -> Self {
        Self::from_input(input)
    }
}

pub(super) fn explain(text: &str, fail: Fail) -> Error {
    let found = found(text, fail.at);
    let end = fail
        .end
        .unwrap_or(fail.at + found.len().max(1).min(text.len() - fail.at.min(text.len())));
    let message = match (fail.message, fail.expected) {
        (Some(m), _) => m,
        (None, Some(e)) if found.is_empty() => format!("expected {e}, found the end of the query"),
        (None, Some(e)) => format!("expected {e}, found \"{found}\""),
        (None, None) if found.is_empty() => "the query ends too soon".into(),
        (None, None) => format!("unexpected \"{found}\""),
    };
    Error::new(text, fail.at..end.max(fail.at), message)
}

/// The token that starts at `at`, for "found …".
fn found(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let word = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
        .map_or(rest.len(), |(i, _)| i);
    if word > 0 {
        return &rest[..word.min(40)];
    }
    rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
}
