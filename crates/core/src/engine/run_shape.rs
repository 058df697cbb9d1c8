//! The shape gate of digit-anchored rules: whether a rule's regex can match with
//! its digits in a given digit run, decided from the run's *shape* alone (each
//! digit written `0`, the separators as they are: `2024-03-15` is `0000-00-00`).
//!
//! A rule whose every match holds its digits in one run
//! ([`super::anchor::fewest_digits_in_a_row`] > 0) is projected onto a small
//! alphabet: `0` for any digit, each run separator for itself, and `w` for any
//! other byte. A class of the regex becomes the set of symbols of its members
//! (`[0-9A-F]` is `[0w]`, `[- ]` is `[- w]`: a separator outside the run is an
//! ordinary byte), and look-arounds are dropped. A match of the rule then maps,
//! byte by byte, onto a match of the projection in `w…w SHAPE w…w`: its bytes
//! before and after the run are no digits, so `w`, and its bytes in the run are
//! the run's own symbols. So when the projection finds no match there, the rule
//! finds none with its digits in this run, and the run's window for that rule is
//! skipped. Dates (`0000-00-00`), plain counts and card-like groups wake most
//! digit rules; most of those rules cannot match such a shape (an SSN needs
//! `000-00-0000`).
//!
//! The projection is a lazy DFA over a handful of byte classes, built on first
//! use (dense DFAs built up front cost more than the gate saved). Runs repeat
//! their shapes (the 100 MB corpus has 30k runs of six digits or more and fewer
//! than 200 shapes), so each gate's answer is kept per shape in a small
//! per-thread memo; a run longer than [`MAX_SHAPE`] bytes is not gated.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::{Input, MatchKind};
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};

use super::anchor::{ascii_members, is_digit_sep};
use crate::validate::Fnv;

/// Runs longer than this are not gated (their shapes rarely repeat).
const MAX_SHAPE: usize = 48;
/// Shapes remembered per thread before the memo starts over.
const MEMO_ENTRIES: usize = 4096;
/// A new shape costs each gate asked a walk of its DFA (and new states): a text
/// of ever new shapes (random groups of digits and separators) would pay that on
/// every run. So the memo counts its misses over windows of `PROBE` runs; when
/// more than `MAX_MISSES` of a window were new, the next `BYPASS` runs are let
/// through unasked, as without the gate (text has few shapes: under 200 in the
/// 100 MB corpus), twice as many after each window that fails again, up to
/// `MAX_BYPASS`.
const PROBE: u32 = 1024;
const MAX_MISSES: u32 = 256;
const BYPASS: u32 = 16 * 1024;
const MAX_BYPASS: u32 = 1 << 22;
/// Memory of one gate's lazy DFA per thread (a few hundred states).
const CACHE_BYTES: usize = 64 * 1024;
/// Context symbols followed after a run before the gate gives up and says "may
/// match" (projections settle after a few: the context parts of a pattern are
/// short).
const TAIL_LIMIT: usize = 256;
/// The symbol of any byte that is neither a digit nor a run separator.
const OTHER: u8 = b'w';

/// Gated rules per memo entry: one bit each.
type Mask = u128;
/// Most rules a scanner gates.
pub(super) const MAX_GATES: usize = Mask::BITS as usize;

/// The shape gate of one rule: its regex, projected and compiled on first use.
#[derive(Debug)]
pub(super) struct ShapeGate {
    pattern: String,
    unicode: bool,
    /// Longest match of the regex: the context around the run that can matter.
    reach: usize,
    /// The projection's lazy DFA (`None`: it could not be built, or it matches
    /// context alone; the gate lets every run through).
    dfa: OnceLock<Option<DFA>>,
}

impl ShapeGate {
    /// A gate for a rule whose regex `pattern` (macros expanded) matches at most
    /// `reach` bytes and holds every match's digits in one run.
    pub(super) fn new(pattern: &str, unicode: bool, reach: usize) -> Self {
        ShapeGate {
            pattern: pattern.to_string(),
            unicode,
            reach,
            dfa: OnceLock::new(),
        }
    }

    fn dfa(&self) -> Option<&DFA> {
        self.dfa.get_or_init(|| self.build()).as_ref()
    }

    fn build(&self) -> Option<DFA> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(self.unicode)
            .utf8(false)
            .build()
            .parse(&self.pattern)
            .ok()?;
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().utf8(false).shrink(false))
            .build_from_hir(&project(&hir).hir)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(CACHE_BYTES)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .ok()?;
        // A projection that matches in the context alone (a class of digits and
        // letters) says nothing.
        let mut cache = dfa.create_cache();
        let useless = context_state(&dfa, &mut cache, self.reach).is_none_or(|(_, alone)| alone);
        (!useless).then_some(dfa)
    }

    /// Whether the rule may match with its digits in a run of this shape: whether
    /// the projection matches in `w…w shape w…w` (true when that is not known).
    pub(super) fn may_match(&self, shape: &[u8], state: &mut Option<GateState>) -> bool {
        let Some(dfa) = self.dfa() else {
            return true;
        };
        let state = state.get_or_insert_with(|| GateState {
            cache: dfa.create_cache(),
            context: None,
        });
        self.walk(dfa, shape, state).unwrap_or(true)
    }

    /// `None`: the lazy DFA gave up.
    fn walk(&self, dfa: &DFA, shape: &[u8], state: &mut GateState) -> Option<bool> {
        let cache = &mut state.cache;
        // The state after the context before the run, kept until the cache is
        // cleared (which invalidates its states).
        let mut at = match state.context {
            Some((at, clears)) if clears == cache.clear_count() => at,
            _ => {
                let (at, _) = context_state(dfa, cache, self.reach)?;
                state.context = Some((at, cache.clear_count()));
                at
            }
        };
        for &b in shape {
            at = dfa.next_state(cache, at, b).ok()?;
            if at.is_match() {
                return Some(true);
            }
            if at.is_dead() {
                return Some(false);
            }
        }
        // The context after the run (matches show one byte late): `reach` other
        // bytes at most, or until the state stops changing.
        for step in 0..=self.reach {
            let next = dfa.next_state(cache, at, OTHER).ok()?;
            if next.is_match() {
                return Some(true);
            }
            if next == at || next.is_dead() {
                break;
            }
            if step == TAIL_LIMIT {
                // (not settled yet: too long to follow on every run)
                return None;
            }
            at = next;
        }
        Some(dfa.next_eoi_state(cache, at).ok()?.is_match())
    }
}

/// The state of `dfa` after `reach` context symbols (or fewer, once it stops
/// changing), and whether a match was seen on the way.
fn context_state(dfa: &DFA, cache: &mut Cache, reach: usize) -> Option<(LazyStateID, bool)> {
    let mut at = dfa.start_state_forward(cache, &Input::new(&[][..])).ok()?;
    for _ in 0..reach {
        let next = dfa.next_state(cache, at, OTHER).ok()?;
        if next.is_match() {
            return Some((next, true));
        }
        if next == at {
            break;
        }
        at = next;
    }
    Some((at, false))
}

/// One thread's cache of a gate's lazy DFA.
pub(super) struct GateState {
    cache: Cache,
    /// `context_state` and the cache's clear count when it was computed.
    context: Option<(LazyStateID, usize)>,
}

/// A run's byte as its shape writes it: digits as `0`, separators as they are.
pub(super) fn shape_byte(b: u8) -> u8 {
    if b.is_ascii_digit() {
        b'0'
    } else {
        b
    }
}

/// Symbols of the projected alphabet, as bits: `0`, the run separators, `w`.
const ALPHABET: &[u8] = b"0 -./()+w";

fn bit(symbol: u8) -> u16 {
    1 << ALPHABET
        .iter()
        .position(|&s| s == symbol)
        .expect("a projected symbol")
}

/// The symbols of a set of bytes (`non_ascii`: it has bytes above 0x7F too).
fn symbols(bytes: impl IntoIterator<Item = u8>, non_ascii: bool) -> u16 {
    let mut set = if non_ascii { bit(OTHER) } else { 0 };
    for b in bytes {
        set |= if b.is_ascii_digit() {
            bit(b'0')
        } else if is_digit_sep(b) {
            // a separator outside the run is an ordinary byte
            bit(b) | bit(OTHER)
        } else {
            bit(OTHER)
        };
    }
    set
}

fn class(set: u16) -> Hir {
    Hir::class(Class::Bytes(ClassBytes::new(
        ALPHABET
            .iter()
            .enumerate()
            .filter(|(i, _)| set >> i & 1 != 0)
            .map(|(_, &s)| ClassBytesRange::new(s, s)),
    )))
}

/// A projected piece of a regex, and the symbols it may hold.
struct Projected {
    hir: Hir,
    symbols: u16,
}

/// The regex over symbols whose matches include the projection of every match of
/// `hir` (see the module documentation). A piece longer than one byte that holds
/// no digit becomes any string of its symbols: the projection loses nothing that
/// matters inside a run (separators, one or two, between digits), and counted
/// context (`[ \t]{0,8}[:=]?[ \t]{0,8}`, a choice of words) would otherwise multiply
/// the states of the DFA.
fn project(hir: &Hir) -> Projected {
    let projected = match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Projected {
            hir: Hir::empty(),
            symbols: 0,
        },
        HirKind::Literal(lit) => {
            let parts: Vec<u16> = lit.0.iter().map(|&b| symbols([b], b > 0x7F)).collect();
            Projected {
                symbols: parts.iter().fold(0, |a, &s| a | s),
                hir: Hir::concat(parts.into_iter().map(class).collect()),
            }
        }
        HirKind::Class(c) => {
            let (bytes, non_ascii) = ascii_members(c);
            let set = symbols(bytes, non_ascii);
            Projected {
                hir: class(set),
                symbols: set,
            }
        }
        HirKind::Capture(cap) => project(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = project(&rep.sub);
            Projected {
                hir: Hir::repetition(Repetition {
                    sub: Box::new(sub.hir),
                    ..rep.clone()
                }),
                symbols: sub.symbols,
            }
        }
        HirKind::Concat(parts) => {
            let parts: Vec<Projected> = parts.iter().map(project).collect();
            Projected {
                symbols: parts.iter().fold(0, |a, p| a | p.symbols),
                hir: Hir::concat(parts.into_iter().map(|p| p.hir).collect()),
            }
        }
        HirKind::Alternation(alts) => {
            let alts: Vec<Projected> = alts.iter().map(project).collect();
            Projected {
                symbols: alts.iter().fold(0, |a, p| a | p.symbols),
                hir: Hir::alternation(alts.into_iter().map(|p| p.hir).collect()),
            }
        }
    };
    let short = hir.properties().maximum_len().is_some_and(|n| n <= 1);
    if projected.symbols & bit(b'0') == 0 && !short {
        return Projected {
            hir: Hir::repetition(Repetition {
                min: 0,
                max: None,
                greedy: true,
                sub: Box::new(class(projected.symbols)),
            }),
            symbols: projected.symbols,
        };
    }
    projected
}

/// Per-thread answers by shape: for each shape, the gates asked so far (`known`)
/// and those that may match (`yes`), one bit per gate.
#[derive(Default)]
pub(super) struct ShapeMemo {
    answers: HashMap<Box<[u8]>, (Mask, Mask), BuildHasherDefault<Fnv>>,
    /// The current run's shape, and its answers (`None`: a run too long to gate).
    shape: Vec<u8>,
    current: Option<(Mask, Mask)>,
    /// New answers for the current run, to remember when it ends.
    changed: bool,
    /// Per gate: this thread's lazy DFA cache.
    states: Vec<Option<GateState>>,
    /// Runs looked up and shapes not found in the current window of `PROBE`.
    lookups: u32,
    misses: u32,
    /// Runs still to let through unasked, and how many the next failed window
    /// lets through (0: `BYPASS`).
    bypass: u32,
    next_bypass: u32,
}

impl ShapeMemo {
    /// Starts a run of digits and separators; false when the run is let through
    /// unasked (too long, or the memo is being bypassed): `may_match` would say
    /// yes to every gate.
    pub(super) fn start(&mut self, run: &[u8]) -> bool {
        self.changed = false;
        if run.len() > MAX_SHAPE || self.bypass > 0 {
            self.bypass = self.bypass.saturating_sub(1);
            self.current = None;
            return false;
        }
        self.shape.clear();
        self.shape.extend(run.iter().map(|&b| shape_byte(b)));
        let found = self.answers.get(&self.shape[..]).copied();
        self.lookups += 1;
        self.misses += u32::from(found.is_none());
        if self.lookups == PROBE {
            if self.misses > MAX_MISSES {
                self.bypass = self.next_bypass.max(BYPASS);
                self.next_bypass = (self.bypass * 2).min(MAX_BYPASS);
            } else {
                self.next_bypass = BYPASS;
            }
            self.lookups = 0;
            self.misses = 0;
        }
        self.current = Some(found.unwrap_or((0, 0)));
        true
    }

    /// Whether gate `i` of `gates` may match in the current run.
    #[inline]
    pub(super) fn may_match(&mut self, gates: &[ShapeGate], i: u32) -> bool {
        let Some((known, yes)) = self.current else {
            return true;
        };
        let b: Mask = 1 << i;
        if known & b == 0 {
            return self.learn(gates, i);
        }
        yes & b != 0
    }

    /// Asks gate `i` about the current run's shape, and notes the answer.
    #[inline(never)]
    fn learn(&mut self, gates: &[ShapeGate], i: u32) -> bool {
        if self.states.len() < gates.len() {
            self.states.resize_with(gates.len(), || None);
        }
        let yes = gates[i as usize].may_match(&self.shape, &mut self.states[i as usize]);
        if let Some((known, answers)) = &mut self.current {
            *known |= 1 << i;
            if yes {
                *answers |= 1 << i;
            }
        }
        self.changed = true;
        yes
    }

    /// Ends the current run: remembers what was learnt about its shape.
    pub(super) fn end(&mut self) {
        if let (true, Some(answers)) = (self.changed, self.current) {
            if self.answers.len() >= MEMO_ENTRIES {
                self.answers.clear();
            }
            self.answers
                .insert(self.shape.clone().into_boxed_slice(), answers);
        }
        self.changed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(re: &str) -> ShapeGate {
        ShapeGate::new(re, false, 64)
    }

    fn may(g: &ShapeGate, shape: &[u8]) -> bool {
        g.may_match(shape, &mut None)
    }

    #[test]
    fn shapes_a_regex_cannot_match_are_rejected() {
        let ssn = gate(r"(?:^|[^0-9A-Za-z_.\-])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4})\b");
        assert!(may(&ssn, b"000-00-0000"));
        assert!(!may(&ssn, b"0000-00-00"));
        assert!(!may(&ssn, b"000000000"));
        // (the projection drops `\b`: a longer run may still hold a match)
        assert!(may(&ssn, b"0000-00-00000"));
        let date = gate(r"[0-9]{4}-[0-9]{2}-[0-9]{2}");
        assert!(may(&date, b"0000-00-00"));
        assert!(!may(&date, b"00-00-0000"));
        // bytes around the run: letters and separators outside it are `w`
        let nino = gate(r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b");
        assert!(may(&nino, b"00 00 00"));
        assert!(may(&nino, b"000000"));
        assert!(!may(&nino, b"00-00-00"));
        let plus = gate(r"\+[0-9]{2} [0-9]{4}");
        // `+` before the run, or as the run's own first separator
        assert!(may(&plus, b"00 0000"));
        assert!(may(&plus, b"0+00 0000"));
        assert!(!may(&plus, b"00-0000"));
        // counted context before the digits is any string of its symbols
        let version =
            gate(r"(?i:v|ver|version)\.?[ \t]{0,8}[:=]?[ \t]{0,8}[0-9]{1,3}(?:\.[0-9]{1,3}){3}");
        assert!(may(&version, b"0.0.0.0"));
        assert!(!may(&version, b"0.0.0"));
        assert!(version.dfa().is_some());
    }

    #[test]
    fn a_projection_that_matches_without_digits_does_not_gate() {
        let hex = gate(r"[0-9a-f]{8}");
        assert!(may(&hex, b"0-0"));
        assert!(hex.dfa().is_none());
    }

    #[test]
    fn the_memo_answers_by_shape_and_asks_each_gate_once() {
        let gates = [
            gate(r"[0-9]{3}-[0-9]{2}-[0-9]{4}"),
            gate(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        ];
        let mut memo = ShapeMemo::default();
        let mut ask = |run: &[u8], i: u32| {
            memo.start(run);
            let yes = memo.may_match(&gates, i);
            memo.end();
            yes
        };
        assert!(ask(b"123-45-6789", 0));
        assert!(!ask(b"2024-03-15", 0));
        assert!(ask(b"1999-12-31", 1));
        assert!(!ask(b"12/31", 1));
        let long = "1-".repeat(MAX_SHAPE);
        assert!(ask(long.as_bytes(), 0));
        assert_eq!(memo.answers.len(), 3);
        assert_eq!(memo.answers[&b"0000-00-00"[..]], (0b11, 0b10));
        assert_eq!(memo.answers[&b"000-00-0000"[..]], (0b01, 0b01));
    }

    #[test]
    fn a_text_of_ever_new_shapes_is_let_through_for_a_while() {
        let gates = [gate(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")];
        let mut memo = ShapeMemo::default();
        let ask = |memo: &mut ShapeMemo, run: &str| {
            memo.start(run.as_bytes());
            let yes = memo.may_match(&gates, 0);
            memo.end();
            yes
        };
        // a few shapes over and over: always answered
        for i in 0..2 * PROBE {
            let yes = ask(&mut memo, ["2024-03-15", "123-45-6789"][i as usize % 2]);
            assert_eq!(yes, i % 2 == 1);
        }
        // a new shape every run: after a window of them, runs are let through
        for i in 0..PROBE {
            let i = i as usize;
            let run = "1-".repeat(i % 8 + 1) + &"3.".repeat(i / 8 % 8) + &"2".repeat(i / 64 + 1);
            ask(&mut memo, &run);
        }
        assert_eq!(memo.bypass, BYPASS);
        // ... for `BYPASS` runs, then answered again
        for _ in 0..BYPASS {
            assert!(ask(&mut memo, "2024-03-15"));
        }
        assert!(!ask(&mut memo, "2024-03-15"));
        // a second failed window lets twice as many through
        memo.lookups = 0;
        memo.misses = 0;
        memo.answers.clear();
        for i in 0..PROBE {
            ask(&mut memo, &"1-".repeat(i as usize % 24 + 1));
            memo.answers.clear();
        }
        assert_eq!(memo.bypass, 2 * BYPASS);
    }
}
