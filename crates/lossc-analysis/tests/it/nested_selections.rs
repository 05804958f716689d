//! The analyzer on nested selections: no panic whatever the nesting, and
//! bounded work on chains of `where`s that used to take exponential time.

use lossc_analysis::{Options, analyze};
use proptest::prelude::*;

fn check(source: &str) -> Vec<lossc_analysis::Diagnostic> {
    let ast = lossc_syntax::parse(source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    let (program, _) = lossc_ir::lower(&ast, source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    analyze(&program, source, &Options::default())
}

/// `let a{i} = STEP(a{i-1})` for `depth` lines, `loss l = mean(a{depth})`.
fn chain(depth: usize, step: &str) -> String {
    let mut source = String::from("input y_pred: real [N]\nlet a0 = y_pred\n");
    for i in 1..=depth {
        source.push_str(&format!("let a{i} = {}\n", step.replace('A', &format!("a{}", i - 1))));
    }
    source.push_str(&format!("loss l = mean(a{depth})\n"));
    source
}

#[test]
fn four_nested_clips_do_not_panic() {
    // The environments of a `where`'s branches were chosen twice, once to
    // evaluate them and once to read them; the budget on environments could
    // run out in between, and the read found nothing.
    let source = "input y_pred: real [N]\n\
        loss l = mean(clip(clip(clip(clip(y_pred, 0, 1) * y_pred, 0, 1) * y_pred, 0, 1) * y_pred, 0, 1))\n";
    let found = check(source);
    assert!(
        found.iter().any(|d| d.code == lossc_analysis::Code::NonSmooth),
        "{found:#?}"
    );
}

#[test]
fn chains_of_selections_are_analysed_in_bounded_work() {
    // 12 lines took 41 s and 40 lines over 40 minutes; the work is now bounded
    // (environments and evaluations per analysis), so these finish at all.
    for depth in [12, 40, 100] {
        check(&chain(depth, "where(A > 0, A * A, -A)"));
        check(&chain(depth, "maximum(A, -A) * minimum(A, 1)"));
    }
}

/// A random nesting of selections over `y_pred`.
fn selection() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![Just("y_pred".to_string()), Just("y_true".to_string())];
    leaf.prop_recursive(6, 64, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("clip({a}, 0, 1) * {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("where({a} > 0.5, {a} * {b}, -{b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("maximum({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("minimum({a}, 1) * {b}")),
            inner.clone().prop_map(|a| format!("abs({a} - 0.25)")),
            inner
                .clone()
                .prop_map(|a| format!("relu({a}) + log(clip({a}, 1e-7, 1))")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_nested_selections_never_panic(body in selection()) {
        let source = format!("input y_true: [0, 1] [N]\ninput y_pred: real [N]\nloss l = mean({body})\n");
        check(&source);
    }
}
