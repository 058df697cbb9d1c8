#!/usr/bin/env bash
# Throughput comparison on one generated corpus, all tools in the same run:
#   datasieve (full catalog, 1 and 2 threads), `rg -j1` with a literal that never
#   occurs (the scan limit), `rg -j1 -f` with the catalog's own regexes (what a user
#   would otherwise run), and `cat > /dev/null`.
# Prints the median wall time of several runs, MB/s, ratios, and datasieve's peak
# anonymous memory (heap; the mapped input is not counted). The commands' runs are
# interleaved (one of each, RUNS times), so that the ratios compare runs made
# under the same load from other jobs on a shared machine.
#
# `rg -f` runs at about 1 MB/s or less, so it and datasieve are also timed on a
# slice of the corpus (the first SLICE_MB of one file, default 4) for that ratio.
#
# usage: benches/compare.sh [MB=200] [RUNS=5] [SLICE_MB=4]
# needs: cargo, python3, ripgrep (`apt-get install ripgrep`)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-200}
RUNS=${2:-5}
SLICE_MB=${3:-4}
OUT=target/bench-corpus-$MB
command -v rg >/dev/null || { echo "compare.sh: ripgrep (rg) is required: apt-get install ripgrep" >&2; exit 2; }

cargo build --release -q -p datasieve-cli -p datasieve-bench
BIN=target/release/datasieve
if [ ! -d "$OUT" ]; then
  target/release/gen-corpus --out "$OUT" --mb "$MB" --file-mb 16 --seed 1
fi
SLICE=target/bench-slice-$SLICE_MB
mkdir -p "$SLICE"
head -c $((SLICE_MB * 1000000)) "$OUT/prose-0000.jsonl" > "$SLICE/prose-slice.jsonl"
# The catalog's regexes, macros expanded, for rg -f (group names dropped: rg joins
# the patterns into one regex, where repeated names are an error).
"$BIN" rules --format json | python3 -c 'import json,sys; [print(r["regex"].replace("(?P<value>", "(")) for r in json.load(sys.stdin)]' > target/catalog-regexes.txt

PYTHONPATH=benches python3 - "$OUT" "$RUNS" "$BIN" "$SLICE" <<'PY'
import os, statistics, subprocess, sys
from measure import run_once
corpus, runs, binary, slice_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
size = sum(os.path.getsize(f) for f in files)

def run(cmd, n):
    times, anon = [], 0
    for _ in range(n):
        el, kib, code = run_once(cmd)
        times.append(el)
        anon = max(anon, kib)
        if code not in (0, 1):
            sys.exit(f"{cmd} failed with {code}")
    return statistics.median(times), anon

rows = [
    ("cat > /dev/null", ["sh", "-c", f"cat {corpus}/* > /dev/null"]),
    ("rg -j1 literal (scan limit)", ["rg", "-j1", "-c", "--no-messages", "QQzzNEVERzzQQ", corpus]),
    ("datasieve -j1", [binary, "scan", "-q", "-j1", "--format", "jsonl", corpus]),
    ("datasieve -j2", [binary, "scan", "-q", "-j2", "--format", "jsonl", corpus]),
]
print(f"corpus: {corpus}, {len(files)} files, {size/1e6:.0f} MB, median of {runs} interleaved runs, warm cache")
subprocess.run(["sh", "-c", f"cat {corpus}/* > /dev/null"])
times = {name: [] for name, _ in rows}
anon = {name: 0 for name, _ in rows}
for _ in range(runs):
    for name, cmd in rows:
        t, kib = run(cmd, 1)
        times[name].append(t)
        anon[name] = max(anon[name], kib)
results = {}
for name, _ in rows:
    t = results[name] = statistics.median(times[name])
    extra = f"  peak anon {anon[name]/1024:.1f} MiB" if name.startswith("datasieve") else ""
    print(f"| {name:<30} | {t:8.3f} s | {size/t/1e6:9.1f} MB/s |{extra}")
ds1, ds2 = results["datasieve -j1"], results["datasieve -j2"]
slice_size = sum(os.path.getsize(os.path.join(slice_dir, f)) for f in os.listdir(slice_dir))
print(f"slice: {slice_dir}, {slice_size/1e6:.0f} MB (rg -f is too slow for the whole corpus)")
rgf = ["rg", "-j1", "-U", "--regex-size-limit", "2G", "--dfa-size-limit", "2G", "-c", "--no-messages", "-f", "target/catalog-regexes.txt", slice_dir]
t_rgf, _ = run(rgf, 1)
t_ds_slice, _ = run([binary, "scan", "-q", "-j1", "--format", "jsonl", slice_dir], runs)
for name, t in (("rg -j1 -f catalog regexes", t_rgf), ("datasieve -j1 (slice)", t_ds_slice)):
    print(f"| {name:<30} | {t:8.3f} s | {slice_size/t/1e6:9.1f} MB/s |")
print()
print(f"datasieve -j1 vs scan limit (rg literal):  {results['rg -j1 literal (scan limit)']/ds1:.3f}")
print(f"datasieve -j1 vs rg -f catalog:            {t_rgf/t_ds_slice:.1f}x faster (on the slice)")
print(f"datasieve scaling 2 threads / 1 thread:    {ds1/ds2:.2f}x")
PY
