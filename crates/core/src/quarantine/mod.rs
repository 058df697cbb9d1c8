//! Quarantine: set aside what carries sensitive values, with a manifest that says
//! why, and put it back on request.
//!
//! - [`Mode::Move`] / [`Mode::Copy`]: files with at least one finding at or above
//!   the threshold (`min_severity`, the scan's `min_confidence`) go under the
//!   quarantine folder with their relative layout; clean files stay where they are.
//! - [`Mode::Split`]: inputs are not touched; the clean records of each file are
//!   written under an output folder and the flagged records under the quarantine
//!   folder, each listed in the manifest with its original record number (a plain
//!   text file is one record).
//!
//! The quarantine folder gets a `manifest.json` ([`Manifest`]): every quarantined
//! file or record, its source, the rules and counts that sent it there (values
//! masked), a SHA-256 of its content and the run's settings. [`restore`] moves
//! moved files back. All files are written atomically and owner-only.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use datasieve::quarantine::{plan_jobs, quarantine_files, Mode, QuarantineOptions};
//! use datasieve::{RuleSet, Scanner};
//! let scanner = Scanner::new(&RuleSet::builtin()?)?;
//! let opts = QuarantineOptions { mode: Mode::Copy, ..QuarantineOptions::new("qdir".into()) };
//! let args = vec![PathBuf::from("data")];
//! let jobs = plan_jobs(&args, &[PathBuf::from("data/a.txt")], &opts)?;
//! let report = quarantine_files(&scanner, &jobs, &opts, &|_| {});
//! assert!(report.records().balanced());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::engine::Scanner;
use crate::finding::Finding;
use crate::redact::document::{self, Document, Shape};
use crate::redact::run::LayoutError;
use crate::redact::{splice, RecordCounts, RedactError, RedactOptions, Redactor};
use crate::rules::Severity;
use crate::scan::ScanOptions;
use crate::write::{self, absolute, Layout, Overwrite, WriteError};

mod manifest;

pub use manifest::{
    sha256_hex, Entry, EntryKind, Manifest, ManifestFinding, RunSettings, MANIFEST,
    MANIFEST_VERSION,
};

/// What happens to flagged inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Flagged files are moved into quarantine.
    Move,
    /// Flagged files are copied into quarantine; inputs stay.
    Copy,
    /// Clean records go under `out`, flagged records into quarantine; inputs stay.
    Split {
        /// Folder for the clean records.
        out: PathBuf,
    },
}

impl Mode {
    /// `move`, `copy` or `split`.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Move => "move",
            Mode::Copy => "copy",
            Mode::Split { .. } => "split",
        }
    }
}

/// Options of a quarantine run.
#[derive(Debug, Clone)]
pub struct QuarantineOptions {
    /// Scan options; `scan.engine.min_confidence` is the confidence threshold.
    pub scan: ScanOptions,
    /// Findings below this severity do not count.
    pub min_severity: Severity,
    /// Move, copy or split.
    pub mode: Mode,
    /// The quarantine folder.
    pub to: PathBuf,
    /// Replace existing files (`--force`).
    pub overwrite: Overwrite,
}

impl QuarantineOptions {
    /// Defaults: move flagged files into `to`, every severity, confidence 0.5.
    pub fn new(to: PathBuf) -> Self {
        QuarantineOptions {
            scan: ScanOptions::default(),
            min_severity: Severity::Low,
            mode: Mode::Move,
            to,
            overwrite: Overwrite::Refuse,
        }
    }
}

/// Why a quarantine run or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// Where outputs would go is not acceptable.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The manifest could not be read or is not a manifest.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One input and where its parts may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The input.
    pub input: PathBuf,
    /// Its path relative to the input folders, used under the quarantine folder.
    pub relative: PathBuf,
    /// Where the clean records go (`split`).
    pub clean: Option<PathBuf>,
}

/// Maps inputs to their places under the quarantine (and, for `split`, output)
/// folder. Refuses folders inside an input folder, and existing files unless
/// `opts.overwrite` says to replace them.
pub fn plan_jobs(
    args: &[PathBuf],
    inputs: &[PathBuf],
    opts: &QuarantineOptions,
) -> Result<Vec<Job>, QuarantineError> {
    let abs = |p: &Path| {
        absolute(p).map_err(|source| LayoutError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let mut folders = vec![&opts.to];
    if let Mode::Split { out } = &opts.mode {
        folders.push(out);
        if abs(out)? == abs(&opts.to)? {
            return Err(LayoutError::DuplicateOutput { path: out.clone() }.into());
        }
    }
    for folder in &folders {
        let f = abs(folder)?;
        for arg in args.iter().filter(|a| a.is_dir()) {
            if f.starts_with(abs(arg)?) {
                return Err(LayoutError::OutInsideInput {
                    out: (*folder).clone(),
                    input: arg.clone(),
                }
                .into());
            }
        }
    }
    let layout = Layout::new(args).map_err(|source| LayoutError::Io {
        path: PathBuf::from("."),
        source,
    })?;
    let jobs: Vec<Job> = inputs
        .iter()
        .map(|input| {
            let relative = layout.relative(input);
            let clean = match &opts.mode {
                Mode::Split { out } => Some(out.join(&relative)),
                _ => None,
            };
            Job {
                input: input.clone(),
                relative,
                clean,
            }
        })
        .collect();
    if opts.overwrite == Overwrite::Refuse {
        let existing: Vec<PathBuf> = jobs
            .iter()
            .flat_map(|j| std::iter::once(opts.to.join(&j.relative)).chain(j.clean.clone()))
            .filter(|p| write::exists(p))
            .collect();
        if let Some(first) = existing.first() {
            return Err(LayoutError::Exists {
                count: existing.len(),
                first: first.clone(),
            }
            .into());
        }
    }
    Ok(jobs)
}

/// What happened to one input.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Display path.
    pub path: Arc<str>,
    /// Findings at or above the threshold.
    pub findings: Vec<Finding>,
    /// Record accounting (zero on error).
    pub records: RecordCounts,
    /// Manifest entries (without their run number yet).
    pub entries: Vec<Entry>,
    /// Where the flagged file or records went.
    pub quarantined: Option<PathBuf>,
    /// Where the clean records went (`split`).
    pub clean: Option<PathBuf>,
    /// Passed through unscanned (binary).
    pub skipped_binary: bool,
    /// Bytes read.
    pub bytes: u64,
    /// Why the input could not be handled.
    pub error: Option<String>,
}

/// The result of [`quarantine_files`], sorted by input path.
#[derive(Debug, Clone, Default)]
pub struct QuarantineReport {
    /// Per input.
    pub files: Vec<FileReport>,
}

impl QuarantineReport {
    /// Records over all inputs handled.
    pub fn records(&self) -> RecordCounts {
        let mut total = RecordCounts::default();
        for f in &self.files {
            total.add(&f.records);
        }
        total
    }

    /// Files moved or copied whole into quarantine.
    pub fn files_quarantined(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.entries.iter().any(|e| e.kind == EntryKind::File))
            .count()
    }

    /// Findings per rule over all inputs.
    pub fn by_rule(&self) -> BTreeMap<String, u64> {
        manifest::rule_counts(self.files.iter().flat_map(|f| f.findings.iter()))
    }

    /// Inputs that failed.
    pub fn error_count(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }

    /// Adds this run's entries and settings to the manifest of the quarantine
    /// folder (creating it) and saves it. `rules` are the loaded rule ids,
    /// `inputs` the arguments as given.
    pub fn write_manifest(
        &self,
        opts: &QuarantineOptions,
        rules: Vec<String>,
        inputs: Vec<String>,
    ) -> Result<Manifest, QuarantineError> {
        let mut manifest = Manifest::load(&opts.to)?.unwrap_or_default();
        let run = manifest.runs.len();
        manifest.runs.push(RunSettings {
            run,
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            mode: opts.mode.name().to_string(),
            to: opts.to.display().to_string(),
            out: match &opts.mode {
                Mode::Split { out } => Some(out.display().to_string()),
                _ => None,
            },
            min_severity: opts.min_severity.as_str().to_string(),
            min_confidence: opts.scan.engine.min_confidence,
            rules,
            inputs,
            records: self.records(),
        });
        for f in &self.files {
            for e in &f.entries {
                let mut e = e.clone();
                e.run = run;
                manifest.entries.push(e);
            }
        }
        manifest.save(&opts.to)?;
        Ok(manifest)
    }
}

/// Quarantines every job in parallel (on the current rayon pool). One failed input
/// never stops the others. Call [`QuarantineReport::write_manifest`] afterwards.
pub fn quarantine_files(
    scanner: &Scanner,
    jobs: &[Job],
    opts: &QuarantineOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> QuarantineReport {
    let redactor = Redactor::new(
        scanner.clone(),
        RedactOptions {
            scan: opts.scan.clone(),
            min_severity: opts.min_severity,
            ..RedactOptions::default()
        },
    )
    .expect("the placeholder plan needs no key");
    let mut files: Vec<FileReport> = jobs
        .par_iter()
        .map(|job| {
            let r = quarantine_one(&redactor, job, opts);
            progress(r.bytes);
            r
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    QuarantineReport { files }
}

fn quarantine_one(redactor: &Redactor, job: &Job, opts: &QuarantineOptions) -> FileReport {
    let path: Arc<str> = Arc::from(job.input.display().to_string());
    let mut report = FileReport {
        path: path.clone(),
        findings: Vec::new(),
        records: RecordCounts::default(),
        entries: Vec::new(),
        quarantined: None,
        clean: None,
        skipped_binary: false,
        bytes: 0,
        error: None,
    };
    match handle(redactor, job, opts, &path, &mut report) {
        Ok(()) => report,
        Err(e) => {
            report.error = Some(e);
            report.records = RecordCounts::default();
            report
        }
    }
}

fn handle(
    redactor: &Redactor,
    job: &Job,
    opts: &QuarantineOptions,
    path: &str,
    report: &mut FileReport,
) -> Result<(), String> {
    let content = crate::read::read_file(&job.input, opts.scan.mmap_threshold)
        .map_err(|e| format!("cannot read: {e}"))?;
    report.bytes = content.len() as u64;
    let source = absolute(&job.input)
        .unwrap_or_else(|_| job.input.clone())
        .display()
        .to_string();
    let stored = opts.to.join(&job.relative);
    let stored_name = job.relative.display().to_string();
    let fmt = redactor.format_of(path, &content);
    let shape = Shape::of(fmt).filter(|s| s.has_records());
    let split = matches!(opts.mode, Mode::Split { .. });
    if let (true, Some(_), false) = (split, shape, document::skip_binary(&opts.scan, &content)) {
        return split_records(
            redactor.scanner(),
            job,
            opts,
            path,
            fmt,
            &content,
            source,
            stored,
            stored_name,
            report,
        );
    }
    // The whole file is the unit: moved, copied, or (split) sent to one side.
    let inspected = redactor
        .inspect(path, &content)
        .map_err(|e: RedactError| e.to_string())?;
    report.skipped_binary = inspected.skipped_binary;
    report.findings = inspected.findings;
    let n = inspected.records.input;
    report.records = RecordCounts {
        input: n,
        output: n,
        ..RecordCounts::default()
    };
    if report.findings.is_empty() {
        if let Some(clean) = &job.clean {
            write::write_file(clean, &content, opts.overwrite).map_err(|e| e.to_string())?;
            report.clean = Some(clean.clone());
        }
        return Ok(());
    }
    let entry = Entry {
        run: 0,
        kind: EntryKind::File,
        source,
        stored: stored_name,
        mode: opts.mode.name().to_string(),
        record: None,
        position: None,
        sha256: sha256_hex(&content),
        bytes: content.len() as u64,
        permissions: permissions(&job.input),
        rules: manifest::rule_counts(report.findings.iter()),
        findings: report.findings.iter().map(ManifestFinding::from).collect(),
        restored: false,
    };
    if opts.mode == Mode::Move {
        drop(content);
        write::move_file(&job.input, &stored, opts.overwrite)
    } else {
        write::write_file(&stored, &content, opts.overwrite)
    }
    .map_err(|e| e.to_string())?;
    report.entries.push(entry);
    report.quarantined = Some(stored);
    report.records.output = 0;
    report.records.quarantined = n;
    Ok(())
}

/// `--split` of a JSONL or CSV file: clean records to the output folder, flagged
/// ones to quarantine, each listed with its record number.
#[allow(clippy::too_many_arguments)]
fn split_records(
    scanner: &Scanner,
    job: &Job,
    opts: &QuarantineOptions,
    path: &str,
    fmt: crate::format::Format,
    content: &[u8],
    source: String,
    stored: PathBuf,
    stored_name: String,
    report: &mut FileReport,
) -> Result<(), String> {
    let doc: Document =
        document::analyse(scanner, &opts.scan, opts.min_severity, path, fmt, content)
            .map_err(|e: RedactError| e.to_string())?;
    report.findings = doc.findings.clone();
    let n = doc.records.len() as u64;
    report.records = RecordCounts {
        input: n,
        output: n,
        ..RecordCounts::default()
    };
    // Flagged records: those holding a finding. A finding outside every record (a
    // CSV header) flags the first record.
    let mut by_record: BTreeMap<usize, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        let pos = doc.record_at(f.start as usize).unwrap_or(0);
        by_record.entry(pos).or_default().push(f);
    }
    let flagged: BTreeSet<usize> = by_record
        .keys()
        .copied()
        .filter(|&p| p < doc.records.len())
        .collect();
    let ranges: Vec<std::ops::Range<usize>> = flagged
        .iter()
        .map(|&p| doc.records[p].range.clone())
        .collect();
    let clean = splice(content, Vec::new(), &ranges);
    let clean_path = job.clean.as_ref().expect("split jobs have a clean path");
    if !ranges.is_empty() {
        let mut held = content[doc.header.clone()].to_vec();
        for (pos, (&p, range)) in flagged.iter().zip(&ranges).enumerate() {
            let bytes = &content[range.clone()];
            held.extend_from_slice(bytes);
            let findings = &by_record[&p];
            let rec = doc.records[p].index;
            report.entries.push(Entry {
                run: 0,
                kind: EntryKind::Record,
                source: source.clone(),
                stored: stored_name.clone(),
                mode: opts.mode.name().to_string(),
                record: Some(rec),
                position: Some(pos as u64),
                sha256: sha256_hex(bytes),
                bytes: bytes.len() as u64,
                permissions: None,
                rules: manifest::rule_counts(findings.iter().copied()),
                findings: findings.iter().map(|f| ManifestFinding::from(*f)).collect(),
                restored: false,
            });
        }
        write::write_file(&stored, &held, opts.overwrite).map_err(|e| e.to_string())?;
        report.quarantined = Some(stored);
    }
    write::write_file(clean_path, &clean, opts.overwrite).map_err(|e| e.to_string())?;
    report.clean = Some(clean_path.clone());
    report.records.quarantined = ranges.len() as u64;
    report.records.output = n - ranges.len() as u64;
    Ok(())
}

#[cfg(unix)]
fn permissions(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn permissions(_path: &Path) -> Option<u32> {
    None
}

/// What [`restore`] did.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// (quarantined copy, original place) of every file moved back.
    pub restored: Vec<(PathBuf, PathBuf)>,
    /// Entries with nothing to restore: copies, split records, already restored.
    pub skipped: usize,
    /// Entries that could not be restored, with the reason.
    pub errors: Vec<String>,
}

/// Moves the files a move-mode run quarantined in `qdir` back to where they came
/// from, with their permissions, after checking their SHA-256. Never replaces a
/// file at the original place unless `overwrite` says so. The manifest marks
/// restored entries, so a second restore does nothing.
pub fn restore(qdir: &Path, overwrite: Overwrite) -> Result<RestoreReport, QuarantineError> {
    let Some(mut manifest) = Manifest::load(qdir)? else {
        return Err(QuarantineError::Manifest {
            path: qdir.join(MANIFEST),
            message: "no manifest: not a quarantine folder".into(),
        });
    };
    let mut report = RestoreReport::default();
    for e in &mut manifest.entries {
        if e.kind != EntryKind::File || e.mode != "move" || e.restored {
            report.skipped += 1;
            continue;
        }
        let from = qdir.join(&e.stored);
        let to = PathBuf::from(&e.source);
        let check = std::fs::read(&from)
            .map_err(|err| format!("{}: {err}", from.display()))
            .and_then(|bytes| {
                if sha256_hex(&bytes) == e.sha256 {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: content changed since it was quarantined (SHA-256 differs); not restored",
                        from.display()
                    ))
                }
            });
        let moved = check
            .and_then(|()| write::move_file(&from, &to, overwrite).map_err(|err| err.to_string()));
        match moved {
            Ok(()) => {
                #[cfg(unix)]
                if let Some(mode) = e.permissions {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode));
                }
                e.restored = true;
                report.restored.push((from, to));
            }
            Err(msg) => report.errors.push(msg),
        }
    }
    manifest.save(qdir)?;
    Ok(report)
}

#[cfg(test)]
mod tests;
