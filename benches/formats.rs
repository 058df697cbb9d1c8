//! Format overhead: the same JSON Lines bytes scanned as JSON Lines (decoded strings,
//! records, fields) and as plain text. The issue asks for JSONL within 1.5x of text.
//!
//! Run with `cargo bench -p datasieve --bench formats`; the ratio is printed at the
//! end and recorded in BENCHMARKS.md.
#![allow(missing_docs, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datasieve::format::Format;
use datasieve::scan::{scan_bytes_as, ScanOptions};
use datasieve::{RuleSet, Scanner};

/// Mostly-ASCII chat-style records with escapes (`\n`, `\"`, some `\u00e9`) and a
/// planted email every 50 records, like a typical instruction-tuning shard.
fn corpus(target: usize) -> (Vec<u8>, usize) {
    let words = [
        "the", "model", "should", "answer", "with", "a", "short", "summary", "of", "data",
        "training", "values", "question", "response", "and", "then", "explain", "why",
    ];
    let mut out = Vec::with_capacity(target + 1024);
    let mut planted = 0;
    let mut i = 0usize;
    while out.len() < target {
        let mut text = String::new();
        for k in 0..120 {
            text.push_str(words[(i * 7 + k * 13) % words.len()]);
            text.push(if k % 17 == 16 { '\n' } else { ' ' });
        }
        if i % 50 == 0 {
            text.push_str(&format!(
                "contact user{i}.name@corp-mail.net \"quoted\" caf\u{e9}"
            ));
            planted += 1;
        }
        let line = serde_json::json!({
            "id": i,
            "messages": [
                {"role": "user", "content": "Summarise the text below."},
                {"role": "assistant", "content": text},
            ],
            "source": "synthetic",
        });
        // ensure_ascii-style escapes for the non-ASCII characters, as Python writes
        let mut s = line.to_string();
        s = s.replace('\u{e9}', "\\u00e9");
        out.extend_from_slice(s.as_bytes());
        out.push(b'\n');
        i += 1;
    }
    (out, planted)
}

fn scan_as(data: &[u8], format: Format, scanner: &Scanner, opts: &ScanOptions) -> usize {
    let (outcomes, _) = scan_bytes_as(Arc::from("bench"), data, format, scanner, opts);
    outcomes.iter().map(|o| o.findings.len()).sum()
}

fn bench(c: &mut Criterion) {
    let scanner = Scanner::new(&RuleSet::builtin().unwrap()).unwrap();
    let (data, planted) = corpus(16 << 20);
    // One thread, large chunks: compare the work, not the parallelism.
    let opts = ScanOptions {
        chunk_size: 64 << 20,
        ..ScanOptions::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let as_jsonl = pool.install(|| scan_as(&data, Format::Jsonl, &scanner, &opts));
    let as_text = pool.install(|| scan_as(&data, Format::Text, &scanner, &opts));
    assert!(
        as_jsonl >= planted,
        "jsonl found {as_jsonl}, planted {planted}"
    );
    assert!(
        as_text >= planted,
        "text found {as_text}, planted {planted}"
    );

    let mut g = c.benchmark_group("formats");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("text", |b| {
        b.iter(|| pool.install(|| scan_as(&data, Format::Text, &scanner, &opts)))
    });
    g.bench_function("jsonl", |b| {
        b.iter(|| pool.install(|| scan_as(&data, Format::Jsonl, &scanner, &opts)))
    });
    g.finish();

    // The ratio, measured in the same run (best of several, to damp noise).
    let best = |f: Format| {
        (0..7)
            .map(|_| {
                let t = Instant::now();
                pool.install(|| scan_as(&data, f, &scanner, &opts));
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let (t_text, t_jsonl) = (best(Format::Text), best(Format::Jsonl));
    let mib = data.len() as f64 / (1 << 20) as f64;
    println!(
        "formats: {mib:.1} MiB, text {:.0} MiB/s, jsonl {:.0} MiB/s, jsonl/text time ratio {:.2}",
        mib / t_text,
        mib / t_jsonl,
        t_jsonl / t_text
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
