use super::*;
use crate::rules::RuleSet;

const RULES: &str = r#"
[[rule]]
id = "test.token"
name = "Test token"
category = "credential"
severity = "high"
keywords = ["tok_"]
regex = '(?P<value>tok_[a-z0-9]{16})\b'

[[rule]]
id = "test.note"
name = "Low note"
category = "pii"
severity = "low"
keywords = ["note:"]
regex = 'note:(?P<value>[a-z]{6})\b'
placeholder_filter = false
"#;

fn scanner() -> Scanner {
    let mut set = RuleSet::new();
    set.add_str("t.toml", RULES).unwrap();
    Scanner::new(&set).unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        f.write("data/clean.txt", "nothing here\n");
        f.write("data/sub/dirty.txt", "key tok_abcdefgh12345678\n");
        f.write("data/low.txt", "note:abcdef\n");
        f
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn inputs(&self) -> Vec<PathBuf> {
        ["data/clean.txt", "data/low.txt", "data/sub/dirty.txt"]
            .iter()
            .map(|r| self.p(r))
            .collect()
    }
    fn run(&self, opts: &QuarantineOptions) -> QuarantineReport {
        let args = vec![self.p("data")];
        let jobs = plan_jobs(&args, &self.inputs(), opts).unwrap();
        let report = quarantine_files(&scanner(), &jobs, opts, &|_| {});
        report
            .write_manifest(opts, vec!["test.token".into()], vec!["data".into()])
            .unwrap();
        report
    }
    fn opts(&self, mode: Mode) -> QuarantineOptions {
        QuarantineOptions {
            mode,
            ..QuarantineOptions::new(self.p("q"))
        }
    }
}

#[test]
fn move_keeps_layout_writes_manifest_and_restore_puts_files_back() {
    let fx = Fixture::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            fx.p("data/sub/dirty.txt"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
    }
    let report = fx.run(&fx.opts(Mode::Move));
    assert_eq!(report.error_count(), 0);
    assert_eq!(report.files_quarantined(), 2);
    let r = report.records();
    assert_eq!((r.input, r.output, r.quarantined), (3, 1, 2));
    assert!(r.balanced());
    assert!(!fx.p("data/sub/dirty.txt").exists());
    assert!(fx.p("data/clean.txt").exists());
    assert_eq!(
        std::fs::read_to_string(fx.p("q/sub/dirty.txt")).unwrap(),
        "key tok_abcdefgh12345678\n"
    );

    let m = Manifest::load(&fx.p("q")).unwrap().unwrap();
    assert_eq!(m.runs.len(), 1);
    assert_eq!(m.runs[0].mode, "move");
    assert_eq!(m.runs[0].records, r);
    assert_eq!(m.entries.len(), 2);
    let e = m
        .entries
        .iter()
        .find(|e| e.stored == "sub/dirty.txt")
        .unwrap();
    assert_eq!(e.kind, EntryKind::File);
    assert!(e.source.ends_with("data/sub/dirty.txt") && Path::new(&e.source).is_absolute());
    assert_eq!(e.rules["test.token"], 1);
    assert_eq!(e.sha256, sha256_hex(b"key tok_abcdefgh12345678\n"));
    assert_eq!(e.findings[0].matched, "tok_****5678", "values masked");
    let text = std::fs::read_to_string(fx.p("q/manifest.json")).unwrap();
    assert!(
        !text.contains("tok_abcdefgh12345678"),
        "no raw value in {text}"
    );

    let restored = restore(&fx.p("q"), Overwrite::Refuse).unwrap();
    assert_eq!(restored.restored.len(), 2);
    assert!(restored.errors.is_empty());
    assert_eq!(
        std::fs::read_to_string(fx.p("data/sub/dirty.txt")).unwrap(),
        "key tok_abcdefgh12345678\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(fx.p("data/sub/dirty.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "permissions restored");
    }
    // A second restore has nothing to do.
    let again = restore(&fx.p("q"), Overwrite::Refuse).unwrap();
    assert!(again.restored.is_empty() && again.skipped == 2);
}

#[test]
fn thresholds_decide_what_is_quarantined() {
    let fx = Fixture::new();
    let opts = QuarantineOptions {
        min_severity: Severity::High,
        ..fx.opts(Mode::Copy)
    };
    let report = fx.run(&opts);
    assert_eq!(report.files_quarantined(), 1);
    assert!(fx.p("q/sub/dirty.txt").exists() && !fx.p("q/low.txt").exists());
    assert!(fx.p("data/sub/dirty.txt").exists(), "copy leaves inputs");
    let r = report.records();
    assert_eq!((r.output, r.quarantined), (2, 1));
    // Copies are not restored.
    let restored = restore(&fx.p("q"), Overwrite::Refuse).unwrap();
    assert!(restored.restored.is_empty());
}

#[test]
fn existing_files_are_not_overwritten_without_force() {
    let fx = Fixture::new();
    fx.write("q/sub/dirty.txt", "older quarantine");
    let opts = fx.opts(Mode::Copy);
    let err = plan_jobs(&[fx.p("data")], &fx.inputs(), &opts).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    let forced = QuarantineOptions {
        overwrite: Overwrite::Replace,
        ..opts
    };
    fx.run(&forced);
    assert_eq!(
        std::fs::read_to_string(fx.p("q/sub/dirty.txt")).unwrap(),
        "key tok_abcdefgh12345678\n"
    );
}

#[test]
fn quarantine_folder_inside_an_input_folder_is_refused() {
    let fx = Fixture::new();
    let opts = QuarantineOptions::new(fx.p("data/q"));
    let err = plan_jobs(&[fx.p("data")], &fx.inputs(), &opts).unwrap_err();
    assert!(err.to_string().contains("inside the input folder"), "{err}");
}

#[test]
fn restore_refuses_changed_content_and_existing_originals() {
    let fx = Fixture::new();
    fx.run(&fx.opts(Mode::Move));
    fx.write("q/low.txt", "tampered\n");
    fx.write("data/sub/dirty.txt", "a new file at the old place\n");
    let r = restore(&fx.p("q"), Overwrite::Refuse).unwrap();
    assert!(r.restored.is_empty());
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(r.errors.iter().any(|e| e.contains("SHA-256")));
    assert!(r.errors.iter().any(|e| e.contains("already exists")));
}

#[test]
fn split_sends_plain_text_files_whole_to_one_side() {
    let fx = Fixture::new();
    let report = fx.run(&fx.opts(Mode::Split { out: fx.p("clean") }));
    let r = report.records();
    assert_eq!((r.input, r.output, r.quarantined), (3, 1, 2));
    assert!(fx.p("clean/clean.txt").exists());
    assert!(!fx.p("clean/sub/dirty.txt").exists());
    assert!(fx.p("q/sub/dirty.txt").exists());
    assert!(fx.p("data/sub/dirty.txt").exists(), "inputs untouched");
    let m = Manifest::load(&fx.p("q")).unwrap().unwrap();
    assert!(m
        .entries
        .iter()
        .all(|e| e.kind == EntryKind::File && e.mode == "split"));
    assert_eq!(m.entries[0].record, None);
}

#[test]
fn runs_into_the_same_folder_append_to_the_manifest() {
    let fx = Fixture::new();
    fx.run(&fx.opts(Mode::Copy));
    let mut opts = fx.opts(Mode::Copy);
    opts.overwrite = Overwrite::Replace;
    fx.run(&opts);
    let m = Manifest::load(&fx.p("q")).unwrap().unwrap();
    assert_eq!(m.runs.len(), 2);
    assert_eq!(m.entries.len(), 4);
    assert_eq!(m.entries[3].run, 1);
}

#[test]
fn split_jsonl_and_csv_records_with_their_record_numbers() {
    let fx = Fixture::new();
    fx.write(
        "data/chat.jsonl",
        "{\"a\":\"ok\"}\n\n{\"a\":\"tok_abcdefgh12345678\"}\n{\"a\":\"fine\"}\n{\"a\":\"note:abcdef\"}",
    );
    fx.write(
        "data/t.csv",
        "h1,h2\nx,\"multi\nline tok_abcdefgh12345678\"\ny,z\n",
    );
    let opts = fx.opts(Mode::Split { out: fx.p("clean") });
    let args = vec![fx.p("data")];
    let inputs = vec![fx.p("data/chat.jsonl"), fx.p("data/t.csv")];
    let jobs = plan_jobs(&args, &inputs, &opts).unwrap();
    let report = quarantine_files(&scanner(), &jobs, &opts, &|_| {});
    report.write_manifest(&opts, vec![], vec![]).unwrap();
    let r = report.records();
    assert_eq!((r.input, r.output, r.quarantined), (6, 3, 3));
    assert!(r.balanced());
    let read = |p: &str| std::fs::read_to_string(fx.p(p)).unwrap();
    assert_eq!(
        read("clean/chat.jsonl"),
        "{\"a\":\"ok\"}\n\n{\"a\":\"fine\"}\n"
    );
    assert_eq!(
        read("q/chat.jsonl"),
        "{\"a\":\"tok_abcdefgh12345678\"}\n{\"a\":\"note:abcdef\"}"
    );
    assert_eq!(read("clean/t.csv"), "h1,h2\ny,z\n");
    assert_eq!(
        read("q/t.csv"),
        "h1,h2\nx,\"multi\nline tok_abcdefgh12345678\"\n"
    );
    let m = Manifest::load(&fx.p("q")).unwrap().unwrap();
    let recs: Vec<(String, Option<u64>, Option<u64>)> = m
        .entries
        .iter()
        .map(|e| (e.stored.clone(), e.record, e.position))
        .collect();
    assert_eq!(
        recs,
        vec![
            ("chat.jsonl".into(), Some(2), Some(0)),
            ("chat.jsonl".into(), Some(4), Some(1)),
            ("t.csv".into(), Some(0), Some(0)),
        ]
    );
    assert_eq!(
        m.entries[0].sha256,
        sha256_hex(b"{\"a\":\"tok_abcdefgh12345678\"}\n")
    );
}
