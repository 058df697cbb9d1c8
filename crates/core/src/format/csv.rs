//! CSV and TSV: an RFC 4180 splitter that keeps the exact raw span of every cell
//! (quoted cells with embedded newlines and `""` escapes included), header
//! detection, and the scan.
//!
//! A record is a data row (0-based; the header row, when detected, is not a
//! record, and blank lines are not rows); `field` is the column name from the
//! header, or the 0-based column index. Matches in a header row have no record.
//!
//! ```
//! use datasieve::format::csv::{for_each_segment, Dialect};
//! let data = b"name,note\nJane,\"said \"\"hi\"\"\nbye\"\n";
//! let mut cells = Vec::new();
//! for_each_segment(data, Dialect::CSV, |s| cells.push((s.record, s.field.unwrap(), s.text.into_owned())));
//! assert_eq!(cells[3], (Some(0), "note".to_string(), b"said \"hi\"\nbye".to_vec()));
//! ```

use std::borrow::Cow;
use std::ops::Range;

use crate::engine::Match;
use crate::format::{OffsetMap, Segment, ViewBuilder, MAX_DECODED_ESCAPES};
use crate::scan::{FormatOutput, Hit, ScanCtx};

/// Most view bytes gathered before a batch of rows is scanned (fewer when the
/// scan's chunk size is smaller).
const BATCH: usize = 4 << 20;

/// Delimiter and quoting of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Cell separator.
    pub delimiter: u8,
}

impl Dialect {
    /// Comma-separated.
    pub const CSV: Dialect = Dialect { delimiter: b',' };
    /// Tab-separated.
    pub const TSV: Dialect = Dialect { delimiter: b'\t' };
}

/// One cell: its raw span (quotes included) and content span (inside the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The cell as written.
    pub raw: Range<usize>,
    /// The content: inside the quotes of a quoted cell.
    pub content: Range<usize>,
    /// Quoted (so `""` inside stands for `"`).
    pub quoted: bool,
}

/// Splits rows and cells of `bytes[pos..]`.
#[derive(Debug, Clone)]
pub struct Splitter<'a> {
    b: &'a [u8],
    pos: usize,
    delim: u8,
    /// Set when a quoted cell runs to the end of input.
    pub unterminated: Option<usize>,
}

impl<'a> Splitter<'a> {
    /// A splitter at offset `pos`.
    pub fn new(b: &'a [u8], pos: usize, dialect: Dialect) -> Self {
        Splitter {
            b,
            pos,
            delim: dialect.delimiter,
            unterminated: None,
        }
    }

    /// Current raw offset (the start of the next row).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Reads the next non-blank row into `cells`; returns its raw span, or `None`
    /// at the end.
    pub fn next_row(&mut self, cells: &mut Vec<Cell>) -> Option<Range<usize>> {
        cells.clear();
        let b = self.b;
        loop {
            if self.pos >= b.len() {
                return None;
            }
            // Blank lines are not rows.
            match b[self.pos] {
                b'\n' => self.pos += 1,
                b'\r' if b.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                _ => break,
            }
        }
        let start = self.pos;
        loop {
            let p = self.pos;
            let (cell, next) = if b.get(p) == Some(&b'"') {
                self.quoted(p)
            } else {
                let k = memchr::memchr2(self.delim, b'\n', &b[p..]).map_or(b.len(), |i| p + i);
                let mut e = k;
                if k < b.len() && b[k] == b'\n' && e > p && b[e - 1] == b'\r' {
                    e -= 1;
                }
                (
                    Cell {
                        raw: p..e,
                        content: p..e,
                        quoted: false,
                    },
                    k,
                )
            };
            cells.push(cell);
            if next >= b.len() {
                self.pos = b.len();
                return Some(start..b.len());
            }
            self.pos = next + 1;
            if b[next] == b'\n' {
                return Some(start..next);
            }
        }
    }

    /// A quoted cell at `p`: returns it and the offset of the byte that ends it (a
    /// delimiter, a newline or the end).
    fn quoted(&mut self, p: usize) -> (Cell, usize) {
        let b = self.b;
        let mut i = p + 1;
        loop {
            match memchr::memchr(b'"', &b[i..]) {
                None => {
                    self.unterminated.get_or_insert(p);
                    let cell = Cell {
                        raw: p..b.len(),
                        content: p + 1..b.len(),
                        quoted: true,
                    };
                    return (cell, b.len());
                }
                Some(k) => {
                    let q = i + k;
                    if b.get(q + 1) == Some(&b'"') {
                        i = q + 2;
                        continue;
                    }
                    // Lenient: bytes after the closing quote belong to the cell.
                    let k = memchr::memchr2(self.delim, b'\n', &b[q + 1..])
                        .map_or(b.len(), |j| q + 1 + j);
                    let mut e = k;
                    if k < b.len() && b[k] == b'\n' && e > q + 1 && b[e - 1] == b'\r' {
                        e -= 1;
                    }
                    let cell = Cell {
                        raw: p..e,
                        content: p + 1..q,
                        quoted: true,
                    };
                    return (cell, k);
                }
            }
        }
    }
}

/// Adds the decoded form of a quoted cell (`""` becomes `"`) to `view`, up to
/// [`MAX_DECODED_ESCAPES`] of them; returns true when the cell held more (the
/// rest is left as written).
fn decode_into(b: &[u8], cell: &Cell, view: &mut ViewBuilder<'_>) -> bool {
    if !cell.quoted {
        return false;
    }
    let mut i = cell.content.start;
    let mut decoded = 0;
    while let Some(k) = memchr::memchr(b'"', &b[i..cell.content.end]) {
        let q = i + k;
        if q + 1 < cell.content.end && b[q + 1] == b'"' {
            if decoded == MAX_DECODED_ESCAPES {
                return true;
            }
            view.replace(q..q + 2, b"\"");
            decoded += 1;
            i = q + 2;
        } else {
            i = q + 1;
        }
    }
    false
}

/// Decodes the content of a cell starting at raw offset `cell.content.start`.
pub fn decode_cell<'a>(b: &'a [u8], cell: &Cell) -> (Cow<'a, [u8]>, OffsetMap) {
    let mut view = ViewBuilder::new(b, cell.content.start);
    let _ = decode_into(b, cell, &mut view);
    view.finish(cell.content.end)
}

/// Decides whether the first row is a header: short, distinct, non-numeric
/// names that do not look like data.
pub fn looks_like_header(b: &[u8], cells: &[Cell]) -> bool {
    if cells.is_empty() {
        return false;
    }
    let mut names: Vec<Cow<'_, [u8]>> = Vec::with_capacity(cells.len());
    for c in cells {
        let (text, _) = decode_cell(b, c);
        let t = text.trim_ascii();
        let numeric = !t.is_empty()
            && t.iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
        if t.is_empty()
            || t.len() > 64
            || numeric
            || t.contains(&b'@')
            || t.windows(3).any(|w| w == b"://")
            || names.iter().any(|n| **n == *t)
        {
            return false;
        }
        names.push(Cow::Owned(t.to_vec()));
    }
    true
}

fn header_names(b: &[u8], cells: &[Cell]) -> Vec<String> {
    cells
        .iter()
        .map(|c| String::from_utf8_lossy(decode_cell(b, c).0.trim_ascii()).into_owned())
        .collect()
}

fn column_name(header: &[String], i: usize) -> String {
    header.get(i).cloned().unwrap_or_else(|| i.to_string())
}

/// Calls `f` with every cell as a [`Segment`]: decoded text, map, raw cell span,
/// record (data row) and field (column name or index).
pub fn for_each_segment<'a>(bytes: &'a [u8], dialect: Dialect, mut f: impl FnMut(Segment<'a>)) {
    let mut sp = Splitter::new(bytes, 0, dialect);
    let mut cells = Vec::new();
    let mut header: Vec<String> = Vec::new();
    let mut record: Option<u64> = None;
    while sp.next_row(&mut cells).is_some() {
        if record.is_none() && header.is_empty() && looks_like_header(bytes, &cells) {
            header = header_names(bytes, &cells);
            for (i, c) in cells.iter().enumerate() {
                let (text, map) = decode_cell(bytes, c);
                f(Segment {
                    text,
                    map,
                    raw: c.raw.clone(),
                    record: None,
                    field: Some(i.to_string()),
                });
            }
            record = Some(0);
            continue;
        }
        let r = record.unwrap_or(0);
        for (i, c) in cells.iter().enumerate() {
            let (text, map) = decode_cell(bytes, c);
            f(Segment {
                text,
                map,
                raw: c.raw.clone(),
                record: Some(r),
                field: Some(column_name(&header, i)),
            });
        }
        record = Some(r + 1);
    }
}

/// What the scan of CSV carries from one part of an input to the next (a
/// compressed stream is scanned a part of whole rows at a time).
#[derive(Debug, Default)]
pub(crate) struct Rows {
    /// Column names once the first row was seen (empty: it was not a header).
    names: Option<Vec<String>>,
    /// Record index of the next row (-1: the header).
    next_record: i64,
    /// Lines before the part.
    pub(crate) lines_before: u64,
}

/// The end of the last whole row of `bytes` (a row ended by a newline, no quoted
/// cell left open): where a part of a stream may be cut. 0 if there is none.
pub(crate) fn whole_rows_end(bytes: &[u8], dialect: Dialect) -> usize {
    let mut sp = Splitter::new(bytes, 0, dialect);
    let mut cells = Vec::new();
    let mut end = 0;
    while sp.next_row(&mut cells).is_some() {
        let p = sp.pos();
        if sp.unterminated.is_some() || p == 0 || bytes[p - 1] != b'\n' {
            break;
        }
        end = p;
    }
    end
}

/// Scans CSV/TSV (all of an input, or the next part of whole rows with `rows`
/// carried from the part before; memory bounded by a batch, not the input) in
/// batches of whole rows, handing the hits of
/// each batch to `on_hits` as it is scanned (batches in order; the output's
/// `hits` stay empty). Offsets are those in `bytes`.
pub(crate) fn scan_each(
    bytes: &[u8],
    dialect: Dialect,
    ctx: &ScanCtx<'_>,
    rows: &mut Rows,
    on_hits: &mut dyn FnMut(Vec<crate::scan::Hit>),
) -> FormatOutput {
    let mut out = FormatOutput::default();
    let mut sp = Splitter::new(bytes, 0, dialect);
    let mut cells = Vec::new();
    // Header detection on the first row of the input.
    if rows.names.is_none() {
        let mut probe = sp.clone();
        if probe.next_row(&mut cells).is_some() && looks_like_header(bytes, &cells) {
            rows.names = Some(header_names(bytes, &cells));
            rows.next_record = -1;
        } else if !bytes.iter().all(u8::is_ascii_whitespace) {
            rows.names = Some(Vec::new());
        }
    }
    let names = rows.names.clone().unwrap_or_default();
    let lines_before = rows.lines_before;
    // Lines of the rows too long to decode, counted once across them.
    let mut long_lines = crate::scan::LineCounter::new(bytes);
    let mut next_record = rows.next_record;
    let mut capped = 0u64;
    loop {
        let batch_start = sp.pos();
        let mut view = ViewBuilder::new(bytes, batch_start);
        // (raw row start, record index or -1 for the header)
        let mut rows: Vec<(usize, i64)> = Vec::new();
        let mut end = batch_start;
        let mut more = false;
        // A row too long to decode (its cells as written): the batch ends before it.
        let mut huge = None;
        while let Some(row) = sp.next_row(&mut cells) {
            if row.len() > crate::format::HUGE_VALUE {
                huge = Some((row, next_record));
                next_record += 1;
                more = true;
                break;
            }
            rows.push((row.start, next_record));
            next_record += 1;
            for c in &cells {
                capped += u64::from(decode_into(bytes, c, &mut view));
            }
            end = sp.pos();
            if view.len(end) >= ctx.chunk_size.clamp(1, BATCH) {
                more = true;
                break;
            }
        }
        if !more {
            end = bytes.len();
        }
        let (text, map) = view.finish(end);
        let matches = ctx.scan(&text, &mut out.stats);
        let mut hits = Vec::new();
        attribute(
            bytes, dialect, &text, &map, matches, &rows, &names, ctx, &mut hits,
        );
        crate::format::recycle_view(text);
        if !hits.is_empty() {
            on_hits(hits);
        }
        if let Some((row, record)) = huge {
            let (line, _) = long_lines.locate(row.start);
            out.warnings.push(format!(
                "a row of {} MiB at line {} is scanned as written (its quoted cells not decoded)",
                row.len() >> 20,
                line + lines_before
            ));
            let text = &bytes[row.clone()];
            let map = OffsetMap::Identity { base: row.start };
            let matches = ctx.scan_text(text, &mut out.stats);
            let mut hits = Vec::new();
            let rows = [(row.start, record)];
            attribute(
                bytes, dialect, text, &map, matches, &rows, &names, ctx, &mut hits,
            );
            if !hits.is_empty() {
                on_hits(hits);
            }
        }
        if !more {
            break;
        }
    }
    rows.next_record = next_record;
    if capped > 0 {
        out.warnings.push(format!(
            "{capped} quoted cell(s) with more than {MAX_DECODED_ESCAPES} doubled quotes: the ones past that are scanned as written, not decoded"
        ));
    }
    if let Some(p) = sp.unterminated {
        let (line, col) = crate::scan::LineCounter::new(bytes).locate(p);
        let line = line + rows.lines_before;
        out.warnings.push(format!(
            "unterminated quoted field starting at line {line} column {col}; it runs to the end of the file"
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn attribute(
    bytes: &[u8],
    dialect: Dialect,
    view: &[u8],
    map: &OffsetMap,
    matches: Vec<Match>,
    rows: &[(usize, i64)],
    header: &[String],
    ctx: &ScanCtx<'_>,
    hits: &mut Vec<Hit>,
) {
    let mut cells = Vec::new();
    let mut parsed_row = usize::MAX;
    for m in matches {
        let raw = map.raw_span(m.start..m.end);
        let i = rows.partition_point(|r| r.0 <= raw.start);
        let (loc, record) = if i == 0 {
            (None, None)
        } else {
            let (row_start, rec) = rows[i - 1];
            if parsed_row != row_start {
                parsed_row = row_start;
                Splitter::new(bytes, row_start, dialect).next_row(&mut cells);
            }
            let record = (rec >= 0).then_some(rec as u64);
            let cell = cells.iter().position(|c| {
                c.raw.start <= raw.start && raw.start < c.raw.end.max(c.raw.start + 1)
            });
            (cell.map(|ci| (ci, cells[ci].content.clone())), record)
        };
        let field = loc.as_ref().map(|(ci, _)| {
            if record.is_none() {
                ci.to_string()
            } else {
                column_name(header, *ci)
            }
        });
        if let Some(f) = ctx.fields {
            let keep = loc.as_ref().is_some_and(|(ci, _)| {
                f.selects_column(&column_name(header, *ci)) || f.selects_column(&ci.to_string())
            });
            if !keep {
                continue;
            }
        }
        let mut hit_raw = raw.clone();
        let mut dec = m.start..m.end;
        if let Some((_, content)) = &loc {
            let s = raw.start.max(content.start);
            let e = raw.end.min(content.end);
            if s < e && (s, e) != (raw.start, raw.end) {
                let d = map.decoded_span(s..e);
                if !d.is_empty() {
                    hit_raw = s..e;
                    dec = d;
                }
            }
        }
        hits.push(Hit {
            value: view[dec].to_vec(),
            m: Match {
                start: hit_raw.start,
                end: hit_raw.end,
                ..m
            },
            record,
            field,
            row_group: None,
            line_col: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8]) -> Vec<Vec<String>> {
        let mut sp = Splitter::new(data, 0, Dialect::CSV);
        let mut cells = Vec::new();
        let mut out = Vec::new();
        while sp.next_row(&mut cells).is_some() {
            out.push(
                cells
                    .iter()
                    .map(|c| String::from_utf8_lossy(&decode_cell(data, c).0).into_owned())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn splits_rfc4180() {
        assert_eq!(
            rows(b"a,b,c\r\n1,\"x\"\"y\",\"multi\nline\"\n\n,,\n\"last\""),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x\"y", "multi\nline"],
                vec!["", "", ""],
                vec!["last"],
            ]
        );
        assert_eq!(
            rows(b"\"open,\nnever closed"),
            vec![vec!["open,\nnever closed"]]
        );
        assert_eq!(rows(b"a,\"b\"junk,c"), vec![vec!["a", "b", "c"]]);
    }

    #[test]
    fn a_cell_with_more_doubled_quotes_than_are_decoded_is_scanned_as_written_past_them() {
        // MAX_DECODED_ESCAPES is 64 in tests: tokens before and after the 64th
        // doubled quote of one cell are found at their raw offsets.
        let mut cell = String::new();
        for i in 0..200 {
            cell.push_str(&format!("w{i} \"\"q\"\" "));
            if i % 50 == 7 {
                cell.push_str(&format!(" tok_abcdefgh{i:08} "));
            }
        }
        let data = format!("id,note\n1,\"{cell}\"\n2,\"x \"\"tok_abcdefgh00000999\"\"\"\n");
        let out = crate::format::tok_outcomes(data.as_bytes(), crate::format::Format::Csv);
        let got: Vec<(usize, usize)> = out[0]
            .findings
            .iter()
            .map(|f| (f.start as usize, f.end as usize))
            .collect();
        let want: Vec<(usize, usize)> = data
            .match_indices("tok_")
            .map(|(at, _)| (at, at + 20))
            .collect();
        assert_eq!(want.len(), 5);
        assert_eq!(got, want);
        assert_eq!(out[0].findings[4].record, Some(1));
        assert_eq!(out[0].warnings.len(), 1, "{:?}", out[0].warnings);
        assert!(out[0].warnings[0].starts_with("1 quoted cell(s) with more than 64"));
    }

    #[test]
    fn a_row_longer_than_a_view_holds_is_scanned_as_written() {
        // HUGE_VALUE is 4 KiB in tests: the tokens of a longer row are found at
        // their raw offsets with their record and column, as are those of the
        // rows around it; one warning names the row.
        let cell = crate::format::past_huge_value(
            "tok_abcdefgh00000001 ",
            "w \"\"q\"\" ",
            " tok_abcdefgh00000002",
        );
        let data = format!(
            "id,note\n1,\"x tok_abcdefgh00000003\"\n2,\"{cell}\"\n3,tok_abcdefgh00000004\n"
        );
        let out = crate::format::tok_outcomes(data.as_bytes(), crate::format::Format::Csv);
        let got: Vec<(usize, Option<u64>, Option<&str>)> = out[0]
            .findings
            .iter()
            .map(|f| (f.start as usize, f.record, f.field.as_deref()))
            .collect();
        let at: Vec<usize> = data.match_indices("tok_").map(|(at, _)| at).collect();
        assert_eq!(
            got,
            [
                (at[0], Some(0), Some("note")),
                (at[1], Some(1), Some("note")),
                (at[2], Some(1), Some("note")),
                (at[3], Some(2), Some("note")),
            ]
        );
        assert_eq!(
            out[0].warnings,
            ["a row of 0 MiB at line 3 is scanned as written (its quoted cells not decoded)"]
        );
    }

    #[test]
    fn small_batches_equal_one_batch() {
        let mut set = crate::RuleSet::builtin().unwrap();
        set.add_str(
            "t.toml",
            "[[rule]]\nid = \"t.token\"\nname = \"t\"\ncategory = \"credential\"\nseverity = \"high\"\nkeywords = [\"tok_\"]\nregex = '(?P<value>tok_[a-z0-9]{8})\\b'\n",
        )
        .unwrap();
        let scanner = crate::Scanner::new(&set).unwrap();
        let mut data = String::from("id,text\n");
        for i in 0..200 {
            data.push_str(&format!("{i},\"say \"\"hi\"\"\nthen tok_abcd{i:04}\"\n"));
        }
        let run = |chunk_size| {
            let opts = crate::ScanOptions {
                chunk_size,
                ..Default::default()
            };
            let (out, _) = crate::scan::scan_bytes_as(
                "d.csv".into(),
                data.as_bytes(),
                crate::format::Format::Csv,
                &scanner,
                &opts,
            );
            out[0]
                .findings
                .iter()
                .map(|f| (f.record, f.field.clone(), f.start, f.end, f.line))
                .collect::<Vec<_>>()
        };
        let whole = run(8 << 20);
        assert_eq!(whole.len(), 200);
        assert_eq!(whole, run(50));
        assert_eq!(whole[199].0, Some(199));
        assert_eq!(whole[199].1.as_deref(), Some("text"));
        let (s, e) = (whole[5].2 as usize, whole[5].3 as usize);
        assert_eq!(&data[s..e], "tok_abcd0005");
    }

    #[test]
    fn header_detection() {
        let detect = |d: &[u8]| {
            let mut cells = Vec::new();
            Splitter::new(d, 0, Dialect::CSV).next_row(&mut cells);
            looks_like_header(d, &cells)
        };
        assert!(detect(b"id,name,email\n1,a,b"));
        assert!(!detect(b"1,jane,jane@x.org\n"));
        assert!(!detect(b"a,a\n"));
        assert!(!detect(b"a,,b\n"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        for n in 0..2000 {
            let len = n % 50;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    {
                        let a = b"\",\n\r\tab ";
                        a[(seed % a.len() as u64) as usize]
                    }
                })
                .collect();
            for d in [Dialect::CSV, Dialect::TSV] {
                for_each_segment(&buf, d, |s| {
                    let _ = s.map.raw_span(0..s.text.len());
                });
            }
        }
    }
}
