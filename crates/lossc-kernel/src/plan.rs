//! From the IR to a plan: the nodes the roots need, lowered to a few
//! primitive operations (elementwise maps, three reductions, gathers), with
//! common subexpressions merged, each classified as *varying* (it has the
//! batch dimension first: computed chunk by chunk) or *uniform* (computed
//! once), and given the pass it is first available in.
//!
//! Lowering keeps the oracle's arithmetic: `mean` is a sum divided by the
//! count, `norm` is `sqrt(sum(square(x)))`, `logsumexp` subtracts the maximum
//! (and returns it when it is not finite), `softmax` divides `exp(x - max)` by
//! its sum, `log_softmax` is `x - logsumexp(x)`. Softmax and log-softmax of
//! the same operand then share their maximum, exponentials and sum.
//!
//! Passes: a reduction over the batch axis of a varying value is *global*;
//! its result is known only after a whole pass over the batch. A value's
//! level is the number of such passes it needs. Pass `p` computes every
//! varying value of level `p` that a global reduction or a result needs
//! (recomputing cheaper values of lower levels rather than storing them), so
//! the number of passes over memory is one more than the longest chain of
//! global reductions: one for MSE, BCE, focal, Huber, cross-entropy and
//! per-sample dice; two for a batch-global dice or a softmax over the batch.

use std::collections::HashMap;

use lossc_diagnostics::Span;
use lossc_ir::{Along, Builtin, Dim, DimId, NodeId, Op, Program, Reduction, Signature, Value as IrValue};
use lossc_reference::EvalError;

/// A primitive reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ReduceKind {
    /// Compensated sum (the oracle's algorithm row by row).
    Sum,
    /// Largest element, NaN if any is NaN.
    Max,
    /// Smallest element, NaN if any is NaN.
    Min,
}

/// What a plan value computes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VOp {
    Literal(f64),
    Input(usize),
    Param(usize),
    Const(usize),
    DimSize(DimId),
    /// The number of elements a mean divides by: the product of these dimensions.
    Count(Vec<Dim>),
    /// An elementwise built-in over its arguments, broadcast together.
    Map(Builtin),
    /// `if m is finite { m + ln(s) } else { m }`: the end of a logsumexp.
    LseFinish,
    /// A reduction over `axes` (sorted, of the operand), keeping them as 1s or not.
    Reduce {
        kind: ReduceKind,
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// The slice at `index` along `axis`, which is removed.
    Take {
        index: i64,
        axis: usize,
    },
    /// Labels to rows of 0/1.
    OneHot,
    /// The operand's data with another shape (size-1 axes inserted).
    Reshape,
    /// The operand broadcast to this value's shape.
    Broadcast,
}

/// One value of the plan.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub op: VOp,
    pub args: Vec<usize>,
    pub shape: Vec<Dim>,
    /// Has the batch dimension first; computed per chunk of rows.
    pub varying: bool,
    /// Varying: the pass it is computed in. Uniform: how many passes must
    /// finish before it can be computed.
    pub level: usize,
    /// Where it came from (for `take`'s index error).
    pub span: Span,
}

impl Value {
    /// A global reduction: a reduction of a varying value over the batch axis.
    pub fn is_global_reduce(&self, values: &[Value]) -> bool {
        matches!(&self.op, VOp::Reduce { axes, .. } if axes.first() == Some(&0))
            && self.args.first().is_some_and(|&a| values[a].varying)
    }
}

/// A requested result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    /// The IR node.
    pub node: NodeId,
    /// Return its whole value (an array of its shape).
    pub array: bool,
    /// Return the mean of its elements (a per-sample loss's value).
    pub mean: bool,
}

/// A root in the plan.
#[derive(Debug, Clone)]
pub(crate) struct PlanRoot {
    pub value: usize,
    pub array: bool,
    /// The value id of the global sum of the root, when its mean is wanted.
    pub mean_sum: Option<usize>,
}

/// A compiled, dtype-independent plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub values: Vec<Value>,
    pub roots: Vec<PlanRoot>,
    /// The dimension chunked over, if the program's shapes allow it.
    pub batch: Option<DimId>,
    pub dim_names: Vec<String>,
    pub inputs: Vec<lossc_ir::Input>,
    pub params: Vec<Vec<f64>>,
    pub consts: Vec<Vec<f64>>,
    /// How many passes over the batch the plan makes.
    pub passes: usize,
    /// Elements per tile, per chunk, and below which a pass runs in the
    /// calling thread (see [`crate::Granularity`]).
    pub granularity: crate::Granularity,
}

/// Builds values with common subexpressions merged.
struct Builder<'p> {
    program: &'p Program,
    values: Vec<Value>,
    index: HashMap<String, usize>,
    lowered: HashMap<NodeId, usize>,
}

impl Builder<'_> {
    fn add(&mut self, op: VOp, args: Vec<usize>, shape: Vec<Dim>, span: Span) -> usize {
        let key = format!("{op:?}|{args:?}|{shape:?}|{}", literal_bits(&op));
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.values.len();
        self.values.push(Value {
            op,
            args,
            shape,
            varying: false,
            level: 0,
            span,
        });
        self.index.insert(key, id);
        id
    }

    fn shape(&self, id: usize) -> Vec<Dim> {
        self.values[id].shape.clone()
    }

    fn lower(&mut self, root: NodeId) -> Result<usize, EvalError> {
        // Iteratively, in topological order: arguments have smaller ids.
        let mut needed = vec![false; root.index() + 1];
        needed[root.index()] = true;
        for id in (0..=root.index()).rev() {
            if !needed[id] || self.lowered.contains_key(&NodeId(id as u32)) {
                continue;
            }
            for arg in &self.program.nodes[id].args {
                if arg.index() >= id {
                    return Err(malformed(id, "an argument does not come before its node"));
                }
                needed[arg.index()] = true;
            }
        }
        for (id, &need) in needed.iter().enumerate().take(root.index() + 1) {
            let node_id = NodeId(id as u32);
            if need && !self.lowered.contains_key(&node_id) {
                let value = self.lower_node(node_id)?;
                self.lowered.insert(node_id, value);
            }
        }
        Ok(self.lowered[&root])
    }

    fn lower_node(&mut self, id: NodeId) -> Result<usize, EvalError> {
        let node = self.program.node(id);
        let span = node.span;
        let shape = node.ty.shape.clone();
        let args: Vec<usize> = node.args.iter().map(|a| self.lowered[a]).collect();
        let (builtin, attrs) = match &node.op {
            Op::Literal(v) => return Ok(self.add(VOp::Literal(*v), vec![], vec![], span)),
            Op::Bool(b) => return Ok(self.add(VOp::Literal(f64::from(u8::from(*b))), vec![], vec![], span)),
            Op::Input(i) => return Ok(self.add(VOp::Input(*i), vec![], shape, span)),
            Op::Param(i) => return Ok(self.add(VOp::Param(*i), vec![], shape, span)),
            Op::Const(i) => return Ok(self.add(VOp::Const(*i), vec![], shape, span)),
            Op::DimSize(d) => return Ok(self.add(VOp::DimSize(*d), vec![], vec![], span)),
            Op::Call(builtin, attrs) => (*builtin, attrs),
        };
        let arity = match builtin.spec().signature {
            Signature::Take | Signature::OneHot => 1,
            _ => builtin.spec().params.len(),
        };
        if args.len() != arity {
            return Err(malformed(
                id.index(),
                &format!("`{builtin}` has {} arguments", args.len()),
            ));
        }
        let axes = || {
            attrs
                .axes
                .clone()
                .ok_or_else(|| malformed(id.index(), &format!("`{builtin}` has no axis")))
        };
        Ok(match builtin.spec().signature {
            Signature::Elementwise if builtin == Builtin::BroadcastLike => {
                if self.values[args[0]].shape == shape {
                    args[0]
                } else {
                    self.add(VOp::Broadcast, vec![args[0]], shape, span)
                }
            }
            Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float => {
                self.add(VOp::Map(builtin), args, shape, span)
            }
            Signature::Reduce(reduction) => {
                let rank = self.values[args[0]].shape.len();
                let axes = attrs.axes.clone().unwrap_or_else(|| (0..rank).collect());
                self.reduce(reduction, args[0], axes, attrs.keepdims, shape, span)
            }
            Signature::AlongAxis(along) => {
                let axes = axes()?;
                let x = args[0];
                match along {
                    Along::Softmax => {
                        let kept = self.keep(x, &axes);
                        let m = self.add(
                            VOp::Reduce {
                                kind: ReduceKind::Max,
                                axes: axes.clone(),
                                keepdims: true,
                            },
                            vec![x],
                            kept.clone(),
                            span,
                        );
                        let d = self.add(VOp::Map(Builtin::Sub), vec![x, m], shape.clone(), span);
                        let e = self.add(VOp::Map(Builtin::Exp), vec![d], shape.clone(), span);
                        let s = self.add(
                            VOp::Reduce {
                                kind: ReduceKind::Sum,
                                axes,
                                keepdims: true,
                            },
                            vec![e],
                            kept,
                            span,
                        );
                        self.add(VOp::Map(Builtin::Div), vec![e, s], shape, span)
                    }
                    Along::LogSoftmax => {
                        let kept = self.keep(x, &axes);
                        let lse = self.logsumexp(x, axes, true, kept, span);
                        self.add(VOp::Map(Builtin::Sub), vec![x, lse], shape, span)
                    }
                }
            }
            Signature::Take => {
                let axis = axes()?
                    .first()
                    .copied()
                    .ok_or_else(|| malformed(id.index(), "`take` has no axis"))?;
                let index = attrs
                    .index
                    .ok_or_else(|| malformed(id.index(), "`take` has no index"))?;
                self.add(VOp::Take { index, axis }, args, shape, span)
            }
            Signature::OneHot => self.add(VOp::OneHot, args, shape, span),
            Signature::ExpandDims => self.add(VOp::Reshape, args, shape, span),
        })
    }

    /// The operand's shape with `axes` set to 1.
    fn keep(&self, x: usize, axes: &[usize]) -> Vec<Dim> {
        let mut shape = self.shape(x);
        for &a in axes {
            if let Some(d) = shape.get_mut(a) {
                *d = Dim::Fixed(1);
            }
        }
        shape
    }

    fn reduce(
        &mut self,
        reduction: Reduction,
        x: usize,
        axes: Vec<usize>,
        keepdims: bool,
        shape: Vec<Dim>,
        span: Span,
    ) -> usize {
        let primitive = |kind| VOp::Reduce {
            kind,
            axes: axes.clone(),
            keepdims,
        };
        match reduction {
            Reduction::Max => self.add(primitive(ReduceKind::Max), vec![x], shape, span),
            Reduction::Min => self.add(primitive(ReduceKind::Min), vec![x], shape, span),
            Reduction::Sum => self.add(primitive(ReduceKind::Sum), vec![x], shape, span),
            Reduction::Mean => {
                let s = self.add(primitive(ReduceKind::Sum), vec![x], shape.clone(), span);
                let dims: Vec<Dim> = axes
                    .iter()
                    .filter_map(|&a| self.values[x].shape.get(a).copied())
                    .collect();
                let count = self.add(VOp::Count(dims), vec![], vec![], span);
                self.add(VOp::Map(Builtin::Div), vec![s, count], shape, span)
            }
            Reduction::Norm => {
                let xshape = self.shape(x);
                let sq = self.add(VOp::Map(Builtin::Square), vec![x], xshape, span);
                let s = self.add(primitive(ReduceKind::Sum), vec![sq], shape.clone(), span);
                self.add(VOp::Map(Builtin::Sqrt), vec![s], shape, span)
            }
            Reduction::Logsumexp => {
                let kept = self.keep(x, &axes);
                let lse = self.logsumexp(x, axes, true, kept, span);
                if keepdims {
                    lse
                } else {
                    self.add(VOp::Reshape, vec![lse], shape, span)
                }
            }
        }
    }

    /// `logsumexp(x)` over `axes`, with the axes kept as 1s (`kept`).
    fn logsumexp(&mut self, x: usize, axes: Vec<usize>, keepdims: bool, kept: Vec<Dim>, span: Span) -> usize {
        let xshape = self.shape(x);
        let m = self.add(
            VOp::Reduce {
                kind: ReduceKind::Max,
                axes: axes.clone(),
                keepdims,
            },
            vec![x],
            kept.clone(),
            span,
        );
        let d = self.add(VOp::Map(Builtin::Sub), vec![x, m], xshape.clone(), span);
        let e = self.add(VOp::Map(Builtin::Exp), vec![d], xshape, span);
        let s = self.add(
            VOp::Reduce {
                kind: ReduceKind::Sum,
                axes,
                keepdims,
            },
            vec![e],
            kept.clone(),
            span,
        );
        self.add(VOp::LseFinish, vec![m, s], kept, span)
    }
}

/// The exact bits of a literal, so that `0.0` and `-0.0` stay apart.
fn literal_bits(op: &VOp) -> u64 {
    match op {
        VOp::Literal(v) => v.to_bits(),
        _ => 0,
    }
}

fn malformed(node: usize, detail: &str) -> EvalError {
    EvalError::Malformed {
        node,
        detail: detail.to_string(),
    }
}

fn values_of(value: &IrValue) -> Vec<f64> {
    match value {
        IrValue::Scalar(v) => vec![*v],
        IrValue::Vector(vs) => vs.clone(),
    }
}

impl Plan {
    /// Lowers the roots of `program` and classifies every value.
    pub fn new(program: &Program, roots: &[Root]) -> Result<Plan, EvalError> {
        let mut builder = Builder {
            program,
            values: Vec::new(),
            index: HashMap::new(),
            lowered: HashMap::new(),
        };
        let mut plan_roots = Vec::with_capacity(roots.len());
        for root in roots {
            if root.node.index() >= program.nodes.len() {
                return Err(malformed(root.node.index(), "no such node"));
            }
            let value = builder.lower(root.node)?;
            plan_roots.push(PlanRoot {
                value,
                array: root.array,
                mean_sum: None,
            });
        }
        // A mean is the global sum of the root over all its axes; the count
        // divides it at the end.
        for (root, spec) in plan_roots.iter_mut().zip(roots) {
            if spec.mean {
                let shape = builder.shape(root.value);
                let rank = shape.len();
                let span = builder.values[root.value].span;
                let sum = builder.add(
                    VOp::Reduce {
                        kind: ReduceKind::Sum,
                        axes: (0..rank).collect(),
                        keepdims: false,
                    },
                    vec![root.value],
                    vec![],
                    span,
                );
                root.mean_sum = Some(sum);
            }
        }
        let mut plan = Plan {
            values: builder.values,
            roots: plan_roots,
            batch: None,
            dim_names: program.dims.clone(),
            inputs: program.inputs.clone(),
            params: program.params.iter().map(|p| values_of(&p.value)).collect(),
            consts: program.consts.iter().map(|c| values_of(&c.value)).collect(),
            passes: 0,
            granularity: crate::Granularity::default(),
        };
        let candidate = match program.batch {
            Some(Dim::Named(id)) => Some(id),
            _ => program.inputs.iter().find_map(|input| match input.shape.first() {
                Some(Dim::Named(id)) => Some(*id),
                _ => None,
            }),
        };
        if let Some(batch) = candidate
            && plan.classify(Some(batch))
        {
            plan.batch = Some(batch);
        } else {
            plan.classify(None);
            plan.batch = None;
        }
        plan.assign_levels();
        Ok(plan)
    }

    /// Marks the varying values for chunking over `batch`; false if some value
    /// does not fit the model (the batch dimension elsewhere than first, or a
    /// uniform value computed from a varying one other than by a reduction
    /// over the batch axis).
    fn classify(&mut self, batch: Option<DimId>) -> bool {
        let Some(batch) = batch else {
            for value in &mut self.values {
                value.varying = false;
            }
            return true;
        };
        let b = Dim::Named(batch);
        for id in 0..self.values.len() {
            let value = &self.values[id];
            let varying = value.shape.first() == Some(&b);
            if value.shape.iter().skip(1).any(|d| *d == b) {
                return false;
            }
            let any_varying_arg = value.args.iter().any(|&a| self.values[a].varying);
            if varying && matches!(value.op, VOp::Input(_)) {
                // An input with the batch dimension first.
            } else if varying && !any_varying_arg && !matches!(value.op, VOp::Broadcast) {
                // Only a broadcast makes a varying value of uniform ones.
                return false;
            } else if !varying && any_varying_arg {
                let global = matches!(&value.op, VOp::Reduce { axes, .. } if axes.first() == Some(&0));
                if !global {
                    return false;
                }
            }
            if varying && !matches!(value.op, VOp::Input(_)) && value.args.is_empty() {
                return false;
            }
            self.values[id].varying = varying;
        }
        true
    }

    fn assign_levels(&mut self) {
        let mut passes = 0;
        for id in 0..self.values.len() {
            let value = &self.values[id];
            let mut level = value.args.iter().map(|&a| self.values[a].level).max().unwrap_or(0);
            if value.is_global_reduce(&self.values) {
                level += 1;
            }
            if value.varying {
                passes = passes.max(level + 1);
            }
            self.values[id].level = level;
        }
        self.passes = passes;
    }
}
