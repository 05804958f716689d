//! The values a program's leaves take: input data by name, params and consts
//! from the program, and the size of every named dimension, read off the data.

use lossc_ir::builtins::Scalar;
use lossc_ir::{Dim, DimId, Program, Value};
use ndarray::{Array1, ArrayD, arr0};
use num_traits::Float;

use crate::error::EvalError;

/// Everything a program's leaves evaluate to, for one program and one batch.
///
/// Built by [`Bindings::new`], which checks the data against the declared
/// shapes and binds each named dimension (`N`, `C`) to one size.
#[derive(Debug, Clone)]
pub struct Bindings<T> {
    /// By input index ([`Program::inputs`]).
    pub(crate) inputs: Vec<ArrayD<T>>,
    /// By param index, converted from the program's values.
    pub(crate) params: Vec<ArrayD<T>>,
    /// By const index.
    pub(crate) consts: Vec<ArrayD<T>>,
    /// Dimension names, by [`DimId`] (a copy of [`Program::dims`]).
    pub(crate) dim_names: Vec<String>,
    /// Dimension sizes, by [`DimId`]; `None` if no input uses the dimension.
    pub(crate) dims: Vec<Option<usize>>,
}

/// Which input bound a dimension, on which axis, to which size.
struct Binder {
    input: usize,
    axis: usize,
    size: usize,
}

impl<T: Float + Scalar> Bindings<T> {
    /// Binds data to a program's inputs by name.
    ///
    /// Every declared input (implicit `y_true`/`y_pred` included) needs data of
    /// its declared rank; an axis declared as an integer must have that size;
    /// an axis declared with a name binds the name, and every other axis with
    /// that name must agree. Errors name the inputs, the dimension and the sizes.
    /// Params and consts take the program's values (after any
    /// [`Program::set_param`]), converted to `T` (an f64 value out of f32 range
    /// becomes ±inf, as an IEEE conversion does).
    pub fn new<S: AsRef<str>>(
        program: &Program,
        inputs: impl IntoIterator<Item = (S, ArrayD<T>)>,
    ) -> Result<Self, EvalError> {
        let mut slots: Vec<Option<ArrayD<T>>> = vec![None; program.inputs.len()];
        for (name, data) in inputs {
            let name = name.as_ref();
            let index = program.find_input(name)?;
            if slots[index].is_some() {
                return Err(EvalError::DuplicateInput { name: name.to_string() });
            }
            slots[index] = Some(data);
        }

        let mut bound: Vec<Option<Binder>> = (0..program.dims.len()).map(|_| None).collect();
        let mut data_by_input = Vec::with_capacity(slots.len());
        for (index, (input, slot)) in program.inputs.iter().zip(slots).enumerate() {
            let declared = || program.shape_string(&input.shape);
            let Some(data) = slot else {
                return Err(EvalError::MissingInput {
                    name: input.name.clone(),
                    declared: declared(),
                });
            };
            if data.ndim() != input.shape.len() {
                return Err(EvalError::RankMismatch {
                    input: input.name.clone(),
                    declared: declared(),
                    data: data.shape().to_vec(),
                    expected: input.shape.len(),
                });
            }
            for (axis, (&dim, &size)) in input.shape.iter().zip(data.shape()).enumerate() {
                match dim {
                    Dim::Fixed(expected) => {
                        if size as u64 != expected {
                            return Err(EvalError::FixedDimMismatch {
                                input: input.name.clone(),
                                declared: declared(),
                                data: data.shape().to_vec(),
                                axis,
                                expected,
                            });
                        }
                    }
                    Dim::Named(id) => {
                        let dim_name = || dim_name(program, id);
                        if size == 0 {
                            return Err(EvalError::EmptyDim {
                                input: input.name.clone(),
                                dim: dim_name(),
                                axis,
                            });
                        }
                        let Some(slot) = bound.get_mut(id.0 as usize) else {
                            return Err(EvalError::UnboundDim { dim: dim_name() });
                        };
                        match slot {
                            None => {
                                *slot = Some(Binder {
                                    input: index,
                                    axis,
                                    size,
                                })
                            }
                            Some(first) if first.size != size => {
                                return Err(EvalError::DimMismatch {
                                    dim: dim_name(),
                                    first_input: program.inputs[first.input].name.clone(),
                                    first_axis: first.axis,
                                    first_size: first.size,
                                    second_input: input.name.clone(),
                                    second_axis: axis,
                                    second_size: size,
                                });
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            data_by_input.push(data);
        }

        Ok(Bindings {
            inputs: data_by_input,
            params: program.params.iter().map(|p| value_array(&p.value)).collect(),
            consts: program.consts.iter().map(|c| value_array(&c.value)).collect(),
            dim_names: program.dims.clone(),
            dims: bound.into_iter().map(|b| b.map(|b| b.size)).collect(),
        })
    }

    /// Replaces a param's value (a scalar or a vector of the declared length).
    pub fn set_param(&mut self, program: &Program, name: &str, value: ArrayD<T>) -> Result<(), EvalError> {
        let Some(index) = program.param(name) else {
            return Err(EvalError::UnknownParam {
                name: name.to_string(),
                declared: program.params.iter().map(|p| p.name.clone()).collect(),
            });
        };
        let slot = self.params.get_mut(index).ok_or_else(|| EvalError::ForeignBindings {
            detail: format!("it has no param number {index}"),
        })?;
        if slot.shape() != value.shape() {
            return Err(EvalError::ParamShape {
                name: name.to_string(),
                expected: slot.shape().to_vec(),
                found: value.shape().to_vec(),
            });
        }
        *slot = value;
        Ok(())
    }
}

impl<T> Bindings<T> {
    /// The data of input `index` (in [`Program::inputs`] order).
    pub fn input(&self, index: usize) -> Option<&ArrayD<T>> {
        self.inputs.get(index)
    }

    /// The value of param `index`.
    pub fn param(&self, index: usize) -> Option<&ArrayD<T>> {
        self.params.get(index)
    }

    /// The size a dimension is bound to, if an input uses it.
    pub fn dim_size(&self, dim: DimId) -> Option<usize> {
        self.dims.get(dim.0 as usize).copied().flatten()
    }

    /// Every bound dimension with its size, in [`Program::dims`] order (the
    /// `"dims"` of `eval`'s JSON).
    pub fn dims(&self) -> impl Iterator<Item = (&str, usize)> {
        self.dim_names
            .iter()
            .zip(&self.dims)
            .filter_map(|(name, size)| size.map(|s| (name.as_str(), s)))
    }

    /// Checks that these bindings have a slot for every declaration of `program`.
    pub(crate) fn check_fits(&self, program: &Program) -> Result<(), EvalError> {
        let counts = [
            ("inputs", self.inputs.len(), program.inputs.len()),
            ("params", self.params.len(), program.params.len()),
            ("consts", self.consts.len(), program.consts.len()),
            ("dimensions", self.dims.len(), program.dims.len()),
        ];
        for (what, have, want) in counts {
            if have != want {
                return Err(EvalError::ForeignBindings {
                    detail: format!("they hold {have} {what}, the program declares {want}"),
                });
            }
        }
        Ok(())
    }
}

fn dim_name(program: &Program, id: DimId) -> String {
    program
        .dims
        .get(id.0 as usize)
        .cloned()
        .unwrap_or_else(|| format!("?{}", id.0))
}

/// A `param`/`const` value as an array of `T`.
fn value_array<T: Float + Scalar>(value: &Value) -> ArrayD<T> {
    match value {
        Value::Scalar(v) => arr0(cast(*v)).into_dyn(),
        Value::Vector(vs) => Array1::from_iter(vs.iter().map(|&v| cast(v))).into_dyn(),
    }
}

/// An f64 from the program as `T`: IEEE conversion (rounding, overflow to ±inf).
pub(crate) fn cast<T: Float + Scalar>(value: f64) -> T {
    T::from(value).unwrap_or_else(T::nan)
}
