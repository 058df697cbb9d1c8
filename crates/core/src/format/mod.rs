//! Formats: where records and fields are in an input, and what text to scan.
//!
//! Plain text is one segment. Record formats yield *decoded* segments (a JSON string
//! value, a CSV cell) with a map back to raw byte offsets, so that escapes never
//! hide a match and redaction can rewrite exactly the right bytes.
//!
//! Record formats are scanned through a *view*: the raw bytes with every escape
//! replaced by the bytes it stands for (`\n` becomes a newline, `""` in a quoted CSV
//! cell becomes `"`) and skipped content (a base64 image, a field left out by
//! `--fields`) removed. Structure and keys stay in the view, so a rule that looks
//! for `"password": "..."` still sees the key. When the input holds no escape the
//! view *is* the input and nothing is copied. An [`OffsetMap`] maps view offsets
//! back to raw offsets; each match is then attributed to the record and field that
//! holds it.
//!
//! ```
//! use datasieve::format::{detect, Format};
//! assert_eq!(detect("notes.txt", b"hello"), Format::Text);
//! assert_eq!(detect("train-00001.jsonl.zst", b"\x28\xb5\x2f\xfd"), Format::Zstd);
//! assert_eq!(detect("README", b"{\"a\": 1}\n{\"a\": 2}\n"), Format::Jsonl);
//! ```

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

pub mod csv;
pub mod json;
pub mod jsonl;
pub mod parquet;

/// The formats the library reads: record and text formats, compressed streams and
/// archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Plain text, code, config: one span.
    Text,
    /// JSON Lines / NDJSON: one JSON value per line.
    Jsonl,
    /// A JSON document (or a stream of concatenated JSON values).
    Json,
    /// A Jupyter notebook (JSON; embedded images are skipped).
    Ipynb,
    /// Comma-separated values.
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Apache Parquet.
    Parquet,
    /// A gzip stream.
    Gzip,
    /// A zstd stream.
    Zstd,
    /// A bzip2 stream.
    Bzip2,
    /// An xz stream.
    Xz,
    /// A zip archive.
    Zip,
    /// A tar archive.
    Tar,
}

impl Format {
    /// Every format, in the order of `--input-format` help.
    pub const ALL: &'static [Format] = &[
        Format::Text,
        Format::Jsonl,
        Format::Json,
        Format::Ipynb,
        Format::Csv,
        Format::Tsv,
        Format::Parquet,
        Format::Gzip,
        Format::Zstd,
        Format::Bzip2,
        Format::Xz,
        Format::Zip,
        Format::Tar,
    ];

    /// Name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Ipynb => "ipynb",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Parquet => "parquet",
            Format::Gzip => "gz",
            Format::Zstd => "zst",
            Format::Bzip2 => "bz2",
            Format::Xz => "xz",
            Format::Zip => "zip",
            Format::Tar => "tar",
        }
    }

    /// Parses a `--input-format` value (case-insensitive; common aliases such as
    /// `ndjson`, `gzip`, `zstd` are accepted).
    ///
    /// ```
    /// use datasieve::format::Format;
    /// assert_eq!(Format::from_name("NDJSON"), Some(Format::Jsonl));
    /// assert_eq!(Format::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Format> {
        let f = match name.to_ascii_lowercase().as_str() {
            "text" | "txt" | "plain" => Format::Text,
            "jsonl" | "ndjson" | "jsonlines" => Format::Jsonl,
            "json" => Format::Json,
            "ipynb" | "notebook" => Format::Ipynb,
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "parquet" | "pq" => Format::Parquet,
            "gz" | "gzip" => Format::Gzip,
            "zst" | "zstd" => Format::Zstd,
            "bz2" | "bzip2" => Format::Bzip2,
            "xz" => Format::Xz,
            "zip" => Format::Zip,
            "tar" => Format::Tar,
            _ => return None,
        };
        Some(f)
    }

    /// A compressed stream ([`Format::Gzip`], [`Format::Zstd`], ...).
    pub fn is_compression(self) -> bool {
        matches!(
            self,
            Format::Gzip | Format::Zstd | Format::Bzip2 | Format::Xz
        )
    }

    /// An archive of members ([`Format::Zip`], [`Format::Tar`]).
    pub fn is_archive(self) -> bool {
        matches!(self, Format::Zip | Format::Tar)
    }

    /// Binary by nature, yet read by the library: never skipped as binary.
    pub fn is_binary_container(self) -> bool {
        self.is_compression() || self.is_archive() || self == Format::Parquet
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file name part of a display path (`a/b.zip!dir/c.jsonl` gives `c.jsonl`).
pub fn file_name(path: &str) -> &str {
    let inner = path.rsplit('!').next().unwrap_or(path);
    inner.rsplit(['/', '\\']).next().unwrap_or(inner)
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The format given by magic bytes at the start of `head`, for binary formats.
pub fn detect_magic(head: &[u8]) -> Option<Format> {
    let f = if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if head.starts_with(b"PAR1") {
        Format::Parquet
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Format::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Format::Xz
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Format::Tar
    } else {
        return None;
    };
    Some(f)
}

/// Detects the format from the file name and its first bytes: magic bytes of
/// binary formats first (a gzip stream named `.jsonl` is still gzip), then the
/// extension, then, for names without a known extension, the content (JSON Lines
/// or plain text).
pub fn detect(path: &str, head: &[u8]) -> Format {
    if let Some(f) = detect_magic(head) {
        return f;
    }
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tgz") || lower.ends_with(".tar.gz") {
        return Format::Gzip;
    }
    match extension(name).as_deref() {
        Some("jsonl" | "ndjson" | "jsonlines") => Format::Jsonl,
        Some("json") => {
            if json::looks_like_lines(head) {
                Format::Jsonl
            } else {
                Format::Json
            }
        }
        Some("ipynb") => Format::Ipynb,
        Some("csv") => Format::Csv,
        Some("tsv" | "tab") => Format::Tsv,
        Some("parquet" | "pq") => Format::Parquet,
        Some("gz" | "gzip") => Format::Gzip,
        Some("zst" | "zstd") => Format::Zstd,
        Some("bz2") => Format::Bzip2,
        Some("xz") => Format::Xz,
        Some("zip") => Format::Zip,
        Some("tar") => Format::Tar,
        Some(_) => Format::Text,
        None => {
            if json::looks_like_lines(head) {
                Format::Jsonl
            } else {
                Format::Text
            }
        }
    }
}

/// The name of the data inside a compressed stream: `a.jsonl.gz` holds `a.jsonl`,
/// `a.tgz` holds `a.tar`.
pub fn strip_compression_ext(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tgz") {
        return format!("{}.tar", &name[..name.len() - 4]);
    }
    for ext in [".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz"] {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name.to_string()
}

/// Escapes decoded per value (a JSON string, a quoted CSV cell): each costs a few
/// dozen bytes of offset map, so a value of hundreds of megabytes of `\n` or `""`
/// would otherwise take gigabytes. Past this many, the rest of the value is
/// scanned as written (escapes and all), and the file gets a warning.
pub(crate) const MAX_DECODED_ESCAPES: usize = if cfg!(test) { 64 } else { 1 << 20 };

/// A string (JSON) or row (CSV) longer than this is scanned as it is written,
/// its escapes not decoded, instead of being decoded into a view: a view holds
/// a copy, and one value of hundreds of megabytes would hold as much memory.
pub(crate) const HUGE_VALUE: usize = if cfg!(test) { 4 << 10 } else { 16 << 20 };

/// One piece of an [`OffsetMap::Runs`] map: decoded bytes from `decoded` up to the
/// next run's `decoded` came from raw bytes from `raw` up to the next run's `raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Decoded offset where the run starts.
    pub decoded: usize,
    /// Raw offset where the run starts.
    pub raw: usize,
    /// The decoded bytes are a copy of the raw bytes (same length). When false the
    /// run is an escape (or skipped raw bytes, with no decoded bytes) that maps as
    /// a whole: any decoded byte of it maps to all of its raw bytes.
    pub verbatim: bool,
}

/// Maps offsets in decoded text back to raw offsets in the input.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetMap {
    /// The text is the raw bytes starting at `base`.
    Identity {
        /// Raw offset of text offset 0.
        base: usize,
    },
    /// Decoded text made of runs, sorted by offset, ending with a sentinel run whose
    /// `decoded` is the text length and `raw` the raw end.
    Runs(Vec<Run>),
}

impl OffsetMap {
    /// Raw span of a decoded span. The start maps to the raw start of the escape
    /// that produced the first byte, the end to the raw end of the escape that
    /// produced the last byte, so the raw span always covers whole escapes.
    ///
    /// ```
    /// use datasieve::format::json::decode_string;
    /// // raw JSON string content: a\u0041b  decodes to aAb
    /// let (text, map) = decode_string(br#"a\u0041b"#, 10);
    /// assert_eq!(&*text, b"aAb");
    /// assert_eq!(map.raw_span(1..2), 11..17);
    /// assert_eq!(map.raw_span(0..3), 10..18);
    /// ```
    pub fn raw_span(&self, decoded: Range<usize>) -> Range<usize> {
        match self {
            OffsetMap::Identity { base } => base + decoded.start..base + decoded.end,
            OffsetMap::Runs(runs) => {
                let start = runs_raw_start(runs, decoded.start);
                if decoded.end <= decoded.start {
                    return start..start;
                }
                start..runs_raw_end(runs, decoded.end)
            }
        }
    }

    /// Decoded span of a raw span: the inverse of [`OffsetMap::raw_span`], widened
    /// to whole escapes. Raw bytes that were skipped map to an empty span.
    pub fn decoded_span(&self, raw: Range<usize>) -> Range<usize> {
        match self {
            OffsetMap::Identity { base } => {
                raw.start.saturating_sub(*base)..raw.end.saturating_sub(*base)
            }
            OffsetMap::Runs(runs) => {
                let start = runs_decoded_pos(runs, raw.start, false);
                let end = runs_decoded_pos(runs, raw.end, true).max(start);
                start..end
            }
        }
    }
}

/// Index of the run holding decoded byte `d` (the last run starting at or before it).
fn run_at(runs: &[Run], d: usize) -> usize {
    runs.partition_point(|r| r.decoded <= d).saturating_sub(1)
}

fn runs_raw_start(runs: &[Run], d: usize) -> usize {
    let Some(last) = runs.last() else { return d };
    if d >= last.decoded {
        return last.raw;
    }
    let r = runs[run_at(runs, d)];
    if r.verbatim {
        r.raw + (d - r.decoded)
    } else {
        r.raw
    }
}

fn runs_raw_end(runs: &[Run], end: usize) -> usize {
    let Some(last) = runs.last() else { return end };
    if end > last.decoded {
        return last.raw;
    }
    let i = run_at(runs, end - 1);
    let r = runs[i];
    if r.verbatim {
        r.raw + (end - r.decoded)
    } else {
        runs.get(i + 1).map_or(last.raw, |n| n.raw)
    }
}

fn runs_decoded_pos(runs: &[Run], raw: usize, round_up: bool) -> usize {
    let Some(last) = runs.last() else { return raw };
    if raw >= last.raw {
        return last.decoded;
    }
    let i = runs.partition_point(|r| r.raw <= raw).saturating_sub(1);
    let r = runs[i];
    if raw < r.raw {
        return r.decoded;
    }
    let next = runs.get(i + 1).copied().unwrap_or(*last);
    if r.verbatim {
        (r.decoded + (raw - r.raw)).min(next.decoded)
    } else if round_up && raw > r.raw {
        next.decoded
    } else {
        r.decoded
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

/// Builds a view of raw bytes: verbatim where nothing changes, with escapes
/// replaced by their decoded bytes and skipped spans removed. Copies nothing until
/// the first escape or skip.
#[derive(Debug)]
pub(crate) struct ViewBuilder<'a> {
    raw: &'a [u8],
    start: usize,
    /// Raw offset up to which the view covers the input.
    done: usize,
    out: Vec<u8>,
    runs: Vec<Run>,
    dirty: bool,
    /// Expected view size, reserved when copying starts.
    hint: usize,
}

thread_local! {
    /// The buffer of the last view this thread finished with: a view of a chunk is
    /// megabytes, whose pages would otherwise be faulted in (and unmapped) anew for
    /// every chunk. One per thread, the largest.
    static SPARE_VIEW: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Gives the buffer of a finished view back, for the next view on this thread.
pub(crate) fn recycle_view(text: Cow<'_, [u8]>) {
    if let Cow::Owned(mut buf) = text {
        buf.clear();
        SPARE_VIEW.with(|spare| {
            let old = spare.take();
            spare.set(if old.capacity() >= buf.capacity() {
                old
            } else {
                buf
            });
        });
    }
}

/// A point to roll a [`ViewBuilder`] back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewMark {
    done: usize,
    out: usize,
    runs: usize,
    dirty: bool,
}

impl<'a> ViewBuilder<'a> {
    /// A view of `raw` starting at raw offset `start`.
    pub(crate) fn new(raw: &'a [u8], start: usize) -> Self {
        ViewBuilder {
            raw,
            start,
            done: start,
            out: Vec::new(),
            runs: Vec::new(),
            dirty: false,
            hint: 0,
        }
    }

    /// Like [`ViewBuilder::new`], reserving `hint` bytes once copying starts.
    pub(crate) fn with_hint(raw: &'a [u8], start: usize, hint: usize) -> Self {
        ViewBuilder {
            hint,
            ..ViewBuilder::new(raw, start)
        }
    }

    fn begin_dirty(&mut self) {
        if !self.dirty {
            self.dirty = true;
            if self.out.capacity() == 0 {
                self.out = SPARE_VIEW.with(Cell::take);
            }
            self.out.clear();
            self.out.reserve(self.hint);
            self.runs.clear();
            let upto = self.done;
            self.done = self.start;
            self.copy_to(upto);
        }
    }

    fn copy_to(&mut self, upto: usize) {
        if upto > self.done {
            if self.dirty {
                self.runs.push(Run {
                    decoded: self.out.len(),
                    raw: self.done,
                    verbatim: true,
                });
                self.out.extend_from_slice(&self.raw[self.done..upto]);
            }
            self.done = upto;
        }
    }

    /// Replaces raw `span` (at or after everything so far) by `decoded`.
    pub(crate) fn replace(&mut self, span: Range<usize>, decoded: &[u8]) {
        self.begin_dirty();
        self.copy_to(span.start);
        self.runs.push(Run {
            decoded: self.out.len(),
            raw: span.start,
            verbatim: false,
        });
        self.out.extend_from_slice(decoded);
        self.done = span.end;
    }

    /// Leaves raw `span` out of the view.
    pub(crate) fn skip(&mut self, span: Range<usize>) {
        if !span.is_empty() {
            self.replace(span, b"");
        }
    }

    /// Current length of the view, had it been copied.
    pub(crate) fn len(&self, upto: usize) -> usize {
        if self.dirty {
            self.out.len() + upto.saturating_sub(self.done)
        } else {
            upto - self.start
        }
    }

    pub(crate) fn mark(&self) -> ViewMark {
        ViewMark {
            done: self.done,
            out: self.out.len(),
            runs: self.runs.len(),
            dirty: self.dirty,
        }
    }

    /// Forgets what was added after `mark` (the raw bytes after it will be copied
    /// verbatim).
    pub(crate) fn rollback(&mut self, mark: ViewMark) {
        if self.dirty && !mark.dirty {
            // Nothing had been copied: start over lazily.
            self.dirty = false;
            self.out.clear();
            self.runs.clear();
        } else {
            self.out.truncate(mark.out);
            self.runs.truncate(mark.runs);
        }
        self.done = mark.done;
    }

    /// The view up to raw offset `end`.
    pub(crate) fn finish(mut self, end: usize) -> (Cow<'a, [u8]>, OffsetMap) {
        if !self.dirty {
            return (
                Cow::Borrowed(&self.raw[self.start..end]),
                OffsetMap::Identity { base: self.start },
            );
        }
        self.copy_to(end);
        self.runs.push(Run {
            decoded: self.out.len(),
            raw: end.max(self.done),
            verbatim: true,
        });
        (Cow::Owned(self.out), OffsetMap::Runs(self.runs))
    }
}

/// Which fields to scan (`--fields`): names match a key anywhere in a record, names
/// starting with `/` are JSON Pointers (a prefix of the field's pointer; `*` matches
/// any one step). For CSV and Parquet, names match column names (or paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldFilter {
    names: Vec<String>,
    pointers: Vec<Vec<String>>,
}

impl FieldFilter {
    /// Parses a comma-separated list; `None` when it holds no field.
    ///
    /// ```
    /// use datasieve::format::FieldFilter;
    /// let f = FieldFilter::parse("text, /messages/*/content").unwrap();
    /// assert!(f.selects_path(&["meta", "text"]));
    /// assert!(f.selects_path(&["messages", "3", "content"]));
    /// assert!(!f.selects_path(&["messages", "3", "role"]));
    /// ```
    pub fn parse(list: &str) -> Option<FieldFilter> {
        let mut f = FieldFilter::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(p) = item.strip_prefix('/') {
                f.pointers
                    .push(p.split('/').map(json::unescape_pointer_token).collect());
            } else {
                f.names.push(item.to_string());
            }
        }
        (!f.names.is_empty() || !f.pointers.is_empty()).then_some(f)
    }

    /// True when a field with these path steps (keys and array indices, from the
    /// record root) is selected.
    pub fn selects_path<S: AsRef<str>>(&self, steps: &[S]) -> bool {
        if steps
            .iter()
            .any(|s| self.names.iter().any(|n| n == s.as_ref()))
        {
            return true;
        }
        self.pointers.iter().any(|p| {
            p.len() <= steps.len()
                && p.iter()
                    .zip(steps)
                    .all(|(a, b)| a == "*" || a == b.as_ref())
        })
    }

    /// True when a column (CSV header name or index, Parquet column path) is selected.
    pub fn selects_column(&self, name: &str) -> bool {
        if self.names.iter().any(|n| n == name) {
            return true;
        }
        let steps: Vec<&str> = name.split('.').collect();
        self.selects_path(&steps)
    }
}

/// The outcomes of `data` scanned as `format` with the `tok_` test rule and
/// default options.
#[cfg(test)]
pub(crate) fn tok_outcomes(data: &[u8], format: Format) -> Vec<crate::scan::FileOutcome> {
    let scanner = crate::engine::scanner_with(crate::engine::TOK_RULE);
    let opts = crate::ScanOptions::default();
    crate::scan::scan_bytes_as("d".into(), data, format, &scanner, &opts).0
}

/// `head`, then `piece` repeated until it is longer than [`HUGE_VALUE`], then
/// `tail`: a value too long to decode into a view.
#[cfg(test)]
pub(crate) fn past_huge_value(head: &str, piece: &str, tail: &str) -> String {
    let mut value = String::from(head);
    while value.len() <= HUGE_VALUE {
        value.push_str(piece);
    }
    value + tail
}

/// Checks findings of `data`, as (record, field, start, end), against a table of
/// (record, JSON Pointer, raw text), in order.
#[cfg(test)]
pub(crate) fn assert_located(
    data: &[u8],
    got: &[(Option<u64>, Option<String>, u64, u64)],
    want: &[(u64, &str, &str)],
) {
    let got: Vec<_> = got
        .iter()
        .map(|(record, field, start, end)| {
            let text = &data[*start as usize..*end as usize];
            (
                *record,
                field.clone(),
                String::from_utf8_lossy(text).into_owned(),
            )
        })
        .collect();
    let want: Vec<_> = want
        .iter()
        .map(|&(record, field, text)| (Some(record), Some(field.to_string()), text.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_extension_and_content() {
        assert_eq!(detect("a.jsonl", b"{}"), Format::Jsonl);
        assert_eq!(detect("a.ndjson", b"{}"), Format::Jsonl);
        assert_eq!(detect("a.json", b"[1,2]"), Format::Json);
        assert_eq!(detect("a.json", b"{\"a\":1}\n{\"a\":2}\n"), Format::Jsonl);
        assert_eq!(detect("a.json", b"{\"a\":\n1}\n"), Format::Json);
        assert_eq!(detect("a.ipynb", b"{}"), Format::Ipynb);
        assert_eq!(detect("a.CSV", b"x,y"), Format::Csv);
        assert_eq!(detect("a.tsv", b"x\ty"), Format::Tsv);
        assert_eq!(detect("a.parquet", b"PAR1"), Format::Parquet);
        assert_eq!(detect("noext", b"PAR1...."), Format::Parquet);
        assert_eq!(detect("a.jsonl", b"\x1f\x8b\x08"), Format::Gzip);
        assert_eq!(detect("a.gz", b"garbage"), Format::Gzip);
        assert_eq!(detect("a.tgz", b""), Format::Gzip);
        assert_eq!(detect("x", b"PK\x03\x04"), Format::Zip);
        assert_eq!(detect("x", b"BZh91AY"), Format::Bzip2);
        assert_eq!(detect("x", b"\xfd7zXZ\x00"), Format::Xz);
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect("x", &tar), Format::Tar);
        assert_eq!(detect(".env", b"KEY=1"), Format::Text);
        assert_eq!(detect("Makefile", b"all:\n\tcc"), Format::Text);
        assert_eq!(detect("a.zip!dir/b.csv", b"x"), Format::Csv);
        assert_eq!(strip_compression_ext("a.jsonl.gz"), "a.jsonl");
        assert_eq!(strip_compression_ext("a.TGZ"), "a.tar");
        assert_eq!(strip_compression_ext("data.zst"), "data");
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.as_str()), Some(*f));
        }
    }

    #[test]
    fn runs_map_both_ways() {
        // raw: ab\ncd  (\n is 2 raw bytes at 2..4), skipped 6..9, then "xy"
        let runs = vec![
            Run {
                decoded: 0,
                raw: 0,
                verbatim: true,
            },
            Run {
                decoded: 2,
                raw: 2,
                verbatim: false,
            },
            Run {
                decoded: 3,
                raw: 4,
                verbatim: true,
            },
            Run {
                decoded: 5,
                raw: 6,
                verbatim: false,
            },
            Run {
                decoded: 5,
                raw: 9,
                verbatim: true,
            },
            Run {
                decoded: 7,
                raw: 11,
                verbatim: true,
            },
        ];
        let m = OffsetMap::Runs(runs);
        assert_eq!(m.raw_span(0..2), 0..2);
        assert_eq!(m.raw_span(2..3), 2..4);
        assert_eq!(m.raw_span(1..4), 1..5);
        assert_eq!(m.raw_span(4..6), 5..10);
        assert_eq!(m.raw_span(7..7), 11..11);
        assert_eq!(m.decoded_span(2..4), 2..3);
        assert_eq!(m.decoded_span(3..4), 2..3);
        assert_eq!(m.decoded_span(9..11), 5..7);
        assert_eq!(m.decoded_span(6..9), 5..5);
    }

    #[test]
    fn view_builder_is_lazy_and_rolls_back() {
        let raw = b"0123456789";
        let v = ViewBuilder::new(raw, 2);
        let (text, map) = v.finish(8);
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(&*text, b"234567");
        assert_eq!(map, OffsetMap::Identity { base: 2 });

        let mut v = ViewBuilder::new(raw, 0);
        let mark = v.mark();
        v.replace(3..5, b"X");
        v.rollback(mark);
        v.skip(6..7);
        let (text, map) = v.finish(10);
        assert_eq!(&*text, b"012345789");
        assert_eq!(map.raw_span(6..7), 7..8);
        assert_eq!(map.raw_span(5..7), 5..8);
    }
}
