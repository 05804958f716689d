//! The convention that an unselected argument contributes nothing to lossc's
//! own gradient, even NaN or infinity, held for every built-in of the table.
//!
//! For each built-in (iterated from `Builtin::ALL`, so a new one is covered
//! without editing this file; its signature decides how it is called), each
//! form of call and each argument made non-finite, the built-in sits in the
//! branch of a `where` that no element takes, with an argument that is NaN or
//! infinite (and whose derivative is NaN too). The gradient must be finite and
//! equal to the gradient of the same loss with that branch replaced by 0, in
//! the reference interpreter and in the fast evaluator.

use lossc::ir::{Builtin, Signature};
use lossc::{Dtype, EvalOptions, Program};
use lossc_kernel::Tensor;
use ndarray::{ArrayD, IxDyn};

/// Expressions of shape `[N, 3]` over `y_pred` in `(0, inf)` that are
/// non-finite at every element, with a non-finite derivative too.
const NON_FINITE: &[&str] = &[
    // NaN, and NaN derivative.
    "sqrt(-y_pred)",
    // inf, and derivative NaN.
    "y_pred / (y_pred - y_pred)",
];

/// The call of `builtin` with the arguments `args` (operators by symbol).
fn call(builtin: Builtin, args: &[String], keywords: &str) -> String {
    let spec = builtin.spec();
    if spec.callable {
        let mut all = args.to_vec();
        if !keywords.is_empty() {
            all.push(keywords.to_string());
        }
        return format!("{}({})", spec.name, all.join(", "));
    }
    let symbol = spec.symbol.expect("an operator has a symbol");
    match args {
        [a] => format!("({symbol} {a})"),
        [a, b] => format!("({a} {symbol} {b})"),
        _ => panic!("operator {} of arity {}", spec.name, args.len()),
    }
}

/// Every way this test calls `builtin` with the non-finite expression `bad`
/// somewhere in its arguments: each result broadcasts against `[N, 3]`.
fn forms(builtin: Builtin, bad: &str) -> Vec<String> {
    let spec = builtin.spec();
    let arity = spec.params.len();
    let finite = "y_pred".to_string();
    let bad = format!("({bad})");
    // Each argument non-finite in turn, then all of them.
    let placements = |make: &dyn Fn(usize) -> String| -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = (0..arity)
            .map(|k| (0..arity).map(|j| if j == k { bad.clone() } else { make(j) }).collect())
            .collect();
        out.push(vec![bad.clone(); arity]);
        out
    };
    match spec.signature {
        Signature::Elementwise => placements(&|_| finite.clone())
            .iter()
            .map(|args| call(builtin, args, ""))
            .collect(),
        Signature::Compare => placements(&|_| finite.clone())
            .iter()
            .map(|args| format!("float({})", call(builtin, args, "")))
            .collect(),
        Signature::Logic => {
            let positive = |e: &str| format!("({e} > 0)");
            placements(&|_| positive(&finite))
                .into_iter()
                .map(|args| {
                    let args: Vec<String> = args
                        .iter()
                        .map(|a| if *a == bad { positive(&bad) } else { a.clone() })
                        .collect();
                    format!("float({}) * {bad}", call(builtin, &args, ""))
                })
                .collect()
        }
        Signature::Where => vec![
            format!("where({bad} > 0, {bad}, {finite})"),
            format!("where({finite} > 0, {bad}, {finite})"),
            format!("where({finite} < 0, {finite}, {bad})"),
            format!("where({finite} > 1, {bad}, where({finite} > 2, {bad}, {bad}))"),
        ],
        Signature::Float => vec![format!("float({bad} > 0) * {bad}")],
        Signature::Reduce(_) => [
            "",
            "axis=0",
            "axis=1, keepdims=true",
            "axis=-1, keepdims=true",
            "keepdims=true",
        ]
        .iter()
        .map(|keywords| call(builtin, std::slice::from_ref(&bad), keywords))
        .collect(),
        Signature::AlongAxis(_) => ["", "axis=0", "axis=1"]
            .iter()
            .map(|keywords| call(builtin, std::slice::from_ref(&bad), keywords))
            .collect(),
        Signature::Take => vec![
            call(builtin, &[bad.clone(), "0".into()], "axis=0"),
            call(builtin, &[bad.clone(), "-1".into()], "axis=0"),
            format!("expand_dims({}, axis=1)", call(builtin, &[bad.clone(), "1".into()], "")),
        ],
        Signature::OneHot => vec![format!("{} * {bad}", call(builtin, &["y_true".into(), "3".into()], ""))],
        Signature::ExpandDims => vec![
            call(builtin, &[format!("sum({bad}, axis=1)")], "axis=1"),
            call(builtin, std::slice::from_ref(&bad), "axis=0"),
        ],
    }
}

/// The programs: `expr` in a branch that no element takes, in several
/// positions (alone, nested in another `where`, under a selected
/// `log_softmax`).
fn placements(expr: &str) -> Vec<String> {
    vec![
        format!("mean(where(y_pred > 0, square(y_pred), {expr}))"),
        format!("mean(where(y_pred > 0, square(y_pred), where(y_pred > 1, {expr}, 2 * {expr})))"),
        format!("mean(log_softmax(where(y_pred > 0, square(y_pred), {expr})))"),
    ]
}

fn program(body: &str) -> Program {
    let source = format!("input y_true: {{0..2}}\ninput y_pred: (0, inf) [N, 3]\nloss l = {body}\n");
    lossc::compile(&source).unwrap_or_else(|e| panic!("does not compile: {e}\n{source}"))
}

fn inputs() -> Vec<(String, ArrayD<f64>)> {
    let y_pred = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 0.5, 3.0, 0.25, 4.0]).unwrap();
    let y_true = ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.0, 2.0]).unwrap();
    vec![("y_true".into(), y_true), ("y_pred".into(), y_pred)]
}

/// The gradient wrt `y_pred` from the reference interpreter and from the fast evaluator.
fn gradients(program: &Program, dtype: Dtype) -> [ArrayD<f64>; 2] {
    let options = EvalOptions {
        dtype,
        grad: true,
        wrt: vec!["y_pred".into()],
        ..Default::default()
    };
    let data = inputs();
    let reference = program.eval(&data, &options).expect("the reference evaluates");
    let tensors: Vec<(&str, Tensor<'_>)> = data.iter().map(|(n, a)| (n.as_str(), Tensor::F64(a.view()))).collect();
    let fast = program
        .eval_fast(&tensors, &options)
        .expect("the fast evaluator evaluates");
    [reference.gradient[0].1.clone(), fast.gradient[0].1.clone()]
}

fn close(a: f64, b: f64, dtype: Dtype) -> bool {
    let tolerance = match dtype {
        Dtype::F64 => 1e-12,
        Dtype::F32 => 1e-5,
    };
    a.is_finite() && (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn no_built_in_leaks_a_non_finite_value_from_an_unselected_branch() {
    let mut cases = Vec::new();
    for &builtin in Builtin::ALL {
        for bad in NON_FINITE {
            for expr in forms(builtin, bad) {
                for (k, body) in placements(&expr).into_iter().enumerate() {
                    cases.push((builtin, k, body));
                }
            }
        }
    }
    // The gradients with the branch replaced by 0, one per placement.
    let expected: Vec<[ArrayD<f64>; 2]> = placements("0")
        .iter()
        .map(|body| gradients(&program(body), Dtype::F64))
        .collect();
    // Every case is independent: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(threads))
            .map(|chunk| {
                let expected = &expected;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for (builtin, k, body) in chunk {
                        let got = gradients(&program(body), Dtype::F64);
                        for (evaluator, (g, e)) in ["reference", "fast"].iter().zip(got.iter().zip(&expected[*k])) {
                            if !g.iter().zip(e.iter()).all(|(&a, &b)| close(a, b, Dtype::F64)) {
                                failures.push(format!(
                                    "{builtin} ({evaluator}): {body}\n    gradient {:?}, expected {:?}",
                                    g.iter().collect::<Vec<_>>(),
                                    e.iter().collect::<Vec<_>>()
                                ));
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect()
    });
    assert!(cases.len() > 300, "only {} programs", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} programs leak:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_softmax_in_a_branch_not_taken_gives_the_conventions_gradient() {
    // `where(y_pred > 0, y_pred, softmax(log(-y_pred)))`: the softmax is never
    // taken, so the gradient of the mean is 1/2 at both elements (JAX agrees).
    let source = "input y_pred: (0, inf)\nloss l = mean(where(y_pred > 0, y_pred, softmax(log(-y_pred))))\n";
    let program = lossc::compile(source).unwrap();
    let data = vec![("y_pred".to_string(), ndarray::arr1(&[1.0, 2.0]).into_dyn())];
    for dtype in [Dtype::F32, Dtype::F64] {
        let options = EvalOptions {
            dtype,
            grad: true,
            ..Default::default()
        };
        let reference = program.eval(&data, &options).unwrap();
        assert_eq!(reference.gradient[0].1.as_slice().unwrap(), [0.5, 0.5]);
        let tensors: Vec<(&str, Tensor<'_>)> = data.iter().map(|(n, a)| (n.as_str(), Tensor::F64(a.view()))).collect();
        let fast = program.eval_fast(&tensors, &options).unwrap();
        assert_eq!(fast.gradient[0].1.as_slice().unwrap(), [0.5, 0.5]);
    }
}
