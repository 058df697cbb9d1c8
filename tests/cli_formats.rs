//! CLI tests of the training-data formats (a module of the `cli` test binary).

use std::io::Write;
use std::path::PathBuf;

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

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn make_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn make_tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A Parquet file with `text` (optional string) and `turns` (optional list of
/// strings), written in row groups of `per_group` rows.
fn make_parquet(rows: &[(Option<&str>, Vec<&str>)], per_group: usize) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType};
    let schema = std::sync::Arc::new(
        parquet::schema::parser::parse_message_type(
            "message m {
                optional binary text (UTF8);
                optional group turns (LIST) {
                    repeated group list { optional binary element (UTF8); }
                }
            }",
        )
        .unwrap(),
    );
    let props = std::sync::Arc::new(
        parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build(),
    );
    let mut w =
        parquet::file::writer::SerializedFileWriter::new(Vec::new(), schema, props).unwrap();
    for group in rows.chunks(per_group) {
        let mut rg = w.next_row_group().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let vals: Vec<ByteArray> = group
            .iter()
            .filter_map(|r| r.0.map(|t| ByteArray::from(t.as_bytes().to_vec())))
            .collect();
        let defs: Vec<i16> = group.iter().map(|r| i16::from(r.0.is_some())).collect();
        col.typed::<ByteArrayType>()
            .write_batch(&vals, Some(&defs), None)
            .unwrap();
        col.close().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        let (mut vals, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
        for r in group {
            if r.1.is_empty() {
                defs.push(1);
                reps.push(0);
            }
            for (k, t) in r.1.iter().enumerate() {
                vals.push(ByteArray::from(t.as_bytes().to_vec()));
                defs.push(3);
                reps.push(i16::from(k > 0));
            }
        }
        col.typed::<ByteArrayType>()
            .write_batch(&vals, Some(&defs), Some(&reps))
            .unwrap();
        col.close().unwrap();
        rg.close().unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn parquet_nested_lists_carry_row_group_row_and_column() {
    let fx = Fixture::new();
    let rows = vec![
        (Some("clean"), vec!["a", "b"]),
        (None, vec![]),
        (
            Some("jane.roe@corp-mail.net"),
            vec!["x", "y", "secret tok_abcd1234"],
        ),
        (Some("z"), vec!["tok_efgh5678"]),
    ];
    fx.write("train.parquet", &make_parquet(&rows, 3));
    let (code, findings, _) = fx.scan(&["train.parquet"]);
    assert_eq!(code, 1);
    let got: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["row_group"].as_u64(),
                f["record"].as_u64(),
                f["field"].as_str().unwrap(),
                f["start"].as_u64().unwrap(),
                f["end"].as_u64().unwrap(),
                f["match"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "pii.email",
                Some(0),
                Some(2),
                "text",
                0,
                22,
                "jane.roe@corp-mail.net"
            ),
            (
                "test.token",
                Some(0),
                Some(2),
                "turns.list.element",
                7,
                19,
                "tok_abcd1234"
            ),
            (
                "test.token",
                Some(1),
                Some(3),
                "turns.list.element",
                0,
                12,
                "tok_efgh5678"
            ),
        ]
    );
}

#[test]
fn compressed_streams_are_scanned_as_their_inner_format() {
    let fx = Fixture::new();
    fx.write("a.jsonl.gz", &gz(JSONL.as_bytes()));
    fx.write(
        "b.jsonl.zst",
        &zstd::encode_all(JSONL.as_bytes(), 3).unwrap(),
    );
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(CSV.as_bytes()).unwrap();
    fx.write("c.csv.bz2", &bz.finish().unwrap());
    // no helpful extension: magic bytes say gzip, content says JSON Lines
    fx.write("d", &gz(JSONL.as_bytes()));
    let (code, findings, stderr) = fx.scan_loud(&["."]);
    assert_eq!(code, 1, "{stderr}");
    for p in ["a.jsonl.gz", "b.jsonl.zst", "/d"] {
        let got: Vec<_> = of_path(&findings, p)
            .into_iter()
            .map(|f| summary(f, JSONL.as_bytes()))
            .collect();
        assert_eq!(got, jsonl_expected(), "{p}");
    }
    let csv: Vec<_> = of_path(&findings, "c.csv.bz2")
        .into_iter()
        .map(|f| summary(f, CSV.as_bytes()))
        .collect();
    assert_eq!(csv.len(), 3);
    assert_eq!(csv[1].2.as_deref(), Some("note"));
    assert_eq!(csv[1].3, "tok_efgh5678");
}

#[test]
fn zip_inside_tar_gz_members_are_named_and_scanned_with_their_format() {
    let fx = Fixture::new();
    let inner = make_zip(&[
        ("train/part-0.jsonl", JSONL.as_bytes()),
        ("people.csv", CSV.as_bytes()),
        ("img.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR tok_abcd1234"),
    ]);
    let tar = make_tar(&[
        ("bundle/data.zip", &inner),
        ("bundle/.env", b"API=tok_zzzz0000\n"),
    ]);
    fx.write("release.tar.gz", &gz(&tar));
    fx.write("plain.txt", b"tok_pppp1111");
    let (code, findings, stderr) = fx.scan_loud(&["release.tar.gz", "plain.txt"]);
    assert_eq!(code, 1, "{stderr}");
    let paths: Vec<_> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"release.tar.gz!bundle/.env"), "{paths:?}");
    let got: Vec<_> = of_path(
        &findings,
        "release.tar.gz!bundle/data.zip!train/part-0.jsonl",
    )
    .into_iter()
    .map(|f| summary(f, JSONL.as_bytes()))
    .collect();
    assert_eq!(got, jsonl_expected());
    let csv = of_path(&findings, "release.tar.gz!bundle/data.zip!people.csv");
    assert_eq!(csv[0]["field"], "note");
    assert_eq!(csv[0]["record"], 0);
    // binary members are skipped (and said so), not scanned
    assert!(of_path(&findings, "img.png").is_empty());
    assert!(
        stderr.contains("data.zip!img.png: skipped (binary file"),
        "{stderr}"
    );
    assert_eq!(of_path(&findings, "plain.txt").len(), 1);
}

#[test]
fn malformed_containers_and_bombs_are_clear_errors_and_the_run_goes_on() {
    let fx = Fixture::new();
    let g = gz(&JSONL.repeat(50).into_bytes());
    fx.write("truncated.jsonl.gz", &g[..g.len() / 2]);
    let z = make_zip(&[("a.jsonl", JSONL.as_bytes())]);
    fx.write("corrupt.zip", &z[..z.len() - 30]);
    fx.write(
        "bomb.zip",
        &make_zip(&[
            ("zeros.txt", &vec![0u8; 16 << 20]),
            ("ok.txt", b"tok_okok1234"),
        ]),
    );
    fx.write("fine.jsonl", JSONL.as_bytes());
    let (code, findings, stderr) = fx.scan_loud(&["."]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("truncated.jsonl.gz: gzip data is corrupt or truncated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("corrupt.zip: zip data is corrupt or truncated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bomb.zip!zeros.txt: compression ratio exceeds 200"),
        "{stderr}"
    );
    assert_eq!(of_path(&findings, "bomb.zip!ok.txt").len(), 1);
    assert_eq!(of_path(&findings, "fine.jsonl").len(), 4);
    // a larger limit lets the member through (and it is all zeros: binary)
    let (_, _, stderr) = fx.scan_loud(&["--max-ratio", "100000", "bomb.zip"]);
    assert!(!stderr.contains("ratio"), "{stderr}");
    let (_, _, stderr) = fx.scan_loud(&["--max-member-size", "1M", "bomb.zip"]);
    assert!(
        stderr.contains("exceeds the limit of 1048576 bytes (--max-member-size)"),
        "{stderr}"
    );
    // --strict turns the errors into exit code 2
    let (code, _, _) = fx.scan(&["--strict", "."]);
    assert_eq!(code, 2);
}

#[test]
fn archives_nested_deeper_than_the_limit_are_reported() {
    let fx = Fixture::new();
    let mut data = make_zip(&[("secret.txt", b"tok_deep0001")]);
    for i in 0..3 {
        data = make_zip(&[(&format!("level{i}.zip"), &data)]);
    }
    fx.write("nest.zip", &data);
    let (_, findings, stderr) = fx.scan_loud(&["nest.zip"]);
    assert!(findings.is_empty());
    assert!(
        stderr.contains(
            "nest.zip!level2.zip!level1.zip!level0.zip: nested archive deeper than 3 levels"
        ),
        "{stderr}"
    );
    let (_, findings, _) = fx.scan(&["--max-archive-depth", "4", "nest.zip"]);
    assert_eq!(
        findings[0]["path"],
        "nest.zip!level2.zip!level1.zip!level0.zip!secret.txt"
    );
}

#[test]
fn json_documents_and_notebooks() {
    let fx = Fixture::new();
    let doc =
        "[\n {\"q\": \"a\", \"a\": \"tok_abcd1234\"},\n {\"q\": \"see\\u0020tok_efgh5678\"}\n]\n";
    fx.write("qa.json", doc.as_bytes());
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==tok_imag0000";
    let nb = format!(
        "{{\"cells\": [{{\"cell_type\": \"code\", \"source\": [\"import os\\n\", \"key = \\\"tok_code1234\\\"\"], \"outputs\": [{{\"output_type\": \"display_data\", \"data\": {{\"image/png\": \"{png}\", \"text/plain\": [\"mail jane.roe@corp-mail.net\"]}}}}]}}], \"metadata\": {{}}, \"nbformat\": 4}}"
    );
    fx.write("nb.ipynb", nb.as_bytes());
    let (_, findings, _) = fx.scan(&["qa.json", "nb.ipynb"]);
    let got: Vec<_> = of_path(&findings, "qa.json")
        .into_iter()
        .map(|f| summary(f, doc.as_bytes()))
        .collect();
    assert_eq!(
        got,
        vec![
            s(
                "test.token",
                Some(0),
                Some("/a"),
                "tok_abcd1234",
                "tok_abcd1234"
            ),
            s(
                "test.token",
                Some(1),
                Some("/q"),
                "tok_efgh5678",
                "tok_efgh5678"
            ),
        ]
    );
    let got: Vec<_> = of_path(&findings, "nb.ipynb")
        .into_iter()
        .map(|f| summary(f, nb.as_bytes()))
        .collect();
    assert_eq!(
        got,
        vec![
            s(
                "test.token",
                None,
                Some("/cells/0/source/1"),
                "tok_code1234",
                "tok_code1234"
            ),
            s(
                "pii.email",
                None,
                Some("/cells/0/outputs/0/data/text~1plain/0"),
                "jane.roe@corp-mail.net",
                "jane.roe@corp-mail.net"
            ),
        ]
    );
}

#[test]
fn hidden_files_are_scanned_git_internals_are_not() {
    let fx = Fixture::new();
    fx.write("repo/.env", b"TOKEN=tok_env01234\n");
    fx.write("repo/.git/config", b"tok_git01234");
    fx.write("repo/.cache/notes", b"tok_hid01234");
    let (_, findings, _) = fx.scan(&["repo"]);
    let mut paths: Vec<_> = findings
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[0].ends_with(".cache/notes") && paths[1].ends_with(".env"));
    let (_, findings, _) = fx.scan(&["--include-git", "repo"]);
    assert_eq!(findings.len(), 3);
}
