//! Precision and recall of the built-in catalog on a generated, labeled corpus.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use datasieve::scan::{scan_inputs, ScanOptions};
use datasieve::source::Input;
use datasieve::{RuleSet, Scanner};

use crate::{generate, Density, DocKind, Label, KINDS};

/// Counts for one row of the tables.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Findings that hit a planted value of a kind the rule is meant for.
    pub true_positives: usize,
    /// Other findings.
    pub false_positives: usize,
    /// Planted values (per kind).
    pub planted: usize,
    /// Planted values found by an accepted rule (per kind).
    pub found: usize,
}

impl Counts {
    /// TP / (TP + FP); 1 when nothing was reported.
    pub fn precision(&self) -> f64 {
        let d = self.true_positives + self.false_positives;
        if d == 0 {
            1.0
        } else {
            self.true_positives as f64 / d as f64
        }
    }
    /// found / planted; 1 when nothing was planted.
    pub fn recall(&self) -> f64 {
        if self.planted == 0 {
            1.0
        } else {
            self.found as f64 / self.planted as f64
        }
    }
}

/// The result of an evaluation run.
#[derive(Debug, Default)]
pub struct EvalResult {
    /// Bytes scanned.
    pub bytes: usize,
    /// Per rule id: precision of its findings.
    pub by_rule: BTreeMap<String, Counts>,
    /// Per planted kind: recall.
    pub by_kind: BTreeMap<&'static str, Counts>,
    /// Everything.
    pub overall: Counts,
    /// Descriptions of planted values that were not found.
    pub misses: Vec<String>,
    /// Descriptions of false positives.
    pub false_positives: Vec<String>,
}

impl EvalResult {
    /// Markdown tables: overall, per kind, per rule.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let o = &self.overall;
        let _ = writeln!(
            s,
            "Corpus: {} bytes, {} planted values, {} findings\n",
            self.bytes,
            o.planted,
            o.true_positives + o.false_positives
        );
        let _ = writeln!(
            s,
            "| overall | precision | recall |\n|---|---|---|\n| all rules | {:.3} | {:.3} |\n",
            o.precision(),
            o.recall()
        );
        let _ = writeln!(
            s,
            "| kind | planted | found | recall |\n|---|---:|---:|---:|"
        );
        for (k, c) in &self.by_kind {
            let _ = writeln!(
                s,
                "| {k} | {} | {} | {:.3} |",
                c.planted,
                c.found,
                c.recall()
            );
        }
        let _ = writeln!(
            s,
            "\n| rule | findings | true | false | precision |\n|---|---:|---:|---:|---:|"
        );
        for (r, c) in &self.by_rule {
            let _ = writeln!(
                s,
                "| {r} | {} | {} | {} | {:.3} |",
                c.true_positives + c.false_positives,
                c.true_positives,
                c.false_positives,
                c.precision()
            );
        }
        s
    }
}

fn accepts(kind: &str, rule: &str) -> bool {
    KINDS.iter().find(|k| k.name == kind).is_some_and(|k| {
        k.accept.iter().any(|p| {
            rule == *p || rule.starts_with(&format!("{p}.")) || rule.starts_with(&format!("{p}_"))
        })
    })
}

/// Generates `total` bytes of every document kind, scans them, and scores findings
/// against the labels.
pub fn run(total: usize, seed: u64) -> Result<EvalResult, String> {
    let files = generate(
        total,
        (total / 14).max(8192),
        &DocKind::ALL,
        seed,
        Density::EVAL,
    );
    let dir = std::env::temp_dir().join(format!("datasieve-eval-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut inputs = Vec::new();
    for f in &files {
        let p = dir.join(&f.name);
        std::fs::write(&p, &f.bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        inputs.push(Input::File(p));
    }
    let rules = RuleSet::builtin().map_err(|e| e.to_string())?;
    let scanner = Scanner::new(&rules).map_err(|e| e.to_string())?;
    let report = scan_inputs(&inputs, &scanner, &ScanOptions::default(), &|_| {});
    let _ = std::fs::remove_dir_all(&dir);

    let mut result = EvalResult {
        bytes: files.iter().map(|f| f.bytes.len()).sum(),
        ..EvalResult::default()
    };
    let by_name: HashMap<String, &crate::File> =
        files.iter().map(|f| (f.name.clone(), f)).collect();
    let mut found_labels: HashMap<(String, usize), bool> = HashMap::new();
    for outcome in &report.files {
        let name = std::path::Path::new(&*outcome.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(file) = by_name.get(&name) else {
            continue;
        };
        if let datasieve::FileStatus::Error(e) = &outcome.status {
            return Err(format!("{}: {e}", outcome.path));
        }
        for f in outcome.findings.iter().filter(|f| !f.dropped) {
            let (s, e) = (f.start as usize, f.end as usize);
            let hit: Option<&Label> = file
                .labels
                .iter()
                .find(|l| !l.decoy && l.start < e && s < l.end && accepts(l.kind, &f.rule.id));
            let counts = result.by_rule.entry(f.rule.id.clone()).or_default();
            match hit {
                Some(l) => {
                    counts.true_positives += 1;
                    result.overall.true_positives += 1;
                    found_labels.insert((file.name.clone(), l.start), true);
                }
                None => {
                    counts.false_positives += 1;
                    result.overall.false_positives += 1;
                    let what = file
                        .labels
                        .iter()
                        .find(|l| l.start < e && s < l.end)
                        .map_or("unlabeled text".to_string(), |l| {
                            format!("{}{}", if l.decoy { "decoy " } else { "planted " }, l.kind)
                        });
                    let ctx_s = s.saturating_sub(30);
                    let ctx_e = (e + 30).min(file.bytes.len());
                    result.false_positives.push(format!(
                        "{} {} at {}:{} in {what}: {:?}",
                        f.rule.id,
                        String::from_utf8_lossy(&file.bytes[s..e]),
                        file.name,
                        s,
                        String::from_utf8_lossy(&file.bytes[ctx_s..ctx_e])
                    ));
                }
            }
        }
    }
    for file in &files {
        for l in file.labels.iter().filter(|l| !l.decoy) {
            let c = result.by_kind.entry(l.kind).or_default();
            c.planted += 1;
            result.overall.planted += 1;
            if found_labels.contains_key(&(file.name.clone(), l.start)) {
                c.found += 1;
                result.overall.found += 1;
            } else {
                let ctx_s = l.start.saturating_sub(30);
                let ctx_e = (l.end + 10).min(file.bytes.len());
                result.misses.push(format!(
                    "{} in {}:{}: {:?}",
                    l.kind,
                    file.name,
                    l.start,
                    String::from_utf8_lossy(&file.bytes[ctx_s..ctx_e])
                ));
            }
        }
    }
    Ok(result)
}
