//! Reverse-mode symbolic differentiation over the IR DAG.
//!
//! The gradient is built as new nodes in the same [`Program`], so it can be
//! simplified, printed, analysed and evaluated like any other expression.
//! Each new node carries the span of the operation it differentiates, so a
//! hazard found in the gradient points at the source that caused it.
//!
//! Conventions (docs/language.md): fixed subgradients at kinks (`abs'(0) = 0`,
//! `relu'(0) = 0`, half to each side of a tie of `maximum`/`minimum`, ties of
//! `max`/`min` reductions shared equally, as JAX does); products keep IEEE
//! semantics. Only arguments that depend on the variable are differentiated,
//! so `x ^ 2` never builds `log(x)`.
//!
//! Selection. A selecting function (`where`, `maximum`, `minimum`, `clip`,
//! `relu`, `abs`, `max`/`min` reductions) passes nothing to an argument it did
//! not select, even where that argument's derivative is NaN or infinite. An
//! adjoint is therefore a list of guarded terms `(guard, value)`: the
//! selection's condition travels with the term down the selected argument's
//! subgraph, and the term becomes `where(guard, value, 0)` only when it
//! reaches the variable (or an operation that mixes elements, such as a
//! reduction). So `where(x > 0, log(x), 0)` has gradient
//! `where(x > 0, 1 / x, 0)`: 0, not `0 * inf = NaN`, at `x = 0`.
//!
//! An operation that mixes elements does not end the guard: a reduction
//! expands it to its operand; softmax, `take`, `expand_dims` and the sum back
//! over broadcast axes apply it to their adjoint (elements with different
//! guards meet there) and pass on to their operand the guard "some selected
//! element reads this one". Otherwise the zero adjoint of an unselected
//! branch would meet a NaN derivative below it (`softmax(log(-x))` in a
//! branch not taken: `0 * NaN`).
//! [`Style::Framework`] builds instead what framework autodiff computes (the
//! mask multiplies the adjoint at the selection; `abs` multiplies it by
//! `sign(x)`, as PyTorch and TensorFlow do), which the analyzer needs to find
//! the "double where" trap and `sqrt(abs(x))`'s `inf * 0` at x = 0.

use std::collections::HashMap;

use lossc_diagnostics::Span;
use lossc_ir::builtins::{Derivative, OwnRule, Template};
use lossc_ir::{Attrs, Builtin, Dim, NodeId, Op, Program, ResultKind, Shape, Var, broadcast};

/// Why a gradient could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradError {
    #[error("no loss named `{0}`")]
    UnknownLoss(String),
    #[error("`{0}` is an output, not a loss: outputs are never differentiated")]
    NotALoss(String),
}

/// Appends to `program` the gradient of the loss `root` with respect to `var`
/// and returns its root node, or `None` when the loss does not depend on `var`
/// (the gradient is zero). A per-sample loss `[N]` is differentiated as its mean.
///
/// The result's shape broadcasts to the variable's shape; it can be smaller
/// (a scalar `1 / N` for `mean(y_pred)`), never larger.
pub fn gradient(program: &mut Program, root: NodeId, var: Var) -> Option<NodeId> {
    gradient_in_style(program, root, var, Style::Lossc)
}

/// How selections are differentiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// lossc's semantics: an unselected argument contributes nothing, even NaN.
    Lossc,
    /// What JAX, PyTorch and TensorFlow compute: the selection's mask multiplies
    /// the adjoint, so `0 * inf = NaN` from an unselected branch leaks.
    Framework,
}

/// [`gradient`], in the given [`Style`].
pub fn gradient_in_style(program: &mut Program, root: NodeId, var: Var, style: Style) -> Option<NodeId> {
    let active = activity(program, root, var);
    if !active[root.index()] {
        return None;
    }
    let mut ad = Ad {
        program,
        adjoint: Vec::new(),
        style,
        guard: None,
        guards: HashMap::new(),
        anys: HashMap::new(),
        elementwise: None,
    };
    ad.adjoint = vec![Vec::new(); ad.program.nodes.len()];
    let span = ad.program.node(root).span;
    let seed = match ad.program.node(root).ty.shape.first().copied() {
        // A per-sample loss: the gradient of its mean.
        Some(n) => {
            let one = ad.literal(1.0, span);
            let count = ad.dim_size(n, span);
            ad.call(Builtin::Div, vec![one, count], span)
        }
        None => ad.literal(1.0, span),
    };
    ad.adjoint[root.index()] = vec![(None, seed)];
    for index in (0..=root.index()).rev() {
        if !active[index] {
            continue;
        }
        let terms = std::mem::take(&mut ad.adjoint[index]);
        let terms = ad.bounded(terms);
        ad.adjoint[index] = terms.clone();
        for (guard, g) in terms {
            ad.guard = guard;
            ad.backward(NodeId(index as u32), g, &active);
        }
        ad.guard = None;
    }
    // Every node that reads the variable (a simplified program can hold
    // several): their adjoints together are its gradient.
    let terms: Vec<Term> = (0..active.len())
        .filter(|&i| match (&ad.program.nodes[i].op, var) {
            (Op::Input(a), Var::Input(b)) | (Op::Param(a), Var::Param(b)) => *a == b,
            _ => false,
        })
        .flat_map(|i| std::mem::take(&mut ad.adjoint[i]))
        .collect();
    let mut total: Option<NodeId> = None;
    for (guard, value) in terms {
        let value = ad.materialize(guard, value);
        total = Some(match total {
            None => value,
            Some(t) => {
                let span = ad.program.node(value).span;
                ad.call(Builtin::Add, vec![t, value], span)
            }
        });
    }
    total
}

/// The gradient of the loss named `name`, by name, as [`gradient`] does.
pub fn loss_gradient(program: &mut Program, name: &str, var: Var) -> Result<Option<NodeId>, GradError> {
    let result = program
        .result(name)
        .ok_or_else(|| GradError::UnknownLoss(name.to_string()))?;
    if result.kind != ResultKind::Loss {
        return Err(GradError::NotALoss(name.to_string()));
    }
    let root = result.root;
    Ok(gradient(program, root, var))
}

/// Which nodes (up to `root`) depend on `var`.
fn activity(program: &Program, root: NodeId, var: Var) -> Vec<bool> {
    let mut active = vec![false; root.index() + 1];
    for (i, node) in program.nodes[..=root.index()].iter().enumerate() {
        active[i] = match (&node.op, var) {
            (Op::Input(a), Var::Input(b)) => *a == b,
            (Op::Param(a), Var::Param(b)) => *a == b,
            (Op::Call(builtin, _), _) if builtin.has_derivative() => node.args.iter().any(|a| active[a.index()]),
            _ => false,
        };
    }
    active
}

/// Whether carrying a value of shape `from` back to `target` sums over axes:
/// `from` has more axes, or a size where `target` has 1.
fn sums_over(from: &Shape, target: &Shape) -> bool {
    from.len() > target.len()
        || from
            .iter()
            .rev()
            .zip(target.iter().rev())
            .any(|(f, t)| t.is_one() && !f.is_one())
}

/// The node a derivative template is built for: its value, arguments,
/// adjoint and span.
struct Site<'a> {
    y: NodeId,
    args: &'a [NodeId],
    g: NodeId,
    span: Span,
}

/// An adjoint term: the condition under which it applies (`None`: always), and its value.
type Term = (Option<NodeId>, NodeId);

/// The most guarded terms one adjoint carries. Each selection a term passes
/// through splits it in two (one per branch); past this many, the guarded
/// terms are merged into one, so nested selections cost linear, not
/// exponential, work.
const MAX_GUARDED_TERMS: usize = 8;

struct Ad<'p> {
    program: &'p mut Program,
    /// The terms of each node's adjoint, one per distinct guard.
    adjoint: Vec<Vec<Term>>,
    style: Style,
    /// The guard of the term being propagated.
    guard: Option<NodeId>,
    /// Guards already built, so equal conditions are one node and their terms merge.
    guards: HashMap<(Builtin, Vec<NodeId>), NodeId>,
    /// "Some element along these axes is selected" guards already built, by
    /// (guard, axes, keepdims), for the same reason.
    anys: HashMap<(NodeId, Vec<usize>, bool), NodeId>,
    /// The elementwise node being differentiated: a contribution smaller than it
    /// stands for one broadcast to its shape.
    elementwise: Option<NodeId>,
}

impl Ad<'_> {
    fn call(&mut self, builtin: Builtin, args: Vec<NodeId>, span: Span) -> NodeId {
        self.program.add(Op::Call(builtin, Attrs::default()), args, span)
    }

    fn call_with(&mut self, builtin: Builtin, attrs: Attrs, args: Vec<NodeId>, span: Span) -> NodeId {
        self.program.add(Op::Call(builtin, attrs), args, span)
    }

    fn literal(&mut self, value: f64, span: Span) -> NodeId {
        self.program.add(Op::Literal(value), Vec::new(), span)
    }

    fn dim_size(&mut self, dim: Dim, span: Span) -> NodeId {
        match dim {
            Dim::Named(id) => self.program.add(Op::DimSize(id), Vec::new(), span),
            Dim::Fixed(n) => self.literal(n as f64, span),
        }
    }

    fn shape(&self, id: NodeId) -> Shape {
        self.program.node(id).ty.shape.clone()
    }

    fn mul(&mut self, a: NodeId, b: NodeId, span: Span) -> NodeId {
        self.call(Builtin::Mul, vec![a, b], span)
    }

    fn div(&mut self, a: NodeId, b: NodeId, span: Span) -> NodeId {
        self.call(Builtin::Div, vec![a, b], span)
    }

    fn zero(&mut self, span: Span) -> NodeId {
        self.literal(0.0, span)
    }

    /// `where(cond, value, 0)`: passes `value` only where `cond` holds.
    fn select(&mut self, cond: NodeId, value: NodeId, span: Span) -> NodeId {
        let zero = self.zero(span);
        self.call(Builtin::Where, vec![cond, value, zero], span)
    }

    /// A boolean node for a guard, built once per distinct condition.
    fn condition(&mut self, builtin: Builtin, args: Vec<NodeId>, span: Span) -> NodeId {
        if let Some(&id) = self.guards.get(&(builtin, args.clone())) {
            return id;
        }
        let id = self.call(builtin, args.clone(), span);
        self.guards.insert((builtin, args), id);
        id
    }

    /// `where(guard, value, 0)`, or `value` when there is no guard.
    fn materialize(&mut self, guard: Option<NodeId>, value: NodeId) -> NodeId {
        match guard {
            None => value,
            Some(guard) => {
                let span = self.program.node(value).span;
                self.select(guard, value, span)
            }
        }
    }

    /// Adds `contribution` to the adjoint of `arg` under the current guard,
    /// summing it back over the dimensions that `arg` was broadcast along.
    fn accumulate(&mut self, arg: NodeId, contribution: NodeId, span: Span) {
        let mut guard = self.guard;
        let mut contribution = contribution;
        let target = self.shape(arg);
        // A contribution smaller than its elementwise node stands for its
        // broadcast; make that explicit before summing it back.
        if let Some(node) = self.elementwise {
            let logical = broadcast(&self.shape(contribution), &self.shape(node)).unwrap_or_default();
            if sums_over(&logical, &target) && self.shape(contribution) != logical {
                contribution = self.call(Builtin::BroadcastLike, vec![contribution, node], span);
            }
        }
        let guarded_shape_sums = guard.is_some_and(|g| {
            let shape = broadcast(&self.shape(g), &self.shape(contribution)).unwrap_or_default();
            sums_over(&shape, &target)
        });
        if guarded_shape_sums && let Some(selected) = guard {
            // Summing over broadcast axes mixes elements: apply the guard first.
            // The sum still belongs only to the elements of `arg` that some
            // selected element reads; below `arg`, the others get nothing.
            contribution = self.materialize(guard, contribution);
            guard = if self.is_variable(arg) {
                None
            } else {
                Some(self.any_to(selected, &target, span))
            };
        }
        let contribution = self.unbroadcast(contribution, &target, span);
        let terms = &mut self.adjoint[arg.index()];
        match terms.iter().position(|(g, _)| *g == guard) {
            Some(k) => {
                let previous = terms[k].1;
                let total = self.call(Builtin::Add, vec![previous, contribution], span);
                self.adjoint[arg.index()][k].1 = total;
            }
            None => terms.push((guard, contribution)),
        }
    }

    /// `terms` with at most [`MAX_GUARDED_TERMS`] guarded ones: past that, the
    /// guarded terms `(g_i, v_i)` become the one term
    /// `(g_1 or g_2 or ..., where(g_1, v_1, 0) + where(g_2, v_2, 0) + ...)`.
    /// It is the same adjoint (each summand is exactly 0 where its own guard
    /// is false, and the merged guard is false only where all are), and it
    /// keeps the convention: nothing reaches the variable where every guard
    /// is false, even a NaN derivative further down.
    fn bounded(&mut self, terms: Vec<Term>) -> Vec<Term> {
        if terms.iter().filter(|(g, _)| g.is_some()).count() <= MAX_GUARDED_TERMS {
            return terms;
        }
        let mut kept = Vec::new();
        let mut merged: Option<(NodeId, NodeId)> = None;
        for (guard, value) in terms {
            let Some(guard) = guard else {
                kept.push((None, value));
                continue;
            };
            let span = self.program.node(value).span;
            let selected = self.select(guard, value, span);
            merged = Some(match merged {
                None => (guard, selected),
                Some((any, total)) => (
                    self.condition(Builtin::Or, vec![any, guard], span),
                    self.call(Builtin::Add, vec![total, selected], span),
                ),
            });
        }
        kept.extend(merged.map(|(any, total)| (Some(any), total)));
        kept
    }

    /// Adds `contribution` to `arg` only where `condition` holds: a selection.
    /// The unselected side gets nothing, even if its derivative is NaN there
    /// ([`Style::Lossc`]); or, as framework autodiff does, a masked adjoint
    /// ([`Style::Framework`]).
    fn accumulate_selected(&mut self, arg: NodeId, condition: NodeId, contribution: NodeId, span: Span) {
        match self.style {
            Style::Framework => {
                let masked = self.select(condition, contribution, span);
                self.accumulate(arg, masked, span);
            }
            Style::Lossc => {
                let outer = self.guard;
                let combined = match outer {
                    None => condition,
                    Some(outer) => self.condition(Builtin::And, vec![outer, condition], span),
                };
                self.guard = Some(combined);
                self.accumulate(arg, contribution, span);
                self.guard = outer;
            }
        }
    }

    /// The adjoint `g` with the current guard applied, for operations that mix
    /// elements (softmax, indexing, inserted axes): the guard no longer travels
    /// as it is.
    fn settle(&mut self, g: NodeId) -> NodeId {
        let guard = self.guard.take();
        self.materialize(guard, g)
    }

    /// Whether `id` is an input or a param: a leaf, below which nothing is
    /// differentiated, so a guard on its adjoint has nothing left to protect.
    fn is_variable(&self, id: NodeId) -> bool {
        matches!(self.program.node(id).op, Op::Input(_) | Op::Param(_))
    }

    /// `any(guard)` along `axes`: `sum(float(guard), axes, keepdims) > 0`,
    /// built once per (guard, axes, keepdims).
    fn any_along(&mut self, guard: NodeId, axes: Vec<usize>, keepdims: bool, span: Span) -> NodeId {
        let key = (guard, axes, keepdims);
        if let Some(&id) = self.anys.get(&key) {
            return id;
        }
        let ones = self.call(Builtin::Float, vec![guard], span);
        let attrs = Attrs {
            axes: Some(key.1.clone()),
            keepdims,
            ..Attrs::default()
        };
        let count = self.call_with(Builtin::Sum, attrs, vec![ones], span);
        let zero = self.zero(span);
        let id = self.condition(Builtin::Gt, vec![count, zero], span);
        self.anys.insert(key, id);
        id
    }

    /// The guard `guard`, which may be larger than `target` (it was broadcast),
    /// reduced to `target`'s shape by "any": true where some element that was
    /// summed into this one was selected.
    fn any_to(&mut self, guard: NodeId, target: &Shape, span: Span) -> NodeId {
        self.reduce_to(guard, target, |g, x, axes, keepdims| {
            g.any_along(x, axes, keepdims, span)
        })
    }

    /// `value`, which may be larger than `target` (it was broadcast to it),
    /// reduced back to `target`'s shape by `reduce(value, axes, keepdims)`:
    /// first over the leading axes `target` lacks, then, keeping them, over
    /// the axes where `target` has size 1.
    fn reduce_to(
        &mut self,
        value: NodeId,
        target: &Shape,
        mut reduce: impl FnMut(&mut Self, NodeId, Vec<usize>, bool) -> NodeId,
    ) -> NodeId {
        let shape = self.shape(value);
        let mut value = value;
        if shape.len() > target.len() {
            value = reduce(self, value, (0..shape.len() - target.len()).collect(), false);
        }
        let shape = self.shape(value);
        let offset = target.len() - shape.len();
        let ones: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|(k, d)| target[k + offset].is_one() && !d.is_one())
            .map(|(k, _)| k)
            .collect();
        if !ones.is_empty() {
            value = reduce(self, value, ones, true);
        }
        value
    }

    /// The guard for the operand `x` of an operation that mixes elements
    /// without reducing (softmax and log-softmax along an axis, `take`,
    /// `expand_dims`), from the guard `guard` of its result: true where some
    /// selected element of the result reads that element of `x`. The
    /// adjoint itself was settled (zero where not selected), but below `x`
    /// a zero adjoint times a NaN derivative would still be NaN.
    fn operand_guard(&mut self, node: &lossc_ir::Node, x: NodeId, guard: NodeId) -> NodeId {
        let Op::Call(builtin, attrs) = &node.op else {
            return guard;
        };
        let span = node.span;
        let rank = node.ty.shape.len();
        if self.shape(guard).is_empty() {
            return guard;
        }
        let guard = self.align(guard, rank, span);
        match builtin.spec().signature {
            lossc_ir::Signature::AlongAxis(_) => {
                let axis = attrs.axes.as_ref().and_then(|a| a.first().copied()).unwrap_or(rank - 1);
                if self.shape(guard)[axis].is_one() {
                    guard
                } else {
                    self.any_along(guard, vec![axis], true, span)
                }
            }
            lossc_ir::Signature::Take => {
                let operand_rank = self.shape(x).len();
                let axis = attrs
                    .axes
                    .as_ref()
                    .and_then(|a| a.first().copied())
                    .unwrap_or(operand_rank - 1);
                let attrs = Attrs {
                    axes: Some(vec![axis]),
                    ..Attrs::default()
                };
                self.call_with(Builtin::ExpandDims, attrs, vec![guard], span)
            }
            lossc_ir::Signature::ExpandDims => {
                let axes = attrs.axes.clone().unwrap_or_default();
                if axes.is_empty() {
                    guard
                } else {
                    self.any_along(guard, axes, false, span)
                }
            }
            _ => guard,
        }
    }

    /// Sums `value` over the axes along which `target` was broadcast, so the
    /// result broadcasts to `target` without having been replicated.
    fn unbroadcast(&mut self, value: NodeId, target: &Shape, span: Span) -> NodeId {
        let value = self.reduce_to(value, target, |g, x, axes, keepdims| {
            let attrs = Attrs {
                axes: Some(axes),
                keepdims,
                ..Attrs::default()
            };
            g.call_with(Builtin::Sum, attrs, vec![x], span)
        });
        debug_assert!(broadcast(&self.shape(value), target).is_ok_and(|s| s == *target));
        value
    }

    /// Gives a non-scalar value of lower rank the leading axes of size 1 that
    /// make it `rank`, so axis numbers mean the same in both.
    fn align(&mut self, value: NodeId, rank: usize, span: Span) -> NodeId {
        let have = self.shape(value).len();
        if have == 0 || have >= rank {
            return value;
        }
        let attrs = Attrs {
            axes: Some((0..rank - have).collect()),
            ..Attrs::default()
        };
        self.call_with(Builtin::ExpandDims, attrs, vec![value], span)
    }

    /// Re-inserts reduced axes into an adjoint so it broadcasts against the
    /// reduction's operand (the inverse of a reduction without `keepdims`).
    fn expand(&mut self, g: NodeId, attrs: &Attrs, operand_rank: usize, span: Span) -> NodeId {
        if attrs.keepdims || self.shape(g).is_empty() {
            return g;
        }
        let axes = attrs.axes.clone().unwrap_or_else(|| (0..operand_rank).collect());
        let attrs = Attrs {
            axes: Some(axes),
            ..Attrs::default()
        };
        self.call_with(Builtin::ExpandDims, attrs, vec![g], span)
    }

    /// The number of elements a reduction combines.
    fn count(&mut self, operand: NodeId, attrs: &Attrs, span: Span) -> NodeId {
        let shape = self.shape(operand);
        let axes = attrs.axes.clone().unwrap_or_else(|| (0..shape.len()).collect());
        let mut count: Option<NodeId> = None;
        let mut fixed = 1.0;
        for axis in axes {
            match shape[axis] {
                Dim::Fixed(n) => fixed *= n as f64,
                named => {
                    let size = self.dim_size(named, span);
                    count = Some(match count {
                        None => size,
                        Some(c) => self.mul(c, size, span),
                    });
                }
            }
        }
        match count {
            None => self.literal(fixed, span),
            Some(c) if fixed == 1.0 => c,
            Some(c) => {
                let f = self.literal(fixed, span);
                self.mul(f, c, span)
            }
        }
    }

    fn backward(&mut self, node_id: NodeId, g: NodeId, active: &[bool]) {
        let node = self.program.node(node_id).clone();
        let Op::Call(builtin, attrs) = &node.op else { return };
        let span = node.span;
        let args = node.args.clone();
        let is_active = |k: usize| args.get(k).is_some_and(|a| active[a.index()]);
        let x = args.first().copied().unwrap_or(node_id);
        let y = node_id;
        // Operations that mix elements take the guard into their adjoint.
        let mixes = builtin.mixes_elements();
        // A reduction keeps its guard: expanded like the adjoint, it still says
        // per element of the operand which terms were selected (so a `where`
        // around a `norm` passes nothing from the norm's operand where the
        // `where` is false). Softmax and indexing mix elements whose guards
        // differ: there the guard is applied to the adjoint.
        let reduction = matches!(builtin.spec().signature, lossc_ir::Signature::Reduce(_));
        let g = if mixes && !reduction {
            let outer = self.guard;
            let settled = self.settle(g);
            self.guard = match outer {
                Some(guard) if !self.is_variable(x) => Some(self.operand_guard(&node, x, guard)),
                _ => None,
            };
            settled
        } else {
            g
        };
        if reduction && let Some(guard) = self.guard {
            let guard = self.align(guard, node.ty.shape.len(), span);
            let rank = self.shape(x).len();
            self.guard = Some(self.expand(guard, attrs, rank, span));
        }
        self.elementwise = (!mixes).then_some(node_id);
        // Adjoints may be smaller than their node (a scalar `1 / N` seeds a
        // per-sample loss). Give a non-scalar one the node's rank, so that
        // axis numbers mean the same in both.
        let g = self.align(g, node.ty.shape.len(), span);
        match builtin.spec().derivative {
            Derivative::Zero => {}
            Derivative::Each(rules) => {
                let site = Site {
                    y,
                    args: &args,
                    g,
                    span,
                };
                for (k, rule) in rules.iter().enumerate() {
                    if let Some(rule) = rule
                        && is_active(k)
                    {
                        let d = self.template(rule, &site, &mut Vec::new());
                        self.accumulate(args[k], d, span);
                    }
                }
            }
            Derivative::Selected { value, when } => {
                let site = Site {
                    y,
                    args: &args,
                    g,
                    span,
                };
                let mut built = Vec::new();
                let d = self.template(&value, &site, &mut built);
                if self.style == Style::Framework && *builtin == Builtin::Abs {
                    // PyTorch and TensorFlow multiply by `sign(x)`, no mask:
                    // an infinite adjoint at x = 0 (`sqrt(abs(x))`) gives
                    // `inf * 0 = NaN` (JAX's slope 1 there gives inf).
                    self.accumulate(x, d, span);
                } else {
                    let selected = self.guard_template(&when, &site, &mut built);
                    self.accumulate_selected(x, selected, d, span);
                }
            }
            Derivative::Own(OwnRule::Pow) => {
                // JAX's rules (`_pow_jvp_lhs`, `_pow_jvp_rhs`), with x = 0
                // handled as JAX handles it; docs/symbolic.md.
                let (base, exponent) = (args[0], args[1]);
                if is_active(0) {
                    self.pow_base_derivative(base, exponent, g, span);
                }
                if is_active(1) {
                    self.pow_exponent_derivative(base, exponent, y, g, span);
                }
            }
            Derivative::Own(OwnRule::Extremum) => {
                let (a, b) = (args[0], args[1]);
                let (wins, wins_or_ties) = if *builtin == Builtin::Maximum {
                    (Builtin::Gt, Builtin::Ge)
                } else {
                    (Builtin::Lt, Builtin::Le)
                };
                for (k, (me, other)) in [(a, b), (b, a)].into_iter().enumerate() {
                    if is_active(k) {
                        // All of g where `me` wins, half at a tie.
                        let selected = self.condition(wins_or_ties, vec![me, other], span);
                        let share = self.share(wins, me, other, g, span);
                        self.accumulate_selected(me, selected, share, span);
                    }
                }
            }
            Derivative::Own(OwnRule::Clip) => {
                // clip(v, lo, hi) = minimum(maximum(v, lo), hi): each argument is
                // selected where it is the result, with half of g at each tie.
                let (v, lo, hi) = (args[0], args[1], args[2]);
                if is_active(0) {
                    let above = self.condition(Builtin::Ge, vec![v, lo], span);
                    let below = self.condition(Builtin::Le, vec![v, hi], span);
                    let inside = self.condition(Builtin::And, vec![above, below], span);
                    let low = self.share(Builtin::Gt, v, lo, g, span);
                    let share = self.share(Builtin::Lt, v, hi, low, span);
                    self.accumulate_selected(v, inside, share, span);
                }
                if is_active(1) {
                    let floor = self.condition(Builtin::Ge, vec![lo, v], span);
                    let below = self.condition(Builtin::Le, vec![lo, hi], span);
                    let selected = self.condition(Builtin::And, vec![floor, below], span);
                    let over = self.share(Builtin::Gt, lo, v, g, span);
                    let share = self.share(Builtin::Lt, lo, hi, over, span);
                    self.accumulate_selected(lo, selected, share, span);
                }
                if is_active(2) {
                    let m = self.call(Builtin::Maximum, vec![v, lo], span);
                    let selected = self.condition(Builtin::Le, vec![hi, m], span);
                    let share = self.share(Builtin::Lt, hi, m, g, span);
                    self.accumulate_selected(hi, selected, share, span);
                }
            }
            Derivative::Own(OwnRule::Where) => {
                let cond = args[0];
                if is_active(1) {
                    self.accumulate_selected(args[1], cond, g, span);
                }
                if is_active(2) {
                    let not = self.condition(Builtin::Not, vec![cond], span);
                    self.accumulate_selected(args[2], not, g, span);
                }
            }
            Derivative::Own(OwnRule::Sum) => {
                let rank = self.shape(x).len();
                let mut d = self.expand(g, attrs, rank, span);
                if *builtin == Builtin::Mean {
                    let count = self.count(x, attrs, span);
                    d = self.div(d, count, span);
                }
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::Extreme) => {
                // Ties share the gradient equally, as JAX's reduce_max does.
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                let ye = self.expand(y, attrs, rank, span);
                let hit = self.condition(Builtin::Eq, vec![x, ye], span);
                let ones = self.call(Builtin::Float, vec![hit], span);
                let count_attrs = Attrs {
                    keepdims: true,
                    ..attrs.clone()
                };
                let ties = self.call_with(Builtin::Sum, count_attrs, vec![ones], span);
                // At least the maximum itself ties: say so, for the analyzer.
                let one = self.literal(1.0, span);
                let ties = self.call(Builtin::Maximum, vec![ties, one], span);
                let share = self.div(ge, ties, span);
                self.accumulate_selected(x, hit, share, span);
            }
            Derivative::Own(OwnRule::Logsumexp) => {
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                // softmax(x): over one axis the built-in (bounded by 1 for the
                // analyzer too); over several, exp(x - logsumexp(x)).
                let softmax = match &attrs.axes {
                    Some(axes) if axes.len() == 1 => {
                        let along = Attrs {
                            axes: Some(axes.clone()),
                            ..Attrs::default()
                        };
                        self.call_with(Builtin::Softmax, along, vec![x], span)
                    }
                    _ => {
                        let ye = self.expand(y, attrs, rank, span);
                        let shifted = self.call(Builtin::Sub, vec![x, ye], span);
                        self.call(Builtin::Exp, vec![shifted], span)
                    }
                };
                let d = self.mul(ge, softmax, span);
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::Norm) => {
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                let ye = self.expand(y, attrs, rank, span);
                let unit = self.div(x, ye, span);
                let d = self.mul(ge, unit, span);
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::Softmax) => {
                // y * (g - sum(g * y, axis, keepdims))
                let gy = self.mul(g, y, span);
                let sum_attrs = Attrs {
                    axes: attrs.axes.clone(),
                    keepdims: true,
                    ..Attrs::default()
                };
                let s = self.call_with(Builtin::Sum, sum_attrs, vec![gy], span);
                let centred = self.call(Builtin::Sub, vec![g, s], span);
                let d = self.mul(y, centred, span);
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::LogSoftmax) => {
                // g - softmax(x) * sum(g, axis, keepdims)
                let axis = attrs.axes.as_ref().map_or(0, |a| a[0]);
                let g_shape = self.shape(g);
                let s = if g_shape.is_empty() || g_shape[axis].is_one() {
                    // g is constant along the axis: its sum is g times the size.
                    let size = self.dim_size(node.ty.shape[axis], span);
                    self.mul(g, size, span)
                } else {
                    let sum_attrs = Attrs {
                        axes: attrs.axes.clone(),
                        keepdims: true,
                        ..Attrs::default()
                    };
                    self.call_with(Builtin::Sum, sum_attrs, vec![g], span)
                };
                let p = self.call(Builtin::Exp, vec![y], span);
                let ps = self.mul(p, s, span);
                let d = self.call(Builtin::Sub, vec![g, ps], span);
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::Take) => {
                let shape = self.shape(x);
                let axis = attrs
                    .axes
                    .as_ref()
                    .and_then(|a| a.first().copied())
                    .unwrap_or(shape.len() - 1);
                let index = attrs.index.unwrap_or(0);
                let size = self.dim_size(shape[axis], span);
                let label = if index >= 0 {
                    self.literal(index as f64, span)
                } else {
                    let offset = self.literal(index as f64, span);
                    self.call(Builtin::Add, vec![size, offset], span)
                };
                let hot_attrs = Attrs {
                    classes: Some(shape[axis]),
                    ..Attrs::default()
                };
                let mut mask = self.call_with(Builtin::OneHot, hot_attrs, vec![label], span);
                let trailing = shape.len() - axis - 1;
                if trailing > 0 {
                    let attrs = Attrs {
                        axes: Some((1..=trailing).collect()),
                        ..Attrs::default()
                    };
                    mask = self.call_with(Builtin::ExpandDims, attrs, vec![mask], span);
                }
                let expand_attrs = Attrs {
                    axes: Some(vec![axis]),
                    ..Attrs::default()
                };
                let ge = if self.shape(g).is_empty() {
                    g
                } else {
                    self.call_with(Builtin::ExpandDims, expand_attrs, vec![g], span)
                };
                let d = self.mul(ge, mask, span);
                self.accumulate(x, d, span);
            }
            Derivative::Own(OwnRule::ExpandDims) => {
                let axes = attrs.axes.clone().unwrap_or_default();
                let d = if self.shape(g).is_empty() {
                    g
                } else {
                    let sum_attrs = Attrs {
                        axes: Some(axes),
                        ..Attrs::default()
                    };
                    self.call_with(Builtin::Sum, sum_attrs, vec![g], span)
                };
                self.accumulate(x, d, span);
            }
        }
    }

    /// The nodes of a derivative template (the table's [`Derivative`]) for
    /// node `y` with arguments `args` and adjoint `g`, operands first, left
    /// to right; `built` holds the templates of this rule already built, so
    /// equal ones are one node.
    fn template(&mut self, template: &Template, site: &Site<'_>, built: &mut Vec<(Template, NodeId)>) -> NodeId {
        if let Some(&(_, id)) = built.iter().find(|(t, _)| t == template) {
            return id;
        }
        let id = match *template {
            Template::G => site.g,
            Template::Y => site.y,
            Template::Arg(k) => site.args[k],
            Template::Lit(v) => self.literal(v, site.span),
            Template::Call(builtin, operands) => {
                let operands = self.templates(operands, site, built);
                self.call(builtin, operands, site.span)
            }
            Template::Seq(templates) => *self
                .templates(templates, site, built)
                .last()
                .expect("a sequence is not empty"),
        };
        built.push((*template, id));
        id
    }

    /// [`Self::template`] of each of `templates`, in order.
    fn templates(
        &mut self,
        templates: &[Template],
        site: &Site<'_>,
        built: &mut Vec<(Template, NodeId)>,
    ) -> Vec<NodeId> {
        templates.iter().map(|t| self.template(t, site, built)).collect()
    }

    /// A selection's condition: the template's top call as a guard (equal
    /// conditions are one node).
    fn guard_template(&mut self, template: &Template, site: &Site<'_>, built: &mut Vec<(Template, NodeId)>) -> NodeId {
        match *template {
            Template::Call(builtin, operands) => {
                let operands = self.templates(operands, site, built);
                self.condition(builtin, operands, site.span)
            }
            Template::G | Template::Y | Template::Arg(_) | Template::Lit(_) | Template::Seq(_) => {
                self.template(template, site, built)
            }
        }
    }

    /// The literal number `id` is, if it is one.
    fn literal_value(&self, id: NodeId) -> Option<f64> {
        match self.program.node(id).op {
            Op::Literal(v) => Some(v),
            _ => None,
        }
    }

    /// d/dx of `x ^ c` is `c * x^(c - 1)`, and 0 where `c == 0` (`x ^ 0` is 1
    /// for every x, so not `0 * 0^-1 = NaN` at x = 0): JAX's rule for an
    /// integer exponent (`x ** 0`), PyTorch's for every exponent.
    fn pow_base_derivative(&mut self, base: NodeId, exponent: NodeId, g: NodeId, span: Span) {
        let exponent_value = self.literal_value(exponent);
        if exponent_value == Some(0.0) {
            return;
        }
        let one = self.literal(1.0, span);
        let c1 = self.call(Builtin::Sub, vec![exponent, one], span);
        let p = self.call(Builtin::Pow, vec![base, c1], span);
        let mut cp = self.mul(exponent, p, span);
        if exponent_value.is_none() {
            let zero = self.zero(span);
            let is_zero = self.condition(Builtin::Eq, vec![exponent, zero], span);
            let zero = self.zero(span);
            cp = self.call(Builtin::Where, vec![is_zero, zero, cp], span);
        }
        let d = self.mul(g, cp, span);
        self.accumulate(base, d, span);
    }

    /// d/dy of `x ^ y` (= `ans`) is `x^y * log(x)`, with `log(1)` in place of
    /// `log(0)` (JAX's `_replace_zero`): at x = 0 it is `0 * 0^y`, 0 for
    /// y >= 0 and NaN (0 * inf) for y < 0, where the value is inf.
    fn pow_exponent_derivative(&mut self, base: NodeId, exponent: NodeId, ans: NodeId, g: NodeId, span: Span) {
        let log = match self.literal_value(base) {
            Some(0.0) => self.zero(span),
            Some(_) => self.call(Builtin::Log, vec![base], span),
            None => {
                let zero = self.zero(span);
                let is_zero = self.condition(Builtin::Eq, vec![base, zero], span);
                let one = self.literal(1.0, span);
                let safe = self.call(Builtin::Where, vec![is_zero, one, base], span);
                self.call(Builtin::Log, vec![safe], span)
            }
        };
        let yl = self.mul(ans, log, span);
        let d = self.mul(g, yl, span);
        self.accumulate(exponent, d, span);
    }

    /// `where(wins(me, other), g, 0.5 * g)`: all of `g` where `me` wins
    /// outright, half at a tie (the caller selects where `me` wins or ties).
    fn share(&mut self, wins: Builtin, me: NodeId, other: NodeId, g: NodeId, span: Span) -> NodeId {
        let won = self.condition(wins, vec![me, other], span);
        let half = self.literal(0.5, span);
        let half_g = self.mul(half, g, span);
        self.call(Builtin::Where, vec![won, g, half_g], span)
    }
}
