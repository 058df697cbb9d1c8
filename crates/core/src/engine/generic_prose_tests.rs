//! Precision tests of the credential catalog: prose and documentation that talk about
//! passwords, tokens and keys must not be reported; credentials in code must be; and
//! no value is claimed by two specific credential rules.

use super::*;
use crate::rules::RuleSet;

fn builtin_scanner() -> Scanner {
    Scanner::new(&RuleSet::builtin().unwrap()).unwrap()
}

/// README-style prose and technical documentation about credentials, written for
/// this test. It names every kind of secret, shows their prefixes and the places
/// they are configured, but holds none.
const PROSE: &str = r#"
# Managing credentials

Never commit a password, an API key or an access token to the repository. The
password is stored in a secret manager (Vault, AWS Secrets Manager or the Kubernetes
secret store) and injected at runtime as an environment variable. If you need a
token for local development, create a personal access token with the smallest
scope that works, and set your api key in the config file under your home folder.

## Configuration

The service reads its settings from `config.yaml`. The `password` field is required
when `auth_mode` is `basic`; otherwise the client secret and the private key are
used. A typical setup sets DB_PASSWORD, API_KEY and SECRET_KEY in the environment and
leaves the values out of version control. The secret: it is rotated every 90 days.
Password: at least 12 characters, mixing letters, digits and symbols.

Tokens expire after one hour. A refresh token lets the client obtain a new access
token without asking the user for the password again. Bearer tokens are sent in the
Authorization header; basic authentication sends the user name and password encoded
in base64, which is why it must only be used over TLS.

## Token formats

GitHub classic tokens start with ghp_ and fine-grained tokens with github_pat_. Slack
bot tokens begin with xoxb- and user tokens with xoxp-. Stripe secret keys use the
sk_live_ prefix in production and sk_test_ in test mode; publishable keys start with
pk_. AWS access key ids begin with AKIA for long-term keys and ASIA for temporary
ones, and the secret access key is 40 characters long. OpenAI keys start with sk-,
Anthropic keys with sk-ant-, and Hugging Face tokens with hf_. A private key file
begins with -----BEGIN PRIVATE KEY----- and ends with a matching footer line.

## Connecting to the database

Use a connection URL such as postgres://app@db.internal:5432/prod and pass the
password separately, or read it from PGPASSFILE. In docker-compose the password comes
from a secret file: POSTGRES_PASSWORD_FILE=/run/secrets/db_password. Do not put the
password in the URL; tools print URLs in their logs.

## Troubleshooting

If the API returns 401, the token has expired or the key was revoked. Check that the
Authorization header reads "Bearer" followed by a space and the token. If the error
mentions an invalid signature, the webhook secret differs between the sender and the
receiver. Rotate the key, update the secret in the vault, and restart the workers.
The password reset flow sends a one-time code; the code is not a password and expires
after ten minutes. Keep the recovery codes somewhere safe, such as a password manager.

## Glossary

- access key: an identifier and a secret used to sign requests.
- API token: a string that identifies a caller; treat it like a password.
- client secret: the confidential half of an OAuth client registration.
- passphrase: a long password made of several words, like correct horse battery staple.
- session token: a temporary credential returned by the security token service.
- private key: the secret half of a key pair; the public key can be shared.
"#;

#[test]
fn prose_about_credentials_is_not_reported() {
    let scanner = builtin_scanner();
    assert!(PROSE.len() >= 3000, "prose is {} bytes", PROSE.len());
    let found: Vec<String> = scanner
        .scan(PROSE.as_bytes(), &ScanConfig::default())
        .iter()
        .filter(|m| scanner.rule(m.rule).category == Category::Credential)
        .map(|m| format!("{} {:?}", scanner.rule(m.rule).id, &PROSE[m.start..m.end]))
        .collect();
    assert!(found.is_empty(), "credential findings in prose: {found:#?}");
}

#[test]
fn credentials_in_code_are_found() {
    // Synthetic values; the GitHub token carries a valid CRC32 checksum.
    let code = r#"
import os, psycopg2

GITHUB_TOKEN = "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"
SECRET_KEY = "NYvMIHa/2o76umfXfKm/r5kJP1VrT+1FJors/6IL"

def connect():
    # the password is read from the environment in production
    return psycopg2.connect(host="db.internal", user="etl", password="S7o6S5HbrI+FdN")

DATABASE_URL = "postgresql://etl:yHUig43kiJfahqSIjOugM1@db.internal:5432/warehouse"
headers = {"Authorization": "Bearer eb53f16947ccf25ec84d8dbc74254770"}
"#;
    let scanner = builtin_scanner();
    let found: Vec<(&str, &str)> = scanner
        .scan(code.as_bytes(), &ScanConfig::default())
        .iter()
        .filter(|m| scanner.rule(m.rule).category == Category::Credential)
        .map(|m| (scanner.rule(m.rule).id.as_str(), &code[m.start..m.end]))
        .collect();
    let expected = [
        (
            "credential.github.pat_classic",
            "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",
        ),
        (
            "credential.generic.secret",
            "NYvMIHa/2o76umfXfKm/r5kJP1VrT+1FJors/6IL",
        ),
        ("credential.generic.password", "S7o6S5HbrI+FdN"),
        (
            "credential.connection_string.postgres",
            "yHUig43kiJfahqSIjOugM1",
        ),
        (
            "credential.generic.bearer_token",
            "eb53f16947ccf25ec84d8dbc74254770",
        ),
    ];
    for e in expected {
        assert!(found.contains(&e), "missing {e:?} in {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn no_value_is_claimed_by_two_specific_credential_rules() {
    // Every positive example of every credential rule: a value span may be reported
    // by at most one non-generic credential rule (generic rules are suppressed by the
    // engine where a specific rule matches).
    let set = RuleSet::builtin().unwrap();
    let scanner = Scanner::new(&set).unwrap();
    let mut clashes = Vec::new();
    for loaded in set.rules() {
        if loaded.rule.category != Category::Credential {
            continue;
        }
        for ex in &loaded.rule.examples {
            let found = scanner.scan(ex.as_bytes(), &ScanConfig::default());
            let specific: Vec<&Match> = found
                .iter()
                .filter(|m| {
                    let info = scanner.rule(m.rule);
                    info.category == Category::Credential && !info.generic
                })
                .collect();
            for (i, a) in specific.iter().enumerate() {
                for b in &specific[i + 1..] {
                    if a.rule != b.rule && a.start < b.end && b.start < a.end {
                        clashes.push(format!(
                            "{} and {} both report {:?} (example of {})",
                            scanner.rule(a.rule).id,
                            scanner.rule(b.rule).id,
                            &ex[a.start.min(b.start)..a.end.max(b.end)],
                            loaded.rule.id
                        ));
                    }
                }
            }
        }
    }
    assert!(clashes.is_empty(), "{}", clashes.join("\n"));
}

#[test]
fn generic_credential_is_not_hidden_by_another_category() {
    // An email-like match on `pass@host` must not suppress the generic password
    // finding of `https://user:pass@host`; a specific credential rule still does.
    let mut set = RuleSet::new();
    set.add_str(
        "t.toml",
        r#"
[[rule]]
id = "t.mail"
name = "mail"
category = "pii"
severity = "medium"
anchor = "at"
regex = '(?P<value>[a-z0-9]+@[a-z.]+)'

[[rule]]
id = "t.url_password"
name = "url password"
category = "credential"
severity = "high"
generic = true
keywords = ["https://"]
regex = 'https://[a-z]+:(?P<value>[a-z0-9]+)@'

[[rule]]
id = "t.token"
name = "token"
category = "credential"
severity = "high"
keywords = ["tok"]
regex = '(?P<value>tok[0-9]{6})'
"#,
    )
    .unwrap();
    let scanner = Scanner::new(&set).unwrap();
    let ids = |hay: &[u8]| -> Vec<String> {
        scanner
            .scan(hay, &ScanConfig::default())
            .iter()
            .map(|m| scanner.rule(m.rule).id.clone())
            .collect()
    };
    assert_eq!(
        ids(b"https://bob:s3cr3tpw@host.io"),
        ["t.url_password", "t.mail"]
    );
    assert_eq!(ids(b"https://bob:tok123456@host.io"), ["t.token", "t.mail"]);
}
