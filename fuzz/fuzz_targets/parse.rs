//! Feeds arbitrary UTF-8 to `lossc_syntax::parse`: it must never panic,
//! overflow the stack or hang, and every span it returns must lie inside the
//! input on char boundaries. `tests/it/no_panic.rs` in the syntax crate checks
//! the same with proptest on every `cargo test`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lossc_syntax::Span;

fn check(src: &str, span: Span) {
    assert!(span.start <= span.end && span.end <= src.len(), "{span:?} is outside the input");
    assert!(src.is_char_boundary(span.start) && src.is_char_boundary(span.end), "{span:?} splits a character");
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match lossc_syntax::parse(src) {
        Ok(program) => {
            for statement in &program.statements {
                check(src, statement.span);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in &errors {
                assert_eq!(error.code, lossc_syntax::Code::Syntax);
                check(src, error.span);
                for label in &error.secondary {
                    check(src, label.span);
                }
            }
        }
    }
});
