//! CLI integration tests (one binary for all).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A test rule so that these tests do not depend on the final catalog.
const TOKEN_RULE: &str = r#"
[[rule]]
id = "test.token"
name = "Test token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{8})\b'
examples = ["tok_abcd1234", "x tok_zzzz9999"]
negative_examples = ["tok_short", "tok_UPPERCASE1"]
"#;

/// (rule, record, field, raw text at start..end, match).
type Summary = (String, Option<u64>, Option<String>, String, String);

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.toml"), TOKEN_RULE).unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }

    /// Runs `datasieve scan --format jsonl --show-secrets` with the test rule and
    /// returns (exit code, findings, stderr).
    fn scan(&self, args: &[&str]) -> (i32, Vec<Value>, String) {
        let out = Command::cargo_bin("datasieve")
            .unwrap()
            .current_dir(self.dir.path())
            .args([
                "scan",
                "--format",
                "jsonl",
                "--show-secrets",
                "-q",
                "--rules",
            ])
            .arg(self.path("rules.toml"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let findings = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v.get("rule").is_some())
            .collect();
        (
            out.status.code().unwrap_or(-1),
            findings,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Like `scan` but without `-q`, so notes and warnings reach stderr.
    fn scan_loud(&self, args: &[&str]) -> (i32, Vec<Value>, String) {
        let out = Command::cargo_bin("datasieve")
            .unwrap()
            .current_dir(self.dir.path())
            .args(["scan", "--format", "jsonl", "--show-secrets", "--rules"])
            .arg(self.path("rules.toml"))
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let findings = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("rule").is_some())
            .collect();
        (
            out.status.code().unwrap_or(-1),
            findings,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// (rule, record, field, raw text at start..end, match) of a finding; the raw text
/// is sliced from `bytes`, the decompressed content of the file or member.
fn summary(f: &Value, bytes: &[u8]) -> Summary {
    let start = f["start"].as_u64().unwrap() as usize;
    let end = f["end"].as_u64().unwrap() as usize;
    (
        f["rule"].as_str().unwrap().to_string(),
        f["record"].as_u64(),
        f["field"].as_str().map(str::to_string),
        String::from_utf8_lossy(&bytes[start..end]).into_owned(),
        f["match"].as_str().unwrap().to_string(),
    )
}

fn s(rule: &str, record: Option<u64>, field: Option<&str>, raw: &str, value: &str) -> Summary {
    (
        rule.into(),
        record,
        field.map(str::to_string),
        raw.into(),
        value.into(),
    )
}

fn of_path<'a>(findings: &'a [Value], suffix: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(suffix))
        .collect()
}

const JSONL: &str = concat!(
    "{\"id\": 0, \"text\": \"plain tok_abcd1234 here\"}\n",
    "{\"id\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"line\\ntok_\\u0061bcd5678\\\" done\"}]}\n",
    "{\"id\": 2, \"url\": \"https:\\/\\/x.org\\/tok_abcd9999\", \"mail\": \"jane\\u002edoe@corp-mail.net\"}\n",
);

fn jsonl_expected() -> Vec<Summary> {
    vec![
        s(
            "test.token",
            Some(0),
            Some("/text"),
            "tok_abcd1234",
            "tok_abcd1234",
        ),
        s(
            "test.token",
            Some(1),
            Some("/messages/1/content"),
            "tok_\\u0061bcd5678",
            "tok_abcd5678",
        ),
        s(
            "test.token",
            Some(2),
            Some("/url"),
            "tok_abcd9999",
            "tok_abcd9999",
        ),
        s(
            "pii.email",
            Some(2),
            Some("/mail"),
            "jane\\u002edoe@corp-mail.net",
            "jane.doe@corp-mail.net",
        ),
    ]
}

#[test]
fn jsonl_findings_carry_record_field_and_exact_offsets() {
    let fx = Fixture::new();
    fx.write("data.jsonl", JSONL.as_bytes());
    let (code, findings, _) = fx.scan(&["data.jsonl"]);
    assert_eq!(code, 1);
    let got: Vec<_> = findings
        .iter()
        .map(|f| summary(f, JSONL.as_bytes()))
        .collect();
    assert_eq!(got, jsonl_expected());
    // line and column come from the raw offsets
    assert_eq!(
        (findings[1]["line"].as_u64(), findings[1]["column"].as_u64()),
        (Some(2), Some(99))
    );
}

#[test]
fn json_files_with_one_object_per_line_are_jsonl() {
    let fx = Fixture::new();
    fx.write("shard.json", JSONL.as_bytes());
    fx.write("noext", JSONL.as_bytes());
    let (_, findings, _) = fx.scan(&["shard.json", "noext"]);
    for p in ["shard.json", "noext"] {
        let got: Vec<_> = of_path(&findings, p)
            .into_iter()
            .map(|f| summary(f, JSONL.as_bytes()))
            .collect();
        assert_eq!(got, jsonl_expected(), "{p}");
    }
}

#[test]
fn fields_option_limits_the_scan() {
    let fx = Fixture::new();
    fx.write("data.jsonl", JSONL.as_bytes());
    let (_, findings, _) = fx.scan(&["--fields", "text,messages", "data.jsonl"]);
    let fields: Vec<_> = findings
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["/text", "/messages/1/content"]);
    let (_, findings, _) = fx.scan(&["--fields", "/messages/*/content", "data.jsonl"]);
    assert_eq!(findings.len(), 1);
}

#[test]
fn broken_json_line_is_reported_and_the_rest_is_scanned() {
    let fx = Fixture::new();
    let data =
        b"{\"a\": \"tok_aaaa1111\"}\n{\"a\": \"tok_bbbb2222\", oops}\n{\"a\": \"tok_cccc3333\"}\n";
    fx.write("broken.jsonl", data);
    fx.write("other.txt", b"tok_dddd4444");
    let (code, findings, stderr) = fx.scan_loud(&["broken.jsonl", "other.txt"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken.jsonl: warning: record 1: malformed JSON"),
        "{stderr}"
    );
    let got: Vec<_> = of_path(&findings, "broken.jsonl")
        .into_iter()
        .map(|f| summary(f, data))
        .collect();
    assert_eq!(
        got,
        vec![
            s(
                "test.token",
                Some(0),
                Some("/a"),
                "tok_aaaa1111",
                "tok_aaaa1111"
            ),
            s("test.token", Some(1), None, "tok_bbbb2222", "tok_bbbb2222"),
            s(
                "test.token",
                Some(2),
                Some("/a"),
                "tok_cccc3333",
                "tok_cccc3333"
            ),
        ]
    );
    assert_eq!(of_path(&findings, "other.txt").len(), 1);
}

const CSV: &str = "id,name,note\r\n1,Jane,\"said \"\"tok_abcd1234\"\"\nand left\"\r\n2,\"Roe, J\",\"multi\nline\ntok_efgh5678\"\n3,x,jane.roe@corp-mail.net\n";

#[test]
fn csv_cells_carry_row_and_column_with_exact_offsets() {
    let fx = Fixture::new();
    fx.write("people.csv", CSV.as_bytes());
    let (code, findings, _) = fx.scan(&["people.csv"]);
    assert_eq!(code, 1);
    let got: Vec<_> = findings
        .iter()
        .map(|f| summary(f, CSV.as_bytes()))
        .collect();
    assert_eq!(
        got,
        vec![
            s(
                "test.token",
                Some(0),
                Some("note"),
                "tok_abcd1234",
                "tok_abcd1234"
            ),
            s(
                "test.token",
                Some(1),
                Some("note"),
                "tok_efgh5678",
                "tok_efgh5678"
            ),
            s(
                "pii.email",
                Some(2),
                Some("note"),
                "jane.roe@corp-mail.net",
                "jane.roe@corp-mail.net"
            ),
        ]
    );
}

#[test]
fn tsv_without_header_uses_column_indexes() {
    let fx = Fixture::new();
    let data = b"1\tjane.roe@corp-mail.net\tx\n2\tb\t\"q \"\"tok_abcd1234\"\"\"\n";
    fx.write("t.tsv", data);
    let (_, findings, _) = fx.scan(&["t.tsv"]);
    let got: Vec<_> = findings.iter().map(|f| summary(f, data)).collect();
    assert_eq!(
        got,
        vec![
            s(
                "pii.email",
                Some(0),
                Some("1"),
                "jane.roe@corp-mail.net",
                "jane.roe@corp-mail.net"
            ),
            s(
                "test.token",
                Some(1),
                Some("2"),
                "tok_abcd1234",
                "tok_abcd1234"
            ),
        ]
    );
}

#[test]
fn input_format_overrides_detection() {
    let fx = Fixture::new();
    fx.write("data.txt", JSONL.as_bytes());
    let (_, findings, _) = fx.scan(&["--input-format", "jsonl", "data.txt"]);
    assert_eq!(findings[0]["field"], "/text");
    let (_, findings, _) = fx.scan(&["data.txt"]);
    assert!(findings[0].get("field").is_none());
    let out = Command::cargo_bin("datasieve")
        .unwrap()
        .args(["scan", "--input-format", "yaml", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format"));
}

#[allow(dead_code)]
fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}
