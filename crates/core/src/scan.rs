//! Scanning a set of inputs: walk, read, detect the format, scan in parallel and
//! collect findings in a deterministic order (path, then offset).
//!
//! Compressed streams are decompressed and scanned as the format inside
//! (`data.jsonl.zst` is JSON Lines); archive members are scanned one by one, each
//! with its own format and its own outcome, named `archive.zip!dir/member.jsonl`.
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
use crate::format::{self, json, FieldFilter, Format};
use crate::read::{self, archive, decompress, Limits, ReadError};
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
    /// Force a format instead of detecting it. A record or text format applies to
    /// the data inside compressed streams too (which are still recognised by their
    /// magic bytes); a compressed or archive format applies to the input itself.
    pub input_format: Option<Format>,
    /// Scan only these fields of record formats (`--fields`).
    pub fields: Option<FieldFilter>,
    /// Limits on decompression and archive nesting.
    pub limits: Limits,
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
            fields: None,
            limits: Limits::default(),
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

/// The result for one input (a file, stdin, or an archive member).
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// Display path (`archive.zip!dir/member.jsonl` for archive members).
    pub path: Arc<str>,
    /// Bytes scanned (decompressed).
    pub bytes: u64,
    /// Findings, sorted by offset.
    pub findings: Vec<Finding>,
    /// Status.
    pub status: FileStatus,
    /// Problems that did not stop the file (a malformed record, ...).
    pub warnings: Vec<String>,
}

impl FileOutcome {
    fn new(path: Arc<str>) -> Self {
        FileOutcome {
            path,
            bytes: 0,
            findings: Vec::new(),
            status: FileStatus::Scanned,
            warnings: Vec::new(),
        }
    }

    fn error(path: Arc<str>, message: String) -> Self {
        FileOutcome {
            status: FileStatus::Error(message),
            ..FileOutcome::new(path)
        }
    }
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
/// the byte count of each finished input as read (compressed size for compressed
/// inputs). Outcomes are sorted by path (archive
/// members follow their archive).
pub fn scan_inputs(
    inputs: &[Input],
    scanner: &Scanner,
    opts: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ScanReport {
    let per_file: Vec<(Vec<FileOutcome>, Vec<RuleStats>)> = inputs
        .par_iter()
        .map(|input| {
            let (outcomes, stats, read) = scan_input(input, scanner, opts);
            progress(read);
            (outcomes, stats)
        })
        .collect();
    let mut report = ScanReport::default();
    if opts.stats {
        report.stats = vec![RuleStats::default(); scanner.rule_count()];
    }
    for (files, stats) in per_file {
        merge_stats(&mut report.stats, &stats);
        report.files.extend(files);
    }
    if !opts.stats {
        report.stats.clear();
    }
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Scans one input; also returns the number of bytes read.
fn scan_input(
    input: &Input,
    scanner: &Scanner,
    opts: &ScanOptions,
) -> (Vec<FileOutcome>, Vec<RuleStats>, u64) {
    let path: Arc<str> = Arc::from(input.display());
    let content = match input {
        Input::Stdin => read::read_all(std::io::stdin().lock()),
        Input::File(p) => read::read_file(p, opts.mmap_threshold),
    };
    match content {
        Ok(content) => {
            let (outcomes, stats) = scan_bytes(path, &content, scanner, opts);
            (outcomes, stats, content.len() as u64)
        }
        Err(e) => (vec![FileOutcome::error(path, e.to_string())], Vec::new(), 0),
    }
}

/// Scans the bytes of one input named `path` (the name also drives format
/// detection). Returns one outcome for the input, or one per member for an
/// archive (members that fail have their own error outcome; the rest go on).
pub fn scan_bytes(
    path: Arc<str>,
    bytes: &[u8],
    scanner: &Scanner,
    opts: &ScanOptions,
) -> (Vec<FileOutcome>, Vec<RuleStats>) {
    let mut layer = Layer {
        scanner,
        opts,
        remaining: opts.limits.max_total_size,
        outcomes: Vec::new(),
        stats: Vec::new(),
    };
    let name = path.to_string();
    layer.scan(path, &name, bytes, Depth::default(), opts.input_format);
    (layer.outcomes, layer.stats)
}

/// Scans `bytes` as `format` (containers inside are still recognised).
pub fn scan_bytes_as(
    path: Arc<str>,
    bytes: &[u8],
    format: Format,
    scanner: &Scanner,
    opts: &ScanOptions,
) -> (Vec<FileOutcome>, Vec<RuleStats>) {
    let opts = ScanOptions {
        input_format: Some(format),
        ..opts.clone()
    };
    scan_bytes(path, bytes, scanner, &opts)
}

/// Nesting of containers so far (scan and redaction).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Depth {
    pub(crate) archives: usize,
    pub(crate) streams: usize,
}

/// Compressed streams nested in one another deeper than this are refused.
pub(crate) const MAX_STREAM_NESTING: usize = 4;

/// The state of the scan of one input across its layers (streams, members).
struct Layer<'s> {
    scanner: &'s Scanner,
    opts: &'s ScanOptions,
    remaining: u64,
    outcomes: Vec<FileOutcome>,
    stats: Vec<RuleStats>,
}

impl Layer<'_> {
    fn scan(
        &mut self,
        path: Arc<str>,
        name: &str,
        bytes: &[u8],
        depth: Depth,
        forced: Option<Format>,
    ) {
        let fmt = choose_format(forced, name, bytes, depth);
        if fmt.is_compression() {
            if depth.streams >= MAX_STREAM_NESTING {
                let msg = format!(
                    "compressed streams nested deeper than {MAX_STREAM_NESTING}; not scanned"
                );
                self.outcomes.push(FileOutcome::error(path, msg));
                return;
            }
            let inner_name = format::strip_compression_ext(name);
            let depth = Depth {
                streams: depth.streams + 1,
                ..depth
            };
            // A forced compression format applies to the outer stream only.
            let forced = forced.filter(|f| !f.is_compression() && !f.is_archive());
            self.scan_stream(path, fmt, &inner_name, bytes, depth, forced);
            return;
        }
        if fmt.is_archive() {
            self.scan_archive(path, fmt, bytes, depth);
            return;
        }
        let mut outcome = FileOutcome::new(path.clone());
        outcome.bytes = bytes.len() as u64;
        if !self.opts.binary && !fmt.is_binary_container() && read::looks_binary(bytes) {
            outcome.status = FileStatus::SkippedBinary;
            outcome.bytes = 0;
            self.outcomes.push(outcome);
            return;
        }
        let ctx = ScanCtx {
            scanner: self.scanner,
            config: &self.opts.engine,
            fields: self.opts.fields.as_ref(),
            chunk_size: self.opts.chunk_size,
            stats: self.opts.stats,
        };
        // Third-party decoders (Parquet) must not take the run down on hostile
        // input: a panic becomes an error for this input.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan_format(fmt, bytes, &ctx)
        }))
        .unwrap_or_else(|_| FormatOutput {
            error: Some(format!("{fmt} reader failed on malformed input")),
            ..FormatOutput::default()
        });
        merge_stats(&mut self.stats, &result.stats);
        outcome.warnings = result.warnings;
        if let Some(e) = result.error {
            outcome.status = FileStatus::Error(e);
        }
        outcome.findings = to_findings(&path, self.scanner, bytes, result.hits);
        self.outcomes.push(outcome);
    }

    /// A compressed stream named `name` inside. Decoded block by block: JSON Lines
    /// are scanned as the blocks come ([`Layer::scan_lines_stream`]), so memory
    /// holds a few blocks and not the stream; any other format inside (and a
    /// stream of at most one block) is decoded in full and scanned as that format.
    fn scan_stream(
        &mut self,
        path: Arc<str>,
        fmt: Format,
        name: &str,
        bytes: &[u8],
        depth: Depth,
        forced: Option<Format>,
    ) {
        let mut stream =
            match decompress::Stream::open(fmt, bytes, &self.opts.limits, self.remaining) {
                Ok(stream) => stream,
                Err(e) => return self.outcomes.push(FileOutcome::error(path, e.to_string())),
            };
        let block = self.opts.chunk_size.max(MIN_STREAM_BLOCK);
        let mut head = Vec::new();
        let read = |stream: &mut decompress::Stream<'_>, into: &mut Vec<u8>, want: usize| {
            guarded_fill(fmt, stream, into, want)
        };
        if let Err(e) = read(&mut stream, &mut head, block) {
            return self.outcomes.push(FileOutcome::error(path, e.to_string()));
        }
        // As much as format detection would look at in the whole stream.
        let sniffed = format::detect(name, &head[..head.len().min(read::BINARY_SNIFF_LEN)]);
        if forced.is_none()
            && refine_candidate(sniffed, name)
            && head.len() == block
            && head.len() < LINES_SNIFF_LEN
        {
            let more = LINES_SNIFF_LEN - head.len();
            if let Err(e) = read(&mut stream, &mut head, more) {
                return self.outcomes.push(FileOutcome::error(path, e.to_string()));
            }
        }
        let ended = head.len() < block;
        let inner = choose_format(forced, name, &head, depth);
        let binary = !self.opts.binary && read::looks_binary(&head);
        if !binary && !ended {
            match inner {
                Format::Jsonl => return self.scan_lines_stream(path, fmt, stream, head),
                Format::Text => return self.scan_text_stream(path, fmt, stream, head),
                _ => {}
            }
        }
        if !ended {
            if let Err(e) = read(&mut stream, &mut head, usize::MAX) {
                return self.outcomes.push(FileOutcome::error(path, e.to_string()));
            }
        }
        self.remaining = self.remaining.saturating_sub(stream.total());
        self.scan(path, name, &head, depth, forced);
    }

    /// JSON Lines decompressed from `stream` (whose first bytes are `head`): each
    /// block is scanned up to its last newline while the next block is decoded, on
    /// a thread of its own when the run has more than one. Findings, records and
    /// lines are numbered as in the whole stream; a stream that breaks or passes a
    /// limit midway keeps the findings before that point and ends in an error.
    fn scan_lines_stream(
        &mut self,
        path: Arc<str>,
        fmt: Format,
        mut stream: decompress::Stream<'_>,
        head: Vec<u8>,
    ) {
        let (block, chunk_size) = stream_sizes(self.opts.chunk_size);
        let ctx = ScanCtx {
            scanner: self.scanner,
            config: &self.opts.engine,
            fields: self.opts.fields.as_ref(),
            chunk_size,
            stats: self.opts.stats,
        };
        let mut parts = LineParts::new(path.clone(), ctx);
        let mut carry = Vec::new();
        let mut total = 0u64;
        // `carry` holds no newline between calls: only the new data is searched for
        // one (a line longer than many blocks costs no repeated search).
        let mut feed = |parts: &mut LineParts<'_>, carry: &mut Vec<u8>, data: Vec<u8>| {
            total += data.len() as u64;
            let last_newline = memchr::memrchr(b'\n', &data).map(|nl| carry.len() + nl);
            if carry.is_empty() {
                *carry = data;
            } else {
                carry.extend_from_slice(&data);
            }
            if let Some(nl) = last_newline {
                let rest = carry.split_off(nl + 1);
                parts.scan(&std::mem::replace(carry, rest));
            }
        };
        // The head's complete lines first.
        feed(&mut parts, &mut carry, head);
        let failed = decode_blocks(fmt, &mut stream, block, |d| feed(&mut parts, &mut carry, d));
        // A last line without a newline.
        if failed.is_none() && !carry.is_empty() {
            parts.scan(&carry);
        }
        format::jsonl::note_unlisted(&mut parts.warnings, parts.malformed);
        let mut outcome = FileOutcome::new(path);
        outcome.findings = parts.findings;
        outcome.warnings = parts.warnings;
        self.finish_stream(outcome, total, &parts.stats, failed);
    }

    /// Records a streamed input: its size, statistics, and the error that ended
    /// it early, if any.
    fn finish_stream(
        &mut self,
        mut outcome: FileOutcome,
        total: u64,
        stats: &[RuleStats],
        failed: Option<ReadError>,
    ) {
        self.remaining = self.remaining.saturating_sub(total);
        merge_stats(&mut self.stats, stats);
        outcome.bytes = total;
        if let Some(e) = failed {
            outcome.status = FileStatus::Error(e.to_string());
        }
        self.outcomes.push(outcome);
    }

    /// Plain text decompressed from `stream` (whose first bytes are `head`),
    /// scanned as the blocks come: the candidates of each block are confirmed
    /// once the stream holds [`Scanner::max_reach`] bytes past them, and the text
    /// kept is only that much before the next candidate, so findings equal those
    /// of the whole stream and memory holds a few blocks.
    fn scan_text_stream(
        &mut self,
        path: Arc<str>,
        fmt: Format,
        mut stream: decompress::Stream<'_>,
        head: Vec<u8>,
    ) {
        let (block, chunk_size) = stream_sizes(self.opts.chunk_size);
        let opts = ScanOptions {
            engine: self.opts.engine.clone(),
            chunk_size,
            stats: self.opts.stats,
            ..ScanOptions::default()
        };
        let mut text = TextParts {
            scanner: self.scanner,
            opts: &opts,
            reach: self.scanner.max_reach(),
            buf: head,
            start: 0,
            scanned: 0,
            line: 1,
            column: 0,
            hits: Vec::new(),
            stats: Vec::new(),
        };
        text.scan(false);
        let failed = decode_blocks(fmt, &mut stream, block, |d| {
            text.buf.extend_from_slice(&d);
            text.scan(false);
        });
        if failed.is_none() {
            text.scan(true);
        }
        let total = (text.start + text.buf.len()) as u64;
        let mut outcome = FileOutcome::new(path.clone());
        outcome.findings = to_findings(&path, self.scanner, &[], text.hits);
        self.finish_stream(outcome, total, &text.stats, failed);
    }

    fn scan_archive(&mut self, path: Arc<str>, fmt: Format, bytes: &[u8], depth: Depth) {
        if depth.archives >= self.opts.limits.max_archive_depth {
            let e = ReadError::TooDeep(self.opts.limits.max_archive_depth);
            self.outcomes.push(FileOutcome::error(path, e.to_string()));
            return;
        }
        let depth = Depth {
            archives: depth.archives + 1,
            ..depth
        };
        let before = self.outcomes.len();
        let limits = self.opts.limits;
        let mut remaining = self.remaining;
        // Members are scanned as they come, so memory holds one member at a time.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            archive::for_each_member(fmt, bytes, &limits, &mut remaining, |name, data, rem| {
                self.remaining = *rem;
                let member_path: Arc<str> = Arc::from(format!("{path}!{name}"));
                match data {
                    Ok(data) => self.scan(member_path, name, &data, depth, None),
                    Err(e) => self
                        .outcomes
                        .push(FileOutcome::error(member_path, e.to_string())),
                }
                *rem = self.remaining;
            })
        }))
        .unwrap_or_else(|_| {
            Err(ReadError::Corrupt {
                format: decompress::format_name(fmt),
                message: "archive reader failed on malformed input".into(),
            })
        });
        self.remaining = remaining;
        if let Err(e) = result {
            self.outcomes.push(FileOutcome::error(path, e.to_string()));
        } else if self.outcomes.len() == before {
            // An empty archive was still read in full.
            self.outcomes.push(FileOutcome::new(path));
        }
    }
}

/// Blocks of a decompressed stream are at least this large (`--chunk-size` sets
/// them).
const MIN_STREAM_BLOCK: usize = 64 << 10;

/// Fills `into` from `stream`; a decoder that panics on hostile input is an error
/// for this input, not the end of the run.
fn guarded_fill(
    fmt: Format,
    stream: &mut decompress::Stream<'_>,
    into: &mut Vec<u8>,
    want: usize,
) -> Result<usize, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stream.fill(into, want)))
        .unwrap_or_else(|_| {
            Err(ReadError::Corrupt {
                format: decompress::format_name(fmt),
                message: "decoder failed on malformed input".into(),
            })
        })
}

/// Decoded blocks of a stream of `block` bytes: the decoding runs on a thread of
/// its own while `feed` scans the previous block, unless the current pool has one
/// thread (`-j1` starts no thread). Returns the error that ended the stream early.
fn decode_blocks(
    fmt: Format,
    stream: &mut decompress::Stream<'_>,
    block: usize,
    mut feed: impl FnMut(Vec<u8>),
) -> Option<ReadError> {
    let next = |stream: &mut decompress::Stream<'_>| {
        let mut data = Vec::with_capacity(block);
        guarded_fill(fmt, stream, &mut data, block).map(|_| data)
    };
    if rayon::current_num_threads() > 1 {
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            s.spawn(move || loop {
                let data = next(stream);
                let last = !matches!(&data, Ok(d) if !d.is_empty());
                if tx.send(data).is_err() || last {
                    break;
                }
            });
            for data in rx {
                match data {
                    Ok(d) if d.is_empty() => break,
                    Ok(d) => feed(d),
                    Err(e) => return Some(e),
                }
            }
            None
        })
    } else {
        loop {
            match next(stream) {
                Ok(d) if d.is_empty() => return None,
                Ok(d) => feed(d),
                Err(e) => return Some(e),
            }
        }
    }
}

/// Decoded bytes per block of a stream (one chunk, `--chunk-size`), and the chunks
/// a block is scanned in: four per thread, so that the threads finish a block
/// together (with one chunk each, one would wait for the other at every block).
/// One block is decoded while the previous is scanned.
fn stream_sizes(chunk_size: usize) -> (usize, usize) {
    let threads = rayon::current_num_threads();
    let block = chunk_size.max(MIN_STREAM_BLOCK);
    (block, (block / (4 * threads)).max(1))
}

/// The state of a streamed text input: the part of the stream still needed.
struct TextParts<'a> {
    scanner: &'a Scanner,
    opts: &'a ScanOptions,
    /// [`Scanner::max_reach`].
    reach: usize,
    /// Stream bytes from offset `start` on.
    buf: Vec<u8>,
    start: usize,
    /// Candidates starting before this stream offset are confirmed.
    scanned: usize,
    /// Line (1-based) of `buf[0]`, and its byte column (0-based).
    line: u64,
    column: u64,
    hits: Vec<Hit>,
    stats: Vec<RuleStats>,
}

impl TextParts<'_> {
    /// Confirms the candidates whose windows the buffer now holds (all of them at
    /// the end of the stream), then forgets what no later candidate can reach.
    fn scan(&mut self, last: bool) {
        let end = self.start + self.buf.len();
        let upto = if last {
            end
        } else {
            end.saturating_sub(self.reach)
        };
        if upto > self.scanned {
            let range = self.scanned - self.start..upto - self.start;
            let matches =
                scan_text_range(&self.buf, range, self.scanner, self.opts, &mut self.stats);
            let mut lines = LineCounter::new(&self.buf);
            for m in matches {
                let (line, col) = lines.locate(m.start);
                let col = if line == 1 { col + self.column } else { col };
                let shift = |r: Range<usize>| r.start + self.start..r.end + self.start;
                self.hits.push(Hit {
                    value: self.buf[m.start..m.end].to_vec(),
                    record: None,
                    field: None,
                    row_group: None,
                    line_col: Some((line + self.line - 1, col)),
                    m: Match {
                        start: m.start + self.start,
                        end: m.end + self.start,
                        match_span: shift(m.match_span.clone()),
                        ..m
                    },
                });
            }
            self.scanned = upto;
        }
        let keep = self.scanned.saturating_sub(self.reach).max(self.start);
        let cut = keep - self.start;
        if cut > 0 {
            let gone = &self.buf[..cut];
            match memchr::memrchr(b'\n', gone) {
                Some(nl) => {
                    self.line += memchr::memchr_iter(b'\n', gone).count() as u64;
                    self.column = (cut - nl - 1) as u64;
                }
                None => self.column += cut as u64,
            }
            self.buf.drain(..cut);
            self.start = keep;
        }
    }
}

/// What the parts of a streamed JSON Lines input add up to.
struct LineParts<'a> {
    path: Arc<str>,
    ctx: ScanCtx<'a>,
    /// Bytes and lines before the next part.
    offset: u64,
    records: u64,
    findings: Vec<Finding>,
    warnings: Vec<String>,
    malformed: usize,
    stats: Vec<RuleStats>,
}

impl<'a> LineParts<'a> {
    fn new(path: Arc<str>, ctx: ScanCtx<'a>) -> Self {
        LineParts {
            path,
            ctx,
            offset: 0,
            records: 0,
            findings: Vec::new(),
            warnings: Vec::new(),
            malformed: 0,
            stats: Vec::new(),
        }
    }

    /// Scans the next part (whole lines, or the last line) of the stream.
    fn scan(&mut self, part: &[u8]) {
        if part.is_empty() {
            return;
        }
        let (out, newlines) = format::jsonl::scan_lines_from(part, &self.ctx, self.records);
        merge_stats(&mut self.stats, &out.stats);
        self.malformed += out.malformed;
        for w in out.warnings {
            if self.warnings.len() < format::jsonl::MAX_WARNINGS {
                self.warnings.push(w);
            }
        }
        let mut found = to_findings(&self.path, self.ctx.scanner, part, out.hits);
        for f in &mut found {
            f.start += self.offset;
            f.end += self.offset;
        }
        self.findings.extend(found);
        self.offset += part.len() as u64;
        self.records += newlines.unwrap_or_else(|| memchr::memchr_iter(b'\n', part).count() as u64);
    }
}

/// The format of one layer named `name` whose bytes start with `bytes`, forced or
/// detected: a forced compression or archive format applies to the outer layer
/// only, a forced record format yields to the magic bytes of a stream or archive.
/// Redaction decides its layers this way; the scan also refines the detection
/// ([`choose_format`]).
pub(crate) fn layer_format(
    forced: Option<Format>,
    name: &str,
    bytes: &[u8],
    depth: Depth,
) -> Format {
    let head = &bytes[..bytes.len().min(read::BINARY_SNIFF_LEN)];
    match forced {
        Some(f) if f.is_compression() || f.is_archive() => {
            if depth.streams == 0 && depth.archives == 0 {
                f
            } else {
                format::detect(name, head)
            }
        }
        Some(f) => match format::detect_magic(head) {
            Some(m) if m.is_compression() || m.is_archive() => m,
            _ => f,
        },
        None => format::detect(name, head),
    }
}

/// The format of `bytes` (all of an input or member, or the first block of a
/// decompressed stream) named `name`: [`layer_format`], with JSON Lines told from
/// a JSON document or text by their first lines when no format is forced.
fn choose_format(forced: Option<Format>, name: &str, bytes: &[u8], depth: Depth) -> Format {
    let fmt = layer_format(forced, name, bytes, depth);
    if forced.is_none() {
        refine(fmt, name, bytes)
    } else {
        fmt
    }
}

/// Looks further than the detection head when JSON Lines have long lines: a `.json`
/// or extensionless file whose first line (up to [`LINES_SNIFF_LEN`]) is a whole
/// JSON value followed by more lines is JSON Lines.
fn refine(fmt: Format, name: &str, bytes: &[u8]) -> Format {
    let head = &bytes[..bytes.len().min(LINES_SNIFF_LEN)];
    if refine_candidate(fmt, name)
        && bytes.len() > read::BINARY_SNIFF_LEN
        && json::looks_like_lines(head)
    {
        Format::Jsonl
    } else {
        fmt
    }
}

/// Whether [`refine`] may turn `fmt`, detected for `name`, into JSON Lines.
fn refine_candidate(fmt: Format, name: &str) -> bool {
    let unknown_ext = !format::file_name(name).contains('.');
    fmt == Format::Json || (fmt == Format::Text && unknown_ext)
}

/// How far [`refine`] looks for the end of a first JSON line.
const LINES_SNIFF_LEN: usize = 4 << 20;

fn scan_format(fmt: Format, bytes: &[u8], ctx: &ScanCtx<'_>) -> FormatOutput {
    match fmt {
        Format::Jsonl => format::jsonl::scan_lines(bytes, ctx),
        Format::Json => json::scan_document(bytes, ctx, json::Mode::Document),
        Format::Ipynb => json::scan_document(bytes, ctx, json::Mode::Notebook),
        Format::Csv => format::csv::scan(bytes, format::csv::Dialect::CSV, ctx),
        Format::Tsv => format::csv::scan(bytes, format::csv::Dialect::TSV, ctx),
        Format::Parquet => format::parquet::scan(bytes, ctx),
        _ => {
            let mut out = FormatOutput::default();
            let matches = ctx.scan_text(bytes, &mut out.stats);
            let map = format::OffsetMap::Identity { base: 0 };
            out.hits = matches
                .into_iter()
                .map(|m| json::hit_at(bytes, &map, m, None, None))
                .collect();
            out
        }
    }
}

/// What a format scan needs: the scanner and the options that matter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanCtx<'a> {
    pub(crate) scanner: &'a Scanner,
    pub(crate) config: &'a ScanConfig,
    pub(crate) fields: Option<&'a FieldFilter>,
    pub(crate) chunk_size: usize,
    pub(crate) stats: bool,
}

impl ScanCtx<'_> {
    /// Scans one view (at most a batch) in one call.
    pub(crate) fn scan(&self, hay: &[u8], stats: &mut Vec<RuleStats>) -> Vec<Match> {
        let (m, s) = scan_range(hay, 0..hay.len(), self.scanner, self.config, self.stats);
        merge_stats(stats, &s);
        m
    }

    /// Scans plain text, in parallel chunks when it is large.
    pub(crate) fn scan_text(&self, hay: &[u8], stats: &mut Vec<RuleStats>) -> Vec<Match> {
        let opts = ScanOptions {
            engine: self.config.clone(),
            chunk_size: self.chunk_size,
            stats: self.stats,
            ..ScanOptions::default()
        };
        scan_text(hay, self.scanner, &opts, stats)
    }
}

/// A match located in the input: raw offsets in `m`, the value as scanned.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) m: Match,
    pub(crate) value: Vec<u8>,
    pub(crate) record: Option<u64>,
    pub(crate) field: Option<String>,
    pub(crate) row_group: Option<u64>,
    /// Line and column of the value, when the format knows them (JSON Lines) or
    /// when they are not those of `m.start` in the input bytes (Parquet values).
    pub(crate) line_col: Option<(u64, u64)>,
}

/// What a format scan gives.
#[derive(Debug, Default)]
pub(crate) struct FormatOutput {
    pub(crate) hits: Vec<Hit>,
    pub(crate) warnings: Vec<String>,
    pub(crate) stats: Vec<RuleStats>,
    /// The input could not be read as its format at all.
    pub(crate) error: Option<String>,
    /// Records that were malformed.
    pub(crate) malformed: usize,
}

fn to_findings(
    path: &Arc<str>,
    scanner: &Scanner,
    bytes: &[u8],
    mut hits: Vec<Hit>,
) -> Vec<Finding> {
    if hits.iter().all(|h| h.row_group.is_none()) {
        // Offsets in the input: the output order is the offset order.
        hits.sort_by_key(|h| (h.m.start, h.m.end, h.m.rule));
    } else {
        // Offsets inside values (Parquet): order by row group, row, column.
        hits.sort_by(|a, b| {
            (
                a.row_group,
                a.record,
                &a.field,
                a.m.start,
                a.m.end,
                a.m.rule,
            )
                .cmp(&(
                    b.row_group,
                    b.record,
                    &b.field,
                    b.m.start,
                    b.m.end,
                    b.m.rule,
                ))
        });
    }
    hits.dedup_by(|b, a| {
        a.m.rule == b.m.rule
            && a.m.start == b.m.start
            && a.m.end == b.m.end
            && a.record == b.record
            && a.field == b.field
            && a.row_group == b.row_group
    });
    let mut lines = LineCounter::new(bytes);
    hits.into_iter()
        .map(|h| {
            let (line, column) = h.line_col.unwrap_or_else(|| lines.locate(h.m.start));
            Finding {
                path: path.clone(),
                rule: scanner.rule(h.m.rule).clone(),
                start: h.m.start as u64,
                end: h.m.end as u64,
                line,
                column,
                record: h.record,
                field: h.field,
                row_group: h.row_group,
                confidence: h.m.confidence,
                reason: h.m.reason,
                dropped: h.m.dropped,
                value: h.value,
            }
        })
        .collect()
}

/// Scans one text haystack, in parallel chunks when it is large.
pub fn scan_text(
    hay: &[u8],
    scanner: &Scanner,
    opts: &ScanOptions,
    stats: &mut Vec<RuleStats>,
) -> Vec<Match> {
    scan_text_range(hay, 0..hay.len(), scanner, opts, stats)
}

/// Scans the candidates that start in `range` of `hay` (windows may read the
/// rest of `hay`), in parallel chunks when it is large; matches sorted by offset.
fn scan_text_range(
    hay: &[u8],
    range: Range<usize>,
    scanner: &Scanner,
    opts: &ScanOptions,
    stats: &mut Vec<RuleStats>,
) -> Vec<Match> {
    let chunks: Vec<Range<usize>> = chunk_ranges(&hay[range.clone()], opts.chunk_size)
        .into_iter()
        .map(|c| c.start + range.start..c.end + range.start)
        .collect();
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

pub(crate) fn merge_stats(acc: &mut Vec<RuleStats>, s: &[RuleStats]) {
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
/// (or at the end), so that no line is split between two chunks, unless a line is
/// longer than another `size` bytes: then the cut falls inside it (a file that is
/// one long line is still scanned in parallel). Cutting anywhere is sound: the
/// engine confirms candidates near a chunk's edges with windows that reach into
/// the neighbouring chunk, and the matches both chunks report are de-duplicated.
pub fn chunk_ranges(hay: &[u8], size: usize) -> Vec<Range<usize>> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while hay.len() - start > size {
        let from = start + size;
        let look = (from + size).min(hay.len());
        let cut = match memchr::memchr(b'\n', &hay[from..look]) {
            Some(i) => from + i + 1,
            None if look == hay.len() => hay.len(),
            None => from,
        };
        out.push(start..cut);
        start = cut;
    }
    if start < hay.len() || out.is_empty() {
        out.push(start..hay.len());
    }
    out
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
        // a line longer than two chunks is cut inside
        assert_eq!(
            chunk_ranges(b"no newline at all...", 6),
            vec![0..6, 6..12, 12..20]
        );
        assert_eq!(chunk_ranges(b"no newline\nat all", 6), vec![0..11, 11..17]);
    }

    #[test]
    fn a_single_long_line_scanned_in_chunks_gives_the_same_findings() {
        let scanner = tok_scanner();
        let mut hay = Vec::new();
        for i in 0..500 {
            hay.extend_from_slice("x".repeat(i % 37).as_bytes());
            hay.extend_from_slice(format!(" tok_abcdefgh{i:08} ").as_bytes());
        }
        assert!(!hay.contains(&b'\n'));
        let whole = ScanOptions {
            chunk_size: 1 << 30,
            ..ScanOptions::default()
        };
        let chunked = ScanOptions {
            chunk_size: 97,
            ..ScanOptions::default()
        };
        assert!(chunk_ranges(&hay, 97).len() > 100);
        let a = scan_text(&hay, &scanner, &whole, &mut Vec::new());
        let b = scan_text(&hay, &scanner, &chunked, &mut Vec::new());
        assert_eq!(a.len(), 500);
        assert_eq!(a, b);
    }

    /// JSON Lines of `n` records, some with a token, some malformed, the last
    /// without a newline.
    fn token_lines(n: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            let line = match i % 7 {
                0 => format!("{{\"id\":{i},\"text\":\"key tok_abcdefgh{i:08} here\"}}"),
                3 => format!("{{\"id\":{i},\"text\":\"broken tok_zyxwvuts{i:08}"),
                _ => format!(
                    "{{\"id\":{i},\"text\":\"{}\"}}",
                    "plain words ".repeat(i % 23)
                ),
            };
            data.extend_from_slice(line.as_bytes());
            if i + 1 < n {
                data.push(b'\n');
            }
        }
        data
    }

    fn tok_scanner() -> Scanner {
        crate::engine::scanner_with(
            r#"
[[rule]]
id = "t.tok"
name = "test token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '\btok_[a-z]{8}[0-9]{8}\b'
"#,
        )
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// The outcomes of `bytes` named `name`, scanned on a pool of `threads`.
    fn scan_on(
        threads: usize,
        name: &str,
        bytes: &[u8],
        scanner: &Scanner,
        opts: &ScanOptions,
    ) -> Vec<FileOutcome> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| scan_bytes(name.into(), bytes, scanner, opts).0)
    }

    /// (start, end, line, column, record, field) of every finding.
    type Located = (u64, u64, u64, u64, Option<u64>, Option<String>);

    fn located(o: &FileOutcome) -> Vec<Located> {
        let f = &o.findings;
        f.iter()
            .map(|f| (f.start, f.end, f.line, f.column, f.record, f.field.clone()))
            .collect()
    }

    #[test]
    fn compressed_json_lines_streamed_in_blocks_match_the_plain_file() {
        let scanner = tok_scanner();
        let data = token_lines(6000);
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        // blocks of 64 KiB at least: many blocks, each cut inside a line
        assert!(data.len() > 6 * MIN_STREAM_BLOCK);
        let plain = scan_bytes("d.jsonl".into(), &data, &scanner, &opts).0;
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].findings.len(), 6000 / 7 * 2 + 1);
        let packed = gzip(&data);
        for threads in [1, 2] {
            let streamed = scan_on(threads, "d.jsonl.gz", &packed, &scanner, &opts);
            assert_eq!(streamed.len(), 1);
            let s = &streamed[0];
            assert_eq!(s.status, FileStatus::Scanned, "{threads} threads");
            assert_eq!(s.bytes, data.len() as u64);
            assert_eq!(located(s), located(&plain[0]), "{threads} threads");
            assert_eq!(s.warnings, plain[0].warnings);
            for f in &s.findings {
                assert_eq!(&data[f.start as usize..f.end as usize], &f.value[..]);
            }
        }
    }

    #[test]
    fn compressed_text_streamed_in_blocks_matches_the_plain_file() {
        let scanner = tok_scanner();
        // Tokens at every offset modulo 97: lines of 50 tokens (~3.5 KB), then
        // one last line of 1000 (~70 KB, longer than a 64 KiB block, so lines and
        // columns carry across blocks).
        let mut data = Vec::new();
        let mut planted = 0;
        for i in 0..4000usize {
            data.extend_from_slice("x".repeat(i % 97).as_bytes());
            data.extend_from_slice(format!(" tok_abcdefgh{i:08} ").as_bytes());
            planted += 1;
            if i % 50 == 49 && i < 3000 {
                data.push(b'\n');
            }
        }
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        assert!(data.len() > 3 * MIN_STREAM_BLOCK);
        let plain = scan_bytes("d.txt".into(), &data, &scanner, &opts).0;
        assert_eq!(plain[0].findings.len(), planted);
        let packed = gzip(&data);
        for threads in [1, 2] {
            let streamed = scan_on(threads, "d.txt.gz", &packed, &scanner, &opts);
            let s = &streamed[0];
            assert_eq!(s.status, FileStatus::Scanned, "{threads} threads");
            assert_eq!(s.bytes, data.len() as u64);
            assert_eq!(located(s), located(&plain[0]), "{threads} threads");
            for f in &s.findings {
                assert_eq!(&data[f.start as usize..f.end as usize], &f.value[..]);
            }
        }
    }

    #[test]
    fn a_broken_stream_keeps_the_findings_before_the_break() {
        let scanner = tok_scanner();
        let data = token_lines(6000);
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        let packed = gzip(&data);
        let cut = &packed[..packed.len() * 2 / 3];
        let out = scan_bytes("d.jsonl.gz".into(), cut, &scanner, &opts).0;
        assert_eq!(out.len(), 1);
        let FileStatus::Error(e) = &out[0].status else {
            panic!("a truncated stream is an error: {:?}", out[0].status)
        };
        assert!(e.contains("gzip"), "{e}");
        let found = &out[0].findings;
        assert!(!found.is_empty() && found.len() < 6000 / 7 * 2);
        for f in found {
            assert_eq!(&data[f.start as usize..f.end as usize], &f.value[..]);
        }
        // a limit passed midway is an error too, with the findings before it
        let small = ScanOptions {
            limits: Limits {
                max_member_size: 200_000,
                ..Limits::default()
            },
            ..opts
        };
        let out = scan_bytes("d.jsonl.gz".into(), &packed, &scanner, &small).0;
        assert!(matches!(&out[0].status, FileStatus::Error(e) if e.contains("--max-member-size")));
        assert!(out[0].findings.iter().all(|f| f.end <= 200_000));
        assert!(!out[0].findings.is_empty());
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
