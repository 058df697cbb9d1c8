//! Shape tests on text values: entropy, character classes, "reads like words".

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Shannon entropy of the bytes of `value`, in bits per byte.
pub fn shannon_entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// `Ok` when the entropy is at least `min` bits per byte.
pub fn entropy_at_least(value: &[u8], min: f64) -> Result<(), &'static str> {
    if shannon_entropy(value) >= min {
        Ok(())
    } else {
        Err("low entropy")
    }
}

/// How many of the classes lower, upper, digit and other appear in `value`.
pub fn char_classes(value: &[u8]) -> u32 {
    let mut seen = [false; 4];
    for &b in value {
        let class = if b.is_ascii_lowercase() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else if b.is_ascii_digit() {
            2
        } else {
            3
        };
        seen[class] = true;
    }
    seen.iter().filter(|&&s| s).count() as u32
}

/// Common English words and code identifier pieces, used to tell prose and
/// identifiers (`my_database_password`) from random secrets.
static WORDS: &str = include_str!("words.txt");

/// The words of [`WORDS`] (3+ letters), with the longest word for every three-letter
/// prefix so that most positions of a random token cost one table lookup.
struct WordSet {
    words: HashSet<&'static [u8], BuildHasherDefault<Fnv>>,
    /// Longest word starting with the letters `a b c`, at `(a * 26 + b) * 26 + c`;
    /// 0 when none does.
    longest: Vec<u8>,
}

/// FNV-1a: the words are short, and SipHash cost more than the rest of the test.
/// (Also the hasher of the digit rules' shape memo: short keys too.)
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn prefix_index(word: &[u8]) -> usize {
    let l = |i: usize| usize::from(word[i] - b'a');
    (l(0) * 26 + l(1)) * 26 + l(2)
}

fn word_set() -> &'static WordSet {
    static SET: OnceLock<WordSet> = OnceLock::new();
    SET.get_or_init(|| {
        let mut longest = vec![0u8; 26 * 26 * 26];
        let mut words = HashSet::default();
        for w in WORDS
            .split_whitespace()
            .map(str::as_bytes)
            .filter(|w| w.len() >= 3 && w.iter().all(u8::is_ascii_lowercase))
        {
            let entry = &mut longest[prefix_index(w)];
            *entry = (*entry).max(w.len().min(usize::from(u8::MAX)) as u8);
            words.insert(w);
        }
        WordSet { words, longest }
    })
}

/// Calls `f` with the bytes of `bytes` (at most `len` of them), gathered in a
/// buffer on the stack when `len` is at most 256: candidates are checked without
/// allocating.
pub(crate) fn with_gathered<R>(
    len: usize,
    bytes: impl Iterator<Item = u8>,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let mut stack = [0u8; 256];
    if len <= stack.len() {
        let mut n = 0;
        for b in bytes.take(len) {
            stack[n] = b;
            n += 1;
        }
        f(&stack[..n])
    } else {
        f(&bytes.collect::<Vec<u8>>())
    }
}

/// Calls `f` with `value` in ASCII lowercase (see [`with_gathered`]).
pub(crate) fn with_lowercase<R>(value: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    with_gathered(value.len(), value.iter().map(u8::to_ascii_lowercase), f)
}

/// Fraction (0..1) of the letters and digits of `value` covered by known words of
/// 3+ letters, found greedily longest-first within each run of letters. Random
/// tokens score low; `correct_horse_battery` or `MyPasswordHere` score high, and a
/// word padded with digits and symbols (`Summer2024!x`) scores in between.
pub fn word_coverage(value: &[u8]) -> f64 {
    with_lowercase(value, coverage_of_lowercase)
}

fn coverage_of_lowercase(lower: &[u8]) -> f64 {
    let set = word_set();
    let letters = lower.iter().filter(|b| b.is_ascii_lowercase()).count();
    let alnum = lower.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    if letters == 0 {
        return 0.0;
    }
    let mut covered = 0usize;
    let mut i = 0;
    while i < lower.len() {
        if !lower[i].is_ascii_lowercase() {
            i += 1;
            continue;
        }
        let run_end = lower[i..]
            .iter()
            .position(|b| !b.is_ascii_lowercase())
            .map_or(lower.len(), |p| i + p);
        let mut j = i;
        while j < run_end {
            let room = (run_end - j).min(16);
            let upto = if room >= 3 {
                room.min(usize::from(set.longest[prefix_index(&lower[j..])]))
            } else {
                0
            };
            let longest = (3..=upto)
                .rev()
                .find(|&len| set.words.contains(&lower[j..j + len]));
            match longest {
                Some(len) => {
                    covered += len;
                    j += len;
                }
                None => j += 1,
            }
        }
        i = run_end;
    }
    covered as f64 / alnum as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_orders_values() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"ab") - 1.0).abs() < 1e-9);
        assert!(shannon_entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY") > 4.0);
        assert!(entropy_at_least(b"password", 3.5).is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(char_classes(b"abc"), 1);
        assert_eq!(char_classes(b"aB3-"), 4);
    }

    #[test]
    fn words_versus_random() {
        assert!(word_coverage(b"correct_horse_battery_staple") > 0.8);
        assert!(word_coverage(b"MyDatabasePassword") > 0.8);
        assert!(word_coverage(b"q8Zr2LmX0vTb7KpWc3Nd") < 0.3);
        assert_eq!(word_coverage(b"12345"), 0.0);
        let padded = word_coverage(b"Summer2024!x");
        assert!(padded > 0.3 && padded < 0.6, "{padded}");
    }
}
