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

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::engine::{Match, RuleStats, ScanConfig, Scanner};
use crate::finding::Finding;
use crate::format::{self, json, FieldFilter, Format};
use crate::read::{self, archive, decompress, Limits, ReadError};
use crate::source::Input;

pub(crate) mod order;

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

/// What a streaming scan hands on, in output order (see [`scan_inputs_with`]).
#[derive(Debug)]
pub enum ScanEvent {
    /// Findings of the current input (an input, stream or archive member), in
    /// offset order; more may follow for the same input.
    Findings(Vec<Finding>),
    /// The current input is done: its status, size and warnings. Its findings
    /// came before, in `Findings` events (`findings` is empty here).
    Done(FileOutcome),
}

/// Findings held for inputs that wait for an earlier one to finish; past this,
/// the threads scanning later inputs help with the earlier one or wait.
const MAX_HELD_FINDINGS: usize = 1 << 16;

/// Events of inputs in path order: the oldest unfinished input (the head) passes
/// its events on at once, later ones are held until it is done.
struct InOrder<'a> {
    head: usize,
    held: BTreeMap<usize, Vec<ScanEvent>>,
    held_findings: usize,
    sink: &'a mut (dyn FnMut(ScanEvent) + Send),
}

impl InOrder<'_> {
    fn event(&mut self, input: usize, event: ScanEvent) {
        if input == self.head {
            (self.sink)(event);
        } else {
            if let ScanEvent::Findings(f) = &event {
                self.held_findings += f.len();
            }
            self.held.entry(input).or_default().push(event);
        }
    }

    /// Input `input` (the head) is done: the next one becomes the head.
    fn finished(&mut self, input: usize) {
        self.head = input + 1;
        for event in self.held.remove(&self.head).unwrap_or_default() {
            if let ScanEvent::Findings(f) = &event {
                self.held_findings -= f.len();
            }
            (self.sink)(event);
        }
    }

    /// Whether the scan of `input` (or the start of one more, for `None`) must
    /// wait: too many findings are held and it is not the head.
    fn must_wait(&self, input: Option<usize>) -> bool {
        self.held_findings > MAX_HELD_FINDINGS && input != Some(self.head)
    }
}

/// Scans inputs in parallel (on the current rayon pool) and hands findings and
/// outcomes to `sink` as they are confirmed, in path order (archive members follow
/// their archive, in archive order), so that memory does not grow with the number
/// of findings. `progress` is called with the byte count of each finished input
/// as read (compressed size for compressed inputs). Returns the per rule counters
/// when `opts.stats` asks for them (indexed like the scanner's rules).
///
/// Inputs are started in path order; a large file is scanned in chunks on all
/// threads and its findings leave chunk by chunk. Findings of an input that
/// finishes before an earlier one are held until then, up to a bound past which
/// the later scans wait (helping with the earlier one).
pub fn scan_inputs_with(
    inputs: &[Input],
    scanner: &Scanner,
    opts: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
    sink: &mut (dyn FnMut(ScanEvent) + Send),
) -> Vec<RuleStats> {
    let mut sorted: Vec<(String, &Input)> = inputs.iter().map(|i| (i.display(), i)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let in_order = Mutex::new(InOrder {
        head: 0,
        held: BTreeMap::new(),
        held_findings: 0,
        sink,
    });
    let lock = || in_order.lock().unwrap_or_else(|e| e.into_inner());
    let stats = Mutex::new(Vec::new());
    order::ordered(
        sorted.len(),
        |_| (),
        |i, ()| {
            let gate = || {
                while lock().must_wait(Some(i)) {
                    order::pause();
                }
            };
            let mut emit = |event| lock().event(i, event);
            let (path, input) = &sorted[i];
            let (s, read) = scan_input(path, input, scanner, opts, &mut emit, &gate);
            progress(read);
            merge_stats(&mut stats.lock().unwrap_or_else(|e| e.into_inner()), &s);
            i
        },
        |i| lock().finished(i),
        || {
            while lock().must_wait(None) {
                order::pause();
            }
        },
    );
    let mut stats = stats.into_inner().unwrap_or_else(|e| e.into_inner());
    if opts.stats {
        stats.resize(scanner.rule_count(), RuleStats::default());
    } else {
        stats.clear();
    }
    stats
}

/// Gathers the events of a scan into outcomes.
#[derive(Default)]
struct Collect {
    outcomes: Vec<FileOutcome>,
    findings: Vec<Finding>,
}

impl Collect {
    fn take(&mut self, event: ScanEvent) {
        match event {
            ScanEvent::Findings(f) => self.findings.extend(f),
            ScanEvent::Done(mut outcome) => {
                outcome.findings = std::mem::take(&mut self.findings);
                self.outcomes.push(outcome);
            }
        }
    }
}

/// Scans inputs in parallel (on the current rayon pool) and gathers the whole
/// report: [`scan_inputs_with`] keeping every finding. `progress` is called with
/// the byte count of each finished input as read. Outcomes are sorted by path
/// (archive members follow their archive).
pub fn scan_inputs(
    inputs: &[Input],
    scanner: &Scanner,
    opts: &ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> ScanReport {
    let mut collect = Collect::default();
    let stats = scan_inputs_with(inputs, scanner, opts, progress, &mut |e| collect.take(e));
    let mut report = ScanReport {
        files: collect.outcomes,
        stats,
    };
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Scans one input named `path`, handing its events to `emit`; returns the
/// statistics and the number of bytes read.
fn scan_input(
    path: &str,
    input: &Input,
    scanner: &Scanner,
    opts: &ScanOptions,
    emit: &mut (dyn FnMut(ScanEvent) + Send),
    gate: &(dyn Fn() + Sync),
) -> (Vec<RuleStats>, u64) {
    let path: Arc<str> = Arc::from(path);
    let content = match input {
        Input::Stdin => read::read_all(std::io::stdin().lock()),
        Input::File(p) => read::read_file(p, opts.mmap_threshold),
    };
    match content {
        Ok(content) => {
            let mut layer = Layer::new(scanner, opts, emit, gate);
            let name = path.to_string();
            let len = content.len() as u64;
            layer.scan_owned(path, &name, content, Depth::default(), opts.input_format);
            (layer.stats, len)
        }
        Err(e) => {
            emit(ScanEvent::Done(FileOutcome::error(path, e.to_string())));
            (Vec::new(), 0)
        }
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
    let mut collect = Collect::default();
    let mut emit = |e| collect.take(e);
    let mut layer = Layer::new(scanner, opts, &mut emit, &|| {});
    let name = path.to_string();
    layer.scan(path, &name, bytes, Depth::default(), opts.input_format);
    let stats = layer.stats;
    (collect.outcomes, stats)
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
    /// Where findings and outcomes go, in order.
    emit: &'s mut (dyn FnMut(ScanEvent) + Send),
    /// Called before each block or chunk of a large input is scanned; may wait
    /// until more findings may be handed on.
    gate: &'s (dyn Fn() + Sync),
    /// Outcomes handed on so far.
    outcomes: usize,
    /// A warning for the next outcome handed on (a stream that had to be held
    /// in memory).
    note: Option<String>,
    /// The bytes being scanned when they are owned (a whole input, a decompressed
    /// stream or zip member): Parquet in them (or in a tar member of them) reads
    /// its column chunks without copying them.
    shared: Option<bytes::Bytes>,
    stats: Vec<RuleStats>,
}

impl<'s> Layer<'s> {
    fn new(
        scanner: &'s Scanner,
        opts: &'s ScanOptions,
        emit: &'s mut (dyn FnMut(ScanEvent) + Send),
        gate: &'s (dyn Fn() + Sync),
    ) -> Self {
        Layer {
            scanner,
            opts,
            remaining: opts.limits.max_total_size,
            emit,
            gate,
            outcomes: 0,
            note: None,
            shared: None,
            stats: Vec::new(),
        }
    }

    /// Hands on an outcome with its findings.
    fn done(&mut self, mut outcome: FileOutcome) {
        if let Some(note) = self.note.take() {
            outcome.warnings.insert(0, note);
        }
        let findings = std::mem::take(&mut outcome.findings);
        if !findings.is_empty() {
            (self.emit)(ScanEvent::Findings(findings));
        }
        (self.emit)(ScanEvent::Done(outcome));
        self.outcomes += 1;
    }

    /// Scans owned bytes (see `shared`).
    fn scan_owned(
        &mut self,
        path: Arc<str>,
        name: &str,
        content: read::Content,
        depth: Depth,
        forced: Option<Format>,
    ) {
        let data = bytes::Bytes::from_owner(content);
        let outer = self.shared.replace(data.clone());
        self.scan(path, name, &data, depth, forced);
        self.shared = outer;
    }

    /// `bytes` as a slice of the shared bytes, when they are one.
    fn shared_slice(&self, bytes: &[u8]) -> Option<bytes::Bytes> {
        let shared = self.shared.as_ref()?;
        let (start, end) = (
            shared.as_ptr() as usize,
            shared.as_ptr() as usize + shared.len(),
        );
        let at = bytes.as_ptr() as usize;
        (at >= start && at + bytes.len() <= end).then(|| shared.slice_ref(bytes))
    }

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
                self.done(FileOutcome::error(path, msg));
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
            self.done(outcome);
            return;
        }
        let ctx = self.ctx(self.opts.chunk_size);
        if let Some(lines) = chunked_as_lines(fmt) {
            // (on several threads, an input of more than a piece is shared out
            // too, however the chunks fall: see `share_out`)
            let shared = rayon::current_num_threads() > 1 && bytes.len() > PARALLEL_PIECE;
            if bytes.len() > ctx.chunk_size || shared {
                return self.scan_chunked(outcome, bytes, lines, ctx);
            }
        }
        // (a chunked scan prefaults chunk by chunk; formats read whole fault in
        // as they go past a few chunks, so that reading from disk overlaps)
        if bytes.len() <= 2 * ctx.chunk_size {
            read::prefault(bytes);
        }
        if let Some(mode) = document_mode(fmt) {
            return self.scan_batches(outcome, bytes, |on_hits, gate| {
                json::scan_document_each(bytes, &ctx, mode, &mut |hits| {
                    on_hits(hits);
                    gate();
                })
            });
        }
        if let Some(dialect) = csv_dialect(fmt) {
            return self.scan_batches(outcome, bytes, |on_hits, gate| {
                let mut rows = format::csv::Rows::default();
                format::csv::scan_each(bytes, dialect, &ctx, &mut rows, &mut |hits| {
                    on_hits(hits);
                    gate();
                })
            });
        }
        if fmt == Format::Parquet {
            // Third-party decoders must not take the run down on hostile input: a
            // panic becomes an error for this input (after the findings before it).
            let owner = self.shared_slice(bytes);
            return self.scan_batches(outcome, bytes, |on_hits, gate| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    format::parquet::scan_each(bytes, owner.as_ref(), &ctx, on_hits, gate)
                }))
                .unwrap_or_else(|_| FormatOutput {
                    error: Some(format!("{fmt} reader failed on malformed input")),
                    ..FormatOutput::default()
                })
            });
        }
        // JSON Lines or text of at most one chunk.
        let result = scan_small(fmt, bytes, &ctx);
        merge_stats(&mut self.stats, &result.stats);
        outcome.warnings = result.warnings;
        let mut lines = LineCounter::new(bytes);
        outcome.findings = to_findings(&path, self.scanner, &mut lines, result.hits);
        self.done(outcome);
    }

    /// An input whose format is scanned in batches in output order (JSON
    /// documents, CSV/TSV, Parquet row groups): `scan` hands each batch's hits to
    /// its first argument, whose findings leave at once, and calls the gate (its
    /// second) where it may wait, holding no lock.
    fn scan_batches(
        &mut self,
        mut outcome: FileOutcome,
        bytes: &[u8],
        scan: impl FnOnce(&mut (dyn FnMut(Vec<Hit>) + Send), &(dyn Fn() + Sync)) -> FormatOutput,
    ) {
        let (scanner, emit, gate) = (self.scanner, &mut *self.emit, self.gate);
        let path = outcome.path.clone();
        let mut lines = LineCounter::new(bytes);
        let out = scan(
            &mut |mut hits| {
                sort_hits(&mut hits);
                emit_findings(emit, &path, scanner, &mut lines, hits);
            },
            gate,
        );
        merge_stats(&mut self.stats, &out.stats);
        outcome.warnings = out.warnings;
        if let Some(e) = out.error {
            outcome.status = FileStatus::Error(e);
        }
        self.done(outcome);
    }

    /// What a format scan of this input needs, with chunks of `chunk_size`.
    fn ctx(&self, chunk_size: usize) -> ScanCtx<'s> {
        ScanCtx {
            scanner: self.scanner,
            config: &self.opts.engine,
            fields: self.opts.fields.as_ref(),
            chunk_size,
            stats: self.opts.stats,
        }
    }

    /// The options of text scanned as a stream comes (chunks of `chunk_size`).
    fn text_opts(&self, chunk_size: usize) -> ScanOptions {
        ScanOptions {
            engine: self.opts.engine.clone(),
            chunk_size,
            stats: self.opts.stats,
            ..ScanOptions::default()
        }
    }

    /// A large JSON Lines (`lines`) or text input held whole (mapped or read): its
    /// chunks are scanned on all threads, started in order, and their findings
    /// handed on chunk by chunk, so that memory holds the findings of a few chunks
    /// and not of the input. Findings, records and lines are those of a scan of
    /// the whole input at once.
    fn scan_chunked(
        &mut self,
        mut outcome: FileOutcome,
        bytes: &[u8],
        lines: bool,
        ctx: ScanCtx<'_>,
    ) {
        let chunks = chunk_ranges(bytes, ctx.chunk_size);
        // (range, scanned as raw text): JSON Lines chunks are whole lines, but a
        // line longer than two chunks is cut, and its parts are scanned as text.
        let pieces: Vec<(Range<usize>, bool)> = if lines {
            format::jsonl::split_long_lines(bytes, &chunks)
        } else {
            chunks.into_iter().map(|c| (c, true)).collect()
        };
        let pieces = if rayon::current_num_threads() > 1 {
            share_out(bytes, pieces, lines)
        } else {
            pieces
        };
        let path = outcome.path.clone();
        let scanner = self.scanner;
        let reach = scanner.max_reach();
        let emit = &mut *self.emit;
        let mut stats = Vec::new();
        let mut warnings = Vec::new();
        let mut malformed = 0;
        // Lines of text hits: found at output (plain text), or here (parts of a
        // long JSON line, whose record is their line).
        let mut counter = LineCounter::new(bytes);
        let mut part_lines = LineCounter::new(bytes);
        let mut held = Held::new(reach, |m: &Match| m);
        let mut next = 0;
        let mut records = 0u64;
        order::ordered(
            pieces.len(),
            |i| {
                // The record number of each piece's first line, counted in order.
                let base = records;
                if lines {
                    // (the count is the piece's first read: its pages are mapped
                    // first; text pieces map theirs in parallel, below)
                    read::prefault(&bytes[pieces[i].0.clone()]);
                    records +=
                        memchr::memchr_iter(b'\n', &bytes[pieces[i].0.clone()]).count() as u64;
                }
                base
            },
            |i, base| {
                let (range, text) = pieces[i].clone();
                if !lines {
                    read::prefault(&bytes[range.clone()]);
                }
                if text {
                    let (matches, stats) =
                        scan_range(bytes, range.clone(), scanner, ctx.config, ctx.stats);
                    let mut out = FormatOutput {
                        stats,
                        ..FormatOutput::default()
                    };
                    if lines && (range.start == 0 || bytes[range.start - 1] == b'\n') {
                        out.warnings
                            .push(format::jsonl::chunk_long_line_warning(base, ctx.chunk_size));
                    }
                    (out, matches)
                } else {
                    (
                        format::jsonl::scan_chunk(bytes, range, base, &ctx),
                        Vec::new(),
                    )
                }
            },
            |(out, matches): (FormatOutput, Vec<Match>)| {
                merge_stats(&mut stats, &out.stats);
                malformed += out.malformed;
                for w in out.warnings {
                    if warnings.len() < format::jsonl::MAX_WARNINGS {
                        warnings.push(w);
                    }
                }
                let (range, text) = pieces[next].clone();
                next += 1;
                if text {
                    // Text goes on into the next piece: plain text always, the
                    // part of a long line unless it ends the line.
                    let goes_on = next < pieces.len() && (!lines || bytes[range.end - 1] != b'\n');
                    let ready = held.release(matches, goes_on.then_some(range.end));
                    // (converted lazily: emit_findings builds a batch at a time)
                    let hits = ready.into_iter().map(|m| {
                        let map = format::OffsetMap::Identity { base: 0 };
                        let mut hit = json::hit_at(bytes, &map, m, None, None);
                        if lines {
                            let (line, column) = part_lines.locate(hit.m.start);
                            hit.line_col = Some((line, column));
                            hit.record = Some(line - 1);
                        }
                        hit
                    });
                    emit_findings(emit, &path, scanner, &mut counter, hits);
                } else {
                    let mut hits = out.hits;
                    sort_hits(&mut hits);
                    emit_findings(emit, &path, scanner, &mut counter, hits);
                }
            },
            self.gate,
        );
        if lines {
            format::jsonl::note_unlisted(&mut warnings, malformed);
        }
        merge_stats(&mut self.stats, &stats);
        outcome.warnings = warnings;
        self.done(outcome);
    }

    /// A compressed stream named `name` inside. Decoded block by block: JSON Lines,
    /// text and CSV/TSV are scanned as the blocks come ([`Layer::scan_lines_stream`],
    /// [`Layer::scan_text_stream`], [`Layer::scan_csv_stream`]), so memory holds a
    /// few blocks and not the stream; any other format inside (and a stream of at
    /// most one block) is decoded in full and scanned as that format.
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
                Err(e) => return self.done(FileOutcome::error(path, e.to_string())),
            };
        let block = self.opts.chunk_size.max(MIN_STREAM_BLOCK);
        let mut head = Vec::new();
        let read = |stream: &mut decompress::Stream<'_>, into: &mut Vec<u8>, want: usize| {
            guarded_fill(fmt, stream, into, want)
        };
        if let Err(e) = read(&mut stream, &mut head, block) {
            return self.done(FileOutcome::error(path, e.to_string()));
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
                return self.done(FileOutcome::error(path, e.to_string()));
            }
        }
        let ended = head.len() < block;
        let inner = choose_format(forced, name, &head, depth);
        let binary = !self.opts.binary && read::looks_binary(&head);
        if !binary && !ended {
            match inner {
                Format::Jsonl => return self.scan_lines_stream(path, fmt, stream, head),
                Format::Text => return self.scan_text_stream(path, fmt, stream, head),
                _ => {
                    if let Some(dialect) = csv_dialect(inner) {
                        return self.scan_csv_stream(path, fmt, dialect, stream, head);
                    }
                }
            }
        }
        // Other formats are scanned whole: past `read::SPILL_AT` bytes, from a
        // mapped temporary file rather than the heap.
        let mut whole = read::Spill::new(read::SPILL_AT);
        let mut held = whole.append(&head).map_err(ReadError::spill);
        drop(head);
        if held.is_ok() && !ended {
            held = guarded(fmt, || stream.read_rest(&mut whole));
        }
        if let Err(e) = held {
            return self.done(FileOutcome::error(path, e.to_string()));
        }
        self.remaining = self.remaining.saturating_sub(stream.total());
        let note = whole.note().map(|n| format!("decompressed stream {n}"));
        let bytes = match whole.finish() {
            Ok(bytes) => bytes,
            Err(e) => return self.done(FileOutcome::error(path, e.to_string())),
        };
        self.note = note;
        self.scan_owned(path, name, bytes, depth, forced);
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
        let mut parts = LineParts::new(self.ctx(chunk_size));
        let text_opts = self.text_opts(chunk_size);
        let reach = self.scanner.max_reach();
        let mut carry = Vec::new();
        // A line longer than `MAX_LINE_CARRY`, scanned as text as it comes.
        let mut long: Option<TextParts<'_>> = None;
        let mut held = Held::new(reach, |h: &Hit| &h.m);
        let mut total = 0u64;
        let (scanner, emit, gate) = (self.scanner, &mut *self.emit, self.gate);
        let mut no_lines = LineCounter::new(&[]);
        // `carry` holds no newline between calls: only the new data is searched for
        // one (a line longer than many blocks costs no repeated search).
        let mut feed = |parts: &mut LineParts<'_>, feed: Feed| {
            let (mut data, end) = match feed {
                Feed::Data(d) => (d, false),
                Feed::End => (Vec::new(), true),
                Feed::Broken => {
                    // (findings already confirmed leave; the cut line does not)
                    let hits = held.release(Vec::new(), None);
                    emit_findings(emit, &path, scanner, &mut no_lines, hits);
                    return;
                }
            };
            total += data.len() as u64;
            loop {
                if let Some(text) = long.as_mut() {
                    let nl = memchr::memchr(b'\n', &data);
                    let line_end = nl.is_some() || end;
                    text.buf
                        .extend_from_slice(&data[..nl.map_or(data.len(), |n| n + 1)]);
                    gate();
                    text.scan(line_end);
                    let hits = held.release(
                        std::mem::take(&mut text.hits),
                        (!line_end).then_some(text.scanned),
                    );
                    let hits = hits.into_iter().map(|mut h| {
                        h.record = h.line_col.map(|(line, _)| line - 1);
                        h
                    });
                    emit_findings(emit, &path, scanner, &mut no_lines, hits);
                    if !line_end {
                        return;
                    }
                    merge_stats(&mut parts.stats, &text.stats);
                    parts.offset = (text.start + text.buf.len()) as u64;
                    parts.records += 1;
                    long = None;
                    let Some(nl) = nl else { return };
                    data.drain(..=nl);
                }
                let last_newline = memchr::memrchr(b'\n', &data).map(|nl| carry.len() + nl);
                if carry.is_empty() {
                    carry = std::mem::take(&mut data);
                } else {
                    carry.extend_from_slice(&data);
                    data.clear();
                }
                let whole = match last_newline {
                    Some(nl) => {
                        let rest = carry.split_off(nl + 1);
                        Some(std::mem::replace(&mut carry, rest))
                    }
                    // A last line without a newline.
                    None if end => Some(std::mem::take(&mut carry)),
                    None => None,
                };
                if let Some(lines) = whole {
                    gate();
                    parts.scan(&lines);
                    let hits = std::mem::take(&mut parts.hits);
                    emit_findings(emit, &path, scanner, &mut no_lines, hits);
                }
                if end || carry.len() <= MAX_LINE_CARRY {
                    return;
                }
                // A line this long is scanned as text from here on, keeping only
                // what its next candidates can reach.
                if parts.warnings.len() < format::jsonl::MAX_WARNINGS {
                    parts.warnings.push(format::jsonl::long_line_warning(
                        parts.records,
                        &format!("{MAX_LINE_CARRY} bytes in a compressed stream"),
                    ));
                }
                long = Some(TextParts::new(
                    scanner,
                    &text_opts,
                    std::mem::take(&mut carry),
                    parts.offset as usize,
                    parts.records + 1,
                ));
            }
        };
        // The head's complete lines first.
        feed(&mut parts, Feed::Data(head));
        let failed = decode_blocks(fmt, &mut stream, block, |d| feed(&mut parts, Feed::Data(d)));
        feed(
            &mut parts,
            if failed.is_none() {
                Feed::End
            } else {
                Feed::Broken
            },
        );
        format::jsonl::note_unlisted(&mut parts.warnings, parts.malformed);
        let mut outcome = FileOutcome::new(path);
        outcome.warnings = parts.warnings;
        self.finish_stream(outcome, total, &parts.stats, failed);
    }

    /// CSV or TSV decompressed from `stream` (whose first bytes are `head`),
    /// scanned a part of whole rows at a time as the blocks come (a part ends
    /// after the last row that a newline ends with no quoted cell open), with the
    /// header and record numbers carried from part to part: findings, records and
    /// lines are those of the whole stream. A row longer than [`MAX_CSV_CARRY`]
    /// (a quoted cell left open, or hostile input) ends the streaming: the rest of
    /// the stream is read and scanned as one part, so no row is searched again at
    /// every block.
    fn scan_csv_stream(
        &mut self,
        path: Arc<str>,
        fmt: Format,
        dialect: format::csv::Dialect,
        mut stream: decompress::Stream<'_>,
        head: Vec<u8>,
    ) {
        let (block, _) = stream_sizes(self.opts.chunk_size);
        let ctx = self.ctx(self.opts.chunk_size);
        let (scanner, emit, gate) = (self.scanner, &mut *self.emit, self.gate);
        let mut rows = format::csv::Rows::default();
        let mut offset = 0usize;
        let mut stats = Vec::new();
        let mut warnings = Vec::new();
        // Scans a part of whole rows (or the rest of the stream) and hands its
        // findings on, located in the whole stream.
        let mut scan = |part: &[u8]| {
            gate();
            let mut lines = LineCounter::new(part);
            let line_base = rows.lines_before;
            let out = format::csv::scan_each(part, dialect, &ctx, &mut rows, &mut |mut hits| {
                sort_hits(&mut hits);
                for h in &mut hits {
                    let (line, col) = h.line_col.unwrap_or_else(|| lines.locate(h.m.start));
                    h.line_col = Some((line + line_base, col));
                    h.m.start += offset;
                    h.m.end += offset;
                    h.m.match_span = h.m.match_span.start + offset..h.m.match_span.end + offset;
                }
                emit_findings(emit, &path, scanner, &mut LineCounter::new(&[]), hits);
            });
            merge_stats(&mut stats, &out.stats);
            warnings.extend(out.warnings);
            offset += part.len();
            rows.lines_before += memchr::memchr_iter(b'\n', part).count() as u64;
        };
        let mut carry = head;
        let mut total = carry.len() as u64;
        let cut = |carry: &mut Vec<u8>, scan: &mut dyn FnMut(&[u8])| {
            let end = format::csv::whole_rows_end(carry, dialect);
            if end > 0 {
                let rest = carry.split_off(end);
                scan(&std::mem::replace(carry, rest));
            }
        };
        cut(&mut carry, &mut scan);
        // After a row longer than MAX_CSV_CARRY, the rest of the stream, read
        // whole (past `read::SPILL_AT` into a mapped temporary file).
        let mut rest: Option<read::Spill> = None;
        let mut held_failed = None;
        let failed = decode_blocks(fmt, &mut stream, block, |d| {
            total += d.len() as u64;
            if let Some(rest) = &mut rest {
                if held_failed.is_none() {
                    held_failed = rest.append(&d).err();
                }
                return;
            }
            carry.extend_from_slice(&d);
            cut(&mut carry, &mut scan);
            if carry.len() > MAX_CSV_CARRY {
                let mut spill = read::Spill::new(read::SPILL_AT);
                held_failed = spill.append(&std::mem::take(&mut carry)).err();
                rest = Some(spill);
            }
        });
        let mut failed = failed.or_else(|| held_failed.map(ReadError::spill));
        // The last rows (without a newline, or the rest read whole).
        if failed.is_none() {
            match rest.map(read::Spill::finish) {
                Some(Ok(rest)) => scan(&rest),
                Some(Err(e)) => failed = Some(ReadError::spill(e)),
                None if !carry.is_empty() => scan(&carry),
                None => {}
            }
        }
        let mut outcome = FileOutcome::new(path.clone());
        outcome.warnings = warnings;
        self.finish_stream(outcome, total, &stats, failed);
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
        self.done(outcome);
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
        let opts = self.text_opts(chunk_size);
        let mut text = TextParts::new(self.scanner, &opts, head, 0, 1);
        let (scanner, emit, gate) = (self.scanner, &mut *self.emit, self.gate);
        // Scans what the buffer holds and hands the findings on (their lines were
        // counted as the buffer moved).
        let mut held = Held::new(text.reach, |h: &Hit| &h.m);
        // (the lines of text hits are counted as the buffer moves)
        let mut no_lines = LineCounter::new(&[]);
        let mut scan = |text: &mut TextParts<'_>, last: bool| {
            gate();
            text.scan(last);
            let scanned = (!last).then_some(text.scanned);
            let hits = held.release(std::mem::take(&mut text.hits), scanned);
            emit_findings(emit, &path, scanner, &mut no_lines, hits);
        };
        scan(&mut text, false);
        let failed = decode_blocks(fmt, &mut stream, block, |d| {
            text.buf.extend_from_slice(&d);
            scan(&mut text, false);
        });
        if failed.is_none() {
            scan(&mut text, true);
        }
        // A stream that broke keeps the findings before the break.
        let rest = held.release(Vec::new(), None);
        emit_findings(emit, &path, scanner, &mut no_lines, rest);
        let total = (text.start + text.buf.len()) as u64;
        let outcome = FileOutcome::new(path.clone());
        self.finish_stream(outcome, total, &text.stats, failed);
    }

    fn scan_archive(&mut self, path: Arc<str>, fmt: Format, bytes: &[u8], depth: Depth) {
        if depth.archives >= self.opts.limits.max_archive_depth {
            let e = ReadError::TooDeep(self.opts.limits.max_archive_depth);
            self.done(FileOutcome::error(path, e.to_string()));
            return;
        }
        let depth = Depth {
            archives: depth.archives + 1,
            ..depth
        };
        let before = self.outcomes;
        let limits = self.opts.limits;
        let mut remaining = self.remaining;
        // Members are scanned as they come, so memory holds one member at a time.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            archive::for_each_member(fmt, bytes, &limits, &mut remaining, |name, data, rem| {
                self.remaining = *rem;
                let member_path: Arc<str> = Arc::from(format!("{path}!{name}"));
                match data {
                    Ok(archive::Member::Borrowed(data)) => {
                        self.scan(member_path, name, data, depth, None)
                    }
                    Ok(archive::Member::Read(data)) => {
                        self.scan_owned(member_path, name, data, depth, None)
                    }
                    Err(e) => self.done(FileOutcome::error(member_path, e.to_string())),
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
            self.done(FileOutcome::error(path, e.to_string()));
        } else if self.outcomes == before {
            // An empty archive was still read in full.
            self.done(FileOutcome::new(path));
        }
    }
}

/// What the next call of a streamed JSON Lines input's feed brings.
enum Feed {
    /// Decoded bytes.
    Data(Vec<u8>),
    /// The end of the stream.
    End,
    /// The stream broke.
    Broken,
}

/// A line of a compressed JSON Lines stream longer than this is scanned as text
/// as it comes (bounded memory), not held whole and decoded as a record.
const MAX_LINE_CARRY: usize = if cfg!(test) { 1 << 18 } else { 64 << 20 };

/// A CSV row (a quoted cell left open) longer than this ends the block by block
/// scan of a compressed CSV stream: the rest is read and scanned whole.
const MAX_CSV_CARRY: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };

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
    guarded(fmt, || stream.fill(into, want))
}

/// Runs `read` on a decoder of `fmt`; a decoder that panics on hostile input is an
/// error for this input, not the end of the run.
fn guarded<T>(fmt: Format, read: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
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

/// On several threads, the pieces of a chunked input are no longer than this and
/// the rest of a line: the last piece of a scan keeps one thread busy while the
/// others have nothing left, for up to a piece's time (an 8 MiB chunk: ~27 ms),
/// and an input no longer than a chunk would be one piece. (The tests' pieces are
/// small, so that their inputs on two threads are shared out.)
const PARALLEL_PIECE: usize = if cfg!(test) { 4096 } else { 4 << 20 };

/// `pieces` (of a chunked input, as [`format::jsonl::split_long_lines`] gives
/// them, or text when not `lines`) with those longer than [`PARALLEL_PIECE`] cut
/// into pieces of about equal length, at line ends only: whole lines of JSON stay
/// whole, a part of a long line is not cut again, and text is scanned the same
/// whatever its pieces (matches across them are held, [`Held`]). Where the
/// chunks fall (`--chunk-size`) decides which lines are long, not this.
fn share_out(
    bytes: &[u8],
    pieces: Vec<(Range<usize>, bool)>,
    lines: bool,
) -> Vec<(Range<usize>, bool)> {
    let mut out = Vec::with_capacity(pieces.len());
    for (range, text) in pieces {
        // (a part of a long line: text in a JSON Lines input)
        if range.len() <= PARALLEL_PIECE || (lines && text) {
            out.push((range, text));
            continue;
        }
        let parts = range.len().div_ceil(PARALLEL_PIECE);
        let length = range.len().div_ceil(parts);
        let mut start = range.start;
        while range.end - start > length {
            let from = start + length;
            let Some(nl) = memchr::memchr(b'\n', &bytes[from..range.end]) else {
                break;
            };
            let cut = from + nl + 1;
            if cut >= range.end {
                break;
            }
            out.push((start..cut, text));
            start = cut;
        }
        out.push((start..range.end, text));
    }
    out
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

/// Matches (or hits) of text scanned in consecutive parts, handed on in offset
/// order: a part may report a match of the part before again (one holding
/// candidates of both) or one starting up to [`Scanner::max_reach`] bytes before
/// its own start, so the matches that close to the end of what was scanned wait
/// for the next part.
struct Held<T> {
    items: Vec<T>,
    reach: usize,
    /// The match of an item.
    of: fn(&T) -> &Match,
}

impl<T> Held<T> {
    fn new(reach: usize, of: fn(&T) -> &Match) -> Self {
        Held {
            items: Vec::new(),
            reach,
            of,
        }
    }

    /// Adds the items of the next part and returns those no later part can come
    /// before, in order: all of them at the end (`scanned` is `None`), else those
    /// starting more than the reach before `scanned`, where the next part starts.
    fn release(&mut self, new: Vec<T>, scanned: Option<usize>) -> Vec<T> {
        let of = self.of;
        if self.items.is_empty() {
            self.items = new;
        } else {
            self.items.extend(new);
        }
        self.items.sort_by_key(|t| {
            let m = of(t);
            (m.start, m.end, m.rule)
        });
        self.items.dedup_by(|b, a| {
            let (a, b) = (of(a), of(b));
            a.rule == b.rule && a.start == b.start && a.end == b.end
        });
        let ready = match scanned {
            None => self.items.len(),
            Some(at) => self
                .items
                .partition_point(|t| of(t).start + self.reach < at),
        };
        // The few that wait move; the many that leave keep their allocation.
        let rest = self.items.split_off(ready);
        std::mem::replace(&mut self.items, rest)
    }
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

impl<'a> TextParts<'a> {
    /// The stream from offset `start` on, whose first bytes `buf` start line
    /// `line`, nothing scanned yet.
    fn new(
        scanner: &'a Scanner,
        opts: &'a ScanOptions,
        buf: Vec<u8>,
        start: usize,
        line: u64,
    ) -> Self {
        TextParts {
            scanner,
            opts,
            reach: scanner.max_reach(),
            buf,
            start,
            scanned: start,
            line,
            column: 0,
            hits: Vec::new(),
            stats: Vec::new(),
        }
    }

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
    ctx: ScanCtx<'a>,
    /// Bytes and lines before the next part.
    offset: u64,
    records: u64,
    /// The hits of the last part, in order, at their offsets in the stream.
    hits: Vec<Hit>,
    warnings: Vec<String>,
    malformed: usize,
    stats: Vec<RuleStats>,
}

impl<'a> LineParts<'a> {
    fn new(ctx: ScanCtx<'a>) -> Self {
        LineParts {
            ctx,
            offset: 0,
            records: 0,
            hits: Vec::new(),
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
        // (JSON Lines hits carry their line and column)
        let mut hits = out.hits;
        sort_hits(&mut hits);
        let offset = self.offset as usize;
        for h in &mut hits {
            h.m.start += offset;
            h.m.end += offset;
            h.m.match_span = h.m.match_span.start + offset..h.m.match_span.end + offset;
        }
        self.hits = hits;
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

/// Whether a large input of format `fmt` is scanned in chunks whose findings leave
/// in order ([`Layer::scan_chunked`]): `Some(true)` as JSON Lines, `Some(false)`
/// as text; `None` for the formats read as a whole.
fn chunked_as_lines(fmt: Format) -> Option<bool> {
    match fmt {
        Format::Jsonl => Some(true),
        Format::Json | Format::Ipynb | Format::Csv | Format::Tsv | Format::Parquet => None,
        _ => Some(false),
    }
}

/// How a JSON document format is walked.
fn document_mode(fmt: Format) -> Option<json::Mode> {
    match fmt {
        Format::Json => Some(json::Mode::Document),
        Format::Ipynb => Some(json::Mode::Notebook),
        _ => None,
    }
}

/// The dialect of a delimited format.
fn csv_dialect(fmt: Format) -> Option<format::csv::Dialect> {
    match fmt {
        Format::Csv => Some(format::csv::Dialect::CSV),
        Format::Tsv => Some(format::csv::Dialect::TSV),
        _ => None,
    }
}

/// A JSON Lines or text input of at most one chunk, scanned at once (the other
/// formats, and larger inputs, hand their findings on as they go).
fn scan_small(fmt: Format, bytes: &[u8], ctx: &ScanCtx<'_>) -> FormatOutput {
    match fmt {
        Format::Jsonl => format::jsonl::scan_lines(bytes, ctx),
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
    /// Scans the candidates that start in `range` of `hay` (their windows may
    /// reach outside it).
    pub(crate) fn scan_range(
        &self,
        hay: &[u8],
        range: Range<usize>,
        stats: &mut Vec<RuleStats>,
    ) -> Vec<Match> {
        let (m, s) = scan_range(hay, range, self.scanner, self.config, self.stats);
        merge_stats(stats, &s);
        m
    }

    /// Scans one view (at most a batch) in one call.
    pub(crate) fn scan(&self, hay: &[u8], stats: &mut Vec<RuleStats>) -> Vec<Match> {
        self.scan_range(hay, 0..hay.len(), stats)
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

/// Findings of `hits` (sorted, duplicates removed); `lines` locates those whose
/// format did not give their line, and is called with increasing offsets across
/// calls.
fn to_findings(
    path: &Arc<str>,
    scanner: &Scanner,
    lines: &mut LineCounter<'_>,
    mut hits: Vec<Hit>,
) -> Vec<Finding> {
    sort_hits(&mut hits);
    hits.into_iter()
        .map(|h| finding_of(path, scanner, lines, h))
        .collect()
}

/// Findings handed on at a time from a part with many: memory holds this many
/// findings beside the part's hits, not a finding per hit.
const FINDINGS_BATCH: usize = 4096;

/// Hands on the findings of `hits` (in output order) in batches.
fn emit_findings(
    emit: &mut (dyn FnMut(ScanEvent) + Send),
    path: &Arc<str>,
    scanner: &Scanner,
    lines: &mut LineCounter<'_>,
    hits: impl IntoIterator<Item = Hit>,
) {
    let mut hits = hits.into_iter().peekable();
    while hits.peek().is_some() {
        let batch = hits
            .by_ref()
            .take(FINDINGS_BATCH)
            .map(|h| finding_of(path, scanner, lines, h))
            .collect();
        emit(ScanEvent::Findings(batch));
    }
}

/// Puts hits in output order and removes duplicates.
fn sort_hits(hits: &mut Vec<Hit>) {
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
}

fn finding_of(path: &Arc<str>, scanner: &Scanner, lines: &mut LineCounter<'_>, h: Hit) -> Finding {
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
    fn pieces_are_shared_out_at_line_ends() {
        // Lines of 1 to 299 bytes, one of 10,000 (longer than a piece), and a
        // last line without its newline.
        let mut bytes = Vec::new();
        for i in 0..200 {
            bytes.extend(std::iter::repeat_n(b'a', 1 + i * 37 % 299));
            bytes.push(b'\n');
            if i == 100 {
                bytes.extend(std::iter::repeat_n(b'b', 10_000));
                bytes.push(b'\n');
            }
        }
        bytes.extend_from_slice(b"tail");
        let n = bytes.len();
        for lines in [true, false] {
            // A whole-lines piece, a part of a long line (text), and the rest.
            let pieces = vec![
                (0..n / 2, false),
                (n / 2..n / 2 + 10, true),
                (n / 2 + 10..n, false),
            ];
            let pieces: Vec<_> = if lines {
                pieces
            } else {
                pieces.into_iter().map(|(r, _)| (r, true)).collect()
            };
            let shared = share_out(&bytes, pieces.clone(), lines);
            assert!(shared.len() > pieces.len() + 4, "{shared:?}");
            // They cover the input in order, each within one of the given pieces
            // and of its kind, and are cut at line ends only.
            let mut at = 0;
            for (r, text) in &shared {
                assert_eq!(r.start, at);
                at = r.end;
                let (of, kind) = pieces.iter().find(|(p, _)| p.contains(&r.start)).unwrap();
                assert!(r.end <= of.end && text == kind);
                if r.end < of.end {
                    assert_eq!(bytes[r.end - 1], b'\n');
                }
                // No longer than a piece and the rest of a line (of 299 bytes
                // at most but one); a part of a long line stays as it was.
                if lines && *text {
                    assert_eq!(r, of);
                } else if r.len() > PARALLEL_PIECE + 299 {
                    assert!(bytes[r.clone()].contains(&b'b'), "{r:?}");
                }
            }
            assert_eq!(at, n);
        }
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

    #[test]
    fn a_json_line_longer_than_a_chunk_loses_no_value_at_the_cuts() {
        // Records around one record of ~40 chunks whose tokens sit at many
        // offsets modulo the chunk size, so the cuts fall inside many of them.
        let scanner = tok_scanner();
        let chunk = 4096;
        let (data, record, tokens) = lines_with_long_record(40 * chunk);
        let opts = |chunk_size| ScanOptions {
            chunk_size,
            ..ScanOptions::default()
        };
        let whole = scan_bytes("d.jsonl".into(), &data, &scanner, &opts(1 << 30)).0;
        assert_eq!(in_record(&whole[0], record), tokens);
        assert!(whole[0].findings.len() > tokens);
        for threads in [1, 2] {
            let cut = scan_on(threads, "d.jsonl", &data, &scanner, &opts(chunk));
            assert_eq!(placed(&cut[0]), placed(&whole[0]), "{threads} threads");
            let long_record: Vec<_> = cut[0]
                .findings
                .iter()
                .filter(|f| f.record == Some(record))
                .collect();
            assert_eq!(long_record.len(), tokens);
            assert!(long_record
                .iter()
                .all(|f| f.field.is_none() && f.line == record + 1));
            let notes: Vec<&String> = cut[0]
                .warnings
                .iter()
                .filter(|w| !w.contains("malformed"))
                .collect();
            assert_eq!(notes.len(), 1, "{:?}", cut[0].warnings);
            assert!(
                notes[0].starts_with(&format!("record {record}: line longer than the chunk size"))
            );
            // the malformed lines of token_lines are the only malformed records
            assert_eq!(
                cut[0].warnings.len() - 1,
                whole[0].warnings.len(),
                "{:?}",
                cut[0].warnings
            );
        }
    }

    /// The findings of `record`.
    fn in_record(o: &FileOutcome, record: u64) -> usize {
        o.findings
            .iter()
            .filter(|f| f.record == Some(record))
            .count()
    }

    /// (start, end, line, column, record) of every finding.
    fn placed(o: &FileOutcome) -> Vec<(u64, u64, u64, u64, Option<u64>)> {
        o.findings
            .iter()
            .map(|f| (f.start, f.end, f.line, f.column, f.record))
            .collect()
    }

    /// JSON Lines around one record of about `size` bytes whose tokens sit at
    /// every offset modulo 53; returns the data, the record's index and its
    /// token count.
    fn lines_with_long_record(size: usize) -> (Vec<u8>, u64, usize) {
        let mut long = String::from("{\"text\": \"");
        let mut i = 0;
        while long.len() < size {
            long.push_str(&"w".repeat(i % 53));
            long.push_str(&format!(" tok_abcdefgh{i:08} "));
            i += 1;
        }
        long.push_str("\"}");
        let mut data = token_lines(40);
        data.push(b'\n');
        data.extend_from_slice(long.as_bytes());
        data.push(b'\n');
        data.extend_from_slice(&token_lines(40));
        (data, 40, i)
    }

    #[test]
    fn a_compressed_json_line_longer_than_a_part_chunk_loses_no_value() {
        // A ~100 KB record in a stream: carried whole (under MAX_LINE_CARRY), but
        // longer than the chunks its block is scanned in (64 KiB blocks cut in
        // 8-16 KiB chunks here), so those cut it: the parts are text.
        let scanner = tok_scanner();
        let (data, record, tokens) = lines_with_long_record(100_000);
        assert!(data.len() < MAX_LINE_CARRY);
        let plain = scan_bytes("d.jsonl".into(), &data, &scanner, &ScanOptions::default()).0;
        assert_eq!(in_record(&plain[0], record), tokens);
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        let packed = gzip(&data);
        for threads in [1, 2] {
            let got = scan_on(threads, "d.jsonl.gz", &packed, &scanner, &opts);
            assert_eq!(placed(&got[0]), placed(&plain[0]), "{threads} threads");
            let notes = got[0]
                .warnings
                .iter()
                .filter(|w| w.contains("line longer than"))
                .count();
            assert_eq!(notes, 1, "{:?}", got[0].warnings);
        }
    }

    #[test]
    fn a_compressed_json_line_longer_than_the_carry_is_streamed_as_text() {
        // A record of ~1 MiB (past MAX_LINE_CARRY, 256 KiB in tests) between
        // ordinary ones, gzipped: scanned as text as it comes, with the same
        // findings, lines, columns and records as the plain file.
        let scanner = tok_scanner();
        let (data, record, tokens) = lines_with_long_record(4 * MAX_LINE_CARRY);
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        let plain = scan_bytes("d.jsonl".into(), &data, &scanner, &ScanOptions::default()).0;
        assert_eq!(in_record(&plain[0], record), tokens);
        let packed = gzip(&data);
        for threads in [1, 2] {
            let got = scan_on(threads, "d.jsonl.gz", &packed, &scanner, &opts);
            assert_eq!(got[0].status, FileStatus::Scanned);
            assert_eq!(got[0].bytes, data.len() as u64);
            assert_eq!(placed(&got[0]), placed(&plain[0]), "{threads} threads");
            let notes: Vec<&String> = got[0]
                .warnings
                .iter()
                .filter(|w| w.contains("line longer than"))
                .collect();
            assert_eq!(notes.len(), 1, "{:?}", got[0].warnings);
            assert!(notes[0].starts_with(&format!("record {record}: ")));
        }
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
        crate::engine::scanner_with(crate::engine::TOK_RULE)
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

    /// Text lines of emails (a window before the `@` anchor), IPv4 addresses (digit
    /// runs) and tokens, with lines long enough that chunk edges cut values.
    fn mixed_text(n: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            let item = match i % 3 {
                0 => format!("mail ann.lee{i}@corp-mail{}.net, ", i % 17),
                1 => format!("host 10.{}.{}.{} up; ", i % 200, i % 13, 1 + i % 250),
                _ => format!("key tok_abcdefgh{i:08} set "),
            };
            data.extend_from_slice(item.as_bytes());
            if i % 400 == 399 {
                data.push(b'\n');
            }
        }
        data
    }

    fn builtin_and_tok_scanner() -> Scanner {
        let mut set = crate::rules::RuleSet::builtin().unwrap();
        set.add_str("t.toml", crate::engine::TOK_RULE).unwrap();
        Scanner::new(&set).unwrap()
    }

    #[test]
    fn large_inputs_scanned_in_ordered_chunks_match_one_whole_scan() {
        let scanner = builtin_and_tok_scanner();
        let whole = ScanOptions {
            chunk_size: 1 << 30,
            ..ScanOptions::default()
        };
        // Chunks of ~1 KB: JSON Lines records numbered across them, text values
        // cut by their edges (found by both chunks, or by the later one only with
        // a start in the chunk before).
        let chunked = ScanOptions {
            chunk_size: 997,
            ..ScanOptions::default()
        };
        let text = mixed_text(3000);
        let lines = token_lines(3000);
        for (name, data) in [("d.txt", &text), ("d.jsonl", &lines)] {
            let want = scan_on(1, name, data, &scanner, &whole);
            assert_eq!(want.len(), 1);
            assert!(
                want[0].findings.len() > 800,
                "{name}: {}",
                want[0].findings.len()
            );
            for threads in [1, 2, 3] {
                let got = scan_on(threads, name, data, &scanner, &chunked);
                assert_eq!(got.len(), 1);
                let (got, want) = (&got[0], &want[0]);
                assert_eq!(located(got), located(want), "{name}, {threads} threads");
                let rules = |o: &FileOutcome| -> Vec<String> {
                    o.findings.iter().map(|f| f.rule.id.clone()).collect()
                };
                assert_eq!(rules(got), rules(want), "{name}, {threads} threads");
                assert_eq!(got.warnings, want.warnings, "{name}");
            }
        }
    }

    #[test]
    fn a_match_found_by_the_next_chunk_that_starts_before_it_keeps_its_place() {
        // At every chunk edge (one long line, cut every 997 bytes), an email whose
        // `@` is just past the edge (only the next chunk finds it) starts before
        // a token found by the chunk before: the token must wait for the email.
        let scanner = builtin_and_tok_scanner();
        let value = b"ab.tok_abcdefgh12345678@corp-mail.net";
        let at = value.iter().position(|&b| b == b'@').unwrap();
        let mut data = vec![b' '; 997 * 20];
        for k in 1..19 {
            let pos = k * 997 + 2 - at;
            data[pos..pos + value.len()].copy_from_slice(value);
        }
        let chunked = ScanOptions {
            chunk_size: 997,
            ..ScanOptions::default()
        };
        assert_eq!(chunk_ranges(&data, 997)[1], 997..1994);
        let whole = scan_on(1, "e.txt", &data, &scanner, &ScanOptions::default());
        let rules: Vec<&str> = whole[0]
            .findings
            .iter()
            .map(|f| f.rule.id.as_str())
            .collect();
        assert_eq!(rules.len(), 36, "{rules:?}");
        assert_eq!(&rules[..2], ["pii.email", "t.tok"]);
        for threads in [1, 2] {
            let got = scan_on(threads, "e.txt", &data, &scanner, &chunked);
            assert_eq!(located(&got[0]), located(&whole[0]), "{threads} threads");
        }
    }

    /// The events of one input scanned on the current thread.
    fn events_of(
        name: &str,
        bytes: &[u8],
        scanner: &Scanner,
        opts: &ScanOptions,
    ) -> Vec<ScanEvent> {
        let mut events = Vec::new();
        let mut emit = |e| events.push(e);
        let mut layer = Layer::new(scanner, opts, &mut emit, &|| {});
        layer.scan(name.into(), name, bytes, Depth::default(), None);
        drop(layer);
        events
    }

    /// How many batches of findings one input's scan handed on, and the outcome
    /// they make up (checked to end with it).
    fn batched(
        name: &str,
        bytes: &[u8],
        scanner: &Scanner,
        opts: &ScanOptions,
    ) -> (usize, Collect) {
        let events = events_of(name, bytes, scanner, opts);
        assert!(matches!(events.last(), Some(ScanEvent::Done(_))));
        let batches = events
            .iter()
            .filter(|e| matches!(e, ScanEvent::Findings(_)))
            .count();
        let mut streamed = Collect::default();
        events.into_iter().for_each(|e| streamed.take(e));
        (batches, streamed)
    }

    #[test]
    fn csv_findings_leave_batch_by_batch() {
        let scanner = tok_scanner();
        let mut data = String::from("id,note,other\n");
        for i in 0..2000 {
            let note = if i % 9 == 0 {
                format!("\"multi\nline tok_abcdefgh{i:08}\"")
            } else {
                format!("tok_abcdefgh{i:08}")
            };
            data.push_str(&format!("{i},{note},x\n"));
        }
        let small = ScanOptions {
            chunk_size: 2048,
            ..ScanOptions::default()
        };
        let (batches, streamed) = batched("t.csv", data.as_bytes(), &scanner, &small);
        assert!(batches > 10, "{batches} batches");
        let whole = scan_bytes(
            "t.csv".into(),
            data.as_bytes(),
            &scanner,
            &ScanOptions::default(),
        )
        .0;
        assert_eq!(whole[0].findings.len(), 2000);
        assert_eq!(located(&streamed.outcomes[0]), located(&whole[0]));
        let records: Vec<Option<u64>> = whole[0].findings.iter().map(|f| f.record).collect();
        assert_eq!(records, (0..2000).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn json_document_findings_leave_batch_by_batch() {
        let scanner = tok_scanner();
        let mut data = String::from("[\n");
        for i in 0..2000 {
            data.push_str(&format!(
                "  {{\"id\": {i}, \"text\": \"a\\ntok_abcdefgh{i:08}\", \"n\": [1, \"tok_zyxwvuts{i:08}\"]}},\n"
            ));
        }
        // malformed from here on: the rest is scanned as text
        data.push_str("  {\"broken\": tok_lastlast00000001 ,,\n tok_lastlast00000002");
        let small = ScanOptions {
            chunk_size: 2048,
            ..ScanOptions::default()
        };
        let whole_opts = ScanOptions {
            chunk_size: 1 << 30,
            ..ScanOptions::default()
        };
        let (batches, streamed) = batched("d.json", data.as_bytes(), &scanner, &small);
        assert!(batches > 10, "{batches} batches");
        let whole = scan_bytes("d.json".into(), data.as_bytes(), &scanner, &whole_opts).0;
        assert_eq!(whole[0].findings.len(), 4002);
        assert_eq!(located(&streamed.outcomes[0]), located(&whole[0]));
        assert_eq!(streamed.outcomes[0].warnings.len(), 1);
        assert_eq!(streamed.outcomes[0].warnings, whole[0].warnings);
    }

    /// A directory of its own under the system's temporary directory.
    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("datasieve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn findings_leave_as_they_are_found_in_path_order() {
        let dir = temp_dir("events");
        // The first input is large: its findings leave in many events, chunk by
        // chunk, before it is done; the others wait for it.
        std::fs::write(dir.join("a.txt"), mixed_text(4000)).unwrap();
        std::fs::write(dir.join("b.jsonl"), token_lines(200)).unwrap();
        std::fs::write(dir.join("c.txt"), b"key tok_abcdefgh00000001 end\n").unwrap();
        std::fs::write(dir.join("d.txt"), b"nothing here\n").unwrap();
        let inputs: Vec<Input> = ["d.txt", "c.txt", "a.txt", "b.jsonl", "missing.txt"]
            .iter()
            .map(|n| Input::File(dir.join(n)))
            .collect();
        let scanner = builtin_and_tok_scanner();
        let opts = ScanOptions {
            chunk_size: 4096,
            ..ScanOptions::default()
        };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut events = Vec::new();
            pool.install(|| {
                scan_inputs_with(&inputs, &scanner, &opts, &|_| {}, &mut |e| events.push(e))
            });
            // (path, findings events before Done, findings, status) per input
            let mut seen: Vec<(String, usize, Vec<Finding>, FileStatus)> = Vec::new();
            let (mut batches, mut found) = (0, Vec::new());
            for e in events {
                match e {
                    ScanEvent::Findings(f) => {
                        assert!(!f.is_empty());
                        batches += 1;
                        found.extend(f);
                    }
                    ScanEvent::Done(o) => {
                        assert!(o.findings.is_empty());
                        assert!(found.iter().all(|f| f.path == o.path));
                        let name = o.path.rsplit('/').next().unwrap().to_string();
                        seen.push((name, batches, std::mem::take(&mut found), o.status));
                        batches = 0;
                    }
                }
            }
            let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
            assert_eq!(names, ["a.txt", "b.jsonl", "c.txt", "d.txt", "missing.txt"]);
            assert!(seen[0].1 >= 5, "{threads} threads: {} events", seen[0].1);
            assert!(matches!(seen[4].3, FileStatus::Error(_)));
            for (name, _, findings, _) in &seen {
                assert!(
                    findings
                        .windows(2)
                        .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)),
                    "{name}: findings out of order"
                );
            }
            // The same as the whole report gathered.
            let report = pool.install(|| scan_inputs(&inputs, &scanner, &opts, &|_| {}));
            let counts: Vec<usize> = report.files.iter().map(|f| f.findings.len()).collect();
            let streamed: Vec<usize> = seen.iter().map(|s| s.2.len()).collect();
            assert_eq!(counts, streamed);
            assert!(counts[0] > 2000 && counts[1] > 50 && counts[2] == 1 && counts[3] == 0);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn later_inputs_are_held_until_the_earlier_one_is_done() {
        let mut got: Vec<String> = Vec::new();
        let mut sink = |e: ScanEvent| {
            got.push(match e {
                ScanEvent::Findings(f) => format!("{} findings", f.len()),
                ScanEvent::Done(o) => format!("done {}", o.path),
            })
        };
        let mut order = InOrder {
            head: 0,
            held: BTreeMap::new(),
            held_findings: 0,
            sink: &mut sink,
        };
        let finding = |path: &str| {
            let scanner = tok_scanner();
            let (o, _) = scan_bytes(
                path.into(),
                b"tok_abcdefgh12345678",
                &scanner,
                &ScanOptions::default(),
            );
            o[0].findings.clone()
        };
        let batch =
            |n: usize| ScanEvent::Findings(finding("x").into_iter().cycle().take(n).collect());
        order.event(1, batch(3));
        order.event(2, ScanEvent::Done(FileOutcome::new("two".into())));
        order.event(0, batch(1));
        assert_eq!(order.held_findings, 3);
        assert!(!order.must_wait(Some(0)));
        order.event(1, batch(MAX_HELD_FINDINGS));
        // past the bound, all but the head wait
        assert!(order.must_wait(Some(1)) && order.must_wait(None) && !order.must_wait(Some(0)));
        order.event(0, ScanEvent::Done(FileOutcome::new("zero".into())));
        order.finished(0);
        // input 1 is the head now: what it held left, what it sends leaves at once
        assert_eq!(order.held_findings, 0);
        order.event(1, ScanEvent::Done(FileOutcome::new("one".into())));
        order.finished(1);
        order.finished(2);
        drop(order);
        let want = [
            "1 findings".to_string(),
            "done zero".into(),
            "3 findings".into(),
            format!("{MAX_HELD_FINDINGS} findings"),
            "done one".into(),
            "done two".into(),
        ];
        assert_eq!(got, want);
    }

    /// A JSON array document of `n` records, some with a token.
    fn token_document(n: usize) -> Vec<u8> {
        let records: Vec<String> = (0..n)
            .map(|i| match i % 5 {
                0 => format!("{{\"id\":{i},\"text\":\"key tok_abcdefgh{i:08} here\"}}"),
                _ => format!(
                    "{{\"id\":{i},\"text\":\"{}\"}}",
                    "plain words ".repeat(i % 19)
                ),
            })
            .collect();
        format!("[{}]", records.join(",\n")).into_bytes()
    }

    #[test]
    fn streams_held_whole_past_the_spill_size_match_the_plain_input() {
        // A JSON document and a tar, each larger than `read::SPILL_AT` once
        // decompressed: held in a mapped temporary file, scanned as the plain bytes.
        let scanner = tok_scanner();
        let opts = ScanOptions::default();
        let doc = token_document(30_000);
        assert!(doc.len() > read::SPILL_AT);
        let plain = scan_bytes("d.json".into(), &doc, &scanner, &opts).0;
        assert_eq!(plain[0].findings.len(), 6000);
        let tar = crate::read::archive::tests::make_tar(&[
            ("a.json", &doc),
            ("b.txt", b"tok_abcdefgh12345678"),
        ]);
        for threads in [1, 2] {
            let got = scan_on(threads, "d.json.gz", &gzip(&doc), &scanner, &opts);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].status, FileStatus::Scanned);
            assert_eq!(got[0].bytes, doc.len() as u64);
            assert_eq!(located(&got[0]), located(&plain[0]), "{threads} threads");
            assert!(got[0].warnings.is_empty(), "{:?}", got[0].warnings);
            let members = scan_on(threads, "d.tar.gz", &gzip(&tar), &scanner, &opts);
            let paths: Vec<&str> = members.iter().map(|o| &*o.path).collect();
            assert_eq!(paths, ["d.tar.gz!a.json", "d.tar.gz!b.txt"]);
            assert_eq!(located(&members[0]), located(&plain[0]));
            assert_eq!(members[1].findings.len(), 1);
        }
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

    /// CSV rows with a header, quoted cells holding newlines and `""`, tokens in
    /// several columns, and (with `long`) one quoted cell of 1.5 MiB in the middle.
    fn token_csv(n: usize, long: bool) -> Vec<u8> {
        let mut data = b"id,note,\"other, field\"\r\n".to_vec();
        for i in 0..n {
            let note = match i % 5 {
                0 => format!("\"line one\nsays \"\"tok_abcdefgh{i:08}\"\" here\""),
                1 => format!("tok_zyxwvuts{i:08}"),
                _ => "plain words, none".repeat(i % 4).replace(',', ";"),
            };
            let other = if i % 3 == 0 {
                format!("\"x tok_qwertyui{i:08}\"")
            } else {
                "-".into()
            };
            data.extend_from_slice(format!("{i},{note},{other}\n").as_bytes());
            if long && i == n / 2 {
                let cell = "long words\n".repeat(150_000);
                data.extend_from_slice(
                    format!("{i},\"{cell} tok_longcell00000001\",-\n").as_bytes(),
                );
            }
        }
        data.extend_from_slice(b"last,tok_lastlast00000002,-");
        data
    }

    #[test]
    fn compressed_csv_streamed_in_parts_of_whole_rows_matches_the_plain_file() {
        let scanner = tok_scanner();
        let opts = ScanOptions {
            chunk_size: 1024,
            ..ScanOptions::default()
        };
        for long in [false, true] {
            let data = token_csv(20_000, long);
            assert!(data.len() > 10 * MIN_STREAM_BLOCK);
            let plain = scan_bytes("d.csv".into(), &data, &scanner, &opts).0;
            assert_eq!(plain.len(), 1);
            let want = &plain[0];
            assert!(want.findings.len() > 10_000, "{}", want.findings.len());
            let packed = gzip(&data);
            for threads in [1, 2] {
                let streamed = scan_on(threads, "d.csv.gz", &packed, &scanner, &opts);
                assert_eq!(streamed.len(), 1);
                let s = &streamed[0];
                assert_eq!(s.status, FileStatus::Scanned);
                assert_eq!(s.bytes, data.len() as u64);
                assert_eq!(located(s), located(want), "long {long}, {threads} threads");
                assert_eq!(s.warnings, want.warnings);
                for f in &s.findings {
                    assert_eq!(&data[f.start as usize..f.end as usize], &f.value[..]);
                }
            }
        }
        // The parts really are parts: the cut falls after whole rows only.
        let data = token_csv(50, false);
        let end = format::csv::whole_rows_end(&data, format::csv::Dialect::CSV);
        assert!(end < data.len() && data[end - 1] == b'\n');
        let open = b"a,\"b\nc\nd";
        assert_eq!(
            format::csv::whole_rows_end(open, format::csv::Dialect::CSV),
            0
        );
        assert_eq!(
            format::csv::whole_rows_end(b"a,b\nc,\"d\ne", format::csv::Dialect::CSV),
            4
        );
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
