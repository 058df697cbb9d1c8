//! Formats: where records and fields are in an input, and what text to scan.
//!
//! Plain text is one segment. Record formats yield *decoded* segments (a JSON string
//! value, a CSV cell) with a map back to raw byte offsets, so that escapes never
//! hide a match and redaction can rewrite exactly the right bytes.
//!
//! ```
//! use datasieve::format::{detect, Format};
//! assert_eq!(detect("notes.txt", b"hello"), Format::Text);
//! ```

use std::borrow::Cow;
use std::ops::Range;

/// The formats the library reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Plain text, code, config: one span.
    Text,
}

impl Format {
    /// Name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
        }
    }

    /// Parses a `--input-format` value.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "text" => Some(Format::Text),
            _ => None,
        }
    }
}

/// Detects the format from the file name and its first bytes.
pub fn detect(_path: &str, _head: &[u8]) -> Format {
    Format::Text
}

/// Maps offsets in decoded segment text back to raw offsets in the input.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetMap {
    /// The text is the raw bytes starting at `base`.
    Identity {
        /// Raw offset of text offset 0.
        base: usize,
    },
}

impl OffsetMap {
    /// Raw span of a decoded span.
    pub fn raw_span(&self, decoded: Range<usize>) -> Range<usize> {
        match self {
            OffsetMap::Identity { base } => base + decoded.start..base + decoded.end,
        }
    }
}

/// A piece of text to scan, with where it came from.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    /// Bytes to scan (decoded for record formats).
    pub text: Cow<'a, [u8]>,
    /// Back to raw offsets.
    pub map: OffsetMap,
    /// Raw byte span of the whole field as written in the input: the JSON string
    /// literal with its quotes, the CSV cell with its quotes, or the text itself.
    /// Redaction re-encodes the field and replaces exactly this span.
    pub raw: Range<usize>,
    /// Record index (0-based), for record formats.
    pub record: Option<u64>,
    /// Field: JSON Pointer or column name.
    pub field: Option<String>,
}
