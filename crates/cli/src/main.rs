//! `datasieve`: the command line. Flag definitions plus glue: arguments are
//! validated into library options, the library does the work, this file prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use datasieve::engine::{check_examples, ScanConfig, Scanner};
use datasieve::report::{self, OutputFormat, ReportOptions, ReportWriter};
use datasieve::rules::RuleSet;
use datasieve::scan::{scan_inputs_with, FileOutcome, FileStatus, ScanEvent, ScanOptions};
use datasieve::source::{collect_inputs, WalkOptions};

mod act;

/// Exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Nothing found.
    Clean = 0,
    /// Findings.
    Findings = 1,
    /// Usage error, or nothing could be scanned.
    Error = 2,
}

#[derive(Parser, Debug)]
#[command(
    name = "datasieve",
    version,
    about = "Find and redact PII and credentials in training datasets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan files, folders or stdin (`-`) and report findings.
    Scan(ScanArgs),
    /// List the loaded rules, or check their examples (`rules check`).
    Rules(RulesArgs),
    /// Write sanitised copies: replace what is found (placeholder, mask, hash,
    /// synthetic, drop-record), same format out.
    Redact(act::RedactArgs),
    /// Move, copy or split off what carries findings into a quarantine folder with
    /// a manifest; `--restore QDIR` puts moved files back.
    Quarantine(act::QuarantineArgs),
}

#[derive(Args, Debug, Clone)]
struct RuleArgs {
    /// Extra rule file or folder of *.toml rule files (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Use only the rules from --rules, not the built-in catalog.
    #[arg(long)]
    no_builtin_rules: bool,
}

#[derive(Args, Debug)]
struct ScanArgs {
    /// Files or folders to scan; `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print values unmasked (they are masked by default).
    #[arg(long)]
    show_secrets: bool,
    /// Print counts by rule, category and severity (after the findings; to stderr for
    /// machine formats).
    #[arg(long)]
    summary: bool,
    #[command(flatten)]
    rules: RuleArgs,
    /// Scan files that look binary instead of skipping them.
    #[arg(long)]
    binary: bool,
    /// No progress bar and no notes on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Worker threads (default: all cores; 1 runs on the calling thread only).
    #[arg(long, short = 'j', value_name = "N")]
    threads: Option<usize>,
    /// Report only findings with at least this confidence (0..1).
    #[arg(long, default_value_t = 0.5, value_name = "X")]
    min_confidence: f32,
    /// Also show candidates that were dropped, with the reason.
    #[arg(long)]
    explain: bool,
    /// Print per-rule candidate counts and time (to stderr).
    #[arg(long)]
    stats: bool,
    /// Follow symbolic links when walking folders.
    #[arg(long)]
    follow_links: bool,
    /// Also scan inside .git folders.
    #[arg(long)]
    include_git: bool,
    /// Never memory-map inputs.
    #[arg(long)]
    no_mmap: bool,
    /// Inputs larger than this are cut into chunks scanned in parallel (bytes, or
    /// with a unit: 512K, 8MiB); compressed streams are read in blocks of this size.
    #[arg(long, default_value = "8MiB", value_name = "SIZE", value_parser = parse_chunk_size)]
    chunk_size: usize,
    /// Exit with 2 when any input could not be scanned.
    #[arg(long)]
    strict: bool,
    /// Read inputs as this format instead of detecting it: text, jsonl, json, ipynb,
    /// csv, tsv, parquet (compressed streams inside are still unpacked), or gz, zst,
    /// bz2, xz, zip, tar.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    input_format: Option<datasieve::format::Format>,
    /// Scan only these fields of record formats (comma-separated): key names match
    /// anywhere in a record, `/a/b` are JSON Pointers (`*` is any step), CSV and
    /// Parquet match column names.
    #[arg(long, value_name = "LIST", value_parser = parse_fields)]
    fields: Option<datasieve::format::FieldFilter>,
    /// Most bytes that compressed streams and archive members of one input may
    /// expand to, together (e.g. 4GiB).
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
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Args, Debug)]
struct RulesArgs {
    /// `check` runs every rule's examples and fails on the first broken rule.
    #[arg(value_parser = ["list", "check"], default_value = "list")]
    action: String,
    /// Output format for the list.
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    format: ListFormat,
    #[command(flatten)]
    rules: RuleArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Jsonl,
    Sarif,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ListFormat {
    Human,
    Json,
    Markdown,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Human => OutputFormat::Human,
            Format::Json => OutputFormat::Json,
            Format::Jsonl => OutputFormat::Jsonl,
            Format::Sarif => OutputFormat::Sarif,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Clean
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let result = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Rules(args) => run_rules(args),
        Command::Redact(args) => act::run_redact(args),
        Command::Quarantine(args) => act::run_quarantine(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(Exit::Clean as u8);
            }
            eprintln!("datasieve: error: {e:#}");
            ExitCode::from(Exit::Error as u8)
        }
    }
}

fn load_rules(args: &RuleArgs) -> Result<RuleSet> {
    let mut set = if args.no_builtin_rules {
        RuleSet::new()
    } else {
        RuleSet::builtin().context("loading the built-in rules")?
    };
    for path in &args.rules {
        set.add_path(path)?;
    }
    if set.is_empty() {
        anyhow::bail!("no rules loaded");
    }
    Ok(set)
}

fn run_rules(args: RulesArgs) -> Result<Exit> {
    let set = load_rules(&args.rules)?;
    if args.action == "check" {
        let failures = check_examples(&set)?;
        for f in &failures {
            eprintln!("{f}");
        }
        if failures.is_empty() {
            println!("{} rules ok: ids unique, regexes compile (anchored ones bounded), every example matches and no negative example does", set.len());
            return Ok(Exit::Clean);
        }
        eprintln!("{} failure(s)", failures.len());
        return Ok(Exit::Findings);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        ListFormat::Json => {
            let list: Vec<_> = set
                .rules()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.rule.id,
                        "name": r.rule.name,
                        "category": r.rule.category.as_str(),
                        "severity": r.rule.severity.as_str(),
                        "label": r.rule.label(),
                        "keywords": r.rule.keywords,
                        "anchor": r.rule.anchor,
                        "regex": datasieve::engine::expand_macros(&r.rule.regex),
                        "validators": r.rule.validators.iter().map(|v| v.name().to_string()).collect::<Vec<_>>(),
                        "context": r.rule.context.as_ref().map(|c| &c.words),
                        "source": r.source,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        ListFormat::Markdown => write!(out, "{}", datasieve::rules::catalog_markdown(&set))?,
        ListFormat::Human => {
            let w = set
                .rules()
                .iter()
                .map(|r| r.rule.id.len())
                .max()
                .unwrap_or(0);
            for r in set.rules() {
                let validators: Vec<_> = r.rule.validators.iter().map(|v| v.name()).collect();
                writeln!(
                    out,
                    "{:<w$}  {:<13} {:<8} {}{}",
                    r.rule.id,
                    r.rule.category.as_str(),
                    r.rule.severity.as_str(),
                    r.rule.name,
                    if validators.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", validators.join(", "))
                    }
                )?;
            }
            writeln!(out, "{} rules", set.len())?;
        }
    }
    out.flush()?;
    Ok(Exit::Clean)
}

fn run_scan(args: ScanArgs) -> Result<Exit> {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        anyhow::bail!("--min-confidence must be between 0 and 1");
    }
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let pool = build_pool(args.threads)?;
    let set = pool.install(|| load_rules(&args.rules))?;
    let scanner = pool
        .install(|| Scanner::new(&set))
        .context("compiling the rules")?;
    let (inputs, walk_errors) = collect_inputs(
        &args.paths,
        &WalkOptions {
            follow_links: args.follow_links,
            include_git: args.include_git,
        },
    );
    let opts = ScanOptions {
        engine: ScanConfig {
            explain: args.explain,
            min_confidence: args.min_confidence,
        },
        binary: args.binary,
        mmap_threshold: if args.no_mmap {
            u64::MAX
        } else {
            datasieve::read::DEFAULT_MMAP_THRESHOLD
        },
        stats: args.stats,
        chunk_size: args.chunk_size.max(1),
        input_format: args.input_format,
        fields: args.fields.clone(),
        limits: datasieve::read::Limits {
            max_member_size: args.max_member_size,
            max_total_size: args.max_decompressed_size,
            max_ratio: args.max_ratio,
            max_archive_depth: args.max_archive_depth,
        },
    };

    let show_progress = !args.quiet && io::stderr().is_terminal();
    let bar = if show_progress {
        let total: u64 = inputs
            .iter()
            .filter_map(|i| match i {
                datasieve::source::Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                datasieve::source::Input::Stdin => None,
            })
            .sum();
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(Arc::new(bar))
    } else {
        None
    };
    let files_done = std::sync::atomic::AtomicUsize::new(0);
    let total_files = inputs.len();
    let progress = |bytes: u64| {
        if let Some(bar) = &bar {
            let n = files_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.inc(bytes);
            bar.set_message(format!("{n}/{total_files} files"));
        }
    };

    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let format: OutputFormat = args.format.into();
    // Findings are written as the scan hands them on, in path order: memory holds
    // counts, not findings. Over a progress bar on the same terminal, each piece
    // of output is written with the bar out of the way.
    let out = io::BufWriter::with_capacity(64 << 10, io::stdout());
    let mut writer = ReportWriter::new(
        out,
        format,
        ReportOptions {
            show_secrets: args.show_secrets,
            color,
        },
    )?;
    let over_bar = bar.as_ref().filter(|_| io::stdout().is_terminal());
    let quiet = args.quiet;
    // Notes on stderr: what was not scanned and why (machine formats carry them too).
    let note = |f: &FileOutcome| {
        if quiet {
            return;
        }
        let mut lines = Vec::new();
        match &f.status {
            FileStatus::Error(e) if format != OutputFormat::Human => {
                lines.push(format!("datasieve: {}: {e}", f.path))
            }
            FileStatus::SkippedBinary => lines.push(format!(
                "datasieve: {}: skipped (binary file; use --binary to scan it)",
                f.path
            )),
            _ => {}
        }
        for w in &f.warnings {
            lines.push(format!("datasieve: {}: warning: {w}", f.path));
        }
        for line in lines {
            match &bar {
                Some(bar) => bar.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            }
        }
    };
    let mut write_event = |event: ScanEvent| -> io::Result<()> {
        let write = |w: &mut ReportWriter<_>| match &event {
            ScanEvent::Findings(found) => w.findings(found),
            ScanEvent::Done(outcome) => {
                note(outcome);
                w.done(outcome)
            }
        };
        match over_bar {
            Some(bar) => bar.suspend(|| {
                write(&mut writer)?;
                writer.flush()
            }),
            None => write(&mut writer),
        }
    };
    // What could not be walked takes its place in path order among the inputs.
    let mut walk_errors: Vec<FileOutcome> = walk_errors
        .into_iter()
        .map(|e| FileOutcome {
            path: e.path.into(),
            bytes: 0,
            findings: Vec::new(),
            status: FileStatus::Error(e.message),
            warnings: Vec::new(),
        })
        .collect();
    walk_errors.sort_by(|a, b| b.path.cmp(&a.path));
    // Writes an event after the walk errors that sort before it; `None` (the end
    // of the run) writes the walk errors left.
    let mut handle = |event: Option<ScanEvent>| -> io::Result<()> {
        let path = event.as_ref().and_then(|e| match e {
            ScanEvent::Findings(found) => found.first().map(|f| f.path.clone()),
            ScanEvent::Done(outcome) => Some(outcome.path.clone()),
        });
        while let Some(e) = walk_errors.pop_if(|e| path.as_ref().is_none_or(|p| e.path < *p)) {
            write_event(ScanEvent::Done(e))?;
        }
        event.map_or(Ok(()), &mut write_event)
    };
    let mut failed: Option<io::Error> = None;
    let stats = pool.install(|| {
        scan_inputs_with(&inputs, &scanner, &opts, &progress, &mut |event| {
            if failed.is_none() {
                failed = handle(Some(event)).err();
                // The reader went away (`| head`): nothing more can be written, and
                // the scan writes no file, so stop now as `main` would at the end.
                if failed
                    .as_ref()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
                {
                    std::process::exit(Exit::Clean as i32);
                }
            }
        })
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if failed.is_none() {
        failed = handle(None).err();
    }
    if let Some(e) = failed {
        return Err(e).context("writing the report");
    }
    let (summary, mut out) = writer.finish()?;
    if args.summary {
        if format == OutputFormat::Human {
            report::write_summary(&mut out, &summary)?;
        } else {
            out.flush()?;
            report::write_summary(&mut io::stderr().lock(), &summary)?;
        }
    }
    out.flush()?;
    if args.stats {
        write_stats(&scanner, &stats)?;
    }

    let errors = summary.files_failed;
    let nothing_scanned = summary.files_scanned == 0 && (errors > 0 || summary.inputs() == 0);
    if nothing_scanned || (args.strict && errors > 0) {
        if summary.inputs() == 0 {
            eprintln!("datasieve: error: no input files found");
        }
        return Ok(Exit::Error);
    }
    Ok(if summary.findings > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

fn write_stats(scanner: &Scanner, stats: &[datasieve::engine::RuleStats]) -> Result<()> {
    let mut rows: Vec<(usize, &datasieve::engine::RuleStats)> = stats.iter().enumerate().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.nanos));
    let mut err = io::stderr().lock();
    writeln!(
        err,
        "{:<44} {:>10} {:>11} {:>8} {:>10}",
        "rule", "windows", "candidates", "kept", "ms"
    )?;
    for (idx, s) in rows.into_iter().filter(|(_, s)| s.windows > 0) {
        writeln!(
            err,
            "{:<44} {:>10} {:>11} {:>8} {:>10.2}",
            scanner.rule(idx).id,
            s.windows,
            s.candidates,
            s.kept,
            s.nanos as f64 / 1e6
        )?;
    }
    Ok(())
}

fn parse_format(name: &str) -> Result<datasieve::format::Format, String> {
    datasieve::format::Format::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = datasieve::format::Format::ALL
            .iter()
            .map(|f| f.as_str())
            .collect();
        format!(
            "unknown format {name:?}; expected one of {}",
            names.join(", ")
        )
    })
}

fn parse_fields(list: &str) -> Result<datasieve::format::FieldFilter, String> {
    datasieve::format::FieldFilter::parse(list)
        .ok_or_else(|| "--fields needs at least one field".to_string())
}

/// `--chunk-size`: a size as the other size options take it, at least one byte.
fn parse_chunk_size(text: &str) -> Result<usize, String> {
    let n = datasieve::read::parse_size(text)?;
    if n == 0 {
        return Err("must be at least 1 byte".into());
    }
    usize::try_from(n).map_err(|_| format!("{text} is too large"))
}

fn build_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
        if n == 1 {
            // One thread means no worker threads at all: the calling thread does the work.
            b = b.use_current_thread();
        }
    }
    b.build().context("starting the thread pool")
}
