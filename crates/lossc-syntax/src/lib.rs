//! The front end of lossc: `.loss` text in, an AST with byte spans out.
//!
//! **In:** the source text of a `.loss` file (docs/language.md).
//! **Out:** an [`ast::Program`], or every syntax error found, as
//! [`Diagnostic`]s with code `syntax`.
//! **Never:** resolves names, knows types, shapes or built-ins (that is
//! `lossc-ir`), prints, or panics on any input.
//!
//! Parsing runs in two steps. [`layout`] blanks comments, joins lines inside
//! open brackets and cuts the text into statements, keeping byte offsets;
//! then each statement is parsed on its own by the pest grammar in
//! `grammar/lossc.pest`, with a Pratt parser for operator precedence. Because
//! statements are parsed independently, one run reports a syntax error in
//! every broken statement, not only the first.
//!
//! Tests: unit tests beside the code; the precedence table, every statement
//! form and the error messages in `tests/it/parse.rs`; a proptest that no input
//! panics in `tests/it/no_panic.rs`; a cargo-fuzz target in `fuzz/`.
//!
//! ```
//! let program = lossc_syntax::parse("loss = mean(square(y_true - y_pred))").unwrap();
//! assert_eq!(program.statements.len(), 1);
//! ```

pub mod ast;
mod layout;
mod parser;

pub use lossc_diagnostics::{Code, Diagnostic, Span};

/// Parses a whole `.loss` file. On failure, returns every syntax error found,
/// sorted by position.
///
/// Never panics, whatever the input. Brackets and prefix operators nested
/// more than 128 deep, or an expression tree more than 256 levels tall (such
/// as a chain of 300 `+`), are `syntax` errors that suggest `let`.
pub fn parse(source: &str) -> Result<ast::Program, Vec<Diagnostic>> {
    parse_at(source, 0)
}

/// Parses `source` as the part of a larger file that starts at byte
/// `offset` of it, after a complete statement (a line appended to a REPL
/// session): every span, of the AST and of the errors, points into the whole
/// file. The work is that of `source` alone.
pub fn parse_at(source: &str, offset: usize) -> Result<ast::Program, Vec<Diagnostic>> {
    let layout = layout::layout(source);
    let mut errors: Vec<Diagnostic> = layout.errors.into_iter().map(|e| shifted(e, offset)).collect();
    let mut statements = Vec::with_capacity(layout.statements.len());
    // Set after a statement that ends with an operator at the end of its line:
    // the user meant the next line to continue it, so that line failing to be
    // a statement is a consequence, not a second error.
    let mut after_dangling = false;
    // Reserved words already reported: naming something `output` is one
    // mistake, however often the name is used afterwards.
    let mut reserved_reported: Vec<&str> = Vec::new();
    for span in layout.statements {
        let continuation = std::mem::take(&mut after_dangling);
        match parser::parse_statement(&layout.text[span.start..span.end], span.start + offset) {
            Ok(statement) => statements.push(statement),
            Err(failure) => {
                match failure.kind {
                    parser::FailureKind::NotAStatement if continuation => continue,
                    parser::FailureKind::ReservedWord => {
                        let at = failure.diagnostic.span;
                        let word = source
                            .get(at.start.saturating_sub(offset)..at.end.saturating_sub(offset))
                            .unwrap_or("");
                        if reserved_reported.contains(&word) {
                            continue;
                        }
                        reserved_reported.push(word);
                    }
                    parser::FailureKind::DanglingOperator => {
                        after_dangling = layout.text.as_bytes().get(span.end) == Some(&b'\n');
                    }
                    _ => {}
                }
                errors.push(*failure.diagnostic);
            }
        }
    }
    if errors.is_empty() {
        Ok(ast::Program { statements })
    } else {
        lossc_diagnostics::sort(&mut errors);
        Err(errors)
    }
}

/// `diagnostic` with every span moved `offset` bytes on.
fn shifted(mut diagnostic: Diagnostic, offset: usize) -> Diagnostic {
    let shift = |span: Span| Span {
        start: span.start + offset,
        end: span.end + offset,
    };
    diagnostic.span = shift(diagnostic.span);
    for label in &mut diagnostic.secondary {
        label.span = shift(label.span);
    }
    if let Some(fix) = &mut diagnostic.fix {
        fix.span = shift(fix.span);
    }
    diagnostic
}
