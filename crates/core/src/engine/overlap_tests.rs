//! No value is reported twice: across the examples of the PII, financial, government
//! id, network and crypto catalogs, no two different rules keep findings whose value
//! spans overlap (a card that is also a phone number, an SSN that is also a phone...).

use super::*;
use crate::rules::RuleSet;

/// The rule files whose rules must not overlap one another.
const FILES: &[&str] = &[
    "patterns/pii.toml",
    "patterns/phone.toml",
    "patterns/government-ids.toml",
    "patterns/financial.toml",
    "patterns/network.toml",
    "patterns/crypto.toml",
];

#[test]
fn no_value_span_is_reported_by_two_rules() {
    let set = RuleSet::builtin().unwrap();
    let scanner = Scanner::new(&set).unwrap();
    let ours: Vec<bool> = set
        .rules()
        .iter()
        .map(|r| FILES.contains(&r.source.as_str()))
        .collect();
    let mut offenders = Vec::new();
    let mut texts = 0;
    for loaded in set
        .rules()
        .iter()
        .filter(|r| FILES.contains(&r.source.as_str()))
    {
        for text in loaded
            .rule
            .examples
            .iter()
            .chain(&loaded.rule.negative_examples)
        {
            texts += 1;
            let found: Vec<Match> = scanner
                .scan(text.as_bytes(), &ScanConfig::default())
                .into_iter()
                .filter(|m| !m.dropped && ours[m.rule])
                .collect();
            for (i, a) in found.iter().enumerate() {
                for b in &found[i + 1..] {
                    if a.rule != b.rule && a.start < b.end && b.start < a.end {
                        offenders.push(format!(
                            "{} {:?} and {} {:?} in {text:?} (example of {})",
                            scanner.rule(a.rule).id,
                            &text[a.start..a.end],
                            scanner.rule(b.rule).id,
                            &text[b.start..b.end],
                            loaded.rule.id,
                        ));
                    }
                }
            }
        }
    }
    assert!(texts > 100, "only {texts} example texts");
    assert!(
        offenders.is_empty(),
        "{} overlapping finding(s):\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

#[test]
fn cross_family_inputs_are_reported_once() {
    // Hand-made lines where two families could both claim a number.
    let set = RuleSet::builtin().unwrap();
    let scanner = Scanner::new(&set).unwrap();
    let lines = [
        "phone 4787 7893 2879 2170 card",
        "tel: +44 20 7946 0958, ssn 536-90-4399",
        "call 415-555-0132, IBAN DE32 9458 0730 2157 3681 93",
        "phone +1 (415) 555-0132 and (02) 9876 5432",
        "telefon 030 90182734 / mobile 07700 900123",
        "tel 03-1234-5678, 01 42 68 53 00, 55 1234 5678",
        "peer ::ffff:151.101.1.69 mac 3c:52:82:0a:7f:19",
        "DOB 14.03.1985 phone 612 345 678",
        "imei 354180578891485 card 375145061231007",
    ];
    let mut offenders = Vec::new();
    for text in lines {
        let found: Vec<Match> = scanner
            .scan(text.as_bytes(), &ScanConfig::default())
            .into_iter()
            .filter(|m| !m.dropped)
            .collect();
        for (i, a) in found.iter().enumerate() {
            for b in &found[i + 1..] {
                if a.rule != b.rule && a.start < b.end && b.start < a.end {
                    offenders.push(format!(
                        "{} {:?} and {} {:?} in {text:?}",
                        scanner.rule(a.rule).id,
                        &text[a.start..a.end],
                        scanner.rule(b.rule).id,
                        &text[b.start..b.end],
                    ));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn a_rule_yields_to_the_rules_it_names() {
    let scanner = scanner_with(
        r#"
[[rule]]
id = "t.weak"
name = "ten digits"
category = "pii"
severity = "low"
anchor = { digits = { min = 10 } }
regex = '\b[0-9]{3} [0-9]{3} [0-9]{4}\b'
yields_to = ["t.strong", "t.absent"]

[[rule]]
id = "t.strong"
name = "ten digits after ref"
category = "government_id"
severity = "high"
keywords = ["ref "]
regex = 'ref (?P<value>[0-9]{3} [0-9]{3} [0-9]{4})'
"#,
    );
    let ids = |hay: &str, config: &ScanConfig| -> Vec<(String, bool)> {
        scanner
            .scan(hay.as_bytes(), config)
            .iter()
            .map(|m| (scanner.rule(m.rule).id.clone(), m.dropped))
            .collect()
    };
    let config = ScanConfig::default();
    // where the stronger rule keeps the value, the weaker one is dropped ...
    assert_eq!(
        ids("ref 483 016 6134", &config),
        vec![("t.strong".to_string(), false)]
    );
    // ... elsewhere it stands
    assert_eq!(
        ids("tel 483 016 6134", &config),
        vec![("t.weak".to_string(), false)]
    );
    // --explain shows why it went
    let explain = ScanConfig {
        explain: true,
        ..ScanConfig::default()
    };
    let found = scanner.scan(b"ref 483 016 6134", &explain);
    let weak = found
        .iter()
        .find(|m| scanner.rule(m.rule).id == "t.weak")
        .expect("weak candidate reported with --explain");
    assert!(weak.dropped);
    assert_eq!(
        weak.reason,
        Some("overlaps a finding of a rule it yields to")
    );
}
