//! One pass for many digit rules around a run too long for the shape memo
//! ([`super::run_shape`]). The shape gates answer for a run's shape only; over a
//! long run (a 15 MB run of numbers joined by `-`, a list of phone numbers
//! joined by spaces) most rules' shapes fit somewhere, and each rule that passes
//! would run its own regex over the whole run. Instead, the regexes of the gated
//! digit rules form one multi-pattern lazy DFA (every pattern's matches,
//! overlapping), asked once which of them match anywhere in a window that holds
//! the windows of all the rules waiting; only those rules get the run as a
//! candidate.
//!
//! A rule left out is exact: its regex has no match in a window that holds all of
//! its own window's matches that overlap the run, and (every match of a gated rule
//! holding its digits in one run) no match of it can overlap the run at all.

use std::ops::Range;
use std::sync::OnceLock;

use regex_automata::hybrid::dfa::{Cache, OverlappingState, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};

use super::anchor::AnchoredRegex;
use super::run_shape::{Backoff, CLEARS, MAX_SKIP, SKIP};

/// Most memory of the set's lazy DFA per thread. It grows only as states are
/// built: ~60 KB for a 15 MB run of numbers joined by `-`, ~3.4 MB for runs of
/// random digit groups (a 2 MB cache was cleared 21 times over one such run of
/// 20 MB, rebuilding states: 2.2 s against 0.76 s).
const CACHE_BYTES: usize = 16 << 20;
/// The lazy DFA gives up when it is cleared `CLEARS` times while building a
/// state for every few bytes (as the regex crate's own searches do): the rules
/// then run their own regexes, as without the set, and the set sits out the
/// next long runs (`SKIP`, doubling each time it gives up again, up to
/// `MAX_SKIP`).
const BYTES_PER_STATE: usize = 10;

/// The regexes of the gated digit rules, compiled together on first use.
#[derive(Debug, Default)]
pub(super) struct DigitSet {
    patterns: Vec<String>,
    /// Tests: the smallest cache (cleared over and over).
    #[cfg(test)]
    tiny_cache: bool,
    /// `None`: the set could not be built (too large); every deferred rule gets
    /// its candidate, as without the set.
    dfa: OnceLock<Option<DFA>>,
}

/// What the set knows of one of its rules: the rule, its pattern, and how far
/// its window reaches around a run's span (bytes before, bytes after).
#[derive(Debug, Clone, Copy)]
pub(super) struct Member {
    pub(super) rule: u32,
    pub(super) pattern: u32,
    pub(super) back: u32,
    pub(super) ahead: u32,
    /// Its longest match.
    pub(super) longest: u32,
}

impl DigitSet {
    /// Adds the regex of rule `rule` (ASCII only: a rule with Unicode classes
    /// stays out), whose span starts `letters` bytes before a run.
    pub(super) fn add(
        &mut self,
        rule: u32,
        regex: &AnchoredRegex<'_>,
        letters: usize,
    ) -> Option<Member> {
        if regex.unicode {
            return None;
        }
        // A match overlapping the span `s..e` starts after `s - longest` and ends
        // before `e + longest`, and lies in the window `s - before..e + max_len`.
        let back = letters + regex.before.min(regex.longest);
        let ahead = regex.max_len.min(regex.longest);
        let member = Member {
            rule,
            pattern: u32::try_from(self.patterns.len()).ok()?,
            back: u32::try_from(back).ok()?,
            ahead: u32::try_from(ahead).ok()?,
            longest: u32::try_from(regex.longest).ok()?,
        };
        self.patterns.push(regex.pattern.to_string());
        Some(member)
    }

    fn cache_bytes(&self) -> usize {
        #[cfg(test)]
        if self.tiny_cache {
            return 0;
        }
        CACHE_BYTES
    }

    fn dfa(&self) -> Option<&DFA> {
        self.dfa
            .get_or_init(|| {
                DFA::builder()
                    .syntax(syntax::Config::new().unicode(false).utf8(false))
                    .thompson(
                        thompson::Config::new()
                            .utf8(false)
                            .shrink(true)
                            .which_captures(thompson::WhichCaptures::None),
                    )
                    .configure(
                        DFA::config()
                            .match_kind(MatchKind::All)
                            .cache_capacity(self.cache_bytes())
                            .skip_cache_capacity_check(true)
                            .minimum_cache_clear_count(Some(CLEARS))
                            .minimum_bytes_per_state(Some(BYTES_PER_STATE)),
                    )
                    .build_many(&self.patterns)
                    .ok()
            })
            .as_ref()
    }

    /// Calls `found(pattern, end)` for every match of every pattern in
    /// `hay[window]` (look-arounds see past it), in order of their ends; false
    /// when the set cannot answer (not built, or its DFA gave up; `found` may
    /// have been called for some): every pattern may match anywhere.
    pub(super) fn matches(
        &self,
        hay: &[u8],
        window: Range<usize>,
        state: &mut SetState,
        mut found: impl FnMut(usize, usize),
    ) -> bool {
        if state.skip.sits_out() {
            return false;
        }
        let Some(dfa) = self.dfa() else {
            return false;
        };
        let cache = state.cache.get_or_insert_with(|| dfa.create_cache());
        let input = Input::new(hay).range(window);
        let mut at = OverlappingState::start();
        let answered = loop {
            if dfa
                .try_search_overlapping_fwd(cache, &input, &mut at)
                .is_err()
            {
                break false;
            }
            match at.get_match() {
                Some(m) => found(m.pattern().as_usize(), m.offset()),
                None => break true,
            }
        };
        if !answered {
            // (a cache that gave up must be reset before its next search)
            cache.reset(dfa);
            state.skip.failed(SKIP, MAX_SKIP);
        }
        answered
    }
}

/// One thread's state of the set: its DFA cache, and the rules
/// deferred to it for the current run.
#[derive(Default)]
pub(super) struct SetState {
    cache: Option<Cache>,
    /// Long runs to leave to the rules' own regexes after the set gave up.
    skip: Backoff,
    /// The rules waiting for the set's answer, and where their spans start.
    pub(super) deferred: Vec<(usize, Member)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str], tiny_cache: bool) -> DigitSet {
        let mut set = DigitSet {
            tiny_cache,
            ..DigitSet::default()
        };
        for (i, p) in patterns.iter().enumerate() {
            let regex = AnchoredRegex {
                pattern: p,
                unicode: false,
                in_a_row: 3,
                longest: 20,
                before: 3,
                max_len: 20,
                start_checked: false,
            };
            set.add(i as u32, &regex, 0).unwrap();
        }
        set
    }

    const PATTERNS: &[&str] = &[
        r"(?:^|[^0-9-])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4})\b",
        r"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b",
        r"\([0-9]{3}\) ?[0-9]{3}-[0-9]{4}\b",
        r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b",
    ];

    #[test]
    fn the_set_gives_the_end_of_every_match_in_a_window() {
        let s = set(PATTERNS, false);
        let mut state = SetState::default();
        let hay = b"call (555) 123-4567 or 536-90-4399, not 1.2.3";
        let mut ends = |window: Range<usize>| {
            let mut v = Vec::new();
            assert!(s.matches(hay, window, &mut state, |p, e| v.push((p, e))));
            v
        };
        // every match's end, in order
        assert_eq!(ends(0..hay.len()), [(2, 19), (0, 34)]);
        // a match must lie inside the window, and look-arounds see past it (the
        // SSN cut one digit short has no boundary after it)
        assert_eq!(ends(5..33), [(2, 19)]);
    }

    #[test]
    fn a_set_whose_dfa_gives_up_sits_out_the_next_runs() {
        // Random groups of digits and separators: many states, and a cache too
        // small for them is cleared over and over until the DFA gives up.
        let hay =
            crate::engine::tests::random_digit_groups(3, 200_000, &["-", " ", ".", "(", ") "]);
        let tiny = set(PATTERNS, true);
        let mut state = SetState::default();
        assert!(!tiny.matches(hay.as_bytes(), 0..hay.len(), &mut state, |_, _| {}));
        assert_eq!(state.skip.left(), SKIP);
        for _ in 0..SKIP {
            assert!(!tiny.matches(b"123-45-6789", 0..11, &mut state, |_, _| {}));
        }
        // then asked again (its cache reset): a short window answers
        let mut ends = Vec::new();
        assert!(tiny.matches(b"123-45-6789", 0..11, &mut state, |p, e| ends.push((p, e))));
        assert_eq!(ends, [(0, 11)]);
        // the same text with room for its states: answered
        let roomy = set(PATTERNS, false);
        let mut state = SetState::default();
        assert!(roomy.matches(hay.as_bytes(), 0..hay.len(), &mut state, |_, _| {}));
    }
}
