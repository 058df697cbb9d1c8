//! JSON Lines (`.jsonl`, `.ndjson`): one JSON value per line, scanned on decoded
//! strings, in parallel chunks of whole lines.
//!
//! A record is a line (0-based, blank lines counted, so `record + 1` is the line
//! number); `field` is a JSON Pointer inside the line's value. A line that is not
//! valid JSON is reported as a warning with its record number and scanned as plain
//! text; it never stops the file.
//!
//! ```
//! use datasieve::{format::jsonl, RuleSet, Scanner};
//! let scanner = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
//! let data = b"{\"id\": 1}\n{\"msg\": \"write to\\njane.roe@corp-mail.net\"}\n";
//! let out = jsonl::scan(data, &scanner, &Default::default());
//! let f = &out.findings[0];
//! assert_eq!((f.record, f.field.as_deref()), (Some(1), Some("/msg")));
//! assert_eq!(&data[f.start as usize..f.end as usize], b"jane.roe@corp-mail.net");
//! ```

use std::ops::Range;

use rayon::prelude::*;

use crate::engine::Match;
use crate::format::json::{hit_at, lines, Mode, Step, Tok, TokenCursor, Walker};
use crate::format::{OffsetMap, ViewBuilder};
use crate::scan::{self, FormatOutput, Hit, ScanCtx};
use crate::{ScanOptions, Scanner};

/// Most malformed-record warnings kept per file (the rest are counted).
pub(crate) const MAX_WARNINGS: usize = 20;

/// Scans JSON Lines bytes with `scanner`: a convenience for pipelines that hold one
/// file in memory. The display path of the outcome is empty.
pub fn scan(bytes: &[u8], scanner: &Scanner, opts: &ScanOptions) -> crate::FileOutcome {
    let mut outcomes = scan::scan_bytes_as(
        "".into(),
        bytes,
        crate::format::Format::Jsonl,
        scanner,
        opts,
    )
    .0;
    outcomes.swap_remove(0)
}

/// Scans JSON Lines in parallel chunks of whole lines.
pub(crate) fn scan_lines(bytes: &[u8], ctx: &ScanCtx<'_>) -> FormatOutput {
    let (mut out, _) = scan_lines_from(bytes, ctx, 0);
    note_unlisted(&mut out.warnings, out.malformed);
    out
}

/// Adds the count of malformed records beyond those listed in the warnings.
pub(crate) fn note_unlisted(warnings: &mut Vec<String>, malformed: usize) {
    if malformed > MAX_WARNINGS {
        warnings.push(format!(
            "{} more malformed records not listed",
            malformed - MAX_WARNINGS
        ));
    }
}

/// Like [`scan_lines`] for a part of a larger stream whose first line is record
/// `first` (line `first + 1`); byte offsets stay relative to `bytes`, and the
/// warnings do not count unlisted records (see [`note_unlisted`]). Also gives the
/// number of newlines in `bytes` when it counted them (several chunks need the
/// record number of their first line), `None` for one chunk.
pub(crate) fn scan_lines_from(
    bytes: &[u8],
    ctx: &ScanCtx<'_>,
    first: u64,
) -> (FormatOutput, Option<u64>) {
    let chunks = scan::chunk_ranges(bytes, ctx.chunk_size);
    let (parts, newlines): (Vec<FormatOutput>, _) = if chunks.len() == 1 {
        (vec![scan_chunk(bytes, chunks[0].clone(), first, ctx)], None)
    } else {
        // A line cut by a chunk boundary is scanned as text, in parts.
        let chunks = split_long_lines(bytes, &chunks);
        let counts: Vec<u64> = chunks
            .par_iter()
            .map(|(r, _)| memchr::memchr_iter(b'\n', &bytes[r.clone()]).count() as u64)
            .collect();
        let bases: Vec<u64> = counts
            .iter()
            .scan(first, |next, c| {
                let base = *next;
                *next += c;
                Some(base)
            })
            .collect();
        let starts = line_starts(bytes, &chunks);
        let parts = chunks
            .into_par_iter()
            .zip(bases)
            .zip(starts)
            .map(|(((r, text), base), line_start)| {
                if text {
                    scan_long_line_part(bytes, r, base, line_start, ctx)
                } else {
                    scan_chunk(bytes, r, base, ctx)
                }
            })
            .collect();
        (parts, Some(counts.iter().sum()))
    };
    let mut out = FormatOutput::default();
    let mut malformed = 0usize;
    for p in parts {
        out.hits.extend(p.hits);
        scan::merge_stats(&mut out.stats, &p.stats);
        malformed += p.malformed;
        for w in p.warnings {
            if out.warnings.len() < MAX_WARNINGS {
                out.warnings.push(w);
            }
        }
    }
    out.malformed = malformed;
    // (Parts of one long line may both find a match that crosses their cut: the
    // callers' `sort_hits` orders the hits and merges those.)
    (out, newlines)
}

/// The chunks of a JSON Lines input as pieces of whole lines (`false`) and parts
/// of lines cut by a chunk boundary (`true`, scanned as text): a chunk that starts
/// inside a line gives the rest of that line to a text piece, and one that ends
/// inside a line gives that line's start to one.
pub(crate) fn split_long_lines(bytes: &[u8], chunks: &[Range<usize>]) -> Vec<(Range<usize>, bool)> {
    let mut out = Vec::with_capacity(chunks.len());
    for c in chunks {
        let (mut s, e) = (c.start, c.end);
        if s > 0 && bytes[s - 1] != b'\n' {
            let to = memchr::memchr(b'\n', &bytes[s..e]).map_or(e, |i| s + i + 1);
            out.push((s..to, true));
            s = to;
        }
        if s < e {
            let cut = e < bytes.len() && bytes[e - 1] != b'\n';
            let tail = if cut {
                memchr::memrchr(b'\n', &bytes[s..e]).map_or(s, |i| s + i + 1)
            } else {
                e
            };
            if tail > s {
                out.push((s..tail, false));
            }
            if tail < e {
                out.push((tail..e, true));
            }
        }
    }
    out
}

/// The start of the line each piece starts in.
fn line_starts(bytes: &[u8], pieces: &[(Range<usize>, bool)]) -> Vec<usize> {
    let mut line_start = 0;
    pieces
        .iter()
        .map(|(r, _)| {
            if r.start == 0 || bytes[r.start - 1] == b'\n' {
                line_start = r.start;
            }
            let here = line_start;
            if let Some(nl) = memchr::memrchr(b'\n', &bytes[r.clone()]) {
                line_start = r.start + nl + 1;
            }
            here
        })
        .collect()
}

/// A part of a JSON line too long for one chunk (record `record`, starting at
/// `line_start`), scanned as text: candidates in `part`, windows reaching past it.
fn scan_long_line_part(
    bytes: &[u8],
    part: Range<usize>,
    record: u64,
    line_start: usize,
    ctx: &ScanCtx<'_>,
) -> FormatOutput {
    let mut out = FormatOutput::default();
    if part.start == line_start {
        out.warnings
            .push(chunk_long_line_warning(record, ctx.chunk_size));
    }
    let map = OffsetMap::Identity { base: 0 };
    for m in ctx.scan_range(bytes, part, &mut out.stats) {
        let mut hit = crate::format::json::hit_at(bytes, &map, m, None, Some(record));
        hit.line_col = Some((record + 1, (hit.m.start - line_start) as u64 + 1));
        out.hits.push(hit);
    }
    out
}

/// The warning for a JSON line longer than `limit`, scanned as text in parts.
pub(crate) fn long_line_warning(record: u64, limit: &str) -> String {
    format!(
        "record {record}: line longer than {limit}; scanned as plain text in parts (no field paths; JSON escapes not decoded)"
    )
}

/// [`long_line_warning`] for a line cut by chunks of `chunk_size`.
pub(crate) fn chunk_long_line_warning(record: u64, chunk_size: usize) -> String {
    long_line_warning(
        record,
        &format!("the chunk size ({chunk_size} bytes, --chunk-size)"),
    )
}

/// One chunk of whole lines; `base` is the record index of its first line.
pub(crate) fn scan_chunk(
    bytes: &[u8],
    chunk: Range<usize>,
    base: u64,
    ctx: &ScanCtx<'_>,
) -> FormatOutput {
    let mut out = FormatOutput::default();
    let mut view = ViewBuilder::with_hint(bytes, chunk.start, chunk.len());
    let mut w = Walker::new(bytes, 0..0, Mode::Lines);
    // Lines scanned as plain text: (raw start, raw end).
    let mut bad: Vec<Range<usize>> = Vec::new();
    // Start of every line of the chunk: record = base + index.
    let mut starts: Vec<usize> = Vec::new();
    for (i, line) in lines(bytes, chunk.clone()).enumerate() {
        starts.push(line.start);
        if bytes[line.clone()].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mark = view.mark();
        w.reset(line.clone());
        let failed = if ctx.fields.is_none() {
            decode_line(&mut w.tok, &mut view)
        } else {
            loop {
                match w.step() {
                    Step::Token(t) => w.feed_view(&t, &mut view, ctx.fields),
                    Step::End => break None,
                    Step::Error(e) => break Some(e),
                }
            }
        };
        if let Some(e) = failed {
            view.rollback(mark);
            out.malformed += 1;
            if out.warnings.len() < MAX_WARNINGS {
                out.warnings.push(format!(
                    "record {}: malformed JSON ({} at column {}); scanned as plain text",
                    base + i as u64,
                    e.message,
                    e.offset - line.start + 1
                ));
            }
            bad.push(line);
        }
    }
    if w.tok.capped_strings > 0 && out.warnings.len() < MAX_WARNINGS {
        out.warnings
            .push(crate::format::json::capped_warning(w.tok.capped_strings));
    }
    let (text, map) = view.finish(chunk.end);
    let matches = ctx.scan(&text, &mut out.stats);
    let lines = Lines {
        starts: &starts,
        end: chunk.end,
        base,
    };
    attribute(
        bytes,
        &text,
        &map,
        matches,
        &lines,
        &bad,
        ctx,
        &mut out.hits,
    );
    crate::format::recycle_view(text);
    out
}

/// Validates one line and adds its decoded strings to the view, without tracking
/// paths (the fast path when every field is scanned).
fn decode_line<'a>(
    tok: &mut crate::format::json::Tokenizer<'a>,
    view: &mut ViewBuilder<'a>,
) -> Option<crate::format::json::JsonError> {
    loop {
        match tok.next() {
            Ok(Some(Tok::Str {
                span,
                escaped: true,
            }))
            | Ok(Some(Tok::Key {
                span,
                escaped: true,
            })) => {
                crate::format::json::decode_escapes(tok.b, &tok.escapes, span.end - 1, view);
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                return tok.skip_ws().then_some(crate::format::json::JsonError {
                    offset: tok.pos,
                    message: "unexpected data after the JSON value",
                });
            }
            Err(e) => return Some(e),
        }
    }
}

/// The lines of a chunk.
struct Lines<'a> {
    starts: &'a [usize],
    end: usize,
    base: u64,
}

impl Lines<'_> {
    /// Record index, start and end (without newline) of the line holding `offset`.
    fn at(&self, bytes: &[u8], offset: usize) -> (u64, usize, usize) {
        let k = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts.get(k).copied().unwrap_or(0);
        let mut end = self.starts.get(k + 1).map_or(self.end, |&n| n - 1);
        if end > start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        (self.base + k as u64, start, end)
    }
}

/// Gives each match its record (line) and field, walking each line with matches
/// once. Line and column come from the record, with no second pass over the input.
#[allow(clippy::too_many_arguments)]
fn attribute(
    bytes: &[u8],
    view: &[u8],
    map: &OffsetMap,
    matches: Vec<Match>,
    lines: &Lines<'_>,
    bad: &[Range<usize>],
    ctx: &ScanCtx<'_>,
    hits: &mut Vec<Hit>,
) {
    let mut w = Walker::new(bytes, 0..0, Mode::Lines);
    let mut cursor = TokenCursor::default();
    let mut walked_line = usize::MAX;
    for m in matches {
        let raw_start = map.raw_span(m.start..m.end).start;
        let (record, line_start, line_end) = lines.at(bytes, raw_start);
        let with_line = |mut h: Hit| {
            h.line_col = Some((record + 1, (h.m.start - line_start) as u64 + 1));
            h
        };
        if bad.binary_search_by_key(&line_start, |r| r.start).is_ok() {
            hits.push(with_line(hit_at(view, map, m, None, Some(record))));
            continue;
        }
        if walked_line != line_start {
            walked_line = line_start;
            w.reset(line_start..line_end);
            cursor.reset();
        }
        let (loc, selected) = cursor.locate(&mut w, raw_start, record, ctx.fields);
        if selected {
            hits.push(with_line(hit_at(view, map, m, loc, Some(record))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FieldFilter;
    use crate::rules::RuleSet;

    pub(crate) const TOKEN_RULE: &str = r#"
[[rule]]
id = "t.token"
name = "token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{8})\b'
"#;

    fn scanner() -> Scanner {
        let mut set = RuleSet::builtin().unwrap();
        set.add_str("t.toml", TOKEN_RULE).unwrap();
        Scanner::new(&set).unwrap()
    }

    fn run(data: &[u8], opts: &ScanOptions) -> crate::FileOutcome {
        scan(data, &scanner(), opts)
    }

    #[test]
    fn escaped_values_are_found_with_exact_offsets() {
        let data = concat!(
            "{\"id\": 0, \"text\": \"plain tok_abcd1234 here\"}\n",
            "\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\\ntok_\\u0061bcd1235\\\"\"}]}\n",
            "{\"x\": \"mail: jane\\u002edoe@corp-mail.net\", \"tok_zzzz9999\": 1}\n",
        )
        .as_bytes();
        let out = run(data, &ScanOptions::default());
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let got: Vec<_> = out
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.id.as_str(),
                    f.record,
                    f.field.clone().unwrap_or_default(),
                    String::from_utf8_lossy(&data[f.start as usize..f.end as usize]).into_owned(),
                    String::from_utf8_lossy(&f.value).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "t.token",
                    Some(0),
                    "/text".into(),
                    "tok_abcd1234".into(),
                    "tok_abcd1234".into()
                ),
                (
                    "t.token",
                    Some(2),
                    "/messages/0/content".into(),
                    "tok_\\u0061bcd1235".into(),
                    "tok_abcd1235".into()
                ),
                (
                    "pii.email",
                    Some(3),
                    "/x".into(),
                    "jane\\u002edoe@corp-mail.net".into(),
                    "jane.doe@corp-mail.net".into()
                ),
                (
                    "t.token",
                    Some(3),
                    "/tok_zzzz9999".into(),
                    "tok_zzzz9999".into(),
                    "tok_zzzz9999".into()
                ),
            ]
        );
        assert_eq!((out.findings[1].line, out.findings[1].column), (3, 47));
    }

    #[test]
    fn matches_in_one_string_and_later_strings_share_the_walk() {
        // Two matches in one string (its location is built once and reused), one
        // in a later string of the same line, one on the next line.
        let data = b"{\"a\": \"tok_aaaa1111 and tok_bbbb2222\", \"n\": 7, \"b\": [\"x\", {\"c\": \"tok_cccc3333\"}]}\n{\"d\": \"tok_dddd4444\"}\n";
        let out = run(data, &ScanOptions::default());
        let got: Vec<_> = out
            .findings
            .iter()
            .map(|f| (f.record, f.field.clone(), f.start, f.end))
            .collect();
        crate::format::assert_located(
            data,
            &got,
            &[
                (0, "/a", "tok_aaaa1111"),
                (0, "/a", "tok_bbbb2222"),
                (0, "/b/1/c", "tok_cccc3333"),
                (1, "/d", "tok_dddd4444"),
            ],
        );
    }

    #[test]
    fn malformed_lines_warn_and_are_scanned_as_text() {
        let data = b"{\"a\": \"ok\"}\n{\"a\": tok_abcd1234\n{\"b\": \"tok_abcd9999\"}\n";
        let out = run(data, &ScanOptions::default());
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0].starts_with("record 1: malformed JSON"));
        assert_eq!(out.findings.len(), 2);
        assert_eq!(
            (out.findings[0].record, out.findings[0].field.as_deref()),
            (Some(1), None)
        );
        assert_eq!(out.findings[1].field.as_deref(), Some("/b"));
    }

    #[test]
    fn fields_limit_the_scan() {
        let data = b"{\"text\": \"tok_aaaa1111\", \"meta\": {\"text\": \"tok_bbbb2222\", \"id\": \"tok_cccc3333\"}, \"other\": [\"tok_dddd4444\"]}\n";
        let mut opts = ScanOptions {
            fields: FieldFilter::parse("text"),
            ..ScanOptions::default()
        };
        let out = run(data, &opts);
        let fields: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.field.clone().unwrap())
            .collect();
        assert_eq!(fields, vec!["/text", "/meta/text"]);
        opts.fields = FieldFilter::parse("/meta");
        let out = run(data, &opts);
        let fields: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.field.clone().unwrap())
            .collect();
        assert_eq!(fields, vec!["/meta/text", "/meta/id"]);
    }

    #[test]
    fn chunked_equals_whole() {
        let mut data = Vec::new();
        for i in 0..200 {
            data.extend_from_slice(
                format!("{{\"i\": {i}, \"t\": \"x\\ny tok_abcd{i:04}\"}}\n").as_bytes(),
            );
        }
        let whole = run(&data, &ScanOptions::default());
        let chunked = run(
            &data,
            &ScanOptions {
                chunk_size: 300,
                ..Default::default()
            },
        );
        assert_eq!(whole.findings.len(), 200);
        assert_eq!(whole.findings, chunked.findings);
        assert_eq!(chunked.findings[199].record, Some(199));
    }

    fn ascii_escaped(json: &str) -> String {
        json.chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    let mut buf = [0u16; 2];
                    c.encode_utf16(&mut buf)
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect()
                }
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn findings_slice_back_to_the_value(
            prefix in "\\PC{0,12}|[\"\\\\\n\t/\u{e9}\u{1f600}a ]{0,12}",
            suffix in "\\PC{0,12}|[\"\\\\\n\t/\u{e9}\u{1f600}a ]{0,12}",
            key in "[a-z/~]{1,6}",
            ascii in proptest::bool::ANY,
            escape_t in proptest::bool::ANY,
        ) {
            let value = format!("{prefix} tok_abcd1234 {suffix}");
            let mut obj = serde_json::Map::new();
            obj.insert("n".into(), 1.into());
            obj.insert(key.clone(), value.into());
            let mut line = serde_json::Value::Object(obj).to_string();
            if ascii {
                line = ascii_escaped(&line);
            }
            if escape_t {
                line = line.replacen("tok_abcd1234", "\\u0074ok_abcd1234", 1);
            }
            let data = format!("{{}}\n{line}\n");
            let out = scan(data.as_bytes(), &scanner(), &ScanOptions::default());
            let found: Vec<_> = out.findings.iter().filter(|f| f.rule.id == "t.token").collect();
            proptest::prop_assert_eq!(found.len(), 1, "{}", data);
            let f = found[0];
            proptest::prop_assert_eq!(f.record, Some(1));
            let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
            proptest::prop_assert_eq!(f.field.as_deref(), Some(pointer.as_str()));
            let raw = &data[f.start as usize..f.end as usize];
            let back: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            proptest::prop_assert_eq!(back.as_str(), "tok_abcd1234");
            proptest::prop_assert_eq!(&f.value[..], b"tok_abcd1234");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let s = scanner();
        let mut seed = 0x9e3779b97f4a7c15u64;
        for n in 0..400 {
            let len = (n % 120) + 1;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    {
                        let a = b"{}[]\":,\\u0a@x.com \ntok_abcd1234";
                        a[(seed % a.len() as u64) as usize]
                    }
                })
                .collect();
            let _ = scan(
                &buf,
                &s,
                &ScanOptions {
                    chunk_size: 16,
                    ..Default::default()
                },
            );
        }
    }
}
