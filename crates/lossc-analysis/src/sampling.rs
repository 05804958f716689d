//! Checks measured by sampling the declared domains with the reference
//! interpreter: gradients that are exactly zero on a region (`dead-gradient`)
//! or almost everywhere (`zero-gradient`), clips that saturate
//! (`clip-saturation`), and `where`s whose branches disagree on their
//! boundary (`discontinuity`).

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_ir::rng::SplitMix64;
use lossc_ir::{Builtin, Dim, Domain, Dtype, NodeId, Op, Program, Var};
use ndarray::{ArrayD, IxDyn};

use lossc_ir::format_number;

/// What the sampling checks need to know of a loss.
pub struct View<'s> {
    pub source: &'s str,
    pub dtype: Dtype,
    pub program: &'s Program,
    pub first_gradient: usize,
    pub root: NodeId,
    pub gradients: Vec<(Var, NodeId)>,
}

/// Points drawn per case.
const SAMPLES: usize = 400;
/// The box sampled on unbounded domains.
const BOX: f64 = 10.0;

impl View<'_> {
    fn text(&self, span: Span) -> &str {
        self.source.get(span.start..span.end).unwrap_or("")
    }

    fn node_text(&self, node: NodeId) -> String {
        leaf_text(self.program, node).unwrap_or_else(|| self.text(self.program.node(node).span).to_string())
    }

    /// What the user wrote for argument `k` of `node`.
    fn operand(&self, node: NodeId, k: usize) -> String {
        crate::operand_text(self.program, self.source, node, k)
    }

    fn reads(&self, node: NodeId, var: Var) -> bool {
        let mut seen = vec![false; node.index() + 1];
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n.index()], true) {
                continue;
            }
            match (&self.program.node(n).op, var) {
                (Op::Input(i), Var::Input(j)) | (Op::Param(i), Var::Param(j)) if *i == j => return true,
                _ => stack.extend(self.program.node(n).args.iter().copied()),
            }
        }
        false
    }

    /// Whether samples can be evaluated together: nothing but the loss's own
    /// final reduction mixes the batch.
    fn separable(&self) -> bool {
        let Some(batch) = self.program.batch else { return true };
        self.program.nodes[..=self.root.index()]
            .iter()
            .enumerate()
            .all(|(i, node)| {
                let Op::Call(builtin, attrs) = &node.op else {
                    return true;
                };
                // expand_dims adds axes: it mixes nothing across the batch.
                let mixes = builtin.mixes_elements() && *builtin != Builtin::ExpandDims;
                let input = node.args.first().map(|a| &self.program.node(*a).ty.shape);
                let over_batch = input.is_some_and(|s| s.first() == Some(&batch))
                    && attrs.axes.as_ref().is_none_or(|axes| axes.contains(&0));
                !mixes || !over_batch || i == self.root.index()
            })
    }
}

/// The name of a leaf (input, param, const, dimension), whose span is its
/// declaration rather than the place it is used; for a scalar param or const,
/// with its value.
pub fn leaf_text(program: &Program, node: NodeId) -> Option<String> {
    let scalar = |v: &lossc_ir::Value| match v {
        lossc_ir::Value::Scalar(x) => Some(*x),
        lossc_ir::Value::Vector(_) => None,
    };
    let with_value = |name: &str, v: &lossc_ir::Value| match scalar(v) {
        Some(x) => format!("{name} (= {})", format_number(x, Dtype::F64)),
        None => name.to_string(),
    };
    Some(match program.node(node).op {
        Op::Input(i) => program.inputs[i].name.clone(),
        Op::Param(i) => {
            let p = &program.params[i];
            match scalar(&p.value) {
                Some(v) => format!("{} (= {})", p.name, format_number(v, Dtype::F64)),
                None => p.name.clone(),
            }
        }
        Op::Const(i) => with_value(&program.consts[i].name, &program.consts[i].value),
        Op::DimSize(d) => program.dims[d.0 as usize].clone(),
        _ => return None,
    })
}

/// One sample: for each input, the elements of its row (its whole value if
/// it has no batch dimension).
type Sample = Vec<Vec<f64>>;

/// How many elements one sample of an input has (named dimensions other than
/// the batch dimension have size 3).
fn row_len(program: &Program, input: &lossc_ir::Input) -> usize {
    // `run` samples nothing when a row is past MAX_ROW.
    crate::row_elements(program, input).unwrap_or(0)
}

/// Samples drawn uniformly and independently per element from the domains
/// (from the box, for unbounded ones), and what they are a sample of.
fn points(program: &Program, dtype: Dtype, case: &[Option<f64>], count: usize) -> (Vec<Sample>, String) {
    let mut rng = SplitMix64::new(0x5EED);
    // The inputs whose domain was cut to the box, and the range sampled.
    let mut cut: Vec<(String, (f64, f64))> = Vec::new();
    let ranges: Vec<(f64, f64)> = program
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let (lo, hi) = input.domain.bounds(dtype);
            let range = (lo.max(-BOX), hi.min(BOX));
            if !matches!(input.domain, Domain::Set(_)) && case[i].is_none() && (lo < -BOX || hi > BOX) {
                cut.push((input.name.clone(), range));
            }
            range
        })
        .collect();
    let samples = (0..count)
        .map(|_| {
            program
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    (0..row_len(program, input))
                        .map(|_| match (case[i], &input.domain) {
                            (Some(v), _) => v,
                            (None, Domain::Set(values)) => {
                                values[(rng.unit() * values.len() as f64) as usize % values.len()]
                            }
                            (None, _) => {
                                let (lo, hi) = ranges[i];
                                crate::absint::nearest(dtype, lo + (hi - lo) * rng.unit())
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    (samples, region_text(&cut))
}

/// Which points a sampled fraction is of: the declared domain, or the box
/// its unbounded inputs were cut to ("of points sampled in [0, 10]", or,
/// when the inputs were cut differently, each named).
fn region_text(cut: &[(String, (f64, f64))]) -> String {
    let range =
        |(lo, hi): (f64, f64)| format!("[{}, {}]", format_number(lo, Dtype::F64), format_number(hi, Dtype::F64));
    match cut {
        [] => "of the declared domain".to_string(),
        [(_, first), rest @ ..] if rest.iter().all(|(_, r)| r == first) => {
            format!("of points sampled in {}", range(*first))
        }
        _ => {
            let each: Vec<String> = cut
                .iter()
                .map(|(name, r)| format!("`{name}` in {}", range(*r)))
                .collect();
            format!("of points sampled with {}", each.join(", "))
        }
    }
}

/// The values of `roots` at each point: per point, per root, its elements.
fn evaluate(view: &View<'_>, points: &[Sample], roots: &[NodeId], together: bool) -> Option<Vec<Vec<Vec<f64>>>> {
    if together {
        let values = eval_batch(view, points, roots)?;
        return Some(
            (0..points.len())
                .map(|k| {
                    values
                        .iter()
                        .map(|v| {
                            let per_sample = v.ndim() >= 1 && v.shape()[0] == points.len();
                            if per_sample {
                                v.index_axis(ndarray::Axis(0), k).iter().copied().collect()
                            } else {
                                v.iter().copied().collect()
                            }
                        })
                        .collect()
                })
                .collect(),
        );
    }
    points
        .iter()
        .map(|p| {
            eval_batch(view, std::slice::from_ref(p), roots)
                .map(|v| v.iter().map(|a| a.iter().copied().collect()).collect())
        })
        .collect()
}

fn eval_batch(view: &View<'_>, points: &[Sample], roots: &[NodeId]) -> Option<Vec<ArrayD<f64>>> {
    match view.dtype {
        Dtype::F32 => eval_typed::<f32>(view, points, roots),
        Dtype::F64 => eval_typed::<f64>(view, points, roots),
    }
}

fn eval_typed<T: num_traits::Float + lossc_ir::builtins::Scalar>(
    view: &View<'_>,
    points: &[Sample],
    roots: &[NodeId],
) -> Option<Vec<ArrayD<f64>>> {
    let program = view.program;
    let n = points.len();
    let data: Vec<(&str, ArrayD<T>)> = program
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let shape: Vec<usize> = input
                .shape
                .iter()
                .enumerate()
                .map(|(k, d)| match d {
                    _ if k == 0 && Some(*d) == program.batch => n,
                    Dim::Fixed(s) => *s as usize,
                    Dim::Named(id) => crate::dim_size(program, *id),
                })
                .collect();
            let has_batch = program.batch.is_some() && input.shape.first().copied() == program.batch;
            let row = row_len(program, input);
            let mut flat = Vec::with_capacity(shape.iter().product());
            for sample in points.iter().take(if has_batch { n } else { 1 }) {
                flat.extend(sample[i].iter().take(row).map(|v| T::from(*v).unwrap_or_else(T::nan)));
            }
            let array = ArrayD::from_shape_vec(IxDyn(&shape), flat).ok()?;
            Some((input.name.as_str(), array))
        })
        .collect::<Option<Vec<_>>>()?;
    let bindings = lossc_eval::Bindings::new(program, data).ok()?;
    let values = lossc_eval::eval(program, roots, &bindings).ok()?;
    Some(
        values
            .into_iter()
            .map(|a| a.mapv(|v| v.to_f64().unwrap_or(f64::NAN)))
            .collect(),
    )
}

/// A selection on the variable's path: where it passes no gradient.
struct Selection {
    node: NodeId,
    /// The nodes whose values decide it.
    probes: Vec<NodeId>,
}

/// How much of one case's domain has a gradient of exactly zero, and which
/// selection (node, region text, whether it is a clip) passes nothing there.
#[derive(Debug, Clone)]
pub struct Dead {
    pub var: Var,
    pub fraction: f64,
    pub cause: Option<(NodeId, String, bool)>,
    /// "of the declared domain", or of the sampled box.
    pub region: String,
}

/// Samples one case: returns the dead-gradient measurements, and pushes the
/// clip-saturation and discontinuity findings.
pub fn run(view: View<'_>, case: &[Option<f64>], cases: usize, out: &mut Vec<Diagnostic>) -> Vec<Dead> {
    let mut dead_reports = Vec::new();
    if view.gradients.is_empty() {
        return dead_reports;
    }
    let program = view.program;
    let together = view.separable();
    // The samples are shared out among the cases (at least 200 each).
    let budget = if together { 2000 } else { SAMPLES };
    // Rows too large to evaluate are judged by the intervals alone; large
    // rows get fewer samples, so one batch stays within MAX_BATCH_ELEMENTS.
    let Some(row) = crate::largest_row(program) else {
        return dead_reports;
    };
    let count = (budget / cases.max(1))
        .max(200)
        .min((crate::MAX_BATCH_ELEMENTS / row).max(8));
    let (pts, region) = points(program, view.dtype, case, count);
    let reach = program.reachable(&[view.root]);
    let mut selections = Vec::new();
    for (i, node) in program.nodes[..view.first_gradient].iter().enumerate() {
        if !reach[i] {
            continue;
        }
        let id = NodeId(i as u32);
        let Op::Call(builtin, _) = node.op else { continue };
        let probes = match builtin {
            Builtin::Where => vec![node.args[0]],
            Builtin::Relu => vec![node.args[0]],
            Builtin::Maximum | Builtin::Minimum => vec![node.args[0], node.args[1]],
            Builtin::Clip => vec![node.args[0], node.args[1], node.args[2]],
            _ => continue,
        };
        selections.push(Selection { node: id, probes });
    }
    let mut roots: Vec<NodeId> = view.gradients.iter().map(|(_, g)| *g).collect();
    let gradient_count = roots.len();
    for s in &selections {
        roots.extend(&s.probes);
    }
    let Some(values) = evaluate(&view, &pts, &roots, together) else {
        return dead_reports;
    };
    for (k, (var, _)) in view.gradients.iter().enumerate() {
        let dead: Vec<usize> = (0..pts.len())
            .filter(|&p| {
                let g = &values[p][k];
                !g.is_empty() && g.iter().all(|x| *x == 0.0)
            })
            .collect();
        let fraction = dead.len() as f64 / pts.len() as f64;
        // Which selection passes nothing at the dead points?
        let mut cause: Option<(NodeId, String, bool)> = None;
        let mut offset = gradient_count;
        for s in &selections {
            let probe = |p: usize, j: usize| values[p][offset + j].first().copied().unwrap_or(f64::NAN);
            let node = program.node(s.node);
            let Op::Call(builtin, _) = node.op else { continue };
            let majority = |f: &dyn Fn(usize) -> bool| {
                !dead.is_empty() && dead.iter().filter(|&&p| f(p)).count() * 10 >= dead.len() * 9
            };
            let found = match builtin {
                Builtin::Where => {
                    let then_dead = !view.reads(node.args[1], *var);
                    let else_dead = !view.reads(node.args[2], *var);
                    if else_dead && majority(&|p| probe(p, 0) == 0.0) {
                        Some((negated(&view, node.args[0]), false))
                    } else if then_dead && majority(&|p| probe(p, 0) != 0.0) {
                        Some((format!("`{}`", view.node_text(node.args[0])), false))
                    } else {
                        None
                    }
                }
                Builtin::Relu if majority(&|p| probe(p, 0) <= 0.0) => {
                    Some((format!("`{} <= 0`", view.operand(s.node, 0)), false))
                }
                Builtin::Maximum | Builtin::Minimum => {
                    let less = builtin == Builtin::Maximum;
                    let (a, b) = (node.args[0], node.args[1]);
                    let loses = |p: usize, me: usize, other: usize| {
                        if less {
                            probe(p, me) < probe(p, other)
                        } else {
                            probe(p, me) > probe(p, other)
                        }
                    };
                    let op = if less { "<" } else { ">" };
                    if !view.reads(b, *var) && majority(&|p| loses(p, 0, 1)) {
                        Some((
                            format!("`{} {op} {}`", view.operand(s.node, 0), view.operand(s.node, 1)),
                            false,
                        ))
                    } else if !view.reads(a, *var) && majority(&|p| loses(p, 1, 0)) {
                        Some((
                            format!("`{} {op} {}`", view.operand(s.node, 1), view.operand(s.node, 0)),
                            false,
                        ))
                    } else {
                        None
                    }
                }
                Builtin::Clip => {
                    let saturated = |p: usize| probe(p, 0) < probe(p, 1) || probe(p, 0) > probe(p, 2);
                    if majority(&saturated) {
                        Some((String::new(), true))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            offset += s.probes.len();
            if cause.is_none()
                && let Some((text, is_clip)) = found
            {
                cause = Some((s.node, text, is_clip));
            }
        }
        // Where the dead side is a threshold on one scalar input with an
        // interval domain, its share is computable exactly: use it when the
        // sample agrees (no other cause of zero gradients).
        let fraction = cause
            .as_ref()
            .and_then(|(node, _, is_clip)| if *is_clip { None } else { exact_share(&view, *node) })
            .filter(|exact| (exact - fraction).abs() <= 0.05)
            .unwrap_or(fraction);
        dead_reports.push(Dead {
            var: *var,
            fraction,
            cause,
            region: region.clone(),
        });
    }
    discontinuities(&view, &pts, &selections, out);
    dead_reports
}

/// Turns the dead-gradient measurements of every case into diagnostics.
pub fn report_dead(view: &View<'_>, cases: &[(String, Vec<Dead>)], out: &mut Vec<Diagnostic>) {
    let program = view.program;
    for (var, _) in &view.gradients {
        let per_case: Vec<(&str, &Dead)> = cases
            .iter()
            .filter_map(|(text, deads)| deads.iter().find(|d| d.var == *var).map(|d| (text.as_str(), d)))
            .collect();
        if per_case.is_empty() {
            continue;
        }
        let name = program.var_name(*var);
        let weight = 1.0 / per_case.len() as f64;
        let total: f64 = per_case.iter().map(|(_, d)| d.fraction * weight).sum();
        let cause_span = |d: &Dead| {
            d.cause
                .as_ref()
                .map_or(program.node(view.root).span, |c| program.node(c.0).span)
        };
        if total >= 0.99 {
            out.push(
                Diagnostic::error(
                    Code::ZeroGradient,
                    format!("the gradient with respect to `{name}` is zero at every sampled point"),
                    cause_span(per_case[0].1),
                )
                .with_label("no gradient flows through here")
                .with_help("the model cannot learn from this loss: make the path to the variable differentiable"),
            );
            continue;
        }
        // One cause in every case: one finding over the whole domain.
        let shared_cause = per_case.iter().all(|(_, d)| d.fraction >= 0.01)
            && per_case
                .windows(2)
                .all(|w| w[0].1.cause.as_ref().map(|c| c.0) == w[1].1.cause.as_ref().map(|c| c.0));
        let merged;
        let per_case: Vec<(&str, &Dead)> = if shared_cause && per_case.len() > 1 {
            merged = Dead {
                var: *var,
                fraction: total,
                cause: per_case[0].1.cause.clone(),
                region: per_case[0].1.region.clone(),
            };
            vec![("", &merged)]
        } else {
            per_case
        };
        let weight = if shared_cause { 1.0 } else { weight };
        for (case_text, dead) in &per_case {
            let share = dead.fraction * weight;
            if dead.fraction < 0.01 {
                continue;
            }
            let percent = format!("{:.0}%", share * 100.0);
            if dead.fraction >= 0.99 && !case_text.is_empty() {
                out.push(
                    Diagnostic::warning(
                        Code::DeadGradient,
                        format!(
                            "the gradient with respect to `{name}` is exactly zero whenever {case_text}: {percent} {}",
                            dead.region
                        ),
                        program.node(view.root).span,
                    )
                    .with_label("these samples contribute no gradient")
                    .with_note("the model learns nothing from them, however wrong its prediction")
                    .with_help("give this case its own term (as binary cross-entropy has for `y_true` = 0)"),
                );
                continue;
            }
            let within = if case_text.is_empty() {
                String::new()
            } else {
                format!(" (with {case_text})")
            };
            match &dead.cause {
                Some((node, _, true)) => clip_saturation(view, *node, share, &dead.region, out),
                Some((node, text, false)) => out.push(
                    Diagnostic::warning(
                        Code::DeadGradient,
                        format!("the gradient with respect to `{name}` is exactly zero where {text}{within}: {percent} {}", dead.region),
                        program.node(*node).span,
                    )
                    .with_label("passes no gradient on that side")
                    .with_note("samples there teach the model nothing, whatever their error")
                    .with_help("give that side a slope (e.g. a small linear term, `softplus` for `relu`), or make sure the model never lands there"),
                ),
                None => out.push(
                    Diagnostic::warning(
                        Code::DeadGradient,
                        format!("the gradient with respect to `{name}` is exactly zero on {percent} {}{within}", dead.region),
                        program.node(view.root).span,
                    )
                    .with_label("zero gradient on a region")
                    .with_help("find the selection (`where`, `relu`, `maximum`, `clip`) that passes nothing there"),
                ),
            }
        }
    }
}

/// The exact share of the domain on the dead side of `where(x op c, a, b)`,
/// for a scalar input `x` with an interval domain and a constant `c`: the
/// side whose branch does not read the variable.
fn exact_share(view: &View<'_>, node: NodeId) -> Option<f64> {
    let program = view.program;
    let w = program.node(node);
    let Op::Call(Builtin::Where, _) = w.op else { return None };
    let cond = program.node(w.args[0]);
    let Op::Call(op @ (Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge), _) = cond.op else {
        return None;
    };
    let Op::Input(i) = program.node(cond.args[0]).op else {
        return None;
    };
    let scalar = |v: &lossc_ir::Value| match v {
        lossc_ir::Value::Scalar(x) => Some(*x),
        lossc_ir::Value::Vector(_) => None,
    };
    let c = match program.node(cond.args[1]).op {
        Op::Literal(v) => v,
        Op::Param(k) => scalar(&program.params[k].value)?,
        Op::Const(k) => scalar(&program.consts[k].value)?,
        _ => return None,
    };
    let input = &program.inputs[i];
    let Domain::Interval { lo, hi, .. } = input.domain else {
        return None;
    };
    if !(lo.is_finite() && hi.is_finite() && hi > lo) || input.shape.len() > 1 {
        return None;
    }
    let below = ((c - lo) / (hi - lo)).clamp(0.0, 1.0);
    let holds_below = matches!(op, Builtin::Lt | Builtin::Le);
    let var_in = |k: usize| view.gradients.iter().any(|(v, _)| view.reads(w.args[k], *v));
    // The dead side is where the selected branch does not read the variable.
    match (var_in(1), var_in(2)) {
        (true, false) => Some(if holds_below { 1.0 - below } else { below }),
        (false, true) => Some(if holds_below { below } else { 1.0 - below }),
        _ => None,
    }
}

/// `a <= b` for the condition `a > b`, as written.
fn negated(view: &View<'_>, cond: NodeId) -> String {
    let node = view.program.node(cond);
    let flipped = match node.op {
        Op::Call(Builtin::Gt, _) => "<=",
        Op::Call(Builtin::Ge, _) => "<",
        Op::Call(Builtin::Lt, _) => ">=",
        Op::Call(Builtin::Le, _) => ">",
        Op::Call(Builtin::Eq, _) => "!=",
        Op::Call(Builtin::Ne, _) => "==",
        _ => return format!("`{}` is false", view.node_text(cond)),
    };
    let mut text = format!("`{} {flipped} {}`", view.operand(cond, 0), view.operand(cond, 1));
    // Say what a named constant is worth: `y_pred <= threshold` (threshold = 0.5).
    let values: Vec<String> = node
        .args
        .iter()
        .filter(|a| matches!(view.program.node(**a).op, Op::Param(_) | Op::Const(_)))
        .filter_map(|a| leaf_text(view.program, *a))
        .filter(|t| t.contains("(= "))
        .map(|t| t.replace(" (= ", " = ").trim_end_matches(')').to_string())
        .collect();
    if !values.is_empty() {
        text.push_str(&format!(" ({})", values.join(", ")));
    }
    text
}

fn clip_saturation(view: &View<'_>, node: NodeId, fraction: f64, region: &str, out: &mut Vec<Diagnostic>) {
    let program = view.program;
    let n = program.node(node);
    let text = |k: usize| view.node_text(n.args[k]);
    let message = format!(
        "`clip` passes no gradient where `{}` is outside [`{}`, `{}`]: {:.0}% {region}",
        text(0),
        text(1),
        text(2),
        fraction * 100.0
    );
    out.push(
        Diagnostic::warning(Code::ClipSaturation, message, n.span)
            .with_label("saturated: zero gradient")
            .with_note("a prediction clipped at the wrong end is confidently wrong and gets no gradient to correct it")
            .with_help("compute the loss from logits (`log_sigmoid`, `softplus`, `log_softmax`), or clip only a little (Keras uses [1e-7, 1 - 1e-7])"),
    );
}

/// A `where` whose branches disagree at the boundary of its condition: the
/// loss jumps there. Found by bisecting between sampled points on either side.
fn discontinuities(view: &View<'_>, pts: &[Sample], selections: &[Selection], out: &mut Vec<Diagnostic>) {
    let program = view.program;
    for s in selections {
        let node = program.node(s.node);
        if !matches!(node.op, Op::Call(Builtin::Where, _)) {
            continue;
        }
        let cond = node.args[0];
        if !view.gradients.iter().any(|(v, _)| view.reads(cond, *v)) {
            continue;
        }
        let roots = [cond, s.node];
        // Two samples on either side of the boundary (all samples, in one
        // batch when they are independent), then bisection between them.
        let together = view.separable();
        let probe = if together { pts } else { &pts[..pts.len().min(128)] };
        let Some(first) = evaluate(view, probe, &[cond], together) else {
            continue;
        };
        let side = |p: usize| first[p][0].first().is_some_and(|c| *c != 0.0);
        let Some(a) = (0..probe.len()).find(|&p| side(p)) else {
            continue;
        };
        let Some(b) = (0..probe.len()).find(|&p| !side(p)) else {
            continue;
        };
        let (mut lo, mut hi) = (probe[a].clone(), probe[b].clone());
        let mid = |x: &Sample, y: &Sample| -> Sample {
            x.iter()
                .zip(y)
                .map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u + v) / 2.0).collect())
                .collect()
        };
        for _ in 0..40 {
            let m = mid(&lo, &hi);
            let Some(v) = evaluate(view, std::slice::from_ref(&m), &roots, false) else {
                break;
            };
            if v[0][0].first().is_some_and(|c| *c != 0.0) {
                lo = m;
            } else {
                hi = m;
            }
        }
        let Some(ends) = evaluate(view, &[lo.clone(), hi.clone()], &roots, false) else {
            continue;
        };
        let (va, vb) = (
            ends[0][1].first().copied().unwrap_or(0.0),
            ends[1][1].first().copied().unwrap_or(0.0),
        );
        let scale = va.abs().max(vb.abs()).max(1.0);
        if (va - vb).abs() <= 1e-3 * scale || !va.is_finite() || !vb.is_finite() {
            continue;
        }
        let at: Vec<String> = program
            .inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| program.inputs_read(&[cond])[*i])
            .map(|(i, input)| format!("`{}` = {}", input.name, lossc_ir::format_approx(lo[i][0])))
            .collect();
        out.push(
            Diagnostic::warning(
                Code::Discontinuity,
                format!(
                    "the loss jumps where `{}` changes: from {} to {} near {}",
                    view.node_text(cond),
                    lossc_ir::format_approx(va),
                    lossc_ir::format_approx(vb),
                    at.join(" and ")
                ),
                node.span,
            )
            .with_label("the branches disagree on the boundary")
            .with_note("gradient descent cannot see a jump: the gradient is blind to the step")
            .with_help("make the branches meet at the boundary (as Huber's do), or use a smooth blend such as `sigmoid(k * (x - t))`"),
        );
    }
}
