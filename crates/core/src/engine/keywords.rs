//! The keyword prefilter: finds every position where a rule keyword starts.
//!
//! Keywords are ASCII case-insensitive. At every position where one starts, the
//! longest one there is reported, with the rules of every keyword *contained* in it
//! (so no shorter keyword is lost).
//!
//! The search does not walk an automaton byte by byte (an Aho-Corasick DFA over the
//! catalog's 340 keywords ran at ~300 MB/s, the largest single cost of a scan).
//! Every other position is sampled: the hash of its three bytes, case folded by
//! setting bit 5 of each byte, is looked up in a table that says how far before it
//! (up to five bytes, or one byte after it) a keyword may start: eight independent
//! samples per 16 bytes and one branch, no dependency from one byte to the next.
//! Each keyword enters the table at an even and at an odd distance from its start,
//! by whichever of its bytes a sample there may see proposes fewest positions
//! (three bytes, or two and a free one, by counts of English and technical text
//! and of the slots they fill), so that common words propose few positions. Each
//! proposed position is tested on its own first three bytes (the table of keyword
//! prefixes), again on its first four when only keywords of four bytes or more
//! start that way (three-byte prefixes like `pas` or `sec` are common in prose,
//! four-byte ones much less), and only then compared exactly with the keywords that
//! hash there. Keywords shorter than three bytes enter the tables once for every
//! possible missing byte. `cargo run --release -p datasieve-bench --bin
//! prefilter-lab -- FILE` compares it with the automaton (see BENCHMARKS.md).

use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::swar;

/// Up to this many distinct keywords, an Aho-Corasick automaton searches instead of
/// the tables: with very few literals its SIMD prefilter skips most of the text,
/// faster than hashing every position (one PyPI rule over 105 MB: 0.19 s -> 0.11 s).
/// With ten or so (the crypto or financial rules alone, context words included) it
/// was already slower than the tables (criterion: 24 against 15 ms per 8 MiB).
const FEW_KEYWORDS: usize = 4;

/// Bits of the hashes of three- and four-byte prefixes: a table of 2^16 bytes (most
/// lookups are of a few thousand common trigrams, whose lines stay in the
/// first-level cache) and a bitmap of 2^16 bits.
const HASH_BITS: u32 = 16;
/// Entry of the three-byte table: a keyword of four bytes or more starts this way.
const LONG: u8 = 1;
/// Entry of the three-byte table: a keyword of at most three bytes starts this way.
const SHORT: u8 = 2;
/// Bits of the hashes of the sampled table (2^17 bytes): keywords sampled on two
/// of their bytes enter once for every byte that may follow or precede them,
/// ~9,600 slots taken, whose collisions propose positions; twice the entries of the
/// prefix table halve them (prefilter-lab on prose: 20.3 -> 19.6 ms per 16 MB;
/// 2^18 and 2^15 were slower, and 2^18 again with the entries chosen by their
/// cost: 2.4% fewer instructions on the corpus, no faster).
const SAMPLED_BITS: u32 = 17;
/// Farthest a sample may lie after the start of a keyword it stands for: a keyword
/// is sampled on its rarest bytes among those at an even offset up to this one
/// (for starts at a sample's parity) and those at an odd one (for the others).
const MAX_BACK: usize = 5;
/// Bit of the sampled table for a keyword starting `back` bytes before the sample
/// (`back` from -1, one byte after it, to `MAX_BACK`): bit `MAX_BACK - back`, so
/// that bit `b` of a step's mask stands for position `at - MAX_BACK + b`.
const fn back_bit(back: isize) -> u8 {
    1 << (MAX_BACK as isize - back)
}

/// How often two- and three-byte sequences occur in a sample of English and
/// technical text (lowercase, `gram<TAB>count` per line, most common first, after
/// a line `# bytes<TAB>size of the sample`): keywords are sampled on their rarest
/// bytes. Counted by `benches/common-grams.py` over licence texts and the
/// Markdown files of a crate registry; a sequence not listed is rarer than every
/// one listed.
const COMMON_GRAMS: &str = include_str!("common_grams.txt");

/// The counts of [`COMMON_GRAMS`] by sequence, and the size of the sample:
/// parsed once per process, however many scanners are built.
fn gram_counts() -> &'static (HashMap<&'static [u8], u64>, u64) {
    static COUNTS: std::sync::OnceLock<(HashMap<&'static [u8], u64>, u64)> =
        std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        let mut size = 0;
        let mut counts = HashMap::new();
        for line in COMMON_GRAMS.lines() {
            let Some((gram, count)) = line.rsplit_once('\t') else {
                continue;
            };
            let Ok(count) = count.parse() else { continue };
            if gram == "# bytes" {
                size = count;
            } else {
                counts.insert(gram.as_bytes(), count);
            }
        }
        (counts, size)
    })
}

/// Buckets of keywords by hash, for the exact comparison.
const BUCKET_BITS: u32 = 12;

/// Keyword occurrences -> rules.
pub(super) struct Keywords {
    /// Lowercase keywords, each at most once.
    patterns: Vec<Vec<u8>>,
    /// For a few keywords: a leftmost-longest automaton over `patterns` (pattern ids
    /// are indices into it), used instead of the tables.
    automaton: Option<AhoCorasick>,
    /// Longest keyword.
    max_len: usize,
    /// Pattern id -> rules (closed over contained keywords).
    rules: Vec<Vec<u32>>,
    /// Entry `h`: `LONG` and/or `SHORT` when some keyword's folded first three bytes
    /// hash to `h`.
    table: Box<[u8; 1 << HASH_BITS]>,
    /// The table of the sampled search, by the hash (`SAMPLED_BITS`) of the three
    /// bytes at a sampled offset `q`: bit [`back_bit`]`(k)` when a keyword may
    /// start at `q - k` (see `find`).
    sampled: Box<[u8; 1 << SAMPLED_BITS]>,
    /// Bit `h` is set when the folded first four bytes of a keyword of four bytes or
    /// more hash to `h`.
    table4: Box<[u64; 1 << (HASH_BITS - 6)]>,
    /// Keywords by bucket (the top bits of the hash), longest first: the keywords of
    /// bucket `b` are `ids[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    ids: Vec<u16>,
    /// Per pattern: its first (up to) eight bytes, compared in one go.
    heads: Vec<Head>,
}

/// The first (up to) eight bytes of a keyword, compared exactly with one word:
/// `(word | fold) & mask == head`, where `fold` sets bit 5 of the letters only
/// (folding other bytes would let `_` match DEL).
/// It holds the keyword's length too, so that keywords of up to eight bytes are
/// compared without reading the pattern.
struct Head {
    head: u64,
    mask: u64,
    fold: u64,
    len: usize,
}

impl Head {
    fn of(p: &[u8]) -> Self {
        let n = p.len().min(8);
        let fold = p[..n]
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_alphabetic())
            .fold(0u64, |f, (i, _)| f | 0x20 << (8 * i));
        let mask = u64::MAX >> (8 * (8 - n));
        Head {
            head: (load_padded(p, 0) | fold) & mask,
            mask,
            fold,
            len: p.len(),
        }
    }
}

/// One keyword of one rule.
pub(super) struct KeywordSpec<'a> {
    pub(super) rule: u32,
    pub(super) keyword: &'a str,
}

/// The leftmost-longest, ASCII case-insensitive automaton over `patterns`.
fn automaton_of(patterns: &[Vec<u8>]) -> Result<AhoCorasick, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .map_err(|e| e.to_string())
}

/// Sets bit 5 of every byte: ASCII letters fold to lowercase (other bytes map to
/// bytes that may collide, which only costs an exact comparison).
const FOLD: u64 = 0x2020_2020_2020_2020;

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// Hash of the three bytes at byte `j` (0..=5) of a little-endian word, folded: they
/// are moved to the top 24 bits (the others cleared), multiplied, and the top bits
/// taken.
#[inline(always)]
fn hash_at(word: u64, j: u32) -> usize {
    hash3::<HASH_BITS>(word, j)
}

/// [`hash_at`] on `SAMPLED_BITS` bits, for the sampled table.
#[inline(always)]
fn sampled_at(word: u64, j: u32) -> usize {
    hash3::<SAMPLED_BITS>(word, j)
}

/// The hash of [`hash_at`] on `BITS` bits.
#[inline(always)]
fn hash3<const BITS: u32>(word: u64, j: u32) -> usize {
    ((((word | FOLD) >> (8 * j)) << 40).wrapping_mul(MULTIPLIER) >> (64 - BITS)) as usize
}

/// Hash of the four bytes at byte `j` (0..=4) of a little-endian word, folded.
#[inline(always)]
fn hash4_at(word: u64, j: u32) -> usize {
    ((((word | FOLD) >> (8 * j)) << 32).wrapping_mul(MULTIPLIER) >> (64 - HASH_BITS)) as usize
}

/// Every three-byte little-endian word with the bytes `fixed` at offset `at` and
/// any bytes elsewhere.
fn words_with(fixed: &[u8], at: usize) -> Vec<u64> {
    let free: Vec<usize> = (0..3)
        .filter(|i| !(at..at + fixed.len()).contains(i))
        .collect();
    let base = fixed
        .iter()
        .enumerate()
        .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * (at + i)));
    (0..1u64 << (8 * free.len()))
        .map(|x| {
            free.iter()
                .enumerate()
                .fold(base, |w, (k, &i)| w | (x >> (8 * k) & 0xFF) << (8 * i))
        })
        .collect()
}

/// The little-endian word of the (up to) eight bytes at `hay[at..]`, zero past the
/// end.
fn load_padded(hay: &[u8], at: usize) -> u64 {
    let mut head = [0u8; 8];
    let n = (hay.len() - at).min(8);
    head[..n].copy_from_slice(&hay[at..at + n]);
    u64::from_le_bytes(head)
}

impl Keywords {
    pub(super) fn new(specs: &[KeywordSpec<'_>]) -> Result<Option<Self>, String> {
        let mut by_pattern: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
        for spec in specs {
            if spec.keyword.is_empty() {
                return Err("empty keyword".into());
            }
            let rules = by_pattern
                .entry(spec.keyword.to_ascii_lowercase().into_bytes())
                .or_default();
            if !rules.contains(&spec.rule) {
                rules.push(spec.rule);
            }
        }
        if by_pattern.is_empty() {
            return Ok(None);
        }
        if by_pattern.len() > usize::from(u16::MAX) {
            return Err(format!("too many keywords ({})", by_pattern.len()));
        }
        let mut patterns: Vec<Vec<u8>> = by_pattern.keys().cloned().collect();
        patterns.sort();
        let mut rules: Vec<Vec<u32>> = patterns.iter().map(|p| by_pattern[p].clone()).collect();
        for (i, p) in patterns.iter().enumerate() {
            for q in &patterns {
                // (keywords are short: comparing windows beats building a searcher)
                if q.len() < p.len()
                    && p.windows(q.len())
                        .any(|w| w[0] == q[0] && w == q.as_slice())
                {
                    for &r in &by_pattern[q] {
                        if !rules[i].contains(&r) {
                            rules[i].push(r);
                        }
                    }
                }
            }
        }
        // Every folded three-byte prefix a keyword can start with: its own first
        // three bytes, or for shorter keywords each possible continuation.
        let mut table = Box::new([0u8; 1 << HASH_BITS]);
        // (the sampled table: below)
        let mut sampled = Box::new([0u8; 1 << SAMPLED_BITS]);
        let mut table4 = Box::new([0u64; 1 << (HASH_BITS - 6)]);
        let mut buckets: Vec<Vec<u16>> = vec![Vec::new(); 1 << BUCKET_BITS];
        for (id, p) in patterns.iter().enumerate() {
            let head = load_padded(p, 0);
            if p.len() >= 4 {
                let h = hash4_at(head, 0);
                table4[h >> 6] |= 1 << (h & 63);
            }
            // (hash_at reads the low three bytes only)
            let prefixes = if p.len() < 3 {
                words_with(p, 0)
            } else {
                vec![head]
            };
            for prefix in prefixes {
                let h = hash_at(prefix, 0);
                table[h] |= if p.len() > 3 { LONG } else { SHORT };
                let bucket = &mut buckets[h >> (HASH_BITS - BUCKET_BITS)];
                if !bucket.contains(&(id as u16)) {
                    bucket.push(id as u16);
                }
            }
        }
        // The sampled table. Samples lie every other byte: a keyword starting at a
        // sample's parity is seen by the samples at even distances after its
        // start, one starting at the other parity by those at odd distances (or
        // by the sample one byte before it). For each parity the keyword enters
        // the table once, by the least common of the bytes a sample of that
        // parity may see: three of its bytes at such a distance (prose is full
        // of "pas", "sec" and "ver": "password" is sampled on "ssw" or "swo",
        // "vercel" on "rce" or "cel"), or a pair of its bytes and the byte after
        // it (its last two) or before it (its first two), entered once for every
        // byte that may be there (a three-byte keyword at the other parity:
        // "eth" is sampled on "?et", not on "th?").
        // What an entry costs: the positions it would propose over the counted
        // text (times 2^(SAMPLED_BITS + 1)), those of its own bytes (half their
        // occurrences lie at a sample) and those of other bytes hashing to its
        // slots (a sample every other byte, each slot taking 2^-SAMPLED_BITS of
        // them). A free byte takes a slot for each of the 128 folded bytes.
        let (counts, size) = gram_counts();
        let size = *size;
        let cost = |gram: &[u8]| {
            let slots = 128u64.pow(3 - gram.len().min(3) as u32);
            (counts.get(gram).copied().unwrap_or(0) << SAMPLED_BITS) + slots * size
        };
        for p in &patterns {
            for parity in [0, 1] {
                // The entries a sample of this parity may stand for: (bytes of the
                // keyword, where they lie in the sample, how far before the sample
                // the keyword starts). Three bytes at such a distance...
                let mut options: Vec<(&[u8], usize, isize)> = (parity..=MAX_BACK)
                    .step_by(2)
                    .filter(|&o| o + 3 <= p.len())
                    .map(|o| (&p[o..o + 3], 0, o as isize))
                    .collect();
                // ...or its last two bytes (or one) and whatever follows them...
                let o = p.len().saturating_sub(2);
                if o % 2 == parity && o <= MAX_BACK {
                    options.push((&p[o..], 0, o as isize));
                }
                // ...or, one byte before it, whatever precedes its first two.
                if parity == 1 {
                    options.push((&p[..p.len().min(2)], 1, -1));
                }
                let (gram, at, back) = options
                    .into_iter()
                    .min_by_key(|&(gram, _, back)| (cost(gram), back))
                    .expect("every keyword has an entry of each parity");
                for w in words_with(gram, at) {
                    sampled[sampled_at(w, 0)] |= back_bit(back);
                }
            }
        }
        let mut starts = Vec::with_capacity(buckets.len() + 1);
        let mut ids = Vec::new();
        for mut bucket in buckets {
            bucket.sort_by_key(|&id| std::cmp::Reverse(patterns[id as usize].len()));
            starts.push(ids.len() as u32);
            ids.extend(bucket);
        }
        starts.push(ids.len() as u32);
        let heads = patterns.iter().map(|p| Head::of(p)).collect();
        let automaton = if patterns.len() <= FEW_KEYWORDS {
            Some(automaton_of(&patterns)?)
        } else {
            None
        };
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Some(Keywords {
            automaton,
            max_len,
            heads,
            patterns,
            rules,
            table,
            sampled,
            table4,
            starts,
            ids,
        }))
    }

    /// Longest keyword in bytes: no hit is longer.
    pub(super) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The longest keyword that starts at `at`, whose three bytes hash to `h`.
    fn longest_at(&self, hay: &[u8], at: usize, h: usize) -> Option<usize> {
        let b = h >> (HASH_BITS - BUCKET_BITS);
        let left = hay.len() - at;
        let word = if left >= 8 {
            swar::load(hay, at)
        } else {
            load_padded(hay, at)
        };
        self.ids[self.starts[b] as usize..self.starts[b + 1] as usize]
            .iter()
            .map(|&id| id as usize)
            .find(|&id| {
                let k = &self.heads[id];
                (word | k.fold) & k.mask == k.head
                    && left >= k.len
                    && (k.len <= 8
                        || hay[at + 8..at + k.len].eq_ignore_ascii_case(&self.patterns[id][8..]))
            })
    }

    /// Calls `f(rule, span)` for every keyword that starts in `block` (a keyword may
    /// end past it).
    pub(super) fn find(
        &self,
        hay: &[u8],
        block: Range<usize>,
        mut f: impl FnMut(u32, Range<usize>),
    ) {
        if let Some(automaton) = &self.automaton {
            // The longest keyword at each position, restarting one byte after each
            // hit.
            let end = (block.end + self.max_len).min(hay.len());
            let mut at = block.start;
            while at < block.end {
                let input = aho_corasick::Input::new(hay).span(at..end);
                let Some(m) = automaton.find(input) else {
                    break;
                };
                if m.start() >= block.end {
                    break;
                }
                for &r in &self.rules[m.pattern().as_usize()] {
                    f(r, m.start()..m.end());
                }
                at = m.start() + 1;
            }
            return;
        }
        // The exact comparison, for positions that passed the tables.
        let mut report = |at: usize, h: usize| {
            if let Some(id) = self.longest_at(hay, at, h) {
                for &r in &self.rules[id] {
                    f(r, at..at + self.patterns[id].len());
                }
            }
        };
        let table4 = &*self.table4;
        // The second test: where only keywords of four bytes or more start with these
        // three, their first four must hash into `table4`.
        let passes4 =
            |entry: u8, h4: usize| entry != LONG || table4[h4 >> 6] & (1 << (h4 & 63)) != 0;
        let table = &*self.table;
        let sampled = &*self.sampled;
        // Every other position is sampled: the hash of its three bytes says how
        // far before it (up to `MAX_BACK` bytes, or one byte after it) a keyword
        // may start (each keyword start is covered by a sample of either parity).
        // Eight samples per step set a mask of the positions
        // `at - MAX_BACK ..= at + 15`, one branch per step; the first sixteen
        // are tested like unsampled positions (three-byte table, four-byte table,
        // exact comparison), the others, which later samples may still propose,
        // are carried over to the next step.
        let mut at = block.start;
        let fast_end = block.end.min(hay.len().saturating_sub(24));
        let mut carry = 0u32;
        let mut first = true;
        while at + 16 <= fast_end {
            let w0 = swar::load(hay, at);
            let w1 = swar::load(hay, at + 6);
            let w2 = swar::load(hay, at + 12);
            let entry = |word: u64, j: u32| u32::from(sampled[sampled_at(word, j)]);
            let mut mask = carry
                | entry(w0, 0)
                | entry(w0, 2) << 2
                | entry(w0, 4) << 4
                | entry(w1, 0) << 6
                | entry(w1, 2) << 8
                | entry(w1, 4) << 10
                | entry(w2, 0) << 12
                | entry(w2, 2) << 14;
            if first {
                // (positions before the block)
                mask &= !((1 << MAX_BACK) - 1);
                first = false;
            }
            carry = mask >> 16;
            mask &= 0xFFFF;
            while mask != 0 {
                let k = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let p = at + k - MAX_BACK;
                let word = swar::load(hay, p);
                let h = hash_at(word, 0);
                let e = table[h];
                if e != 0 && passes4(e, hash4_at(word, 0)) {
                    report(p, h);
                }
            }
            at += 16;
        }
        // The positions carried over were proposed by the last samples only: test
        // them with the rest.
        if !first {
            at -= MAX_BACK;
        }
        // The last positions: bytes past the end of the haystack read as zero (the
        // exact comparison checks the length).
        while at < block.end {
            let word = load_padded(hay, at);
            let h = hash_at(word, 0);
            let entry = self.table[h];
            // (fewer than four bytes left: a long keyword cannot start here)
            if entry != 0
                && (entry != LONG || hay.len() - at >= 4 && passes4(entry, hash4_at(word, 0)))
            {
                report(at, h);
            }
            at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both searchers over the same keywords: the automaton (few keywords) and the
    /// tables.
    fn both(specs: &[KeywordSpec<'_>]) -> [Keywords; 2] {
        let mut auto = Keywords::new(specs).unwrap().unwrap();
        let mut tables = Keywords::new(specs).unwrap().unwrap();
        if auto.automaton.is_none() {
            auto.automaton = Some(automaton_of(&auto.patterns).unwrap());
        }
        tables.automaton = None;
        [auto, tables]
    }

    #[test]
    fn keywords_are_sampled_on_their_rarest_bytes() {
        let specs =
            [("eth", 0), ("password", 1)].map(|(keyword, rule)| KeywordSpec { rule, keyword });
        let k = Keywords::new(&specs).unwrap().unwrap();
        let at = |bytes: &[u8]| k.sampled[sampled_at(load_padded(bytes, 0), 0)];
        // "eth" starting one byte after a sample: on "?et" (a rare pair), not on
        // "th?" (the most common pair of English), nor on "?th".
        assert_ne!(at(b"xet") & back_bit(-1), 0);
        assert_eq!(at(b"the") & back_bit(1), 0);
        // "password": on none of its common triples ("pas", "ass", "wor").
        for common in [b"pas", b"ass", b"wor"] {
            assert_eq!(at(common), 0, "{}", String::from_utf8_lossy(common));
        }
        assert_ne!(at(b"ssw") | at(b"swo"), 0);
    }

    fn hits(k: &Keywords, hay: &[u8]) -> Vec<(u32, Range<usize>)> {
        let mut v = Vec::new();
        k.find(hay, 0..hay.len(), |r, s| v.push((r, s)));
        v.sort_by_key(|(r, s)| (s.start, *r));
        v
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let specs = [
            KeywordSpec {
                rule: 0,
                keyword: "ghp_",
            },
            KeywordSpec {
                rule: 1,
                keyword: "password",
            },
            KeywordSpec {
                rule: 2,
                keyword: "Pass",
            },
        ];
        let k = Keywords::new(&specs).unwrap().unwrap();
        assert_eq!(hits(&k, b"GHP_ ghp_"), vec![(0, 0..4), (0, 5..9)]);
        // "password" also stands for the "pass" it contains
        assert_eq!(hits(&k, b"SessionPassWord"), vec![(1, 7..15), (2, 7..15)]);
        assert_eq!(hits(&k, b"xpass"), vec![(2, 1..5)]);
    }

    #[test]
    fn only_letters_fold() {
        // Setting bit 5 maps `_` to DEL, `-` to CR and `.` to SO: the comparison
        // must not let those stand for the keyword's own bytes.
        let specs: Vec<KeywordSpec<'_>> = ["ghp_", "sk-live", "hvs.", "xoxb-token-long-keyword"]
            .iter()
            .enumerate()
            .map(|(i, keyword)| KeywordSpec {
                rule: i as u32,
                keyword,
            })
            .collect();
        for k in both(&specs) {
            let hay =
                b"ghp\x7f SK\x0dLIVE hvs\x0e xoxb-token-long-keywor\x04 xoxb-token-long-keyworD";
            assert_eq!(hits(&k, hay), vec![(3, 42..65)]);
            let hay = b"GHP_ sk-LIVE HVS. ";
            assert_eq!(hits(&k, hay), vec![(0, 0..4), (1, 5..12), (2, 13..17)]);
        }
    }

    #[test]
    fn overlapping_keywords_at_different_starts_are_all_found() {
        let specs = [
            KeywordSpec {
                rule: 0,
                keyword: "secret_key",
            },
            KeywordSpec {
                rule: 1,
                keyword: "keyid",
            },
        ];
        let k = Keywords::new(&specs).unwrap().unwrap();
        assert_eq!(hits(&k, b"secret_keyid"), vec![(0, 0..10), (1, 7..12)]);
    }

    #[test]
    fn keyword_straddling_the_block_end_is_found_by_its_block() {
        let k = Keywords::new(&[KeywordSpec {
            rule: 0,
            keyword: "token",
        }])
        .unwrap()
        .unwrap();
        let hay = b"aaaatoken";
        let mut v = Vec::new();
        k.find(hay, 0..6, |r, s| v.push((r, s)));
        k.find(hay, 6..hay.len(), |r, s| v.push((r, s)));
        assert_eq!(v, vec![(0, 4..9)]);
    }

    /// The longest keyword at every position, by comparing every keyword everywhere.
    fn naive(keywords: &[&str], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for at in 0..hay.len() {
            let longest = keywords
                .iter()
                .filter(|k| {
                    hay[at..].len() >= k.len()
                        && hay[at..at + k.len()].eq_ignore_ascii_case(k.as_bytes())
                })
                .map(|k| k.len())
                .max();
            if let Some(len) = longest {
                v.push((at, at + len));
            }
        }
        v
    }

    proptest::proptest! {
        /// Every position where a keyword starts, and only those, whatever the
        /// length of the haystack, the case, and the block boundaries.
        #[test]
        fn finds_what_a_naive_search_finds(
            hay in proptest::collection::vec(proptest::sample::select(b"aAbBkKeEyY_-0x1 \n".to_vec()), 0..200),
            cut in 0usize..200,
        ) {
            let words = ["key", "kEy_b", "ab", "0x", "bee", "a_b-k", "yyyy", "x1", "e"];
            let specs: Vec<KeywordSpec> = words
                .iter()
                .enumerate()
                .map(|(i, w)| KeywordSpec { rule: i as u32, keyword: w })
                .collect();
            let cut = cut.min(hay.len());
            for k in both(&specs) {
                let mut got = Vec::new();
                for block in [0..cut, cut..hay.len()] {
                    k.find(&hay, block, |_, span| got.push((span.start, span.end)));
                }
                got.dedup();
                proptest::prop_assert_eq!(got, naive(&words, &hay));
            }
        }
    }

    proptest::proptest! {
        /// Long keywords are sampled on their rarest bytes, up to `MAX_BACK` bytes
        /// after their start: found wherever they start, whole or cut by a block.
        #[test]
        fn long_keywords_are_found_at_every_start(
            pieces in proptest::collection::vec((0usize..12, 0usize..64, proptest::bool::ANY), 0..24),
            cut in 0usize..400,
        ) {
            let words = [
                "interesting", "the_password", "and-then-the", "configuration", "tion",
                "ent", "ing", "with the", "xz", "q",
            ];
            let specs: Vec<KeywordSpec> = words
                .iter()
                .enumerate()
                .map(|(i, w)| KeywordSpec { rule: i as u32, keyword: w })
                .collect();
            let mut hay = Vec::new();
            for (i, n, upper) in pieces {
                match words.get(i) {
                    // a whole keyword or its head, in either case
                    Some(w) => {
                        let w = &w.as_bytes()[..(n % (w.len() + 4)).min(w.len())];
                        hay.extend(w.iter().map(|b| if upper { b.to_ascii_uppercase() } else { *b }));
                    }
                    None => hay.extend(std::iter::repeat_n(b"e t_a-\nq"[n % 8], n % 5)),
                }
            }
            let cut = cut.min(hay.len());
            for k in both(&specs) {
                let mut got = Vec::new();
                for block in [0..cut, cut..hay.len()] {
                    k.find(&hay, block, |_, span| got.push((span.start, span.end)));
                }
                got.dedup();
                proptest::prop_assert_eq!(got, naive(&words, &hay));
            }
        }
    }

    #[test]
    fn long_haystack_every_offset() {
        let words = ["xoxb-", "token", "pw", "0x", "sk_live_"];
        let specs: Vec<KeywordSpec> = words
            .iter()
            .enumerate()
            .map(|(i, w)| KeywordSpec {
                rule: i as u32,
                keyword: w,
            })
            .collect();
        for k in both(&specs) {
            for pad in 0..40 {
                let mut hay = vec![b'.'; pad];
                hay.extend_from_slice(b"a XOXB-1 tokenpw 0x1 sk_live_ ");
                hay.extend(std::iter::repeat_n(b'z', pad % 17));
                let mut got = Vec::new();
                k.find(&hay, 0..hay.len(), |_, span| {
                    got.push((span.start, span.end))
                });
                got.dedup();
                assert_eq!(got, naive(&words, &hay), "pad {pad}");
            }
        }
    }
}
