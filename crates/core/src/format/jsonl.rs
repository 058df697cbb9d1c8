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
use crate::format::json::{hit_at, lines, tok_span, Mode, Step, Tok, Walker};
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
    let chunks = scan::chunk_ranges(bytes, ctx.chunk_size);
    let counts: Vec<u64> = if chunks.len() == 1 {
        vec![0]
    } else {
        chunks
            .par_iter()
            .map(|r| memchr::memchr_iter(b'\n', &bytes[r.clone()]).count() as u64)
            .collect()
    };
    let mut bases = Vec::with_capacity(chunks.len());
    let mut acc = 0;
    for c in &counts {
        bases.push(acc);
        acc += c;
    }
    let parts: Vec<FormatOutput> = if chunks.len() == 1 {
        vec![scan_chunk(bytes, chunks[0].clone(), 0, ctx)]
    } else {
        chunks
            .into_par_iter()
            .zip(bases)
            .map(|(r, base)| scan_chunk(bytes, r, base, ctx))
            .collect()
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
    if malformed > MAX_WARNINGS {
        out.warnings.push(format!(
            "{} more malformed records not listed",
            malformed - MAX_WARNINGS
        ));
    }
    out.malformed = malformed;
    out
}

/// One chunk of whole lines; `base` is the record index of its first line.
fn scan_chunk(bytes: &[u8], chunk: Range<usize>, base: u64, ctx: &ScanCtx<'_>) -> FormatOutput {
    let mut out = FormatOutput::default();
    let mut view = ViewBuilder::new(bytes, chunk.start);
    let mut w = Walker::new(bytes, 0..0, Mode::Lines);
    // Lines scanned as plain text: (raw start, raw end).
    let mut bad: Vec<Range<usize>> = Vec::new();
    for (i, line) in lines(bytes, chunk.clone()).enumerate() {
        if bytes[line.clone()].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mark = view.mark();
        w.reset(line.clone());
        let failed = loop {
            match w.step() {
                Step::Token(t) => w.feed_view(&t, &mut view, ctx.fields),
                Step::End => break None,
                Step::Error(e) => break Some(e),
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
    let (text, map) = view.finish(chunk.end);
    let matches = ctx.scan(&text, &mut out.stats);
    attribute(
        bytes,
        &text,
        &map,
        matches,
        chunk,
        base,
        &bad,
        ctx,
        &mut out.hits,
    );
    out
}

/// Gives each match its record (line) and field, walking each line with matches
/// once.
#[allow(clippy::too_many_arguments)]
fn attribute(
    bytes: &[u8],
    view: &[u8],
    map: &OffsetMap,
    matches: Vec<Match>,
    chunk: Range<usize>,
    base: u64,
    bad: &[Range<usize>],
    ctx: &ScanCtx<'_>,
    hits: &mut Vec<Hit>,
) {
    let mut record = base;
    let mut line_start = chunk.start;
    let mut line_end = line_end_of(bytes, chunk.start, chunk.end);
    let mut w = Walker::new(bytes, 0..0, Mode::Lines);
    // The token walk of the current line: last token, its location and selection.
    let mut current: Option<(Tok, Option<crate::format::json::Loc>, bool)> = None;
    let mut walked_line = usize::MAX;
    let mut line_done = false;
    for m in matches {
        let raw_start = map.raw_span(m.start..m.end).start;
        // Move to the line holding raw_start.
        if raw_start > line_end {
            let nl = memchr::memchr_iter(b'\n', &bytes[line_end..raw_start]).count() as u64;
            record += nl;
            line_start = memchr::memrchr(b'\n', &bytes[..raw_start]).map_or(0, |i| i + 1);
            line_end = line_end_of(bytes, line_start, chunk.end);
        }
        let is_bad = bad.binary_search_by_key(&line_start, |r| r.start).is_ok();
        if is_bad {
            hits.push(hit_at(view, map, m, None, Some(record)));
            continue;
        }
        if walked_line != line_start {
            walked_line = line_start;
            let mut stop = line_end;
            if stop > line_start && bytes[stop - 1] == b'\r' {
                stop -= 1;
            }
            w.reset(line_start..stop);
            current = None;
            line_done = false;
        }
        while !line_done {
            if let Some((t, _, _)) = &current {
                if tok_span(t).end > raw_start {
                    break;
                }
            }
            match w.step() {
                Step::Token(t) => {
                    let loc = w.loc(&t, record);
                    let sel = w.selected(ctx.fields);
                    current = Some((t, loc, sel));
                }
                _ => {
                    line_done = true;
                    current = None;
                }
            }
        }
        let (loc, selected) = match &current {
            Some((t, loc, sel))
                if tok_span(t).start <= raw_start && raw_start < tok_span(t).end =>
            {
                (loc.clone(), *sel)
            }
            _ => (None, ctx.fields.is_none()),
        };
        if selected {
            hits.push(hit_at(view, map, m, loc, Some(record)));
        }
    }
}

/// End of the line starting at `start` (the offset of its newline, or `end`).
fn line_end_of(bytes: &[u8], start: usize, end: usize) -> usize {
    memchr::memchr(b'\n', &bytes[start..end]).map_or(end, |i| start + i)
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
