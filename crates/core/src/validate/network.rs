//! IP address checks: strict IPv4 and IPv6 parsing, and whether an IPv4 address is
//! publicly routable.

/// Parses a dotted-quad IPv4 address: four decimal octets 0-255 without leading
/// zeros (`01.2.3.4` is ambiguous: some parsers read it as octal).
pub fn parse_ipv4(value: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = value.split(|&b| b == b'.');
    for slot in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if p.len() > 1 && p[0] == b'0' {
            return None;
        }
        let n = p.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
        *slot = u8::try_from(n).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// True for a well-formed IPv4 address (see [`parse_ipv4`]).
pub fn ipv4(value: &[u8]) -> bool {
    parse_ipv4(value).is_some()
}

/// True for a well-formed IPv4 address that is publicly routable: false for "this
/// network" (0/8), private (10/8, 172.16/12, 192.168/16), shared CGNAT (100.64/10),
/// loopback (127/8), link-local (169.254/16), IETF protocol assignments (192.0.0/24),
/// documentation (192.0.2/24, 198.51.100/24, 203.0.113/24), benchmarking (198.18/15),
/// multicast (224/4) and reserved (240/4, broadcast) addresses.
pub fn ipv4_public(value: &[u8]) -> bool {
    let Some([a, b, c, _]) = parse_ipv4(value) else {
        return false;
    };
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113))
}

/// True for a well-formed IPv6 address in text form: up to eight groups of 1-4 hex
/// digits separated by `:`, at most one `::`, optionally ending in an embedded IPv4
/// address (which counts as two groups). To keep C++ paths (`Add::Bead`) and hex
/// words out, the address must hold a decimal digit and must not mix upper and
/// lower case hex letters.
pub fn ipv6(value: &[u8]) -> bool {
    if value.len() < 3 || !value.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let lower = value.iter().any(|b| matches!(b, b'a'..=b'f'));
    let upper = value.iter().any(|b| matches!(b, b'A'..=b'F'));
    if lower && upper {
        return false;
    }
    let double = value.windows(2).filter(|w| w == b"::").count();
    if double > 1 || value.windows(3).any(|w| w == b":::") {
        return false;
    }
    let (head, tail): (&[u8], &[u8]) = match value.windows(2).position(|w| w == b"::") {
        Some(i) => (&value[..i], &value[i + 2..]),
        None => (value, &[]),
    };
    let mut groups = 0usize;
    let count = |part: &[u8], groups: &mut usize, last: bool| -> bool {
        if part.is_empty() {
            return true;
        }
        let pieces: Vec<&[u8]> = part.split(|&b| b == b':').collect();
        for (i, p) in pieces.iter().enumerate() {
            if last && i == pieces.len() - 1 && p.contains(&b'.') {
                if !ipv4(p) {
                    return false;
                }
                *groups += 2;
            } else if p.is_empty() || p.len() > 4 || !p.iter().all(u8::is_ascii_hexdigit) {
                return false;
            } else {
                *groups += 1;
            }
        }
        true
    };
    let tail_is_last = double == 1;
    if !count(head, &mut groups, !tail_is_last) || !count(tail, &mut groups, true) {
        return false;
    }
    if double == 0 {
        return groups == 8;
    }
    // Compressed forms are short enough to collide with code (`C::C1`, `12::34`,
    // `f16::`): ask for one group of three or more hex digits (or an IPv4 tail), and
    // two groups before a trailing `::`.
    let long_group = value
        .split(|&b| b == b':')
        .any(|g| g.len() >= 3 || g.contains(&b'.'));
    let trailing_ok = !tail.is_empty() || head.split(|&b| b == b':').count() >= 2;
    groups < 8 && long_group && trailing_ok
}

/// False for dotted quads that read like ASN.1 object identifiers or section
/// numbers rather than addresses: first arc 0-2 with second and third arcs 40 or
/// less (`2.5.4.29`, `1.3.6.1`), or a one-digit first number and three more of 20 or
/// less (`7.1.1.2`). About one real address in 40 within 0-2.x.x.x looks like the
/// first; the second also covers public resolvers such as `8.8.8.8`, which are not
/// personal data. Private ranges (10/8, 127/8, ...) are never affected.
pub fn ipv4_not_oid(value: &[u8]) -> bool {
    match parse_ipv4(value) {
        Some([a, b, c, d]) => {
            !((a <= 2 && b <= 40 && c <= 40) || (a <= 9 && b <= 20 && c <= 20 && d <= 20))
        }
        None => false,
    }
}

/// True for a 48-bit MAC address written as six pairs of hex digits separated
/// all by `:` or all by `-` (`00:1a:2b:3c:4d:5e`, `00-1A-2B-3C-4D-5E`).
pub fn mac(value: &[u8]) -> bool {
    if value.len() != 17 {
        return false;
    }
    let sep = value[2];
    if sep != b':' && sep != b'-' {
        return false;
    }
    value.iter().enumerate().all(|(i, &b)| {
        if i % 3 == 2 {
            b == sep
        } else {
            b.is_ascii_hexdigit()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_parsing() {
        assert_eq!(parse_ipv4(b"8.8.4.4"), Some([8, 8, 4, 4]));
        assert!(ipv4(b"255.255.255.255"));
        assert!(!ipv4(b"256.1.1.1"));
        assert!(!ipv4(b"01.2.3.4"));
        assert!(!ipv4(b"1.2.3"));
        assert!(!ipv4(b"1.2.3.4.5"));
        assert!(!ipv4(b"version 1.2.3.4"));
    }

    #[test]
    fn ipv4_public_ranges() {
        assert!(ipv4_public(b"8.8.8.8"));
        assert!(ipv4_public(b"151.101.1.69"));
        assert!(ipv4_public(b"172.32.0.1"));
        for private in [
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.20",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.2.15",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            assert!(!ipv4_public(private.as_bytes()), "{private}");
        }
    }

    #[test]
    fn ipv6_forms() {
        assert!(ipv6(b"2001:0db8:85a3:0000:0000:8a2e:0370:7334"));
        assert!(ipv6(b"2001:db8::8a2e:370:7334"));
        assert!(ipv6(b"fe80::1"));
        assert!(ipv6(b"ff02::1:2"));
        assert!(ipv6(b"::ffff:192.0.2.128"));
        assert!(ipv6(b"64:ff9b::198.51.100.7"));
        assert!(ipv6(b"2001:DB8::1"));
        assert!(!ipv6(b"2001:db8::1::2"));
        assert!(!ipv6(b"2001:db8:85a3:0:0:8a2e:370"));
        assert!(!ipv6(b"12:30:45"));
        assert!(!ipv6(b"dead::beef"));
        assert!(!ipv6(b"Ab1::cD"));
        assert!(!ipv6(b"2001:db8:0:0:0:0:0:0:1"));
        assert!(!ipv6(b"1:2:3:4:5:6:7::8"));
        assert!(!ipv6(b"C::C1"));
        assert!(!ipv6(b"12::34"));
        assert!(!ipv6(b"f16::"));
        assert!(!ipv6(b"::1"));
        assert!(ipv6(b"2001:db8::"));
    }

    #[test]
    fn oid_like_quads() {
        assert!(!ipv4_not_oid(b"2.5.4.29"));
        assert!(!ipv4_not_oid(b"1.3.6.1"));
        assert!(!ipv4_not_oid(b"2.5.4.65"));
        assert!(!ipv4_not_oid(b"7.1.1.2"));
        assert!(ipv4_not_oid(b"10.0.0.1"));
        assert!(ipv4_not_oid(b"8.26.56.26"));
        assert!(ipv4_not_oid(b"2.91.4.29"));
        assert!(ipv4_not_oid(b"151.101.1.69"));
        assert!(!ipv4_not_oid(b"1.2.3"));
    }

    #[test]
    fn mac_forms() {
        assert!(mac(b"00:1a:2b:3c:4d:5e"));
        assert!(mac(b"3C-52-82-0A-7F-19"));
        assert!(!mac(b"00:1a:2b:3c:4d:5e:6f"));
        assert!(!mac(b"00:1a-2b:3c:4d:5e"));
        assert!(!mac(b"00:1g:2b:3c:4d:5e"));
    }
}
