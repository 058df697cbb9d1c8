//! Value makers for planted values and decoys. Planted values pass the checks of
//! their kind (Luhn, mod-97, Verhoeff, base58check, bech32, GitHub CRC32...);
//! decoys look alike but must not be reported.

use sha2::{Digest, Sha256};

use crate::Rng;

/// A kind of planted value.
#[derive(Debug)]
pub struct Kind {
    /// Short name used in the evaluation table.
    pub name: &'static str,
    /// Rule-id prefixes whose findings count as detecting this kind.
    pub accept: &'static [&'static str],
    /// Makes one value.
    pub make: fn(&mut Rng) -> String,
    /// Sentence templates with one `{}` slot for the value.
    pub contexts: &'static [&'static str],
    /// The value spans lines (planted only in text-like files).
    pub multiline: bool,
}

const DIGITS: &[u8] = b"0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn luhn_complete(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut s = prefix.to_string();
    s.push_str(&rng.string(DIGITS, len - prefix.len() - 1));
    for c in b'0'..=b'9' {
        let cand = format!("{s}{}", c as char);
        if luhn_ok(&cand) {
            return cand;
        }
    }
    unreachable!("one check digit always completes Luhn")
}

fn luhn_ok(s: &str) -> bool {
    let mut sum = 0;
    for (i, d) in s.bytes().rev().filter(u8::is_ascii_digit).enumerate() {
        let mut d = u32::from(d - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    for &n in sizes {
        out.push(&s[i..i + n]);
        i += n;
    }
    out.join(sep)
}

fn card(rng: &mut Rng, prefixes: &[&str], len: usize, groups: &[usize]) -> String {
    let prefix = *rng.pick(prefixes);
    let n = luhn_complete(rng, prefix, len);
    match rng.below(3) {
        0 => n,
        1 => group(&n, groups, " "),
        _ => group(&n, groups, "-"),
    }
}

fn iban_for(rng: &mut Rng) -> String {
    let (cc, bban) = match rng.below(5) {
        0 => (
            "DE",
            format!("{}{}", rng.string(DIGITS, 8), rng.string(DIGITS, 10)),
        ),
        1 => (
            "GB",
            format!("{}{}", rng.string(UPPER, 4), rng.string(DIGITS, 14)),
        ),
        2 => (
            "FR",
            format!("{}{}", rng.string(DIGITS, 20), rng.string(DIGITS, 3)),
        ),
        3 => (
            "NL",
            format!("{}{}", rng.string(UPPER, 4), rng.string(DIGITS, 10)),
        ),
        _ => ("ES", rng.string(DIGITS, 20)),
    };
    let check = 98 - mod97(&format!("{bban}{cc}00"));
    let iban = format!("{cc}{check:02}{bban}");
    if rng.chance(0.5) {
        iban.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        iban
    }
}

fn mod97(s: &str) -> u32 {
    let mut rem = 0u32;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(c - b'A') + 10) % 97;
        }
    }
    rem
}

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALNUM_B62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap()
}
const ALNUM_B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn crc_token(rng: &mut Rng, prefix: &str) -> String {
    let body = rng.string(ALNUM, 30);
    let check = base62(u64::from(crc32fast::hash(body.as_bytes())), 6);
    format!("{prefix}{body}{check}")
}

const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58(data: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    for &byte in data {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut s: String = "1".repeat(zeros);
    s.extend(digits.iter().rev().map(|&d| B58[d as usize] as char));
    s
}

fn base58check(version: u8, payload_len: usize, rng: &mut Rng) -> String {
    let mut data = vec![version];
    data.extend((0..payload_len).map(|_| rng.next_u64() as u8));
    let check = Sha256::digest(Sha256::digest(&data));
    data.extend_from_slice(&check[..4]);
    base58(&data)
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk = 1u32;
    for &v in values {
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

fn bech32_segwit(rng: &mut Rng, hrp: &str) -> String {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let program: Vec<u8> = (0..20).map(|_| rng.next_u64() as u8).collect();
    let mut data = vec![0u8];
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in program {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    values.extend(&data);
    values.extend([0u8; 6]);
    let pm = bech32_polymod(&values) ^ 1;
    let mut s = format!("{hrp}1");
    s.extend(data.iter().map(|&d| CHARSET[d as usize] as char));
    s.extend((0..6).map(|i| CHARSET[((pm >> (5 * (5 - i))) & 31) as usize] as char));
    s
}

fn b64(data: &[u8], url: bool) -> String {
    let alpha: &[u8] = if url {
        B64URL
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            s.push(alpha[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            for _ in chunk.len()..3 {
                s.push('=');
            }
        }
    }
    s
}

fn verhoeff_check(num: &str) -> u8 {
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
    const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
    let mut c = 0u8;
    for (i, d) in num.bytes().rev().enumerate() {
        c = D[c as usize][P[(i + 1) % 8][(d - b'0') as usize] as usize];
    }
    INV[c as usize]
}

fn ssn(rng: &mut Rng) -> String {
    let area = loop {
        let a = rng.range(1, 899);
        if a != 666 {
            break a;
        }
    };
    format!(
        "{area:03}-{:02}-{:04}",
        rng.range(1, 99),
        rng.range(1, 9999)
    )
}

fn nanp(rng: &mut Rng) -> String {
    let area = format!("{}{}", rng.range(2, 9), rng.string(DIGITS, 2));
    let exch = format!("{}{}", rng.range(2, 9), rng.string(DIGITS, 2));
    let line = rng.string(DIGITS, 4);
    match rng.below(4) {
        0 => format!("({area}) {exch}-{line}"),
        1 => format!("{area}-{exch}-{line}"),
        2 => format!("+1 {area} {exch} {line}"),
        _ => format!("{area}.{exch}.{line}"),
    }
}

fn intl_phone(rng: &mut Rng) -> String {
    match rng.below(7) {
        0 => format!("+44 20 {} {}", rng.string(DIGITS, 4), rng.string(DIGITS, 4)),
        1 => format!("+49 30 {}", rng.string(DIGITS, 8)),
        2 => format!(
            "+33 6 {} {} {} {}",
            rng.string(DIGITS, 2),
            rng.string(DIGITS, 2),
            rng.string(DIGITS, 2),
            rng.string(DIGITS, 2)
        ),
        3 => format!("+91 9{} {}", rng.string(DIGITS, 4), rng.string(DIGITS, 5)),
        4 => format!("+81 90-{}-{}", rng.string(DIGITS, 4), rng.string(DIGITS, 4)),
        5 => format!(
            "+61 4{} {} {}",
            rng.string(DIGITS, 2),
            rng.string(DIGITS, 3),
            rng.string(DIGITS, 3)
        ),
        _ => format!(
            "+55 11 9{}-{}",
            rng.string(DIGITS, 4),
            rng.string(DIGITS, 4)
        ),
    }
}

fn public_ipv4(rng: &mut Rng) -> String {
    loop {
        let a = rng.range(1, 223);
        if [10, 100, 127, 169, 172, 192, 198, 203].contains(&a) {
            continue;
        }
        return format!(
            "{a}.{}.{}.{}",
            rng.range(0, 255),
            rng.range(0, 255),
            rng.range(1, 254)
        );
    }
}

fn ipv6(rng: &mut Rng) -> String {
    let groups: Vec<String> = (0..8)
        .map(|_| format!("{:x}", rng.below(0x10000)))
        .collect();
    if rng.chance(0.5) {
        format!("2a02:{}:{}::{}", groups[1], groups[2], groups[7])
    } else {
        format!("2600:{}", groups[1..].join(":"))
    }
}

fn mac(rng: &mut Rng) -> String {
    let sep = if rng.chance(0.7) { ":" } else { "-" };
    (0..6)
        .map(|_| format!("{:02x}", rng.below(256)))
        .collect::<Vec<_>>()
        .join(sep)
}

fn secretish(rng: &mut Rng, n: usize) -> String {
    rng.string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%^*",
        n,
    )
}

fn pem(rng: &mut Rng) -> String {
    let body: Vec<u8> = (0..rng.range(600, 1200))
        .map(|_| rng.next_u64() as u8)
        .collect();
    let text = b64(&body, false);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let kind = *rng.pick(&[
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ]);
    format!(
        "-----BEGIN {kind}-----\n{}\n-----END {kind}-----",
        lines.join("\n")
    )
}

fn jwt(rng: &mut Rng) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#, true);
    let payload = format!(
        r#"{{"sub":"{}","name":"user{}","iat":{}}}"#,
        rng.range(1000, 99999),
        rng.range(1, 999),
        1_700_000_000 + rng.below(50_000_000)
    );
    let sig: Vec<u8> = (0..32).map(|_| rng.next_u64() as u8).collect();
    format!(
        "{header}.{}.{}",
        b64(payload.as_bytes(), true),
        b64(&sig, true)
    )
}

fn nhs(rng: &mut Rng) -> String {
    loop {
        let d = rng.string(DIGITS, 9);
        let sum: u32 = d
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * (10 - i as u32))
            .sum();
        let check = 11 - sum % 11;
        let check = match check {
            11 => 0,
            10 => continue,
            c => c,
        };
        return format!("{} {} {}{}", &d[..3], &d[3..6], &d[6..], check);
    }
}

fn aadhaar(rng: &mut Rng) -> String {
    let base = format!("{}{}", rng.range(2, 9), rng.string(DIGITS, 10));
    let n = format!("{base}{}", verhoeff_check(&base));
    format!("{} {} {}", &n[..4], &n[4..8], &n[8..])
}

fn cpf(rng: &mut Rng) -> String {
    let mut d: Vec<u32> = (0..9).map(|_| rng.below(10) as u32).collect();
    for len in [9, 10] {
        let sum: u32 = d
            .iter()
            .enumerate()
            .map(|(i, &x)| x * (len as u32 + 1 - i as u32))
            .sum();
        let r = (sum * 10) % 11;
        d.push(if r == 10 { 0 } else { r });
    }
    let s: String = d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
    format!("{}.{}.{}-{}", &s[..3], &s[3..6], &s[6..9], &s[9..])
}

fn nino(rng: &mut Rng) -> String {
    const FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    // HMRC never issues these prefixes: a planted value must be a valid one.
    const NOT_ISSUED: &[&[u8; 2]] = &[b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"];
    let prefix = loop {
        let p = [*rng.pick(FIRST), *rng.pick(SECOND)];
        if !NOT_ISSUED.contains(&&p) {
            break p;
        }
    };
    format!(
        "{}{} {} {} {} {}",
        prefix[0] as char,
        prefix[1] as char,
        rng.string(DIGITS, 2),
        rng.string(DIGITS, 2),
        rng.string(DIGITS, 2),
        *rng.pick(b"ABCD") as char
    )
}

/// Every planted kind.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "email",
        accept: &["pii.email"],
        make: |r| {
            format!(
                "{}.{}{}@{}",
                r.pick(&["maria", "jon", "li", "amara", "sven", "priya", "tom"]),
                r.pick(&["gonzalez", "price", "wei", "okafor", "berg", "nair", "lee"]),
                r.range(1, 99),
                r.pick(&[
                    "fastmail.com",
                    "gmail.com",
                    "corp-mail.net",
                    "uni-heidelberg.de",
                    "outlook.co.uk"
                ])
            )
        },
        contexts: &[
            "Contact me at {} if anything changes.",
            "Email: {}",
            "cc {} on the thread",
        ],
        multiline: false,
    },
    Kind {
        name: "phone_nanp",
        accept: &["pii.phone"],
        make: nanp,
        contexts: &["Call me at {} after six.", "phone: {}", "My cell is {}."],
        multiline: false,
    },
    Kind {
        name: "phone_intl",
        accept: &["pii.phone"],
        make: intl_phone,
        contexts: &["Reach the office on {} during business hours.", "tel {}"],
        multiline: false,
    },
    Kind {
        name: "us_ssn",
        accept: &["government_id.us.ssn"],
        make: ssn,
        contexts: &["My SSN is {}.", "social security number: {}"],
        multiline: false,
    },
    Kind {
        name: "uk_nino",
        accept: &["government_id.uk.nino"],
        make: nino,
        contexts: &["National Insurance number {} on the payslip.", "NINO: {}"],
        multiline: false,
    },
    Kind {
        name: "uk_nhs",
        accept: &["government_id.uk.nhs"],
        make: nhs,
        contexts: &["NHS number {} for the referral.", "Patient NHS no. {}"],
        multiline: false,
    },
    Kind {
        name: "in_aadhaar",
        accept: &["government_id.in.aadhaar"],
        make: aadhaar,
        contexts: &[
            "Aadhaar {} was linked to the account.",
            "aadhaar number: {}",
        ],
        multiline: false,
    },
    Kind {
        name: "br_cpf",
        accept: &["government_id.br.cpf"],
        make: cpf,
        contexts: &["CPF {} consta no cadastro.", "cpf: {}"],
        multiline: false,
    },
    Kind {
        name: "card_visa",
        accept: &["financial.card"],
        make: |r| {
            card(
                r,
                &["4539", "4556", "4916", "4024", "4485"],
                16,
                &[4, 4, 4, 4],
            )
        },
        contexts: &["Please charge card {} for the order.", "Visa: {}"],
        multiline: false,
    },
    Kind {
        name: "card_mastercard",
        accept: &["financial.card"],
        make: |r| {
            card(
                r,
                &["51", "52", "53", "54", "55", "2221", "2720"],
                16,
                &[4, 4, 4, 4],
            )
        },
        contexts: &["I paid with my Mastercard {} yesterday.", "card: {}"],
        multiline: false,
    },
    Kind {
        name: "card_amex",
        accept: &["financial.card"],
        make: |r| card(r, &["34", "37"], 15, &[4, 6, 5]),
        contexts: &["Amex {} expires next month.", "card number {}"],
        multiline: false,
    },
    Kind {
        name: "card_discover",
        accept: &["financial.card"],
        make: |r| card(r, &["6011", "65", "644"], 16, &[4, 4, 4, 4]),
        contexts: &["Discover card {} was declined.", "card {}"],
        multiline: false,
    },
    Kind {
        name: "iban",
        accept: &["financial.iban"],
        make: iban_for,
        contexts: &["Send the refund to IBAN {} please.", "IBAN: {}"],
        multiline: false,
    },
    Kind {
        name: "ipv4",
        accept: &["network.ipv4"],
        make: public_ipv4,
        contexts: &["Requests from {} were blocked.", "client_ip={}"],
        multiline: false,
    },
    Kind {
        name: "ipv6",
        accept: &["network.ipv6"],
        make: ipv6,
        contexts: &["The peer {} dropped the connection.", "addr {}"],
        multiline: false,
    },
    Kind {
        name: "mac",
        accept: &["network.mac"],
        make: mac,
        contexts: &["Device with MAC {} joined the network.", "hwaddr {}"],
        multiline: false,
    },
    Kind {
        name: "aws_access_key_id",
        accept: &["credential.aws.access_key"],
        make: |r| format!("{}{}", r.pick(&["AKIA", "ASIA"]), r.string(BASE32, 16)),
        contexts: &["AWS_ACCESS_KEY_ID={}", "aws access key {} was rotated"],
        multiline: false,
    },
    Kind {
        name: "aws_secret_access_key",
        accept: &["credential.aws.secret"],
        make: |r| {
            r.string(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+",
                40,
            )
        },
        contexts: &["aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY=\"{}\""],
        multiline: false,
    },
    Kind {
        name: "github_classic",
        accept: &["credential.github"],
        make: |r| crc_token(r, "ghp_"),
        contexts: &[
            "export GITHUB_TOKEN={}",
            "token: {}",
            "I accidentally pushed {} to the repo",
        ],
        multiline: false,
    },
    Kind {
        name: "github_oauth",
        accept: &["credential.github"],
        make: |r| crc_token(r, "gho_"),
        contexts: &["oauth token {}", "Authorization: token {}"],
        multiline: false,
    },
    Kind {
        name: "github_fine_grained",
        accept: &["credential.github"],
        make: |r| format!("github_pat_{}_{}", r.string(ALNUM, 22), r.string(ALNUM, 59)),
        contexts: &["GH_TOKEN={}", "use {} for the release job"],
        multiline: false,
    },
    Kind {
        name: "gitlab_pat",
        accept: &["credential.gitlab"],
        make: |r| {
            format!(
                "glpat-{}",
                r.string(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                    20
                )
            )
        },
        contexts: &["GITLAB_TOKEN={}", "private token {}"],
        multiline: false,
    },
    Kind {
        name: "slack_bot",
        accept: &["credential.slack"],
        make: |r| {
            format!(
                "xoxb-{}-{}-{}",
                r.string(DIGITS, 12),
                r.string(DIGITS, 13),
                r.string(ALNUM, 24)
            )
        },
        contexts: &["SLACK_BOT_TOKEN={}", "bot token {}"],
        multiline: false,
    },
    Kind {
        name: "slack_webhook",
        accept: &["credential.slack"],
        make: |r| {
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                r.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                r.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
                r.string(ALNUM, 24)
            )
        },
        contexts: &["webhook: {}", "post alerts to {}"],
        multiline: false,
    },
    Kind {
        name: "stripe_live",
        accept: &["credential.stripe"],
        make: |r| {
            format!("{}{}", r.pick(&["sk_live_", "rk_live_"]), {
                let n = 24 + r.below(76);
                r.string(ALNUM, n)
            })
        },
        contexts: &["STRIPE_SECRET_KEY={}", "stripe key {}"],
        multiline: false,
    },
    Kind {
        name: "google_api_key",
        accept: &["credential.google", "credential.gcp"],
        make: |r| format!("AIza{}", r.string(B64URL, 35)),
        contexts: &["const mapsKey = \"{}\";", "GOOGLE_API_KEY={}"],
        multiline: false,
    },
    Kind {
        name: "openai",
        accept: &["credential.openai"],
        make: |r| {
            format!(
                "sk-proj-{}T3BlbkFJ{}",
                r.string(B64URL, 58),
                r.string(B64URL, 58)
            )
        },
        contexts: &["OPENAI_API_KEY={}", "openai key: {}"],
        multiline: false,
    },
    Kind {
        name: "anthropic",
        accept: &["credential.anthropic"],
        make: |r| format!("sk-ant-api03-{}AA", r.string(B64URL, 93)),
        contexts: &["ANTHROPIC_API_KEY={}", "x-api-key: {}"],
        multiline: false,
    },
    Kind {
        name: "huggingface",
        accept: &["credential.huggingface"],
        make: |r| {
            format!(
                "hf_{}",
                r.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)
            )
        },
        contexts: &["HF_TOKEN={}", "huggingface-cli login --token {}"],
        multiline: false,
    },
    Kind {
        name: "npm",
        accept: &["credential.npm"],
        make: |r| crc_token(r, "npm_"),
        contexts: &["//registry.npmjs.org/:_authToken={}", "NPM_TOKEN={}"],
        multiline: false,
    },
    Kind {
        name: "pypi",
        accept: &["credential.pypi"],
        make: |r| {
            format!("pypi-AgEIcHlwaS5vcmc{}", {
                let n = 60 + r.below(100);
                r.string(B64URL, n)
            })
        },
        contexts: &["password = {}", "TWINE_PASSWORD={}"],
        multiline: false,
    },
    Kind {
        name: "private_key",
        accept: &["credential.private_key"],
        make: pem,
        contexts: &["key:\n{}\n", "{}"],
        multiline: true,
    },
    Kind {
        name: "jwt",
        accept: &["credential.jwt"],
        make: jwt,
        contexts: &["Authorization: Bearer {}", "session={}"],
        multiline: false,
    },
    Kind {
        name: "db_url_password",
        accept: &[
            "credential.connection",
            "credential.database",
            "credential.url",
            "credential.uri",
        ],
        make: |r| secretish(r, 16).replace(['@', '/', ':', '#', '%', '^'], "x"),
        contexts: &[
            "DATABASE_URL=postgres://app:{}@db.prod.internal:5432/main",
            "mongodb+srv://admin:{}@cluster0.ab1cd.mongodb.net/test",
        ],
        multiline: false,
    },
    Kind {
        name: "generic_password",
        accept: &["credential.generic", "credential.password"],
        make: |r| {
            {
                let n = 14 + r.below(10);
                secretish(r, n)
            }
            .replace(['"', '\''], "x")
        },
        contexts: &[
            "password = \"{}\"",
            "DB_PASSWORD='{}'",
            "\"client_secret\": \"{}\"",
        ],
        multiline: false,
    },
    Kind {
        name: "bitcoin_legacy",
        accept: &["crypto.bitcoin"],
        make: |r| base58check(*r.pick(&[0u8, 5u8]), 20, r),
        contexts: &["Send BTC to {}", "donations: {}"],
        multiline: false,
    },
    Kind {
        name: "bitcoin_bech32",
        accept: &["crypto.bitcoin"],
        make: |r| bech32_segwit(r, "bc"),
        contexts: &["BTC address {}", "pay to {}"],
        multiline: false,
    },
    Kind {
        name: "ethereum",
        accept: &["crypto.ethereum"],
        make: |r| format!("0x{}", r.string(HEX, 40)),
        contexts: &["ETH wallet {}", "send to {}"],
        multiline: false,
    },
];

/// Decoys: look like sensitive values, must not be reported.
pub static DECOYS: &[Kind] = &[
    Kind {
        name: "luhn_failing_card",
        accept: &[],
        make: |r| loop {
            let n = format!("4{}", r.string(DIGITS, 15));
            if !luhn_ok(&n) {
                return group(&n, &[4, 4, 4, 4], " ");
            }
        },
        contexts: &["card {} was rejected", "tracking number {}"],
        multiline: false,
    },
    Kind {
        name: "git_sha",
        accept: &[],
        make: |r| r.string(HEX, 40),
        contexts: &["commit {}", "fixed in {}"],
        multiline: false,
    },
    Kind {
        name: "uuid",
        accept: &[],
        make: |r| {
            format!(
                "{}-{}-4{}-a{}-{}",
                r.string(HEX, 8),
                r.string(HEX, 4),
                r.string(HEX, 3),
                r.string(HEX, 3),
                r.string(HEX, 12)
            )
        },
        contexts: &["request id {}", "trace {}"],
        multiline: false,
    },
    Kind {
        name: "sha256",
        accept: &[],
        make: |r| r.string(HEX, 64),
        contexts: &["sha256: {}", "checksum {}"],
        multiline: false,
    },
    Kind {
        name: "md5",
        accept: &[],
        make: |r| r.string(HEX, 32),
        contexts: &["md5 {}", "etag \"{}\""],
        multiline: false,
    },
    Kind {
        name: "version",
        accept: &[],
        make: |r| {
            format!(
                "{}.{}.{}.{}",
                r.range(1, 9),
                r.range(0, 20),
                r.range(0, 9),
                r.range(0, 99)
            )
        },
        contexts: &["upgraded to version {}", "build {} is out"],
        multiline: false,
    },
    Kind {
        name: "date",
        accept: &[],
        make: |r| {
            format!(
                "20{:02}-{:02}-{:02}",
                r.range(10, 29),
                r.range(1, 12),
                r.range(1, 28)
            )
        },
        contexts: &["released on {}", "due {}"],
        multiline: false,
    },
    Kind {
        name: "base64_blob",
        accept: &[],
        make: |r| {
            let n = r.range(24, 60);
            let v: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
            b64(&v, false)
        },
        contexts: &["data:application/octet-stream;base64,{}", "blob {}"],
        multiline: false,
    },
    Kind {
        name: "isbn",
        accept: &[],
        make: |r| {
            format!(
                "978-{}-{}-{}-{}",
                r.range(0, 9),
                r.string(DIGITS, 3),
                r.string(DIGITS, 5),
                r.range(0, 9)
            )
        },
        contexts: &["ISBN {}", "see ISBN {} for details"],
        multiline: false,
    },
    Kind {
        name: "order_number",
        accept: &[],
        make: |r| format!("{}", r.range(100_000_000, 999_999_999)),
        contexts: &["order #{} shipped", "invoice {} is paid"],
        multiline: false,
    },
    Kind {
        name: "timestamp",
        accept: &[],
        make: |r| format!("{}", 1_600_000_000 + r.below(200_000_000)),
        contexts: &["ts={}", "at epoch {}"],
        multiline: false,
    },
    Kind {
        name: "placeholder_key",
        accept: &[],
        make: |r| {
            (*r.pick(&[
                "AKIAIOSFODNN7EXAMPLE",
                "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "your_api_key_here",
                "<YOUR_TOKEN>",
                "changeme",
            ]))
            .to_string()
        },
        contexts: &["AWS_ACCESS_KEY_ID={}", "api_key = \"{}\"", "token: {}"],
        multiline: false,
    },
    Kind {
        name: "bad_iban",
        accept: &[],
        make: |r| {
            let mut s = iban_for(r).replace(' ', "");
            let last = s.pop().unwrap();
            s.push(if last == '0' { '1' } else { '0' });
            s
        },
        contexts: &["account {}", "IBAN {} (typo)"],
        multiline: false,
    },
    Kind {
        name: "bad_ssn",
        accept: &[],
        make: |r| {
            format!(
                "{}-{:02}-{:04}",
                r.pick(&["000", "666", "900", "987"]),
                r.range(1, 49),
                r.range(1, 9999)
            )
        },
        contexts: &["SSN {} is invalid", "ssn: {}"],
        multiline: false,
    },
    Kind {
        name: "invalid_ip",
        accept: &[],
        make: |r| {
            format!(
                "{}.{}.{}.{}",
                r.range(256, 999),
                r.range(0, 255),
                r.range(0, 255),
                r.range(0, 255)
            )
        },
        contexts: &["value {} out of range", "got {}"],
        multiline: false,
    },
    Kind {
        name: "prose_password",
        accept: &[],
        make: |r| {
            (*r.pick(&[
                "correct horse battery staple",
                "MyDatabasePassword",
                "hunter",
                "password123",
            ]))
            .to_string()
        },
        contexts: &[
            "the password hint was {}",
            "she said the secret is {} but nobody believed her",
        ],
        multiline: false,
    },
    Kind {
        name: "hex_in_code",
        accept: &[],
        make: |r| format!("0x{}", r.string(HEX, 8)),
        contexts: &["mask = {}", "flags |= {}"],
        multiline: false,
    },
    Kind {
        name: "time",
        accept: &[],
        make: |r| {
            format!(
                "{:02}:{:02}:{:02}",
                r.range(0, 23),
                r.range(0, 59),
                r.range(0, 59)
            )
        },
        contexts: &["at {} UTC", "started {}"],
        multiline: false,
    },
    Kind {
        name: "lower_alnum_id",
        accept: &[],
        make: |r| r.string(LOWER_ALNUM, 20),
        contexts: &["job id {}", "ref {}"],
        multiline: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use datasieve::validate;

    #[test]
    fn planted_values_pass_their_checks() {
        let mut r = Rng::new(1);
        for _ in 0..200 {
            assert!(validate::luhn(
                card(&mut r, &["4539"], 16, &[4, 4, 4, 4]).as_bytes()
            ));
            assert!(validate::iban_mod97(iban_for(&mut r).as_bytes()));
            assert!(validate::github_crc32(crc_token(&mut r, "ghp_").as_bytes()));
            assert!(validate::base58check(base58check(0, 20, &mut r).as_bytes()));
            assert!(validate::bech32(bech32_segwit(&mut r, "bc").as_bytes()));
        }
        // known Verhoeff vector: 236 -> check digit 3; and agreement with the library
        assert_eq!(verhoeff_check("236"), 3);
        for _ in 0..200 {
            assert!(validate::verhoeff(aadhaar(&mut r).as_bytes()));
        }
    }
}
