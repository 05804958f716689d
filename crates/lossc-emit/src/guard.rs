//! NaN safety under framework autodiff: the "double where".
//!
//! lossc's gradient passes nothing to the argument a selection does not
//! select (docs/language.md), so `where(s > 0, sqrt(s), 0)` has gradient 0 at
//! `s = 0`. JAX, PyTorch and TensorFlow multiply the unselected branch's
//! derivative by 0 instead, and `0 * inf` is NaN. This pass rewrites a
//! program so that framework autodiff of it is as NaN-free as lossc's own
//! gradient, without changing its value anywhere.
//!
//! How. Every node gets a *need*: the condition under which its value
//! reaches the loss, as a disjunction of conjunctions of selection
//! conditions (`where`'s condition for its first branch, `a >= b` for the
//! first argument of `maximum`, ...), carried down through elementwise
//! operations and reductions in each operand's own shape. An operation that
//! can be non-finite (the `guard` column of the built-in table: `log`'s
//! argument, a denominator, ...) whose need is not "always" gets that
//! operand replaced by a safe value where the need is false:
//! `sqrt(where(s > 0, s, 1))`. Where the need is false the operation's value
//! is never used, and now its derivative is finite, so `0 * finite = 0`.
//!
//! A selection whose selected argument changed (its guarded value differs
//! from the original where it is not selected) is rebuilt so that it still
//! selects the original value: `maximum(where(a >= b, a', b), b)`,
//! `relu(where(a > 0, a', 0))`, `max(where(a == max(a), a', -inf))`, keeping
//! lossc's half-and-half gradient at ties.
//!
//! Conditions are computed from the original (unguarded) values; they have
//! no derivative. A need that cannot be carried into an operand's shape (an
//! operand broadcast against a condition over more axes, `expand_dims`) is
//! weakened to "always" there: the value stays right, only that guard is not
//! made (lossc's own gradient is then not finite there either).

use std::collections::{BTreeSet, HashMap};

use lossc_ir::{Attrs, Builtin, Dim, NodeId, Op, Program, Shape, Signature, Span, Var, broadcast};

/// What the pass did.
#[derive(Debug, Clone)]
pub struct Guarded {
    /// The new root of the loss.
    pub root: NodeId,
    /// Each node of the loss's cone (original id) and its rebuilt node; the
    /// two are equal where nothing below changed.
    pub rebuilt: HashMap<NodeId, NodeId>,
    /// The selections (original ids) whose branches got a guard.
    pub selections: BTreeSet<NodeId>,
    /// The `where` nodes that replace an operand by its safe value.
    pub guards: BTreeSet<NodeId>,
}

/// Rewrites the loss `root` of `program` (appending nodes) so that framework
/// autodiff with respect to `vars` gives no NaN from unselected branches.
pub fn guard(program: &mut Program, root: NodeId, vars: &[Var]) -> Guarded {
    let count = root.index() + 1;
    let facts = Facts::new(program, root, vars);
    let mut pass = Pass {
        program,
        facts,
        made: HashMap::new(),
        origin: HashMap::new(),
    };
    // Needs, from the root down.
    let mut need = vec![Need::Never; count];
    need[root.index()] = Need::Always;
    for i in (0..count).rev() {
        if !pass.facts.cone[i] {
            continue;
        }
        let node_need = std::mem::replace(&mut need[i], Need::Never);
        let node = pass.program.nodes[i].clone();
        if let Op::Call(builtin, _) = &node.op {
            for (k, &arg) in node.args.iter().enumerate() {
                // Conditions read the original values: no need flows into them.
                if !carries_value(*builtin, &node, k) {
                    continue;
                }
                let contribution = pass.edge_need(NodeId(i as u32), k, &node_need);
                let merged = std::mem::replace(&mut need[arg.index()], Need::Never).or(contribution);
                need[arg.index()] = merged;
            }
        }
        need[i] = node_need;
    }
    let dead_sides = if guards_dead_sides() {
        dead_sides(pass.program, &pass.facts, root)
    } else {
        vec![None; count]
    };
    // Rebuild, from the leaves up.
    let mut new_id: Vec<NodeId> = (0..count as u32).map(NodeId).collect();
    let mut selections = BTreeSet::new();
    let mut guards = BTreeSet::new();
    for i in 0..count {
        if !pass.facts.cone[i] {
            continue;
        }
        let id = NodeId(i as u32);
        let node = pass.program.nodes[i].clone();
        let Op::Call(builtin, attrs) = &node.op else { continue };
        let mut args: Vec<NodeId> = node
            .args
            .iter()
            .enumerate()
            .map(|(k, a)| {
                if carries_value(*builtin, &node, k) {
                    new_id[a.index()]
                } else {
                    *a
                }
            })
            .collect();
        if pass.facts.hazard_matters[i] {
            for &(k, safe) in builtin.spec().emit.guard {
                let operand = node.args[k];
                if !pass.facts.reads_input[operand.index()] {
                    continue;
                }
                // An elementwise operation takes its own need: the guarded
                // operand may broadcast up to the result's shape (a scalar
                // param guarded by a per-sample condition).
                let operand_need = if builtin.spec().signature == Signature::Elementwise {
                    need[i].clone()
                } else {
                    pass.edge_need(id, k, &need[i])
                };
                let Need::When(conjunctions) = operand_need else {
                    continue;
                };
                let (condition, origins) = pass.condition(&conjunctions, node.span);
                let safe = pass.literal(safe, node.span);
                let guarded = pass.call(
                    Builtin::Where,
                    Attrs::default(),
                    vec![condition, args[k], safe],
                    node.span,
                );
                args[k] = guarded;
                guards.insert(guarded);
                selections.extend(origins);
            }
        }
        let changed = |k: usize| args[k] != node.args[k];
        let span = node.span;
        let rebuilt = match builtin {
            Builtin::Maximum | Builtin::Minimum if changed(0) || changed(1) => {
                let (mut x, mut y) = (args[0], args[1]);
                if changed(0) {
                    let c = pass.selected(id, 0);
                    x = pass.call(Builtin::Where, Attrs::default(), vec![c, args[0], args[1]], span);
                }
                if changed(1) {
                    let c = pass.selected(id, 1);
                    y = pass.call(Builtin::Where, Attrs::default(), vec![c, args[1], args[0]], span);
                }
                Some(pass.call(*builtin, Attrs::default(), vec![x, y], span))
            }
            Builtin::Clip if changed(0) => {
                let (v, lo) = (node.args[0], node.args[1]);
                let inside = pass.selected(id, 0);
                let low = pass.call(Builtin::Lt, Attrs::default(), vec![v, lo], span);
                let bound = pass.call(Builtin::Where, Attrs::default(), vec![low, args[1], args[2]], span);
                let x = pass.call(Builtin::Where, Attrs::default(), vec![inside, args[0], bound], span);
                Some(pass.call(Builtin::Clip, Attrs::default(), vec![x, args[1], args[2]], span))
            }
            // A kink of the table (`relu`, `abs`): the kink itself where
            // the argument is not selected.
            _ if changed(0) && builtin.kink_selection().is_some() => {
                let (_, at) = builtin.kink_selection().expect("a kink");
                let kink = pass.literal(at, span);
                let c = pass.selected(id, 0);
                let x = pass.call(Builtin::Where, Attrs::default(), vec![c, args[0], kink], span);
                Some(pass.call(*builtin, Attrs::default(), vec![x], span))
            }
            Builtin::Max | Builtin::Min if changed(0) => {
                let c = pass.selected(id, 0);
                let far = if *builtin == Builtin::Max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                let far = pass.literal(far, span);
                let x = pass.call(Builtin::Where, Attrs::default(), vec![c, args[0], far], span);
                Some(pass.call(*builtin, attrs.clone(), vec![x], span))
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
        new_id[i] = match rebuilt {
            Some(n) => n,
            None if args == node.args => id,
            None => pass.call(*builtin, attrs.clone(), args, span),
        };
        // Where the constant side wins, select it with a `where`: JAX's
        // `maximum` and `clip` and TensorFlow's `relu` multiply the adjoint by
        // a 0/1 mask, and an infinite adjoint from above
        // (`sqrt(maximum(x, 0))` at x < 0) makes 0 * inf = NaN; `where` selects.
        if let Some(dead) = dead_sides[i].clone() {
            let mut result = new_id[i];
            for (test, side) in dead.into_iter().rev() {
                let (side, value) = match side {
                    Some(side) => (side, new_id[side.index()]),
                    None => {
                        let zero = pass.literal(0.0, span);
                        (zero, zero)
                    }
                };
                let loses = pass.call(test, Attrs::default(), vec![node.args[0], side], span);
                result = pass.call(Builtin::Where, Attrs::default(), vec![loses, value, result], span);
            }
            new_id[i] = result;
            selections.insert(id);
        }
    }
    let rebuilt = (0..count)
        .filter(|&i| pass.facts.cone[i])
        .map(|i| (NodeId(i as u32), new_id[i]))
        .collect();
    Guarded {
        root: new_id[root.index()],
        rebuilt,
        selections,
        guards,
    }
}

/// Always on; a function so the reason reads at the call site.
fn guards_dead_sides() -> bool {
    true
}

/// For each `maximum`, `minimum`, `clip` and `relu` whose first argument is
/// active and whose other arguments are not (so where one of those wins, the
/// result does not depend on the variables), and each `abs` of an active
/// argument, whose result reaches an operation that can have an infinite
/// derivative at that winning value (`abs`: its 0 at the kink): the tests
/// that make each constant side win (`a < b` for `maximum(a, b)`, `x == 0`
/// for `abs(x)`), with the side (`None`: the 0 of `relu` and `abs`).
#[allow(clippy::type_complexity)] // (comparison, side) pairs, per node.
fn dead_sides(program: &Program, facts: &Facts, root: NodeId) -> Vec<Option<Vec<(Builtin, Option<NodeId>)>>> {
    let count = root.index() + 1;
    let mut users: Vec<Vec<NodeId>> = vec![Vec::new(); count];
    for i in 0..count {
        if facts.cone[i] {
            for a in &program.nodes[i].args {
                users[a.index()].push(NodeId(i as u32));
            }
        }
    }
    let mut out = vec![None; count];
    for (i, node) in program.nodes.iter().enumerate().take(count) {
        let Op::Call(builtin, _) = node.op else { continue };
        let sides: Vec<(Builtin, Option<NodeId>)> = match builtin {
            Builtin::Maximum => vec![(Builtin::Lt, Some(node.args[1]))],
            Builtin::Minimum => vec![(Builtin::Gt, Some(node.args[1]))],
            Builtin::Clip => vec![(Builtin::Lt, Some(node.args[1])), (Builtin::Gt, Some(node.args[2]))],
            // A kink of the table: where its guard fails (`relu`: x <= 0).
            // For `abs`, PyTorch and TensorFlow multiply the adjoint by
            // `sign(x)`, 0 at the kink: `sqrt(abs(x))` at x = 0 is
            // inf * 0 = NaN (JAX's slope 1 makes it inf). Selecting 0 there
            // with `where` gives 0.
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
            | Builtin::ExpandDims => match builtin.kink_selection().and_then(|(test, _)| test.complement()) {
                Some(fails) => vec![(fails, None)],
                None => continue,
            },
        };
        let active = |id: NodeId| facts.active[id.index()];
        if !facts.cone[i] || !active(node.args[0]) || sides.iter().any(|(_, side)| side.is_some_and(active)) {
            continue;
        }
        let unsafe_above = sides.iter().any(|(_, side)| {
            let value = side.map_or(Some(0.0), |side| constant_value(program, side));
            reaches_infinite_derivative(program, &users, NodeId(i as u32), value)
        });
        if unsafe_above {
            out[i] = Some(sides);
        }
    }
    out
}

/// The value of a node made of literals and consts only.
fn constant_value(program: &Program, id: NodeId) -> Option<f64> {
    let node = program.node(id);
    match &node.op {
        Op::Literal(v) => Some(*v),
        Op::Const(k) => match program.consts[*k].value {
            lossc_ir::Value::Scalar(v) => Some(v),
            lossc_ir::Value::Vector(_) => None,
        },
        Op::Call(builtin, _) => {
            let args: Option<Vec<f64>> = node.args.iter().map(|a| constant_value(program, *a)).collect();
            lossc_ir::builtins::eval_scalar(*builtin, &args?)
        }
        _ => None,
    }
}

/// Whether `start`'s value, `value` (unknown if `None`), can reach an
/// operand of the `guard` column where that operation's derivative is not
/// finite, through the operations above it.
fn reaches_infinite_derivative(program: &Program, users: &[Vec<NodeId>], start: NodeId, value: Option<f64>) -> bool {
    let mut stack = vec![(start, value)];
    let mut seen = std::collections::HashSet::new();
    while let Some((id, value)) = stack.pop() {
        if !seen.insert((id, value.map(f64::to_bits))) || seen.len() > 10_000 {
            continue;
        }
        for &user in &users[id.index()] {
            let node = program.node(user);
            let Op::Call(builtin, _) = node.op else { continue };
            if node.ty.kind != lossc_ir::Kind::Num || (builtin == Builtin::Where && node.args[0] == id) {
                continue;
            }
            for &(k, _) in builtin.spec().emit.guard {
                let finite = |v: f64| {
                    finite_derivative(builtin, k, v)
                        || (builtin == Builtin::Pow
                            && k == 0
                            && v == 0.0
                            && constant_value(program, node.args[1]).is_some_and(|c| c == 0.0 || c >= 1.0))
                };
                if node.args[k] == id && !value.is_some_and(finite) {
                    return true;
                }
            }
            // A branch of a `where` passes its value on where it is selected
            // (where it is not, `where` gives it no adjoint at all).
            if builtin == Builtin::Where {
                stack.push((user, value));
                continue;
            }
            // The user's value, if everything else it reads is constant.
            let args: Option<Vec<f64>> = node
                .args
                .iter()
                .map(|a| if *a == id { value } else { constant_value(program, *a) })
                .collect();
            let next = args.and_then(|a| lossc_ir::builtins::eval_scalar(builtin, &a));
            stack.push((user, next.filter(|v| v.is_finite())));
        }
    }
    false
}

/// Whether the derivative of `builtin` with respect to its argument `k` is
/// finite where that argument is `v` (for the operations of the `guard`
/// column): by the table's derivative rule evaluated there (the other
/// arguments 1), or, for `pow`'s own rule, where the base is positive and
/// the exponent moderate.
fn finite_derivative(builtin: Builtin, k: usize, v: f64) -> bool {
    let mut args = vec![1.0; builtin.spec().params.len()];
    args[k] = v;
    match builtin.finite_slope_at(k, &args) {
        Some(finite) => finite,
        None if builtin == Builtin::Pow => (k == 0 && v > 0.0) || (k == 1 && v.abs() < 80.0),
        None => false,
    }
}

/// A literal of a condition: a boolean node, or its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Lit {
    node: NodeId,
    negated: bool,
}

impl Lit {
    fn not(self) -> Lit {
        Lit {
            node: self.node,
            negated: !self.negated,
        }
    }
}

/// A conjunction of literals, sorted, without repeats.
type Conjunction = Vec<Lit>;

/// When a node's value reaches the loss.
#[derive(Debug, Clone, PartialEq)]
enum Need {
    /// Not (yet) known to be used.
    Never,
    /// Where any of these conjunctions holds.
    When(Vec<Conjunction>),
    Always,
}

/// More conjunctions than this and a need is taken as "always".
const MAX_CONJUNCTIONS: usize = 8;

impl Need {
    fn or(self, other: Need) -> Need {
        match (self, other) {
            (Need::Always, _) | (_, Need::Always) => Need::Always,
            (Need::Never, x) | (x, Need::Never) => x,
            (Need::When(mut a), Need::When(b)) => {
                a.extend(b);
                Need::from_conjunctions(a)
            }
        }
    }

    /// Simplifies: drops contradictions, absorbs supersets, merges
    /// `X and l` with `X and not l`; an empty conjunction is "always".
    fn from_conjunctions(conjunctions: Vec<Conjunction>) -> Need {
        let mut set: Vec<Conjunction> = conjunctions
            .into_iter()
            .map(|mut c| {
                c.sort();
                c.dedup();
                c
            })
            .filter(|c| !c.iter().any(|l| c.contains(&l.not())))
            .collect();
        loop {
            if set.iter().any(Vec::is_empty) {
                return Need::Always;
            }
            set.sort();
            set.dedup();
            let mut changed = false;
            // Absorption: A or (A and B) = A.
            let snapshot = set.clone();
            set.retain(|c| !snapshot.iter().any(|d| d != c && d.iter().all(|l| c.contains(l))));
            changed |= set.len() != snapshot.len();
            // Resolution: (X and l) or (Y and not l) = (X and l) or Y when X is
            // part of Y (so `a or (not a and b)` = `a or b`).
            'outer: for i in 0..set.len() {
                for j in 0..set.len() {
                    if i == j {
                        continue;
                    }
                    for &l in &set[i] {
                        if set[j].contains(&l.not())
                            && set[i].iter().all(|m| *m == l || (set[j].contains(m) && *m != l.not()))
                        {
                            let reduced: Conjunction = set[j].iter().copied().filter(|m| *m != l.not()).collect();
                            set[j] = reduced;
                            changed = true;
                            break 'outer;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if set.len() > MAX_CONJUNCTIONS {
            Need::Always
        } else if set.is_empty() {
            Need::Never
        } else {
            Need::When(set)
        }
    }
}

/// What the pass knows of each node up to the root before changing anything.
struct Facts {
    /// Reachable from the root.
    cone: Vec<bool>,
    /// Depends on an input's data or a param (values known only when the
    /// code runs; literals, consts and sizes are checked statically).
    reads_input: Vec<bool>,
    /// Depends on a `wrt` variable through operations with a derivative.
    active: Vec<bool>,
    /// The gradient flows through this node: a guard here can matter.
    hazard_matters: Vec<bool>,
}

impl Facts {
    fn new(program: &Program, root: NodeId, vars: &[Var]) -> Facts {
        let count = root.index() + 1;
        let nodes = &program.nodes[..count];
        let mut cone = vec![false; count];
        cone[root.index()] = true;
        for i in (0..count).rev() {
            if cone[i] {
                for arg in &nodes[i].args {
                    cone[arg.index()] = true;
                }
            }
        }
        let mut reads_input = vec![false; count];
        let mut active = vec![false; count];
        for (i, node) in nodes.iter().enumerate() {
            reads_input[i] =
                matches!(node.op, Op::Input(_) | Op::Param(_)) || node.args.iter().any(|a| reads_input[a.index()]);
            active[i] = match &node.op {
                Op::Input(k) => vars.contains(&Var::Input(*k)),
                Op::Param(k) => vars.contains(&Var::Param(*k)),
                Op::Call(builtin, _) => node
                    .args
                    .iter()
                    .enumerate()
                    .any(|(k, a)| passes_gradient(*builtin, k) && active[a.index()]),
                _ => false,
            };
        }
        // The gradient reaches a node from the root through derivative-carrying edges.
        let mut on_gradient_path = vec![false; count];
        on_gradient_path[root.index()] = true;
        let mut feeds_active = vec![false; count];
        for i in (0..count).rev() {
            if !on_gradient_path[i] {
                continue;
            }
            if let Op::Call(builtin, _) = &nodes[i].op {
                for (k, arg) in nodes[i].args.iter().enumerate() {
                    if passes_gradient(*builtin, k) {
                        on_gradient_path[arg.index()] = true;
                        feeds_active[arg.index()] |= active[i];
                    }
                }
            }
        }
        let hazard_matters = (0..count)
            .map(|i| cone[i] && on_gradient_path[i] && (active[i] || feeds_active[i]))
            .collect();
        Facts {
            cone,
            reads_input,
            active,
            hazard_matters,
        }
    }
}

/// Whether argument `k` of `node` passes its value into a number the loss
/// computes with (and so is rebuilt), rather than into a condition: a
/// condition is evaluated on the original, unguarded values.
fn carries_value(builtin: Builtin, node: &lossc_ir::Node, k: usize) -> bool {
    node.ty.kind == lossc_ir::Kind::Num && !(builtin == Builtin::Where && k == 0) && builtin != Builtin::Float
}

/// Whether argument `k` of `builtin` can receive a derivative: the table's
/// `has_derivative`, less `where`'s condition and `broadcast_like`'s shape
/// operand.
fn passes_gradient(builtin: Builtin, k: usize) -> bool {
    match builtin {
        Builtin::Where => k > 0,
        Builtin::BroadcastLike => k == 0,
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
        | Builtin::ExpandDims => builtin.has_derivative(),
    }
}

/// A key for nodes the pass makes, so equal ones are made once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Literal(u64),
    Call(Builtin, Attrs, Vec<NodeId>),
}

struct Pass<'p> {
    program: &'p mut Program,
    facts: Facts,
    made: HashMap<Key, NodeId>,
    /// The selection each condition literal comes from.
    origin: HashMap<NodeId, BTreeSet<NodeId>>,
}

impl Pass<'_> {
    fn shape(&self, id: NodeId) -> Shape {
        self.program.node(id).ty.shape.clone()
    }

    fn literal(&mut self, value: f64, span: Span) -> NodeId {
        let key = Key::Literal(value.to_bits());
        if let Some(&id) = self.made.get(&key) {
            return id;
        }
        let id = self.program.add(Op::Literal(value), Vec::new(), span);
        self.made.insert(key, id);
        id
    }

    fn call(&mut self, builtin: Builtin, attrs: Attrs, args: Vec<NodeId>, span: Span) -> NodeId {
        let key = Key::Call(builtin, attrs.clone(), args.clone());
        if let Some(&id) = self.made.get(&key) {
            return id;
        }
        let id = self.program.add(Op::Call(builtin, attrs), args, span);
        self.made.insert(key, id);
        id
    }

    /// A condition literal made at `selection`.
    fn selection_lit(&mut self, node: NodeId, negated: bool, selection: NodeId) -> Lit {
        self.origin.entry(node).or_default().insert(selection);
        Lit { node, negated }
    }

    /// The need of argument `k` of node `id`, whose own need is `need`: the
    /// need carried into the argument's shape, and the selection's own
    /// condition if `id` selects.
    fn edge_need(&mut self, id: NodeId, k: usize, need: &Need) -> Need {
        let node = self.program.node(id).clone();
        if !matches!(node.op, Op::Call(..)) {
            return Need::Never;
        }
        let mut conjunctions = match need {
            Need::Never => return Need::Never,
            Need::Always => vec![Vec::new()],
            Need::When(conjunctions) => conjunctions.clone(),
        };
        let arg = node.args[k];
        for conjunction in &mut conjunctions {
            let carried: Vec<Lit> = conjunction.iter().filter_map(|l| self.carry(*l, id, k)).collect();
            *conjunction = carried;
        }
        if self.facts.active[arg.index()] {
            let own = self.selection(id, k);
            let own: Vec<Lit> = own
                .into_iter()
                .filter(|l| self.fits(l.node, &self.shape(arg)))
                .collect();
            for conjunction in &mut conjunctions {
                conjunction.extend(own.iter().copied());
            }
        }
        Need::from_conjunctions(conjunctions)
    }

    /// The condition literals under which node `id` selects its argument `k`,
    /// if it is a selection: in the shape of the node's result (or, for a
    /// reduction, of the argument).
    fn selection(&mut self, id: NodeId, k: usize) -> Vec<Lit> {
        let node = self.program.node(id).clone();
        let Op::Call(builtin, _) = node.op else {
            return Vec::new();
        };
        match builtin {
            Builtin::Where if k == 1 => vec![self.selection_lit(node.args[0], false, id)],
            Builtin::Where if k == 2 => vec![self.selection_lit(node.args[0], true, id)],
            Builtin::Clip if k == 0 => {
                // Two literals, so that each can be carried on its own.
                let span = node.span;
                let (v, lo, hi) = (node.args[0], node.args[1], node.args[2]);
                let below = self.call(Builtin::Lt, Attrs::default(), vec![v, lo], span);
                let above = self.call(Builtin::Gt, Attrs::default(), vec![v, hi], span);
                vec![self.selection_lit(below, true, id), self.selection_lit(above, true, id)]
            }
            Builtin::Maximum | Builtin::Minimum | Builtin::Max | Builtin::Min => {
                let c = self.selected(id, k);
                vec![self.selection_lit(c, false, id)]
            }
            _ if builtin.kink_selection().is_some() => {
                let c = self.selected(id, k);
                vec![self.selection_lit(c, false, id)]
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
            | Builtin::Clip
            | Builtin::Where
            | Builtin::Sum
            | Builtin::Mean
            | Builtin::Logsumexp
            | Builtin::Norm
            | Builtin::Softmax
            | Builtin::LogSoftmax
            | Builtin::Take
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims => Vec::new(),
        }
    }

    /// The boolean node that says where selection `id` selects its argument
    /// `k`, true where that argument is NaN (so a NaN still reaches the
    /// result, as in lossc): `not (a < b)` for the first argument of
    /// `maximum`, `not (v < lo) and not (v > hi)` for `clip`, `a != 0` for
    /// `abs`, `not (x < max(x))` for a `max` reduction.
    fn selected(&mut self, id: NodeId, k: usize) -> NodeId {
        let node = self.program.node(id).clone();
        let Op::Call(builtin, _) = node.op else {
            unreachable!("a selection is a call")
        };
        let span = node.span;
        let args = &node.args;
        let loses = |pass: &mut Self, test: Builtin, a: NodeId, b: NodeId| {
            let c = pass.call(test, Attrs::default(), vec![a, b], span);
            pass.call(Builtin::Not, Attrs::default(), vec![c], span)
        };
        match builtin {
            Builtin::Maximum => loses(self, Builtin::Lt, args[k], args[1 - k]),
            Builtin::Minimum => loses(self, Builtin::Gt, args[k], args[1 - k]),
            Builtin::Clip => {
                let low = loses(self, Builtin::Lt, args[0], args[1]);
                let high = loses(self, Builtin::Gt, args[0], args[2]);
                self.call(Builtin::And, Attrs::default(), vec![low, high], span)
            }
            // A kink of the table: its own guard, written so that it holds
            // where the argument is NaN (`not (x <= 0)` for `relu`, `x != 0`
            // for `abs`).
            _ if builtin.kink_selection().is_some() => {
                let (test, at) = builtin.kink_selection().expect("a kink");
                let kink = self.literal(at, span);
                match test {
                    Builtin::Ne => self.call(Builtin::Ne, Attrs::default(), vec![args[0], kink], span),
                    Builtin::Neg
                    | Builtin::Add
                    | Builtin::Sub
                    | Builtin::Mul
                    | Builtin::Div
                    | Builtin::Pow
                    | Builtin::Eq
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
                    | Builtin::ExpandDims => loses(self, test.complement().expect("a comparison"), args[0], kink),
                }
            }
            Builtin::Max | Builtin::Min => {
                let extreme = self.reduction_result(id);
                let test = if builtin == Builtin::Max {
                    Builtin::Lt
                } else {
                    Builtin::Gt
                };
                loses(self, test, args[0], extreme)
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
            | Builtin::Where
            | Builtin::Sum
            | Builtin::Mean
            | Builtin::Logsumexp
            | Builtin::Norm
            | Builtin::Softmax
            | Builtin::LogSoftmax
            | Builtin::Take
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims => unreachable!("not a selection: {builtin}"),
        }
    }

    /// The reduction's result, in the shape of its operand.
    fn reduction_result(&mut self, id: NodeId) -> NodeId {
        let node = self.program.node(id).clone();
        let Op::Call(_, attrs) = &node.op else {
            unreachable!("a reduction is a call")
        };
        let rank = self.shape(node.args[0]).len();
        if attrs.keepdims || node.ty.shape.is_empty() {
            id
        } else {
            let axes = attrs.axes.clone().unwrap_or_else(|| (0..rank).collect());
            self.expand(id, axes, node.span)
        }
    }

    fn expand(&mut self, id: NodeId, axes: Vec<usize>, span: Span) -> NodeId {
        let attrs = Attrs {
            axes: Some(axes),
            ..Attrs::default()
        };
        let expanded = self.call(Builtin::ExpandDims, attrs, vec![id], span);
        if let Some(origins) = self.origin.get(&id).cloned() {
            self.origin.entry(expanded).or_default().extend(origins);
        }
        expanded
    }

    /// Whether a condition of `node`'s shape can guard an operand of `shape`
    /// element by element.
    fn fits(&self, node: NodeId, shape: &Shape) -> bool {
        broadcast(&self.shape(node), shape).is_ok_and(|s| s == *shape)
    }

    /// A literal of node `id`'s result carried into the shape of its argument
    /// `k`, or `None` if it cannot be (the need is weakened there).
    fn carry(&mut self, lit: Lit, id: NodeId, k: usize) -> Option<Lit> {
        let node = self.program.node(id).clone();
        let Op::Call(builtin, attrs) = &node.op else {
            return None;
        };
        let arg = node.args[k];
        let target = self.shape(arg);
        let rank = node.ty.shape.len();
        let span = self.program.node(lit.node).span;
        let aligned = |pass: &mut Self, l: NodeId| {
            let have = pass.shape(l).len();
            if have == 0 || have >= rank {
                l
            } else {
                pass.expand(l, (0..rank - have).collect(), span)
            }
        };
        let carried = match builtin.spec().signature {
            Signature::Reduce(_) => {
                let l = aligned(self, lit.node);
                if attrs.keepdims || self.shape(l).is_empty() {
                    l
                } else {
                    let axes = attrs.axes.clone().unwrap_or_else(|| (0..target.len()).collect());
                    self.expand(l, axes, span)
                }
            }
            Signature::AlongAxis(_) => {
                let l = aligned(self, lit.node);
                let axis = attrs
                    .axes
                    .as_ref()
                    .and_then(|a| a.first().copied())
                    .unwrap_or(rank.saturating_sub(1));
                let shape = self.shape(l);
                if !shape.is_empty() && shape.get(axis).is_some_and(|d| *d != Dim::Fixed(1)) {
                    return None;
                }
                l
            }
            Signature::Take => {
                let l = aligned(self, lit.node);
                if self.shape(l).is_empty() {
                    l
                } else {
                    let axis = attrs
                        .axes
                        .as_ref()
                        .and_then(|a| a.first().copied())
                        .unwrap_or(target.len().saturating_sub(1));
                    self.expand(l, vec![axis], span)
                }
            }
            Signature::ExpandDims | Signature::OneHot => {
                if !self.shape(lit.node).is_empty() {
                    return None;
                }
                lit.node
            }
            Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float => {
                if *builtin == Builtin::BroadcastLike && k == 1 {
                    return None;
                }
                lit.node
            }
        };
        self.fits(carried, &target).then_some(Lit {
            node: carried,
            negated: lit.negated,
        })
    }

    /// The boolean node of a need, and the selections it comes from.
    fn condition(&mut self, conjunctions: &[Conjunction], span: Span) -> (NodeId, BTreeSet<NodeId>) {
        let mut origins = BTreeSet::new();
        let mut disjunction: Option<NodeId> = None;
        for conjunction in conjunctions {
            let mut all: Option<NodeId> = None;
            for lit in conjunction {
                origins.extend(self.origin.get(&lit.node).cloned().unwrap_or_default());
                let term = if lit.negated {
                    self.negate(lit.node, span)
                } else {
                    lit.node
                };
                all = Some(match all {
                    None => term,
                    Some(a) => self.call(Builtin::And, Attrs::default(), vec![a, term], span),
                });
            }
            let all = all.expect("a need's conjunctions are not empty");
            disjunction = Some(match disjunction {
                None => all,
                Some(d) => self.call(Builtin::Or, Attrs::default(), vec![d, all], span),
            });
        }
        (disjunction.expect("a need has a conjunction"), origins)
    }

    /// `not x`, written as `a != b` for `a == b` (and the reverse) and `x` for
    /// `not x`: equal for every value, NaN included.
    fn negate(&mut self, x: NodeId, span: Span) -> NodeId {
        let node = self.program.node(x).clone();
        match node.op {
            Op::Call(Builtin::Eq, _) => self.call(Builtin::Ne, Attrs::default(), node.args, span),
            Op::Call(Builtin::Ne, _) => self.call(Builtin::Eq, Attrs::default(), node.args, span),
            Op::Call(Builtin::Not, _) => node.args[0],
            _ => self.call(Builtin::Not, Attrs::default(), vec![x], span),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(n: u32, negated: bool) -> Lit {
        Lit {
            node: NodeId(n),
            negated,
        }
    }

    #[test]
    fn needs_simplify_to_always_when_every_case_is_covered() {
        let a = Need::When(vec![vec![lit(1, false)]]);
        let not_a = Need::When(vec![vec![lit(1, true)]]);
        assert_eq!(a.clone().or(not_a), Need::Always);
        assert_eq!(a.clone().or(Need::Never), a);
        let ab = Need::When(vec![vec![lit(1, false), lit(2, false)]]);
        assert_eq!(a.clone().or(ab), a, "absorption");
        let ab = Need::When(vec![vec![lit(1, false), lit(2, false)]]);
        let a_not_b = Need::When(vec![vec![lit(1, false), lit(2, true)]]);
        assert_eq!(ab.or(a_not_b), a, "resolution");
        let b = Need::When(vec![vec![lit(2, false)]]);
        let not_b_and_c = Need::When(vec![vec![lit(2, true), lit(3, false)]]);
        assert_eq!(
            b.or(not_b_and_c),
            Need::When(vec![vec![lit(2, false)], vec![lit(3, false)]]),
            "b or (not b and c) = b or c"
        );
        assert_eq!(
            Need::from_conjunctions(vec![vec![lit(1, false), lit(1, true)]]),
            Need::Never,
            "a contradiction never holds"
        );
    }
}
