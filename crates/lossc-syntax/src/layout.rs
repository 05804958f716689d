//! The layout pass: comments, bracket continuation, statement boundaries.
//!
//! A statement ends at `;` or at a newline outside brackets; inside an open
//! bracket a newline is a space (docs/language.md). This pass does that before pest
//! sees the text, keeping every byte offset: comments become spaces of the
//! same length and bracketed newlines become one space each. It also reports
//! unclosed, unexpected and mismatched brackets with the span the user needs
//! (docs/language.md: an unclosed bracket points at the opening bracket).
//!
//! Recovery, so that one missing bracket costs one error: a line that starts
//! with a statement word, used as one, while a bracket is open ends the
//! statement there
//! (the bracket was never closed); a bracket still open at the end of the
//! file is reported and the lines after it are laid out again (a bounded
//! number of times); and only the first bracket error of a statement is
//! reported.

use lossc_diagnostics::{Code, Diagnostic, Span};

use crate::ast::{RESERVED, STATEMENT_WORDS};

/// The source with comments blanked and bracketed newlines turned into spaces,
/// cut into statements.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Same length as the source; only ASCII replacements were made.
    pub text: String,
    /// The non-blank statements, in order, each without its terminator.
    pub statements: Vec<Span>,
    /// Bracket errors. The statements they belong to are not in `statements`.
    pub errors: Vec<Diagnostic>,
}

/// After this many unclosed brackets that run to the end of the file, the
/// rest of the file is not laid out again: each recovery rescans the rest, so
/// without a bound a file of many unclosed lines would take quadratic time.
const MAX_RESCANS: usize = 8;

/// The word that starts the text at `from`, after blanks and a byte-order mark.
fn first_word(bytes: &[u8], from: usize) -> &[u8] {
    split_word(&bytes[from.min(bytes.len())..]).0
}

/// The word that starts `bytes`, after blanks and a byte-order mark, and
/// the text after it.
fn split_word(bytes: &[u8]) -> (&[u8], &[u8]) {
    let blank = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = &bytes[blank..];
    let rest = rest.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(rest);
    let word_len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    rest.split_at(word_len)
}

/// Whether the line starting at `from` begins a statement: a statement word
/// followed by a name (`let a = ...`, `loss total = ...`) or by a lone `=`
/// (`loss = ...`, or `let = 1` missing its name). Statement words are names
/// too, but a name followed by another name or by a lone `=` does not
/// continue an expression, so such a line while a bracket is open means the
/// bracket was never closed.
fn starts_statement(bytes: &[u8], from: usize) -> bool {
    let line_end = bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| from + n);
    let (word, rest) = split_word(&bytes[from.min(line_end)..line_end]);
    if !STATEMENT_WORDS.iter().any(|keyword| keyword.as_bytes() == word) {
        return false;
    }
    let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let (next, _) = split_word(rest);
    let is_name = next.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && !RESERVED.iter().any(|reserved| reserved.as_bytes() == next);
    is_name || (rest.starts_with(b"=") && !rest.starts_with(b"=="))
}

/// Whether the statement starting at `start` is an `input`. The answer is
/// kept in `cache` for the statement, so that a long run of blanks before it
/// is not scanned again at every closing bracket.
fn is_input(cache: &mut (usize, bool), bytes: &[u8], start: usize) -> bool {
    if cache.0 != start {
        *cache = (start, first_word(bytes, start) == b"input");
    }
    cache.1
}

fn unclosed(bytes: &[u8], open: usize) -> Diagnostic {
    let unclosed = bytes[open] as char;
    Diagnostic::error(
        Code::Syntax,
        format!("unclosed delimiter `{unclosed}`"),
        Span::new(open, open + 1),
    )
    .with_label("this bracket is never closed")
    .with_help(format!(
        "add the missing `{}`; a statement continues on the next line only while a bracket is open",
        closer_of(bytes[open]) as char
    ))
}

fn closer_of(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

pub(crate) fn layout(source: &str) -> Layout {
    let mut bytes = source.as_bytes().to_vec();
    let mut statements = Vec::new();
    let mut errors = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut start = 0;
    let mut statement_broken = false;
    let mut i = 0;
    let mut rescans = 0;
    let mut input_cache = (usize::MAX, false);
    let finish = |start: usize, end: usize, broken: bool, bytes: &[u8], statements: &mut Vec<Span>| {
        // A byte-order mark is whitespace too (the grammar skips it).
        let text = &bytes[start..end];
        let blank = text
            .strip_prefix("\u{FEFF}".as_bytes())
            .unwrap_or(text)
            .iter()
            .all(|b| b.is_ascii_whitespace());
        if !blank && !broken {
            statements.push(Span::new(start, end));
        }
    };
    loop {
        if i == bytes.len() {
            if stack.is_empty() {
                break;
            }
            // An unclosed bracket swallowed the rest of the file. Report it at the
            // outermost unclosed bracket, drop that statement, and lay out the
            // rest again from the line after that bracket. Bracket errors found
            // after it are forgotten: the new pass finds them again.
            let open = stack[0];
            errors.retain(|error: &Diagnostic| error.span.start < open);
            errors.push(unclosed(&bytes, open));
            stack.clear();
            rescans += 1;
            if rescans > MAX_RESCANS {
                statement_broken = true;
                start = bytes.len();
                break;
            }
            // Restore the newlines that were turned into spaces after the bracket.
            for (offset, byte) in source.as_bytes().iter().enumerate().skip(open) {
                if *byte == b'\n' && bytes[offset] == b' ' {
                    bytes[offset] = b'\n';
                }
            }
            match source[open..].find('\n') {
                Some(n) => {
                    start = open + n + 1;
                    statement_broken = false;
                    i = start;
                }
                None => {
                    start = bytes.len();
                    statement_broken = true;
                }
            }
            continue;
        }
        match bytes[i] {
            b'#' => {
                // Blank the comment up to (not including) the newline. Every byte
                // becomes a space, so multi-byte characters stay valid UTF-8 runs
                // of ASCII and offsets are unchanged.
                while i < bytes.len() && bytes[i] != b'\n' {
                    bytes[i] = b' ';
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => stack.push(i),
            c @ (b')' | b']' | b'}') => match stack.last() {
                // In an `input` statement `(` and `[` close each other: intervals
                // such as `(0, 1]` are half-open. The grammar checks them there.
                Some(&open)
                    if closer_of(bytes[open]) == c
                        || (bytes[open] != b'{' && c != b'}' && is_input(&mut input_cache, &bytes, start)) =>
                {
                    stack.pop();
                }
                // After the first bracket error of a statement the counting is
                // off (was `}` a typo for `)`, or one too many?), so later
                // closers of the same statement are not reported again.
                Some(&open) => {
                    if !statement_broken {
                        errors.push(
                            Diagnostic::error(
                                Code::Syntax,
                                format!("mismatched closing delimiter `{}`", c as char),
                                Span::new(i, i + 1),
                            )
                            .with_label("mismatched closing delimiter")
                            .with_secondary(Span::new(open, open + 1), "opening delimiter here")
                            .with_help(format!(
                                "close `{}` with `{}`",
                                bytes[open] as char,
                                closer_of(bytes[open]) as char
                            )),
                        );
                    }
                    stack.pop();
                    statement_broken = true;
                }
                None => {
                    if !statement_broken {
                        errors.push(
                            Diagnostic::error(
                                Code::Syntax,
                                format!("unexpected closing delimiter `{}`", c as char),
                                Span::new(i, i + 1),
                            )
                            .with_label("no opening delimiter matches this"),
                        );
                    }
                    statement_broken = true;
                }
            },
            // A statement at the start of the next line: the open
            // bracket was never closed. Report it and start a new statement.
            b'\n' if !stack.is_empty() && starts_statement(&bytes, i + 1) => {
                errors.push(unclosed(&bytes, stack[0]));
                stack.clear();
                start = i + 1;
                statement_broken = false;
            }
            b'\n' if !stack.is_empty() => bytes[i] = b' ',
            b'\n' | b';' => {
                finish(start, i, statement_broken, &bytes, &mut statements);
                statement_broken = false;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    finish(start, bytes.len(), statement_broken, &bytes, &mut statements);
    // Only ASCII bytes were written over ASCII or whole comment runs, and a
    // comment runs to a newline or the end, so the text is still UTF-8.
    let text = String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
    Layout {
        text,
        statements,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(src: &str) -> Vec<String> {
        let out = layout(src);
        out.statements
            .iter()
            .map(|s| out.text[s.start..s.end].trim().to_string())
            .collect()
    }

    #[test]
    fn splits_on_newlines_and_semicolons() {
        assert_eq!(
            pieces("let a = 1\nlet b = 2; loss = a\n\n"),
            ["let a = 1", "let b = 2", "loss = a"]
        );
    }

    #[test]
    fn brackets_continue_lines_and_comments_vanish() {
        let src = "loss = mean(  # a comment (with a bracket\n  y_pred)\n";
        let out = layout(src);
        assert_eq!(out.text.len(), src.len());
        assert_eq!(
            pieces(src),
            ["loss = mean(".to_string() + &" ".repeat(29) + "   y_pred)"]
        );
    }

    #[test]
    fn unclosed_bracket_points_at_opener_and_recovers() {
        let src = "loss = mean(square(y_pred)\nlet x = 1\n";
        let out = layout(src);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].span, Span::new(11, 12));
        assert_eq!(pieces(src), ["let x = 1"]);
    }

    #[test]
    fn mismatched_and_stray_closers() {
        let out = layout("loss = (y_pred]\nloss = y_pred)\nlet ok = 1");
        assert_eq!(out.errors.len(), 2);
        assert_eq!(pieces("loss = (y_pred]\nloss = y_pred)\nlet ok = 1"), ["let ok = 1"]);
    }

    #[test]
    fn unclosed_brackets_at_the_end_rescan_a_bounded_number_of_times() {
        let out = layout(&"(\n".repeat(100));
        assert_eq!(out.errors.len(), MAX_RESCANS + 1);
        assert!(out.statements.is_empty());
    }

    #[test]
    fn a_statement_keyword_ends_an_unclosed_bracket() {
        let src = "loss = f(y_pred,\n  # still inside\nlet a = 1\nwrt y_pred";
        let out = layout(src);
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].span, Span::new(8, 9));
        assert_eq!(pieces(src), ["let a = 1", "wrt y_pred"]);
    }

    #[test]
    fn a_statement_word_used_as_a_name_continues_a_bracket() {
        let src = "loss l = mean(\n  output\n  * loss)\nloss = f(y_pred,\nloss = 1\noutput o = f(\ninput x";
        let out = layout(src);
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
        assert_eq!(
            pieces(src),
            [
                "loss l = mean(   output   * loss)".to_string(),
                "loss = 1".to_string(),
                "input x".to_string()
            ]
        );
    }

    #[test]
    fn half_open_intervals_only_in_inputs() {
        assert!(layout("input x: (0, 1] [N]\ninput y: [0, 1) [N]").errors.is_empty());
        assert_eq!(layout("loss = (a]").errors.len(), 1);
        assert_eq!(layout("input x: (0, 1}").errors.len(), 1);
    }

    #[test]
    fn multibyte_comment_keeps_offsets() {
        let src = "# é ü\nloss = y_pred";
        let out = layout(src);
        assert_eq!(out.text.len(), src.len());
        assert_eq!(pieces(src), ["loss = y_pred"]);
    }
}
