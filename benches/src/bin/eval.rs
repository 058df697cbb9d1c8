//! Labeled evaluation: generates a dense corpus of every document kind with planted
//! values and decoys, scans it with the built-in catalog through the library (so all
//! formats are exercised), and prints precision and recall per rule, per planted
//! kind, and overall.
//!
//! ```text
//! cargo run --release -p datasieve-bench --bin eval -- [--mb 4] [--seed 7] [--show-misses N]
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use datasieve_bench::evaluate;

fn main() {
    let mut mb = 4usize;
    let mut seed = 7u64;
    let mut show = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| {
                eprintln!("usage: eval [--mb N] [--seed N] [--show-misses N]");
                std::process::exit(2)
            });
        match a.as_str() {
            "--mb" => mb = v as usize,
            "--seed" => seed = v,
            "--show-misses" => show = v as usize,
            _ => {
                eprintln!("unknown argument {a}");
                std::process::exit(2)
            }
        }
    }
    let result = evaluate::run(mb << 20, seed).unwrap_or_else(|e| {
        eprintln!("eval: {e}");
        std::process::exit(2)
    });
    print!("{}", result.table());
    if show > 0 {
        println!("\nMisses (planted, not found):");
        for m in result.misses.iter().take(show) {
            println!("  {m}");
        }
        println!("\nFalse positives:");
        for m in result.false_positives.iter().take(show) {
            println!("  {m}");
        }
    }
}
