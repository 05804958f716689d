//! Checks measured by sampling the declared domains with the reference
//! interpreter: gradients that are exactly zero on a region (`dead-gradient`)
//! or almost everywhere (`zero-gradient`), clips that saturate
//! (`clip-saturation`), and `where`s whose branches disagree on their
//! boundary (`discontinuity`).

use lossc_diagnostics::{Code, Diagnostic, Span, WitnessValue};
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
pub(crate) const BOX: f64 = 10.0;

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
pub(crate) type Sample = Vec<Vec<f64>>;

/// How many elements one sample of an input has (named dimensions other than
/// the batch dimension have size 3).
pub(crate) fn row_len(program: &Program, input: &lossc_ir::Input) -> usize {
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
            let range = sampled_range(lo, hi);
            if !matches!(input.domain, Domain::Set(_)) && case[i].is_none() && range != (lo, hi) {
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
                    let mut row: Vec<f64> = (0..row_len(program, input))
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
                        .collect();
                    // Rows of a row domain: uniform over the simplex, or a
                    // uniformly chosen class hot.
                    if input.domain.is_row() {
                        let width = crate::last_axis_size(program, input);
                        input.domain.make_rows(&mut row, width, &mut rng, true);
                        for v in &mut row {
                            *v = crate::absint::nearest(dtype, *v);
                        }
                    }
                    row
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
    let bindings = lossc_reference::Bindings::new(program, data).ok()?;
    let values = lossc_reference::eval(program, roots, &bindings).ok()?;
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
    /// Whether the predictions there are at the loss's goal ([`satisfied`]).
    pub at_goal: bool,
    /// Whether the zeros are the dtype's rounding, not the loss's shape
    /// ([`rounding`]).
    pub rounding: bool,
    /// The input whose all-zero rows make the loss ignore those samples
    /// ([`ignored_by`]).
    pub ignored_by: Option<usize>,
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
            Builtin::Maximum | Builtin::Minimum => vec![node.args[0], node.args[1]],
            Builtin::Clip => vec![node.args[0], node.args[1], node.args[2]],
            // A kink of the table (`relu`, `abs`): where its guard fails.
            _ if builtin.kink_selection().is_some() => vec![node.args[0]],
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
            | Builtin::Xlogy
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
            | Builtin::ExpandDims => continue,
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
    // The selections whose boundary is a jump of the loss.
    let before = out.len();
    discontinuities(&view, &pts, &selections, &values, gradient_count, out);
    let jumps: Vec<Span> = out[before..]
        .iter()
        .filter(|d| d.code == Code::Discontinuity)
        .map(|d| d.span)
        .collect();
    for (k, (var, _)) in view.gradients.iter().enumerate() {
        let dead: Vec<usize> = (0..pts.len())
            .filter(|&p| {
                let g = &values[p][k];
                !g.is_empty() && g.iter().all(|x| *x == 0.0)
            })
            .collect();
        let fraction = dead.len() as f64 / pts.len() as f64;
        // Only a selection that reads the variable can cut it off.
        let reads = |n: NodeId| view.reads(n, *var);
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
                _ if !reads(s.node) => None,
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
                _ if builtin.kink_selection().is_some_and(|(test, at)| {
                    majority(&|p| lossc_ir::builtins::eval_scalar(test, &[probe(p, 0), at]) == Some(0.0))
                }) =>
                {
                    let (test, at) = builtin.kink_selection().expect("a kink");
                    let fails = test.complement().expect("a comparison");
                    Some((
                        format!(
                            "`{} {} {}`",
                            view.operand(s.node, 0),
                            fails.spec().symbol.unwrap_or(fails.name()),
                            lossc_ir::format_number(at, view.dtype)
                        ),
                        false,
                    ))
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
                | Builtin::Xlogy
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
        // A zero gradient where the prediction already sits in a flat
        // minimum that depends on its label (a hinge's satisfied margin, an
        // epsilon-insensitive tube) is the loss working: a note, not a
        // warning. A minimum entered through a jump (`where(e > t, e, 0)`) is a
        // threshold that hides errors, not a goal reached by descending.
        let jumps_in = cause.as_ref().is_some_and(|c| jumps.contains(&program.node(c.0).span));
        let at_goal = !jumps_in && satisfied(&view, *var, &pts, &dead);
        let (rounding, ignored_by) = if cause.is_none() && !at_goal {
            let rounding = rounding(&view, k, &pts, &dead);
            (
                rounding,
                if rounding {
                    None
                } else {
                    ignored_by(&view, *var, &pts, &dead)
                },
            )
        } else {
            (false, None)
        };
        dead_reports.push(Dead {
            var: *var,
            fraction,
            cause,
            region: region.clone(),
            at_goal,
            rounding,
            ignored_by,
        });
    }
    dead_reports
}

/// Points checked on each path to the label, and dead points checked.
const PATH_STEPS: usize = 8;
const CHECKED: usize = 40;
/// Other samples whose values are tried at a dead point: their predictions
/// as rivals, their other inputs as other contexts.
const RIVALS: usize = 12;
const CONTEXTS: usize = 16;

/// The per-sample loss at each of `probes`, each evaluated alone.
pub(crate) fn losses_at(view: &View<'_>, probes: &[Sample]) -> Option<Vec<f64>> {
    let values = evaluate(view, probes, &[view.root], false)?;
    Some(
        values
            .iter()
            .map(|v| v[0].first().copied().unwrap_or(f64::NAN))
            .collect(),
    )
}

/// The range sampled of a domain with bounds `lo` and `hi`: its
/// intersection with [-10, 10], or, for a domain beyond the box, the 20
/// units of it nearest the box.
pub(crate) fn sampled_range(lo: f64, hi: f64) -> (f64, f64) {
    if lo > BOX {
        (lo, hi.min(lo + 2.0 * BOX))
    } else if hi < -BOX {
        (lo.max(hi - 2.0 * BOX), hi)
    } else {
        (lo.max(-BOX), hi.min(BOX))
    }
}

/// The value of `domain` nearest 0 (its low end when the dtype has no
/// float inside it).
pub(crate) fn nearest_zero(domain: &Domain, dtype: Dtype) -> f64 {
    let (lo, hi) = domain.bounds(dtype);
    if lo <= hi { 0.0f64.clamp(lo, hi) } else { lo }
}

/// Whether `row` is a value the input `domain` can hold.
fn fits(domain: &Domain, row: &[f64]) -> bool {
    if domain.is_row() {
        domain.contains_row(row)
    } else {
        row.iter().all(|v| domain.contains(*v))
    }
}

/// Predictions to compare a dead point's prediction `from` with: on the
/// straight path to each of `targets` (the sample's other inputs: its label,
/// a triplet's anchor) and beyond it, when the target is a value the
/// prediction can take; shrunk towards and pushed away from the
/// domain's centre, and the predictions of other samples; all inside the
/// domain.
fn rivals(domain: &Domain, dtype: Dtype, from: &[f64], targets: &[&[f64]], others: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    let along = |target: &[f64], f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
        from.iter().zip(target).map(|(a, b)| f(*a, *b)).collect()
    };
    for to in targets.iter().filter(|to| to.len() == from.len() && fits(domain, to)) {
        for k in 1..=PATH_STEPS {
            let t = k as f64 / PATH_STEPS as f64;
            out.push(along(to, &|a, b| a + t * (b - a)));
        }
        for k in [1.0, 2.0, 4.0, 16.0, 256.0] {
            out.push(along(to, &|a, b| b - k * (a - b)));
        }
    }
    let centre = vec![nearest_zero(domain, dtype); from.len()];
    for k in [0.5, 0.25, 0.0, -1.0, 2.0, 4.0] {
        out.push(along(&centre, &|a, c| c + k * (a - c)));
    }
    out.extend(others.iter().map(|o| o.to_vec()));
    out.retain(|r| r.len() == from.len() && fits(domain, r));
    out
}

/// Whether the zero gradient at the `dead` points of `pts` is the loss at
/// its goal. At 9 in 10 of the dead points checked, the per-sample loss
/// 1. is as low as at any rival prediction ([`rivals`]): the sample is in a
///    minimum of its own loss;
/// 2. is higher at some rival: the loss does not ignore the sample; and
/// 3. with the other inputs of another sample (another label), the same
///    prediction is beaten by a rival: which predictions are best depends
///    on the label, so the loss judges the prediction against it.
///
/// A hinge's satisfied margin, an epsilon-insensitive tube, a triplet's met
/// margin pass all three. A step through `where` (a wrong prediction scores
/// 0 whatever its label) fails 3; a loss that ignores a sample whatever the
/// prediction (`-y_true * log(p)` for a negative) fails 2; a sample far from
/// a minimum fails 1.
fn satisfied(view: &View<'_>, var: Var, pts: &[Sample], dead: &[usize]) -> bool {
    let program = view.program;
    let Var::Input(pred) = var else { return false };
    if dead.is_empty() {
        return false;
    }
    let domain = &program.inputs[pred].domain;
    // Other contexts: drawn afresh over every case, so a label split into
    // cases still meets its other values.
    let everything = vec![None; program.inputs.len()];
    let (contexts, _) = points(program, view.dtype, &everything, CONTEXTS);
    let step = dead.len().div_ceil(CHECKED).max(1);
    let mut checked = 0usize;
    let mut goal = 0usize;
    for (n, &p) in dead.iter().enumerate().step_by(step) {
        let sample = &pts[p];
        let others: Vec<&[f64]> = (1..=RIVALS)
            .map(|k| pts[(p + k * 7919) % pts.len()][pred].as_slice())
            .collect();
        let with = |context: &Sample, row: &[f64]| {
            let mut m = context.clone();
            m[pred] = row.to_vec();
            m
        };
        // Whether `row` is beaten by a rival in `context`; None when the
        // loss is not finite there.
        let judged = |context: &Sample| -> Option<(f64, f64, f64)> {
            let here = &sample[pred];
            let targets: Vec<&[f64]> = (0..context.len())
                .filter(|i| *i != pred)
                .map(|i| context[i].as_slice())
                .collect();
            let rivals = rivals(domain, view.dtype, here, &targets, &others);
            let mut probes = vec![with(context, here)];
            probes.extend(rivals.iter().map(|r| with(context, r)));
            let losses = losses_at(view, &probes)?;
            let best = losses[1..]
                .iter()
                .copied()
                .filter(|l| l.is_finite())
                .fold(f64::INFINITY, f64::min);
            let worst = losses[1..]
                .iter()
                .copied()
                .filter(|l| l.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            losses[0].is_finite().then_some((losses[0], best, worst))
        };
        // Nine in ten are needed: stop once that is out of reach.
        if (checked - goal) * 10 > dead.len().div_ceil(step) {
            return false;
        }
        checked += 1;
        let Some((start, best, worst)) = judged(sample) else {
            continue;
        };
        let tolerance = |l: f64| 1e-6 * l.abs().max(1.0);
        let minimum = start <= best + tolerance(start);
        let varies = worst > start + tolerance(start);
        if !(minimum && varies) {
            continue;
        }
        let judges = (0..CONTEXTS).any(|k| {
            let context = &contexts[(n + k) % contexts.len()];
            judged(context).is_some_and(|(l, best, _)| l > best + tolerance(l))
        });
        if judges {
            goal += 1;
        }
    }
    checked > 0 && goal * 10 >= checked * 9
}

/// Whether the zero gradient at the `dead` points of `pts` is rounding in
/// the dtype: lossc's exact gradient, evaluated in f64 at the same points,
/// is not zero at 9 in 10 of them (a term such as `exp(-e^2 / 2)` that
/// underflows in f32 for large errors). Always false in f64.
fn rounding(view: &View<'_>, k: usize, pts: &[Sample], dead: &[usize]) -> bool {
    if view.dtype == Dtype::F64 || dead.is_empty() {
        return false;
    }
    let wide = View {
        dtype: Dtype::F64,
        gradients: view.gradients.clone(),
        ..*view
    };
    let step = dead.len().div_ceil(CHECKED).max(1);
    let probes: Vec<Sample> = dead.iter().step_by(step).map(|&p| pts[p].clone()).collect();
    let Some(values) = evaluate(&wide, &probes, &[view.gradients[k].1], false) else {
        return false;
    };
    let alive = values.iter().filter(|v| v[0].iter().any(|g| *g != 0.0)).count();
    alive * 10 >= probes.len() * 9
}

/// The input (not `var`) whose row is all zeros at 9 in 10 of the `dead`
/// points while the loss there is the same for every prediction: a mask or
/// a multi-hot label that marks nothing in that sample, so the loss
/// ignores it (a masked MSE's fully masked row, a cross-entropy's label row
/// with no class marked). Only inputs with more than one element per
/// sample, and a domain that holds 0, are asked.
fn ignored_by(view: &View<'_>, var: Var, pts: &[Sample], dead: &[usize]) -> Option<usize> {
    let program = view.program;
    let Var::Input(pred) = var else { return None };
    if dead.is_empty() {
        return None;
    }
    let step = dead.len().div_ceil(CHECKED).max(1);
    let checked: Vec<usize> = dead.iter().step_by(step).copied().collect();
    let input = (0..program.inputs.len()).find(|&i| {
        i != pred
            && row_len(program, &program.inputs[i]) > 1
            && program.inputs[i].domain.contains(0.0)
            && checked.iter().filter(|&&p| pts[p][i].iter().all(|v| *v == 0.0)).count() * 10 >= checked.len() * 9
    })?;
    // The loss is the same whatever the prediction at those points.
    let others: Vec<&[f64]> = (1..=RIVALS).map(|k| pts[k % pts.len()][pred].as_slice()).collect();
    let constant = checked.iter().all(|&p| {
        let mut probes = vec![pts[p].clone()];
        for r in rivals(&program.inputs[pred].domain, view.dtype, &pts[p][pred], &[], &others) {
            let mut m = pts[p].clone();
            m[pred] = r;
            probes.push(m);
        }
        losses_at(view, &probes).is_some_and(|l| l.iter().all(|x| x.to_bits() == l[0].to_bits()))
    });
    constant.then_some(input)
}

/// Turns the dead-gradient measurements of every case into diagnostics./// Turns the dead-gradient measurements of every case into diagnostics.
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
                at_goal: per_case.iter().all(|(_, d)| d.at_goal),
                rounding: per_case.iter().all(|(_, d)| d.rounding),
                ignored_by: per_case[0]
                    .1
                    .ignored_by
                    .filter(|i| per_case.iter().all(|(_, d)| d.ignored_by == Some(*i))),
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
            let within = if case_text.is_empty() {
                String::new()
            } else {
                format!(" (with {case_text})")
            };
            if dead.at_goal && !matches!(dead.cause, Some((_, _, true))) {
                let (where_text, span) = match &dead.cause {
                    Some((node, text, _)) => (format!(" where {text}"), program.node(*node).span),
                    None => (String::new(), program.node(view.root).span),
                };
                out.push(
                    Diagnostic::note(
                        Code::DeadGradient,
                        format!(
                            "the gradient with respect to `{name}` is exactly zero{where_text}{within}: {percent} {}, where the prediction is already at the loss's goal",
                            dead.region
                        ),
                        span,
                    )
                    .with_label("no gradient where the loss is satisfied")
                    .with_note("a prediction there scores as well as any other, and which predictions score best depends on the label: nothing there needs correcting (a hinge's satisfied margin, a tolerance band)"),
                );
                continue;
            }
            if dead.rounding && dead.cause.is_none() {
                out.push(
                    Diagnostic::note(
                        Code::DeadGradient,
                        format!(
                            "the gradient with respect to `{name}` rounds to exactly zero in f32{within}: {percent} {}, although it is not zero in exact arithmetic",
                            dead.region
                        ),
                        program.node(view.root).span,
                    )
                    .with_label("the gradient underflows or cancels here")
                    .with_note("the loss saturates there (e.g. `exp(-e^2)` for a large error, a bounded loss near its ceiling): its slope is smaller than f32 can hold, so those samples barely move the model; in f64 they have a gradient"),
                );
                continue;
            }
            if let (Some(input), None) = (dead.ignored_by, &dead.cause) {
                let mask = &program.inputs[input].name;
                out.push(
                    Diagnostic::note(
                        Code::DeadGradient,
                        format!(
                            "the gradient with respect to `{name}` is exactly zero where a row of `{mask}` is all zeros{within}: {percent} {}; the loss ignores those samples",
                            dead.region
                        ),
                        program.node(view.root).span,
                    )
                    .with_label("no gradient from a sample whose row is all zeros")
                    .with_note(format!("a mask that masks everything, or a label row that marks no class, leaves nothing to learn; if every row of `{mask}` marks exactly one class, declare it `onehot`")),
                );
                continue;
            }
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

/// The most element evaluations (nodes evaluated, times the elements of
/// the points evaluated plus [`NODE_OVERHEAD`]) the search for jumps at
/// `where` boundaries spends on one loss and case. Past it, the boundaries
/// left are not searched, and an `analysis-limit` note says so: a chain of
/// a hundred `where`s costs a bounded search, not one bisection of the
/// whole chain per boundary.
pub const JUMP_SEARCH_BUDGET: usize = 16_000_000;

/// What evaluating one node costs besides its elements (allocating its
/// array), in elements.
const NODE_OVERHEAD: usize = 32;

/// Bisection steps between two points on either side of a boundary.
const BISECTIONS: usize = 40;

thread_local! {
    /// Element evaluations spent by the jump search on this thread.
    static JUMP_SEARCH_WORK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The element evaluations the search for jumps at `where` boundaries has
/// spent on this thread: its work, for tests that bound it.
pub fn jump_search_work() -> usize {
    JUMP_SEARCH_WORK.with(std::cell::Cell::get)
}

/// A `where` boundary to search: the selection, its condition, and two
/// points on either side (`lo` where the condition holds).
struct Boundary {
    node: NodeId,
    cond: NodeId,
    lo: Sample,
    hi: Sample,
}

/// The point halfway between `x` and `y`.
fn midpoint(x: &Sample, y: &Sample) -> Sample {
    x.iter()
        .zip(y)
        .map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u + v) / 2.0).collect())
        .collect()
}

/// A `where` whose branches disagree at the boundary of its condition: the
/// loss jumps there. Found by bisecting between sampled points on either
/// side (`values`: the sampled points' values of `run`'s roots, whose
/// selections' probes start at `first_probe`). When samples are
/// independent, the bisections of every boundary advance together, one
/// evaluation of the program per step, rather than one per boundary.
fn discontinuities(
    view: &View<'_>,
    pts: &[Sample],
    selections: &[Selection],
    values: &[Vec<Vec<f64>>],
    first_probe: usize,
    out: &mut Vec<Diagnostic>,
) {
    let program = view.program;
    let together = view.separable();
    let searched = if together { pts.len() } else { pts.len().min(128) };
    let mut boundaries = Vec::new();
    let mut offset = first_probe;
    for s in selections {
        let at = offset;
        offset += s.probes.len();
        let node = program.node(s.node);
        if !matches!(node.op, Op::Call(Builtin::Where, _)) {
            continue;
        }
        let cond = node.args[0];
        if !view.gradients.iter().any(|(v, _)| view.reads(cond, *v)) {
            continue;
        }
        let side = |p: usize| values[p][at].first().is_some_and(|c| *c != 0.0);
        let Some(a) = (0..searched).find(|&p| side(p)) else {
            continue;
        };
        let Some(b) = (0..searched).find(|&p| !side(p)) else {
            continue;
        };
        boundaries.push(Boundary {
            node: s.node,
            cond,
            lo: pts[a].clone(),
            hi: pts[b].clone(),
        });
    }
    // Samples of inputs without the batch dimension cannot share a batch.
    let batched = together
        && program
            .inputs
            .iter()
            .all(|input| program.batch.is_some() && input.shape.first().copied() == program.batch);
    let row: usize = program
        .inputs
        .iter()
        .map(|input| row_len(program, input))
        .sum::<usize>()
        .max(1);
    let fit = boundaries_within_budget(&boundaries, batched, row);
    if let Some(first_left) = boundaries.get(fit) {
        out.push(jump_search_limit(view, first_left.node, boundaries.len() - fit));
    }
    boundaries.truncate(fit);
    let ends = if batched {
        bisect_together(view, &mut boundaries, row)
    } else {
        bisect_each(view, &mut boundaries, row)
    };
    for (boundary, (va, vb)) in boundaries.iter().zip(ends) {
        let scale = va.abs().max(vb.abs()).max(1.0);
        if (va - vb).abs() <= 1e-3 * scale || !va.is_finite() || !vb.is_finite() {
            continue;
        }
        let cond = boundary.cond;
        let read = program.inputs_read(&[cond]);
        // The point just below the boundary, as data (the message rounds
        // it); a witness only where each input it reads is one number (a
        // sampled row's elements differ, which a witness value cannot say).
        let single = (0..program.inputs.len()).all(|i| !read[i] || boundary.lo[i].len() == 1);
        let mut witness: Vec<WitnessValue> = program
            .inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| read[*i])
            .map(|(i, input)| WitnessValue {
                input: input.name.clone(),
                value: boundary.lo[i][0],
                first_of_row: false,
                row: None,
            })
            .collect();
        let at: Vec<String> = witness
            .iter()
            .map(|w| format!("`{}` = {}", w.input, lossc_ir::format_approx(w.value)))
            .collect();
        if !single {
            witness.clear();
        }
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
                program.node(boundary.node).span,
            )
            .with_label("the branches disagree on the boundary")
            .with_note("gradient descent cannot see a jump: the gradient is blind to the step")
            .with_help("make the branches meet at the boundary (as Huber's do), or use a smooth blend such as `sigmoid(k * (x - t))`")
            .with_witness(witness),
        );
    }
}

/// The element evaluations of `roots` at `points` points (every node up to
/// the last root counted, an upper bound), added to the thread's count.
fn spend(roots: &[NodeId], points: usize, row: usize) {
    let work = evaluation_cost(roots.iter().map(|r| r.index()).max(), points, row);
    JUMP_SEARCH_WORK.with(|w| w.set(w.get().saturating_add(work)));
}

/// Element evaluations of every node up to `last` at `points` points of
/// `row` elements, each node's overhead included.
fn evaluation_cost(last: Option<usize>, points: usize, row: usize) -> usize {
    last.map_or(0, |last| {
        (last + 1).saturating_mul(points.saturating_mul(row).saturating_add(NODE_OVERHEAD))
    })
}

/// How many of `boundaries`, in program order, can be searched within
/// [`JUMP_SEARCH_BUDGET`].
fn boundaries_within_budget(boundaries: &[Boundary], batched: bool, row: usize) -> usize {
    let (mut last_cond, mut last_node, mut each) = (0, 0, 0usize);
    for (k, boundary) in boundaries.iter().enumerate() {
        let cost = if batched {
            // Every step evaluates all conditions at one point per boundary;
            // the ends, every selection at two.
            last_cond = last_cond.max(boundary.cond.index());
            last_node = last_node.max(boundary.node.index());
            evaluation_cost(Some(last_cond), k + 1, row)
                .saturating_mul(BISECTIONS)
                .saturating_add(evaluation_cost(Some(last_node), 2 * (k + 1), row))
        } else {
            each = each
                .saturating_add(evaluation_cost(Some(boundary.cond.index()), 1, row).saturating_mul(BISECTIONS))
                .saturating_add(evaluation_cost(Some(boundary.node.index()), 2, row));
            each
        };
        if cost > JUMP_SEARCH_BUDGET {
            return k;
        }
    }
    boundaries.len()
}

/// Bisects every boundary at once: each step evaluates the conditions at
/// one midpoint per boundary, in one batch. The selections' values at the
/// two final points of each.
fn bisect_together(view: &View<'_>, boundaries: &mut [Boundary], row: usize) -> Vec<(f64, f64)> {
    if boundaries.is_empty() {
        return Vec::new();
    }
    let conds: Vec<NodeId> = boundaries.iter().map(|b| b.cond).collect();
    for _ in 0..BISECTIONS {
        let mids: Vec<Sample> = boundaries.iter().map(|b| midpoint(&b.lo, &b.hi)).collect();
        spend(&conds, mids.len(), row);
        let Some(values) = evaluate(view, &mids, &conds, true) else {
            break;
        };
        for (k, (boundary, mid)) in boundaries.iter_mut().zip(mids).enumerate() {
            if values[k][k].first().is_some_and(|c| *c != 0.0) {
                boundary.lo = mid;
            } else {
                boundary.hi = mid;
            }
        }
    }
    let nodes: Vec<NodeId> = boundaries.iter().map(|b| b.node).collect();
    let ends: Vec<Sample> = boundaries.iter().flat_map(|b| [b.lo.clone(), b.hi.clone()]).collect();
    spend(&nodes, ends.len(), row);
    let Some(values) = evaluate(view, &ends, &nodes, true) else {
        return Vec::new();
    };
    let first = |point: usize, k: usize| values[point][k].first().copied().unwrap_or(0.0);
    (0..boundaries.len())
        .map(|k| (first(2 * k, k), first(2 * k + 1, k)))
        .collect()
}

/// Bisects each boundary on its own, one point at a time (samples that are
/// not independent). The selections' values at the two final points of each;
/// NaN where they could not be evaluated (no finding).
fn bisect_each(view: &View<'_>, boundaries: &mut [Boundary], row: usize) -> Vec<(f64, f64)> {
    boundaries
        .iter_mut()
        .map(|boundary| {
            for _ in 0..BISECTIONS {
                let mid = midpoint(&boundary.lo, &boundary.hi);
                spend(&[boundary.cond], 1, row);
                let Some(v) = evaluate(view, std::slice::from_ref(&mid), &[boundary.cond], false) else {
                    break;
                };
                if v[0][0].first().is_some_and(|c| *c != 0.0) {
                    boundary.lo = mid;
                } else {
                    boundary.hi = mid;
                }
            }
            let roots = [boundary.node];
            spend(&roots, 2, row);
            match evaluate(view, &[boundary.lo.clone(), boundary.hi.clone()], &roots, false) {
                Some(ends) => (
                    ends[0][0].first().copied().unwrap_or(0.0),
                    ends[1][0].first().copied().unwrap_or(0.0),
                ),
                None => (f64::NAN, f64::NAN),
            }
        })
        .collect()
}

/// The note that the jump search stopped at its budget, at the first
/// `where` it did not search.
fn jump_search_limit(view: &View<'_>, first_left: NodeId, left: usize) -> Diagnostic {
    let what = if left == 1 {
        "1 `where` boundary was".to_string()
    } else {
        format!("{left} `where` boundaries, from this one on, were")
    };
    Diagnostic::note(
        Code::AnalysisLimit,
        format!("the analysis of this loss reached its work limit: {what} not searched for jumps"),
        view.program.node(first_left).span,
    )
    .with_label("not searched for a jump")
    .with_note("every NaN or infinity is still reported (the analysis stays sound), but a `discontinuity` at these boundaries may go unreported")
    .with_help("name intermediate values with `let` and bound them (e.g. `clip`), or split the chain of selections")
}

/// Sampled points tried for a tie, and column pairs per point.
const TIE_POINTS: usize = 48;

/// Whether the `max` or `min` reduction `node` bends the loss where entries
/// of its operand tie. At sampled points, two elements of a variable's row
/// are set equal; where the reduction's operand then ties at its extreme,
/// the loss's gradient (in f64) just above and just below the tie (the first
/// of the two moved by a relative 1e-4 each way) is compared: a jump of
/// more than a tenth of its size is a kink. A multiclass hinge's
/// `max((1 - t) * p)` bends there; `x - max(x)` inside a log-softmax is
/// shift-invariant and does not. `false` when no tie could be made.
pub fn ties_bend(view: &View<'_>, node: NodeId) -> bool {
    let program = view.program;
    let operand = program.node(node).args[0];
    let largest = matches!(program.node(node).op, Op::Call(Builtin::Max, _));
    let wide = View {
        dtype: Dtype::F64,
        gradients: view.gradients.clone(),
        ..*view
    };
    let everything = vec![None; program.inputs.len()];
    let (pts, _) = points(program, view.dtype, &everything, TIE_POINTS);
    for (var, gradient) in &view.gradients {
        let Var::Input(input) = *var else { continue };
        if !view.reads(operand, *var) || row_len(program, &program.inputs[input]) < 2 {
            continue;
        }
        for (n, point) in pts.iter().enumerate() {
            let width = point[input].len();
            let (i, j) = (n % width, (n + 1) % width);
            let mut tied = point.clone();
            tied[input][j] = tied[input][i];
            let Some(values) = evaluate(&wide, std::slice::from_ref(&tied), &[operand], false) else {
                continue;
            };
            let row = &values[0][0];
            let extreme = if largest {
                row.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            } else {
                row.iter().copied().fold(f64::INFINITY, f64::min)
            };
            if !extreme.is_finite() || row.iter().filter(|v| **v == extreme).count() < 2 {
                continue;
            }
            let step = 1e-4 * tied[input][i].abs().max(1.0);
            let moved = |by: f64| {
                let mut m = tied.clone();
                m[input][i] += by;
                m
            };
            let sides = [moved(step), moved(-step)];
            if !sides.iter().all(|s| fits(&program.inputs[input].domain, &s[input])) {
                continue;
            }
            let Some(g) = evaluate(&wide, &sides, &[*gradient], false) else {
                continue;
            };
            let (above, below) = (&g[0][0], &g[1][0]);
            let size = above.iter().chain(below).fold(0.0f64, |m, v| m.max(v.abs()));
            let jump = above.iter().zip(below).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            if size.is_finite() && jump > 0.1 * size && jump > 0.0 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `let a{i} = where(a{i-1} > 0, a{i-1} * 0.5, a{i-1} + 1)` for i in
    /// 1..=`lines` over `y_pred: real [N, width]`, and its findings with the
    /// work of the jump search.
    fn where_chain(lines: usize, width: usize) -> (Vec<Diagnostic>, usize) {
        let mut source = format!("input y_pred: real [N, {width}]\nlet a0 = y_pred\n");
        for i in 1..=lines {
            source.push_str(&format!(
                "let a{i} = where(a{} > 0, a{} * 0.5, a{} + 1)\n",
                i - 1,
                i - 1,
                i - 1
            ));
        }
        source.push_str(&format!("loss l = mean(a{lines})\n"));
        let ast = lossc_syntax::parse(&source).expect("parses");
        let (program, _) = lossc_ir::lower(&ast, &source).expect("lowers");
        let options = crate::Options {
            dtype: Dtype::F32,
            loss: None,
            wrt: Vec::new(),
        };
        let before = jump_search_work();
        let found = crate::analyze(&program, &source, &options);
        (found, jump_search_work() - before)
    }

    fn jumps(found: &[Diagnostic]) -> Vec<&str> {
        found
            .iter()
            .filter(|d| d.code == Code::Discontinuity)
            .map(|d| d.message.as_str())
            .collect()
    }

    /// A chain of 100 `where`s: every boundary the samples straddle (the
    /// first ten: `a{i}` crosses 0 at `y_pred` = -i, in the box [-10, 10])
    /// is searched, bisected together in about 2.8M element evaluations
    /// (bisecting each boundary through the whole chain on its own cost
    /// about 50M, and 27 s in a debug build).
    #[test]
    fn a_chain_of_wheres_is_searched_together() {
        let (found, work) = where_chain(100, 1);
        assert!(work <= 3_000_000, "{work}");
        let jumps = jumps(&found);
        assert_eq!(jumps.len(), 10, "{jumps:#?}");
        assert!(
            jumps[9].starts_with("the loss jumps where `a9 > 0` changes"),
            "{}",
            jumps[9]
        );
        assert!(!found.iter().any(|d| d.message.contains("not searched for jumps")));
    }

    /// The search takes boundaries in program order while their cost fits
    /// the budget: batched, a step evaluates every condition up to the last
    /// one at one point per boundary, so k boundaries of a chain cost about
    /// 40 * 5k * (k * row + 32); alone, each costs its own chain.
    #[test]
    fn the_jump_search_takes_the_boundaries_its_budget_covers() {
        let chain = |count: usize| -> Vec<Boundary> {
            (1..=count)
                .map(|i| Boundary {
                    node: NodeId((5 * i) as u32),
                    cond: NodeId((5 * i - 1) as u32),
                    lo: Vec::new(),
                    hi: Vec::new(),
                })
                .collect()
        };
        let cost = |k: usize, row: usize| 40 * (5 * k) * (k * row + 32) + (5 * k + 1) * (2 * k * row + 32);
        for (row, batched) in [(1, true), (8, true), (100, true), (1, false), (100, false)] {
            let fit = boundaries_within_budget(&chain(1000), batched, row);
            assert!(fit < 1000, "{row} {batched}");
            if batched {
                assert!(cost(fit, row) <= JUMP_SEARCH_BUDGET && cost(fit + 1, row) > JUMP_SEARCH_BUDGET);
            }
            // Fewer boundaries than fit are all searched.
            assert_eq!(boundaries_within_budget(&chain(fit), batched, row), fit);
        }
        // 100 boundaries of one element each fit (the chain of 100 `where`s).
        assert_eq!(boundaries_within_budget(&chain(100), true, 1), 100);
        // Wider rows fit fewer.
        assert!(boundaries_within_budget(&chain(1000), true, 100) < boundaries_within_budget(&chain(1000), true, 8));
    }
}
