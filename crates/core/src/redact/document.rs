//! A plain (not compressed, not archived) input as the redactor and the quarantine
//! see it: its shape (plain text, a JSON document, JSON Lines, CSV/TSV), the
//! findings of the scanner with their raw byte spans, and the raw byte range of
//! every record.
//!
//! The findings are exactly what `scan` reports for the input (the format layer
//! scans decoded views and maps matches back to raw spans); redaction then finds
//! the field (JSON token, CSV cell) that holds each raw span.

use std::ops::Range;
use std::sync::Arc;

use super::RedactError;
use crate::engine::Scanner;
use crate::finding::Finding;
use crate::format::csv::{looks_like_header, Dialect, Splitter};
use crate::format::Format;
use crate::read;
use crate::rules::Severity;
use crate::scan::{self, FileStatus, ScanOptions};

/// How a plain input is laid out, for rewriting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Plain text, code, config: exact byte spans; one record per file.
    Text,
    /// One JSON document (or notebook): values re-encoded; one record per file.
    Json,
    /// JSON Lines: one record per non-blank line.
    Jsonl,
    /// CSV or TSV: an optional header row, then one record per row.
    Csv {
        /// `,` or tab.
        delimiter: u8,
    },
}

impl Shape {
    /// The shape of a plain format (`None` for containers and Parquet).
    pub(crate) fn of(fmt: Format) -> Option<Shape> {
        Some(match fmt {
            Format::Jsonl => Shape::Jsonl,
            Format::Json | Format::Ipynb => Shape::Json,
            Format::Csv => Shape::Csv { delimiter: b',' },
            Format::Tsv => Shape::Csv { delimiter: b'\t' },
            f if f.is_compression() || f.is_archive() || f == Format::Parquet => return None,
            _ => Shape::Text,
        })
    }

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
    /// Bytes before the first record that belong to none (a CSV header row).
    pub(crate) header: Range<usize>,
}

impl Document {
    /// Position in [`Document::records`] of the record holding raw `offset`.
    pub(crate) fn record_at(&self, offset: usize) -> Option<usize> {
        let i = self.records.partition_point(|r| r.range.end <= offset);
        (i < self.records.len() && self.records[i].range.start <= offset).then_some(i)
    }
}

/// True when the input is passed through unscanned, as `scan` skips it.
pub(crate) fn skip_binary(opts: &ScanOptions, bytes: &[u8]) -> bool {
    !opts.binary && read::looks_binary(bytes)
}

/// Records (and CSV header) of a plain input.
pub(crate) fn records(shape: Shape, bytes: &[u8]) -> (Vec<Record>, Range<usize>) {
    match shape {
        Shape::Text | Shape::Json => {
            let whole = 0..bytes.len();
            (
                vec![Record {
                    index: 0,
                    range: whole,
                }],
                0..0,
            )
        }
        Shape::Jsonl => (
            super::fields::jsonl_records(bytes)
                .into_iter()
                .map(|(index, range)| Record { index, range })
                .collect(),
            0..0,
        ),
        Shape::Csv { delimiter } => {
            // The same splitter and header test as the scan, so that record
            // numbers agree with findings.
            let dialect = Dialect { delimiter };
            let mut sp = Splitter::new(bytes, 0, dialect);
            let mut cells = Vec::new();
            let mut records = Vec::new();
            let mut header = 0..0;
            let mut first = true;
            while let Some(row) = sp.next_row(&mut cells) {
                let range = row.start..sp.pos().max(row.end);
                if first && looks_like_header(bytes, &cells) {
                    header = 0..range.end;
                } else {
                    records.push(Record {
                        index: records.len() as u64,
                        range,
                    });
                }
                first = false;
            }
            (records, header)
        }
    }
}

/// Scans a plain input as `fmt` and lays out its records; keeps findings that pass
/// and have at least `min_severity`.
pub(crate) fn analyse(
    scanner: &Scanner,
    opts: &ScanOptions,
    min_severity: Severity,
    path: &str,
    fmt: Format,
    bytes: &[u8],
) -> Result<Document, RedactError> {
    let shape = Shape::of(fmt).unwrap_or(Shape::Text);
    let (records, header) = records(shape, bytes);
    let scan_opts = ScanOptions {
        engine: crate::engine::ScanConfig {
            explain: false,
            ..opts.engine.clone()
        },
        binary: true,
        stats: false,
        ..opts.clone()
    };
    let (outcomes, _) = scan::scan_bytes_as(Arc::from(path), bytes, fmt, scanner, &scan_opts);
    let mut findings = Vec::new();
    for o in outcomes {
        if let FileStatus::Error(message) = o.status {
            return Err(RedactError::Parse {
                path: path.to_string(),
                message,
            });
        }
        findings.extend(
            o.findings
                .into_iter()
                .filter(|f| !f.dropped && f.rule.severity >= min_severity),
        );
    }
    findings.sort_by_key(|f| (f.start, f.end));
    Ok(Document {
        shape,
        findings,
        records,
        header,
    })
}
