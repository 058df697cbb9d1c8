//! Shape checks of contact and bank formats: calendar dates, E.164 country calling
//! codes, digit counts and SWIFT/BIC codes.

/// ISO 3166-1 alpha-2 country codes (officially assigned), concatenated.
const ISO_COUNTRIES: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ\
CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY\
HKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ\
NANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ\
TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZWXK";

/// True when `code` (two ASCII letters, any case) is an ISO 3166-1 alpha-2 country
/// code (or XK, Kosovo, which banks use).
pub fn iso_country(code: &[u8]) -> bool {
    if code.len() != 2 {
        return false;
    }
    let up = [code[0].to_ascii_uppercase(), code[1].to_ascii_uppercase()];
    ISO_COUNTRIES.as_bytes().chunks(2).any(|c| c == up)
}

/// SWIFT/BIC (ISO 9362): 4 letters (institution), an ISO country code, 2 letters or
/// digits (location) and optionally 3 letters or digits (branch).
pub fn swift_bic(value: &[u8]) -> bool {
    (value.len() == 8 || value.len() == 11)
        && value[..4].iter().all(u8::is_ascii_uppercase)
        && iso_country(&value[4..6])
        && value[6..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// ITU-T E.164 country calling codes in service (integrated services and the
/// shared codes included). The codes are prefix-free, so at most one matches.
const CALLING_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675,
    676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850,
    852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966,
    967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// International phone number in E.164 shape: after the `+`, a country calling code
/// in service and a national number of at least 6 digits, 15 digits at most in all.
/// A trunk prefix written `(0)` (`+44 (0)20 ...`) is not counted.
pub fn e164(value: &[u8]) -> bool {
    let mut d: Vec<u8> = Vec::with_capacity(16);
    let mut i = 0;
    while i < value.len() {
        if value[i..].starts_with(b"(0)") {
            i += 3;
            continue;
        }
        if value[i].is_ascii_digit() {
            d.push(value[i] - b'0');
        }
        i += 1;
    }
    if d.len() > 15 {
        return false;
    }
    let mut code = 0u16;
    for (len, &x) in d.iter().enumerate().take(3) {
        code = code * 10 + u16::from(x);
        if CALLING_CODES.contains(&code) {
            return d.len() - (len + 1) >= 6;
        }
    }
    false
}

/// The number of ASCII digits in `value` is within `min..=max`.
pub fn digit_count(value: &[u8], min: usize, max: usize) -> bool {
    (min..=max).contains(&value.iter().filter(|b| b.is_ascii_digit()).count())
}

fn month_from_name(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
    if lower.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| lower.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn valid_ymd(year: u32, month: u32, day: u32, year_digits: usize) -> bool {
    if year_digits == 4 && !(1900..=2099).contains(&year) {
        return false;
    }
    let leap = year_digits == 2 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A calendar date that exists, with a year 1900-2099 (or two digits): ISO
/// `YYYY-MM-DD`, numeric day/month/year in either order (`03/14/1985`,
/// `14.03.1985`), or with an English month name (`14 March 1985`, `Mar 14, 1985`).
pub fn date(value: &[u8]) -> bool {
    let mut nums: Vec<(u32, usize)> = Vec::new();
    let mut month_name = None;
    let mut i = 0;
    while i < value.len() {
        let start = i;
        if value[i].is_ascii_digit() {
            while i < value.len() && value[i].is_ascii_digit() {
                i += 1;
            }
            if i - start > 4 {
                return false;
            }
            let n = value[start..i]
                .iter()
                .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
            nums.push((n, i - start));
        } else if value[i].is_ascii_alphabetic() {
            while i < value.len() && value[i].is_ascii_alphabetic() {
                i += 1;
            }
            if let Some(m) = month_from_name(&value[start..i]) {
                if month_name.replace(m).is_some() {
                    return false;
                }
            }
        } else {
            i += 1;
        }
    }
    match (month_name, nums.as_slice()) {
        (Some(m), [(y, yd @ 4), (a, _)]) | (Some(m), [(a, _), (y, yd)]) => {
            valid_ymd(*y, m, *a, *yd)
        }
        (None, [(y, 4), (m, _), (d, _)]) => valid_ymd(*y, *m, *d, 4),
        (None, [(a, _), (b, _), (y, yd @ (2 | 4))]) => {
            valid_ymd(*y, *a, *b, *yd) || valid_ymd(*y, *b, *a, *yd)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_and_bic() {
        assert_eq!(ISO_COUNTRIES.len() % 2, 0);
        assert!(iso_country(b"DE"));
        assert!(iso_country(b"gb"));
        assert!(!iso_country(b"UK"));
        assert!(!iso_country(b"SF"));
        assert!(swift_bic(b"DEUTDEFF"));
        assert!(swift_bic(b"NWBKGB2L"));
        assert!(swift_bic(b"COBADEFFXXX"));
        assert!(!swift_bic(b"TRANSFER"));
        assert!(!swift_bic(b"DEUTDEF"));
        assert!(!swift_bic(b"DEU1DEFF"));
    }

    #[test]
    fn e164_codes() {
        assert!(e164(b"+44 20 7946 0958"));
        assert!(e164(b"+44 (0)20 7946 0958"));
        assert!(e164(b"+49 30 901820"));
        assert!(e164(b"+353 1 234 5678"));
        assert!(e164(b"+91 98765 43210"));
        // 28x is unassigned
        assert!(!e164(b"+281 234 567 890"));
        // too short and too long
        assert!(!e164(b"+44 1234"));
        assert!(!e164(b"+49 1234 5678 9012 3456"));
    }

    #[test]
    fn digit_counts() {
        assert!(digit_count(b"020 7946 0958", 10, 11));
        assert!(!digit_count(b"020 7946", 10, 11));
    }

    #[test]
    fn dates() {
        assert!(date(b"1985-03-14"));
        assert!(date(b"03/14/1985"));
        assert!(date(b"14.03.1985"));
        assert!(date(b"29/02/2000"));
        assert!(date(b"14 March 1985"));
        assert!(date(b"Mar 14, 1985"));
        assert!(date(b"1985 Mar 14"));
        assert!(!date(b"1985-13-14"));
        assert!(!date(b"31/04/1985"));
        assert!(!date(b"29.02.1900"));
        assert!(!date(b"1850-01-01"));
        assert!(!date(b"32 March 1985"));
        assert!(!date(b"12345"));
    }
}
