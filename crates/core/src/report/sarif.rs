//! SARIF 2.1.0 output.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::json;

use super::ReportOptions;
use crate::scan::ScanReport;
use crate::Severity;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

pub(super) fn write(
    out: &mut dyn Write,
    report: &ScanReport,
    opts: &ReportOptions,
) -> io::Result<()> {
    let mut rules = BTreeMap::new();
    for f in report.findings() {
        rules.entry(f.rule.id.clone()).or_insert_with(|| {
            json!({
                "id": f.rule.id,
                "name": f.rule.name,
                "shortDescription": {"text": f.rule.name},
                "defaultConfiguration": {"level": level(f.rule.severity)},
                "properties": {"category": f.rule.category.as_str(), "severity": f.rule.severity.as_str()},
            })
        });
    }
    let rule_index: BTreeMap<&String, usize> =
        rules.keys().enumerate().map(|(i, k)| (k, i)).collect();
    let results: Vec<_> = report
        .findings()
        .filter(|f| !f.dropped)
        .map(|f| {
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
                "ruleIndex": rule_index[&f.rule.id],
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
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "datasieve",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/datasieve",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
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
