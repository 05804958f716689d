//! lossc's fast evaluator: a loss and its gradient compiled into fused,
//! chunked kernels that run on all cores, in f32 or f64 chosen at run time.
//!
//! **In:** a checked [`lossc_ir::Program`] (usually with its simplified
//! gradient nodes added by `lossc_symbolic`) and the [`Root`]s to evaluate;
//! at run time, the inputs as [`Tensor`] views of any element type and
//! memory order (a memory-mapped `.npy` file is read where it lies).
//! **Out:** one [`Output`] per root: its array, and for a per-sample loss the
//! mean. Bad data is a [`lossc_reference::EvalError`], in the oracle's words.
//! **Never:** does IO, prints, or panics on NaN and infinities; never
//! allocates an array of the batch's size for an intermediate value.
//!
//! How it works (docs/performance.md has the measurements):
//! - [`plan`](crate) lowers the roots to primitive operations, merges common
//!   subexpressions (the loss and its gradient share their work), and
//!   classifies every value as varying over the batch or uniform, and by the
//!   number of passes over the batch it needs (a reduction over the batch
//!   axis ends a pass).
//! - `code` binds the plan to the data's sizes: per pass, a list of
//!   instructions over tiles of about 1000 elements held in registers that
//!   stay in the L1 cache.
//! - `exec` runs each pass over fixed chunks of rows, in parallel with rayon
//!   (in the calling thread below about 10^5 elements), reads inputs in place,
//!   writes large outputs with streaming stores, and joins the chunks'
//!   partial sums in a fixed order: results are bit-identical whatever the
//!   number of threads.
//! - `kernels` are the tile loops: [`lossc_ir::builtins::eval_scalar_in`]
//!   (each built-in's one definition) with the vectorisable elementary
//!   functions of [`math`], compiled for AVX-512 and AVX2 and dispatched at
//!   run time.
//!
//! - `codegen` writes a pass as Rust source, one fused loop (text only);
//!   [`Prepared::generate`] returns it, the `lossc-jit` crate compiles it and
//!   [`Prepared::attach`]es the functions, which then run instead of the tile
//!   loops, with bit-identical results.
//!
//! Agreement with the reference interpreter (`lossc_reference`, the oracle): the
//! same formulas, the oracle's own compensated summation within rows, a
//! lane-parallel compensated sum over the batch, and elementary functions
//! within [`math::ULP_BOUND`] ulps of the standard library's. The tests
//! (`tests/it/oracle.rs`) hold every example and random programs to the bounds
//! stated there.
//!
//! ```
//! use lossc_kernel::{Kernel, Root, Tensor};
//! use ndarray::{ArrayD, IxDyn};
//!
//! let source = "loss mse = mean(square(y_pred - y_true))";
//! let ast = lossc_syntax::parse(source).unwrap();
//! let (program, _) = lossc_ir::lower(&ast, source).unwrap();
//! let root = program.result("mse").unwrap().root;
//! let kernel = Kernel::compile(&program, &[Root { node: root, array: true, mean: false }])?;
//! let t = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f32, 0.0, 1.0]).unwrap();
//! let p = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.9f32, 0.2, 0.8]).unwrap();
//! let out = kernel.run::<f32>(&[("y_true", Tensor::F32(t.view())), ("y_pred", Tensor::F32(p.view()))])?;
//! let mse = out[0].array.as_ref().unwrap().first().copied().unwrap();
//! assert!((mse - 0.03).abs() < 1e-7);
//! # Ok::<(), lossc_reference::EvalError>(())
//! ```

mod bind;
mod codegen;
pub mod math;
mod plan;
mod run;
mod stream;
mod tensor;
mod tile;

use std::any::Any;
use std::sync::Arc;

/// The built-ins' scalar arithmetic's traits at the crate root, where
/// `math.rs` names them (as the generated code, which includes `math.rs`,
/// has them at its root).
pub(crate) use lossc_ir::builtins::{Elementary, Scalar};
use lossc_ir::{Dim, NodeId, Program, ResultKind};
use lossc_reference::EvalError;
use ndarray::{Array1, ArrayD, Ix1, IxDyn};

pub use codegen::{Call, Generated, PassFn};
pub use plan::Root;
pub use tensor::{NonFinite, Real, Tensor};

/// How finely a pass cuts the batch. The defaults suit the caches of current
/// x86 and ARM cores; tests use small values to exercise many tiles and
/// chunks on small data. Results depend on the chunking (the order in which
/// partial sums are joined) but never on the number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granularity {
    /// Elements per tile: every register of a pass holds a tile's rows.
    pub tile: usize,
    /// Elements per chunk, the unit of parallel work.
    pub chunk: usize,
    /// At most this many elements per pass run in the calling thread.
    pub sequential: usize,
}

impl Default for Granularity {
    fn default() -> Self {
        Granularity {
            tile: bind::TILE_ELEMENTS,
            chunk: bind::CHUNK_ELEMENTS,
            sequential: 1 << 15,
        }
    }
}

/// A program's roots compiled for the fast evaluator; independent of the
/// dtype and of the data's sizes.
#[derive(Debug, Clone)]
pub struct Kernel {
    plan: plan::Plan,
}

/// One root's results.
#[derive(Debug, Clone)]
pub struct Output<T> {
    /// The root's value, of its shape (when [`Root::array`]).
    pub array: Option<ArrayD<T>>,
    /// The mean of its elements (when [`Root::mean`]).
    pub mean: Option<T>,
}

/// A kernel bound to one set of inputs, ready to run (repeatedly).
#[derive(Debug)]
pub struct Prepared<'k, 'a> {
    kernel: &'k Kernel,
    code: bind::Code,
    /// The inputs in the program's order.
    inputs: Vec<Tensor<'a>>,
    /// Generated functions for some passes, in one dtype.
    compiled: Option<Compiled>,
}

/// Generated pass functions attached to a [`Prepared`] kernel.
struct Compiled {
    /// `size_of` the dtype they were generated for.
    element_size: usize,
    passes: Vec<Option<(PassFn, codegen::GeneratedPass)>>,
    /// Keeps the functions' code loaded.
    _owner: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("element_size", &self.element_size)
            .field("passes", &self.passes)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// Compiles `roots` of `program`.
    pub fn compile(program: &Program, roots: &[Root]) -> Result<Kernel, EvalError> {
        Ok(Kernel {
            plan: plan::Plan::new(program, roots)?,
        })
    }

    /// This kernel with another [`Granularity`].
    pub fn with_granularity(mut self, granularity: Granularity) -> Kernel {
        self.plan.granularity = Granularity {
            tile: granularity.tile.max(1),
            chunk: granularity.chunk.max(1),
            sequential: granularity.sequential,
        };
        self
    }

    /// How many passes over the batch a run makes (0 when nothing varies
    /// over a batch).
    pub fn passes(&self) -> usize {
        self.plan.passes
    }

    /// Whether the batch is cut into chunks (true unless the program's shapes
    /// put the batch dimension elsewhere than first, in which case every value
    /// is computed whole, in one thread).
    pub fn is_chunked(&self) -> bool {
        self.plan.batch.is_some()
    }

    /// Binds `inputs` (by name) for evaluation in `T`: checks them against
    /// the declared shapes and binds every named dimension, with the oracle's
    /// errors (the messages name both inputs and the dimension).
    pub fn prepare<'k, 'a, T: Real>(&'k self, inputs: &[(&str, Tensor<'a>)]) -> Result<Prepared<'k, 'a>, EvalError> {
        let (ordered, dims) = bind(&self.plan, inputs)?;
        let native: Vec<bool> = ordered.iter().map(|t| T::native(t).is_some()).collect();
        let code = bind::Code::new(&self.plan, dims, &native)?;
        Ok(Prepared {
            kernel: self,
            code,
            inputs: ordered,
            compiled: None,
        })
    }

    /// Binds and runs in `T`: one [`Output`] per root, in order.
    pub fn run<T: Real>(&self, inputs: &[(&str, Tensor<'_>)]) -> Result<Vec<Output<T>>, EvalError> {
        Ok(self.prepare::<T>(inputs)?.run::<T>())
    }
}

impl Prepared<'_, '_> {
    /// Runs in `T` (the type it was prepared for; another type is correct
    /// but reads every input through a conversion).
    pub fn run<T: Real>(&self) -> Vec<Output<T>> {
        self.run_recycling(Vec::new())
    }

    /// [`Prepared::run`], writing into the arrays of an earlier run's outputs
    /// where they fit (in a loop, the gradient's memory is then not mapped
    /// and zeroed by the operating system on every call).
    pub fn run_recycling<T: Real>(&self, previous: Vec<Output<T>>) -> Vec<Output<T>> {
        self.run_observed(previous, &|| {})
    }

    /// [`Prepared::run_recycling`], calling `on_chunk` after each chunk of
    /// each pass ([`Prepared::chunks`] calls in all), from any thread: for a
    /// progress bar.
    pub fn run_observed<T: Real>(&self, previous: Vec<Output<T>>, on_chunk: &(dyn Fn() + Sync)) -> Vec<Output<T>> {
        let recycled = previous
            .into_iter()
            .map(|o| o.array.map(|a| run::OutBuffer::Owned(a.into_raw_vec_and_offset().0)))
            .collect();
        self.run_buffers(recycled, on_chunk)
    }

    /// The shape of root `k`'s value, as bound to the data (`None` when there
    /// is no root `k`).
    pub fn output_shape(&self, k: usize) -> Option<&[usize]> {
        let root = self.kernel.plan.roots.get(k)?;
        Some(&self.code.shapes[root.value])
    }

    /// [`Prepared::run_observed`], writing the array of each root `k` with
    /// `into[k]` given into that slice (in C order) instead of an array of
    /// its own: a caller can have the gradient written straight into a
    /// memory-mapped file. Those roots' [`Output::array`] is `None`; the
    /// values written are the ones [`Prepared::run`] returns, bit for bit.
    ///
    /// `None` (and nothing is run) when a slice does not hold exactly its
    /// root's element count ([`Prepared::output_shape`]) or its root does not
    /// return an array.
    pub fn run_into<T: Real>(
        &self,
        into: Vec<Option<&mut [T]>>,
        on_chunk: &(dyn Fn() + Sync),
    ) -> Option<Vec<Output<T>>> {
        let plan = &self.kernel.plan;
        let mut outputs = Vec::with_capacity(into.len());
        for (k, slice) in into.into_iter().enumerate() {
            let Some(slice) = slice else {
                outputs.push(None);
                continue;
            };
            let root = plan.roots.get(k)?;
            let count = self.code.shapes[root.value].iter().product::<usize>();
            if !root.array || slice.len() != count {
                return None;
            }
            outputs.push(Some(run::OutBuffer::Provided(slice)));
        }
        Some(self.run_buffers(outputs, on_chunk))
    }

    /// Runs with each root's array going where `outputs` says (see [`run::run`]).
    fn run_buffers<T: Real>(
        &self,
        outputs: Vec<Option<run::OutBuffer<'_, T>>>,
        on_chunk: &(dyn Fn() + Sync),
    ) -> Vec<Output<T>> {
        let plan = &self.kernel.plan;
        let compiled = match &self.compiled {
            Some(c) if c.element_size == std::mem::size_of::<T>() => &c.passes[..],
            _ => &[],
        };
        let outs = run::run::<T>(plan, &self.code, &self.inputs, outputs, compiled, on_chunk);
        outs.into_iter()
            .zip(&plan.roots)
            .map(|(out, root)| Output {
                array: out.array.map(|data| {
                    let shape = self.code.shapes[root.value].clone();
                    ArrayD::from_shape_vec(IxDyn(&shape), data).expect("an output has its value's element count")
                }),
                mean: out.mean,
            })
            .collect()
    }

    /// Each named dimension's size, as bound from the data.
    pub fn dims(&self) -> impl Iterator<Item = (&str, usize)> {
        self.kernel
            .plan
            .dim_names
            .iter()
            .zip(&self.code.dims)
            .filter_map(|(name, size)| size.map(|s| (name.as_str(), s)))
    }

    /// The batch size the passes run over (1 without a batch dimension).
    pub fn rows(&self) -> usize {
        self.code.rows
    }

    /// The number of chunks a run processes, over all its passes.
    pub fn chunks(&self) -> usize {
        self.code
            .passes
            .iter()
            .map(|pass| self.code.rows.div_ceil(pass.chunk_rows).max(1))
            .sum()
    }

    /// The bytes a run must move at least: every input read once, every
    /// array output written once.
    pub fn bytes_moved<T: Real>(&self) -> usize {
        let inputs: usize = self
            .inputs
            .iter()
            .map(|t| t.shape().iter().product::<usize>() * tensor::element_size(t))
            .sum();
        let outputs: usize = self
            .kernel
            .plan
            .roots
            .iter()
            .filter(|root| root.array)
            .map(|root| self.code.shapes[root.value].iter().product::<usize>() * std::mem::size_of::<T>())
            .sum();
        inputs + outputs
    }

    /// Rust source for the passes that can be fused into one loop each, in
    /// `T` (`None` when no pass can): to be compiled as a `cdylib` and
    /// attached with [`Prepared::attach`] (the `lossc-jit` crate does both).
    /// Runs the first stage to specialise `pow` on exponents known before
    /// the data is read.
    pub fn generate<T: Real>(&self) -> Option<Generated> {
        let plan = &self.kernel.plan;
        let known = codegen::static_values(plan);
        let statics = run::statics::<T>(plan, &self.code, &self.inputs, &known);
        codegen::generate::<T>(plan, &self.code, &statics)
    }

    /// Runs the passes `generated` covers in `T` through `functions` (in
    /// `generated.symbols()` order), which `owner` keeps loaded. Runs in
    /// another dtype stay interpreted.
    ///
    /// # Safety
    ///
    /// `generated` must be what [`Prepared::generate::<T>`] returned for this
    /// prepared kernel, and `functions` its symbols from a library compiled
    /// from exactly `generated.source`: they are called with raw pointers
    /// laid out as that source expects.
    #[allow(unsafe_code)] // A contract on the caller; nothing unsafe inside.
    pub unsafe fn attach<T: Real>(
        &mut self,
        generated: &Generated,
        functions: Vec<PassFn>,
        owner: Arc<dyn Any + Send + Sync>,
    ) {
        let mut functions = functions.into_iter();
        let passes = generated
            .passes
            .iter()
            .map(|pass| {
                let abi = pass.as_ref()?;
                Some((functions.next()?, abi.clone()))
            })
            .collect();
        self.compiled = Some(Compiled {
            element_size: std::mem::size_of::<T>(),
            passes,
            _owner: owner,
        });
    }

    /// How many passes run generated code (0 unless [`Prepared::attach`]ed).
    pub fn compiled_passes(&self) -> usize {
        self.compiled
            .as_ref()
            .map_or(0, |c| c.passes.iter().filter(|p| p.is_some()).count())
    }

    /// The bound code, one instruction a line: what each pass and stage runs
    /// (for `lossc bench --explain` and for people tuning the compiler).
    pub fn describe(&self) -> String {
        self.code.describe()
    }
}

/// One result of a program compiled for evaluation: its value (the mean of
/// a per-sample loss, whose samples are also returned on request) and, for
/// a loss, its gradient with respect to each variable.
#[derive(Debug, Clone)]
pub struct Evaluator {
    /// The loss or output.
    pub name: String,
    pub kind: ResultKind,
    /// The variables of the gradient, in order (empty: no gradient).
    pub wrt: Vec<String>,
    /// The result is a per-sample loss (rank 1): its value is the mean.
    pub per_sample: bool,
    kernel: Kernel,
}

/// What an [`Evaluator`] computed, in the evaluation's dtype.
#[derive(Debug, Clone)]
pub struct Evaluated<T> {
    /// A loss's value (0-d; the mean of a per-sample loss) or an output's tensor.
    pub value: ArrayD<T>,
    /// A per-sample loss's samples, when asked for.
    pub per_sample: Option<Array1<T>>,
    /// (variable, gradient), each of the variable's shape.
    pub gradient: Vec<(String, ArrayD<T>)>,
    /// Each named dimension's size, as bound from the data.
    pub dims: Vec<(String, usize)>,
}

impl Evaluator {
    /// Compiles `result` (a root of `program`) and the `gradient` roots (one
    /// per variable, nodes of the same program). `samples`: also return a
    /// per-sample loss's samples (else only their mean is computed, without
    /// writing them anywhere).
    pub fn new(
        program: &Program,
        name: &str,
        kind: ResultKind,
        result: NodeId,
        gradient: &[(String, NodeId)],
        samples: bool,
    ) -> Result<Evaluator, EvalError> {
        let rank = program.nodes.get(result.index()).map_or(0, |n| n.ty.shape.len());
        let per_sample = kind == ResultKind::Loss && rank == 1;
        let mut roots = vec![Root {
            node: result,
            array: !per_sample || samples,
            mean: per_sample,
        }];
        roots.extend(gradient.iter().map(|(_, node)| Root {
            node: *node,
            array: true,
            mean: false,
        }));
        Ok(Evaluator {
            name: name.to_string(),
            kind,
            wrt: gradient.iter().map(|(var, _)| var.clone()).collect(),
            per_sample,
            kernel: Kernel::compile(program, &roots)?,
        })
    }

    /// The compiled kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// This evaluator with another [`Granularity`].
    pub fn with_granularity(mut self, granularity: Granularity) -> Evaluator {
        self.kernel = self.kernel.with_granularity(granularity);
        self
    }

    /// Binds `inputs` for runs in `T` (see [`Kernel::prepare`]).
    pub fn prepare<'k, 'a, T: Real>(&'k self, inputs: &[(&str, Tensor<'a>)]) -> Result<Prepared<'k, 'a>, EvalError> {
        self.kernel.prepare::<T>(inputs)
    }

    /// Runs prepared inputs.
    pub fn run_prepared<T: Real>(&self, prepared: &Prepared<'_, '_>) -> Evaluated<T> {
        self.run_recycling(prepared, None)
    }

    /// Runs prepared inputs, reusing the arrays of an earlier result.
    pub fn run_recycling<T: Real>(&self, prepared: &Prepared<'_, '_>, previous: Option<Evaluated<T>>) -> Evaluated<T> {
        self.run_observed(prepared, previous, &|| {})
    }

    /// [`Evaluator::run_recycling`] with a call after every chunk (see
    /// [`Prepared::run_observed`]).
    pub fn run_observed<T: Real>(
        &self,
        prepared: &Prepared<'_, '_>,
        previous: Option<Evaluated<T>>,
        on_chunk: &(dyn Fn() + Sync),
    ) -> Evaluated<T> {
        let previous = match previous {
            Some(previous) => {
                let first = Output {
                    array: if self.per_sample {
                        previous.per_sample.map(|s| s.into_dyn())
                    } else {
                        Some(previous.value)
                    },
                    mean: None,
                };
                std::iter::once(first)
                    .chain(previous.gradient.into_iter().map(|(_, g)| Output {
                        array: Some(g),
                        mean: None,
                    }))
                    .collect()
            }
            None => Vec::new(),
        };
        let outputs = prepared.run_observed::<T>(previous, on_chunk);
        self.evaluated(prepared, outputs)
    }

    /// The shape of the gradient with respect to the `index`-th variable
    /// ([`Evaluator::wrt`]), as bound to `prepared`'s data.
    pub fn gradient_shape<'p>(&self, prepared: &'p Prepared<'_, '_>, index: usize) -> Option<&'p [usize]> {
        if index >= self.wrt.len() {
            return None;
        }
        prepared.output_shape(index + 1)
    }

    /// [`Evaluator::run_observed`] (without recycling), writing the gradient
    /// with respect to the first variable into `gradient` (C order) instead
    /// of an array of its own, for a gradient larger than memory written
    /// straight into a memory-mapped file. In the result, that variable's
    /// entry of [`Evaluated::gradient`] is an empty array (shape `[0]`); the
    /// numbers in `gradient` are the ones [`Evaluator::run_prepared`]
    /// returns, bit for bit.
    ///
    /// `None` (and nothing is run) without a gradient, or when `gradient`
    /// does not hold exactly [`Evaluator::gradient_shape`]'s element count.
    pub fn run_into<T: Real>(
        &self,
        prepared: &Prepared<'_, '_>,
        gradient: &mut [T],
        on_chunk: &(dyn Fn() + Sync),
    ) -> Option<Evaluated<T>> {
        if self.wrt.is_empty() {
            return None;
        }
        let outputs = prepared.run_into::<T>(vec![None, Some(gradient)], on_chunk)?;
        let mut evaluated = self.evaluated(prepared, outputs);
        if let Some((_, written)) = evaluated.gradient.first_mut() {
            *written = ArrayD::from_elem(IxDyn(&[0]), T::zero());
        }
        Some(evaluated)
    }

    /// A run's outputs (the result's first, then one per variable) as an
    /// [`Evaluated`].
    fn evaluated<T: Real>(&self, prepared: &Prepared<'_, '_>, outputs: Vec<Output<T>>) -> Evaluated<T> {
        let mut outputs = outputs.into_iter();
        let first = outputs.next().expect("the result is the first root");
        let (value, per_sample) = if self.per_sample {
            let mean = first.mean.unwrap_or_else(T::nan);
            let samples = first.array.and_then(|a| a.into_dimensionality::<Ix1>().ok());
            (ndarray::arr0(mean).into_dyn(), samples)
        } else {
            (first.array.unwrap_or_else(|| ndarray::arr0(T::nan()).into_dyn()), None)
        };
        let gradient = self
            .wrt
            .iter()
            .cloned()
            .zip(outputs.map(|o| o.array.unwrap_or_else(|| ndarray::arr0(T::nan()).into_dyn())))
            .collect();
        Evaluated {
            value,
            per_sample,
            gradient,
            dims: prepared.dims().map(|(n, s)| (n.to_string(), s)).collect(),
        }
    }

    /// Binds and runs in `T`.
    pub fn run<T: Real>(&self, inputs: &[(&str, Tensor<'_>)]) -> Result<Evaluated<T>, EvalError> {
        let prepared = self.prepare::<T>(inputs)?;
        Ok(self.run_prepared(&prepared))
    }
}

/// The inputs in program order, and the size of every named dimension.
#[allow(clippy::type_complexity)] // A pair, named at the call.
fn bind<'a>(
    plan: &plan::Plan,
    inputs: &[(&str, Tensor<'a>)],
) -> Result<(Vec<Tensor<'a>>, Vec<Option<usize>>), EvalError> {
    let declared: Vec<String> = plan.inputs.iter().map(|i| i.name.clone()).collect();
    let mut slots: Vec<Option<Tensor<'a>>> = vec![None; plan.inputs.len()];
    for (name, tensor) in inputs {
        let Some(index) = declared.iter().position(|d| d == name) else {
            return Err(lossc_ir::NoSuchInput::new(name, declared).into());
        };
        if slots[index].is_some() {
            return Err(EvalError::DuplicateInput { name: name.to_string() });
        }
        slots[index] = Some(tensor.clone());
    }
    // (input, axis, size) that bound each dimension first.
    let mut bound: Vec<Option<(usize, usize, usize)>> = vec![None; plan.dim_names.len()];
    let mut ordered = Vec::with_capacity(slots.len());
    let dim_name = |id: lossc_ir::DimId| {
        plan.dim_names
            .get(id.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("?{}", id.0))
    };
    for (index, (input, slot)) in plan.inputs.iter().zip(slots).enumerate() {
        let declared_shape = || lossc_ir::types::shape_to_string(&input.shape, &plan.dim_names);
        let Some(tensor) = slot else {
            return Err(EvalError::MissingInput {
                name: input.name.clone(),
                declared: declared_shape(),
            });
        };
        let shape = tensor.shape().to_vec();
        if shape.len() != input.shape.len() {
            return Err(EvalError::RankMismatch {
                input: input.name.clone(),
                declared: declared_shape(),
                data: shape,
                expected: input.shape.len(),
            });
        }
        for (axis, (&dim, &size)) in input.shape.iter().zip(&shape).enumerate() {
            match dim {
                Dim::Fixed(expected) => {
                    if size as u64 != expected {
                        return Err(EvalError::FixedDimMismatch {
                            input: input.name.clone(),
                            declared: declared_shape(),
                            data: shape.clone(),
                            axis,
                            expected,
                        });
                    }
                }
                Dim::Named(id) => {
                    if size == 0 {
                        return Err(EvalError::EmptyDim {
                            input: input.name.clone(),
                            dim: dim_name(id),
                            axis,
                        });
                    }
                    let Some(slot) = bound.get_mut(id.0 as usize) else {
                        return Err(EvalError::UnboundDim { dim: dim_name(id) });
                    };
                    match slot {
                        None => *slot = Some((index, axis, size)),
                        Some((first, first_axis, first_size)) if *first_size != size => {
                            return Err(EvalError::DimMismatch {
                                dim: dim_name(id),
                                first_input: plan.inputs[*first].name.clone(),
                                first_axis: *first_axis,
                                first_size: *first_size,
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
        ordered.push(tensor);
    }
    Ok((ordered, bound.into_iter().map(|b| b.map(|(_, _, s)| s)).collect()))
}

/// A STREAM-like triad, `a = b + scalar * c`, over all threads of the current
/// rayon pool with the engine's own chunking, tiles and stores: the memory
/// bandwidth a pass of the engine can reach (reads `b` and `c`, writes `a`).
pub fn triad<T: Real>(a: &mut [T], b: &[T], c: &[T], scalar: T) {
    use rayon::prelude::*;
    let n = a.len().min(b.len()).min(c.len());
    let streaming = n * std::mem::size_of::<T>() > run::STREAMING_BYTES;
    let chunk = bind::CHUNK_ELEMENTS;
    let arch = pulp::Arch::new();
    let body = |(a, (b, c)): (&mut [T], (&[T], &[T]))| {
        let mut tile = [T::zero(); bind::TILE_ELEMENTS];
        for ((a, b), c) in a
            .chunks_mut(bind::TILE_ELEMENTS)
            .zip(b.chunks(bind::TILE_ELEMENTS))
            .zip(c.chunks(bind::TILE_ELEMENTS))
        {
            let tile = &mut tile[..a.len()];
            tile::vectorize(
                arch,
                #[inline(always)]
                || {
                    for ((t, &x), &y) in tile.iter_mut().zip(b).zip(c) {
                        *t = x + scalar * y;
                    }
                },
            );
            if streaming {
                stream::copy(a, tile);
            } else {
                a.copy_from_slice(tile);
            }
        }
    };
    a[..n]
        .par_chunks_mut(chunk)
        .zip(b[..n].par_chunks(chunk).zip(c[..n].par_chunks(chunk)))
        .for_each(body);
}
