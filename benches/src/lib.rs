//! Deterministic corpus generator for datasieve's benchmarks and labeled evaluation.
//!
//! It writes training-data-like documents (prose, chat, code, configs, logs as JSONL,
//! text and CSV) with planted values of every type the catalog knows, *and* hard
//! decoys (Luhn-failing numbers, git SHAs, UUIDs, hashes, version strings, dates,
//! base64 blobs, ISBNs, order numbers, placeholders). Every planted value comes with
//! a label: file, byte span in the file, and the kind, so that precision and recall
//! can be measured per kind.
//!
//! The generator is our own: value makers compute real checksums (Luhn, mod-97,
//! base58check, bech32, GitHub CRC32) so that planted values are valid, and decoys
//! are built to fail them.

use std::fmt::Write as _;

pub mod evaluate;
pub mod values;

pub use values::{Kind, KINDS};

/// A small, fast, deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// One element of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    /// `n` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }
}

/// A planted value: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// File name relative to the corpus folder.
    pub file: String,
    /// Byte offset of the value in the file.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// Kind name ([`Kind::name`]); decoys have `decoy: true`.
    pub kind: &'static str,
    /// True for decoys: values that must *not* be reported.
    pub decoy: bool,
}

/// One generated file.
#[derive(Debug, Clone)]
pub struct File {
    /// Name relative to the corpus folder.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
    /// Planted values and decoys, with offsets into `bytes`.
    pub labels: Vec<Label>,
}

/// How dense the planted values are.
#[derive(Debug, Clone, Copy)]
pub struct Density {
    /// Probability that a sentence slot holds a planted value.
    pub value: f64,
    /// Probability that a sentence slot holds a decoy.
    pub decoy: f64,
}

impl Density {
    /// About one planted value per 10 KB: the benchmark density.
    pub const BENCH: Density = Density {
        value: 0.012,
        decoy: 0.03,
    };
    /// Dense: many samples of every kind for precision and recall.
    pub const EVAL: Density = Density {
        value: 0.35,
        decoy: 0.35,
    };
}

/// A text under construction that records the spans of what is planted in it.
#[derive(Default)]
struct Doc {
    text: String,
    spans: Vec<(usize, usize, &'static str, bool)>,
}

impl Doc {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
    fn plant(&mut self, value: &str, kind: &'static str, decoy: bool) {
        let start = self.text.len();
        self.text.push_str(value);
        self.spans.push((start, self.text.len(), kind, decoy));
    }
    /// Writes a template with one `{}` slot filled by a value or decoy.
    fn fill(&mut self, template: &str, value: &str, kind: &'static str, decoy: bool) {
        match template.split_once("{}") {
            Some((a, b)) => {
                self.push(a);
                self.plant(value, kind, decoy);
                self.push(b);
            }
            None => self.push(template),
        }
    }
}

const PROSE: &[&str] = &[
    "The committee met on Tuesday to review the quarterly budget and agreed to postpone the decision.",
    "Most sourdough recipes call for a long, cold fermentation that develops flavour overnight.",
    "The river had risen after three days of rain, and the ferry schedule was reduced to two crossings.",
    "In the second half of the season the team improved its defence but still struggled to score.",
    "Researchers observed that the migratory birds arrived almost two weeks earlier than a decade ago.",
    "She packed a spare battery, a paper map and enough water for the long walk across the plateau.",
    "The museum's new wing displays textiles from the eighteenth century, many of them restored by hand.",
    "A good cover letter explains why you want the role rather than repeating your resume line by line.",
    "When the compiler reports a borrow error, read the whole message; it usually names both conflicting uses.",
    "The library is closed on public holidays, but the online catalogue remains available.",
    "He explained that the password policy now requires a passphrase and a second factor for every login.",
    "Store secrets in a vault, rotate access tokens regularly, and never paste an API key into a chat window.",
    "The weather service expects temperatures to fall below freezing in the northern valleys tonight.",
    "Volunteers planted four hundred trees along the old railway line, which is now a cycling path.",
    "Our support team answers most questions within one business day, including weekends in December.",
    "The novel follows three generations of a family running a small hotel on the coast.",
    "Version control makes it easy to see who changed a line and why, if commit messages are written well.",
    "The recipe needs two eggs, a cup of flour, a pinch of salt and about half a cup of milk.",
    "Several readers wrote in to say that the crossword clue in last week's edition had two valid answers.",
    "The city council approved a plan to extend the tram network to the eastern suburbs by next year.",
    "After the update, the app starts faster and uses less memory on older phones.",
    "Please remember to bring your own cup; the office kitchen is being renovated this month.",
    "The contract renews automatically unless either party gives notice sixty days before the end of the term.",
    "Astronomers announced the discovery of a faint companion orbiting the nearby red dwarf.",
    "Key points from the meeting were summarised and shared with the whole department on Friday.",
    "Our token economy in the game rewards players for exploring rather than for grinding the same quest.",
    "The secret to a crisp crust is a very hot oven and a tray of water on the bottom shelf.",
    "Training data should be reviewed for personal information before any model is fine-tuned on it.",
];

const CHAT_USER: &[&str] = &[
    "Can you help me write an email to my landlord about the broken heater?",
    "What's the difference between a list and a tuple in Python?",
    "Summarise the plot of Hamlet in three sentences.",
    "I keep getting a timeout when I call the API from my laptop, any idea why?",
    "How long should I boil an egg for a soft yolk?",
    "Translate 'good morning, how are you' into Spanish and French.",
    "Give me a short workout I can do in a hotel room.",
];

const CHAT_ASSISTANT: &[&str] = &[
    "Sure. Start by describing the problem, when it began, and what you have already tried.",
    "A list is mutable and a tuple is immutable; tuples can be used as dictionary keys.",
    "Prince Hamlet seeks revenge for his father's murder, hesitates, and the play ends in tragedy.",
    "Timeouts usually come from a proxy or firewall; try the same request with a longer timeout first.",
    "About six minutes from boiling water, then cool the egg under cold running water.",
    "Buenos días, ¿cómo estás? and Bonjour, comment allez-vous ?",
    "Try three rounds of squats, push-ups, lunges and a one-minute plank.",
];

const CODE: &[&str] = &[
    "def load(path):\n    with open(path) as f:\n        return json.load(f)\n",
    "for i, row in enumerate(rows):\n    total += row.amount\n",
    "fn parse(input: &str) -> Result<u32, ParseIntError> {\n    input.trim().parse()\n}\n",
    "const server = http.createServer((req, res) => res.end('ok'));\n",
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';\n",
    "if err != nil {\n\treturn fmt.Errorf(\"open config: %w\", err)\n}\n",
    "    @property\n    def name(self):\n        return self._name\n",
];

const LOG: &[&str] = &[
    "INFO  worker-3 job finished in 2341 ms",
    "WARN  cache miss ratio above 0.35 for shard 12",
    "DEBUG request GET /api/v2/items?page=4 200 18ms",
    "ERROR connection reset by peer while reading response body",
    "INFO  scheduler tick, 14 tasks queued, 2 running",
];

/// Document kinds the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// Prose paragraphs, JSONL `{"id", "text"}`.
    ProseJsonl,
    /// Chat transcripts, JSONL `{"messages": [...]}`.
    ChatJsonl,
    /// Plain prose text.
    ProseText,
    /// Source code.
    Code,
    /// `.env` / YAML configuration.
    Config,
    /// Application logs.
    Log,
    /// CSV records.
    Csv,
}

impl DocKind {
    /// All kinds.
    pub const ALL: [DocKind; 7] = [
        DocKind::ProseJsonl,
        DocKind::ChatJsonl,
        DocKind::ProseText,
        DocKind::Code,
        DocKind::Config,
        DocKind::Log,
        DocKind::Csv,
    ];
    fn extension(self) -> &'static str {
        match self {
            DocKind::ProseJsonl | DocKind::ChatJsonl => "jsonl",
            DocKind::ProseText => "txt",
            DocKind::Code => "py",
            DocKind::Config => "env",
            DocKind::Log => "log",
            DocKind::Csv => "csv",
        }
    }
    fn name(self) -> &'static str {
        match self {
            DocKind::ProseJsonl => "prose",
            DocKind::ChatJsonl => "chat",
            DocKind::ProseText => "notes",
            DocKind::Code => "code",
            DocKind::Config => "config",
            DocKind::Log => "app",
            DocKind::Csv => "records",
        }
    }
}

/// Generates one "sentence slot": prose, or a planted value or decoy in a template.
fn slot(rng: &mut Rng, doc: &mut Doc, density: Density, multiline_ok: bool, filler: &[&str]) {
    if rng.chance(density.value) {
        let kind = loop {
            let k = rng.pick(KINDS);
            if multiline_ok || !k.multiline {
                break k;
            }
        };
        let value = (kind.make)(rng);
        let template = rng.pick(kind.contexts);
        doc.fill(template, &value, kind.name, false);
        doc.push(" ");
    } else if rng.chance(density.decoy) {
        let decoy = rng.pick(values::DECOYS);
        let value = (decoy.make)(rng);
        let template = rng.pick(decoy.contexts);
        doc.fill(template, &value, decoy.name, true);
        doc.push(" ");
    } else {
        let text = *rng.pick::<&str>(filler);
        doc.push(text);
        doc.push(" ");
    }
}

fn paragraph(
    rng: &mut Rng,
    density: Density,
    multiline_ok: bool,
    filler: &[&str],
    sentences: usize,
) -> Doc {
    let mut doc = Doc::default();
    for _ in 0..sentences {
        slot(rng, &mut doc, density, multiline_ok, filler);
    }
    if doc.text.ends_with(' ') {
        doc.text.pop();
    }
    doc
}

/// JSON-encodes `s` as a string literal, appending to `out`, and returns the offset
/// of each planted span in `out` (values are ASCII without characters that need
/// escaping, so their raw bytes are their decoded bytes).
fn push_json_string(
    out: &mut String,
    doc: &Doc,
    labels: &mut Vec<(usize, usize, &'static str, bool)>,
) {
    out.push('"');
    let mut decoded_to_raw = Vec::with_capacity(doc.text.len() + 1);
    for ch in doc.text.chars() {
        for _ in 0..ch.len_utf8() {
            decoded_to_raw.push(out.len());
        }
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    decoded_to_raw.push(out.len());
    for &(s, e, k, d) in &doc.spans {
        labels.push((decoded_to_raw[s], decoded_to_raw[e], k, d));
    }
    out.push('"');
}

/// Generates one file of about `target` bytes.
pub fn generate_file(
    kind: DocKind,
    index: usize,
    target: usize,
    seed: u64,
    density: Density,
) -> File {
    let mut rng = Rng::new(seed ^ ((index as u64) << 20) ^ kind as u64);
    let name = format!("{}-{index:04}.{}", kind.name(), kind.extension());
    let mut out = String::with_capacity(target + 4096);
    let mut spans: Vec<(usize, usize, &'static str, bool)> = Vec::new();
    let mut record = 0usize;
    if kind == DocKind::Csv {
        out.push_str("id,name,comment,city\n");
    }
    while out.len() < target {
        match kind {
            DocKind::ProseJsonl => {
                let doc = {
                    let n = rng.range(3, 12);
                    paragraph(&mut rng, density, false, PROSE, n)
                };
                let _ = write!(out, "{{\"id\":{record},\"source\":\"web\",\"text\":");
                push_json_string(&mut out, &doc, &mut spans);
                out.push_str("}\n");
            }
            DocKind::ChatJsonl => {
                let _ = write!(out, "{{\"id\":\"conv-{record}\",\"messages\":[");
                for turn in 0..rng.range(2, 6) {
                    if turn > 0 {
                        out.push(',');
                    }
                    let (role, filler) = if turn % 2 == 0 {
                        ("user", CHAT_USER)
                    } else {
                        ("assistant", CHAT_ASSISTANT)
                    };
                    let doc = {
                        let n = rng.range(1, 4);
                        paragraph(&mut rng, density, false, filler, n)
                    };
                    let _ = write!(out, "{{\"role\":\"{role}\",\"content\":");
                    push_json_string(&mut out, &doc, &mut spans);
                    out.push('}');
                }
                out.push_str("]}\n");
            }
            DocKind::ProseText => {
                let doc = {
                    let n = rng.range(3, 10);
                    paragraph(&mut rng, density, true, PROSE, n)
                };
                append_doc(&mut out, &doc, &mut spans);
                out.push_str("\n\n");
            }
            DocKind::Code => {
                let code = *rng.pick::<&str>(CODE);
                out.push_str(code);
                let doc = paragraph(
                    &mut rng,
                    density,
                    true,
                    &[
                        "# helper for the import job",
                        "# TODO: handle retries",
                        "x = compute(a, b)",
                    ],
                    2,
                );
                append_doc(&mut out, &doc, &mut spans);
                out.push('\n');
            }
            DocKind::Config => {
                let doc = paragraph(
                    &mut rng,
                    density,
                    true,
                    &[
                        "LOG_LEVEL=info",
                        "WORKERS=4",
                        "FEATURE_FLAGS=search,export",
                        "timeout: 30s",
                    ],
                    2,
                );
                append_doc(&mut out, &doc, &mut spans);
                out.push('\n');
            }
            DocKind::Log => {
                let _ = write!(
                    out,
                    "2026-0{}-1{}T0{}:2{}:11Z ",
                    rng.range(1, 9),
                    rng.range(0, 9),
                    rng.range(0, 9),
                    rng.range(0, 9)
                );
                let doc = paragraph(&mut rng, density, false, LOG, 1);
                append_doc(&mut out, &doc, &mut spans);
                out.push('\n');
            }
            DocKind::Csv => {
                let doc = {
                    let n = rng.range(1, 3);
                    paragraph(&mut rng, density, false, PROSE, n)
                };
                let _ = write!(
                    out,
                    "{record},{},",
                    rng.pick(&["Ana", "Bo", "Chen", "Dara", "Eli"])
                );
                // quoted cell: double the quotes, values carry none
                out.push('"');
                let base = out.len();
                out.push_str(&doc.text.replace('"', "\"\""));
                for &(s, e, k, d) in &doc.spans {
                    spans.push((base + s, base + e, k, d));
                }
                out.push_str("\",");
                let city = *rng.pick::<&str>(&["Lisbon", "Osaka", "Nairobi", "Quito", "Tallinn"]);
                out.push_str(city);
                out.push('\n');
            }
        }
        record += 1;
    }
    let labels = spans
        .into_iter()
        .map(|(start, end, kind, decoy)| Label {
            file: name.clone(),
            start,
            end,
            kind,
            decoy,
        })
        .collect();
    File {
        name,
        bytes: out.into_bytes(),
        labels,
    }
}

fn append_doc(out: &mut String, doc: &Doc, spans: &mut Vec<(usize, usize, &'static str, bool)>) {
    let base = out.len();
    out.push_str(&doc.text);
    for &(s, e, k, d) in &doc.spans {
        spans.push((base + s, base + e, k, d));
    }
}

/// Generates a corpus of about `total` bytes split into files of about `file_size`
/// bytes, cycling through `kinds`.
pub fn generate(
    total: usize,
    file_size: usize,
    kinds: &[DocKind],
    seed: u64,
    density: Density,
) -> Vec<File> {
    let mut files = Vec::new();
    let mut written = 0;
    let mut i = 0;
    while written < total {
        let kind = kinds[i % kinds.len()];
        let f = generate_file(
            kind,
            i,
            file_size.min(total - written).max(1024),
            seed,
            density,
        );
        written += f.bytes.len();
        files.push(f);
        i += 1;
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_labels_point_at_values() {
        let a = generate(200_000, 40_000, &DocKind::ALL, 7, Density::EVAL);
        let b = generate(200_000, 40_000, &DocKind::ALL, 7, Density::EVAL);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.bytes, y.bytes);
        }
        let mut planted = 0;
        for f in &a {
            for l in &f.labels {
                assert!(l.end <= f.bytes.len() && l.start < l.end, "{l:?}");
                planted += 1;
            }
        }
        assert!(planted > 500, "{planted}");
        // JSONL files are valid JSON per line.
        for f in a.iter().filter(|f| f.name.ends_with(".jsonl")) {
            for line in std::str::from_utf8(&f.bytes).unwrap().lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
    }
}
