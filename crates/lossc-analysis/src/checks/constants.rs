//! Constants that vanish or change in the dtype (`1 - 1e-8` is 1 in f32).

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::{Builtin, Dtype, NodeId, Op, Program};

use super::domain::constant_value;
use crate::absint::{Analysis, Leaves};
use crate::interval::Iv;
use lossc_ir::format_number;

/// Constants that vanish or change in the dtype: `1 - 1e-8` is exactly 1 in
/// f32, and `1e-50` is 0 there.
pub fn constants(program: &Program, source: &str, dtype: Dtype, out: &mut Vec<Diagnostic>) {
    out_of_range(program, source, dtype, out);
    let leaves = Leaves::new(program, dtype, vec![Iv::ALL; program.inputs.len()]);
    let mut a = Analysis::new(program, dtype, leaves);
    for (i, node) in program.nodes.iter().enumerate() {
        let Op::Call(builtin @ (Builtin::Add | Builtin::Sub), _) = node.op else {
            continue;
        };
        let id = NodeId(i as u32);
        let x = a.value(node.args[0]);
        let y = a.value(node.args[1]);
        let (Some(xv), Some(yv)) = (x.is_point(), y.is_point()) else {
            continue;
        };
        let result = a.value(id);
        let Some(rv) = result.is_point() else { continue };
        let vanished = if rv == xv && yv != 0.0 {
            Some(yv)
        } else if rv == yv && xv != 0.0 && builtin == Builtin::Add {
            Some(xv)
        } else {
            None
        };
        let Some(small) = vanished else { continue };
        let text = source.get(node.span.start..node.span.end).unwrap_or("");
        let suggestion = match dtype {
            Dtype::F32 => "1e-7 (Keras's epsilon) survives next to 1 in f32, whose gap below 1 is 6e-8",
            Dtype::F64 => "1e-15 is about the smallest that survives next to 1 in f64",
        };
        out.push(
            Diagnostic::warning(
                Code::PrecisionLoss,
                format!(
                    "`{text}` is exactly {} in {dtype}: {} vanishes",
                    format_number(rv, dtype),
                    format_number(small.abs(), dtype)
                ),
                node.span,
            )
            .with_label(format!("rounds to {}", format_number(rv, dtype)))
            .with_note(
                "a clip to [eps, 1 - eps] with a vanished eps lets probabilities reach 1, and log(1 - p) reach -inf",
            )
            .with_help(format!("use a larger constant: {suggestion}")),
        );
    }
}

/// A number written in the program that the dtype cannot hold: not 0 but
/// rounding to 0 (`1e-50` in f32: an epsilon that guards nothing), or finite
/// but rounding to an infinity (`1e39` in f32). Each place it is written,
/// once.
fn out_of_range(program: &Program, source: &str, dtype: Dtype, out: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::HashSet::new();
    for (i, node) in program.nodes.iter().enumerate() {
        let Some(value) = constant_value(program, NodeId(i as u32)) else {
            continue;
        };
        let rounded = dtype.round(value);
        let (becomes, limit, help) = if value != 0.0 && rounded == 0.0 {
            (
                "0",
                format!(
                    "the smallest positive {dtype} is {}",
                    format_number(dtype.min_positive_subnormal(), dtype)
                ),
                match dtype {
                    Dtype::F32 => "as an epsilon, use one the dtype holds: 1e-7 (Keras's) in f32",
                    Dtype::F64 => "as an epsilon, use one the dtype holds: 1e-15 in f64",
                },
            )
        } else if value.is_finite() && rounded.is_infinite() {
            (
                "infinite",
                format!("the largest {dtype} is {}", lossc_ir::format_approx(dtype.max_finite())),
                "use a number the dtype holds, or compute in f64 (`--dtype f64`)",
            )
        } else {
            continue;
        };
        let text = source.get(node.span.start..node.span.end).unwrap_or("");
        if text.is_empty() || !seen.insert(node.span) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                Code::PrecisionLoss,
                format!("`{text}` is {becomes} in {dtype}: {limit}"),
                node.span,
            )
            .with_label(format!("rounds to {}", format_number(rounded, dtype)))
            .with_help(help),
        );
    }
}
