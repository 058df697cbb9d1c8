//! Findings: what was found, where, and how sure we are. Values are masked unless
//! a caller explicitly asks for them.

use std::sync::Arc;

use serde::Serialize;

use crate::engine::RuleInfo;

/// One sensitive value found in one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Display path of the input (`dir/file.jsonl`, `-` for stdin,
    /// `archive.zip!member.csv` for archive members).
    pub path: Arc<str>,
    /// The rule that found it.
    pub rule: Arc<RuleInfo>,
    /// Start of the value: byte offset in the (decompressed) file or archive member.
    /// For Parquet, the offset in the value of the cell.
    pub start: u64,
    /// End of the value (exclusive).
    pub end: u64,
    /// 1-based line of `start`.
    pub line: u64,
    /// 1-based byte column of `start`.
    pub column: u64,
    /// Record index (0-based) for record formats.
    pub record: Option<u64>,
    /// Field (JSON Pointer, column name) for record formats.
    pub field: Option<String>,
    /// Row group, for Parquet.
    pub row_group: Option<u64>,
    /// 0..1.
    pub confidence: f32,
    /// Why the confidence is what it is, or why the candidate was dropped.
    pub reason: Option<&'static str>,
    /// The candidate did not pass (only present with `--explain`).
    pub dropped: bool,
    /// The value as scanned (decoded for record formats). Never printed unmasked
    /// unless the user asks.
    pub value: Vec<u8>,
}

/// Masks a value: the first and last few characters stay, the middle becomes `*`.
/// Short values keep less so that the mask never reveals most of a value.
///
/// ```
/// assert_eq!(datasieve::finding::mask(b"ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "ghp_****6789");
/// assert_eq!(datasieve::finding::mask(b"123-45-6789"), "12****89");
/// assert_eq!(datasieve::finding::mask(b"abc"), "****");
/// ```
pub fn mask(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let keep = match text.chars().count() {
        0..=5 => 0,
        6..=15 => 2,
        _ => 4,
    };
    // (byte offsets of the kept characters: a value may be kilobytes long)
    let head = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let tail = match keep {
        0 => text.len(),
        _ => text
            .char_indices()
            .rev()
            .nth(keep - 1)
            .map_or(0, |(i, _)| i),
    };
    let mut out = String::with_capacity(head + 4 + (text.len() - tail));
    out.push_str(&text[..head]);
    out.push_str("****");
    out.push_str(&text[tail..]);
    out
}

impl Finding {
    /// The value to show: masked unless `show_secrets`.
    pub fn shown_value(&self, show_secrets: bool) -> String {
        if show_secrets {
            String::from_utf8_lossy(&self.value).into_owned()
        } else {
            mask(&self.value)
        }
    }

    /// A serialisable view of the finding, with the value masked unless
    /// `show_secrets`.
    pub fn record_view(&self, show_secrets: bool) -> FindingRecord<'_> {
        FindingRecord {
            path: &self.path,
            start: self.start,
            end: self.end,
            line: self.line,
            column: self.column,
            record: self.record,
            field: self.field.as_deref(),
            row_group: self.row_group,
            rule: &self.rule.id,
            name: &self.rule.name,
            category: self.rule.category.as_str(),
            severity: self.rule.severity.as_str(),
            confidence: (self.confidence * 100.0).round() / 100.0,
            reason: self.reason,
            dropped: self.dropped.then_some(true),
            matched: self.shown_value(show_secrets),
        }
    }
}

/// The JSON shape of a finding (one line of `--format jsonl`).
#[derive(Debug, Serialize)]
pub struct FindingRecord<'a> {
    /// Input path.
    pub path: &'a str,
    /// Byte offset of the value.
    pub start: u64,
    /// End byte offset (exclusive).
    pub end: u64,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// Record index, for record formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// Field, for record formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// Row group, for Parquet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_group: Option<u64>,
    /// Rule id.
    pub rule: &'a str,
    /// Rule name.
    pub name: &'a str,
    /// Category.
    pub category: &'a str,
    /// Severity.
    pub severity: &'a str,
    /// Confidence, two decimals.
    pub confidence: f32,
    /// Reason for the confidence or the drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// Present and true for dropped candidates (`--explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<bool>,
    /// The value, masked unless secrets are shown.
    #[serde(rename = "match")]
    pub matched: String,
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_keep_whole_characters_at_both_ends() {
        // Multi-byte characters are kept or masked whole, never cut.
        assert_eq!(mask("ñandú-ßecret-€uro".as_bytes()), "ñand****€uro");
        assert_eq!(mask("пароль1".as_bytes()), "па****ь1");
        assert_eq!(mask("ключ".as_bytes()), "****");
        assert_eq!(mask(b""), "****");
        // Invalid UTF-8 counts as replacement characters.
        assert_eq!(mask(b"\xffabcdef\xfe"), "\u{fffd}a****f\u{fffd}");
        // Lengths at each boundary: 5 keeps none, 6 and 15 keep two, 16 keeps four.
        let kept = |n: usize| {
            let m = mask("x".repeat(n).as_bytes());
            m.len() - 4
        };
        assert_eq!([kept(5), kept(6), kept(15), kept(16)], [0, 4, 4, 8]);
    }
}
