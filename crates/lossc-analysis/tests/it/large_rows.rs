//! Declared sizes never cost memory: a row of 2^32 classes is judged by its
//! intervals (no point is evaluated), and a row of 50257 with fewer points.

use lossc_analysis::{Code, Options, analyze};

fn check(classes: u64) -> Vec<lossc_analysis::Diagnostic> {
    let source = format!(
        "input y_true: [0, 1] [N, {classes}]\ninput y_pred: [0, 1] [N, {classes}]\n\
         loss l = mean(sum(-y_true * log(y_pred), axis=-1))\n"
    );
    let ast = lossc_syntax::parse(&source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    let (program, _) = lossc_ir::lower(&ast, &source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    analyze(&program, &source, &Options::default())
}

#[test]
fn a_huge_row_is_judged_by_its_intervals() {
    // A row of 2^30 classes (the front end refuses fixed sizes past 2^31 - 1
    // with `size-limit`; 2^32 aborted here at once, allocating per sample).
    let small = check(10);
    let huge = check(1 << 30);
    for found in [&small, &huge] {
        let log = found.iter().find(|d| d.code == Code::LogDomain);
        assert!(log.is_some(), "{found:#?}");
    }
    // At the same place: `log(y_pred)` (the sources differ in the size only).
    let width = |found: &[lossc_analysis::Diagnostic]| {
        found
            .iter()
            .find(|d| d.code == Code::LogDomain)
            .map(|d| d.span.end - d.span.start)
    };
    assert_eq!(width(&small), Some("log(y_pred)".len()));
    assert_eq!(width(&huge), Some("log(y_pred)".len()));
}
