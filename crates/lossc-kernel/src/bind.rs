//! A plan bound to concrete sizes: the instructions of each pass over the
//! batch (run tile by tile over L1-sized tiles of rows, every intermediate in
//! a small register of the tile's size, never an array of the batch's size)
//! and of each uniform stage between passes (run once), with registers
//! allocated by liveness.

use lossc_ir::{Builtin, Dim};
use lossc_reference::EvalError;

use crate::plan::{Plan, ReduceKind, VOp};

/// Elements per tile: every register of a pass holds this many (a multiple
/// of the row width), so a pass's live registers stay in the L1 cache.
pub(crate) const TILE_ELEMENTS: usize = 1024;
/// Elements per chunk, the unit of parallel work; fixed, so results do not
/// depend on the thread count.
pub(crate) const CHUNK_ELEMENTS: usize = 1 << 16;

/// Where an instruction reads an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// A register (a tile of the pass, or a stage's temporary).
    Reg(usize),
    /// An input read in place (the tile's rows).
    Input(usize),
    /// A uniform value with one element, as a number.
    Scalar(usize),
    /// A whole uniform value (in a stage, which has one row).
    Uniform(usize),
}

/// Where an instruction writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dst {
    Reg(usize),
    Uniform(usize),
}

/// The elementwise operation of a [`Instr::Map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapOp {
    Builtin(Builtin),
    /// `if m is finite { m + ln(s) } else { m }`.
    LseFinish,
}

#[derive(Debug, Clone)]
pub(crate) enum Instr {
    /// An input that cannot be read in place, converted tile by tile.
    Load { dst: usize, input: usize },
    /// Elementwise; every operand has the destination's width or is a scalar.
    Map {
        op: MapOp,
        dst: Dst,
        args: Vec<Src>,
        width: usize,
    },
    /// `out[r * map.len() + o] = src[r * stride + map[o]]`: broadcasting,
    /// `take`, and uniform values spread over a tile (`stride` 0).
    Gather {
        dst: Dst,
        src: Src,
        stride: usize,
        map: Vec<usize>,
    },
    /// A reduction within each row: `groups` results per row, each of `q`
    /// elements of the row (through `perm` when they are not contiguous).
    RowReduce {
        kind: ReduceKind,
        dst: Dst,
        src: Src,
        width: usize,
        groups: usize,
        q: usize,
        perm: Option<Vec<usize>>,
    },
    /// Rows of `width` labels to rows of `width * classes` 0/1.
    OneHot {
        dst: Dst,
        labels: Src,
        width: usize,
        classes: usize,
    },
    /// Writes the tile to a root's output (pass) or keeps a register as a
    /// uniform value (stage).
    Store { output: usize, src: Src, width: usize },
    /// Adds the tile to a global reduction's partial result.
    Accumulate { reduction: usize, src: Src, width: usize },
}

/// A reduction over the batch axis, accumulated chunk by chunk.
#[derive(Debug, Clone)]
pub(crate) struct GlobalReduce {
    /// The uniform value it produces.
    pub value: usize,
    pub kind: ReduceKind,
    /// The result's element count.
    pub out: usize,
    /// For each element of the operand's row, the result element it goes to
    /// (`None`: all to element 0).
    pub map: Option<Vec<usize>>,
}

/// One pass over the batch.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    pub instrs: Vec<Instr>,
    /// Registers filled once per chunk (uniform values spread over a tile).
    pub prefill: Vec<Instr>,
    pub n_regs: usize,
    /// Register size, in elements per row.
    pub width: usize,
    pub tile_rows: usize,
    pub chunk_rows: usize,
    /// Uniform values read as [`Src::Scalar`], by index.
    pub scalars: Vec<usize>,
    pub reductions: Vec<GlobalReduce>,
    /// The roots (by index) this pass writes, in [`Instr::Store`]'s `output` order.
    pub outputs: Vec<usize>,
}

/// Uniform values computed between passes, one row each.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stage {
    pub instrs: Vec<Instr>,
    pub n_regs: usize,
    /// Largest element count of a value or register of the stage.
    pub width: usize,
    pub scalars: Vec<usize>,
    /// Leaves computed directly: (value, kind).
    pub leaves: Vec<usize>,
}

/// A plan for concrete sizes.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    /// The batch size (1 without a batch dimension).
    pub rows: usize,
    pub dims: Vec<Option<usize>>,
    /// Per value: its shape, and its element count per row (varying) or in all (uniform).
    pub shapes: Vec<Vec<usize>>,
    pub widths: Vec<usize>,
    /// Stage `p` runs before pass `p`; the last after the last pass.
    pub stages: Vec<Stage>,
    pub passes: Vec<Pass>,
    /// Per input: its elements per row (varying) or in all.
    pub input_widths: Vec<usize>,
    /// Per value: the uniform value whose buffer holds its data (itself, or
    /// for a uniform `Reshape` the value it reshapes).
    pub alias: Vec<usize>,
}

impl Code {
    /// Binds `plan` to dimension sizes; `native[i]` says whether input `i`
    /// can be read in place.
    pub fn new(plan: &Plan, dims: Vec<Option<usize>>, native: &[bool]) -> Result<Code, EvalError> {
        let size = |d: &Dim| match d {
            Dim::Fixed(n) => Ok(*n as usize),
            Dim::Named(id) => dims
                .get(id.0 as usize)
                .copied()
                .flatten()
                .ok_or_else(|| EvalError::UnboundDim {
                    dim: plan
                        .dim_names
                        .get(id.0 as usize)
                        .cloned()
                        .unwrap_or_else(|| format!("?{}", id.0)),
                }),
        };
        let mut shapes = Vec::with_capacity(plan.values.len());
        let mut widths = Vec::with_capacity(plan.values.len());
        for value in &plan.values {
            let shape = value.shape.iter().map(size).collect::<Result<Vec<usize>, _>>()?;
            let inner: usize = if value.varying {
                shape[1..].iter().product()
            } else {
                shape.iter().product()
            };
            shapes.push(shape);
            widths.push(inner);
        }
        let rows = match plan.batch {
            Some(b) => size(&Dim::Named(b))?,
            None => 1,
        };
        let input_widths = plan
            .inputs
            .iter()
            .map(|input| {
                let shape = input.shape.iter().map(size).collect::<Result<Vec<usize>, _>>()?;
                Ok(
                    if plan.batch.is_some() && input.shape.first() == plan.batch.map(Dim::Named).as_ref() {
                        shape[1..].iter().product()
                    } else {
                        shape.iter().product()
                    },
                )
            })
            .collect::<Result<Vec<usize>, EvalError>>()?;
        let mut alias: Vec<usize> = (0..plan.values.len()).collect();
        for (v, value) in plan.values.iter().enumerate() {
            if value.op == VOp::Reshape && !value.varying {
                alias[v] = alias[value.args[0]];
            }
        }
        let mut code = Code {
            rows,
            dims,
            shapes,
            widths,
            stages: Vec::new(),
            passes: Vec::new(),
            input_widths,
            alias,
        };
        for p in 0..=plan.passes {
            let stage = code.stage(plan, p)?;
            code.stages.push(stage);
            if p < plan.passes {
                let pass = code.pass(plan, p, native)?;
                code.passes.push(pass);
            }
        }
        Ok(code)
    }

    /// A listing of the stages and passes.
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut text = String::new();
        for (p, stage) in self.stages.iter().enumerate() {
            if !stage.instrs.is_empty() || !stage.leaves.is_empty() {
                let _ = writeln!(
                    text,
                    "stage {p}: {} leaves, {} registers",
                    stage.leaves.len(),
                    stage.n_regs
                );
                for instr in &stage.instrs {
                    let _ = writeln!(text, "  {instr:?}");
                }
            }
            if let Some(pass) = self.passes.get(p) {
                let _ = writeln!(
                    text,
                    "pass {p}: {} registers of {} rows x {}, chunks of {} rows, {} global reductions, writes roots {:?}",
                    pass.n_regs,
                    pass.tile_rows,
                    pass.width,
                    pass.chunk_rows,
                    pass.reductions.len(),
                    pass.outputs
                );
                for instr in pass.prefill.iter().chain(&pass.instrs) {
                    let _ = writeln!(text, "  {instr:?}");
                }
            }
        }
        text
    }

    /// The shape of value `v` within a row: varying values without the batch axis.
    fn row_shape(&self, plan: &Plan, v: usize) -> Vec<usize> {
        if plan.values[v].varying {
            self.shapes[v][1..].to_vec()
        } else {
            self.shapes[v].clone()
        }
    }

    /// The broadcast map of `a` (an argument) into the row shape of `v`.
    fn broadcast_map(&self, plan: &Plan, a: usize, v: usize) -> Vec<usize> {
        let to = self.row_shape(plan, v);
        let mut from = self.row_shape(plan, a);
        // A uniform operand of a varying value has as many axes as the value
        // (its first, 1, spreads over the rows) or fewer.
        if !plan.values[a].varying && plan.values[v].varying && from.len() > to.len() {
            from.remove(0);
        }
        broadcast_map(&from, &to)
    }

    fn stage(&self, plan: &Plan, p: usize) -> Result<Stage, EvalError> {
        let mut emitter = Gen::new(self, plan, Mode::Stage);
        let mut stage = Stage::default();
        for (v, value) in plan.values.iter().enumerate() {
            if value.varying || value.level != p || value.is_global_reduce(&plan.values) {
                continue;
            }
            if value.args.is_empty() {
                stage.leaves.push(v);
                continue;
            }
            emitter.value(v)?;
            stage.width = stage.width.max(self.widths[v]);
        }
        stage.width = stage.width.max(emitter.temp_width);
        stage.n_regs = emitter.allocate();
        stage.instrs = emitter.instrs;
        stage.scalars = emitter.scalars;
        Ok(stage)
    }

    fn pass(&self, plan: &Plan, p: usize, native: &[bool]) -> Result<Pass, EvalError> {
        let values = &plan.values;
        // The sinks: global reductions of level-p operands, and array roots of level p.
        let mut needed = vec![false; values.len()];
        let mut reductions = Vec::new();
        for (v, value) in values.iter().enumerate() {
            if value.is_global_reduce(values) && values[value.args[0]].level == p {
                needed[value.args[0]] = true;
                reductions.push(v);
            }
        }
        let mut outputs = Vec::new();
        for (k, root) in plan.roots.iter().enumerate() {
            let value = &values[root.value];
            if root.array && value.varying && value.level == p {
                needed[root.value] = true;
                outputs.push(k);
            }
        }
        for v in (0..values.len()).rev() {
            if needed[v] && values[v].varying {
                for &a in &values[v].args {
                    if values[a].varying {
                        needed[a] = true;
                    }
                }
            }
        }
        let mut emitter = Gen::new(self, plan, Mode::Pass { native });
        let mut width = 1;
        let mut global = Vec::new();
        for v in 0..values.len() {
            if !(needed[v] && values[v].varying) {
                continue;
            }
            emitter.value(v)?;
            width = width.max(self.widths[v]);
            let src = emitter.loc[v].expect("a computed value has a location");
            for (k, &r) in reductions.iter().enumerate() {
                if values[r].args[0] == v {
                    emitter.emit(Instr::Accumulate {
                        reduction: k,
                        src,
                        width: self.widths[v],
                    });
                    emitter.use_src(src);
                }
            }
            for (slot, &k) in outputs.iter().enumerate() {
                if plan.roots[k].value == v {
                    emitter.emit(Instr::Store {
                        output: slot,
                        src,
                        width: self.widths[v],
                    });
                    emitter.use_src(src);
                }
            }
        }
        for &r in &reductions {
            let value = &values[r];
            let VOp::Reduce { kind, axes, keepdims } = &value.op else {
                unreachable!("a global reduction is a reduction");
            };
            let operand = value.args[0];
            let row_shape = self.row_shape(plan, operand);
            let inner_axes: Vec<usize> = axes.iter().filter(|&&a| a > 0).map(|&a| a - 1).collect();
            let out = self.widths[r];
            let map = (out > 1).then(|| {
                // Each operand element's result index: its kept inner axes.
                let kept: Vec<usize> = (0..row_shape.len()).filter(|k| !inner_axes.contains(k)).collect();
                let kept_sizes: Vec<usize> = kept.iter().map(|&k| row_shape[k]).collect();
                let _ = keepdims;
                (0..self.widths[operand])
                    .map(|j| {
                        let index = unravel(j, &row_shape);
                        let kept_index: Vec<usize> = kept.iter().map(|&k| index[k]).collect();
                        ravel(&kept_index, &kept_sizes)
                    })
                    .collect()
            });
            global.push(GlobalReduce {
                value: r,
                kind: *kind,
                out,
                map,
            });
        }
        width = width.max(emitter.temp_width);
        let n_regs = emitter.allocate();
        // A multiple of the lanes of the row-wise reductions when rows are narrow.
        let tile_rows = match plan.granularity.tile / width {
            0 => 1,
            rows if rows >= 2 * crate::tile::LANES => rows / crate::tile::LANES * crate::tile::LANES,
            rows => rows,
        };
        // Exactly 16 chunks when the batch allows (an even share for 2, 4, 8
        // or 16 threads), each at least a tile and at most
        // `granularity.chunk` elements (a whole number of tiles); a function
        // of the batch size only, never of the thread count.
        let largest = ((plan.granularity.chunk / width).max(1)).div_ceil(tile_rows) * tile_rows;
        // (A multiple of 64 rows: whole vector blocks in generated code.)
        let chunk_rows = (self.rows.div_ceil(16).div_ceil(64) * 64).clamp(tile_rows.min(64), largest.max(tile_rows));
        Ok(Pass {
            instrs: emitter.instrs,
            prefill: emitter.prefill,
            n_regs,
            width,
            tile_rows,
            chunk_rows,
            scalars: emitter.scalars,
            reductions: global,
            outputs,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode<'n> {
    /// Varying values, per tile; `native[i]`: input `i` is read in place.
    Pass { native: &'n [bool] },
    /// Uniform values, one row.
    Stage,
}

/// Generates the instructions of a pass or stage, with virtual registers.
struct Gen<'c> {
    code: &'c Code,
    plan: &'c Plan,
    mode: Mode<'c>,
    instrs: Vec<Instr>,
    prefill: Vec<Instr>,
    /// Where each computed value is.
    loc: Vec<Option<Src>>,
    scalars: Vec<usize>,
    n_vregs: usize,
    /// Virtual registers that are never freed (prefilled tiles).
    pinned: Vec<usize>,
    /// Largest temporary (stage mode).
    temp_width: usize,
    /// Prefilled registers by (uniform value, map).
    spread: Vec<(usize, Vec<usize>, usize)>,
}

impl<'c> Gen<'c> {
    fn new(code: &'c Code, plan: &'c Plan, mode: Mode<'c>) -> Self {
        Gen {
            code,
            plan,
            mode,
            instrs: Vec::new(),
            prefill: Vec::new(),
            loc: vec![None; plan.values.len()],
            scalars: Vec::new(),
            n_vregs: 0,
            pinned: Vec::new(),
            temp_width: 0,
            spread: Vec::new(),
        }
    }

    fn emit(&mut self, instr: Instr) {
        self.instrs.push(instr);
    }

    /// Nothing to do: uses are found by [`Gen::allocate`] from the instructions.
    fn use_src(&mut self, _src: Src) {}

    fn vreg(&mut self) -> usize {
        self.n_vregs += 1;
        self.n_vregs - 1
    }

    fn scalar(&mut self, u: usize) -> Src {
        let u = self.code.alias[u];
        let k = match self.scalars.iter().position(|&s| s == u) {
            Some(k) => k,
            None => {
                self.scalars.push(u);
                self.scalars.len() - 1
            }
        };
        Src::Scalar(k)
    }

    /// Where value `a` is, for an operand of `v` of the same width.
    fn available(&self, a: usize) -> Src {
        match self.mode {
            Mode::Stage => self.loc[a].unwrap_or(Src::Uniform(self.code.alias[a])),
            Mode::Pass { .. } => self.loc[a].unwrap_or(Src::Uniform(self.code.alias[a])),
        }
    }

    /// An operand `a` of value `v`, spread to `v`'s row shape if need be.
    /// `scalar_ok`: the instruction takes a number for a one-element operand.
    fn operand(&mut self, a: usize, v: usize, scalar_ok: bool) -> Src {
        let plan = self.plan;
        let code = self.code;
        let a_varying = plan.values[a].varying;
        let map = code.broadcast_map(plan, a, v);
        let identity = map.len() == code.widths[a] && map.iter().enumerate().all(|(i, &m)| i == m);
        match self.mode {
            Mode::Pass { .. } if a_varying => {
                let src = self.available(a);
                if identity {
                    return src;
                }
                let dst = self.vreg();
                self.emit(Instr::Gather {
                    dst: Dst::Reg(dst),
                    src,
                    stride: code.widths[a],
                    map,
                });
                self.temp_width = self.temp_width.max(code.widths[v]);
                Src::Reg(dst)
            }
            Mode::Pass { .. } => {
                if scalar_ok && code.widths[a] == 1 {
                    return self.scalar(a);
                }
                // A uniform value spread over a tile, once per chunk.
                if let Some((_, _, reg)) = self.spread.iter().find(|(u, m, _)| *u == a && *m == map) {
                    return Src::Reg(*reg);
                }
                let reg = self.vreg();
                self.pinned.push(reg);
                self.prefill.push(Instr::Gather {
                    dst: Dst::Reg(reg),
                    src: Src::Uniform(code.alias[a]),
                    stride: 0,
                    map: map.clone(),
                });
                self.spread.push((a, map, reg));
                Src::Reg(reg)
            }
            Mode::Stage => {
                if identity {
                    return self.available(a);
                }
                let dst = self.vreg();
                self.emit(Instr::Gather {
                    dst: Dst::Reg(dst),
                    src: self.available(a),
                    stride: 0,
                    map,
                });
                self.temp_width = self.temp_width.max(code.widths[v]);
                Src::Reg(dst)
            }
        }
    }

    fn dst(&mut self, v: usize) -> (Dst, Src) {
        match self.mode {
            Mode::Pass { .. } => {
                let r = self.vreg();
                (Dst::Reg(r), Src::Reg(r))
            }
            Mode::Stage => (Dst::Uniform(v), Src::Uniform(v)),
        }
    }

    /// Emits the instructions computing value `v`.
    fn value(&mut self, v: usize) -> Result<(), EvalError> {
        let plan = self.plan;
        let code = self.code;
        let value = &plan.values[v];
        let width = code.widths[v];
        let src = match &value.op {
            VOp::Input(i) => match self.mode {
                Mode::Pass { native } if native.get(*i).copied().unwrap_or(false) => Src::Input(*i),
                Mode::Pass { .. } => {
                    let r = self.vreg();
                    self.emit(Instr::Load { dst: r, input: *i });
                    Src::Reg(r)
                }
                Mode::Stage => Src::Uniform(v),
            },
            VOp::Literal(_) | VOp::Param(_) | VOp::Const(_) | VOp::DimSize(_) | VOp::Count(_) => Src::Uniform(v),
            VOp::Map(builtin) => {
                let scalar_ok = value.args.len() <= 2;
                let args = value.args.iter().map(|&a| self.operand(a, v, scalar_ok)).collect();
                let (dst, src) = self.dst(v);
                self.emit(Instr::Map {
                    op: MapOp::Builtin(*builtin),
                    dst,
                    args,
                    width,
                });
                src
            }
            VOp::LseFinish => {
                let args = value.args.iter().map(|&a| self.operand(a, v, true)).collect();
                let (dst, src) = self.dst(v);
                self.emit(Instr::Map {
                    op: MapOp::LseFinish,
                    dst,
                    args,
                    width,
                });
                src
            }
            VOp::Reduce { kind, axes, .. } => {
                let a = value.args[0];
                let operand = self.available(a);
                let shape = code.row_shape(plan, a);
                let axes: Vec<usize> = if plan.values[a].varying {
                    axes.iter().map(|&k| k - 1).collect()
                } else {
                    axes.clone()
                };
                let kept: Vec<usize> = (0..shape.len()).filter(|k| !axes.contains(k)).collect();
                let groups: usize = kept.iter().map(|&k| shape[k]).product();
                let q: usize = axes.iter().map(|&k| shape[k]).product();
                let trailing = axes.iter().enumerate().all(|(i, &k)| k == shape.len() - axes.len() + i);
                let perm = (!trailing).then(|| {
                    let order: Vec<usize> = kept.iter().chain(&axes).copied().collect();
                    let permuted: Vec<usize> = order.iter().map(|&k| shape[k]).collect();
                    (0..groups * q)
                        .map(|j| {
                            let index = unravel(j, &permuted);
                            let mut original = vec![0; shape.len()];
                            for (pos, &k) in order.iter().enumerate() {
                                original[k] = index[pos];
                            }
                            ravel(&original, &shape)
                        })
                        .collect()
                });
                let (dst, src) = self.dst(v);
                self.emit(Instr::RowReduce {
                    kind: *kind,
                    dst,
                    src: operand,
                    width: code.widths[a],
                    groups,
                    q,
                    perm,
                });
                src
            }
            VOp::Take { index, axis } => {
                let a = value.args[0];
                let operand = self.available(a);
                let shape = code.row_shape(plan, a);
                let axis = if plan.values[a].varying { axis - 1 } else { *axis };
                let size = shape.get(axis).copied().unwrap_or(0);
                let position = if *index < 0 { index + size as i64 } else { *index };
                if position < 0 || position >= size as i64 {
                    return Err(EvalError::IndexOutOfRange {
                        index: *index,
                        axis: if plan.values[a].varying { axis + 1 } else { axis },
                        size,
                        span: value.span,
                    });
                }
                let mut out_shape = shape.clone();
                out_shape.remove(axis);
                let map = (0..width)
                    .map(|j| {
                        let mut index = unravel(j, &out_shape);
                        index.insert(axis, position as usize);
                        ravel(&index, &shape)
                    })
                    .collect();
                let (dst, src) = self.dst(v);
                self.emit(Instr::Gather {
                    dst,
                    src: operand,
                    stride: code.widths[a],
                    map,
                });
                src
            }
            VOp::OneHot => {
                let a = value.args[0];
                let labels = self.available(a);
                let classes = code.shapes[v].last().copied().unwrap_or(1);
                let (dst, src) = self.dst(v);
                self.emit(Instr::OneHot {
                    dst,
                    labels,
                    width: code.widths[a],
                    classes,
                });
                src
            }
            VOp::Reshape => self.available(value.args[0]),
            VOp::Broadcast => {
                let a = value.args[0];
                match self.mode {
                    Mode::Pass { .. } => self.operand(a, v, false),
                    Mode::Stage => {
                        let map = code.broadcast_map(plan, a, v);
                        let (dst, src) = self.dst(v);
                        self.emit(Instr::Gather {
                            dst,
                            src: self.available(a),
                            stride: 0,
                            map,
                        });
                        src
                    }
                }
            }
        };
        self.loc[v] = Some(src);
        Ok(())
    }

    /// Maps virtual registers to physical ones by liveness; returns the count.
    fn allocate(&mut self) -> usize {
        let n = self.n_vregs;
        let mut last_use = vec![0usize; n];
        let mut first_def = vec![usize::MAX; n];
        for (i, instr) in self.instrs.iter().enumerate() {
            for_each_reg(instr, |r, is_dst| {
                if is_dst {
                    first_def[r] = first_def[r].min(i);
                }
                last_use[r] = last_use[r].max(i);
            });
        }
        let mut phys = vec![usize::MAX; n];
        let mut count = 0;
        for &r in &self.pinned {
            phys[r] = count;
            count += 1;
        }
        let mut free: Vec<usize> = Vec::new();
        let mut release: Vec<Vec<usize>> = vec![Vec::new(); self.instrs.len() + 1];
        for (i, instr) in self.instrs.iter().enumerate() {
            // Registers whose last use was before this instruction are free.
            for r in std::mem::take(&mut release[i]) {
                free.push(r);
            }
            let mut defined = Vec::new();
            for_each_reg(instr, |r, is_dst| {
                if is_dst && phys[r] == usize::MAX {
                    defined.push(r);
                }
            });
            for r in defined {
                let p = free.pop().unwrap_or_else(|| {
                    count += 1;
                    count - 1
                });
                phys[r] = p;
                release[last_use[r] + 1].push(p);
            }
        }
        let map = |r: &mut usize| *r = phys[*r];
        for instr in self.instrs.iter_mut().chain(self.prefill.iter_mut()) {
            rename(instr, map);
        }
        count
    }
}

/// Calls `f(register, is_destination)` for each register of `instr`.
fn for_each_reg(instr: &Instr, mut f: impl FnMut(usize, bool)) {
    let mut src = |s: &Src| {
        if let Src::Reg(r) = s {
            f(*r, false);
        }
    };
    match instr {
        Instr::Load { dst, .. } => {
            f(*dst, true);
        }
        Instr::Map { dst, args, .. } => {
            args.iter().for_each(&mut src);
            if let Dst::Reg(r) = dst {
                f(*r, true);
            }
        }
        Instr::Gather { dst, src: s, .. }
        | Instr::RowReduce { dst, src: s, .. }
        | Instr::OneHot { dst, labels: s, .. } => {
            src(s);
            if let Dst::Reg(r) = dst {
                f(*r, true);
            }
        }
        Instr::Store { src: s, .. } | Instr::Accumulate { src: s, .. } => src(s),
    }
}

fn rename(instr: &mut Instr, map: impl Fn(&mut usize)) {
    let src = |s: &mut Src| {
        if let Src::Reg(r) = s {
            map(r);
        }
    };
    let dst = |d: &mut Dst| {
        if let Dst::Reg(r) = d {
            map(r);
        }
    };
    match instr {
        Instr::Load { dst: r, .. } => map(r),
        Instr::Map { dst: d, args, .. } => {
            args.iter_mut().for_each(src);
            dst(d);
        }
        Instr::Gather { dst: d, src: s, .. }
        | Instr::RowReduce { dst: d, src: s, .. }
        | Instr::OneHot { dst: d, labels: s, .. } => {
            src(s);
            dst(d);
        }
        Instr::Store { src: s, .. } | Instr::Accumulate { src: s, .. } => src(s),
    }
}

/// Row-major multi-index of flat index `j` in `shape`.
fn unravel(mut j: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        let size = shape[k].max(1);
        index[k] = j % size;
        j /= size;
    }
    index
}

fn ravel(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + i)
}

/// For each flat index of `to`, the flat index of `from` that NumPy
/// broadcasting reads (shapes aligned from the right, size-1 axes repeated).
pub(crate) fn broadcast_map(from: &[usize], to: &[usize]) -> Vec<usize> {
    let total: usize = to.iter().product();
    let offset = to.len().saturating_sub(from.len());
    (0..total)
        .map(|j| {
            let index = unravel(j, to);
            let mut flat = 0;
            for (k, &size) in from.iter().enumerate() {
                let i = if size == 1 { 0 } else { index[offset + k] };
                flat = flat * size + i;
            }
            flat
        })
        .collect()
}
