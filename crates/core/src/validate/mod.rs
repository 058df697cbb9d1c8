//! Validators: checksums, entropy and shape tests that turn a regex match into a
//! trustworthy finding.
//!
//! Each validator is a small pure function over the matched value's bytes; the
//! [`Validator`] enum is what rule files name (`validators = ["luhn"]`). The
//! functions live by family: `checksum` (Luhn, IBAN), `ids` (national id, tax,
//! health, bank routing, IMEI and VIN check digits), `formats` (dates, E.164
//! calling codes, SWIFT/BIC, digit counts), `network` (IPv4/IPv6/MAC), `crypto`
//! (token and address checksums) and `text` (entropy, words).
//!
//! ```
//! use datasieve::validate::{luhn, iban_mod97};
//! assert!(luhn(b"4111 1111 1111 1111"));
//! assert!(iban_mod97(b"GB82 WEST 1234 5698 7654 32"));
//! ```

use std::collections::BTreeMap;

use crate::rules::ValidatorSpec;

mod checksum;
mod crypto;
mod formats;
mod ids;
mod network;
mod text;
pub(crate) use text::Fnv;

pub use checksum::*;
pub use crypto::*;
pub use formats::*;
pub use ids::*;
pub use network::*;
pub use text::*;

/// What happens to a candidate whose validator fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnFail {
    /// Drop the candidate (the default: checksums are exact).
    Drop,
    /// Keep it with this confidence (for checks that real values may not pass).
    Lower(f32),
}

/// A check run on a matched value.
#[derive(Debug, Clone, PartialEq)]
pub struct Validator {
    /// The check.
    pub kind: ValidatorKind,
    /// What a failure does.
    pub on_fail: OnFail,
}

/// The checks rule files can name.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ValidatorKind {
    /// Luhn mod-10 over the digits (cards, IMEI, Canadian SIN).
    Luhn,
    /// IBAN: per-country length and ISO 7064 mod-97.
    Iban,
    /// Shannon entropy in bits per byte at least `min`.
    Entropy {
        /// Minimum bits per byte.
        min: f64,
    },
    /// GitHub token: CRC32 of the body, base62, in the last 6 characters.
    GithubCrc32,
    /// Base58Check (Bitcoin-style) with a double SHA-256 checksum.
    Base58Check,
    /// Bech32 or Bech32m (BIP-173/350) checksum.
    Bech32,
    /// Bech32 checksum without the 90-character limit (Cardano addresses).
    Bech32Long,
    /// Base58Check over the XRP Ledger alphabet.
    RippleBase58Check,
    /// Bitcoin-alphabet base58 decoding to exactly `bytes` bytes (Solana: 32).
    Base58Length {
        /// Decoded length in bytes.
        bytes: usize,
    },
    /// Ethereum EIP-55 mixed-case checksum (all-lower/all-upper pass).
    Eip55,
    /// Monero block base58 with a Keccak-256 checksum.
    Monero,
    /// Verhoeff check digit (Aadhaar).
    Verhoeff,
    /// UK NHS number mod 11.
    UkNhs,
    /// US SSN structure (area, group, serial).
    UsSsn,
    /// US ITIN structure (9, group ranges).
    UsItin,
    /// US EIN campus prefix.
    UsEin,
    /// UK National Insurance number prefix and suffix letters.
    UkNino,
    /// Canadian SIN: Luhn, not starting with 0 or 8.
    CaSin,
    /// German Steuer-IdNr: digit distribution and ISO 7064 MOD 11,10.
    DeTaxId,
    /// French NIR: key = 97 - (number mod 97), Corsica 2A/2B.
    FrNir,
    /// Spanish DNI/NIE check letter.
    EsDni,
    /// Italian codice fiscale check character.
    ItCodiceFiscale,
    /// Brazilian CPF check digits.
    BrCpf,
    /// Brazilian CNPJ check digits.
    BrCnpj,
    /// Dutch BSN 11-proof.
    NlBsn,
    /// Australian TFN weighted mod 11.
    AuTfn,
    /// US ABA routing number prefix and 3-7-1 checksum.
    UsAba,
    /// IMEI: 15 digits, Luhn.
    Imei,
    /// Vehicle identification number check digit.
    Vin,
    /// Strict dotted-quad IPv4.
    Ipv4,
    /// Publicly routable IPv4 (fails for private, loopback, documentation, ...).
    Ipv4Public,
    /// Not an ASN.1 object identifier look-alike (`2.5.4.29`).
    Ipv4NotOid,
    /// IPv6 text form.
    Ipv6,
    /// MAC address: six hex pairs, one separator.
    Mac,
    /// A calendar date that exists, year 1900-2099.
    Date,
    /// International phone number: E.164 country code and length.
    E164,
    /// Number of digits within bounds.
    DigitCount {
        /// Fewest digits.
        min: usize,
        /// Most digits.
        max: usize,
    },
    /// SWIFT/BIC shape with an ISO country code.
    SwiftBic,
    /// The value does not read like words (prose, identifiers): at most `max` of it is
    /// covered by common English words and subword pieces.
    NotWords {
        /// Highest allowed fraction covered by words (0..1).
        max: f64,
    },
    /// The value mixes character classes: at least `min` of lower, upper, digit, other.
    CharClasses {
        /// Minimum number of distinct classes.
        min: u32,
    },
}

impl Validator {
    /// Parses a validator named in a rule file.
    pub fn from_spec(spec: &ValidatorSpec) -> Result<Self, String> {
        let params = spec.params();
        let name = spec.name();
        let num = |key: &str, default: Option<f64>| -> Result<f64, String> {
            match params.get(key) {
                Some(toml::Value::Float(f)) => Ok(*f),
                Some(toml::Value::Integer(i)) => Ok(*i as f64),
                Some(other) => Err(format!(
                    "validator {name}: parameter {key} must be a number, not {other}"
                )),
                None => default.ok_or_else(|| format!("validator {name}: missing parameter {key}")),
            }
        };
        let count = |key: &str, default: Option<usize>| -> Result<usize, String> {
            match params.get(key) {
                Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i as usize),
                Some(other) => Err(format!(
                    "validator {name}: parameter {key} must be a whole number, not {other}"
                )),
                None => default.ok_or_else(|| format!("validator {name}: missing parameter {key}")),
            }
        };
        let kind = match name {
            "luhn" => ValidatorKind::Luhn,
            "iban" => ValidatorKind::Iban,
            "entropy" => ValidatorKind::Entropy {
                min: num("min", None)?,
            },
            "github_crc32" => ValidatorKind::GithubCrc32,
            "base58check" => ValidatorKind::Base58Check,
            "bech32" => ValidatorKind::Bech32,
            "bech32_long" => ValidatorKind::Bech32Long,
            "ripple_base58check" => ValidatorKind::RippleBase58Check,
            "base58_length" => ValidatorKind::Base58Length {
                bytes: count("bytes", None)?,
            },
            "eip55" => ValidatorKind::Eip55,
            "monero" => ValidatorKind::Monero,
            "verhoeff" => ValidatorKind::Verhoeff,
            "uk_nhs" => ValidatorKind::UkNhs,
            "us_ssn" => ValidatorKind::UsSsn,
            "us_itin" => ValidatorKind::UsItin,
            "us_ein" => ValidatorKind::UsEin,
            "uk_nino" => ValidatorKind::UkNino,
            "ca_sin" => ValidatorKind::CaSin,
            "de_tax_id" => ValidatorKind::DeTaxId,
            "fr_nir" => ValidatorKind::FrNir,
            "es_dni" => ValidatorKind::EsDni,
            "it_codice_fiscale" => ValidatorKind::ItCodiceFiscale,
            "br_cpf" => ValidatorKind::BrCpf,
            "br_cnpj" => ValidatorKind::BrCnpj,
            "nl_bsn" => ValidatorKind::NlBsn,
            "au_tfn" => ValidatorKind::AuTfn,
            "us_aba" => ValidatorKind::UsAba,
            "imei" => ValidatorKind::Imei,
            "vin" => ValidatorKind::Vin,
            "ipv4" => ValidatorKind::Ipv4,
            "ipv4_public" => ValidatorKind::Ipv4Public,
            "ipv4_not_oid" => ValidatorKind::Ipv4NotOid,
            "ipv6" => ValidatorKind::Ipv6,
            "mac" => ValidatorKind::Mac,
            "date" => ValidatorKind::Date,
            "e164" => ValidatorKind::E164,
            "digit_count" => {
                let (min, max) = (count("min", None)?, count("max", None)?);
                if min > max {
                    return Err(format!("validator {name}: min {min} is above max {max}"));
                }
                ValidatorKind::DigitCount { min, max }
            }
            "swift_bic" => ValidatorKind::SwiftBic,
            "not_words" => ValidatorKind::NotWords {
                max: num("max", Some(0.6))?,
            },
            "char_classes" => ValidatorKind::CharClasses {
                min: num("min", Some(2.0))? as u32,
            },
            other => return Err(format!("unknown validator {other:?}")),
        };
        let on_fail = match params.get("on_fail") {
            None => OnFail::Drop,
            Some(toml::Value::String(s)) if s == "drop" => OnFail::Drop,
            Some(toml::Value::Float(f)) => OnFail::Lower(*f as f32),
            Some(other) => {
                return Err(format!(
                    "validator {name}: on_fail must be \"drop\" or a confidence, not {other}"
                ))
            }
        };
        check_known_params(name, &params)?;
        Ok(Validator { kind, on_fail })
    }

    /// The length the value should be cut to before checking, when the regex may
    /// have taken a neighbouring word along: an IBAN has a fixed length per country,
    /// so in `DE89 3704 0044 0532 0130 00 BIC ...` the trailing ` BIC` (which the
    /// optional last group of the pattern matches) is cut off. Only cuts at a space
    /// after the expected number of characters; `None` leaves the value whole.
    pub fn trim(&self, value: &[u8]) -> Option<usize> {
        match self.kind {
            ValidatorKind::Iban => {
                let want = iban_length(value.get(..2)?)?;
                let mut seen = 0;
                for (i, b) in value.iter().enumerate() {
                    if b.is_ascii_alphanumeric() {
                        seen += 1;
                        if seen == want {
                            let cut = i + 1;
                            return (cut < value.len() && value[cut] == b' ').then_some(cut);
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// Runs the check on a value; `Err` carries the reason shown by `--explain`.
    pub fn check(&self, value: &[u8]) -> Result<(), &'static str> {
        let ok = match &self.kind {
            ValidatorKind::Luhn => luhn(value),
            ValidatorKind::Iban => iban_mod97(value),
            ValidatorKind::Entropy { min } => return entropy_at_least(value, *min),
            ValidatorKind::GithubCrc32 => github_crc32(value),
            ValidatorKind::Base58Check => base58check(value),
            ValidatorKind::Bech32 => bech32(value),
            ValidatorKind::Bech32Long => bech32_variant_max(value, 1023).is_some(),
            ValidatorKind::RippleBase58Check => ripple_base58check(value),
            ValidatorKind::Base58Length { bytes } => base58_length(value, *bytes),
            ValidatorKind::Eip55 => eip55(value),
            ValidatorKind::Monero => monero(value),
            ValidatorKind::Verhoeff => verhoeff(value),
            ValidatorKind::UkNhs => uk_nhs(value),
            ValidatorKind::UsSsn => us_ssn(value),
            ValidatorKind::UsItin => us_itin(value),
            ValidatorKind::UsEin => us_ein(value),
            ValidatorKind::UkNino => uk_nino(value),
            ValidatorKind::CaSin => ca_sin(value),
            ValidatorKind::DeTaxId => de_tax_id(value),
            ValidatorKind::FrNir => fr_nir(value),
            ValidatorKind::EsDni => es_dni(value),
            ValidatorKind::ItCodiceFiscale => it_codice_fiscale(value),
            ValidatorKind::BrCpf => br_cpf(value),
            ValidatorKind::BrCnpj => br_cnpj(value),
            ValidatorKind::NlBsn => nl_bsn(value),
            ValidatorKind::AuTfn => au_tfn(value),
            ValidatorKind::UsAba => us_aba(value),
            ValidatorKind::Imei => imei(value),
            ValidatorKind::Vin => vin(value),
            ValidatorKind::Ipv4 => ipv4(value),
            ValidatorKind::Ipv4Public => ipv4_public(value),
            ValidatorKind::Ipv4NotOid => ipv4_not_oid(value),
            ValidatorKind::Ipv6 => ipv6(value),
            ValidatorKind::Mac => mac(value),
            ValidatorKind::Date => date(value),
            ValidatorKind::E164 => e164(value),
            ValidatorKind::DigitCount { min, max } => digit_count(value, *min, *max),
            ValidatorKind::SwiftBic => swift_bic(value),
            ValidatorKind::NotWords { max } => {
                return if word_coverage(value) <= *max {
                    Ok(())
                } else {
                    Err("reads like words")
                }
            }
            ValidatorKind::CharClasses { min } => char_classes(value) >= *min,
        };
        if ok {
            Ok(())
        } else {
            Err(self.failure_reason())
        }
    }

    fn failure_reason(&self) -> &'static str {
        match self.kind {
            ValidatorKind::Luhn => "failed Luhn checksum",
            ValidatorKind::Iban => "failed IBAN mod-97 checksum",
            ValidatorKind::Entropy { .. } => "low entropy",
            ValidatorKind::GithubCrc32 => "failed GitHub CRC32 checksum",
            ValidatorKind::Base58Check => "failed base58check checksum",
            ValidatorKind::Bech32 | ValidatorKind::Bech32Long => "failed bech32 checksum",
            ValidatorKind::RippleBase58Check => "failed XRP base58check checksum",
            ValidatorKind::Base58Length { .. } => "not base58 of the expected length",
            ValidatorKind::Eip55 => "failed EIP-55 checksum",
            ValidatorKind::Monero => "failed Monero checksum",
            ValidatorKind::Verhoeff => "failed Verhoeff checksum",
            ValidatorKind::UkNhs => "failed NHS number mod-11 check",
            ValidatorKind::UsSsn => "not a valid SSN (area, group or serial)",
            ValidatorKind::UsItin => "not a valid ITIN (prefix or group)",
            ValidatorKind::UsEin => "not a valid EIN prefix",
            ValidatorKind::UkNino => "not a valid National Insurance number",
            ValidatorKind::CaSin => "failed SIN check",
            ValidatorKind::DeTaxId => "failed Steuer-IdNr check",
            ValidatorKind::FrNir => "failed NIR key",
            ValidatorKind::EsDni => "failed DNI/NIE check letter",
            ValidatorKind::ItCodiceFiscale => "failed codice fiscale check character",
            ValidatorKind::BrCpf => "failed CPF check digits",
            ValidatorKind::BrCnpj => "failed CNPJ check digits",
            ValidatorKind::NlBsn => "failed BSN 11-proof",
            ValidatorKind::AuTfn => "failed TFN check",
            ValidatorKind::UsAba => "failed ABA routing checksum",
            ValidatorKind::Imei => "failed IMEI Luhn check",
            ValidatorKind::Vin => "failed VIN check digit",
            ValidatorKind::Ipv4 => "not an IPv4 address",
            ValidatorKind::Ipv4Public => "not a public IPv4 address",
            ValidatorKind::Ipv4NotOid => "looks like an object identifier",
            ValidatorKind::Ipv6 => "not an IPv6 address",
            ValidatorKind::Mac => "not a MAC address",
            ValidatorKind::Date => "not a valid date",
            ValidatorKind::E164 => "unknown country code or bad length",
            ValidatorKind::DigitCount { .. } => "wrong number of digits",
            ValidatorKind::SwiftBic => "not a valid SWIFT/BIC code",
            ValidatorKind::NotWords { .. } => "reads like words",
            ValidatorKind::CharClasses { .. } => "too few character classes",
        }
    }
}

fn check_known_params(name: &str, params: &BTreeMap<String, toml::Value>) -> Result<(), String> {
    let allowed: &[&str] = match name {
        "entropy" => &["min", "on_fail"],
        "not_words" => &["max", "on_fail"],
        "char_classes" => &["min", "on_fail"],
        "base58_length" => &["bytes", "on_fail"],
        "digit_count" => &["min", "max", "on_fail"],
        _ => &["on_fail"],
    };
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("validator {name}: unknown parameter {k:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_values_are_cut_to_their_country_length() {
        let v = Validator::from_spec(&ValidatorSpec::Name("iban".into())).unwrap();
        let long = b"DE89 3704 0044 0532 0130 00 BIC";
        let cut = v.trim(long).unwrap();
        assert_eq!(&long[..cut], b"DE89 3704 0044 0532 0130 00");
        assert!(v.check(&long[..cut]).is_ok());
        assert_eq!(v.trim(b"GB82WEST12345698765432 REF"), Some(22));
        // already the right length, an unknown country, or no space at the cut
        assert_eq!(v.trim(b"DE89 3704 0044 0532 0130 00"), None);
        assert_eq!(v.trim(b"QQ89 3704 0044 0532 0130 00 BIC"), None);
        assert_eq!(v.trim(b"DE89370400440532013000BIC"), None);
        // other validators never cut
        let luhn = Validator::from_spec(&ValidatorSpec::Name("luhn".into())).unwrap();
        assert_eq!(luhn.trim(b"4556 7375 8689 9855 12"), None);
    }

    fn spec(toml_text: &str) -> ValidatorSpec {
        #[derive(serde::Deserialize)]
        struct W {
            v: ValidatorSpec,
        }
        toml::from_str::<W>(toml_text).unwrap().v
    }

    #[test]
    fn parses_names_and_tables() {
        let v = Validator::from_spec(&spec("v = 'luhn'")).unwrap();
        assert_eq!(v.kind, ValidatorKind::Luhn);
        assert_eq!(v.on_fail, OnFail::Drop);
        let v = Validator::from_spec(&spec("v = { name = 'entropy', min = 3 }")).unwrap();
        assert_eq!(v.kind, ValidatorKind::Entropy { min: 3.0 });
        let v =
            Validator::from_spec(&spec("v = { name = 'github_crc32', on_fail = 0.6 }")).unwrap();
        assert_eq!(v.on_fail, OnFail::Lower(0.6));
        assert!(Validator::from_spec(&spec("v = { name = 'entropy' }")).is_err());
        assert!(Validator::from_spec(&spec("v = { name = 'luhn', min = 2 }")).is_err());
        assert!(Validator::from_spec(&spec("v = 'nope'")).is_err());
        let v = Validator::from_spec(&spec("v = { name = 'digit_count', min = 10, max = 11 }"))
            .unwrap();
        assert_eq!(v.kind, ValidatorKind::DigitCount { min: 10, max: 11 });
        assert!(Validator::from_spec(&spec("v = { name = 'digit_count', min = 3 }")).is_err());
        assert!(
            Validator::from_spec(&spec("v = { name = 'digit_count', min = 5, max = 2 }")).is_err()
        );
        let v = Validator::from_spec(&spec("v = { name = 'ipv4_public', on_fail = 0.5 }")).unwrap();
        assert_eq!(v.kind, ValidatorKind::Ipv4Public);
        assert_eq!(v.on_fail, OnFail::Lower(0.5));
        assert_eq!(v.check(b"10.0.0.1"), Err("not a public IPv4 address"));
        assert!(Validator::from_spec(&spec("v = { name = 'base58_length', bytes = 32 }")).is_ok());
        assert!(Validator::from_spec(&spec("v = { name = 'verhoeff', min = 2 }")).is_err());
    }

    #[test]
    fn every_parameterless_validator_parses_and_names_its_failure() {
        for name in [
            "luhn",
            "iban",
            "github_crc32",
            "base58check",
            "bech32",
            "bech32_long",
            "ripple_base58check",
            "eip55",
            "monero",
            "verhoeff",
            "uk_nhs",
            "us_ssn",
            "us_itin",
            "us_ein",
            "uk_nino",
            "ca_sin",
            "de_tax_id",
            "fr_nir",
            "es_dni",
            "it_codice_fiscale",
            "br_cpf",
            "br_cnpj",
            "nl_bsn",
            "au_tfn",
            "us_aba",
            "imei",
            "vin",
            "ipv4",
            "ipv4_public",
            "ipv4_not_oid",
            "ipv6",
            "mac",
            "date",
            "e164",
            "swift_bic",
        ] {
            let v = Validator::from_spec(&spec(&format!("v = '{name}'")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let why = v.check(b"!").unwrap_err();
            assert!(!why.is_empty(), "{name}");
        }
    }

    #[test]
    fn check_reports_reason() {
        let v = Validator::from_spec(&spec("v = 'luhn'")).unwrap();
        assert_eq!(v.check(b"4111111111111111"), Ok(()));
        assert_eq!(v.check(b"4111111111111112"), Err("failed Luhn checksum"));
    }
}
