//! Check digits and structure rules of national identity, tax, health, bank and
//! device numbers.
//!
//! Every function takes the matched value as bytes, ignores the usual separators
//! (spaces, dashes, dots, slashes) and returns `true` when the value is well formed.

/// The ASCII digits of `value` as numbers 0..=9, skipping everything else.
fn digits(value: &[u8]) -> Vec<u32> {
    value
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
        .collect()
}

/// The ASCII letters and digits of `value`, upper-cased, skipping separators.
fn alnum_upper(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_uppercase)
        .collect()
}

/// Digits of `value` when it holds only digits and separators, and exactly `len` digits.
fn only_digits(value: &[u8], len: usize) -> Option<Vec<u32>> {
    if value
        .iter()
        .any(|b| !b.is_ascii_digit() && !matches!(b, b' ' | b'-' | b'.' | b'/'))
    {
        return None;
    }
    let d = digits(value);
    (d.len() == len).then_some(d)
}

fn all_same(d: &[u32]) -> bool {
    d.iter().all(|&x| x == d[0])
}

fn number(d: &[u32]) -> u64 {
    d.iter().fold(0, |n, &x| n * 10 + u64::from(x))
}

/// Verhoeff check (dihedral group D5), used by India's Aadhaar: the digits,
/// check digit included, must reduce to 0.
pub fn verhoeff(value: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let d = digits(value);
    if d.len() < 2 {
        return false;
    }
    let mut c = 0u8;
    for (i, &x) in d.iter().rev().enumerate() {
        c = D[c as usize][P[i % 8][x as usize] as usize];
    }
    c == 0
}

/// UK NHS number: 10 digits; the first nine weighted 10..2, `11 - sum % 11` is the
/// check digit (11 means 0, 10 is never issued).
pub fn uk_nhs(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 10) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    match 11 - sum % 11 {
        11 => d[9] == 0,
        10 => false,
        c => d[9] == c,
    }
}

/// US Social Security Number structure: area not 000, 666 or 900-999, group not 00,
/// serial not 0000; also rejects the two numbers famously printed in advertising.
pub fn us_ssn(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    let area = number(&d[..3]);
    let group = number(&d[3..5]);
    let serial = number(&d[5..]);
    let n = number(&d);
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && n != 78_051_120
        && n != 219_099_999
}

/// US Individual Taxpayer Identification Number: 9 digits starting with 9, group
/// (digits 4-5) in 50-65, 70-88, 90-92 or 94-99.
pub fn us_itin(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    let group = number(&d[3..5]);
    d[0] == 9 && matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99) && number(&d[5..]) != 0
}

/// US Employer Identification Number: 9 digits whose two-digit prefix is one the
/// IRS assigns (campus codes).
pub fn us_ein(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    let prefix = number(&d[..2]);
    matches!(
        prefix,
        1..=6 | 10..=16 | 20..=27 | 30..=48 | 50..=68 | 71..=77 | 80..=88 | 90..=95 | 98 | 99
    ) && number(&d[2..]) != 0
}

/// UK National Insurance number: two prefix letters (first not D, F, I, Q, U or V;
/// second not D, F, I, O, Q, U or V; not BG, GB, KN, NK, NT, TN or ZZ), six digits
/// and a suffix A-D.
pub fn uk_nino(value: &[u8]) -> bool {
    let v = alnum_upper(value);
    if v.len() != 9 || !v[2..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (a, b) = (v[0], v[1]);
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() {
        return false;
    }
    if b"DFIQUV".contains(&a) || b"DFIOQUV".contains(&b) {
        return false;
    }
    let prefix = [a, b];
    if [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"]
        .iter()
        .any(|p| **p == prefix)
    {
        return false;
    }
    matches!(v[8], b'A'..=b'D')
}

/// Canadian Social Insurance Number: 9 digits, Luhn, not starting with 0 or 8
/// (never issued).
pub fn ca_sin(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    d[0] != 0 && d[0] != 8 && super::luhn(value)
}

/// German tax identification number (Steuer-IdNr): 11 digits, the first not 0; in
/// the first ten exactly one digit occurs two or three times (three times never all
/// adjacent) and every other digit at most once; the last digit is the ISO 7064
/// MOD 11,10 check digit.
pub fn de_tax_id(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 11) else {
        return false;
    };
    if d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let repeated: Vec<usize> = (0..10).filter(|&i| counts[i] > 1).collect();
    if repeated.len() != 1 || counts[repeated[0]] > 3 {
        return false;
    }
    if counts[repeated[0]] == 3 {
        let r = repeated[0] as u32;
        if d[..10].windows(3).any(|w| w.iter().all(|&x| x == r)) {
            return false;
        }
    }
    let mut product = 10u32;
    for &x in &d[..10] {
        let mut sum = (x + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    check == d[10]
}

/// French social security number (NIR / INSEE): 13 characters then a two-digit key
/// equal to `97 - (number mod 97)`. Corsican departments `2A`/`2B` count as 19/18.
/// The first digit (sex) must be 1, 2, 3, 4, 7 or 8 and the month 01-12, 20 or 30-99.
pub fn fr_nir(value: &[u8]) -> bool {
    let v = alnum_upper(value);
    if v.len() != 15 {
        return false;
    }
    let mut body = v[..13].to_vec();
    let corsica = match (body[5], body[6]) {
        (b'2', b'A') => Some(b'9'),
        (b'2', b'B') => Some(b'8'),
        _ => None,
    };
    if let Some(c) = corsica {
        body[5] = b'1';
        body[6] = c;
    }
    if !body.iter().chain(&v[13..]).all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = body.iter().map(|b| u32::from(b - b'0')).collect();
    if !matches!(d[0], 1 | 2 | 3 | 4 | 7 | 8) {
        return false;
    }
    let month = d[3] * 10 + d[4];
    if !matches!(month, 1..=12 | 20 | 30..=99) {
        return false;
    }
    let n = number(&d);
    let key = u64::from((v[13] - b'0') * 10 + (v[14] - b'0'));
    key == 97 - n % 97
}

/// Spanish DNI (8 digits and a letter) or NIE (X, Y or Z, 7 digits and a letter):
/// the letter is `TRWAGMYFPDXBNJZSQVHLCKE[n % 23]`, with X/Y/Z counting as 0/1/2.
pub fn es_dni(value: &[u8]) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let v = alnum_upper(value);
    if v.len() != 9 {
        return false;
    }
    let lead = match v[0] {
        b'X' => b'0',
        b'Y' => b'1',
        b'Z' => b'2',
        c => c,
    };
    let mut num = vec![lead];
    num.extend_from_slice(&v[1..8]);
    if !num.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = num.iter().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    LETTERS[(n % 23) as usize] == v[8]
}

/// Italian codice fiscale: 16 characters; the last is `A + (sum mod 26)` where
/// characters in odd positions are mapped through the odd table and those in even
/// positions by their value (digits 0-9, letters 0-25).
pub fn it_codice_fiscale(value: &[u8]) -> bool {
    // Odd-position values for 0-9 (same as A-J) and A-Z.
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let v = alnum_upper(value);
    if v.len() != 16 || !v[15].is_ascii_uppercase() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in v[..15].iter().enumerate() {
        let idx = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A'),
            _ => return false,
        };
        // Positions are 1-based in the specification: index 0 is "odd".
        sum += if i % 2 == 0 { ODD[idx as usize] } else { idx };
    }
    u32::from(v[15] - b'A') == sum % 26
}

/// Two Brazilian mod-11 check digits: `r = sum % 11`, digit = 0 when r < 2, else 11 - r.
fn br_check(d: &[u32], weights: &[u32]) -> u32 {
    let sum: u32 = d.iter().zip(weights).map(|(x, w)| x * w).sum();
    match sum % 11 {
        0 | 1 => 0,
        r => 11 - r,
    }
}

/// Brazilian CPF: 11 digits, two mod-11 check digits (weights 10..2, then 11..2);
/// all-same digits are invalid.
pub fn br_cpf(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 11) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    let w1: Vec<u32> = (2..=10).rev().collect();
    let w2: Vec<u32> = (2..=11).rev().collect();
    br_check(&d[..9], &w1) == d[9] && br_check(&d[..10], &w2) == d[10]
}

/// Brazilian CNPJ: 14 digits, two mod-11 check digits (weights 5..2,9..2 then
/// 6..2,9..2); all-same digits are invalid.
pub fn br_cnpj(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 14) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    const W1: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    const W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    br_check(&d[..12], &W1) == d[12] && br_check(&d[..13], &W2) == d[13]
}

/// Dutch citizen service number (BSN): 9 digits passing the "11-proof"
/// `9*d1 + 8*d2 + ... + 2*d8 - d9 ≡ 0 (mod 11)`, not all zero.
pub fn nl_bsn(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    let sum: i64 = d[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(&x, w)| i64::from(x) * w)
        .sum::<i64>()
        - i64::from(d[8]);
    sum % 11 == 0
}

/// Australian Tax File Number: 9 digits with weights 1,4,3,7,5,8,6,9,10; the
/// weighted sum is divisible by 11.
pub fn au_tfn(value: &[u8]) -> bool {
    const W: [u32; 9] = [1, 4, 3, 7, 5, 8, 6, 9, 10];
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    d.iter().zip(W).map(|(x, w)| x * w).sum::<u32>() % 11 == 0
}

/// US ABA routing transit number: 9 digits, a Federal Reserve prefix (00-12, 21-32,
/// 61-72 or 80) and `3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)`.
pub fn us_aba(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 9) else {
        return false;
    };
    if all_same(&d) {
        return false;
    }
    let prefix = number(&d[..2]);
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) {
        return false;
    }
    let sum: u32 = d.chunks(3).map(|c| 3 * c[0] + 7 * c[1] + c[2]).sum::<u32>();
    sum % 10 == 0
}

/// IMEI: 15 digits whose last is the Luhn check digit.
pub fn imei(value: &[u8]) -> bool {
    let Some(d) = only_digits(value, 15) else {
        return false;
    };
    !all_same(&d) && super::luhn(value)
}

/// Vehicle identification number (ISO 3779, North American check digit): 17
/// characters without I, O or Q; letters transliterate to numbers, positions carry
/// weights 8,7,6,5,4,3,2,10,0,9,8,7,6,5,4,3,2, and `sum % 11` (10 written `X`) is
/// the ninth character. Characters 1-3 and 4-8 must each hold a letter.
pub fn vin(value: &[u8]) -> bool {
    const W: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let v = alnum_upper(value);
    if v.len() != 17 {
        return false;
    }
    // Manufacturer codes (WMI, 1-3) and vehicle descriptors (4-8) hold letters in
    // practice; numeric codes with a letter in front (`P1125899906842623`) do not.
    if !v[..3].iter().any(u8::is_ascii_alphabetic) || !v[3..8].iter().any(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in v.iter().enumerate() {
        let n = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(c - b'S') + 2,
            _ => return false,
        };
        sum += n * W[i];
    }
    let check = match sum % 11 {
        10 => b'X',
        r => b'0' + r as u8,
    };
    v[8] == check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verhoeff_known_values() {
        assert!(verhoeff(b"2363"));
        assert!(verhoeff(b"2345 6789 0124"));
        assert!(!verhoeff(b"2345 6789 0125"));
        assert!(!verhoeff(b"2364"));
    }

    #[test]
    fn nhs_known_values() {
        assert!(uk_nhs(b"943 476 5919"));
        assert!(uk_nhs(b"401-023-2137"));
        assert!(!uk_nhs(b"943 476 5918"));
        assert!(!uk_nhs(b"0000000000"));
    }

    #[test]
    fn ssn_and_itin_structure() {
        assert!(us_ssn(b"536-90-4399"));
        assert!(!us_ssn(b"000-12-3456"));
        assert!(!us_ssn(b"666-12-3456"));
        assert!(!us_ssn(b"912-70-3456"));
        assert!(!us_ssn(b"536-00-4399"));
        assert!(!us_ssn(b"536-90-0000"));
        assert!(!us_ssn(b"078-05-1120"));
        assert!(us_itin(b"912-70-3456"));
        assert!(us_itin(b"900-94-1234"));
        assert!(!us_itin(b"912-93-3456"));
        assert!(!us_itin(b"536-90-4399"));
        assert!(us_ein(b"12-3456789"));
        assert!(!us_ein(b"07-3456789"));
        assert!(!us_ein(b"89-3456789"));
    }

    #[test]
    fn nino_prefix_and_suffix() {
        assert!(uk_nino(b"AB 12 34 56 C"));
        assert!(uk_nino(b"JG103759A"));
        assert!(!uk_nino(b"DA123456A"));
        assert!(!uk_nino(b"AO123456A"));
        assert!(!uk_nino(b"GB123456A"));
        assert!(!uk_nino(b"AB123456E"));
    }

    #[test]
    fn sin_luhn_and_first_digit() {
        assert!(ca_sin(b"130 692 544"));
        assert!(ca_sin(b"271-405-169"));
        assert!(!ca_sin(b"130 692 545"));
        // Luhn-valid but starting with 0, never issued.
        assert!(!ca_sin(b"046 454 286"));
        // Luhn-valid but starting with 8.
        assert!(!ca_sin(b"800000002"));
    }

    #[test]
    fn german_tax_id() {
        assert!(de_tax_id(b"86095742719"));
        assert!(de_tax_id(b"47036892816"));
        assert!(de_tax_id(b"65929970489"));
        assert!(!de_tax_id(b"86095742718"));
        // two digits repeated
        assert!(!de_tax_id(b"11223456789"));
        assert!(!de_tax_id(b"06095742719"));
    }

    #[test]
    fn french_nir() {
        assert!(fr_nir(b"1 84 12 76 451 089 46"));
        assert!(fr_nir(b"2 55 08 2A 004 001 94"));
        assert!(!fr_nir(b"1 84 12 76 451 089 47"));
        assert!(!fr_nir(b"5 84 12 76 451 089 46"));
    }

    #[test]
    fn spanish_dni_nie() {
        assert!(es_dni(b"12345678Z"));
        assert!(es_dni(b"X1234567L"));
        assert!(es_dni(b"Y-0123456-Y"));
        assert!(!es_dni(b"12345678A"));
        assert!(!es_dni(b"X1234567A"));
    }

    #[test]
    fn italian_codice_fiscale() {
        assert!(it_codice_fiscale(b"RSSMRA85T10A562S"));
        assert!(it_codice_fiscale(b"MRTMTT91D08F205J"));
        assert!(!it_codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(!it_codice_fiscale(b"RSSMRA85T10A562"));
    }

    #[test]
    fn brazil_cpf_cnpj() {
        assert!(br_cpf(b"529.982.247-25"));
        assert!(br_cpf(b"11144477735"));
        assert!(!br_cpf(b"529.982.247-26"));
        assert!(!br_cpf(b"111.111.111-11"));
        assert!(br_cnpj(b"11.222.333/0001-81"));
        assert!(!br_cnpj(b"11.222.333/0001-82"));
        assert!(!br_cnpj(b"00.000.000/0000-00"));
    }

    #[test]
    fn dutch_bsn_and_au_tfn() {
        assert!(nl_bsn(b"111222333"));
        assert!(nl_bsn(b"123456782"));
        assert!(!nl_bsn(b"123456789"));
        assert!(au_tfn(b"123 456 782"));
        assert!(au_tfn(b"876543210"));
        assert!(!au_tfn(b"123 456 789"));
    }

    #[test]
    fn aba_routing() {
        assert!(us_aba(b"021000021"));
        assert!(us_aba(b"011000015"));
        assert!(!us_aba(b"021000022"));
        // checksum fine, prefix never assigned
        assert!(!us_aba(b"500000005"));
    }

    #[test]
    fn imei_and_vin() {
        assert!(imei(b"490154203237518"));
        assert!(imei(b"35-209900-176148-1"));
        assert!(!imei(b"490154203237519"));
        assert!(vin(b"1HGCM82633A004352"));
        assert!(vin(b"1M8GDM9AXKP042788"));
        assert!(!vin(b"1HGCM82643A004352"));
        assert!(!vin(b"1HGCM8263OA004352"));
        assert!(!vin(b"P1125899906842623"));
    }
}
