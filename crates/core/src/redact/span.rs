//! Span merging: overlapping findings in one piece of text become one span, and the
//! finding with the highest severity decides the operator and the label.
//!
//! ```
//! use std::sync::Arc;
//! use datasieve::engine::RuleInfo;
//! use datasieve::redact::{merge_hits, Hit};
//! use datasieve::{Category, Severity};
//! let rule = |id: &str, severity| Arc::new(RuleInfo {
//!     id: id.into(), name: id.into(), category: Category::Pii, severity,
//!     label: id.to_uppercase(), generic: false,
//! });
//! let hits = vec![
//!     Hit { span: 0..10, rule: rule("a", Severity::Low), confidence: 0.9 },
//!     Hit { span: 5..20, rule: rule("b", Severity::High), confidence: 0.6 },
//!     Hit { span: 30..35, rule: rule("c", Severity::Low), confidence: 0.9 },
//! ];
//! let merged = merge_hits(hits, &[b'x'; 40]);
//! assert_eq!(merged.len(), 2);
//! assert_eq!((merged[0].span.clone(), merged[0].winner.id.as_str()), (0..20, "b"));
//! ```

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use crate::engine::RuleInfo;

/// One finding inside a piece of (decoded) text.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Half-open byte span in the text.
    pub span: Range<usize>,
    /// The rule that found it.
    pub rule: Arc<RuleInfo>,
    /// Its confidence.
    pub confidence: f32,
}

/// Overlapping hits merged into one span to replace.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedSpan {
    /// The union of the overlapping hits, widened to whole UTF-8 characters.
    pub span: Range<usize>,
    /// The hit that decides operator and label: highest severity, then highest
    /// confidence, then longest span, then smallest rule id.
    pub winner: Arc<RuleInfo>,
    /// Number of hits merged into this span.
    pub hits: usize,
}

/// Orders hits by how much they should win a merge (greatest wins).
fn strength(a: &Hit, b: &Hit) -> Ordering {
    a.rule
        .severity
        .cmp(&b.rule.severity)
        .then(a.confidence.total_cmp(&b.confidence))
        .then(a.span.len().cmp(&b.span.len()))
        .then_with(|| b.rule.id.cmp(&a.rule.id))
}

/// Merges overlapping hits (spans that only touch stay apart). `text` is the text
/// the spans index; spans that cut a multi-byte UTF-8 character are widened to the
/// whole character so that the replacement never leaves half a character behind.
pub fn merge_hits(mut hits: Vec<Hit>, text: &[u8]) -> Vec<MergedSpan> {
    for h in &mut hits {
        h.span = widen_to_chars(text, h.span.clone());
    }
    hits.retain(|h| !h.span.is_empty());
    hits.sort_by(|a, b| {
        (a.span.start, a.span.end)
            .cmp(&(b.span.start, b.span.end))
            .then_with(|| a.rule.id.cmp(&b.rule.id))
    });
    let mut out: Vec<MergedSpan> = Vec::new();
    let mut best: Option<Hit> = None;
    for h in hits {
        match out.last_mut() {
            Some(last) if h.span.start < last.span.end => {
                last.span.end = last.span.end.max(h.span.end);
                last.hits += 1;
                let b = best.as_mut().expect("a merged span has a best hit");
                if strength(&h, b) == Ordering::Greater {
                    last.winner = h.rule.clone();
                    *b = h;
                }
            }
            _ => {
                out.push(MergedSpan {
                    span: h.span.clone(),
                    winner: h.rule.clone(),
                    hits: 1,
                });
                best = Some(h);
            }
        }
    }
    out
}

/// Widens `span` so that it neither starts nor ends inside a UTF-8 sequence.
fn widen_to_chars(text: &[u8], span: Range<usize>) -> Range<usize> {
    let is_cont = |i: usize| text.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    let mut start = span.start.min(text.len());
    let mut end = span.end.min(text.len()).max(start);
    while start > 0 && is_cont(start) {
        start -= 1;
    }
    while end < text.len() && is_cont(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Category, Severity};

    fn rule(id: &str, severity: Severity) -> Arc<RuleInfo> {
        Arc::new(RuleInfo {
            id: id.into(),
            name: id.into(),
            category: Category::Pii,
            severity,
            label: id.to_uppercase(),
            generic: false,
        })
    }

    fn hit(span: Range<usize>, id: &str, severity: Severity, confidence: f32) -> Hit {
        Hit {
            span,
            rule: rule(id, severity),
            confidence,
        }
    }

    #[test]
    fn overlapping_hits_merge_and_highest_severity_wins() {
        let text = [b'x'; 64];
        let m = merge_hits(
            vec![
                hit(10..20, "low", Severity::Low, 0.99),
                hit(15..30, "crit", Severity::Critical, 0.5),
                hit(25..40, "high", Severity::High, 0.9),
                hit(40..45, "touching", Severity::Low, 0.9),
            ],
            &text,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].span, 10..40);
        assert_eq!(m[0].winner.id, "crit");
        assert_eq!(m[0].hits, 3);
        assert_eq!(m[1].span, 40..45, "touching spans stay apart");
    }

    #[test]
    fn ties_break_on_confidence_then_length_then_id() {
        let text = [b'x'; 64];
        let m = merge_hits(
            vec![
                hit(0..10, "a", Severity::High, 0.7),
                hit(5..12, "b", Severity::High, 0.8),
            ],
            &text,
        );
        assert_eq!(m[0].winner.id, "b");
        let m = merge_hits(
            vec![
                hit(0..10, "a", Severity::High, 0.8),
                hit(5..20, "b", Severity::High, 0.8),
            ],
            &text,
        );
        assert_eq!(m[0].winner.id, "b", "longer wins");
        let m = merge_hits(
            vec![
                hit(0..10, "b", Severity::High, 0.8),
                hit(0..10, "a", Severity::High, 0.8),
            ],
            &text,
        );
        assert_eq!(m[0].winner.id, "a", "smaller id wins");
        assert_eq!(m[0].hits, 2);
    }

    #[test]
    fn nested_and_duplicate_hits_give_one_span() {
        let text = [b'x'; 64];
        let m = merge_hits(
            vec![
                hit(0..30, "outer", Severity::Low, 0.9),
                hit(5..10, "inner", Severity::Medium, 0.9),
                hit(5..10, "inner", Severity::Medium, 0.9),
            ],
            &text,
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].span, 0..30);
        assert_eq!(m[0].winner.id, "inner");
    }

    #[test]
    fn spans_are_widened_to_whole_characters() {
        let text = "ab\u{e9}cd".as_bytes(); // é is two bytes at 2..4
        let m = merge_hits(vec![hit(3..5, "x", Severity::Low, 0.9)], text);
        assert_eq!(m[0].span, 2..5);
        let m = merge_hits(vec![hit(0..3, "x", Severity::Low, 0.9)], text);
        assert_eq!(m[0].span, 0..4);
    }
}
