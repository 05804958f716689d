//! `parse` never panics, never overflows the stack, and every span it returns
//! lies inside the input on char boundaries: for arbitrary bytes, for random
//! sequences of the language's tokens, for edits of valid programs, and for
//! pathologically deep or long input.

use std::time::{Duration, Instant};

use lossc_syntax::ast::{Expr, ExprKind, Program, StatementKind};
use lossc_syntax::{Code, Span, parse};
use proptest::prelude::*;

use crate::tokens::{PROGRAMS, edited_program, token_soup};

/// Checks every span that `parse` returned for `src`.
fn check_spans(src: &str) {
    match parse(src) {
        Ok(program) => check_program(src, &program),
        Err(errors) => {
            assert!(!errors.is_empty(), "an error result holds at least one diagnostic");
            for error in &errors {
                assert_eq!(error.code, Code::Syntax);
                check_span(src, error.span);
                for label in &error.secondary {
                    check_span(src, label.span);
                }
                if let Some(fix) = &error.fix {
                    check_span(src, fix.span);
                }
            }
        }
    }
}

#[track_caller]
fn check_span(src: &str, span: Span) {
    assert!(span.start <= span.end, "{span:?} is reversed in {src:?}");
    assert!(span.end <= src.len(), "{span:?} ends after the input {src:?}");
    assert!(
        src.is_char_boundary(span.start) && src.is_char_boundary(span.end),
        "{span:?} splits a character in {src:?}"
    );
}

fn check_program(src: &str, program: &Program) {
    for statement in &program.statements {
        check_span(src, statement.span);
        match &statement.kind {
            StatementKind::Input { name, domain, shape } => {
                check_span(src, name.span);
                check_span(src, domain.span);
                for dim in shape.iter().flat_map(|shape| &shape.dims) {
                    check_span(src, dim.span());
                }
            }
            StatementKind::Param { name, value } | StatementKind::Const { name, value } => {
                check_span(src, name.span);
                check_span(src, value.span);
            }
            StatementKind::Let { name, value }
            | StatementKind::Output { name, value }
            | StatementKind::Def { name, body: value, .. } => {
                check_span(src, name.span);
                check_expr(src, value);
            }
            StatementKind::Loss { value, .. } => check_expr(src, value),
            StatementKind::Wrt { names } => names.iter().for_each(|name| check_span(src, name.span)),
        }
    }
}

fn check_expr(src: &str, expr: &Expr) {
    check_span(src, expr.span);
    match &expr.kind {
        ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
        ExprKind::Unary { op_span, operand, .. } => {
            check_span(src, *op_span);
            check_expr(src, operand);
        }
        ExprKind::Binary { op_span, lhs, rhs, .. } => {
            check_span(src, *op_span);
            check_expr(src, lhs);
            check_expr(src, rhs);
        }
        ExprKind::Call { callee, args } => {
            check_span(src, callee.span);
            for arg in args {
                check_expr(src, &arg.value);
            }
        }
        ExprKind::Paren(inner) => check_expr(src, inner),
        ExprKind::Tuple(items) => items.iter().for_each(|item| check_expr(src, item)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_spans(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_strings_never_panic(src in "\\PC{0,200}") {
        check_spans(&src);
    }

    #[test]
    fn token_soups_never_panic(src in token_soup()) {
        check_spans(&src);
    }

    #[test]
    fn edited_programs_never_panic(src in edited_program()) {
        check_spans(&src);
    }
}

#[test]
fn the_mutation_corpus_is_valid() {
    for program in PROGRAMS {
        assert!(parse(program).is_ok(), "{program}: {:#?}", parse(program));
    }
}

// ------------------------------------------------------------ deep input

/// Parses `src` on a thread with a 2 MiB stack (the default for spawned
/// threads and for test threads) and returns the first error message, or
/// `None` if it parsed. A stack overflow aborts the whole test binary.
fn parse_on_small_stack(src: String) -> (Option<String>, Duration) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let started = Instant::now();
            let result = parse(&src);
            let elapsed = started.elapsed();
            if let Err(errors) = &result {
                for error in errors {
                    check_span(&src, error.span);
                }
            }
            // Dropping a deep tree recurses too; time and stack include it.
            let message = result.err().map(|errors| errors[0].message.clone());
            (message, elapsed)
        })
        .expect("spawn a parser thread")
        .join()
        .expect("the parser thread does not panic")
}

/// A guard against runaway (quadratic or exponential) parsing, not a speed
/// target: an input here takes well under a second in debug on an idle
/// machine, so only a pathological parser gets near this bound, even on a
/// loaded CI machine. Speed is measured by benchmarks, never here.
const RUNAWAY: Duration = Duration::from_secs(120);

/// `src` fails with `message` (or parses if `None`), without running away.
#[track_caller]
fn check_deep(what: &str, src: String, message: Option<&str>) {
    let (result, elapsed) = parse_on_small_stack(src);
    assert_eq!(result.as_deref(), message, "{what}");
    assert!(elapsed < RUNAWAY, "{what} took {elapsed:?}");
}

const TOO_NESTED: Option<&str> = Some("expression nested more than 128 levels deep");
const TOO_DEEP: Option<&str> = Some("expression more than 256 operations deep");
const HUGE: usize = 100_000;

#[test]
fn deep_nesting_is_refused_without_overflow() {
    check_deep(
        "nested parentheses",
        format!("loss = {}y{}", "(".repeat(HUGE), ")".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep(
        "nested calls",
        format!("loss = {}y{}", "f(".repeat(HUGE), ")".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep(
        "nested keyword arguments",
        format!("loss = {}y{}", "f(1, axis=".repeat(HUGE), ")".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep(
        "nested tuples",
        format!("loss = {}y{}", "f(a=(1, ".repeat(HUGE), "))".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep("unary minus", format!("loss = {}y", "-".repeat(HUGE)), TOO_NESTED);
    check_deep(
        "spaced unary minus",
        format!("loss = {}y", "- ".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep("not", format!("loss = {}y", "not ".repeat(HUGE)), TOO_NESTED);
    check_deep(
        "mixed prefixes",
        format!("loss = {}y", "- not ".repeat(HUGE / 2)),
        TOO_NESTED,
    );
    check_deep("power chain", format!("loss = y{}", "^y".repeat(HUGE)), TOO_NESTED);
    check_deep(
        "negated powers",
        format!("loss = 2{}", " ^ -2".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep(
        "prefixes in brackets",
        format!("loss = {}y{}", "-(not ".repeat(HUGE), ")".repeat(HUGE)),
        TOO_NESTED,
    );
    check_deep("sum chain", format!("loss = 1{}", "+1".repeat(HUGE)), TOO_DEEP);
    check_deep("product chain", format!("loss = y{}", " * y".repeat(HUGE)), TOO_DEEP);
    check_deep("and chain", format!("loss = a{}", " and a".repeat(HUGE)), TOO_DEEP);
    check_deep(
        "unclosed brackets",
        format!("loss = {}", "(".repeat(HUGE)),
        Some("unclosed delimiter `(`"),
    );
    check_deep(
        "stray closers",
        format!("loss = y{}", ")".repeat(HUGE)),
        Some("unexpected closing delimiter `)`"),
    );
}

#[test]
fn long_flat_input_parses() {
    // 10,000 terms is far past the tree-depth limit: refused, quickly.
    check_deep("10,000 terms", format!("loss = 1{}", "+1".repeat(10_000)), TOO_DEEP);
    // Wide is fine: many arguments, many elements, many statements.
    check_deep("wide call", format!("loss = f(y{})", ", y".repeat(HUGE)), None);
    check_deep("long vector", format!("const w = [1{}]", ", 2.5".repeat(HUGE)), None);
    check_deep("long set", format!("input x: {{0{}}}", ", 1".repeat(HUGE)), None);
    check_deep("many statements", "let a = 1\n".repeat(HUGE), None);
    check_deep("many statements on one line", "let a = 1; ".repeat(HUGE), None);
    check_deep("a long name", format!("loss = {}", "y".repeat(HUGE)), None);
    check_deep("a long comment", format!("# {}\nloss = y", "(".repeat(HUGE)), None);
    check_deep(
        "a balanced tree",
        // Height 31, 2^15 leaves: deep trees are refused, big ones are not.
        format!(
            "loss = {}",
            (0..15).fold("y".to_string(), |tree, _| format!("({tree} + {tree})"))
        ),
        None,
    );
}

#[test]
fn many_unclosed_lines_take_linear_time() {
    // Each unclosed bracket swallows the rest of the file and is recovered
    // from by laying the rest out again; that is bounded.
    let (message, elapsed) = parse_on_small_stack("loss = f(\n".repeat(HUGE));
    assert_eq!(message.as_deref(), Some("unclosed delimiter `(`"));
    assert!(elapsed < RUNAWAY, "took {elapsed:?}");
    let (message, elapsed) = parse_on_small_stack("(\n".repeat(HUGE));
    assert_eq!(message.as_deref(), Some("unclosed delimiter `(`"));
    assert!(elapsed < RUNAWAY, "took {elapsed:?}");
}

#[test]
fn nesting_at_the_limit_fits_a_small_stack() {
    // The costliest nesting per level, each just inside the limits.
    let at_limit = [
        format!("loss = {}y{}", "(".repeat(128), ")".repeat(128)),
        format!("loss = {}y{}", "f(".repeat(128), ")".repeat(128)),
        format!("loss = {}y{}", "f(1, axis=".repeat(128), ")".repeat(128)),
        format!("loss = {}y{}", "f(a=(1, ".repeat(64), "))".repeat(64)),
        format!("loss = {}y{}", "-(".repeat(64), ")".repeat(64)),
        format!("loss = {}y", "not ".repeat(128)),
        format!("loss = y{}", "^y".repeat(128)),
        format!("loss = y{}", " + y".repeat(255)),
        format!("loss = {}y{}", "(y + ".repeat(127), ")".repeat(127)),
    ];
    for src in at_limit {
        let (message, _) = parse_on_small_stack(src.clone());
        assert_eq!(message, None, "{src}");
    }
}
