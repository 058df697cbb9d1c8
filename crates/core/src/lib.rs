//! # datasieve
//!
//! Finds personal data (PII), credentials and other sensitive identifiers in datasets
//! before they are used to train a model.
//!
//! One flow, one direction: [`source`] walks inputs, [`read`] gives bytes (mmap or
//! read; compressed streams and archive members expanded under limits), [`format`](mod@format)
//! knows where records and fields are (text, JSON Lines, JSON, notebooks, CSV/TSV,
//! Parquet), [`engine`] finds matches, [`finding`] describes them and [`report`]
//! writes them out. [`scan`] wires the stages for a set of inputs, in parallel.
//!
//! ```
//! use datasieve::{engine::{Scanner, ScanConfig}, rules::RuleSet};
//! let scanner = Scanner::new(&RuleSet::builtin()?)?;
//! let text = b"token: ghp_0123456789abcdefghijklmnopqrstuvwxyz";
//! let found = scanner.scan(text, &ScanConfig::default());
//! assert!(!found.is_empty() || text.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod engine;
pub mod finding;
pub mod format;
pub mod quarantine;
pub mod read;
pub mod redact;
pub mod report;
pub mod rules;
pub mod scan;
pub mod source;
mod swar;
pub mod validate;
pub mod write;

pub use engine::{Match, ScanConfig, Scanner};
pub use finding::Finding;
pub use rules::{Category, RuleSet, Severity};
pub use scan::{scan_inputs, FileOutcome, FileStatus, ScanOptions, ScanReport};
