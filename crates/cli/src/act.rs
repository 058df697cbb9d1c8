//! `datasieve redact` and `datasieve quarantine`: flags, validation into library
//! options, and what is printed. The work is done by `datasieve::redact` and
//! `datasieve::quarantine`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args};
use datasieve::engine::{ScanConfig, Scanner};
use datasieve::quarantine::{self, Mode, QuarantineOptions, MANIFEST};
use datasieve::redact::run::{check_no_clobber, plan_jobs, redact_files, RunReport, Target};
use datasieve::redact::{
    Applied, OperatorPlan, OperatorSpec, RecordCounts, RedactOptions, Redactor,
};
use datasieve::report::{self, OutputFormat, ReportOptions};
use datasieve::rules::Severity;
use datasieve::scan::ScanOptions;
use datasieve::source::{collect_inputs, Input, WalkOptions};
use datasieve::write::{self, Overwrite};

use super::{build_pool, load_rules, Exit, RuleArgs};

/// Input and detection flags shared by `redact` and `quarantine`.
#[derive(Args, Debug)]
pub(crate) struct InputArgs {
    #[command(flatten)]
    rules: RuleArgs,
    /// Act on findings with at least this confidence (0..1).
    #[arg(long, default_value_t = 0.5, value_name = "X")]
    min_confidence: f32,
    /// Act on findings of at least this severity: low, medium, high, critical.
    #[arg(long, default_value = "low", value_name = "SEVERITY")]
    min_severity: Severity,
    /// Also scan files that look binary (they are otherwise passed through as is).
    #[arg(long)]
    binary: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<usize>,
    /// Follow symbolic links when walking folders.
    #[arg(long)]
    follow_links: bool,
    /// Also read inside .git folders.
    #[arg(long)]
    include_git: bool,
    /// Never memory-map inputs.
    #[arg(long)]
    no_mmap: bool,
    /// Inputs larger than this are scanned in parallel chunks (bytes, or with a
    /// unit: 512K, 8MiB).
    #[arg(long, default_value = "8MiB", value_name = "SIZE", value_parser = super::parse_chunk_size)]
    chunk_size: usize,
    /// Read inputs as this format instead of detecting it (as for `scan`).
    #[arg(long, value_name = "FORMAT", value_parser = super::parse_format)]
    input_format: Option<datasieve::format::Format>,
    /// Act only on these fields of record formats (as for `scan`).
    #[arg(long, value_name = "LIST", value_parser = super::parse_fields)]
    fields: Option<datasieve::format::FieldFilter>,
    /// Most bytes compressed streams and archive members of one input may expand to.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = datasieve::read::parse_size)]
    max_decompressed_size: u64,
    /// Most bytes one compressed stream or archive member may expand to.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = datasieve::read::parse_size)]
    max_member_size: u64,
    /// Largest decompressed/compressed ratio of a stream or member (bomb guard).
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_ratio: u64,
    /// Deepest nesting of archives inside archives.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_archive_depth: usize,
    /// Exit with 1 when anything was redacted or quarantined (for CI gates).
    #[arg(long)]
    fail_on_findings: bool,
    /// No notes on stderr (the summary and the records line still print).
    #[arg(long, short = 'q')]
    quiet: bool,
}

impl InputArgs {
    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_confidence) {
            bail!("--min-confidence must be between 0 and 1");
        }
        if self.threads == Some(0) {
            bail!("--threads must be at least 1");
        }
        Ok(())
    }

    fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            engine: ScanConfig {
                explain: false,
                min_confidence: self.min_confidence,
            },
            binary: self.binary,
            mmap_threshold: if self.no_mmap {
                u64::MAX
            } else {
                datasieve::read::DEFAULT_MMAP_THRESHOLD
            },
            chunk_size: self.chunk_size.max(1),
            input_format: self.input_format,
            fields: self.fields.clone(),
            limits: datasieve::read::Limits {
                max_member_size: self.max_member_size,
                max_total_size: self.max_decompressed_size,
                max_ratio: self.max_ratio,
                max_archive_depth: self.max_archive_depth,
            },
            stats: false,
        }
    }

    fn walk(&self, paths: &[PathBuf]) -> (Vec<Input>, Vec<datasieve::source::WalkError>) {
        collect_inputs(
            paths,
            &WalkOptions {
                follow_links: self.follow_links,
                include_git: self.include_git,
            },
        )
    }
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("dest").required(true).args(["out", "output", "in_place"])))]
pub(crate) struct RedactArgs {
    /// Files or folders to redact; `-` reads stdin (with -o).
    #[arg(required = true, value_name = "INPUT")]
    paths: Vec<PathBuf>,
    /// Write sanitised copies under DIR, keeping the folder layout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write the sanitised copy of the one input to FILE (`-`: stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rewrite the inputs themselves (temporary file, then atomic rename).
    #[arg(long)]
    in_place: bool,
    /// With --in-place: keep each changed input as INPUT.bak first.
    #[arg(long)]
    backup: bool,
    /// Suffix of --backup copies (default `.bak`).
    #[arg(long, value_name = "SUFFIX")]
    backup_suffix: Option<String>,
    /// OP for all findings, CATEGORY=OP or RULE_ID=OP (repeatable; rule beats
    /// category beats default). OP: placeholder (default), mask, mask:N, hash,
    /// synthetic, drop-record.
    #[arg(long = "operator", value_name = "[SELECTOR=]OP")]
    operators: Vec<OperatorSpec>,
    /// mask: keep this many trailing letters and digits (cards, phones).
    #[arg(long, default_value_t = 0, value_name = "N")]
    keep_last: u16,
    /// mask: the mask character.
    #[arg(long, default_value_t = '*', value_name = "C")]
    mask_char: char,
    /// hash: file holding the HMAC key (else the DATASIEVE_KEY environment variable).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// synthetic: seed, for the same fakes across runs (default: random per run).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Overwrite existing outputs, backups and report.
    #[arg(long)]
    force: bool,
    /// Also write the findings (values masked) to FILE: .jsonl, .sarif, else JSON.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args, Debug)]
pub(crate) struct QuarantineArgs {
    /// Files or folders to check.
    #[arg(value_name = "INPUT", required_unless_present = "restore")]
    paths: Vec<PathBuf>,
    /// The quarantine folder.
    #[arg(long, value_name = "QDIR", required_unless_present = "restore")]
    to: Option<PathBuf>,
    /// Copy flagged files instead of moving them.
    #[arg(long)]
    copy: bool,
    /// For JSONL and CSV/TSV: clean records to --out, flagged records to QDIR
    /// (inputs are not touched; other files go whole to one side).
    #[arg(long)]
    split: bool,
    /// With --split: where the clean records go.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Move the files that were moved to QDIR back where they came from.
    #[arg(long, value_name = "QDIR", conflicts_with_all = ["paths", "to", "copy", "split"])]
    restore: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    input: InputArgs,
}

/// The key of the `hash` operator: `--key-file` (trailing newline removed) or
/// `DATASIEVE_KEY`.
fn load_key(key_file: Option<&Path>) -> Result<Option<Vec<u8>>> {
    if let Some(path) = key_file {
        let mut key =
            std::fs::read(path).with_context(|| format!("reading key file {}", path.display()))?;
        while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            key.pop();
        }
        if key.is_empty() {
            bail!("{}: the key file is empty", path.display());
        }
        return Ok(Some(key));
    }
    Ok(std::env::var_os("DATASIEVE_KEY")
        .filter(|k| !k.is_empty())
        .map(|k| k.to_string_lossy().into_owned().into_bytes()))
}

fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
}

fn report_format(path: &Path) -> OutputFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => OutputFormat::Jsonl,
        Some("sarif") => OutputFormat::Sarif,
        _ => OutputFormat::Json,
    }
}

pub(crate) fn run_redact(args: RedactArgs) -> Result<Exit> {
    args.input.check()?;
    if args.backup && !args.in_place {
        bail!("--backup only applies to --in-place");
    }
    if args.backup_suffix.is_some() && !args.backup {
        bail!("--backup-suffix needs --backup");
    }
    if args.backup_suffix.as_deref().is_some_and(str::is_empty) {
        bail!("--backup-suffix must not be empty");
    }
    let set = load_rules(&args.input.rules)?;
    let plan = OperatorPlan::new(&args.operators);
    plan.check_rules(&set)?;
    let scanner = Scanner::new(&set).context("compiling the rules")?;
    let opts = RedactOptions {
        scan: args.input.scan_options(),
        min_severity: args.input.min_severity,
        plan,
        key: load_key(args.key_file.as_deref())?,
        seed: args.seed.unwrap_or_else(random_seed),
        mask_char: args.mask_char,
        keep_last: args.keep_last,
    };
    let redactor = Redactor::new(scanner, opts)?;
    let overwrite = overwrite_if(args.force);
    if let Some(r) = &args.report {
        if !args.force && write::exists(r) {
            bail!("{}: already exists (use --force to overwrite)", r.display());
        }
    }

    let (inputs, walk_errors) = args.input.walk(&args.paths);
    if inputs.contains(&Input::Stdin) {
        return redact_stdin(&args, &redactor, inputs.len(), overwrite);
    }
    let files: Vec<PathBuf> = inputs
        .into_iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .collect();
    for e in &walk_errors {
        eprintln!("datasieve: {}: {}", e.path, e.message);
    }
    if files.is_empty() {
        bail!("no input files found");
    }
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    let target = match (&args.out, &args.output) {
        (Some(dir), _) => Target::Dir(dir.clone()),
        (None, Some(file)) if !to_stdout => Target::File(file.clone()),
        (None, Some(_)) => {
            if files.len() != 1 {
                bail!("-o - takes exactly one input file, not {}", files.len());
            }
            let bytes = std::fs::read(&files[0])
                .with_context(|| format!("reading {}", files[0].display()))?;
            return redact_one_stream(
                &args,
                &redactor,
                &files[0].display().to_string(),
                &bytes,
                None,
            );
        }
        (None, None) => Target::InPlace {
            backup_suffix: args
                .backup
                .then(|| args.backup_suffix.clone().unwrap_or_else(|| ".bak".into())),
        },
    };
    let jobs = plan_jobs(&args.paths, &files, &target)?;
    if !args.force {
        check_no_clobber(&jobs)?;
    }
    let pool = build_pool(args.input.threads)?;
    let report = pool.install(|| redact_files(&redactor, &jobs, overwrite, &|_| {}));

    let mut err = io::stderr().lock();
    for f in &report.files {
        if let Some(e) = &f.error {
            writeln!(err, "datasieve: {}: {e}", f.path)?;
        } else if f.skipped_binary && !args.input.quiet {
            writeln!(
                err,
                "datasieve: {}: copied unscanned (binary file; use --binary to redact it)",
                f.path
            )?;
        }
    }
    drop(err);
    if let Some(path) = &args.report {
        write_report_file(path, &report, overwrite)?;
    }
    let records = report.records();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    write_redact_summary(&mut out, &report, &target)?;
    writeln!(out, "{records}")?;
    out.flush()?;
    let failed = report.error_count() + walk_errors.len();
    if failed > 0 {
        eprintln!("datasieve: error: {failed} input(s) could not be redacted; their outputs were not written");
        return Ok(Exit::Error);
    }
    if !records.balanced() {
        eprintln!("datasieve: error: record counts do not add up");
        return Ok(Exit::Error);
    }
    Ok(
        if args.input.fail_on_findings && report.finding_count() > 0 {
            Exit::Findings
        } else {
            Exit::Clean
        },
    )
}

fn redact_stdin(
    args: &RedactArgs,
    redactor: &Redactor,
    inputs: usize,
    overwrite: Overwrite,
) -> Result<Exit> {
    let Some(output) = &args.output else {
        bail!("stdin (-) can only be redacted with -o FILE or -o -");
    };
    if inputs != 1 {
        bail!("stdin (-) cannot be mixed with other inputs");
    }
    let mut bytes = Vec::new();
    io::stdin().lock().read_to_end(&mut bytes)?;
    let file = (output.as_os_str() != "-").then_some((output.as_path(), overwrite));
    redact_one_stream(args, redactor, "-", &bytes, file)
}

/// Redacts one input held in memory to a file (`-o FILE`) or stdout (`-o -`);
/// the summary then goes to stderr so that stdout holds only the data.
fn redact_one_stream(
    args: &RedactArgs,
    redactor: &Redactor,
    name: &str,
    bytes: &[u8],
    file: Option<(&Path, Overwrite)>,
) -> Result<Exit> {
    let done = redactor.redact(name, bytes)?;
    let data = done.output.as_deref().unwrap_or(bytes);
    match file {
        Some((path, overwrite)) => write::write_file(path, data, overwrite)?,
        None => {
            let mut out = io::stdout().lock();
            out.write_all(data)?;
            out.flush()?;
        }
    }
    let report = RunReport {
        files: vec![datasieve::redact::run::FileReport {
            path: name.into(),
            output: file.map(|(p, _)| p.to_path_buf()),
            findings: done.findings,
            applied: done.applied,
            records: done.records,
            rechecked: done.rechecked,
            changed: done.output.is_some(),
            skipped_binary: done.skipped_binary,
            bytes: bytes.len() as u64,
            error: None,
        }],
    };
    if let Some(path) = &args.report {
        write_report_file(path, &report, overwrite_if(args.force))?;
    }
    let target = match file {
        Some((p, _)) => Target::File(p.to_path_buf()),
        None => Target::File(PathBuf::from("-")),
    };
    let mut err = io::stderr().lock();
    let mut summary = Vec::new();
    write_redact_summary(&mut summary, &report, &target)?;
    writeln!(summary, "{}", report.records())?;
    if file.is_some() {
        io::stdout().lock().write_all(&summary)?;
    } else {
        err.write_all(&summary)?;
    }
    Ok(
        if args.input.fail_on_findings && report.finding_count() > 0 {
            Exit::Findings
        } else {
            Exit::Clean
        },
    )
}

fn overwrite_if(force: bool) -> Overwrite {
    if force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    }
}

fn write_report_file(path: &Path, report: &RunReport, overwrite: Overwrite) -> Result<()> {
    let scan = report.to_scan_report();
    write::write_with(path, overwrite, |w| {
        report::write_report(
            w,
            &scan,
            report_format(path),
            &ReportOptions {
                show_secrets: false,
                color: false,
            },
        )
    })?;
    Ok(())
}

fn write_redact_summary(
    out: &mut dyn Write,
    report: &RunReport,
    target: &Target,
) -> io::Result<()> {
    let applied: Applied = report.applied();
    let values: u64 = applied.values().sum();
    let dest = match target {
        Target::Dir(d) => format!(" -> {}", d.display()),
        Target::File(f) => format!(" -> {}", f.display()),
        Target::InPlace { .. } => " (in place)".to_string(),
    };
    writeln!(
        out,
        "redacted {values} value(s) in {} of {} file(s){dest}",
        report.changed_count(),
        report.files.len()
    )?;
    if !applied.is_empty() {
        let w = applied
            .keys()
            .map(|(r, _)| r.len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(out, "  {:<w$}  {:<12} {:>8}", "rule", "operator", "count")?;
        for ((rule, op), n) in &applied {
            writeln!(out, "  {rule:<w$}  {op:<12} {n:>8}")?;
        }
    }
    let rechecked = report.rechecked();
    if rechecked > 0 {
        writeln!(
            out,
            "  {rechecked} value(s) found again in the output were replaced by placeholders"
        )?;
    }
    Ok(())
}

pub(crate) fn run_quarantine(args: QuarantineArgs) -> Result<Exit> {
    let overwrite = overwrite_if(args.force);
    if let Some(qdir) = &args.restore {
        let r = quarantine::restore(qdir, overwrite)?;
        for e in &r.errors {
            eprintln!("datasieve: {e}");
        }
        println!(
            "restored {} file(s) from {} ({} entr{} with nothing to restore)",
            r.restored.len(),
            qdir.display(),
            r.skipped,
            if r.skipped == 1 { "y" } else { "ies" }
        );
        return Ok(if r.errors.is_empty() {
            Exit::Clean
        } else {
            Exit::Error
        });
    }
    args.input.check()?;
    if args.split != args.out.is_some() {
        bail!("--split and --out DIR go together");
    }
    if args.split && args.copy {
        bail!("--copy and --split exclude each other");
    }
    let Some(to) = args.to.clone() else {
        bail!("--to QDIR is required");
    };
    let set = load_rules(&args.input.rules)?;
    let scanner = Scanner::new(&set).context("compiling the rules")?;
    let mode = match (&args.out, args.copy) {
        (Some(out), _) => Mode::Split { out: out.clone() },
        (None, true) => Mode::Copy,
        (None, false) => Mode::Move,
    };
    let opts = QuarantineOptions {
        scan: args.input.scan_options(),
        min_severity: args.input.min_severity,
        mode,
        to,
        overwrite,
    };
    let (inputs, walk_errors) = args.input.walk(&args.paths);
    if inputs.contains(&Input::Stdin) {
        bail!("quarantine works on files, not stdin");
    }
    for e in &walk_errors {
        eprintln!("datasieve: {}: {}", e.path, e.message);
    }
    let files: Vec<PathBuf> = inputs
        .into_iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .collect();
    if files.is_empty() {
        bail!("no input files found");
    }
    let jobs = quarantine::plan_jobs(&args.paths, &files, &opts)?;
    let pool = build_pool(args.input.threads)?;
    let report = pool.install(|| quarantine::quarantine_files(&scanner, &jobs, &opts, &|_| {}));
    let rule_ids = set.rules().iter().map(|r| r.rule.id.clone()).collect();
    let arg_names = args.paths.iter().map(|p| p.display().to_string()).collect();
    let manifest = report
        .write_manifest(&opts, rule_ids, arg_names)
        .context("writing the quarantine manifest")?;

    let mut err = io::stderr().lock();
    for f in &report.files {
        if let Some(e) = &f.error {
            writeln!(err, "datasieve: {}: {e}", f.path)?;
        } else if f.skipped_binary && !args.input.quiet {
            writeln!(
                err,
                "datasieve: {}: not scanned (binary file; use --binary)",
                f.path
            )?;
        }
    }
    drop(err);
    let records: RecordCounts = report.records();
    let mut out = io::stdout().lock();
    let this_run = manifest.runs.len() - 1;
    let entries = manifest
        .entries
        .iter()
        .filter(|e| e.run == this_run)
        .count();
    match &opts.mode {
        Mode::Split { out: clean } => writeln!(
            out,
            "split {} file(s): {} flagged record(s) -> {}, clean records -> {}",
            report.files.len(),
            records.quarantined,
            opts.to.display(),
            clean.display()
        )?,
        mode => writeln!(
            out,
            "quarantined {} of {} file(s) ({}) -> {}",
            report.files_quarantined(),
            report.files.len(),
            mode.name(),
            opts.to.display()
        )?,
    }
    let by_rule = report.by_rule();
    if !by_rule.is_empty() {
        let w = by_rule.keys().map(String::len).max().unwrap_or(4).max(4);
        writeln!(out, "  {:<w$}  {:>8}", "rule", "findings")?;
        for (rule, n) in &by_rule {
            writeln!(out, "  {rule:<w$}  {n:>8}")?;
        }
    }
    writeln!(
        out,
        "  manifest: {} ({entries} entr{})",
        opts.to.join(MANIFEST).display(),
        if entries == 1 { "y" } else { "ies" }
    )?;
    writeln!(out, "{records}")?;
    out.flush()?;
    let failed = report.error_count() + walk_errors.len();
    if failed > 0 {
        eprintln!("datasieve: error: {failed} input(s) could not be handled");
        return Ok(Exit::Error);
    }
    if !records.balanced() {
        eprintln!("datasieve: error: record counts do not add up");
        return Ok(Exit::Error);
    }
    Ok(if args.input.fail_on_findings && records.quarantined > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}
