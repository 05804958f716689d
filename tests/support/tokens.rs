//! Tokens of the `.loss` language, near misses and awkward characters, and
//! the strategies built from them (token soups, edits of valid programs),
//! shared by the test binaries that fuzz source text
//! (`crates/lossc-syntax/tests/it/no_panic.rs`, `tests/fuzz/`): each declares
//! it once, with `#[path = ".../tests/support/tokens.rs"] mod tokens;` in its
//! crate root.

// Each test binary uses a part of these.
#![allow(dead_code)]

use proptest::prelude::*;

// The language's tokens, near misses and awkward characters, for token soups.
pub const KEYWORDS: &[&str] = &[
    "input", "param", "const", "let", "def", "loss", "output", "wrt", "real", "inf", "true", "false", "and", "or",
    "not",
];
pub const NAMES: &[&str] = &[
    "y_true", "y_pred", "x", "N", "C", "f", "mean", "sum", "where", "take", "axis", "keepdims", "lossy", "_",
];
pub const NUMBERS: &[&str] = &[
    "0", "1", "9", "0.5", "1e-7", ".5", "1E+3", "2.", "1e", "..", "0..9", "007", "1e999", "1e-400",
];
pub const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "^", "**", "==", "!=", "<", "<=", ">", ">=", "=", "!", "^^", ".", "@", "%",
];
pub const PUNCTUATION: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", ":", ";", "\n", "\r\n", "\r", "\t", " ", "#", "# (\n",
];
/// Accents, symbols, a byte-order mark, NUL, odd spaces and line breaks.
pub const UNICODE: &[&str] = &[
    "é", "∑", "🦀", "\u{FEFF}", "\u{0}", "\u{A0}", "\u{2028}", "\u{85}", "ß", "İ",
];

pub fn tokens() -> Vec<&'static str> {
    [KEYWORDS, NAMES, NUMBERS, OPERATORS, PUNCTUATION, UNICODE].concat()
}

/// Valid statements to mutate.
pub const PROGRAMS: &[&str] = &[
    "input y_true: {0, 1} [N]\ninput y_pred: [0, 1] [N]\nloss = -mean(y_true * log(y_pred))\nwrt y_pred",
    "param gamma = 2; const w = [1.0, 2.0, 5.0]\nloss focal = mean(-(1 - y_pred)^gamma * log(y_pred + 1e-7))",
    "def huber(r, d) = where(abs(r) <= d, 0.5 * r^2, d * (abs(r) - 0.5 * d))\noutput h = huber(y_true - y_pred, 1)",
    "input labels: {0..9} [N]\ninput logits: real [N, 10]\nloss = -sum(one_hot(labels, 10) * log_softmax(logits),\n  axis=-1)",
    "let m = not a == b and c < d or e >= f  # a comment\nloss = float(m) + 2 ^ -x ^ 2 ** .5",
    "input x: (-inf, 0] [N, C]\nloss = mean(sum(square(x), axis=(0, 1), keepdims=true))",
];

pub fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(tokens()), prop::bool::ANY), 0..80).prop_map(|tokens| {
        tokens.into_iter().fold(String::new(), |mut soup, (token, space)| {
            soup.push_str(token);
            if space {
                soup.push(' ');
            }
            soup
        })
    })
}

/// A valid program with a few random edits: a range deleted, a token
/// inserted, or a range replaced by a token.
pub fn edited_program() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0..8usize,
        prop::option::of(prop::sample::select(tokens())),
    );
    (prop::sample::select(PROGRAMS), prop::collection::vec(edit, 1..4)).prop_map(|(program, edits)| {
        let mut text = program.to_string();
        for (at, delete, insert) in edits {
            let mut start = at.index(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + delete).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(start..end, insert.unwrap_or(""));
        }
        text
    })
}
