#!/usr/bin/env bash
# Pathological inputs: per-byte cost of datasieve (full catalog, one thread) on
# hostile files, against its per-byte cost on the generated corpus in the same run.
# Issue 6 asks for at most 10x the normal per-byte cost: no quadratic paths.
#
#   one-line.txt   256 MiB of corpus text on a single line (no newline at all)
#   digits.txt     64 MiB of digits only (one 64 MiB digit run)
#   at.txt         64 MiB of `@`
#   ghp.txt        64 MiB of `ghp_ghp_...` (a keyword every 4 bytes)
#   sk.txt         64 MiB of `sk-sk-sk-...` (overlapping keyword prefixes)
#   base64-zeros.txt 64 MiB of `A` (base64 of zero bytes, common in embedded
#                  blobs): a keyword (`AAAAAAAAAAAAAAAAAAAAA`, the Twitter bearer
#                  token prefix) at every position
#   sk-proj.txt    64 MiB of `sk-proj-sk-proj-...`: a token prefix inside the
#                  token's own alphabet, every 8 bytes (the plain-sequence matcher
#                  reads up to 250 bytes at each; past a budget the regex answers)
#   dig-dash.txt   ~14 MB of numbers 0-99 joined by `-`, dig-4dash.txt 1000-9999
#                  joined by `-`, dig-space.txt digits joined by spaces,
#                  dig-3dot.txt 100-999 joined by `.`: each file is one digit run
#                  (a digit rule's window is the whole run)
#   dig-dash-64m.txt 64 MiB of numbers 0-99 joined by `-`, hex-colon.txt 64 MiB
#                  of `ab:`: one digit run, one hex run, across eight chunks and
#                  sixteen blocks (each block and chunk once read a run from where
#                  it crossed into it to the run's end: quadratic)
#   dig-shapes.txt 20 MB of short runs of random digit groups and separators
#                  (`12-345 6.78/9 x ...`): every run a new shape, which the
#                  digit rules' shape memo cannot learn
#   dig-shapes-long.txt 20 MB of runs of ~200 bytes of random digit groups,
#                  dig-shapes-joined.txt 20 MB of them as one run: runs too long
#                  for the shape memo, whose shapes the digit rules' regex set
#                  (one lazy DFA) has to learn state by state
#   nums.csv       ~25 MB of numeric CSV rows (ids, dates, times, amounts,
#                  account numbers): many runs, few shapes, times on every row
#   one-string.json one JSON document whose one value is a 256 MiB string of
#                  corpus text (newlines and quotes escaped), one-cell.csv a CSV
#                  whose second row holds a 256 MiB quoted cell of it: a value
#                  that long is scanned as written, not decoded into a copy, so
#                  its peak anonymous memory stays small
#
# With BIG_GB=N it also scans one N GiB file on two threads and reports its peak
# anonymous memory, which must not grow with the input (issue 6: under 256 MiB),
# and about N GiB of the corpus' JSON Lines as one gzip stream (scanned as it is
# decompressed, so its memory must not grow either), and files of nothing but
# findings (one IPv4 address per line, 64 and 256 MiB): findings are written as
# they are found, so their memory must not grow with their number.
# Last, one thread against two within one file: the 256 MiB line, and the big file.
#
# usage: [BIG_GB=4] benches/hostile.sh [CORPUS_MB=100]
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-100}
CORPUS=target/bench-corpus-$MB
DIR=target/bench-hostile
cargo build --release -q -p datasieve-cli -p datasieve-bench
BIN=target/release/datasieve
[ -d "$CORPUS" ] || target/release/gen-corpus --out "$CORPUS" --mb "$MB" --file-mb 16 --seed 1
mkdir -p "$DIR"
python3 - "$CORPUS" "$DIR" <<'PY'
import os, sys
corpus, out = sys.argv[1], sys.argv[2]
MiB = 1 << 20
def write(name, unit, size):
    path = os.path.join(out, name)
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    reps = size // len(unit) + 1
    with open(path, "wb") as f:
        f.write((unit * reps)[:size])
text = open(os.path.join(corpus, "notes-0004.txt"), "rb").read(8 * MiB).replace(b"\n", b" ")
write("one-line.txt", text, 256 * MiB)
write("digits.txt", b"4929384756102938", 64 * MiB)
write("at.txt", b"@", 64 * MiB)
write("ghp.txt", b"ghp_", 64 * MiB)
write("sk.txt", b"sk-", 64 * MiB)
write("sk-proj.txt", b"sk-proj-", 64 * MiB)
write("base64-zeros.txt", b"A", 64 * MiB)
import random
def numbers(name, lo, hi, sep, count):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        r = random.Random(1)
        with open(path, "w") as f:
            f.write(sep.join(str(r.randrange(lo, hi)) for _ in range(count)))
numbers("dig-dash.txt", 0, 100, "-", 5_000_000)
numbers("dig-4dash.txt", 1000, 10000, "-", 3_000_000)
numbers("dig-space.txt", 0, 10, " ", 8_000_000)
numbers("dig-3dot.txt", 100, 1000, ".", 3_500_000)
path = os.path.join(out, "dig-dash-64m.txt")
if not os.path.exists(path) or os.path.getsize(path) != 64 * MiB:
    r = random.Random(5)
    text = "-".join(str(r.randrange(0, 100)) for _ in range(25_000_000))
    open(path, "w").write(text[: 64 * MiB])
write("hex-colon.txt", b"ab:", 64 * MiB)
path = os.path.join(out, "dig-shapes.txt")
if not os.path.exists(path):
    r = random.Random(3)
    parts, n = [], 0
    while n < 20_000_000:
        groups = ["".join(r.choice("0123456789") for _ in range(r.randint(1, 5)))
                  for _ in range(r.randint(2, 7))]
        run = groups[0] + "".join(r.choice(" -./()+") * r.randint(1, 2) + g for g in groups[1:])
        parts.append(run + " x ")
        n += len(run) + 3
    open(path, "w").write("".join(parts))
def shapes(name, seed, run_len, between):
    path = os.path.join(out, name)
    if os.path.exists(path):
        return
    r = random.Random(seed)
    parts, n = [], 0
    while n < 20_000_000:
        run, size = [], 0
        while size < run_len:
            group = "".join(r.choice("0123456789") for _ in range(r.randint(1, 5)))
            group += r.choice(" -./()+") * r.randint(1, 2)
            run.append(group)
            size += len(group)
        parts.append("".join(run) + "7" + between)
        n += size + 1 + len(between)
    open(path, "w").write("".join(parts))
shapes("dig-shapes-long.txt", 11, 200, " x ")
shapes("dig-shapes-joined.txt", 13, 20_000_000, "")
path = os.path.join(out, "nums.csv")
if not os.path.exists(path):
    r = random.Random(7)
    with open(path, "w") as f:
        f.write("id,date,time,amount,qty,account,ref\n")
        for i in range(400_000):
            f.write(f"{i + 1000000},{r.randint(2000, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d},"
                    f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d},"
                    f"{r.randint(0, 99999)}.{r.randint(0, 99):02d},{r.randint(1, 500)},"
                    f"{r.randint(10**9, 10**10 - 1)},{r.randint(10**5, 10**6)}-{r.randint(100, 999)}\n")
def one_value(name, head, body, tail):
    path = os.path.join(out, name)
    size = len(head) + 256 * MiB + len(tail)
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        f.write(head)
        left = 256 * MiB
        while left > 0:
            piece = body[:left]
            if len(piece) < len(body):
                # (the cut must not leave half an escape or doubled quote)
                trimmed = piece.rstrip(b'\\"')
                piece = trimmed + b"x" * (len(piece) - len(trimmed))
            f.write(piece)
            left -= len(piece)
        f.write(tail)
notes = open(os.path.join(corpus, "notes-0004.txt"), "rb").read(8 * MiB)
one_value("one-string.json", b'{"id": 1, "text": "',
          notes.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n"), b'", "n": 2}\n')
one_value("one-cell.csv", b'id,text\n1,short\n2,"', notes.replace(b'"', b'""'), b'"\n3,short\n')
# Dense findings (BIG_GB runs only): one IPv4 address per line, ~4.7M findings per
# 64 MiB, each written out.
rnd = random.Random(2)
ips = "".join(f"{rnd.randrange(11, 200)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}\n" for _ in range(70000)).encode()
if os.environ.get("BIG_GB"):
    write("dense-64m.txt", ips, 64 * MiB)
    write("dense-256m.txt", ips, 256 * MiB)
PY

PYTHONPATH=benches python3 - "$CORPUS" "$DIR" "$BIN" <<'PY'
import os, sys
from measure import run_once
corpus, d, binary = sys.argv[1], sys.argv[2], sys.argv[3]
peak = {}
def timed(paths, threads="1", runs=2, extra=()):
    best = None
    for _ in range(runs):
        el, kib, code = run_once([binary, "scan", "-q", "-j" + threads, "--format", "jsonl", *extra, *paths])
        if code not in (0, 1):
            sys.exit(f"datasieve failed on {paths}: {code}")
        best = el if best is None else min(best, el)
        peak[tuple(paths)] = max(peak.get(tuple(paths), 0), kib)
    return best
files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
size = sum(os.path.getsize(f) for f in files)
base = timed(files) / size * 1e9
print(f"| input | size | time | ns/byte | x normal | peak anon |")
print(f"|---|---:|---:|---:|---:|---:|")
print(f"| corpus ({len(files)} files) | {size/2**20:.0f} MiB | {base*size/1e9:.2f} s | {base:.1f} | 1.0 | {peak[tuple(files)]/1024:.0f} MiB |")
for name in ["one-line.txt", "digits.txt", "at.txt", "ghp.txt", "sk.txt", "sk-proj.txt", "base64-zeros.txt",
             "dig-dash.txt", "dig-4dash.txt", "dig-space.txt", "dig-3dot.txt",
             "dig-dash-64m.txt", "hex-colon.txt", "dig-shapes.txt", "dig-shapes-long.txt",
             "dig-shapes-joined.txt", "nums.csv", "one-string.json", "one-cell.csv"]:
    path = os.path.join(d, name)
    n = os.path.getsize(path)
    t = timed([path])
    print(f"| {name} | {n/2**20:.1f} MiB | {t:.2f} s | {t/n*1e9:.1f} | {t/n*1e9/base:.1f} | {peak[(path,)]/1024:.0f} MiB |")
# Memory must not grow with input size: one BIG_GB file (the corpus repeated),
# scanned on two threads (chunked), against the 256 MiB single-line file.
big_gb = int(os.environ.get("BIG_GB", "0"))
if big_gb:
    path = os.path.join(d, f"big-{big_gb}g.txt")
    want = big_gb << 30
    if not os.path.exists(path) or os.path.getsize(path) != want:
        with open(path, "wb") as out:
            written = 0
            while written < want:
                for f in files:
                    data = open(f, "rb").read()[: want - written]
                    out.write(data); written += len(data)
                    if written >= want:
                        break
    t2 = timed([path], threads="2", runs=1)
    print(f"| {os.path.basename(path)} (-j2) | {want/2**20:.0f} MiB | {t2:.2f} s | {t2/want*1e9:.1f} | | {peak[(path,)]/1024:.0f} MiB |")
    big = path
    # The same amount of JSON Lines, gzip-compressed: decompressed blocks are
    # anonymous memory, so this shows that a compressed stream is not held whole.
    import gzip
    gz = os.path.join(d, f"big-{big_gb}g.jsonl.gz")
    if not os.path.exists(gz):
        jsonl = [f for f in files if f.endswith(".jsonl")]
        with gzip.open(gz + ".part", "wb", compresslevel=1) as out:
            written = 0
            while written < want:
                for f in jsonl:
                    data = open(f, "rb").read()
                    out.write(data); written += len(data)
                    if written >= want:
                        break
        os.rename(gz + ".part", gz)
    # (past the default 4 GiB per stream with BIG_GB=4)
    t2 = timed([gz], threads="2", runs=1, extra=["--max-member-size", "1T", "--max-decompressed-size", "1T"])
    print(f"| {os.path.basename(gz)} (-j2, decompressed ~{want/2**20:.0f} MiB) | {os.path.getsize(gz)/2**20:.0f} MiB | {t2:.2f} s | | | {peak[(gz,)]/1024:.0f} MiB |")
    # Findings leave as they are found: memory must not grow with their number.
    for name in ["dense-64m.txt", "dense-256m.txt"]:
        path = os.path.join(d, name)
        n = os.path.getsize(path)
        t2 = timed([path], threads="2", runs=1)
        print(f"| {name} (-j2, one IPv4 per line) | {n/2**20:.0f} MiB | {t2:.2f} s | {t2/n*1e9:.1f} | | {peak[(path,)]/1024:.0f} MiB |")
# Scaling within one file (chunks): one thread against two, on the single line
# and, with BIG_GB, on the large file.
print()
print("| one file | -j1 | -j2 | scaling |")
print("|---|---:|---:|---:|")
for path in [os.path.join(d, "one-line.txt")] + ([big] if big_gb else []):
    t1 = timed([path], threads="1", runs=1)
    t2 = timed([path], threads="2", runs=1)
    print(f"| {os.path.basename(path)} | {t1:.2f} s | {t2:.2f} s | {t1/t2:.2f}x |")
PY
