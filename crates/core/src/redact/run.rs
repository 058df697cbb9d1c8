//! Redacting files: where the sanitised copies go and how they are written.
//!
//! [`plan_jobs`] maps inputs to outputs (`--out DIR` keeps the folder layout, `-o
//! FILE` takes one input, `--in-place` rewrites inputs with an optional backup) and
//! refuses layouts that would overwrite an input. [`redact_files`] then redacts in
//! parallel; every output is written atomically and owner-only (see
//! [`crate::write`]), and an existing output is only replaced with
//! [`Overwrite::Replace`].
//!
//! ```no_run
//! use std::path::PathBuf;
//! use datasieve::redact::{run::{plan_jobs, redact_files, Target}, Redactor, RedactOptions};
//! use datasieve::{write::Overwrite, RuleSet, Scanner};
//! let redactor = Redactor::new(Scanner::new(&RuleSet::builtin()?)?, RedactOptions::default())?;
//! let args = vec![PathBuf::from("data")];
//! let inputs = vec![PathBuf::from("data/a.txt")];
//! let jobs = plan_jobs(&args, &inputs, &Target::Dir("clean".into()))?;
//! let report = redact_files(&redactor, &jobs, Overwrite::Refuse, &|_| {});
//! assert!(report.records().balanced());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::{Applied, RecordCounts, Redactor};
use crate::finding::Finding;
use crate::read;
use crate::scan::{FileOutcome, FileStatus, ScanReport};
use crate::write::{self, absolute, Layout, Overwrite};

/// Where redacted files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Under this folder, keeping the layout of the inputs (`--out DIR`).
    Dir(PathBuf),
    /// This file; the run must have exactly one input (`-o FILE`).
    File(PathBuf),
    /// Over the inputs themselves (`--in-place`), keeping a copy of each changed
    /// input at its path plus `backup_suffix` when set (`--backup`).
    InPlace {
        /// Suffix of backups, e.g. `.bak`.
        backup_suffix: Option<String>,
    },
}

/// One input and where its sanitised copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The input.
    pub input: PathBuf,
    /// The output (the input itself for in-place runs).
    pub output: PathBuf,
    /// Where the original goes before an in-place rewrite.
    pub backup: Option<PathBuf>,
}

impl Job {
    fn in_place(&self) -> bool {
        self.input == self.output
    }
}

/// A layout that would lose or overwrite data.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// `-o FILE` with more than one input.
    #[error("-o FILE takes exactly one input file, not {count}; use --out DIR for several")]
    NotOneInput {
        /// Inputs found.
        count: usize,
    },
    /// The output folder is inside an input folder (its files would be read as
    /// inputs by the next run).
    #[error("{}: the output folder is inside the input folder {}; choose another --out", out.display(), input.display())]
    OutInsideInput {
        /// Output folder.
        out: PathBuf,
        /// Input folder.
        input: PathBuf,
    },
    /// An output is an input.
    #[error("{}: the output would overwrite this input; use --in-place to rewrite inputs", path.display())]
    SameAsInput {
        /// The input.
        path: PathBuf,
    },
    /// Two inputs would be written to the same output.
    #[error("{}: two inputs map to this output", path.display())]
    DuplicateOutput {
        /// The output.
        path: PathBuf,
    },
    /// Outputs exist and overwriting was not asked for.
    #[error("{count} output file(s) already exist, e.g. {}; use --force to overwrite", first.display())]
    Exists {
        /// How many.
        count: usize,
        /// The first one.
        first: PathBuf,
    },
    /// A path could not be made absolute.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn abs(p: &Path) -> Result<PathBuf, LayoutError> {
    absolute(p).map_err(|source| LayoutError::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// Same file: same absolute path, or the same file on disk.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Maps `inputs` (files found under `args`) to outputs.
pub fn plan_jobs(
    args: &[PathBuf],
    inputs: &[PathBuf],
    target: &Target,
) -> Result<Vec<Job>, LayoutError> {
    let mut jobs = Vec::with_capacity(inputs.len());
    match target {
        Target::File(out) => {
            if inputs.len() != 1 {
                return Err(LayoutError::NotOneInput {
                    count: inputs.len(),
                });
            }
            let input = abs(&inputs[0])?;
            let output = abs(out)?;
            if same_file(&input, &output) {
                return Err(LayoutError::SameAsInput { path: input });
            }
            jobs.push(Job {
                input: inputs[0].clone(),
                output: out.clone(),
                backup: None,
            });
        }
        Target::Dir(out) => {
            let out_abs = abs(out)?;
            for arg in args.iter().filter(|a| a.is_dir()) {
                let arg_abs = abs(arg)?;
                if out_abs.starts_with(&arg_abs) {
                    return Err(LayoutError::OutInsideInput {
                        out: out.clone(),
                        input: arg.clone(),
                    });
                }
            }
            let layout = Layout::new(args).map_err(|source| LayoutError::Io {
                path: PathBuf::from("."),
                source,
            })?;
            let mut seen = std::collections::HashSet::new();
            for input in inputs {
                let output = out.join(layout.relative(input));
                if same_file(&abs(input)?, &abs(&output)?) {
                    return Err(LayoutError::SameAsInput {
                        path: input.clone(),
                    });
                }
                if !seen.insert(output.clone()) {
                    return Err(LayoutError::DuplicateOutput { path: output });
                }
                jobs.push(Job {
                    input: input.clone(),
                    output,
                    backup: None,
                });
            }
        }
        Target::InPlace { backup_suffix } => {
            for input in inputs {
                let backup = backup_suffix.as_ref().map(|s| {
                    let mut name = input.as_os_str().to_owned();
                    name.push(s);
                    PathBuf::from(name)
                });
                jobs.push(Job {
                    input: input.clone(),
                    output: input.clone(),
                    backup,
                });
            }
        }
    }
    Ok(jobs)
}

/// Fails when an output of `jobs` exists: checked before any work, so that a run
/// without `--force` writes nothing rather than half of its outputs. In-place
/// backups are checked when they are written, since only inputs that change get
/// one (an input whose backup exists is then left unchanged and reported).
pub fn check_no_clobber(jobs: &[Job]) -> Result<(), LayoutError> {
    let existing: Vec<&PathBuf> = jobs
        .iter()
        .filter(|j| !j.in_place())
        .map(|j| &j.output)
        .filter(|p| write::exists(p))
        .collect();
    match existing.first() {
        None => Ok(()),
        Some(first) => Err(LayoutError::Exists {
            count: existing.len(),
            first: (*first).clone(),
        }),
    }
}

/// What happened to one input.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Display path of the input.
    pub path: Arc<str>,
    /// Where the output was written (`None` for an in-place input that did not
    /// change, or on error).
    pub output: Option<PathBuf>,
    /// What was found and replaced.
    pub findings: Vec<Finding>,
    /// Replacements by rule and operator.
    pub applied: Applied,
    /// Record accounting (zero on error).
    pub records: RecordCounts,
    /// Values found again after the first pass and replaced by placeholders.
    pub rechecked: u64,
    /// The output differs from the input.
    pub changed: bool,
    /// Passed through unscanned because it looks binary.
    pub skipped_binary: bool,
    /// Bytes read.
    pub bytes: u64,
    /// Why the input could not be redacted (nothing was written for it).
    pub error: Option<String>,
}

/// The result of [`redact_files`], one entry per job, sorted by input path.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Per input.
    pub files: Vec<FileReport>,
}

impl RunReport {
    /// Records over all inputs that were redacted.
    pub fn records(&self) -> RecordCounts {
        let mut total = RecordCounts::default();
        for f in &self.files {
            total.add(&f.records);
        }
        total
    }

    /// Replacements over all inputs, by rule and operator.
    pub fn applied(&self) -> Applied {
        let mut total = Applied::new();
        for f in &self.files {
            for (k, v) in &f.applied {
                *total.entry(k.clone()).or_default() += v;
            }
        }
        total
    }

    /// Findings acted on.
    pub fn finding_count(&self) -> usize {
        self.files.iter().map(|f| f.findings.len()).sum()
    }

    /// Values found again after the first pass.
    pub fn rechecked(&self) -> u64 {
        self.files.iter().map(|f| f.rechecked).sum()
    }

    /// Inputs that failed.
    pub fn error_count(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }

    /// Inputs whose output differs from the input.
    pub fn changed_count(&self) -> usize {
        self.files.iter().filter(|f| f.changed).count()
    }

    /// The findings as a scan report, for the report writers (`--report`).
    pub fn to_scan_report(&self) -> ScanReport {
        ScanReport {
            files: self
                .files
                .iter()
                .map(|f| FileOutcome {
                    path: f.path.clone(),
                    bytes: f.bytes,
                    findings: f.findings.clone(),
                    status: match (&f.error, f.skipped_binary) {
                        (Some(e), _) => FileStatus::Error(e.clone()),
                        (None, true) => FileStatus::SkippedBinary,
                        (None, false) => FileStatus::Scanned,
                    },
                    warnings: Vec::new(),
                })
                .collect(),
            stats: Vec::new(),
        }
    }
}

/// Redacts every job in parallel (on the current rayon pool); `progress` gets the
/// byte count of each finished input. One failed input never stops the others.
pub fn redact_files(
    redactor: &Redactor,
    jobs: &[Job],
    overwrite: Overwrite,
    progress: &(dyn Fn(u64) + Sync),
) -> RunReport {
    let mut files: Vec<FileReport> = jobs
        .par_iter()
        .map(|job| {
            let r = redact_one(redactor, job, overwrite);
            progress(r.bytes);
            r
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    RunReport { files }
}

fn redact_one(redactor: &Redactor, job: &Job, overwrite: Overwrite) -> FileReport {
    let path: Arc<str> = Arc::from(job.input.display().to_string());
    let mut report = FileReport {
        path: path.clone(),
        output: None,
        findings: Vec::new(),
        applied: Applied::new(),
        records: RecordCounts::default(),
        rechecked: 0,
        changed: false,
        skipped_binary: false,
        bytes: 0,
        error: None,
    };
    let fail = |mut r: FileReport, e: String| {
        r.error = Some(e);
        r.records = RecordCounts::default();
        r
    };
    let content = match read::read_file(&job.input, redactor.options().scan.mmap_threshold) {
        Ok(c) => c,
        Err(e) => return fail(report, format!("cannot read: {e}")),
    };
    report.bytes = content.len() as u64;
    let done = match redactor.redact(&path, &content) {
        Ok(d) => d,
        Err(e) => return fail(report, e.to_string()),
    };
    report.findings = done.findings;
    report.applied = done.applied;
    report.records = done.records;
    report.rechecked = done.rechecked;
    report.skipped_binary = done.skipped_binary;
    report.changed = done.output.is_some();
    let bytes: &[u8] = done.output.as_deref().unwrap_or(&content);
    let written = if job.in_place() {
        if !report.changed {
            return report;
        }
        // Keep the original first, then replace the input atomically.
        let backed_up = match &job.backup {
            Some(b) => write::write_file(b, &content, overwrite),
            None => Ok(()),
        };
        backed_up.and_then(|()| write::write_file(&job.output, bytes, Overwrite::Replace))
    } else {
        write::write_file(&job.output, bytes, overwrite)
    };
    match written {
        Ok(()) => {
            report.output = Some(job.output.clone());
            report
        }
        Err(e) => fail(report, e.to_string()),
    }
}
