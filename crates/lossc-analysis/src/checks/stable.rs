//! Stable forms: `log(1 + exp(x))`, `log(sigmoid(x))`, `exp(x) - 1` and the
//! like, which a stable built-in computes better, with the fix.

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::{Builtin, Dtype, NodeId, Op};

use super::{Subject, analysis};
use crate::interval::Iv;

/// Below this magnitude, rounding `1 + x` drops more than four of `x`'s low bits.
const SMALL: f64 = 1.0 / 16.0;

/// Expressions a stable built-in computes better, with the proven-equal fix.
pub(super) fn stable_forms(subject: &Subject<'_>, out: &mut Vec<Diagnostic>) {
    let program = &subject.program;
    let used = program.reachable(&[subject.root]);
    let is = |n: NodeId, b: Builtin| matches!(program.node(n).op, Op::Call(x, _) if x == b);
    let literal = |n: NodeId, v: f64| matches!(program.node(n).op, Op::Literal(x) if x == v);
    // `1 + x` and `exp(x) - 1` lose x's low bits only where x is small: more
    // than four of them below 1/16. Where x never gets there (a constant such as
    // `w / e` = 5, or an input bounded away from 0) the plain form is as good.
    let mut ranges = analysis(subject, &vec![None; program.inputs.len()], f64::INFINITY);
    let mut can_be_small = |n: NodeId| {
        let v = ranges.value(n);
        !v.meet(Iv::new(-SMALL, SMALL)).is_empty()
    };
    for (i, node) in program.nodes[..subject.first_gradient].iter().enumerate() {
        if !used[i] {
            continue;
        }
        let Op::Call(builtin, _) = node.op else { continue };
        let arg = |k: usize| node.args[k];
        let found: Option<(String, &str, &str)> = match builtin {
            Builtin::Log if is(arg(0), Builtin::Add) => {
                let add = program.node(arg(0));
                let (one, other) = if literal(add.args[0], 1.0) {
                    (true, 1)
                } else if literal(add.args[1], 1.0) {
                    (true, 0)
                } else {
                    (false, 0)
                };
                if !one {
                    None
                } else if is(add.args[other], Builtin::Exp) {
                    let inner = subject.operand(add.args[other], 0);
                    Some((
                        format!("softplus({inner})"),
                        "`log(1 + exp(x))` overflows for large x",
                        "softplus",
                    ))
                } else if !can_be_small(add.args[other]) {
                    None
                } else {
                    let x = subject.operand(arg(0), other);
                    Some((
                        format!("log1p({x})"),
                        "`log(1 + x)` loses precision for small x",
                        "log-one-plus",
                    ))
                }
            }
            Builtin::Log if is(arg(0), Builtin::Sigmoid) => {
                let x = subject.operand(arg(0), 0);
                Some((
                    format!("log_sigmoid({x})"),
                    "`log(sigmoid(x))` is -inf once sigmoid rounds to 0",
                    "log-sigmoid",
                ))
            }
            Builtin::Log if is(arg(0), Builtin::Softmax) => {
                let x = subject.operand(arg(0), 0);
                Some((
                    format!("log_softmax({x})"),
                    "`log(softmax(x))` is -inf once a probability rounds to 0",
                    "log-softmax",
                ))
            }
            Builtin::Log if is(arg(0), Builtin::Cosh) => {
                let x = subject.operand(arg(0), 0);
                Some((
                    format!("abs({x}) + softplus(-2 * abs({x})) - log(2)"),
                    if subject.dtype == Dtype::F32 {
                        "`log(cosh(x))` overflows for |x| > 89.4 in f32"
                    } else {
                        "`log(cosh(x))` overflows for |x| > 710.5 in f64"
                    },
                    "",
                ))
            }
            Builtin::Sub
                if is(arg(0), Builtin::Exp) && literal(arg(1), 1.0) && can_be_small(program.node(arg(0)).args[0]) =>
            {
                let x = subject.operand(arg(0), 0);
                Some((
                    format!("expm1({x})"),
                    "`exp(x) - 1` loses precision for small x",
                    "exp-minus-one",
                ))
            }
            Builtin::Neg
            | Builtin::Add
            | Builtin::Sub
            | Builtin::Mul
            | Builtin::Div
            | Builtin::Pow
            | Builtin::Eq
            | Builtin::Ne
            | Builtin::Lt
            | Builtin::Le
            | Builtin::Gt
            | Builtin::Ge
            | Builtin::And
            | Builtin::Or
            | Builtin::Not
            | Builtin::Abs
            | Builtin::Sign
            | Builtin::Exp
            | Builtin::Expm1
            | Builtin::Log
            | Builtin::Log1p
            | Builtin::Log2
            | Builtin::Log10
            | Builtin::Sqrt
            | Builtin::Square
            | Builtin::Sin
            | Builtin::Cos
            | Builtin::Tan
            | Builtin::Atan
            | Builtin::Asin
            | Builtin::Acos
            | Builtin::Tanh
            | Builtin::Cosh
            | Builtin::Erf
            | Builtin::Erfc
            | Builtin::Sigmoid
            | Builtin::LogSigmoid
            | Builtin::Softplus
            | Builtin::Relu
            | Builtin::Floor
            | Builtin::Ceil
            | Builtin::Round
            | Builtin::StopGradient
            | Builtin::Float
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
            | Builtin::Sum
            | Builtin::Mean
            | Builtin::Max
            | Builtin::Min
            | Builtin::Logsumexp
            | Builtin::Norm
            | Builtin::Softmax
            | Builtin::LogSoftmax
            | Builtin::Take
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims => None,
        };
        let Some((replacement, why, rule)) = found else {
            continue;
        };
        let proof = if rule.is_empty() {
            "equal for every real x".to_string()
        } else {
            format!("proven equal by the rewrite rule `{rule}`")
        };
        out.push(
            Diagnostic::warning(Code::PrecisionLoss, format!("{why}: use `{replacement}`"), node.span)
                .with_label("computed in an unstable form")
                .with_note(proof)
                .with_help(format!("replace with `{replacement}`"))
                .with_fix(node.span, replacement),
        );
    }
}
