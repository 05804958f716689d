//! The front end against its catalogue of errors: every fixture in
//! `tests/data/err/` declares the diagnostics it must produce (code and line of
//! the primary span) in `# expect: CODE at LINE` comments; every fixture in
//! `tests/data/ok/` and every program in `examples/` must pass with no error.

use std::fs;
use std::path::{Path, PathBuf};

use lossc::{CheckOptions, Code, LineIndex, Severity};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn loss_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(workspace().join(dir))
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "loss"))
        .collect();
    files.sort();
    files
}

/// (code, line) of every error-severity diagnostic.
/// The codes of the front end (the analyzer's are tested in tests/analysis.rs).
const FRONT_END: &[Code] = &[
    Code::Syntax,
    Code::UnknownName,
    Code::Arity,
    Code::TypeMismatch,
    Code::ShapeMismatch,
    Code::BadAxis,
    Code::RecursiveDef,
    Code::LossShape,
    Code::DuplicateName,
    Code::BadDomain,
    Code::SizeLimit,
];

/// The front end's diagnostics of `source` (any severity).
fn front_end(source: &str) -> Vec<lossc::Diagnostic> {
    lossc::check(source, &CheckOptions::default())
        .expect("no options to reject")
        .into_iter()
        .filter(|d| FRONT_END.contains(&d.code))
        .collect()
}

fn errors(source: &str) -> Vec<(String, usize)> {
    let index = LineIndex::new(source);
    front_end(source)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code.as_str().to_string(), index.line_col(source, d.span.start).0))
        .collect()
}

#[test]
fn every_error_fixture_reports_exactly_what_it_expects() {
    let files = loss_files("tests/data/err");
    assert!(
        files.len() >= 20,
        "the error catalogue has only {} fixtures",
        files.len()
    );
    for file in files {
        let source = fs::read_to_string(&file).expect("fixture");
        let mut expected: Vec<(String, usize)> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("# expect:"))
            .map(|e| {
                let (code, line) = e.trim().split_once(" at ").expect("`# expect: CODE at LINE`");
                assert!(
                    Code::from_name(code.trim()).is_some(),
                    "{}: unknown code {code}",
                    file.display()
                );
                (code.trim().to_string(), line.trim().parse().expect("line number"))
            })
            .collect();
        assert!(!expected.is_empty(), "{} declares no `# expect:`", file.display());
        let mut found = errors(&source);
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "{}", file.display());
    }
}

#[test]
fn valid_fixtures_and_examples_pass_the_front_end() {
    let mut files = loss_files("tests/data/ok");
    files.extend(loss_files("examples"));
    assert!(files.len() >= 15);
    for file in files {
        let source = fs::read_to_string(&file).expect("fixture");
        let program = lossc::compile(&source).unwrap_or_else(|e| {
            let Error::Invalid(diagnostics) = &e else { panic!("{e}") };
            panic!("{}: {:#?}", file.display(), diagnostics)
        });
        assert!(program.losses().next().is_some(), "{} defines no loss", file.display());
    }
}

use lossc::Error;

#[track_caller]
fn check(source: &str, code: &str, line: usize) {
    let found = errors(source);
    assert!(
        found.contains(&(code.to_string(), line)),
        "expected {code} at line {line} in\n{source}\nfound {found:?}"
    );
}

#[track_caller]
fn ok(source: &str) {
    let found = errors(source);
    assert!(found.is_empty(), "expected no error in\n{source}\nfound {found:?}");
}

#[test]
fn the_issue_s_realistic_mistakes() {
    check("loss = mean(squre(y_true - y_pred))", "unknown-name", 1);
    check("input y_pred: [0, 1]\nloss = mean(y_pred, axis=2)", "bad-axis", 2);
    check(
        "input a: real [N, C]\ninput b: real [N, D]\nwrt a\nloss = mean(a - b)",
        "shape-mismatch",
        4,
    );
    check("loss = mean(y_pred > 0.5)", "type-mismatch", 1);
    check("loss = log()", "arity", 1);
    check("loss = mean(square(y_true - y_pred)", "syntax", 1);
    check("loss = mean(y_pred ^^ 2)", "syntax", 1);
    check("loss = mean(where(0 < y_pred < 1, y_pred, 0))", "syntax", 1);
}

#[test]
fn names_resolve_where_the_spec_says() {
    ok("loss = mean(square(y_true - y_pred))");
    ok("input y_pred: [0, 1] [N, C]\nloss = sum(y_pred) / N");
    ok("def f(x) = x * 2\nloss = mean(f(y_pred))");
    ok("def g(x) = f(x) + 1\ndef f(x) = x * 2\nloss = mean(g(y_pred))");
    ok("const eps = 1e-7\nlet e = 1 - eps\ndef safe(x) = clip(x, eps, e)\nloss = mean(-log(safe(y_pred)))");
    check("let a = b\nlet b = 1\nloss = mean(y_pred * a)", "unknown-name", 1);
    check("def f(x) = f(x)\nloss = mean(f(y_pred))", "recursive-def", 1);
    check(
        "def f(x) = g(x)\ndef g(x) = f(x) + 1\nloss = mean(y_pred)",
        "recursive-def",
        2,
    );
    check("let x = 1\nlet x = 2\nloss = mean(y_pred)", "duplicate-name", 2);
    check("loss = mean(y_pred * undefined_thing)", "unknown-name", 1);
    check("loss = mean(log + y_pred)", "unknown-name", 1);
    check("def f(x) = x\nloss = mean(f(y_pred, 1))", "arity", 2);
    check("loss = mean(y_pred, axes=0)", "arity", 1);
    check("wrt nothing\nloss = mean(y_pred)", "unknown-name", 1);
}

#[test]
fn types_keep_booleans_apart() {
    ok("loss = mean(where(y_true == 1, y_pred, 1 - y_pred))");
    ok("loss = mean(float(y_pred > 0.5 and y_true == 1) * y_pred)");
    ok("loss = mean(where(not (y_pred > 0.5), 0, y_pred))");
    check("loss = mean(where(y_true, y_pred, 0))", "type-mismatch", 1);
    check("loss = mean(float(y_pred))", "type-mismatch", 1);
    check("loss = mean(y_pred and y_true)", "type-mismatch", 1);
    check("loss = mean((y_pred > 0) < 1)", "type-mismatch", 1);
    check("loss = mean(-(y_pred > 0))", "type-mismatch", 1);
    check("loss = y_pred > 0.5", "type-mismatch", 1);
    check("loss = mean(not y_pred)", "type-mismatch", 1);
}

#[test]
fn shapes_broadcast_and_reduce() {
    ok(
        "input y_true: [0, 1] [N, C]\ninput y_pred: real [N, C]\nloss = mean(-sum(y_true * log_softmax(y_pred), axis=-1))",
    );
    ok("input y_true: [0, 1] [N, C]\ninput y_pred: real [N, C]\nloss = -sum(y_true * log_softmax(y_pred), axis=1)");
    ok("input y_pred: real [N, 3]\nparam w = [1.0, 2.0, 5.0]\nloss = mean(sum(w * y_pred, axis=-1))");
    ok("input y_pred: real [N, C]\nloss = mean(y_pred - max(y_pred, axis=-1, keepdims=true))");
    ok("input y_pred: real [N, C, D]\nloss = mean(sum(y_pred, axis=(1, 2)))");
    ok(
        "input y_true: {0..9}\ninput y_pred: real [N, 10]\nloss = mean(-sum(one_hot(y_true, 10) * log_softmax(y_pred), axis=-1))",
    );
    ok(
        "input y_true: {0..9}\ninput y_pred: real [N, C]\nloss = mean(-sum(one_hot(y_true, C) * log_softmax(y_pred), axis=-1))",
    );
    ok("input y_pred: real [N, 2]\nloss = mean(take(y_pred, 0) - take(y_pred, -1))");
    check(
        "input y_pred: real [N, C]\nloss = mean(y_pred - max(y_pred, axis=-1))",
        "shape-mismatch",
        2,
    );
    check(
        "input y_pred: real [N, 3]\nparam w = [1.0, 2.0]\nloss = mean(w * y_pred)",
        "shape-mismatch",
        3,
    );
    check(
        "input y_pred: real [N, C]\nloss = mean(y_pred, axis=(1, 1))",
        "bad-axis",
        2,
    );
    check("input y_pred: real [N, C]\nloss = mean(y_pred, axis=-3)", "bad-axis", 2);
    check("loss = mean(softmax(mean(y_pred)))", "bad-axis", 1);
    check("input y_pred: real [N, 2]\nloss = mean(take(y_pred, 2))", "bad-axis", 2);
    check(
        "input y_pred: real [N, C]\nloss = mean(one_hot(y_pred, C))",
        "type-mismatch",
        2,
    );
}

#[test]
fn a_loss_is_scalar_or_per_sample() {
    ok("loss = square(y_true - y_pred)");
    ok("input y_pred: real [N, C]\ninput y_true: real [N, C]\nloss = sum(square(y_true - y_pred), axis=-1)");
    check(
        "input y_pred: real [N, C]\ninput y_true: real [N, C]\nloss = square(y_true - y_pred)",
        "loss-shape",
        3,
    );
    check("input y_pred: real [N, 1]\nloss = y_pred * 2", "loss-shape", 2);
    check(
        "input y_pred: real [N, C]\nloss = mean(y_pred, axis=0)",
        "loss-shape",
        2,
    );
    ok("input y_pred: real [N, C]\noutput per_class = mean(y_pred, axis=0)\nloss = mean(y_pred)");
}

#[test]
fn domains_are_validated() {
    ok("input y_pred: (0, 1]\ninput y_true: {0, 1}\nloss = mean(-y_true * log(y_pred))");
    ok("input y_pred: [-inf, 0]\nloss = mean(exp(y_pred))");
    check("input y_pred: [1, 0]\nloss = mean(y_pred)", "bad-domain", 1);
    check("input y_pred: (0, 0)\nloss = mean(y_pred)", "bad-domain", 1);
}

#[test]
fn several_independent_errors_in_one_run() {
    let source = "let a = squre(y_pred)\nlet b = log()\nloss = mean(y_pred > 0)\n";
    let found = errors(source);
    assert_eq!(
        found,
        vec![
            ("unknown-name".into(), 1),
            ("arity".into(), 2),
            ("type-mismatch".into(), 3)
        ]
    );
    let syntax = "let a = (1\nlet b = 2 +\nloss = mean(y_pred)\n";
    assert_eq!(errors(syntax), vec![("syntax".into(), 1), ("syntax".into(), 2)]);
}

#[test]
fn the_n_by_n_broadcast_trap_is_a_warning() {
    let source = "input y_true: real [N, 1]\ninput y_pred: real [N]\nloss = mean(square(y_true - y_pred))";
    let diagnostics = front_end(source);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0].code, Code::ShapeMismatch);
    assert_eq!(diagnostics[0].severity, Severity::Warning);
    assert!(diagnostics[0].message.contains("[N, N]"), "{}", diagnostics[0].message);
    // A deliberate pairwise matrix, both operands expanded, is not flagged.
    let pairwise =
        "input y_pred: real [N]\nloss = mean(square(expand_dims(y_pred, axis=1) - expand_dims(y_pred, axis=0)))";
    assert!(front_end(pairwise).is_empty());
}
