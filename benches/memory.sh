#!/usr/bin/env bash
# Peak anonymous memory against the number of findings: files of dense findings in
# each format (generated here, deterministic), scanned with `--format jsonl` to
# /dev/null; findings are written as they are found, so memory must not grow with
# their number (issue 6); nor with inputs held whole (a JSON document or a tar in
# a compressed stream). Reproduces the memory tables in BENCHMARKS.md; pass other
# builds to compare (e.g. the parent of a commit).
#
# usage: benches/memory.sh [BIN ...]   (default: target/release/datasieve)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p datasieve-cli
[ -d target/bench-corpus-100 ] || target/release/gen-corpus --out target/bench-corpus-100 --mb 100 --file-mb 16 --seed 1
mkdir -p target/bench-memory
[ $# -gt 0 ] || set -- target/release/datasieve
PYTHONPATH=benches python3 - target/bench-memory "$@" <<'PY'
import csv, gzip, json, os, random, sys
from measure import run_once
d, bins = sys.argv[1], sys.argv[2:]
MiB = 1 << 20

def make(name, writer):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        writer(path + ".part")
        os.rename(path + ".part", path)
    return path

def emails(path):
    r = random.Random(1)
    with open(path, "w") as f:
        n = 0
        while n < 128 * MiB:
            local = "".join(r.choice("abcdefghij") for _ in range(8))
            line = f"contact {local}@corpmail-{r.randrange(1000)}.net today\n"
            f.write(line); n += len(line)

def people(path, times=1):
    r = random.Random(3)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "email", "phone", "note"])
        for _ in range(times):
            for i in range(300000):
                note = 'line one\nline "two"' if i % 50 == 0 else "ok"
                w.writerow([i, f"Person {i}", f"p{i}.x{r.randrange(999)}@corpmail-{i % 97}.net",
                            f"+44 20 7946 {r.randrange(1000, 9999)}", note])

def gz(src):
    def write(path):
        with open(src, "rb") as i, gzip.open(path, "wb", compresslevel=1) as o:
            o.write(i.read())
    return write

def notes_csv(path):
    lines = open("target/bench-corpus-100/notes-0004.txt", encoding="utf-8", errors="replace").read().split("\n")
    with gzip.open(path, "wt", compresslevel=1, newline="") as f:
        w = csv.writer(f); w.writerow(["id", "text"]); n = i = 0
        while n < 256 * MiB:
            for l in lines:
                w.writerow([i, l]); n += len(l) + 8; i += 1
                if n >= 256 * MiB:
                    break

def json_array(path):
    r = random.Random(5)
    with open(path, "w") as f:
        f.write("[\n")
        for i in range(400000):
            f.write(json.dumps({"id": i, "email": f"u{i}.x{r.randrange(999)}@corpmail-{i % 97}.net",
                                "text": "some words here and there " * 3}) + ",\n")
        f.write('{"end":1}]\n')

def corpus_tar(path):
    # four copies of the corpus' files, one tar, one gzip stream: read whole (a tar
    # is not scanned block by block), held in a mapped temporary file past 64 MiB
    import tarfile
    src = "target/bench-corpus-100"
    with tarfile.open(path, "w:gz", compresslevel=1) as t:
        for i in range(4):
            for name in sorted(os.listdir(src)):
                t.add(os.path.join(src, name), arcname=f"{i}/{name}")

def parquet_one_group(path, compression="none"):
    # one row group of ~220 MB (uncompressed by default): each column chunk as large as it
    # gets (pyarrow writes it; `pip install pyarrow`)
    import pyarrow as pa, pyarrow.parquet as pq
    texts = []
    for name in ["prose-0000.jsonl", "prose-0002.jsonl", "chat-0001.jsonl", "prose-0006.jsonl"]:
        with open(f"target/bench-corpus-100/{name}", encoding="utf-8", errors="replace") as f:
            texts.extend(line.strip() for line in f)
    texts = [f"{i} {t}" for i, t in enumerate(texts * 4)]
    table = pa.table({"id": list(range(len(texts))), "text": texts})
    pq.write_table(table, path, row_group_size=len(texts), compression=compression,
                   use_dictionary=False)

csv21 = make("people.csv", people)
csv84 = make("people4.csv", lambda p: people(p, 4))
cases = [
    ("128 MiB, one email per line", make("emails.txt", emails), ["2", "1"]),
    ("21 MB CSV, email and phone per row", csv21, ["2"]),
    ("84 MB CSV, the same rows 4x", csv84, ["2"]),
    ("the 84 MB CSV as .gz", make("people4.csv.gz", gz(csv84)), ["2", "1"]),
    ("256 MB of prose as CSV, one .gz", make("notes256.csv.gz", notes_csv), ["2"]),
    ("58 MB JSON array, 400k emails", make("array.json", json_array), ["2"]),
    ("the 58 MB JSON array as .gz", make("array.json.gz", gz(make("array.json", json_array))), ["2"]),
    ("420 MB: the corpus 4x as one .tar.gz", make("corpus4.tar.gz", corpus_tar), ["2"]),
]
try:
    cases.append(("223 MB Parquet, one row group, uncompressed",
                  make("one-group.parquet", parquet_one_group), ["2"]))
    cases.append(("the same row group, snappy",
                  make("one-group-snappy.parquet", lambda p: parquet_one_group(p, "snappy")), ["2"]))
except ImportError:
    print("(no pyarrow: the Parquet row is skipped)", file=sys.stderr)
print("| input | build | threads | time | peak anon |")
print("|---|---|---:|---:|---:|")
for label, path, threads in cases:
    for b in bins:
        for j in threads:
            t, kib, code = run_once([b, "scan", "-q", "-j" + j, "--format", "jsonl", path])
            if code not in (0, 1):
                sys.exit(f"{b} failed on {path}: {code}")
            print(f"| {label} | {b} | {j} | {t:.2f} s | {kib / 1024:.0f} MiB |")
PY
