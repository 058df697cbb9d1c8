use super::*;
use crate::rules::RuleSet;

const TOKEN_RULE: &str = r#"
[[rule]]
id = "t.token"
name = "token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '(?-u:\b)(?P<value>tok_[a-z0-9]{8})(?-u:\b)'
"#;

#[test]
fn every_rule_example_passes() {
    // The data-driven test of the catalog: every positive example yields a kept
    // finding of its rule, no negative example does. Failures name the rule.
    let failures = check_examples(&RuleSet::builtin().unwrap()).unwrap();
    assert!(
        failures.is_empty(),
        "{} rule example failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The rules file of one credential rule `t.x` with these keywords (a TOML
/// array), regex and further keys.
fn rule_toml(keywords: &str, regex: &str, keys: &str) -> String {
    format!(
        "[[rule]]\nid = \"t.x\"\nname = \"x\"\ncategory = \"credential\"\nseverity = \"low\"\nkeywords = {keywords}\nregex = '{regex}'\n{keys}\n"
    )
}

/// A scanner of [`rule_toml`]'s rule.
fn one_rule(keywords: &str, regex: &str, keys: &str) -> Scanner {
    scanner_with(&rule_toml(keywords, regex, keys))
}

#[test]
fn value_group_and_offsets() {
    let s = scanner_with(TOKEN_RULE);
    let hay = b"x = tok_abcd1234; y = TOK_zzzz";
    let found = s.scan(hay, &ScanConfig::default());
    assert_eq!(found.len(), 1);
    assert_eq!(&hay[found[0].start..found[0].end], b"tok_abcd1234");
    assert_eq!(found[0].start, 4);
}

#[test]
fn window_edges_see_outside_context() {
    // The word boundary after the value must see the byte after the window.
    let s = scanner_with(TOKEN_RULE);
    let found = s.scan(b"tok_abcd1234x", &ScanConfig::default());
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn dense_keywords_do_not_blow_up() {
    let s = scanner_with(TOKEN_RULE);
    let mut hay = b"tok_".repeat(100_000);
    hay.extend_from_slice(b" tok_abcd1234 ");
    let found = s.scan(&hay, &ScanConfig::default());
    assert_eq!(found.len(), 1);
}

#[test]
fn chunked_scan_equals_whole_scan() {
    let s = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
    let mut hay = Vec::new();
    for i in 0..2000 {
        hay.extend_from_slice(
            format!("line {i} contact user{i}@mail-host.org and card 4556737586899855 ok\n")
                .as_bytes(),
        );
    }
    let whole = s.scan(&hay, &ScanConfig::default());
    assert!(whole.len() >= 4000, "{}", whole.len());
    for size in [1000, 4096, 65_536] {
        let mut parts = Vec::new();
        for r in crate::scan::chunk_ranges(&hay, size) {
            s.scan_range_into(&hay, r, &ScanConfig::default(), &mut parts, None);
        }
        parts.sort_by_key(|m| (m.start, m.end, m.rule));
        parts.dedup_by(|b, a| (a.start, a.end, a.rule) == (b.start, b.end, b.rule));
        assert_eq!(parts, whole, "chunk size {size}");
    }
}

#[test]
fn explain_keeps_dropped_candidates_with_reason() {
    let s = scanner_with(
        r#"
[[rule]]
id = "t.card"
name = "card"
category = "financial"
severity = "high"
anchor = { digits = { min = 13 } }
regex = '(?-u:\b)(?P<value>[0-9]{16})(?-u:\b)'
validators = ["luhn"]
"#,
    );
    let hay = b"a 4556737586899855 b 4556737586899856";
    let plain = s.scan(hay, &ScanConfig::default());
    assert_eq!(plain.len(), 1);
    let explained = s.scan(
        hay,
        &ScanConfig {
            explain: true,
            ..ScanConfig::default()
        },
    );
    assert_eq!(explained.len(), 2);
    assert!(explained[1].dropped);
    assert_eq!(explained[1].reason, Some("failed Luhn checksum"));
}

/// A rule for nine-digit numbers with the given `context = ...` line.
fn nine_digits_rule(context: &str) -> String {
    format!(
        r#"
[[rule]]
id = "t.nine"
name = "nine digits"
category = "government_id"
severity = "high"
anchor = {{ digits = {{ min = 9 }} }}
regex = '(?-u:\b)(?P<value>[0-9]{{9}})(?-u:\b)'
confidence = 0.6
{context}
"#
    )
}

#[test]
fn required_context_and_boost() {
    let s = scanner_with(&nine_digits_rule(
        r#"context = { words = ["ssn"], required = true, boost = 0.3 }"#,
    ));
    assert!(s
        .scan(b"order 918273645 shipped", &ScanConfig::default())
        .is_empty());
    let found = s.scan(b"SSN: 918273645", &ScanConfig::default());
    assert_eq!(found.len(), 1);
    assert!((found[0].confidence - 0.9).abs() < 1e-6);
}

/// Context words of required contexts are found by the keyword prefilter in and
/// around each block: a word in the block before the value's, or right after the
/// value, counts; a window reaching past what was searched scans for itself.
#[test]
fn required_context_across_block_boundaries() {
    let rules = nine_digits_rule(
        r#"context = { words = ["ssn", "social security"], required = true, window = 24 }"#,
    ) + r#"
[[rule]]
id = "t.wide"
name = "nine letters Q"
category = "pii"
severity = "low"
keywords = ["qqq"]
regex = 'qqq(?P<value>[a-z]{9})'
max_len = 9000
context = { words = ["wideword"], required = true, window = 24 }
"#;
    let s = scanner_with(&rules);
    let config = ScanConfig::default();
    for value_at in [BLOCK - 12, BLOCK - 4, BLOCK, BLOCK + 3, BLOCK + 20] {
        // context before the value, possibly in the previous block
        let mut hay = vec![b'.'; value_at - 8];
        hay.extend_from_slice(b" SSN is ");
        hay.extend_from_slice(b"918273645 and more");
        hay.resize(BLOCK * 2 + 100, b'.');
        let found = s.scan(&hay, &config);
        assert_eq!(found.len(), 1, "context before, value at {value_at}");
        assert_eq!(found[0].start, value_at);
        // context after the value, possibly in the next block
        let mut hay = vec![b'.'; value_at - 1];
        hay.extend_from_slice(b" 918273645 (social security)");
        hay.resize(BLOCK * 2 + 100, b'.');
        assert_eq!(s.scan(&hay, &config).len(), 1, "context after, {value_at}");
        // no context in reach: nothing
        let mut hay = vec![b'.'; value_at - 1];
        hay.extend_from_slice(b" 918273645 ");
        hay.resize(BLOCK * 2 + 100, b'.');
        assert!(s.scan(&hay, &config).is_empty(), "no context, {value_at}");
    }
    // a window of 9000 bytes after the keyword reaches past the searched margin:
    // the rule scans for its words itself
    let mut hay = vec![b'.'; BLOCK - 5];
    hay.extend_from_slice(b"qqqabcdefghi wideword");
    hay.resize(BLOCK + 12000, b'.');
    let found = s.scan(&hay, &config);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].start, BLOCK - 2);
    hay[BLOCK + 8..BLOCK + 16].copy_from_slice(b"........");
    assert!(s.scan(&hay, &config).is_empty());
}

#[test]
fn generic_rule_suppressed_by_specific() {
    let s = scanner_with(&format!(
        "{TOKEN_RULE}\n{}",
        r#"
[[rule]]
id = "t.generic"
name = "generic"
category = "credential"
severity = "medium"
generic = true
keywords = ["secret"]
regex = '(?i)secret\s*=\s*(?P<value>[a-z0-9_]{8,})'
"#
    ));
    let found = s.scan(b"secret = tok_abcd1234", &ScanConfig::default());
    assert_eq!(found.len(), 1);
    assert_eq!(s.rule(found[0].rule).id, "t.token");
    let found = s.scan(b"secret = qwertyuiop", &ScanConfig::default());
    assert_eq!(s.rule(found[0].rule).id, "t.generic");
}

#[test]
fn scanner_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
}

#[test]
fn left_boundary_macro_holds_after_escapes() {
    let s = scanner_with(
        r#"
[[rule]]
id = "t.digits"
name = "digits"
category = "pii"
severity = "low"
anchor = { digits = { min = 6 } }
regex = '{{lb}}(?P<value>[0-9]{6})\b'
"#,
    );
    let hay = br#"a\n183456 b 654721 x959999"#;
    let found = s.scan(hay, &ScanConfig::default());
    let values: Vec<&[u8]> = found.iter().map(|m| &hay[m.start..m.end]).collect();
    assert_eq!(values, vec![&b"183456"[..], &b"654721"[..]]);
}

#[test]
fn reserved_documentation_values_are_dropped_whatever_the_rule() {
    // pii.email sets placeholder_filter = false, yet example.com is nobody's mailbox.
    let s = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
    let hay = b"write to user42@example.com or jane.roe@corp-mail.net";
    let found = s.scan(hay, &ScanConfig::default());
    assert_eq!(found.len(), 1);
    assert_eq!(
        &hay[found[0].start..found[0].end],
        b"jane.roe@corp-mail.net"
    );
    let explained = s.scan(
        hay,
        &ScanConfig {
            explain: true,
            min_confidence: 0.5,
        },
    );
    assert_eq!(explained.len(), 2);
    assert!(explained[0].dropped);
    assert!(explained[0].reason.unwrap().contains("RFC 2606"));
}

struct NameDetector;

impl Detector for NameDetector {
    fn info(&self) -> RuleInfo {
        RuleInfo {
            id: "pii.person_name.test".into(),
            name: "Person name (test gazetteer)".into(),
            category: crate::Category::Pii,
            severity: crate::Severity::Medium,
            label: "NAME".into(),
            generic: false,
        }
    }
    fn detect(&self, hay: &[u8], out: &mut Vec<(Range<usize>, f32)>) {
        for (i, _) in hay.windows(5).enumerate().filter(|(_, w)| *w == b"Alice") {
            out.push((i..i + 5, 0.7));
        }
    }
}

#[test]
fn detectors_plug_in_next_to_rules() {
    let mut set = RuleSet::new();
    set.add_str("t.toml", TOKEN_RULE).unwrap();
    let s = Scanner::with_detectors(&set, vec![Box::new(NameDetector)]).unwrap();
    assert_eq!(s.rule_count(), 2);
    let found = s.scan(b"Alice sent tok_abcd1234", &ScanConfig::default());
    let ids: Vec<&str> = found.iter().map(|m| s.rule(m.rule).id.as_str()).collect();
    assert_eq!(ids, vec!["pii.person_name.test", "t.token"]);
    let strict = ScanConfig {
        min_confidence: 0.9,
        ..ScanConfig::default()
    };
    assert_eq!(s.scan(b"Alice", &strict).len(), 0);
}

#[test]
fn context_words_are_found_next_to_the_value_inside_the_match() {
    // The left boundary consumes the space after "tel", and the regex consumes the
    // "ssn=" prefix; both still count as context.
    let s = scanner_with(
        r#"
[[rule]]
id = "t.num"
name = "num"
category = "pii"
severity = "low"
anchor = { digits = { min = 6 } }
regex = '(?:^|[^0-9]\s|ssn=)(?P<value>[0-9]{6})\b'
context = { words = ["tel", "ssn="], required = true }
"#,
    );
    assert_eq!(s.scan(b"tel 654721", &ScanConfig::default()).len(), 1);
    assert_eq!(s.scan(b"ssn=654721", &ScanConfig::default()).len(), 1);
    assert!(s.scan(b"ref 654721", &ScanConfig::default()).is_empty());
}

#[test]
fn anchored_rules_have_small_windows() {
    // Rules found by byte anchors (digits, `@`, hex separators) meet candidates
    // everywhere; a large window makes neighbouring windows merge and the regex
    // run over most of the text. Bound them (a bounded regex or `max_len`).
    let set = RuleSet::builtin().unwrap();
    let mut wide = Vec::new();
    for r in set.rules() {
        let max_len = check_rule_regex(&r.rule).unwrap().max_len;
        if r.rule.anchor.is_some() && max_len > 256 {
            wide.push(format!("{} ({max_len})", r.rule.id));
        }
    }
    assert!(
        wide.is_empty(),
        "anchored rules with windows over 256 bytes: {}",
        wide.join(", ")
    );
}

#[test]
fn anchored_rules_match_a_bounded_length() {
    // A digit or separator run can be megabytes long, and the window around it is
    // the whole run: a regex with an unbounded part (`(?:-[0-9]+)*`) then makes one
    // match of the whole run (`government_id.in.aadhaar` took 1.5 s for a 15 MB run
    // of `1234-5678-...`). `max_len` bounds the window, not the regex: the check
    // asks for the regex itself to be bounded (the catalog passes it:
    // `every_rule_example_passes`).
    let set = rules_with(
        r#"
[[rule]]
id = "t.tail"
name = "tail"
category = "pii"
severity = "low"
anchor = { digits = { min = 9 } }
max_len = 64
regex = '(?:^|[^0-9])(?P<value>[0-9]{3}-[0-9]{2}-[0-9]{4}(?:-[0-9]+)*)\b'
examples = ["id 536-90-4399", "ssn 612-48-9135 ok"]
negative_examples = ["id 536904399", "ssn 61-248-9135"]
"#,
    );
    let failures = check_examples(&set).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("t.tail") && failures[0].contains("at most 1024 bytes"));
}

#[test]
fn narrowing_keys_change_no_finding_on_any_example() {
    // `max_before`, `followed_by`, `word_len`, the digit anchor's `min_dots`, the
    // digits in a row and run shapes found from each regex only narrow windows or
    // skip triggers:
    // with them and without them, every example and negative example of the
    // catalog (each rule's texts, scanned by the whole catalog) must give the same
    // findings, dropped candidates included.
    #[derive(serde::Serialize)]
    struct File {
        rule: Vec<crate::rules::Rule>,
    }
    let set = RuleSet::builtin().unwrap();
    let stripped: Vec<_> = set
        .rules()
        .iter()
        .map(|r| crate::rules::Rule {
            max_before: None,
            followed_by: None,
            word_len: 0,
            anchor: r.rule.anchor.map(|a| match a {
                crate::rules::Anchor::Digits {
                    min,
                    letters_before,
                    letter_after,
                    ..
                } => crate::rules::Anchor::Digits {
                    min,
                    letters_before,
                    letter_after,
                    min_dots: 0,
                    min_word: 0,
                    max_word: 0,
                },
                crate::rules::Anchor::HexRun { .. } => crate::rules::Anchor::HexSeparator,
                other => other,
            }),
            ..r.rule.clone()
        })
        .collect();
    let rules_with =
        |has: fn(&crate::rules::Rule) -> bool| set.rules().iter().filter(|r| has(&r.rule)).count();
    assert!(
        rules_with(|r| r.followed_by.is_some()) >= 6,
        "the generic assignment rules are expected to ask for an operator"
    );
    assert!(
        rules_with(|r| r.word_len > 0) >= 1,
        "the Airtable rule is expected to ask for a long word"
    );
    assert!(
        rules_with(|r| r.max_before.is_some()) >= 20,
        "the catalog is expected to narrow its anchored rules"
    );
    let mut wide_set = RuleSet::new();
    wide_set
        .add_str(
            "stripped.toml",
            &toml::to_string(&File { rule: stripped }).unwrap(),
        )
        .unwrap();
    let narrow = Scanner::new(&set).unwrap();
    let mut wide = Scanner::new(&wide_set).unwrap();
    let gated = Arc::get_mut(&mut wide.inner)
        .unwrap()
        .anchors
        .forget_digits_in_a_row();
    assert!(
        gated >= 30,
        "only {gated} digit rules ask for digits in a row"
    );
    let config = ScanConfig {
        explain: true,
        min_confidence: 0.0,
    };
    // `double_colon_below` skips hex runs that the rule's validator rejects: it
    // removes dropped candidates of its rules, never a kept finding.
    let double_colon: Vec<usize> = set
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            matches!(
                r.rule.anchor,
                Some(crate::rules::Anchor::HexRun { double_colon_below, .. }) if double_colon_below > 0
            )
        })
        .map(|(i, _)| i)
        .collect();
    assert!(!double_colon.is_empty());
    let mut texts = 0;
    let mut skipped = 0;
    // Each text alone, and with a long run of numbers joined to its first and
    // last digits (a run too long for the shape memo: the rules it wakes are
    // asked together, `digit_set`).
    let pad = "12 345 6.78 ".repeat(6);
    for r in set.rules() {
        for text in r.rule.examples.iter().chain(&r.rule.negative_examples) {
            for text in [text.clone(), format!("{pad}{text} {pad}")] {
                texts += 1;
                let a = narrow.scan(text.as_bytes(), &config);
                let mut b = wide.scan(text.as_bytes(), &config);
                let before = b.len();
                b.retain(|m| !(m.dropped && double_colon.contains(&m.rule)) || a.contains(m));
                skipped += before - b.len();
                assert_eq!(a, b, "{} example {text:?}", r.rule.id);
            }
        }
    }
    assert!(texts > 2000);
    assert!(
        skipped > 0,
        "a time like 12:30:45 is a negative IPv6 example"
    );
}

#[test]
fn followed_by_and_word_len_skip_triggers_before_the_regex() {
    // Regexes that would match at any trigger: only the keys decide.
    let rule = |keys: &str| one_rule(r#"["pat"]"#, "(?P<value>pat[a-z0-9_]*)", keys);
    let found = |s: &Scanner, text: &str| -> Vec<String> {
        s.scan(text.as_bytes(), &ScanConfig::default())
            .iter()
            .map(|m| text[m.start..m.end].to_string())
            .collect()
    };
    let text = "a pattern; patabcdefghijklmn; path=x";
    let plain = rule("");
    assert_eq!(
        found(&plain, text),
        ["pattern", "patabcdefghijklmn", "path"]
    );
    // word_len: the word starting at the keyword must be 17 bytes or more
    let long = rule("word_len = 17");
    assert_eq!(found(&long, text), ["patabcdefghijklmn"]);
    // followed_by: an `=` within 6 bytes of the keyword's start
    let assigned = rule("followed_by = { any_of = \"=\", within = 6 }");
    assert_eq!(found(&assigned, text), ["path"]);
}

/// The first match of `regex` in `hay[range]`, with the value span the capture
/// engines give.
fn captured(
    regex: &meta::Regex,
    group: Option<usize>,
    hay: &[u8],
    range: Range<usize>,
) -> Option<(Range<usize>, Range<usize>)> {
    let mut caps = regex.create_captures();
    regex.search_captures(&Input::new(hay).range(range), &mut caps);
    let m = caps.get_match()?;
    let value = group
        .and_then(|g| caps.get_group(g))
        .map_or(m.range(), |s| s.start..s.end);
    Some((m.range(), value))
}

/// Every match of `regex` in `hay[range]` (see [`captured`] and [`all_matches`]).
fn matches_with_captures(
    regex: &meta::Regex,
    group: Option<usize>,
    hay: &[u8],
    range: Range<usize>,
) -> Vec<(Range<usize>, Range<usize>)> {
    all_matches(|r| captured(regex, group, hay, r), range)
}

#[test]
fn values_derived_from_matches_are_those_of_the_capture_engines() {
    // For rules whose value follows from the match (most of the catalog), the
    // engine skips the capture engines: on every example, cut anywhere (the
    // window or the haystack ends right after the value, or inside it), the
    // derived value must be the captured one, or the derivation must defer.
    let set = RuleSet::builtin().unwrap();
    let (mut derived, mut deferred, mut rules) = (0, 0, 0);
    for loaded in set.rules() {
        let facts = check_rule_regex(&loaded.rule).unwrap();
        if facts.value == ValueSpan::Captures {
            continue;
        }
        rules += 1;
        let (regex, group) = RegexSource::of(&loaded.rule).compile().unwrap();
        for example in loaded
            .rule
            .examples
            .iter()
            .chain(&loaded.rule.negative_examples)
        {
            let hay = example.as_bytes();
            for cut in 0..=hay.len() {
                // the haystack ends at `cut`; or only the searched range does
                for (hay, end) in [(&hay[..cut], cut), (hay, cut)] {
                    for (m, value) in matches_with_captures(&regex, group, hay, 0..end) {
                        match facts.value.value(hay, m.clone()) {
                            Some(v) => {
                                derived += 1;
                                assert_eq!(
                                    v, value,
                                    "{}: match {m:?} of {example:?} cut at {cut}",
                                    loaded.rule.id
                                );
                            }
                            None => deferred += 1,
                        }
                    }
                }
            }
        }
    }
    assert!(rules > 150, "only {rules} rules derive their value");
    assert!(
        derived > 10 * deferred,
        "{derived} derived, {deferred} deferred"
    );
}

#[test]
fn value_span_shapes() {
    let facts = |regex: &str| {
        let rule = rules_with(&rule_toml(r#"["k"]"#, regex, ""));
        check_rule_regex(&rule.rules()[0].rule).unwrap().value
    };
    let boundary = |v: ValueSpan| match v {
        ValueSpan::Derived { boundary, .. } => boundary,
        ValueSpan::Captures => panic!("not derived"),
    };
    // value first, a boundary byte or the end after it
    let v = facts(r"(?P<value>k_[a-z]{4})(?:[^a-z_]|$)");
    assert!(boundary(v).is_some_and(|b| b.contains(b'q') && !b.contains(b' ')));
    assert_eq!(v.value(b"k_abcd k", 0..7), Some(0..6));
    assert_eq!(v.value(b"k_abcd", 0..6), Some(0..6));
    // at the haystack's end, a last byte outside the class may be either
    assert_eq!(v.value(b"k_abc!", 0..6), None);
    // fixed length after a variable prefix; a zero-width assertion after
    let v = facts(r"key\s*=\s*(?P<value>[a-f0-9]{8})\b");
    assert_eq!(
        v,
        ValueSpan::Derived {
            start: ValueStart::Fixed(8),
            boundary: None
        }
    );
    assert_eq!(v.value(b"key = 0123abcd", 0..14), Some(6..14));
    // after the left boundary: one byte in, none at the start, unknown after a
    // backslash or a non-word byte at the start
    let v = facts(r"{{lb}}(?P<value>[0-9]{3,5})(?:[^0-9]|$)");
    assert!(matches!(
        v,
        ValueSpan::Derived {
            start: ValueStart::LeftBoundary,
            ..
        }
    ));
    assert_eq!(v.value(b"a 1234 b", 1..7), Some(2..6));
    assert_eq!(v.value(b"1234", 0..4), Some(0..4));
    assert_eq!(v.value(b" 1234", 0..5), None);
    assert_eq!(v.value(b"x\\n1234", 1..7), None);
    // variable length after a prefix; a nested value; more after the value
    assert_eq!(facts(r"key=(?P<value>[a-f]{8,9})"), ValueSpan::Captures);
    assert_eq!(facts(r"(?:a|(?P<value>k[0-9]+))"), ValueSpan::Captures);
    assert_eq!(facts(r"(?P<value>k[0-9]+)@x"), ValueSpan::Captures);
}

/// Every match of `find` in `hay[range]`, searching on after each as the engine
/// does: (match, value).
fn all_matches(
    mut find: impl FnMut(Range<usize>) -> Option<(Range<usize>, Range<usize>)>,
    range: Range<usize>,
) -> Vec<(Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let Some((m, value)) = find(at..range.end) else {
            break;
        };
        at = if m.end > m.start { m.end } else { m.end + 1 };
        out.push((m, value));
    }
    out
}

/// A xorshift generator of numbers below `n`.
fn numbers(seed: u64) -> impl FnMut(usize) -> usize {
    let mut x = seed;
    move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    }
}

/// Compares a plain sequence with its regex on `rounds` haystacks made of the
/// examples (whole or cut, next to boundary bytes) and bytes of them, searched
/// over the whole haystack and over a random range; returns the matches compared.
fn compare_linear(
    id: &str,
    linear: &linear::Linear,
    source: &RegexSource,
    examples: &[&[u8]],
    rounds: usize,
    next: &mut impl FnMut(usize) -> usize,
) -> usize {
    let (regex, group) = source.compile().unwrap();
    let mut alphabet: Vec<u8> = b" \\nrt_-.=\"'\n\x00\xffaZ09/+:".to_vec();
    for e in examples {
        alphabet.extend_from_slice(e);
    }
    alphabet.sort_unstable();
    alphabet.dedup();
    let mut found = 0;
    for _ in 0..rounds {
        let mut hay = Vec::new();
        while hay.len() < 120 && next(4) != 0 {
            if !examples.is_empty() && next(3) == 0 {
                let e = examples[next(examples.len())];
                // a whole example, or its head or tail
                let (a, b) = match next(3) {
                    0 => (0, e.len()),
                    1 => (0, next(e.len() + 1)),
                    _ => (next(e.len() + 1), e.len()),
                };
                // right after or before a boundary (or not)
                const NEAR: [&[u8]; 9] =
                    [b"", b" ", b"\\n", b"\\t", b"x", b"_", b"\"", b"\\\\n", b"0"];
                hay.extend_from_slice(NEAR[next(NEAR.len())]);
                hay.extend_from_slice(&e[a..b]);
                hay.extend_from_slice(NEAR[next(NEAR.len())]);
            } else {
                for _ in 0..1 + next(6) {
                    hay.push(alphabet[next(alphabet.len())]);
                }
            }
        }
        let a = next(hay.len() + 1);
        let b = a + next(hay.len() - a + 1);
        for range in [0..hay.len(), a..b] {
            let native = all_matches(
                |r| {
                    linear.find(&hay, r.clone()).unwrap_or_else(|_| {
                        // (gave up: the regex answers; compared all the same)
                        captured(&regex, group, &hay, r)
                    })
                },
                range.clone(),
            );
            let by_regex = matches_with_captures(&regex, group, &hay, range.clone());
            assert_eq!(
                native,
                by_regex,
                "{id} on {:?} over {range:?}",
                String::from_utf8_lossy(&hay)
            );
            found += native.len();
        }
    }
    found
}

#[test]
fn plain_sequence_rules_match_as_their_regex() {
    // Rules read as plain sequences skip the regex engines: on haystacks made of
    // their own bytes, boundary bytes and examples, searched over any range, they
    // must find the matches and values the regex finds.
    let set = RuleSet::builtin().unwrap();
    let mut next = numbers(0x9E37_79B9_7F4A_7C15);
    let (mut rules, mut found) = (0, 0);
    for loaded in set.rules() {
        let facts = check_rule_regex(&loaded.rule).unwrap();
        let Some(linear) = facts.linear else {
            continue;
        };
        rules += 1;
        let examples: Vec<&[u8]> = loaded
            .rule
            .examples
            .iter()
            .chain(&loaded.rule.negative_examples)
            .map(|e| e.as_bytes())
            .collect();
        let source = RegexSource::of(&loaded.rule);
        found += compare_linear(&loaded.rule.id, &linear, &source, &examples, 600, &mut next);
    }
    assert!(rules >= 105, "only {rules} rules are plain sequences");
    assert!(found > 10_000, "only {found} matches compared");
}

#[test]
fn plain_sequences_of_every_shape() {
    // Each boundary before and after the value, on rules written for it; and
    // regexes that are not plain sequences (a repetition that could give bytes
    // to what follows, a first byte out of more than three, an alternation) are
    // left to the regex.
    let linear_of = |regex: &str| {
        let rule = rules_with(&rule_toml(r#"["k"]"#, regex, ""));
        let rule = rule.rules()[0].rule.clone();
        (
            check_rule_regex(&rule).unwrap().linear,
            RegexSource::of(&rule),
        )
    };
    let mut next = numbers(7);
    for (regex, examples) in [
        (
            r"\b(?P<value>tok_[a-z0-9]{4,8})\b",
            ["tok_ab12", "xtok_abcd9", "tok_abcdefghij"],
        ),
        (
            r"(?P<value>ab[0-9]{2,})(?:[^0-9]|$)",
            ["ab12", "ab1", "xab999x"],
        ),
        (
            r"{{lb}}(?P<value>k[a-f]{3}-[0-9]{2,5})",
            ["kabc-12", "\\nkfed-12345", "_kabc-99"],
        ),
        (r"(?P<value>ab[a-z]+)\b", ["abc", "abcd_", "ab"]),
        (
            r"{{lb}}(?P<value>[13][a-z0-9]{3,6})\b",
            ["1abc", "x3abc9", "\\n1ab12c"],
        ),
        (
            r"(?P<value>(?i:ab)[0-9]{4})",
            ["ab1234", "AB12345", "aB123"],
        ),
    ] {
        let (linear, source) = linear_of(regex);
        let linear = linear.unwrap_or_else(|| panic!("{regex} is a plain sequence"));
        let examples: Vec<&[u8]> = examples.iter().map(|e| e.as_bytes()).collect();
        let found = compare_linear(regex, &linear, &source, &examples, 3000, &mut next);
        assert!(found > 100, "{regex}: {found} matches compared");
    }
    for regex in [
        r"(?P<value>a[a-z]{2,5}[a-c])",
        r"(?P<value>[a-d][0-9]{4})",
        r"(?P<value>ab[a-z.]+)\b",
        r"(?P<value>ab(?:c|d)[0-9]{2})",
        r"x(?P<value>ab[0-9]{2})",
    ] {
        assert!(
            linear_of(regex).0.is_none(),
            "{regex} is not a plain sequence"
        );
    }
}

#[test]
fn any_of_finds_what_a_byte_set_finds() {
    // One to three distinct bytes are searched with memchr, more with a set: the
    // same answer as testing every byte against the set (`followed_by`, the first
    // byte of a plain sequence).
    let mut next = numbers(11);
    for any_of in [&b"="[..], b"=:", b":=:", b"=:.", b"=:.,", b""] {
        let fb = AnyOf::of(any_of);
        let set = ByteSet::of(any_of);
        assert!((0..=255u8).all(|b| fb.contains(b) == set.contains(b)));
        for _ in 0..2000 {
            let near: Vec<u8> = (0..next(40)).map(|_| b"ab=:.,x "[next(8)]).collect();
            assert_eq!(
                fb.find(&near),
                near.iter().position(|&b| set.contains(b)),
                "{any_of:?} in {near:?}"
            );
        }
    }
    assert!(matches!(AnyOf::of(b":=:"), AnyOf::Two(b':', b'=')));
}

#[test]
fn rules_starting_at_their_keywords_are_searched_there_only() {
    // `max_before = 0`: every match starts where a keyword does, so the regex runs
    // anchored at each keyword of a window. The findings are those of the same
    // rule searched over its whole windows (`max_before` unset), on haystacks of
    // keywords, near-keywords and values in any order.
    let rule = |max_before: &str| {
        one_rule(
            r#"["tok", "key"]"#,
            r"(?i:tok|key)[a-z]{0,3}\s?=\s?(?P<value>[0-9]{3,6})",
            max_before,
        )
    };
    let (anchored, whole) = (rule("max_before = 0"), rule(""));
    let mut next = numbers(5);
    let pieces: [&[u8]; 9] = [
        b"tok", b"KEY", b"ab", b"=", b" ", b"123", b"98765", b"x", b"tokab=",
    ];
    let mut found = 0;
    for _ in 0..3000 {
        let hay: Vec<u8> = (0..next(24))
            .flat_map(|_| pieces[next(pieces.len())].to_vec())
            .collect();
        let spans = |s: &Scanner| -> Vec<(usize, usize)> {
            s.scan(&hay, &ScanConfig::default())
                .iter()
                .map(|m| (m.start, m.end))
                .collect()
        };
        let a = spans(&anchored);
        assert_eq!(a, spans(&whole), "{:?}", String::from_utf8_lossy(&hay));
        found += a.len();
    }
    assert!(found > 1000, "{found} findings compared");
    let hay = b"tokx tok=123 tokab=456 key = 7890 tok=1";
    let values: Vec<&[u8]> = anchored
        .scan(hay, &ScanConfig::default())
        .iter()
        .map(|m| &hay[m.start..m.end])
        .collect();
    assert_eq!(values, [&b"123"[..], b"456", b"7890"]);
}

#[test]
fn catalog_rules_with_max_before_zero_start_at_their_keywords() {
    // The engine searches such rules only at their keywords: every match of
    // their regex on their examples (and on the examples with any prefix of the
    // regex's key names) must start where one of their keywords does.
    let set = RuleSet::builtin().unwrap();
    let mut checked = 0;
    for loaded in set.rules() {
        let rule = &loaded.rule;
        if !rule.starts_at_keyword() {
            continue;
        }
        let (regex, _) = RegexSource::of(rule).compile().unwrap();
        let keywords: Vec<String> = rule
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        let starts_keyword = |hay: &[u8], at: usize| {
            let rest = hay[at..].to_ascii_lowercase();
            keywords.iter().any(|k| rest.starts_with(k.as_bytes()))
        };
        let mut hays: Vec<Vec<u8>> = rule
            .examples
            .iter()
            .map(|e| e.clone().into_bytes())
            .collect();
        // every key name the regex accepts, with each separator
        for name in [
            "secret",
            "token",
            "api",
            "access",
            "auth",
            "private",
            "signing",
            "encryption",
            "master",
            "app",
            "session",
        ] {
            for sep in ["", "_", ".", "-"] {
                hays.push(format!("{name}{sep}key = \"Zq8xVb3Lm9Tr2Wk7Yp4N\"").into_bytes());
                hays.push(format!("{name}{sep}key: Zq8xVb3Lm9Tr2Wk7Yp4N\n").into_bytes());
            }
        }
        hays.push(b"Authorization: Bearer abc123def456ghi".to_vec());
        for hay in &hays {
            for (m, _) in matches_with_captures(&regex, None, hay, 0..hay.len()) {
                assert!(
                    starts_keyword(hay, m.start),
                    "{}: a match at {} of {:?} starts at no keyword",
                    rule.id,
                    m.start,
                    String::from_utf8_lossy(hay)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked} matches checked");
}

#[test]
fn searches_skip_digit_runs_where_no_match_starts() {
    // A regex search of a rule whose matches begin with a boundary byte, not a
    // digit, skips the digit run it would start in (a megabyte run holds no
    // start), after asking the haystack's start anchored (`^`). The engine's
    // search must find what the regex finds over the same ranges, for every such
    // catalog rule, on haystacks of its examples, digit runs and boundary bytes.
    let set = RuleSet::builtin().unwrap();
    let scanner = Scanner::new(&set).unwrap();
    let inner = &*scanner.inner;
    let mut scratch = scanner.take_scratch();
    let mut next = numbers(13);
    let (mut rules, mut found) = (0, 0);
    for (r, loaded) in set.rules().iter().enumerate() {
        let rule = &inner.rules[r];
        if !rule.starts_without_digit {
            continue;
        }
        rules += 1;
        let (regex, group) = RegexSource::of(&loaded.rule).compile().unwrap();
        let examples: Vec<&[u8]> = loaded.rule.examples.iter().map(|e| e.as_bytes()).collect();
        const PIECES: [&[u8]; 8] = [b"4111", b"0", b" ", b"-", b"\\n", b"x", b"+1 ", b"12345678"];
        for _ in 0..60 {
            let mut hay = Vec::new();
            while hay.len() < 100 && next(5) != 0 {
                match next(3) {
                    0 if !examples.is_empty() => {
                        hay.extend_from_slice(examples[next(examples.len())])
                    }
                    _ => hay.extend_from_slice(PIECES[next(PIECES.len())]),
                }
            }
            let a = next(hay.len() + 1);
            for range in [0..hay.len(), a..hay.len()] {
                let native = all_matches(
                    |q| {
                        find_match(&hay, rule, r, q, false, &mut scratch)
                            .map(|(s, e, value)| (s..e, value))
                    },
                    range.clone(),
                );
                let by_regex = matches_with_captures(&regex, group, &hay, range.clone());
                assert_eq!(
                    native,
                    by_regex,
                    "{} on {:?} over {range:?}",
                    loaded.rule.id,
                    String::from_utf8_lossy(&hay)
                );
                found += native.len();
            }
        }
    }
    assert!(rules > 50, "only {rules} rules start without a digit");
    assert!(found > 5_000, "only {found} matches compared");
}

/// `len` bytes or more of groups of one to five `7`s, each followed by one of
/// `separators` (a deterministic pseudo-random choice from `seed`), ending in a
/// digit: one digit run of ever new shapes, for the lazy DFAs of the digit rules.
pub(super) fn random_digit_groups(seed: u64, len: usize, separators: &[&str]) -> String {
    let mut state = seed;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut run = String::new();
    while run.len() < len {
        run.push_str(&"7".repeat(1 + next(5) as usize));
        run.push_str(separators[next(separators.len() as u64) as usize]);
    }
    run.push('1');
    run
}

#[test]
fn digit_rules_that_test_their_trigger_keep_the_runs_span_in_long_runs() {
    // `followed_by` is tested at the start of the trigger, a digit run's start:
    // in a run too long for the shape memo, rules that match somewhere get
    // windows around their matches from the digit set, but not a rule with a
    // trigger test (its span would start elsewhere). Two such rules wait for the
    // set (with one, the set is not asked).
    let toml = |checked: &str| {
        let rule = |id: &str, regex: &str| {
            format!(
                "[[rule]]\nid = \"t.{id}\"\nname = \"{id}\"\ncategory = \"pii\"\nseverity = \"low\"\n\
                 anchor = {{ digits = {{ min = 6 }} }}\nmax_before = 3\nmax_len = 16\n\
                 regex = '(?:^|[^0-9-])(?P<value>{regex})\\b'\n{checked}\n"
            )
        };
        rule("a", "[0-9]{3}-[0-9]{3}") + &rule("b", "[0-9]{3}-[0-9]{2}")
    };
    let text = format!(
        "id {}537-294 {} end",
        "12 34 ".repeat(10),
        "56 78 ".repeat(10)
    );
    let found = |s: &Scanner| -> Vec<(usize, usize, usize)> {
        s.scan(text.as_bytes(), &ScanConfig::default())
            .iter()
            .map(|m| (m.rule, m.start, m.end))
            .collect()
    };
    // without the test: found by its window around the match
    let plain = scanner_with(&toml(""));
    let at = text.find("537-294").unwrap();
    assert_eq!(found(&plain), [(0, at, at + 7)]);
    // with it: a `-` must follow the run's start within six bytes, and it does
    // not (`12 34 `), so no candidate, as without the set (a span starting at
    // the match, ` 537-2`, would pass)
    let checked = scanner_with(&toml("followed_by = { any_of = \"-\", within = 6 }"));
    assert_eq!(found(&checked), []);
    let mut unset = scanner_with(&toml("followed_by = { any_of = \"-\", within = 6 }"));
    Arc::get_mut(&mut unset.inner)
        .unwrap()
        .anchors
        .forget_digits_in_a_row();
    assert_eq!(found(&unset), found(&checked));
}

#[test]
fn a_byte_every_match_holds() {
    let required = |re: &str| {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(re)
            .unwrap();
        required_byte(&hir).map(char::from)
    };
    // The least common of those held: `+` before digits and spaces.
    assert_eq!(required(r"(?:^|[^0-9])\+[2-9][0-9]{6,12} ?"), Some('+'));
    assert_eq!(required(r"s\.[A-Za-z0-9]{24}"), Some('.'));
    // Alternatives: only what all of them hold.
    assert_eq!(required(r"a@b|c@d"), Some('@'));
    assert_eq!(required(r"a@b|c:d"), None);
    // Optional parts, classes of several bytes and case-insensitive letters hold
    // nothing for sure.
    assert_eq!(required(r"(?:\+)?[0-9]{7}"), None);
    assert_eq!(required(r"[+-][0-9]{7}"), None);
    assert_eq!(required(r"(?i)key[0-9]"), None);
    assert_eq!(required(r"(?:-[0-9]){2,}"), Some('-'));
}

#[test]
fn every_match_of_a_catalog_example_holds_its_rule_s_required_byte() {
    // The catalog's examples matched by each rule's own regex: the byte the
    // windows are tested for is in every match (else a window would be skipped
    // that holds one).
    let set = RuleSet::builtin().unwrap();
    let mut checked = 0;
    for loaded in set.rules() {
        let Some(b) = loaded.regex.required_byte else {
            continue;
        };
        let (regex, _) = RegexSource::of(&loaded.rule).compile().unwrap();
        for example in &loaded.rule.examples {
            for m in regex.find_iter(example.as_bytes()) {
                assert!(
                    example.as_bytes()[m.range()].contains(&b),
                    "{}: {:?} lacks {:?}",
                    loaded.rule.id,
                    &example[m.range()],
                    char::from(b)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} matches checked");
}
