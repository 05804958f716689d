//! The simplifier: one-line cases per rule family (as egg's `tests/math.rs`),
//! and every rule of the table checked numerically on both of its sides.

use lossc_ir::{NodeId, Program, ResultKind};
use lossc_symbolic::print;
use lossc_symbolic::simplify::{Limits, RULES, Stop, simplify};
use ndarray::{ArrayD, IxDyn};

const HEADER: &str = "input a: real [N]\ninput b: real [N]\ninput c: real [N]\ninput m: real [N, C]\n";

fn program(body: &str) -> Program {
    let source = format!("{HEADER}{body}");
    let ast = lossc_syntax::parse(&source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    lossc_ir::lower(&ast, &source)
        .unwrap_or_else(|e| panic!("{source}\n{e:#?}"))
        .0
}

/// Simplifies `expr`, checks that the result evaluates equal to it at points
/// of every sign and magnitude, and prints it.
fn simplified(expr: &str) -> String {
    let mut p = program(&format!("output r = {expr}"));
    let root = p.results[0].root;
    let (roots, report) = simplify(&mut p, &[root], Limits::default());
    assert_eq!(report.stop, Stop::Saturated, "{expr}: {report:?}");
    let (n, c) = (40, 3);
    let value = |k: usize| {
        let t = (k as f64 * 0.618_033_988_749_895).fract();
        (if k.is_multiple_of(2) { 1.0 } else { -1.0 }) * 10f64.powf(-2.0 + 4.0 * t)
    };
    let vector = |shift: usize| ArrayD::from_shape_fn(IxDyn(&[n]), |i| value(i[0] + shift));
    let matrix = ArrayD::from_shape_fn(IxDyn(&[n, c]), |i| value(3 * i[0] + i[1] + 5));
    let bindings = lossc_reference::Bindings::new(
        &p,
        [("a", vector(0)), ("b", vector(11)), ("c", vector(23)), ("m", matrix)],
    )
    .unwrap();
    let out = lossc_reference::eval(&p, &[root, roots[0]], &bindings).unwrap();
    for (before, after) in out[0].iter().zip(out[1].iter()) {
        if before.is_finite() && after.is_finite() {
            assert!(
                (before - after).abs() <= 1e-9 * before.abs().max(after.abs()) + 1e-12,
                "{expr}: {before} before simplification, {after} after"
            );
        }
    }
    print::expr(&p, roots[0])
}

#[track_caller]
fn check_simplifies(expr: &str, expected: &str) {
    assert_eq!(simplified(expr), expected, "simplifying {expr}");
}

#[test]
fn ring_identities() {
    check_simplifies("a * 1 + 0", "a");
    check_simplifies("a - 0", "a");
    check_simplifies("a / 1", "a");
    check_simplifies("-(-a)", "a");
    check_simplifies("a * b + a * c", "a * (b + c)");
    check_simplifies("-(a - b)", "b - a");
    check_simplifies("2 * 3 + 1", "7");
}

#[test]
fn powers_and_signs() {
    check_simplifies("a * a", "square(a)");
    check_simplifies("a ^ 2", "square(a)");
    check_simplifies("pow(a, 1)", "a");
    check_simplifies("a ^ 0.5", "sqrt(a)");
    check_simplifies("square(-a)", "square(a)");
    check_simplifies("abs(abs(-a))", "abs(a)");
    check_simplifies("sign(a) * abs(a)", "a");
}

#[test]
fn towards_the_stable_forms() {
    check_simplifies("log(exp(a))", "a");
    check_simplifies("log(1 + a)", "log1p(a)");
    check_simplifies("exp(a) - 1", "expm1(a)");
    check_simplifies("log(sigmoid(a))", "log_sigmoid(a)");
    check_simplifies("1 - sigmoid(a)", "sigmoid(-a)");
    check_simplifies("log(1 + exp(a))", "softplus(a)");
    check_simplifies("exp(a) / (1 + exp(a))", "sigmoid(a)");
    // Stable forms are never expanded.
    check_simplifies(
        "log1p(a) + softplus(b) + log_sigmoid(c)",
        "log1p(a) + softplus(b) + log_sigmoid(c)",
    );
}

#[test]
fn no_rule_removes_a_domain_hazard() {
    // Each of these is undefined or non-finite somewhere; no rule may hide it.
    check_simplifies("a / a", "a / a");
    check_simplifies("exp(log(a))", "exp(log(a))");
    check_simplifies("sqrt(a) ^ 2", "square(sqrt(a))");
    check_simplifies("0 * log(a)", "0 * log(a)");
}

#[test]
fn conditions() {
    check_simplifies("where(a > 0, b, b)", "b");
    check_simplifies("where(true, a, b)", "a");
    check_simplifies("where(false, a, b)", "b");
    check_simplifies("float(not not (a > b))", "float(a > b)");
}

#[test]
fn rewrites_never_change_a_shape() {
    // `where(true, 1, a)` has shape [N]: replacing it by the scalar 1 would
    // make the sum 1 instead of N.
    check_simplifies("sum(where(true, 1, a))", "sum(where(true, 1, a))");
    check_simplifies("where(a > 0, 2, 2)", "where(a > 0, 2, 2)");
    check_simplifies("sum(m * 1, axis=0) + 0", "sum(m, axis=0)");
}

#[test]
fn rules_with_axes() {
    check_simplifies("log(softmax(m))", "log_softmax(m, axis=1)");
    check_simplifies("exp(log_softmax(m, axis=0))", "softmax(m, axis=0)");
    check_simplifies("sum(-m / 4, axis=1)", "-(sum(m, axis=1) / 4)");
    check_simplifies(
        "mean(m * 2, axis=0, keepdims=true)",
        "2 * mean(m, axis=0, keepdims=true)",
    );
    // A divisor that varies along the reduced axis stays inside the sum.
    check_simplifies(
        "sum(m / take(m, 0, axis=0), axis=1)",
        "sum(m / take(m, 0, axis=0), axis=1)",
    );
}

#[test]
fn axes_and_keywords_print_back() {
    check_simplifies("sum(m, axis=-1, keepdims=true) * 1", "sum(m, axis=1, keepdims=true)");
    check_simplifies("log_softmax(m) + 0", "log_softmax(m, axis=1)");
    check_simplifies("take(m, -1) + 0", "take(m, -1, axis=1)");
}

/// Writes a rule pattern as a `.loss` expression over the inputs a, b, c.
/// `?c` stands for a condition in the rules on `where` and `not`.
fn to_source(pattern: &str, c_is_condition: bool) -> String {
    fn parse(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>, condition: bool) -> String {
        let token = tokens.next().expect("a token");
        if token != "(" {
            return match token.strip_prefix('?') {
                Some("c") if condition => "(c > 0)".to_string(),
                Some(var) => var.to_string(),
                None => token,
            };
        }
        let op = tokens.next().expect("an operator");
        let mut args = Vec::new();
        while tokens.peek().is_some_and(|t| t != ")") {
            args.push(parse(tokens, condition));
        }
        tokens.next();
        match (op.as_str(), args.as_slice()) {
            ("-", [x]) => format!("(-{x})"),
            ("not", [x]) => format!("(not {x})"),
            ("+" | "-" | "*" | "/" | "^", [x, y]) => format!("({x} {op} {y})"),
            (name, args) => format!("{name}({})", args.join(", ")),
        }
    }
    let spaced = pattern.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
    let mut tokens = tokens.into_iter().peekable();
    parse(&mut tokens, c_is_condition)
}

#[test]
fn every_rule_holds_numerically() {
    // Points of every magnitude and sign, but for `?c`, the conditions.
    let values: Vec<f64> = (0..400usize)
        .map(|k| {
            let t = (k as f64 * 0.618_033_988_749_895).fract();
            let magnitude = 10f64.powf(-3.0 + 6.0 * t);
            if k.is_multiple_of(2) { magnitude } else { -magnitude }
        })
        .collect();
    let n = values.len();
    let column = |shift: usize| {
        let v: Vec<f64> = (0..n).map(|k| values[(k + shift) % n]).collect();
        ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("a vector")
    };
    for (name, lhs, rhs) in RULES {
        let condition = name.starts_with("where") || name.starts_with("not");
        let (lhs, rhs) = (to_source(lhs, condition), to_source(rhs, condition));
        let boolean = lhs.starts_with("not") || lhs.starts_with("(not");
        let wrap = |e: &str| {
            if boolean {
                format!("float({e})")
            } else {
                format!("{e} + 0 * a")
            }
        };
        let source = format!(
            "input a: real [N]\ninput b: real [N]\ninput c: real [N]\noutput lhs = {}\noutput rhs = {}",
            wrap(&lhs),
            wrap(&rhs)
        );
        let ast = lossc_syntax::parse(&source).unwrap_or_else(|e| panic!("{name}: {source}\n{e:#?}"));
        let (program, _) = lossc_ir::lower(&ast, &source).unwrap_or_else(|e| panic!("{name}: {source}\n{e:#?}"));
        let roots: Vec<NodeId> = program
            .results
            .iter()
            .filter(|r| r.kind == ResultKind::Output)
            .map(|r| r.root)
            .collect();
        let bindings =
            lossc_reference::Bindings::new(&program, [("a", column(0)), ("b", column(7)), ("c", column(91))]).unwrap();
        let out = lossc_reference::eval(&program, &roots, &bindings).unwrap();
        let mut compared = 0;
        for (l, r) in out[0].iter().zip(out[1].iter()) {
            if l.is_finite() && r.is_finite() {
                compared += 1;
                assert!(
                    (l - r).abs() <= 1e-9 * l.abs().max(r.abs()).max(1e-300) + 1e-12,
                    "rule {name}: {lhs} = {l} but {rhs} = {r}"
                );
            }
        }
        assert!(compared >= 100, "rule {name} was compared at only {compared} points");
    }
}

#[test]
fn docs_list_every_rule() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/symbolic.md")).unwrap();
    for name in RULES
        .iter()
        .map(|r| r.0)
        .chain(lossc_symbolic::simplify::ATTR_RULES.iter().map(|r| r.0))
    {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/symbolic.md does not list rule {name}"
        );
    }
}

#[test]
fn a_simplified_program_can_be_differentiated_again() {
    // Simplification builds fresh leaf nodes; the gradient must find every
    // node of the variable. d/da of mean(square(a) + a) is (2a + 1) / N.
    let mut p = program("loss = mean(a * a + a)");
    let root = p.results[0].root;
    let (roots, _) = simplify(&mut p, &[root], Limits::default());
    let var = p.var("a").unwrap();
    let g = lossc_symbolic::gradient(&mut p, roots[0], var).expect("depends on a");
    let data = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.5, -2.0]).unwrap();
    let zero = ArrayD::zeros(IxDyn(&[2]));
    let m = ArrayD::zeros(IxDyn(&[2, 3]));
    let bindings =
        lossc_reference::Bindings::new(&p, [("a", data), ("b", zero.clone()), ("c", zero), ("m", m)]).unwrap();
    let out = lossc_reference::eval(&p, &[g], &bindings).unwrap();
    let got: Vec<f64> = out[0].iter().copied().collect();
    assert_eq!(got, [(2.0 * 1.5 + 1.0) / 2.0, (2.0 * -2.0 + 1.0) / 2.0]);
}
