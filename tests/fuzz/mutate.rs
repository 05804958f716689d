//! Mutations of valid inputs: of `.loss` text token by token (a token
//! replaced by another of the language, deleted, repeated, wrapped in a
//! call; a line of another program spliced in) and byte by byte (a byte
//! replaced, the text cut short), and of raw bytes (data files).

use lossc::ir::Builtin;
use proptest::prelude::*;
use proptest::sample::Index;

/// Numbers that sit on the edges of what the stages handle.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e-7",
    "1e-45",
    "1e-308",
    "5e-324",
    "1e308",
    "1.7976931348623157e308",
    "3.4028235e38",
    "1e999",
    "-1e999",
    "65504",
    "4294967296",
    "18446744073709551616",
    "9007199254740993",
    "100000",
    "50257",
];

/// Words that are not built-ins: keywords, the implicit inputs, dimensions.
const WORDS: &[&str] = &[
    "input", "param", "const", "let", "def", "loss", "output", "wrt", "real", "inf", "true", "false", "and", "or",
    "not", "y_true", "y_pred", "N", "C", "axis", "keepdims",
];

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "^", "**", "==", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]", "{", "}", ",", ":", ";", "=",
    "\n",
];

/// What replaces a token.
#[derive(Debug, Clone)]
pub enum Replacement {
    Builtin(Index),
    Word(Index),
    Number(Index),
    Operator(Index),
    /// Another token of the same program (a name it declares, usually).
    Own(Index),
}

/// One edit of a program's text.
#[derive(Debug, Clone)]
pub enum Mutation {
    Replace {
        at: Index,
        with: Replacement,
    },
    Delete {
        at: Index,
        count: usize,
    },
    Repeat {
        at: Index,
        count: usize,
        times: usize,
    },
    /// `TOKEN` becomes `f(TOKEN)` or `f(TOKEN, ARG)`.
    Wrap {
        at: Index,
        builtin: Index,
        extra: Option<Replacement>,
    },
    /// A line of the donor program inserted before a line of this one.
    Splice {
        at: Index,
        line: Index,
    },
    FlipByte {
        at: Index,
        byte: u8,
    },
    Truncate {
        at: Index,
    },
}

fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        3 => any::<Index>().prop_map(Replacement::Builtin),
        2 => any::<Index>().prop_map(Replacement::Word),
        3 => any::<Index>().prop_map(Replacement::Number),
        2 => any::<Index>().prop_map(Replacement::Operator),
        3 => any::<Index>().prop_map(Replacement::Own),
    ]
}

impl Arbitrary for Mutation {
    type Parameters = ();
    type Strategy = BoxedStrategy<Mutation>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        prop_oneof![
            8 => (any::<Index>(), replacement()).prop_map(|(at, with)| Mutation::Replace { at, with }),
            2 => (any::<Index>(), 1..4usize).prop_map(|(at, count)| Mutation::Delete { at, count }),
            2 => (any::<Index>(), 1..12usize, 1..4usize)
                .prop_map(|(at, count, times)| Mutation::Repeat { at, count, times }),
            3 => (any::<Index>(), any::<Index>(), prop::option::of(replacement()))
                .prop_map(|(at, builtin, extra)| Mutation::Wrap { at, builtin, extra }),
            2 => (any::<Index>(), any::<Index>()).prop_map(|(at, line)| Mutation::Splice { at, line }),
            1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::FlipByte { at, byte }),
            1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        ]
        .boxed()
    }
}

/// The tokens of `text` as byte ranges: names, numbers, and single other
/// characters; whitespace is not a token.
pub fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let number = |c: char| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E';
        if word(c) || number(c) {
            let numeric = c.is_ascii_digit() || c == '.';
            while let Some(&(at, next)) = chars.peek() {
                let sign = numeric && (next == '+' || next == '-') && text[..at].ends_with(['e', 'E']);
                if (numeric && (number(next) || sign)) || (!numeric && word(next)) {
                    end = at + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
        }
        out.push((start, end));
    }
    out
}

fn pick<'a>(items: &[&'a str], index: &Index) -> &'a str {
    items[index.index(items.len())]
}

fn replacement_text(text: &str, tokens: &[(usize, usize)], with: &Replacement) -> String {
    match with {
        Replacement::Builtin(i) => {
            let names: Vec<&str> = Builtin::callable_names().collect();
            pick(&names, i).to_string()
        }
        Replacement::Word(i) => pick(WORDS, i).to_string(),
        Replacement::Number(i) => pick(NUMBERS, i).to_string(),
        Replacement::Operator(i) => pick(OPERATORS, i).to_string(),
        Replacement::Own(i) if !tokens.is_empty() => {
            let (start, end) = tokens[i.index(tokens.len())];
            text[start..end].to_string()
        }
        Replacement::Own(_) => "y_pred".to_string(),
    }
}

/// `text` with `mutations` applied in order; `donor` gives spliced lines.
pub fn mutated(text: &str, mutations: &[Mutation], donor: &str) -> String {
    let mut text = text.to_string();
    for mutation in mutations {
        let tokens = tokens(&text);
        let token = |at: &Index| (!tokens.is_empty()).then(|| tokens[at.index(tokens.len())]);
        match mutation {
            Mutation::Replace { at, with } => {
                if let Some((start, end)) = token(at) {
                    let new = replacement_text(&text, &tokens, with);
                    text.replace_range(start..end, &new);
                }
            }
            Mutation::Delete { at, count } => {
                if !tokens.is_empty() {
                    let first = at.index(tokens.len());
                    let last = (first + count - 1).min(tokens.len() - 1);
                    text.replace_range(tokens[first].0..tokens[last].1, "");
                }
            }
            Mutation::Repeat { at, count, times } => {
                if !tokens.is_empty() {
                    let first = at.index(tokens.len());
                    let last = (first + count - 1).min(tokens.len() - 1);
                    let piece = text[tokens[first].0..tokens[last].1].to_string();
                    let end = tokens[last].1;
                    text.insert_str(end, &format!(" {piece}").repeat(*times));
                }
            }
            Mutation::Wrap { at, builtin, extra } => {
                if let Some((start, end)) = token(at) {
                    let names: Vec<&str> = Builtin::callable_names().collect();
                    let inner = &text[start..end];
                    let wrapped = match extra {
                        Some(extra) => format!(
                            "{}({inner}, {})",
                            pick(&names, builtin),
                            replacement_text(&text, &tokens, extra)
                        ),
                        None => format!("{}({inner})", pick(&names, builtin)),
                    };
                    text.replace_range(start..end, &wrapped);
                }
            }
            Mutation::Splice { at, line } => {
                let donor_lines: Vec<&str> = donor.lines().collect();
                if !donor_lines.is_empty() {
                    let inserted = donor_lines[line.index(donor_lines.len())];
                    let mut lines: Vec<&str> = text.lines().collect();
                    let position = at.index(lines.len() + 1);
                    lines.insert(position, inserted);
                    text = lines.join("\n");
                }
            }
            Mutation::FlipByte { at, byte } => {
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    let position = at.index(bytes.len());
                    bytes[position] = *byte;
                }
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            Mutation::Truncate { at } => {
                let mut end = at.index(text.len() + 1);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
        }
    }
    text
}

/// One edit of raw bytes.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    Set { at: Index, byte: u8 },
    Insert { at: Index, bytes: Vec<u8> },
    Delete { at: Index, count: usize },
    Truncate { at: Index },
}

impl Arbitrary for ByteEdit {
    type Parameters = ();
    type Strategy = BoxedStrategy<ByteEdit>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        prop_oneof![
            4 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| ByteEdit::Set { at, byte }),
            2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
                .prop_map(|(at, bytes)| ByteEdit::Insert { at, bytes }),
            2 => (any::<Index>(), 1..16usize).prop_map(|(at, count)| ByteEdit::Delete { at, count }),
            1 => any::<Index>().prop_map(|at| ByteEdit::Truncate { at }),
        ]
        .boxed()
    }
}

/// `bytes` with `edits` applied in order; `focus` bytes at the start take
/// most edits (a file's header, where the parsing is).
pub fn edit_bytes(bytes: &[u8], edits: &[ByteEdit], focus: usize) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for (k, edit) in edits.iter().enumerate() {
        // Every other edit lands in the focus region.
        let span = if k % 2 == 0 {
            focus.min(bytes.len())
        } else {
            bytes.len()
        };
        let at = |index: &Index, extra: usize| index.index(span + extra);
        match edit {
            ByteEdit::Set { at: index, byte } => {
                if span > 0 {
                    let position = at(index, 0);
                    bytes[position] = *byte;
                }
            }
            ByteEdit::Insert { at: index, bytes: new } => {
                let position = at(index, 1);
                bytes.splice(position..position, new.iter().copied());
            }
            ByteEdit::Delete { at: index, count } => {
                if span > 0 {
                    let position = at(index, 0);
                    let end = (position + count).min(bytes.len());
                    bytes.drain(position..end);
                }
            }
            ByteEdit::Truncate { at: index } => {
                let position = at(index, 1);
                bytes.truncate(position);
            }
        }
    }
    bytes
}

#[test]
fn tokens_are_names_numbers_and_single_characters() {
    let text = "let y_2 = 1.5e-3*exp(x) # é";
    let tokens: Vec<&str> = tokens(text).into_iter().map(|(a, b)| &text[a..b]).collect();
    assert_eq!(
        tokens,
        ["let", "y_2", "=", "1.5e-3", "*", "exp", "(", "x", ")", "#", "é"]
    );
}
