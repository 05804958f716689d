//! Abstract interpretation of the IR over intervals, with path refinement
//! through `where`: a branch is analysed under its condition, so the branch
//! not taken never raises a hazard (its value does not reach the result).
//!
//! Each node is evaluated once per *environment* (a set of constraints that
//! `where` conditions put on nodes). Evaluation is iterative (gradients can be
//! thousands of nodes deep) and records every [`Event`]: a place where an
//! operation leaves its domain or overflows.

use std::collections::HashMap;

use lossc_diagnostics::Code;
use lossc_ir::{Builtin, Dim, Domain, Dtype, NodeId, Op, Program, ROW_SUM_TOLERANCE, Value};

use crate::interval::{self, Iv, apply};

/// The largest size assumed for a named dimension other than the batch
/// dimension (which is 1: hazards are judged per sample). It bounds sums over
/// classes; docs/analysis.md states it as a limit of the analysis.
pub const DIM_MAX: f64 = 1024.0;

/// What went wrong at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hazard {
    /// An argument outside where its function is defined, or at its pole,
    /// with the finding the built-in table names for it: `log(x)` with
    /// `x <= 0` (and `xlogy(x, y)` with `y <= 0`), `sqrt(x)` with `x < 0`,
    /// `asin(x)` outside [-1, 1].
    Domain(Code),
    /// A denominator that can be 0.
    DivByZero,
    /// A negative base with a non-integer exponent, or 0 to a negative power.
    PowDomain,
    /// A one-argument function of the table overflowing from a finite
    /// argument (`exp`, `expm1`, `cosh`), or `pow` with a variable exponent.
    ExpOverflow,
    /// Ordinary arithmetic overflowing from finite operands.
    Overflow,
    /// `0 * inf`, `inf - inf` and the like, from non-finite operands.
    Indeterminate,
}

/// One hazard at one node, in one environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub node: NodeId,
    pub hazard: Hazard,
    /// The interval of the offending operand (the argument of `log`, the
    /// denominator), or of the result for overflows.
    pub operand: Iv,
}

/// `v` as the nearest float of the dtype (how a literal is read).
pub fn nearest(dtype: Dtype, v: f64) -> f64 {
    match dtype {
        Dtype::F32 => (v as f32) as f64,
        Dtype::F64 => v,
    }
}

/// The intervals of a program's leaves for one analysis case.
#[derive(Debug, Clone)]
pub struct Leaves {
    pub inputs: Vec<Iv>,
    pub params: Vec<Iv>,
    pub consts: Vec<Iv>,
    pub dims: Vec<Iv>,
}

impl Leaves {
    /// Params and consts as declared (a vector's hull), dimensions per sample.
    pub fn new(program: &Program, dtype: Dtype, inputs: Vec<Iv>) -> Leaves {
        let value = |v: &Value| {
            let values: Vec<f64> = match v {
                Value::Scalar(x) => vec![*x],
                Value::Vector(xs) => xs.clone(),
            };
            // A written number becomes the nearest float of the dtype.
            values
                .iter()
                .fold(Iv::EMPTY, |acc, x| acc.hull(Iv::point(nearest(dtype, *x))))
        };
        let dims = (0..program.dims.len())
            .map(|d| {
                let named = Dim::Named(lossc_ir::DimId(d as u32));
                if program.batch == Some(named) {
                    Iv::point(1.0)
                } else {
                    Iv::new(1.0, DIM_MAX)
                }
            })
            .collect();
        Leaves {
            inputs,
            params: program.params.iter().map(|p| value(&p.value)).collect(),
            consts: program.consts.iter().map(|c| value(&c.value)).collect(),
            dims,
        }
    }
}

/// A set of constraints: node → the interval it is known to lie in (its
/// `nan` flag says whether NaN stays possible: a false comparison allows it).
type Constraints = Vec<(NodeId, Iv)>;

/// A hashable image of a set of constraints.
fn key(constraints: &Constraints) -> Vec<(NodeId, u64, u64, bool)> {
    constraints
        .iter()
        .map(|(n, iv)| (*n, iv.lo.to_bits(), iv.hi.to_bits(), iv.nan))
        .collect()
}

/// The most environments one analysis creates; past it, branches are
/// analysed without refinement (less precise, still sound) and the analysis
/// reports itself [`Analysis::coarsened`].
const MAX_ENVS: usize = 64;

/// The most (node, environment) evaluations one analysis makes before it
/// stops creating environments: with [`MAX_ENVS`], this bounds its work by a
/// multiple of the program's size whatever the nesting of `where`s.
const MAX_EVALUATIONS: usize = 200_000;

/// The analysis of one program for one case.
pub struct Analysis<'p> {
    program: &'p Program,
    dtype: Dtype,
    leaves: Leaves,
    envs: Vec<Constraints>,
    env_ids: HashMap<Vec<(NodeId, u64, u64, bool)>, usize>,
    memo: HashMap<(usize, NodeId), Iv>,
    /// The environments chosen for the two branches of each `where`
    /// evaluated, so its value reads them where they were evaluated.
    branches: HashMap<(usize, NodeId), (usize, usize)>,
    /// For each canonical id that a constraint names: which nodes read a node
    /// of that id (itself included). A constraint matters to a node only if
    /// it reads the constrained value.
    readers: HashMap<usize, Vec<bool>>,
    /// Whether a budget ([`MAX_ENVS`], [`MAX_EVALUATIONS`]) stopped the
    /// refinement of some branch: the result is sound but coarser.
    pub coarsened: bool,
    pub events: Vec<Event>,
    /// The environments each node was evaluated in.
    pub visits: HashMap<NodeId, Vec<usize>>,
    /// Structurally equal nodes share one id: a condition on `abs(e)` then
    /// constrains every `abs(e)` written, not just the one in the condition.
    canon: Vec<usize>,
    /// For a difference `a - b`, the id of `b - a` written elsewhere (its
    /// negation, exactly, in IEEE arithmetic): a condition on
    /// `y_true - y_pred` then constrains `y_pred - y_true` too.
    twin: Vec<Option<usize>>,
}

/// For each node `a - b`, the canonical id of a node `b - a`, if the program
/// has one.
fn twin_ids(program: &Program, canon: &[usize]) -> Vec<Option<usize>> {
    let difference = |n: &lossc_ir::Node| match n.op {
        Op::Call(Builtin::Sub, _) => Some((canon[n.args[0].index()], canon[n.args[1].index()])),
        _ => None,
    };
    let ids: HashMap<(usize, usize), usize> = program
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| difference(n).map(|pair| (pair, canon[i])))
        .collect();
    program
        .nodes
        .iter()
        .map(|n| difference(n).and_then(|(a, b)| ids.get(&(b, a)).copied()))
        .collect()
}

/// An id per node, equal for structurally equal nodes.
fn canonical_ids(program: &Program) -> Vec<usize> {
    let mut ids: HashMap<(String, Vec<usize>), usize> = HashMap::new();
    let mut canon = Vec::with_capacity(program.nodes.len());
    for node in &program.nodes {
        let op = match &node.op {
            Op::Literal(v) => format!("lit{}", v.to_bits()),
            other => format!("{other:?}"),
        };
        let key = (op, node.args.iter().map(|a| canon[a.index()]).collect());
        let next = ids.len();
        canon.push(*ids.entry(key).or_insert(next));
    }
    canon
}

impl<'p> Analysis<'p> {
    pub fn new(program: &'p Program, dtype: Dtype, leaves: Leaves) -> Self {
        let mut analysis = Analysis {
            program,
            dtype,
            leaves,
            envs: Vec::new(),
            env_ids: HashMap::new(),
            memo: HashMap::new(),
            branches: HashMap::new(),
            readers: HashMap::new(),
            coarsened: false,
            events: Vec::new(),
            visits: HashMap::new(),
            canon: canonical_ids(program),
            twin: Vec::new(),
        };
        analysis.twin = twin_ids(program, &analysis.canon);
        analysis.try_env(Vec::new());
        analysis
    }

    /// The environment with exactly these constraints: an existing one, or a
    /// new one while the budgets allow it (`None` past them).
    fn try_env(&mut self, constraints: Constraints) -> Option<usize> {
        let k = key(&constraints);
        if let Some(&id) = self.env_ids.get(&k) {
            return Some(id);
        }
        if self.envs.len() >= MAX_ENVS || self.memo.len() >= MAX_EVALUATIONS {
            return None;
        }
        for (n, _) in &constraints {
            self.note_readers(self.canon[n.index()]);
        }
        let id = self.envs.len();
        self.envs.push(constraints);
        self.env_ids.insert(k, id);
        Some(id)
    }

    /// Computes which nodes read a value of canonical id `canon`.
    fn note_readers(&mut self, canon: usize) {
        if self.readers.contains_key(&canon) {
            return;
        }
        let mut reads = vec![false; self.program.nodes.len()];
        for (i, node) in self.program.nodes.iter().enumerate() {
            reads[i] =
                self.canon[i] == canon || self.twin[i] == Some(canon) || node.args.iter().any(|a| reads[a.index()]);
        }
        self.readers.insert(canon, reads);
    }

    /// The constraints of `env` that can matter to `node`: those on values it
    /// reads. The others cannot change its interval, so dropping them shares
    /// its evaluation between environments that differ only in them.
    fn relevant(&self, env: usize, node: NodeId) -> Option<Constraints> {
        let constraints = &self.envs[env];
        let matters = |(n, _): &&(NodeId, Iv)| {
            self.readers
                .get(&self.canon[n.index()])
                .is_none_or(|reads| reads[node.index()])
        };
        if constraints.iter().all(|c| matters(&c)) {
            return None;
        }
        Some(constraints.iter().filter(matters).copied().collect())
    }

    /// The environment `node` is evaluated in when asked for in `env`.
    fn project(&mut self, env: usize, node: NodeId) -> usize {
        match self.relevant(env, node) {
            Some(constraints) => self.try_env(constraints).unwrap_or(env),
            None => env,
        }
    }

    /// The interval of `node` as evaluated for `env` (after [`Self::eval`]).
    fn lookup(&self, env: usize, node: NodeId) -> Option<Iv> {
        let env = match self.relevant(env, node) {
            Some(constraints) => self.env_ids.get(&key(&constraints)).copied().unwrap_or(env),
            None => env,
        };
        self.memo.get(&(env, node)).copied()
    }

    /// The interval of `root` in the top environment.
    pub fn value(&mut self, root: NodeId) -> Iv {
        self.eval(root, 0)
    }

    /// The interval of `node` in environment `env` (it must have been evaluated).
    pub fn get(&self, node: NodeId, env: usize) -> Option<Iv> {
        self.lookup(env, node)
    }

    /// Evaluates `root` in `env`, iteratively.
    pub fn eval(&mut self, root: NodeId, env: usize) -> Iv {
        // (node, env, stage): stage 0 pushes operands, 1 (where only) pushes
        // the branches under their refined environments, 2 computes.
        let mut stack: Vec<(NodeId, usize, u8)> = vec![(root, env, 0)];
        while let Some((node, env, stage)) = stack.pop() {
            let env = if stage == 0 { self.project(env, node) } else { env };
            if self.memo.contains_key(&(env, node)) {
                continue;
            }
            let args = &self.program.node(node).args;
            let is_where = matches!(self.program.node(node).op, Op::Call(Builtin::Where, _));
            match stage {
                0 => {
                    stack.push((node, env, if is_where { 1 } else { 2 }));
                    let first = if is_where { &args[..1] } else { &args[..] };
                    for &arg in first {
                        stack.push((arg, env, 0));
                    }
                }
                1 => {
                    let (a, b) = (args[1], args[2]);
                    let (yes, no) = self.branch_envs(node, env);
                    stack.push((node, env, 2));
                    stack.push((a, yes, 0));
                    stack.push((b, no, 0));
                }
                _ => {
                    let value = self.transfer(node, env);
                    self.memo.insert((env, node), value);
                    self.visits.entry(node).or_default().push(env);
                }
            }
        }
        // Every node pushed is evaluated before the stack empties; the whole
        // range (sound for anything) only guards against a bug here.
        let value = self.lookup(env, root);
        debug_assert!(value.is_some(), "evaluated above");
        value.unwrap_or(Iv::ALL)
    }

    /// The environments of the two branches of a `where`, chosen once per
    /// evaluation of it (the budgets can run out in between).
    fn branch_envs(&mut self, node: NodeId, env: usize) -> (usize, usize) {
        if let Some(&chosen) = self.branches.get(&(env, node)) {
            return chosen;
        }
        let cond = self.program.node(node).args[0];
        let chosen = (self.refine(env, cond, true), self.refine(env, cond, false));
        self.branches.insert((env, node), chosen);
        chosen
    }

    fn arg(&self, node: NodeId, k: usize, env: usize) -> Iv {
        let arg = self.program.node(node).args[k];
        let value = self.lookup(env, arg);
        debug_assert!(value.is_some(), "operands are evaluated first");
        value.unwrap_or(Iv::ALL)
    }

    fn transfer(&mut self, node_id: NodeId, env: usize) -> Iv {
        let node = self.program.node(node_id);
        let dtype = self.dtype;
        let raw = match &node.op {
            Op::Literal(v) => Iv::point(nearest(dtype, *v)),
            Op::Bool(b) => Iv::point(if *b { 1.0 } else { 0.0 }),
            Op::Input(i) => self.leaves.inputs[*i],
            Op::Param(i) => self.leaves.params[*i],
            Op::Const(i) => self.leaves.consts[*i],
            Op::DimSize(d) => self.leaves.dims[d.0 as usize],
            Op::Call(builtin, attrs) => {
                let builtin = *builtin;
                if builtin == Builtin::Where {
                    let (yes, no) = self.branch_envs(node_id, env);
                    let c = self.arg(node_id, 0, env);
                    let a = self.arg(node_id, 1, yes);
                    let b = self.arg(node_id, 2, no);
                    match c.is_point() {
                        Some(v) if v != 0.0 => a,
                        Some(_) => b,
                        None => a.hull(b),
                    }
                } else {
                    let args: Vec<Iv> = (0..node.args.len()).map(|k| self.arg(node_id, k, env)).collect();
                    let same = node.args.len() == 2 && node.args[0] == node.args[1];
                    let before = self.events.len();
                    let value = match (builtin, same) {
                        // x * x is a square: never negative.
                        (Builtin::Mul, true) => {
                            self.check(node_id, Builtin::Square, &args[..1]);
                            interval::elementwise(dtype, Builtin::Square, &args[..1]).unwrap_or(Iv::ALL)
                        }
                        // xlogy(x, x) = x log x: 0 at 0, NaN only below 0.
                        (Builtin::Xlogy, true) => {
                            let x = args[0];
                            if x.lo < 0.0 {
                                self.events.push(Event {
                                    node: node_id,
                                    hazard: Hazard::Domain(Code::LogDomain),
                                    operand: x,
                                });
                            }
                            interval::x_log_x(dtype, x)
                        }
                        // A part over its whole (`tp / (tp + fn + s)`): in [0, 1].
                        (Builtin::Div, false) if self.part_of_whole(env, node.args[0], node.args[1]) => {
                            self.check(node_id, builtin, &args);
                            let value = interval::elementwise(dtype, builtin, &args).unwrap_or(Iv::ALL);
                            value.meet(Iv::new(0.0, 1.0)).with_nan_of(value.nan)
                        }
                        // `x - max(x)` (keeping the reduced axes): never
                        // above 0, exactly (the max is one of the elements);
                        // `x - min(x)` never below.
                        (Builtin::Sub, false) if self.shift_by_extreme(node.args[0], node.args[1]).is_some() => {
                            self.check(node_id, builtin, &args);
                            let value = interval::elementwise(dtype, builtin, &args).unwrap_or(Iv::ALL);
                            let side = self.shift_by_extreme(node.args[0], node.args[1]).unwrap_or(Iv::ALL);
                            value.meet(side).with_nan_of(value.nan)
                        }
                        // `sum(x) - sum(y)` with `x >= y` at every element:
                        // never negative (see `dominated_sums`).
                        (Builtin::Sub, false) if self.dominated_sums(env, node.args[0], node.args[1]) => {
                            self.check(node_id, builtin, &args);
                            let value = interval::elementwise(dtype, builtin, &args).unwrap_or(Iv::ALL);
                            value.meet(Iv::new(0.0, f64::INFINITY)).with_nan_of(value.nan)
                        }
                        (Builtin::Mul | Builtin::Xlogy, false)
                        | (
                            Builtin::Neg
                            | Builtin::Add
                            | Builtin::Sub
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
                            | Builtin::Maximum
                            | Builtin::Minimum
                            | Builtin::Clip
                            | Builtin::Where
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
                            | Builtin::ExpandDims,
                            _,
                        ) => {
                            self.check(node_id, builtin, &args);
                            match interval::elementwise(dtype, builtin, &args) {
                                Some(iv) => iv,
                                None => self.structural(node_id, env, builtin, attrs, &args),
                            }
                        }
                    };
                    // Whatever else turns finite operands into an infinity
                    // (rounding at the top of the range, a structural bound)
                    // is an overflow too: nothing infinite goes unrecorded.
                    let finite = |iv: &Iv| iv.is_empty() || (iv.lo.is_finite() && iv.hi.is_finite());
                    if self.events.len() == before && value.may_be_infinite() && args.iter().all(finite) {
                        self.events.push(Event {
                            node: node_id,
                            hazard: Hazard::Overflow,
                            operand: value,
                        });
                    }
                    value
                }
            }
        };
        // Constraints from enclosing `where` conditions (on this node or one
        // structurally equal to it).
        let canon = self.canon[node_id.index()];
        let raw = match self.envs[env].iter().find(|(n, _)| self.canon[n.index()] == canon) {
            Some((_, constraint)) => raw.meet(*constraint),
            None => raw,
        };
        // A constraint on its twin `b - a`, negated.
        let twin = self.twin[node_id.index()];
        match self.envs[env].iter().find(|(n, _)| Some(self.canon[n.index()]) == twin) {
            Some((_, constraint)) => {
                let negated = interval::elementwise(dtype, Builtin::Neg, &[*constraint]).unwrap_or(Iv::ALL);
                raw.meet(negated.with_nan_of(constraint.nan))
            }
            None => raw,
        }
    }

    /// Reductions and the other built-ins whose elements mix.
    fn structural(&mut self, node: NodeId, env: usize, builtin: Builtin, attrs: &lossc_ir::Attrs, args: &[Iv]) -> Iv {
        let dtype = self.dtype;
        let x = args[0];
        let count = || {
            let shape = &self.program.node(self.program.node(node).args[0]).ty.shape;
            let all: Vec<usize> = (0..shape.len()).collect();
            let axes = attrs.axes.as_ref().unwrap_or(&all);
            axes.iter().fold(Iv::point(1.0), |n, &k| {
                let size = match shape[k] {
                    Dim::Fixed(s) => Iv::point(s as f64),
                    Dim::Named(d) => self.leaves.dims[d.0 as usize],
                };
                Iv::new(n.lo * size.lo, n.hi * size.hi)
            })
        };
        if x.is_empty() {
            return x;
        }
        match builtin {
            // One-hot and simplex rows sum to 1 over the classes, so
            // `sum(row * w)` lies between the smallest and largest weight.
            Builtin::Sum if self.rows_over_classes(node, env, attrs, count()).is_some() => {
                self.rows_over_classes(node, env, attrs, count()).unwrap_or(Iv::ALL)
            }
            Builtin::Sum => {
                let n = count();
                let s = interval::mul(dtype, x, n);
                // `sum(exp(x - max(x)))` over the max's axes: one term is
                // exp(0) = 1 exactly and the others are at least 0.
                let s = if self.exp_of_shift(self.program.node(node).args[0], attrs) {
                    s.meet(Iv::new(1.0, f64::INFINITY)).with_nan_of(s.nan)
                } else {
                    s
                };
                let both_infinite = x.lo == f64::NEG_INFINITY && x.hi == f64::INFINITY;
                let out = Iv {
                    nan: s.nan || both_infinite,
                    ..s
                };
                if out.may_be_infinite() && !x.may_be_infinite() {
                    self.events.push(Event {
                        node,
                        hazard: Hazard::Overflow,
                        operand: out,
                    });
                }
                out
            }
            Builtin::Mean => {
                // The sum, then a division: the sum can overflow on the way.
                let n = count();
                let s = interval::mul(dtype, x, n);
                if s.may_be_infinite() && !x.may_be_infinite() {
                    self.events.push(Event {
                        node,
                        hazard: Hazard::Overflow,
                        operand: s,
                    });
                    return x.hull(s);
                }
                x
            }
            Builtin::Max | Builtin::Min | Builtin::Take | Builtin::ExpandDims => x,
            Builtin::OneHot => Iv::new(0.0, 1.0),
            Builtin::Logsumexp | Builtin::Softmax | Builtin::LogSoftmax
                if x.lo.is_finite() && x.hi.is_finite() && apply(dtype, Builtin::Sub, &[x.hi, x.lo]).is_infinite() =>
            {
                // These subtract the maximum: `x - max(x)` overflows for a row
                // holding both ends of the float range.
                self.events.push(Event {
                    node,
                    hazard: Hazard::Overflow,
                    operand: x,
                });
                Iv::ALL
            }
            Builtin::Logsumexp => {
                let n = count();
                let ln = apply(dtype, Builtin::Log, &[n.hi]);
                let hi = apply(dtype, Builtin::Add, &[x.hi, ln]);
                Iv::new(x.lo, dtype.next_up(hi)).with_nan_of(x.nan || x.hi == f64::INFINITY)
            }
            Builtin::Norm => {
                let sq = interval::elementwise(dtype, Builtin::Square, &[x]).unwrap_or(Iv::ALL);
                let n = count();
                let s = interval::mul(dtype, sq, n);
                if s.may_be_infinite() && !x.may_be_infinite() {
                    self.events.push(Event {
                        node,
                        hazard: Hazard::Overflow,
                        operand: s,
                    });
                }
                interval::elementwise(dtype, Builtin::Sqrt, &[s]).unwrap_or(Iv::ALL)
            }
            Builtin::Softmax => Iv::new(0.0, 1.0).with_nan_of(x.nan || x.may_be_infinite()),
            Builtin::LogSoftmax => {
                let n = count_along(self.program, node, attrs, &self.leaves);
                let ln = apply(dtype, Builtin::Log, &[n]);
                let spread = apply(dtype, Builtin::Sub, &[x.lo, x.hi]);
                let lo = apply(dtype, Builtin::Sub, &[spread, ln]);
                Iv::new(dtype.next_down(lo), 0.0).with_nan_of(x.nan || x.may_be_infinite())
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
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
            | Builtin::BroadcastLike => Iv::ALL,
        }
    }

    /// `sum(row, axis=-1)` and `sum(row * w, axis=-1)` where `row` is a
    /// `one_hot(...)` or an input declared `onehot` or `simplex`: a one-hot
    /// row sums to exactly 1 and picks one weight; a simplex row sums to 1
    /// within its tolerance, so the weighted sum is a convex combination of
    /// the weights, widened by that tolerance and by rounding (`classes`
    /// elements summed in the dtype). A weight that can be infinite meets a
    /// 0 of the row: `0 * inf` is NaN.
    fn rows_over_classes(&self, node: NodeId, env: usize, attrs: &lossc_ir::Attrs, classes: Iv) -> Option<Iv> {
        let program = self.program;
        let operand = program.node(node).args[0];
        let rank = program.node(operand).ty.shape.len();
        if rank == 0 || attrs.axes.as_deref() != Some(&[rank - 1]) {
            return None;
        }
        // Some(true) for one-hot rows, Some(false) for simplex rows.
        let rows = |n: NodeId| {
            let x = program.node(n);
            if x.ty.shape.len() != rank {
                return None;
            }
            match x.op {
                Op::Call(Builtin::OneHot, _) => Some(true),
                Op::Input(i) => match program.inputs[i].domain {
                    Domain::OneHot => Some(true),
                    Domain::Simplex => Some(false),
                    _ => None,
                },
                _ => None,
            }
        };
        // How far from 1 a simplex row's sum in the dtype can be, relatively.
        let slack = if classes.hi.is_finite() {
            ROW_SUM_TOLERANCE + 2.0 * classes.hi * (-f64::from(self.dtype.mantissa_bits())).exp2()
        } else {
            return None;
        };
        let o = program.node(operand);
        if let Some(exact) = rows(operand) {
            return Some(if exact {
                Iv::point(1.0)
            } else {
                Iv::new((1.0 - slack).max(0.0), 1.0 + slack)
            });
        }
        if let Op::Call(Builtin::Mul, _) = o.op {
            for (hot, other) in [(o.args[0], o.args[1]), (o.args[1], o.args[0])] {
                if let Some(exact) = rows(hot) {
                    let w = self.lookup(env, other).unwrap_or(Iv::ALL);
                    if w.is_empty() {
                        return Some(w);
                    }
                    let (lo, hi) = if exact {
                        (w.lo, w.hi)
                    } else {
                        let widen = |v: f64, up: bool| {
                            let grow = if (v >= 0.0) == up { 1.0 + slack } else { 1.0 - slack };
                            v * grow
                        };
                        (widen(w.lo, false), widen(w.hi, true))
                    };
                    return Some(Iv {
                        lo,
                        hi,
                        nan: w.nan || w.may_be_infinite(),
                    });
                }
            }
        }
        None
    }

    /// Whether `den` is `num` plus terms that are never negative, added so
    /// that `den >= num` holds in floats too, with `num >= 0`: then
    /// `num / den` lies in [0, 1] (or is NaN, for 0 / 0), which intervals
    /// alone lose (Tversky's `(tp + s) / (tp + a * fn + b * fp + s)`).
    /// `den`'s addition tree with its extra terms removed must be `num`'s
    /// (up to the order of each sum's two operands, exact in IEEE): with
    /// the extra terms at 0 it computes `num` exactly, and rounding is
    /// monotone, so terms at or above 0 can only make it larger.
    fn part_of_whole(&self, env: usize, num: NodeId, den: NodeId) -> bool {
        /// An addition tree over canonical ids of its terms.
        #[derive(PartialEq)]
        enum Tree {
            Term(usize),
            Sum(Box<Tree>, Box<Tree>),
        }
        fn tree(a: &Analysis<'_>, n: NodeId, depth: usize) -> Option<Tree> {
            match a.program.node(n).op {
                Op::Call(Builtin::Add, _) if depth < 32 => {
                    let args = &a.program.node(n).args;
                    Some(sum(tree(a, args[0], depth + 1)?, tree(a, args[1], depth + 1)?))
                }
                Op::Call(Builtin::Add, _) => None,
                _ => Some(Tree::Term(a.canon[n.index()])),
            }
        }
        /// `x + y`, its operands in a canonical order: `a + b` is `b + a` exactly.
        fn sum(x: Tree, y: Tree) -> Tree {
            if key(&x) <= key(&y) {
                Tree::Sum(Box::new(x), Box::new(y))
            } else {
                Tree::Sum(Box::new(y), Box::new(x))
            }
        }
        fn key(t: &Tree) -> usize {
            match t {
                Tree::Term(id) => *id,
                Tree::Sum(x, _) => key(x),
            }
        }
        /// `t` without the terms not in `keep` (each kept term once), and
        /// the terms removed.
        fn prune(t: Tree, keep: &mut Vec<usize>, removed: &mut Vec<usize>) -> Option<Tree> {
            match t {
                Tree::Term(id) => match keep.iter().position(|k| *k == id) {
                    Some(i) => {
                        keep.swap_remove(i);
                        Some(Tree::Term(id))
                    }
                    None => {
                        removed.push(id);
                        None
                    }
                },
                Tree::Sum(x, y) => match (prune(*x, keep, removed), prune(*y, keep, removed)) {
                    (Some(x), Some(y)) => Some(sum(x, y)),
                    (Some(t), None) | (None, Some(t)) => Some(t),
                    (None, None) => None,
                },
            }
        }
        fn terms(t: &Tree, out: &mut Vec<usize>) {
            match t {
                Tree::Term(id) => out.push(*id),
                Tree::Sum(x, y) => {
                    terms(x, out);
                    terms(y, out);
                }
            }
        }
        let nonnegative = |n: NodeId| self.lookup(env, n).is_some_and(|iv| !iv.is_empty() && iv.lo >= 0.0);
        if !nonnegative(num) {
            return false;
        }
        let (Some(num_tree), Some(den_tree)) = (tree(self, num, 0), tree(self, den, 0)) else {
            return false;
        };
        let mut keep = Vec::new();
        terms(&num_tree, &mut keep);
        let mut removed = Vec::new();
        let pruned = prune(den_tree, &mut keep, &mut removed);
        if !keep.is_empty() || removed.is_empty() || pruned.as_ref() != Some(&num_tree) {
            return false;
        }
        // Every removed term is never negative: find a node of its id in
        // `den`'s cone, evaluated in this environment.
        let cone = self.program.cone(&[den]);
        removed.iter().all(|id| {
            cone.iter()
                .find(|n| self.canon[n.index()] == *id)
                .is_some_and(|n| nonnegative(*n))
        })
    }

    /// The side of 0 that `x - m` lies on when `m` is `max(x)` (at most 0)
    /// or `min(x)` (at least 0) of the same `x`, with the reduced axes kept
    /// so every element meets its own row's extreme. `None` otherwise.
    fn shift_by_extreme(&self, x: NodeId, m: NodeId) -> Option<Iv> {
        let node = self.program.node(m);
        let Op::Call(builtin @ (Builtin::Max | Builtin::Min), attrs) = &node.op else {
            return None;
        };
        if !attrs.keepdims || self.canon[node.args[0].index()] != self.canon[x.index()] {
            return None;
        }
        Some(if *builtin == Builtin::Max {
            Iv::new(f64::NEG_INFINITY, 0.0)
        } else {
            Iv::new(0.0, f64::INFINITY)
        })
    }

    /// Whether `e` is `exp(x - max(x, axes, keepdims=true))` with the axes
    /// of the sum `attrs`.
    fn exp_of_shift(&self, e: NodeId, attrs: &lossc_ir::Attrs) -> bool {
        let node = self.program.node(e);
        let Op::Call(Builtin::Exp, _) = node.op else {
            return false;
        };
        let shifted = self.program.node(node.args[0]);
        let Op::Call(Builtin::Sub, _) = shifted.op else {
            return false;
        };
        let m = self.program.node(shifted.args[1]);
        matches!(&m.op, Op::Call(Builtin::Max, a) if a.axes == attrs.axes)
            && self.shift_by_extreme(shifted.args[0], shifted.args[1]).is_some()
    }

    /// Whether `a - b` is never negative in floats because `b` is an
    /// addition of reductions each matched to a reduction in `a`'s addition
    /// of the same kind (`sum` or `mean`), over the same axes of operands of
    /// the same shape, whose operand is at least its operand at every
    /// element ([`crate::refine::dominates_elementwise`]), and `a`'s other
    /// terms are never negative: a Jaccard or Dice denominator `sum(t) +
    /// sum(p) - sum(t * p)` on `[0, 1]` data, whose sums the intervals alone
    /// see as independent. In floats: a sum (sequential or pairwise, the
    /// same order for both) of elements at least as large is at least as
    /// large, since each rounded addition is monotone; so is an addition of
    /// such sums with terms at or above 0 added.
    fn dominated_sums(&self, env: usize, a: NodeId, b: NodeId) -> bool {
        fn terms(program: &Program, n: NodeId, depth: usize, out: &mut Vec<NodeId>) -> bool {
            match program.node(n).op {
                Op::Call(Builtin::Add, _) if depth < 16 => {
                    let args = &program.node(n).args;
                    terms(program, args[0], depth + 1, out) && terms(program, args[1], depth + 1, out)
                }
                Op::Call(Builtin::Add, _) => false,
                _ => {
                    out.push(n);
                    true
                }
            }
        }
        let program = self.program;
        let reduction = |n: NodeId| match &program.node(n).op {
            Op::Call(b @ (Builtin::Sum | Builtin::Mean), attrs) => Some((*b, attrs, program.node(n).args[0])),
            _ => None,
        };
        let (mut larger, mut smaller) = (Vec::new(), Vec::new());
        if !terms(program, a, 0, &mut larger) || !terms(program, b, 0, &mut smaller) {
            return false;
        }
        if smaller.iter().any(|n| reduction(*n).is_none()) {
            return false;
        }
        let leaf = |n: NodeId| match program.node(n).op {
            Op::Param(k) => self.leaves.params[k],
            Op::Const(k) => self.leaves.consts[k],
            Op::DimSize(d) => self.leaves.dims[d.0 as usize],
            _ => Iv::ALL,
        };
        let input = |i: usize| {
            let range = self.leaves.inputs[i];
            match program.inputs[i].domain.element() {
                Domain::Set(values) => crate::refine::Pieces::Values(
                    values
                        .into_iter()
                        .filter(|v| range.lo <= *v && *v <= range.hi)
                        .collect(),
                ),
                _ => crate::refine::Pieces::Range(range),
            }
        };
        for y in smaller {
            let (kind, attrs, y_operand) = reduction(y).expect("checked above");
            let matched = larger.iter().position(|x| {
                reduction(*x).is_some_and(|(k, at, x_operand)| {
                    k == kind
                        && at == attrs
                        && program.node(x_operand).ty.shape == program.node(y_operand).ty.shape
                        && crate::refine::dominates_elementwise(
                            program, self.dtype, &leaf, &input, x_operand, y_operand,
                        )
                })
            });
            match matched {
                Some(k) => {
                    larger.swap_remove(k);
                }
                None => return false,
            }
        }
        larger
            .iter()
            .all(|n| self.lookup(env, *n).is_some_and(|iv| !iv.is_empty() && iv.lo >= 0.0))
    }

    /// Records the hazards of an elementwise operation on these operands.
    fn check(&mut self, node: NodeId, builtin: Builtin, args: &[Iv]) {
        let x = args.first().copied().unwrap_or(Iv::EMPTY);
        let y = args.get(1).copied().unwrap_or(Iv::EMPTY);
        let mut event = |hazard, operand| {
            self.events.push(Event { node, hazard, operand });
        };
        let finite = |iv: Iv| !iv.is_empty() && iv.lo.is_finite() && iv.hi.is_finite();
        // Where the table says the function is defined.
        if let Some(d) = builtin.spec().values.defined()
            && !x.is_empty()
            && !(d.value_finite_at(x.lo) && d.value_finite_at(x.hi))
        {
            event(Hazard::Domain(d.code), x);
            return;
        }
        match builtin {
            Builtin::Xlogy if !y.is_empty() && y.lo <= 0.0 && x.is_point() != Some(0.0) => {
                event(Hazard::Domain(Code::LogDomain), y)
            }
            Builtin::Div if !y.is_empty() && y.contains(0.0) => event(Hazard::DivByZero, y),
            Builtin::Pow => {
                let exponent_integer = y.is_point().is_some_and(|c| c.fract() == 0.0);
                let negative_base = !x.is_empty() && x.lo < 0.0 && !exponent_integer;
                let zero_to_negative = x.contains(0.0) && !y.is_empty() && y.lo < 0.0;
                if negative_base || zero_to_negative {
                    event(Hazard::PowDomain, x);
                } else if finite(x) && finite(y) {
                    let out = interval::pow(self.dtype, x, y);
                    if out.may_be_infinite() {
                        let hazard = if y.is_point().is_some() {
                            Hazard::Overflow
                        } else {
                            Hazard::ExpOverflow
                        };
                        event(hazard, out);
                    }
                }
            }
            // A function of the table that is infinite at a finite argument
            // inside where it is defined overflows there.
            _ if builtin.spec().values.facts().is_some() && finite(x) => {
                let out = interval::elementwise(self.dtype, builtin, &[x]).unwrap_or(Iv::ALL);
                if out.may_be_infinite() {
                    event(Hazard::ExpOverflow, x);
                }
            }
            Builtin::Add | Builtin::Sub | Builtin::Mul | Builtin::Div | Builtin::Square | Builtin::Neg
                if args.iter().all(|a| finite(*a)) =>
            {
                if builtin == Builtin::Div && y.contains(0.0) {
                    return;
                }
                let out = interval::elementwise(self.dtype, builtin, args).unwrap_or(Iv::ALL);
                if out.may_be_infinite() {
                    event(Hazard::Overflow, out);
                }
            }
            Builtin::Mul | Builtin::Add | Builtin::Sub => {
                let out = interval::elementwise(self.dtype, builtin, args).unwrap_or(Iv::ALL);
                let operands_nan = args.iter().any(|a| a.nan);
                if out.nan && !operands_nan {
                    event(Hazard::Indeterminate, out);
                }
            }
            Builtin::Neg
            | Builtin::Div
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
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
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
            | Builtin::ExpandDims => {}
        }
    }

    /// The environment of `env` plus what `cond` being `truth` says.
    fn refine(&mut self, env: usize, cond: NodeId, truth: bool) -> usize {
        let mut constraints = self.envs[env].clone();
        self.constrain(env, cond, truth, &mut constraints);
        constraints.sort_by_key(|a| a.0);
        constraints.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 = b.1.meet(a.1);
                true
            } else {
                false
            }
        });
        match self.try_env(constraints) {
            Some(refined) => refined,
            None => {
                self.coarsened = true;
                env
            }
        }
    }

    fn constrain(&self, env: usize, cond: NodeId, truth: bool, out: &mut Constraints) {
        let node = self.program.node(cond);
        let Op::Call(builtin, _) = node.op else { return };
        let value = |n: NodeId| self.lookup(env, n);
        match (builtin, truth) {
            (Builtin::Not, _) => self.constrain(env, node.args[0], !truth, out),
            // A condition broadcast to another shape says the same of its elements.
            (Builtin::ExpandDims | Builtin::BroadcastLike, _) => self.constrain(env, node.args[0], truth, out),
            (Builtin::And, true) | (Builtin::Or, false) => {
                self.constrain(env, node.args[0], truth, out);
                self.constrain(env, node.args[1], truth, out);
            }
            (Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge | Builtin::Eq, _) => {
                let (l, r) = (node.args[0], node.args[1]);
                let op = if truth { Some(builtin) } else { negate(builtin) };
                let Some(op) = op else { return };
                // A comparison with NaN is false: only a true one excludes NaN.
                let nan = !truth;
                if let Some(c) = value(r).and_then(Iv::is_point) {
                    self.bound(env, l, op, c, nan, out);
                }
                if let Some(c) = value(l).and_then(Iv::is_point) {
                    self.bound(env, r, flip(op), c, nan, out);
                }
            }
            (Builtin::And, false)
            | (Builtin::Or, true)
            | (
                Builtin::Neg
                | Builtin::Add
                | Builtin::Sub
                | Builtin::Mul
                | Builtin::Div
                | Builtin::Pow
                | Builtin::Ne
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
                | Builtin::Maximum
                | Builtin::Minimum
                | Builtin::Xlogy
                | Builtin::Clip
                | Builtin::Where
                | Builtin::Sum
                | Builtin::Mean
                | Builtin::Max
                | Builtin::Min
                | Builtin::Logsumexp
                | Builtin::Norm
                | Builtin::Softmax
                | Builtin::LogSoftmax
                | Builtin::Take
                | Builtin::OneHot,
                _,
            ) => {}
        }
    }

    /// Records `node op c` (as `node < c` etc.), and what it says of the
    /// operand of a negation, an absolute value, or a shift by a constant.
    fn bound(&self, env: usize, node: NodeId, op: Builtin, c: f64, nan: bool, out: &mut Constraints) {
        let d = self.dtype;
        let iv = match op {
            Builtin::Lt => Iv::new(f64::NEG_INFINITY, d.next_down(c)),
            Builtin::Le => Iv::new(f64::NEG_INFINITY, c),
            Builtin::Gt => Iv::new(d.next_up(c), f64::INFINITY),
            Builtin::Ge => Iv::new(c, f64::INFINITY),
            Builtin::Eq => Iv::point(c),
            Builtin::Neg
            | Builtin::Add
            | Builtin::Sub
            | Builtin::Mul
            | Builtin::Div
            | Builtin::Pow
            | Builtin::Ne
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
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
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
            | Builtin::ExpandDims => return,
        };
        let iv = Iv { nan, ..iv };
        out.push((node, iv));
        let n = self.program.node(node);
        let value = |k: usize| self.lookup(env, n.args[k]).and_then(Iv::is_point);
        match &n.op {
            Op::Call(Builtin::Neg, _) => self.bound(env, n.args[0], flip(op), -c, nan, out),
            Op::Call(Builtin::Abs, _) if matches!(op, Builtin::Lt | Builtin::Le) => {
                out.push((
                    n.args[0],
                    Iv {
                        nan,
                        ..Iv::new(-iv.hi, iv.hi)
                    },
                ));
            }
            // x + k op c  →  x op c - k (bounds widened by the rounding of the shift).
            Op::Call(Builtin::Add, _) => {
                if let Some(k) = value(1) {
                    self.shifted(env, n.args[0], op, c, k, nan, out);
                } else if let Some(k) = value(0) {
                    self.shifted(env, n.args[1], op, c, k, nan, out);
                }
            }
            Op::Call(Builtin::Sub, _) => {
                if let Some(k) = value(1) {
                    self.shifted(env, n.args[0], op, c, -k, nan, out);
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)] // A comparison, its constant and its shift.
    fn shifted(&self, env: usize, node: NodeId, op: Builtin, c: f64, k: f64, nan: bool, out: &mut Constraints) {
        // Conservative: x + k > c only tells x > c - k up to rounding.
        let d = self.dtype;
        let target = c - k;
        let (loose, weak) = match op {
            Builtin::Lt | Builtin::Le => (d.next_up(d.next_up(target)), Builtin::Le),
            Builtin::Gt | Builtin::Ge => (d.next_down(d.next_down(target)), Builtin::Ge),
            Builtin::Neg
            | Builtin::Add
            | Builtin::Sub
            | Builtin::Mul
            | Builtin::Div
            | Builtin::Pow
            | Builtin::Eq
            | Builtin::Ne
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
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
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
            | Builtin::ExpandDims => return,
        };
        self.bound(env, node, weak, loose, nan, out);
    }
}

fn negate(op: Builtin) -> Option<Builtin> {
    Some(match op {
        Builtin::Lt => Builtin::Ge,
        Builtin::Le => Builtin::Gt,
        Builtin::Gt => Builtin::Le,
        Builtin::Ge => Builtin::Lt,
        // `not (x == c)` says nothing an interval can hold.
        Builtin::Neg
        | Builtin::Add
        | Builtin::Sub
        | Builtin::Mul
        | Builtin::Div
        | Builtin::Pow
        | Builtin::Eq
        | Builtin::Ne
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
        | Builtin::Maximum
        | Builtin::Minimum
        | Builtin::Xlogy
        | Builtin::Clip
        | Builtin::Where
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
        | Builtin::ExpandDims => return None,
    })
}

fn flip(op: Builtin) -> Builtin {
    match op {
        Builtin::Lt => Builtin::Gt,
        Builtin::Le => Builtin::Ge,
        Builtin::Gt => Builtin::Lt,
        Builtin::Ge => Builtin::Le,
        Builtin::Neg
        | Builtin::Add
        | Builtin::Sub
        | Builtin::Mul
        | Builtin::Div
        | Builtin::Pow
        | Builtin::Eq
        | Builtin::Ne
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
        | Builtin::Maximum
        | Builtin::Minimum
        | Builtin::Xlogy
        | Builtin::Clip
        | Builtin::Where
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
        | Builtin::ExpandDims => op,
    }
}

fn count_along(program: &Program, node: NodeId, attrs: &lossc_ir::Attrs, leaves: &Leaves) -> f64 {
    let shape = &program.node(program.node(node).args[0]).ty.shape;
    attrs.axes.as_ref().map_or(1.0, |axes| {
        axes.iter()
            .map(|&k| match shape[k] {
                Dim::Fixed(s) => s as f64,
                Dim::Named(d) => leaves.dims[d.0 as usize].hi,
            })
            .product()
    })
}

trait WithNan {
    fn with_nan_of(self, nan: bool) -> Iv;
}

impl WithNan for Iv {
    fn with_nan_of(self, nan: bool) -> Iv {
        Iv {
            nan: self.nan || nan,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use lossc_ir::Var;
    use lossc_symbolic::grad::{Style, gradient_in_style};

    use super::*;

    fn program(source: &str) -> Program {
        let ast = lossc_syntax::parse(source).unwrap_or_else(|e| panic!("{source}\n{e:#?}"));
        lossc_ir::lower(&ast, source)
            .unwrap_or_else(|e| panic!("{source}\n{e:#?}"))
            .0
    }

    /// `depth` lines of `let a{i} = where(a{i-1} > 0, a{i-1} * a{i-1}, -a{i-1})`
    /// and the loss's gradients in both styles.
    fn chain_with_gradients(depth: usize) -> (Program, Vec<NodeId>) {
        let mut source = String::from("input y_pred: real [N]\nlet a0 = y_pred\n");
        for i in 1..=depth {
            let a = format!("a{}", i - 1);
            source.push_str(&format!("let a{i} = where({a} > 0, {a} * {a}, -{a})\n"));
        }
        source.push_str(&format!("loss l = mean(a{depth})\n"));
        let mut p = program(&source);
        let root = p.results[0].root;
        let g = gradient_in_style(&mut p, root, Var::Input(0), Style::Lossc).unwrap();
        let fw = gradient_in_style(&mut p, root, Var::Input(0), Style::Framework).unwrap();
        (p, vec![root, g, fw])
    }

    fn analyse(p: &Program, roots: &[NodeId]) -> (usize, usize, bool, Vec<Iv>) {
        let inputs = vec![Iv::new(-10.0, 10.0)];
        let mut a = Analysis::new(p, Dtype::F32, Leaves::new(p, Dtype::F32, inputs));
        let values = roots.iter().map(|r| a.value(*r)).collect();
        (a.envs.len(), a.memo.len(), a.coarsened, values)
    }

    #[test]
    fn nested_selections_cost_bounded_work() {
        // Each `where` doubled the environments below it (2^40 for 40 lines);
        // now they are capped, and a node is evaluated once per environment
        // that constrains something it reads.
        for depth in [12, 40, 100] {
            let (p, roots) = chain_with_gradients(depth);
            let (envs, evaluations, _, _) = analyse(&p, &roots);
            assert!(envs <= MAX_ENVS, "depth {depth}: {envs} environments");
            assert!(
                evaluations <= MAX_EVALUATIONS + MAX_ENVS * p.nodes.len(),
                "depth {depth}: {evaluations} evaluations"
            );
        }
    }

    #[test]
    fn a_coarsened_analysis_says_so_and_stays_sound() {
        let (p, roots) = chain_with_gradients(40);
        let (_, _, coarsened, values) = analyse(&p, &roots);
        assert!(coarsened, "40 nested selections exceed the environment budget");
        // The loss is never negative and overflows for large inputs: the
        // coarse result must still contain both.
        assert!(values[0].lo >= 0.0 || values[0].contains(0.0), "{:?}", values[0]);
        assert!(values[0].hi == f64::INFINITY, "{:?}", values[0]);
        // A shallow chain stays exact: no coarsening.
        let (p, roots) = chain_with_gradients(3);
        assert!(!analyse(&p, &roots).2);
    }
}
