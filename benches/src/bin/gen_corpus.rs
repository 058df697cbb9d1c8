//! Writes a deterministic training-data-like corpus and its labels.
//!
//! ```text
//! gen-corpus --out DIR [--mb 200] [--file-mb 16] [--seed 1] [--dense] [--mix jsonl|all]
//! ```
//! `labels.jsonl` (one planted value or decoy per line) is written next to the
//! corpus, outside it, as `DIR.labels.jsonl`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::PathBuf;

use datasieve_bench::{generate, Density, DocKind};

fn main() -> std::io::Result<()> {
    let mut out = None;
    let mut mb = 200usize;
    let mut file_mb = 16usize;
    let mut seed = 1u64;
    let mut density = Density::BENCH;
    let mut mix = "jsonl".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(val())),
            "--mb" => {
                mb = val()
                    .parse()
                    .unwrap_or_else(|_| usage("--mb takes a number"))
            }
            "--file-mb" => {
                file_mb = val()
                    .parse()
                    .unwrap_or_else(|_| usage("--file-mb takes a number"))
            }
            "--seed" => {
                seed = val()
                    .parse()
                    .unwrap_or_else(|_| usage("--seed takes a number"))
            }
            "--mix" => mix = val(),
            "--dense" => density = Density::EVAL,
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let out = out.unwrap_or_else(|| usage("--out is required"));
    let kinds: Vec<DocKind> = match mix.as_str() {
        // Mostly prose and chat JSONL, as in a training corpus.
        "jsonl" => vec![
            DocKind::ProseJsonl,
            DocKind::ChatJsonl,
            DocKind::ProseJsonl,
            DocKind::ChatJsonl,
            DocKind::ProseText,
            DocKind::Code,
        ],
        "all" => DocKind::ALL.to_vec(),
        _ => usage("--mix is jsonl or all"),
    };
    std::fs::create_dir_all(&out)?;
    let files = generate(mb << 20, file_mb << 20, &kinds, seed, density);
    let mut labels =
        std::io::BufWriter::new(std::fs::File::create(out.with_extension("labels.jsonl"))?);
    let mut total = 0;
    let mut planted = 0;
    for f in &files {
        std::fs::write(out.join(&f.name), &f.bytes)?;
        total += f.bytes.len();
        for l in &f.labels {
            planted += usize::from(!l.decoy);
            writeln!(
                labels,
                "{}",
                serde_json::json!({"file": l.file, "start": l.start, "end": l.end, "kind": l.kind, "decoy": l.decoy})
            )?;
        }
    }
    labels.flush()?;
    eprintln!(
        "wrote {} files, {} bytes, {} planted values to {}",
        files.len(),
        total,
        planted,
        out.display()
    );
    Ok(())
}

fn usage(msg: &str) -> ! {
    eprintln!("gen-corpus: {msg}\nusage: gen-corpus --out DIR [--mb 200] [--file-mb 16] [--seed 1] [--dense] [--mix jsonl|all]");
    std::process::exit(2)
}
