//! Reverse-mode symbolic differentiation over the IR DAG.
//!
//! The gradient is built as new nodes in the same [`Program`], so it can be
//! simplified, printed, analysed and evaluated like any other expression.
//! Each new node carries the span of the operation it differentiates, so a
//! hazard found in the gradient points at the source that caused it.
//!
//! Conventions (SPEC.md §2): fixed subgradients at kinks (`abs'(0) = 0`,
//! `relu'(0) = 0`, half to each side of a tie of `maximum`/`minimum`, ties of
//! `max`/`min` reductions shared equally, as JAX does); a selecting function
//! passes nothing to the argument it did not select (through `where`, so a NaN
//! there does not leak); products keep IEEE semantics. Only arguments that
//! depend on the variable are differentiated, so `x ^ 2` never builds
//! `log(x)`.

use lossc_diagnostics::Span;
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
    let active = activity(program, root, var);
    if !active[root.index()] {
        return None;
    }
    let mut ad = Ad {
        program,
        adjoint: Vec::new(),
    };
    ad.adjoint = vec![None; ad.program.nodes.len()];
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
    ad.adjoint[root.index()] = Some(seed);
    for index in (0..=root.index()).rev() {
        let Some(g) = ad.adjoint[index] else { continue };
        if !active[index] {
            continue;
        }
        ad.backward(NodeId(index as u32), g, &active);
    }
    let var_node = ad
        .program
        .nodes
        .iter()
        .position(|n| match (&n.op, var) {
            (Op::Input(i), Var::Input(j)) => *i == j,
            (Op::Param(i), Var::Param(j)) => *i == j,
            _ => false,
        })
        .filter(|&i| i < active.len());
    var_node.and_then(|i| ad.adjoint[i])
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
            (Op::Call(builtin, _), _) if has_derivative(*builtin) => node.args.iter().any(|a| active[a.index()]),
            _ => false,
        };
    }
    active
}

/// Whether any argument of `builtin` can receive a non-zero derivative.
fn has_derivative(builtin: Builtin) -> bool {
    !matches!(
        builtin,
        Builtin::Eq
            | Builtin::Ne
            | Builtin::Lt
            | Builtin::Le
            | Builtin::Gt
            | Builtin::Ge
            | Builtin::And
            | Builtin::Or
            | Builtin::Not
            | Builtin::Sign
            | Builtin::Floor
            | Builtin::Ceil
            | Builtin::Round
            | Builtin::Float
            | Builtin::OneHot
    )
}

struct Ad<'p> {
    program: &'p mut Program,
    adjoint: Vec<Option<NodeId>>,
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

    fn neg(&mut self, a: NodeId, span: Span) -> NodeId {
        self.call(Builtin::Neg, vec![a], span)
    }

    fn zero(&mut self, span: Span) -> NodeId {
        self.literal(0.0, span)
    }

    /// `where(cond, value, 0)`: passes `value` only where `cond` holds.
    fn select(&mut self, cond: NodeId, value: NodeId, span: Span) -> NodeId {
        let zero = self.zero(span);
        self.call(Builtin::Where, vec![cond, value, zero], span)
    }

    /// Adds `contribution` to the adjoint of `arg`, summing it back over the
    /// dimensions that `arg` was broadcast along.
    fn accumulate(&mut self, arg: NodeId, contribution: NodeId, span: Span) {
        let contribution = self.unbroadcast(contribution, &self.shape(arg), span);
        let total = match self.adjoint[arg.index()] {
            None => contribution,
            Some(previous) => self.call(Builtin::Add, vec![previous, contribution], span),
        };
        self.adjoint[arg.index()] = Some(total);
    }

    /// Sums `value` over the axes along which `target` was broadcast, so the
    /// result broadcasts to `target` without having been replicated.
    fn unbroadcast(&mut self, value: NodeId, target: &Shape, span: Span) -> NodeId {
        let shape = self.shape(value);
        let mut value = value;
        if shape.len() > target.len() {
            let lead: Vec<usize> = (0..shape.len() - target.len()).collect();
            let attrs = Attrs {
                axes: Some(lead),
                ..Attrs::default()
            };
            value = self.call_with(Builtin::Sum, attrs, vec![value], span);
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
            let attrs = Attrs {
                axes: Some(ones),
                keepdims: true,
                ..Attrs::default()
            };
            value = self.call_with(Builtin::Sum, attrs, vec![value], span);
        }
        debug_assert!(broadcast(&self.shape(value), target).is_ok_and(|s| s == *target));
        value
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
        // Adjoints may be smaller than their node (a scalar `1 / N` seeds a
        // per-sample loss). Give a non-scalar one the node's rank, so that
        // axis numbers mean the same in both.
        let missing = node.ty.shape.len().saturating_sub(self.shape(g).len());
        let g = if missing > 0 && !self.shape(g).is_empty() {
            let attrs = Attrs {
                axes: Some((0..missing).collect()),
                ..Attrs::default()
            };
            self.call_with(Builtin::ExpandDims, attrs, vec![g], span)
        } else {
            g
        };
        match builtin {
            Builtin::Neg => {
                let d = self.neg(g, span);
                self.accumulate(x, d, span);
            }
            Builtin::BroadcastLike => {
                if is_active(0) {
                    self.accumulate(x, g, span);
                }
            }
            Builtin::Add => {
                for (k, &arg) in args.iter().enumerate() {
                    if is_active(k) {
                        self.accumulate(arg, g, span);
                    }
                }
            }
            Builtin::Sub => {
                if is_active(0) {
                    self.accumulate(args[0], g, span);
                }
                if is_active(1) {
                    let d = self.neg(g, span);
                    self.accumulate(args[1], d, span);
                }
            }
            Builtin::Mul => {
                if is_active(0) {
                    let d = self.mul(g, args[1], span);
                    self.accumulate(args[0], d, span);
                }
                if is_active(1) {
                    let d = self.mul(g, args[0], span);
                    self.accumulate(args[1], d, span);
                }
            }
            Builtin::Div => {
                let (a, b) = (args[0], args[1]);
                if is_active(0) {
                    let d = self.div(g, b, span);
                    self.accumulate(a, d, span);
                }
                if is_active(1) {
                    // d(a/b)/db = -a / b^2, written as -(g * y) / b.
                    let gy = self.mul(g, y, span);
                    let q = self.div(gy, b, span);
                    let d = self.neg(q, span);
                    self.accumulate(b, d, span);
                }
            }
            Builtin::Pow => {
                let (base, exponent) = (args[0], args[1]);
                if is_active(0) {
                    // c * x^(c - 1)
                    let one = self.literal(1.0, span);
                    let c1 = self.call(Builtin::Sub, vec![exponent, one], span);
                    let p = self.call(Builtin::Pow, vec![base, c1], span);
                    let cp = self.mul(exponent, p, span);
                    let d = self.mul(g, cp, span);
                    self.accumulate(base, d, span);
                }
                if is_active(1) {
                    // x^c * log(x)
                    let log = self.call(Builtin::Log, vec![base], span);
                    let yl = self.mul(y, log, span);
                    let d = self.mul(g, yl, span);
                    self.accumulate(exponent, d, span);
                }
            }
            Builtin::Abs => {
                let s = self.call(Builtin::Sign, vec![x], span);
                let d = self.mul(g, s, span);
                self.accumulate(x, d, span);
            }
            Builtin::Exp => {
                let d = self.mul(g, y, span);
                self.accumulate(x, d, span);
            }
            Builtin::Expm1 => {
                let e = self.call(Builtin::Exp, vec![x], span);
                let d = self.mul(g, e, span);
                self.accumulate(x, d, span);
            }
            Builtin::Log => {
                let d = self.div(g, x, span);
                self.accumulate(x, d, span);
            }
            Builtin::Log1p => {
                let one = self.literal(1.0, span);
                let denominator = self.call(Builtin::Add, vec![one, x], span);
                let d = self.div(g, denominator, span);
                self.accumulate(x, d, span);
            }
            Builtin::Sqrt => {
                // 0.5 / sqrt(x): infinite at 0, as in every framework.
                let half = self.literal(0.5, span);
                let gh = self.mul(g, half, span);
                let d = self.div(gh, y, span);
                self.accumulate(x, d, span);
            }
            Builtin::Square => {
                let two = self.literal(2.0, span);
                let tx = self.mul(two, x, span);
                let d = self.mul(g, tx, span);
                self.accumulate(x, d, span);
            }
            Builtin::Sin => {
                let c = self.call(Builtin::Cos, vec![x], span);
                let d = self.mul(g, c, span);
                self.accumulate(x, d, span);
            }
            Builtin::Cos => {
                let s = self.call(Builtin::Sin, vec![x], span);
                let gs = self.mul(g, s, span);
                let d = self.neg(gs, span);
                self.accumulate(x, d, span);
            }
            Builtin::Tanh => {
                let one = self.literal(1.0, span);
                let sq = self.call(Builtin::Square, vec![y], span);
                let deriv = self.call(Builtin::Sub, vec![one, sq], span);
                let d = self.mul(g, deriv, span);
                self.accumulate(x, d, span);
            }
            Builtin::Cosh => {
                // sinh(x) = (expm1(x) - expm1(-x)) / 2, accurate near 0.
                let minus_x = self.neg(x, span);
                let a = self.call(Builtin::Expm1, vec![x], span);
                let b = self.call(Builtin::Expm1, vec![minus_x], span);
                let diff = self.call(Builtin::Sub, vec![a, b], span);
                let half = self.literal(0.5, span);
                let sinh = self.mul(half, diff, span);
                let d = self.mul(g, sinh, span);
                self.accumulate(x, d, span);
            }
            Builtin::Sigmoid => {
                let one = self.literal(1.0, span);
                let complement = self.call(Builtin::Sub, vec![one, y], span);
                let deriv = self.mul(y, complement, span);
                let d = self.mul(g, deriv, span);
                self.accumulate(x, d, span);
            }
            Builtin::LogSigmoid => {
                // sigmoid(-x), stable for either sign.
                let minus_x = self.neg(x, span);
                let s = self.call(Builtin::Sigmoid, vec![minus_x], span);
                let d = self.mul(g, s, span);
                self.accumulate(x, d, span);
            }
            Builtin::Softplus => {
                let s = self.call(Builtin::Sigmoid, vec![x], span);
                let d = self.mul(g, s, span);
                self.accumulate(x, d, span);
            }
            Builtin::Relu => {
                let zero = self.zero(span);
                let positive = self.call(Builtin::Gt, vec![x, zero], span);
                let d = self.select(positive, g, span);
                self.accumulate(x, d, span);
            }
            Builtin::Maximum | Builtin::Minimum => {
                let (a, b) = (args[0], args[1]);
                let wins = if *builtin == Builtin::Maximum {
                    Builtin::Gt
                } else {
                    Builtin::Lt
                };
                for (k, (me, other)) in [(a, b), (b, a)].into_iter().enumerate() {
                    if is_active(k) {
                        let d = self.chooser(wins, me, other, g, span);
                        self.accumulate(me, d, span);
                    }
                }
            }
            Builtin::Clip => {
                // clip(x, lo, hi) = minimum(maximum(x, lo), hi).
                let (v, lo, hi) = (args[0], args[1], args[2]);
                let m = self.call(Builtin::Maximum, vec![v, lo], span);
                let gm = self.chooser(Builtin::Lt, m, hi, g, span);
                if is_active(2) {
                    let d = self.chooser(Builtin::Lt, hi, m, g, span);
                    self.accumulate(hi, d, span);
                }
                if is_active(0) {
                    let d = self.chooser(Builtin::Gt, v, lo, gm, span);
                    self.accumulate(v, d, span);
                }
                if is_active(1) {
                    let d = self.chooser(Builtin::Gt, lo, v, gm, span);
                    self.accumulate(lo, d, span);
                }
            }
            Builtin::Xlogy => {
                // As JAX's xlogy: d/dx = log(y), d/dy = x / y.
                let (a, b) = (args[0], args[1]);
                if is_active(0) {
                    let log = self.call(Builtin::Log, vec![b], span);
                    let d = self.mul(g, log, span);
                    self.accumulate(a, d, span);
                }
                if is_active(1) {
                    let q = self.div(a, b, span);
                    let d = self.mul(g, q, span);
                    self.accumulate(b, d, span);
                }
            }
            Builtin::Where => {
                let cond = args[0];
                if is_active(1) {
                    let d = self.select(cond, g, span);
                    self.accumulate(args[1], d, span);
                }
                if is_active(2) {
                    let zero = self.zero(span);
                    let d = self.call(Builtin::Where, vec![cond, zero, g], span);
                    self.accumulate(args[2], d, span);
                }
            }
            Builtin::Sum | Builtin::Mean => {
                let rank = self.shape(x).len();
                let mut d = self.expand(g, attrs, rank, span);
                if *builtin == Builtin::Mean {
                    let count = self.count(x, attrs, span);
                    d = self.div(d, count, span);
                }
                self.accumulate(x, d, span);
            }
            Builtin::Max | Builtin::Min => {
                // Ties share the gradient equally, as JAX's reduce_max does.
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                let ye = self.expand(y, attrs, rank, span);
                let hit = self.call(Builtin::Eq, vec![x, ye], span);
                let ones = self.call(Builtin::Float, vec![hit], span);
                let count_attrs = Attrs {
                    keepdims: true,
                    ..attrs.clone()
                };
                let ties = self.call_with(Builtin::Sum, count_attrs, vec![ones], span);
                let share = self.div(ge, ties, span);
                let d = self.select(hit, share, span);
                self.accumulate(x, d, span);
            }
            Builtin::Logsumexp => {
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                let ye = self.expand(y, attrs, rank, span);
                let shifted = self.call(Builtin::Sub, vec![x, ye], span);
                let softmax = self.call(Builtin::Exp, vec![shifted], span);
                let d = self.mul(ge, softmax, span);
                self.accumulate(x, d, span);
            }
            Builtin::Norm => {
                let rank = self.shape(x).len();
                let ge = self.expand(g, attrs, rank, span);
                let ye = self.expand(y, attrs, rank, span);
                let unit = self.div(x, ye, span);
                let d = self.mul(ge, unit, span);
                self.accumulate(x, d, span);
            }
            Builtin::Softmax => {
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
            Builtin::LogSoftmax => {
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
            Builtin::Take => {
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
            Builtin::ExpandDims => {
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
            Builtin::Eq
            | Builtin::Ne
            | Builtin::Lt
            | Builtin::Le
            | Builtin::Gt
            | Builtin::Ge
            | Builtin::And
            | Builtin::Or
            | Builtin::Not
            | Builtin::Sign
            | Builtin::Floor
            | Builtin::Ceil
            | Builtin::Round
            | Builtin::Float
            | Builtin::OneHot => {}
        }
    }

    /// The share of `g` that `me` gets from a two-way choice where `me` wins
    /// when `wins(me, other)`: all of it, half at a tie, nothing otherwise.
    fn chooser(&mut self, wins: Builtin, me: NodeId, other: NodeId, g: NodeId, span: Span) -> NodeId {
        let won = self.call(wins, vec![me, other], span);
        let tie = self.call(Builtin::Eq, vec![me, other], span);
        let half = self.literal(0.5, span);
        let half_g = self.mul(half, g, span);
        let zero = self.zero(span);
        let at_tie = self.call(Builtin::Where, vec![tie, half_g, zero], span);
        self.call(Builtin::Where, vec![won, g, at_tie], span)
    }
}
