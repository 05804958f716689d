//! How a sample's tensors are laid out: the size of each named dimension
//! (the batch is 1), each input's concrete shape, its row without the batch
//! dimension and its range of floats, and the enumeration of the
//! set-valued elements.

use lossc_ir::{Builtin, Dim, Domain, Dtype, Op, Program};

use super::ProbeError;
use super::draw::Range;

/// The size of a named dimension other than the batch, unless `take` or
/// `one_hot` needs more.
const OTHER_DIM: usize = 3;

/// The largest size given to a named dimension.
const MAX_DIM: usize = 64;

/// The size of each dimension: the batch (the leading dimension of the first
/// `wrt` input, else of the first input) is 1, every other named dimension
/// 3, or more where `take` or `one_hot` needs it.
pub(super) fn dim_sizes(program: &Program) -> Vec<Option<usize>> {
    let batch = batch_dim(program);
    let mut need = OTHER_DIM;
    let mut classes_need = vec![0usize; program.dims.len()];
    let largest_label = program
        .inputs
        .iter()
        .filter_map(|input| match &input.domain {
            Domain::Set(values) => values.iter().copied().filter(|v| v.fract() == 0.0).reduce(f64::max),
            _ => None,
        })
        .reduce(f64::max);
    for node in &program.nodes {
        if let Op::Call(builtin, attrs) = &node.op {
            match builtin {
                Builtin::Take => {
                    if let Some(index) = attrs.index {
                        let size = if index >= 0 {
                            index.saturating_add(1)
                        } else {
                            index.saturating_neg()
                        };
                        need = need.max(usize::try_from(size).unwrap_or(MAX_DIM).min(MAX_DIM));
                    }
                }
                Builtin::OneHot => {
                    if let (Some(Dim::Named(id)), Some(label)) = (attrs.classes, largest_label)
                        && let Some(slot) = classes_need.get_mut(id.0 as usize)
                    {
                        // Labels are integers of a set; past MAX_DIM, as many as fit.
                        let size = if label + 1.0 > MAX_DIM as f64 {
                            MAX_DIM
                        } else {
                            (label + 1.0).max(1.0) as usize
                        };
                        *slot = (*slot).max(size);
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
                | Builtin::BroadcastLike
                | Builtin::ExpandDims => {}
            }
        }
    }
    let used: Vec<bool> = (0..program.dims.len())
        .map(|id| {
            program.inputs.iter().any(|input| {
                input
                    .shape
                    .iter()
                    .any(|d| matches!(d, Dim::Named(n) if n.0 as usize == id))
            })
        })
        .collect();
    (0..program.dims.len())
        .map(|id| {
            if !used[id] {
                return None;
            }
            if matches!(batch, Some(Dim::Named(b)) if b.0 as usize == id) {
                Some(1)
            } else {
                Some(need.max(classes_need[id]))
            }
        })
        .collect()
}

/// The batch dimension: the leading dimension of the first `wrt` input, else
/// of the first input, if it is a named one.
pub(super) fn batch_dim(program: &Program) -> Option<Dim> {
    program
        .batch
        .or_else(|| program.inputs.first().and_then(|input| input.shape.first().copied()))
        .filter(|dim| matches!(dim, Dim::Named(_)))
}

/// The shape of one sample's row: `shape` (concrete) without a leading batch
/// dimension.
pub(super) fn row_shape(declared: &[Dim], concrete: &[usize], batch: Option<Dim>) -> Vec<usize> {
    match (declared.first(), batch) {
        (Some(first), Some(batch)) if *first == batch => concrete[1..].to_vec(),
        _ => concrete.to_vec(),
    }
}

/// A declared shape under the probe's sizes.
pub(super) fn concrete(shape: &[Dim], sizes: &[Option<usize>]) -> Vec<usize> {
    shape
        .iter()
        .map(|&d| match d {
            Dim::Fixed(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Dim::Named(id) => sizes.get(id.0 as usize).copied().flatten().unwrap_or(OTHER_DIM),
        })
        .collect()
}

/// One input's sampling plan.
#[derive(Debug, Clone)]
pub(super) struct InputLayout {
    pub(super) name: String,
    pub(super) shape: Vec<usize>,
    /// The shape of one sample (without the batch dimension).
    pub(super) row: Vec<usize>,
    pub(super) len: usize,
    /// The floats one element can hold.
    pub(super) range: Range,
    /// The declared domain: a row domain also constrains each run of
    /// `width` elements.
    pub(super) domain: Domain,
    /// The size of the last axis (1 for a scalar).
    pub(super) width: usize,
}

/// The inputs' plans, and the enumeration of the set-valued elements.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) inputs: Vec<InputLayout>,
    /// Every set-valued element (input, element) with its member count.
    pub(super) set_slots: Vec<(usize, usize, usize)>,
    /// The number of combinations of the set-valued elements, if at most
    /// `u64::MAX`.
    pub(super) combinations: Option<u64>,
}

impl Layout {
    pub(super) fn new(program: &Program, sizes: &[Option<usize>], dtype: Dtype) -> Result<Layout, ProbeError> {
        let mut inputs = Vec::with_capacity(program.inputs.len());
        let mut set_slots = Vec::new();
        let mut combinations = Some(1u64);
        for (index, input) in program.inputs.iter().enumerate() {
            let range = Range::new(&input.domain, dtype).ok_or_else(|| ProbeError::EmptyDomain {
                input: input.name.clone(),
                dtype,
            })?;
            let shape = concrete(&input.shape, sizes);
            let row = row_shape(&input.shape, &shape, batch_dim(program));
            let len = shape.iter().product();
            let width = shape.last().copied().unwrap_or(1);
            // One-hot rows are drawn whole, not enumerated element by element.
            if let Range::Set(members) = &range
                && members.len() > 1
                && !input.domain.is_row()
            {
                for element in 0..len {
                    set_slots.push((index, element, members.len()));
                    combinations = combinations.and_then(|c| c.checked_mul(members.len() as u64));
                }
            }
            inputs.push(InputLayout {
                name: input.name.clone(),
                shape,
                row,
                len,
                range,
                domain: input.domain.clone(),
                width,
            });
        }
        Ok(Layout {
            inputs,
            set_slots,
            combinations,
        })
    }
}
