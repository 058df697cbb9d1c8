//! Synthetic values: fakes of the same shape as the value they replace, so that a
//! model trained on the output still learns the structure of the text.
//!
//! Fakes are chosen so that they are recognisably not anybody's data, and so that a
//! rescan does not find them again:
//! - emails: `user1234@example.com` (`.org`, `.net`), domains reserved by RFC 2606;
//! - IPv4 addresses in the documentation ranges 192.0.2.0/24, 198.51.100.0/24 and
//!   203.0.113.0/24 (RFC 5737); IPv6 addresses in 2001:db8::/32 (RFC 3849);
//! - payment cards: well-known test numbers (Luhn-valid, same length and brand where
//!   possible), laid out with the original separators;
//! - North American phone numbers: `NXX-555-01XX`, reserved for fiction; other
//!   digit strings: random digits, separators kept; when the rules still find
//!   them, digits counting up (`234-567-8901`), which the placeholder filter knows;
//! - tokens: the prefix kept (`ghp_`, `sk-live-`, `AKIA`...), same length, a random
//!   body of the same character classes that ends in `EXAMPLE` (or `example`), the
//!   convention of vendor documentation;
//! - anything else: each letter and digit replaced by a random one of its class.
//!
//! The fake is a pure function of the seed, the rule's label, the value and an
//! attempt number (the redactor tries again when the rules still find a fake), so
//! the same value maps to the same fake across a dataset and across runs with the
//! same seed. The value is mixed in with HMAC-SHA256 keyed by the seed: without the
//! seed, a fake says nothing about the value it replaced.
//!
//! ```
//! use datasieve::redact::synthetic::fake;
//! let a = fake(7, "EMAIL", b"jane.roe@corp-mail.net", 0);
//! assert!(String::from_utf8(a.clone()).unwrap().ends_with("@example.com")
//!     || a.ends_with(b".org") || a.ends_with(b".net"));
//! assert_eq!(a, fake(7, "EMAIL", b"jane.roe@corp-mail.net", 0));
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Well-known card test numbers (Luhn-valid; the engine's placeholder filter knows
/// them as test values).
const TEST_CARDS: &[&str] = &[
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "4000056655665556",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "378282246310005",
    "371449635398431",
    "30569309025904",
];

/// Known token prefixes without a `_` or `-` separator.
const BARE_PREFIXES: &[&str] = &[
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIza", "ya29.", "SG.",
];

/// A small deterministic generator (SplitMix64) seeded from an HMAC.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, label: &str, value: &[u8], attempt: u32) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(&seed.to_le_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(b"datasieve synthetic v1\0");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(&attempt.to_le_bytes());
        mac.update(value);
        let d = mac.finalize().into_bytes();
        let mut s = [0u8; 8];
        s.copy_from_slice(&d[..8]);
        Rng(u64::from_le_bytes(s))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is negligible for the small n used here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick(&mut self, from: &[u8]) -> u8 {
        from[self.below(from.len() as u64) as usize]
    }
}

const DIGITS: &[u8] = b"0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX_LOWER: &[u8] = b"0123456789abcdef";

/// A fake for `value`, found by a rule labelled `label` (attempt 0, then 1, 2...
/// when an earlier fake was still detected).
pub fn fake(seed: u64, label: &str, value: &[u8], attempt: u32) -> Vec<u8> {
    let mut rng = Rng::new(seed, label, value, attempt);
    let label_up = label.to_ascii_uppercase();
    if let Ok(text) = std::str::from_utf8(value) {
        if let Some(f) = fake_email(text, &mut rng) {
            return f.into_bytes();
        }
        if text.parse::<Ipv4Addr>().is_ok() {
            return fake_ipv4(&mut rng).into_bytes();
        }
        if text.parse::<Ipv6Addr>().is_ok() {
            return fake_ipv6(text, &mut rng).into_bytes();
        }
    }
    let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = value.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if letters == 0 && digits > 0 {
        let is_card = label_up.contains("CARD") || label_up.contains("PAN");
        if is_card && (13..=19).contains(&digits) {
            if let Some(f) = fake_card(value, digits, &mut rng) {
                return f;
            }
        }
        let nanp = digits == 10 || (digits == 11 && first_digit(value) == Some(b'1'));
        if attempt == 0 && label_up.contains("PHONE") && nanp {
            return fake_nanp_phone(value, digits, &mut rng);
        }
        return fake_digits(value, attempt, &mut rng);
    }
    fake_token(value, attempt, &mut rng)
}

fn first_digit(value: &[u8]) -> Option<u8> {
    value.iter().copied().find(u8::is_ascii_digit)
}

/// `user1234@example.com` for anything shaped `local@domain.tld`.
fn fake_email(text: &str, rng: &mut Rng) -> Option<String> {
    let (local, domain) = text.rsplit_once('@')?;
    if local.is_empty() || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.')
    {
        return None;
    }
    let tld = ["com", "org", "net"][rng.below(3) as usize];
    let n = 100 + rng.below(99_900);
    Some(format!("user{n}@example.{tld}"))
}

fn fake_ipv4(rng: &mut Rng) -> String {
    let net = [[192, 0, 2], [198, 51, 100], [203, 0, 113]][rng.below(3) as usize];
    let host = 1 + rng.below(254);
    format!("{}.{}.{}.{host}", net[0], net[1], net[2])
}

fn fake_ipv6(text: &str, rng: &mut Rng) -> String {
    let mut seg = [0u16; 8];
    seg[0] = 0x2001;
    seg[1] = 0x0db8;
    for s in &mut seg[2..] {
        *s = rng.below(0x1_0000) as u16;
    }
    if text.contains("::") {
        // Keep the compressed form when the original had one.
        seg[2] = 0;
        seg[3] = 0;
    }
    let fake = Ipv6Addr::from(seg).to_string();
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        fake.to_ascii_uppercase()
    } else {
        fake
    }
}

/// A test card number with as many digits, preferably of the same brand (first
/// digit), laid out like the original.
fn fake_card(value: &[u8], digits: usize, rng: &mut Rng) -> Option<Vec<u8>> {
    let same_len: Vec<&str> = TEST_CARDS
        .iter()
        .copied()
        .filter(|c| c.len() == digits)
        .collect();
    if same_len.is_empty() {
        return None;
    }
    let first = first_digit(value);
    let same_brand: Vec<&str> = same_len
        .iter()
        .copied()
        .filter(|c| Some(c.as_bytes()[0]) == first)
        .collect();
    let from = if same_brand.is_empty() {
        &same_len
    } else {
        &same_brand
    };
    let card = from[rng.below(from.len() as u64) as usize].as_bytes();
    Some(lay_out_digits(value, card))
}

/// Replaces the digits of `value`, in order, with `digits`.
fn lay_out_digits(value: &[u8], digits: &[u8]) -> Vec<u8> {
    let mut it = digits.iter();
    value
        .iter()
        .map(|&b| {
            if b.is_ascii_digit() {
                *it.next().unwrap_or(&b'0')
            } else {
                b
            }
        })
        .collect()
}

/// `[1]NXX-555-01XX`, the range reserved for fictional use.
fn fake_nanp_phone(value: &[u8], digits: usize, rng: &mut Rng) -> Vec<u8> {
    let mut d = Vec::with_capacity(11);
    if digits == 11 {
        d.push(b'1');
    }
    d.push(b'2' + rng.below(8) as u8);
    d.push(rng.pick(DIGITS));
    d.push(rng.pick(DIGITS));
    d.extend_from_slice(b"55501");
    d.push(rng.pick(DIGITS));
    d.push(rng.pick(DIGITS));
    lay_out_digits(value, &d)
}

/// Random digits, separators kept; a leading zero stays a zero and a leading
/// non-zero digit stays non-zero. After the first attempt the digits count up
/// from the first digit of the value (`+1 234-567-8901`, `456-78-9012`), which
/// the placeholder filter knows as sequential.
fn fake_digits(value: &[u8], attempt: u32, rng: &mut Rng) -> Vec<u8> {
    if attempt > 0 {
        let mut d = first_digit(value).map_or(1, |b| b - b'0');
        return value
            .iter()
            .map(|&b| {
                if b.is_ascii_digit() {
                    let out = b'0' + d;
                    d = (d + 1) % 10;
                    out
                } else {
                    b
                }
            })
            .collect();
    }
    let mut first = true;
    value
        .iter()
        .map(|&b| {
            if !b.is_ascii_digit() {
                return b;
            }
            let d = if first && b != b'0' {
                b'1' + rng.below(9) as u8
            } else if first {
                b'0'
            } else {
                rng.pick(DIGITS)
            };
            first = false;
            d
        })
        .collect()
}

/// The prefix a token keeps: a known bare prefix, or the text up to and including
/// the last `_` or `-` within the first 12 bytes.
fn token_prefix(value: &[u8]) -> usize {
    if let Some(p) = BARE_PREFIXES
        .iter()
        .find(|p| value.starts_with(p.as_bytes()) && value.len() > p.len() + 8)
    {
        return p.len();
    }
    let head = &value[..value.len().min(12)];
    match head.iter().rposition(|&b| b == b'_' || b == b'-') {
        // Keep at least 8 characters of body, or it is not much of a token.
        Some(i) if value.len() - (i + 1) >= 8 => i + 1,
        _ => 0,
    }
}

/// Same prefix, same length, a random body of the same character classes; long
/// enough bodies end in `EXAMPLE` / `example`. Hex bodies cannot hold the marker:
/// after the first attempt they repeat a short random block instead, which keeps
/// the alphabet but has the low entropy no real key has.
fn fake_token(value: &[u8], attempt: u32, rng: &mut Rng) -> Vec<u8> {
    let p = token_prefix(value);
    let (prefix, body) = value.split_at(p);
    let alnum: Vec<u8> = body
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    let has_lower = alnum.iter().any(u8::is_ascii_lowercase);
    let has_upper = alnum.iter().any(u8::is_ascii_uppercase);
    let has_digit = alnum.iter().any(u8::is_ascii_digit);
    let hex = alnum.len() >= 8 && alnum.iter().all(u8::is_ascii_hexdigit) && has_digit;
    let mut out = prefix.to_vec();
    let block: Vec<u8> = (0..4).map(|_| rng.pick(HEX_LOWER)).collect();
    let mut hex_pos = 0;
    let mut new_body: Vec<u8> = body
        .iter()
        .map(|&b| {
            if hex && b.is_ascii_hexdigit() {
                let d = if attempt > 0 {
                    hex_pos += 1;
                    block[(hex_pos - 1) % block.len()]
                } else {
                    rng.pick(HEX_LOWER)
                };
                if b.is_ascii_uppercase() {
                    d.to_ascii_uppercase()
                } else {
                    d
                }
            } else if b.is_ascii_lowercase() {
                rng.pick(LOWER)
            } else if b.is_ascii_uppercase() {
                rng.pick(UPPER)
            } else if b.is_ascii_digit() {
                rng.pick(DIGITS)
            } else {
                // Punctuation and non-ASCII bytes are structure: kept.
                b
            }
        })
        .collect();
    if !hex && alnum.len() >= 12 && (has_lower || has_upper) {
        let marker: &[u8] = if has_upper { b"EXAMPLE" } else { b"example" };
        // The last run of letters and digits long enough to hold the marker.
        let mut end = new_body.len();
        while end >= marker.len() {
            let run_start = new_body[..end]
                .iter()
                .rposition(|b| !b.is_ascii_alphanumeric())
                .map_or(0, |i| i + 1);
            if end - run_start >= marker.len() {
                new_body[end - marker.len()..end].copy_from_slice(marker);
                break;
            }
            if run_start == 0 {
                break;
            }
            end = run_start - 1;
        }
    }
    out.append(&mut new_body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::placeholder_reason;
    use crate::validate::luhn;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn deterministic_per_seed_and_value() {
        let a = fake(1, "TOKEN", b"tok_abcdefgh12345678", 0);
        assert_eq!(a, fake(1, "TOKEN", b"tok_abcdefgh12345678", 0));
        assert_ne!(a, fake(2, "TOKEN", b"tok_abcdefgh12345678", 0));
        assert_ne!(a, fake(1, "TOKEN", b"tok_abcdefgh12345679", 0));
        assert_ne!(a, fake(1, "TOKEN", b"tok_abcdefgh12345678", 1));
    }

    #[test]
    fn emails_use_reserved_domains() {
        for v in ["jane.roe@corp-mail.net", "O'Brien+news@mail.shop.co.uk"] {
            let f = s(fake(9, "EMAIL", v.as_bytes(), 0));
            let (local, domain) = f.split_once('@').unwrap();
            assert!(local.starts_with("user"), "{f}");
            assert!(
                ["example.com", "example.org", "example.net"].contains(&domain),
                "{f}"
            );
        }
    }

    #[test]
    fn ips_use_documentation_ranges() {
        for seed in 0..20 {
            let f = s(fake(seed, "IPV4", b"10.20.30.40", 0));
            let ip: Ipv4Addr = f.parse().unwrap();
            let o = ip.octets();
            assert!(
                matches!(o[..3], [192, 0, 2] | [198, 51, 100] | [203, 0, 113]),
                "{f}"
            );
            assert!(o[3] != 0 && o[3] != 255);
            let f = s(fake(seed, "IPV6", b"fe80::1ff:fe23:4567:890a", 0));
            let ip: Ipv6Addr = f.parse().unwrap();
            assert_eq!(ip.segments()[..2], [0x2001, 0x0db8], "{f}");
            assert!(f.contains("::"), "{f}");
        }
        let f = s(fake(
            3,
            "IPV6",
            b"2A00:1450:4001:0812:0000:0000:0000:200E",
            0,
        ));
        assert!(f.starts_with("2001:DB8:"), "{f}");
    }

    #[test]
    fn cards_are_luhn_valid_test_numbers_with_the_same_layout() {
        for v in [
            "4556 7375 8689 9855",
            "5425-2334-3010-9903",
            "371449635398431",
        ] {
            let f = s(fake(5, "CARD", v.as_bytes(), 0));
            assert_eq!(f.len(), v.len(), "{f}");
            assert!(luhn(f.as_bytes()), "{f}");
            assert_eq!(
                f.bytes().map(|b| b.is_ascii_digit()).collect::<Vec<_>>(),
                v.bytes().map(|b| b.is_ascii_digit()).collect::<Vec<_>>(),
                "separators kept: {f}"
            );
            assert_eq!(f.as_bytes()[0], v.as_bytes()[0], "same brand: {f}");
            assert!(placeholder_reason(f.as_bytes()).is_some(), "{f}");
        }
        for c in TEST_CARDS {
            assert!(
                luhn(c.as_bytes()) && placeholder_reason(c.as_bytes()).is_some(),
                "{c}"
            );
        }
    }

    #[test]
    fn phones_and_digits_keep_separators() {
        let f = s(fake(2, "PHONE", b"+1 (415) 867-5309", 0));
        assert_eq!(f.len(), "+1 (415) 867-5309".len());
        let d: String = f.chars().filter(char::is_ascii_digit).collect();
        assert!(d.starts_with('1') && &d[4..9] == "55501", "{f}");
        assert!(f.starts_with("+1 (") && f.contains(") ") && f.contains('-'));
        // When the rules still find it, the digits count up instead.
        let f = s(fake(2, "PHONE", b"+1 (415) 867-5309", 1));
        assert_eq!(f, "+1 (234) 567-8901");
        let f = s(fake(2, "PHONE", b"(415) 867-5309", 1));
        assert_eq!(
            placeholder_reason(f.as_bytes()),
            Some("placeholder value (sequential digits)"),
            "{f}"
        );
        let f = s(fake(2, "SSN", b"078-05-1120", 0));
        assert_eq!(f.len(), 11);
        assert_eq!((&f[3..4], &f[6..7]), ("-", "-"));
        assert!(f.starts_with('0'), "leading zero kept: {f}");
        // Later attempts count up, which the placeholder filter recognises.
        let f = s(fake(2, "SSN", b"423-71-5286", 1));
        assert_eq!((&f[3..4], &f[6..7]), ("-", "-"));
        assert_eq!(
            placeholder_reason(f.as_bytes()),
            Some("placeholder value (sequential digits)"),
            "{f}"
        );
    }

    #[test]
    fn tokens_keep_prefix_length_and_classes_and_say_example() {
        let v = b"ghp_R4nd0mB0dyOfThirtyCharsxxQwErT0abcd";
        let f = s(fake(4, "GITHUB_TOKEN", v, 0));
        assert!(f.starts_with("ghp_") && f.len() == v.len(), "{f}");
        assert!(f.ends_with("EXAMPLE"), "{f}");
        assert!(placeholder_reason(f.as_bytes()).is_some());
        let f = s(fake(4, "TOKEN", b"tok_abcdefgh12345678", 0));
        assert!(
            f.starts_with("tok_") && f.len() == 20 && f.ends_with("example"),
            "{f}"
        );
        assert!(f[4..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let f = s(fake(4, "AWS_ACCESS_KEY", b"AKIAQ3EGTTXB7PLK4WZY", 0));
        assert!(
            f.starts_with("AKIA") && f.len() == 20 && f.ends_with("EXAMPLE"),
            "{f}"
        );
        let f = s(fake(4, "SLACK", b"xoxb-1234567890-abcdefghijklmnop", 0));
        assert!(f.starts_with("xoxb-") && f.len() == 32, "{f}");
        // Hex stays hex, case kept, no marker.
        let v = b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b";
        let f = s(fake(4, "HEX", v, 0));
        assert_eq!(f.len(), v.len());
        assert!(
            f.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{f}"
        );
        assert_ne!(f.as_bytes(), v);
    }
}
