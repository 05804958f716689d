//! The static analyzer of lossc: proves where a loss or its gradient can be
//! NaN, infinite, exploding, zero or non-smooth over the declared input
//! domains, in the chosen float type, and says so as diagnostics with a
//! witness and a help line (a fix where one is proven equal).
//!
//! **In:** a checked [`lossc_ir::Program`] and [`Options`] (dtype, which
//! loss, which variables).
//! **Out:** [`Diagnostic`]s, sorted by position ([`analyze`]); and the
//! sampling cross-check of `lossc probe` ([`probe`]).
//! **Never:** prints or does IO. It may over-warn; it must never miss a NaN or
//! an infinity that some float of the declared domains produces.
//!
//! How: [`absint`] evaluates the loss and its exact gradient (built by
//! `lossc-symbolic`, in lossc's semantics and in the frameworks' semantics)
//! over intervals of floats of the dtype, splitting finite-set inputs into
//! cases (`y_true = 0`, `y_true = 1`) and refining each `where` branch by its
//! condition. Every operation that can leave its domain is an event; events
//! become diagnostics, each with a concrete witness found by evaluating the
//! program ([`witness`]). Properties that intervals cannot decide (a gradient
//! that is exactly zero on a region, a jump at a `where` boundary) are
//! measured by sampling the domains with the reference interpreter. See
//! docs/analysis.md for each check and its limits.

mod absint;
mod checks;
mod interval;
mod minimum;
pub mod probe;
mod refine;
mod sampling;
pub use sampling::{JUMP_SEARCH_BUDGET, jump_search_work};
mod witness;

pub use lossc_diagnostics::{Code, Diagnostic, Severity, Span};
use lossc_ir::{Domain, Dtype, Program, Var};

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dtype: Dtype,
    /// The loss to analyse; every loss if `None`.
    pub loss: Option<String>,
    /// The variables of the gradient; the program's `wrt` if empty.
    pub wrt: Vec<Var>,
}

/// A gradient larger than this in magnitude, for one sample, is "exploding".
pub const EXPLODING: f64 = 1e6;

/// Every finding for `program` (compiled from `source`, which messages quote),
/// sorted by position.
pub fn analyze(program: &Program, source: &str, options: &Options) -> Vec<Diagnostic> {
    let vars = if options.wrt.is_empty() {
        program.wrt.clone()
    } else {
        options.wrt.clone()
    };
    let mut out = Vec::new();
    for loss in program.losses() {
        if options.loss.as_ref().is_some_and(|name| *name != loss.name) {
            continue;
        }
        // Each loss is analysed alone, on the nodes it reaches: its cost does
        // not grow with the other losses of the file.
        let (alone, root) = reaching(program, loss.root);
        let loss = lossc_ir::NamedResult { root, ..loss.clone() };
        checks::loss(&alone, source, &loss, &vars, options.dtype, &mut out);
    }
    checks::constants(program, source, options.dtype, &mut out);
    // One diagnostic per code and place: the most severe.
    out.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let mut seen = std::collections::HashSet::new();
    out.retain(|d| seen.insert((d.code, d.span)));
    lossc_diagnostics::sort(&mut out);
    out
}

/// The most elements one sample of an input may have for the analysis to
/// evaluate points (witnesses, sampling): a larger row (`[N, 4294967296]`)
/// is judged by its intervals alone, whose cost does not depend on its size.
pub(crate) const MAX_ROW: usize = 1 << 16;

/// The most elements of one input in one evaluated batch of points: the
/// batch is cut into smaller ones past it.
pub(crate) const MAX_BATCH_ELEMENTS: usize = 1 << 22;

/// How many elements one sample of `input` has when points are evaluated
/// (named dimensions other than the batch at [`dim_size`]), or `None` past
/// [`MAX_ROW`].
pub(crate) fn row_elements(program: &Program, input: &lossc_ir::Input) -> Option<usize> {
    let has_batch = program.batch.is_some() && input.shape.first().copied() == program.batch;
    let row = input
        .shape
        .iter()
        .skip(usize::from(has_batch))
        .try_fold(1usize, |n, d| {
            let size = match d {
                lossc_ir::Dim::Fixed(s) => usize::try_from(*s).ok()?,
                lossc_ir::Dim::Named(id) => dim_size(program, *id),
            };
            n.checked_mul(size)
        })?;
    (row <= MAX_ROW).then_some(row)
}

/// The size of an input's last axis when points are evaluated (a named
/// dimension at [`dim_size`]; 1 for a scalar): the width of a row of a row
/// domain.
pub(crate) fn last_axis_size(program: &Program, input: &lossc_ir::Input) -> usize {
    match input.shape.last() {
        Some(lossc_ir::Dim::Fixed(size)) => usize::try_from(*size).unwrap_or(usize::MAX),
        Some(lossc_ir::Dim::Named(id)) => dim_size(program, *id),
        None => 1,
    }
}

/// The largest row of any input, or `None` if one is past [`MAX_ROW`].
pub(crate) fn largest_row(program: &Program) -> Option<usize> {
    program
        .inputs
        .iter()
        .try_fold(1usize, |m, input| Some(m.max(row_elements(program, input)?)))
}

/// `program` with only the nodes `root` reaches (in the same order) and no
/// results, and `root`'s id in it; built in time proportional to what it keeps.
fn reaching(program: &Program, root: lossc_ir::NodeId) -> (Program, lossc_ir::NodeId) {
    use lossc_ir::NodeId;
    let mut seen: std::collections::HashSet<NodeId> = std::collections::HashSet::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(program.node(n).args.iter().copied());
        }
    }
    let mut kept: Vec<NodeId> = seen.into_iter().collect();
    kept.sort();
    let renumber: std::collections::HashMap<NodeId, NodeId> = kept
        .iter()
        .enumerate()
        .map(|(new, old)| (*old, NodeId(new as u32)))
        .collect();
    let nodes = kept
        .iter()
        .map(|old| {
            let node = program.node(*old);
            lossc_ir::Node {
                args: node.args.iter().map(|a| renumber[a]).collect(),
                ..node.clone()
            }
        })
        .collect();
    let alone = Program {
        dims: program.dims.clone(),
        inputs: program.inputs.clone(),
        params: program.params.clone(),
        consts: program.consts.clone(),
        results: Vec::new(),
        wrt: program.wrt.clone(),
        batch: program.batch,
        nodes,
        lets: program
            .lets
            .iter()
            .filter_map(|l| {
                Some(lossc_ir::LetBinding {
                    node: *renumber.get(&l.node)?,
                    ..l.clone()
                })
            })
            .collect(),
    };
    (alone, renumber[&root])
}

/// The size given to a named dimension when the analysis evaluates points:
/// 3, or more where `one_hot` or `take` needs it (labels up to 9 need 10
/// classes, or every row past the third would be all zeros).
pub(crate) fn dim_size(program: &Program, dim: lossc_ir::DimId) -> usize {
    use lossc_ir::{Builtin, Dim, Op};
    let mut size = 3usize;
    for node in &program.nodes {
        let Op::Call(builtin, attrs) = &node.op else { continue };
        match builtin {
            Builtin::OneHot if attrs.classes == Some(Dim::Named(dim)) => {
                if let Op::Input(i) = program.node(node.args[0]).op
                    && let Domain::Set(values) = &program.inputs[i].domain
                {
                    let top = values.iter().copied().fold(0.0f64, f64::max);
                    size = size.max(top as usize + 1);
                }
            }
            Builtin::Take => {
                let operand = &program.node(node.args[0]).ty.shape;
                if let (Some(axis), Some(index)) = (attrs.axes.as_ref().and_then(|a| a.first()), attrs.index)
                    && operand.get(*axis) == Some(&Dim::Named(dim))
                {
                    size = size.max(index.unsigned_abs() as usize + 1);
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
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims => {}
        }
    }
    size.min(4096)
}

/// What the user wrote for argument `k` of `node`: the argument's own text
/// when it lies inside the call, else (a `let` name) the call's k-th argument
/// as written; a leaf is its name.
pub(crate) fn operand_text(program: &Program, source: &str, node: lossc_ir::NodeId, k: usize) -> String {
    use lossc_ir::Op;
    let text = |span: Span| source.get(span.start..span.end).unwrap_or("").to_string();
    let n = program.node(node);
    let arg = program.node(n.args[k]);
    if arg.span.start >= n.span.start && arg.span.end <= n.span.end && !arg.span.is_empty() {
        return text(arg.span);
    }
    // The operand is a name (a `let`, an input): find it in the call's own text.
    let whole = text(n.span);
    if let (Some(open), true) = (whole.find('('), whole.ends_with(')'))
        && whole[..open].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        let inner = &whole[open + 1..whole.len() - 1];
        if let Some(part) = split_top_level(inner).get(k) {
            return part.trim().to_string();
        }
    }
    if let Op::Call(builtin, _) = &n.op
        && let Some(symbol) = builtin.spec().symbol
        && let Some(at) = rfind_top_level(&whole, symbol)
    {
        let part = if k == 0 {
            &whole[..at]
        } else {
            &whole[at + symbol.len()..]
        };
        return part.trim().to_string();
    }
    if let Some(name) = sampling::leaf_text(program, n.args[k]) {
        return name;
    }
    text(arg.span)
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn rfind_top_level(text: &str, symbol: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth == 0 && text[i..].starts_with(symbol) && i > 0 => found = Some(i),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(losses: usize) -> Program {
        let mut source = String::from("input y_true: [0, 1] [N]\ninput y_pred: [0, 1] [N]\n");
        for i in 0..losses {
            source.push_str(&format!("loss l{i} = mean(-y_true * log(y_pred) * {})\n", i + 1));
        }
        let ast = lossc_syntax::parse(&source).unwrap();
        lossc_ir::lower(&ast, &source).unwrap().0
    }

    #[test]
    fn each_loss_is_analysed_on_its_own_nodes() {
        // The analysis of one loss used to work on (and clone) every loss's
        // nodes: quadratic in the number of losses (800 losses took 39 s).
        let one = program(1);
        let many = program(400);
        let (alone, root) = reaching(&many, many.results[399].root);
        assert_eq!(alone.nodes.len(), one.nodes.len());
        assert_eq!(alone.nodes[root.index()].ty, one.nodes[one.results[0].root.index()].ty);
        assert!(alone.results.is_empty());
    }

    #[test]
    fn every_loss_of_a_file_gets_the_findings_it_has_alone() {
        let found = |p: &Program| analyze(p, "", &Options::default());
        let one = found(&program(1));
        let many = found(&program(20));
        assert!(!one.is_empty());
        assert_eq!(many.len(), 20 * one.len(), "{many:#?}");
    }
}
