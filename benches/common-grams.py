#!/usr/bin/env python3
"""Writes how often two- and three-byte sequences occur in a sample of English and
technical text (lowercase, printable ASCII only), one `gram<TAB>count` per line,
most common first, after a first line `# bytes<TAB>size of the sample`: the list the keyword prefilter uses to sample each keyword on
its rarest bytes (crates/core/src/engine/common_grams.txt).

usage: benches/common-grams.py [N=3000] > crates/core/src/engine/common_grams.txt

The N most common three-byte sequences are listed, and every two-byte sequence at
least as common as the last of them: a sequence not listed is rarer than every one
listed, of either length (so counts of pairs and triples compare).

The sample: the licence texts of /usr/share/common-licenses and the Markdown files
(4 KB or more, the first 400 in path order) of the local crate registry.
"""
import glob
import os
import sys
from collections import Counter

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
files = sorted(glob.glob("/usr/share/common-licenses/*"))
registry = os.path.expanduser("~/.cargo/registry/src")
md = sorted(glob.glob(f"{registry}/*/*/*.md")) + sorted(glob.glob(f"{registry}/*/*/*/*.md"))
files += [f for f in md if os.path.getsize(f) >= 4096][:400]
text = b"".join(open(f, "rb").read() for f in files if os.path.isfile(f)).lower()


def printable(gram):
    return all(32 <= b < 127 for b in gram)


triples = Counter(text[i : i + 3] for i in range(len(text) - 2))
top = [(t, c) for t, c in triples.most_common() if printable(t)][:n]
floor = top[-1][1]
pairs = Counter(text[i : i + 2] for i in range(len(text) - 1))
top += [(t, c) for t, c in pairs.items() if printable(t) and c >= floor]
top.sort(key=lambda tc: (-tc[1], tc[0]))
sys.stdout.write(f"# bytes\t{len(text)}\n")
sys.stdout.write("".join(f"{t.decode()}\t{c}\n" for t, c in top))
