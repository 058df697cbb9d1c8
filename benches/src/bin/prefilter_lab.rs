//! Measures the prefilter alternatives that BENCHMARKS.md ("Where the time goes")
//! reports, over one file, with the built-in catalog:
//!
//! 1. the engine's keyword prefilter (hashed three- and four-byte prefixes, see
//!    `engine/keywords.rs`) against a keyword automaton (every keyword of the
//!    catalog, ASCII case-insensitive, leftmost-longest DFA restarted one byte after
//!    each hit, as the engine ran it before), with and without its prefilter, with
//!    the keywords cut to 3..12 bytes, as an overlapping search, and aho-corasick's
//!    packed (Teddy) searcher over the first 64 keywords;
//! 2. the digit-anchored rules confirmed one by one around every digit run of 4+
//!    digits, against one multi-pattern regex over all of them asked which patterns
//!    match (`which_overlapping_matches`);
//! 3. the rules whose matches start at their keywords (`max_before = 0`), their
//!    regex over each window (a keyword followed by one of its `followed_by` bytes,
//!    to the longest match after it) unanchored, and anchored at the keyword as the
//!    engine runs it.
//!
//! cargo run --release -p datasieve-bench --bin prefilter-lab -- FILE
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use datasieve::rules::{Anchor, RuleSet};
use regex_automata::{meta, PatternSet};

fn mbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e6
}

/// Best of three runs of `f`, which returns a hit count.
fn best(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut out = (Duration::MAX, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let n = f();
        out = out.min((t.elapsed(), n));
    }
    out
}

/// Leftmost-longest hits, restarting one byte after each, as the engine does.
fn restarting(ac: &AhoCorasick, hay: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while let Some(m) = ac.find(Input::new(hay).span(at..hay.len())) {
        n += 1;
        at = m.start() + 1;
    }
    n
}

fn dfa(keywords: &[String], kind: MatchKind, prefilter: bool) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(kind)
        .kind(Some(AhoCorasickKind::DFA))
        .prefilter(prefilter)
        .build(keywords)
        .expect("keywords build")
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: prefilter-lab FILE");
        std::process::exit(2)
    });
    let hay = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("prefilter-lab: {path}: {e}");
        std::process::exit(2)
    });
    let set = RuleSet::builtin().expect("built-in rules");
    let mut keywords: Vec<String> = set
        .rules()
        .iter()
        .flat_map(|r| r.rule.keywords.iter().map(|k| k.to_ascii_lowercase()))
        .collect();
    keywords.sort();
    keywords.dedup();
    println!("{path}: {} bytes, {} keywords", hay.len(), keywords.len());

    println!(
        "\n| keyword search | time | MB/s | hits | automaton bytes |\n|---|---:|---:|---:|---:|"
    );
    for prefilter in [true, false] {
        let ac = dfa(&keywords, MatchKind::LeftmostLongest, prefilter);
        let (t, n) = best(|| restarting(&ac, &hay));
        println!(
            "| DFA, leftmost-longest, restarting, prefilter {prefilter} | {t:.2?} | {:.0} | {n} | {} |",
            mbps(hay.len(), t),
            ac.memory_usage()
        );
    }
    let scanner = datasieve::engine::Scanner::new(&set).expect("scanner");
    let (t, n) = best(|| scanner.keyword_hits(&hay));
    println!(
        "| the engine's keyword prefilter (hashed prefixes), (keyword, rule) hits | {t:.2?} | {:.0} | {n} | |",
        mbps(hay.len(), t)
    );
    for cut in [3usize, 4, 6, 8, 12] {
        let mut short: Vec<String> = keywords
            .iter()
            .map(|k| k.chars().take(cut).collect())
            .collect();
        short.sort();
        short.dedup();
        let ac = dfa(&short, MatchKind::LeftmostLongest, true);
        let (t, n) = best(|| restarting(&ac, &hay));
        println!(
            "| DFA, keywords cut to {cut} bytes ({} patterns) | {t:.2?} | {:.0} | {n} | {} |",
            short.len(),
            mbps(hay.len(), t),
            ac.memory_usage()
        );
    }
    let ac = dfa(&keywords, MatchKind::Standard, true);
    let (t, n) = best(|| ac.find_overlapping_iter(&hay).count());
    println!(
        "| DFA, overlapping search | {t:.2?} | {:.0} | {n} | {} |",
        mbps(hay.len(), t),
        ac.memory_usage()
    );
    let first64 = &keywords[..keywords.len().min(64)];
    match packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(first64)
        .build()
    {
        Some(teddy) => {
            let (t, n) = best(|| teddy.find_iter(&hay).count());
            println!(
                "| packed (Teddy) searcher, first 64 keywords, case-sensitive | {t:.2?} | {:.0} | {n} | |",
                mbps(hay.len(), t)
            );
        }
        None => println!("| packed searcher | not available on this CPU | | | |"),
    }

    // Digit-anchored rules: one by one around each digit run, or one regex set.
    let syntax = regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false);
    let mut patterns = Vec::new();
    let mut mins = Vec::new();
    for r in set.rules() {
        if let Some(Anchor::Digits { min, .. }) = r.rule.anchor {
            patterns.push(datasieve::engine::expand_macros(&r.rule.regex).into_owned());
            mins.push(min);
        }
    }
    let build = |p: &str| {
        meta::Regex::builder()
            .syntax(syntax)
            .configure(meta::Config::new().utf8_empty(false))
            .build(p)
            .expect("catalog regex")
    };
    let singles: Vec<meta::Regex> = patterns.iter().map(|p| build(p)).collect();
    let group = meta::Regex::builder()
        .syntax(syntax)
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .match_kind(regex_automata::MatchKind::All)
                .hybrid_cache_capacity(64 << 20),
        )
        .build_many(&patterns)
        .expect("regex set");
    let run_re = meta::Regex::new(r"[0-9](?:[ ./()+\-]{0,2}[0-9])*").expect("digit runs");
    let runs: Vec<(usize, usize, u32)> = run_re
        .find_iter(&hay)
        .map(|m| {
            let digits = hay[m.range()].iter().filter(|b| b.is_ascii_digit()).count() as u32;
            (m.start(), m.end(), digits)
        })
        .filter(|r| r.2 >= 4)
        .collect();
    let window = |s: usize, e: usize| s.saturating_sub(64)..(e + 64).min(hay.len());
    let mut caches: Vec<_> = singles.iter().map(|r| r.create_cache()).collect();
    let (t_one, hits_one) = best(|| {
        let mut hits = 0;
        for &(s, e, digits) in &runs {
            for (i, re) in singles.iter().enumerate() {
                if digits >= mins[i] {
                    let input = regex_automata::Input::new(&hay).range(window(s, e));
                    hits += usize::from(re.search_with(&mut caches[i], &input).is_some());
                }
            }
        }
        hits
    });
    let mut cache = group.create_cache();
    let mut set_hits = PatternSet::new(group.pattern_len());
    let (t_set, hits_set) = best(|| {
        let mut hits = 0;
        for &(s, e, _) in &runs {
            set_hits.clear();
            let input = regex_automata::Input::new(&hay).range(window(s, e));
            group.which_overlapping_matches_with(&mut cache, &input, &mut set_hits);
            hits += set_hits.len();
        }
        hits
    });
    println!(
        "\n{} digit-anchored rules, {} digit runs of 4+ digits, windows of run +-64 bytes:",
        patterns.len(),
        runs.len()
    );
    println!("| digit rules | time | rule matches |\n|---|---:|---:|");
    println!("| one by one (as the engine) | {t_one:.2?} | {hits_one} |");
    println!("| one regex set, which_overlapping_matches | {t_set:.2?} | {hits_set} |");

    // 3. anchored at the keyword, or over the window
    println!("\nrules with max_before = 0, windows at their triggers:");
    println!("| rule | windows | unanchored | anchored | matches |\n|---|---:|---:|---:|---:|");
    let lower = hay.to_ascii_lowercase();
    for r in set.rules() {
        let rule = &r.rule;
        if !rule.starts_at_keyword() {
            continue;
        }
        let re = build(&datasieve::engine::expand_macros(&rule.regex));
        let longest = rule.max_len.unwrap_or(256);
        let mut windows = Vec::new();
        for k in &rule.keywords {
            let k = k.to_ascii_lowercase();
            let starts = lower.windows(k.len()).enumerate();
            for (at, _) in starts.filter(|(_, w)| *w == k.as_bytes()) {
                let near = &hay[at..(at + 24).min(hay.len())];
                let triggered = rule.followed_by.as_ref().is_none_or(|f| {
                    near.iter()
                        .take(f.within)
                        .any(|b| f.any_of.as_bytes().contains(b))
                });
                if triggered {
                    windows.push(at..(at + k.len() + longest).min(hay.len()));
                }
            }
        }
        let mut cache = re.create_cache();
        let mut run = |anchored: bool| {
            best(|| {
                windows
                    .iter()
                    .filter(|w| {
                        let input = regex_automata::Input::new(&hay).range((*w).clone());
                        let input = if anchored {
                            input.anchored(regex_automata::Anchored::Yes)
                        } else {
                            input
                        };
                        re.search_with(&mut cache, &input).is_some()
                    })
                    .count()
            })
        };
        let ((t_un, n_un), (t_an, n_an)) = (run(false), run(true));
        let per = |t: Duration| t / windows.len().max(1) as u32;
        println!(
            "| {} | {} | {:.0?} per window | {:.0?} per window | {n_un} / {n_an} |",
            rule.id,
            windows.len(),
            per(t_un),
            per(t_an)
        );
    }
}
