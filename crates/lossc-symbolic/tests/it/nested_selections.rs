//! Gradients through deeply nested selections: built in work linear in the
//! nesting (the guarded terms of an adjoint are bounded), equal to the
//! hand-derived chain rule, and still passing nothing from a branch not taken.

use lossc_ir::{Program, Var};
use lossc_symbolic::gradient;
use ndarray::{ArrayD, IxDyn};

fn program(source: &str) -> Program {
    let ast = lossc_syntax::parse(source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
    lossc_ir::lower(&ast, source)
        .unwrap_or_else(|e| panic!("{source}\n{e:#?}"))
        .0
}

/// `let a{i} = STEP(a{i-1})` for `depth` lines, `loss l = sum(a{depth})`.
fn chain(depth: usize, step: &str) -> String {
    let mut source = String::from("input y_pred: real [N]\nlet a0 = y_pred\n");
    for i in 1..=depth {
        source.push_str(&format!("let a{i} = {}\n", step.replace('A', &format!("a{}", i - 1))));
    }
    source.push_str(&format!("loss l = sum(a{depth})\n"));
    source
}

/// The gradient of the loss of `source` at `points`, with the number of
/// nodes the gradient added to the program.
fn gradient_at(source: &str, points: &[f64]) -> (Vec<f64>, usize) {
    let mut p = program(source);
    let root = p.results[0].root;
    let before = p.nodes.len();
    let g = gradient(&mut p, root, Var::Input(0)).expect("the loss reads y_pred");
    let added = p.nodes.len() - before;
    let y = ArrayD::from_shape_vec(IxDyn(&[points.len()]), points.to_vec()).unwrap();
    let bindings = lossc_reference::Bindings::new(&p, [("y_pred", y)]).unwrap();
    let out = lossc_reference::eval(&p, &[g], &bindings).unwrap();
    let values = out[0]
        .broadcast(IxDyn(&[points.len()]))
        .unwrap()
        .iter()
        .copied()
        .collect();
    (values, added)
}

const SQUARE_OR_FLIP: &str = "where(A > 0, A * A, -A)";

#[test]
fn nested_selections_build_a_gradient_linear_in_their_depth() {
    // Each `where` used to double the guarded terms of every adjoint below
    // it: 2^12 terms for 12 lines, 2^100 for 100.
    for depth in [12, 40, 100] {
        let (_, added) = gradient_at(&chain(depth, SQUARE_OR_FLIP), &[0.5]);
        assert!(added <= 40 * depth, "depth {depth}: {added} gradient nodes");
    }
    let maximum = "maximum(A, -A) * minimum(A, 1)";
    for depth in [12, 40, 100] {
        let (_, added) = gradient_at(&chain(depth, maximum), &[0.5]);
        assert!(added <= 60 * depth, "depth {depth}: {added} gradient nodes");
    }
}

#[test]
fn merged_guards_give_the_chain_rule() {
    // d a_i / d a_{i-1} = 2 a_{i-1} where a_{i-1} > 0, else -1: the product
    // along the chain, computed here directly.
    let depth = 12;
    let points = [-1.04, -0.97, -0.3, 0.2, 0.9, 1.03, 1.01, -1.0];
    let (symbolic, _) = gradient_at(&chain(depth, SQUARE_OR_FLIP), &points);
    for (&y, &got) in points.iter().zip(&symbolic) {
        let (mut a, mut d) = (y, 1.0);
        for _ in 0..depth {
            if a > 0.0 {
                d *= 2.0 * a;
                a *= a;
            } else {
                d *= -1.0;
                a = -a;
            }
        }
        assert!(
            (got - d).abs() <= 1e-12 * d.abs(),
            "at y_pred = {y}: {got}, the chain rule gives {d}"
        );
    }
}

#[test]
fn merged_guards_pass_nothing_from_a_branch_not_taken() {
    // At 0 every level takes `A * A`; `sqrt(-A)`, not taken, has an infinite
    // derivative there. lossc's convention: it contributes nothing.
    let source = chain(12, "where(A >= 0, A * A, sqrt(-A))");
    let (symbolic, _) = gradient_at(&source, &[0.0, 0.5, -0.25]);
    assert_eq!(symbolic[0], 0.0, "{symbolic:?}");
    assert!(symbolic.iter().all(|g| g.is_finite()), "{symbolic:?}");
}
