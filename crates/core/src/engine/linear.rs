//! Rules whose regex is a plain sequence are confirmed without the regex engines.
//!
//! Most token rules read like `{{lb}}(?P<value>ghp_[A-Za-z0-9]{36})(?:[^A-Za-z0-9]|$)`:
//! a literal prefix (or a first byte out of at most three, as in `[13]` or `[Gg]`),
//! then literal bytes and byte classes each repeated a bounded number of times,
//! between a simple boundary before the value and one after it. Where every
//! repetition of variable length is followed by something that cannot take its
//! bytes, the match at a given start is unique and found greedily, so the leftmost
//! match is found by looking for the prefix (memmem, or memchr for the first byte)
//! and reading the runs that follow: no regex to compile, no lazy DFA to warm up
//! (a counted repetition such as `{40,250}` is as many DFA states, built per
//! thread), and no capture engine for the value. [`Linear::find`] gives the
//! matches the regex gives, with the same look-around and the same limits of the
//! searched range (a test compares both on every catalog rule of this shape).

use std::ops::Range;

use regex_syntax::hir::{Hir, HirKind, Look};

use super::{is_word_byte, not_in_or_end, value_parts, AnyOf, ByteSet};

/// What precedes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// Nothing: the match starts with the value.
    None,
    /// An ASCII word boundary (`\b`), zero-width.
    WordBoundary,
    /// [`super::LEFT_BOUNDARY`]: the start of the haystack, one byte that is not a
    /// word byte, or a backslash and `n`, `r` or `t`; in that order of preference.
    LeftBoundary,
}

/// What follows the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trail {
    None,
    /// An ASCII word boundary (`\b`), zero-width.
    WordBoundary,
    /// `(?:[^C]|$)`: one byte that is not in `C` (the set held), or the end of the
    /// haystack.
    NotInOrEnd(ByteSet),
}

/// Bytes of one set, repeated `min..=max` times (greedily).
#[derive(Debug, Clone, Copy)]
struct Item {
    set: ByteSet,
    min: usize,
    max: usize,
}

/// A match and the value in it.
pub(crate) type Found = (Range<usize>, Range<usize>);

/// [`Linear::find`] read too much: ask the regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GaveUp;

/// How the value starts: what the search looks for.
#[derive(Debug, Clone)]
enum Start {
    /// Literal bytes (at least one).
    Literal(Box<memchr::memmem::Finder<'static>>),
    /// One byte out of one to three.
    OneOf(AnyOf),
}

impl Start {
    /// Where the next value may start in `hay`.
    fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Start::Literal(finder) => finder.find(hay),
            Start::OneOf(bytes) => bytes.find(hay),
        }
    }

    /// The end of the start at `v`, if the value may start there (reading no byte
    /// at or past `end`).
    fn at(&self, hay: &[u8], v: usize, end: usize) -> Option<usize> {
        match self {
            Start::Literal(finder) => {
                let prefix = finder.needle();
                (v + prefix.len() <= end && &hay[v..v + prefix.len()] == prefix)
                    .then_some(v + prefix.len())
            }
            Start::OneOf(bytes) => (v < end && bytes.contains(hay[v])).then_some(v + 1),
        }
    }
}

/// A rule's regex read as a sequence (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    lead: Lead,
    /// What the value starts with.
    start: Start,
    /// The rest of the value.
    items: Vec<Item>,
    trail: Trail,
}

/// ASCII word boundary at `at` (looking at the whole haystack).
fn word_boundary(hay: &[u8], at: usize) -> bool {
    let before = at > 0 && is_word_byte(hay[at - 1]);
    let after = at < hay.len() && is_word_byte(hay[at]);
    before != after
}

/// Appends the items of a value's syntax tree; `None` where it is not a sequence.
fn items_of(hir: &Hir, out: &mut Vec<Item>) -> Option<()> {
    match hir.kind() {
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                out.push(Item {
                    set: ByteSet::of(&[b]),
                    min: 1,
                    max: 1,
                });
            }
        }
        HirKind::Class(class) => out.push(Item {
            set: ByteSet::of_class(class)?,
            min: 1,
            max: 1,
        }),
        HirKind::Repetition(rep) if rep.greedy && rep.min >= 1 => {
            let set = match rep.sub.kind() {
                HirKind::Class(class) => ByteSet::of_class(class)?,
                HirKind::Literal(lit) if lit.0.len() == 1 => ByteSet::of(&lit.0),
                _ => return None,
            };
            out.push(Item {
                set,
                min: rep.min as usize,
                max: rep.max.map_or(usize::MAX, |m| m as usize),
            });
        }
        HirKind::Concat(parts) => {
            for p in parts {
                items_of(p, out)?;
            }
        }
        _ => return None,
    }
    Some(())
}

/// The one byte of a singleton set.
fn single(set: &ByteSet) -> Option<u8> {
    let mut only = None;
    for b in 0..=255u8 {
        if set.contains(b) {
            if only.is_some() {
                return None;
            }
            only = Some(b);
        }
    }
    only
}

fn disjoint(a: &ByteSet, b: &ByteSet) -> bool {
    (0..=255u8).all(|x| !(a.contains(x) && b.contains(x)))
}

impl Linear {
    /// The sequence a rule's regex is, if it is one (parsed without Unicode, where
    /// a class is a set of bytes).
    pub(crate) fn of(hir: &Hir, left_boundary: &Hir) -> Option<Linear> {
        let (before, value, after) = value_parts(hir)?;
        let word_boundary = |h: &Hir| matches!(h.kind(), HirKind::Look(Look::WordAscii));
        let lead = match before {
            [] => Lead::None,
            [h] if word_boundary(h) => Lead::WordBoundary,
            [h] if h == left_boundary => Lead::LeftBoundary,
            _ => return None,
        };
        let trail = match after {
            [] => Trail::None,
            [h] if word_boundary(h) => Trail::WordBoundary,
            [h] => Trail::NotInOrEnd(not_in_or_end(h)?),
            _ => return None,
        };
        let mut items = Vec::new();
        items_of(&value.sub, &mut items)?;
        let fixed = |i: &Item| i.min == 1 && i.max == 1;
        let prefix: Vec<u8> = items
            .iter()
            .map_while(|i| fixed(i).then(|| single(&i.set)).flatten())
            .collect();
        let start = if prefix.is_empty() {
            // A first byte out of a few: searched with memchr.
            let first = items.first().filter(|i| fixed(i))?;
            let bytes: Vec<u8> = (0..=255u8).filter(|&b| first.set.contains(b)).collect();
            let bytes = Some(AnyOf::of(&bytes)).filter(AnyOf::is_few)?;
            items.remove(0);
            Start::OneOf(bytes)
        } else {
            items.drain(..prefix.len());
            Start::Literal(Box::new(memchr::memmem::Finder::new(&prefix).into_owned()))
        };
        // Greedy is the only way: a variable repetition is followed by bytes it
        // cannot take, and a boundary after the last one cannot be met inside it.
        let words: Vec<u8> = (0..=255u8).filter(|&b| is_word_byte(b)).collect();
        let words = ByteSet::of(&words);
        for (k, item) in items.iter().enumerate() {
            if item.min == item.max {
                continue;
            }
            let ok = match items.get(k + 1) {
                Some(next) => disjoint(&item.set, &next.set),
                None => match trail {
                    Trail::None => true,
                    Trail::WordBoundary => {
                        (0..=255u8).all(|b| !item.set.contains(b) || words.contains(b))
                    }
                    Trail::NotInOrEnd(inside) => {
                        (0..=255u8).all(|b| !item.set.contains(b) || inside.contains(b))
                    }
                },
            };
            if !ok {
                return None;
            }
        }
        Some(Linear {
            lead,
            start,
            items,
            trail,
        })
    }

    /// The end of the value starting at `v` and the end of the match, reading no
    /// byte at or past `end`; `read` counts the bytes read.
    fn value_at(
        &self,
        hay: &[u8],
        v: usize,
        end: usize,
        read: &mut usize,
    ) -> Option<(usize, usize)> {
        let mut q = self.start.at(hay, v, end)?;
        for item in &self.items {
            let limit = end.min(q.saturating_add(item.max));
            let mut k = q;
            while k < limit && item.set.contains(hay[k]) {
                k += 1;
            }
            *read += k - q;
            if k - q < item.min {
                return None;
            }
            q = k;
        }
        match self.trail {
            Trail::None => Some((q, q)),
            Trail::WordBoundary => word_boundary(hay, q).then_some((q, q)),
            Trail::NotInOrEnd(inside) => {
                if q == hay.len() {
                    Some((q, q))
                } else if q < end && !inside.contains(hay[q]) {
                    Some((q, q + 1))
                } else {
                    None
                }
            }
        }
    }

    /// The match starting at `s`, if any: (match, value).
    fn at_start(&self, hay: &[u8], s: usize, end: usize, read: &mut usize) -> Option<Found> {
        let mut value = |v: usize| {
            self.value_at(hay, v, end, read)
                .map(|(value_end, match_end)| (s..match_end, v..value_end))
        };
        match self.lead {
            Lead::None => value(s),
            Lead::WordBoundary => word_boundary(hay, s).then(|| value(s)).flatten(),
            Lead::LeftBoundary => (s == 0)
                .then(|| value(s))
                .flatten()
                .or_else(|| {
                    (s < end && !is_word_byte(hay[s]))
                        .then(|| value(s + 1))
                        .flatten()
                })
                .or_else(|| {
                    (s + 1 < end && hay[s] == b'\\' && matches!(hay[s + 1], b'n' | b'r' | b't'))
                        .then(|| value(s + 2))
                        .flatten()
                }),
        }
    }

    /// The leftmost match in `hay[range]` (look-around sees the whole haystack):
    /// (match, value). `Err` where the prefix recurs inside long runs of the
    /// value's bytes (`sk-proj-sk-proj-...`): every occurrence would read up to the
    /// longest value, so past a few bytes read per byte of the range the caller
    /// asks the regex, whose DFA reads each byte once.
    pub(crate) fn find(&self, hay: &[u8], range: Range<usize>) -> Result<Option<Found>, GaveUp> {
        let end = range.end.min(hay.len());
        let mut budget = 4 * range.len() + 1024;
        // Starts before `s` have no match.
        let mut s = range.start;
        while s < end {
            let Some(at) = self.start.find(&hay[s..end]) else {
                return Ok(None);
            };
            let v = s + at;
            // A match holding the value at `v` starts at most two bytes before.
            let lo = match self.lead {
                Lead::LeftBoundary => v.saturating_sub(2).max(s),
                _ => v,
            };
            let mut read = 0;
            for start in lo..=v {
                if let Some(found) = self.at_start(hay, start, end, &mut read) {
                    return Ok(Some(found));
                }
            }
            budget = budget.checked_sub(read).ok_or(GaveUp)?;
            s = v + 1;
        }
        Ok(None)
    }
}
