//! The scanning engine: rules compiled once into a [`Scanner`], shared by all threads.
//!
//! A scan has three steps per haystack:
//! 1. *prefilter*: one Aho-Corasick automaton over every rule keyword, plus cheap
//!    byte anchors (`@`, digit runs, hex separators) for rules without keywords;
//! 2. *confirm*: each rule's regex runs only in bounded windows around its candidates
//!    (windows that touch are merged, so dense candidates cost one linear pass);
//! 3. *validate and score*: placeholders, checksums, entropy and context words decide
//!    whether the candidate is kept and with what confidence.
//!
//! ```
//! use datasieve::{engine::{Scanner, ScanConfig}, rules::RuleSet};
//! let scanner = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
//! let found = scanner.scan(b"mail me at jane.roe@corp-mail.net", &ScanConfig::default());
//! assert_eq!(scanner.rule(found[0].rule).id, "pii.email");
//! ```

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use regex_automata::meta;
use regex_automata::util::captures::Captures;
use regex_automata::Input;

use crate::rules::{Category, ContextSpec, Rule, RuleSet, Severity};
use crate::validate::{OnFail, Validator};

mod anchor;
mod digit_set;
mod keywords;
mod linear;
mod run_shape;
mod score;

pub use score::{placeholder_reason, reserved_reason};

/// Longest window a rule may ask for around a candidate, whatever its regex says.
const MAX_WINDOW: usize = 64 * 1024;
/// Most bytes around a block searched for context words (windows reaching further
/// scan for their words themselves).
const MAX_CONTEXT_MARGIN: usize = 4096;
/// Window used when a regex has no upper bound and the rule sets no `max_len`.
const DEFAULT_MAX_LEN: usize = 1024;
/// Candidates are gathered per block of this many haystack bytes, which bounds the
/// scratch memory whatever the input size. Blocks of 4 MiB rather than 1 MiB give
/// each rule four times as many windows in a row, whose regex, caches and tables
/// stay in the CPU caches (confirmation on the 100 MB corpus, `--stats`: 353 ms ->
/// 274 ms). The unit tests use 1 MiB so that their haystacks crossing blocks stay
/// small; the boundary code is the same.
const BLOCK: usize = if cfg!(test) { 1 << 20 } else { 1 << 22 };

/// The public description of a rule, shared by every finding it produces.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleInfo {
    /// Stable dotted id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Placeholder label for redaction.
    pub label: String,
    /// Catch-all rule, suppressed where a specific rule matches.
    pub generic: bool,
}

/// Left boundary usable in rule regexes as `{{lb}}`: start of input, a byte that is
/// not a word character, or a backslash escape (`\n`, `\r`, `\t`) as found in code
/// and logged JSON. Unlike `\b` it holds in `"\n4111..."`. It consumes the byte
/// before the value, so rules put the value in the `value` group.
pub const LEFT_BOUNDARY: &str = r"(?:^|[^0-9A-Za-z_]|\\[nrt])";

/// Expands the macros rule regexes may use (`{{lb}}`).
pub fn expand_macros(regex: &str) -> std::borrow::Cow<'_, str> {
    if regex.contains("{{lb}}") {
        regex.replace("{{lb}}", LEFT_BOUNDARY).into()
    } else {
        regex.into()
    }
}

/// What the engine needs to know of a rule's regex, found by parsing it once when
/// the rule is loaded.
#[derive(Debug, Clone)]
pub(crate) struct RegexFacts {
    /// Longest match in bytes (the regex's bound, else the rule's `max_len`, else a
    /// default), clamped to the window limit.
    pub(crate) max_len: usize,
    /// Fewest ASCII digits in a row that every match holds (a lower bound; see
    /// [`anchor::fewest_digits_in_a_row`]).
    pub(crate) digits_in_a_row: u32,
    /// Longest match of the regex itself (`None`: unbounded), whatever `max_len`
    /// says.
    pub(crate) regex_len: Option<usize>,
    /// How a match gives the value's span.
    pub(crate) value: ValueSpan,
    /// The regex read as a plain sequence, confirmed without the regex engines.
    pub(crate) linear: Option<Arc<linear::Linear>>,
    /// No match begins with an ASCII digit, except one at the haystack's start
    /// (see [`first_bytes`]).
    pub(crate) starts_without_digit: bool,
    /// A byte every match holds, the least common of them in text (see
    /// [`required_byte`]).
    pub(crate) required_byte: Option<u8>,
}

/// [`LEFT_BOUNDARY`] parsed as rule regexes are (without Unicode).
fn left_boundary_hir() -> &'static regex_syntax::hir::Hir {
    static HIR: OnceLock<regex_syntax::hir::Hir> = OnceLock::new();
    HIR.get_or_init(|| {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(LEFT_BOUNDARY)
            .expect("the left boundary parses")
    })
}

/// How the span of a rule's value follows from the span of a match, so that most
/// rules need only the match (the lazy DFAs) and not the capture engines, which
/// cost several times more per match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueSpan {
    /// Only the capture engines know (the `value` group is nested, or what
    /// precedes it varies in length while the value does too...).
    Captures,
    /// The `value` group is a top-level part of the regex.
    Derived {
        /// Where the value starts.
        start: ValueStart,
        /// What follows it: nothing (or a zero-width assertion), or
        /// `(?:[^C]|$)`, one byte not in `C` or the end of the haystack.
        boundary: Option<ByteSet>,
    },
}

/// Where a derived value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueStart {
    /// At the match (nothing precedes the value).
    Match,
    /// `n` bytes before its end, whatever precedes it.
    Fixed(usize),
    /// After [`LEFT_BOUNDARY`] (`{{lb}}`), all that precedes it: one byte into the
    /// match, unless that byte is a backslash or the match starts the haystack.
    LeftBoundary,
}

impl ValueSpan {
    /// Finds how a match gives the value, from the regex's syntax tree.
    fn of(hir: &regex_syntax::hir::Hir) -> Self {
        let Some((before, value, after)) = value_parts(hir) else {
            return ValueSpan::Captures;
        };
        let (min, max) = (
            value.sub.properties().minimum_len(),
            value.sub.properties().maximum_len(),
        );
        let start = match before {
            [] => ValueStart::Match,
            _ if min.is_some() && min == max => ValueStart::Fixed(min.unwrap_or(0)),
            [lead] if lead == left_boundary_hir() => ValueStart::LeftBoundary,
            _ => return ValueSpan::Captures,
        };
        let boundary = match after {
            [] => None,
            [h] if matches!(h.kind(), regex_syntax::hir::HirKind::Look(_)) => None,
            [h] => match not_in_or_end(h) {
                Some(set) => Some(set),
                None => return ValueSpan::Captures,
            },
            _ => return ValueSpan::Captures,
        };
        ValueSpan::Derived { start, boundary }
    }

    /// The value's span in a match `m` of `hay`, or `None` where only the capture
    /// engines can tell (a match at the very end of the haystack whose last byte
    /// may be the boundary or the value's).
    #[inline]
    fn value(&self, hay: &[u8], m: Range<usize>) -> Option<Range<usize>> {
        let ValueSpan::Derived { start, boundary } = self else {
            return None;
        };
        let end = match boundary {
            None => m.end,
            Some(_) if m.end < hay.len() => m.end - 1,
            Some(inside) if m.end > m.start && inside.contains(hay[m.end - 1]) => m.end,
            Some(_) => return None,
        };
        let start = match start {
            ValueStart::Match => m.start,
            ValueStart::Fixed(n) => end.checked_sub(*n)?,
            // `^` (nothing consumed) only at 0, `\\[nrt]` (two bytes) only from a
            // backslash, else one byte that is not a word byte: where a word byte
            // starts the haystack, nothing can be consumed.
            ValueStart::LeftBoundary => match hay[m.start] {
                b'\\' => return None,
                b if m.start == 0 && !is_word_byte(b) => return None,
                _ if m.start == 0 => 0,
                _ => m.start + 1,
            },
        };
        (start <= end && start >= m.start).then_some(start..end)
    }
}

/// Longest match an anchored rule's regex may have: a digit run or a run of `@`
/// can be megabytes long and the window around it is the whole run, so an
/// unbounded regex (`(?:-[0-9]+)*`) makes one match of all of it, which the
/// capture engines resolve at ~100 ns/byte.
pub const MAX_ANCHORED_REGEX_LEN: usize = 1024;

/// Checks a rule's regex without compiling it (cheap: parsing only): syntax, and
/// that it cannot match the empty string.
pub(crate) fn check_rule_regex(rule: &Rule) -> Result<RegexFacts, String> {
    let pattern = expand_macros(&rule.regex);
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(rule.unicode)
        .utf8(false)
        .build()
        .parse(&pattern)
        .map_err(|e| format!("invalid regex: {e}"))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err("regex matches the empty string".into());
    }
    let max_len = match (hir.properties().maximum_len(), rule.max_len) {
        (_, Some(m)) => m,
        (Some(b), None) => b,
        (None, None) => DEFAULT_MAX_LEN,
    };
    Ok(RegexFacts {
        max_len: max_len.clamp(1, MAX_WINDOW),
        digits_in_a_row: anchor::fewest_digits_in_a_row(&hir),
        regex_len: hir.properties().maximum_len(),
        value: ValueSpan::of(&hir),
        linear: (!rule.unicode)
            .then(|| linear::Linear::of(&hir, left_boundary_hir()))
            .flatten()
            .map(Arc::new),
        starts_without_digit: first_bytes(&hir)
            .is_some_and(|first| !(b'0'..=b'9').any(|b| first.contains(b))),
        required_byte: required_byte(&hir),
    })
}

/// Bytes of text from the most common to the least (roughly, for English prose,
/// code and logs; a letter counts for both cases): a byte not listed is rarer.
const COMMON_BYTES: &[u8] = b" etaoinsrhldcumfpgwybvkxjqz0123456789\n.,-\"':/_()=";

/// The least common byte (by [`COMMON_BYTES`]) that every match of `hir` holds:
/// a window without it holds no match, which one `memchr` tells for less than
/// the regex's own search (`+` of an international phone number, the `r` of an
/// XRP address in a window of a long hex word).
fn required_byte(hir: &regex_syntax::hir::Hir) -> Option<u8> {
    use regex_syntax::hir::HirKind;
    /// The bytes every match of `h` holds.
    fn required(h: &regex_syntax::hir::Hir) -> ByteSet {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => ByteSet::of(&[]),
            HirKind::Literal(lit) => ByteSet::of(&lit.0),
            HirKind::Class(c) => match ByteSet::of_class(c) {
                Some(set) if set.len() == 1 => set,
                _ => ByteSet::of(&[]),
            },
            HirKind::Repetition(rep) if rep.min > 0 => required(&rep.sub),
            HirKind::Repetition(_) => ByteSet::of(&[]),
            HirKind::Capture(c) => required(&c.sub),
            HirKind::Concat(parts) => parts
                .iter()
                .fold(ByteSet::of(&[]), |set, p| set.union(&required(p))),
            HirKind::Alternation(alts) => alts
                .iter()
                .map(required)
                .reduce(|a, b| a.intersection(&b))
                .unwrap_or(ByteSet::of(&[])),
        }
    }
    let set = required(hir);
    let rank = |b: u8| {
        COMMON_BYTES
            .iter()
            .position(|&c| c == b.to_ascii_lowercase())
            .unwrap_or(COMMON_BYTES.len())
    };
    (0..=255u8)
        .filter(|&b| set.contains(b))
        .max_by_key(|&b| (rank(b), b))
}

/// The bytes a match can begin with, where it does not begin at the haystack's
/// start (`^` is matched there only); `None` when unknown (a Unicode class) or
/// when a match may be empty. No match starts at a byte outside the set.
fn first_bytes(hir: &regex_syntax::hir::Hir) -> Option<ByteSet> {
    use regex_syntax::hir::{HirKind, Look};
    /// The first bytes of `h`'s matches, and whether it may match empty.
    fn first(h: &regex_syntax::hir::Hir) -> Option<(ByteSet, bool)> {
        Some(match h.kind() {
            HirKind::Empty => (ByteSet::of(&[]), true),
            HirKind::Literal(lit) => (ByteSet::of(&lit.0[..1]), false),
            HirKind::Class(c) => (ByteSet::of_class(c)?, false),
            // A path through `^` starts at the haystack's start: none here.
            HirKind::Look(Look::Start) => (ByteSet::of(&[]), false),
            HirKind::Look(_) => (ByteSet::of(&[]), true),
            HirKind::Repetition(rep) => {
                let (set, empty) = first(&rep.sub)?;
                (set, empty || rep.min == 0)
            }
            HirKind::Capture(c) => first(&c.sub)?,
            HirKind::Concat(parts) => {
                let mut set = ByteSet::of(&[]);
                for p in parts {
                    let (s, empty) = first(p)?;
                    set = set.union(&s);
                    if !empty {
                        return Some((set, false));
                    }
                }
                (set, true)
            }
            HirKind::Alternation(alts) => {
                let mut set = ByteSet::of(&[]);
                let mut any_empty = false;
                for a in alts {
                    let (s, empty) = first(a)?;
                    set = set.union(&s);
                    any_empty |= empty;
                }
                (set, any_empty)
            }
        })
    }
    match first(hir)? {
        (set, false) => Some(set),
        (_, true) => None,
    }
}

/// A rule's regex as the engine compiles it: macros expanded, bytes, ASCII unless
/// the rule asks for Unicode. Checked (by [`check_rule_regex`]) when the rule was
/// loaded; compiled on first use for built-in rules.
struct RegexSource {
    pattern: String,
    unicode: bool,
    /// Searched only anchored, at keywords ([`Rule::starts_at_keyword`]), where
    /// the regex's own prefilter is never used: not built (extracting the literals
    /// of the generic secret rules' keyword alternations is most of their
    /// compilation).
    anchored_only: bool,
}

impl RegexSource {
    fn of(rule: &Rule) -> Self {
        RegexSource {
            pattern: expand_macros(&rule.regex).into_owned(),
            unicode: rule.unicode,
            anchored_only: rule.starts_at_keyword(),
        }
    }

    /// Compiles the regex; returns it with the index of its `value` group.
    fn compile(&self) -> Result<(meta::Regex, Option<usize>), String> {
        let syntax = regex_automata::util::syntax::Config::new()
            .unicode(self.unicode)
            .utf8(false);
        let regex = meta::Regex::builder()
            .syntax(syntax)
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .dfa(false)
                    .auto_prefilter(!self.anchored_only),
            )
            .build(&self.pattern)
            .map_err(|e| format!("invalid regex: {e}"))?;
        let value_group = regex
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, "value");
        Ok((regex, value_group))
    }
}

/// A set of bytes, tested with one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    fn of(bytes: &[u8]) -> Self {
        let mut set = [0u64; 4];
        for &b in bytes {
            set[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        ByteSet(set)
    }

    #[inline(always)]
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 != 0
    }

    /// The bytes of a byte class (`None` for a Unicode class).
    fn of_class(class: &regex_syntax::hir::Class) -> Option<Self> {
        let regex_syntax::hir::Class::Bytes(c) = class else {
            return None;
        };
        let bytes: Vec<u8> = c.iter().flat_map(|r| r.start()..=r.end()).collect();
        Some(ByteSet::of(&bytes))
    }

    /// The bytes not in the set.
    fn complement(&self) -> Self {
        ByteSet(self.0.map(|w| !w))
    }

    fn union(&self, other: &Self) -> Self {
        ByteSet([0, 1, 2, 3].map(|i| self.0[i] | other.0[i]))
    }

    fn intersection(&self, other: &Self) -> Self {
        ByteSet([0, 1, 2, 3].map(|i| self.0[i] & other.0[i]))
    }

    fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// An ASCII word byte (`\w` without Unicode).
pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A regex read around its `value` group, a part of its top-level sequence:
/// what comes before the group, the group, and what comes after.
pub(super) fn value_parts(
    hir: &regex_syntax::hir::Hir,
) -> Option<(
    &[regex_syntax::hir::Hir],
    &regex_syntax::hir::Capture,
    &[regex_syntax::hir::Hir],
)> {
    use regex_syntax::hir::HirKind;
    let parts = match hir.kind() {
        HirKind::Concat(parts) => parts.as_slice(),
        _ => std::slice::from_ref(hir),
    };
    parts.iter().enumerate().find_map(|(at, h)| match h.kind() {
        HirKind::Capture(c) if c.name.as_deref() == Some("value") => {
            Some((&parts[..at], c, &parts[at + 1..]))
        }
        _ => None,
    })
}

/// For `(?:[^C]|$)` (one byte not in `C`, or the end of the haystack): `C`.
pub(super) fn not_in_or_end(hir: &regex_syntax::hir::Hir) -> Option<ByteSet> {
    use regex_syntax::hir::{HirKind, Look};
    let HirKind::Alternation(alts) = hir.kind() else {
        return None;
    };
    match alts.as_slice() {
        [a, b] => match (a.kind(), b.kind()) {
            (HirKind::Class(c), HirKind::Look(Look::End))
            | (HirKind::Look(Look::End), HirKind::Class(c)) => {
                ByteSet::of_class(c).map(|s| s.complement())
            }
            _ => None,
        },
        _ => None,
    }
}

/// A set of bytes searched for with `memchr` when it has one to three, by testing
/// each byte otherwise: the bytes of `Rule::followed_by`, the first byte of a plain
/// sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnyOf {
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    Set(ByteSet),
}

impl AnyOf {
    pub(crate) fn of(bytes: &[u8]) -> Self {
        let mut distinct = bytes.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        match *distinct.as_slice() {
            [a] => AnyOf::One(a),
            [a, b] => AnyOf::Two(a, b),
            [a, b, c] => AnyOf::Three(a, b, c),
            _ => AnyOf::Set(ByteSet::of(bytes)),
        }
    }

    /// Whether the set has at most three bytes (searched with `memchr`).
    pub(crate) fn is_few(&self) -> bool {
        !matches!(self, AnyOf::Set(_))
    }

    pub(crate) fn contains(&self, b: u8) -> bool {
        match *self {
            AnyOf::One(a) => b == a,
            AnyOf::Two(a, c) => b == a || b == c,
            AnyOf::Three(a, c, d) => b == a || b == c || b == d,
            AnyOf::Set(set) => set.contains(b),
        }
    }

    /// The position of the first of the bytes in `hay`.
    #[inline]
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        match *self {
            AnyOf::One(a) => memchr::memchr(a, hay),
            AnyOf::Two(a, b) => memchr::memchr2(a, b, hay),
            AnyOf::Three(a, b, c) => memchr::memchr3(a, b, c, hay),
            AnyOf::Set(set) => hay.iter().position(|&b| set.contains(b)),
        }
    }
}

struct CompiledRule {
    info: Arc<RuleInfo>,
    /// What to compile on first use.
    source: RegexSource,
    /// The regex and the index of its `value` group. Built-in rules compile on first
    /// use (most rules never fire on a small input, and compiling all of them is
    /// most of the start-up time); user rules compile up front so that an error
    /// names the rule before the scan starts.
    regex: OnceLock<(meta::Regex, Option<usize>)>,
    /// Its compilation has started (see [`CompiledRule::compiled_elsewhere`]).
    compiling: AtomicBool,
    /// How a match gives the value (without the capture engines where it can).
    value: ValueSpan,
    /// The regex as a plain sequence: confirmed without the regex engines.
    linear: Option<Arc<linear::Linear>>,
    /// No match past the haystack's start begins with a digit: a search that
    /// starts in a digit run skips it.
    starts_without_digit: bool,
    /// See [`RegexFacts::required_byte`].
    required_byte: Option<u8>,
    max_len: usize,
    /// Bytes of the window before a candidate (`max_before`, at most `max_len`).
    before: usize,
    validators: Vec<Validator>,
    /// Context words, compiled once for all rules with the same context.
    context: Option<Arc<score::Context>>,
    /// For a rule whose context is required: the index of that context among the
    /// required ones, whose words the keyword prefilter finds (`score::ContextHits`).
    required_context: Option<usize>,
    confidence: f32,
    placeholder_filter: bool,
    /// Bytes one of which must occur within this many bytes from the start of a
    /// trigger (`Rule::followed_by`).
    followed_by: Option<(AnyOf, usize)>,
    /// Fewest word bytes from the start of a trigger (`Rule::word_len`).
    word_len: usize,
    /// Rules (indices) whose kept findings drop an overlapping finding of this one.
    yields_to: Vec<usize>,
    /// Some rule yields to this one.
    yielded_to: bool,
}

impl CompiledRule {
    /// Every match starts where a keyword does ([`Rule::starts_at_keyword`]): the
    /// regex runs anchored at each keyword of a window, not over all of it.
    #[inline]
    fn starts_at_keyword(&self) -> bool {
        self.source.anchored_only
    }

    /// Compiles the regex now if it is not yet, reporting a failure.
    fn try_compile(&self) -> Result<(), String> {
        if self.regex.get().is_none() {
            let _ = self.regex.set(self.source.compile()?);
        }
        Ok(())
    }

    /// Whether a trigger at `span` can start a match: one of the `followed_by`
    /// bytes is close enough after its start, and the word starting there is long
    /// enough (`word_len`).
    #[inline(always)]
    fn triggered_at(&self, hay: &[u8], span: &Range<usize>) -> bool {
        !self.tests_trigger() || self.trigger_checks(hay, span)
    }

    /// Whether the rule tests the bytes at its trigger (`word_len`,
    /// `followed_by`).
    #[inline(always)]
    fn tests_trigger(&self) -> bool {
        self.word_len > 0 || self.followed_by.is_some()
    }

    /// [`CompiledRule::triggered_at`] for a rule with `word_len` or `followed_by`.
    #[inline(never)]
    fn trigger_checks(&self, hay: &[u8], span: &Range<usize>) -> bool {
        if self.word_len > 0 {
            let word = hay[span.start..]
                .iter()
                .take(self.word_len)
                .take_while(|&&b| is_word_byte(b))
                .count();
            if word < self.word_len {
                return false;
            }
        }
        match &self.followed_by {
            None => true,
            Some((bytes, within)) => {
                let near = &hay[span.start..(span.start + within).min(hay.len())];
                bytes.find(near).is_some()
            }
        }
    }

    /// The regex and its `value` group, compiled on first use, once: a thread
    /// that needs it while another compiles it waits for that one.
    fn regex(&self) -> &(meta::Regex, Option<usize>) {
        self.regex.get_or_init(|| {
            self.compiling.store(true, Ordering::Release);
            // Built-in rules are compiled by the tests (`rules check`): a failure here
            // is a bug in the catalog, not in the input.
            self.source
                .compile()
                .unwrap_or_else(|e| panic!("built-in rule {} does not compile: {e}", self.info.id))
        })
    }

    /// Another thread is compiling the regex now (a scan confirms this rule's
    /// windows after the others, rather than wait or compile it twice).
    fn compiled_elsewhere(&self) -> bool {
        self.regex.get().is_none() && self.compiling.load(Ordering::Acquire)
    }
}

/// Options of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// Keep candidates that were dropped (failed checksum, placeholder, ...) with
    /// their reason, for `--explain`.
    pub explain: bool,
    /// Candidates below this confidence are dropped ("below threshold").
    pub min_confidence: f32,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            explain: false,
            min_confidence: 0.5,
        }
    }
}

/// A match of one rule in a haystack. Offsets are half-open byte spans into the
/// haystack given to the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index of the rule in the scanner ([`Scanner::rule`]).
    pub rule: usize,
    /// The sensitive value (the `value` group, or the whole match).
    pub start: usize,
    /// End of the value.
    pub end: usize,
    /// The whole regex match, which may include a keyword or assignment.
    pub match_span: Range<usize>,
    /// 0..1.
    pub confidence: f32,
    /// Why the confidence is what it is, or why the candidate was dropped.
    pub reason: Option<&'static str>,
    /// True when the candidate did not pass (only reported with `explain`).
    pub dropped: bool,
}

/// Per-rule counters of a scan, for `--stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RuleStats {
    /// Windows the rule's regex was run in.
    pub windows: u64,
    /// Regex matches (candidates) before validation.
    pub candidates: u64,
    /// Candidates kept.
    pub kept: u64,
    /// Time spent in the rule's regex and validators, in nanoseconds.
    pub nanos: u64,
}

/// A detector that is not a regex rule: the place where detectors that need a
/// language model or large gazetteers (person names, street addresses) plug in.
/// It reports spans in the haystack; the scanner attributes them to the rule
/// described by [`Detector::info`] and applies the same threshold and ordering.
pub trait Detector: Send + Sync {
    /// The rule this detector reports as (id, category, severity, label).
    fn info(&self) -> RuleInfo;
    /// Appends `(value span, confidence)` pairs found in `hay`.
    fn detect(&self, hay: &[u8], out: &mut Vec<(Range<usize>, f32)>);
}

/// Rules compiled for scanning. Immutable, `Send + Sync` and cheap to clone.
#[derive(Clone)]
pub struct Scanner {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Vec<CompiledRule>,
    /// Detectors, reported as rules `rules.len()..`.
    detectors: Vec<(Arc<RuleInfo>, Box<dyn Detector>)>,
    keywords: Option<keywords::Keywords>,
    anchors: anchor::AnchorRules,
    /// Number of distinct required contexts (see `CompiledRule::required_context`).
    required_contexts: usize,
    /// How far around a block the prefilter looks for context words: the reach of
    /// most windows of required-context rules (the others scan for their words).
    context_margin: usize,
    pool: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

/// Why a scanner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A rule's regex does not compile.
    #[error("rule {id}: {message}")]
    Rule {
        /// Rule id.
        id: String,
        /// Reason.
        message: String,
    },
    /// The keyword automaton could not be built.
    #[error("keyword automaton: {0}")]
    Keywords(String),
}

impl Scanner {
    /// Compiles every rule of the set.
    pub fn new(set: &RuleSet) -> Result<Self, EngineError> {
        let mut rules = Vec::with_capacity(set.len());
        let mut keyword_specs = Vec::new();
        let mut anchors = anchor::AnchorRules::default();
        // Distinct contexts: (spec, rules that use it); compiled below, in parallel.
        let mut contexts: Vec<(&ContextSpec, Vec<usize>)> = Vec::new();
        // Regexes of user rules compile up front (spread over the threads of the
        // current rayon pool); built-in ones on first use.
        let eager: Vec<Option<(meta::Regex, Option<usize>)>> = {
            use rayon::prelude::*;
            set.rules()
                .par_iter()
                .map(|loaded| {
                    if loaded.builtin {
                        return Ok(None);
                    }
                    RegexSource::of(&loaded.rule)
                        .compile()
                        .map(Some)
                        .map_err(|message| EngineError::Rule {
                            id: loaded.rule.id.clone(),
                            message,
                        })
                })
                .collect::<Result<_, _>>()?
        };
        for ((idx, loaded), eager) in set.rules().iter().enumerate().zip(eager) {
            let rule = &loaded.rule;
            let max_len = loaded.regex.max_len;
            let regex = OnceLock::new();
            if let Some(compiled) = eager {
                let _ = regex.set(compiled);
            }
            for kw in &rule.keywords {
                keyword_specs.push(keywords::KeywordSpec {
                    rule: idx as u32,
                    keyword: kw,
                });
            }
            let source = RegexSource::of(rule);
            let before = rule.max_before.map_or(max_len, |b| b.min(max_len));
            if let Some(spec) = &rule.context {
                match contexts.iter_mut().find(|(s, _)| *s == spec) {
                    Some((_, users)) => users.push(idx),
                    None => contexts.push((spec, vec![idx])),
                }
            }
            rules.push(CompiledRule {
                info: Arc::new(RuleInfo {
                    id: rule.id.clone(),
                    name: rule.name.clone(),
                    category: rule.category,
                    severity: rule.severity,
                    label: rule.label(),
                    generic: rule.generic,
                }),
                source,
                regex,
                compiling: AtomicBool::new(false),
                value: loaded.regex.value,
                linear: loaded.regex.linear.clone(),
                starts_without_digit: loaded.regex.starts_without_digit,
                // (a byte that all of the rule's keywords hold is in every one of
                // its windows: no test)
                required_byte: loaded.regex.required_byte.filter(|&b| {
                    rule.keywords.is_empty()
                        || !rule
                            .keywords
                            .iter()
                            .all(|k| k.bytes().any(|c| c.eq_ignore_ascii_case(&b)))
                }),
                max_len,
                before,
                validators: loaded.validators.clone(),
                context: None,
                required_context: None,
                confidence: rule.confidence,
                placeholder_filter: rule.placeholder_filter,
                word_len: rule.word_len as usize,
                followed_by: rule
                    .followed_by
                    .as_ref()
                    .map(|f| (AnyOf::of(f.any_of.as_bytes()), f.within)),
                yields_to: Vec::new(),
                yielded_to: false,
            });
            let compiled = &rules[idx];
            if let Some(a) = rule.anchor {
                let regex = anchor::AnchoredRegex {
                    pattern: &compiled.source.pattern,
                    unicode: compiled.source.unicode,
                    in_a_row: loaded.regex.digits_in_a_row,
                    longest: loaded.regex.regex_len.unwrap_or(MAX_WINDOW),
                    before,
                    max_len,
                    start_checked: compiled.tests_trigger(),
                };
                anchors.add(idx as u32, a, regex);
            }
        }
        for (idx, loaded) in set.rules().iter().enumerate() {
            rules[idx].yields_to = loaded
                .rule
                .yields_to
                .iter()
                .filter_map(|id| set.rules().iter().position(|r| &r.rule.id == id))
                .collect();
            for w in rules[idx].yields_to.clone() {
                rules[w].yielded_to = true;
            }
        }
        // The words of required contexts join the keyword prefilter as pseudo-rules
        // `rules.len() + k`: where they occur is known per block after one pass, and
        // a window without one in reach is skipped without a scan.
        let mut required_contexts = 0;
        let mut context_margin = 0;
        for (spec, users) in &contexts {
            if !spec.required {
                continue;
            }
            for word in &spec.words {
                keyword_specs.push(keywords::KeywordSpec {
                    rule: (rules.len() + required_contexts) as u32,
                    keyword: word,
                });
            }
            for &idx in users {
                rules[idx].required_context = Some(required_contexts);
                let reach = rules[idx].before.max(rules[idx].max_len) + spec.window;
                context_margin = context_margin.max(reach.min(MAX_CONTEXT_MARGIN));
            }
            required_contexts += 1;
        }
        // The keyword tables and the context words' automata, side by side.
        let (keywords, compiled) = rayon::join(
            || keywords::Keywords::new(&keyword_specs),
            || {
                use rayon::prelude::*;
                contexts
                    .par_iter()
                    .map(|(spec, _)| Arc::new(score::Context::new(spec)))
                    .collect::<Vec<_>>()
            },
        );
        let keywords = keywords.map_err(EngineError::Keywords)?;
        for ((_, users), context) in contexts.iter().zip(compiled) {
            for &idx in users {
                rules[idx].context = Some(context.clone());
            }
        }
        Ok(Scanner {
            inner: Arc::new(Inner {
                rules,
                detectors: Vec::new(),
                keywords,
                anchors,
                required_contexts,
                context_margin,
                pool: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Compiles the rules of the set and adds detectors that are not regex rules.
    pub fn with_detectors(
        set: &RuleSet,
        detectors: Vec<Box<dyn Detector>>,
    ) -> Result<Self, EngineError> {
        let base = Scanner::new(set)?;
        let mut inner =
            Arc::try_unwrap(base.inner).unwrap_or_else(|_| unreachable!("fresh scanner"));
        inner.detectors = detectors
            .into_iter()
            .map(|d| (Arc::new(d.info()), d))
            .collect();
        Ok(Scanner {
            inner: Arc::new(inner),
        })
    }

    /// The description of rule `idx` (as in [`Match::rule`]); detectors follow the
    /// regex rules.
    pub fn rule(&self, idx: usize) -> &Arc<RuleInfo> {
        match self.inner.rules.get(idx) {
            Some(r) => &r.info,
            None => &self.inner.detectors[idx - self.inner.rules.len()].0,
        }
    }

    /// Number of rules, detectors included.
    pub fn rule_count(&self) -> usize {
        self.inner.rules.len() + self.inner.detectors.len()
    }

    /// The longest match any rule looks for (its window after a candidate). How
    /// far a rule may read around a candidate, context words included, is
    /// [`Scanner::max_reach`].
    pub fn max_window(&self) -> usize {
        self.inner
            .rules
            .iter()
            .map(|r| r.max_len)
            .max()
            .unwrap_or(0)
    }

    /// How far from a candidate any rule may read: its window before and after,
    /// and context words around that. A part of a stream scanned with this much of
    /// the stream on each side finds what a scan of the whole stream finds there.
    pub fn max_reach(&self) -> usize {
        let rules = &self.inner.rules;
        let window = |r: &CompiledRule| r.context.as_ref().map_or(0, |c| c.window);
        let longest = |f: &dyn Fn(&CompiledRule) -> usize| rules.iter().map(f).max().unwrap_or(0);
        longest(&|r| r.before)
            + longest(&|r| r.max_len)
            + longest(&window)
            + self.inner.keywords.as_ref().map_or(0, |k| k.max_len())
            + MAX_CONTEXT_MARGIN
    }

    /// The confidence a context word adds to a match of rule `idx` (0 when the
    /// rule has no context words): a value scanned on its own may score this much
    /// higher where it has context.
    pub fn context_boost(&self, idx: usize) -> f32 {
        self.inner
            .rules
            .get(idx)
            .and_then(|r| r.context.as_ref())
            .map_or(0.0, |c| c.boost)
    }

    /// Runs only the keyword prefilter over `hay` and counts (keyword, rule) hits:
    /// for benchmarks (`prefilter-lab`), not a scan.
    #[doc(hidden)]
    pub fn keyword_hits(&self, hay: &[u8]) -> usize {
        let mut n = 0;
        if let Some(kw) = &self.inner.keywords {
            kw.find(hay, 0..hay.len(), |_, _| n += 1);
        }
        n
    }

    /// Scans a whole haystack; matches are sorted by offset.
    pub fn scan(&self, hay: &[u8], config: &ScanConfig) -> Vec<Match> {
        let mut out = Vec::new();
        self.scan_range_into(hay, 0..hay.len(), config, &mut out, None);
        out
    }

    /// Scans the candidates that *start* in `range` of `hay`, appending to `out`
    /// (sorted by offset). Confirmation windows may reach outside `range`, so that
    /// chunks of one large haystack can be scanned independently: a match is reported
    /// by the chunk where its candidate starts (callers de-duplicate matches that
    /// hold candidates from two chunks). With `stats`, per-rule counters are added.
    pub fn scan_range_into(
        &self,
        hay: &[u8],
        range: Range<usize>,
        config: &ScanConfig,
        out: &mut Vec<Match>,
        mut stats: Option<&mut Vec<RuleStats>>,
    ) {
        let mut scratch = self.take_scratch();
        if let Some(s) = stats.as_deref_mut() {
            s.resize(self.inner.rules.len(), RuleStats::default());
        }
        let first = out.len();
        scratch.anchors.new_range();
        let mut pos = range.start;
        while pos < range.end {
            let block_end = (pos + BLOCK).min(range.end);
            self.scan_block(
                hay,
                pos..block_end,
                config,
                &mut scratch,
                out,
                stats.as_deref_mut(),
            );
            pos = block_end;
        }
        if !self.inner.detectors.is_empty() {
            self.run_detectors(hay, range, config, out);
        }
        let mut new = out.split_off(first);
        finish(&self.inner.rules, &mut new, config);
        out.append(&mut new);
        self.return_scratch(scratch);
    }

    fn run_detectors(
        &self,
        hay: &[u8],
        range: Range<usize>,
        config: &ScanConfig,
        out: &mut Vec<Match>,
    ) {
        let mut spans = Vec::new();
        for (i, (_, d)) in self.inner.detectors.iter().enumerate() {
            spans.clear();
            d.detect(hay, &mut spans);
            for (span, confidence) in spans.drain(..) {
                if span.start < range.start
                    || span.start >= range.end
                    || span.is_empty()
                    || span.end > hay.len()
                {
                    continue;
                }
                let dropped = confidence < config.min_confidence;
                if dropped && !config.explain {
                    continue;
                }
                out.push(Match {
                    rule: self.inner.rules.len() + i,
                    start: span.start,
                    end: span.end,
                    match_span: span,
                    confidence,
                    reason: dropped.then_some("below confidence threshold"),
                    dropped,
                });
            }
        }
    }

    fn take_scratch(&self) -> Scratch {
        let popped = self.inner.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
        popped.unwrap_or_else(|| Scratch::new(&self.inner.rules))
    }

    fn return_scratch(&self, s: Scratch) {
        if let Ok(mut p) = self.inner.pool.lock() {
            p.push(s);
        }
    }

    fn scan_block(
        &self,
        hay: &[u8],
        block: Range<usize>,
        config: &ScanConfig,
        scratch: &mut Scratch,
        out: &mut Vec<Match>,
        mut stats: Option<&mut Vec<RuleStats>>,
    ) {
        let inner = &*self.inner;
        // 1. prefilter: keywords, and the words of required contexts in and around
        // the block
        let covered = block.start.saturating_sub(inner.context_margin)
            ..(block.end + inner.context_margin).min(hay.len());
        scratch
            .context_hits
            .reset(inner.required_contexts, covered.clone());
        if let Some(kw) = &inner.keywords {
            kw.find(hay, covered, |r, span| {
                let r = r as usize;
                if let Some(span) = scratch.context_hits.record(hay, r, inner.rules.len(), span) {
                    let rule = &inner.rules[r];
                    if block.contains(&span.start) && rule.triggered_at(hay, &span) {
                        if rule.starts_at_keyword() {
                            scratch.starts[r].push(span.start);
                        }
                        scratch.add_candidate(r, span, rule.before, rule.max_len, hay.len());
                    }
                }
            });
        }
        // 1b. prefilter: byte anchors
        // (the anchors' state leaves the scratch while candidates are added to it)
        let mut anchors = std::mem::take(&mut scratch.anchors);
        inner
            .anchors
            .find(hay, block.clone(), &mut anchors, |rule, span| {
                let r = &inner.rules[rule as usize];
                if r.triggered_at(hay, &span) {
                    scratch.add_candidate(rule as usize, span, r.before, r.max_len, hay.len());
                }
            });
        scratch.anchors = anchors;
        // 2 + 3. confirm and score, rule by rule (a rule whose regex another
        // thread is compiling comes last, when it is likely ready: neither
        // thread waits, nor compiles it twice)
        let touched = std::mem::take(&mut scratch.touched);
        let mut later = std::mem::take(&mut scratch.later);
        let mut i = 0;
        while i < touched.len() + later.len() {
            let (r, first) = match touched.get(i) {
                Some(&r) => (r, true),
                None => (later[i - touched.len()], false),
            };
            i += 1;
            if first && inner.rules[r].compiled_elsewhere() {
                later.push(r);
                continue;
            }
            confirm_rule(inner, hay, r, config, scratch, out, stats.as_deref_mut());
        }
        later.clear();
        scratch.later = later;
        scratch.touched = touched;
        scratch.touched.clear();
    }
}

/// Confirms and scores the windows of rule `r` in one block (step 2 + 3 of
/// [`Scanner::scan_block`]), adding to its counters in `stats`. (Inlined into
/// its one caller, as the loop body it was.)
#[inline(always)]
fn confirm_rule(
    inner: &Inner,
    hay: &[u8],
    r: usize,
    config: &ScanConfig,
    scratch: &mut Scratch,
    out: &mut Vec<Match>,
    stats: Option<&mut Vec<RuleStats>>,
) {
    let rule = &inner.rules[r];
    let started = stats.as_ref().map(|_| std::time::Instant::now());
    let windows = std::mem::take(&mut scratch.windows[r]);
    let starts = std::mem::take(&mut scratch.starts[r]);
    let mut counts = RuleStats {
        windows: windows.len() as u64,
        ..RuleStats::default()
    };
    for w in &windows {
        // A rule whose context is required drops every candidate without a
        // context word nearby: skip windows with none in reach (unless the
        // dropped candidates are wanted for --explain).
        if let Some(ctx) = rule
            .context
            .as_ref()
            .filter(|c| c.required && !config.explain)
        {
            let in_reach = context_in_reach(
                inner,
                hay,
                rule,
                ctx,
                w.run.clone(),
                &mut scratch.context_hits,
            );
            if !in_reach {
                continue;
            }
        }
        // (the keywords of this window, for a rule whose matches start there)
        let starts = rule.starts_at_keyword().then(|| {
            let from = starts.partition_point(|&s| s < w.run.start);
            let to = starts.partition_point(|&s| s < w.run.end);
            &starts[from..to]
        });
        confirm_window(hay, r, rule, w, starts, config, scratch, out, &mut counts);
    }
    scratch.windows[r] = windows;
    scratch.windows[r].clear();
    scratch.starts[r] = starts;
    scratch.starts[r].clear();
    if let (Some(s), Some(t)) = (stats, started) {
        let e = &mut s[r];
        e.windows += counts.windows;
        e.candidates += counts.candidates;
        e.kept += counts.kept;
        e.nanos += t.elapsed().as_nanos() as u64;
    }
}

/// Whether a context word of `rule` (whose context `ctx` is required) may lie
/// in reach of a window over `run`. Answered from the words the keyword pass
/// found around the block; a window reaching past them (the run of a file of
/// digits) first extends that search, once for all rules; one reaching before
/// them (a rule with a very wide window) scans for its own words.
fn context_in_reach(
    inner: &Inner,
    hay: &[u8],
    rule: &CompiledRule,
    ctx: &score::Context,
    run: Range<usize>,
    hits: &mut score::ContextHits,
) -> bool {
    let reach = ctx.reach(hay.len(), run.clone());
    if let (Some(k), Some(kw)) = (rule.required_context, &inner.keywords) {
        if reach.start >= hits.covered.start {
            if reach.end > hits.covered.end {
                let n = inner.rules.len();
                kw.find(hay, hits.covered.end..reach.end, |r, span| {
                    hits.record(hay, r as usize, n, span);
                });
                hits.covered.end = reach.end;
            }
            return hits.any_in(k, &reach, kw.max_len());
        }
    }
    ctx.any_in_reach(hay, run)
}

/// A confirmation window: where the regex runs, and the hull of the candidates in
/// it (a match must overlap one to count, which rejects matches cut by the window).
#[derive(Debug, Clone)]
struct Window {
    run: Range<usize>,
    candidates: Range<usize>,
}

struct Scratch {
    windows: Vec<Vec<Window>>,
    /// For rules whose matches start at their keywords
    /// ([`Rule::starts_at_keyword`]):
    /// where those keywords start, in order.
    starts: Vec<Vec<usize>>,
    touched: Vec<usize>,
    /// Touched rules left for last (their regex was being compiled elsewhere).
    later: Vec<usize>,
    caches: Vec<Option<meta::Cache>>,
    captures: Vec<Option<Captures>>,
    /// Where the words of required contexts occur around the current block.
    context_hits: score::ContextHits,
    /// The digit rules' answers by run shape, and the digit set's.
    anchors: anchor::AnchorScratch,
}

impl Scratch {
    fn new(rules: &[CompiledRule]) -> Self {
        Scratch {
            windows: vec![Vec::new(); rules.len()],
            starts: vec![Vec::new(); rules.len()],
            touched: Vec::new(),
            later: Vec::new(),
            caches: (0..rules.len()).map(|_| None).collect(),
            captures: (0..rules.len()).map(|_| None).collect(),
            context_hits: score::ContextHits::default(),
            anchors: anchor::AnchorScratch::default(),
        }
    }

    fn add_candidate(
        &mut self,
        rule: usize,
        span: Range<usize>,
        before: usize,
        max_len: usize,
        hay_len: usize,
    ) {
        let run = span.start.saturating_sub(before)..(span.end + max_len).min(hay_len);
        let windows = &mut self.windows[rule];
        if windows.is_empty() {
            self.touched.push(rule);
        }
        if let Some(last) = windows.last_mut() {
            if run.start <= last.run.end && run.end >= last.run.start {
                last.run.start = last.run.start.min(run.start);
                last.run.end = last.run.end.max(run.end);
                last.candidates.start = last.candidates.start.min(span.start);
                last.candidates.end = last.candidates.end.max(span.end);
                return;
            }
        }
        windows.push(Window {
            run,
            candidates: span,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn confirm_window(
    hay: &[u8],
    r: usize,
    rule: &CompiledRule,
    w: &Window,
    starts: Option<&[usize]>,
    config: &ScanConfig,
    scratch: &mut Scratch,
    out: &mut Vec<Match>,
    counts: &mut RuleStats,
) {
    if let Some(b) = rule.required_byte {
        if memchr::memchr(b, &hay[w.run.clone()]).is_none() {
            return;
        }
    }
    let mut at = w.run.start;
    // Where matches may start: anywhere from `at` on, or at the keywords of the
    // window (searched anchored there: the lazy DFA stops within a few bytes of
    // a keyword that starts no match, where an unanchored search reads on to
    // the window's end, ~20x longer for the generic secret rules).
    let mut next_start = starts.map(|s| s.iter());
    while at < w.run.end {
        let found = match &mut next_start {
            None => find_match(hay, rule, r, at..w.run.end, false, scratch),
            Some(starts) => {
                let Some(&s) = starts.find(|&&s| s >= at) else {
                    break;
                };
                match find_match(hay, rule, r, s..w.run.end, true, scratch) {
                    Some(found) => Some(found),
                    None => {
                        at = s + 1;
                        continue;
                    }
                }
            }
        };
        let Some((ms, me, value)) = found else {
            break;
        };
        at = if me > ms { me } else { me + 1 };
        if ms >= w.candidates.end || me <= w.candidates.start {
            continue;
        }
        if value.is_empty() {
            continue;
        }
        counts.candidates += 1;
        let mut found = Match {
            rule: r,
            start: value.start,
            end: value.end,
            match_span: ms..me,
            confidence: rule.confidence,
            reason: None,
            dropped: false,
        };
        evaluate(hay, rule, &mut found, config);
        if !found.dropped {
            counts.kept += 1;
        }
        if !found.dropped || config.explain {
            out.push(found);
        }
    }
}

/// The leftmost match of rule `r` in `hay[range]`: (match start, match end,
/// value). Without the regex engines for a plain sequence, without the capture
/// engines where the match gives the value.
#[inline]
fn find_match(
    hay: &[u8],
    rule: &CompiledRule,
    r: usize,
    range: Range<usize>,
    anchored: bool,
    scratch: &mut Scratch,
) -> Option<(usize, usize, Range<usize>)> {
    if let Some(linear) = rule.linear.as_ref().filter(|_| !anchored) {
        if let Ok(found) = linear.find(hay, range.clone()) {
            return found.map(|(m, value)| (m.start, m.end, value));
        }
    }
    let mut range = range;
    if rule.starts_without_digit
        && !anchored
        && range.start < range.end
        && hay[range.start].is_ascii_digit()
    {
        // No match starts inside the digit run the search would start in (a
        // digit rule's window over a megabyte run reads none of it); at the
        // haystack's start one may begin with `^`: asked there, anchored.
        if range.start == 0 {
            let at_start = find_match(hay, rule, r, range.clone(), true, scratch);
            if at_start.is_some() {
                return at_start;
            }
        }
        range.start = anchor::skip_digits(hay, range.start + 1, range.end);
        if range.start >= range.end {
            return None;
        }
    }
    let (regex, value_group) = rule.regex();
    let mut input = Input::new(hay).range(range);
    if anchored {
        input = input.anchored(regex_automata::Anchored::Yes);
    }
    let cache = scratch.caches[r].get_or_insert_with(|| regex.create_cache());
    // The match alone where it gives the value; else the capture engines.
    if rule.value != ValueSpan::Captures {
        let m = regex.search_with(cache, &input)?;
        if let Some(value) = rule.value.value(hay, m.range()) {
            return Some((m.start(), m.end(), value));
        }
    }
    let caps = scratch.captures[r].get_or_insert_with(|| regex.create_captures());
    regex.search_captures_with(cache, &input, caps);
    let m = caps.get_match()?;
    let value = value_group
        .and_then(|g| caps.get_group(g))
        .map_or(m.range(), |s| s.start..s.end);
    Some((m.start(), m.end(), value))
}

/// Placeholders, validators, context: sets confidence, reason and `dropped`.
fn evaluate(hay: &[u8], rule: &CompiledRule, m: &mut Match, config: &ScanConfig) {
    for v in &rule.validators {
        if let Some(len) = v.trim(&hay[m.start..m.end]) {
            m.end = m.start + len;
        }
    }
    let value = &hay[m.start..m.end];
    let drop = |m: &mut Match, why: &'static str| {
        m.dropped = true;
        m.reason = Some(why);
    };
    if let Some(why) = reserved_reason(value) {
        return drop(m, why);
    }
    if rule.placeholder_filter {
        if let Some(why) = placeholder_reason(value) {
            m.confidence = (m.confidence * 0.25).min(0.3);
            m.reason = Some(why);
        }
    }
    for v in &rule.validators {
        if let Err(why) = v.check(value) {
            match v.on_fail {
                OnFail::Drop => return drop(m, why),
                OnFail::Lower(c) => {
                    m.confidence = m.confidence.min(c);
                    m.reason = Some(why);
                }
            }
        }
    }
    if let Some(ctx) = &rule.context {
        // Measured from the value, not the whole match: a boundary byte or a keyword the
        // regex consumed before the value (`tel: `, `passport no`) is context too.
        if ctx.found_near(hay, m.start..m.end) {
            m.confidence = (m.confidence + ctx.boost).min(1.0);
            m.reason.get_or_insert("context word nearby");
        } else if ctx.required {
            return drop(m, "missing context word");
        }
    }
    if m.confidence < config.min_confidence {
        let why = m.reason.unwrap_or("below confidence threshold");
        drop(m, why);
    }
}

/// Sorts the new matches, removes duplicates (same rule and span, found from two
/// windows) and suppresses generic matches that overlap a specific one of the same
/// category. Only a more specific finding of the same kind makes a generic one
/// redundant: an email match on `pass@host` must not hide the password of
/// `https://user:pass@host`. A match of a rule that `yields_to` another is dropped
/// where a kept match of that other rule overlaps it.
fn finish(rules: &[CompiledRule], new: &mut Vec<Match>, config: &ScanConfig) {
    new.sort_by(|a, b| {
        (a.start, a.end, a.rule, a.dropped).cmp(&(b.start, b.end, b.rule, b.dropped))
    });
    new.dedup_by(|b, a| a.rule == b.rule && a.start == b.start && a.end == b.end);
    let rule = |m: &Match| rules.get(m.rule);
    // `yields_to`: dropped, or with --explain marked dropped with the reason.
    let losers = beaten(
        new,
        |o| rule(o).is_some_and(|r| r.yielded_to),
        |o, m| rule(m).is_some_and(|r| r.yields_to.contains(&o.rule)),
    );
    let why = "overlaps a finding of a rule it yields to";
    remove_or_mark(new, &losers, config.explain.then_some(why));
    // Generic rules: removed where a specific rule of the same category matches.
    let losers = beaten(
        new,
        |o| rule(o).is_some_and(|r| !r.info.generic),
        |o, m| match (rule(o), rule(m)) {
            (Some(w), Some(l)) => l.info.generic && w.info.category == l.info.category,
            _ => false,
        },
    );
    remove_or_mark(new, &losers, None);
}

/// Indices (ascending) of the kept matches that a kept match overlapping them
/// beats: `can_win(o)` says whether `o` may beat anything, `beats(o, m)` whether it
/// beats `m`. `new` is sorted by start.
fn beaten(
    new: &[Match],
    can_win: impl Fn(&Match) -> bool,
    beats: impl Fn(&Match, &Match) -> bool,
) -> Vec<usize> {
    let winners: Vec<usize> = (0..new.len())
        .filter(|&i| !new[i].dropped && can_win(&new[i]))
        .collect();
    if winners.is_empty() {
        return Vec::new();
    }
    // Only winners that start less than the longest winner before `m` can reach it.
    let longest = winners
        .iter()
        .map(|&i| new[i].end - new[i].start)
        .max()
        .unwrap_or(0);
    let mut losers = Vec::new();
    for (i, m) in new.iter().enumerate() {
        if m.dropped {
            continue;
        }
        let upto = winners.partition_point(|&w| new[w].start < m.end);
        let lost = winners[..upto]
            .iter()
            .rev()
            .take_while(|&&w| new[w].start + longest > m.start)
            .any(|&w| w != i && new[w].end > m.start && beats(&new[w], m));
        if lost {
            losers.push(i);
        }
    }
    losers
}

/// Marks the matches at `losers` dropped with `why`, or removes them when there is
/// no reason to show.
fn remove_or_mark(new: &mut Vec<Match>, losers: &[usize], why: Option<&'static str>) {
    match why {
        Some(why) => {
            for &i in losers {
                new[i].dropped = true;
                new[i].reason = Some(why);
            }
        }
        None => {
            let mut next = losers.iter().copied().peekable();
            let mut i = 0;
            new.retain(|_| {
                let lose = next.next_if_eq(&i).is_some();
                i += 1;
                !lose
            });
        }
    }
}

/// Runs every rule's examples through a scanner built from the whole set: each
/// positive example must give a kept finding of its rule, no negative example may,
/// and each rule needs at least two of each. An anchored rule's regex must also be
/// bounded ([`MAX_ANCHORED_REGEX_LEN`]). Returns one message per failure, naming
/// the rule.
pub fn check_examples(set: &RuleSet) -> Result<Vec<String>, EngineError> {
    let scanner = Scanner::new(set)?;
    let config = ScanConfig::default();
    let mut failures = Vec::new();
    for (idx, loaded) in set.rules().iter().enumerate() {
        let rule = &loaded.rule;
        if let Err(e) = scanner.inner.rules[idx].try_compile() {
            failures.push(format!("{} ({}): {e}", rule.id, loaded.source));
            continue;
        }
        if rule.anchor.is_some()
            && loaded
                .regex
                .regex_len
                .is_none_or(|n| n > MAX_ANCHORED_REGEX_LEN)
        {
            failures.push(format!(
                "{} ({}): an anchored rule's regex must match at most {MAX_ANCHORED_REGEX_LEN} bytes \
                 (a run of digits or `@` can be megabytes long); bound its repetitions (`{{0,8}}`, not `*`)",
                rule.id, loaded.source
            ));
        }
        if rule.examples.len() < 2 || rule.negative_examples.len() < 2 {
            failures.push(format!(
                "{} ({}): needs at least 2 examples and 2 negative examples",
                rule.id, loaded.source
            ));
        }
        for ex in &rule.examples {
            let found = scanner.scan(ex.as_bytes(), &config);
            if !found.iter().any(|m| m.rule == idx && !m.dropped) {
                let why = scanner
                    .scan(
                        ex.as_bytes(),
                        &ScanConfig {
                            explain: true,
                            min_confidence: 0.0,
                        },
                    )
                    .into_iter()
                    .find(|m| m.rule == idx)
                    .map_or("no regex match".to_string(), |m| {
                        format!("dropped: {}", m.reason.unwrap_or("below threshold"))
                    });
                failures.push(format!("{}: example not found ({why}): {ex:?}", rule.id));
            }
        }
        for ex in &rule.negative_examples {
            let found = scanner.scan(ex.as_bytes(), &config);
            if let Some(m) = found.iter().find(|m| m.rule == idx && !m.dropped) {
                failures.push(format!(
                    "{}: negative example matched {:?} in {ex:?}",
                    rule.id,
                    String::from_utf8_lossy(&ex.as_bytes()[m.start..m.end])
                ));
            }
        }
    }
    Ok(failures)
}

/// A test rule: `tok_`, eight letters, eight digits.
#[cfg(test)]
pub(crate) const TOK_RULE: &str = r#"
[[rule]]
id = "t.tok"
name = "test token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '\btok_[a-z]{8}[0-9]{8}\b'
"#;

/// A scanner over the rules of one TOML snippet, for tests.
#[cfg(test)]
pub(crate) fn scanner_with(toml: &str) -> Scanner {
    Scanner::new(&rules_with(toml)).unwrap()
}

/// The rules of one TOML text (tests).
#[cfg(test)]
pub(crate) fn rules_with(toml: &str) -> RuleSet {
    let mut set = RuleSet::new();
    set.add_str("test.toml", toml).unwrap();
    set
}

#[cfg(test)]
mod generic_prose_tests;
#[cfg(test)]
mod overlap_tests;
#[cfg(test)]
mod tests;
