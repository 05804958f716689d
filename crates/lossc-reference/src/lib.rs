//! The reference interpreter of lossc: the plain, obviously correct meaning of
//! a program, over [`ndarray`] arrays, in `f32` or `f64` (any
//! [`num_traits::Float`]). It is the oracle every later stage (the fused
//! kernels, the emitted code, the simplifier, the gradient) is tested against;
//! it favours clarity over speed, but evaluates each needed node once.
//!
//! **In:** a checked [`lossc_ir::Program`], the roots to evaluate, and
//! [`Bindings`]: the input arrays by name (checked against the declared shapes,
//! every named dimension bound to one size from the data), params and consts
//! from the program.
//! **Out:** one [`ndarray::ArrayD`] per root ([`eval`]); booleans are 0 and 1.
//! [`eval_loss`] also reduces a per-sample loss to its mean ([`LossValue`]).
//! Failures are [`EvalError`]s whose messages say what to change.
//! **Never:** does IO, prints, or panics, whatever the data: NaN and infinities
//! flow through IEEE arithmetic (`log(0) = -inf`, `0/0 = NaN`, overflow to
//! inf) and are reported by the caller, not here.
//!
//! Semantics (docs/language.md):
//! - Only the nodes reachable from the requested roots are evaluated, each
//!   once, in the arena's topological order; an array is dropped as soon as its
//!   last user has run.
//! - Elementwise built-ins broadcast their arguments as NumPy does, then apply
//!   [`lossc_ir::builtins::eval_scalar`], the one definition of their
//!   arithmetic, to each tuple of elements.
//! - `sum`, `mean`, `norm`, `logsumexp` and `softmax` add with
//!   [`compensated_sum`]: pairwise summation with Neumaier-compensated leaves
//!   and error-carrying joins, accurate to about one rounding whatever the
//!   count (an f32 sum of ten million elements is as good as the f64 sum
//!   rounded to f32) and deterministic.
//!   `mean` is that sum divided by the count; `norm` is `sqrt(sum(x^2))`,
//!   computed plainly (it overflows when `x^2` does). `max`/`min` propagate NaN.
//!   `logsumexp` subtracts the maximum (all `-inf` gives `-inf`, a `+inf`
//!   element gives `+inf`).
//! - `softmax` subtracts each lane's maximum; `log_softmax` is
//!   `x - logsumexp(x)` along the axis.
//! - `take` with an index outside the data's axis is an error (the size of a
//!   named axis is only known from the data).
//! - `one_hot`: a label that is not an integer in `[0, C)` gives a row of
//!   zeros, as `jax.nn.one_hot` does (not an error: labels are data).
//! - `expand_dims`: the axes are positions in the output.
//! - Data is not checked against the declared domains: a value outside its
//!   input's domain evaluates as written (`check` and `probe` reason about
//!   domains; the oracle only computes).
//! - Every node's computed shape is checked against its IR type under the
//!   bound dimensions; a disagreement is [`EvalError::Malformed`], a bug in
//!   the stage that built the program.
//!
//! ```
//! use lossc_reference::{Bindings, eval_loss};
//! use ndarray::{ArrayD, IxDyn};
//!
//! let source = "loss mse = mean(square(y_pred - y_true))";
//! let ast = lossc_syntax::parse(source).expect("valid syntax");
//! let (program, _warnings) = lossc_ir::lower(&ast, source).expect("a valid program");
//! let data = |v: &[f64]| ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).expect("a vector");
//! let bindings = Bindings::new(&program, [("y_true", data(&[1.0, 0.0, 1.0])), ("y_pred", data(&[0.9, 0.2, 0.8]))])?;
//! let mse = eval_loss(&program, "mse", &bindings)?;
//! // (0.1^2 + 0.2^2 + 0.2^2) / 3
//! assert!((mse.scalar().unwrap() - 0.03).abs() < 1e-12);
//! # Ok::<(), lossc_reference::EvalError>(())
//! ```
//!
//! Tests: unit tests beside the code; `tests/it/semantics.rs` checks programs
//! written in `.loss` against values computed by hand; `tests/it/examples.rs`
//! evaluates every program in the workspace's `examples/`.

mod bindings;
mod error;
mod ops;

use lossc_ir::builtins::Scalar;
use lossc_ir::{Dim, Node, NodeId, Op, Program, ResultKind, Signature};
use ndarray::{Array1, ArrayD, CowArray, Ix1, IxDyn, arr0};
use num_traits::Float;

pub use bindings::Bindings;
pub use error::EvalError;
pub use ops::compensated_sum;

use bindings::cast;

/// The value of a named result, as `eval` reports it (docs/cli.md).
#[derive(Debug, Clone, PartialEq)]
pub struct LossValue<T> {
    pub name: String,
    pub kind: ResultKind,
    /// A loss: its scalar value (a 0-d array), the mean for a per-sample loss.
    /// An output: the whole tensor.
    pub value: ArrayD<T>,
    /// A per-sample loss (shape `[N]`): the value of each sample. `None` for a
    /// scalar loss and for an output.
    pub per_sample: Option<Array1<T>>,
}

impl<T: Copy> LossValue<T> {
    /// The value if it is a scalar (always, for a loss).
    pub fn scalar(&self) -> Option<T> {
        (self.value.ndim() == 0)
            .then(|| self.value.iter().next().copied())
            .flatten()
    }
}

/// Evaluates several roots of `program`, sharing one memo: a node reachable
/// from two roots is computed once. Returns one array per root, in order.
pub fn eval<T: Float + Scalar>(
    program: &Program,
    roots: &[NodeId],
    bindings: &Bindings<T>,
) -> Result<Vec<ArrayD<T>>, EvalError> {
    bindings.check_fits(program)?;
    let count = program.nodes.len();
    if let Some(root) = roots.iter().find(|r| r.index() >= count) {
        return Err(EvalError::Malformed {
            node: root.index(),
            detail: format!("the program has only {count} nodes"),
        });
    }

    // Which nodes the roots need, and how many times each is used by them.
    let mut needed = vec![false; count];
    let mut is_root = vec![false; count];
    let mut uses = vec![0usize; count];
    for root in roots {
        needed[root.index()] = true;
        is_root[root.index()] = true;
    }
    for id in (0..count).rev() {
        if !needed[id] {
            continue;
        }
        for arg in &program.nodes[id].args {
            if arg.index() >= id {
                return Err(EvalError::Malformed {
                    node: id,
                    detail: format!("argument {} does not come before the node", arg.index()),
                });
            }
            needed[arg.index()] = true;
            uses[arg.index()] += 1;
        }
    }

    let mut memo: Vec<Option<CowArray<'_, T, IxDyn>>> = (0..count).map(|_| None).collect();
    for id in 0..count {
        if !needed[id] {
            continue;
        }
        let node = &program.nodes[id];
        let value = eval_node(id, node, &memo, bindings)?;
        check_shape(program, id, node, value.shape(), bindings)?;
        memo[id] = Some(value);
        for arg in &node.args {
            let arg = arg.index();
            uses[arg] -= 1;
            if uses[arg] == 0 && !is_root[arg] {
                memo[arg] = None;
            }
        }
    }

    roots
        .iter()
        .map(|root| {
            memo[root.index()]
                .as_ref()
                .map(|value| value.to_owned())
                .ok_or_else(|| EvalError::Malformed {
                    node: root.index(),
                    detail: "the root was not evaluated".to_string(),
                })
        })
        .collect()
}

/// Evaluates a loss or output by name, as `lossc eval` reports it: a scalar
/// loss as is; a per-sample loss (shape `[N]`) as its mean, with the samples in
/// `per_sample`; an output as its tensor.
pub fn eval_loss<T: Float + Scalar>(
    program: &Program,
    name: &str,
    bindings: &Bindings<T>,
) -> Result<LossValue<T>, EvalError> {
    let Some(result) = program.result(name) else {
        return Err(EvalError::UnknownResult {
            name: name.to_string(),
            available: program.results.iter().map(|r| r.name.clone()).collect(),
        });
    };
    let value = eval(program, &[result.root], bindings)?
        .pop()
        .ok_or_else(|| EvalError::Malformed {
            node: result.root.index(),
            detail: "no value came back".to_string(),
        })?;
    let (value, per_sample) = match result.kind {
        ResultKind::Output => (value, None),
        ResultKind::Loss => match value.ndim() {
            0 => (value, None),
            1 => {
                let samples = value.into_dimensionality::<Ix1>().map_err(|e| EvalError::Malformed {
                    node: result.root.index(),
                    detail: e.to_string(),
                })?;
                let mean = compensated_sum(&samples.to_vec()) / ops::count(samples.len());
                (arr0(mean).into_dyn(), Some(samples))
            }
            rank => {
                return Err(EvalError::Malformed {
                    node: result.root.index(),
                    detail: format!("loss `{name}` has rank {rank}; a loss is scalar or per-sample"),
                });
            }
        },
    };
    Ok(LossValue {
        name: name.to_string(),
        kind: result.kind,
        value,
        per_sample,
    })
}

/// One node's value, from its arguments' values in `memo`.
fn eval_node<'b, T: Float + Scalar>(
    id: usize,
    node: &Node,
    memo: &[Option<CowArray<'b, T, IxDyn>>],
    bindings: &'b Bindings<T>,
) -> Result<CowArray<'b, T, IxDyn>, EvalError> {
    let malformed = |detail: String| EvalError::Malformed { node: id, detail };
    let scalar = |value: T| CowArray::from(arr0(value).into_dyn());
    let leaf = |array: Option<&'b ArrayD<T>>, what: &str| {
        array
            .map(|a| CowArray::from(a.view()))
            .ok_or_else(|| malformed(format!("no {what} with that index")))
    };
    let (builtin, attrs) = match &node.op {
        Op::Literal(value) => return Ok(scalar(cast(*value))),
        Op::Bool(value) => return Ok(scalar(if *value { T::one() } else { T::zero() })),
        Op::Input(i) => return leaf(bindings.inputs.get(*i), "input"),
        Op::Param(i) => return leaf(bindings.params.get(*i), "param"),
        Op::Const(i) => return leaf(bindings.consts.get(*i), "const"),
        Op::DimSize(dim) => return Ok(scalar(ops::count(dim_size(bindings, Dim::Named(*dim))?))),
        Op::Call(builtin, attrs) => (*builtin, attrs),
    };

    let spec = builtin.spec();
    // `take`'s index and `one_hot`'s class count are attrs, not arguments.
    let arity = match spec.signature {
        Signature::Take | Signature::OneHot => 1,
        _ => spec.params.len(),
    };
    if node.args.len() != arity {
        return Err(malformed(format!(
            "`{builtin}` takes {arity} node arguments, the node has {}",
            node.args.len()
        )));
    }
    let mut args = Vec::with_capacity(node.args.len());
    for arg in &node.args {
        let value = memo[arg.index()]
            .as_ref()
            .ok_or_else(|| malformed(format!("argument {} has no value", arg.index())))?;
        args.push(value.view());
    }
    let axes = || {
        attrs
            .axes
            .as_deref()
            .ok_or_else(|| malformed(format!("`{builtin}` has no axis")))
    };
    // Every signature but the elementwise ones has exactly one node argument (checked above).
    let x = || {
        args.first()
            .map(|a| a.view())
            .ok_or_else(|| malformed(format!("`{builtin}` has no argument")))
    };

    let value = match spec.signature {
        signature if ops::is_elementwise(signature) => ops::elementwise(builtin, &args),
        Signature::Reduce(reduction) => ops::reduce(reduction, x()?, attrs.axes.as_deref(), attrs.keepdims),
        Signature::AlongAxis(along) => ops::along_axis(along, x()?, axes()?),
        Signature::Take => {
            let index = attrs
                .index
                .ok_or_else(|| malformed("`take` has no index".to_string()))?;
            match ops::take(x()?, index, axes()?) {
                Ok(Err(out)) => {
                    return Err(EvalError::IndexOutOfRange {
                        index: out.index,
                        axis: out.axis,
                        size: out.size,
                        span: node.span,
                    });
                }
                Ok(Ok(value)) => Ok(value),
                Err(detail) => Err(detail),
            }
        }
        Signature::OneHot => {
            let classes = attrs
                .classes
                .ok_or_else(|| malformed("`one_hot` has no class count".to_string()))?;
            ops::one_hot(x()?, dim_size(bindings, classes)?)
        }
        Signature::ExpandDims => ops::expand_dims(x()?, axes()?),
        other => Err(format!("no evaluation rule for signature {other:?}")),
    };
    value.map(CowArray::from).map_err(malformed)
}

/// The size of a dimension under the bindings.
fn dim_size<T>(bindings: &Bindings<T>, dim: Dim) -> Result<usize, EvalError> {
    match dim {
        Dim::Fixed(size) => Ok(size as usize),
        Dim::Named(id) => bindings.dim_size(id).ok_or_else(|| EvalError::UnboundDim {
            dim: bindings
                .dim_names
                .get(id.0 as usize)
                .cloned()
                .unwrap_or_else(|| format!("?{}", id.0)),
        }),
    }
}

/// Checks a computed shape against the node's IR type.
fn check_shape<T>(
    program: &Program,
    id: usize,
    node: &Node,
    shape: &[usize],
    bindings: &Bindings<T>,
) -> Result<(), EvalError> {
    let expected = node
        .ty
        .shape
        .iter()
        .map(|&d| dim_size(bindings, d))
        .collect::<Result<Vec<_>, _>>()?;
    if expected != shape {
        return Err(EvalError::Malformed {
            node: id,
            detail: format!(
                "computed shape {} but the IR type is {} = {}",
                error::shape_list(shape),
                program.shape_string(&node.ty.shape),
                error::shape_list(&expected)
            ),
        });
    }
    Ok(())
}
