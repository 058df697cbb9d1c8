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
//! The projections are compiled to lazy DFAs on first use (dense DFAs built up
//! front cost more than the gate saved). Runs repeat their shapes (the 100 MB
//! corpus has 30k runs of six digits or more and fewer than 200 shapes), so the
//! answers are kept per shape in a small per-thread memo, learnt gate by gate
//! from each gate's own DFA (only the gates of the rules a run wakes; their
//! states are cheap). A run the memo does not keep (longer than [`MAX_SHAPE`]
//! bytes, or in a text of ever new shapes, where the memo is bypassed) is walked
//! once through one more DFA of all the projections together (every pattern's
//! matches, overlapping), which answers for every gate at once: asking each gate
//! cost a run of random digit groups ~15 walks. A stretch of digits that leaves
//! the DFA where it is is skipped at once.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::{Input, MatchKind};
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};

use super::anchor::{ascii_members, is_digit_sep, skip_digits};
use crate::validate::Fnv;

/// Runs longer than this are not remembered (their shapes rarely repeat).
pub(super) const MAX_SHAPE: usize = 48;
/// Shapes remembered per thread before the memo starts over.
const MEMO_ENTRIES: usize = 4096;
/// A new shape costs a lookup, walks of the gates asked and an entry in the
/// memo: a text of ever new shapes (random groups of digits and separators)
/// would pay all of them on every run. So the memo counts its misses over windows
/// of `PROBE` runs; when more than `MAX_MISSES` of a window were new, the next
/// `BYPASS` runs are walked without the memo, through all gates' DFA at once
/// (text has few shapes: under 200 in the 100 MB corpus), twice as many after
/// each window that fails again, up to `MAX_BYPASS`.
const PROBE: u32 = 1024;
const MAX_MISSES: u32 = 256;
const BYPASS: u32 = 16 * 1024;
const MAX_BYPASS: u32 = 1 << 22;
/// Most memory of a gate's lazy DFA per thread (all gates' together: 32 times
/// this; ~1 MB for runs of random digit groups).
const CACHE_BYTES: usize = 256 << 10;
/// A lazy DFA of the anchors (the gates', the digit set's) gives up when cleared
/// this often (it would rebuild states on every walk): its answers are then
/// "may match", and it sits out the next `SKIP` walks (doubling each time it
/// gives up again, up to `MAX_SKIP`).
pub(super) const CLEARS: usize = 3;
pub(super) const SKIP: u32 = 64;
pub(super) const MAX_SKIP: u32 = 1 << 20;
/// Turns to sit out after a failure: `first`, twice as many after each further
/// failure, up to `most` (the memo's bypass, a lazy DFA that gave up).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Backoff {
    left: u32,
    next: u32,
}

impl Backoff {
    /// Whether this turn is sat out (and counts it).
    pub(super) fn sits_out(&mut self) -> bool {
        let out = self.left > 0;
        self.left = self.left.saturating_sub(1);
        out
    }

    /// A failure: the next turns are sat out.
    pub(super) fn failed(&mut self, first: u32, most: u32) {
        self.left = self.next.max(first);
        self.next = (self.left * 2).min(most);
    }

    /// A success: the next failure sits out `first` turns again.
    fn succeeded(&mut self) {
        self.next = 0;
    }

    /// Turns still to sit out.
    #[cfg(test)]
    pub(super) fn left(&self) -> u32 {
        self.left
    }
}

/// Context symbols followed after a run before the gates give up and say "may
/// match" (projections settle after a few: the context parts of a pattern are
/// short).
const TAIL_LIMIT: usize = 256;
/// The symbol of any byte that is neither a digit nor a run separator.
const OTHER: u8 = b'w';

/// Gated rules: one bit each.
pub(super) type Mask = u128;
/// Most rules a scanner gates.
const MAX_GATES: usize = Mask::BITS as usize;

/// The shape gates of the digit rules: their regexes, projected and compiled on
/// first use. Gate `i` is bit `i` of an answer. Each gate has a lazy DFA of its
/// own, asked for the shapes the memo remembers (only the gates of the rules a
/// run wakes, once per shape), and all share one more, asked for runs it does
/// not (one walk for all: a DFA over many patterns builds each new state from all
/// of their NFA states, which costs more than it saves where shapes repeat).
#[derive(Debug, Default)]
pub(super) struct ShapeGates {
    /// (pattern, unicode) of each gate.
    patterns: Vec<(String, bool)>,
    /// Longest match of the regexes: the context around a run that can matter.
    reach: usize,
    /// Each gate's DFA, then all gates' (`None`: it could not be built, and its
    /// gates let every run through).
    alone: Vec<OnceLock<Option<Built>>>,
    together: OnceLock<Option<Built>>,
    /// Tests: each DFA's cache as small as can be (cleared over and over), and
    /// whether it may give up.
    #[cfg(test)]
    tiny_caches: Option<bool>,
}

#[derive(Debug)]
struct Built {
    dfa: DFA,
    /// Gates that let every run through: their projection matches in the context
    /// alone (a class of digits and letters says nothing), or their regex did
    /// not parse.
    always: Mask,
    /// The group's gates.
    all: Mask,
}

impl ShapeGates {
    /// Adds the gate of a rule whose regex `pattern` (macros expanded) matches at
    /// most `reach` bytes and holds every match's digits in one run; its bit, or
    /// `None` past [`MAX_GATES`].
    pub(super) fn add(&mut self, pattern: &str, unicode: bool, reach: usize) -> Option<u32> {
        if self.patterns.len() >= MAX_GATES {
            return None;
        }
        self.alone.push(OnceLock::new());
        self.patterns.push((pattern.to_string(), unicode));
        self.reach = self.reach.max(reach);
        Some(self.patterns.len() as u32 - 1)
    }

    /// The DFA that answers for gate `i`: its own, or (`together`) all gates'.
    fn dfa_of(&self, i: u32, together: bool) -> usize {
        if together {
            self.patterns.len()
        } else {
            i as usize
        }
    }

    /// The gates DFA `d` answers for ([`ShapeGates::dfa_of`]).
    fn gates_of(&self, d: usize) -> std::ops::Range<usize> {
        if d < self.patterns.len() {
            d..d + 1
        } else {
            0..self.patterns.len()
        }
    }

    /// The cache capacity of a DFA of `gates` gates.
    fn cache_bytes(&self, gates: usize) -> usize {
        #[cfg(test)]
        if self.tiny_caches.is_some() {
            return 0;
        }
        CACHE_BYTES * gates.clamp(1, 32)
    }

    /// Clears after which a DFA gives up.
    fn clears(&self) -> Option<usize> {
        #[cfg(test)]
        if self.tiny_caches == Some(false) {
            return None;
        }
        Some(CLEARS)
    }

    fn built(&self, d: usize) -> Option<&Built> {
        let lock = self.alone.get(d).unwrap_or(&self.together);
        lock.get_or_init(|| self.build(d)).as_ref()
    }

    fn build(&self, d: usize) -> Option<Built> {
        let gates = self.gates_of(d);
        let first = gates.start;
        let mut always: Mask = 0;
        let hirs: Vec<Hir> = self.patterns[gates]
            .iter()
            .enumerate()
            .map(|(i, (pattern, unicode))| {
                let hir = regex_syntax::ParserBuilder::new()
                    .unicode(*unicode)
                    .utf8(false)
                    .build()
                    .parse(pattern);
                match hir {
                    Ok(hir) => project(&hir).hir,
                    Err(_) => {
                        always |= 1 << i;
                        Hir::fail()
                    }
                }
            })
            .collect();
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .shrink(false)
                    .which_captures(thompson::WhichCaptures::None),
            )
            .build_many_from_hir(&hirs)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(self.cache_bytes(hirs.len()))
                    .skip_cache_capacity_check(true)
                    .minimum_cache_clear_count(self.clears()),
            )
            .build_from_nfa(nfa)
            .ok()?;
        let mut cache = dfa.create_cache();
        let (_, alone) = context_state(&dfa, &mut cache, self.reach)?;
        let all = Mask::MAX >> (Mask::BITS as usize - hirs.len().max(1));
        Some(Built {
            dfa,
            always: (always | alone) << first,
            all: all << first,
        })
    }

    /// The gates of DFA `d` that may match with their digits in `run` (its
    /// bytes, digits and separators): whose projection matches in
    /// `w…w SHAPE w…w`. `None` when that is not known (every gate may match).
    fn answer(&self, d: usize, run: &[u8], state: &mut Option<GateState>) -> Option<Mask> {
        let built = self.built(d)?;
        let state = state.get_or_insert_with(|| GateState {
            cache: built.dfa.create_cache(),
            context: None,
            met: Default::default(),
            next_met: 0,
            met_clears: 0,
            skip: Backoff::default(),
        });
        if state.skip.sits_out() {
            return None;
        }
        let Some(yes) = self.walk(built, run, state) else {
            if state.cache.clear_count() >= CLEARS {
                // (a cache that gave up must be reset before its next walk)
                state.cache.reset(&built.dfa);
                state.context = None;
                state.skip.failed(SKIP, MAX_SKIP);
            }
            return None;
        };
        Some((yes << self.gates_of(d).start) | built.always)
    }

    /// `None`: the lazy DFA gave up, or the tail did not settle.
    fn walk(&self, built: &Built, run: &[u8], state: &mut GateState) -> Option<Mask> {
        let dfa = &built.dfa;
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
        let (met, next_met, met_clears) =
            (&mut state.met, &mut state.next_met, &mut state.met_clears);
        // The gates of a match state, from the last ones met (a long run cycles
        // through a few: `0000-` repeated), else from the DFA. (A state met before
        // the cache was cleared, even within this walk, is no longer that state.)
        let mut gates_at = |cache: &Cache, id: LazyStateID| {
            if *met_clears != cache.clear_count() {
                *met = Default::default();
                *met_clears = cache.clear_count();
            }
            if let Some(&(_, mask)) = met.iter().find(|m| m.0 == id) {
                return mask;
            }
            let mask = matches_of(dfa, cache, id);
            met[*next_met % met.len()] = (id, mask);
            *next_met += 1;
            mask
        };
        // (in the group's own bits)
        let done = (built.all & !built.always) >> (built.all.trailing_zeros());
        let mut yes: Mask = 0;
        let mut i = 0;
        while i < run.len() {
            let symbol = shape_byte(run[i]);
            let (next, stays) = step(dfa, cache, at, symbol)?;
            i += 1;
            if stays {
                // (its matches are known) more digits leave it there too
                if symbol == b'0' {
                    i = skip_digits(run, i, run.len());
                }
                continue;
            }
            if next.is_match() {
                yes |= gates_at(cache, next);
                if yes & done == done {
                    return Some(yes);
                }
            }
            at = next;
        }
        // The context after the run (matches show one byte late): until the
        // state stops changing.
        for n in 0..=TAIL_LIMIT {
            let (next, stays) = step(dfa, cache, at, OTHER)?;
            if next.is_match() {
                yes |= gates_at(cache, next);
            }
            if stays {
                break;
            }
            if n == TAIL_LIMIT {
                // (not settled yet: too long to follow on every run)
                return None;
            }
            at = next;
        }
        let eoi = dfa.next_eoi_state(cache, at).ok()?;
        if eoi.is_match() {
            yes |= gates_at(cache, eoi);
        }
        Some(yes)
    }
}

/// The gates a match state of `dfa` stands for.
fn matches_of(dfa: &DFA, cache: &Cache, state: LazyStateID) -> Mask {
    (0..dfa.match_len(cache, state))
        .map(|k| 1 << dfa.match_pattern(cache, state, k).as_usize())
        .fold(0, |a, b| a | b)
}

/// The state of `dfa` after `reach` context symbols (or fewer, once it stops
/// changing), and the gates that matched on the way.
fn context_state(dfa: &DFA, cache: &mut Cache, reach: usize) -> Option<(LazyStateID, Mask)> {
    let mut at = dfa.start_state_forward(cache, &Input::new(&[][..])).ok()?;
    let mut alone = 0;
    for _ in 0..reach {
        let (next, stays) = step(dfa, cache, at, OTHER)?;
        if next.is_match() {
            alone |= matches_of(dfa, cache, next);
        }
        if stays {
            break;
        }
        at = next;
    }
    Some((at, alone))
}

/// The state after `at` on `symbol`, and whether it is `at` itself. (A step that
/// clears the cache gives the state a new ID, which may be the old ID of another:
/// it is never taken for the same state.)
#[inline]
fn step(dfa: &DFA, cache: &mut Cache, at: LazyStateID, symbol: u8) -> Option<(LazyStateID, bool)> {
    let clears = cache.clear_count();
    let next = dfa.next_state(cache, at, symbol).ok()?;
    Some((next, next == at && cache.clear_count() == clears))
}

/// One thread's cache of the gates' lazy DFA.
pub(super) struct GateState {
    cache: Cache,
    /// `context_state` and the cache's clear count when it was computed.
    context: Option<(LazyStateID, usize)>,
    /// The last match states met in walks, and their gates (0: none yet; the
    /// lazy DFA's state 0 is never a match), and where the next one goes.
    met: [(LazyStateID, Mask); 8],
    next_met: usize,
    /// The cache's clear count when `met` was filled.
    met_clears: usize,
    /// Walks to sit out after the DFA gave up.
    skip: Backoff,
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
    /// The current run's shape, and its answers so far.
    shape: Vec<u8>,
    current: (Mask, Mask),
    /// Whether the current run is remembered (not too long, no bypass), and
    /// whether it learnt something.
    remember: bool,
    changed: bool,
    /// Per DFA of the gates: this thread's lazy DFA cache.
    states: Vec<Option<GateState>>,
    /// Runs looked up and shapes not found in the current window of `PROBE`.
    lookups: u32,
    misses: u32,
    /// Runs to walk without the memo after a window of mostly new shapes.
    bypass: Backoff,
}

impl ShapeMemo {
    /// Starts a run of digits and separators.
    pub(super) fn start(&mut self, run: &[u8]) {
        self.changed = false;
        self.current = (0, 0);
        let bypassed = self.bypass.sits_out();
        self.remember = run.len() <= MAX_SHAPE && !bypassed;
        if !self.remember {
            return;
        }
        self.shape.clear();
        self.shape.extend(run.iter().map(|&b| shape_byte(b)));
        let found = self.answers.get(&self.shape[..]).copied();
        self.lookups += 1;
        self.misses += u32::from(found.is_none());
        if self.lookups == PROBE {
            if self.misses > MAX_MISSES {
                self.bypass.failed(BYPASS, MAX_BYPASS);
            } else {
                self.bypass.succeeded();
            }
            self.lookups = 0;
            self.misses = 0;
        }
        if let Some(found) = found {
            self.current = found;
        }
    }

    /// Whether gate `i` of `gates` may match with its digits in the current run,
    /// `run` (its bytes).
    #[inline]
    pub(super) fn may_match(&mut self, gates: &ShapeGates, i: u32, run: &[u8]) -> bool {
        let (known, yes) = self.current;
        let b: Mask = 1 << i;
        if known & b == 0 {
            return self.learn(gates, i, run);
        }
        yes & b != 0
    }

    /// Asks the DFA of gate `i` about the current run (its own for a shape
    /// remembered, else all gates'), and notes the answer.
    #[inline(never)]
    fn learn(&mut self, gates: &ShapeGates, i: u32, run: &[u8]) -> bool {
        let d = gates.dfa_of(i, !self.remember);
        let bits = gates.gates_of(d).fold(0 as Mask, |a, g| a | 1 << g);
        if self.states.len() <= gates.patterns.len() {
            self.states.resize_with(gates.patterns.len() + 1, || None);
        }
        let yes = gates.answer(d, run, &mut self.states[d]).unwrap_or(bits);
        self.current.0 |= bits;
        self.current.1 |= yes & bits;
        self.changed = true;
        yes >> i & 1 != 0
    }

    /// Ends the current run: remembers what was learnt about its shape.
    pub(super) fn end(&mut self) {
        if self.remember && self.changed {
            if self.answers.len() >= MEMO_ENTRIES {
                self.answers.clear();
            }
            self.answers
                .insert(self.shape.clone().into_boxed_slice(), self.current);
        }
        self.changed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(res: &[&str]) -> ShapeGates {
        let mut gates = ShapeGates::default();
        for re in res {
            gates.add(re, false, 64).unwrap();
        }
        gates
    }

    fn gate(re: &str) -> ShapeGates {
        gates(&[re])
    }

    /// Every gate's answer for a run, as the anchors ask (`MAX` bits when the
    /// gates cannot say).
    fn answer(g: &ShapeGates, run: &[u8]) -> Mask {
        let mut memo = ShapeMemo::default();
        memo.start(run);
        let yes = (0..g.patterns.len() as u32)
            .filter(|&i| memo.may_match(g, i, run))
            .fold(0, |a, i| a | 1 << i);
        memo.end();
        yes
    }

    fn may(g: &ShapeGates, shape: &[u8]) -> bool {
        answer(g, shape) & 1 != 0
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
        assert_eq!(version.built(0).map(|b| b.always), Some(0));
        assert_eq!(version.built(1).map(|b| b.always), Some(0));
        // a run of digits (and separators) however long
        let long = "7".repeat(100_000);
        assert!(!may(&ssn, long.as_bytes()));
        assert!(may(&ssn, format!("{long}-123-45-6789").as_bytes()));
    }

    #[test]
    fn a_projection_that_matches_without_digits_does_not_gate() {
        let hex = gates(&[r"[0-9a-f]{8}", r"[0-9]{3}-[0-9]{2}"]);
        assert_eq!(hex.built(0).map(|b| b.always), Some(0b01));
        assert_eq!(hex.built(2).map(|b| b.always), Some(0b01));
        assert_eq!(answer(&hex, b"0-0"), 0b01);
        assert_eq!(answer(&hex, b"000-00"), 0b11);
    }

    /// Projections of real digit rules' shapes, for the gates answered together.
    const RULES: &[&str] = &[
        r"(?:^|[^0-9A-Za-z_.\-])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4})\b",
        r"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b",
        r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}\b",
        r"(?:\+?1[ .-]?)?\(?[2-9][0-9]{2}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}\b",
        r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}",
        r"\b[0-9]{9}\b",
        r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b",
    ];

    proptest::proptest! {
        /// Each gate's DFA, and one walk of all gates' together, answer for each
        /// gate as its projection would: whether it matches in `w…w SHAPE w…w`
        /// (checked with the regex crate), for runs with long stretches of digits
        /// (skipped in one step) too.
        #[test]
        fn gates_answer_together_as_each_projection_alone(
            parts in proptest::collection::vec(
                (1usize..40, proptest::sample::select(vec!["", "-", " ", ".", "/", "(", ")", "+", "--", " -"])),
                1..6,
            ),
        ) {
            let shape: String = parts
                .iter()
                .enumerate()
                .map(|(i, (n, sep))| {
                    let sep = if i + 1 < parts.len() && sep.is_empty() { "-" } else { sep };
                    let sep = if i + 1 == parts.len() { "" } else { sep };
                    "0".repeat(*n) + sep
                })
                .collect();
            let all = gates(RULES);
            let always = all.built(RULES.len()).expect("gates build").always;
            let one_by_one = answer(&all, shape.as_bytes());
            let together = all.answer(RULES.len(), shape.as_bytes(), &mut None).expect("an answer");
            proptest::prop_assert_eq!(one_by_one, together);
            // (the same with caches cleared over and over during the walks)
            let mut tiny = gates(RULES);
            tiny.tiny_caches = Some(false);
            let mut state = None;
            for _ in 0..3 {
                let again = tiny.answer(RULES.len(), shape.as_bytes(), &mut state);
                proptest::prop_assert_eq!(again, Some(together));
            }
            let context = "w".repeat(64);
            let text = format!("{context}{shape}{context}");
            for (i, re) in RULES.iter().enumerate() {
                let hir = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(re).unwrap();
                let projected = regex_automata::meta::Regex::builder()
                    .build_from_hir(&project(&hir).hir)
                    .unwrap();
                let alone = always >> i & 1 == 1 || projected.is_match(text.as_bytes());
                proptest::prop_assert_eq!(together >> i & 1 == 1, alone, "rule {} on {}", i, shape);
            }
        }
    }

    #[test]
    fn caches_cleared_during_a_walk_change_no_answer() {
        // Long runs of random groups: the smallest caches are cleared many times
        // within one walk (the match states remembered along it are forgotten).
        for seed in 0..20 {
            let run = crate::engine::tests::random_digit_groups(
                seed,
                3000,
                &["-", " ", ".", "/", "(", ") "],
            );
            let all = gates(RULES);
            let want = all.answer(RULES.len(), run.as_bytes(), &mut None);
            let mut tiny = gates(RULES);
            tiny.tiny_caches = Some(false);
            let mut state = None;
            assert_eq!(tiny.answer(RULES.len(), run.as_bytes(), &mut state), want);
            assert!(state.is_some_and(|s| s.cache.clear_count() > 1));
        }
    }

    #[test]
    fn gates_whose_dfa_gives_up_let_runs_through_for_a_while() {
        let run = "12-3 456.7 (89) 1-23 4".repeat(200);
        let mut tiny = gates(RULES);
        tiny.tiny_caches = Some(true);
        let d = RULES.len();
        let mut state = None;
        assert_eq!(tiny.answer(d, run.as_bytes(), &mut state), None);
        assert_eq!(state.as_ref().map(|s| s.skip.left()), Some(SKIP));
        // (the memo takes "not known" as every gate)
        for _ in 0..SKIP {
            assert_eq!(tiny.answer(d, b"123-45-6789", &mut state), None);
        }
        // then walked again, its cache reset: a short run is answered
        let want = gates(RULES).answer(d, b"123-45-6789", &mut None);
        assert!(want.is_some());
        assert_eq!(tiny.answer(d, b"123-45-6789", &mut state), want);
    }

    #[test]
    fn the_memo_answers_by_shape_and_asks_each_gate_once() {
        let gates = gates(&[r"[0-9]{3}-[0-9]{2}-[0-9]{4}", r"[0-9]{4}-[0-9]{2}-[0-9]{2}"]);
        let mut memo = ShapeMemo::default();
        let mut ask = |run: &[u8], i: u32| {
            memo.start(run);
            let yes = memo.may_match(&gates, i, run);
            memo.end();
            yes
        };
        assert!(ask(b"123-45-6789", 0));
        assert!(!ask(b"2024-03-15", 0));
        assert!(ask(b"1999-12-31", 1));
        assert!(!ask(b"12/31", 1));
        let long = "1-".repeat(MAX_SHAPE);
        assert!(!ask(long.as_bytes(), 0));
        // (the long run is not remembered)
        assert_eq!(memo.answers.len(), 3);
        assert_eq!(memo.answers[&b"0000-00-00"[..]], (0b11, 0b10));
        assert_eq!(memo.answers[&b"000-00-0000"[..]], (0b01, 0b01));
    }

    #[test]
    fn a_text_of_ever_new_shapes_is_walked_without_the_memo_for_a_while() {
        let gates = gate(r"[0-9]{3}-[0-9]{2}-[0-9]{4}");
        let mut memo = ShapeMemo::default();
        let ask = |memo: &mut ShapeMemo, run: &str| {
            memo.start(run.as_bytes());
            let yes = memo.may_match(&gates, 0, run.as_bytes());
            memo.end();
            yes
        };
        // a few shapes over and over: remembered
        for i in 0..2 * PROBE {
            let yes = ask(&mut memo, ["2024-03-15", "123-45-6789"][i as usize % 2]);
            assert_eq!(yes, i % 2 == 1);
        }
        assert_eq!(memo.answers.len(), 2);
        // a new shape every run: after a window of them, runs are walked unremembered
        for i in 0..PROBE {
            let i = i as usize;
            let run = "1-".repeat(i % 8 + 1) + &"3.".repeat(i / 8 % 8) + &"2".repeat(i / 64 + 1);
            ask(&mut memo, &run);
        }
        assert_eq!(memo.bypass.left(), BYPASS);
        let remembered = memo.answers.len();
        // ... for `BYPASS` runs, still answered right
        for i in 0..BYPASS / 2 {
            assert_eq!(
                ask(&mut memo, ["2024-03-15", "123-45-6789"][i as usize % 2]),
                i % 2 == 1
            );
            assert!(!ask(&mut memo, "12-34-5678"));
        }
        assert_eq!(memo.answers.len(), remembered);
        assert_eq!(memo.bypass.left(), 0);
        // a second failed window walks twice as many so
        memo.lookups = 0;
        memo.misses = 0;
        memo.answers.clear();
        for i in 0..PROBE {
            ask(&mut memo, &"1-".repeat(i as usize % 24 + 1));
            memo.answers.clear();
        }
        assert_eq!(memo.bypass.left(), 2 * BYPASS);
    }
}
