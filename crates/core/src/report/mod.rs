//! Reports: write a [`ScanReport`] as human text, JSON, JSON Lines or SARIF, plus a
//! summary of counts. Values are masked unless `show_secrets` is set.
//!
//! ```
//! use datasieve::report::{write_report, OutputFormat, ReportOptions};
//! let mut out = Vec::new();
//! write_report(&mut out, &Default::default(), OutputFormat::Json, &ReportOptions::default()).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("\"findings\""));
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::json;

use crate::scan::{FileStatus, ScanReport};

mod sarif;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Grouped by file, for people.
    #[default]
    Human,
    /// One JSON document.
    Json,
    /// One JSON object per finding per line.
    Jsonl,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            "jsonl" => Ok(Self::Jsonl),
            "sarif" => Ok(Self::Sarif),
            _ => Err(format!(
                "unknown format {s:?} (expected human, json, jsonl or sarif)"
            )),
        }
    }
}

/// What a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Print values unmasked.
    pub show_secrets: bool,
    /// Use ANSI colours (human format).
    pub color: bool,
}

/// Writes the findings of `report` in `format`.
pub fn write_report(
    out: &mut dyn Write,
    report: &ScanReport,
    format: OutputFormat,
    opts: &ReportOptions,
) -> io::Result<()> {
    match format {
        OutputFormat::Human => write_human(out, report, opts),
        OutputFormat::Json => {
            let findings: Vec<_> = report
                .findings()
                .map(|f| f.record_view(opts.show_secrets))
                .collect();
            let doc = json!({
                "version": env!("CARGO_PKG_VERSION"),
                "findings": findings,
                "files": files_json(report),
                "summary": summary_json(report),
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        OutputFormat::Jsonl => {
            for f in report.findings() {
                serde_json::to_writer(&mut *out, &f.record_view(opts.show_secrets))?;
                writeln!(out)?;
            }
            Ok(())
        }
        OutputFormat::Sarif => sarif::write(out, report, opts),
    }
}

fn files_json(report: &ScanReport) -> Vec<serde_json::Value> {
    report
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Scanned || !f.warnings.is_empty())
        .map(|f| {
            let (status, error) = match &f.status {
                FileStatus::Scanned => ("scanned", None),
                FileStatus::SkippedBinary => ("skipped_binary", None),
                FileStatus::Error(e) => ("error", Some(e.as_str())),
            };
            json!({"path": &*f.path, "status": status, "error": error, "warnings": f.warnings})
        })
        .collect()
}

/// Counts of kept findings by rule, by category and by severity.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Rule id -> count.
    pub by_rule: BTreeMap<String, usize>,
    /// Category -> count.
    pub by_category: BTreeMap<String, usize>,
    /// Severity -> count.
    pub by_severity: BTreeMap<String, usize>,
    /// Kept findings.
    pub findings: usize,
    /// Inputs scanned in full.
    pub files_scanned: usize,
    /// Inputs with findings.
    pub files_with_findings: usize,
    /// Inputs skipped as binary.
    pub files_skipped: usize,
    /// Inputs that failed.
    pub files_failed: usize,
    /// Bytes scanned.
    pub bytes: u64,
}

impl Summary {
    /// Counts the findings of a report.
    pub fn of(report: &ScanReport) -> Self {
        let mut s = Summary {
            files_scanned: report.scanned_count(),
            files_failed: report.error_count(),
            bytes: report.bytes(),
            ..Summary::default()
        };
        for file in &report.files {
            if file.status == FileStatus::SkippedBinary {
                s.files_skipped += 1;
            }
            let mut any = false;
            for f in file.findings.iter().filter(|f| !f.dropped) {
                any = true;
                s.findings += 1;
                *s.by_rule.entry(f.rule.id.clone()).or_default() += 1;
                *s.by_category
                    .entry(f.rule.category.to_string())
                    .or_default() += 1;
                *s.by_severity
                    .entry(f.rule.severity.to_string())
                    .or_default() += 1;
            }
            if any {
                s.files_with_findings += 1;
            }
        }
        s
    }
}

fn summary_json(report: &ScanReport) -> serde_json::Value {
    let s = Summary::of(report);
    json!({
        "findings": s.findings,
        "files_scanned": s.files_scanned,
        "files_with_findings": s.files_with_findings,
        "files_skipped_binary": s.files_skipped,
        "files_failed": s.files_failed,
        "bytes": s.bytes,
        "by_rule": s.by_rule,
        "by_category": s.by_category,
        "by_severity": s.by_severity,
    })
}

/// Writes the summary as text (for `--summary`).
pub fn write_summary(out: &mut dyn Write, report: &ScanReport) -> io::Result<()> {
    let s = Summary::of(report);
    writeln!(
        out,
        "Summary: {} finding(s) in {} of {} scanned file(s), {} byte(s)",
        s.findings, s.files_with_findings, s.files_scanned, s.bytes
    )?;
    if s.files_skipped > 0 || s.files_failed > 0 {
        writeln!(
            out,
            "  skipped (binary): {}   failed: {}",
            s.files_skipped, s.files_failed
        )?;
    }
    if !s.by_category.is_empty() {
        writeln!(out, "  by category:")?;
        for (k, v) in &s.by_category {
            writeln!(out, "    {k:<16} {v:>8}")?;
        }
        writeln!(out, "  by severity:")?;
        for (k, v) in &s.by_severity {
            writeln!(out, "    {k:<16} {v:>8}")?;
        }
        writeln!(out, "  by rule:")?;
        let width = s.by_rule.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &s.by_rule {
            writeln!(out, "    {k:<width$} {v:>8}")?;
        }
    }
    Ok(())
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn write_human(out: &mut dyn Write, report: &ScanReport, opts: &ReportOptions) -> io::Result<()> {
    for file in &report.files {
        match &file.status {
            FileStatus::Error(e) => {
                writeln!(out, "{}: error: {e}", paint(opts.color, "1", &file.path))?;
                continue;
            }
            FileStatus::SkippedBinary => continue,
            FileStatus::Scanned => {}
        }
        if file.findings.is_empty() {
            continue;
        }
        writeln!(out, "{}", paint(opts.color, "1;35", &file.path))?;
        for f in &file.findings {
            let sev = f.rule.severity.as_str();
            let sev_col = match f.rule.severity {
                crate::Severity::Critical | crate::Severity::High => "1;31",
                crate::Severity::Medium => "33",
                crate::Severity::Low => "36",
            };
            let mut loc = format!("{}:{}", f.line, f.column);
            if let Some(g) = f.row_group {
                loc.push_str(&format!(" row group {g}"));
            }
            if let Some(r) = f.record {
                loc.push_str(&format!(" record {r}"));
            }
            if let Some(field) = &f.field {
                loc.push_str(&format!(" field {field}"));
            }
            write!(
                out,
                "  {loc}  {:<8} {}  {}  (confidence {:.2}",
                paint(opts.color, sev_col, sev),
                f.rule.id,
                f.shown_value(opts.show_secrets),
                f.confidence
            )?;
            if let Some(r) = f.reason {
                write!(out, "; {r}")?;
            }
            writeln!(out, "){}", if f.dropped { "  [dropped]" } else { "" })?;
        }
        writeln!(out)?;
    }
    Ok(())
}
