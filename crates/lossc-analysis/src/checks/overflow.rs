//! Ordinary arithmetic that overflows: the input magnitude from which it
//! does (searched once per loss), and overflows with inputs of ordinary
//! magnitude, which scaling the data does not avoid.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic};
use lossc_ir::NodeId;

use super::{Case, MODERATE, Subject, analysis, per_sample_root, roots, when_clause, with_case, witness_of};
use crate::absint::{Event, Hazard};
use crate::witness::Search;

/// The smallest input magnitude at which ordinary arithmetic overflows, the
/// largest at which it does not, and where: `None` if it never does. Nodes in
/// `already` (overflows at ordinary magnitudes, reported on their own) do not count.
pub(super) fn overflow_threshold(
    subject: &Subject<'_>,
    case: &[Option<f64>],
    already: &HashSet<NodeId>,
) -> Option<(f64, f64, NodeId)> {
    let roots = roots(subject);
    let overflows = |clamp: f64| -> Option<NodeId> {
        let mut a = analysis(subject, case, clamp);
        for r in &roots {
            a.value(*r);
        }
        a.events
            .iter()
            .filter(|e| e.hazard == Hazard::Overflow && !already.contains(&e.node))
            .map(|e| e.node)
            .min()
    };
    let max = subject.dtype.max_finite();
    overflows(max)?;
    let (mut safe, mut fail) = (MODERATE.log10(), max.log10());
    for _ in 0..24 {
        let mid = (safe + fail) / 2.0;
        if overflows(10f64.powf(mid)).is_some() {
            fail = mid
        } else {
            safe = mid
        }
    }
    let at = 10f64.powf(fail);
    Some((at, 10f64.powf(safe), overflows(at)?))
}

/// Overflows that happen with inputs of ordinary magnitude (a division by a
/// denormal, `exp` of a sum): not a matter of scaling the data.
pub(super) fn ordinary_overflows(subject: &Subject<'_>, case: &[Option<f64>]) -> Vec<Event> {
    let mut a = analysis(subject, case, MODERATE);
    for r in roots(subject) {
        a.value(r);
    }
    a.events.into_iter().filter(|e| e.hazard == Hazard::Overflow).collect()
}

/// A value that overflows with inputs of ordinary magnitude.
pub(super) fn ordinary_overflow(
    subject: &Subject<'_>,
    search: &Search<'_>,
    event: &Event,
    when_case: &Case,
) -> Diagnostic {
    let span = subject.program.node(event.node).span;
    // A point where the overflow reaches the loss (not one where its branch is not taken).
    let sample = per_sample_root(subject);
    let found = search.find(&[event.node, sample], |v| {
        v[0].iter().any(|x| x.is_infinite()) && v[1].iter().any(|x| !x.is_finite())
    });
    let at = found
        .as_ref()
        .map(|(p, _)| when_clause(search, p, &[event.node, sample]))
        .unwrap_or_default();
    let message = with_case(
        format!("`{}` can overflow to infinity{}", subject.text(span), at.text),
        when_case,
    );
    // Shown at an ordinary point, making the loss infinite: an error.
    let d = if found.is_some() {
        Diagnostic::error(Code::Overflow, message, span)
    } else {
        Diagnostic::warning(Code::Overflow, message, span)
    };
    let witness_values = if found.is_some() {
        witness_of(&subject.program, at.values, when_case)
    } else {
        Vec::new()
    };
    d.with_label("exceeds the largest finite float")
        .with_help("keep denominators away from 0 and arguments of `exp` small, or compute in a stable form")
        .with_witness(witness_values)
}
