//! Redaction: rewrites exactly what the scanner reports, in the same format.
//!
//! A [`Redactor`] scans one input with the same functions as `scan`, merges
//! overlapping findings ([`merge_hits`]), picks an [`Operator`] per finding from an
//! [`OperatorPlan`] and replaces each value: in plain text and code the exact byte
//! span; in record formats the decoded field value, re-encoded. Before returning,
//! it scans its own output again: anything still found at or above the threshold
//! (a synthetic value a rule likes, a value that a replacement completed) is
//! replaced by a placeholder, so the output never holds a finding and redacting it
//! again changes nothing. The record count of the output is checked against the
//! input: records in = records out + records dropped.
//!
//! [`run`] adds files: where outputs go (`--out DIR`, `-o FILE`, `--in-place`) and
//! how they are written (atomically, owner-only, never clobbering unless asked).
//!
//! ```
//! use datasieve::redact::{Redactor, RedactOptions, Operator, OperatorPlan};
//! use datasieve::{RuleSet, Scanner};
//! let scanner = Scanner::new(&RuleSet::builtin()?)?;
//! let redactor = Redactor::new(scanner, RedactOptions::default())?;
//! let done = redactor.redact("notes.txt", b"mail jane.roe@corp-mail.net today")?;
//! assert_eq!(done.output.as_deref(), Some(&b"mail [EMAIL] today"[..]));
//! assert!(done.records.balanced());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::engine::{ScanConfig, Scanner};
use crate::finding::Finding;
use crate::format::{Format, Segment};
use crate::rules::Severity;
use crate::scan::ScanOptions;
use document::Document;

pub(crate) mod document;
mod operator;
mod replace;
pub mod run;
mod span;
pub mod synthetic;

pub use operator::{
    parse_category, Operator, OperatorPlan, OperatorSpec, Selector, UnknownSelector,
};
pub use replace::{mask_value, placeholder, pseudonym, PSEUDONYM_HEX_LEN};
pub use span::{merge_hits, Hit, MergedSpan};

/// Redaction passes over one output before giving up (the first pass plus
/// verification passes that replace leftovers with placeholders).
pub const MAX_PASSES: usize = 4;
/// Synthetic values tried per value before falling back to a placeholder.
const SYNTHETIC_ATTEMPTS: u32 = 4;

/// Options of a redaction run.
#[derive(Debug, Clone)]
pub struct RedactOptions {
    /// Scan options (threshold, chunking, forced format, binary files).
    pub scan: ScanOptions,
    /// Findings of lower severity are left alone.
    pub min_severity: Severity,
    /// Operator per finding.
    pub plan: OperatorPlan,
    /// Key of the `hash` operator.
    pub key: Option<Vec<u8>>,
    /// Seed of the `synthetic` operator.
    pub seed: u64,
    /// Character of the `mask` operator.
    pub mask_char: char,
    /// Letters and digits `mask` keeps at the end (unless the operator says `mask:N`).
    pub keep_last: u16,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            scan: ScanOptions::default(),
            min_severity: Severity::Low,
            plan: OperatorPlan::default(),
            key: None,
            seed: 0,
            mask_char: '*',
            keep_last: 0,
        }
    }
}

/// Why an input could not be redacted. Names the input.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// `hash` is used but no key was given.
    #[error("the hash operator needs a key: pass --key-file FILE or set DATASIEVE_KEY")]
    MissingKey,
    /// The input does not parse in its format.
    #[error("{path}: {message}")]
    Parse {
        /// Input.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Values were still found after [`MAX_PASSES`] passes (nothing is written).
    #[error(
        "{path}: {count} value(s) still found after {passes} redaction passes; nothing written"
    )]
    NotConverged {
        /// Input.
        path: String,
        /// Values still found.
        count: usize,
        /// Passes made.
        passes: usize,
    },
    /// The output does not hold the records it should (nothing is written).
    #[error("{path}: {counts}")]
    RecordMismatch {
        /// Input.
        path: String,
        /// The counts that do not add up.
        counts: RecordCounts,
    },
}

/// Records in and where they went. Plain text counts as one record per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCounts {
    /// Records read.
    pub input: u64,
    /// Records written to the output (or left in place).
    pub output: u64,
    /// Records moved or copied to quarantine.
    pub quarantined: u64,
    /// Records removed (`drop-record`).
    pub dropped: u64,
}

impl RecordCounts {
    /// Records in = records out + quarantined + dropped.
    pub fn balanced(&self) -> bool {
        self.input == self.output + self.quarantined + self.dropped
    }

    /// Adds another file's counts.
    pub fn add(&mut self, other: &RecordCounts) {
        self.input += other.input;
        self.output += other.output;
        self.quarantined += other.quarantined;
        self.dropped += other.dropped;
    }
}

impl fmt::Display for RecordCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "records: {} in = {} out + {} quarantined + {} dropped ({})",
            self.input,
            self.output,
            self.quarantined,
            self.dropped,
            if self.balanced() { "ok" } else { "MISMATCH" }
        )
    }
}

/// Replacements made, by (rule id, operator name).
pub type Applied = BTreeMap<(String, &'static str), u64>;

/// The result of redacting one input.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// The sanitised bytes, or `None` when nothing had to change (the input is its
    /// own sanitised copy, byte for byte).
    pub output: Option<Vec<u8>>,
    /// The format the input was read as.
    pub format: Format,
    /// What was found in the input and acted on (offsets in the input).
    pub findings: Vec<Finding>,
    /// Replacements made, by rule and operator (one per merged span).
    pub applied: Applied,
    /// Record accounting.
    pub records: RecordCounts,
    /// Values found again in the output after the first pass (synthetic values a
    /// rule still likes, ...) and replaced by placeholders.
    pub rechecked: u64,
    /// The input looked binary and was passed through unscanned.
    pub skipped_binary: bool,
}

/// Redacts inputs. Immutable, `Send + Sync`: share one across threads.
#[derive(Debug, Clone)]
pub struct Redactor {
    scanner: Scanner,
    opts: RedactOptions,
}

impl Redactor {
    /// A redactor; fails when `hash` is planned without a key.
    pub fn new(scanner: Scanner, mut opts: RedactOptions) -> Result<Self, RedactError> {
        if opts.plan.any(|o| o == Operator::Hash) && !matches!(&opts.key, Some(k) if !k.is_empty())
        {
            return Err(RedactError::MissingKey);
        }
        // Dropped candidates are never redacted.
        opts.scan.engine.explain = false;
        Ok(Redactor { scanner, opts })
    }

    /// The scanner.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// The options.
    pub fn options(&self) -> &RedactOptions {
        &self.opts
    }

    /// The format `path` is read as.
    pub fn format_of(&self, path: &str, bytes: &[u8]) -> Format {
        document::format_of(&self.opts.scan, path, bytes)
    }

    /// Finds what to redact in `input` without changing anything (kept findings
    /// at or above the minimum severity), plus the record count.
    pub fn findings(&self, path: &str, input: &[u8]) -> Result<(Vec<Finding>, u64), RedactError> {
        let fmt = self.format_of(path, input);
        if self.skip_binary(fmt, input) {
            return Ok((Vec::new(), 1));
        }
        let doc = self.analyse(fmt, input)?;
        Ok((
            document::to_findings(&self.scanner, path, input, &doc),
            doc.records.len() as u64,
        ))
    }

    /// Redacts one input named `path` (the name picks the format and appears in
    /// findings and errors).
    pub fn redact(&self, path: &str, input: &[u8]) -> Result<Redacted, RedactError> {
        let fmt = self.format_of(path, input);
        let mut done = Redacted {
            output: None,
            format: fmt,
            findings: Vec::new(),
            applied: Applied::new(),
            records: RecordCounts::default(),
            rechecked: 0,
            skipped_binary: false,
        };
        if self.skip_binary(fmt, input) {
            done.skipped_binary = true;
            done.records = RecordCounts {
                input: 1,
                output: 1,
                ..RecordCounts::default()
            };
            return Ok(done);
        }
        let doc = self.analyse(fmt, input)?;
        let n = doc.records.len() as u64;
        done.records = RecordCounts {
            input: n,
            output: n,
            ..RecordCounts::default()
        };
        if doc.hit_count() == 0 {
            return Ok(done);
        }
        done.findings = document::to_findings(&self.scanner, path, input, &doc);
        let (mut out, dropped) = self.rewrite(fmt, input, &doc, &self.opts.plan, &mut done.applied);
        drop(doc);
        done.records.dropped = dropped;
        done.records.output = n - dropped;
        let fallback = OperatorPlan::all(Operator::Placeholder);
        let mut passes = 1;
        loop {
            let again = self.analyse(fmt, &out)?;
            if again.records.len() as u64 != done.records.output {
                let mut counts = done.records;
                counts.output = again.records.len() as u64;
                return Err(RedactError::RecordMismatch {
                    path: path.to_string(),
                    counts,
                });
            }
            let left = again.hit_count();
            if left == 0 {
                break;
            }
            if passes == MAX_PASSES {
                return Err(RedactError::NotConverged {
                    path: path.to_string(),
                    count: left,
                    passes,
                });
            }
            done.rechecked += left as u64;
            let (next, _) = self.rewrite(fmt, &out, &again, &fallback, &mut Applied::new());
            drop(again);
            out = next;
            passes += 1;
        }
        done.output = Some(out);
        Ok(done)
    }

    fn skip_binary(&self, fmt: Format, bytes: &[u8]) -> bool {
        document::skip_binary(&self.opts.scan, fmt, bytes)
    }

    fn analyse<'a>(&self, fmt: Format, bytes: &'a [u8]) -> Result<Document<'a>, RedactError> {
        document::analyse(
            &self.scanner,
            &self.opts.scan,
            self.opts.min_severity,
            fmt,
            bytes,
        )
    }

    /// Applies `plan` to the hits of `doc`: returns the new bytes and the number of
    /// records dropped.
    fn rewrite(
        &self,
        fmt: Format,
        bytes: &[u8],
        doc: &Document<'_>,
        plan: &OperatorPlan,
        applied: &mut Applied,
    ) -> (Vec<u8>, u64) {
        let merged: Vec<Vec<MergedSpan>> = doc
            .pieces
            .iter()
            .map(|p| merge_hits(p.hits.clone(), &p.seg.text))
            .collect();
        // Records to drop first: nothing else in them needs replacing.
        let mut dropped: BTreeSet<u64> = BTreeSet::new();
        if supports_drop(fmt) {
            for (p, spans) in doc.pieces.iter().zip(&merged) {
                let Some(rec) = p.seg.record else { continue };
                for m in spans {
                    if plan.operator_for(&m.winner) == Operator::DropRecord {
                        dropped.insert(rec);
                        *applied
                            .entry((m.winner.id.clone(), Operator::DropRecord.name()))
                            .or_default() += 1;
                    }
                }
            }
        }
        let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
        for (p, spans) in doc.pieces.iter().zip(merged) {
            if p.seg.record.is_some_and(|r| dropped.contains(&r)) || spans.is_empty() {
                continue;
            }
            let mut text_edits = Vec::with_capacity(spans.len());
            for m in spans {
                let op = match plan.operator_for(&m.winner) {
                    // Only record formats can drop a record.
                    Operator::DropRecord => Operator::Placeholder,
                    op => op,
                };
                let value = &p.seg.text[m.span.clone()];
                let (replacement, used) = self.replacement(op, &m.winner, value);
                *applied
                    .entry((m.winner.id.clone(), used.name()))
                    .or_default() += 1;
                text_edits.push((m.span, replacement));
            }
            edits.extend(field_edits(fmt, &p.seg, text_edits));
        }
        let deletions: Vec<Range<usize>> = dropped
            .iter()
            .filter_map(|&r| doc.records.get(r as usize).cloned())
            .collect();
        (splice(bytes, edits, &deletions), dropped.len() as u64)
    }

    /// The replacement of `value` under `op`, and the operator actually used
    /// (a synthetic value that would be found again becomes a placeholder).
    fn replacement(
        &self,
        op: Operator,
        rule: &crate::engine::RuleInfo,
        value: &[u8],
    ) -> (Vec<u8>, Operator) {
        match op {
            Operator::Placeholder | Operator::DropRecord => {
                (placeholder(&rule.label).into_bytes(), Operator::Placeholder)
            }
            Operator::Mask { keep_last } => {
                let keep = keep_last.unwrap_or(self.opts.keep_last) as usize;
                (mask_value(value, self.opts.mask_char, keep), op)
            }
            Operator::Hash => {
                let key = self.opts.key.as_deref().unwrap_or_default();
                (pseudonym(key, &rule.label, value).into_bytes(), op)
            }
            Operator::Synthetic => {
                for attempt in 0..SYNTHETIC_ATTEMPTS {
                    let fake = synthetic::fake(self.opts.seed, &rule.label, value, attempt);
                    if fake != value && !self.found_alone(&rule.label, &fake) {
                        return (fake, op);
                    }
                }
                (placeholder(&rule.label).into_bytes(), Operator::Placeholder)
            }
        }
    }

    /// True when the rules would find `fake` again: on its own, or after its label
    /// as an assignment (`DEEPSEEK_API_KEY=...`), which supplies the keyword or
    /// context word many rules need. A match counts when its confidence plus what
    /// its rule's context words could add elsewhere reaches the threshold.
    fn found_alone(&self, label: &str, fake: &[u8]) -> bool {
        let config = ScanConfig {
            explain: true,
            min_confidence: 0.0,
        };
        let threshold = self.opts.scan.engine.min_confidence;
        let found = |hay: &[u8], boost: bool| {
            self.scanner.scan(hay, &config).iter().any(|m| {
                // Dropped by a validator, a placeholder or reserved-value check: safe.
                // Dropped for want of a context word: context may exist elsewhere.
                let could_keep = !m.dropped || m.reason == Some(MISSING_CONTEXT);
                let extra = if boost {
                    self.scanner.context_boost(m.rule)
                } else {
                    0.0
                };
                could_keep
                    && self.scanner.rule(m.rule).severity >= self.opts.min_severity
                    && m.confidence + extra >= threshold
            })
        };
        let mut in_context = format!("{label}=").into_bytes();
        in_context.extend_from_slice(fake);
        found(fake, true) || found(&in_context, false)
    }
}

/// The reason the engine gives when a rule's required context word is missing.
const MISSING_CONTEXT: &str = "missing context word";

/// Formats where a record can be removed.
fn supports_drop(fmt: Format) -> bool {
    document::is_record_format(fmt)
}

/// Raw edits for replacements in the decoded text of one segment. Plain text
/// replaces the exact byte spans; record formats re-encode the whole field.
fn field_edits(
    fmt: Format,
    seg: &Segment<'_>,
    text_edits: Vec<(Range<usize>, Vec<u8>)>,
) -> Vec<(Range<usize>, Vec<u8>)> {
    match fmt {
        Format::Text => text_edits
            .into_iter()
            .map(|(r, v)| (seg.map.raw_span(r), v))
            .collect(),
    }
}

/// Applies sorted, disjoint `edits` and removes `deletions` (edits inside a deleted
/// range are skipped).
pub(crate) fn splice(
    input: &[u8],
    edits: Vec<(Range<usize>, Vec<u8>)>,
    deletions: &[Range<usize>],
) -> Vec<u8> {
    let inside_deletion = |r: &Range<usize>| {
        deletions
            .iter()
            .any(|d| d.start <= r.start && r.end <= d.end)
    };
    let mut all: Vec<(Range<usize>, Vec<u8>)> = edits
        .into_iter()
        .filter(|(r, _)| !inside_deletion(r))
        .chain(deletions.iter().map(|d| (d.clone(), Vec::new())))
        .collect();
    all.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    for (r, rep) in all {
        debug_assert!(r.start >= pos, "overlapping edits");
        let start = r.start.max(pos);
        out.extend_from_slice(&input[pos..start]);
        out.extend_from_slice(&rep);
        pos = r.end.max(pos);
    }
    out.extend_from_slice(&input[pos..]);
    out
}

#[cfg(test)]
mod tests;
