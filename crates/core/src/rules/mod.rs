//! Detection rules: the TOML schema, loading, checking and the embedded defaults.
//!
//! Rules are data. Each file under `patterns/` holds `[[rule]]` tables; the files are
//! embedded in the library at build time and users may add their own with
//! [`RuleSet::add_file`].
//!
//! ```
//! let rules = datasieve::rules::RuleSet::builtin().unwrap();
//! assert!(rules.get("pii.email").is_some());
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use crate::validate::Validator;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// What kind of sensitive data a rule finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Personal data: emails, phone numbers, dates of birth.
    Pii,
    /// Secrets that grant access: API keys, tokens, passwords, private keys.
    Credential,
    /// Payment cards, bank accounts.
    Financial,
    /// National identity, tax and health numbers.
    GovernmentId,
    /// IP and MAC addresses.
    Network,
    /// Cryptocurrency addresses.
    Crypto,
    /// Other identifiers of people or devices (IMEI, VIN, ...).
    Identifier,
}

impl Category {
    /// The name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Credential => "credential",
            Category::Financial => "financial",
            Category::GovernmentId => "government_id",
            Category::Network => "network",
            Category::Crypto => "crypto",
            Category::Identifier => "identifier",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad it is when the value leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Low impact (e.g. a private IP address).
    Low,
    /// Medium impact (e.g. an email address).
    Medium,
    /// High impact (e.g. a national id, a scoped token).
    High,
    /// Critical (e.g. a cloud root credential or a private key).
    Critical,
}

impl Severity {
    /// The name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?} (expected low, medium, high or critical)"
            )),
        }
    }
}

/// A cheap locator for rules that have no keyword: where the engine should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Anchor {
    /// Every `@` byte (emails and the like).
    At,
    /// Runs of digits (with single separators ` -./()+` between them) holding at least
    /// `min` digits; with `letters_before`, the run must start right after that many
    /// ASCII uppercase letters (e.g. IBAN country codes); with `letter_after`, it must
    /// be followed right away by a letter.
    Digits {
        /// Fewest digits in the run.
        min: u32,
        /// Uppercase ASCII letters required immediately before the run.
        #[serde(default)]
        letters_before: u32,
        /// The run must be followed immediately by an ASCII letter (digits inside
        /// base58 or hex strings, `1BoatSLR...`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        letter_after: bool,
        /// Fewest `.` separators in the run (IPv4 addresses: three).
        #[serde(default, skip_serializing_if = "is_zero")]
        min_dots: u32,
        /// Shortest word (run of ASCII letters, digits and `_`) holding the last
        /// digit of the run: values that are whole words of at least this length
        /// (base58 addresses) skip the digits inside ordinary words.
        #[serde(default, skip_serializing_if = "is_zero")]
        min_word: u32,
        /// Longest word (as for `min_word`) holding the last digit of the run: a
        /// value that is a whole word of at most this length skips the digits of
        /// longer words (a base58 address, those of hex hashes and base64). 0: no
        /// limit.
        #[serde(default, skip_serializing_if = "is_zero")]
        max_word: u32,
    },
    /// A `:` or `-` with a hex digit on its left and a hex digit or `:` on its right
    /// (IPv6 and MAC addresses).
    HexSeparator,
    /// A hex separator (as `hex_separator`) in a run of hex digits, `:` and `-`
    /// holding at least `min_separators` of them: an IPv6 address has two or more
    /// (`::`), a MAC address five, a hyphenated word like `de-facto` one.
    HexRun {
        /// Fewest `:` and `-` in the run.
        min_separators: u32,
        /// A run with fewer separators than this must hold `::` somewhere (an IPv6
        /// address has seven colons, six before an IPv4 tail, unless compressed:
        /// times like `12:30:45` stay out). 0: no such condition.
        #[serde(default, skip_serializing_if = "is_zero")]
        double_colon_below: u32,
    },
}

/// See [`Rule::followed_by`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowedBy {
    /// One of these bytes (ASCII)...
    pub any_of: String,
    /// ...occurs within this many bytes from the start of the keyword or anchor.
    pub within: usize,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A validator as written in a rule file: a bare name, or a table with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValidatorSpec {
    /// `"luhn"`
    Name(String),
    /// `{ name = "entropy", min = 3.5 }`
    Table {
        /// Validator name.
        name: String,
        /// Its parameters.
        #[serde(flatten)]
        params: BTreeMap<String, toml::Value>,
    },
}

impl ValidatorSpec {
    /// The validator's name.
    pub fn name(&self) -> &str {
        match self {
            ValidatorSpec::Name(n) => n,
            ValidatorSpec::Table { name, .. } => name,
        }
    }
    /// The validator's parameters (empty for a bare name).
    pub fn params(&self) -> BTreeMap<String, toml::Value> {
        match self {
            ValidatorSpec::Name(_) => BTreeMap::new(),
            ValidatorSpec::Table { params, .. } => params.clone(),
        }
    }
}

/// Context words near a match: they raise confidence, and may be required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Words (ASCII case-insensitive) looked for near the match.
    pub words: Vec<String>,
    /// Bytes searched before and after the match. Default 64.
    #[serde(default = "default_context_window")]
    pub window: usize,
    /// Drop the candidate when no word is found.
    #[serde(default)]
    pub required: bool,
    /// Confidence added when a word is found. Default 0.2.
    #[serde(default = "default_context_boost")]
    pub boost: f32,
    /// Where to look: `both` (default), `before` or `after` the value.
    #[serde(default)]
    pub side: ContextSide,
}

/// Which side of a value context words are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextSide {
    /// Before and after.
    #[default]
    Both,
    /// Only before, with no digit between the word and the value
    /// ("SSN: 123456789", not "SSN 123-45-6789, order 987654321").
    Before,
    /// Only after.
    After,
}

fn default_context_window() -> usize {
    64
}
fn default_context_boost() -> f32 {
    0.2
}
fn default_confidence() -> f32 {
    0.8
}
fn default_true() -> bool {
    true
}

/// One rule as written in a rule file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable dotted id, e.g. `credential.github.pat_classic`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// What it finds.
    pub category: Category,
    /// How bad a leak is.
    pub severity: Severity,
    /// Label used by placeholders in redaction, e.g. `EMAIL`. Defaults to the last id
    /// segment in upper case.
    #[serde(default)]
    pub label: Option<String>,
    /// Longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// Literals (ASCII case-insensitive) of which at least one occurs in every match.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Locator for rules without keywords.
    #[serde(default)]
    pub anchor: Option<Anchor>,
    /// Regex (bytes, ASCII by default); the named group `value` marks the sensitive part.
    pub regex: String,
    /// Let `\w`, `\d`, `\b` and case folding be Unicode-aware (slower).
    #[serde(default)]
    pub unicode: bool,
    /// Longest match, in bytes, when the regex cannot bound it. Default 1024.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Longest part of a match, in bytes, that can come before the keyword or
    /// anchor that finds it (0 when every match starts with its keyword). Bounds
    /// the confirmation window on that side, which makes the rule cheaper. Default:
    /// the longest match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_before: Option<usize>,
    /// A byte every match holds close after where its keyword or anchor starts
    /// (an assignment's `=` or `:`): triggers without one are skipped before the
    /// regex runs, which makes rules on common words cheap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<FollowedBy>,
    /// Fewest bytes of the word (ASCII letters, digits and `_`) that starts where
    /// the keyword or anchor starts: a token whose prefix is a common syllable
    /// (`pat` + 14 characters) is not looked for in `pattern` or `path`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub word_len: u32,
    /// Checks the value must pass.
    #[serde(default)]
    pub validators: Vec<ValidatorSpec>,
    /// Context words.
    #[serde(default)]
    pub context: Option<ContextSpec>,
    /// Confidence of a match that passes its validators, before context.
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// Drop values that look like placeholders or documentation examples.
    #[serde(default = "default_true")]
    pub placeholder_filter: bool,
    /// A catch-all rule (e.g. `password = ...`): suppressed where a specific rule matches.
    #[serde(default)]
    pub generic: bool,
    /// Ids of rules that win over this one: where a kept finding of one of them
    /// overlaps this rule's value, this rule's finding is dropped (a 3-3-4 digit
    /// group that is a valid NHS number next to "NHS" is not a phone number).
    /// Ids not in the loaded set are ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub yields_to: Vec<String>,
    /// Inputs that must produce a finding of this rule.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Inputs that must not.
    #[serde(default)]
    pub negative_examples: Vec<String>,
}

impl Rule {
    /// The placeholder label, e.g. `EMAIL`.
    pub fn label(&self) -> String {
        match &self.label {
            Some(l) => l.clone(),
            None => self
                .id
                .rsplit('.')
                .next()
                .unwrap_or(&self.id)
                .to_ascii_uppercase(),
        }
    }

    /// Every match starts at one of the rule's keywords (`max_before = 0`, no
    /// anchor): the engine runs its regex anchored at each keyword of a window.
    pub fn starts_at_keyword(&self) -> bool {
        self.max_before == Some(0) && self.anchor.is_none()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// Why a rule file or rule was rejected. Always names the file, and the rule when known.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The file could not be read.
    #[error("{file}: cannot read rule file: {source}")]
    Io {
        /// File name.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not follow the schema.
    #[error("{file}: invalid rule file: {message}")]
    Parse {
        /// File name.
        file: String,
        /// Parser message.
        message: String,
    },
    /// One rule is wrong.
    #[error("{file}: rule {id}: {message}")]
    Rule {
        /// File name.
        file: String,
        /// Rule id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// A loaded rule with the file it came from and its parsed validators.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The rule.
    pub rule: Rule,
    /// The file it was loaded from (`patterns/x.toml` for embedded rules).
    pub source: String,
    /// Validators, parsed.
    pub validators: Vec<Validator>,
    /// Embedded in the binary (and tested to compile): the engine may compile its
    /// regex on first use instead of up front.
    pub builtin: bool,
    /// Facts of the regex (longest match, digits in a row), found when it was
    /// checked at load.
    pub(crate) regex: crate::engine::RegexFacts,
}

/// An ordered, checked collection of rules with unique ids.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<LoadedRule>,
}

impl RuleSet {
    /// An empty rule set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The rules embedded in the library at build time.
    pub fn builtin() -> Result<Self, RuleError> {
        let files: Vec<(String, &str)> = embedded::EMBEDDED_RULE_FILES
            .iter()
            .map(|(name, text)| (format!("patterns/{name}"), *text))
            .collect();
        let parse = |(file, text): &(String, &str)| parse_rules(file, text);
        // Inside a thread pool (the CLI's), the files are parsed and checked in
        // parallel: most of the start-up. Outside one, no pool is started for it.
        let parsed: Vec<_> = if rayon::current_thread_index().is_some() {
            files.par_iter().map(parse).collect()
        } else {
            files.iter().map(parse).collect()
        };
        let mut set = Self::new();
        for ((file, _), rules) in files.iter().zip(parsed) {
            set.merge(file, rules?)?;
        }
        for r in &mut set.rules {
            r.builtin = true;
        }
        Ok(set)
    }

    /// Adds the rules of one TOML file, or of every `*.toml` file in a folder.
    pub fn add_path(&mut self, path: &Path) -> Result<(), RuleError> {
        if path.is_dir() {
            let rd = std::fs::read_dir(path).map_err(|e| RuleError::Io {
                file: path.display().to_string(),
                source: e,
            })?;
            let mut files: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                self.add_file(&f)?;
            }
            Ok(())
        } else {
            self.add_file(path)
        }
    }

    /// Adds the rules of one TOML file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), RuleError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RuleError::Io {
            file: file.clone(),
            source: e,
        })?;
        self.add_str(&file, &text)
    }

    /// Adds the rules of a TOML document; `file` names it in errors.
    pub fn add_str(&mut self, file: &str, text: &str) -> Result<(), RuleError> {
        self.merge(file, parse_rules(file, text)?)
    }

    /// Adds rules parsed from `file`, refusing an id already present.
    fn merge(&mut self, file: &str, new: Vec<LoadedRule>) -> Result<(), RuleError> {
        let mut seen: HashSet<String> = self.rules.iter().map(|r| r.rule.id.clone()).collect();
        for loaded in &new {
            if !seen.insert(loaded.rule.id.clone()) {
                return Err(RuleError::Rule {
                    file: file.to_string(),
                    id: loaded.rule.id.clone(),
                    message: "duplicate rule id".into(),
                });
            }
        }
        self.rules.extend(new);
        Ok(())
    }

    /// Keeps only the rules for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Rule) -> bool) {
        self.rules.retain(|r| keep(&r.rule));
    }

    /// All rules, in load order.
    pub fn rules(&self) -> &[LoadedRule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&LoadedRule> {
        self.rules.iter().find(|r| r.rule.id == id)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The catalog as a Markdown table (id, name, category, severity, how candidates are
/// found, validators, context), as published in `docs/CATALOG.md`.
pub fn catalog_markdown(set: &RuleSet) -> String {
    let mut out = String::from(
        "# Rule catalog\n\nGenerated by `datasieve rules --format markdown`; do not edit by hand.\n\n",
    );
    let mut by_cat: BTreeMap<Category, usize> = BTreeMap::new();
    for r in set.rules() {
        *by_cat.entry(r.rule.category).or_default() += 1;
    }
    out.push_str(&format!("{} rules: ", set.len()));
    let parts: Vec<String> = by_cat.iter().map(|(c, n)| format!("{n} {c}")).collect();
    out.push_str(&parts.join(", "));
    out.push_str(".\n\n| id | name | category | severity | found by | validators | context |\n|---|---|---|---|---|---|---|\n");
    let cell = |s: &str| s.replace('|', "\\|");
    for r in set.rules() {
        let rule = &r.rule;
        let found_by = if !rule.keywords.is_empty() {
            let kws: Vec<String> = rule
                .keywords
                .iter()
                .map(|k| format!("`{}`", cell(k)))
                .collect();
            kws.join(" ")
        } else {
            match rule.anchor {
                Some(Anchor::At) => "`@`".to_string(),
                Some(Anchor::Digits {
                    min,
                    letters_before,
                    letter_after,
                    min_dots,
                    min_word,
                    max_word,
                }) => {
                    let mut s = String::new();
                    if letters_before > 0 {
                        s.push_str(&format!("{letters_before} letters + "));
                    }
                    s.push_str(&format!("{min}+ digits"));
                    if min_dots > 0 {
                        s.push_str(&format!(" with {min_dots}+ dots"));
                    }
                    match (min_word, max_word) {
                        (0, 0) => {}
                        (min, 0) => s.push_str(&format!(" in a {min}+ byte word")),
                        (min, max) => s.push_str(&format!(" in a {min}-{max} byte word")),
                    }
                    if letter_after {
                        s.push_str(" + letter");
                    }
                    s
                }
                Some(Anchor::HexSeparator) => "hex separator".to_string(),
                Some(Anchor::HexRun {
                    min_separators,
                    double_colon_below,
                }) => {
                    let mut s = format!("hex separator, {min_separators}+ in the run");
                    if double_colon_below > 0 {
                        s.push_str(&format!(" (`::` below {double_colon_below})"));
                    }
                    s
                }
                None => String::new(),
            }
        };
        let validators: Vec<&str> = rule.validators.iter().map(ValidatorSpec::name).collect();
        let context = match &rule.context {
            Some(c) if c.required => "required",
            Some(_) => "boost",
            None => "",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            rule.id,
            cell(&rule.name),
            rule.category,
            rule.severity,
            found_by,
            validators.join(", "),
            context
        ));
    }
    out
}

/// Checks a rule; returns what the engine needs to know of its regex.
fn check_rule(rule: &Rule) -> Result<crate::engine::RegexFacts, String> {
    let id_ok = !rule.id.is_empty()
        && rule.id.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !id_ok {
        return Err("id must be dotted lowercase segments of [a-z0-9_]".into());
    }
    if rule.keywords.is_empty() && rule.anchor.is_none() {
        return Err("needs keywords or an anchor so the prefilter can find candidates".into());
    }
    if rule.keywords.iter().any(|k| k.is_empty()) {
        return Err("empty keyword".into());
    }
    if !(0.0..=1.0).contains(&rule.confidence) {
        return Err(format!("confidence {} outside 0..1", rule.confidence));
    }
    if let Some(f) = &rule.followed_by {
        // Either would skip every trigger: the rule would never fire.
        if f.any_of.is_empty() || f.within == 0 {
            return Err("followed_by needs at least one byte in any_of and within >= 1".into());
        }
    }
    // The regex is checked here (parsed, not compiled: the engine compiles it once)
    // so that a bad pattern is reported with its file and rule.
    crate::engine::check_rule_regex(rule)
}

/// The rules of one TOML file, each checked (regex syntax and bound, validators),
/// in file order; ids are not compared with other rules here.
fn parse_rules(file: &str, text: &str) -> Result<Vec<LoadedRule>, RuleError> {
    let parsed: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        file: file.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let mut new = Vec::with_capacity(parsed.rule.len());
    for rule in parsed.rule {
        let err = |message: String| RuleError::Rule {
            file: file.to_string(),
            id: rule.id.clone(),
            message,
        };
        let regex = check_rule(&rule).map_err(err)?;
        let validators = rule
            .validators
            .iter()
            .map(Validator::from_spec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        new.push(LoadedRule {
            rule,
            source: file.to_string(),
            validators,
            builtin: false,
            regex,
        });
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_with_unique_ids() {
        let set = RuleSet::builtin().unwrap();
        assert!(set.len() >= 40, "only {} builtin rules", set.len());
        let ids: HashSet<_> = set.rules().iter().map(|r| &r.rule.id).collect();
        assert_eq!(ids.len(), set.len());
    }

    #[test]
    fn published_catalog_is_up_to_date() {
        let published = include_str!("../../../../docs/CATALOG.md");
        let now = catalog_markdown(&RuleSet::builtin().unwrap());
        assert!(
            published == now,
            "docs/CATALOG.md is stale: run `cargo run -- rules --format markdown > docs/CATALOG.md`"
        );
    }

    #[test]
    fn bad_regex_names_file_and_rule() {
        let mut set = RuleSet::new();
        let err = set
            .add_str(
                "mine.toml",
                r#"[[rule]]
id = "x.bad"
name = "bad"
category = "pii"
severity = "low"
keywords = ["a"]
regex = "(unclosed"
"#,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.toml"), "{err}");
        assert!(err.contains("x.bad"), "{err}");
        assert!(err.contains("regex"), "{err}");
    }

    #[test]
    fn unknown_field_and_validator_rejected() {
        let mut set = RuleSet::new();
        let err = set
            .add_str("u.toml", "[[rule]]\nid='a.b'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['k']\nregex='k'\ncolour='red'\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("u.toml") && err.contains("colour"), "{err}");
        let err = set
            .add_str("v.toml", "[[rule]]\nid='a.b'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['k']\nregex='k'\nvalidators=['nope']\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("v.toml") && err.contains("a.b") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_ids_rejected() {
        let mut set = RuleSet::new();
        let rule = "[[rule]]\nid='a.b'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['k']\nregex='k'\n";
        set.add_str("one.toml", rule).unwrap();
        let err = set.add_str("two.toml", rule).unwrap_err().to_string();
        assert!(
            err.contains("two.toml") && err.contains("duplicate"),
            "{err}"
        );
    }

    #[test]
    fn rule_without_locator_rejected() {
        let mut set = RuleSet::new();
        let err = set
            .add_str(
                "w.toml",
                "[[rule]]\nid='a.b'\nname='n'\ncategory='pii'\nseverity='low'\nregex='k'\n",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("keywords or an anchor"), "{err}");
    }

    #[test]
    fn followed_by_that_never_holds_is_rejected() {
        let rule = |f: &str| {
            format!("[[rule]]\nid='a.b'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['k']\nregex='k'\nfollowed_by={f}\n")
        };
        for bad in [
            "{ any_of = '', within = 5 }",
            "{ any_of = '=', within = 0 }",
        ] {
            let err = RuleSet::new()
                .add_str("f.toml", &rule(bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains("followed_by"), "{bad}: {err}");
        }
        RuleSet::new()
            .add_str("f.toml", &rule("{ any_of = '=', within = 1 }"))
            .unwrap();
    }
}
