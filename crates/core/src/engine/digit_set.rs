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

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternSet};

use super::anchor::AnchoredRegex;

/// Memory of the set's lazy DFA per thread (built only where long runs occur).
const CACHE_BYTES: usize = 2 << 20;

/// The regexes of the gated digit rules, compiled together on first use.
#[derive(Debug, Default)]
pub(super) struct DigitSet {
    patterns: Vec<String>,
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
        };
        self.patterns.push(regex.pattern.to_string());
        Some(member)
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
                            .cache_capacity(CACHE_BYTES)
                            .skip_cache_capacity_check(true),
                    )
                    .build_many(&self.patterns)
                    .ok()
            })
            .as_ref()
    }

    /// Marks in `state` the patterns with a match in `hay[window]` (look-arounds
    /// see past it); false when the set cannot answer (not built, or its DFA
    /// gave up): every pattern may match.
    pub(super) fn matches(&self, hay: &[u8], window: Range<usize>, state: &mut SetState) -> bool {
        let Some(dfa) = self.dfa() else {
            return false;
        };
        let (cache, hits) = state
            .searcher
            .get_or_insert_with(|| (dfa.create_cache(), PatternSet::new(self.patterns.len())));
        hits.clear();
        dfa.try_which_overlapping_matches(cache, &Input::new(hay).range(window), hits)
            .is_ok()
    }
}

/// One thread's state of the set: its DFA cache and answers, and the rules
/// deferred to it for the current run.
#[derive(Default)]
pub(super) struct SetState {
    searcher: Option<(Cache, PatternSet)>,
    /// The rules waiting for the set's answer, and where their spans start.
    pub(super) deferred: Vec<(usize, Member)>,
}

impl SetState {
    /// Whether pattern `p` matched in the last window asked.
    pub(super) fn matched(&self, p: u32) -> bool {
        self.searcher.as_ref().is_some_and(|(_, hits)| {
            hits.contains(regex_automata::PatternID::new_unchecked(p as usize))
        })
    }
}
