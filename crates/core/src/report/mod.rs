//! Reports: write findings as human text, JSON, JSON Lines or SARIF as a scan hands
//! them on ([`ReportWriter`]) or from a whole [`ScanReport`], plus a summary of
//! counts. Values are masked unless `show_secrets` is set.
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

use crate::finding::Finding;
use crate::scan::{FileOutcome, FileStatus, ScanReport};

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

/// Writes a report as a scan hands it on ([`crate::scan::scan_inputs_with`]):
/// [`ReportWriter::findings`] for each batch of findings of the current input,
/// [`ReportWriter::done`] when that input is done, [`ReportWriter::finish`] at the
/// end. It keeps counts and the notes about inputs, never the findings, so a run
/// with any number of findings writes its report in bounded memory. JSON and SARIF
/// are one document (its opening is written at once, the rest at the end).
pub struct ReportWriter<W: Write> {
    out: W,
    format: OutputFormat,
    opts: ReportOptions,
    summary: Summary,
    /// Findings written (JSON, SARIF: a comma goes before the next one).
    written: usize,
    /// The current input's heading is written (human format).
    heading: bool,
    /// The current input has kept findings.
    kept: bool,
    /// JSON: the inputs not scanned in full or with warnings.
    files: Vec<serde_json::Value>,
    /// SARIF: the rules of the results, in order of their first result.
    rules: sarif::Rules,
    /// JSON Lines: the line being written.
    line: Vec<u8>,
}

/// A pretty-printed JSON value whose lines after the first are indented by
/// `indent` spaces (JSON strings hold no raw newline).
fn pretty_at(value: &impl serde::Serialize, indent: usize) -> io::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    Ok(text.replace('\n', &format!("\n{:indent$}", "")))
}

impl<W: Write> ReportWriter<W> {
    /// Starts a report in `format` on `out`.
    pub fn new(mut out: W, format: OutputFormat, opts: ReportOptions) -> io::Result<Self> {
        match format {
            OutputFormat::Json => write!(
                out,
                "{{\n  \"version\": {},\n  \"findings\": [",
                serde_json::to_string(env!("CARGO_PKG_VERSION"))?
            )?,
            OutputFormat::Sarif => sarif::open(&mut out)?,
            OutputFormat::Human | OutputFormat::Jsonl => {}
        }
        Ok(ReportWriter {
            out,
            format,
            opts,
            summary: Summary::default(),
            written: 0,
            heading: false,
            kept: false,
            files: Vec::new(),
            rules: sarif::Rules::default(),
            line: Vec::new(),
        })
    }

    /// Writes findings of the current input (all of one input, in order).
    pub fn findings(&mut self, findings: &[Finding]) -> io::Result<()> {
        for f in findings {
            if self.summary.count(f) {
                self.kept = true;
            }
            match self.format {
                OutputFormat::Human => {
                    if !self.heading {
                        writeln!(self.out, "{}", paint(self.opts.color, "1;35", &f.path))?;
                        self.heading = true;
                    }
                    write_human_finding(&mut self.out, f, &self.opts)?;
                }
                OutputFormat::Json => {
                    let sep = if self.written > 0 { "," } else { "" };
                    let text = pretty_at(&f.record_view(self.opts.show_secrets), 4)?;
                    write!(self.out, "{sep}\n    {text}")?;
                    self.written += 1;
                }
                OutputFormat::Jsonl => {
                    self.line.clear();
                    f.record_view(self.opts.show_secrets)
                        .write_json(&mut self.line);
                    self.line.push(b'\n');
                    self.out.write_all(&self.line)?;
                }
                OutputFormat::Sarif => {
                    if f.dropped {
                        continue;
                    }
                    let result = self.rules.result(f, &self.opts);
                    let sep = if self.written > 0 { "," } else { "" };
                    write!(self.out, "{sep}\n        {}", pretty_at(&result, 8)?)?;
                    self.written += 1;
                }
            }
        }
        Ok(())
    }

    /// The current input is done: its status and warnings (its findings were
    /// given to [`ReportWriter::findings`] before).
    pub fn done(&mut self, outcome: &FileOutcome) -> io::Result<()> {
        self.summary.count_input(outcome, self.kept);
        self.kept = false;
        if self.format == OutputFormat::Human {
            if let FileStatus::Error(e) = &outcome.status {
                writeln!(
                    self.out,
                    "{}: error: {e}",
                    paint(self.opts.color, "1", &outcome.path)
                )?;
            }
            if self.heading {
                writeln!(self.out)?;
            }
        }
        self.heading = false;
        if self.format == OutputFormat::Json
            && (outcome.status != FileStatus::Scanned || !outcome.warnings.is_empty())
        {
            self.files.push(file_json(outcome));
        }
        Ok(())
    }

    /// Flushes what is written so far to the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the report; returns the counts and the output.
    pub fn finish(mut self) -> io::Result<(Summary, W)> {
        let close = if self.written > 0 { "\n  " } else { "" };
        match self.format {
            OutputFormat::Json => {
                write!(
                    self.out,
                    "{close}],\n  \"files\": {},\n  \"summary\": {}\n}}\n",
                    pretty_at(&self.files, 2)?,
                    pretty_at(&summary_json(&self.summary), 2)?
                )?;
            }
            OutputFormat::Sarif => {
                let close = if self.written > 0 { "\n      " } else { "" };
                write!(self.out, "{close}")?;
                sarif::close(&mut self.out, self.rules)?;
            }
            OutputFormat::Human | OutputFormat::Jsonl => {}
        }
        self.out.flush()?;
        Ok((self.summary, self.out))
    }
}

/// Writes the findings of `report` in `format` (a [`ReportWriter`] given the whole
/// report).
pub fn write_report(
    out: &mut dyn Write,
    report: &ScanReport,
    format: OutputFormat,
    opts: &ReportOptions,
) -> io::Result<()> {
    let mut w = ReportWriter::new(out, format, opts.clone())?;
    for file in &report.files {
        w.findings(&file.findings)?;
        w.done(file)?;
    }
    w.finish().map(|_| ())
}

fn file_json(f: &FileOutcome) -> serde_json::Value {
    let (status, error) = match &f.status {
        FileStatus::Scanned => ("scanned", None),
        FileStatus::SkippedBinary => ("skipped_binary", None),
        FileStatus::Error(e) => ("error", Some(e.as_str())),
    };
    json!({"path": &*f.path, "status": status, "error": error, "warnings": f.warnings})
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
        let mut s = Summary::default();
        for file in &report.files {
            let mut kept = false;
            for f in &file.findings {
                kept |= s.count(f);
            }
            s.count_input(file, kept);
        }
        s
    }

    /// Counts one finding; whether it is kept.
    fn count(&mut self, f: &Finding) -> bool {
        if f.dropped {
            return false;
        }
        self.findings += 1;
        bump(&mut self.by_rule, &f.rule.id);
        bump(&mut self.by_category, f.rule.category.as_str());
        bump(&mut self.by_severity, f.rule.severity.as_str());
        true
    }

    /// Counts one input (`kept`: it had kept findings).
    fn count_input(&mut self, file: &FileOutcome, kept: bool) {
        match file.status {
            FileStatus::Scanned => self.files_scanned += 1,
            FileStatus::SkippedBinary => self.files_skipped += 1,
            FileStatus::Error(_) => self.files_failed += 1,
        }
        if kept {
            self.files_with_findings += 1;
        }
        self.bytes += file.bytes;
    }

    /// Inputs counted, whatever their status.
    pub fn inputs(&self) -> usize {
        self.files_scanned + self.files_skipped + self.files_failed
    }
}

/// Adds one to the count of `key`, allocating the key only the first time.
fn bump(counts: &mut BTreeMap<String, usize>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

fn summary_json(s: &Summary) -> serde_json::Value {
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
pub fn write_summary(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
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

fn write_human_finding(out: &mut impl Write, f: &Finding, opts: &ReportOptions) -> io::Result<()> {
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
    writeln!(out, "){}", if f.dropped { "  [dropped]" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{scanner_with, TOK_RULE};
    use crate::scan::{scan_bytes, ScanOptions};

    /// Two inputs with findings of two rules (one dropped with explain), one
    /// that failed after some findings, one skipped.
    fn report() -> ScanReport {
        let scanner = scanner_with(
            &[
                TOK_RULE,
                r#"
[[rule]]
id = "t.key"
name = "test key"
category = "credential"
severity = "low"
keywords = ["key_"]
regex = '\bkey_[0-9]{6}\b'
confidence = 0.4
"#,
            ]
            .concat(),
        );
        let opts = ScanOptions {
            engine: crate::ScanConfig {
                explain: true,
                min_confidence: 0.5,
            },
            ..ScanOptions::default()
        };
        let mut text = String::new();
        for i in 0..30 {
            text.push_str(&format!("a tok_abcdefgh{i:08} and key_{i:06}\n"));
        }
        let mut files = scan_bytes("a.txt".into(), text.as_bytes(), &scanner, &opts).0;
        let mut failed = scan_bytes("b.txt".into(), b"x tok_zzzzzzzz00000001\n", &scanner, &opts).0;
        failed[0].status = FileStatus::Error("stream broken".into());
        files.extend(failed);
        files.push(FileOutcome {
            path: "c.bin".into(),
            bytes: 0,
            findings: Vec::new(),
            status: FileStatus::SkippedBinary,
            warnings: Vec::new(),
        });
        ScanReport {
            files,
            stats: Vec::new(),
        }
    }

    const FORMATS: [OutputFormat; 4] = [
        OutputFormat::Human,
        OutputFormat::Json,
        OutputFormat::Jsonl,
        OutputFormat::Sarif,
    ];

    fn write(report: &ScanReport, format: OutputFormat, batch: usize) -> String {
        let mut w = ReportWriter::new(Vec::new(), format, ReportOptions::default()).unwrap();
        for file in &report.files {
            for part in file.findings.chunks(batch) {
                w.findings(part).unwrap();
            }
            w.done(file).unwrap();
        }
        let (summary, out) = w.finish().unwrap();
        assert_eq!(summary, Summary::of(report));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn findings_given_in_batches_give_the_report_of_all_at_once() {
        let report = report();
        assert_eq!(report.files[0].findings.len(), 60);
        for format in FORMATS {
            let whole = write(&report, format, usize::MAX);
            assert_eq!(write(&report, format, 7), whole, "{format:?}");
            assert_eq!(write(&report, format, 1), whole, "{format:?}");
            let mut out = Vec::new();
            write_report(&mut out, &report, format, &ReportOptions::default()).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "{format:?}");
        }
    }

    #[test]
    fn streamed_json_and_sarif_are_whole_documents() {
        let report = report();
        let json: serde_json::Value =
            serde_json::from_str(&write(&report, OutputFormat::Json, 5)).unwrap();
        // every finding, the dropped ones too (explain)
        assert_eq!(json["findings"].as_array().unwrap().len(), 61);
        assert_eq!(json["summary"]["findings"], 31);
        assert_eq!(json["summary"]["files_with_findings"], 2);
        assert_eq!(json["summary"]["files_failed"], 1);
        let files = json["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0]["status"], "error");
        assert_eq!(files[1]["status"], "skipped_binary");

        let sarif: serde_json::Value =
            serde_json::from_str(&write(&report, OutputFormat::Sarif, 5)).unwrap();
        let run = &sarif["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 31, "kept findings only");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        for r in results {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }

        let empty = ScanReport::default();
        for format in [OutputFormat::Json, OutputFormat::Sarif] {
            let doc: serde_json::Value = serde_json::from_str(&write(&empty, format, 1)).unwrap();
            assert!(doc.is_object(), "{format:?}");
        }
    }

    #[test]
    fn human_report_shows_the_findings_of_a_failed_input_then_its_error() {
        let text = write(&report(), OutputFormat::Human, 3);
        let b: Vec<&str> = text.lines().skip_while(|l| *l != "b.txt").collect();
        assert_eq!(b.len(), 4, "{text}");
        assert!(b[1].contains("t.tok"), "{text}");
        assert_eq!(b[2], "b.txt: error: stream broken");
        assert_eq!(b[3], "");
        assert!(!text.contains("c.bin"));
    }
}
