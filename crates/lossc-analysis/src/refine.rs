//! Refuting a hazard the intervals only suspect, by subdividing the value
//! the operand depends on.
//!
//! Intervals forget that two subterms move together:
//! `log((exp(e) + exp(-e)) / 2)` reads `e` twice, and over `e` in
//! `[-inf, inf]` each `exp` is `[0, inf]`, so the sum "can be 0". But when
//! the hazard's operand depends on the inputs only through one value `s`
//! that it reads more than once (`e` here), the operand is a function of `s`
//! alone, and evaluating it over pieces of `s`'s interval that cover it is
//! as sound as over the whole, and much tighter: on `e` in `[0, 1]` the sum is
//! at least 1.37, on `[1e16, inf]` it is infinite, never 0. The hazard is
//! refuted when no piece can reach it; a piece that can is bisected, within
//! a budget. This is the classical remedy for the dependency problem of
//! interval arithmetic, restricted to where it is exact to apply: one
//! variable, elementwise operations between it and the operand.

use lossc_ir::builtins::Signature;
use lossc_ir::{Builtin, Dtype, NodeId, Op, Program};

use crate::absint::{Event, Hazard};
use crate::interval::{self, Iv};

/// Evaluations of the operand over pieces, at most, per hazard.
const BUDGET: usize = 400;

/// Where the pieces of an interval start: 0, and a geometric ladder both
/// ways, so an infinite end is reached in few pieces.
const CUTS: &[f64] = &[
    1e-30, 1e-8, 1e-4, 0.01, 0.1, 0.5, 1.0, 2.0, 10.0, 100.0, 1e4, 1e8, 1e16, 1e32, 1e64, 1e128, 1e256,
];

/// Whether subdividing a value the operand of `event` reads through every
/// path proves that the hazard cannot happen. `hull` gives a node's interval
/// over every environment the analysis evaluated it in. Only domain and
/// division hazards are refuted; `false` means "not refuted", never "shown".
pub fn refutes(program: &Program, dtype: Dtype, hull: &dyn Fn(NodeId) -> Iv, event: &Event) -> bool {
    let node = program.node(event.node);
    let Op::Call(builtin, _) = node.op else { return false };
    let (operand, bad): (usize, Box<dyn Fn(Iv) -> bool>) = match event.hazard {
        Hazard::Domain(_) => {
            // `xlogy`'s second argument is a logarithm's.
            let (k, source) = if builtin == Builtin::Xlogy {
                (1, Builtin::Log)
            } else {
                (0, builtin)
            };
            let Some(d) = source.spec().values.defined() else {
                return false;
            };
            (
                k,
                Box::new(move |iv: Iv| {
                    let inside = d.value_finite_at(iv.lo) && d.value_finite_at(iv.hi);
                    !iv.is_empty() && !inside
                }),
            )
        }
        Hazard::DivByZero => (1, Box::new(|iv: Iv| iv.contains(0.0))),
        _ => return false,
    };
    let Some(&target) = node.args.get(operand) else {
        return false;
    };
    let Some(shared) = shared_dominator(program, target) else {
        return false;
    };
    let region = between(program, shared, target);
    if region.iter().any(|&n| !elementwise(program, n)) {
        return false;
    }
    let whole = hull(shared);
    if whole.is_empty() {
        return false;
    }
    let mut pieces = initial_pieces(whole);
    let mut evaluations = 0;
    while let Some(piece) = pieces.pop() {
        evaluations += 1;
        if evaluations > BUDGET {
            return false;
        }
        let value = evaluate(program, dtype, hull, shared, piece, &region, target);
        if !bad(value) {
            continue;
        }
        // Bisect a finite piece; a piece of one float, or with an infinite
        // end, that still reaches the hazard is not refuted.
        let mid = dtype.round(piece.lo / 2.0 + piece.hi / 2.0);
        if !(piece.lo.is_finite() && piece.hi.is_finite()) || mid <= piece.lo || mid >= piece.hi {
            return false;
        }
        pieces.push(Iv::new(piece.lo, mid));
        pieces.push(Iv::new(mid, piece.hi));
    }
    true
}

/// The nearest value below `target` that every path from a leaf (an input,
/// a param, a dimension's size) to `target` passes through and that is read
/// twice or more between them: the value whose repeated use the intervals
/// lose. `None` if there is none.
fn shared_dominator(program: &Program, target: NodeId) -> Option<NodeId> {
    let cone = program.cone(&[target]);
    let candidates = cone
        .iter()
        .rev()
        .filter(|&&n| n != target && !constant(program, n))
        .take(64);
    for &s in candidates {
        if dominates(program, s, target) {
            let region = between(program, s, target);
            let uses: usize = region
                .iter()
                .map(|&n| program.node(n).args.iter().filter(|&&a| a == s).count())
                .sum();
            if uses >= 2 {
                return Some(s);
            }
        }
    }
    None
}

/// Whether a node reads no leaf (a literal, a `const`, or a call on those).
fn constant(program: &Program, n: NodeId) -> bool {
    program
        .cone(&[n])
        .iter()
        .all(|&m| !matches!(program.node(m).op, Op::Input(_) | Op::Param(_) | Op::DimSize(_)))
}

/// Whether every path from a leaf to `target` passes through `s`.
fn dominates(program: &Program, s: NodeId, target: NodeId) -> bool {
    let mut stack = vec![target];
    let mut seen = vec![false; program.nodes.len()];
    while let Some(n) = stack.pop() {
        if n == s || std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        let node = program.node(n);
        if matches!(node.op, Op::Input(_) | Op::Param(_) | Op::DimSize(_)) {
            return false;
        }
        stack.extend(node.args.iter().copied());
    }
    true
}

/// The nodes that read `s` and that `target` reads (`target` included, `s`
/// not), in topological order.
fn between(program: &Program, s: NodeId, target: NodeId) -> Vec<NodeId> {
    let mut reads_s = vec![false; program.nodes.len()];
    reads_s[s.index()] = true;
    let mut out = Vec::new();
    for n in program.cone(&[target]) {
        if n == s {
            continue;
        }
        if program.node(n).args.iter().any(|a| reads_s[a.index()]) {
            reads_s[n.index()] = true;
            out.push(n);
        }
    }
    out
}

/// Whether the interval analysis computes node `n` element by element.
fn elementwise(program: &Program, n: NodeId) -> bool {
    match program.node(n).op {
        Op::Call(builtin, _) => matches!(
            builtin.spec().signature,
            Signature::Elementwise | Signature::Compare | Signature::Logic | Signature::Where | Signature::Float
        ),
        _ => false,
    }
}

/// `target`'s interval where `shared` lies in `piece`: the region evaluated
/// in order, every other operand at its interval over the whole analysis
/// (constants with respect to `shared`).
fn evaluate(
    program: &Program,
    dtype: Dtype,
    hull: &dyn Fn(NodeId) -> Iv,
    shared: NodeId,
    piece: Iv,
    region: &[NodeId],
    target: NodeId,
) -> Iv {
    let mut values: std::collections::HashMap<NodeId, Iv> = std::collections::HashMap::new();
    values.insert(shared, piece);
    for &n in region {
        let node = program.node(n);
        let Op::Call(builtin, _) = node.op else { return Iv::ALL };
        let args: Vec<Iv> = node
            .args
            .iter()
            .map(|a| values.get(a).copied().unwrap_or_else(|| hull(*a)))
            .collect();
        let Some(value) = call_value(dtype, builtin, &node.args, &args) else {
            return Iv::ALL;
        };
        values.insert(n, value);
    }
    values.get(&target).copied().unwrap_or(Iv::ALL)
}

/// The interval of an elementwise call on operands `args` (intervals
/// `values`); `x * x` is a square, never negative, as the analysis reads it.
fn call_value(dtype: Dtype, builtin: Builtin, args: &[NodeId], values: &[Iv]) -> Option<Iv> {
    if builtin == Builtin::Mul && args.len() == 2 && args[0] == args[1] {
        interval::elementwise(dtype, Builtin::Square, &values[..1])
    } else {
        interval::elementwise(dtype, builtin, values)
    }
}

/// `whole` cut at 0 and at the ladder's points inside it, last piece first.
fn initial_pieces(whole: Iv) -> Vec<Iv> {
    let mut cuts: Vec<f64> = vec![whole.lo, 0.0, whole.hi];
    cuts.extend(CUTS.iter().flat_map(|&c| [c, -c]));
    cuts.retain(|&c| whole.lo <= c && c <= whole.hi);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    if cuts.len() == 1 {
        return vec![whole];
    }
    cuts.windows(2).map(|w| Iv::new(w[0], w[1])).collect()
}

/// Boxes of input pieces evaluated, at most, per comparison.
const BOX_BUDGET: usize = 400;

/// Whether `x >= y` holds at every element (NaN aside) for every input in
/// its domain, where `x` and `y` are elementwise functions of the inputs,
/// params and constants: proved by evaluating `x - y` over boxes that
/// cover the inputs' domains (a finite set's values one by one, an
/// interval cut on the ladder of [`CUTS`], a box that fails bisected on its
/// widest interval), so that the correlation between `x` and `y` through a
/// shared input survives. `leaf` gives the interval of a param, const or
/// dimension; `input` the domain of an input's element in this case.
/// `false` means "not proved", never "disproved".
pub fn dominates_elementwise(
    program: &Program,
    dtype: Dtype,
    leaf: &dyn Fn(NodeId) -> Iv,
    input: &dyn Fn(usize) -> Pieces,
    x: NodeId,
    y: NodeId,
) -> bool {
    if x == y {
        return true;
    }
    let cone = program.cone(&[x, y]);
    let mut inputs: Vec<usize> = Vec::new();
    for &n in &cone {
        match program.node(n).op {
            Op::Input(i) if !inputs.contains(&i) => inputs.push(i),
            Op::Call(..) if !elementwise(program, n) => return false,
            _ => {}
        }
    }
    // Every input as a list of pieces; a box picks one piece of each.
    let pieces: Vec<Vec<Iv>> = inputs
        .iter()
        .map(|&i| match input(i) {
            Pieces::Values(values) => values.into_iter().map(Iv::point).collect(),
            Pieces::Range(whole) => initial_pieces(whole),
        })
        .collect();
    if pieces.iter().any(Vec::is_empty) {
        return true;
    }
    let combinations: usize = pieces
        .iter()
        .map(Vec::len)
        .try_fold(1usize, |acc, n| acc.checked_mul(n))
        .unwrap_or(usize::MAX);
    if combinations > BOX_BUDGET {
        return false;
    }
    let mut boxes: Vec<Vec<Iv>> = vec![Vec::new()];
    for p in &pieces {
        boxes = boxes
            .into_iter()
            .flat_map(|b| {
                p.iter().map(move |piece| {
                    let mut b = b.clone();
                    b.push(*piece);
                    b
                })
            })
            .collect();
    }
    // `y = x * z` with `z` in [0, 1] and `x >= 0` (the intersection `t * p`
    // against `t`): `x * z <= x` exactly, and rounding is monotone. Interval
    // boxes cannot show it where `z` reaches 1 (`t - t * p` is `[a - b, ..]`
    // on a box `t` in `[a, b]`).
    let whole: Vec<Iv> = pieces
        .iter()
        .map(|p| p.iter().fold(Iv::EMPTY, |acc, piece| acc.hull(*piece)))
        .collect();
    if let (Some(values), Op::Call(Builtin::Mul, _)) = (
        box_values(program, dtype, leaf, &cone, &inputs, &whole),
        &program.node(y).op,
    ) {
        let args = &program.node(y).args;
        let unit = |n: NodeId| values[&n].lo >= 0.0 && values[&n].hi <= 1.0;
        let scaled = |k: usize| args[k] == x && unit(args[1 - k]) && values[&x].lo >= 0.0;
        if scaled(0) || scaled(1) {
            return true;
        }
    }
    let mut evaluations = 0;
    while let Some(b) = boxes.pop() {
        evaluations += 1;
        if evaluations > BOX_BUDGET {
            return false;
        }
        let Some(values) = box_values(program, dtype, leaf, &cone, &inputs, &b) else {
            return false;
        };
        let (vx, vy) = (values[&x], values[&y]);
        if vx.is_empty() || vy.is_empty() || vx.lo >= vy.hi {
            continue;
        }
        // Bisect the widest finite interval piece of the box.
        let widest = (0..b.len())
            .filter(|&k| b[k].lo.is_finite() && b[k].hi.is_finite() && b[k].lo < b[k].hi)
            .max_by(|&j, &k| (b[j].hi - b[j].lo).total_cmp(&(b[k].hi - b[k].lo)));
        let Some(k) = widest else { return false };
        let mid = dtype.round(b[k].lo / 2.0 + b[k].hi / 2.0);
        if mid <= b[k].lo || mid >= b[k].hi {
            return false;
        }
        let mut low = b.clone();
        low[k] = Iv::new(b[k].lo, mid);
        let mut high = b;
        high[k] = Iv::new(mid, high[k].hi);
        boxes.push(low);
        boxes.push(high);
    }
    true
}

/// The interval of every node of `cone` (elementwise, in topological order)
/// with input `inputs[k]` in `b[k]`; `None` where an operation has no
/// interval rule.
fn box_values(
    program: &Program,
    dtype: Dtype,
    leaf: &dyn Fn(NodeId) -> Iv,
    cone: &[NodeId],
    inputs: &[usize],
    b: &[Iv],
) -> Option<std::collections::HashMap<NodeId, Iv>> {
    let mut values: std::collections::HashMap<NodeId, Iv> = std::collections::HashMap::new();
    for &n in cone {
        let node = program.node(n);
        let value = match node.op {
            Op::Input(i) => b[inputs.iter().position(|&k| k == i).expect("collected above")],
            Op::Literal(v) => Iv::point(crate::absint::nearest(dtype, v)),
            Op::Bool(v) => Iv::point(if v { 1.0 } else { 0.0 }),
            Op::Param(_) | Op::Const(_) | Op::DimSize(_) => leaf(n),
            Op::Call(builtin, _) => {
                let args: Vec<Iv> = node.args.iter().map(|a| values[a]).collect();
                call_value(dtype, builtin, &node.args, &args)?
            }
        };
        values.insert(n, value);
    }
    Some(values)
}

/// What an input's element can hold, for [`dominates_elementwise`].
pub enum Pieces {
    /// Each of these values (a finite set).
    Values(Vec<f64>),
    /// Anything in this interval.
    Range(Iv),
}
