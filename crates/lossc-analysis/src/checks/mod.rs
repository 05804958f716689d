//! The checks: each turns what the interval analysis, the witness search or
//! the sampling found into diagnostics with values, a help line, and a fix
//! where one is proven equal.
//!
//! This module is the entry point, [`loss`]: it builds the loss's gradients
//! (lossc's and the frameworks'), reports a variable the loss does not read
//! (`no-gradient-path`) or reads only through steps (`zero-gradient`), splits
//! finite-set inputs into cases, and runs on each `hazards`, the driver that
//! orders the findings and says which one covers another. The driver itself
//! reports the overflow threshold (`overflow`, once per loss, found by
//! `overflow::overflow_threshold`) and the analysis's work limit
//! (`analysis-limit`). The helpers the families share are here too:
//! `Subject`, `Case`, `At`, `when_clause`, `witness_of`, `with_case`,
//! `per_sample_root`, `analysis`. Every other family's diagnostics, with
//! their text and help, are in a module of their own:
//!
//! - `domain`: a value outside its function's domain (`log-domain`,
//!   `div-by-zero`, `sqrt-domain`, `asin-domain`, `pow-domain`) or past `exp`'s overflow
//!   (`exp-overflow`);
//! - `overflow`: the input magnitude at which arithmetic overflows, and
//!   overflows with inputs of ordinary magnitude (`overflow`);
//! - `gradient`: a gradient that is not finite where the value is
//!   (`nan-gradient`), or finite but huge (`exploding-gradient`);
//! - `where_trap`: framework autodiff's NaN through the branch a selection
//!   does not take, or any other `0 * inf` lossc's gradient does not have,
//!   such as the kink of `abs` under `sqrt` (`where-nan-gradient`);
//! - `smooth`: kinks and steps on the variable's path (`non-smooth`) and a `clip` that can saturate
//!   (`clip-saturation`, the note);
//! - `stable`: expressions a stable built-in computes better
//!   (`precision-loss`, with the fix);
//! - `constants`: constants that vanish in the dtype (`precision-loss`).
//!
//! What only sampling decides (dead gradients, ...) is `crate::sampling`'s.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic, Severity, Span, WitnessValue};
use lossc_ir::{Builtin, Domain, Dtype, NamedResult, NodeId, Op, Program, Var};
use lossc_symbolic::grad::{Style, gradient_in_style};

use crate::EXPLODING;
use crate::absint::{Analysis, Hazard, Leaves};
use crate::interval::Iv;
use crate::witness::{Point, Search};
use lossc_ir::format_number;

mod constants;
mod domain;
mod gradient;
mod overflow;
mod smooth;
mod stable;
mod where_trap;

pub use constants::constants;
use domain::forward_hazard;
use gradient::{exploding, gradient_hazard};
use overflow::{ordinary_overflow, ordinary_overflows, overflow_threshold};
use smooth::non_smooth;
use stable::stable_forms;
use where_trap::{framework_nan, selecting_mask, where_trap};

/// Inputs of at most this magnitude are "ordinary" when judging whether a
/// gradient explodes: normalised data and logits stay below it.
const MODERATE: f64 = 100.0;

/// Everything about one loss: its gradients in both styles, over every case.
struct Subject<'a> {
    source: &'a str,
    dtype: Dtype,
    /// The program with the gradient nodes appended.
    program: Program,
    /// Nodes from here on are gradient nodes.
    first_gradient: usize,
    root: NodeId,
    /// (variable, lossc's gradient, the frameworks' gradient).
    gradients: Vec<(Var, NodeId, NodeId)>,
}

impl Subject<'_> {
    fn text(&self, span: Span) -> &str {
        self.source.get(span.start..span.end).unwrap_or("")
    }

    /// What the user wrote for argument `k` of `node`.
    fn operand(&self, node: NodeId, k: usize) -> String {
        crate::operand_text(&self.program, self.source, node, k)
    }

    fn is_gradient(&self, node: NodeId) -> bool {
        node.index() >= self.first_gradient
    }
}

/// Whether `root` reads `var` at all.
fn reads(program: &Program, root: NodeId, var: Var) -> bool {
    let mut seen = vec![false; root.index() + 1];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        let node = program.node(n);
        match (&node.op, var) {
            (Op::Input(i), Var::Input(j)) | (Op::Param(i), Var::Param(j)) if *i == j => return true,
            _ => stack.extend(node.args.iter().copied()),
        }
    }
    false
}

/// The finite-set inputs split into cases (each a value per input, `None` for
/// the others); a set too large to enumerate stays whole.
fn cases(program: &Program) -> Vec<Vec<Option<f64>>> {
    let mut cases: Vec<Vec<Option<f64>>> = vec![vec![None; program.inputs.len()]];
    for (i, input) in program.inputs.iter().enumerate() {
        // A set input with more than one element per sample stays whole: one
        // case would make all of a row's elements equal.
        let per_sample = input.shape.len() <= 1;
        if let Domain::Set(values) = &input.domain
            && per_sample
            && cases.len() * values.len() <= 64
        {
            cases = cases
                .into_iter()
                .flat_map(|case| {
                    values.iter().map(move |v| {
                        let mut c = case.clone();
                        c[i] = Some(*v);
                        c
                    })
                })
                .collect();
        }
    }
    cases
}

fn case_inputs(program: &Program, dtype: Dtype, case: &[Option<f64>], clamp: f64) -> Vec<Iv> {
    program
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| match case[i] {
            Some(v) => Iv::point(v),
            None => {
                let (lo, hi) = input.domain.bounds(dtype);
                Iv::new(lo.max(-clamp), hi.min(clamp))
            }
        })
        .collect()
}

/// Describes a case for messages: "when `y_true` = 1".
fn case_text(program: &Program, case: &[Option<f64>]) -> String {
    Case::of(program, case).text
}

/// The inputs an analysis case fixes (a set domain's member), as messages
/// say them ("`y_true` = 1") and as witness values.
#[derive(Debug, Clone, Default)]
struct Case {
    text: String,
    values: Vec<WitnessValue>,
}

impl Case {
    fn of(program: &Program, case: &[Option<f64>]) -> Case {
        let values: Vec<WitnessValue> = case
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|value| WitnessValue {
                    input: program.inputs[i].name.clone(),
                    value,
                    first_of_row: false,
                    row: None,
                })
            })
            .collect();
        let parts: Vec<String> = values
            .iter()
            .map(|w| format!("`{}` = {}", w.input, format_number(w.value, Dtype::F64)))
            .collect();
        Case {
            text: parts.join(" and "),
            values,
        }
    }
}

/// A witness as a message says it (" when `y_pred` = 0") and as data.
#[derive(Debug, Clone, Default)]
struct At {
    text: String,
    values: Vec<WitnessValue>,
}

/// The witness of a diagnostic: the point's values and the case's, each
/// input once, in declaration order.
fn witness_of(program: &Program, at: Vec<WitnessValue>, case: &Case) -> Vec<WitnessValue> {
    let mut values = at;
    for fixed in &case.values {
        if !values.iter().any(|w| w.input == fixed.input) {
            values.push(fixed.clone());
        }
    }
    let position = |name: &str| program.inputs.iter().position(|i| i.name == name);
    values.sort_by_key(|w| position(&w.input));
    values
}

/// All the checks of one loss.
pub fn loss(
    program: &Program,
    source: &str,
    loss: &NamedResult,
    vars: &[Var],
    dtype: Dtype,
    out: &mut Vec<Diagnostic>,
) {
    let root = loss.root;
    if vars.is_empty() {
        out.push(
            Diagnostic::error(
                Code::NoGradientPath,
                format!(
                    "the loss `{}` does not depend on `y_pred`, and no `wrt` names another variable",
                    loss.name
                ),
                loss.span,
            )
            .with_label("nothing here to differentiate")
            .with_help("the model output is `y_pred` by default; name it, or add `wrt NAME` for an input or param"),
        );
        return;
    }
    let mut program = program.clone();
    let first_gradient = program.nodes.len();
    let mut gradients = Vec::new();
    for &var in vars {
        let name = program.var_name(var).to_string();
        if !reads(&program, root, var) {
            out.push(
                Diagnostic::error(
                    Code::NoGradientPath,
                    format!("the loss `{}` does not depend on `{name}`", loss.name),
                    loss.span,
                )
                .with_label(format!("`{name}` does not appear here"))
                .with_note("training would receive no gradient at all")
                .with_help(format!(
                    "use `{name}` in the loss, or differentiate with respect to another variable (`wrt`)"
                )),
            );
            continue;
        }
        match gradient_in_style(&mut program, root, var, Style::Lossc) {
            None => {
                let blocker = zero_derivative_ops(&program, root, var);
                let through = blocker
                    .first()
                    .map(|n| format!(" only through `{}`", program.node(*n).op_name()))
                    .unwrap_or_default();
                let span = blocker.first().map_or(loss.span, |n| program.node(*n).span);
                // Every blocker a `stop_gradient`: stopping was asked for, not a step.
                let stopped = !blocker.is_empty()
                    && blocker
                        .iter()
                        .all(|n| matches!(program.node(*n).op, Op::Call(Builtin::StopGradient, _)));
                let help = if stopped {
                    format!(
                        "`stop_gradient` keeps its argument out of the gradient: use `{name}` outside it too (as a BYOL target is compared with a prediction that is not stopped), or differentiate with respect to another variable (`wrt`)"
                    )
                } else {
                    "replace the step (`round`, `floor`, `sign`, a comparison) by a smooth surrogate, e.g. `sigmoid(k * (x - t))` for `float(x > t)`".to_string()
                };
                out.push(
                    Diagnostic::error(
                        Code::ZeroGradient,
                        format!("the gradient of `{}` with respect to `{name}` is zero everywhere: `{name}` reaches it{through}", loss.name),
                        span,
                    )
                    .with_label(format!("`{name}` reaches the loss{through}, whose derivative is 0"))
                    .with_note("frameworks report this as \"No gradients provided for any variable\"")
                    .with_help(help),
                );
            }
            Some(g) => {
                let fw = gradient_in_style(&mut program, root, var, Style::Framework).expect("same dependence");
                gradients.push((var, g, fw));
            }
        }
    }
    let subject = Subject {
        source,
        dtype,
        program,
        first_gradient,
        root,
        gradients,
    };
    let mut overflow_reported = false;
    let mut dead = Vec::new();
    let all = cases(&subject.program);
    for case in &all {
        hazards(&subject, case, &mut overflow_reported, out);
        let found = crate::sampling::run(subject_view(&subject), case, all.len(), out);
        dead.push((case_text(&subject.program, case), found));
    }
    crate::sampling::report_dead(&subject_view(&subject), &dead, out);
    crate::minimum::check(&subject_view(&subject), out);
    non_smooth(&subject, out);
    stable_forms(&subject, out);
}

/// The ops on the paths from `root` to `var` whose derivative is zero.
fn zero_derivative_ops(program: &Program, root: NodeId, var: Var) -> Vec<NodeId> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        let node = program.node(n);
        if let Op::Call(b, _) = node.op
            && !b.has_derivative()
            && node.args.iter().any(|a| reads(program, *a, var))
        {
            found.push(n);
            continue;
        }
        stack.extend(node.args.iter().copied());
    }
    found.sort();
    found
}

trait OpName {
    fn op_name(&self) -> String;
}

impl OpName for lossc_ir::Node {
    fn op_name(&self) -> String {
        match &self.op {
            Op::Call(b, _) => b.spec().symbol.unwrap_or(b.name()).to_string(),
            _ => "a constant".into(),
        }
    }
}

/// The per-sample value of the loss: the operand of its final batch mean or
/// sum, or the loss itself when it is per-sample already.
fn per_sample_root(subject: &Subject<'_>) -> NodeId {
    let program = &subject.program;
    let node = program.node(subject.root);
    if let Op::Call(Builtin::Mean | Builtin::Sum, attrs) = &node.op {
        let arg = node.args[0];
        let batched = program.batch.is_some() && program.node(arg).ty.shape.first().copied() == program.batch;
        if batched && attrs.axes.as_ref().is_none_or(|a| a.contains(&0)) {
            return arg;
        }
    }
    subject.root
}

/// The roots analysed together: the loss and its gradients, lossc's and the
/// frameworks'.
fn roots(subject: &Subject<'_>) -> Vec<NodeId> {
    let mut roots = vec![subject.root];
    roots.extend(subject.gradients.iter().flat_map(|(_, g, fw)| [*g, *fw]));
    roots
}

fn analysis<'p>(subject: &'p Subject<'_>, case: &[Option<f64>], clamp: f64) -> Analysis<'p> {
    let inputs = case_inputs(&subject.program, subject.dtype, case, clamp);
    Analysis::new(
        &subject.program,
        subject.dtype,
        Leaves::new(&subject.program, subject.dtype, inputs),
    )
}

/// A node's interval over every environment `a` evaluated it in (any value,
/// if it evaluated it in none).
fn hull_of<'a>(a: &'a Analysis<'_>) -> impl Fn(NodeId) -> Iv + 'a {
    move |n| {
        a.visits
            .get(&n)
            .map(|envs| envs.iter().filter_map(|e| a.get(n, *e)).fold(Iv::EMPTY, Iv::hull))
            .unwrap_or(Iv::ALL)
    }
}

/// The note that the analysis of this loss reached its budget of
/// environments or evaluations ([`Analysis::coarsened`]): the findings stand,
/// but some branches were analysed without their conditions, so a warning
/// may be a false alarm. One per loss (diagnostics are deduplicated by code
/// and place).
fn analysis_limit(subject: &Subject<'_>) -> Diagnostic {
    let program = &subject.program;
    Diagnostic::note(
        Code::AnalysisLimit,
        "the analysis of this loss reached its work limit: some `where` branches were analysed without their conditions",
        program.node(subject.root).span,
    )
    .with_label("too many nested selections to analyse each under its own condition")
    .with_note("every NaN or infinity is still reported (the analysis stays sound), but a warning here may be a false alarm")
    .with_help("name intermediate values with `let` and bound them (e.g. `clip`), or split the chain of selections")
}

/// Domain hazards, gradient hazards, exploding and framework-NaN gradients,
/// and overflow, for one case.
fn hazards(subject: &Subject<'_>, case: &[Option<f64>], overflow_reported: &mut bool, out: &mut Vec<Diagnostic>) {
    let start = out.len();
    let program = &subject.program;
    let dtype = subject.dtype;
    let when_case = Case::of(program, case);
    let ordinary = ordinary_overflows(subject, case);
    let ordinary_nodes: HashSet<NodeId> = ordinary.iter().map(|e| e.node).collect();
    // The magnitude at which arithmetic overflows hardly depends on the case:
    // it is searched once, over all cases together (their hull), which bounds each.
    let all_cases = vec![None; program.inputs.len()];
    let threshold = overflow_threshold(subject, &all_cases, &ordinary_nodes);
    let clamp = threshold.map_or(f64::INFINITY, |(_, safe, _)| safe);
    if let Some((at, _, node)) = threshold
        && !*overflow_reported
    {
        *overflow_reported = true;
        let text = subject.text(program.node(node).span);
        // Intervals can see an overflow that no real input reaches (a large x
        // and a tiny sum of squares of the same x at once): below 1e6, a
        // warning needs a point that shows it.
        let shown = at >= 1e6 || {
            let search = Search::new(program, dtype, case, 1e6);
            search
                .find(&roots(subject), |v| v.iter().any(|e| e.iter().any(|x| !x.is_finite())))
                .is_some()
        };
        let severity_note = at >= 1e6 || !shown;
        // A gradient node carries the span of the forward expression it
        // differentiates: say that it is the gradient which overflows there.
        let what = if subject.is_gradient(node) {
            format!("the gradient through `{text}`")
        } else {
            format!("`{text}`")
        };
        let message = format!(
            "{what} can exceed the largest {dtype} ({}) for inputs of magnitude {} or more",
            lossc_ir::format_approx(dtype.max_finite()),
            lossc_ir::format_approx(at)
        );
        let d = if severity_note {
            Diagnostic::note(Code::Overflow, message, program.node(node).span)
        } else {
            Diagnostic::warning(Code::Overflow, message, program.node(node).span)
        };
        out.push(
            d.with_label("overflows to infinity for large inputs")
                .with_note(if severity_note {
                    "no normalised data reaches this magnitude; NaN or inf arising only beyond it is reported here, once"
                } else {
                    "inputs of this magnitude are plausible: normalise them, or reformulate"
                })
                .with_help("scale the inputs, or compute in a form that cannot overflow (e.g. `abs(e)` for `sqrt(square(e))`)"),
        );
    }
    let search = Search::new(program, dtype, case, clamp);
    // The value's hazards come from the value alone; the gradient's from the
    // gradient's own nodes (it reads value nodes under its own guards).
    let mut forward = analysis(subject, case, clamp);
    let loss_iv = forward.value(subject.root);
    let mut events = std::mem::take(&mut forward.events);
    let mut a = analysis(subject, case, clamp);
    for (_, g, _) in &subject.gradients {
        a.value(*g);
    }
    events.extend(a.events.drain(..).filter(|e| subject.is_gradient(e.node)));
    if forward.coarsened || a.coarsened {
        out.push(analysis_limit(subject));
    }
    // Value hazards first: an error needs a point that shows it (and a value
    // that reaches the loss); what only the intervals see is a warning.
    let mut done: HashSet<(Hazard, NodeId)> = HashSet::new();
    let mut shown_errors: HashSet<Span> = HashSet::new();
    for event in &events {
        if subject.is_gradient(event.node)
            || matches!(event.hazard, Hazard::Overflow | Hazard::Indeterminate)
            || !done.insert((event.hazard, event.node))
        {
            continue;
        }
        // A hazard the intervals suspect only because they lose a repeated
        // value (`log(exp(e) + exp(-e))`) is refuted by subdividing it.
        if crate::refine::refutes(program, dtype, &hull_of(&forward), event) {
            continue;
        }
        let node_case = case_for(program, case, event.node);
        let d = forward_hazard(subject, &search, event, loss_iv.may_be_non_finite(), &node_case);
        if d.severity == Severity::Error {
            shown_errors.insert(d.span);
        }
        out.push(d);
    }
    for event in &ordinary {
        if !subject.is_gradient(event.node) && done.insert((event.hazard, event.node)) {
            out.push(ordinary_overflow(subject, &search, event, &when_case));
        }
    }
    // Gradient hazards, where the value is finite (docs/analysis.md): not where a
    // shown value error already is, and `0 * inf` downstream of another
    // gradient hazard is that hazard again.
    let forward_finite = shown_errors.is_empty();
    let gradient_sources = events
        .iter()
        .chain(&ordinary)
        .any(|e| subject.is_gradient(e.node) && e.hazard != Hazard::Indeterminate);
    for event in events.iter().chain(&ordinary) {
        if !subject.is_gradient(event.node) || !done.insert((event.hazard, event.node)) {
            continue;
        }
        if event.hazard == Hazard::Overflow && !ordinary_nodes.contains(&event.node) {
            continue;
        }
        if shown_errors.contains(&program.node(event.node).span)
            || !forward_finite
            || (event.hazard == Hazard::Indeterminate && gradient_sources)
        {
            continue;
        }
        if crate::refine::refutes(program, dtype, &hull_of(&a), event) {
            continue;
        }
        let node_case = case_for(program, case, event.node);
        if let Some(d) = gradient_hazard(subject, &search, event, &node_case) {
            out.push(d);
        }
    }
    // Exploding gradients: finite, but more than EXPLODING for one sample,
    // with inputs of ordinary magnitude (a gradient that grows with the data,
    // as MSE's does, is not exploding).
    let moderate = clamp.min(MODERATE);
    let mut m = analysis(subject, case, moderate);
    let moderate_search = Search::new(program, dtype, case, moderate);
    for (var, g_root, _) in &subject.gradients {
        let g = m.value(*g_root);
        if !g.may_be_non_finite() && g.magnitude() <= EXPLODING {
            continue;
        }
        if let Some(d) = exploding(subject, &moderate_search, *var, &when_case) {
            out.push(d);
        }
    }
    // The "double where" trap, and any other `0 * inf` of the frameworks'
    // gradient: framework autodiff is NaN where lossc's gradient is not.
    let mut fw = analysis(subject, case, clamp);
    let mut framework_spans: HashSet<Span> = HashSet::new();
    for (k, (_, _, fw_root)) in subject.gradients.iter().enumerate() {
        let fw_iv = fw.value(*fw_root);
        if !fw_iv.nan {
            continue;
        }
        let cone: HashSet<NodeId> = program.cone(&[*fw_root]).into_iter().collect();
        let mut tried: HashSet<Span> = HashSet::new();
        let mut sites: HashSet<Span> = HashSet::new();
        for event in fw.events.clone() {
            if !subject.is_gradient(event.node) || !cone.contains(&event.node) {
                continue;
            }
            if event.hazard == Hazard::Indeterminate
                && selecting_mask(subject, event.node).is_none()
                && sites.insert(program.node(event.node).span)
                && let Some((d, span)) = framework_nan(
                    subject,
                    &search,
                    event.node,
                    subject.gradients[k].1,
                    *fw_root,
                    &when_case,
                )
                && framework_spans.insert(span)
            {
                out.push(d);
                continue;
            }
            if let Some(selection) = selecting_mask(subject, event.node)
                && tried.insert(selection)
                && let Some(d) = where_trap(
                    subject,
                    &search,
                    selection,
                    subject.gradients[k].1,
                    *fw_root,
                    &when_case,
                )
            {
                out.push(d);
            }
        }
    }
    // A framework NaN shown at an operation is that operation's finding: the
    // unshown `nan-gradient` warning there (lossc's gradient is finite at
    // the point the intervals could not exclude) would only repeat it.
    let mut i = start;
    while i < out.len() {
        let d = &out[i];
        if d.code == Code::NanGradient && d.severity == Severity::Warning && framework_spans.contains(&d.span) {
            out.remove(i);
        } else {
            i += 1;
        }
    }
}

/// The case text restricted to the inputs `node` reads.
fn case_for(program: &Program, case: &[Option<f64>], node: NodeId) -> Case {
    let used = program.inputs_read(&[node]);
    let only: Vec<Option<f64>> = case
        .iter()
        .enumerate()
        .map(|(i, v)| if used[i] { *v } else { None })
        .collect();
    Case::of(program, &only)
}

/// Adds the case ("with `y_true` = 1") unless the witness already says it.
fn with_case(message: String, when_case: &Case) -> String {
    let when_case = &when_case.text;
    let said = when_case.split(" and ").all(|part| message.contains(part));
    if when_case.is_empty() || said {
        message
    } else {
        format!("{message} (with {when_case})")
    }
}

/// " when `y_pred` = 0": the witness `point`, given by the inputs that the
/// first of `nodes` to read any input reads. Empty, so that the message
/// leaves the clause out, when none reads an input (a constant is
/// non-finite for every input): never "when " with nothing after it.
fn when_clause(search: &Search<'_>, point: &Point, nodes: &[NodeId]) -> At {
    nodes
        .iter()
        .find_map(|&node| {
            let text = search.describe(point, node);
            (!text.is_empty()).then(|| At {
                text: format!(" when {text}"),
                values: search.witness(point, node),
            })
        })
        .unwrap_or_default()
}

/// The parts of a subject the sampling checks need.
fn subject_view<'s>(subject: &'s Subject<'_>) -> crate::sampling::View<'s> {
    crate::sampling::View {
        source: subject.source,
        dtype: subject.dtype,
        program: &subject.program,
        first_gradient: subject.first_gradient,
        root: subject.root,
        gradients: subject.gradients.iter().map(|(v, g, _)| (*v, *g)).collect(),
    }
}
