//! The "double where" trap: framework autodiff multiplies the gradient of the
//! branch a selection does not take by 0, and `0 * inf` is NaN where lossc's
//! own gradient is finite.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_ir::{Builtin, NodeId, Op};

use super::{Case, Subject, when_clause, with_case, witness_of};
use crate::witness::Search;

/// The span of a forward selection (`where`, `maximum`, ...) whose mask feeds
/// `node`, the place framework autodiff produced `0 * inf`.
pub(super) fn selecting_mask(subject: &Subject<'_>, node: NodeId) -> Option<Span> {
    let program = &subject.program;
    let mut stack = vec![(node, 0)];
    let mut seen: HashSet<NodeId> = HashSet::new();
    while let Some((n, depth)) = stack.pop() {
        let current = program.node(n);
        if n != node
            && let Op::Call(Builtin::Where, _) = current.op
            && subject.is_gradient(n)
        {
            let span = current.span;
            let selects = program.nodes[..subject.first_gradient].iter().any(|f| {
                f.span == span
                    && matches!(
                        f.op,
                        Op::Call(
                            Builtin::Where
                                | Builtin::Maximum
                                | Builtin::Minimum
                                | Builtin::Clip
                                | Builtin::Relu
                                | Builtin::Abs,
                            _
                        )
                    )
            });
            if selects {
                return Some(span);
            }
        }
        if depth < 64 && seen.insert(n) {
            stack.extend(current.args.iter().map(|a| (*a, depth + 1)));
        }
    }
    None
}

pub(super) fn where_trap(
    subject: &Subject<'_>,
    search: &Search<'_>,
    selection: Span,
    lossc_root: NodeId,
    fw_root: NodeId,
    when_case: &Case,
) -> Option<Diagnostic> {
    let text = subject.text(selection);
    let op = text.split('(').next().unwrap_or("where").trim().to_string();
    // A warning about the frameworks needs a point where they give NaN and lossc does not.
    let (point, _) = search.find(&[fw_root, lossc_root], |v| {
        v[0].iter().any(|x| x.is_nan()) && v[1].iter().all(|x| x.is_finite())
    })?;
    let at = when_clause(search, &point, &[fw_root, lossc_root]);
    let witness_text = at.text.replacen(" when ", " at ", 1);
    let witness_values = witness_of(&subject.program, at.values, when_case);
    Some(Diagnostic::warning(
        Code::WhereNanGradient,
        with_case(
            format!("framework autodiff of this `{op}` gives a NaN gradient{witness_text}, although lossc's gradient is finite"),
            when_case,
        ),
        selection,
    )
    .with_label("the branch it does not select has an infinite derivative, and 0 * inf = NaN")
    .with_note("JAX, PyTorch and TensorFlow multiply the unselected branch's gradient by 0; lossc's own gradient and `lossc emit` do not")
    .with_help("guard the branch's input as well (the \"double where\"), e.g. `where(x > 0, log(where(x > 0, x, 1)), 0)`")
    .with_witness(witness_values))
}
