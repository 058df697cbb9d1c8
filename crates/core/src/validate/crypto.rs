//! Checksums of token and address encodings: GitHub CRC32, base58check (Bitcoin and
//! Ripple alphabets), bech32, Ethereum EIP-55 and Monero's block base58.

use sha2::{Digest, Sha256};
use sha3::Keccak256;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `n` in base62 (0-9A-Za-z), left-padded with `0` to `width`.
pub fn base62_fixed(mut n: u64, width: usize) -> Vec<u8> {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// GitHub token checksum: the part after the last `_` is a body followed by six
/// base62 characters holding the CRC32 of the body.
pub fn github_crc32(value: &[u8]) -> bool {
    let tail = match value.iter().rposition(|&b| b == b'_') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    if tail.len() <= 6 || !tail.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, check) = tail.split_at(tail.len() - 6);
    base62_fixed(u64::from(crc32fast::hash(body)), 6) == check
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// The base58 alphabet of the XRP Ledger (Ripple): `r` encodes 0.
const RIPPLE58: &[u8; 58] = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

/// Decodes Bitcoin-alphabet base58. `None` on a character outside the alphabet.
pub fn base58_decode(value: &[u8]) -> Option<Vec<u8>> {
    base58_decode_with(value, BASE58)
}

/// Decodes base58 with the given alphabet (its first character encodes zero).
fn base58_decode_with(value: &[u8], alphabet: &[u8; 58]) -> Option<Vec<u8>> {
    let mut table = [255u8; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        table[c as usize] = i as u8;
    }
    // Big-endian base-256 accumulator.
    let mut bytes: Vec<u8> = Vec::with_capacity(value.len());
    for &c in value {
        let mut carry = u32::from(table[c as usize]);
        if carry == 255 {
            return None;
        }
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = value.iter().take_while(|&&c| c == alphabet[0]).count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes);
    Some(out)
}

/// Base58Check: the last 4 decoded bytes are the first 4 of SHA-256(SHA-256(payload)).
pub fn base58check(value: &[u8]) -> bool {
    base58check_with(value, BASE58)
}

/// Base58Check over the XRP Ledger alphabet (classic `r...` addresses).
pub fn ripple_base58check(value: &[u8]) -> bool {
    base58check_with(value, RIPPLE58)
}

/// True when `value` is Bitcoin-alphabet base58 that decodes to exactly `bytes`
/// bytes (a Solana address or public key is 32).
pub fn base58_length(value: &[u8], bytes: usize) -> bool {
    base58_decode(value).is_some_and(|raw| raw.len() == bytes)
}

fn base58check_with(value: &[u8], alphabet: &[u8; 58]) -> bool {
    let Some(raw) = base58_decode_with(value, alphabet) else {
        return false;
    };
    if raw.len() < 5 {
        return false;
    }
    let (payload, check) = raw.split_at(raw.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    &digest[..4] == check
}

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Which bech32 checksum constant a string satisfies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bech32Variant {
    /// BIP-173.
    Bech32,
    /// BIP-350.
    Bech32m,
}

/// Verifies a bech32/bech32m string (`hrp1data`) of at most 90 characters,
/// returning the variant. Mixed case is invalid, as the standard says.
pub fn bech32_variant(value: &[u8]) -> Option<Bech32Variant> {
    bech32_variant_max(value, 90)
}

/// Like [`bech32_variant`] with another length limit: Cardano addresses, for one,
/// use the bech32 checksum on strings longer than 90 characters.
pub fn bech32_variant_max(value: &[u8], max_len: usize) -> Option<Bech32Variant> {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if value.len() < 8 || value.len() > max_len {
        return None;
    }
    let has_lower = value.iter().any(u8::is_ascii_lowercase);
    let has_upper = value.iter().any(u8::is_ascii_uppercase);
    if has_lower && has_upper {
        return None;
    }
    let lower: Vec<u8> = value.iter().map(u8::to_ascii_lowercase).collect();
    let sep = lower.iter().rposition(|&b| b == b'1')?;
    if sep == 0 || sep + 7 > lower.len() {
        return None;
    }
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if !hrp.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    let mut vals = Vec::with_capacity(data.len());
    for &c in data {
        vals.push(CHARSET.iter().position(|&x| x == c)? as u8);
    }
    let expanded = hrp
        .iter()
        .map(|&b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|&b| b & 31))
        .chain(vals.iter().copied());
    match bech32_polymod(expanded) {
        1 => Some(Bech32Variant::Bech32),
        0x2bc8_30a3 => Some(Bech32Variant::Bech32m),
        _ => None,
    }
}

/// True for a valid bech32 or bech32m string.
pub fn bech32(value: &[u8]) -> bool {
    bech32_variant(value).is_some()
}

/// Ethereum EIP-55 mixed-case checksum: a `0x` and 40 hex digits where each letter
/// is upper case exactly when the matching nibble of Keccak-256(lower-case hex) is
/// 8 or more. All-lower or all-upper addresses carry no checksum and pass.
pub fn eip55(value: &[u8]) -> bool {
    let hex = value
        .strip_prefix(b"0x")
        .or_else(|| value.strip_prefix(b"0X"))
        .unwrap_or(value);
    if hex.len() != 40 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let has_lower = hex.iter().any(u8::is_ascii_lowercase);
    let has_upper = hex.iter().any(u8::is_ascii_uppercase);
    if !(has_lower && has_upper) {
        return true;
    }
    let lower: Vec<u8> = hex.iter().map(u8::to_ascii_lowercase).collect();
    let hash = Keccak256::digest(&lower);
    hex.iter().enumerate().all(|(i, &c)| {
        if c.is_ascii_digit() {
            return true;
        }
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        c.is_ascii_uppercase() == (nibble >= 8)
    })
}

/// Decodes Monero's base58: blocks of 11 characters give 8 bytes, a final shorter
/// block gives fewer (2 characters: 1 byte, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7).
pub fn monero_base58_decode(value: &[u8]) -> Option<Vec<u8>> {
    const BLOCK_BYTES: [Option<usize>; 12] = [
        Some(0),
        None,
        Some(1),
        Some(2),
        None,
        Some(3),
        Some(4),
        Some(5),
        None,
        Some(6),
        Some(7),
        Some(8),
    ];
    let mut table = [255u8; 256];
    for (i, &c) in BASE58.iter().enumerate() {
        table[c as usize] = i as u8;
    }
    let mut out = Vec::with_capacity(value.len() * 8 / 11 + 8);
    for block in value.chunks(11) {
        let size = BLOCK_BYTES[block.len()]?;
        let mut n: u128 = 0;
        for &c in block {
            let v = table[c as usize];
            if v == 255 {
                return None;
            }
            n = n * 58 + u128::from(v);
        }
        if size < 16 && n >> (8 * size) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[16 - size..]);
    }
    Some(out)
}

/// Monero address (standard, subaddress or integrated): Monero base58 decoding to a
/// network tag, keys and a 4-byte checksum equal to the start of Keccak-256 of the
/// rest.
pub fn monero(value: &[u8]) -> bool {
    let Some(raw) = monero_base58_decode(value) else {
        return false;
    };
    if raw.len() != 69 && raw.len() != 77 {
        return false;
    }
    let (body, check) = raw.split_at(raw.len() - 4);
    Keccak256::digest(body)[..4] == *check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_github(prefix: &str, body: &str) -> String {
        let check = base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), 6);
        format!("{prefix}{body}{}", String::from_utf8(check).unwrap())
    }

    #[test]
    fn github_checksum_roundtrip() {
        let t = make_github("ghp_", "R4nd0mB0dyOfThirtyCharsxxQwErT");
        assert_eq!(t.len(), 40);
        assert!(github_crc32(t.as_bytes()));
        let mut bad = t.into_bytes();
        bad[10] ^= 1;
        assert!(!github_crc32(&bad));
        assert!(!github_crc32(b"ghp_short"));
    }

    #[test]
    fn base58check_known_addresses() {
        // Genesis block coinbase address.
        assert!(base58check(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        // P2SH example from BIP-13 style addresses.
        assert!(base58check(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!base58check(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(!base58check(b"0OIl"));
    }

    #[test]
    fn bech32_known_addresses() {
        // BIP-173 test vector (segwit v0).
        assert_eq!(
            bech32_variant(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            Some(Bech32Variant::Bech32)
        );
        assert_eq!(
            bech32_variant(b"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"),
            Some(Bech32Variant::Bech32)
        );
        // BIP-350 test vector (taproot, bech32m).
        assert_eq!(
            bech32_variant(b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
            Some(Bech32Variant::Bech32m)
        );
        assert!(!bech32(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"));
        assert!(!bech32(b"bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
    }

    #[test]
    fn eip55_checksums() {
        // Test vectors from EIP-55.
        assert!(eip55(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
        assert!(eip55(b"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"));
        assert!(eip55(b"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"));
        assert!(eip55(b"0x52908400098527886e0f7030069857d2e4169ee7"));
        assert!(!eip55(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
        assert!(!eip55(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"));
    }

    #[test]
    fn ripple_and_solana() {
        // The XRP Ledger genesis account.
        assert!(ripple_base58check(b"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"));
        assert!(!ripple_base58check(b"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTj"));
        // The Solana system program id decodes to 32 zero bytes.
        assert!(base58_length(b"11111111111111111111111111111111", 32));
        assert!(!base58_length(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 32));
    }

    #[test]
    fn monero_addresses() {
        let addr = b"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
        assert!(monero(addr));
        let mut bad = addr.to_vec();
        bad[20] = if bad[20] == b'a' { b'b' } else { b'a' };
        assert!(!monero(&bad));
        assert!(!monero(b"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7ot"));
    }
}
