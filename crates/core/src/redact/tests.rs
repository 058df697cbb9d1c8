use proptest::prelude::*;

use super::*;
use crate::rules::RuleSet;

/// Small rules that do not depend on the catalog.
const RULES: &str = r#"
[[rule]]
id = "test.token"
name = "Test token"
category = "credential"
severity = "high"
label = "TOKEN"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{16})\b'

[[rule]]
id = "test.email"
name = "Email"
category = "pii"
severity = "medium"
label = "EMAIL"
anchor = "at"
regex = '''(?i)(?P<value>(?-u:\b)[a-z0-9][a-z0-9._%+'-]{0,63}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24})(?-u:\b)'''
placeholder_filter = false

[[rule]]
id = "test.card"
name = "Card"
category = "financial"
severity = "critical"
label = "CARD"
anchor = { digits = { min = 13 } }
regex = '{{lb}}(?P<value>[0-9]{4}(?:[ -]?[0-9]{4}){3})\b'
validators = ["luhn"]

[[rule]]
id = "test.ipv4"
name = "IPv4"
category = "network"
severity = "low"
label = "IPV4"
anchor = { digits = { min = 4 } }
regex = '{{lb}}(?P<value>(?:[0-9]{1,3}\.){3}[0-9]{1,3})\b'
"#;

fn rules(extra: &str) -> RuleSet {
    let mut set = RuleSet::new();
    set.add_str("test.toml", RULES).unwrap();
    if !extra.is_empty() {
        set.add_str("extra.toml", extra).unwrap();
    }
    set
}

fn redactor_with(extra: &str, specs: &[&str], tweak: impl FnOnce(&mut RedactOptions)) -> Redactor {
    let set = rules(extra);
    let specs: Vec<OperatorSpec> = specs.iter().map(|s| s.parse().unwrap()).collect();
    let plan = OperatorPlan::new(&specs);
    plan.check_rules(&set).unwrap();
    let mut opts = RedactOptions {
        plan,
        key: Some(b"test key".to_vec()),
        seed: 42,
        ..RedactOptions::default()
    };
    tweak(&mut opts);
    Redactor::new(Scanner::new(&set).unwrap(), opts).unwrap()
}

fn redactor(specs: &[&str]) -> Redactor {
    redactor_with("", specs, |_| {})
}

fn out(r: &Redactor, input: &str) -> String {
    let done = r.redact("doc.txt", input.as_bytes()).unwrap();
    assert!(done.records.balanced(), "{}", done.records);
    String::from_utf8(done.output.unwrap_or_else(|| input.as_bytes().to_vec())).unwrap()
}

const DOC: &str =
    "key tok_abcdefgh12345678 for jane.roe@corp-mail.net\ncard 4556 7375 8689 9855 from 10.1.2.3\n";

#[test]
fn placeholder_replaces_exact_spans_and_keeps_the_rest() {
    let r = redactor(&[]);
    assert_eq!(
        out(&r, DOC),
        "key [TOKEN] for [EMAIL]\ncard [CARD] from [IPV4]\n"
    );
    let done = r.redact("doc.txt", DOC.as_bytes()).unwrap();
    assert_eq!(done.findings.len(), 4);
    assert_eq!(done.findings[0].start, 4);
    assert_eq!(done.findings[0].rule.id, "test.token");
    assert_eq!(done.applied[&("test.card".to_string(), "placeholder")], 1);
    assert_eq!(
        done.records,
        RecordCounts {
            input: 1,
            output: 1,
            quarantined: 0,
            dropped: 0
        }
    );
}

#[test]
fn clean_input_is_returned_unchanged() {
    let r = redactor(&[]);
    let done = r.redact("a.txt", b"nothing here\n").unwrap();
    assert!(done.output.is_none());
    assert!(done.findings.is_empty());
    assert!(done.records.balanced());
}

#[test]
fn mask_keeps_length_and_keep_last() {
    let r = redactor(&["mask"]);
    assert_eq!(
        out(&r, DOC),
        "key ***_**************** for ****.***@****-****.***\ncard **** **** **** **** from **.*.*.*\n"
    );
    let r = redactor_with("", &["mask", "financial=mask:4"], |o| o.keep_last = 1);
    let o = out(&r, DOC);
    assert!(o.contains("card **** **** **** 9855 "), "{o}");
    assert!(
        o.contains("from **.*.*.3"),
        "--keep-last applies to plain mask: {o}"
    );
    let r = redactor_with("", &["mask"], |o| o.mask_char = '#');
    assert!(out(&r, DOC).contains("###_################"));
}

#[test]
fn hash_is_keyed_and_consistent_across_inputs_and_runs() {
    let r = redactor(&["hash"]);
    let a = out(&r, "from jane.roe@corp-mail.net\n");
    let b = out(&r, "to: jane.roe@corp-mail.net, cc: bob@corp-mail.net\n");
    let tok = |s: &str| s[s.find("[EMAIL:").unwrap()..][..16].to_string();
    assert_eq!(tok(&a), tok(&b));
    assert_eq!(
        tok(&a),
        pseudonym(b"test key", "EMAIL", b"jane.roe@corp-mail.net")
    );
    assert!(b.contains(&pseudonym(b"test key", "EMAIL", b"bob@corp-mail.net")));
    // Another run with the same key: same pseudonyms. Another key: different.
    assert_eq!(
        out(&redactor(&["hash"]), "from jane.roe@corp-mail.net\n"),
        a
    );
    let other = redactor_with("", &["hash"], |o| o.key = Some(b"other".to_vec()));
    assert_ne!(out(&other, "from jane.roe@corp-mail.net\n"), a);
}

#[test]
fn hash_without_a_key_is_refused() {
    let set = rules("");
    let opts = RedactOptions {
        plan: OperatorPlan::new(&["pii=hash".parse().unwrap()]),
        ..RedactOptions::default()
    };
    let err = Redactor::new(Scanner::new(&set).unwrap(), opts).unwrap_err();
    assert!(matches!(err, RedactError::MissingKey));
    assert!(err.to_string().contains("DATASIEVE_KEY"));
}

#[test]
fn synthetic_values_have_the_shape_and_are_not_found_again() {
    let r = redactor(&["synthetic"]);
    let o = out(&r, DOC);
    let words: Vec<&str> = o.split_whitespace().collect();
    assert!(words[1].starts_with("tok_") && words[1].len() == 20, "{o}");
    assert!(
        words[3].starts_with("user") && words[3].contains("@example."),
        "{o}"
    );
    assert!(words[5..9].join(" ").len() == 19, "{o}");
    let ip: std::net::Ipv4Addr = words[10].parse().unwrap();
    assert!(
        matches!(
            ip.octets()[..3],
            [192, 0, 2] | [198, 51, 100] | [203, 0, 113]
        ),
        "{o}"
    );
    // Nothing left for the same rules, so redacting again changes nothing.
    let again = r.redact("doc.txt", o.as_bytes()).unwrap();
    assert!(again.findings.is_empty(), "{:?}", again.findings);
    assert!(again.output.is_none());
    let done = r.redact("doc.txt", DOC.as_bytes()).unwrap();
    assert_eq!(done.rechecked, 0, "no fake needed a second pass");
    assert_eq!(done.applied.values().sum::<u64>(), 4);
    assert!(
        done.applied.keys().all(|(_, op)| *op == "synthetic"),
        "{:?}",
        done.applied
    );
}

#[test]
fn synthetic_is_deterministic_per_value_and_seed() {
    let r = redactor(&["synthetic"]);
    let a = out(&r, "a jane.roe@corp-mail.net b\n");
    let b = out(&r, "other text, same value: jane.roe@corp-mail.net\n");
    assert!(b.ends_with(&format!("{}\n", a.split_whitespace().nth(1).unwrap())));
    let other = redactor_with("", &["synthetic"], |o| o.seed = 43);
    assert_ne!(out(&other, "a jane.roe@corp-mail.net b\n"), a);
}

#[test]
fn synthetic_falls_back_to_placeholder_when_rules_still_find_the_fake() {
    // A rule with no placeholder filter finds any tok_ fake, EXAMPLE or not.
    let strict = r#"
[[rule]]
id = "strict.token"
name = "Strict token"
category = "credential"
severity = "high"
label = "STRICT"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{16})\b'
placeholder_filter = false
"#;
    let r = redactor_with(strict, &["synthetic"], |_| {});
    let done = r.redact("a.txt", b"tok_abcdefgh12345678\n").unwrap();
    assert_eq!(done.output.as_deref(), Some(&b"[STRICT]\n"[..]));
    assert_eq!(
        done.applied[&("strict.token".to_string(), "placeholder")],
        1
    );
}

#[test]
fn per_category_and_per_rule_operators() {
    let r = redactor(&[
        "mask",
        "credential=hash",
        "test.email=synthetic",
        "network=placeholder",
    ]);
    let o = out(&r, DOC);
    assert!(o.starts_with("key [TOKEN:"), "{o}");
    assert!(o.contains("@example."), "{o}");
    assert!(o.contains("card **** **** **** ****"), "{o}");
    assert!(o.ends_with("from [IPV4]\n"), "{o}");
}

#[test]
fn overlapping_findings_merge_and_the_most_severe_decides() {
    // A low-severity rule whose match covers the token and what follows it.
    let wide = r#"
[[rule]]
id = "wide.assignment"
name = "Assignment"
category = "pii"
severity = "low"
label = "ASSIGNMENT"
keywords = ["key "]
regex = 'key (?P<value>[a-z_0-9]+ for)'
placeholder_filter = false
"#;
    let r = redactor_with(wide, &["wide.assignment=mask"], |_| {});
    let done = r
        .redact("a.txt", b"key tok_abcdefgh12345678 for x\n")
        .unwrap();
    assert_eq!(done.findings.len(), 2);
    // One span over both values; the high-severity token decides: placeholder.
    assert_eq!(done.output.as_deref(), Some(&b"key [TOKEN] x\n"[..]));
    assert_eq!(done.applied.len(), 1);
}

#[test]
fn replacements_found_again_are_replaced_until_clean() {
    // A rule that finds the placeholder of another rule.
    let sneaky = r#"
[[rule]]
id = "sneaky.bracket"
name = "Bracketed token label"
category = "pii"
severity = "low"
label = "X"
keywords = ["[TOKEN]"]
regex = '(?P<value>\[TOKEN\])'
placeholder_filter = false
"#;
    let r = redactor_with(sneaky, &[], |_| {});
    let done = r.redact("a.txt", b"tok_abcdefgh12345678\n").unwrap();
    assert_eq!(done.output.as_deref(), Some(&b"[X]\n"[..]));
    assert_eq!(done.rechecked, 1);
    // A rule that finds every placeholder, its own included, never converges:
    // nothing is returned rather than an output that still holds findings.
    let greedy = r#"
[[rule]]
id = "greedy.bracket"
name = "Anything in brackets"
category = "pii"
severity = "low"
label = "Y"
keywords = ["["]
regex = '(?P<value>\[[A-Z]+\])'
placeholder_filter = false
"#;
    let r = redactor_with(greedy, &[], |_| {});
    let err = r.redact("a.txt", b"tok_abcdefgh12345678\n").unwrap_err();
    assert!(matches!(err, RedactError::NotConverged { .. }), "{err}");
    assert!(err.to_string().contains("a.txt"));
}

#[test]
fn min_severity_leaves_lower_findings_alone() {
    let r = redactor_with("", &[], |o| o.min_severity = Severity::High);
    assert_eq!(
        out(&r, DOC),
        "key [TOKEN] for jane.roe@corp-mail.net\ncard [CARD] from 10.1.2.3\n"
    );
}

#[test]
fn drop_record_on_plain_text_falls_back_to_placeholder() {
    let r = redactor(&["drop-record"]);
    let done = r.redact("a.txt", b"tok_abcdefgh12345678\n").unwrap();
    assert_eq!(done.output.as_deref(), Some(&b"[TOKEN]\n"[..]));
    assert_eq!(done.records.dropped, 0);
    assert!(done.records.balanced());
}

#[test]
fn binary_inputs_pass_through_unless_asked() {
    let r = redactor(&[]);
    let bin = b"\0\x01tok_abcdefgh12345678 ";
    let done = r.redact("a.bin", bin).unwrap();
    assert!(done.skipped_binary && done.output.is_none());
    assert!(done.records.balanced());
    let r = redactor_with("", &[], |o| o.scan.binary = true);
    let done = r.redact("a.bin", bin).unwrap();
    assert_eq!(done.output.as_deref(), Some(&b"\0\x01[TOKEN] "[..]));
}

#[test]
fn utf8_around_values_stays_valid() {
    let r = redactor(&["mask"]);
    let o = out(&r, "caf\u{e9} jane.roe@corp-mail.net \u{1F600}\n");
    assert_eq!(o, "caf\u{e9} ****.***@****-****.*** \u{1F600}\n");
}

#[test]
fn records_text_files_count_once() {
    let c = RecordCounts {
        input: 5,
        output: 3,
        quarantined: 1,
        dropped: 1,
    };
    assert!(c.balanced());
    assert_eq!(
        c.to_string(),
        "records: 5 in = 3 out + 1 quarantined + 1 dropped (ok)"
    );
    let bad = RecordCounts { output: 4, ..c };
    assert!(!bad.balanced());
    assert!(bad.to_string().ends_with("(MISMATCH)"));
}

#[test]
fn splice_applies_edits_and_deletions() {
    let input = b"aaa\nbbb\nccc\n";
    let out = splice(
        input,
        vec![(0..1, b"X".to_vec()), (5..6, b"Y".to_vec())],
        std::slice::from_ref(&(4..8)),
    );
    assert_eq!(out, b"Xaa\nccc\n");
}

proptest::proptest! {
    /// Records, some dropped, some with one edit inside: the output is the kept
    /// records, edited, in order (deletions given in any order).
    #[test]
    fn splice_keeps_the_edits_outside_deletions(
        records in proptest::collection::vec((1usize..12, proptest::bool::ANY, proptest::option::of((0usize..12, 0usize..12))), 0..40),
        reverse in proptest::bool::ANY,
    ) {
        let mut input = Vec::new();
        let mut edits = Vec::new();
        let mut deletions = Vec::new();
        let mut want = Vec::new();
        for (i, &(len, dropped, edit)) in records.iter().enumerate() {
            let start = input.len();
            let text: Vec<u8> = (0..len).map(|k| b'a' + ((i + k) % 26) as u8).collect();
            input.extend_from_slice(&text);
            let mut kept = text.clone();
            // (edits replace a non-empty value)
            if let Some((a, b)) = edit.filter(|(a, b)| a.min(&len) != b.min(&len)) {
                let (a, b) = (a.min(len), b.min(len));
                let (a, b) = (a.min(b), a.max(b));
                edits.push((start + a..start + b, b"#".to_vec()));
                kept.splice(a..b, *b"#");
            }
            if dropped {
                deletions.push(start..start + len);
            } else {
                want.extend_from_slice(&kept);
            }
        }
        if reverse {
            deletions.reverse();
        }
        proptest::prop_assert_eq!(splice(&input, edits, &deletions), want);
    }
}

// ---- record formats ---------------------------------------------------------

fn redacted(r: &Redactor, path: &str, input: &str) -> (String, Redacted) {
    let done = r.redact(path, input.as_bytes()).unwrap();
    assert!(done.records.balanced(), "{}", done.records);
    let out = String::from_utf8(
        done.output
            .clone()
            .unwrap_or_else(|| input.as_bytes().to_vec()),
    )
    .unwrap();
    (out, done)
}

const JSONL: &str = concat!(
    "{\"id\": 1, \"text\": \"nothing here\"}\n",
    "{\"id\":2,\"text\":\"caf\\u00e9\\tkey tok_abcdefgh12345678\\n\", \"to\": [\"jane.roe@corp-mail.net\"]}\n",
    "\n",
    "{\"z\": \"last\", \"a\": {\"card\": \"4556 7375 8689 9855\"}}"
);

#[test]
fn jsonl_values_are_replaced_in_decoded_strings_and_re_encoded() {
    let r = redactor(&[]);
    let (out, done) = redacted(&r, "chat.jsonl", JSONL);
    let lines: Vec<&str> = out.split('\n').collect();
    let input: Vec<&str> = JSONL.split('\n').collect();
    assert_eq!(lines[0], input[0], "untouched records are byte-identical");
    assert_eq!(lines[2], "", "blank lines stay");
    for l in lines.iter().filter(|l| !l.is_empty()) {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["text"], "caf\u{e9}\tkey [TOKEN]\n");
    assert_eq!(v["to"][0], "[EMAIL]");
    // Key order and layout outside the changed strings are kept.
    assert!(
        lines[1].starts_with("{\"id\":2,\"text\":\"caf"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[3], "{\"z\": \"last\", \"a\": {\"card\": \"[CARD]\"}}");
    assert_eq!(done.records.input, 3);
    assert_eq!(done.findings[0].record, Some(1));
    assert_eq!(
        done.findings[2].record,
        Some(3),
        "line numbers, blank lines counted"
    );
}

#[test]
fn values_hidden_by_json_escapes_are_found_and_replaced_exactly() {
    let r = redactor(&[]);
    let input = "{\"msg\": \"write to\\njane.roe@corp-mail.net\\tor \\u0074ok_abcdefgh12345678\", \"k\": 1}\n";
    let (out, _) = redacted(&r, "e.jsonl", input);
    assert_eq!(
        out,
        "{\"msg\": \"write to\\n[EMAIL]\\tor [TOKEN]\", \"k\": 1}\n"
    );
}

#[test]
fn jsonl_drop_record_removes_whole_records() {
    let r = redactor(&["drop-record", "pii=placeholder"]);
    let (out, done) = redacted(&r, "chat.jsonl", JSONL);
    assert_eq!(out, "{\"id\": 1, \"text\": \"nothing here\"}\n\n");
    assert_eq!(
        done.records,
        RecordCounts {
            input: 3,
            output: 1,
            quarantined: 0,
            dropped: 2
        }
    );
    assert_eq!(done.applied[&("test.token".to_string(), "drop-record")], 1);
    // Per rule: only records with a card go.
    let r = redactor(&["test.card=drop-record"]);
    let (out, done) = redacted(&r, "chat.jsonl", JSONL);
    assert_eq!(done.records.dropped, 1);
    assert!(out.contains("[TOKEN]") && !out.contains("card"));
}

#[test]
fn json_numbers_and_keys_are_re_encoded_as_strings() {
    let digits = r#"
[[rule]]
id = "test.account"
name = "Account number"
category = "financial"
severity = "high"
label = "ACCOUNT"
anchor = { digits = { min = 10 } }
regex = '{{lb}}(?P<value>[0-9]{10})\b'
placeholder_filter = false
"#;
    let r = redactor_with(digits, &["mask:2"], |_| {});
    let (out, _) = redacted(&r, "a.json", "{\n  \"acct\": 9876012345,\n  \"n\": 7\n}\n");
    assert_eq!(out, "{\n  \"acct\": \"********45\",\n  \"n\": 7\n}\n");
    serde_json::from_str::<serde_json::Value>(&out).unwrap();
}

const CSV: &str = "name,contact,note\r\nJane,jane.roe@corp-mail.net,\"said \"\"hi\"\"\ntok_abcdefgh12345678\"\r\nBob,none,plain\r\n";

#[test]
fn csv_cells_are_replaced_and_stay_valid_csv() {
    let r = redactor(&[]);
    let (out, done) = redacted(&r, "people.csv", CSV);
    assert_eq!(
        out,
        "name,contact,note\r\nJane,[EMAIL],\"said \"\"hi\"\"\n[TOKEN]\"\r\nBob,none,plain\r\n"
    );
    assert_eq!(done.records.input, 2);
    assert_eq!(done.findings[0].record, Some(0));
    // A replacement holding the delimiter is quoted.
    let r = redactor_with("", &["mask"], |o| o.mask_char = ',');
    let (out, _) = redacted(&r, "people.csv", CSV);
    assert!(out.contains("Jane,\",,,,.,,,@,,,,-,,,,.,,,\","), "{out}");
    // drop-record removes the row, header kept.
    let r = redactor(&["drop-record"]);
    let (out, done) = redacted(&r, "people.csv", CSV);
    assert_eq!(out, "name,contact,note\r\nBob,none,plain\r\n");
    assert_eq!(done.records.dropped, 1);
    // TSV.
    let r = redactor(&[]);
    let (out, _) = redacted(&r, "t.tsv", "a\tb\nx,tok_abcdefgh12345678\ty\n");
    assert_eq!(out, "a\tb\nx,[TOKEN]\ty\n");
}

#[test]
fn csv_header_values_are_redacted_but_never_dropped() {
    let r = redactor(&["drop-record"]);
    let (out, done) = redacted(&r, "h.csv", "tok_abcdefgh12345678,b\n1,2\n");
    assert_eq!(out, "[TOKEN],b\n1,2\n");
    assert_eq!(done.records.dropped, 0);
}

// ---- containers and Parquet ---------------------------------------------------

fn decompress(fmt: crate::format::Format, bytes: &[u8]) -> Vec<u8> {
    let mut remaining = u64::MAX;
    crate::read::decompress::decompress(fmt, bytes, &Default::default(), &mut remaining)
        .unwrap()
        .to_vec()
}

#[test]
fn compressed_streams_come_out_compressed_the_same_way() {
    use crate::format::Format;
    let r = redactor(&[]);
    let clean = "{\"t\":\"fine\"}\n";
    for (fmt, name) in [
        (Format::Gzip, "d.jsonl.gz"),
        (Format::Zstd, "d.jsonl.zst"),
        (Format::Bzip2, "d.jsonl.bz2"),
        (Format::Xz, "d.jsonl.xz"),
    ] {
        let packed = container::compress(fmt, JSONL.as_bytes()).unwrap();
        let done = r.redact(name, &packed).unwrap();
        let out = done.output.expect("changed");
        assert_eq!(
            crate::format::detect_magic(&out),
            Some(fmt),
            "{name} keeps its codec"
        );
        let inner = String::from_utf8(decompress(fmt, &out)).unwrap();
        assert!(
            inner.contains("[TOKEN]") && inner.contains("[EMAIL]"),
            "{inner}"
        );
        assert_eq!(inner.lines().next(), JSONL.lines().next());
        assert_eq!(done.records.input, 3, "records of the data inside");
        assert!(done.findings.iter().all(|f| &*f.path == name));
        // Nothing to redact: the compressed bytes are passed through untouched.
        let packed = container::compress(fmt, clean.as_bytes()).unwrap();
        assert!(r.redact(name, &packed).unwrap().output.is_none());
        // And the output redacts to itself.
        let again = r.redact(name, &out).unwrap();
        assert!(again.output.is_none() && again.findings.is_empty());
    }
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.add_directory("docs/", SimpleFileOptions::default())
        .unwrap();
    for (name, data) in members {
        w.start_file(*name, SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn zip_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

#[test]
fn zip_archives_are_rebuilt_with_sanitised_members() {
    let r = redactor(&[]);
    let gz = container::compress(crate::format::Format::Gzip, DOC.as_bytes()).unwrap();
    let zip = zip_of(&[
        ("docs/a.txt", DOC.as_bytes()),
        ("docs/clean.txt", b"nothing\n"),
        ("chat.jsonl", JSONL.as_bytes()),
        ("nested/notes.txt.gz", &gz),
    ]);
    let done = r.redact("bundle.zip", &zip).unwrap();
    let out = done.output.expect("changed");
    let members = zip_members(&out);
    let names: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "docs/",
            "docs/a.txt",
            "docs/clean.txt",
            "chat.jsonl",
            "nested/notes.txt.gz"
        ]
    );
    assert_eq!(
        String::from_utf8_lossy(&members[1].1),
        "key [TOKEN] for [EMAIL]\ncard [CARD] from [IPV4]\n"
    );
    assert_eq!(members[2].1, b"nothing\n");
    assert!(String::from_utf8_lossy(&members[3].1).contains("[TOKEN]"));
    let inner = decompress(crate::format::Format::Gzip, &members[4].1);
    assert!(String::from_utf8_lossy(&inner).starts_with("key [TOKEN]"));
    assert!(done
        .findings
        .iter()
        .any(|f| &*f.path == "bundle.zip!chat.jsonl"));
    assert_eq!(done.records.input, 1 + 1 + 3 + 1);
    assert!(r.redact("bundle.zip", &out).unwrap().output.is_none());
    let clean = zip_of(&[("x.txt", b"fine")]);
    assert!(r.redact("c.zip", &clean).unwrap().output.is_none());
}

#[test]
fn tar_archives_are_rebuilt_with_sanitised_members() {
    let r = redactor(&[]);
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/deep.txt", "d".repeat(120));
    for (name, data) in [
        ("a.txt", DOC.as_bytes()),
        ("b.txt", b"fine\n".as_slice()),
        (long.as_str(), DOC.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o640);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "link.txt", "a.txt").unwrap();
    let tar_bytes = b.into_inner().unwrap();
    let done = r.redact("t.tar", &tar_bytes).unwrap();
    let out = done.output.expect("changed");
    let mut ar = tar::Archive::new(&out[..]);
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mode = e.header().mode().unwrap();
        let link = e.link_name().unwrap().map(|l| l.display().to_string());
        let mut data = String::new();
        std::io::Read::read_to_string(&mut e, &mut data).unwrap();
        seen.push((name, mode, link, data));
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].0, "a.txt");
    assert_eq!(seen[0].1, 0o640, "header kept");
    assert!(seen[0].3.starts_with("key [TOKEN]"));
    assert_eq!(seen[1].3, "fine\n");
    assert_eq!(seen[2].0, long, "long names survive");
    assert!(seen[2].3.starts_with("key [TOKEN]"));
    assert_eq!(seen[3].2.as_deref(), Some("a.txt"));
    // A .tar.gz: both layers.
    let tgz = container::compress(crate::format::Format::Gzip, &tar_bytes).unwrap();
    let done = r.redact("t.tgz", &tgz).unwrap();
    let out = decompress(crate::format::Format::Gzip, &done.output.unwrap());
    assert!(r.redact("t.tar", &out).unwrap().output.is_none());
}

fn parquet_rows(bytes: &[u8]) -> Vec<String> {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes)).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect()
}

fn parquet_input() -> Vec<u8> {
    use crate::format::parquet::testutil::{write, Row};
    write(
        &[
            Row {
                id: 0,
                text: Some("nothing here"),
                messages: vec![],
            },
            Row {
                id: 1,
                text: None,
                messages: vec![("user", "hi"), ("assistant", "key tok_abcdefgh12345678 ok")],
            },
            Row {
                id: 2,
                text: Some("mail jane.roe@corp-mail.net"),
                messages: vec![("user", "tok_abcdefgh12345678")],
            },
            Row {
                id: 3,
                text: Some("bye"),
                messages: vec![("user", "a"), ("tool", "b")],
            },
        ],
        3,
    )
}

#[test]
fn parquet_is_rewritten_with_the_same_schema_and_row_groups() {
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    let r = redactor(&[]);
    let input = parquet_input();
    let done = r.redact("t.parquet", &input).unwrap();
    let out = done.output.expect("changed");
    let before = parquet_rows(&input);
    let after = parquet_rows(&out);
    assert_eq!(after.len(), 4);
    assert_eq!(after[0], before[0]);
    assert_eq!(after[3], before[3]);
    assert!(
        after[1].contains("\"key [TOKEN] ok\"") && after[1].contains("\"hi\""),
        "{}",
        after[1]
    );
    assert!(
        after[2].contains("\"mail [EMAIL]\"") && after[2].contains("\"[TOKEN]\""),
        "{}",
        after[2]
    );
    let meta = |b: &[u8]| {
        let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(b)).unwrap();
        let m = reader.metadata().clone();
        (
            m.file_metadata().schema_descr().root_schema().clone(),
            m.row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect::<Vec<_>>(),
            m.row_group(0).column(1).compression(),
        )
    };
    assert_eq!(meta(&out), meta(&input));
    assert_eq!(done.records.input, 4);
    let (left, rows) = r.findings("t.parquet", &out).unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(rows, 4);
    assert!(r.redact("t.parquet", &out).unwrap().output.is_none());
}

#[test]
fn parquet_drop_record_removes_rows_from_every_column() {
    let r = redactor(&["drop-record", "pii=mask"]);
    let input = parquet_input();
    let done = r.redact("t.parquet", &input).unwrap();
    assert_eq!(
        done.records,
        RecordCounts {
            input: 4,
            output: 2,
            quarantined: 0,
            dropped: 2
        }
    );
    let after = parquet_rows(&done.output.unwrap());
    let before = parquet_rows(&input);
    assert_eq!(after, vec![before[0].clone(), before[3].clone()]);
}

// ---- property tests: random documents with planted values --------------------

fn planted() -> impl Strategy<Value = String> {
    prop_oneof![
        "tok_[a-z0-9]{16}",
        "[a-z][a-z0-9.]{0,8}[a-z0-9]@[a-z]{2,10}\\.(com|net|io)",
        prop::sample::select(vec![
            "4556 7375 8689 9855",
            "4556-7375-8689-9855",
            "5425233430109903",
            "4916338506082832",
        ])
        .prop_map(str::to_string),
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ,.:=\"'()\\[\\]{}]{0,30}",
        Just("\n".to_string()),
        "caf\u{e9} \u{1F600} na\u{ef}ve",
        "[A-Za-z0-9_@.-]{0,24}",
    ]
}

/// Appends a planted value so that it stands alone: spaces around it, and a `|`
/// first when the text ends with a digit (`2000 4556 7375 8689 9855` is one longer
/// number, which the card rules deliberately do not report as a card).
fn plant(text: &mut String, value: &str) {
    if text.ends_with(|c: char| c.is_ascii_digit()) {
        text.push('|');
    }
    text.push(' ');
    text.push_str(value);
    text.push(' ');
}

fn document() -> impl Strategy<Value = (String, Vec<String>)> {
    prop::collection::vec((filler(), prop::option::of(planted())), 0..12).prop_map(|parts| {
        let mut doc = String::new();
        let mut values = Vec::new();
        for (fill, value) in parts {
            doc.push_str(&fill);
            if let Some(v) = value {
                plant(&mut doc, &v);
                values.push(v);
            }
        }
        (doc, values)
    })
}

fn operator_specs() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "placeholder",
            "mask",
            "mask:4",
            "hash",
            "synthetic",
            "drop-record",
            "pii=synthetic",
            "credential=hash",
            "financial=mask:4",
            "network=synthetic",
            "test.token=synthetic",
        ]),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Redact, rescan: nothing at or above the threshold; redact again: byte for
    /// byte the same; records balance; planted values are gone.
    #[test]
    fn redaction_is_complete_idempotent_and_balanced(
        (doc, values) in document(),
        specs in operator_specs(),
        seed in any::<u64>(),
    ) {
        let r = redactor_with("", &specs, |o| o.seed = seed);
        let done = r.redact("doc.txt", doc.as_bytes()).unwrap();
        prop_assert!(done.records.balanced(), "{}", done.records);
        let output = done.output.clone().unwrap_or_else(|| doc.as_bytes().to_vec());
        let text = String::from_utf8(output.clone()).expect("output stays UTF-8");
        let (left, records) = r.findings("doc.txt", &output).unwrap();
        prop_assert!(left.is_empty(), "still found: {:?} in {:?}", left, text);
        prop_assert_eq!(records, 1);
        let again = r.redact("doc.txt", &output).unwrap();
        prop_assert!(again.output.is_none(), "second redaction changed {:?}", text);
        for v in &values {
            prop_assert!(!text.contains(v.as_str()), "{:?} left in {:?}", v, text);
        }
        for f in &done.findings {
            prop_assert!(f.start < f.end && f.end as usize <= doc.len());
        }
    }
}

/// Every positive example of the catalog, redacted with `synthetic`: nothing is
/// found again, and nearly every value keeps a synthetic shape rather than
/// falling back to a placeholder.
#[test]
fn synthetic_fakes_of_catalog_examples_are_not_found_again() {
    let set = RuleSet::builtin().unwrap();
    let r = Redactor::new(
        Scanner::new(&set).unwrap(),
        RedactOptions {
            plan: OperatorPlan::all(Operator::Synthetic),
            seed: 1,
            ..RedactOptions::default()
        },
    )
    .unwrap();
    let (mut synthetic, mut total) = (0, 0);
    for rule in set.rules() {
        for ex in &rule.rule.examples {
            let done = r.redact("x.txt", ex.as_bytes()).unwrap();
            let out = done
                .output
                .clone()
                .unwrap_or_else(|| ex.as_bytes().to_vec());
            let (left, _) = r.findings("x.txt", &out).unwrap();
            assert!(
                left.is_empty(),
                "{}: {:?} left in {:?}",
                rule.rule.id,
                left,
                out
            );
            for ((_, op), n) in &done.applied {
                total += n;
                if *op == "synthetic" {
                    synthetic += n;
                }
            }
        }
    }
    assert!(total > 0);
    assert!(
        synthetic * 10 >= total * 9,
        "only {synthetic} of {total} values stayed synthetic"
    );
}

fn jsonl_document() -> impl Strategy<Value = (String, Vec<String>)> {
    let value = prop_oneof![
        planted().prop_map(Some),
        "[a-z \\n\t\"\\\\/\u{e9}]{0,12}".prop_map(|_| None),
    ];
    let record = prop::collection::vec(("[a-z]{1,6}", filler(), value), 0..4);
    prop::collection::vec(record, 0..10).prop_map(|records| {
        let mut doc = String::new();
        let mut values = Vec::new();
        for fields in records {
            let mut obj = serde_json::Map::new();
            for (key, fill, v) in fields {
                let mut text = fill;
                if let Some(v) = v {
                    plant(&mut text, &v);
                    values.push(v);
                }
                obj.insert(key, serde_json::Value::String(text));
            }
            doc.push_str(&serde_json::to_string(&obj).unwrap());
            doc.push('\n');
        }
        (doc, values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// JSON Lines: every output line is valid JSON, untouched lines are identical,
    /// nothing is found again, a second redaction changes nothing, records balance.
    #[test]
    fn jsonl_redaction_keeps_valid_json_and_untouched_records(
        (doc, values) in jsonl_document(),
        specs in operator_specs(),
        seed in any::<u64>(),
    ) {
        let r = redactor_with("", &specs, |o| o.seed = seed);
        let done = r.redact("d.jsonl", doc.as_bytes()).unwrap();
        prop_assert!(done.records.balanced(), "{}", done.records);
        let output = done.output.clone().unwrap_or_else(|| doc.as_bytes().to_vec());
        let text = String::from_utf8(output.clone()).unwrap();
        let touched: std::collections::BTreeSet<u64> =
            done.findings.iter().filter_map(|f| f.record).collect();
        let kept: Vec<(usize, &str)> = doc
            .lines()
            .enumerate()
            .filter(|(i, _)| !touched.contains(&(*i as u64)))
            .collect();
        for line in text.lines() {
            prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{}", line);
        }
        for (_, line) in kept {
            prop_assert!(text.lines().any(|l| l == line), "untouched {:?} changed", line);
        }
        let (left, _) = r.findings("d.jsonl", &output).unwrap();
        prop_assert!(left.is_empty(), "still found: {:?}", left);
        prop_assert!(r.redact("d.jsonl", &output).unwrap().output.is_none());
        for v in &values {
            prop_assert!(!text.contains(v.as_str()), "{:?} left in {:?}", v, text);
        }
    }
}
