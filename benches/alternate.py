#!/usr/bin/env python3
"""Builds of datasieve alternated over the same input, RUNS times each: the
minimum, first quartile and median CPU time (user + system) and wall time of
each. Alternating spreads the load of other jobs on this shared machine over
the builds.

usage: benches/alternate.py RUNS OLD_BIN NEW_BIN PATH [scan options, default -j1]
       benches/alternate.py RUNS BIN1,BIN2[,BIN3...] PATH [scan options]
e.g.   benches/alternate.py 9 /tmp/ds-old target/release/datasieve target/bench-corpus-200
"""
import resource
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
if "," in sys.argv[2]:
    bins, rest = sys.argv[2].split(","), sys.argv[3:]
else:
    bins, rest = sys.argv[2:4], sys.argv[4:]
path, options = rest[0], rest[1:] or ["-j1"]
cpu = {b: [] for b in bins}
wall = {b: [] for b in bins}
for _ in range(runs):
    for b in bins:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([b, "scan", "-q", *options, "--format", "jsonl", path],
                       stdout=subprocess.DEVNULL)
        wall[b].append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[b].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def summary(xs):
    xs = sorted(xs)
    return f"min {xs[0]:.3f} q1 {xs[len(xs) // 4]:.3f} median {statistics.median(xs):.3f}"


for b in bins:
    print(f"{b}: cpu {summary(cpu[b])} s | wall {summary(wall[b])} s")
