//! The checks: each turns what the interval analysis, the witness search or
//! the sampling found into diagnostics with values, a help line, and a fix
//! where one is proven equal.

use std::collections::HashSet;

use lossc_diagnostics::{Code, Diagnostic, Severity, Span, WitnessValue};
use lossc_ir::{Builtin, Domain, Dtype, NamedResult, NodeId, Op, Program, Var};
use lossc_symbolic::grad::{Style, gradient_in_style};

use crate::EXPLODING;
use crate::absint::{Analysis, Event, Hazard, Leaves};
use crate::interval::Iv;
use crate::witness::{Point, Search};
use lossc_ir::format_number;

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
                out.push(
                    Diagnostic::error(
                        Code::ZeroGradient,
                        format!("the gradient of `{}` with respect to `{name}` is zero everywhere: `{name}` reaches it{through}", loss.name),
                        span,
                    )
                    .with_label(format!("`{name}` reaches the loss{through}, whose derivative is 0"))
                    .with_note("frameworks report this as \"No gradients provided for any variable\"")
                    .with_help("replace the step (`round`, `floor`, `sign`, a comparison) by a smooth surrogate, e.g. `sigmoid(k * (x - t))` for `float(x > t)`"),
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

/// The smallest input magnitude at which ordinary arithmetic overflows, the
/// largest at which it does not, and where: `None` if it never does. Nodes in
/// `already` (overflows at ordinary magnitudes, reported on their own) do not count.
fn overflow_threshold(
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
fn ordinary_overflows(subject: &Subject<'_>, case: &[Option<f64>]) -> Vec<Event> {
    let mut a = analysis(subject, case, MODERATE);
    for r in roots(subject) {
        a.value(r);
    }
    a.events.into_iter().filter(|e| e.hazard == Hazard::Overflow).collect()
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
    // The "double where" trap: framework autodiff is NaN where lossc's gradient is not.
    let mut fw = analysis(subject, case, clamp);
    for (k, (_, _, fw_root)) in subject.gradients.iter().enumerate() {
        let fw_iv = fw.value(*fw_root);
        if !fw_iv.nan {
            continue;
        }
        let mut tried: HashSet<Span> = HashSet::new();
        for event in fw.events.clone() {
            if !subject.is_gradient(event.node) {
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
}

/// The span of a forward selection (`where`, `maximum`, ...) whose mask feeds
/// `node`, the place framework autodiff produced `0 * inf`.
fn selecting_mask(subject: &Subject<'_>, node: NodeId) -> Option<Span> {
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

/// A value hazard: its code, which operand, the condition a witness of it
/// meets, how to say that condition, and the help line.
type HazardShape = (Code, usize, Box<dyn Fn(f64) -> bool>, &'static str, String);

fn forward_hazard(
    subject: &Subject<'_>,
    search: &Search<'_>,
    event: &Event,
    loss_non_finite: bool,
    when_case: &Case,
) -> Diagnostic {
    let program = &subject.program;
    let node = program.node(event.node);
    let Op::Call(builtin, _) = node.op else {
        unreachable!("events are at calls")
    };
    let span = node.span;
    let (code, operand, holds, what, help): HazardShape = match event.hazard {
        Hazard::LogDomain => {
            let k = if builtin == Builtin::Xlogy { 1 } else { 0 };
            let limit = if builtin == Builtin::Log1p { -1.0 } else { 0.0 };
            (
                Code::LogDomain,
                k,
                Box::new(move |v| v <= limit),
                if builtin == Builtin::Log1p { "-1 or less" } else { "0 or less" },
                format!(
                    "keep the argument away from {}: clip it (Keras clips probabilities to [1e-7, 1 - 1e-7]), or use a stable form (`log_sigmoid`, `log_softmax`, `softplus`, `xlogy`)",
                    if builtin == Builtin::Log1p { "-1" } else { "0" }
                ),
            )
        }
        Hazard::DivByZero => (
            Code::DivByZero,
            1,
            Box::new(|v| v == 0.0),
            "0",
            "add a small constant to the denominator (e.g. `+ 1e-7`, or a smoothing term as in dice), or clip it away from 0".into(),
        ),
        Hazard::SqrtDomain => (
            Code::SqrtDomain,
            0,
            Box::new(|v| v < 0.0),
            "a negative value",
            "take `sqrt(maximum(x, 0))`, or fix the expression so it cannot go negative".into(),
        ),
        Hazard::PowDomain => (
            Code::PowDomain,
            0,
            {
                // 0 is out of the domain only for a negative exponent.
                let exponent = constant_value(&subject.program, node.args[1]);
                if exponent.is_some_and(|c| c < 0.0) {
                    Box::new(|v: f64| v <= 0.0)
                } else {
                    Box::new(|v: f64| v < 0.0)
                }
            },
            "out of its domain (negative, with a fractional exponent; or 0, with a negative one)",
            "a negative base needs an integer exponent and 0 needs a positive one: clip the base, e.g. `maximum(x, 1e-7) ^ p`".into(),
        ),
        Hazard::ExpOverflow | Hazard::Overflow | Hazard::Indeterminate => (
            Code::ExpOverflow,
            0,
            Box::new(|v| v > 0.0),
            "a value where it overflows",
            "use a form that cannot overflow: `softplus(x)` for `log(1 + exp(x))`, `logsumexp`, `log_sigmoid`, or `abs(x) + softplus(-2 * abs(x)) - log(2)` for `log(cosh(x))`".into(),
        ),
    };
    let operand_text = subject.operand(event.node, operand);
    let operand_node = node.args[operand];
    let mut shown = true;
    let mut reaches_loss = true;
    let mut point_values = Vec::new();
    let (message, label) = if code == Code::ExpOverflow {
        let ln_max = subject.dtype.max_finite().ln();
        // What overflows, and past which value: exp(x) past ln(max), cosh
        // past ln(2 max) in magnitude, b^y past ln(max) / ln(b).
        let (what, limit) = match builtin {
            Builtin::Cosh => (format!("|{operand_text}|"), (2.0f64).ln() + ln_max),
            Builtin::Pow => {
                let base = constant_value(&subject.program, node.args[0]).filter(|b| *b > 1.0);
                let exponent = crate::operand_text(&subject.program, subject.source, event.node, 1);
                match base {
                    Some(b) => (exponent, ln_max / b.ln()),
                    None => (exponent, f64::NAN),
                }
            }
            _ => (operand_text.clone(), ln_max),
        };
        let found = search.find(&[event.node], |v| v[0].iter().any(|x| x.is_infinite()));
        shown = found.is_some();
        let sample = per_sample_root(subject);
        let at = found
            .map(|(p, _)| when_clause(search, &p, &[event.node, sample]))
            .unwrap_or_default();
        let witness = &at.text;
        point_values = at.values.clone();
        let name = builtin.spec().symbol.unwrap_or(builtin.name());
        let past = if limit.is_nan() {
            "grows large".to_string()
        } else {
            format!("exceeds {}", lossc_ir::format_approx(limit))
        };
        (
            format!(
                "`{}` overflows {} once `{what}` {past}{witness}",
                subject.text(span),
                subject.dtype
            ),
            format!("`{name}` overflows to inf"),
        )
    } else {
        // Best: a point where the hazard makes the loss itself non-finite.
        let sample = per_sample_root(subject);
        let reaching = search.find(&[operand_node, sample], |v| {
            v[0].iter().any(|x| holds(*x)) && v[1].iter().any(|x| !x.is_finite())
        });
        reaches_loss = reaching.is_some();
        let found = reaching.or_else(|| search.find(&[operand_node], |v| v[0].iter().any(|x| holds(*x))));
        match found {
            Some((point, values)) => {
                let v = values[0].iter().copied().find(|x| holds(*x)).unwrap_or(0.0);
                let at = when_clause(search, &point, &[operand_node, sample]);
                point_values = at.values;
                (
                    format!(
                        "`{operand_text}` reaches {}{}",
                        format_number(v, subject.dtype),
                        at.text
                    ),
                    label_for(code, v),
                )
            }
            None => {
                shown = false;
                (
                    format!("`{operand_text}` can be {what} over the declared domains"),
                    label_for(code, if event.operand.lo < 0.0 { -1.0 } else { 0.0 }),
                )
            }
        }
    };
    let message = with_case(message, when_case);
    let witness_values = if shown {
        witness_of(program, point_values, when_case)
    } else {
        Vec::new()
    };
    let mut d = if loss_non_finite && shown && reaches_loss {
        Diagnostic::error(code, message, span)
    } else if !shown {
        Diagnostic::warning(code, message, span)
            .with_note("the interval analysis cannot rule this out, but no concrete input that shows it was found")
    } else {
        Diagnostic::warning(code, message, span).with_note(
            "the non-finite value does not reach the loss here (it is absorbed downstream), but its gradient may not be",
        )
    };
    d = d.with_label(label).with_help(help).with_witness(witness_values);
    d
}

/// A value that overflows with inputs of ordinary magnitude.
fn ordinary_overflow(subject: &Subject<'_>, search: &Search<'_>, event: &Event, when_case: &Case) -> Diagnostic {
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

/// The value of a literal, scalar param or const.
fn constant_value(program: &Program, node: NodeId) -> Option<f64> {
    let scalar = |v: &lossc_ir::Value| match v {
        lossc_ir::Value::Scalar(x) => Some(*x),
        lossc_ir::Value::Vector(_) => None,
    };
    match program.node(node).op {
        Op::Literal(v) => Some(v),
        Op::Param(i) => scalar(&program.params[i].value),
        Op::Const(i) => scalar(&program.consts[i].value),
        _ => None,
    }
}

fn label_for(code: Code, v: f64) -> String {
    match code {
        Code::LogDomain if v < 0.0 => "log of a negative number is NaN".into(),
        Code::LogDomain => "log(0) = -inf".into(),
        Code::DivByZero => "division by zero gives inf or NaN".into(),
        Code::SqrtDomain => "sqrt of a negative number is NaN".into(),
        Code::PowDomain => "NaN or inf here".into(),
        _ => "non-finite here".into(),
    }
}

/// The forward built-in whose derivative `node` computes (same span).
fn source_builtin(subject: &Subject<'_>, node: NodeId) -> Option<Builtin> {
    let span = subject.program.node(node).span;
    subject.program.nodes[..subject.first_gradient]
        .iter()
        .find_map(|n| match n.op {
            Op::Call(b, _) if n.span == span => Some(b),
            _ => None,
        })
}

fn gradient_hazard(subject: &Subject<'_>, search: &Search<'_>, event: &Event, when_case: &Case) -> Option<Diagnostic> {
    let program = &subject.program;
    let span = program.node(event.node).span;
    let source = source_builtin(subject, event.node)?;
    let text = subject.text(span);
    // A witness is a point where the whole gradient is not finite (a guarded
    // term's own value does not count where its guard is false).
    let mut roots: Vec<NodeId> = subject.gradients.iter().map(|(_, g, _)| *g).collect();
    roots.push(per_sample_root(subject));
    let gradients = roots.len() - 1;
    let found = search.find(&roots, |v| {
        v[..gradients].iter().any(|g| g.iter().any(|x| !x.is_finite())) && v[gradients].iter().all(|x| x.is_finite())
    });
    if found.is_none()
        && search
            .find(&roots, |v| {
                v[..gradients].iter().any(|g| g.iter().any(|x| !x.is_finite()))
            })
            .is_some()
    {
        // Non-finite only where the value is too: the value's finding covers it.
        return None;
    }
    let shown = found.is_some();
    // The inputs the derivative reads (none for `log(0)` of a constant base),
    // else those of the gradients and the loss at that point.
    let mut described = vec![event.node];
    described.extend(&roots);
    let at = found
        .map(|(p, _)| when_clause(search, &p, &described))
        .unwrap_or_default();
    let witness = &at.text;
    let help = match source {
        Builtin::Sqrt => {
            "guard the argument so the slope stays finite: `sqrt(x + 1e-12)` or `sqrt(maximum(x, 1e-12))`".to_string()
        }
        Builtin::Norm => {
            "`norm` of a zero vector has an undefined gradient: use `sqrt(sum(square(x), axis=...) + 1e-12)`".into()
        }
        Builtin::Pow => "a fractional power has an infinite slope at 0: add a small constant to the base".into(),
        Builtin::Log | Builtin::Log1p | Builtin::Div => {
            "keep the argument away from 0 (clip it, or add a small constant)".into()
        }
        _ => "guard the argument away from the point where the derivative is not finite".into(),
    };
    let message = with_case(
        format!("the gradient of `{text}` can be infinite or NaN{witness}, although its value is finite"),
        when_case,
    );
    let d = if shown {
        Diagnostic::error(Code::NanGradient, message, span)
    } else {
        Diagnostic::warning(Code::NanGradient, message, span)
            .with_note("the interval analysis cannot rule this out, but no concrete input that shows it was found")
    };
    let witness_values = if shown {
        witness_of(program, at.values, when_case)
    } else {
        Vec::new()
    };
    Some(
        d.with_label("the derivative is not finite here")
            .with_help(help)
            .with_witness(witness_values),
    )
}

fn exploding(subject: &Subject<'_>, search: &Search<'_>, var: Var, when_case: &Case) -> Option<Diagnostic> {
    let program = &subject.program;
    // Intervals over-approximate; a warning needs a point that shows it.
    let grad_root = subject.gradients.iter().find(|(v, _, _)| *v == var)?.1;
    let (point, magnitude) = search.max_per_sample(grad_root)?;
    if magnitude <= EXPLODING {
        return None;
    }
    // The gradient node that amplifies at that point: large, from operands
    // that are not (the slope of `log(p)` as p nears 0, say).
    let magnitude_of = |v: &Vec<f64>| v.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs()));
    let all: Vec<NodeId> = (0..=grad_root.index()).map(|i| NodeId(i as u32)).collect();
    let mut best: Option<(NodeId, f64)> = None;
    let mut first_large: Option<(NodeId, f64)> = None;
    if let Some(values) = search.values_at(&point, &all) {
        for (index, node) in program
            .nodes
            .iter()
            .enumerate()
            .take(grad_root.index() + 1)
            .skip(subject.first_gradient)
        {
            let m = magnitude_of(&values[index]);
            if m <= EXPLODING {
                continue;
            }
            first_large.get_or_insert((NodeId(index as u32), m));
            let small_args = node
                .args
                .iter()
                .all(|arg| magnitude_of(&values[arg.index()]) <= EXPLODING);
            if small_args && best.is_none_or(|(_, b)| m > b) {
                best = Some((NodeId(index as u32), m));
            }
        }
    }
    // Else the first gradient node that is large (its operand is a large value).
    let best = best.or(first_large);
    let (node, _) = best.unwrap_or((subject.root, magnitude));
    let span = program.node(node).span;
    let text = subject.text(span);
    let at = describe_or_default(search, &point, grad_root);
    let witness = format!(" (at {})", at.text);
    let witness_values = witness_of(program, at.values, when_case);
    let name = program.var_name(var);
    Some(
        Diagnostic::warning(
            Code::ExplodingGradient,
            with_case(
                format!(
                    "the gradient with respect to `{name}` can reach {} in magnitude through `{text}`{witness}",
                    lossc_ir::format_approx(magnitude)
                ),
                when_case,
            ),
            span,
        )
        .with_label(format!("slope up to {} for one sample", lossc_ir::format_approx(magnitude)))
        .with_note("judged per sample (batch size 1); a gradient this large makes optimisers take huge steps")
        .with_help("keep the denominator or log argument further from 0 (a larger epsilon, e.g. clip to [1e-7, 1 - 1e-7]), or compute the loss from logits (`log_sigmoid`, `softplus`, `log_softmax`)")
        .with_witness(witness_values),
    )
}

fn describe_or_default(search: &Search<'_>, point: &Point, node: NodeId) -> At {
    let text = search.describe(point, node);
    At {
        text: if text.is_empty() { "any point".into() } else { text },
        values: search.witness(point, node),
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

fn where_trap(
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

/// Kinks: `abs`, `relu`, ties of `maximum`/`minimum`, `clip` bounds, where
/// the variable's path passes and the intervals say the kink is reachable.
fn non_smooth(subject: &Subject<'_>, out: &mut Vec<Diagnostic>) {
    let program = &subject.program;
    let active: Vec<bool> = {
        let mut active = vec![false; subject.first_gradient];
        for (i, node) in program.nodes[..subject.first_gradient].iter().enumerate() {
            active[i] = match node.op {
                Op::Input(k) => subject.gradients.iter().any(|(v, _, _)| *v == Var::Input(k)),
                Op::Param(k) => subject.gradients.iter().any(|(v, _, _)| *v == Var::Param(k)),
                _ => node.args.iter().any(|a| active[a.index()]),
            };
        }
        active
    };
    let used = carries_gradient(program, subject.root);
    let mut kinks: HashSet<String> = HashSet::new();
    let mut a = analysis(subject, &vec![None; program.inputs.len()], f64::INFINITY);
    a.value(subject.root);
    let value_of = |n: NodeId| {
        a.visits
            .get(&n)
            .map(|envs| envs.iter().filter_map(|e| a.get(n, *e)).fold(Iv::EMPTY, Iv::hull))
            .unwrap_or(Iv::ALL)
    };
    for (i, node) in program.nodes[..subject.first_gradient].iter().enumerate() {
        if !active[i] || !used[i] {
            continue;
        }
        let Op::Call(builtin, _) = node.op else { continue };
        let id = NodeId(i as u32);
        let iv = |k: usize| value_of(node.args[k]);
        if smoothed(program, &used, id, builtin, &value_of) {
            continue;
        }
        let where_text = match builtin {
            // abs has its kink where its own value is 0 (a branch that only runs
            // for |e| > delta, as in Huber, never gets there).
            Builtin::Abs if value_of(id).contains(0.0) && iv(0).contains(0.0) => {
                format!("`{} = 0`", subject.operand(id, 0))
            }
            Builtin::Relu if iv(0).contains(0.0) => format!("`{} = 0`", subject.operand(id, 0)),
            Builtin::Maximum | Builtin::Minimum if iv(0).lo <= iv(1).hi && iv(1).lo <= iv(0).hi => {
                format!("`{} = {}`", subject.operand(id, 0), subject.operand(id, 1))
            }
            Builtin::Clip if iv(0).contains(iv(1).lo) || iv(0).contains(iv(2).hi) => format!(
                "`{}` = `{}` or `{}`",
                subject.operand(id, 0),
                subject.operand(id, 1),
                subject.operand(id, 2)
            ),
            _ => continue,
        };
        if builtin == Builtin::Clip {
            clip_saturation_note(subject, id, iv(0), iv(1), iv(2), out);
        }
        let name = builtin.name();
        if !kinks.insert(where_text.clone()) {
            continue;
        }
        out.push(
            Diagnostic::note(
                Code::NonSmooth,
                format!("the loss is not differentiable where {where_text}"),
                node.span,
            )
            .with_label(format!("`{name}` has a kink there"))
            .with_note(format!(
                "lossc's gradient there follows the fixed convention for `{name}` (docs/symbolic.md)"
            )),
        );
    }
}

/// Whether a kink is smoothed away by what reads it: a kink whose value
/// there is 0 (`abs(x)`, `relu(x)`, `maximum(x, 0)`, `minimum(x, 0)`),
/// read only by `square` or a constant power above 1, is differentiable
/// (squared hinge: both one-sided slopes are 0).
fn smoothed(program: &Program, used: &[bool], kink: NodeId, builtin: Builtin, value_of: &dyn Fn(NodeId) -> Iv) -> bool {
    let node = program.node(kink);
    let zero = |n: NodeId| value_of(n).is_point() == Some(0.0);
    let zero_at_kink = match builtin {
        Builtin::Abs | Builtin::Relu => true,
        Builtin::Maximum | Builtin::Minimum => zero(node.args[0]) || zero(node.args[1]),
        _ => false,
    };
    if !zero_at_kink {
        return false;
    }
    let mut readers = program
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| used.get(*i).copied().unwrap_or(false) && n.args.contains(&kink))
        .peekable();
    readers.peek().is_some()
        && readers.all(|(_, n)| match n.op {
            Op::Call(Builtin::Square, _) => true,
            Op::Call(Builtin::Pow, _) => {
                n.args[0] == kink && n.args[1] != kink && value_of(n.args[1]).is_point().is_some_and(|p| p > 1.0)
            }
            _ => false,
        })
}

/// A clip whose saturated side the value can reach kills the gradient of
/// confidently wrong predictions there: a note (the sampled check upgrades a
/// wide saturated region to a warning).
fn clip_saturation_note(subject: &Subject<'_>, clip: NodeId, x: Iv, lo: Iv, hi: Iv, out: &mut Vec<Diagnostic>) {
    if !(x.lo < lo.lo || x.hi > hi.hi) {
        return;
    }
    let node = subject.program.node(clip);
    out.push(
        Diagnostic::note(
            Code::ClipSaturation,
            format!(
                "`clip` passes no gradient where `{}` is outside [`{}`, `{}`]",
                subject.operand(clip, 0),
                subject.operand(clip, 1),
                subject.operand(clip, 2)
            ),
            node.span,
        )
        .with_label("saturated: zero gradient there")
        .with_note("a prediction beyond the clip is confidently wrong and gets no gradient; frameworks' own clipped cross-entropies share this")
        .with_help("computing the loss from logits (`log_sigmoid`, `softplus`, `log_softmax`) avoids it"),
    );
}

/// The nodes whose derivative reaches `root`: not through a comparison,
/// a step (`round`, `floor`, `sign`, `float`) or the condition of a `where`.
fn carries_gradient(program: &Program, root: NodeId) -> Vec<bool> {
    let mut carries = vec![false; program.nodes.len()];
    carries[root.index()] = true;
    for i in (0..=root.index()).rev() {
        if !carries[i] {
            continue;
        }
        let node = program.node(NodeId(i as u32));
        let Op::Call(builtin, _) = node.op else { continue };
        let args: &[NodeId] = match builtin {
            Builtin::Where => &node.args[1..],
            Builtin::BroadcastLike => &node.args[..1],
            _ if !builtin.has_derivative() => &[],
            _ => &node.args,
        };
        for a in args {
            carries[a.index()] = true;
        }
    }
    carries
}

/// Below this magnitude, rounding `1 + x` drops more than four of `x`'s low bits.
const SMALL: f64 = 1.0 / 16.0;

/// Expressions a stable built-in computes better, with the proven-equal fix.
fn stable_forms(subject: &Subject<'_>, out: &mut Vec<Diagnostic>) {
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
            _ => None,
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

/// Constants that vanish or change in the dtype: `1 - 1e-8` is exactly 1 in f32.
pub fn constants(program: &Program, source: &str, dtype: Dtype, out: &mut Vec<Diagnostic>) {
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
