//! JSON (RFC 8259) read and written by hand, std only: [`parse`] for OCI image indexes,
//! manifests, image configs and runtime `config.json` files, [`Value`]'s display and
//! [`Value::to_pretty`] to print, [`escape_into`] for writers that build JSON by hand.
//!
//! The parser is strict: no comments, trailing commas, leading zeros, lone surrogates,
//! raw control characters in strings, non-finite numbers or duplicate object keys (a
//! document that means two things to two readers is refused, not guessed). It keeps an
//! explicit stack instead of recursing and refuses nesting deeper than [`MAX_DEPTH`].
//! Integers in `i64::MIN..=u64::MAX` are kept exactly; other numbers are `f64`. What it
//! accepts prints back to text that parses to an equal value.

use std::fmt;

/// Deepest nesting of arrays and objects [`parse`] accepts.
pub const MAX_DEPTH: usize = 128;

/// A JSON value. Objects keep their members in document order; a parsed object never
/// holds a key twice, so [`Value::get`] is unambiguous.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string, unescaped.
    String(String),
    /// `[...]`: the items in order.
    Array(Vec<Value>),
    /// `{...}`: the members in order.
    Object(Vec<(String, Value)>),
}

/// A JSON number: exact for integers in `i64::MIN..=u64::MAX`, a finite `f64` otherwise.
/// `5` and `-0` are integers; `5.0` and `5e0` are floats (and not equal to `5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(N);

/// The representation; a non-negative integer is always `Uint`, so `==` is the
/// derived one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum N {
    Uint(u64),
    Neg(i64),
    Float(f64),
}

impl Number {
    /// A float; `None` for NaN and the infinities, which JSON cannot write.
    pub fn from_f64(f: f64) -> Option<Number> {
        f.is_finite().then_some(Number(N::Float(f)))
    }

    /// The value if it is an integer in `0..=u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::Uint(n) => Some(n),
            _ => None,
        }
    }

    /// The value if it is an integer in `i64::MIN..=i64::MAX`.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::Uint(n) => i64::try_from(n).ok(),
            N::Neg(n) => Some(n),
            N::Float(_) => None,
        }
    }

    /// The value as an `f64` (rounded for integers beyond 2^53).
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::Uint(n) => n as f64,
            N::Neg(n) => n as f64,
            N::Float(f) => f,
        }
    }
}

impl fmt::Display for Number {
    /// Integers as written; floats in Rust's shortest round-trip form, which always has
    /// a `.` or an exponent (`1.0`, `1e300`), so they parse back as floats.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            N::Uint(n) => write!(f, "{n}"),
            N::Neg(n) => write!(f, "{n}"),
            N::Float(x) => write!(f, "{x:?}"),
        }
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(Number(N::Uint(n)))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number(match u64::try_from(n) {
            Ok(n) => N::Uint(n),
            Err(_) => N::Neg(n),
        }))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl Value {
    /// The JSON type's name, for errors: "null", "boolean", "number", "string", "array"
    /// or "object".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The member `key` of an object (the first, should a built object hold it twice);
    /// `None` if absent or if this is not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an integer in `0..=u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number, if this is an integer in `i64::MIN..=i64::MAX`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// Any number as an `f64` (rounded for integers beyond 2^53).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in order, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The error for this value found at `path` where a value of kind `expected` (see
    /// [`Value::kind`]) belongs: `v.as_str().ok_or_else(|| v.wrong_type("process.cwd",
    /// "string"))?`.
    pub fn wrong_type(&self, path: impl Into<String>, expected: &'static str) -> WrongType {
        WrongType {
            path: path.into(),
            expected,
            found: self.kind(),
        }
    }

    /// The value printed with a 2-space indent, one item or member a line, `"key": value`
    /// (no final newline). [`Value`]'s display is the compact form.
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        let _ = write_value(&mut out, self, true, 0); // a String never refuses a write
        out
    }
}

impl fmt::Display for Value {
    /// The compact form: no whitespace at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(f, self, false, 0)
    }
}

/// A value of the wrong JSON type in a document being read into a typed structure:
/// `process.args: expected array, found string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// Where the value is, in the reader's notation (`process.args[2]`).
    pub path: String,
    /// The kind the reader wanted (see [`Value::kind`]).
    pub expected: &'static str,
    /// The kind the document has.
    pub found: &'static str,
}

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

impl std::error::Error for WrongType {}

/// A parse error: where (byte offset, 1-based line and column in characters) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Bytes before the error.
    pub offset: usize,
    /// 1-based line (lines end at `\n`).
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
    /// What is wrong: "expected ',' or '}'".
    pub msg: String,
}

impl Error {
    fn at(bytes: &[u8], offset: usize, msg: String) -> Error {
        let before = &bytes[..offset.min(bytes.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Error {
            offset,
            line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
            // Characters, not bytes: UTF-8 continuation bytes do not count.
            column: 1 + before[line_start..]
                .iter()
                .filter(|&&b| b & 0xC0 != 0x80)
                .count(),
            msg,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}: {}", self.line, self.column, self.msg)
    }
}

impl std::error::Error for Error {}

/// Parses bytes that must be UTF-8 (an error at the first bad byte otherwise).
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => Err(Error::at(bytes, e.valid_up_to(), "invalid UTF-8".into())),
    }
}

/// Parses one JSON value, with only whitespace around it.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    parser.document()
}

/// Appends `s` as a JSON string literal, quotes included: `"`, `\` and the control
/// characters are escaped (`\n`, `\r`, `\t`, else `\u00xx`), everything else is copied.
pub fn escape_into(out: &mut String, s: &str) {
    let _ = write_escaped(out, s); // a String never refuses a write
}

fn write_escaped<W: fmt::Write>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // `run` and `i` sit next to ASCII bytes, so both are char boundaries.
        out.write_str(&s[run..i])?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        run = i + 1;
    }
    out.write_str(&s[run..])?;
    out.write_char('"')
}

/// Writes `v` compactly, or with `depth`-level indents when `pretty`. Recursion is
/// bounded by the value's own depth ([`MAX_DEPTH`] for parsed values).
fn write_value<W: fmt::Write>(out: &mut W, v: &Value, pretty: bool, depth: usize) -> fmt::Result {
    let (open, close, items): (char, char, Vec<(Option<&str>, &Value)>) = match v {
        Value::Null => return out.write_str("null"),
        Value::Bool(b) => return write!(out, "{b}"),
        Value::Number(n) => return write!(out, "{n}"),
        Value::String(s) => return write_escaped(out, s),
        Value::Array(items) => ('[', ']', items.iter().map(|v| (None, v)).collect()),
        Value::Object(members) => (
            '{',
            '}',
            members.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        ),
    };
    let newline = |out: &mut W, depth: usize| -> fmt::Result {
        if pretty {
            out.write_char('\n')?;
            (0..depth).try_for_each(|_| out.write_str("  "))?;
        }
        Ok(())
    };
    out.write_char(open)?;
    for (i, (key, item)) in items.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        newline(out, depth + 1)?;
        if let Some(key) = key {
            write_escaped(out, key)?;
            out.write_str(if pretty { ": " } else { ":" })?;
        }
        write_value(out, item, pretty, depth + 1)?;
    }
    if !items.is_empty() {
        newline(out, depth)?;
    }
    out.write_char(close)
}

/// An array or object being parsed: what it holds so far.
enum Frame {
    Array(Vec<Value>),
    /// The members so far, where each key starts, and the key whose value is next.
    Object(Vec<(String, Value)>, Vec<usize>, String),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// The byte offset of the next unread byte.
    at: usize,
}

impl Parser<'_> {
    fn err(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::at(self.bytes, at, msg.into())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The whole text: a value, with the containers still open on an explicit stack.
    fn document(&mut self) -> Result<Value, Error> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if stack.len() == MAX_DEPTH {
                        return Err(self.err(self.at, format!("nesting deeper than {MAX_DEPTH}")));
                    }
                    self.at += 1;
                    self.skip_ws();
                    match (open, self.peek()) {
                        (b'[', Some(b']')) => {
                            self.at += 1;
                            Value::Array(Vec::new())
                        }
                        (b'{', Some(b'}')) => {
                            self.at += 1;
                            Value::Object(Vec::new())
                        }
                        (b'[', _) => {
                            stack.push(Frame::Array(Vec::new()));
                            continue 'value;
                        }
                        _ => {
                            let (key, at) = self.key("expected a key or '}'")?;
                            stack.push(Frame::Object(Vec::new(), vec![at], key));
                            continue 'value;
                        }
                    }
                }
                _ => self.scalar()?,
            };
            // `value` is complete: add it to the innermost open container, closing as
            // many as end here.
            loop {
                self.skip_ws();
                match stack.pop() {
                    None if self.at < self.bytes.len() => {
                        return Err(self.err(self.at, "unexpected text after the value"))
                    }
                    None => return Ok(value),
                    Some(Frame::Array(mut items)) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                stack.push(Frame::Array(items));
                                continue 'value;
                            }
                            Some(b']') => {
                                self.at += 1;
                                value = Value::Array(items);
                            }
                            _ => return Err(self.err(self.at, "expected ',' or ']'")),
                        }
                    }
                    Some(Frame::Object(mut members, mut keys_at, key)) => {
                        members.push((key, value));
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                self.skip_ws();
                                let (key, at) = self.key("expected a key")?;
                                keys_at.push(at);
                                stack.push(Frame::Object(members, keys_at, key));
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.at += 1;
                                self.check_unique(&members, &keys_at)?;
                                value = Value::Object(members);
                            }
                            _ => return Err(self.err(self.at, "expected ',' or '}'")),
                        }
                    }
                }
            }
        }
    }

    /// `"key"` and the `:` after it; the key and where it starts.
    fn key(&mut self, expected: &str) -> Result<(String, usize), Error> {
        let at = self.at;
        if self.peek() != Some(b'"') {
            return Err(self.err(at, expected));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.err(self.at, "expected ':'"));
        }
        self.at += 1;
        Ok((key, at))
    }

    /// Refuses an object that holds a key twice, at the key's second place (in
    /// O(n log n), so a huge hostile object costs no more than sorting it).
    fn check_unique(&self, members: &[(String, Value)], keys_at: &[usize]) -> Result<(), Error> {
        if members.len() < 2 {
            return Ok(());
        }
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| members[a].0.cmp(&members[b].0)); // stable: a < b if equal
        for pair in order.windows(2) {
            let (first, second) = (pair[0], pair[1]);
            if members[first].0 == members[second].0 {
                let mut msg = "duplicate key ".to_owned();
                escape_into(&mut msg, &members[second].0);
                return Err(self.err(keys_at[second], msg));
            }
        }
        Ok(())
    }

    /// A string, number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<Value, Error> {
        let rest = &self.bytes[self.at..];
        match rest.first() {
            Some(b'"') => return self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => return self.number(),
            _ => {}
        }
        for (word, value) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            if rest.starts_with(word.as_bytes()) {
                self.at += word.len();
                return Ok(value);
            }
        }
        Err(self.err(self.at, "expected a value"))
    }

    /// A string literal starting at the `"` under `at`.
    fn string(&mut self) -> Result<String, Error> {
        let open = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Both ends sit next to ASCII bytes (or at the end), so they are char
            // boundaries.
            out.push_str(&self.text[run..self.at]);
            match self.peek() {
                None => return Err(self.err(open, "unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => {
                    return Err(self.err(self.at, "control character in a string (escape it)"))
                }
            }
        }
    }

    /// The escape starting at the `\` under `at`.
    fn escape(&mut self) -> Result<char, Error> {
        let at = self.at;
        let (c, len) = match self.bytes.get(at + 1) {
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let hi = self.hex4(at + 2)?;
                let mut code = (hi, 6);
                if (0xD800..0xDC00).contains(&hi)
                    && self.bytes.get(at + 6..at + 8) == Some(&b"\\u"[..])
                {
                    let lo = self.hex4(at + 8)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        code = (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12);
                    }
                }
                let c = char::from_u32(code.0)
                    .ok_or_else(|| self.err(at, format!("lone surrogate \\u{hi:04x}")))?;
                (c, code.1)
            }
            _ => return Err(self.err(at, "invalid escape")),
        };
        self.at = at + len;
        Ok(c)
    }

    /// The four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u32, Error> {
        let digits = self
            .bytes
            .get(at..at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.err(at, "expected 4 hex digits after \\u"))?;
        Ok(digits
            .iter()
            .fold(0, |n, &d| n * 16 + char::from(d).to_digit(16).unwrap_or(0)))
    }

    /// A number starting at `at`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Value, Error> {
        let start = self.at;
        let digits = |at: usize| {
            let rest = self.bytes.get(at..).unwrap_or_default();
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        };
        let mut at = start + usize::from(self.peek() == Some(b'-'));
        let int = digits(at);
        if int == 0 {
            return Err(self.err(at, "expected a digit"));
        }
        if int > 1 && self.bytes.get(at) == Some(&b'0') {
            return Err(self.err(at, "leading zero in a number"));
        }
        at += int;
        let mut float = false;
        if self.bytes.get(at) == Some(&b'.') {
            let frac = digits(at + 1);
            if frac == 0 {
                return Err(self.err(at + 1, "expected a digit after '.'"));
            }
            at += 1 + frac;
            float = true;
        }
        if let Some(b'e' | b'E') = self.bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(at) {
                at += 1;
            }
            let exp = digits(at);
            if exp == 0 {
                return Err(self.err(at, "expected a digit in the exponent"));
            }
            at += exp;
            float = true;
        }
        let literal = &self.text[start..at]; // ASCII throughout
        let int = match (float, literal.starts_with('-')) {
            (true, _) => None,
            (false, true) => literal.parse::<i64>().ok().map(Value::from),
            (false, false) => literal.parse::<u64>().ok().map(Value::from),
        };
        let as_float = || Number::from_f64(literal.parse().ok()?).map(Value::Number);
        self.at = at;
        int.or_else(as_float)
            .ok_or_else(|| self.err(start, "number out of range"))
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
