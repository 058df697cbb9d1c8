//! Scoring helpers: placeholder and documentation-example filters, context words.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};

use crate::rules::{ContextSide, ContextSpec};

/// Context words of one rule, compiled.
pub(super) struct Context {
    words: AhoCorasick,
    pub(super) window: usize,
    side: ContextSide,
    pub(super) required: bool,
    pub(super) boost: f32,
}

impl Context {
    pub(super) fn new(spec: &ContextSpec) -> Self {
        // (a contiguous NFA: half a DFA's build cost, and the words are searched
        // only near candidates)
        let words = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&spec.words)
            .expect("context words are plain literals");
        Context {
            words,
            window: spec.window,
            side: spec.side,
            required: spec.required,
            boost: spec.boost,
        }
    }

    /// True when a context word occurs anywhere within the window of `region`: a
    /// cheap necessary condition for [`Context::found_near`] on any span inside it.
    pub(super) fn any_in_reach(&self, hay: &[u8], region: Range<usize>) -> bool {
        self.words.is_match(&hay[self.reach(hay.len(), region)])
    }

    /// `region` widened by the window on both sides, within the haystack.
    pub(super) fn reach(&self, hay_len: usize, region: Range<usize>) -> Range<usize> {
        region.start.saturating_sub(self.window)..(region.end + self.window).min(hay_len)
    }

    /// True when a context word occurs within the window before or after `span`.
    pub(super) fn found_near(&self, hay: &[u8], span: Range<usize>) -> bool {
        let before = span.start.saturating_sub(self.window)..span.start;
        let after = span.end..(span.end + self.window).min(hay.len());
        // A context word must start a word: "tel" in "hotel" is not context.
        let words_in = |r: Range<usize>| {
            let base = r.start;
            self.words
                .find_iter(&hay[r])
                .filter(move |m| starts_word(hay, base + m.start()))
                .map(move |m| (base + m.start(), base + m.end()))
        };
        match self.side {
            ContextSide::Both => {
                words_in(before).next().is_some() || words_in(after).next().is_some()
            }
            ContextSide::After => words_in(after).next().is_some(),
            // The word must introduce *this* value: no digit between them (in
            // "phone: 555 0100 order #12345" the word belongs to the first number).
            // Nor a sentence end: in "older phones. order #898657510" the word is
            // about something else.
            ContextSide::Before => words_in(before).last().is_some_and(|(_, end)| {
                let between = &hay[end..span.start];
                !between.iter().any(u8::is_ascii_digit) && !ends_sentence(hay, end..span.start)
            }),
        }
    }
}

/// Whether a context word at `hay[at..]` starts a word (of letters and digits):
/// "tel" in "hotel" does not.
fn starts_word(hay: &[u8], at: usize) -> bool {
    at == 0 || !hay[at].is_ascii_alphanumeric() || !hay[at - 1].is_ascii_alphanumeric()
}

/// Where the words of each required context occur in and around one block, found
/// by the keyword prefilter in the same pass as the rule keywords: a window without
/// a context word in reach is skipped by a binary search instead of a scan.
#[derive(Debug, Default)]
pub(super) struct ContextHits {
    /// The range the prefilter searched (words lying inside it are all known).
    pub(super) covered: Range<usize>,
    /// Per required context: spans of keyword hits that hold one of its words,
    /// sorted by start.
    pub(super) hits: Vec<Vec<Range<usize>>>,
}

impl ContextHits {
    /// Starts a block whose words are searched in `covered`.
    pub(super) fn reset(&mut self, contexts: usize, covered: Range<usize>) {
        self.hits.resize_with(contexts, Vec::new);
        for h in &mut self.hits {
            h.clear();
        }
        self.covered = covered;
    }

    /// Keeps a keyword hit of pseudo-rule `r` (`rules + k` stands for the words of
    /// required context `k`) in `hay`; gives back the span of a rule's own
    /// keyword.
    ///
    /// A context word counts only where it starts a word ([`Context::found_near`]),
    /// so a hit none of whose positions starts one is not kept: no word it
    /// holds counts ("tin" in "continue").
    pub(super) fn record(
        &mut self,
        hay: &[u8],
        r: usize,
        rules: usize,
        span: Range<usize>,
    ) -> Option<Range<usize>> {
        match r.checked_sub(rules) {
            Some(k) => {
                if span.clone().any(|at| starts_word(hay, at)) {
                    self.hits[k].push(span);
                }
                None
            }
            None => Some(span),
        }
    }

    /// Whether a word of context `ctx` may lie in `reach`, which lies inside the
    /// searched range: false only when no hit overlaps it. A hit is the span of the
    /// longest keyword at its position, which holds the word; hits are at most
    /// `longest` bytes.
    pub(super) fn any_in(&self, ctx: usize, reach: &Range<usize>, longest: usize) -> bool {
        debug_assert!(reach.start >= self.covered.start && reach.end <= self.covered.end);
        let hits = &self.hits[ctx];
        let from = hits.partition_point(|h| h.start + longest <= reach.start);
        hits[from..]
            .iter()
            .take_while(|h| h.start < reach.end)
            .any(|h| h.end > reach.start)
    }
}

/// True when `hay[range]` holds a sentence end: `!` or `?`, or a `.` after a word
/// of four or more letters (not an abbreviation such as `no.` or `tel.`), followed
/// by whitespace. Letters before the range count towards the word.
fn ends_sentence(hay: &[u8], range: Range<usize>) -> bool {
    (range.start..range.end).any(|i| {
        let next_is_space = hay.get(i + 1).is_some_and(u8::is_ascii_whitespace);
        match hay[i] {
            b'!' | b'?' => next_is_space,
            b'.' if next_is_space => {
                let letters = hay[..i]
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .take(4)
                    .count();
                letters >= 4
            }
            _ => false,
        }
    })
}

/// Well-known test and documentation values that are not anybody's data.
const KNOWN_TEST_VALUES: &[&str] = &[
    "4111111111111111",
    "4242424242424242",
    "4012888888881881",
    "4000056655665556",
    "5555555555554444",
    "5105105105105100",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "30569309025904",
    "078051120",
    "123456789",
    "987654320",
];

/// Substrings that mark a value as a placeholder or documentation example.
const PLACEHOLDER_MARKS: &[&str] = &[
    "example",
    "xxxx",
    "your_",
    "your-",
    "yourapi",
    "yourkey",
    "yoursecret",
    "yourtoken",
    "placeholder",
    "dummy",
    "changeme",
    "change_me",
    "redacted",
    "insert_",
    "replace_me",
    "replaceme",
    "<",
    ">",
    "${",
    "{{",
    "****",
    "...",
    "fake",
    "notreal",
    "not_real",
];

/// Why `value` looks like a placeholder, a documentation example or a well-known test
/// value; `None` when it looks real.
pub fn placeholder_reason(value: &[u8]) -> Option<&'static str> {
    use crate::validate::{with_gathered, with_lowercase};
    with_lowercase(value, |lower| {
        let alnum = lower.iter().copied().filter(u8::is_ascii_alphanumeric);
        with_gathered(lower.len(), alnum, |body| placeholder_in(lower, body))
    })
}

/// [`placeholder_reason`] of a value given in lowercase (`lower`) and as its
/// letters and digits only (`body`).
fn placeholder_in(lower: &[u8], body: &[u8]) -> Option<&'static str> {
    if body.len() >= 4 && body.iter().all(|&b| b == body[0]) {
        return Some("placeholder value (one repeated character)");
    }
    if body.len() >= 6 && body.iter().all(u8::is_ascii_digit) {
        let ascending = body
            .windows(2)
            .all(|w| (w[0] - b'0' + 1) % 10 == w[1] - b'0');
        let descending = body
            .windows(2)
            .all(|w| (w[1] - b'0' + 1) % 10 == w[0] - b'0');
        if ascending || descending {
            return Some("placeholder value (sequential digits)");
        }
        if KNOWN_TEST_VALUES.iter().any(|t| t.as_bytes() == body) {
            return Some("well-known test value");
        }
    }
    if repeated_pattern(body) {
        return Some("placeholder value (repeated pattern)");
    }
    // One automaton over all marks, built once (a `memmem::find` per mark built a
    // searcher per mark per candidate).
    static MARKS: std::sync::OnceLock<AhoCorasick> = std::sync::OnceLock::new();
    let marks = MARKS.get_or_init(|| {
        AhoCorasick::new(PLACEHOLDER_MARKS).expect("placeholder marks are plain literals")
    });
    if marks.is_match(lower) {
        return Some("placeholder or documentation example");
    }
    None
}

/// True when a block of at most 4 characters repeats over at least 16 characters
/// and two thirds of `body` (`abcdabcdabcd...`): no random secret looks like that.
fn repeated_pattern(body: &[u8]) -> bool {
    // (a repeat spans at most the body)
    if body.len() < 16 {
        return false;
    }
    (2..=4).any(|p| {
        let mut best = 0;
        let mut run = 0;
        for i in p..body.len() {
            if body[i] == body[i - p] {
                run += 1;
                best = best.max(run + p);
            } else {
                run = 0;
            }
        }
        best >= 16 && best * 3 >= body.len() * 2
    })
}

/// Domains reserved for documentation (RFC 2606, RFC 6761): nobody's mailbox.
const RESERVED_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
const RESERVED_TLDS: &[&str] = &["example", "test", "invalid", "localhost"];

/// Why `value` is reserved for documentation by a standard and so cannot be
/// anybody's data: an email address at `example.com`/`.net`/`.org` or a reserved
/// TLD, an IPv4 address in 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24 (RFC 5737),
/// or an IPv6 address in 2001:db8::/32 (RFC 3849). Unlike
/// [`placeholder_reason`] this holds for every rule: such values are exact, not
/// guesses, and they are what synthetic redaction writes.
pub fn reserved_reason(value: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(value).ok()?;
    if let Some((_, domain)) = text.rsplit_once('@') {
        let domain = domain.trim_end_matches('.');
        let tld = domain.rsplit('.').next().unwrap_or("");
        // `d` itself or a subdomain of it, compared without allocating.
        let under = |d: &str| {
            let n = domain.len();
            domain.eq_ignore_ascii_case(d)
                || (n > d.len()
                    && domain.as_bytes()[n - d.len() - 1] == b'.'
                    && domain.as_bytes()[n - d.len()..].eq_ignore_ascii_case(d.as_bytes()))
        };
        let reserved = RESERVED_DOMAINS.iter().any(|d| under(d))
            || (domain.contains('.') && RESERVED_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld)));
        return reserved.then_some("reserved documentation domain (RFC 2606)");
    }
    // (parsed only when they may be addresses: most values are neither)
    let ipv4_like = value.first().is_some_and(u8::is_ascii_digit) && value.contains(&b'.');
    if let Some(ip) = ipv4_like
        .then(|| text.parse::<std::net::Ipv4Addr>().ok())
        .flatten()
    {
        let o = ip.octets();
        let doc = matches!(o[..3], [192, 0, 2] | [198, 51, 100] | [203, 0, 113]);
        return doc.then_some("documentation address (RFC 5737)");
    }
    if let Some(ip) = value
        .contains(&b':')
        .then(|| text.parse::<std::net::Ipv6Addr>().ok())
        .flatten()
    {
        let doc = ip.segments()[..2] == [0x2001, 0x0db8];
        return doc.then_some("documentation address (RFC 3849)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_hits_inside_a_word_are_not_kept() {
        // Pseudo-rule 3 stands for the words of required context 0 (of three
        // rules).
        let hay = b"continue tin ax_tin tin9 9tin";
        let mut hits = ContextHits::default();
        hits.reset(1, 0..hay.len());
        // (a rule's own keyword is given back, wherever it lies)
        assert_eq!(hits.record(hay, 1, 3, 3..6), Some(3..6));
        for (span, kept) in [
            (3..6, false),   // "tin" in "continue"
            (9..12, true),   // a word
            (14..19, true),  // "x_tin" in "ax_tin": its "tin" starts a word
            (20..23, true),  // "tin" of "tin9" starts a word
            (26..29, false), // "tin" of "9tin"
        ] {
            hits.hits[0].clear();
            assert_eq!(hits.record(hay, 3, 3, span.clone()), None);
            assert_eq!(hits.hits[0].len(), usize::from(kept), "{span:?}");
        }
    }

    #[test]
    fn long_values_are_checked_like_short_ones() {
        // up to 256 bytes the lowercase copy is on the stack, past that on the heap
        for pad in [10, 240, 300, 2000] {
            // random-looking letters and digits (a small LCG)
            let mut x: u32 = 12345;
            let mut v: Vec<u8> = (0..pad)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"aB3dE5gH7jK9mN1pQ2sT4vW6yZ8"[(x >> 16) as usize % 27]
                })
                .collect();
            assert_eq!(placeholder_reason(&v), None, "{pad}");
            v.extend_from_slice(b"_CHANGEME");
            assert!(placeholder_reason(&v).is_some(), "{pad}");
            let ones = vec![b'Q'; pad];
            assert!(placeholder_reason(&ones).is_some(), "{pad}");
        }
        assert!(crate::validate::word_coverage(&b"CorrectHorse".repeat(40)) > 0.8);
    }

    #[test]
    fn reserved_domains_match_in_any_case_and_only_whole_labels() {
        assert!(reserved_reason(b"a@Mail.EXAMPLE.org").is_some());
        assert!(reserved_reason(b"a@EXAMPLE.COM.").is_some());
        assert!(reserved_reason(b"a@notexample.com").is_none());
        assert!(reserved_reason(b"a@host.TEST").is_some());
    }

    #[test]
    fn reserved_values() {
        assert!(reserved_reason(b"user12@example.com").is_some());
        assert!(reserved_reason(b"a@mail.example.org").is_some());
        assert!(reserved_reason(b"a@host.test").is_some());
        assert!(reserved_reason(b"a@example-shop.co.uk").is_none());
        assert!(reserved_reason(b"a@notexample.com").is_none());
        assert!(reserved_reason(b"203.0.113.7").is_some());
        assert!(reserved_reason(b"198.51.100.255").is_some());
        assert!(reserved_reason(b"8.8.8.8").is_none());
        assert!(reserved_reason(b"2001:db8::1").is_some());
        assert!(reserved_reason(b"2001:4860::8888").is_none());
        // 555-01XX numbers are fictional, but the catalog uses them as examples of
        // real-looking phone numbers: not reserved here.
        assert!(reserved_reason(b"(212) 555-0142").is_none());
    }

    #[test]
    fn context_words_start_words_and_before_means_adjacent() {
        let spec = |side: &str| -> ContextSpec {
            toml::from_str(&format!("words = [\"tel \", \"ssn\"]\nside = \"{side}\"")).unwrap()
        };
        let both = Context::new(&spec("both"));
        let hay = b"hotel room 555123456";
        assert!(!both.found_near(hay, 11..20));
        let hay = b"tel 555123456";
        assert!(both.found_near(hay, 4..13));
        let before = Context::new(&spec("before"));
        let hay = b"SSN 123-45-6789, order 987654321";
        assert!(!before.found_near(hay, 23..32));
        assert!(before.found_near(b"SSN: 987654321", 5..14));
        // a sentence ends between the word and the value: not its context
        let hay = b"older ssns. order 987654321";
        assert!(!before.found_near(hay, 18..27));
        let hay = b"Your SSN? Order 987654321";
        assert!(!before.found_near(hay, 16..25));
        // an abbreviation is not a sentence end
        let hay = b"SSN no. 987654321";
        assert!(before.found_near(hay, 8..17));
    }

    #[test]
    fn placeholders() {
        assert!(placeholder_reason(b"AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(placeholder_reason(b"your_api_key_here").is_some());
        assert!(placeholder_reason(b"0000-0000-0000-0000").is_some());
        assert!(placeholder_reason(b"1234567890").is_some());
        assert!(placeholder_reason(b"4111 1111 1111 1111").is_some());
        assert!(placeholder_reason(b"ghp_R4nd0mB0dyOfThirtyCharsxxQwErT0abcd").is_none());
        assert!(placeholder_reason(b"4556 7375 8689 9855").is_none());
        assert!(placeholder_reason(b"dop_v1_3fa93fa93fa93fa93fa93fa93fa93fa9").is_some());
        assert!(placeholder_reason(b"3fa93fa9-3fa9-3fa9-3fa9-3fa93fa93fa9").is_some());
        assert!(placeholder_reason(b"dop_v1_62d086d01a87b8fdd87552271fe13d9f").is_none());
    }
}
