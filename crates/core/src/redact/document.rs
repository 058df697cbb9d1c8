//! An input as the redactor and the quarantine see it: its shape (plain text, a
//! JSON document, JSON Lines, CSV/TSV), the findings of the scanner with their raw
//! byte spans, and the raw byte range of every record.
//!
//! The findings are what `scan` reports for the input; redaction then finds the
//! field (JSON token, CSV cell) that holds each raw span, so it works on whatever
//! the scanning layer decodes.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::RedactError;
use crate::engine::{Match, Scanner};
use crate::finding::Finding;
use crate::format::{Format, OffsetMap, Segment};
use crate::read;
use crate::rules::Severity;
use crate::scan::{self, LineCounter, ScanOptions};

/// How an input is laid out, for rewriting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Plain text, code, config: exact byte spans; one record per file.
    Text,
    /// One JSON document: values re-encoded; one record per file.
    Json,
    /// JSON Lines: one record per non-blank line.
    Jsonl,
    /// CSV or TSV: a header row, then one record per row.
    Csv {
        /// `,` or tab.
        delimiter: u8,
    },
}

impl Shape {
    /// Formats made of many records (where `drop-record` and `--split` apply).
    pub(crate) fn has_records(self) -> bool {
        matches!(self, Shape::Jsonl | Shape::Csv { .. })
    }
}

/// One record: its number as findings give it, and its raw range (line ending
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) index: u64,
    pub(crate) range: Range<usize>,
}

/// Findings and records of one input.
pub(crate) struct Document {
    pub(crate) shape: Shape,
    /// Kept findings at or above the minimum severity, by offset.
    pub(crate) findings: Vec<Finding>,
    /// Records, by offset.
    pub(crate) records: Vec<Record>,
    /// Bytes before the first record that belong to none (a CSV header).
    pub(crate) header: Range<usize>,
}

impl Document {
    /// Position in [`Document::records`] of the record holding raw `offset`.
    pub(crate) fn record_at(&self, offset: usize) -> Option<usize> {
        let i = self.records.partition_point(|r| r.range.end <= offset);
        (i < self.records.len() && self.records[i].range.start <= offset).then_some(i)
    }
}

/// The shape of an input: from its name (`.jsonl`, `.ndjson`, `.json`, `.csv`,
/// `.tsv`), else plain text. A format forced with `--input-format text` wins.
pub(crate) fn shape_of(opts: &ScanOptions, path: &str) -> Shape {
    if opts.input_format == Some(Format::Text) {
        return Shape::Text;
    }
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl" | "ndjson" | "jsonlines") => Shape::Jsonl,
        Some("json") => Shape::Json,
        Some("csv") => Shape::Csv { delimiter: b',' },
        Some("tsv" | "tab") => Shape::Csv { delimiter: b'\t' },
        _ => Shape::Text,
    }
}

/// True when the input is passed through unscanned, as `scan` skips it.
pub(crate) fn skip_binary(opts: &ScanOptions, shape: Shape, bytes: &[u8]) -> bool {
    !opts.binary && shape == Shape::Text && read::looks_binary(bytes)
}

/// Scans an input and lays out its records; keeps findings that pass and have at
/// least `min_severity`.
pub(crate) fn analyse(
    scanner: &Scanner,
    opts: &ScanOptions,
    min_severity: Severity,
    path: &str,
    shape: Shape,
    bytes: &[u8],
) -> Result<Document, RedactError> {
    let (records, header) = match shape {
        Shape::Text | Shape::Json => (
            vec![Record {
                index: 0,
                range: 0..bytes.len(),
            }],
            0..0,
        ),
        Shape::Jsonl => (
            super::fields::jsonl_records(bytes)
                .into_iter()
                .map(|(index, range)| Record { index, range })
                .collect(),
            0..0,
        ),
        Shape::Csv { delimiter } => {
            let (header, rows) = super::fields::csv_rows(bytes, delimiter);
            let records = rows
                .into_iter()
                .enumerate()
                .map(|(i, range)| Record {
                    index: i as u64,
                    range,
                })
                .collect();
            (records, header)
        }
    };
    let mut doc = Document {
        shape,
        findings: Vec::new(),
        records,
        header,
    };
    let mut stats = Vec::new();
    let matches: Vec<Match> = scan::scan_text(bytes, scanner, opts, &mut stats)
        .into_iter()
        .filter(|m| !m.dropped && scanner.rule(m.rule).severity >= min_severity)
        .collect();
    let seg = Segment {
        text: bytes.into(),
        map: OffsetMap::Identity { base: 0 },
        raw: 0..bytes.len(),
        record: None,
        field: None,
    };
    let path: Arc<str> = Arc::from(path);
    let mut lines = LineCounter::new(bytes);
    doc.findings = matches
        .iter()
        .map(|m| {
            let mut f = scan::to_finding(&path, scanner, &seg, m, &mut lines);
            if shape.has_records() {
                f.record = doc
                    .record_at(f.start as usize)
                    .map(|i| doc.records[i].index);
            }
            f
        })
        .collect();
    doc.findings.sort_by_key(|f| (f.start, f.end));
    Ok(doc)
}
