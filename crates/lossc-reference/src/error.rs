//! Why an evaluation could not run: bad data for the declared inputs, an index
//! out of range, or a program this evaluator cannot trust.

use lossc_diagnostics::Span;
use thiserror::Error;

/// A failure of [`crate::Bindings::new`], [`crate::eval`] or [`crate::eval_loss`].
///
/// Non-finite numbers are never an error: `log(0)` is `-inf` and `0/0` is NaN,
/// in the result. These are the failures a user fixes by changing the data, the
/// names given, or the program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Data was given for a name that is not an input of the program.
    #[error(
        "there is no input `{name}`{hint}; the inputs are {list}",
        hint = suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        list = quoted_list(declared)
    )]
    UnknownInput {
        name: String,
        /// The program's inputs, in declaration order (implicit ones included).
        declared: Vec<String>,
        /// The declared input closest to `name`, if one is close.
        suggestion: Option<String>,
    },

    /// Data was given twice for one input.
    #[error("data for input `{name}` was given twice")]
    DuplicateInput { name: String },

    /// A declared input got no data.
    #[error("no data for input `{name}` (declared with shape {declared})")]
    MissingInput {
        name: String,
        /// The declared shape in the user's words, e.g. `[N, C]`.
        declared: String,
    },

    /// The data has a different number of axes than the declaration.
    #[error(
        "`{input}` is declared with shape {declared} but its data has shape {data}: \
         expected {expected} {axes_word}, found {found}{hint}",
        data = shape_list(data),
        axes_word = if *expected == 1 { "axis" } else { "axes" },
        found = data.len(),
        hint = rank_hint(data, *expected)
    )]
    RankMismatch {
        input: String,
        declared: String,
        data: Vec<usize>,
        expected: usize,
    },

    /// A dimension written as an integer does not match the data.
    #[error(
        "`{input}` is declared with shape {declared} but its data has shape {data}: \
         axis {axis} must have size {expected}",
        data = shape_list(data)
    )]
    FixedDimMismatch {
        input: String,
        declared: String,
        data: Vec<usize>,
        axis: usize,
        expected: u64,
    },

    /// Two inputs (or two axes of one input) give a named dimension different sizes.
    #[error("{}", dim_mismatch(self))]
    DimMismatch {
        /// The dimension's name, e.g. `N`.
        dim: String,
        /// The input that bound the dimension first, and the axis it did it on.
        first_input: String,
        first_axis: usize,
        first_size: usize,
        /// The input that disagrees.
        second_input: String,
        second_axis: usize,
        second_size: usize,
    },

    /// A named dimension is bound to 0; sizes are at least 1 (docs/language.md).
    #[error("`{input}` has {dim} = 0 (axis {axis}): dimension sizes must be at least 1")]
    EmptyDim { input: String, dim: String, axis: usize },

    /// A dimension the program needs is not the size of any input's axis.
    #[error("dimension `{dim}` has no size: no input's declared shape uses it")]
    UnboundDim { dim: String },

    /// `--param`-style override for a name that is not a param.
    #[error("there is no param `{name}`; the params are {list}", list = quoted_list(declared))]
    UnknownParam { name: String, declared: Vec<String> },

    /// A param override whose shape differs from the declared value's.
    #[error("param `{name}` has shape {expected} but the new value has shape {found}", expected = shape_list(expected), found = shape_list(found))]
    ParamShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// `eval_loss` was asked for a result the program does not define.
    #[error("there is no loss or output `{name}`; the program defines {list}", list = quoted_list(available))]
    UnknownResult { name: String, available: Vec<String> },

    /// `take`'s index is outside the data's size along its axis.
    #[error("index {index} of `take` is out of range for axis {axis} of size {size}")]
    IndexOutOfRange {
        index: i64,
        axis: usize,
        size: usize,
        /// The `take(...)` call in the source.
        span: Span,
    },

    /// The bindings were built for a program with other declarations.
    #[error("these bindings were built for another program ({detail})")]
    ForeignBindings { detail: String },

    /// The IR breaks one of its own invariants (an arity, an axis, a shape or
    /// the topological order). This is a bug in the stage that built it.
    #[error("malformed program at node {node}: {detail} (this is a bug in lossc; please report it)")]
    Malformed {
        /// The node's index in `Program::nodes`.
        node: usize,
        detail: String,
    },
}

/// `[3, 4]`.
pub(crate) fn shape_list(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// `` `a`, `b` `` or "none".
impl From<lossc_ir::NoSuchInput> for EvalError {
    fn from(missing: lossc_ir::NoSuchInput) -> Self {
        EvalError::UnknownInput {
            name: missing.name,
            declared: missing.declared,
            suggestion: missing.suggestion,
        }
    }
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn dim_mismatch(error: &EvalError) -> String {
    let EvalError::DimMismatch {
        dim,
        first_input,
        first_axis,
        first_size,
        second_input,
        second_axis,
        second_size,
    } = error
    else {
        return String::new();
    };
    if first_input == second_input {
        format!(
            "`{first_input}` has {dim} = {first_size} on axis {first_axis} but {dim} = {second_size} on axis {second_axis}"
        )
    } else {
        format!("`{first_input}` has {dim} = {first_size} but `{second_input}` has {dim} = {second_size}")
    }
}

/// What to do about data with one axis of size 1 too many: the `(N, 1)`
/// column a Keras model outputs for `[N]` labels.
fn rank_hint(data: &[usize], expected: usize) -> String {
    if data.len() == expected + 1 && data.last() == Some(&1) {
        "; its last axis has size 1: drop it (NumPy `y.squeeze(-1)` or `y.reshape(-1)`), \
         as a loss that broadcasts an `(N, 1)` against an `(N,)` would compute an `(N, N)` table"
            .to_string()
    } else {
        String::new()
    }
}
