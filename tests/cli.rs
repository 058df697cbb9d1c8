//! CLI integration tests: one test binary, each test in its own temp dir.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A test rule file that does not depend on the built-in catalog.
const TEST_RULES: &str = r#"
[[rule]]
id = "test.token"
name = "Test token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{16})\b'
examples = ["a tok_abcdefgh12345678", "tok_zzzzzzzz87654321 b"]
negative_examples = ["tok_short", "tok_ABCDEFGH12345678"]
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.write("rules/test.toml", TEST_RULES);
        env
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
    /// `datasieve` running in the temp dir with only the test rules.
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("datasieve").unwrap();
        c.current_dir(self.dir.path());
        c
    }
    fn scan(&self, args: &[&str]) -> Command {
        let mut c = self.cmd();
        c.args(["scan", "--no-builtin-rules", "--rules", "rules/test.toml"])
            .args(args);
        c
    }
}

fn jsonl(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn exit_codes_clean_findings_usage() {
    let env = Env::new();
    env.write("clean.txt", "nothing to see here\n");
    env.write("dirty.txt", "key tok_abcdefgh12345678\n");
    env.scan(&["clean.txt"]).assert().code(0);
    env.scan(&["dirty.txt"]).assert().code(1);
    env.scan(&["--format", "bogus", "clean.txt"])
        .assert()
        .code(2);
    env.cmd().args(["scan"]).assert().code(2);
    env.scan(&["missing-file.txt"]).assert().code(2);
    env.scan(&["--min-confidence", "2", "clean.txt"])
        .assert()
        .code(2);
}

#[test]
fn jsonl_has_required_keys_and_exact_offsets() {
    let env = Env::new();
    let text = "line one\n  secret tok_abcdefgh12345678 end\n";
    env.write("a.txt", text);
    let out = env
        .scan(&["--format", "jsonl", "--show-secrets", "a.txt"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    for key in [
        "path",
        "start",
        "end",
        "line",
        "column",
        "rule",
        "category",
        "severity",
        "confidence",
        "match",
    ] {
        assert!(r.get(key).is_some(), "missing {key} in {r}");
    }
    let (s, e) = (
        r["start"].as_u64().unwrap() as usize,
        r["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[s..e], "tok_abcdefgh12345678");
    assert_eq!(r["line"], 2);
    assert_eq!(r["column"], 10);
    assert_eq!(r["rule"], "test.token");
    assert_eq!(r["category"], "credential");
    assert_eq!(r["severity"], "high");
    assert_eq!(r["match"], "tok_abcdefgh12345678");
    assert_eq!(r["path"], "a.txt");
}

#[test]
fn values_are_masked_unless_asked() {
    let env = Env::new();
    env.write("a.txt", "tok_abcdefgh12345678\n");
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = env
            .scan(&["--format", format, "a.txt"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("tok_abcdefgh12345678"),
            "{format} leaked the secret:\n{text}"
        );
        assert!(
            text.contains("tok_****5678"),
            "{format} has no masked value:\n{text}"
        );
        let out = env
            .scan(&["--format", format, "--show-secrets", "a.txt"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("tok_abcdefgh12345678"),
            "{format} --show-secrets"
        );
    }
}

#[test]
fn every_output_format_is_well_formed() {
    let env = Env::new();
    env.write("d/a.txt", "x tok_abcdefgh12345678\n");
    env.write("d/b.txt", "y tok_qqqqqqqq12345678 z tok_rrrrrrrr12345678\n");
    let run = |f: &str| {
        String::from_utf8(
            env.scan(&["--format", f, "d"])
                .assert()
                .code(1)
                .get_output()
                .stdout
                .clone(),
        )
        .unwrap()
    };
    let human = run("human");
    assert!(
        human.contains("d/a.txt") && human.contains("d/b.txt") && human.contains("test.token"),
        "{human}"
    );
    assert!(human.find("d/a.txt").unwrap() < human.find("d/b.txt").unwrap());
    let json: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 3);
    assert_eq!(json["summary"]["findings"], 3);
    assert_eq!(json["summary"]["by_rule"]["test.token"], 3);
    assert_eq!(jsonl(run("jsonl").as_bytes()).len(), 3);
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["ruleId"], "test.token");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"],
        "test.token"
    );
}

#[test]
fn output_order_is_deterministic() {
    let env = Env::new();
    for i in 0..40 {
        env.write(
            &format!("many/f{i:02}.txt"),
            format!("tok_abcdefgh1234{i:04}\n").repeat(3),
        );
    }
    let first = env
        .scan(&["--format", "jsonl", "many"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    for threads in ["1", "2", "4"] {
        let again = env
            .scan(&["--format", "jsonl", "-j", threads, "many"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        assert_eq!(first, again, "threads {threads}");
    }
    assert_eq!(jsonl(&first).len(), 120);
}

#[test]
fn summary_counts_by_rule_and_category() {
    let env = Env::new();
    env.write("a.txt", "tok_abcdefgh12345678 tok_bbbbbbbb12345678\n");
    let out = env
        .scan(&["--summary", "a.txt"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Summary: 2 finding(s)"), "{text}");
    assert!(
        text.contains("credential") && text.contains("test.token"),
        "{text}"
    );
    // Machine formats keep stdout clean and put the summary on stderr.
    let assert = env
        .scan(&["--summary", "--format", "jsonl", "a.txt"])
        .assert()
        .code(1);
    assert_eq!(jsonl(&assert.get_output().stdout).len(), 2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("Summary: 2 finding(s)"));
}

#[test]
fn reads_stdin() {
    let env = Env::new();
    let out = env
        .scan(&["--format", "jsonl", "-"])
        .write_stdin("from a pipe tok_abcdefgh12345678\n")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["path"], "-");
    assert_eq!(rows[0]["start"], 12);
    env.scan(&["-"]).write_stdin("clean\n").assert().code(0);
}

#[test]
fn binary_files_skipped_unless_asked() {
    let env = Env::new();
    let mut bin = b"\x00\x01\x02binary tok_abcdefgh12345678\x00".to_vec();
    bin.extend(std::iter::repeat_n(0u8, 100));
    env.write("blob.bin", &bin);
    env.write("text.txt", "fine\n");
    let a = env.scan(&["blob.bin", "text.txt"]).assert().code(0);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("blob.bin") && err.contains("binary"), "{err}");
    env.scan(&["--binary", "blob.bin"]).assert().code(1);
    // --quiet silences the note
    let a = env.scan(&["--quiet", "blob.bin"]).assert().code(0);
    assert!(a.get_output().stderr.is_empty());
}

#[cfg(unix)]
#[test]
fn unreadable_input_is_reported_and_run_continues() {
    let env = Env::new();
    env.write("good.txt", "tok_abcdefgh12345678\n");
    std::os::unix::fs::symlink(env.path("nowhere"), env.path("broken-link")).unwrap();
    let a = env
        .scan(&["--format", "jsonl", "broken-link", "good.txt"])
        .assert()
        .code(1);
    let rows = jsonl(&a.get_output().stdout);
    assert_eq!(rows.len(), 1, "the readable file is still scanned");
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("broken-link"), "error names the file: {err}");
    // Human format reports the error in the report itself.
    let a = env.scan(&["broken-link", "good.txt"]).assert().code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("broken-link: error"));
    // --strict turns any failed input into exit 2.
    env.scan(&["--strict", "broken-link", "good.txt"])
        .assert()
        .code(2);
    // Only unreadable inputs: nothing could be scanned.
    env.scan(&["broken-link"]).assert().code(2);
}

#[test]
fn secret_split_by_chunk_boundary_is_found_once() {
    let env = Env::new();
    // Lines of 100 bytes; with 4 KiB chunks, boundaries fall after the newline that
    // follows each 4 KiB mark. Place tokens on every line so several straddle the
    // nominal chunk boundary offsets.
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..400 {
        let pad = "p".repeat(70);
        let token = format!("tok_abcdefgh{:08}", i);
        expected.push(text.len() + pad.len() + 1);
        text.push_str(&format!("{pad} {token}\n"));
        // a line that is only a token, splitting across 4096 multiples
        text.push_str(&format!(
            "{}tok_zzzzzzzz{:08}\n",
            "q".repeat(40 + (i % 60)),
            i
        ));
    }
    env.write("big.txt", &text);
    let whole = env
        .scan(&["--format", "jsonl", "big.txt"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let chunked = env
        .scan(&[
            "--format",
            "jsonl",
            "--chunk-size",
            "4096",
            "-j",
            "2",
            "big.txt",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&whole).len(), 800);
    assert_eq!(whole, chunked);
    let starts: Vec<usize> = jsonl(&chunked)
        .iter()
        .filter(|r| r["match"].as_str().unwrap().starts_with("tok_"))
        .map(|r| r["start"].as_u64().unwrap() as usize)
        .collect();
    for e in &expected {
        assert!(starts.contains(e), "missing token at {e}");
    }
}

#[test]
fn secret_on_a_line_longer_than_the_chunk_is_found() {
    let env = Env::new();
    // One line longer than the chunk size: chunks end on newlines, so the line is
    // scanned whole.
    let mut text = "a".repeat(10_000);
    text.push_str(" tok_abcdefgh12345678 ");
    text.push_str(&"b".repeat(10_000));
    env.write("long.txt", &text);
    let out = env
        .scan(&["--format", "jsonl", "--chunk-size", "1024", "long.txt"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&out)[0]["start"], 10_001);
}

#[test]
fn bad_rule_file_is_rejected_with_file_rule_and_reason() {
    let env = Env::new();
    env.write("a.txt", "x\n");
    env.write("bad/r.toml", "[[rule]]\nid='my.rule'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['x']\nregex='(x'\n");
    let a = env
        .cmd()
        .args(["scan", "--rules", "bad/r.toml", "a.txt"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        err.contains("bad/r.toml") && err.contains("my.rule") && err.contains("regex"),
        "{err}"
    );
    env.write("bad2/r.toml", "this is not toml [");
    let a = env
        .cmd()
        .args(["scan", "--rules", "bad2/r.toml", "a.txt"])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("bad2/r.toml"));
}

#[test]
fn user_rules_add_to_builtin_rules() {
    let env = Env::new();
    env.write(
        "a.txt",
        "mail ann.lee@post-office.org and tok_abcdefgh12345678\n",
    );
    let out = env
        .cmd()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--rules",
            "rules/test.toml",
            "a.txt",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rules: Vec<String> = jsonl(&out)
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rules, vec!["pii.email", "test.token"]);
}

#[test]
fn rules_lists_human_and_json_and_checks_examples() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["rules", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let list: Value = serde_json::from_slice(&out).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 40, "{} rules", list.len());
    assert!(list
        .iter()
        .any(|r| r["id"] == "pii.email" && r["category"] == "pii"));
    let out = env
        .cmd()
        .args(["rules"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("pii.email") && text.contains(&format!("{} rules", list.len())));
    env.cmd().args(["rules", "check"]).assert().code(0);
    // A rule whose example does not match fails the check, naming the rule.
    env.write("r/broken.toml", "[[rule]]\nid='x.broken'\nname='n'\ncategory='pii'\nseverity='low'\nkeywords=['zz']\nregex='zz[0-9]{3}'\nexamples=['zz12','zz123']\nnegative_examples=['a','b']\n");
    let a = env
        .cmd()
        .args([
            "rules",
            "check",
            "--no-builtin-rules",
            "--rules",
            "r/broken.toml",
        ])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("x.broken"));
}

#[test]
fn explain_and_min_confidence() {
    let env = Env::new();
    env.write(
        "r/card.toml",
        "[[rule]]\nid='t.card'\nname='card'\ncategory='financial'\nseverity='high'\nanchor={digits={min=13}}\nregex='{{lb}}(?P<value>[0-9]{16})\\b'\nvalidators=['luhn']\nconfidence=0.7\n",
    );
    env.write("a.txt", "good 4556737586899855 bad 4556737586899856\n");
    let base = [
        "scan",
        "--no-builtin-rules",
        "--rules",
        "r/card.toml",
        "--format",
        "jsonl",
    ];
    let out = env
        .cmd()
        .args(base)
        .arg("a.txt")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(jsonl(&out).len(), 1);
    let out = env
        .cmd()
        .args(base)
        .args(["--explain", "a.txt"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["dropped"], true);
    assert_eq!(rows[1]["reason"], "failed Luhn checksum");
    env.cmd()
        .args(base)
        .args(["--min-confidence", "0.9", "a.txt"])
        .assert()
        .code(0);
}

#[test]
fn samples_show_real_findings() {
    let root = repo_root();
    let out = Command::cargo_bin("datasieve")
        .unwrap()
        .current_dir(&root)
        .args(["scan", "--format", "jsonl", "samples"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows = jsonl(&out);
    let has = |prefix: &str| {
        rows.iter()
            .any(|r| r["rule"].as_str().unwrap().starts_with(prefix))
    };
    assert!(has("pii.email"), "email");
    assert!(
        rows.iter()
            .all(|r| !r["path"].as_str().unwrap().contains("clean")),
        "clean files have no findings"
    );
}

/// Format tests (JSONL, JSON, CSV, Parquet, compressed streams, archives).
#[path = "cli_formats.rs"]
mod formats;
