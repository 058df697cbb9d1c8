//! JSON: a streaming tokenizer (no tree is built, whatever the input size), string
//! decoding with an offset map, JSON Pointers, and the scan of JSON documents and
//! notebooks. JSON Lines ([`super::jsonl`]) shares the tokenizer.
//!
//! A document whose root is an array has one record per element: findings carry
//! the element index as `record` and a JSON Pointer relative to the element as
//! `field` (`/text`). Other roots (an object, a notebook) have `field` relative to
//! the root (`/cells/3/source/0`); a stream of concatenated values counts values.
//!
//! ```
//! use datasieve::format::json::{for_each_segment, Mode};
//! let doc = br#"[{"text": "hi\nthere"}]"#;
//! let mut fields = Vec::new();
//! for_each_segment(doc, Mode::Document, |s| {
//!     fields.push((s.record, s.field.clone().unwrap(), s.text.into_owned()));
//! });
//! assert_eq!(fields[0], (Some(0), "/text".to_string(), b"text".to_vec()));
//! assert_eq!(fields[1], (Some(0), "/text".to_string(), b"hi\nthere".to_vec()));
//! ```

use std::borrow::Cow;
use std::ops::Range;

use crate::engine::Match;
use crate::format::{FieldFilter, OffsetMap, Segment, ViewBuilder, MAX_DECODED_ESCAPES};
use crate::scan::{FormatOutput, Hit, ScanCtx};

/// Deepest nesting accepted; deeper input is reported as malformed.
pub const MAX_DEPTH: usize = 512;
/// Most view bytes gathered before a document is scanned (at a value boundary);
/// smaller when the scan's chunk size is smaller.
const DOC_BATCH: usize = 4 << 20;

/// A syntax error: where and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// Raw byte offset where the problem was seen.
    pub offset: usize,
    /// What was expected.
    pub message: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// What the tokenizer expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    Colon,
    AfterValue,
    Done,
}

/// One token. Spans are raw byte offsets; strings include their quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `{` or `[`.
    Open(u8),
    /// `}` or `]`.
    Close,
    /// An object key.
    Key { span: Range<usize>, escaped: bool },
    /// A string value.
    Str { span: Range<usize>, escaped: bool },
    /// A number, `true`, `false`, `null` (and the `NaN`/`Infinity` some writers emit).
    Scalar(Range<usize>),
}

/// A streaming, validating JSON tokenizer over `bytes[pos..end]` for one value.
#[derive(Debug, Clone)]
pub(crate) struct Tokenizer<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
    end: usize,
    stack: Vec<u8>,
    state: St,
    /// Offsets of the backslashes of the last string read (the first
    /// [`MAX_DECODED_ESCAPES`]: the rest of a string is scanned as written).
    pub(crate) escapes: Vec<usize>,
    /// Strings read so far that held more escapes than are decoded.
    pub(crate) capped_strings: u64,
}

/// The warning for `n` strings whose escapes were decoded only in part.
pub(crate) fn capped_warning(n: u64) -> String {
    format!(
        "{n} JSON string(s) with more than {MAX_DECODED_ESCAPES} escapes: the escapes past that are scanned as written, not decoded"
    )
}

fn err<T>(offset: usize, message: &'static str) -> Result<T, JsonError> {
    Err(JsonError { offset, message })
}

impl<'a> Tokenizer<'a> {
    pub(crate) fn new(b: &'a [u8], range: Range<usize>) -> Self {
        Tokenizer {
            b,
            pos: range.start,
            end: range.end.min(b.len()),
            stack: Vec::new(),
            state: St::Value,
            escapes: Vec::new(),
            capped_strings: 0,
        }
    }

    /// Starts over on `range` (keeps the allocation).
    pub(crate) fn reset(&mut self, range: Range<usize>) {
        self.pos = range.start;
        self.end = range.end.min(self.b.len());
        self.stack.clear();
        self.state = St::Value;
    }

    /// Expects another top-level value (a stream of values).
    pub(crate) fn next_value(&mut self) {
        self.stack.clear();
        self.state = St::Value;
    }

    /// Between two values (where a document can be cut into batches).
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self.state, St::AfterValue | St::Done)
    }

    /// Moves past whitespace; true when input remains.
    pub(crate) fn skip_ws(&mut self) -> bool {
        while self.pos < self.end && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        self.pos < self.end
    }

    fn peek(&mut self) -> Result<u8, JsonError> {
        if self.skip_ws() {
            Ok(self.b[self.pos])
        } else {
            err(self.pos, "unexpected end of input")
        }
    }

    fn after_value(&mut self) {
        self.state = if self.stack.is_empty() {
            St::Done
        } else {
            St::AfterValue
        };
    }

    fn close(&mut self) -> Tok {
        self.pos += 1;
        self.stack.pop();
        self.after_value();
        Tok::Close
    }

    /// The next token, `None` once a whole top-level value has been read.
    pub(crate) fn next(&mut self) -> Result<Option<Tok>, JsonError> {
        loop {
            match self.state {
                St::Done => return Ok(None),
                St::AfterValue => {
                    let c = self.peek()?;
                    let top = self.stack.last().copied().unwrap_or(b'[');
                    match c {
                        b',' => {
                            self.pos += 1;
                            self.state = if top == b'{' { St::Key } else { St::Value };
                        }
                        b'}' if top == b'{' => return Ok(Some(self.close())),
                        b']' if top == b'[' => return Ok(Some(self.close())),
                        _ => return err(self.pos, "expected ',' or a closing bracket"),
                    }
                }
                St::Colon => {
                    if self.peek()? != b':' {
                        return err(self.pos, "expected ':'");
                    }
                    self.pos += 1;
                    self.state = St::Value;
                }
                St::Key | St::KeyOrClose => {
                    let c = self.peek()?;
                    if c == b'}' && self.state == St::KeyOrClose {
                        return Ok(Some(self.close()));
                    }
                    if c != b'"' {
                        return err(self.pos, "expected a key");
                    }
                    let (span, escaped) = self.string()?;
                    self.state = St::Colon;
                    return Ok(Some(Tok::Key { span, escaped }));
                }
                St::Value | St::ValueOrClose => {
                    let c = self.peek()?;
                    if c == b']' && self.state == St::ValueOrClose {
                        return Ok(Some(self.close()));
                    }
                    return self.value(c).map(Some);
                }
            }
        }
    }

    fn value(&mut self, c: u8) -> Result<Tok, JsonError> {
        match c {
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return err(self.pos, "nesting too deep");
                }
                self.stack.push(c);
                self.pos += 1;
                self.state = if c == b'{' {
                    St::KeyOrClose
                } else {
                    St::ValueOrClose
                };
                Ok(Tok::Open(c))
            }
            b'"' => {
                let (span, escaped) = self.string()?;
                self.after_value();
                Ok(Tok::Str { span, escaped })
            }
            _ => {
                let span = self.scalar()?;
                self.after_value();
                Ok(Tok::Scalar(span))
            }
        }
    }

    fn scalar(&mut self) -> Result<Range<usize>, JsonError> {
        let start = self.pos;
        let rest = &self.b[start..self.end];
        for lit in [
            &b"true"[..],
            b"false",
            b"null",
            b"NaN",
            b"Infinity",
            b"-Infinity",
        ] {
            if rest.starts_with(lit) {
                let after = rest.get(lit.len()).copied().unwrap_or(b' ');
                if after.is_ascii_alphanumeric() {
                    return err(start, "invalid literal");
                }
                self.pos += lit.len();
                return Ok(start..self.pos);
            }
        }
        let n = rest
            .iter()
            .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        if n == 0 || !rest.iter().take(n).any(u8::is_ascii_digit) {
            return err(start, "expected a value");
        }
        self.pos += n;
        Ok(start..self.pos)
    }

    /// Reads a string starting at `pos` (a quote); returns its span and whether it
    /// holds escapes. Escapes are validated here so decoding cannot fail.
    fn string(&mut self) -> Result<(Range<usize>, bool), JsonError> {
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        let mut capped = false;
        self.escapes.clear();
        loop {
            let Some(k) = quote_or_backslash(&self.b[i.min(self.end)..self.end]) else {
                return err(start, "unterminated string");
            };
            let j = i + k;
            if self.b[j] == b'"' {
                self.pos = j + 1;
                return Ok((start..j + 1, escaped));
            }
            escaped = true;
            if self.escapes.len() < MAX_DECODED_ESCAPES {
                self.escapes.push(j);
            } else if !capped {
                capped = true;
                self.capped_strings += 1;
            }
            match self.b[..self.end].get(j + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i = j + 2,
                Some(b'u') => {
                    let hex = self.b[..self.end].get(j + 2..j + 6);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return err(j, "invalid \\u escape");
                    }
                    i = j + 6;
                }
                Some(_) => return err(j, "invalid escape"),
                None => return err(start, "unterminated string"),
            }
        }
    }
}

/// The first `"` or `\` in `hay`. The first 16 bytes are tested a word at a
/// time before `memchr2` is called: most strings of a record (its keys, short
/// values) end there, and `memchr2`'s set-up costs more than they do (callgrind,
/// 105 MB corpus: 1.1 M calls, ~70 instructions each).
#[inline(always)]
fn quote_or_backslash(hay: &[u8]) -> Option<usize> {
    use crate::swar;
    let mut at = 0;
    while at < 16 && at + 8 <= hay.len() {
        let w = swar::load(hay, at);
        let m = swar::equal(w, b'"') | swar::equal(w, b'\\');
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr2(b'"', b'\\', &hay[at..]).map(|k| at + k)
}

/// The span of a string token (key or value) too long to decode into a view
/// ([`crate::format::HUGE_VALUE`]).
fn too_long(t: &Tok) -> Option<Range<usize>> {
    match t {
        Tok::Str { span, .. } | Tok::Key { span, .. } if span.len() > crate::format::HUGE_VALUE => {
            Some(span.clone())
        }
        _ => None,
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    if h.len() != 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// The escape at `b[j]` (a backslash) within `..end`: raw length and decoded bytes.
/// Unknown escapes decode to themselves (length 0 means "not an escape").
fn escape_at(b: &[u8], j: usize, end: usize) -> (usize, [u8; 4], usize) {
    let one = |c: u8| (2, [c, 0, 0, 0], 1);
    match b[..end].get(j + 1) {
        Some(b'"') => one(b'"'),
        Some(b'\\') => one(b'\\'),
        Some(b'/') => one(b'/'),
        Some(b'b') => one(0x08),
        Some(b'f') => one(0x0c),
        Some(b'n') => one(b'\n'),
        Some(b'r') => one(b'\r'),
        Some(b't') => one(b'\t'),
        Some(b'u') => {
            let Some(cu) = b[..end].get(j + 2..j + 6).and_then(hex4) else {
                return (0, [0; 4], 0);
            };
            let (len, ch) = if (0xd800..0xdc00).contains(&cu) {
                let low = (b[..end].get(j + 6..j + 8) == Some(b"\\u"))
                    .then(|| b[..end].get(j + 8..j + 12).and_then(hex4))
                    .flatten()
                    .filter(|lo| (0xdc00..0xe000).contains(lo));
                match low {
                    Some(lo) => (
                        12,
                        char::from_u32(0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00)),
                    ),
                    None => (6, None),
                }
            } else {
                (6, char::from_u32(cu))
            };
            let ch = ch.unwrap_or('\u{fffd}');
            let mut buf = [0u8; 4];
            let n = ch.encode_utf8(&mut buf).len();
            (len, buf, n)
        }
        _ => (0, [0; 4], 0),
    }
}

/// Adds the decoded form of the escapes in raw string content `content` to `view`.
pub(crate) fn decode_into(b: &[u8], content: Range<usize>, view: &mut ViewBuilder<'_>) {
    let mut i = content.start;
    while let Some(k) = memchr::memchr(b'\\', &b[i..content.end]) {
        let j = i + k;
        let (len, bytes, n) = escape_at(b, j, content.end);
        if len == 0 {
            i = j + 1;
            continue;
        }
        view.replace(j..j + len, &bytes[..n]);
        i = j + len;
    }
}

/// Adds the decoded form of the escapes at `escapes` (backslash offsets found by
/// the tokenizer, so no second search is needed) to `view`.
pub(crate) fn decode_escapes(b: &[u8], escapes: &[usize], end: usize, view: &mut ViewBuilder<'_>) {
    for &j in escapes {
        let (len, bytes, n) = escape_at(b, j, end);
        if len > 0 {
            view.replace(j..j + len, &bytes[..n]);
        }
    }
}

/// Decodes raw JSON string content (between the quotes) that starts at raw offset
/// `base`; the map gives raw offsets. Invalid escapes are kept as written; lone
/// surrogates decode to U+FFFD.
pub fn decode_string(content: &[u8], base: usize) -> (Cow<'_, [u8]>, OffsetMap) {
    let mut view = ViewBuilder::new(content, 0);
    decode_into(content, 0..content.len(), &mut view);
    let (text, map) = view.finish(content.len());
    let map = match map {
        OffsetMap::Identity { base: b } => OffsetMap::Identity { base: b + base },
        OffsetMap::Runs(mut runs) => {
            for r in &mut runs {
                r.raw += base;
            }
            OffsetMap::Runs(runs)
        }
    };
    (text, map)
}

/// Decodes one JSON Pointer reference token (`~1` is `/`, `~0` is `~`).
pub fn unescape_pointer_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn push_pointer_token(out: &mut String, t: &str) {
    out.push('/');
    for c in t.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(c),
        }
    }
}

/// True when `head` starts with a JSON object or array that ends on the first line,
/// followed by more content: one value per line.
pub fn looks_like_lines(head: &[u8]) -> bool {
    let start = head
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(head.len());
    if !matches!(head.get(start), Some(b'{' | b'[')) {
        return false;
    }
    let Some(nl) = memchr::memchr(b'\n', &head[start..]).map(|i| start + i) else {
        return false;
    };
    let mut t = Tokenizer::new(head, start..nl);
    loop {
        match t.next() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    !t.skip_ws() && head[nl..].iter().any(|c| !c.is_ascii_whitespace())
}

/// One step of a path.
#[derive(Debug, Clone)]
enum Frame {
    Obj { key: Option<(Range<usize>, bool)> },
    Arr { index: usize, started: bool },
}

/// Follows tokens and knows the path of the current one.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathTracker {
    frames: Vec<Frame>,
}

impl PathTracker {
    fn reset(&mut self) {
        self.frames.clear();
    }

    fn enter_value(&mut self) {
        if let Some(Frame::Arr { index, started }) = self.frames.last_mut() {
            if *started {
                *index += 1;
            } else {
                *started = true;
            }
        }
    }

    /// Updates the path for `tok` (call before asking for the token's path).
    pub(crate) fn on(&mut self, tok: &Tok) {
        match tok {
            Tok::Open(c) => {
                self.enter_value();
                self.frames.push(if *c == b'{' {
                    Frame::Obj { key: None }
                } else {
                    Frame::Arr {
                        index: 0,
                        started: false,
                    }
                });
            }
            Tok::Close => {
                self.frames.pop();
            }
            Tok::Key { span, escaped } => {
                if let Some(Frame::Obj { key }) = self.frames.last_mut() {
                    *key = Some((span.clone(), *escaped));
                }
            }
            Tok::Str { .. } | Tok::Scalar(_) => self.enter_value(),
        }
    }

    /// Index of the current element of the root array, if the root is an array.
    fn root_index(&self) -> Option<usize> {
        match self.frames.first() {
            Some(Frame::Arr { index, started }) => started.then_some(*index),
            _ => None,
        }
    }

    fn step(b: &[u8], f: &Frame) -> Option<String> {
        match f {
            Frame::Obj {
                key: Some((span, escaped)),
            } => {
                let content = &b[span.start + 1..span.end - 1];
                Some(if *escaped {
                    String::from_utf8_lossy(&decode_string(content, 0).0).into_owned()
                } else {
                    String::from_utf8_lossy(content).into_owned()
                })
            }
            Frame::Obj { key: None } => None,
            Frame::Arr { index, .. } => Some(index.to_string()),
        }
    }

    /// Path steps below the first `skip` frames.
    fn steps(&self, b: &[u8], skip: usize) -> Vec<String> {
        self.frames
            .iter()
            .skip(skip)
            .filter_map(|f| Self::step(b, f))
            .collect()
    }

    /// JSON Pointer of the current token below the first `skip` frames.
    fn pointer(&self, b: &[u8], skip: usize) -> String {
        let mut out = String::new();
        for f in self.frames.iter().skip(skip) {
            if let Some(s) = Self::step(b, f) {
                push_pointer_token(&mut out, &s);
            }
        }
        out
    }

    /// True when a key on the path names binary notebook content (`image/png`, ...).
    fn under_binary_mime(&self, b: &[u8]) -> bool {
        self.frames.iter().any(|f| match f {
            Frame::Obj {
                key: Some((span, _)),
            } => is_binary_mime(&b[span.start + 1..span.end - 1]),
            _ => false,
        })
    }
}

/// MIME types of notebook outputs and attachments that hold encoded binary data.
fn is_binary_mime(key: &[u8]) -> bool {
    [
        "image/",
        "audio/",
        "video/",
        "application/pdf",
        "application/octet-stream",
    ]
    .iter()
    .any(|p| key.starts_with(p.as_bytes()))
}

/// How JSON is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One value per line (JSON Lines); a record is a line.
    Lines,
    /// A document or a stream of values; a record is an element of a root array.
    Document,
    /// A Jupyter notebook: a document whose binary outputs are skipped.
    Notebook,
}

/// The record and path context of a token, and its raw content span (inside the
/// quotes for strings).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loc {
    pub(crate) record: Option<u64>,
    pub(crate) pointer: String,
    pub(crate) content: Range<usize>,
}

/// A tokenizer plus path: walks one value (Lines) or a stream (Document).
#[derive(Debug, Clone)]
pub(crate) struct Walker<'a> {
    pub(crate) tok: Tokenizer<'a>,
    pub(crate) path: PathTracker,
    mode: Mode,
    /// Index of the current top-level value.
    top: u64,
    /// The current top-level value is an array (its elements are records).
    root_array: bool,
}

/// What a walk step gives.
#[derive(Debug)]
pub(crate) enum Step {
    Token(Tok),
    /// The input (or line) is over.
    End,
    Error(JsonError),
}

impl<'a> Walker<'a> {
    pub(crate) fn new(b: &'a [u8], range: Range<usize>, mode: Mode) -> Self {
        Walker {
            tok: Tokenizer::new(b, range),
            path: PathTracker::default(),
            mode,
            top: 0,
            root_array: false,
        }
    }

    /// Starts over on a new line.
    pub(crate) fn reset(&mut self, range: Range<usize>) {
        self.tok.reset(range);
        self.path.reset();
        self.top = 0;
        self.root_array = false;
    }

    pub(crate) fn step(&mut self) -> Step {
        loop {
            let at_start = self.tok.state == St::Value && self.tok.stack.is_empty();
            match self.tok.next() {
                Ok(Some(t)) => {
                    if at_start {
                        self.root_array = t == Tok::Open(b'[');
                    }
                    self.path.on(&t);
                    return Step::Token(t);
                }
                Ok(None) => {
                    if !self.tok.skip_ws() {
                        return Step::End;
                    }
                    if self.mode == Mode::Lines {
                        return Step::Error(JsonError {
                            offset: self.tok.pos,
                            message: "unexpected data after the JSON value",
                        });
                    }
                    self.tok.next_value();
                    self.path.reset();
                    self.top += 1;
                }
                Err(e) => return Step::Error(e),
            }
        }
    }

    /// Record and path of the token just stepped over (`record_base` is the line
    /// index in Lines mode).
    pub(crate) fn loc(&self, tok: &Tok, record_base: u64) -> Option<Loc> {
        let (span, is_string) = match tok {
            Tok::Key { span, .. } | Tok::Str { span, .. } => (span.clone(), true),
            Tok::Scalar(span) => (span.clone(), false),
            _ => return None,
        };
        let b = self.tok.b;
        let content = if is_string {
            span.start + 1..span.end - 1
        } else {
            span
        };
        let (record, skip) = match self.mode {
            Mode::Lines => (Some(record_base), 0),
            Mode::Notebook => (None, 0),
            Mode::Document => match (self.root_array, self.path.root_index()) {
                (true, Some(i)) => (Some(i as u64), 1),
                _ => (Some(self.top), 0),
            },
        };
        Some(Loc {
            record,
            pointer: self.path.pointer(b, skip),
            content,
        })
    }

    /// True when the current string (`tok`) is left out of the scan.
    fn skips(&self, fields: Option<&FieldFilter>) -> bool {
        let b = self.tok.b;
        if self.mode == Mode::Notebook && self.path.under_binary_mime(b) {
            return true;
        }
        match fields {
            Some(f) => {
                let skip = usize::from(self.mode == Mode::Document && self.root_array);
                !f.selects_path(&self.path.steps(b, skip))
            }
            None => false,
        }
    }

    /// True when `tok`, the current token, is a string value left out of the scan
    /// (`--fields`, a notebook's binary outputs).
    pub(crate) fn left_out(&self, tok: &Tok, fields: Option<&FieldFilter>) -> bool {
        matches!(tok, Tok::Str { .. })
            && (fields.is_some() || self.mode == Mode::Notebook)
            && self.skips(fields)
    }

    /// Handles a string token for the view: decodes escapes, or skips it.
    pub(crate) fn feed_view(
        &self,
        tok: &Tok,
        view: &mut ViewBuilder<'a>,
        fields: Option<&FieldFilter>,
    ) {
        match tok {
            Tok::Str { span, escaped } => {
                let content = span.start + 1..span.end - 1;
                if self.left_out(tok, fields) {
                    view.skip(content);
                } else if *escaped {
                    decode_escapes(self.tok.b, &self.tok.escapes, content.end, view);
                }
            }
            Tok::Key {
                span,
                escaped: true,
            } => decode_escapes(self.tok.b, &self.tok.escapes, span.end - 1, view),
            _ => {}
        }
    }

    /// Whether a finding at `loc` is kept under the field filter.
    pub(crate) fn selected(&self, fields: Option<&FieldFilter>) -> bool {
        match fields {
            None => true,
            Some(_) => !self.skips(fields),
        }
    }
}

/// Calls `f` with every string (keys too) and scalar of `bytes` as a [`Segment`]:
/// decoded text, map to raw offsets, raw literal span, record and JSON Pointer.
/// Malformed input ends the walk of that line (Lines) or of the document.
pub fn for_each_segment<'a>(bytes: &'a [u8], mode: Mode, mut f: impl FnMut(Segment<'a>)) {
    let mut emit = |w: &Walker<'a>, tok: &Tok, record: u64| {
        let Some(loc) = w.loc(tok, record) else {
            return;
        };
        let (raw, text, map) = match tok {
            Tok::Key { span, .. } | Tok::Str { span, .. } => {
                let (text, map) = decode_string(&bytes[loc.content.clone()], loc.content.start);
                (span.clone(), text, map)
            }
            _ => (
                loc.content.clone(),
                Cow::Borrowed(&bytes[loc.content.clone()]),
                OffsetMap::Identity {
                    base: loc.content.start,
                },
            ),
        };
        f(Segment {
            text,
            map,
            raw,
            record: loc.record,
            field: Some(loc.pointer),
        });
    };
    match mode {
        Mode::Lines => {
            let mut w = Walker::new(bytes, 0..0, Mode::Lines);
            for (i, line) in lines(bytes, 0..bytes.len()).enumerate() {
                w.reset(line);
                while let Step::Token(t) = w.step() {
                    emit(&w, &t, i as u64);
                }
            }
        }
        _ => {
            let mut w = Walker::new(bytes, 0..bytes.len(), mode);
            while let Step::Token(t) = w.step() {
                emit(&w, &t, 0);
            }
        }
    }
}

/// Line ranges (without the newline and a `\r` before it) in `range` of `b`.
pub(crate) fn lines(b: &[u8], range: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut pos = range.start;
    let end = range.end;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let nl = memchr::memchr(b'\n', &b[pos..end]).map_or(end, |i| pos + i);
        let mut stop = nl;
        if stop > pos && b[stop - 1] == b'\r' {
            stop -= 1;
        }
        let line = pos..stop;
        pos = nl + 1;
        Some(line)
    })
}

/// Turns a match in a view into a hit located at `loc` (clipped to the token).
pub(crate) fn hit_at(
    view: &[u8],
    map: &OffsetMap,
    m: Match,
    loc: Option<Loc>,
    fallback_record: Option<u64>,
) -> Hit {
    let mut raw = map.raw_span(m.start..m.end);
    let mut dec = m.start..m.end;
    let (record, field) = match loc {
        Some(loc) => {
            let s = raw.start.max(loc.content.start);
            let e = raw.end.min(loc.content.end);
            if s < e && (s, e) != (raw.start, raw.end) {
                let d = map.decoded_span(s..e);
                if !d.is_empty() {
                    raw = s..e;
                    dec = d;
                }
            }
            (loc.record, Some(loc.pointer))
        }
        None => (fallback_record, None),
    };
    Hit {
        value: view[dec.clone()].to_vec(),
        m: Match {
            start: raw.start,
            end: raw.end,
            ..m
        },
        record,
        field,
        row_group: None,
        line_col: None,
    }
}

/// Scans a JSON document (or stream of values, or notebook) in batches at value
/// boundaries, so memory stays bounded by the batch size, not the file, handing
/// the hits of each batch to `on_hits` as it is scanned (batches in document
/// order; the output's `hits` stay empty).
pub(crate) fn scan_document_each(
    bytes: &[u8],
    ctx: &ScanCtx<'_>,
    mode: Mode,
    on_hits: &mut dyn FnMut(Vec<Hit>),
) -> FormatOutput {
    let mut out = FormatOutput::default();
    let mut w = Walker::new(bytes, 0..bytes.len(), mode);
    if !w.tok.skip_ws() {
        return out;
    }
    // Lines of the strings too long to decode, counted once across them.
    let mut long_lines = crate::scan::LineCounter::new(bytes);
    loop {
        let saved = w.clone();
        let batch_start = w.tok.pos;
        let batch = ctx.chunk_size.clamp(1, DOC_BATCH);
        let mut view = ViewBuilder::with_hint(bytes, batch_start, batch + (64 << 10));
        let mut failed = None;
        let mut ended = false;
        // A string too long to decode: the batch ends before it.
        let mut huge = None;
        loop {
            let before = w.tok.pos;
            let capped = w.tok.capped_strings;
            match w.step() {
                Step::Token(t) => match too_long(&t).filter(|_| !w.left_out(&t, ctx.fields)) {
                    Some(span) => {
                        // (none of its escapes is decoded: its own warning says so)
                        w.tok.capped_strings = capped;
                        huge = Some(span);
                        break;
                    }
                    None => w.feed_view(&t, &mut view, ctx.fields),
                },
                Step::End => {
                    ended = true;
                    break;
                }
                Step::Error(e) => {
                    failed = Some((before, e));
                    break;
                }
            }
            if w.tok.at_boundary() && view.len(w.tok.pos) >= batch {
                break;
            }
        }
        let batch_end = match (&failed, &huge) {
            (Some((before, _)), _) => *before,
            (None, Some(span)) => span.start,
            (None, None) if ended => bytes.len(),
            (None, None) => w.tok.pos,
        };
        let (text, map) = view.finish(batch_end);
        let matches = ctx.scan(&text, &mut out.stats);
        let mut hits = Vec::new();
        // (a long string is found again by the walker from the batch's start)
        let huge = huge.map(|span| (span, saved.clone()));
        attribute(&text, &map, matches, saved, ctx, &mut hits);
        crate::format::recycle_view(text);
        if !hits.is_empty() {
            on_hits(hits);
        }
        if let Some((span, saved)) = huge {
            // Its content as written.
            let content = span.start + 1..span.end - 1;
            let (line, col) = long_lines.locate(span.start);
            out.warnings.push(format!(
                "a string of {} MiB at line {line} column {col} is scanned as written (its escapes not decoded)",
                content.len() >> 20
            ));
            let text = &bytes[content.clone()];
            let map = OffsetMap::Identity {
                base: content.start,
            };
            let matches = ctx.scan_text(text, &mut out.stats);
            let mut hits = Vec::new();
            attribute(text, &map, matches, saved, ctx, &mut hits);
            if !hits.is_empty() {
                on_hits(hits);
            }
            continue;
        }
        if let Some((before, e)) = failed {
            let (line, col) = crate::scan::LineCounter::new(bytes).locate(e.offset);
            out.warnings.push(format!(
                "malformed JSON at line {line} column {col}: {}; the rest of the file is scanned as plain text",
                e.message
            ));
            let rest = &bytes[before..];
            let map = OffsetMap::Identity { base: before };
            let hits: Vec<Hit> = ctx
                .scan_text(rest, &mut out.stats)
                .into_iter()
                .map(|m| hit_at(rest, &map, m, None, None))
                .collect();
            if !hits.is_empty() {
                on_hits(hits);
            }
            break;
        }
        if ended {
            break;
        }
    }
    if w.tok.capped_strings > 0 {
        out.warnings.push(capped_warning(w.tok.capped_strings));
    }
    out
}

/// Finds the token of each match by walking the batch again from its start.
fn attribute(
    view: &[u8],
    map: &OffsetMap,
    matches: Vec<Match>,
    mut w: Walker<'_>,
    ctx: &ScanCtx<'_>,
    hits: &mut Vec<Hit>,
) {
    let mut cursor = TokenCursor::default();
    for m in matches {
        let raw_start = map.raw_span(m.start..m.end).start;
        let (loc, selected) = cursor.locate(&mut w, raw_start, 0, ctx.fields);
        if !selected {
            continue;
        }
        hits.push(hit_at(view, map, m, loc, None));
    }
}

/// A token's location, and whether the field filter keeps it.
type Located = (Option<Loc>, bool);

/// Walks a walker's tokens forward to the one holding a raw offset, for the
/// matches of a scanned view in order. A token's location and selection are
/// computed only when a match lies in it: most tokens hold none, and a location
/// builds its JSON Pointer.
#[derive(Default)]
pub(crate) struct TokenCursor {
    /// The last token stepped over, and once asked, its location and selection.
    current: Option<(Tok, Option<Located>)>,
    /// The walk is over.
    done: bool,
}

impl TokenCursor {
    /// Starts over, for a walker reset to a new line.
    pub(crate) fn reset(&mut self) {
        *self = TokenCursor::default();
    }

    /// The location and selection of the token holding `raw` (asked in increasing
    /// order); between tokens, no location, kept unless fields are filtered.
    pub(crate) fn locate(
        &mut self,
        w: &mut Walker<'_>,
        raw: usize,
        record: u64,
        fields: Option<&FieldFilter>,
    ) -> Located {
        while !self.done {
            if let Some((t, _)) = &self.current {
                if tok_span(t).end > raw {
                    break;
                }
            }
            match w.step() {
                Step::Token(t) => self.current = Some((t, None)),
                _ => {
                    self.done = true;
                    self.current = None;
                }
            }
        }
        match &mut self.current {
            Some((t, located)) if tok_span(t).start <= raw && raw < tok_span(t).end => located
                // (the walker still stands on `t`)
                .get_or_insert_with(|| (w.loc(t, record), w.selected(fields)))
                .clone(),
            _ => (None, fields.is_none()),
        }
    }
}

pub(crate) fn tok_span(t: &Tok) -> Range<usize> {
    match t {
        Tok::Key { span, .. } | Tok::Str { span, .. } | Tok::Scalar(span) => span.clone(),
        Tok::Open(_) | Tok::Close => 0..0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens(s: &[u8]) -> Result<Vec<Tok>, JsonError> {
        let mut t = Tokenizer::new(s, 0..s.len());
        let mut out = Vec::new();
        while let Some(x) = t.next()? {
            out.push(x);
        }
        Ok(out)
    }

    #[test]
    fn tokenizes_and_validates() {
        let toks = tokens(br#"{"a": [1, "x\n", true, null], "b": {}}"#).unwrap();
        assert_eq!(toks.len(), 12);
        assert!(matches!(toks[4], Tok::Str { escaped: true, .. }));
        for bad in [
            &b"{"[..],
            b"{\"a\" 1}",
            b"[1,]x",
            b"\"abc",
            b"\"a\\qb\"",
            b"\"\\u12\"",
            b"{1: 2}",
            b"[1 2]",
            b"tru",
            b"]",
        ] {
            assert!(tokens(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            tokens(deep.as_bytes()).unwrap_err().message,
            "nesting too deep"
        );
        assert!(tokens(b"[NaN, -Infinity, 1e5]").is_ok());
    }

    #[test]
    fn decodes_escapes_with_exact_map() {
        let raw = br#"a\"b\\c\/d\u00e9\ud83d\ude00\n"#;
        let (text, map) = decode_string(raw, 100);
        assert_eq!(&*text, "a\"b\\c/d\u{e9}\u{1f600}\n".as_bytes());
        // the emoji: 4 decoded bytes from 12 raw bytes
        let at = text.len() - 5;
        assert_eq!(map.raw_span(at..at + 4), 100 + 16..100 + 28);
        assert_eq!(map.raw_span(at + 1..at + 2), 100 + 16..100 + 28);
        assert_eq!(map.raw_span(0..1), 100..101);
        let (lone, _) = decode_string(br"x\ud800y", 0);
        assert_eq!(&*lone, "x\u{fffd}y".as_bytes());
    }

    #[test]
    fn pointers_and_records() {
        let doc = br#"[{"a~b": {"c/d": ["x", "y"]}}, {"k": "z"}]"#;
        let mut got = Vec::new();
        for_each_segment(doc, Mode::Document, |s| {
            if s.text.len() == 1 {
                got.push((s.record, s.field.unwrap(), s.text.into_owned()));
            }
        });
        assert_eq!(
            got,
            vec![
                (Some(0), "/a~0b/c~1d/0".to_string(), b"x".to_vec()),
                (Some(0), "/a~0b/c~1d/1".to_string(), b"y".to_vec()),
                (Some(1), "/k".to_string(), b"k".to_vec()),
                (Some(1), "/k".to_string(), b"z".to_vec()),
            ]
        );
    }

    fn doc_findings(doc: &[u8], chunk_size: usize) -> Vec<(Option<u64>, Option<String>, u64, u64)> {
        let mut set = crate::RuleSet::builtin().unwrap();
        set.add_str(
            "t.toml",
            "[[rule]]\nid = \"t.token\"\nname = \"t\"\ncategory = \"credential\"\nseverity = \"high\"\nkeywords = [\"tok_\"]\nregex = '(?P<value>tok_[a-z0-9]{8})\\b'\n",
        )
        .unwrap();
        let scanner = crate::Scanner::new(&set).unwrap();
        let opts = crate::ScanOptions {
            chunk_size,
            ..Default::default()
        };
        let (out, _) = crate::scan::scan_bytes_as(
            "d.json".into(),
            doc,
            crate::format::Format::Json,
            &scanner,
            &opts,
        );
        out[0]
            .findings
            .iter()
            .map(|f| (f.record, f.field.clone(), f.start, f.end))
            .collect()
    }

    #[test]
    fn a_string_with_more_escapes_than_are_decoded_is_scanned_as_written_past_them() {
        // MAX_DECODED_ESCAPES is 64 in tests: tokens before and after the 64th
        // escape of one string are found at their raw offsets, with one warning.
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("w{i}\\n"));
            if i % 50 == 7 {
                text.push_str(&format!(" tok_abcd{i:04} "));
            }
        }
        let doc = format!("{{\"a\": \"{text}\", \"b\": \"x\\ty tok_zzzz0001\"}}");
        let found = doc_findings(doc.as_bytes(), 1 << 20);
        let want: Vec<u64> = doc.match_indices("tok_").map(|(at, _)| at as u64).collect();
        assert_eq!(want.len(), 5);
        assert_eq!(found.iter().map(|f| f.2).collect::<Vec<_>>(), want);
        for f in &found {
            assert_eq!(&doc[f.2 as usize..f.3 as usize].len(), &12);
        }
        assert_eq!(found[4].1.as_deref(), Some("/b"));
        let out = crate::format::tok_outcomes(doc.as_bytes(), crate::format::Format::Json);
        assert_eq!(out[0].warnings, [capped_warning(1)]);
    }

    #[test]
    fn a_string_longer_than_a_view_holds_is_scanned_as_written() {
        // HUGE_VALUE is 4 KiB in tests: the tokens of a longer string (a value, a
        // key) are found at their raw offsets with its pointer, as are those of
        // the strings around it, in batches of any size; one warning each, and
        // none for the escapes past the decoded ones (the string decodes none).
        let long = crate::format::past_huge_value(
            "tok_aaaa0001 ",
            "w \\n \\\"q\\\" \\u00e9 ",
            " tok_bbbb0002",
        );
        let doc = format!(
            "{{\"a\": \"x\\ny tok_cccc0003\", \"long\": \"{long}\", \"c\": [\"tok_dddd0004\"], \"{long}\": 1, \"d\": \"tok_eeee0005\"}}"
        );
        let found = doc_findings(doc.as_bytes(), 1 << 20);
        let want: Vec<u64> = doc.match_indices("tok_").map(|(at, _)| at as u64).collect();
        assert_eq!(want.len(), 7);
        assert_eq!(found.iter().map(|f| f.2).collect::<Vec<_>>(), want);
        let fields: Vec<Option<&str>> = found.iter().map(|f| f.1.as_deref()).collect();
        assert_eq!(
            fields[..4],
            [Some("/a"), Some("/long"), Some("/long"), Some("/c/0")]
        );
        assert_eq!(fields[6], Some("/d"));
        assert_eq!(found, doc_findings(doc.as_bytes(), 64));
        let out = crate::format::tok_outcomes(doc.as_bytes(), crate::format::Format::Json);
        // (1-based columns of their opening quotes)
        let warned = |column| {
            format!("a string of 0 MiB at line 1 column {column} is scanned as written (its escapes not decoded)")
        };
        assert_eq!(
            out[0].warnings,
            [
                warned(doc.find(&long).unwrap()),
                warned(doc.rfind(&long).unwrap())
            ]
        );
    }

    #[test]
    fn a_long_string_left_out_of_the_scan_stays_out() {
        // A notebook's binary output and a field outside `--fields` are not
        // scanned, however long; a long source string is, as written.
        let long = |tok: &str| format!("{} {tok} {}", "A".repeat(3000), "B".repeat(3000));
        let nb = format!(
            "{{\"cells\": [{{\"cell_type\": \"code\", \"source\": [\"{}\"], \"outputs\": [{{\"data\": {{\"image/png\": \"{}\"}}}}]}}]}}",
            long("tok_abcdefgh00000001"),
            long("tok_abcdefgh00000002")
        );
        let scanner = crate::engine::scanner_with(crate::engine::TOK_RULE);
        let scan = |doc: &str, format, fields: Option<&str>| {
            let opts = crate::ScanOptions {
                fields: fields.and_then(crate::format::FieldFilter::parse),
                ..Default::default()
            };
            let (out, _) =
                crate::scan::scan_bytes_as("d".into(), doc.as_bytes(), format, &scanner, &opts);
            let found: Vec<usize> = out[0].findings.iter().map(|f| f.start as usize).collect();
            (found, out[0].warnings.len())
        };
        let at = |doc: &str, tok| doc.find(tok).unwrap();
        let ipynb = crate::format::Format::Ipynb;
        assert_eq!(
            scan(&nb, ipynb, None),
            (vec![at(&nb, "tok_abcdefgh00000001")], 1)
        );
        let doc = format!(
            "{{\"a\": \"{}\", \"b\": \"{}\"}}",
            long("tok_abcdefgh00000003"),
            long("tok_abcdefgh00000004")
        );
        let json = crate::format::Format::Json;
        assert_eq!(
            scan(&doc, json, Some("b")),
            (vec![at(&doc, "tok_abcdefgh00000004")], 1)
        );
        assert_eq!(scan(&doc, json, None).0.len(), 2);
    }

    #[test]
    fn matches_in_a_document_get_the_pointer_of_their_string() {
        let doc = br#"[{"a": "tok_aaaa1111 tok_bbbb2222", "n": 1, "b": {"c": ["tok_cccc3333"]}}, {"d": "tok_dddd4444"}]"#;
        crate::format::assert_located(
            doc,
            &doc_findings(doc, 1 << 20),
            &[
                (0, "/a", "tok_aaaa1111"),
                (0, "/a", "tok_bbbb2222"),
                (0, "/b/c/0", "tok_cccc3333"),
                (1, "/d", "tok_dddd4444"),
            ],
        );
    }

    #[test]
    fn documents_scanned_in_small_batches_equal_one_batch() {
        let mut doc = String::from("[");
        for i in 0..300 {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!(
                "{{\"n\": {i}, \"t\": [\"x\\ny\", {{\"deep\": \"a tok_abcd{i:04} \\\"q\\\"\"}}]}}\n"
            ));
        }
        doc.push(']');
        let whole = doc_findings(doc.as_bytes(), 8 << 20);
        let small = doc_findings(doc.as_bytes(), 100);
        assert_eq!(whole.len(), 300);
        assert_eq!(whole, small);
        assert_eq!(whole[299].0, Some(299));
        assert_eq!(whole[299].1.as_deref(), Some("/t/1/deep"));
        let (s, e) = (whole[7].2 as usize, whole[7].3 as usize);
        assert_eq!(&doc[s..e], "tok_abcd0007");
    }

    #[test]
    fn malformed_documents_warn_and_scan_the_rest_as_text() {
        let doc = b"[{\"a\": \"tok_aaaa1111\"}, {\"b\": tok_bbbb2222}, \"tok_cccc3333\"]";
        let f = doc_findings(doc, 8 << 20);
        assert_eq!(
            f,
            vec![
                (Some(0), Some("/a".to_string()), 8, 20),
                (None, None, 30, 42),
                (None, None, 46, 58),
            ]
        );
    }

    #[test]
    fn sniffs_json_lines() {
        assert!(looks_like_lines(b"{\"a\":1}\n{\"a\":2}"));
        assert!(!looks_like_lines(b"{\"a\":1}\n"));
        assert!(!looks_like_lines(b"[1,\n2]"));
        assert!(!looks_like_lines(b"hello\nworld"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x2545f4914f6cdd1du64;
        for n in 0..3000 {
            let len = (n % 64) + 1;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    {
                        let a = b"{}[]\":,\\u0aZ \n-1eE.tfn";
                        a[(seed % a.len() as u64) as usize]
                    }
                })
                .collect();
            let _ = tokens(&buf);
            let _ = looks_like_lines(&buf);
            let _ = decode_string(&buf, 0);
            for mode in [Mode::Lines, Mode::Document, Mode::Notebook] {
                for_each_segment(&buf, mode, |s| {
                    let _ = s.map.raw_span(0..s.text.len());
                });
            }
        }
    }

    proptest! {
        #[test]
        fn quote_or_backslash_finds_the_first_like_memchr(
            hay in proptest::collection::vec(
                prop_oneof![
                    1 => Just(b'"'),
                    1 => Just(b'\\'),
                    2 => Just(0xA2u8),
                    2 => Just(0xDCu8),
                    2 => Just(0x21u8),
                    2 => Just(0x5Bu8),
                    20 => any::<u8>(),
                ],
                0..40,
            ),
            from in 0usize..40,
        ) {
            // (bytes next to the two, and with bit 7 set, where a word's borrow or
            // mask could go wrong)
            let hay = &hay[from.min(hay.len())..];
            prop_assert_eq!(quote_or_backslash(hay), memchr::memchr2(b'"', b'\\', hay));
        }

        #[test]
        fn decoded_spans_map_to_raw_that_decodes_to_them(
            s in "\\PC{0,24}|[\"\\\\/\\x00-\\x1f\u{e9}\u{1f600}a-c]{0,24}",
            a in 0usize..100,
            b in 0usize..100,
        ) {
            let encoded = serde_json::to_string(&s).unwrap();
            // Also force \u escapes for non-ASCII, as ensure_ascii writers do.
            let ascii: String = encoded
                .chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        let mut buf = [0u16; 2];
                        c.encode_utf16(&mut buf).iter().map(|u| format!("\\u{u:04x}")).collect()
                    }
                })
                .collect();
            let snap = |mut i: usize| {
                i = i.min(s.len());
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let (lo, hi) = (snap(a.min(b)), snap(a.max(b)));
            for enc in [encoded, ascii] {
                let content = &enc.as_bytes()[1..enc.len() - 1];
                let (text, map) = decode_string(content, 1);
                prop_assert_eq!(&*text, s.as_bytes());
                let raw = map.raw_span(lo..hi);
                let mut piece = b"\"".to_vec();
                piece.extend_from_slice(&enc.as_bytes()[raw.clone()]);
                piece.push(b'"');
                let back: String = serde_json::from_slice(&piece).unwrap();
                prop_assert_eq!(back.as_bytes(), &text[lo..hi]);
                prop_assert_eq!(map.decoded_span(raw), lo..hi);
            }
        }
    }
}
