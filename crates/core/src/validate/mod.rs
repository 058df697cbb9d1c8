//! Validators: checksums, entropy and shape tests that turn a regex match into a
//! trustworthy finding.
//!
//! Each validator is a small pure function over the matched value's bytes; the
//! [`Validator`] enum is what rule files name (`validators = ["luhn"]`).
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
mod text;

pub use checksum::*;
pub use crypto::*;
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
        let kind = match name {
            "luhn" => ValidatorKind::Luhn,
            "iban" => ValidatorKind::Iban,
            "entropy" => ValidatorKind::Entropy {
                min: num("min", None)?,
            },
            "github_crc32" => ValidatorKind::GithubCrc32,
            "base58check" => ValidatorKind::Base58Check,
            "bech32" => ValidatorKind::Bech32,
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

    /// Runs the check on a value; `Err` carries the reason shown by `--explain`.
    pub fn check(&self, value: &[u8]) -> Result<(), &'static str> {
        let ok = match &self.kind {
            ValidatorKind::Luhn => luhn(value),
            ValidatorKind::Iban => iban_mod97(value),
            ValidatorKind::Entropy { min } => return entropy_at_least(value, *min),
            ValidatorKind::GithubCrc32 => github_crc32(value),
            ValidatorKind::Base58Check => base58check(value),
            ValidatorKind::Bech32 => bech32(value),
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
            ValidatorKind::Bech32 => "failed bech32 checksum",
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
    }

    #[test]
    fn check_reports_reason() {
        let v = Validator::from_spec(&spec("v = 'luhn'")).unwrap();
        assert_eq!(v.check(b"4111111111111111"), Ok(()));
        assert_eq!(v.check(b"4111111111111112"), Err("failed Luhn checksum"));
    }
}
