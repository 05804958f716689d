//! Running bound code: the stages once, each pass chunk by chunk in parallel
//! (or in the calling thread for a small batch), the global reductions'
//! per-chunk partial results joined in a fixed order.

use rayon::prelude::*;

use crate::bind::{Code, Dst, GlobalReduce, Instr, Pass, Src, Stage};
use crate::codegen::{Call, GeneratedPass, PassFn, Statics};
use crate::plan::{Plan, ReduceKind, VOp};
use crate::tensor::{Real, Tensor};
use crate::tile::{self, Arg, LaneSum, join};

/// Outputs larger than this (in bytes, all outputs of a pass together) are
/// written with streaming stores.
pub(crate) const STREAMING_BYTES: usize = 8 << 20;

/// A register: a buffer whose usable part starts on a 64-byte boundary, so
/// that no vector load or store of the tile loops straddles two cache lines.
#[derive(Debug, Default)]
struct Reg<T> {
    data: Vec<T>,
    start: usize,
}

impl<T: Real> Reg<T> {
    fn new(len: usize) -> Self {
        let data = vec![T::zero(); len + 64 / std::mem::size_of::<T>()];
        let start = data.as_ptr().align_offset(64).min(data.len() - len);
        Reg { data, start }
    }

    fn get(&self) -> &[T] {
        &self.data[self.start..]
    }

    fn get_mut(&mut self) -> &mut [T] {
        &mut self.data[self.start..]
    }
}

/// One root's results.
#[derive(Debug, Clone)]
pub(crate) struct RootOut<T> {
    pub array: Option<Vec<T>>,
    pub mean: Option<T>,
}

/// Generated functions for some passes (`None`: interpreted), each with
/// what it must be passed.
pub(crate) type Compiled = [Option<(PassFn, GeneratedPass)>];

/// Everything a run reads.
struct Env<'a, 'd, T> {
    plan: &'a Plan,
    code: &'a Code,
    inputs: &'a [Tensor<'d>],
    native: Vec<Option<&'d [T]>>,
    arch: pulp::Arch,
    compiled: &'a Compiled,
}

impl<'a, 'd, T: Real> Env<'a, 'd, T> {
    fn new(plan: &'a Plan, code: &'a Code, inputs: &'a [Tensor<'d>], compiled: &'a Compiled) -> Self {
        Env {
            plan,
            code,
            inputs,
            native: inputs.iter().map(|t| T::native(t)).collect(),
            arch: pulp::Arch::new(),
            compiled,
        }
    }
}

/// The values of the uniform values `known` marks (computed before the
/// first pass, independent of the data), by running the first stage.
pub(crate) fn statics<T: Real>(plan: &Plan, code: &Code, inputs: &[Tensor<'_>], known: &[bool]) -> Statics<T> {
    let env = Env::new(plan, code, inputs, &[]);
    let mut uniform: Vec<Vec<T>> = vec![Vec::new(); plan.values.len()];
    if let Some(stage) = code.stages.first() {
        run_stage(&env, stage, &mut uniform);
    }
    (0..plan.values.len())
        .map(|v| {
            let u = code.alias[v];
            (known[v] && known[u] && uniform[u].len() == 1).then(|| uniform[u][0])
        })
        .collect()
}

/// Where a root's array goes: a buffer the run owns (returned in its
/// [`RootOut`]) or one the caller provided (written in place).
#[derive(Debug)]
pub(crate) enum OutBuffer<'o, T> {
    Owned(Vec<T>),
    Provided(&'o mut [T]),
}

impl<T> OutBuffer<'_, T> {
    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            OutBuffer::Owned(buffer) => buffer,
            OutBuffer::Provided(slice) => slice,
        }
    }

    fn len(&self) -> usize {
        match self {
            OutBuffer::Owned(buffer) => buffer.len(),
            OutBuffer::Provided(slice) => slice.len(),
        }
    }
}

/// Runs `code` on `inputs` (in plan input order).
/// `outputs[k]`: where root `k`'s array goes. An owned buffer (of an earlier
/// run) is reused if it has the right length (no page faults on fresh memory
/// in a loop); a provided slice, which the caller made the right length, is
/// written in place and that root's [`RootOut::array`] is `None`.
pub(crate) fn run<'a, 'd, 'o, T: Real>(
    plan: &'a Plan,
    code: &'a Code,
    inputs: &'a [Tensor<'d>],
    outputs: Vec<Option<OutBuffer<'o, T>>>,
    compiled: &'a Compiled,
    on_chunk: &(dyn Fn() + Sync),
) -> Vec<RootOut<T>> {
    let env = Env::new(plan, code, inputs, compiled);
    let mut uniform: Vec<Vec<T>> = vec![Vec::new(); plan.values.len()];
    let mut outputs = outputs;
    outputs.resize_with(plan.roots.len(), || None);
    for (p, stage) in code.stages.iter().enumerate() {
        run_stage(&env, stage, &mut uniform);
        if let Some(pass) = code.passes.get(p) {
            let compiled = env.compiled.get(p).and_then(Option::as_ref);
            run_pass(&env, pass, compiled, &mut uniform, &mut outputs, on_chunk);
        }
    }
    plan.roots
        .iter()
        .zip(outputs)
        .map(|(root, buffer)| {
            let varying = plan.values[root.value].varying;
            let array = match (root.array, buffer) {
                (false, _) => None,
                (true, Some(OutBuffer::Owned(array))) if varying => Some(array),
                (true, Some(OutBuffer::Provided(_))) if varying => None,
                (true, Some(OutBuffer::Provided(slice))) => {
                    // A value uniform over the batch, computed whole: copied
                    // where the caller wants it.
                    let value = &uniform[code.alias[root.value]];
                    let n = slice.len().min(value.len());
                    slice[..n].copy_from_slice(&value[..n]);
                    None
                }
                (true, _) => Some(uniform[code.alias[root.value]].clone()),
            };
            let mean = root.mean_sum.map(|s| {
                let count = code.shapes[root.value].iter().product::<usize>().max(1);
                uniform[s].first().copied().unwrap_or_else(T::nan) / T::from_f64(count as f64)
            });
            RootOut { array, mean }
        })
        .collect()
}

/// The value of a leaf.
fn leaf<T: Real>(env: &Env<'_, '_, T>, v: usize) -> Vec<T> {
    let plan = env.plan;
    let code = env.code;
    let from = |values: &[f64]| values.iter().map(|&x| T::from_f64(x)).collect();
    match &plan.values[v].op {
        VOp::Literal(x) => vec![T::from_f64(*x)],
        VOp::Param(i) => from(&plan.params[*i]),
        VOp::Const(i) => from(&plan.consts[*i]),
        VOp::DimSize(d) => vec![T::from_f64(code.dims[d.0 as usize].unwrap_or(0) as f64)],
        VOp::Count(dims) => {
            let count: usize = dims
                .iter()
                .map(|d| match d {
                    lossc_ir::Dim::Fixed(n) => *n as usize,
                    lossc_ir::Dim::Named(id) => code.dims[id.0 as usize].unwrap_or(0),
                })
                .product();
            vec![T::from_f64(count as f64)]
        }
        VOp::Input(i) => {
            let tensor = &env.inputs[*i];
            let mut out = vec![T::zero(); code.widths[v]];
            let rows = tensor.shape().first().copied().unwrap_or(1);
            tensor.read_rows(0..rows, &mut out);
            out
        }
        _ => Vec::new(),
    }
}

fn run_stage<T: Real>(env: &Env<'_, '_, T>, stage: &Stage, uniform: &mut [Vec<T>]) {
    for &v in &stage.leaves {
        uniform[v] = leaf(env, v);
    }
    let mut regs: Vec<Reg<T>> = (0..stage.n_regs).map(|_| Reg::new(stage.width)).collect();
    for instr in &stage.instrs {
        let dst_width = match instr {
            Instr::Map { width, .. } => *width,
            Instr::Gather { map, .. } => map.len(),
            Instr::RowReduce { groups, .. } => *groups,
            Instr::OneHot { width, classes, .. } => width * classes,
            Instr::Load { .. } | Instr::Store { .. } | Instr::Accumulate { .. } => 0,
        };
        let dst = match instr {
            Instr::Map { dst, .. }
            | Instr::Gather { dst, .. }
            | Instr::RowReduce { dst, .. }
            | Instr::OneHot { dst, .. } => *dst,
            _ => continue,
        };
        let mut out = match dst {
            Dst::Reg(r) => std::mem::take(&mut regs[r]),
            Dst::Uniform(_) => Reg {
                data: vec![T::zero(); dst_width],
                start: 0,
            },
        };
        {
            let read = |src: Src| -> Arg<'_, T> {
                match src {
                    Src::Reg(r) => Arg::Slice(regs[r].get()),
                    Src::Uniform(u) => Arg::Slice(&uniform[u][..]),
                    Src::Scalar(_) | Src::Input(_) => Arg::Value(T::nan()),
                }
            };
            execute(env.arch, instr, 1, &mut out.get_mut()[..dst_width], read);
        }
        match dst {
            Dst::Reg(r) => regs[r] = out,
            Dst::Uniform(v) => uniform[v] = out.data,
        }
    }
}

/// Executes one computing instruction over `rows` rows into `out`.
fn execute<'s, T: Real>(arch: pulp::Arch, instr: &Instr, rows: usize, out: &mut [T], read: impl Fn(Src) -> Arg<'s, T>) {
    let slice = |src: Src| match read(src) {
        Arg::Slice(s) => s,
        Arg::Value(_) => &[][..],
    };
    match instr {
        Instr::Map { op, args, width, .. } => {
            let mut operands = [Arg::Value(T::nan()); 3];
            for (slot, &a) in operands.iter_mut().zip(args) {
                *slot = read(a);
            }
            tile::map(arch, *op, &mut out[..rows * width], &operands[..args.len()]);
        }
        Instr::Gather { src, stride, map, .. } => {
            tile::gather(out, rows, slice(*src), *stride, map);
        }
        Instr::RowReduce {
            kind,
            src,
            width,
            groups,
            q,
            perm,
            ..
        } => {
            tile::row_reduce(
                arch,
                *kind,
                out,
                rows,
                slice(*src),
                *width,
                *groups,
                *q,
                perm.as_deref(),
            );
        }
        Instr::OneHot {
            labels, width, classes, ..
        } => {
            tile::one_hot(out, rows, slice(*labels), *width, *classes);
        }
        Instr::Load { .. } | Instr::Store { .. } | Instr::Accumulate { .. } => {}
    }
}

/// A global reduction's running result in one chunk.
#[derive(Debug, Clone)]
enum Partial<T> {
    /// All of the operand into one compensated sum.
    Lanes(LaneSum<T>),
    /// One (sum, error) per result element.
    Sums(Vec<(T, T)>),
    /// One maximum or minimum per result element.
    Extremes(Vec<T>),
}

impl<T: Real> Partial<T> {
    fn new(reduce: &GlobalReduce) -> Self {
        match reduce.kind {
            ReduceKind::Sum if reduce.map.is_none() => Partial::Lanes(LaneSum::new()),
            ReduceKind::Sum => Partial::Sums(vec![(T::zero(), T::zero()); reduce.out]),
            ReduceKind::Max => Partial::Extremes(vec![T::neg_infinity(); reduce.out]),
            ReduceKind::Min => Partial::Extremes(vec![T::infinity(); reduce.out]),
        }
    }

    fn add(&mut self, arch: pulp::Arch, reduce: &GlobalReduce, values: &[T], width: usize) {
        match self {
            Partial::Lanes(lanes) => lanes.add(arch, values),
            Partial::Sums(sums) => {
                let map = reduce.map.as_deref().unwrap_or(&[]);
                for row in values.chunks_exact(width) {
                    for (&x, &o) in row.iter().zip(map) {
                        sums[o] = lossc_ir::builtins::sum_step(sums[o], x);
                    }
                }
            }
            Partial::Extremes(extremes) => {
                let max = reduce.kind == ReduceKind::Max;
                match reduce.map.as_deref() {
                    None => {
                        let m = &mut extremes[0];
                        for &x in values {
                            *m = if max {
                                tile::maximum(*m, x)
                            } else {
                                tile::minimum(*m, x)
                            };
                        }
                    }
                    Some(map) => {
                        for row in values.chunks_exact(width) {
                            for (&x, &o) in row.iter().zip(map) {
                                let m = &mut extremes[o];
                                *m = if max {
                                    tile::maximum(*m, x)
                                } else {
                                    tile::minimum(*m, x)
                                };
                            }
                        }
                    }
                }
            }
        }
    }

    /// (sum, error) per element, or the extremes with no error.
    fn finish(self) -> Vec<(T, T)> {
        match self {
            Partial::Lanes(lanes) => vec![lanes.finish()],
            Partial::Sums(sums) => sums,
            Partial::Extremes(values) => values.into_iter().map(|v| (v, T::zero())).collect(),
        }
    }
}

/// Joins the chunks' partial results pairwise, in chunk order.
fn combine<T: Real>(kind: ReduceKind, parts: &[Vec<(T, T)>]) -> Vec<(T, T)> {
    match parts {
        [] => Vec::new(),
        [one] => one.clone(),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            let (left, right) = (combine(kind, left), combine(kind, right));
            left.into_iter()
                .zip(right)
                .map(|(a, b)| match kind {
                    ReduceKind::Sum => join(a, b),
                    ReduceKind::Max => (tile::maximum(a.0, b.0), T::zero()),
                    ReduceKind::Min => (tile::minimum(a.0, b.0), T::zero()),
                })
                .collect()
        }
    }
}

fn run_pass<T: Real>(
    env: &Env<'_, '_, T>,
    pass: &Pass,
    compiled: Option<&(PassFn, GeneratedPass)>,
    uniform: &mut [Vec<T>],
    outputs: &mut [Option<OutBuffer<'_, T>>],
    on_chunk: &(dyn Fn() + Sync),
) {
    let code = env.code;
    let plan = env.plan;
    let rows = code.rows;
    // Generated code reads its inputs in place: in a dtype other than the
    // one it was generated for they are not, and the pass is interpreted.
    let compiled = compiled.filter(|(_, abi)| abi.inputs.iter().all(|&i| env.native[i].is_some()));
    // The outputs this pass writes, allocated whole, then cut into chunks.
    let widths: Vec<usize> = pass.outputs.iter().map(|&k| code.widths[plan.roots[k].value]).collect();
    let mut buffers: Vec<OutBuffer<'_, T>> = pass
        .outputs
        .iter()
        .zip(&widths)
        .map(|(&k, w)| match outputs[k].take() {
            Some(buffer) if buffer.len() == rows * w => buffer,
            _ => OutBuffer::Owned(vec![T::zero(); rows * w]),
        })
        .collect();
    let output_bytes: usize = widths.iter().map(|w| rows * w * std::mem::size_of::<T>()).sum();
    let streaming = output_bytes > STREAMING_BYTES;
    let n_chunks = rows.div_ceil(pass.chunk_rows).max(1);
    let mut per_chunk: Vec<Vec<&mut [T]>> = (0..n_chunks).map(|_| Vec::new()).collect();
    for (buffer, &w) in buffers.iter_mut().zip(&widths) {
        // Sizes are at least 1 (the binding checks), so every chunk gets a part.
        for (c, part) in buffer.as_mut_slice().chunks_mut(pass.chunk_rows * w).enumerate() {
            per_chunk[c].push(part);
        }
    }
    let scalars: Vec<T> = pass
        .scalars
        .iter()
        .map(|&u| uniform[u].first().copied().unwrap_or_else(T::nan))
        .collect();
    // What every chunk of a generated pass reads: made once per pass.
    let (compiled_scalars, compiled_inputs): (Vec<T>, Vec<&[T]>) = match compiled {
        Some((_, abi)) => (
            abi.scalars
                .iter()
                .map(|&(u, e)| uniform[u].get(e).copied().unwrap_or_else(T::nan))
                .collect(),
            abi.inputs.iter().map(|&i| env.native[i].unwrap_or(&[])).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let context = ChunkContext {
        env,
        pass,
        uniform,
        scalars: &scalars,
        streaming,
        compiled,
        compiled_scalars: &compiled_scalars,
        compiled_inputs: &compiled_inputs,
    };
    let work: Vec<(usize, Vec<&mut [T]>)> = per_chunk.into_iter().enumerate().collect();
    let sequential = rows * pass.width <= plan.granularity.sequential || rayon::current_num_threads() == 1;
    // Registers are made once per worker (not per chunk) and reused.
    // (Generated code keeps its values in registers of the CPU: none here.)
    let n_regs = if compiled.is_some() { 0 } else { pass.n_regs };
    let registers = || -> Vec<Reg<T>> { (0..n_regs).map(|_| Reg::new(pass.tile_rows * pass.width)).collect() };
    let run_chunk = |regs: &mut Vec<Reg<T>>, (c, outs)| {
        let partial = context.chunk(c, outs, regs);
        on_chunk();
        partial
    };
    let partials: Vec<Vec<Partial<T>>> = if sequential {
        let mut regs = registers();
        work.into_iter().map(|item| run_chunk(&mut regs, item)).collect()
    } else {
        work.into_par_iter().map_init(registers, run_chunk).collect()
    };
    // Join the partial results in chunk order, whatever thread made them.
    let mut by_reduction: Vec<Vec<Vec<(T, T)>>> = vec![Vec::with_capacity(n_chunks); pass.reductions.len()];
    for chunk in partials {
        for (k, partial) in chunk.into_iter().enumerate() {
            by_reduction[k].push(partial.finish());
        }
    }
    for (reduce, parts) in pass.reductions.iter().zip(by_reduction) {
        let joined = combine(reduce.kind, &parts);
        uniform[reduce.value] = joined
            .into_iter()
            .map(|(s, e)| lossc_ir::builtins::sum_finish(s, e))
            .collect();
    }
    for (&k, buffer) in pass.outputs.iter().zip(buffers) {
        outputs[k] = Some(buffer);
    }
}

/// What every chunk of a pass shares.
struct ChunkContext<'a, 'e, 'd, T> {
    env: &'a Env<'e, 'd, T>,
    pass: &'a Pass,
    uniform: &'a [Vec<T>],
    scalars: &'a [T],
    streaming: bool,
    compiled: Option<&'a (PassFn, GeneratedPass)>,
    /// The generated pass's scalars and inputs, in its order.
    compiled_scalars: &'a [T],
    compiled_inputs: &'a [&'a [T]],
}

impl<T: Real> ChunkContext<'_, '_, '_, T> {
    fn chunk(&self, c: usize, outs: Vec<&mut [T]>, regs: &mut [Reg<T>]) -> Vec<Partial<T>> {
        match self.compiled {
            Some((function, abi)) => self.chunk_compiled(c, outs, *function, abi),
            None => self.chunk_interpreted(c, outs, regs),
        }
    }

    /// A chunk through a generated function, tile by tile (the
    /// interpreter's tiles, so the partial sums' lanes get the same values
    /// in the same order).
    fn chunk_compiled(
        &self,
        c: usize,
        mut outs: Vec<&mut [T]>,
        function: PassFn,
        abi: &GeneratedPass,
    ) -> Vec<Partial<T>> {
        let pass = self.pass;
        let env = self.env;
        let tile = pass.tile_rows;
        let start = c * pass.chunk_rows;
        let end = ((c + 1) * pass.chunk_rows).min(env.code.rows);
        let (scalars, inputs) = (self.compiled_scalars, self.compiled_inputs);
        let mut partials: Vec<Partial<T>> = pass.reductions.iter().map(Partial::new).collect();
        let mut sums = vec![[T::zero(); tile::SUM_LANES]; abi.reductions.len()];
        let mut errors = sums.clone();
        let mut scratch: Vec<Vec<T>> = if self.streaming {
            abi.output_widths.iter().map(|w| vec![T::zero(); tile * w]).collect()
        } else {
            Vec::new()
        };
        let mut row = start;
        // The tile's pointers, refilled for each tile (no allocation per tile).
        let mut input_ptrs: Vec<*const std::ffi::c_void> = Vec::with_capacity(inputs.len());
        let mut output_ptrs: Vec<*mut std::ffi::c_void> = Vec::with_capacity(outs.len());
        while row < end {
            let rows = tile.min(end - row);
            let offset = row - start;
            input_ptrs.clear();
            input_ptrs.extend(
                inputs
                    .iter()
                    .zip(&abi.input_widths)
                    .map(|(data, w)| data[row * w..(row + rows) * w].as_ptr().cast::<std::ffi::c_void>()),
            );
            output_ptrs.clear();
            if self.streaming {
                output_ptrs.extend(scratch.iter_mut().map(|s| s.as_mut_ptr().cast::<std::ffi::c_void>()));
            } else {
                output_ptrs.extend(outs.iter_mut().zip(&abi.output_widths).map(|(o, w)| {
                    o[offset * w..(offset + rows) * w]
                        .as_mut_ptr()
                        .cast::<std::ffi::c_void>()
                }));
            }
            let call = Call {
                n: rows,
                inputs: input_ptrs.as_ptr(),
                outputs: output_ptrs.as_ptr(),
                scalars: scalars.as_ptr().cast(),
                sums: sums.as_mut_ptr().cast(),
                errors: errors.as_mut_ptr().cast(),
            };
            call_generated(function, &call);
            if self.streaming {
                for ((o, s), w) in outs.iter_mut().zip(&scratch).zip(&abi.output_widths) {
                    crate::stream::copy(&mut o[offset * w..(offset + rows) * w], &s[..rows * w]);
                }
            }
            row += rows;
        }
        for (j, &k) in abi.reductions.iter().enumerate() {
            if let Partial::Lanes(lanes) = &mut partials[k] {
                let (sum, error) = lanes.lanes_mut();
                *sum = sums[j];
                *error = errors[j];
            }
        }
        partials
    }

    fn chunk_interpreted(&self, c: usize, mut outs: Vec<&mut [T]>, regs: &mut [Reg<T>]) -> Vec<Partial<T>> {
        let pass = self.pass;
        let env = self.env;
        let arch = env.arch;
        let tile = pass.tile_rows;
        let start = c * pass.chunk_rows;
        let end = ((c + 1) * pass.chunk_rows).min(env.code.rows);
        for instr in &pass.prefill {
            if let Instr::Gather {
                dst: Dst::Reg(r),
                src: Src::Uniform(u),
                map,
                ..
            } = instr
            {
                tile::gather(regs[*r].get_mut(), tile, &self.uniform[*u], 0, map);
            }
        }
        let mut partials: Vec<Partial<T>> = pass.reductions.iter().map(Partial::new).collect();
        let mut row = start;
        while row < end {
            let rows = tile.min(end - row);
            for instr in &pass.instrs {
                match instr {
                    Instr::Load { dst, input } => {
                        let width = env.code.input_widths[*input];
                        env.inputs[*input].read_rows(row..row + rows, &mut regs[*dst].get_mut()[..rows * width]);
                    }
                    Instr::Store { output, src, width } => {
                        let offset = (row - start) * width;
                        let dst = &mut outs[*output][offset..offset + rows * width];
                        let values = self.slice(regs, *src, row, rows, *width);
                        if self.streaming {
                            crate::stream::copy(dst, values);
                        } else {
                            dst.copy_from_slice(values);
                        }
                    }
                    Instr::Accumulate { reduction, src, width } => {
                        let values = self.slice(regs, *src, row, rows, *width);
                        partials[*reduction].add(arch, &pass.reductions[*reduction], values, *width);
                    }
                    Instr::Map { dst: Dst::Reg(r), .. }
                    | Instr::Gather { dst: Dst::Reg(r), .. }
                    | Instr::RowReduce { dst: Dst::Reg(r), .. }
                    | Instr::OneHot { dst: Dst::Reg(r), .. } => {
                        let mut out = std::mem::take(&mut regs[*r]);
                        {
                            let read = |src: Src| -> Arg<'_, T> {
                                match src {
                                    Src::Scalar(k) => Arg::Value(self.scalars[k]),
                                    other => Arg::Slice(self.full(regs, other, row, rows)),
                                }
                            };
                            execute(arch, instr, rows, out.get_mut(), read);
                        }
                        regs[*r] = out;
                    }
                    Instr::Map { .. } | Instr::Gather { .. } | Instr::RowReduce { .. } | Instr::OneHot { .. } => {}
                }
            }
            row += rows;
        }
        partials
    }

    /// The tile's data of `src` (the first `rows * width` elements).
    fn slice<'r>(&'r self, regs: &'r [Reg<T>], src: Src, row: usize, rows: usize, width: usize) -> &'r [T] {
        &self.full(regs, src, row, rows)[..rows * width]
    }

    /// The tile's data of `src`, from its first element (registers whole).
    fn full<'r>(&'r self, regs: &'r [Reg<T>], src: Src, row: usize, rows: usize) -> &'r [T] {
        match src {
            Src::Reg(r) => regs[r].get(),
            Src::Input(i) => {
                let width = self.env.code.input_widths[i];
                let data = self.env.native[i].unwrap_or(&[]);
                &data[row * width..(row + rows) * width]
            }
            Src::Uniform(u) => &self.uniform[u],
            Src::Scalar(k) => std::slice::from_ref(&self.scalars[k]),
        }
    }
}

/// Calls a generated pass function on one tile.
#[allow(unsafe_code)]
fn call_generated(function: PassFn, call: &Call) {
    // SAFETY: `function` was generated for this pass by `codegen` and
    // compiled from that source (the contract of `Prepared::attach`, which
    // is `unsafe`); it reads `call.n` elements from each input pointer and
    // writes `call.n` to each output pointer, all of which point into slices
    // of at least `call.n` elements built above; it reads as many scalars and
    // lane arrays as `GeneratedPass` lists, which is how many are passed.
    unsafe { function(call) }
}
