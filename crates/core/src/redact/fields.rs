//! Records and fields as redaction rewrites them: JSON Lines records and JSON
//! tokens (string literals, bare numbers and literals), CSV/TSV rows and cells.
//!
//! Redaction takes the raw byte spans of findings, finds the fields that hold
//! them, decodes each field (JSON escapes, CSV `""`), replaces the values inside
//! the decoded text and encodes the field again. Only fields with a finding are
//! re-encoded; every other byte is copied as it was, so untouched records stay
//! byte-identical and key order is kept.

use std::ops::Range;

use crate::format::csv::{Dialect, Splitter};

/// How a field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A JSON string literal (quotes included in the raw span).
    JsonString,
    /// A JSON number, `true`, `false` or `null`: re-encoded as a string when changed.
    JsonBare,
    /// A CSV/TSV cell.
    CsvCell {
        /// Quoted in the input (`""` inside stands for `"`).
        quoted: bool,
        /// The file's delimiter.
        delimiter: u8,
    },
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The field as written (quotes included).
    pub(crate) raw: Range<usize>,
    /// The content (inside the quotes).
    pub(crate) content: Range<usize>,
    /// How it is written.
    pub(crate) kind: FieldKind,
}

/// A piece of a field's content: raw bytes that decode to some decoded bytes (one
/// byte, or one escape).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unit {
    raw: Range<usize>,
    decoded: Range<usize>,
}

/// The decoded content of a field with its map back to raw offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) text: Vec<u8>,
    /// The raw content.
    raw: Range<usize>,
    /// The units that are not one byte decoding to one byte (escapes, doubled
    /// quotes), in order; every other raw byte is its own unit. (One unit per
    /// byte took 32 bytes per byte of a field: 9 GB for a 256 MiB value.)
    escapes: Vec<Unit>,
}

impl Decoded {
    /// The decoded span of raw span `raw`, widened to whole escapes; empty when no
    /// content byte of the field is in `raw` (an empty `raw` too).
    pub(crate) fn decoded_span(&self, raw: Range<usize>) -> Range<usize> {
        let (start, end) = (raw.start.max(self.raw.start), raw.end.min(self.raw.end));
        if start >= end {
            return 0..0;
        }
        self.unit_at(start).start..self.unit_at(end - 1).end
    }

    /// The decoded range of the unit holding raw byte `at` of the content.
    fn unit_at(&self, at: usize) -> Range<usize> {
        // (escapes ending at or before `at`)
        let before = self.escapes.partition_point(|u| u.raw.end <= at);
        if let Some(u) = self.escapes.get(before).filter(|u| u.raw.start <= at) {
            return u.decoded.clone();
        }
        let d = match before.checked_sub(1) {
            Some(k) => self.escapes[k].decoded.end + (at - self.escapes[k].raw.end),
            None => at - self.raw.start,
        };
        d..d + 1
    }
}

/// Line ranges of `bytes` (line ending included) with their 0-based line number,
/// blank lines left out: the records of JSON Lines.
pub(crate) fn jsonl_records(bytes: &[u8]) -> Vec<(u64, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut line = 0u64;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        if !bytes[start..end].iter().all(u8::is_ascii_whitespace) {
            out.push((line, start..end));
        }
        line += 1;
        start = end;
    }
    out
}

/// The JSON tokens of `bytes[range]` that can hold a value: string literals and
/// bare tokens (numbers, `true`, `false`, `null`).
pub(crate) fn json_fields(bytes: &[u8], range: Range<usize>) -> Vec<Field> {
    let mut out = Vec::new();
    let mut i = range.start;
    let end = range.end;
    while i < end {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < end && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let close = i.min(end);
                i = (i + 1).min(end);
                out.push(Field {
                    raw: start..i,
                    content: start + 1..close.max(start + 1),
                    kind: FieldKind::JsonString,
                });
            }
            b' ' | b'\t' | b'\r' | b'\n' | b'{' | b'}' | b'[' | b']' | b':' | b',' => i += 1,
            _ => {
                let start = i;
                while i < end
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b':'
                            | b','
                            | b'"'
                    )
                {
                    i += 1;
                }
                out.push(Field {
                    raw: start..i,
                    content: start..i,
                    kind: FieldKind::JsonBare,
                });
            }
        }
    }
    out
}

/// The cells of the CSV/TSV row starting at `start`, read with the scan's splitter.
pub(crate) fn csv_cells(bytes: &[u8], start: usize, delimiter: u8) -> Vec<Field> {
    let mut sp = Splitter::new(bytes, start, Dialect { delimiter });
    let mut cells = Vec::new();
    sp.next_row(&mut cells);
    cells
        .into_iter()
        .map(|c| Field {
            raw: c.raw,
            content: c.content,
            kind: FieldKind::CsvCell {
                quoted: c.quoted,
                delimiter,
            },
        })
        .collect()
}

/// Decodes the content of `field`.
pub(crate) fn decode(bytes: &[u8], field: &Field) -> Decoded {
    let raw = &bytes[field.content.clone()];
    let base = field.content.start;
    let mut text = Vec::with_capacity(raw.len());
    let mut escapes = Vec::new();
    let mut push = |text: &mut Vec<u8>, r: Range<usize>, out: &[u8]| {
        let d = text.len();
        text.extend_from_slice(out);
        if r.len() != 1 || out.len() != 1 {
            escapes.push(Unit {
                raw: base + r.start..base + r.end,
                decoded: d..text.len(),
            });
        }
    };
    let mut i = 0;
    match field.kind {
        FieldKind::JsonBare | FieldKind::CsvCell { quoted: false, .. } => {
            for (j, &b) in raw.iter().enumerate() {
                push(&mut text, j..j + 1, &[b]);
            }
        }
        FieldKind::CsvCell { quoted: true, .. } => {
            while i < raw.len() {
                if raw[i] == b'"' && raw.get(i + 1) == Some(&b'"') {
                    push(&mut text, i..i + 2, b"\"");
                    i += 2;
                } else {
                    push(&mut text, i..i + 1, &raw[i..i + 1]);
                    i += 1;
                }
            }
        }
        FieldKind::JsonString => {
            while i < raw.len() {
                if raw[i] != b'\\' || i + 1 >= raw.len() {
                    push(&mut text, i..i + 1, &raw[i..i + 1]);
                    i += 1;
                    continue;
                }
                let simple = match raw[i + 1] {
                    b'"' => Some(b'"'),
                    b'\\' => Some(b'\\'),
                    b'/' => Some(b'/'),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    _ => None,
                };
                if let Some(c) = simple {
                    push(&mut text, i..i + 2, &[c]);
                    i += 2;
                    continue;
                }
                let hex4 = |at: usize| -> Option<u32> {
                    let s = raw.get(at..at + 4)?;
                    u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
                };
                if raw[i + 1] == b'u' {
                    if let Some(u) = hex4(i + 2) {
                        let mut len = 6;
                        let c = if (0xD800..0xDC00).contains(&u) {
                            let low = (raw.get(i + 6..i + 8) == Some(b"\\u"))
                                .then(|| hex4(i + 8))
                                .flatten()
                                .filter(|l| (0xDC00..0xE000).contains(l));
                            match low {
                                Some(l) => {
                                    len = 12;
                                    char::from_u32(0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00))
                                }
                                None => None,
                            }
                        } else {
                            char::from_u32(u)
                        };
                        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                        let mut buf = [0u8; 4];
                        push(&mut text, i..i + len, c.encode_utf8(&mut buf).as_bytes());
                        i += len;
                        continue;
                    }
                }
                // An invalid escape: keep the backslash as a byte.
                push(&mut text, i..i + 1, b"\\");
                i += 1;
            }
        }
    }
    Decoded {
        text,
        raw: field.content.clone(),
        escapes,
    }
}

/// Encodes new decoded content for `kind`: a JSON string literal, or a CSV cell,
/// quoted when it was, or when it must be.
pub(crate) fn encode(kind: FieldKind, text: &[u8]) -> Vec<u8> {
    match kind {
        FieldKind::JsonString | FieldKind::JsonBare => {
            let s = String::from_utf8_lossy(text);
            serde_json::to_string(&*s)
                .expect("a string always serialises")
                .into_bytes()
        }
        FieldKind::CsvCell { quoted, delimiter } => {
            let needs = text
                .iter()
                .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
            if !quoted && !needs {
                return text.to_vec();
            }
            let mut out = Vec::with_capacity(text.len() + 2);
            out.push(b'"');
            for &b in text {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_records_skip_blank_lines_and_keep_numbers() {
        let b = b"{\"a\":1}\n\n  \n{\"b\":2}";
        let r = jsonl_records(b);
        assert_eq!(r, vec![(0, 0..8), (3, 12..19)]);
    }

    #[test]
    fn json_tokens_and_escapes() {
        let line = br#"{"k\"ey": "a\nb\u00e9\ud83d\ude00c", "n": 123, "t": true}"#;
        let f = json_fields(line, 0..line.len());
        let kinds: Vec<_> = f.iter().map(|x| &line[x.raw.clone()]).collect();
        assert_eq!(
            kinds,
            vec![
                &br#""k\"ey""#[..],
                br#""a\nb\u00e9\ud83d\ude00c""#,
                br#""n""#,
                b"123",
                br#""t""#,
                b"true"
            ]
        );
        let d = decode(line, &f[1]);
        assert_eq!(d.text, "a\nb\u{e9}\u{1F600}c".as_bytes());
        // The raw span of the escape \n maps to the one decoded newline.
        let nl = f[1].content.start + 1;
        assert_eq!(d.decoded_span(nl..nl + 2), 1..2);
        // Half of \u00e9 maps to the whole character.
        let e = f[1].content.start + 4;
        assert_eq!(d.decoded_span(e + 2..e + 3), 3..5);
        assert_eq!(
            encode(FieldKind::JsonString, "x\"y\n\u{e9}".as_bytes()),
            "\"x\\\"y\\n\u{e9}\"".as_bytes()
        );
    }

    proptest::proptest! {
        /// The decoded span of every raw span is the one the units byte by byte
        /// give: from the unit holding its first content byte to the one holding
        /// its last.
        #[test]
        fn decoded_spans_are_those_of_the_units_byte_by_byte(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["a", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "\\x", "\"\"", "é"]),
                0..12,
            ),
            csv in proptest::bool::ANY,
        ) {
            let content = pieces.concat();
            let line = format!("[\"{content}\"]");
            let field = Field {
                raw: 1..line.len() - 1,
                content: 2..line.len() - 2,
                kind: if csv {
                    FieldKind::CsvCell { quoted: true, delimiter: b',' }
                } else {
                    FieldKind::JsonString
                },
            };
            let d = decode(line.as_bytes(), &field);
            // Every raw content byte's unit, by walking the escapes.
            let mut units: Vec<Unit> = Vec::new();
            let mut at = field.content.start;
            while at < field.content.end {
                match d.escapes.iter().find(|u| u.raw.start == at) {
                    Some(u) => {
                        units.push(u.clone());
                        at = u.raw.end;
                    }
                    None => {
                        let dec = units.last().map_or(0, |u| u.decoded.end);
                        units.push(Unit { raw: at..at + 1, decoded: dec..dec + 1 });
                        at += 1;
                    }
                }
            }
            proptest::prop_assert_eq!(units.last().map_or(0, |u| u.decoded.end), d.text.len());
            for start in 0..line.len() + 1 {
                proptest::prop_assert_eq!(d.decoded_span(start..start), 0..0);
                for end in start + 1..line.len() + 1 {
                    let covered: Vec<&Unit> =
                        units.iter().filter(|u| u.raw.start < end && u.raw.end > start).collect();
                    let want = match (covered.first(), covered.last()) {
                        (Some(a), Some(b)) => a.decoded.start..b.decoded.end,
                        _ => 0..0,
                    };
                    proptest::prop_assert_eq!(d.decoded_span(start..end), want, "{}..{} of {:?}", start, end, line);
                }
            }
        }
    }

    #[test]
    fn csv_cells_quotes_and_newlines() {
        let b = b"name,note\r\nJane,\"said \"\"hi\"\"\nbye\"\r\nBob,plain\n";
        let cells = csv_cells(b, 11, b',');
        assert_eq!(&b[cells[0].raw.clone()], b"Jane");
        assert_eq!(&b[cells[1].raw.clone()], b"\"said \"\"hi\"\"\nbye\"");
        let d = decode(b, &cells[1]);
        assert_eq!(d.text, b"said \"hi\"\nbye");
        let kind = cells[1].kind;
        assert_eq!(encode(kind, b"a \"b\""), b"\"a \"\"b\"\"\"");
        let plain = FieldKind::CsvCell {
            quoted: false,
            delimiter: b',',
        };
        assert_eq!(encode(plain, b"[EMAIL]"), b"[EMAIL]");
        assert_eq!(encode(plain, b"a,b"), b"\"a,b\"");
        let tsv = csv_cells(b"x,y\tz\n", 0, b'\t');
        assert_eq!(tsv.len(), 2);
        assert_eq!(tsv[0].raw, 0..3);
    }
}
