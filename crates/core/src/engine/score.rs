//! Scoring helpers: placeholder and documentation-example filters, context words.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

use crate::rules::{ContextSide, ContextSpec};

/// Context words of one rule, compiled.
pub(super) struct Context {
    words: AhoCorasick,
    window: usize,
    side: ContextSide,
    pub(super) required: bool,
    pub(super) boost: f32,
}

impl Context {
    pub(super) fn new(spec: &ContextSpec) -> Self {
        let words = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(&spec.words)
            .expect("context words are plain literals");
        Context {
            words,
            window: spec.window,
            side: spec.side,
            required: spec.required,
            boost: spec.boost,
        }
    }

    /// True when a context word occurs within the window before or after `span`.
    pub(super) fn found_near(&self, hay: &[u8], span: Range<usize>) -> bool {
        let before = span.start.saturating_sub(self.window)..span.start;
        let after = span.end..(span.end + self.window).min(hay.len());
        let look_before = self.side != ContextSide::After;
        let look_after = self.side != ContextSide::Before;
        (look_before && self.words.is_match(&hay[before]))
            || (look_after && self.words.is_match(&hay[after]))
    }
}

/// Well-known test and documentation values that are not anybody's data.
const KNOWN_TEST_VALUES: &[&str] = &[
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "4000056655665556",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "30569309025904",
    "078051120",
    "123456789",
    "987654320",
];

/// Substrings that mark a value as a placeholder or documentation example.
const PLACEHOLDER_MARKS: &[&str] = &[
    "example",
    "xxxx",
    "your_",
    "your-",
    "yourapi",
    "yourkey",
    "yoursecret",
    "yourtoken",
    "placeholder",
    "dummy",
    "changeme",
    "change_me",
    "redacted",
    "insert_",
    "replace_me",
    "replaceme",
    "<",
    ">",
    "${",
    "{{",
    "****",
    "...",
    "fake",
    "notreal",
    "not_real",
];

/// Why `value` looks like a placeholder, a documentation example or a well-known test
/// value; `None` when it looks real.
pub fn placeholder_reason(value: &[u8]) -> Option<&'static str> {
    let lower: Vec<u8> = value.iter().map(u8::to_ascii_lowercase).collect();
    let body: Vec<u8> = lower
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric())
        .collect();
    if body.len() >= 4 && body.iter().all(|&b| b == body[0]) {
        return Some("placeholder value (one repeated character)");
    }
    if body.len() >= 6 && body.iter().all(u8::is_ascii_digit) {
        let ascending = body
            .windows(2)
            .all(|w| (w[0] - b'0' + 1) % 10 == w[1] - b'0');
        let descending = body
            .windows(2)
            .all(|w| (w[1] - b'0' + 1) % 10 == w[0] - b'0');
        if ascending || descending {
            return Some("placeholder value (sequential digits)");
        }
        if KNOWN_TEST_VALUES
            .iter()
            .any(|t| t.as_bytes() == body.as_slice())
        {
            return Some("well-known test value");
        }
    }
    if PLACEHOLDER_MARKS
        .iter()
        .any(|m| memchr::memmem::find(&lower, m.as_bytes()).is_some())
    {
        return Some("placeholder or documentation example");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert!(placeholder_reason(b"AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(placeholder_reason(b"your_api_key_here").is_some());
        assert!(placeholder_reason(b"0000-0000-0000-0000").is_some());
        assert!(placeholder_reason(b"1234567890").is_some());
        assert!(placeholder_reason(b"4111 1111 1111 1111").is_some());
        assert!(placeholder_reason(b"ghp_R4nd0mB0dyOfThirtyCharsxxQwErT0abcd").is_none());
        assert!(placeholder_reason(b"4556 7375 8689 9855").is_none());
    }
}
