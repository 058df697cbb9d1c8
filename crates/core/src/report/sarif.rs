//! SARIF 2.1.0 output.

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::json;

use super::ReportOptions;
use crate::finding::Finding;
use crate::Severity;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The rules of the results written so far, in order of their first result
/// (`ruleIndex` points into this list, written at the end).
#[derive(Default)]
pub(super) struct Rules {
    index: HashMap<String, usize>,
    list: Vec<serde_json::Value>,
}

impl Rules {
    /// The SARIF result of a kept finding, its rule listed.
    pub(super) fn result(&mut self, f: &Finding, opts: &ReportOptions) -> serde_json::Value {
        let next = self.index.len();
        let index = *self.index.entry(f.rule.id.clone()).or_insert_with(|| {
            self.list.push(json!({
                "id": f.rule.id,
                "name": f.rule.name,
                "shortDescription": {"text": f.rule.name},
                "defaultConfiguration": {"level": level(f.rule.severity)},
                "properties": {"category": f.rule.category.as_str(), "severity": f.rule.severity.as_str()},
            }));
            next
        });
        let mut props = json!({
            "confidence": (f.confidence * 100.0).round() / 100.0,
            "category": f.rule.category.as_str(),
            "severity": f.rule.severity.as_str(),
        });
        if let Some(r) = f.record {
            props["record"] = json!(r);
        }
        if let Some(field) = &f.field {
            props["field"] = json!(field);
        }
        json!({
            "ruleId": f.rule.id,
            "ruleIndex": index,
            "level": level(f.rule.severity),
            "message": {"text": format!("{} found: {}", f.rule.name, f.shown_value(opts.show_secrets))},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path.replace('\\', "/")},
                    "region": {
                        "startLine": f.line,
                        "startColumn": f.column,
                        "byteOffset": f.start,
                        "byteLength": f.end - f.start,
                    }
                }
            }],
            "partialFingerprints": {"datasieve/v1": fingerprint(&f.rule.id, &f.value)},
            "properties": props,
        })
    }
}

/// The opening of the document, up to the first result.
pub(super) fn open(out: &mut impl Write) -> io::Result<()> {
    write!(
        out,
        "{{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"results\": ["
    )
}

/// The end of the document after the last result: the tool and its rules.
pub(super) fn close(out: &mut impl Write, rules: Rules) -> io::Result<()> {
    let tool = json!({"driver": {
        "name": "datasieve",
        "version": env!("CARGO_PKG_VERSION"),
        "informationUri": "https://example.invalid/datasieve",
        "rules": rules.list,
    }});
    writeln!(
        out,
        "],\n      \"tool\": {}\n    }}\n  ]\n}}",
        super::pretty_at(&tool, 6)?
    )
}

/// A stable fingerprint of a finding that does not reveal the value.
fn fingerprint(rule: &str, value: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(value);
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
