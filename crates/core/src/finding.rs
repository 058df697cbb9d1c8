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

impl FindingRecord<'_> {
    /// Appends the record as one line of JSON (no newline): byte for byte what
    /// `serde_json::to_writer` writes for it, at a third of the cost (its keys
    /// are written once here, not serialised and escaped for every finding, and
    /// strings without a byte to escape are copied whole).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut int = itoa::Buffer::new();
        let mut number = |out: &mut Vec<u8>, key: &[u8], n: u64| {
            out.extend_from_slice(key);
            out.extend_from_slice(int.format(n).as_bytes());
        };
        let string = |out: &mut Vec<u8>, key: &[u8], s: &str| {
            out.extend_from_slice(key);
            json_string(out, s);
        };
        string(out, b"{\"path\":", self.path);
        number(out, b",\"start\":", self.start);
        number(out, b",\"end\":", self.end);
        number(out, b",\"line\":", self.line);
        number(out, b",\"column\":", self.column);
        if let Some(r) = self.record {
            number(out, b",\"record\":", r);
        }
        if let Some(f) = self.field {
            string(out, b",\"field\":", f);
        }
        if let Some(g) = self.row_group {
            number(out, b",\"row_group\":", g);
        }
        string(out, b",\"rule\":", self.rule);
        string(out, b",\"name\":", self.name);
        string(out, b",\"category\":", self.category);
        string(out, b",\"severity\":", self.severity);
        out.extend_from_slice(b",\"confidence\":");
        // (the float as serde_json writes it)
        serde_json::to_writer(&mut *out, &self.confidence).expect("a Vec takes any write");
        if let Some(r) = self.reason {
            string(out, b",\"reason\":", r);
        }
        if let Some(d) = self.dropped {
            out.extend_from_slice(if d {
                b",\"dropped\":true"
            } else {
                b",\"dropped\":false"
            });
        }
        string(out, b",\"match\":", &self.matched);
        out.push(b'}');
    }
}

/// `s` as a JSON string literal, escaped as serde_json escapes: `"` and `\`,
/// control bytes as `\n`, `\t`, ... or `\u00xx`; everything else as it is.
fn json_string(out: &mut Vec<u8>, s: &str) {
    use crate::swar;
    /// Whether a byte of `w` is a control byte, `"` or `\`.
    fn needs_escape(w: u64) -> bool {
        swar::below(w, 0x20) | swar::equal(w, b'"') | swar::equal(w, b'\\') != 0
    }
    let b = s.as_bytes();
    out.push(b'"');
    // Words without a byte to escape are copied as they are.
    let mut i = 0;
    while i + 8 <= b.len() && !needs_escape(swar::load(b, i)) {
        i += 8;
    }
    out.extend_from_slice(&b[..i]);
    let mut done = i;
    for (j, &c) in b.iter().enumerate().skip(i) {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[done..j]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else {
            out.extend_from_slice(short);
        }
        done = j + 1;
    }
    out.extend_from_slice(&b[done..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::{mask, FindingRecord};
    use proptest::prelude::*;

    proptest! {
        /// The hand-written line is the one serde_json writes, whatever the
        /// strings hold (control bytes, quotes, backslashes, non-ASCII) and
        /// whichever optional fields are there.
        #[test]
        fn write_json_is_what_serde_json_writes(
            strings in proptest::collection::vec("(\\PC|[\\x00-\\x1f\"\\\\\\x7f]){0,40}", 7),
            numbers in proptest::collection::vec(any::<u64>(), 7),
            confidence in prop_oneof![0.0f32..=1.0, any::<f32>()],
            present in proptest::collection::vec(any::<bool>(), 5),
        ) {
            let record = FindingRecord {
                path: &strings[0],
                start: numbers[0],
                end: numbers[1],
                line: numbers[2],
                column: numbers[3],
                record: present[0].then_some(numbers[4]),
                field: present[1].then_some(strings[1].as_str()),
                row_group: present[2].then_some(numbers[5]),
                rule: &strings[2],
                name: &strings[3],
                category: &strings[4],
                severity: "high",
                confidence: (confidence * 100.0).round() / 100.0,
                reason: present[3].then_some(if numbers[6] % 2 == 0 { "a \"reason\"" } else { "other" }),
                dropped: present[4].then_some(numbers[6] % 3 != 0),
                matched: strings[5].clone() + &strings[6],
            };
            let mut ours = Vec::new();
            record.write_json(&mut ours);
            prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&record).unwrap());
        }
    }

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
