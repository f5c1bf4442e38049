//! The subset of TOML that profiles use, parsed by hand (no TOML crate): `[table]` and
//! `[table.sub]` headers, `key = value` with bare or quoted keys, basic strings (with
//! escapes) and literal strings, integers (decimal with `_`, `0x`, `0o`, `0b`),
//! booleans, arrays (across lines, with comments and a trailing comma) and inline
//! tables; `#` comments. Everything else (floats, dates, multi-line strings, dotted
//! keys, arrays of tables) is an error at its `line:column`, never a guess.
//!
//! [`Table`]'s display prints a document canonically; what it prints parses back to an
//! equal table (positions aside).

use std::fmt;

/// Where something starts in the text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A parse error at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pos: Pos,
    pub msg: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.msg)
    }
}

/// A value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Item>),
    Table(Table),
}

impl Value {
    /// The TOML type's name, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A value and where it starts (ignored by `==`).
#[derive(Debug, Clone, Eq)]
pub struct Item {
    pub value: Value,
    pub pos: Pos,
}

impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        self.value == other.value
    }
}

/// `key = value`; `pos` is the key's position (ignored by `==`).
#[derive(Debug, Clone, Eq)]
pub struct Entry {
    pub key: String,
    pub pos: Pos,
    pub item: Item,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key == other.key && self.item == other.item
    }
}

/// A table: its entries in the order written. Two tables are equal when they hold the
/// same keys with equal values, in any order (as TOML means them).
#[derive(Debug, Clone, Default, Eq)]
pub struct Table {
    pub entries: Vec<Entry>,
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|e| other.get(&e.key).is_some_and(|o| o.item == e.item))
    }
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }
}

/// Deepest nesting of arrays and inline tables accepted (a fuzzer's 10,000 brackets
/// must not overflow the stack).
const MAX_DEPTH: usize = 32;

/// Parses a whole document.
pub fn parse(text: &str) -> Result<Table, Error> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
        col: 1,
    };
    let mut root = Table::default();
    // The path of the current [table]; headers already seen (each once).
    let mut current: Vec<String> = Vec::new();
    let mut headers: Vec<Vec<String>> = Vec::new();
    loop {
        p.skip_blank_lines()?;
        let Some(c) = p.peek() else {
            return Ok(root);
        };
        if c == '[' {
            let pos = p.pos();
            p.bump();
            if p.peek() == Some('[') {
                return Err(p.error_at(pos, "arrays of tables ([[...]]) are not supported"));
            }
            let mut path = Vec::new();
            loop {
                p.skip_spaces();
                path.push(p.key()?);
                p.skip_spaces();
                match p.next() {
                    Some('.') => continue,
                    Some(']') => break,
                    _ => return Err(p.error_at(pos, "expected ']' to close the table header")),
                }
            }
            p.end_of_line()?;
            if headers.contains(&path) {
                return Err(p.error_at(pos, &format!("table [{}] defined twice", path.join("."))));
            }
            table_at(&mut root, &path, pos).map_err(|msg| p.error_at(pos, &msg))?;
            headers.push(path.clone());
            current = path;
            continue;
        }
        let pos = p.pos();
        let key = p.key()?;
        p.skip_spaces();
        if p.peek() == Some('.') {
            return Err(p.error_at(pos, "dotted keys are not supported; use a [table]"));
        }
        if p.next() != Some('=') {
            return Err(p.error_at(pos, &format!("expected '=' after key '{key}'")));
        }
        p.skip_spaces();
        let item = p.value(0)?;
        p.end_of_line()?;
        let table = table_at(&mut root, &current, pos).map_err(|msg| p.error_at(pos, &msg))?;
        if table.get(&key).is_some() {
            return Err(p.error_at(pos, &format!("key '{key}' defined twice")));
        }
        table.entries.push(Entry { key, pos, item });
    }
}

/// The table at `path` under `root`, made (empty) where missing.
fn table_at<'a>(root: &'a mut Table, path: &[String], pos: Pos) -> Result<&'a mut Table, String> {
    let mut table = root;
    for (i, name) in path.iter().enumerate() {
        if table.get(name).is_none() {
            table.entries.push(Entry {
                key: name.clone(),
                pos,
                item: Item {
                    value: Value::Table(Table::default()),
                    pos,
                },
            });
        }
        let entry = table.get_mut(name).expect("just made");
        table = match &mut entry.item.value {
            Value::Table(t) => t,
            other => {
                return Err(format!(
                    "'{}' is {}, not a table",
                    path[..=i].join("."),
                    other.kind()
                ))
            }
        };
    }
    Ok(table)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
    col: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.at += 1;
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.bump();
        c
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn error_at(&self, pos: Pos, msg: &str) -> Error {
        Error {
            pos,
            msg: msg.to_owned(),
        }
    }

    fn error(&self, msg: &str) -> Error {
        self.error_at(self.pos(), msg)
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some('#') {
            while !matches!(self.peek(), None | Some('\n')) {
                self.bump();
            }
        }
    }

    /// Spaces, comments and newlines (also `\r\n`).
    fn skip_blank_lines(&mut self) -> Result<(), Error> {
        loop {
            self.skip_spaces();
            self.skip_comment();
            match self.peek() {
                Some('\n') => self.bump(),
                Some('\r') if self.chars.get(self.at + 1) == Some(&'\n') => self.bump(),
                _ => return Ok(()),
            }
        }
    }

    /// After a header or a value: spaces, a comment, then the end of the line.
    fn end_of_line(&mut self) -> Result<(), Error> {
        self.skip_spaces();
        self.skip_comment();
        if self.peek() == Some('\r') {
            self.bump();
        }
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(&format!("unexpected '{c}' after the value"))),
        }
    }

    fn key(&mut self) -> Result<String, Error> {
        match self.peek() {
            Some('"') => self.basic_string(),
            Some('\'') => self.literal_string(),
            Some(c) if bare(c) => {
                let mut key = String::new();
                while let Some(c) = self.peek().filter(|&c| bare(c)) {
                    key.push(c);
                    self.bump();
                }
                Ok(key)
            }
            Some(c) => Err(self.error(&format!("expected a key, found '{}'", c.escape_debug()))),
            None => Err(self.error("expected a key, found the end")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Item, Error> {
        let pos = self.pos();
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let value = match self.peek() {
            Some('"') => Value::Str(self.basic_string()?),
            Some('\'') => Value::Str(self.literal_string()?),
            Some('[') => Value::Array(self.array(depth)?),
            Some('{') => Value::Table(self.inline_table(depth)?),
            Some(c) if c == '+' || c == '-' || c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(c) = self.peek().filter(|&c| {
                    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '.' | ':')
                }) {
                    word.push(c);
                    self.bump();
                }
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Int(integer(&word).map_err(|msg| self.error_at(pos, msg))?),
                }
            }
            Some(c) => {
                return Err(self.error(&format!("expected a value, found '{}'", c.escape_debug())))
            }
            None => return Err(self.error("expected a value, found the end")),
        };
        Ok(Item { value, pos })
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Item>, Error> {
        let open = self.pos();
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_blank_lines()?;
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(items);
                }
                None => return Err(self.error_at(open, "array not closed")),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_blank_lines()?;
            match self.next() {
                Some(',') => {}
                Some(']') => return Ok(items),
                None => return Err(self.error_at(open, "array not closed")),
                _ => return Err(self.error_at(open, "expected ',' or ']' in the array")),
            }
        }
    }

    fn inline_table(&mut self, depth: usize) -> Result<Table, Error> {
        let open = self.pos();
        self.bump();
        let mut table = Table::default();
        self.skip_spaces();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(table);
        }
        loop {
            self.skip_spaces();
            let pos = self.pos();
            let key = self.key()?;
            self.skip_spaces();
            if self.next() != Some('=') {
                return Err(self.error_at(pos, &format!("expected '=' after key '{key}'")));
            }
            self.skip_spaces();
            let item = self.value(depth + 1)?;
            if table.get(&key).is_some() {
                return Err(self.error_at(pos, &format!("key '{key}' defined twice")));
            }
            table.entries.push(Entry { key, pos, item });
            self.skip_spaces();
            match self.next() {
                Some(',') => {}
                Some('}') => return Ok(table),
                _ => return Err(self.error_at(open, "expected ',' or '}' in the inline table")),
            }
        }
    }

    fn literal_string(&mut self) -> Result<String, Error> {
        let open = self.pos();
        self.bump();
        if self.peek() == Some('\'') && self.chars.get(self.at + 1) == Some(&'\'') {
            return Err(self.error_at(open, "multi-line strings are not supported"));
        }
        let mut s = String::new();
        loop {
            match self.next() {
                Some('\'') => return Ok(s),
                None | Some('\n') => return Err(self.error_at(open, "string not closed")),
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(self.error("control character in a string"))
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn basic_string(&mut self) -> Result<String, Error> {
        let open = self.pos();
        self.bump();
        if self.peek() == Some('"') && self.chars.get(self.at + 1) == Some(&'"') {
            return Err(self.error_at(open, "multi-line strings are not supported"));
        }
        let mut s = String::new();
        loop {
            let here = self.pos();
            match self.next() {
                Some('"') => return Ok(s),
                None | Some('\n') => return Err(self.error_at(open, "string not closed")),
                Some('\\') => s.push(self.escape(here)?),
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(self.error_at(here, "control character in a string"))
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn escape(&mut self, at: Pos) -> Result<char, Error> {
        let hex = |p: &mut Parser, n: usize| -> Result<char, Error> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = p.next().and_then(|c| c.to_digit(16));
                v = v * 16 + d.ok_or_else(|| p.error_at(at, "bad \\u escape"))?;
            }
            char::from_u32(v).ok_or_else(|| p.error_at(at, "\\u escape is not a Unicode scalar"))
        };
        match self.next() {
            Some('b') => Ok('\u{8}'),
            Some('t') => Ok('\t'),
            Some('n') => Ok('\n'),
            Some('f') => Ok('\u{c}'),
            Some('r') => Ok('\r'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('u') => hex(self, 4),
            Some('U') => hex(self, 8),
            _ => Err(self.error_at(at, "unknown escape")),
        }
    }
}

fn bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A TOML integer: decimal (sign, `_` between digits) or `0x`/`0o`/`0b`.
fn integer(word: &str) -> Result<i64, &'static str> {
    let (radix, digits) = match word.get(..2) {
        Some("0x") => (16, &word[2..]),
        Some("0o") => (8, &word[2..]),
        Some("0b") => (2, &word[2..]),
        _ => (10, word),
    };
    let signless = word.trim_start_matches(['+', '-']);
    if radix == 10 && (word.contains(['.', ':', 'e', 'E']) || signless.contains('-')) {
        return Err("floats and dates are not supported here");
    }
    let unsigned = digits.trim_start_matches(['+', '-']);
    let ok_underscores = !unsigned.starts_with('_')
        && !unsigned.ends_with('_')
        && !unsigned.contains("__")
        && !unsigned.is_empty();
    let leading_zero = radix == 10 && unsigned.len() > 1 && unsigned.starts_with('0');
    if !ok_underscores || leading_zero || (radix != 10 && digits.starts_with(['+', '-'])) {
        return Err("not a valid integer");
    }
    i64::from_str_radix(&digits.replace('_', ""), radix).map_err(|_| "not a valid integer")
}

/// A string as TOML writes it (basic, escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_text(key: &str) -> String {
    if !key.is_empty() && key.chars().all(bare) {
        key.to_owned()
    } else {
        quote(key)
    }
}

impl fmt::Display for Value {
    /// Inline form: arrays and tables on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(&quote(s)),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", item.value)?;
                }
                f.write_str("]")
            }
            Value::Table(t) => {
                if t.entries.is_empty() {
                    return f.write_str("{}");
                }
                f.write_str("{ ")?;
                for (i, e) in t.entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} = {}", key_text(&e.key), e.item.value)?;
                }
                f.write_str(" }")
            }
        }
    }
}

impl Table {
    /// Writes the entries of the table at `path`: plain values first (under its header),
    /// then each sub-table; a blank line before each header but the first line.
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        path: &[String],
        started: &mut bool,
    ) -> fmt::Result {
        let is_table = |e: &&Entry| matches!(e.item.value, Value::Table(_));
        let plain: Vec<&Entry> = self.entries.iter().filter(|e| !is_table(e)).collect();
        if !path.is_empty() && (!plain.is_empty() || self.entries.is_empty()) {
            if *started {
                writeln!(f)?;
            }
            let header: Vec<String> = path.iter().map(|k| key_text(k)).collect();
            writeln!(f, "[{}]", header.join("."))?;
            *started = true;
        }
        for e in &plain {
            writeln!(f, "{} = {}", key_text(&e.key), e.item.value)?;
            *started = true;
        }
        for e in self.entries.iter().filter(is_table) {
            if let Value::Table(t) = &e.item.value {
                let mut sub = path.to_vec();
                sub.push(e.key.clone());
                t.write(f, &sub, started)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Table {
    /// The canonical document: plain values first, then each table under a header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, &[], &mut false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        let t = parse(&format!("k = {text}\n")).unwrap();
        t.get("k").unwrap().item.value.clone()
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn values_of_the_subset() {
        // From TOML's spec examples, for the types we take.
        assert_eq!(
            value(r#""I'm a string. \"You can quote me\". Name\tJos\u00E9\nLocation\tSF.""#),
            Value::Str("I'm a string. \"You can quote me\". Name\tJos\u{e9}\nLocation\tSF.".into())
        );
        assert_eq!(
            value(r"'C:\Users\nodejs\templates'"),
            Value::Str(r"C:\Users\nodejs\templates".into())
        );
        assert_eq!(value("+99"), Value::Int(99));
        assert_eq!(value("-17"), Value::Int(-17));
        assert_eq!(value("1_000"), Value::Int(1000));
        assert_eq!(value("0xDEAD_BEEF"), Value::Int(0xdead_beef));
        assert_eq!(value("0o755"), Value::Int(0o755));
        assert_eq!(value("0b1101"), Value::Int(13));
        assert_eq!(value("true"), Value::Bool(true));
        let arr = value("[ \"a\", # one\n  'b',\n]");
        let Value::Array(items) = arr else { panic!() };
        assert_eq!(items.len(), 2);
        let t = value("{ CC = \"gcc\", \"LANG\" = 'C.UTF-8' }");
        let Value::Table(t) = t else { panic!() };
        assert_eq!(
            t.get("LANG").unwrap().item.value,
            Value::Str("C.UTF-8".into())
        );
    }

    #[test]
    fn tables_and_positions() {
        let doc = "# build\n[program]\nexec = \"make\" # the build\nargs = [\"-j4\"]\n\n[program.env]\nCC = \"gcc\"\n[limits]\nmemory = \"512M\"\r\n";
        let t = parse(doc).unwrap();
        let program = t.get("program").unwrap();
        let Value::Table(p) = &program.item.value else {
            panic!()
        };
        assert_eq!(p.get("exec").unwrap().pos, Pos { line: 3, col: 1 });
        assert_eq!(p.get("args").unwrap().item.pos, Pos { line: 4, col: 8 });
        assert!(matches!(p.get("env").unwrap().item.value, Value::Table(_)));
        let again = parse(&t.to_string()).unwrap();
        assert_eq!(again, t, "{t}");
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(error("a = 1\na = 2\n"), "2:1: key 'a' defined twice");
        assert_eq!(error("[x]\n[x]\n"), "2:1: table [x] defined twice");
        assert_eq!(
            error("a = 1.5\n"),
            "1:5: floats and dates are not supported here"
        );
        assert_eq!(
            error("a = 1979-05-27\n"),
            "1:5: floats and dates are not supported here"
        );
        assert_eq!(error("a = \"x\n"), "1:5: string not closed");
        assert_eq!(error("a = [1, 2\n"), "1:5: array not closed");
        assert_eq!(error("a = 1 2\n"), "1:7: unexpected '2' after the value");
        assert_eq!(
            error("a.b = 1\n"),
            "1:1: dotted keys are not supported; use a [table]"
        );
        assert_eq!(
            error("[[a]]\n"),
            "1:1: arrays of tables ([[...]]) are not supported"
        );
        assert_eq!(
            error("a = \"\"\"x\"\"\"\n"),
            "1:5: multi-line strings are not supported"
        );
        assert_eq!(error("a = 1\n[a]\n"), "2:1: 'a' is an integer, not a table");
        assert_eq!(error("a = \"\\q\"\n"), "1:6: unknown escape");
        assert_eq!(error("a = 01\n"), "1:5: not a valid integer");
        assert_eq!(error("a = 1__0\n"), "1:5: not a valid integer");
        assert_eq!(
            error("a = 99999999999999999999\n"),
            "1:5: not a valid integer"
        );
        assert_eq!(error("= 1\n"), "1:1: expected a key, found '='");
        assert!(error(&format!("a = {}\n", "[".repeat(100))).contains("nested too deeply"));
    }

    #[test]
    fn printing_is_canonical_and_parses_back() {
        let doc =
            "top = 1\n[b]\nx = [1, [2, 3], { y = \"z\\u0001\" }]\n[b.c]\n'odd key' = false\n[d]\n";
        let t = parse(doc).unwrap();
        let printed = t.to_string();
        assert_eq!(
            printed,
            "top = 1\n\n[b]\nx = [1, [2, 3], { y = \"z\\u0001\" }]\n\n[b.c]\n\"odd key\" = false\n\n[d]\n"
        );
        assert_eq!(parse(&printed).unwrap(), t);
        assert_eq!(parse(&printed).unwrap().to_string(), printed);
    }
}
