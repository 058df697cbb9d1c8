//! Criterion benchmarks of the engine: the whole catalog and each category alone,
//! over a generated mostly-prose corpus (JSONL and text), reporting bytes/s.
//! Before measuring, each bench checks that the scanner finds what was planted.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datasieve::engine::{ScanConfig, Scanner};
use datasieve::{Category, RuleSet};
use datasieve_bench::{generate, Density, DocKind};

fn corpus() -> (Vec<u8>, usize) {
    let files = generate(
        8 << 20,
        8 << 20,
        &[DocKind::ProseJsonl, DocKind::ChatJsonl, DocKind::ProseText],
        42,
        Density::BENCH,
    );
    let planted = files
        .iter()
        .flat_map(|f| &f.labels)
        .filter(|l| !l.decoy)
        .count();
    (files.into_iter().flat_map(|f| f.bytes).collect(), planted)
}

fn bench_engine(c: &mut Criterion) {
    let (hay, planted) = corpus();
    let all = RuleSet::builtin().expect("builtin rules");
    let config = ScanConfig::default();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(hay.len() as u64));
    group.sample_size(10);

    let scanner = Scanner::new(&all).expect("compile");
    let found = scanner.scan(&hay, &config).len();
    assert!(
        found as f64 >= planted as f64 * 0.8,
        "catalog found {found} of {planted} planted values"
    );
    group.bench_function("catalog", |b| b.iter(|| scanner.scan(&hay, &config).len()));

    for cat in [
        Category::Pii,
        Category::Credential,
        Category::Financial,
        Category::GovernmentId,
        Category::Network,
        Category::Crypto,
    ] {
        let mut set = all.clone();
        set.retain(|r| r.category == cat);
        if set.is_empty() {
            continue;
        }
        let s = Scanner::new(&set).expect("compile");
        group.bench_function(cat.as_str(), |b| b.iter(|| s.scan(&hay, &config).len()));
    }
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
