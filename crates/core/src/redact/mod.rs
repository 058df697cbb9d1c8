//! Redaction: rewrites exactly what the scanner reports, in the same format.
//!
//! A [`Redactor`] scans one input with the same functions as `scan`, merges
//! overlapping findings ([`merge_hits`]), picks an [`Operator`] per finding from an
//! [`OperatorPlan`] and replaces each value: in plain text and code the exact byte
//! span; in JSON and CSV the decoded field value, re-encoded; inside compressed
//! streams and archives, member by member, compressed or archived again the same
//! way; in Parquet the string values, in a file with the same schema and row
//! groups. Before returning,
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
use crate::format::{self, Format};
use crate::read::decompress;
use crate::rules::Severity;
use crate::scan::{layer_format, Depth, ScanOptions, MAX_STREAM_NESTING};
use document::{Document, Shape};

mod container;
pub(crate) mod document;
mod fields;
mod operator;
mod parquet;
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
#[derive(Debug, Clone, Default)]
pub struct Redacted {
    /// The sanitised bytes, or `None` when nothing had to change (the input is its
    /// own sanitised copy, byte for byte).
    pub output: Option<Vec<u8>>,
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

/// Whether a layer is rewritten or only inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Redact,
    Inspect,
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

    /// Finds what redaction would act on in `input` without changing anything
    /// (kept findings at or above the minimum severity, inside compressed streams
    /// and archive members too), and counts its records.
    pub fn findings(&self, path: &str, input: &[u8]) -> Result<(Vec<Finding>, u64), RedactError> {
        let done = self.inspect(path, input)?;
        Ok((done.findings, done.records.input))
    }

    /// Redacts one input named `path` (the name picks the format and appears in
    /// findings and errors). Compressed streams come out compressed the same way,
    /// archives as archives of sanitised members, Parquet with the same schema.
    pub fn redact(&self, path: &str, input: &[u8]) -> Result<Redacted, RedactError> {
        let mut remaining = self.opts.scan.limits.max_total_size;
        self.layer(
            path,
            path,
            input,
            Depth::default(),
            self.opts.scan.input_format,
            &mut remaining,
            Pass::Redact,
        )
    }

    /// Like [`Redactor::findings`], with the whole result (records, binary skip).
    pub(crate) fn inspect(&self, path: &str, input: &[u8]) -> Result<Redacted, RedactError> {
        let mut remaining = self.opts.scan.limits.max_total_size;
        self.layer(
            path,
            path,
            input,
            Depth::default(),
            self.opts.scan.input_format,
            &mut remaining,
            Pass::Inspect,
        )
    }

    /// The format of the outer layer of an input.
    pub(crate) fn format_of(&self, name: &str, bytes: &[u8]) -> Format {
        layer_format(self.opts.scan.input_format, name, bytes, Depth::default())
    }

    #[allow(clippy::too_many_arguments)]
    fn layer(
        &self,
        path: &str,
        name: &str,
        bytes: &[u8],
        depth: Depth,
        forced: Option<Format>,
        remaining: &mut u64,
        pass: Pass,
    ) -> Result<Redacted, RedactError> {
        // As the scan decides a layer, without its JSON Lines refinement.
        let fmt = layer_format(forced, name, bytes, depth);
        let read_err = |e: crate::read::ReadError| RedactError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        };
        if fmt.is_compression() {
            if depth.streams >= MAX_STREAM_NESTING {
                return Err(RedactError::Parse {
                    path: path.to_string(),
                    message: format!("compressed streams nested deeper than {MAX_STREAM_NESTING}"),
                });
            }
            let inner = decompress::decompress(fmt, bytes, &self.opts.scan.limits, remaining)
                .map_err(read_err)?;
            let inner_name = format::strip_compression_ext(name);
            let depth = Depth {
                streams: depth.streams + 1,
                ..depth
            };
            let forced = forced.filter(|f| !f.is_compression() && !f.is_archive());
            let mut done = self.layer(path, &inner_name, &inner, depth, forced, remaining, pass)?;
            if let Some(out) = done.output.take() {
                done.output =
                    Some(
                        container::compress(fmt, &out).map_err(|e| RedactError::Parse {
                            path: path.to_string(),
                            message: format!("cannot compress the output: {e}"),
                        })?,
                    );
            }
            return Ok(done);
        }
        if fmt.is_archive() {
            if depth.archives >= self.opts.scan.limits.max_archive_depth {
                return Err(read_err(crate::read::ReadError::TooDeep(
                    self.opts.scan.limits.max_archive_depth,
                )));
            }
            let depth = Depth {
                archives: depth.archives + 1,
                ..depth
            };
            let mut member = |member_path: &str,
                              member_name: &str,
                              data: &[u8],
                              remaining: &mut u64|
             -> Result<Redacted, RedactError> {
                self.layer(member_path, member_name, data, depth, None, remaining, pass)
            };
            return container::rewrite_archive(
                fmt,
                path,
                bytes,
                &self.opts.scan.limits,
                remaining,
                &mut member,
            );
        }
        if fmt == Format::Parquet {
            return parquet::redact(self, path, bytes, pass);
        }
        self.plain(path, fmt, bytes, pass)
    }

    /// A text or record layer (not compressed, not an archive, not Parquet).
    fn plain(
        &self,
        path: &str,
        fmt: Format,
        input: &[u8],
        pass: Pass,
    ) -> Result<Redacted, RedactError> {
        let mut done = Redacted::default();
        if document::skip_binary(&self.opts.scan, input) {
            done.skipped_binary = true;
            done.records = RecordCounts {
                input: 1,
                output: 1,
                ..RecordCounts::default()
            };
            return Ok(done);
        }
        let doc = self.analyse(path, fmt, input)?;
        let n = doc.records.len() as u64;
        done.records = RecordCounts {
            input: n,
            output: n,
            ..RecordCounts::default()
        };
        if doc.findings.is_empty() || pass == Pass::Inspect {
            done.findings = doc.findings;
            return Ok(done);
        }
        let (mut out, dropped) = self.rewrite(input, &doc, &self.opts.plan, &mut done.applied);
        done.findings = doc.findings;
        done.records.dropped = dropped;
        done.records.output = n - dropped;
        let fallback = OperatorPlan::all(Operator::Placeholder);
        let mut passes = 1;
        loop {
            let again = self.analyse(path, fmt, &out)?;
            if again.records.len() as u64 != done.records.output {
                let mut counts = done.records;
                counts.output = again.records.len() as u64;
                return Err(RedactError::RecordMismatch {
                    path: path.to_string(),
                    counts,
                });
            }
            let left = again.findings.len();
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
            let (next, _) = self.rewrite(&out, &again, &fallback, &mut Applied::new());
            out = next;
            passes += 1;
        }
        done.output = Some(out);
        Ok(done)
    }

    fn analyse(&self, path: &str, fmt: Format, bytes: &[u8]) -> Result<Document, RedactError> {
        document::analyse(
            &self.scanner,
            &self.opts.scan,
            self.opts.min_severity,
            path,
            fmt,
            bytes,
        )
    }

    /// Applies `plan` to the findings of `doc`: returns the new bytes and the number
    /// of records dropped.
    fn rewrite(
        &self,
        bytes: &[u8],
        doc: &Document,
        plan: &OperatorPlan,
        applied: &mut Applied,
    ) -> (Vec<u8>, u64) {
        if doc.shape == Shape::Text {
            let hits = doc.findings.iter().map(hit_of).collect();
            let edits = self.replace_all(bytes, merge_hits(hits, bytes), plan, applied);
            return (splice(bytes, edits, &[]), 0);
        }
        // Findings by record (None: the CSV header).
        let mut groups: BTreeMap<Option<usize>, Vec<&Finding>> = BTreeMap::new();
        for f in &doc.findings {
            groups
                .entry(doc.record_at(f.start as usize))
                .or_default()
                .push(f);
        }
        let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
        let mut dropped: BTreeSet<usize> = BTreeSet::new();
        for (rec, found) in groups {
            let range = match rec {
                Some(i) => doc.records[i].range.clone(),
                None => doc.header.clone(),
            };
            let fields = match doc.shape {
                Shape::Csv { delimiter } => {
                    // The row starts after any blank lines.
                    let skip = bytes[range.clone()]
                        .iter()
                        .take_while(|b| **b == b'\r' || **b == b'\n')
                        .count();
                    fields::csv_cells(bytes, range.start + skip, delimiter)
                }
                _ => fields::json_fields(bytes, range.clone()),
            };
            // Each finding, clipped to the content of every field it overlaps. A
            // finding outside every field (a malformed line scanned as text) makes
            // the record plain text.
            let mut per_field: BTreeMap<usize, (fields::Decoded, Vec<Hit>)> = BTreeMap::new();
            let mut as_text = false;
            for f in &found {
                let span = f.start as usize..f.end as usize;
                let first = fields.partition_point(|x| x.raw.end <= span.start);
                let mut covered = false;
                for (k, field) in fields.iter().enumerate().skip(first) {
                    if field.raw.start >= span.end {
                        break;
                    }
                    let clip = span.start.max(field.content.start)..span.end.min(field.content.end);
                    if clip.is_empty() {
                        continue;
                    }
                    let entry = per_field
                        .entry(k)
                        .or_insert_with(|| (fields::decode(bytes, field), Vec::new()));
                    let d = entry.0.decoded_span(clip);
                    if !d.is_empty() {
                        covered = true;
                        entry.1.push(Hit {
                            span: d,
                            rule: f.rule.clone(),
                            confidence: f.confidence,
                        });
                    }
                }
                as_text |= !covered;
            }
            if as_text {
                let hits = found.iter().map(|f| hit_of(f)).collect();
                edits.extend(self.replace_all(bytes, merge_hits(hits, bytes), plan, applied));
                continue;
            }
            let merged: Vec<(usize, fields::Decoded, Vec<MergedSpan>)> = per_field
                .into_iter()
                .map(|(k, (dec, hits))| {
                    let m = merge_hits(hits, &dec.text);
                    (k, dec, m)
                })
                .collect();
            if let (Some(i), true) = (rec, doc.shape.has_records()) {
                let droppers: Vec<&MergedSpan> = merged
                    .iter()
                    .flat_map(|(_, _, m)| m)
                    .filter(|m| plan.operator_for(&m.winner) == Operator::DropRecord)
                    .collect();
                if !droppers.is_empty() {
                    for m in droppers {
                        *applied
                            .entry((m.winner.id.clone(), Operator::DropRecord.name()))
                            .or_default() += 1;
                    }
                    dropped.insert(i);
                    continue;
                }
            }
            for (k, dec, spans) in merged {
                let text_edits = self.replace_all(&dec.text, spans, plan, applied);
                let new_text = splice(&dec.text, text_edits, &[]);
                edits.push((
                    fields[k].raw.clone(),
                    fields::encode(fields[k].kind, &new_text),
                ));
            }
        }
        let deletions: Vec<Range<usize>> = dropped
            .iter()
            .map(|&i| doc.records[i].range.clone())
            .collect();
        (splice(bytes, edits, &deletions), dropped.len() as u64)
    }

    /// Replacements for merged spans of `text` (`drop-record` falls back to a
    /// placeholder here: the caller drops records).
    fn replace_all(
        &self,
        text: &[u8],
        spans: Vec<MergedSpan>,
        plan: &OperatorPlan,
        applied: &mut Applied,
    ) -> Vec<(Range<usize>, Vec<u8>)> {
        let mut edits = Vec::with_capacity(spans.len());
        for m in spans {
            let op = match plan.operator_for(&m.winner) {
                Operator::DropRecord => Operator::Placeholder,
                op => op,
            };
            let (replacement, used) = self.replacement(op, &m.winner, &text[m.span.clone()]);
            *applied
                .entry((m.winner.id.clone(), used.name()))
                .or_default() += 1;
            edits.push((m.span, replacement));
        }
        edits
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

/// A finding as a hit on the raw bytes (plain text).
fn hit_of(f: &Finding) -> Hit {
    Hit {
        span: f.start as usize..f.end as usize,
        rule: f.rule.clone(),
        confidence: f.confidence,
    }
}

/// Applies sorted, disjoint `edits` and removes `deletions` (edits inside a deleted
/// range are skipped).
pub(crate) fn splice(
    input: &[u8],
    edits: Vec<(Range<usize>, Vec<u8>)>,
    deletions: &[Range<usize>],
) -> Vec<u8> {
    // Deletions by start, with the furthest end reached so far: an edit is inside
    // one when some deletion starting at or before it ends at or after it. (One
    // binary search per edit: a file with many dropped records and many edits
    // compared every edit with every deletion, 3.4 s for 100k records.)
    let mut by_start: Vec<&Range<usize>> = deletions.iter().collect();
    by_start.sort_by_key(|d| d.start);
    let reach: Vec<usize> = by_start
        .iter()
        .scan(0, |end, d| {
            *end = (*end).max(d.end);
            Some(*end)
        })
        .collect();
    let inside_deletion = |r: &Range<usize>| {
        let k = by_start.partition_point(|d| d.start <= r.start);
        k > 0 && reach[k - 1] >= r.end
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
