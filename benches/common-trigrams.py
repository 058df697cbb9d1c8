#!/usr/bin/env python3
"""Writes the most common three-byte sequences of a sample of English and technical
text, lowercase, most common first, one per line (printable ASCII only): the list
the keyword prefilter uses to sample each keyword on its rarest bytes
(crates/core/src/engine/common_trigrams.txt).

usage: benches/common-trigrams.py [N=1000] > crates/core/src/engine/common_trigrams.txt

The sample: the licence texts of /usr/share/common-licenses and the Markdown files
(4 KB or more, the first 400 in path order) of the local crate registry.
"""
import glob
import os
import sys
from collections import Counter

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
files = sorted(glob.glob("/usr/share/common-licenses/*"))
registry = os.path.expanduser("~/.cargo/registry/src")
md = sorted(glob.glob(f"{registry}/*/*/*.md")) + sorted(glob.glob(f"{registry}/*/*/*/*.md"))
files += [f for f in md if os.path.getsize(f) >= 4096][:400]
text = b"".join(open(f, "rb").read() for f in files if os.path.isfile(f)).lower()
counts = Counter(text[i : i + 3] for i in range(len(text) - 2))
top = [t for t, _ in counts.most_common() if all(32 <= b < 127 for b in t)][:n]
sys.stdout.write("".join(t.decode() + "\n" for t in top))
