//! An input as the redactor and the quarantine see it: decoded pieces with the
//! findings in them, and the raw byte range of every record.

use std::ops::Range;
use std::sync::Arc;

use super::{Hit, RedactError};
use crate::engine::{Match, Scanner};
use crate::finding::Finding;
use crate::format::{self, Format, OffsetMap, Segment};
use crate::read;
use crate::rules::Severity;
use crate::scan::{self, LineCounter, ScanOptions};

/// One decoded piece of an input and the kept matches in it.
pub(crate) struct Piece<'a> {
    pub(crate) seg: Segment<'a>,
    pub(crate) hits: Vec<Hit>,
    pub(crate) matches: Vec<Match>,
}

/// Pieces with hits, and the raw byte range of every record (a record's range
/// includes its line ending). Plain text is one record.
pub(crate) struct Document<'a> {
    pub(crate) pieces: Vec<Piece<'a>>,
    pub(crate) records: Vec<Range<usize>>,
    /// Bytes before the first record that belong to no record (a CSV header).
    pub(crate) header: Range<usize>,
}

impl Document<'_> {
    pub(crate) fn hit_count(&self) -> usize {
        self.pieces.iter().map(|p| p.hits.len()).sum()
    }
}

/// The format `path` is read as.
pub(crate) fn format_of(opts: &ScanOptions, path: &str, bytes: &[u8]) -> Format {
    opts.input_format
        .unwrap_or_else(|| format::detect(path, &bytes[..bytes.len().min(read::BINARY_SNIFF_LEN)]))
}

/// True for formats made of records (JSONL, CSV, ...), false for plain text, which
/// counts as one record per file.
pub(crate) fn is_record_format(fmt: Format) -> bool {
    match fmt {
        Format::Text => false,
    }
}

/// True when the input is passed through unscanned, as `scan` skips it.
pub(crate) fn skip_binary(opts: &ScanOptions, fmt: Format, bytes: &[u8]) -> bool {
    !opts.binary && matches!(fmt, Format::Text) && read::looks_binary(bytes)
}

/// Scans the pieces of an input; keeps matches that pass and have at least
/// `min_severity`.
pub(crate) fn analyse<'a>(
    scanner: &Scanner,
    opts: &ScanOptions,
    min_severity: Severity,
    fmt: Format,
    bytes: &'a [u8],
) -> Result<Document<'a>, RedactError> {
    let keep = |m: &Match| !m.dropped && scanner.rule(m.rule).severity >= min_severity;
    match fmt {
        Format::Text => {
            let mut stats = Vec::new();
            let matches: Vec<Match> = scan::scan_text(bytes, scanner, opts, &mut stats)
                .into_iter()
                .filter(keep)
                .collect();
            let seg = Segment {
                text: bytes.into(),
                map: OffsetMap::Identity { base: 0 },
                raw: 0..bytes.len(),
                record: None,
                field: None,
            };
            let whole = 0..bytes.len();
            Ok(Document {
                pieces: vec![piece(scanner, seg, matches)],
                records: vec![whole],
                header: 0..0,
            })
        }
    }
}

fn piece<'a>(scanner: &Scanner, seg: Segment<'a>, matches: Vec<Match>) -> Piece<'a> {
    let hits = matches
        .iter()
        .map(|m| Hit {
            span: m.start..m.end,
            rule: scanner.rule(m.rule).clone(),
            confidence: m.confidence,
        })
        .collect();
    Piece { seg, hits, matches }
}

/// The findings of a document, with raw offsets, lines and columns, by offset.
pub(crate) fn to_findings(
    scanner: &Scanner,
    path: &str,
    input: &[u8],
    doc: &Document<'_>,
) -> Vec<Finding> {
    let path: Arc<str> = Arc::from(path);
    let mut all: Vec<(&Segment<'_>, &Match, usize)> = doc
        .pieces
        .iter()
        .flat_map(|p| {
            p.matches
                .iter()
                .map(move |m| (&p.seg, m, p.seg.map.raw_span(m.start..m.end).start))
        })
        .collect();
    all.sort_by_key(|(_, m, start)| (*start, m.end, m.rule));
    let mut lines = LineCounter::new(input);
    all.into_iter()
        .map(|(seg, m, _)| scan::to_finding(&path, scanner, seg, m, &mut lines))
        .collect()
}
