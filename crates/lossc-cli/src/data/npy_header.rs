//! The header of a `.npy` file, read as NumPy reads it.
//!
//! NumPy writes the header as a Python dict literal,
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }`, and reads it
//! back with `ast.literal_eval`: any quoting Python accepts (`'descr'` or
//! `"descr"`), any spacing, a trailing comma, `1_000` in a size, and the `L`
//! suffix Python 2 wrote after a long integer. The dict must have exactly
//! the keys `descr`, `fortran_order` and `shape` (a repeated key keeps its
//! last value, as in Python); `fortran_order` must be `True` or `False` and
//! `shape` a tuple of non-negative integers.
//!
//! Every other header is an error that says what is wrong with it. The
//! parser never panics, never recurses deeper than [`MAX_DEPTH`] brackets
//! and never allocates more than the header's own length.

/// How deeply brackets may nest in a header (NumPy's own headers nest 2).
const MAX_DEPTH: usize = 32;

/// NumPy's limit on the number of dimensions of an array.
pub const MAX_RANK: usize = 64;

/// The meaning of a `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The dtype descriptor, e.g. `<f4`.
    pub descr: String,
    pub fortran: bool,
    pub shape: Vec<usize>,
}

/// A Python literal of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Str(String),
    Bool(bool),
    None,
    /// An integer, or `None` for one too large for a `u64` (with its sign).
    Int {
        negative: bool,
        value: Option<u64>,
    },
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
    /// How the value is described in messages.
    fn kind(&self) -> &'static str {
        match self {
            Literal::Str(_) => "a string",
            Literal::Bool(_) => "a boolean",
            Literal::None => "None",
            Literal::Int { .. } => "an integer",
            Literal::Tuple(_) => "a tuple",
            Literal::List(_) => "a list",
            Literal::Dict(_) => "a dict",
        }
    }
}

/// Parses the text of a header (without the magic bytes and the length).
pub fn parse(text: &str) -> Result<Header, String> {
    let mut parser = Parser { text, at: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at < text.len() {
        return Err(parser.unexpected("after the dict"));
    }
    let Literal::Dict(entries) = value else {
        return Err(format!("is {}, not a dict", value.kind()));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in entries {
        let Literal::Str(key) = key else {
            return Err(format!("has a key that is {}, not a string", key.kind()));
        };
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => fortran = Some(value),
            "shape" => shape = Some(value),
            _ => {
                return Err(format!(
                    "has the key '{}'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'",
                    abbreviate(&key)
                ));
            }
        }
    }
    let missing = |key: &str| format!("has no '{key}'");
    let descr = match descr.ok_or_else(|| missing("descr"))? {
        Literal::Str(descr) => descr,
        Literal::List(_) => return Err("holds a structured array (fields), which lossc does not read".to_string()),
        other => return Err(format!("has a 'descr' that is {}, not a string", other.kind())),
    };
    let fortran = match fortran.ok_or_else(|| missing("fortran_order"))? {
        Literal::Bool(flag) => flag,
        other => {
            return Err(format!(
                "has a 'fortran_order' that is {}, not True or False",
                other.kind()
            ));
        }
    };
    let Literal::Tuple(sizes) = shape.ok_or_else(|| missing("shape"))? else {
        return Err("has a 'shape' that is not a tuple of sizes such as (3, 2)".to_string());
    };
    if sizes.len() > MAX_RANK {
        return Err(format!(
            "has a 'shape' of {} dimensions; NumPy arrays have at most {MAX_RANK}",
            sizes.len()
        ));
    }
    let shape = sizes
        .iter()
        .map(|size| match size {
            Literal::Int { negative: false, value }
            | Literal::Int {
                value: value @ Some(0), ..
            } => value
                .and_then(|value| usize::try_from(value).ok())
                .ok_or_else(|| "has a size in 'shape' too large to address".to_string()),
            Literal::Int { negative: true, .. } => Err("has a negative size in 'shape'".to_string()),
            other => Err(format!(
                "has a size in 'shape' that is {}, not an integer",
                other.kind()
            )),
        })
        .collect::<Result<Vec<usize>, String>>()?;
    Ok(Header { descr, fortran, shape })
}

/// A recursive-descent parser of the Python literals a header can hold.
struct Parser<'a> {
    text: &'a str,
    /// A byte offset into `text`, always at a character boundary.
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The message for what stands at the current position.
    fn unexpected(&self, context: &str) -> String {
        match self.peek() {
            None => format!("ends early ({context})"),
            Some(_) => {
                let near: String = self.rest().chars().take(12).collect();
                format!("has `{}` at byte {} ({context})", near.trim_end(), self.at)
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nests brackets more than {MAX_DEPTH} deep"));
        }
        self.skip_space();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => self.string(quote).map(Literal::Str),
            Some('{') => self.dict(depth),
            Some('(') => self.tuple(depth),
            Some('[') => {
                self.bump();
                self.items(']', depth).map(|(items, _)| Literal::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.integer(),
            Some(c) if c.is_ascii_alphabetic() => {
                let word: String = self.rest().chars().take_while(char::is_ascii_alphanumeric).collect();
                let literal = match word.as_str() {
                    "True" => Literal::Bool(true),
                    "False" => Literal::Bool(false),
                    "None" => Literal::None,
                    _ => return Err(self.unexpected("not a Python literal")),
                };
                self.at += word.len();
                Ok(literal)
            }
            _ => Err(self.unexpected("expected a value")),
        }
    }

    /// A quoted string; a backslash escapes the next character.
    fn string(&mut self, quote: char) -> Result<String, String> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("ends inside a string".to_string()),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err("ends inside a string".to_string()),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// An integer: digits with single underscores between them, an optional
    /// sign, and Python 2's `L` suffix.
    fn integer(&mut self) -> Result<Literal, String> {
        let negative = match self.peek() {
            Some('-') => {
                self.bump();
                true
            }
            Some('+') => {
                self.bump();
                false
            }
            _ => false,
        };
        self.skip_space();
        let digits: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '_')
            .collect();
        if !digits.starts_with(|c: char| c.is_ascii_digit()) || digits.ends_with('_') || digits.contains("__") {
            return Err(self.unexpected("not an integer"));
        }
        self.at += digits.len();
        if matches!(self.peek(), Some('L' | 'l')) {
            self.bump();
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(self.unexpected("not an integer"));
        }
        let value = digits.replace('_', "").parse::<u64>().ok();
        Ok(Literal::Int { negative, value })
    }

    /// `(a, b)`, `(a,)` or `()`; `(a)` is `a` itself, as in Python.
    fn tuple(&mut self, depth: usize) -> Result<Literal, String> {
        self.bump();
        let (mut items, trailing_comma) = self.items(')', depth)?;
        if items.len() == 1 && !trailing_comma {
            return Ok(items.remove(0));
        }
        Ok(Literal::Tuple(items))
    }

    /// Comma-separated values up to `close`, and whether a comma ended them.
    fn items(&mut self, close: char, depth: usize) -> Result<(Vec<Literal>, bool), String> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.bump();
                let trailing_comma = !items.is_empty();
                return Ok((items, trailing_comma));
            }
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.bump() {
                Some(',') => {}
                Some(c) if c == close => return Ok((items, false)),
                _ => return Err(self.unexpected(&format!("expected `,` or `{close}`"))),
            }
        }
    }

    /// `{key: value, ...}`, a trailing comma allowed.
    fn dict(&mut self, depth: usize) -> Result<Literal, String> {
        self.bump();
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Literal::Dict(entries));
            }
            let key = self.value(depth + 1)?;
            self.skip_space();
            if self.bump() != Some(':') {
                return Err(self.unexpected("expected `:` after a key"));
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_space();
            match self.bump() {
                Some(',') => {}
                Some('}') => return Ok(Literal::Dict(entries)),
                _ => return Err(self.unexpected("expected `,` or `}`")),
            }
        }
    }
}

/// A key cut to a length that fits in a message.
fn abbreviate(text: &str) -> String {
    const MAX: usize = 24;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(MAX).collect::<String>())
    }
}
