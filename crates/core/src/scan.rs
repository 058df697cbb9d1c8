//! Scanning a set of inputs: walk, read, detect the format, scan in parallel and
//! collect findings in a deterministic order (path, then offset).
//!
//! ```no_run
//! use datasieve::{scan::{scan_inputs, ScanOptions}, source::Input, Scanner, RuleSet};
//! let scanner = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
//! let report = scan_inputs(&[Input::File("data".into())], &scanner, &ScanOptions::default(), &|_| {});
//! println!("{} findings", report.finding_count());
//! ```

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::engine::{Match, RuleStats, ScanConfig, Scanner};
use crate::finding::Finding;
use crate::format::{self, Format, OffsetMap, Segment};
use crate::read::{self, Content};
use crate::source::Input;

/// Options of a scan run.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Engine options (threshold, explain).
    pub engine: ScanConfig,
    /// Scan files that look binary instead of skipping them.
    pub binary: bool,
    /// Files at least this large are memory-mapped.
    pub mmap_threshold: u64,
    /// Inputs larger than this are cut into chunks scanned in parallel.
    pub chunk_size: usize,
    /// Force a format instead of detecting it.
    pub input_format: Option<Format>,
    /// Collect per-rule statistics.
    pub stats: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            engine: ScanConfig::default(),
            binary: false,
            mmap_threshold: read::DEFAULT_MMAP_THRESHOLD,
            chunk_size: 8 << 20,
            input_format: None,
            stats: false,
        }
    }
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq)]
pub enum FileStatus {
    /// Scanned in full.
    Scanned,
    /// Skipped because it looks binary.
    SkippedBinary,
    /// Could not be read or parsed.
    Error(String),
}

/// The result for one input.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// Display path.
    pub path: Arc<str>,
    /// Bytes scanned.
    pub bytes: u64,
    /// Findings, sorted by offset.
    pub findings: Vec<Finding>,
    /// Status.
    pub status: FileStatus,
    /// Problems that did not stop the file (a malformed record, ...).
    pub warnings: Vec<String>,
}

/// The result of a run: one outcome per input, sorted by path.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Per input.
    pub files: Vec<FileOutcome>,
    /// Per rule counters, when asked (indexed like the scanner's rules).
    pub stats: Vec<RuleStats>,
}

impl ScanReport {
    /// Kept findings over all files.
    pub fn finding_count(&self) -> usize {
        self.findings().filter(|f| !f.dropped).count()
    }

    /// All findings in output order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.files.iter().flat_map(|f| f.findings.iter())
    }

    /// Inputs that were scanned in full.
    pub fn scanned_count(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.status == FileStatus::Scanned)
            .count()
    }

    /// Inputs that failed.
    pub fn error_count(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Error(_)))
            .count()
    }

    /// Bytes scanned.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// Scans inputs in parallel (on the current rayon pool); `progress` is called with
/// the byte count of each finished input.
pub fn scan_inputs(
    inputs: &[Input],
    scanner: &Scanner,
    opts: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ScanReport {
    let per_file: Vec<(FileOutcome, Vec<RuleStats>)> = inputs
        .par_iter()
        .map(|input| {
            let out = scan_input(input, scanner, opts);
            progress(out.0.bytes);
            out
        })
        .collect();
    let mut report = ScanReport::default();
    if opts.stats {
        report.stats = vec![RuleStats::default(); scanner.rule_count()];
    }
    for (file, stats) in per_file {
        for (acc, s) in report.stats.iter_mut().zip(stats) {
            acc.windows += s.windows;
            acc.candidates += s.candidates;
            acc.kept += s.kept;
            acc.nanos += s.nanos;
        }
        report.files.push(file);
    }
    report
}

fn scan_input(
    input: &Input,
    scanner: &Scanner,
    opts: &ScanOptions,
) -> (FileOutcome, Vec<RuleStats>) {
    let path: Arc<str> = Arc::from(input.display());
    let content = match input {
        Input::Stdin => read::read_all(std::io::stdin().lock()),
        Input::File(p) => read::read_file(p, opts.mmap_threshold),
    };
    match content {
        Ok(content) => scan_bytes(path, &content, scanner, opts),
        Err(e) => (
            FileOutcome {
                path,
                bytes: 0,
                findings: Vec::new(),
                status: FileStatus::Error(e.to_string()),
                warnings: Vec::new(),
            },
            Vec::new(),
        ),
    }
}

/// Scans the bytes of one input (a file, stdin, or an archive member) named `path`.
pub fn scan_bytes(
    path: Arc<str>,
    content: &Content,
    scanner: &Scanner,
    opts: &ScanOptions,
) -> (FileOutcome, Vec<RuleStats>) {
    let bytes: &[u8] = content;
    let mut outcome = FileOutcome {
        path: path.clone(),
        bytes: bytes.len() as u64,
        findings: Vec::new(),
        status: FileStatus::Scanned,
        warnings: Vec::new(),
    };
    let fmt = opts.input_format.unwrap_or_else(|| {
        format::detect(&path, &bytes[..bytes.len().min(read::BINARY_SNIFF_LEN)])
    });
    if !opts.binary && looks_binary_for(fmt, bytes) {
        outcome.status = FileStatus::SkippedBinary;
        outcome.bytes = 0;
        return (outcome, Vec::new());
    }
    let mut stats = Vec::new();
    let matches = match fmt {
        Format::Text => scan_text(bytes, scanner, opts, &mut stats),
    };
    let segment = Segment {
        text: bytes.into(),
        map: OffsetMap::Identity { base: 0 },
        raw: 0..bytes.len(),
        record: None,
        field: None,
    };
    let mut lines = LineCounter::new(bytes);
    outcome.findings = matches
        .into_iter()
        .map(|m| to_finding(&path, scanner, &segment, &m, &mut lines))
        .collect();
    (outcome, stats)
}

fn looks_binary_for(fmt: Format, bytes: &[u8]) -> bool {
    match fmt {
        Format::Text => read::looks_binary(bytes),
    }
}

/// Scans one text haystack, in parallel chunks when it is large.
pub fn scan_text(
    hay: &[u8],
    scanner: &Scanner,
    opts: &ScanOptions,
    stats: &mut Vec<RuleStats>,
) -> Vec<Match> {
    let chunks = chunk_ranges(hay, opts.chunk_size);
    let want_stats = opts.stats;
    let parts: Vec<(Vec<Match>, Vec<RuleStats>)> = if chunks.len() == 1 {
        vec![scan_range(
            hay,
            chunks[0].clone(),
            scanner,
            &opts.engine,
            want_stats,
        )]
    } else {
        chunks
            .into_par_iter()
            .map(|r| scan_range(hay, r, scanner, &opts.engine, want_stats))
            .collect()
    };
    let many = parts.len() > 1;
    let mut all = Vec::new();
    for (m, s) in parts {
        all.extend(m);
        merge_stats(stats, &s);
    }
    if many {
        // A match holding candidates of two chunks is reported by both.
        all.sort_by_key(|m| (m.start, m.end, m.rule));
        all.dedup_by(|b, a| a.rule == b.rule && a.start == b.start && a.end == b.end);
    }
    all
}

fn scan_range(
    hay: &[u8],
    range: Range<usize>,
    scanner: &Scanner,
    config: &ScanConfig,
    want_stats: bool,
) -> (Vec<Match>, Vec<RuleStats>) {
    let mut out = Vec::new();
    let mut stats = Vec::new();
    scanner.scan_range_into(
        hay,
        range,
        config,
        &mut out,
        want_stats.then_some(&mut stats),
    );
    (out, stats)
}

fn merge_stats(acc: &mut Vec<RuleStats>, s: &[RuleStats]) {
    if acc.len() < s.len() {
        acc.resize(s.len(), RuleStats::default());
    }
    for (a, b) in acc.iter_mut().zip(s) {
        a.windows += b.windows;
        a.candidates += b.candidates;
        a.kept += b.kept;
        a.nanos += b.nanos;
    }
}

/// Cuts `hay` into ranges of about `size` bytes, each ending just after a newline
/// (or at the end), so that no line is split between two chunks.
pub fn chunk_ranges(hay: &[u8], size: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while hay.len() - start > size {
        let cut = match memchr::memchr(b'\n', &hay[start + size..]) {
            Some(i) => start + size + i + 1,
            None => hay.len(),
        };
        out.push(start..cut);
        start = cut;
    }
    if start < hay.len() || out.is_empty() {
        out.push(start..hay.len());
    }
    out
}

/// Turns a match in a segment into a finding with raw offsets, line and column.
pub(crate) fn to_finding(
    path: &Arc<str>,
    scanner: &Scanner,
    seg: &Segment<'_>,
    m: &Match,
    lines: &mut LineCounter<'_>,
) -> Finding {
    let raw = seg.map.raw_span(m.start..m.end);
    let (line, column) = lines.locate(raw.start);
    Finding {
        path: path.clone(),
        rule: scanner.rule(m.rule).clone(),
        start: raw.start as u64,
        end: raw.end as u64,
        line,
        column,
        record: seg.record,
        field: seg.field.clone(),
        confidence: m.confidence,
        reason: m.reason,
        dropped: m.dropped,
        value: seg.text[m.start..m.end].to_vec(),
    }
}

/// Computes 1-based line and column for increasing offsets in one pass.
pub struct LineCounter<'a> {
    hay: &'a [u8],
    pos: usize,
    line: u64,
    line_start: usize,
}

impl<'a> LineCounter<'a> {
    /// A counter at the start of `hay`.
    pub fn new(hay: &'a [u8]) -> Self {
        LineCounter {
            hay,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Line and byte column of `offset`. Offsets should come in increasing order;
    /// a smaller one restarts the count.
    pub fn locate(&mut self, offset: usize) -> (u64, u64) {
        let offset = offset.min(self.hay.len());
        if offset < self.pos {
            *self = LineCounter::new(self.hay);
        }
        let part = &self.hay[self.pos..offset];
        let n = memchr::memchr_iter(b'\n', part).count();
        if n > 0 {
            self.line += n as u64;
            self.line_start = self.pos + memchr::memrchr(b'\n', part).unwrap_or(0) + 1;
        }
        self.pos = offset;
        (self.line, (offset - self.line_start) as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_on_newlines_and_cover_everything() {
        let hay = b"aaaa\nbbbb\ncccc\ndddd";
        let c = chunk_ranges(hay, 6);
        assert_eq!(c, vec![0..10, 10..hay.len()]);
        assert_eq!(chunk_ranges(b"", 4), vec![0..0]);
        assert_eq!(chunk_ranges(b"no newline at all", 3), vec![0..17]);
    }

    #[test]
    fn line_counter() {
        let hay = b"ab\ncd\n\nef";
        let mut lc = LineCounter::new(hay);
        assert_eq!(lc.locate(0), (1, 1));
        assert_eq!(lc.locate(4), (2, 2));
        assert_eq!(lc.locate(7), (4, 1));
        assert_eq!(lc.locate(1), (1, 2));
    }
}
