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
    /// `many/fNN.txt`, `files` of them, each a token line repeated `lines` times.
    fn token_files(&self, files: usize, lines: usize) {
        for i in 0..files {
            self.write(
                &format!("many/f{i:02}.txt"),
                format!("tok_abcdefgh1234{i:04}\n").repeat(lines),
            );
        }
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
    env.token_files(40, 3);
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
    // One line much longer than the chunk size: it is cut inside, and the token
    // is still found once, at its offset.
    let mut text = "a".repeat(10_000);
    text.push_str(" tok_abcdefgh12345678 ");
    text.push_str(&"b".repeat(10_000));
    env.write("long.txt", &text);
    // sizes take units like the other size options; zero is refused
    for size in ["1024", "1K"] {
        let out = env
            .scan(&["--format", "jsonl", "--chunk-size", size, "long.txt"])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        assert_eq!(jsonl(&out)[0]["start"], 10_001, "{size}");
    }
    env.scan(&["--chunk-size", "0", "long.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("at least 1 byte"));
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

// ---- redact and quarantine (issue 5) ------------------------------------------

/// A second test rule, in another category, for per-category operators.
const USER_RULE: &str = r#"
[[rule]]
id = "test.user"
name = "Test user id"
category = "pii"
severity = "medium"
label = "USER"
keywords = ["user:"]
regex = 'user:(?P<value>[a-z]{6}[0-9]{2})\b'
placeholder_filter = false
"#;

const DIRTY: &str = "key tok_abcdefgh12345678 for user:alicex42\n";

impl Env {
    /// `datasieve redact` with the test rules (token and user).
    fn redact(&self, args: &[&str]) -> Command {
        self.write("rules/user.toml", USER_RULE);
        let mut c = self.cmd();
        c.args([
            "redact",
            "--no-builtin-rules",
            "--rules",
            "rules/test.toml",
            "--rules",
            "rules/user.toml",
        ])
        .args(args);
        c
    }
    /// `datasieve quarantine` with the test rules.
    fn quarantine(&self, args: &[&str]) -> Command {
        self.write("rules/user.toml", USER_RULE);
        let mut c = self.cmd();
        c.args([
            "quarantine",
            "--no-builtin-rules",
            "--rules",
            "rules/test.toml",
            "--rules",
            "rules/user.toml",
        ])
        .args(args);
        c
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }
}

fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn redact_to_out_dir_keeps_layout_private_files_and_prints_the_invariant() {
    let env = Env::new();
    env.write("data/a.txt", DIRTY);
    env.write("data/sub/deep/b.md", "clean text\n");
    env.write("data/.env", "TOKEN=tok_zzzzzzzz87654321\n");
    let a = env.redact(&["data", "--out", "clean"]).assert().code(0);
    assert_eq!(env.read("clean/a.txt"), "key [TOKEN] for user:[USER]\n");
    assert_eq!(env.read("clean/sub/deep/b.md"), "clean text\n");
    assert_eq!(env.read("clean/.env"), "TOKEN=[TOKEN]\n");
    assert_eq!(env.read("data/a.txt"), DIRTY, "inputs are never changed");
    #[cfg(unix)]
    for f in ["clean/a.txt", "clean/sub/deep/b.md", "clean/.env"] {
        assert_eq!(mode(&env.path(f)), 0o600, "{f}");
    }
    let out = stdout_of(&a);
    assert!(
        out.contains("redacted 3 value(s) in 2 of 3 file(s)"),
        "{out}"
    );
    assert!(
        out.contains("test.token") && out.contains("placeholder"),
        "{out}"
    );
    assert_eq!(
        out.lines().last().unwrap(),
        "records: 3 in = 3 out + 0 quarantined + 0 dropped (ok)"
    );
    // Two folders: the layout is relative to their common parent.
    env.write("more/c.txt", "tok_abcdefgh12345678\n");
    env.redact(&["data/sub", "more", "--out", "two"])
        .assert()
        .code(0);
    assert_eq!(env.read("two/more/c.txt"), "[TOKEN]\n");
    assert!(env.exists("two/data/sub/deep/b.md"));
}

#[test]
fn redact_output_rescans_clean_and_redacting_again_changes_nothing() {
    let env = Env::new();
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "row {i} tok_abcdefgh{i:08} user:bobbyx{:02} caf\u{e9}\n",
            i % 100
        ));
    }
    env.write("data/t.txt", &text);
    for op in ["placeholder", "mask", "hash", "synthetic"] {
        let first = format!("out-{op}");
        let second = format!("again-{op}");
        env.redact(&["data", "--out", &first, "--operator", op, "--seed", "7"])
            .env("DATASIEVE_KEY", "k")
            .assert()
            .code(0);
        env.scan(&["--rules", "rules/user.toml", &first])
            .assert()
            .code(0);
        let a = env
            .redact(&[&first, "--out", &second, "--operator", op, "--seed", "7"])
            .env("DATASIEVE_KEY", "k")
            .assert()
            .code(0);
        assert!(stdout_of(&a).starts_with("redacted 0 value(s)"), "{op}");
        assert_eq!(
            env.read(&format!("{first}/t.txt")),
            env.read(&format!("{second}/t.txt")),
            "{op} is idempotent"
        );
    }
}

#[test]
fn redact_to_one_file_stdin_and_stdout() {
    let env = Env::new();
    env.write("a.txt", DIRTY);
    let a = env.redact(&["a.txt", "-o", "out/a.txt"]).assert().code(0);
    assert_eq!(env.read("out/a.txt"), "key [TOKEN] for user:[USER]\n");
    assert!(stdout_of(&a).contains("records: 1 in = 1 out"));
    // -o takes exactly one input.
    env.write("b.txt", DIRTY);
    let a = env.redact(&[".", "-o", "x.txt"]).assert().code(2);
    assert!(
        stderr_of(&a).contains("exactly one input"),
        "{}",
        stderr_of(&a)
    );
    // -o - writes the data to stdout and the summary to stderr.
    let a = env.redact(&["a.txt", "-o", "-"]).assert().code(0);
    assert_eq!(stdout_of(&a), "key [TOKEN] for user:[USER]\n");
    assert!(stderr_of(&a).contains("records: 1 in = 1 out"));
    // stdin.
    let a = env
        .redact(&["-", "-o", "-"])
        .write_stdin("x tok_abcdefgh12345678\n")
        .assert()
        .code(0);
    assert_eq!(stdout_of(&a), "x [TOKEN]\n");
    env.redact(&["-", "-o", "from-stdin.txt"])
        .write_stdin("x tok_abcdefgh12345678\n")
        .assert()
        .code(0);
    assert_eq!(env.read("from-stdin.txt"), "x [TOKEN]\n");
    // The output may not be the input.
    let a = env.redact(&["a.txt", "-o", "a.txt"]).assert().code(2);
    assert!(stderr_of(&a).contains("--in-place"), "{}", stderr_of(&a));
}

#[test]
fn redact_in_place_with_backup() {
    let env = Env::new();
    env.write("d/a.txt", DIRTY);
    env.write("d/clean.txt", "fine\n");
    let before = std::fs::metadata(env.path("d/clean.txt"))
        .unwrap()
        .modified()
        .unwrap();
    env.redact(&["d", "--in-place", "--backup"])
        .assert()
        .code(0);
    assert_eq!(env.read("d/a.txt"), "key [TOKEN] for user:[USER]\n");
    assert_eq!(env.read("d/a.txt.bak"), DIRTY);
    assert!(
        !env.exists("d/clean.txt.bak"),
        "unchanged inputs are left alone"
    );
    let after = std::fs::metadata(env.path("d/clean.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    #[cfg(unix)]
    {
        assert_eq!(mode(&env.path("d/a.txt")), 0o600);
        assert_eq!(mode(&env.path("d/a.txt.bak")), 0o600);
    }
    // A second run: nothing to redact, so no backup is needed and none is written.
    env.redact(&["d/a.txt", "--in-place", "--backup"])
        .assert()
        .code(0);
    assert_eq!(env.read("d/a.txt.bak"), DIRTY);
    // An existing backup is not overwritten without --force.
    env.write("e/a.txt", DIRTY);
    env.write("e/a.txt.orig", "older backup");
    let a = env
        .redact(&["e", "--in-place", "--backup", "--backup-suffix", ".orig"])
        .assert()
        .code(2);
    assert!(stderr_of(&a).contains("--force"));
    assert_eq!(env.read("e/a.txt"), DIRTY, "nothing done");
    // --backup needs --in-place.
    env.redact(&["e", "--out", "x", "--backup"])
        .assert()
        .code(2);
}

#[test]
fn redact_refuses_to_overwrite_without_force() {
    let env = Env::new();
    env.write("data/a.txt", DIRTY);
    env.write("data/b.txt", DIRTY);
    env.write("clean/b.txt", "precious");
    let a = env.redact(&["data", "--out", "clean"]).assert().code(2);
    assert!(stderr_of(&a).contains("clean/b.txt") && stderr_of(&a).contains("--force"));
    assert_eq!(env.read("clean/b.txt"), "precious");
    assert!(!env.exists("clean/a.txt"), "a refused run writes nothing");
    env.write("report.json", "old");
    env.redact(&["data", "--out", "other", "--report", "report.json"])
        .assert()
        .code(2);
    assert!(!env.exists("other"));
    env.redact(&["data", "--out", "clean", "--force"])
        .assert()
        .code(0);
    assert_eq!(env.read("clean/b.txt"), "key [TOKEN] for user:[USER]\n");
    // An output folder inside the input folder is refused.
    let a = env
        .redact(&["data", "--out", "data/clean"])
        .assert()
        .code(2);
    assert!(stderr_of(&a).contains("inside the input folder"));
}

#[test]
fn redact_operators_mask_hash_synthetic_drop_record() {
    let env = Env::new();
    env.write("a.txt", DIRTY);
    env.write("b.txt", "again user:alicex42 and user:carolx07\n");
    // mask, --keep-last, --mask-char, mask:N
    env.redact(&["a.txt", "-o", "m.txt", "--operator", "mask"])
        .assert()
        .code(0);
    assert_eq!(
        env.read("m.txt"),
        "key ***_**************** for user:********\n"
    );
    env.redact(&[
        "a.txt",
        "-o",
        "m2.txt",
        "--operator",
        "mask",
        "--keep-last",
        "2",
        "--mask-char",
        "#",
    ])
    .assert()
    .code(0);
    assert_eq!(
        env.read("m2.txt"),
        "key ###_##############78 for user:######42\n"
    );
    env.redact(&["a.txt", "-o", "m3.txt", "--operator", "mask:3"])
        .assert()
        .code(0);
    assert!(env.read("m3.txt").contains("user:*****x42"));
    // hash: a key is required.
    let a = env
        .redact(&["a.txt", "-o", "h.txt", "--operator", "hash"])
        .env_remove("DATASIEVE_KEY")
        .assert()
        .code(2);
    assert!(stderr_of(&a).contains("--key-file") && stderr_of(&a).contains("DATASIEVE_KEY"));
    assert!(!env.exists("h.txt"));
    // hash: the same value gives the same token across files and runs.
    env.write("key.txt", "s3cret\n");
    env.redact(&[
        "a.txt",
        "b.txt",
        "--out",
        "h1",
        "--operator",
        "hash",
        "--key-file",
        "key.txt",
    ])
    .assert()
    .code(0);
    let (ha, hb) = (env.read("h1/a.txt"), env.read("h1/b.txt"));
    let token = |s: &str| s[s.find("[USER:").unwrap()..][..15].to_string();
    assert_eq!(token(&ha), token(&hb), "{ha} / {hb}");
    assert!(ha.starts_with("key [TOKEN:") && ha.contains("user:[USER:"));
    env.redact(&["a.txt", "-o", "h2.txt", "--operator", "hash"])
        .env("DATASIEVE_KEY", "s3cret")
        .assert()
        .code(0);
    assert_eq!(env.read("h2.txt"), ha, "env key = file key, same tokens");
    // synthetic: same shape, deterministic under --seed.
    for (out, seed) in [("s1.txt", "5"), ("s2.txt", "5"), ("s3.txt", "6")] {
        env.redact(&[
            "a.txt",
            "-o",
            out,
            "--operator",
            "synthetic",
            "--seed",
            seed,
        ])
        .assert()
        .code(0);
    }
    let s1 = env.read("s1.txt");
    assert_eq!(s1, env.read("s2.txt"));
    assert_ne!(s1, env.read("s3.txt"));
    let words: Vec<&str> = s1.split_whitespace().collect();
    assert!(words[1].starts_with("tok_") && words[1].len() == 20, "{s1}");
    // drop-record on plain text falls back to a placeholder.
    env.redact(&["a.txt", "-o", "d.txt", "--operator", "drop-record"])
        .assert()
        .code(0);
    assert_eq!(env.read("d.txt"), "key [TOKEN] for user:[USER]\n");
    // Unknown operators are usage errors.
    env.redact(&["a.txt", "-o", "x.txt", "--operator", "blur"])
        .assert()
        .code(2);
}

#[test]
fn redact_per_category_and_per_rule_operators() {
    let env = Env::new();
    env.write("a.txt", DIRTY);
    env.redact(&[
        "a.txt",
        "-o",
        "o.txt",
        "--operator",
        "mask",
        "--operator",
        "credential=placeholder",
    ])
    .assert()
    .code(0);
    assert_eq!(env.read("o.txt"), "key [TOKEN] for user:********\n");
    env.redact(&[
        "a.txt",
        "-o",
        "p.txt",
        "--operator",
        "pii=mask",
        "--operator",
        "test.user=placeholder",
        "--operator",
        "credential=mask:4",
    ])
    .assert()
    .code(0);
    assert_eq!(
        env.read("p.txt"),
        "key ***_************5678 for user:[USER]\n"
    );
    // A rule id that names no rule is an error, not a silent default.
    let a = env
        .redact(&["a.txt", "-o", "q.txt", "--operator", "test.usr=hash"])
        .assert()
        .code(2);
    assert!(stderr_of(&a).contains("test.usr"));
}

#[test]
fn redact_min_severity_report_and_exit_codes() {
    let env = Env::new();
    env.write("a.txt", DIRTY);
    // Success is 0 whether or not values were redacted...
    env.redact(&["a.txt", "-o", "o.txt"]).assert().code(0);
    // ... and 1 with --fail-on-findings when something was found (a CI gate).
    env.redact(&["a.txt", "-o", "o2.txt", "--fail-on-findings"])
        .assert()
        .code(1);
    env.write("clean.txt", "fine\n");
    env.redact(&["clean.txt", "-o", "o3.txt", "--fail-on-findings"])
        .assert()
        .code(0);
    // Usage errors are 2.
    env.redact(&["a.txt"]).assert().code(2);
    env.redact(&["a.txt", "--out", "x", "--in-place"])
        .assert()
        .code(2);
    env.redact(&["missing.txt", "-o", "m.txt"]).assert().code(2);
    // --min-severity high leaves the medium user id alone.
    env.redact(&["a.txt", "-o", "hi.txt", "--min-severity", "high"])
        .assert()
        .code(0);
    assert_eq!(env.read("hi.txt"), "key [TOKEN] for user:alicex42\n");
    // --report writes the findings, masked, in the format of its extension.
    env.redact(&["a.txt", "-o", "r.txt", "--report", "r.jsonl"])
        .assert()
        .code(0);
    let rows = jsonl(env.read("r.jsonl").as_bytes());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["rule"], "test.token");
    assert_eq!(rows[0]["match"], "tok_****5678");
    assert!(!env.read("r.jsonl").contains("alicex42"));
    env.redact(&["a.txt", "-o", "r2.txt", "--report", "r.json"])
        .assert()
        .code(0);
    let doc: Value = serde_json::from_str(&env.read("r.json")).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 2);
    #[cfg(unix)]
    assert_eq!(mode(&env.path("r.json")), 0o600);
}

#[test]
fn redact_passes_binary_files_through_with_a_note() {
    let env = Env::new();
    env.write("d/blob.bin", b"\0\x01tok_abcdefgh12345678\0".as_slice());
    let a = env.redact(&["d", "--out", "o"]).assert().code(0);
    assert!(stderr_of(&a).contains("binary"));
    assert_eq!(
        std::fs::read(env.path("o/blob.bin")).unwrap(),
        b"\0\x01tok_abcdefgh12345678\0"
    );
    env.redact(&["d", "--out", "o2", "--binary"])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read(env.path("o2/blob.bin")).unwrap(),
        b"\0\x01[TOKEN]\0"
    );
}

#[test]
fn redact_killed_mid_run_leaves_no_partial_output_under_a_final_name() {
    let env = Env::new();
    env.write("rules/user.toml", USER_RULE);
    let mut text = String::new();
    let mut expected = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "line {i} tok_abcdefgh{i:08} user:alicex{:02}\n",
            i % 100
        ));
        expected.push_str(&format!("line {i} [TOKEN] user:[USER]\n"));
    }
    for f in 0..12 {
        env.write(&format!("big/f{f:02}.txt"), &text);
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("datasieve"))
        .current_dir(env.path(""))
        .args([
            "redact",
            "--no-builtin-rules",
            "--rules",
            "rules/test.toml",
            "--rules",
            "rules/user.toml",
            "big",
            "--out",
            "partial",
            "-j",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as the first output has its final name: the others are
    // being written at that moment.
    let finals = || -> Vec<String> {
        std::fs::read_dir(env.path("partial"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with(".datasieve-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    while finals().is_empty() && started.elapsed() < std::time::Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
    let names = finals();
    assert!(!names.is_empty());
    for name in &names {
        assert!(
            env.read(&format!("partial/{name}")) == expected,
            "{name} is incomplete under its final name"
        );
    }
}

#[test]
fn quarantine_move_copy_restore_and_manifest() {
    let env = Env::new();
    env.write("data/a.txt", DIRTY);
    env.write("data/sub/b.txt", "only user:carolx07 here\n");
    env.write("data/clean.txt", "fine\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            env.path("data/sub/b.txt"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let a = env.quarantine(&["data", "--to", "q"]).assert().code(0);
    let out = stdout_of(&a);
    assert!(out.contains("quarantined 2 of 3 file(s) (move)"), "{out}");
    assert_eq!(
        out.lines().last().unwrap(),
        "records: 3 in = 1 out + 2 quarantined + 0 dropped (ok)"
    );
    assert!(!env.exists("data/a.txt") && !env.exists("data/sub/b.txt"));
    assert_eq!(env.read("q/a.txt"), DIRTY);
    assert_eq!(env.read("q/sub/b.txt"), "only user:carolx07 here\n");
    assert!(env.exists("data/clean.txt"));
    #[cfg(unix)]
    for f in ["q/a.txt", "q/sub/b.txt", "q/manifest.json"] {
        assert_eq!(mode(&env.path(f)), 0o600, "{f}");
    }
    let text = env.read("q/manifest.json");
    assert!(!text.contains("tok_abcdefgh12345678") && !text.contains("carolx07"));
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["runs"][0]["mode"], "move");
    assert_eq!(m["runs"][0]["min_severity"], "low");
    assert_eq!(m["runs"][0]["records"]["quarantined"], 2);
    let entries = m["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let a_entry = entries.iter().find(|e| e["stored"] == "a.txt").unwrap();
    assert!(a_entry["source"].as_str().unwrap().ends_with("data/a.txt"));
    assert_eq!(a_entry["rules"]["test.token"], 1);
    assert_eq!(a_entry["rules"]["test.user"], 1);
    assert_eq!(a_entry["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(a_entry["findings"][0]["match"], "tok_****5678");

    let a = env
        .cmd()
        .args(["quarantine", "--restore", "q"])
        .assert()
        .code(0);
    assert!(stdout_of(&a).contains("restored 2 file(s)"));
    assert_eq!(env.read("data/a.txt"), DIRTY);
    #[cfg(unix)]
    assert_eq!(
        mode(&env.path("data/sub/b.txt")),
        0o644,
        "permissions restored"
    );

    // --copy leaves the inputs; thresholds decide what goes.
    let a = env
        .quarantine(&["data", "--to", "q2", "--copy", "--min-severity", "high"])
        .assert()
        .code(0);
    assert!(stdout_of(&a).contains("quarantined 1 of 3 file(s) (copy)"));
    assert!(env.exists("q2/a.txt") && !env.exists("q2/sub/b.txt"));
    assert!(env.exists("data/a.txt"));
    // Existing quarantined files are not overwritten without --force.
    env.quarantine(&["data", "--to", "q2", "--copy"])
        .assert()
        .code(2);
    env.quarantine(&["data", "--to", "q2", "--copy", "--force"])
        .assert()
        .code(0);
    let m: Value = serde_json::from_str(&env.read("q2/manifest.json")).unwrap();
    assert_eq!(m["runs"].as_array().unwrap().len(), 2, "runs append");
    // --fail-on-findings for CI gates; usage errors.
    env.quarantine(&["data", "--to", "q3", "--copy", "--fail-on-findings"])
        .assert()
        .code(1);
    env.quarantine(&["data"]).assert().code(2);
    env.quarantine(&["data", "--to", "data/q"]).assert().code(2);
}

#[test]
fn quarantine_split_writes_clean_and_flagged_records_apart() {
    let env = Env::new();
    env.write("data/a.txt", DIRTY);
    env.write("data/clean.txt", "fine\n");
    let a = env
        .quarantine(&["data", "--to", "q", "--split", "--out", "clean"])
        .assert()
        .code(0);
    assert_eq!(
        stdout_of(&a).lines().last().unwrap(),
        "records: 2 in = 1 out + 1 quarantined + 0 dropped (ok)"
    );
    assert_eq!(env.read("clean/clean.txt"), "fine\n");
    assert!(!env.exists("clean/a.txt"));
    assert_eq!(env.read("q/a.txt"), DIRTY);
    assert_eq!(env.read("data/a.txt"), DIRTY, "split never touches inputs");
    let m: Value = serde_json::from_str(&env.read("q/manifest.json")).unwrap();
    assert_eq!(m["entries"][0]["kind"], "file", "plain text goes whole");
    assert_eq!(m["entries"][0]["mode"], "split");
    env.quarantine(&["data", "--to", "q", "--split"])
        .assert()
        .code(2);
}

#[test]
fn redact_jsonl_and_csv_keep_their_format() {
    let env = Env::new();
    let jsonl = "{\"id\":1,\"text\":\"hello\"}\n{\"text\":\"key tok_abcdefgh12345678\\nby user:alicex42\",\"id\":2}\n";
    env.write("data/chat.jsonl", jsonl);
    env.write(
        "data/people.csv",
        "name,secret\nann,\"tok_abcdefgh12345678, \"\"quoted\"\"\"\nbob,none\n",
    );
    let a = env.redact(&["data", "--out", "clean"]).assert().code(0);
    assert!(stdout_of(&a).contains("records: 4 in = 4 out + 0 quarantined + 0 dropped (ok)"));
    let out = env.read("clean/chat.jsonl");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "{\"id\":1,\"text\":\"hello\"}");
    let v: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["text"], "key [TOKEN]\nby user:[USER]");
    assert!(
        lines[1].ends_with(",\"id\":2}"),
        "key order kept: {}",
        lines[1]
    );
    assert_eq!(
        env.read("clean/people.csv"),
        "name,secret\nann,\"[TOKEN], \"\"quoted\"\"\"\nbob,none\n"
    );
    // drop-record removes records and the invariant line says so.
    let a = env
        .redact(&["data", "--out", "dropped", "--operator", "drop-record"])
        .assert()
        .code(0);
    assert!(
        stdout_of(&a).contains("records: 4 in = 2 out + 0 quarantined + 2 dropped (ok)"),
        "{}",
        stdout_of(&a)
    );
    assert_eq!(
        env.read("dropped/chat.jsonl"),
        "{\"id\":1,\"text\":\"hello\"}\n"
    );
    assert_eq!(env.read("dropped/people.csv"), "name,secret\nbob,none\n");
}

#[test]
fn quarantine_split_jsonl_and_csv_records() {
    let env = Env::new();
    env.write(
        "data/chat.jsonl",
        "{\"t\":\"a\"}\n{\"t\":\"tok_abcdefgh12345678\"}\n{\"t\":\"b\"}\n",
    );
    env.write("data/p.csv", "h\nuser:alicex42\nfine\n");
    let a = env
        .quarantine(&["data", "--to", "q", "--split", "--out", "clean"])
        .assert()
        .code(0);
    assert_eq!(
        stdout_of(&a).lines().last().unwrap(),
        "records: 5 in = 3 out + 2 quarantined + 0 dropped (ok)"
    );
    assert_eq!(
        env.read("clean/chat.jsonl"),
        "{\"t\":\"a\"}\n{\"t\":\"b\"}\n"
    );
    assert_eq!(
        env.read("q/chat.jsonl"),
        "{\"t\":\"tok_abcdefgh12345678\"}\n"
    );
    assert_eq!(env.read("clean/p.csv"), "h\nfine\n");
    assert_eq!(env.read("q/p.csv"), "h\nuser:alicex42\n");
    let m: Value = serde_json::from_str(&env.read("q/manifest.json")).unwrap();
    let e = &m["entries"];
    assert_eq!(e[0]["kind"], "record");
    assert_eq!(e[0]["record"], 1, "original record number");
    assert_eq!(e[0]["stored"], "chat.jsonl");
    assert_eq!(e[1]["record"], 0);
    assert_eq!(e[1]["rules"]["test.user"], 1);
    assert_eq!(m["runs"][0]["mode"], "split");
}

/// Format tests (JSONL, JSON, CSV, Parquet, compressed streams, archives).
#[path = "cli_formats.rs"]
mod formats;

/// Gzip, for redaction fixtures.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(data), &mut s).unwrap();
    s
}

/// A flat Parquet file: `id` (int64) and `text` (optional string), one row group
/// per `per_group` rows.
fn flat_parquet(texts: &[Option<&str>], per_group: usize) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    let schema = std::sync::Arc::new(
        parquet::schema::parser::parse_message_type(
            "message m { required int64 id; optional binary text (UTF8); }",
        )
        .unwrap(),
    );
    let props = std::sync::Arc::new(
        parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut w =
        parquet::file::writer::SerializedFileWriter::new(Vec::new(), schema, props).unwrap();
    for (g, group) in texts.chunks(per_group).enumerate() {
        let mut rg = w.next_row_group().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let ids: Vec<i64> = (0..group.len())
            .map(|i| (g * per_group + i) as i64)
            .collect();
        col.typed::<Int64Type>()
            .write_batch(&ids, None, None)
            .unwrap();
        col.close().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let vals: Vec<ByteArray> = group
            .iter()
            .flatten()
            .map(|t| ByteArray::from(t.as_bytes().to_vec()))
            .collect();
        let defs: Vec<i16> = group.iter().map(|t| i16::from(t.is_some())).collect();
        col.typed::<ByteArrayType>()
            .write_batch(&vals, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        rg.close().unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn redact_compressed_archived_and_parquet_inputs_keep_their_container() {
    let env = Env::new();
    let jsonl = "{\"t\":\"key tok_abcdefgh12345678\"}\n{\"t\":\"fine\"}\n";
    env.write("data/chat.jsonl.gz", gzip(jsonl.as_bytes()));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in [("a.txt", DIRTY.as_bytes()), ("b.txt", b"fine\n".as_slice())] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, data).unwrap();
    }
    env.write("data/bundle.zip", zip.finish().unwrap().into_inner());
    env.write(
        "data/t.parquet",
        flat_parquet(&[Some("user:alicex42 here"), None, Some("fine")], 2),
    );
    let a = env.redact(&["data", "--out", "clean"]).assert().code(0);
    assert!(
        stdout_of(&a).contains("records: 7 in = 7 out + 0 quarantined + 0 dropped (ok)"),
        "{}",
        stdout_of(&a)
    );
    let out = std::fs::read(env.path("clean/chat.jsonl.gz")).unwrap();
    assert_eq!(&out[..2], b"\x1f\x8b", "still gzip");
    assert_eq!(gunzip(&out), "{\"t\":\"key [TOKEN]\"}\n{\"t\":\"fine\"}\n");
    let z = std::fs::read(env.path("clean/bundle.zip")).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(z)).unwrap();
    let mut a_txt = String::new();
    std::io::Read::read_to_string(&mut z.by_name("a.txt").unwrap(), &mut a_txt).unwrap();
    assert_eq!(a_txt, "key [TOKEN] for user:[USER]\n");
    assert_eq!(z.len(), 2);
    // Rescanning everything finds nothing; redacting again changes nothing.
    env.scan(&["--rules", "rules/user.toml", "clean"])
        .assert()
        .code(0);
    env.redact(&["clean", "--out", "again"]).assert().code(0);
    for f in ["chat.jsonl.gz", "bundle.zip", "t.parquet"] {
        assert_eq!(
            std::fs::read(env.path(&format!("clean/{f}"))).unwrap(),
            std::fs::read(env.path(&format!("again/{f}"))).unwrap(),
            "{f}"
        );
    }
    // drop-record in Parquet removes the row.
    let a = env
        .redact(&[
            "data/t.parquet",
            "-o",
            "dropped.parquet",
            "--operator",
            "drop-record",
        ])
        .assert()
        .code(0);
    assert!(stdout_of(&a).contains("records: 3 in = 2 out + 0 quarantined + 1 dropped (ok)"));
    let json = env
        .scan(&["--format", "json", "dropped.parquet"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let doc: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn quarantine_moves_archives_and_compressed_files_whole() {
    let env = Env::new();
    env.write(
        "data/chat.jsonl.gz",
        gzip(b"{\"t\":\"tok_abcdefgh12345678\"}\n"),
    );
    env.write("data/ok.jsonl.gz", gzip(b"{\"t\":\"fine\"}\n"));
    let a = env
        .quarantine(&["data", "--to", "q", "--split", "--out", "clean"])
        .assert()
        .code(0);
    assert!(stdout_of(&a).contains("records: 2 in = 1 out + 1 quarantined"));
    assert!(env.exists("q/chat.jsonl.gz") && env.exists("clean/ok.jsonl.gz"));
    let m: Value = serde_json::from_str(&env.read("q/manifest.json")).unwrap();
    assert_eq!(m["entries"][0]["kind"], "file");
    assert_eq!(m["entries"][0]["rules"]["test.token"], 1);
}

#[test]
fn redact_honours_input_format_and_fields() {
    let env = Env::new();
    let jsonl = "{\"text\":\"tok_abcdefgh12345678\",\"meta\":\"tok_zzzzzzzz87654321\"}\n";
    env.write("dump.log", jsonl);
    env.redact(&["dump.log", "-o", "all.log", "--input-format", "jsonl"])
        .assert()
        .code(0);
    assert_eq!(
        env.read("all.log"),
        "{\"text\":\"[TOKEN]\",\"meta\":\"[TOKEN]\"}\n"
    );
    env.redact(&[
        "dump.log",
        "-o",
        "text-only.log",
        "--input-format",
        "jsonl",
        "--fields",
        "text",
    ])
    .assert()
    .code(0);
    assert_eq!(
        env.read("text-only.log"),
        "{\"text\":\"[TOKEN]\",\"meta\":\"tok_zzzzzzzz87654321\"}\n"
    );
}

#[test]
fn a_reader_that_stops_early_ends_the_scan_cleanly() {
    use std::io::Read;
    let env = Env::new();
    // Far more output than a pipe holds: the scan is still writing when the
    // reader goes away.
    env.token_files(20, 20_000);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("datasieve"))
        .current_dir(env.dir.path())
        .args(["scan", "--no-builtin-rules", "--rules", "rules/test.toml"])
        .args(["--format", "jsonl", "-j", "2", "many"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 100];
    stdout.read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"{\"path\":"));
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn inputs_that_cannot_be_read_take_their_place_in_path_order() {
    let env = Env::new();
    env.write("b.txt", "key tok_abcdefgh12345678\n");
    let out = env
        .scan(&["zz_missing", "b.txt", "a_missing"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("a_missing: error"), "{text}");
    assert_eq!(lines[1], "b.txt");
    assert!(lines[2].starts_with("zz_missing: error"), "{text}");
}
