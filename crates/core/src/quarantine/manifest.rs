//! `manifest.json`: what a quarantine folder holds and why.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::QuarantineError;
use crate::finding::Finding;
use crate::redact::RecordCounts;
use crate::write::{self, Overwrite};

/// File name of the manifest in a quarantine folder.
pub const MANIFEST: &str = "manifest.json";
/// Version of the manifest schema.
pub const MANIFEST_VERSION: u32 = 1;

/// The manifest of a quarantine folder. Runs into the same folder append to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// `datasieve` and its version.
    pub tool: String,
    /// The settings of every run that wrote to the folder.
    pub runs: Vec<RunSettings>,
    /// Every quarantined file or record.
    pub entries: Vec<Entry>,
}

/// The settings of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Index of the run in [`Manifest::runs`].
    pub run: usize,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: u64,
    /// `move`, `copy` or `split`.
    pub mode: String,
    /// The quarantine folder as given.
    pub to: String,
    /// Where clean records went (`split`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub out: Option<String>,
    /// Findings below this severity did not count.
    pub min_severity: String,
    /// Findings below this confidence did not count.
    pub min_confidence: f32,
    /// Ids of the rules loaded.
    pub rules: Vec<String>,
    /// The inputs as given.
    pub inputs: Vec<String>,
    /// Record accounting of the run.
    pub records: RecordCounts,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A whole file, moved or copied.
    File,
    /// One record of a JSONL or CSV file (`--split`).
    Record,
}

/// One quarantined file or record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Index of the run in [`Manifest::runs`].
    pub run: usize,
    /// File or record.
    pub kind: EntryKind,
    /// Absolute path of the input it came from.
    pub source: String,
    /// Path of the quarantined copy, relative to the quarantine folder.
    pub stored: String,
    /// `move`, `copy` or `split`.
    pub mode: String,
    /// For records: the record number in the source (0-based, as in findings).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<u64>,
    /// For records: its position among the records of the stored file (0-based).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<u64>,
    /// SHA-256 of the quarantined bytes (the file, or the record as written).
    pub sha256: String,
    /// Size of the quarantined bytes.
    pub bytes: u64,
    /// Unix permission bits of a moved file, restored by `--restore`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub permissions: Option<u32>,
    /// Findings per rule id that sent it here.
    pub rules: BTreeMap<String, u64>,
    /// The findings, values masked.
    pub findings: Vec<ManifestFinding>,
    /// Moved back by `--restore`.
    #[serde(default)]
    pub restored: bool,
}

/// A finding as the manifest keeps it: never the raw value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFinding {
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: String,
    /// Confidence, two decimals.
    pub confidence: f32,
    /// Byte offset in the source.
    pub start: u64,
    /// End byte offset (exclusive).
    pub end: u64,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// Record number, for record formats.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<u64>,
    /// Field, for record formats.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// The value, masked.
    #[serde(rename = "match")]
    pub matched: String,
}

impl From<&Finding> for ManifestFinding {
    fn from(f: &Finding) -> Self {
        ManifestFinding {
            rule: f.rule.id.clone(),
            severity: f.rule.severity.as_str().to_string(),
            confidence: (f.confidence * 100.0).round() / 100.0,
            start: f.start,
            end: f.end,
            line: f.line,
            column: f.column,
            record: f.record,
            field: f.field.clone(),
            matched: f.shown_value(false),
        }
    }
}

/// Rule id -> count.
pub(crate) fn rule_counts<'a>(
    findings: impl Iterator<Item = &'a Finding>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in findings {
        *out.entry(f.rule.id.clone()).or_default() += 1;
    }
    out
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            tool: format!("datasieve {}", env!("CARGO_PKG_VERSION")),
            runs: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Reads the manifest of quarantine folder `dir`; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, QuarantineError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(QuarantineError::Manifest {
                    path,
                    message: e.to_string(),
                })
            }
        };
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| QuarantineError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(QuarantineError::Manifest {
                path,
                message: format!("unsupported manifest version {}", manifest.version),
            });
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest into `dir` atomically, owner-only, replacing the old one
    /// (which [`Manifest::load`] read and this one extends).
    pub fn save(&self, dir: &Path) -> Result<(), QuarantineError> {
        let path = dir.join(MANIFEST);
        write::write_with(&path, Overwrite::Replace, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            w.write_all(b"\n")
        })?;
        Ok(())
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}
