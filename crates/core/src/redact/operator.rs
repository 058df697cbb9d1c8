//! Operators (what replaces a value) and the plan that picks one per finding.
//!
//! `--operator OP` sets the default, `--operator CATEGORY=OP` one category and
//! `--operator RULE=OP` one rule, where `RULE` is a rule id or a dotted prefix of ids
//! (`credential.aws`). A rule selector beats a category, which beats the default; of
//! two rule selectors the longer wins.
//!
//! ```
//! use datasieve::redact::{Operator, OperatorPlan, OperatorSpec};
//! let specs: Vec<OperatorSpec> = ["mask", "credential=hash", "pii.email=synthetic"]
//!     .iter().map(|s| s.parse().unwrap()).collect();
//! let plan = OperatorPlan::new(&specs);
//! assert_eq!(plan.default_operator(), Operator::Mask { keep_last: None });
//! assert_eq!("drop-record".parse::<Operator>().unwrap(), Operator::DropRecord);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::engine::RuleInfo;
use crate::rules::{Category, RuleSet};

/// What replaces a sensitive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Operator {
    /// `[EMAIL]`: the rule's label in brackets.
    #[default]
    Placeholder,
    /// Same length, letters and digits replaced by the mask character; the last
    /// `keep_last` letters and digits stay (`mask:4`; without a number the run's
    /// `--keep-last` applies).
    Mask {
        /// Letters and digits kept at the end, if set for this operator.
        keep_last: Option<u16>,
    },
    /// `[EMAIL:5f2a9c1e]`: a keyed pseudonym (HMAC-SHA256, truncated), the same for
    /// the same value everywhere and across runs with the same key.
    Hash,
    /// A fake value of the same shape, deterministic under the seed.
    Synthetic,
    /// Remove the whole record (record formats; plain text falls back to
    /// [`Operator::Placeholder`]).
    DropRecord,
}

impl Operator {
    /// The operator's name as written on the command line (`mask`, not `mask:4`).
    pub fn name(self) -> &'static str {
        match self {
            Operator::Placeholder => "placeholder",
            Operator::Mask { .. } => "mask",
            Operator::Hash => "hash",
            Operator::Synthetic => "synthetic",
            Operator::DropRecord => "drop-record",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operator::Mask { keep_last: Some(n) } => write!(f, "mask:{n}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Names accepted for operators, for error messages.
const OPERATOR_NAMES: &str = "placeholder, mask, mask:N, hash, synthetic or drop-record";

impl FromStr for Operator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("mask:") {
            let n: u16 = n
                .parse()
                .map_err(|_| format!("mask:N needs a number of characters to keep, not {n:?}"))?;
            return Ok(Operator::Mask { keep_last: Some(n) });
        }
        match lower.as_str() {
            "placeholder" => Ok(Operator::Placeholder),
            "mask" => Ok(Operator::Mask { keep_last: None }),
            "hash" => Ok(Operator::Hash),
            "synthetic" => Ok(Operator::Synthetic),
            "drop-record" | "drop_record" => Ok(Operator::DropRecord),
            _ => Err(format!(
                "unknown operator {s:?} (expected {OPERATOR_NAMES})"
            )),
        }
    }
}

/// Which findings an [`OperatorSpec`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every finding (`--operator OP`).
    All,
    /// One category (`--operator credential=OP`).
    Category(Category),
    /// A rule id, or a dotted prefix of ids (`--operator pii.email=OP`).
    Rule(String),
}

/// One `--operator` value: `OP`, `CATEGORY=OP` or `RULE=OP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSpec {
    /// What it applies to.
    pub selector: Selector,
    /// The operator.
    pub operator: Operator,
}

/// Parses a category name (`pii`, `government_id`, ...).
pub fn parse_category(name: &str) -> Option<Category> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

impl FromStr for OperatorSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((key, op)) = s.split_once('=') else {
            return Ok(OperatorSpec {
                selector: Selector::All,
                operator: s.parse()?,
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!(
                "{s:?}: expected OP, CATEGORY=OP or RULE_ID=OP with a category or rule id before '='"
            ));
        }
        let operator = op.parse()?;
        let selector = match parse_category(key) {
            Some(c) => Selector::Category(c),
            None => Selector::Rule(key.to_string()),
        };
        Ok(OperatorSpec { selector, operator })
    }
}

/// A `RULE=OP` selector that names no loaded rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--operator {selector}=...: no loaded rule has this id or id prefix (categories are pii, credential, financial, government_id, network, crypto, identifier)")]
pub struct UnknownSelector {
    /// The selector as written.
    pub selector: String,
}

/// Chooses the operator for each finding: rule beats category beats default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorPlan {
    default: Operator,
    categories: BTreeMap<Category, Operator>,
    /// (id or dotted prefix, operator), longest first.
    rules: Vec<(String, Operator)>,
}

impl OperatorPlan {
    /// Builds a plan; a later spec for the same selector replaces an earlier one.
    pub fn new(specs: &[OperatorSpec]) -> Self {
        let mut plan = OperatorPlan::default();
        for spec in specs {
            match &spec.selector {
                Selector::All => plan.default = spec.operator,
                Selector::Category(c) => {
                    plan.categories.insert(*c, spec.operator);
                }
                Selector::Rule(id) => {
                    plan.rules.retain(|(r, _)| r != id);
                    plan.rules.push((id.clone(), spec.operator));
                }
            }
        }
        // Longest first, so the first hit is the most specific.
        plan.rules
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        plan
    }

    /// A plan that applies `op` to everything.
    pub fn all(op: Operator) -> Self {
        OperatorPlan {
            default: op,
            ..OperatorPlan::default()
        }
    }

    /// The operator for findings no selector names.
    pub fn default_operator(&self) -> Operator {
        self.default
    }

    /// Fails when a rule selector names no rule of `set`: a typo would otherwise
    /// silently apply the default operator.
    pub fn check_rules(&self, set: &RuleSet) -> Result<(), UnknownSelector> {
        for (sel, _) in &self.rules {
            if !set.rules().iter().any(|r| selects(sel, &r.rule.id)) {
                return Err(UnknownSelector {
                    selector: sel.clone(),
                });
            }
        }
        Ok(())
    }

    /// The operator for a finding of `rule`.
    pub fn operator_for(&self, rule: &RuleInfo) -> Operator {
        if let Some((_, op)) = self.rules.iter().find(|(sel, _)| selects(sel, &rule.id)) {
            return *op;
        }
        self.categories
            .get(&rule.category)
            .copied()
            .unwrap_or(self.default)
    }

    /// True when some finding may get `pred`'s operator (e.g. to require a key for
    /// `hash`).
    pub fn any(&self, pred: impl Fn(Operator) -> bool) -> bool {
        pred(self.default)
            || self.categories.values().any(|&o| pred(o))
            || self.rules.iter().any(|(_, o)| pred(*o))
    }
}

/// `sel` is `id` itself or a dotted prefix of it.
fn selects(sel: &str, id: &str) -> bool {
    id == sel || (id.starts_with(sel) && id.as_bytes().get(sel.len()) == Some(&b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    fn info(id: &str, category: Category) -> RuleInfo {
        RuleInfo {
            id: id.into(),
            name: id.into(),
            category,
            severity: Severity::High,
            label: "X".into(),
            generic: false,
        }
    }

    fn plan(specs: &[&str]) -> OperatorPlan {
        let specs: Vec<OperatorSpec> = specs.iter().map(|s| s.parse().unwrap()).collect();
        OperatorPlan::new(&specs)
    }

    #[test]
    fn operators_parse_and_print() {
        for (text, op) in [
            ("placeholder", Operator::Placeholder),
            ("MASK", Operator::Mask { keep_last: None }),
            ("mask:4", Operator::Mask { keep_last: Some(4) }),
            ("hash", Operator::Hash),
            ("synthetic", Operator::Synthetic),
            ("drop-record", Operator::DropRecord),
            ("drop_record", Operator::DropRecord),
        ] {
            assert_eq!(text.parse::<Operator>().unwrap(), op, "{text}");
        }
        assert_eq!(Operator::Mask { keep_last: Some(4) }.to_string(), "mask:4");
        assert_eq!(Operator::DropRecord.to_string(), "drop-record");
        let err = "blur".parse::<Operator>().unwrap_err();
        assert!(err.contains("blur") && err.contains("placeholder"), "{err}");
        assert!("mask:x".parse::<Operator>().is_err());
    }

    #[test]
    fn specs_parse_selectors() {
        let s: OperatorSpec = "hash".parse().unwrap();
        assert_eq!(s.selector, Selector::All);
        let s: OperatorSpec = "credential=mask".parse().unwrap();
        assert_eq!(s.selector, Selector::Category(Category::Credential));
        let s: OperatorSpec = "government_id=hash".parse().unwrap();
        assert_eq!(s.selector, Selector::Category(Category::GovernmentId));
        let s: OperatorSpec = "pii.email=synthetic".parse().unwrap();
        assert_eq!(s.selector, Selector::Rule("pii.email".into()));
        assert_eq!(s.operator, Operator::Synthetic);
        assert!("=hash".parse::<OperatorSpec>().is_err());
        assert!("pii=nope".parse::<OperatorSpec>().is_err());
    }

    #[test]
    fn rule_beats_category_beats_default() {
        let p = plan(&[
            "mask",
            "credential=hash",
            "credential.aws=synthetic",
            "credential.aws.secret_key=drop-record",
            "pii.email=placeholder",
        ]);
        let op = |id, c| p.operator_for(&info(id, c));
        assert_eq!(
            op("network.ipv4", Category::Network),
            Operator::Mask { keep_last: None }
        );
        assert_eq!(
            op("credential.github.pat", Category::Credential),
            Operator::Hash
        );
        assert_eq!(
            op("credential.aws.access_key", Category::Credential),
            Operator::Synthetic
        );
        assert_eq!(
            op("credential.aws.secret_key", Category::Credential),
            Operator::DropRecord
        );
        // A prefix only matches whole segments.
        assert_eq!(
            op("credential.awsx.key", Category::Credential),
            Operator::Hash
        );
        assert_eq!(op("pii.email", Category::Pii), Operator::Placeholder);
        assert_eq!(
            op("pii.phone", Category::Pii),
            Operator::Mask { keep_last: None }
        );
    }

    #[test]
    fn later_specs_replace_earlier_ones_and_default_is_placeholder() {
        assert_eq!(plan(&[]).default_operator(), Operator::Placeholder);
        let p = plan(&["hash", "mask", "pii=hash", "pii=synthetic"]);
        assert_eq!(p.default_operator(), Operator::Mask { keep_last: None });
        assert_eq!(
            p.operator_for(&info("pii.email", Category::Pii)),
            Operator::Synthetic
        );
        assert!(p.any(|o| o == Operator::Synthetic));
        assert!(!p.any(|o| o == Operator::Hash));
    }

    #[test]
    fn unknown_rule_selectors_are_reported() {
        let set = RuleSet::builtin().unwrap();
        assert!(plan(&["pii.email=hash", "pii=mask"])
            .check_rules(&set)
            .is_ok());
        assert!(plan(&["pii=mask"]).check_rules(&set).is_ok());
        let err = plan(&["pii.emial=hash"]).check_rules(&set).unwrap_err();
        assert!(err.to_string().contains("pii.emial"), "{err}");
    }
}
