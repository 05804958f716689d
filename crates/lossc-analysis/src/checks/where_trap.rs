//! Framework-only NaN gradients. The "double where" trap: framework autodiff
//! multiplies the gradient of the branch a selection does not take by 0, and
//! `0 * inf` is NaN where lossc's own gradient is finite. And any other
//! `0 * inf` of the frameworks' gradient that lossc's does not have, such as
//! `sqrt(abs(e))` at `e = 0`, where PyTorch and TensorFlow multiply the
//! infinite slope of `sqrt` by `sign(0) = 0`.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_ir::{Builtin, NodeId, Op};

use super::{Case, Subject, per_sample_root, when_clause, with_case, witness_of};
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
                    && match f.op {
                        Op::Call(Builtin::Where | Builtin::Maximum | Builtin::Minimum | Builtin::Clip, _) => true,
                        // A kink of the table (`relu`, `abs`).
                        Op::Call(b, _) => b.kink_selection().is_some(),
                        _ => false,
                    }
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

/// The forward node a gradient node differentiates (the one with its span).
fn forward_of(subject: &Subject<'_>, node: NodeId) -> Option<NodeId> {
    let span = subject.program.node(node).span;
    subject.program.nodes[..subject.first_gradient]
        .iter()
        .position(|n| n.span == span && matches!(n.op, Op::Call(..)))
        .map(|i| NodeId(i as u32))
}

/// A NaN of the frameworks' gradient that no selection's mask explains:
/// `event` is a node of the frameworks' gradient (`fw_root`) that the
/// intervals see can be NaN. Returns the finding and the span of the
/// operation whose infinite derivative the `0 * inf` multiplies (the place a
/// `nan-gradient` warning without a witness would point at too).
pub(super) fn framework_nan(
    subject: &Subject<'_>,
    search: &Search<'_>,
    event: NodeId,
    lossc_root: NodeId,
    fw_root: NodeId,
    when_case: &Case,
) -> Option<(Diagnostic, Span)> {
    let program = &subject.program;
    let value = per_sample_root(subject);
    let roots = [fw_root, lossc_root, value, event];
    // A point where the frameworks give NaN through this node, and lossc a
    // finite gradient of a finite value.
    let (point, _) = search.find(&roots, |v| {
        v[3].iter().any(|x| x.is_nan())
            && v[0].iter().any(|x| x.is_nan())
            && v[1].iter().all(|x| x.is_finite())
            && v[2].iter().all(|x| x.is_finite())
    })?;
    let all: Vec<NodeId> = (0..=fw_root.index().max(lossc_root.index()))
        .map(|i| NodeId(i as u32))
        .collect();
    let values = search.values_at(&point, &all)?;
    let nan = |n: NodeId| values[n.index()].iter().any(|x| x.is_nan());
    let infinite = |n: NodeId| values[n.index()].iter().any(|x| x.is_infinite());
    // Where the NaN is made: NaN from operands that are not.
    let mut site = event;
    while let Some(&arg) = program.node(site).args.iter().find(|a| nan(**a)) {
        site = arg;
    }
    if !subject.is_gradient(site) || selecting_mask(subject, site).is_some() {
        return None;
    }
    // The infinite derivative it multiplies: infinite from finite operands.
    let mut source = *program.node(site).args.iter().find(|a| infinite(**a))?;
    while subject.is_gradient(source)
        && let Some(&arg) = program.node(source).args.iter().find(|a| infinite(**a))
    {
        source = arg;
    }
    let span = program.node(source).span;
    let text = subject.text(span);
    let at = when_clause(search, &point, &[site, fw_root]);
    let witness_values = witness_of(program, at.values, when_case);
    let lossc_zero = values[lossc_root.index()].iter().all(|x| *x == 0.0);
    let lossc_says = if lossc_zero {
        "lossc's gradient is 0 there"
    } else {
        "lossc's gradient is finite there"
    };
    let kink = forward_of(subject, site).filter(|n| matches!(program.node(*n).op, Op::Call(Builtin::Abs, _)));
    let d = match kink {
        Some(abs) => {
            let abs_text = subject.text(program.node(abs).span).to_string();
            let e = subject.operand(abs, 0);
            let witness_text = at.text.replacen(" when ", ", e.g. ", 1);
            let eps = if text.starts_with(&abs_text) {
                text.replacen(&abs_text, &format!("({abs_text} + 1e-6)"), 1)
            } else {
                text.replacen(&abs_text, &format!("{abs_text} + 1e-6"), 1)
            };
            let double_where = format!(
                "where({e} != 0, {}, 0)",
                text.replacen(&abs_text, &format!("abs(where({e} != 0, {e}, 1))"), 1)
            );
            Diagnostic::warning(
                Code::WhereNanGradient,
                with_case(
                    format!(
                        "PyTorch and TensorFlow compute a NaN gradient for `{text}` where `{e}` = 0{witness_text} (and JAX an infinite one); {lossc_says}"
                    ),
                    when_case,
                ),
                span,
            )
            .with_label("infinite slope at 0, times the slope of `abs` there, sign(0) = 0: inf * 0 = NaN")
            .with_note("PyTorch and TensorFlow differentiate `abs(x)` as `sign(x)`, JAX as 1 at x = 0; lossc's gradient, and `lossc emit`'s code, take 0 at the kink (docs/symbolic.md)")
            .with_help(format!(
                "keep the base away from 0, e.g. `{eps}`, or select 0 at the kink with a double where: `{double_where}`"
            ))
        }
        None => {
            let site_text = subject.text(program.node(site).span);
            let witness_text = at.text.replacen(" when ", " at ", 1);
            Diagnostic::warning(
                Code::WhereNanGradient,
                with_case(
                    format!("framework autodiff of `{site_text}` gives a NaN gradient{witness_text}, although lossc's gradient is finite"),
                    when_case,
                ),
                span,
            )
            .with_label("the derivative here is infinite, and framework autodiff multiplies it by 0: 0 * inf = NaN")
            .with_note("lossc's own gradient and `lossc emit` do not multiply by that 0")
            .with_help("keep this operand away from the point where its derivative is infinite")
        }
    };
    Some((d.with_witness(witness_values), span))
}
