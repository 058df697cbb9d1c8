#!/usr/bin/env python3
"""Two builds of datasieve alternated over the same input, RUNS times each: the
minimum and median CPU time (user + system) and wall time of each. Alternating
spreads the load of other jobs on this shared machine over both builds.

usage: benches/alternate.py RUNS OLD_BIN NEW_BIN PATH [scan options, default -j1]
e.g.   benches/alternate.py 9 /tmp/ds-old target/release/datasieve target/bench-corpus-200
"""
import resource
import statistics
import subprocess
import sys
import time

runs, bins, path = int(sys.argv[1]), sys.argv[2:4], sys.argv[4]
options = sys.argv[5:] or ["-j1"]
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
for b in bins:
    print(f"{b}: cpu min {min(cpu[b]):.3f} median {statistics.median(cpu[b]):.3f} s | "
          f"wall min {min(wall[b]):.3f} median {statistics.median(wall[b]):.3f} s")
