//! The replacement values of the simple operators: placeholder, mask and keyed hash.
//! None of them can be found again by a rule: placeholders and pseudonyms hold only
//! a label and hex digits in brackets, masks replace every letter and digit.
//!
//! ```
//! use datasieve::redact::{mask_value, placeholder, pseudonym};
//! assert_eq!(placeholder("EMAIL"), "[EMAIL]");
//! assert_eq!(mask_value(b"4556 7375 8689 9855", '*', 4), b"**** **** **** 9855");
//! let a = pseudonym(b"k3y", "EMAIL", b"jane@corp.net");
//! assert_eq!(a, pseudonym(b"k3y", "EMAIL", b"jane@corp.net"));
//! assert!(a.starts_with("[EMAIL:") && a.len() == "[EMAIL:]".len() + 8);
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex digits of the HMAC kept in a pseudonym (32 bits).
pub const PSEUDONYM_HEX_LEN: usize = 8;

/// `[LABEL]`.
pub fn placeholder(label: &str) -> String {
    format!("[{label}]")
}

/// Keeps the length (in characters) and the punctuation and spacing of `value`;
/// every letter, digit and non-ASCII character becomes `mask_char`, except the last
/// `keep_last` letters and digits. A value with no letter or digit is masked whole
/// (spaces aside). Bytes that are not UTF-8 count as one character each.
pub fn mask_value(value: &[u8], mask_char: char, keep_last: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let chars: Vec<char> = text.chars().collect();
    let maskable = |c: char| c.is_alphanumeric() || !c.is_ascii();
    let any = chars.iter().any(|&c| maskable(c));
    let total = chars.iter().filter(|&&c| maskable(c)).count();
    // Never keep so much that most of the value shows.
    let keep = keep_last.min(total / 2);
    let mut seen = 0;
    let mut out = String::with_capacity(value.len());
    for c in chars {
        let hide = if any { maskable(c) } else { !c.is_whitespace() };
        if hide && maskable(c) {
            seen += 1;
        }
        if hide && !(maskable(c) && seen > total - keep) {
            out.push(mask_char);
        } else {
            out.push(c);
        }
    }
    out.into_bytes()
}

/// `[LABEL:5f2a9c1e]`: HMAC-SHA256 of the value under `key`, first
/// [`PSEUDONYM_HEX_LEN`] hex digits. The same value gives the same pseudonym
/// whatever rule found it, so joins and de-duplication still work.
pub fn pseudonym(key: &[u8], label: &str, value: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(PSEUDONYM_HEX_LEN);
    for b in digest.iter().take(PSEUDONYM_HEX_LEN / 2) {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("[{label}:{hex}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_length_and_punctuation() {
        assert_eq!(mask_value(b"jane@corp.net", '*', 0), b"****@****.***");
        assert_eq!(mask_value(b"tok_abc123", '#', 0), b"###_######");
        assert_eq!(
            mask_value(b"+1 (555) 010-9999", '*', 4),
            b"+* (***) ***-9999"
        );
        assert_eq!(
            mask_value("J\u{f8}rgen".as_bytes(), '*', 0),
            "******".as_bytes(),
            "length in characters"
        );
        // keep_last never reveals more than half.
        assert_eq!(mask_value(b"ab12", '*', 4), b"**12");
        // Nothing alphanumeric: everything but spaces is masked.
        assert_eq!(mask_value(b"-- ++", '*', 0), b"** **");
    }

    #[test]
    fn pseudonyms_are_keyed_deterministic_and_distinct() {
        let a = pseudonym(b"key-one", "EMAIL", b"jane@corp.net");
        assert_eq!(a, pseudonym(b"key-one", "EMAIL", b"jane@corp.net"));
        assert_ne!(a, pseudonym(b"key-two", "EMAIL", b"jane@corp.net"));
        assert_ne!(a, pseudonym(b"key-one", "EMAIL", b"john@corp.net"));
        // The label does not change the hash: the same value joins across rules.
        let b = pseudonym(b"key-one", "CONTACT", b"jane@corp.net");
        assert_eq!(a[a.len() - 9..], b[b.len() - 9..]);
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        assert_eq!(
            pseudonym(b"Jefe", "T", b"what do ya want for nothing?"),
            "[T:5bdcc146]"
        );
    }
}
