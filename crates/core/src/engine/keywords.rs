//! The keyword prefilter: finds every position where a rule keyword starts.
//!
//! Keywords are ASCII case-insensitive. One Aho-Corasick DFA holds them all; the
//! search is leftmost-longest (which lets the automaton use its prefilter) and
//! restarts one byte after each hit, so it finds the longest keyword at every
//! position where one starts. The rules of every keyword *contained* in that one
//! are attached to it, so no shorter keyword is lost.
//!
//! Alternatives are measured by `cargo run --release -p datasieve-bench --bin
//! prefilter-lab -- FILE` (see BENCHMARKS.md): an overlapping search, fewer or
//! shorter keywords and no prefilter all run at about the same speed as this one;
//! aho-corasick's packed (Teddy) searcher takes at most 64 case-sensitive patterns.

use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Keyword occurrences -> rules.
pub(super) struct Keywords {
    automaton: AhoCorasick,
    /// Pattern id -> rules (closed over contained keywords).
    rules: Vec<Vec<u32>>,
    /// Longest keyword.
    max_len: usize,
}

/// One keyword of one rule.
pub(super) struct KeywordSpec<'a> {
    pub(super) rule: u32,
    pub(super) keyword: &'a str,
}

impl Keywords {
    pub(super) fn new(specs: &[KeywordSpec<'_>]) -> Result<Option<Self>, String> {
        let mut by_pattern: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
        for spec in specs {
            let rules = by_pattern
                .entry(spec.keyword.to_ascii_lowercase().into_bytes())
                .or_default();
            if !rules.contains(&spec.rule) {
                rules.push(spec.rule);
            }
        }
        if by_pattern.is_empty() {
            return Ok(None);
        }
        let mut patterns: Vec<Vec<u8>> = by_pattern.keys().cloned().collect();
        patterns.sort();
        let mut rules: Vec<Vec<u32>> = patterns.iter().map(|p| by_pattern[p].clone()).collect();
        for (i, p) in patterns.iter().enumerate() {
            for q in &patterns {
                if q.len() < p.len() && memchr::memmem::find(p, q).is_some() {
                    for &r in &by_pattern[q] {
                        if !rules[i].contains(&r) {
                            rules[i].push(r);
                        }
                    }
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| e.to_string())?;
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Some(Keywords {
            automaton,
            rules,
            max_len,
        }))
    }

    /// Calls `f(rule, span)` for every keyword that starts in `block` (a keyword may
    /// end past it).
    pub(super) fn find(
        &self,
        hay: &[u8],
        block: Range<usize>,
        mut f: impl FnMut(u32, Range<usize>),
    ) {
        let end = (block.end + self.max_len).min(hay.len());
        let mut at = block.start;
        while at < block.end {
            let input = aho_corasick::Input::new(hay).span(at..end);
            let Some(m) = self.automaton.find(input) else {
                break;
            };
            if m.start() >= block.end {
                break;
            }
            for &r in &self.rules[m.pattern().as_usize()] {
                f(r, m.start()..m.end());
            }
            at = m.start() + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(k: &Keywords, hay: &[u8]) -> Vec<(u32, Range<usize>)> {
        let mut v = Vec::new();
        k.find(hay, 0..hay.len(), |r, s| v.push((r, s)));
        v.sort_by_key(|(r, s)| (s.start, *r));
        v
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let specs = [
            KeywordSpec {
                rule: 0,
                keyword: "ghp_",
            },
            KeywordSpec {
                rule: 1,
                keyword: "password",
            },
            KeywordSpec {
                rule: 2,
                keyword: "Pass",
            },
        ];
        let k = Keywords::new(&specs).unwrap().unwrap();
        assert_eq!(hits(&k, b"GHP_ ghp_"), vec![(0, 0..4), (0, 5..9)]);
        // "password" also stands for the "pass" it contains
        assert_eq!(hits(&k, b"SessionPassWord"), vec![(1, 7..15), (2, 7..15)]);
        assert_eq!(hits(&k, b"xpass"), vec![(2, 1..5)]);
    }

    #[test]
    fn overlapping_keywords_at_different_starts_are_all_found() {
        let specs = [
            KeywordSpec {
                rule: 0,
                keyword: "secret_key",
            },
            KeywordSpec {
                rule: 1,
                keyword: "keyid",
            },
        ];
        let k = Keywords::new(&specs).unwrap().unwrap();
        assert_eq!(hits(&k, b"secret_keyid"), vec![(0, 0..10), (1, 7..12)]);
    }

    #[test]
    fn keyword_straddling_the_block_end_is_found_by_its_block() {
        let k = Keywords::new(&[KeywordSpec {
            rule: 0,
            keyword: "token",
        }])
        .unwrap()
        .unwrap();
        let hay = b"aaaatoken";
        let mut v = Vec::new();
        k.find(hay, 0..6, |r, s| v.push((r, s)));
        k.find(hay, 6..hay.len(), |r, s| v.push((r, s)));
        assert_eq!(v, vec![(0, 4..9)]);
    }
}
