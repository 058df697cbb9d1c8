//! Byte anchors for rules without keywords: `@`, runs of digits, hex separators.
//! Each finder is a single linear pass; only the passes some rule needs are run.

use std::ops::Range;

use regex_syntax::hir::{Class, Hir, HirKind};

use super::digit_set::{DigitSet, Member, SetState};
#[cfg(test)]
use super::run_shape::shape_byte;
use super::run_shape::{ShapeGates, ShapeMemo, MAX_SHAPE};
use crate::rules::Anchor;

#[derive(Debug, Default)]
pub(super) struct AnchorRules {
    at: Vec<u32>,
    digits: Vec<DigitRule>,
    /// (rule, fewest separators in the hex run (0 for plain `hex_separator`),
    /// fewer than which the run must hold `::` (0: none))
    hex_sep: Vec<(u32, u32, u32)>,
    /// The shape gates of digit rules (`DigitRule::gate` is a rule's bit).
    gates: ShapeGates,
    /// The gated digit rules' regexes together, for runs too long for the shape
    /// memo.
    set: DigitSet,
}

/// One thread's state of the anchors: the shape gates' answers and the set's.
#[derive(Default)]
pub(super) struct AnchorScratch {
    shapes: ShapeMemo,
    set: SetState,
    /// Where the digit runs of the last block ended ([`for_each_digit_run`]).
    carried: Option<(usize, usize)>,
}

impl AnchorScratch {
    /// Forgets the last block: the next one is of another haystack, or not next
    /// to it.
    pub(super) fn new_range(&mut self) {
        self.carried = None;
    }
}

/// The regex of an anchored rule, as the anchors see it.
#[derive(Debug, Clone, Copy)]
pub(super) struct AnchoredRegex<'a> {
    /// The pattern, macros expanded, and whether it has Unicode classes.
    pub(super) pattern: &'a str,
    pub(super) unicode: bool,
    /// Fewest ASCII digits in a row in a match (see [`fewest_digits_in_a_row`];
    /// 0 when unknown).
    pub(super) in_a_row: u32,
    /// Longest match.
    pub(super) longest: usize,
    /// How far a candidate's window reaches before and after its span.
    pub(super) before: usize,
    pub(super) max_len: usize,
    /// The rule tests bytes at the start of a candidate (`followed_by`,
    /// `word_len`): it keeps the run's own span, out of the set.
    pub(super) start_checked: bool,
}

/// What a digit-anchored rule asks of a run.
#[derive(Debug)]
struct DigitRule {
    rule: u32,
    min: u32,
    /// Uppercase letters required right before the run.
    letters_before: u32,
    letter_after: bool,
    min_dots: u32,
    min_word: u32,
    /// 0: no limit.
    max_word: u32,
    /// Fewest digits in a row in any match of the rule's regex: a run whose longest
    /// group of digits is shorter cannot hold a match (`0-12-7-99` for a rule that
    /// needs four digits in a row somewhere).
    in_a_row: u32,
    /// Bit of the rule's shape gate in a [`ShapeMemo`] mask: whether its regex can
    /// match with its digits in a run of that shape.
    gate: Option<u32>,
    /// Its place in the set (gated rules only).
    member: Option<Member>,
}

/// Separators allowed between the digits of one run.
pub(super) fn is_digit_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+')
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

impl AnchorRules {
    /// Adds a rule. A digit rule with digits in a row holds all the digits of a
    /// match in one run, so its regex also gates runs by their shape, and joins
    /// the set.
    pub(super) fn add(&mut self, rule: u32, anchor: Anchor, regex: AnchoredRegex<'_>) {
        let in_a_row = regex.in_a_row;
        match anchor {
            Anchor::At => self.at.push(rule),
            Anchor::Digits {
                min,
                letters_before,
                letter_after,
                min_dots,
                min_word,
                max_word,
            } => {
                let gate = (in_a_row > 0)
                    .then(|| self.gates.add(regex.pattern, regex.unicode, regex.longest))
                    .flatten();
                let member = gate
                    .filter(|_| !regex.start_checked)
                    .and_then(|_| self.set.add(rule, &regex, letters_before as usize));
                let d = DigitRule {
                    rule,
                    min: min.max(1),
                    letters_before,
                    letter_after,
                    min_dots,
                    min_word,
                    max_word,
                    in_a_row,
                    gate,
                    member,
                };
                // Kept sorted by `min`, so that a run stops at the first rule it is
                // too short for (most runs are a few digits; 60 rules ask for more).
                let at = self.digits.partition_point(|e| e.min <= d.min);
                self.digits.insert(at, d);
            }
            Anchor::HexSeparator => self.hex_sep.push((rule, 0, 0)),
            Anchor::HexRun {
                min_separators,
                double_colon_below,
            } => self
                .hex_sep
                .push((rule, min_separators, double_colon_below)),
        }
    }

    /// Drops the digits-in-a-row gate of every rule (tests compare findings with
    /// and without it); returns how many rules had one.
    #[cfg(test)]
    pub(super) fn forget_digits_in_a_row(&mut self) -> usize {
        let gated = self.digits.iter().filter(|d| d.in_a_row > 0).count();
        for d in &mut self.digits {
            d.in_a_row = 0;
            d.gate = None;
            d.member = None;
        }
        gated
    }

    /// Calls `f(rule, span)` for every anchor that starts in `block`; `state`
    /// holds the shape gates' and the set's answers (one per thread).
    pub(super) fn find(
        &self,
        hay: &[u8],
        block: Range<usize>,
        state: &mut AnchorScratch,
        mut f: impl FnMut(u32, Range<usize>),
    ) {
        let AnchorScratch {
            shapes: memo,
            set,
            carried,
        } = state;
        if !self.at.is_empty() {
            for i in memchr::memchr_iter(b'@', &hay[block.clone()]) {
                let p = block.start + i;
                for &r in &self.at {
                    f(r, p..p + 1);
                }
            }
        }
        if !self.hex_sep.is_empty() {
            let most = self.hex_sep.iter().map(|h| h.1.max(h.2)).max().unwrap_or(0);
            let mut seps_near = SeparatorWindow::new(8 * most as usize);
            for i in memchr::memchr2_iter(b':', b'-', &hay[block.clone()]) {
                let p = block.start + i;
                let left = p > 0 && is_hex(hay[p - 1]);
                let right = hay.get(p + 1).is_some_and(|&b| is_hex(b) || b == b':');
                // "::1" style: a colon followed by a colon and a hex digit.
                if left && right
                    || (hay[p] == b':' && right && hay.get(p + 2).is_some_and(|&b| is_hex(b)))
                {
                    let seps = if most > 1 {
                        seps_near.count(hay, p).min(most)
                    } else {
                        most
                    };
                    for &(r, min, double_below) in &self.hex_sep {
                        if seps >= min && (seps >= double_below || seps_near.double_colon(hay)) {
                            f(r, p..p + 1);
                        }
                    }
                }
            }
        }
        if !self.digits.is_empty() {
            let min_all = self.digits[0].min;
            // (a word one byte longer than the longest allowed is measured as
            // too long)
            let longest_word = self
                .digits
                .iter()
                .map(|d| d.min_word.max(d.max_word + u32::from(d.max_word > 0)))
                .max()
                .unwrap_or(0);
            // The last word measured: runs inside one long word (hex, base64) share it.
            let mut last_word = WordAround::default();
            for_each_digit_run(hay, block, carried, |run, count, in_a_row| {
                if count < min_all {
                    return;
                }
                // Measured once per run, when a rule asks: dots, and the word up to
                // the longest a rule asks for.
                let mut dots = None;
                let mut word = None;
                // Whether the run's shape is asked yet.
                let mut gating = false;
                for d in &self.digits {
                    if count < d.min {
                        break;
                    }
                    if in_a_row < d.in_a_row {
                        continue;
                    }
                    if d.min_dots > 0
                        && *dots.get_or_insert_with(|| {
                            memchr::memchr_iter(b'.', &hay[run.clone()]).count() as u32
                        }) < d.min_dots
                    {
                        continue;
                    }
                    if d.letter_after && !hay.get(run.end).is_some_and(u8::is_ascii_alphabetic) {
                        continue;
                    }
                    if d.min_word > 0 || d.max_word > 0 {
                        let len = *word.get_or_insert_with(|| {
                            last_word.len(hay, run.end - 1, longest_word as usize)
                        });
                        if len < d.min_word as usize || d.max_word > 0 && len > d.max_word as usize
                        {
                            continue;
                        }
                    }
                    let (r, letters) = (d.rule, d.letters_before as usize);
                    if letters > 0
                        && (run.start < letters
                            || !hay[run.start - letters..run.start]
                                .iter()
                                .all(u8::is_ascii_uppercase))
                    {
                        continue;
                    }
                    if let Some(gate) = d.gate {
                        if !gating {
                            memo.start(&hay[run.clone()]);
                            gating = true;
                        }
                        if !memo.may_match(&self.gates, gate, &hay[run.clone()]) {
                            continue;
                        }
                        // (a long run: the rules that pass wait for the set, asked
                        // once for all of them)
                        if let Some(m) = d.member.filter(|_| run.len() > MAX_SHAPE) {
                            set.deferred.push((run.start.saturating_sub(letters), m));
                            continue;
                        }
                    }
                    f(r, run.start.saturating_sub(letters)..run.end);
                }
                if gating {
                    memo.end();
                }
                if !set.deferred.is_empty() {
                    self.ask_set(hay, run, set, &mut f);
                }
            });
        }
    }
}

impl AnchorRules {
    /// The rules deferred to the set for `run`: asks the set where they match
    /// around it, and calls `f` for each match with a span that ends there and
    /// reaches back the rule's longest match (a rule matching somewhere in a
    /// megabyte run gets windows around its matches, not the run). With one rule
    /// waiting (its own regex is as cheap), or when the set cannot answer, each
    /// gets the run.
    #[inline(never)]
    fn ask_set(
        &self,
        hay: &[u8],
        run: Range<usize>,
        set: &mut SetState,
        f: &mut impl FnMut(u32, Range<usize>),
    ) {
        let deferred = std::mem::take(&mut set.deferred);
        let (back, ahead) = deferred
            .iter()
            .fold((0, 0), |(b, a), (_, m)| (b.max(m.back), a.max(m.ahead)));
        let window =
            run.start.saturating_sub(back as usize)..(run.end + ahead as usize).min(hay.len());
        let answered = deferred.len() > 1
            && self.set.matches(hay, window.clone(), set, |pattern, end| {
                for &(_, m) in deferred
                    .iter()
                    .filter(|(_, m)| m.pattern as usize == pattern)
                {
                    let start = end.saturating_sub(m.longest as usize).max(window.start);
                    f(m.rule, start..end);
                }
            });
        if !answered {
            for &(span_start, m) in &deferred {
                f(m.rule, span_start..run.end);
            }
        }
        set.deferred = deferred;
        set.deferred.clear();
    }
}

/// What a piece of a regex says about digits in a row, over all its matches
/// (lower bounds).
#[derive(Debug, Clone, Copy)]
struct DigitRuns {
    /// Every match is ASCII digits only, at least this many (`None`: some match
    /// holds another byte).
    all: Option<u32>,
    /// Fewest digits every match starts with, ends with, and holds in a row.
    leading: u32,
    trailing: u32,
    in_a_row: u32,
}

impl DigitRuns {
    const fn digits(n: u32) -> Self {
        DigitRuns {
            all: Some(n),
            leading: n,
            trailing: n,
            in_a_row: n,
        }
    }

    /// Nothing known: may hold other bytes anywhere.
    const MIXED: DigitRuns = DigitRuns {
        all: None,
        leading: 0,
        trailing: 0,
        in_a_row: 0,
    };

    /// This piece followed by `next`.
    fn then(self, next: DigitRuns) -> DigitRuns {
        DigitRuns {
            all: self.all.zip(next.all).map(|(a, b)| a.saturating_add(b)),
            leading: match self.all {
                Some(n) => n.saturating_add(next.leading),
                None => self.leading,
            },
            trailing: match next.all {
                Some(n) => self.trailing.saturating_add(n),
                None => next.trailing,
            },
            in_a_row: self
                .in_a_row
                .max(next.in_a_row)
                .max(self.trailing.saturating_add(next.leading)),
        }
    }

    /// Either this piece or `other`.
    fn or(self, other: DigitRuns) -> DigitRuns {
        DigitRuns {
            all: match (self.all, other.all) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
            leading: self.leading.min(other.leading),
            trailing: self.trailing.min(other.trailing),
            in_a_row: self.in_a_row.min(other.in_a_row),
        }
    }

    /// This piece at least `min` times.
    fn repeat(self, min: u32) -> DigitRuns {
        match (min, self.all) {
            (_, Some(n)) => DigitRuns::digits(n.saturating_mul(min)),
            // Possibly empty and possibly other bytes: nothing is known.
            (0, None) => DigitRuns::MIXED,
            (1, None) => self,
            // Two copies or more: one's trailing digits meet the next's leading.
            (_, None) => DigitRuns {
                in_a_row: self
                    .in_a_row
                    .max(self.trailing.saturating_add(self.leading)),
                ..self
            },
        }
    }
}

/// Whether a piece of a regex can put something between two of its digits that
/// ends a digit run (see [`for_each_digit_run`]): a byte that is neither a digit
/// nor a run separator, or more than two separators in a row.
#[derive(Debug, Clone, Copy)]
struct Breaks {
    /// Some match may hold a digit.
    digit: bool,
    /// Some match may hold a byte or separators that end a run.
    other: bool,
    /// Some match may hold a digit and, after it, such a byte.
    digit_then_other: bool,
    /// Some match may hold them between two digits.
    inside: bool,
    /// Most separators a match can start with, and end with.
    lead: u32,
    trail: u32,
    /// Every match is separators only, at most this many.
    seps: Option<u32>,
}

impl Breaks {
    /// The empty string.
    const EMPTY: Breaks = Breaks {
        digit: false,
        other: false,
        digit_then_other: false,
        inside: false,
        lead: 0,
        trail: 0,
        seps: Some(0),
    };

    /// One byte out of `bytes`.
    fn of_bytes(bytes: impl IntoIterator<Item = u8>) -> Self {
        let (mut digit, mut other, mut sep, mut only_seps) = (false, false, false, true);
        for b in bytes {
            let is_sep = is_digit_sep(b);
            digit |= b.is_ascii_digit();
            other |= !b.is_ascii_digit() && !is_sep;
            sep |= is_sep;
            only_seps &= is_sep;
        }
        Breaks {
            digit,
            other,
            digit_then_other: false,
            inside: false,
            lead: u32::from(sep),
            trail: u32::from(sep),
            seps: only_seps.then_some(1),
        }
    }

    /// This piece followed by `next`, conservatively: a piece that may end a run
    /// counts as lying between digits when digits may come on both sides, or when
    /// it may hold digits itself and another piece has some. Separators that may
    /// meet across pieces (`[0-9]{3} -` then ` [0-9]{4}`) end a run when they can
    /// be more than two.
    fn then(self, mut next: Breaks) -> Breaks {
        if self.trail.saturating_add(next.lead) > 2 {
            next.other = true;
        }
        Breaks {
            digit: self.digit || next.digit,
            other: self.other || next.other,
            digit_then_other: self.digit_then_other
                || next.digit_then_other
                || (next.digit || self.digit) && next.other,
            inside: self.inside
                || next.inside
                || next.digit && (self.digit_then_other || self.digit && next.other),
            lead: match self.seps {
                Some(n) => n.saturating_add(next.lead),
                None => self.lead,
            },
            trail: match next.seps {
                Some(n) => self.trail.saturating_add(n),
                None => next.trail,
            },
            seps: self.seps.zip(next.seps).map(|(a, b)| a.saturating_add(b)),
        }
    }

    /// Either this piece or `other`.
    fn or(self, other: Breaks) -> Breaks {
        Breaks {
            digit: self.digit || other.digit,
            other: self.other || other.other,
            digit_then_other: self.digit_then_other || other.digit_then_other,
            inside: self.inside || other.inside,
            lead: self.lead.max(other.lead),
            trail: self.trail.max(other.trail),
            seps: self.seps.zip(other.seps).map(|(x, y)| x.max(y)),
        }
    }

    /// This piece at most `max` times (`None`: unbounded).
    fn repeat(self, max: Option<u32>) -> Breaks {
        let copies = max.unwrap_or(u32::MAX);
        // Copies in a row: one's trailing separators meet the next one's leading.
        let two = Breaks::EMPTY.then(self).then(self);
        let many = copies > 1;
        let seps = self.seps.map(|n| n.saturating_mul(copies));
        let ends = match self.seps {
            Some(_) => (seps.unwrap_or(u32::MAX), seps.unwrap_or(u32::MAX)),
            None => (self.lead, self.trail),
        };
        Breaks {
            other: self.other || many && two.other || seps.is_some_and(|n| n > 2),
            // one's digits, the next one's other bytes
            inside: self.inside || many && (two.inside || self.digit && self.other),
            lead: ends.0,
            trail: ends.1,
            seps,
            ..self
        }
    }
}

/// Both analyses of a piece of a regex.
#[derive(Debug, Clone, Copy)]
struct Shape {
    runs: DigitRuns,
    breaks: Breaks,
}

impl Shape {
    const EMPTY: Shape = Shape {
        runs: DigitRuns::digits(0),
        breaks: Breaks::EMPTY,
    };

    /// One byte out of the ASCII `bytes`, or out of other bytes too (`non_ascii`,
    /// which end a run).
    fn of_bytes(bytes: impl IntoIterator<Item = u8>, non_ascii: bool) -> Self {
        let bytes: Vec<u8> = bytes.into_iter().collect();
        let digits_only = !non_ascii && !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
        let mut breaks = Breaks::of_bytes(bytes);
        if non_ascii {
            breaks.other = true;
            breaks.seps = None;
        }
        Shape {
            runs: if digits_only {
                DigitRuns::digits(1)
            } else {
                DigitRuns::MIXED
            },
            breaks,
        }
    }

    fn then(self, next: Shape) -> Shape {
        Shape {
            runs: self.runs.then(next.runs),
            breaks: self.breaks.then(next.breaks),
        }
    }

    fn or(self, other: Shape) -> Shape {
        Shape {
            runs: self.runs.or(other.runs),
            breaks: self.breaks.or(other.breaks),
        }
    }
}

/// The ASCII members of a class, and whether it has other members too (bytes
/// above 0x7F, or other characters).
pub(super) fn ascii_members(class: &Class) -> (Vec<u8>, bool) {
    match class {
        Class::Bytes(c) => (
            c.iter()
                .flat_map(|r| r.start()..=r.end().min(0x7F))
                .collect(),
            c.ranges().last().is_some_and(|r| r.end() > 0x7F),
        ),
        Class::Unicode(c) => (
            c.iter()
                .filter(|r| u32::from(r.start()) < 0x80)
                .flat_map(|r| r.start() as u8..=(u32::from(r.end()).min(0x7F) as u8))
                .collect(),
            c.ranges().last().is_some_and(|r| u32::from(r.end()) > 0x7F),
        ),
    }
}

fn shape(hir: &Hir) -> Shape {
    match hir.kind() {
        // Zero-width: the digits on both sides are next to each other.
        HirKind::Empty | HirKind::Look(_) => Shape::EMPTY,
        HirKind::Literal(lit) => lit.0.iter().fold(Shape::EMPTY, |acc, &b| {
            acc.then(Shape::of_bytes([b], false))
        }),
        // Classes are judged by their ASCII part: any non-ASCII member ends a run.
        HirKind::Class(c) => {
            let (bytes, non_ascii) = ascii_members(c);
            Shape::of_bytes(bytes, non_ascii)
        }
        HirKind::Capture(cap) => shape(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = shape(&rep.sub);
            Shape {
                runs: sub.runs.repeat(rep.min),
                breaks: sub.breaks.repeat(rep.max),
            }
        }
        HirKind::Concat(parts) => parts.iter().fold(Shape::EMPTY, |acc, p| acc.then(shape(p))),
        HirKind::Alternation(alts) => alts.iter().map(shape).reduce(Shape::or).unwrap_or(Shape {
            runs: DigitRuns::MIXED,
            breaks: Breaks::EMPTY,
        }),
    }
}

/// The fewest ASCII digits in a row that every match of `hir` holds, when all the
/// digits of every match lie in one digit run (else 0). A lower bound: a class
/// with any other byte, an optional or alternative piece count as breaking the
/// row. A digit run with fewer digits in a row than this cannot hold a match.
pub(crate) fn fewest_digits_in_a_row(hir: &Hir) -> u32 {
    let shape = shape(hir);
    if shape.breaks.inside {
        return 0;
    }
    shape.runs.in_a_row
}

/// The run of bytes matching `part` around `hay[at]`, looking at no more than
/// `reach` bytes on each side.
fn run_around(hay: &[u8], at: usize, reach: usize, part: impl Fn(u8) -> bool) -> Range<usize> {
    let end = at
        + hay[at..(at + reach).min(hay.len())]
            .iter()
            .take_while(|&&b| part(b))
            .count();
    let start = at
        - hay[at.saturating_sub(reach)..at]
            .iter()
            .rev()
            .take_while(|&&b| part(b))
            .count();
    start..end
}

fn is_hex_run_byte(b: u8) -> bool {
    is_hex(b) || b == b':' || b == b'-'
}

fn is_separator(b: u8) -> bool {
    b == b':' || b == b'-'
}

/// The separators of the hex run around increasing positions, counted within
/// `reach` bytes on each side as the position slides along: every byte is read
/// a bounded number of times, however long the run (a run of megabytes, `12-34-…`,
/// is not walked again from each of its separators, nor from each block).
struct SeparatorWindow {
    reach: usize,
    /// Where the run of the last position starts, or `reach` bytes before that
    /// position when it starts further back (all that is counted of it).
    start: usize,
    /// The bytes counted, `lo..hi`, all of the run, and their separators.
    lo: usize,
    hi: usize,
    count: u32,
    /// `hi` is the run's end.
    ended: bool,
}

impl SeparatorWindow {
    fn new(reach: usize) -> Self {
        SeparatorWindow {
            reach,
            start: 0,
            lo: 0,
            hi: 0,
            count: 0,
            ended: true,
        }
    }

    /// Whether the bytes counted for the last position hold `::` (an IPv6
    /// address with few separators is compressed, and the `::` lies within the
    /// window of its own separators).
    fn double_colon(&self, hay: &[u8]) -> bool {
        memchr::memmem::find(&hay[self.lo..self.hi], b"::").is_some()
    }

    /// Counts `hay[self.hi]` (a byte of the run) in, and moves `hi` past it.
    #[inline]
    fn take(&mut self, hay: &[u8]) {
        self.count += u32::from(is_separator(hay[self.hi]));
        self.hi += 1;
    }

    /// The number of `:` and `-` in the run holding `hay[at]` (a separator), no
    /// more than `reach` bytes before or after `at` (`at` itself counted); `at`
    /// must not be less than in the previous call.
    fn count(&mut self, hay: &[u8], at: usize) -> u32 {
        // Does the run counted so far reach `at`? (each byte is read once here)
        if !self.ended && self.hi <= at {
            while self.hi <= at && is_hex_run_byte(hay[self.hi]) {
                self.take(hay);
            }
            self.ended = self.hi <= at;
        }
        if at < self.start || at >= self.hi {
            // A new run: its start, if no more than `reach` bytes back.
            let floor = at.saturating_sub(self.reach);
            let mut start = at;
            while start > floor && is_hex_run_byte(hay[start - 1]) {
                start -= 1;
            }
            self.start = start;
            self.lo = start;
            self.hi = start;
            self.count = 0;
            self.ended = false;
        }
        // As in `run_around`: up to `reach` bytes before `at` and `reach` bytes
        // from `at` on.
        let hi = (at + self.reach).min(hay.len());
        while !self.ended && self.hi < hi {
            if is_hex_run_byte(hay[self.hi]) {
                self.take(hay);
            } else {
                self.ended = true;
            }
        }
        let lo = at.saturating_sub(self.reach).max(self.start);
        while self.lo < lo {
            self.count -= u32::from(is_separator(hay[self.lo]));
            self.lo += 1;
        }
        self.count
    }
}

/// The number of `:` and `-` in the run of hex digits, `:` and `-` holding
/// `hay[at]`, or `limit` if there are at least that many: looks at no more than
/// `8 * limit` bytes on each side. (The reference for [`SeparatorWindow`].)
#[cfg(test)]
fn separators_around(hay: &[u8], at: usize, limit: u32) -> u32 {
    let run = run_around(hay, at, 8 * limit as usize, is_hex_run_byte);
    let seps = hay[run].iter().filter(|&&b| is_separator(b)).count();
    (seps as u32).min(limit)
}

/// Length of the word (run of ASCII letters, digits and `_`) holding `hay[at]`, or
/// `limit` if it is at least that long: looks at no more than `limit` bytes on each
/// side. (The scan uses [`WordAround`], which must agree.)
#[cfg(test)]
fn word_len(hay: &[u8], at: usize, limit: usize) -> usize {
    run_around(hay, at, limit, |b| b.is_ascii_alphanumeric() || b == b'_')
        .len()
        .min(limit)
}

/// [`word_len`] for increasing positions, remembering the bytes it looked at: a
/// position among them is in the same word, whose length is known. (Digit runs
/// inside a long hex or base64 string measured the same word again for each run,
/// up to `2 * limit` bytes each time.)
#[derive(Debug, Default)]
struct WordAround {
    /// The word bytes looked at last (a whole word, or `limit` bytes or more of
    /// one), and the answer.
    seen: Range<usize>,
    len: usize,
}

impl WordAround {
    fn len(&mut self, hay: &[u8], at: usize, limit: usize) -> usize {
        if !self.seen.contains(&at) {
            self.seen = run_around(hay, at, limit, |b| b.is_ascii_alphanumeric() || b == b'_');
            self.len = self.seen.len().min(limit);
        }
        self.len
    }
}

/// Finds maximal runs that start and end with an ASCII digit, where digits may be
/// separated by at most two separator bytes, and that *start* in `block` (a run may
/// extend past the block). Calls `f(run, digit_count, longest_group)`, where
/// `longest_group` is the most digits in a row in the run. `carried` is where the
/// previous call left off, `(block end, end of its last run)`: the next block in
/// order starts after that run without looking back; it is updated for the next
/// call. A block that does look back reads no further than its own end: a run of
/// megabytes is not read again by every block or chunk it crosses.
pub(super) fn for_each_digit_run(
    hay: &[u8],
    block: Range<usize>,
    carried: &mut Option<(usize, usize)>,
    mut f: impl FnMut(Range<usize>, u32, u32),
) {
    let mut i = block.start;
    // Whether a run from before the block reaches past its end (how far is not
    // known: the next block looks back too).
    let mut crosses = false;
    match *carried {
        Some((end, run_end)) if end == block.start => i = i.max(run_end),
        _ => {
            // A run that started before the block belongs to the previous block,
            // which reports all of it: skip to its end, or the block's. (The last
            // digit before the block, if at most two separators away, is in that
            // run.)
            let before = &hay[block.start.saturating_sub(3)..block.start];
            if let Some(k) = before.iter().rposition(u8::is_ascii_digit) {
                if before[k + 1..].iter().all(|&b| is_digit_sep(b)) {
                    let digit = block.start - before.len() + k;
                    let end = extend_digit_run(&hay[..block.end], digit).0;
                    i = i.max(end);
                    // (cut at the block's end, it may go on after a separator
                    // or two there)
                    crosses = end + 2 >= block.end;
                }
            }
        }
    }
    while i < block.end {
        if !hay[i].is_ascii_digit() {
            i = next_digit(hay, i + 1, block.end);
            continue;
        }
        let start = i;
        let (end, count, longest) = extend_digit_run(hay, i);
        f(start..end, count, longest);
        i = end.max(start + 1);
    }
    *carried = (!crosses).then_some((block.end, i));
}

/// The run from the digit at `hay[start]` on: its end (after its last digit), its
/// digits, and the most digits in a row.
fn extend_digit_run(hay: &[u8], start: usize) -> (usize, u32, u32) {
    let mut count = 0u32;
    let mut longest = 0u32;
    let mut j = start;
    loop {
        let group = j;
        j = skip_digits(hay, j, hay.len());
        let n = (j - group) as u32;
        count += n;
        longest = longest.max(n);
        // up to two separators, then a digit, continue the run
        let mut k = j;
        while k < hay.len() && k - j < 2 && is_digit_sep(hay[k]) {
            k += 1;
        }
        if k > j && k < hay.len() && hay[k].is_ascii_digit() {
            j = k;
            continue;
        }
        return (j, count, longest);
    }
}

/// Position of the first ASCII digit in `hay[from..end]`, or `end`. Skips sixteen
/// bytes at a time with SSE2 on x86-64 (eight with SWAR elsewhere): most text has
/// few digits.
fn next_digit(hay: &[u8], mut from: usize, end: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        from = sse2::skip_non_digits(hay, from, end);
    }
    while from + 8 <= end {
        // A byte b is a digit iff (b ^ 0x30) < 10.
        let y = crate::swar::load(hay, from) ^ 0x3030_3030_3030_3030;
        if crate::swar::below(y, 10) != 0 {
            break;
        }
        from += 8;
    }
    while from < end && !hay[from].is_ascii_digit() {
        from += 1;
    }
    from
}

/// Position of the first byte in `hay[from..end]` that is not an ASCII digit, or
/// `end`.
pub(super) fn skip_digits(hay: &[u8], mut from: usize, end: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        from = sse2::skip_digits(hay, from, end);
    }
    while from < end && hay[from].is_ascii_digit() {
        from += 1;
    }
    from
}

/// SSE2 is part of every x86-64 CPU: no run-time detection.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::*;

    /// The first position in `from..end` that is an ASCII digit or lies in the
    /// last 15 bytes before `end` (the caller finishes those).
    pub(super) fn skip_non_digits(hay: &[u8], from: usize, end: usize) -> usize {
        first_where(hay, from, end, true)
    }

    /// The first position in `from..end` that is not an ASCII digit or lies in
    /// the last 15 bytes before `end` (the caller finishes those).
    pub(super) fn skip_digits(hay: &[u8], from: usize, end: usize) -> usize {
        first_where(hay, from, end, false)
    }

    /// The first position in `from..end` whose byte is an ASCII digit (`digit`)
    /// or is not one, or that lies in the last 15 bytes before `end`.
    fn first_where(hay: &[u8], mut from: usize, end: usize, digit: bool) -> usize {
        let end = end.min(hay.len());
        let flip = if digit { 0 } else { 0xFFFF };
        // SAFETY: SSE2 is baseline on x86-64; every load reads hay[from..from + 16]
        // with from + 16 <= end <= hay.len().
        unsafe {
            let zero = _mm_set1_epi8(b'0' as i8);
            let nine = _mm_set1_epi8(9);
            while from + 16 <= end {
                let bytes = _mm_loadu_si128(hay.as_ptr().add(from).cast());
                // b - '0' (wrapping) is at most 9 exactly for digits.
                let d = _mm_sub_epi8(bytes, zero);
                let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
                let mask = _mm_movemask_epi8(is_digit) as u32 ^ flip;
                if mask != 0 {
                    return from + mask.trailing_zeros() as usize;
                }
                from += 16;
            }
        }
        from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digit anchor: min digits, letters before, letter after, min dots, min word.
    fn digits(
        min: u32,
        letters_before: u32,
        letter_after: bool,
        min_dots: u32,
        min_word: u32,
    ) -> Anchor {
        Anchor::Digits {
            min,
            letters_before,
            letter_after,
            min_dots,
            min_word,
            max_word: 0,
        }
    }

    /// (rule, span) of every anchor in `hay`, for rules `(index, anchor)`.
    fn hits_in(anchors: &[(u32, Anchor)], hay: &[u8]) -> Vec<(u32, Range<usize>)> {
        let mut rules = AnchorRules::default();
        for &(r, a) in anchors {
            let regex = AnchoredRegex {
                pattern: "",
                unicode: false,
                in_a_row: 0,
                longest: 0,
                before: 0,
                max_len: 0,
                start_checked: false,
            };
            rules.add(r, a, regex);
        }
        let mut hits = Vec::new();
        rules.find(
            hay,
            0..hay.len(),
            &mut AnchorScratch::default(),
            |r, span| hits.push((r, span)),
        );
        hits
    }

    #[test]
    fn next_digit_finds_the_first_digit_at_every_offset() {
        for len in 0..70 {
            for digit in 0..=len {
                // letters, punctuation and bytes just below '0' and above '9'
                let mut hay: Vec<u8> = (0..len).map(|i| b"a/:Z~\xff"[i % 6]).collect();
                if digit < len {
                    hay[digit] = b'0' + (digit % 10) as u8;
                }
                for from in [0, 1, 7, 16].into_iter().filter(|&f| f <= len) {
                    for end in [len, len.saturating_sub(3)]
                        .into_iter()
                        .filter(|&e| e >= from)
                    {
                        let want = (from..end)
                            .find(|&i| hay[i].is_ascii_digit())
                            .unwrap_or(end);
                        assert_eq!(
                            next_digit(&hay, from, end),
                            want,
                            "len {len} digit {digit} from {from} end {end}"
                        );
                    }
                }
            }
        }
    }

    /// (run, digits, most digits in a row) of every run.
    fn runs(s: &str) -> Vec<(String, u32, u32)> {
        let mut v = Vec::new();
        for_each_digit_run(s.as_bytes(), 0..s.len(), &mut None, |r, c, g| {
            v.push((s[r].to_string(), c, g))
        });
        v
    }

    #[test]
    fn digit_runs_with_separators() {
        assert_eq!(
            runs("call (555) 123-4567 or 4111 1111 1111 1111."),
            vec![
                ("555) 123-4567".into(), 10, 4),
                ("4111 1111 1111 1111".into(), 16, 4)
            ]
        );
        assert_eq!(
            runs("in 1999 and 2000"),
            vec![("1999".into(), 4, 4), ("2000".into(), 4, 4)]
        );
        assert_eq!(runs("1.2.3.4"), vec![("1.2.3.4".into(), 4, 1)]);
        assert_eq!(runs("a - - 1"), vec![("1".into(), 1, 1)]);
        assert_eq!(runs("12-345678-9"), vec![("12-345678-9".into(), 9, 6)]);
    }

    #[test]
    fn next_digit_matches_naive_scan() {
        let mut hay = Vec::new();
        for i in 0..2000u32 {
            hay.push(((i * 7919 + 13) % 256) as u8);
        }
        for start in 0..hay.len() {
            let naive = hay[start..]
                .iter()
                .position(u8::is_ascii_digit)
                .map_or(hay.len(), |p| start + p);
            assert_eq!(next_digit(&hay, start, hay.len()), naive, "from {start}");
        }
        assert_eq!(next_digit(b"abcdefghijklmnop9", 0, 17), 16);
        assert_eq!(next_digit(b"abcdefghijklmnop9", 0, 16), 16);
        assert_eq!(next_digit(b"/:/:/:/:/:/:0", 0, 13), 12);
    }

    #[test]
    fn letter_after_and_letters_before() {
        let hits = hits_in(
            &[
                (0, digits(1, 0, true, 0, 0)),
                (1, digits(2, 2, false, 0, 0)),
            ],
            b"1BoatSLR 3rd 42 DE89 x9",
        );
        // rule 0: runs followed by a letter ("1" of 1Boat, "3" of 3rd);
        // rule 1: "89" after "DE", span starting at the letters
        assert_eq!(hits, vec![(0, 0..1), (0, 9..10), (1, 16..20)]);
    }

    #[test]
    fn min_dots_counts_dots_inside_the_run() {
        let hits = hits_in(
            &[(7, digits(4, 0, false, 3, 0))],
            b"v 10.0.0.1, 2024-01-05, 1.2.3, 192.168.001.010.",
        );
        assert_eq!(hits, vec![(7, 2..10), (7, 31..46)]);
    }

    #[test]
    fn min_word_measures_the_word_around_the_last_digit() {
        let hits = hits_in(
            &[(3, digits(1, 0, true, 0, 10))],
            b"3rd x 12 1abcdefghi ab_1cdefghij 1abcdefgh",
        );
        // "3rd" is 3 bytes, "1abcdefghi" 10 (its run is "12 1"), "ab_1cdefghij" 12
        // (the digit inside), "1abcdefgh" 9
        assert_eq!(hits, vec![(3, 6..10), (3, 23..24)]);
        // With a longest word of 11 (and with other rules measuring further),
        // "ab_1cdefghij" is too long.
        let at_most = |max_word| Anchor::Digits {
            min: 1,
            letters_before: 0,
            letter_after: true,
            min_dots: 0,
            min_word: 10,
            max_word,
        };
        for others in [vec![], vec![(4, digits(1, 0, true, 0, 30))]] {
            let mut rules = vec![(3, at_most(11))];
            rules.extend(others);
            let hits = hits_in(&rules, b"3rd x 12 1abcdefghi ab_1cdefghij 1abcdefgh");
            assert!(hits.contains(&(3, 6..10)), "{hits:?}");
            assert_eq!(hits.iter().filter(|h| h.0 == 3).count(), 1, "{hits:?}");
        }
        let hits = hits_in(&[(3, at_most(12))], b"ab_1cdefghij 1abcdefghi");
        assert_eq!(hits, vec![(3, 3..4), (3, 13..14)]);
        assert_eq!(word_len(b"abc", 0, 3), 3);
        assert_eq!(word_len(b"abc def", 2, 9), 3);
        assert_eq!(word_len(b"x abcdef", 4, 4), 4);
    }

    proptest::proptest! {
        /// Remembering the last word gives the length measured anew, for any
        /// increasing positions and any limit.
        #[test]
        fn word_around_agrees_with_word_len(
            hay in proptest::collection::vec(proptest::sample::select(b"a1_ -".to_vec()), 1..120),
            steps in proptest::collection::vec(0usize..9, 1..40),
            limit in 1usize..12,
        ) {
            let mut cached = WordAround::default();
            let mut at = 0;
            for step in steps {
                at += step;
                if at >= hay.len() {
                    break;
                }
                if hay[at].is_ascii_alphanumeric() || hay[at] == b'_' {
                    proptest::prop_assert_eq!(cached.len(&hay, at, limit), word_len(&hay, at, limit));
                }
            }
        }
    }

    proptest::proptest! {
        /// The SIMD skips stop where a byte-by-byte scan stops, from any start.
        #[test]
        fn digit_skips_stop_where_a_scan_stops(
            hay in proptest::collection::vec(proptest::sample::select(b"0123456789x -".to_vec()), 0..120),
            from in 0usize..120,
        ) {
            let from = from.min(hay.len());
            let end = hay.len();
            let first = |digit: bool| {
                (from..end).find(|&i| hay[i].is_ascii_digit() == digit).unwrap_or(end)
            };
            proptest::prop_assert_eq!(skip_digits(&hay, from, end), first(false));
            proptest::prop_assert_eq!(next_digit(&hay, from, end), first(true));
        }
    }

    proptest::proptest! {
        /// The sliding count (and `::`) equals the count made anew at every
        /// separator, for increasing positions across runs of any length.
        #[test]
        fn separator_window_counts_as_separators_around(
            hay in proptest::collection::vec(proptest::sample::select(b"0a:-x ".to_vec()), 0..300),
            limit in 2u32..6,
        ) {
            let mut w = SeparatorWindow::new(8 * limit as usize);
            for p in 0..hay.len() {
                if is_separator(hay[p]) {
                    proptest::prop_assert_eq!(
                        w.count(&hay, p).min(limit),
                        separators_around(&hay, p, limit),
                        "at {}", p
                    );
                    // and `::` within the same bytes
                    let near = run_around(&hay, p, 8 * limit as usize, is_hex_run_byte);
                    proptest::prop_assert_eq!(
                        w.double_colon(&hay),
                        memchr::memmem::find(&hay[near], b"::").is_some(),
                        "`::` at {}", p
                    );
                }
            }
        }
    }

    #[test]
    fn a_hex_run_with_few_separators_may_need_a_double_colon() {
        let ipv6 = Anchor::HexRun {
            min_separators: 2,
            double_colon_below: 6,
        };
        let hay = b"at 12:30:45 from fe80::1 and 2001:db8:85a3:0:0:8a2e:370:7334, \
                    2001:0db8:85a3:0000:0000:8a2e::7334 or 0:0:0:0:0:ffff:192.0.2.1";
        let starts: Vec<usize> = hits_in(&[(1, ipv6)], hay)
            .iter()
            .map(|h| h.1.start)
            .collect();
        let at = |s: &str| memchr::memmem::find(hay, s.as_bytes()).unwrap();
        // not the time; every separator of the others, from the first one on
        assert!(!starts.iter().any(|&p| p < at("fe80")));
        for addr in ["fe80::1", "2001:db8:85a3", "2001:0db8", "0:0:0:0"] {
            let first = at(addr) + addr.find(':').unwrap();
            assert!(starts.contains(&first), "{addr}: {starts:?}");
        }
        assert_eq!(starts.len(), 1 + 7 + 7 + 6);
    }

    #[test]
    fn hex_runs_count_their_separators() {
        let hay = b"de-facto fe80::1 00:1a:2b:3c:4d:5e";
        let found = hits_in(
            &[
                (1, Anchor::HexSeparator),
                (
                    2,
                    Anchor::HexRun {
                        min_separators: 2,
                        double_colon_below: 0,
                    },
                ),
                (
                    3,
                    Anchor::HexRun {
                        min_separators: 5,
                        double_colon_below: 0,
                    },
                ),
            ],
            hay,
        );
        let of = |r: u32| {
            found
                .iter()
                .filter(|h| h.0 == r)
                .map(|h| h.1.start)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(1), vec![2, 13, 19, 22, 25, 28, 31]);
        assert_eq!(of(2), vec![13, 19, 22, 25, 28, 31]);
        assert_eq!(of(3), vec![19, 22, 25, 28, 31]);
        assert_eq!(separators_around(b"a-b-c", 1, 9), 2);
        assert_eq!(separators_around(b"1:2:3:4", 3, 2), 2);
    }

    #[test]
    fn runs_split_by_blocks_are_reported_once() {
        let s = b"xx 12345 yy 678";
        let mut all = Vec::new();
        for_each_digit_run(s, 0..5, &mut None, |r, _, _| all.push(r));
        for_each_digit_run(s, 5..s.len(), &mut None, |r, _, _| all.push(r));
        assert_eq!(all, vec![3..8, 12..15]);
    }

    fn parse(re: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(re)
            .unwrap()
    }

    #[test]
    fn digits_in_a_row_of_a_regex() {
        for (re, want) in [
            (r"[0-9]{3}-[0-9]{2}-[0-9]{4}", 4),
            (r"[0-9]{9}|[0-9]{3} [0-9]{2} [0-9]{4}", 4),
            (r"\d{3}[- ]?\d{2}", 3),
            (r"1[0-9]{2}\b", 3),
            (r"(?:[0-9]{2}-){3}[0-9]{2}", 2),
            (r"[0-9]{4}(?:[0-9]{2})?", 4),
            (r"(?:^|[^0-9A-Za-z])(?P<value>x?[0-9]{4})", 4),
            (r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", 1),
            (r"(?:[0-9]{3}){2,}", 6),
            // letters between digits: a match may hold digits of two runs
            (r"[A-Z]{2}[0-9]{2}[A-Z]{4}[0-9]{10}", 0),
            (r"(?:[0-9]{3}[A-Z]){2}", 0),
            // three separators or more end a run
            (r"[0-9]{2}\s*[0-9]{4}", 0),
            (r"[0-9]{4} {0,2}[0-9]{5}", 5),
            (r"[0-9]{3} - [0-9]{4}", 0),
            (r"[0-9]{3}(?: - )?[0-9]{4}", 0),
            (r"[0-9]{2}- ?[0-9]{4}", 4),
            (r"[0-9]{2} (?: [0-9]{4})", 4),
            (r"[0-9]{2} (?:  [0-9]{4})", 0),
            (r"[0-9]{2}(?:- )+[0-9]{4}", 0),
            (r"(?:[0-9]{3} ){2}[0-9]{4}", 4),
            (r"(?:[0-9]{3}  ?){2}[0-9]{4}", 4),
            (r"(?: [0-9]{3} ){2}[0-9]{4}", 4),
            (r"(?: [0-9]{3}  ){2}[0-9]{4}", 0),
            // `12) (34`: three separators where one copy meets the next
            (r"[0-9]{2}(?: ?\(?[0-9]{2}\)?){1,2}", 0),
            // a class with a letter is not a digit
            (r"[0-9a-f]{8}", 0),
            (r"[0-9]{5}|[0-9]{2}", 2),
        ] {
            assert_eq!(fewest_digits_in_a_row(&parse(re)), want, "{re}");
        }
    }

    proptest::proptest! {
        /// What the gates rely on: every match of a regex with N > 0 digits in a
        /// row has its digits in one run, that run has a group of N digits or
        /// more, and the regex's shape gate accepts the run's shape.
        #[test]
        fn every_match_holds_its_digits_in_a_row_in_one_run(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "1", "23", "456", "7890", "12345", " ", "-", "(", ")", ".", "+", "/",
                    "x", "A", "AB", "_", ",", ":", "\n", " - ", ") (", "  ", "\\n", "+1 ",
                    "+44 123", "(212) ",
                ]),
                0..30,
            ),
        ) {
            let hay = tokens.concat().into_bytes();
            let regexes = [
                r"[0-9]{3}-[0-9]{2}-[0-9]{4}",
                r"\d{3}[- ]?\d{2}",
                r"(?:[0-9]{2}[-. ]){2}[0-9]{2}",
                r"(?:^|[^0-9A-Za-z])(?P<value>\+?[0-9]{2}(?: ?\(?[0-9]{2}){1,2}\)?)",
                // (0: may cross runs; checked if the analysis ever says otherwise)
                r"\+?[0-9]{2}(?: ?\(?[0-9]{2}\)?){1,2}",
                r"[0-9]{3} - [0-9]{4}",
                r"[0-9]{2}x[0-9]{3}",
                r"[0-9]{1,3}(?:\.[0-9]{1,3}){2}",
                r"[0-9]{4} {0,2}[0-9]{3}",
                r"(?:[0-9]{3}){1,2}[ -]?[0-9]",
                r"(?:^|[^0-9A-Za-z_.\-])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4})\b",
                r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2}\b",
                r"(?:^|[^0-9+])\s(?P<value>0[1-9][0-9]{1,4} ?/[0-9]{3,8})\b",
                r"(?i:x|ab)\.?[ \t]{0,3}[:=]?[0-9]{1,3}(?:\.[0-9]{1,3}){2}",
                r"\\[nrt]\+[0-9]{2}(?:[ .\-]\(?[0-9]{1,3}){1,3}",
                // separators before the run are context bytes to the shape gate
                r"\+[0-9]{2}[ -][0-9]{3}",
                r"\([0-9]{3}\) ?[0-9]{3}",
            ];
            let mut runs = Vec::new();
            for_each_digit_run(&hay, 0..hay.len(), &mut None, |r, _, g| runs.push((r, g)));
            // (the shape gates of all of them, answered together as the engine asks)
            let mut gates = ShapeGates::default();
            let gated: Vec<(&str, u32)> = regexes
                .iter()
                .map(|re| (*re, fewest_digits_in_a_row(&parse(re))))
                .filter(|(_, want)| *want > 0)
                .collect();
            for (re, _) in &gated {
                gates.add(re, false, 64);
            }
            for (bit, &(re, want)) in gated.iter().enumerate() {
                let regex = regex_automata::meta::Regex::builder()
                    .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
                    .build(re)
                    .unwrap();
                for m in regex.find_iter(&hay) {
                    let digits: Vec<usize> =
                        (m.start()..m.end()).filter(|&i| hay[i].is_ascii_digit()).collect();
                    let run = runs
                        .iter()
                        .find(|(r, _)| r.contains(&digits[0]))
                        .expect("a digit is in a run");
                    proptest::prop_assert!(
                        digits.iter().all(|i| run.0.contains(i)),
                        "{} matched {:?} across runs", re, &hay[m.range()]
                    );
                    proptest::prop_assert!(run.1 >= want, "{} in {:?}", re, &hay[run.0.clone()]);
                    let shape: Vec<u8> = hay[run.0.clone()].iter().map(|&b| shape_byte(b)).collect();
                    let mut memo = ShapeMemo::default();
                    memo.start(&hay[run.0.clone()]);
                    proptest::prop_assert!(
                        memo.may_match(&gates, bit as u32, &hay[run.0.clone()]),
                        "{} matched {:?}: its run's shape {:?} was rejected",
                        re, &hay[m.range()], String::from_utf8_lossy(&shape)
                    );
                }
            }
        }
    }

    #[test]
    fn a_run_with_separators_across_blocks_is_reported_once_by_its_first_block() {
        let s = b"tel 12-34 (56)78  9 x 1--2 3";
        let whole: Vec<_> = {
            let mut v = Vec::new();
            for_each_digit_run(s, 0..s.len(), &mut None, |r, c, g| v.push((r, c, g)));
            v
        };
        assert_eq!(whole[0], (4..19, 9, 2));
        // three blocks (a run may cross one whole), each looking back or
        // carried over from the one before
        for cut in 0..=s.len() {
            for cut2 in cut..=s.len() {
                for carry in [[false, false], [false, true], [true, false], [true, true]] {
                    let mut got = Vec::new();
                    let mut carried = None;
                    for (k, block) in [0..cut, cut..cut2, cut2..s.len()].into_iter().enumerate() {
                        if k > 0 && !carry[k - 1] {
                            carried = None;
                        }
                        for_each_digit_run(s, block, &mut carried, |r, c, g| got.push((r, c, g)));
                    }
                    assert_eq!(got, whole, "cut at {cut} and {cut2}, carried {carry:?}");
                }
            }
        }
    }
}
