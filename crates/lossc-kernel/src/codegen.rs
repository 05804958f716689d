//! Rust source for a pass's tile loop with every operation fused into one
//! loop body: the kernels' code generator. The source is pure text; compiling
//! and loading it is the `lossc-jit` crate's work (this crate does no IO).
//!
//! The generated crate contains, verbatim, the text of the built-ins' scalar
//! arithmetic ([`lossc_ir::builtins::SCALAR_SOURCE`]) and of the kernels'
//! elementary functions ([`crate::math`]), so each built-in keeps its one
//! definition. A generated pass computes exactly what the interpreter
//! computes, operation by operation in the same order with the same
//! functions and no contraction into fused multiply-adds (rustc never
//! contracts), so its results are bit-identical to the interpreter's (the
//! tests hold them to that), and the chunking, the partial sums' lanes and
//! their combine order are the interpreter's: the results still do not depend
//! on the thread count.
//!
//! Two shapes of pass:
//! - one element per row (`width` 1): one loop whose body is the whole
//!   instruction list, every value a local (a vector register);
//! - rows of several elements: blocks of [`BLOCK_ROWS`] rows, inputs
//!   transposed once per block, each value a local array stored component by
//!   component, runs of elementwise instructions fused into one loop, row
//!   reductions (contiguous, at most 128 elements) and broadcasts within rows
//!   over whole vectors.
//!
//! Both take elementwise maps over inputs read in place, scalars and uniform
//! values spread over the rows, compensated sums over the batch, stores.
//! Passes with anything else (`one_hot`, gathers of uniform values, inputs
//! that need a conversion, maxima or per-element sums over the batch,
//! reductions over non-trailing axes, a `pow` whose exponent is only known
//! after a pass or from the data) stay interpreted.

use std::ffi::c_void;
use std::fmt::Write as _;

use lossc_ir::Builtin;

use crate::bind::{Code, Dst, Instr, MapOp, Pass, Src};
use crate::plan::{Plan, ReduceKind, VOp};
use crate::tensor::Real;
use crate::tile::{PowForm, SUM_LANES, pow_form};

/// The arguments of a generated pass function: one tile of `n` rows.
#[repr(C)]
#[derive(Debug)]
pub struct Call {
    /// Rows of the tile.
    pub n: usize,
    /// Per input read (in the generated pass's input order): its tile's first element.
    pub inputs: *const *const c_void,
    /// Per output (the pass's output order): where the tile's values go.
    pub outputs: *const *mut c_void,
    /// The scalars (in the generated pass's scalar order).
    pub scalars: *const c_void,
    /// Per accumulated reduction: the lanes of its running sum, then of its
    /// rounding errors (64 each).
    pub sums: *mut c_void,
    pub errors: *mut c_void,
}

/// A generated pass function, as loaded from the compiled library.
pub type PassFn = unsafe extern "C" fn(*const Call);

/// What the kernel must pass to one generated pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedPass {
    /// The function's (unmangled) name in the library.
    pub symbol: String,
    /// Elements of uniform values read as numbers, (value, element), in call order.
    pub(crate) scalars: Vec<(usize, usize)>,
    /// Plan inputs read in place, in call order, with their row widths.
    pub(crate) inputs: Vec<usize>,
    pub(crate) input_widths: Vec<usize>,
    /// The row width of each output (the pass's output order).
    pub(crate) output_widths: Vec<usize>,
    /// The pass's global reductions accumulated, in call order.
    pub(crate) reductions: Vec<usize>,
}

/// A prepared kernel's generated source in one dtype.
#[derive(Debug, Clone)]
pub struct Generated {
    /// A complete crate root, to be compiled as a `cdylib`.
    pub source: String,
    /// Per pass: its generated function, if it has one.
    pub passes: Vec<Option<GeneratedPass>>,
}

impl Generated {
    /// The symbols to look up in the compiled library.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.passes.iter().flatten().map(|p| p.symbol.as_str())
    }
}

/// Uniform values known before any pass and independent of the data: their
/// value (the first element), else `None`.
pub(crate) type Statics<T> = Vec<Option<T>>;

impl GeneratedPass {
    fn new(index: usize, plan: &Plan, code: &Code, pass: &Pass) -> GeneratedPass {
        GeneratedPass {
            symbol: format!("lossc_pass_{index}"),
            scalars: Vec::new(),
            inputs: Vec::new(),
            input_widths: Vec::new(),
            output_widths: pass.outputs.iter().map(|&k| code.widths[plan.roots[k].value]).collect(),
            reductions: Vec::new(),
        }
    }
}

/// The local name of scalar `(value, element)`, added to the call's list.
fn scalar_name(abi: &mut GeneratedPass, scalar: (usize, usize)) -> String {
    let k = abi.scalars.iter().position(|&s| s == scalar).unwrap_or_else(|| {
        abi.scalars.push(scalar);
        abi.scalars.len() - 1
    });
    format!("s{k}")
}

/// The call's index of plan input `i` (of `width` elements a row).
fn input_index(abi: &mut GeneratedPass, i: usize, width: usize) -> usize {
    abi.inputs.iter().position(|&x| x == i).unwrap_or_else(|| {
        abi.inputs.push(i);
        abi.input_widths.push(width);
        abi.inputs.len() - 1
    })
}

/// The call's index of the pass's global reduction `r`.
fn reduction_index(abi: &mut GeneratedPass, r: usize) -> usize {
    abi.reductions.iter().position(|&x| x == r).unwrap_or_else(|| {
        abi.reductions.push(r);
        abi.reductions.len() - 1
    })
}

/// The source for `code`'s eligible passes in `T`, or `None` if none is.
pub(crate) fn generate<T: Real>(plan: &Plan, code: &Code, statics: &Statics<T>) -> Option<Generated> {
    let dtype = dtype_name::<T>();
    let mut functions = String::new();
    let mut passes = Vec::new();
    for (p, pass) in code.passes.iter().enumerate() {
        let generated = pass_source::<T>(plan, code, pass, p, statics);
        passes.push(generated.as_ref().map(|(_, abi)| abi.clone()));
        if let Some((text, _)) = generated {
            functions.push_str(&text);
        }
    }
    if passes.iter().all(Option::is_none) {
        return None;
    }
    let mut source = String::new();
    source.push_str(&prelude(dtype));
    source.push_str(&functions);
    Some(Generated { source, passes })
}

fn dtype_name<T: Real>() -> &'static str {
    if std::mem::size_of::<T>() == 4 { "f32" } else { "f64" }
}

/// A literal of exactly `value` in `T`.
fn literal<T: Real>(value: T) -> String {
    let bits = value.as_f64();
    if std::mem::size_of::<T>() == 4 {
        format!("f32::from_bits({:#x})", (bits as f32).to_bits())
    } else {
        format!("f64::from_bits({:#x})", bits.to_bits())
    }
}

/// An operand: its text in the block loop and in the tail loop.
#[derive(Debug, Clone)]
enum Operand {
    /// A local value or scalar, the same in both loops.
    Name(String),
    /// An input's element.
    Input(usize),
}

impl Operand {
    fn text(&self, block: bool) -> String {
        match self {
            Operand::Name(name) => name.clone(),
            Operand::Input(j) if block => format!("in{j}b[l]"),
            Operand::Input(j) => format!("in{j}[i]"),
        }
    }
}

/// Operand `i` of an expression, a placeholder [`fill`] replaces.
fn slot(i: usize) -> String {
    format!("\u{1}{i}\u{1}")
}

/// `expr` with each operand's text at its [`slot`].
fn fill(expr: &str, operands: &[String]) -> String {
    let mut text = expr.to_string();
    for (i, operand) in operands.iter().enumerate() {
        text = text.replace(&slot(i), operand);
    }
    text
}

/// The expression computing `builtin` over its operands' [`slot`]s: the
/// table's arithmetic, or for `x^e` with one exponent for the tile the
/// interpreter's [`pow_form`] of `e`, known before the data is read (else
/// `None`: the pass stays interpreted).
fn builtin_expr<T: Real>(
    builtin: Builtin,
    args: &[Src],
    pass: &Pass,
    code: &Code,
    statics: &Statics<T>,
) -> Option<String> {
    if let (Builtin::Pow, [base, Src::Scalar(k)]) = (builtin, args)
        && !matches!(base, Src::Scalar(_))
    {
        let e = statics.get(code.alias[pass.scalars[*k]]).copied().flatten()?;
        let x = slot(0);
        return Some(match pow_form(e) {
            PowForm::Square => format!("{x} * {x}"),
            PowForm::Identity => x,
            PowForm::One => "1.0".to_string(),
            PowForm::Reciprocal => format!("1.0 / {x}"),
            PowForm::General => format!("pow_general({x}, {})", literal(e)),
        });
    }
    let slots: Vec<String> = (0..args.len()).map(slot).collect();
    Some(format!("col(Builtin::{builtin:?}, &[{}])", slots.join(", ")))
}

/// One statement of the loop body, given how elements are indexed.
enum Stmt {
    /// `v{n}`: an expression of [`builtin_expr`] and its operands.
    Let(usize, String, Vec<Operand>),
    Accumulate(usize, Operand),
    Store(usize, Operand),
}

fn pass_source<T: Real>(
    plan: &Plan,
    code: &Code,
    pass: &Pass,
    index: usize,
    statics: &Statics<T>,
) -> Option<(String, GeneratedPass)> {
    if pass.width != 1 {
        return rows_source::<T>(plan, code, pass, index, statics);
    }
    // Registers filled once per chunk with one uniform number.
    let mut spread: Vec<Option<usize>> = vec![None; pass.n_regs];
    for instr in &pass.prefill {
        match instr {
            Instr::Gather {
                dst: Dst::Reg(r),
                src: Src::Uniform(u),
                stride: 0,
                map,
            } if map.as_slice() == [0] => spread[*r] = Some(*u),
            _ => return None,
        }
    }
    let mut abi = GeneratedPass::new(index, plan, code, pass);
    let scalar_of = |u: usize, abi: &mut GeneratedPass| -> Operand { Operand::Name(scalar_name(abi, (u, 0))) };
    // The local holding each register's current value.
    let mut local: Vec<Option<usize>> = vec![None; pass.n_regs];
    let mut n_locals = 0;
    let mut body = Vec::new();
    let operand = |src: Src, abi: &mut GeneratedPass, local: &[Option<usize>]| -> Option<Operand> {
        Some(match src {
            Src::Reg(r) => match (local.get(r).copied().flatten(), spread.get(r).copied().flatten()) {
                (Some(v), _) => Operand::Name(format!("v{v}")),
                (None, Some(u)) => scalar_of(u, abi),
                (None, None) => return None,
            },
            Src::Input(i) => Operand::Input(input_index(abi, i, 1)),
            Src::Scalar(k) => scalar_of(pass.scalars[k], abi),
            Src::Uniform(_) => return None,
        })
    };
    for instr in &pass.instrs {
        match instr {
            Instr::Map {
                op: MapOp::Builtin(builtin),
                dst: Dst::Reg(r),
                args,
                width: 1,
            } => {
                let operands = args
                    .iter()
                    .map(|&a| operand(a, &mut abi, &local))
                    .collect::<Option<Vec<_>>>()?;
                let v = n_locals;
                n_locals += 1;
                let expr = builtin_expr(*builtin, args, pass, code, statics)?;
                body.push(Stmt::Let(v, expr, operands));
                local[*r] = Some(v);
            }
            Instr::Accumulate {
                reduction,
                src,
                width: 1,
            } => {
                let reduce = &pass.reductions[*reduction];
                if reduce.kind != ReduceKind::Sum || reduce.map.is_some() {
                    return None;
                }
                let x = operand(*src, &mut abi, &local)?;
                body.push(Stmt::Accumulate(reduction_index(&mut abi, *reduction), x));
            }
            Instr::Store { output, src, width: 1 } => {
                let x = operand(*src, &mut abi, &local)?;
                body.push(Stmt::Store(*output, x));
            }
            _ => return None,
        }
    }
    let statements = |block: bool| -> String {
        let mut text = String::new();
        for stmt in &body {
            let _ = match stmt {
                Stmt::Let(v, expr, args) => {
                    let args: Vec<String> = args.iter().map(|a| a.text(block)).collect();
                    writeln!(text, "let v{v}: T = {};", fill(expr, &args))
                }
                Stmt::Accumulate(j, x) => writeln!(
                    text,
                    "(sum{j}[l], err{j}[l]) = sum_step((sum{j}[l], err{j}[l]), {x});",
                    x = x.text(block)
                ),
                Stmt::Store(o, x) if block => writeln!(text, "out{o}b[l] = {};", x.text(block)),
                Stmt::Store(o, x) => writeln!(text, "out{o}[i] = {};", x.text(block)),
            };
        }
        text
    };
    let lanes = SUM_LANES;
    let n_in = abi.inputs.len();
    let n_outputs = pass.outputs.len();
    let mut f = header(&abi);
    let _ = writeln!(
        f,
        "let blocks = n / {lanes};\nfor b in 0..blocks {{\nlet base = b * {lanes};"
    );
    for j in 0..n_in {
        let _ = writeln!(
            f,
            "let in{j}b: &[T; {lanes}] = in{j}[base..base + {lanes}].try_into().unwrap();"
        );
    }
    for j in 0..n_in {
        let _ = writeln!(f, "prefetch(in{j}[base..].as_ptr(), {lanes});");
    }
    for o in 0..n_outputs {
        let _ = writeln!(
            f,
            "let out{o}b: &mut [T; {lanes}] = (&mut out{o}[base..base + {lanes}]).try_into().unwrap();"
        );
    }
    let _ = writeln!(f, "for l in 0..{lanes} {{\n{}}}\n}}", statements(true));
    let _ = writeln!(
        f,
        "for i in blocks * {lanes}..n {{\nlet l = i - blocks * {lanes};\n{}}}",
        statements(false)
    );
    f.push_str(&footer(&abi));
    Some((f, abi))
}

/// The text of `math.rs`, compiled into the generated crate.
const MATH_SOURCE: &str = include_str!("math.rs");

/// A generated function's signature and the unpacking of its [`Call`]:
/// `in{j}`, `out{o}` (the tile's rows), `s{k}`, and the partial sums' lanes
/// `sum{j}`, `err{j}` as local copies.
fn header(abi: &GeneratedPass) -> String {
    let lanes = SUM_LANES;
    let n_in = abi.inputs.len();
    let n_outputs = abi.output_widths.len();
    let n_sc = abi.scalars.len();
    let n_red = abi.reductions.len();
    let mut f = String::new();
    let _ = writeln!(
        f,
        "\n#[unsafe(no_mangle)]\npub unsafe extern \"C\" fn {}(call: *const Call) {{",
        abi.symbol
    );
    let _ = writeln!(f, "let call = unsafe {{ &*call }};\nlet n = call.n;");
    let _ = writeln!(
        f,
        "let ins: &[*const T] = unsafe {{ std::slice::from_raw_parts(call.inputs as *const *const T, {n_in}) }};"
    );
    for (j, w) in abi.input_widths.iter().enumerate() {
        let _ = writeln!(
            f,
            "let in{j}: &[T] = unsafe {{ std::slice::from_raw_parts(ins[{j}], n * {w}) }};"
        );
    }
    let _ = writeln!(
        f,
        "let outs: &[*mut T] = unsafe {{ std::slice::from_raw_parts(call.outputs as *const *mut T, {n_outputs}) }};"
    );
    for (o, w) in abi.output_widths.iter().enumerate() {
        let _ = writeln!(
            f,
            "let out{o}: &mut [T] = unsafe {{ std::slice::from_raw_parts_mut(outs[{o}], n * {w}) }};"
        );
    }
    let _ = writeln!(
        f,
        "let sc: &[T] = unsafe {{ std::slice::from_raw_parts(call.scalars as *const T, {n_sc}) }};"
    );
    for k in 0..n_sc {
        let _ = writeln!(f, "let s{k} = sc[{k}];");
    }
    for (name, field) in [("sums", "sums"), ("errs", "errors")] {
        let _ = writeln!(
            f,
            "let {name}: &mut [[T; {lanes}]] = unsafe {{ std::slice::from_raw_parts_mut(call.{field} as *mut [T; {lanes}], {n_red}) }};"
        );
    }
    for j in 0..n_red {
        let _ = writeln!(f, "let mut sum{j} = sums[{j}];\nlet mut err{j} = errs[{j}];");
    }
    f
}

/// The partial sums' lanes written back, and the function's end.
fn footer(abi: &GeneratedPass) -> String {
    let mut f = String::new();
    for j in 0..abi.reductions.len() {
        let _ = writeln!(f, "sums[{j}] = sum{j};\nerrs[{j}] = err{j};");
    }
    f.push_str("}\n");
    f
}

/// How far ahead of the block being computed a generated pass asks for its
/// inputs' cache lines: 4 KB (64 blocks of 64 f32). Measured on the
/// project's machine (BCE, 10M f32, loss alone): none 14.9 ms, the current
/// lines only 8.3 ms, 2-8 KB ahead 6.7-7.0 ms.
const PREFETCH_BYTES: usize = 4096;

/// Rows per block of a pass over rows of several elements.
const BLOCK_ROWS: usize = 16;

/// A value of a pass over rows of several elements, in generated code.
#[derive(Debug, Clone)]
enum RowVal {
    /// A local array of `BLOCK_ROWS` rows of `width`, element `k` of row `l`
    /// at `k * BLOCK_ROWS + l` (component-major: a row reduction or a
    /// broadcast within rows reads whole vectors).
    Local { name: String, width: usize },
    /// An input's rows of the block, transposed into `x{j}` (as a local).
    Input { j: usize, width: usize },
    /// A uniform value spread over every row: one scalar per element.
    Spread { name: String, width: usize },
    /// One number for every element.
    Scalar(String),
}

impl RowVal {
    fn width(&self) -> usize {
        match self {
            RowVal::Local { width, .. } | RowVal::Input { width, .. } | RowVal::Spread { width, .. } => *width,
            RowVal::Scalar(_) => 1,
        }
    }

    /// The element at flat index `e` of the block (`k`: its position in its row).
    fn at(&self, e: &str, k: &str) -> String {
        match self {
            RowVal::Local { name, .. } => format!("{name}[{e}]"),
            RowVal::Input { j, .. } => format!("x{j}[{e}]"),
            RowVal::Spread { name, .. } => format!("{name}[{k}]"),
            RowVal::Scalar(name) => name.clone(),
        }
    }
}

/// For each instruction of `pass`, the last instruction that reads the
/// register it writes (its own index if none does).
fn last_uses(pass: &Pass) -> Vec<usize> {
    let mut last = (0..pass.instrs.len()).collect::<Vec<_>>();
    let mut writer: Vec<Option<usize>> = vec![None; pass.n_regs];
    for (i, instr) in pass.instrs.iter().enumerate() {
        let reads: Vec<Src> = match instr {
            Instr::Map { args, .. } => args.clone(),
            Instr::Gather { src, .. }
            | Instr::RowReduce { src, .. }
            | Instr::Store { src, .. }
            | Instr::Accumulate { src, .. } => vec![*src],
            Instr::OneHot { labels, .. } => vec![*labels],
            Instr::Load { .. } => Vec::new(),
        };
        for src in reads {
            if let Src::Reg(r) = src
                && let Some(Some(w)) = writer.get(r)
            {
                last[*w] = i;
            }
        }
        let dst = match instr {
            Instr::Map { dst: Dst::Reg(r), .. }
            | Instr::Gather { dst: Dst::Reg(r), .. }
            | Instr::RowReduce { dst: Dst::Reg(r), .. }
            | Instr::OneHot { dst: Dst::Reg(r), .. } => Some(*r),
            Instr::Load { dst, .. } => Some(*dst),
            _ => None,
        };
        if let Some(r) = dst
            && r < writer.len()
        {
            writer[r] = Some(i);
        }
    }
    last
}

/// One elementwise step of a run: value `v{n}`, `expr` with operand `i` at
/// its [`slot`].
#[derive(Debug)]
struct Elem {
    n: usize,
    expr: String,
    operands: Vec<RowVal>,
}

/// Consecutive elementwise instructions of one width, written as one loop
/// over the block's elements: values used only inside the run are locals
/// (registers), the others are also stored in their array.
#[derive(Debug, Default)]
struct Run {
    width: usize,
    /// (instruction index, step).
    elems: Vec<(usize, Elem)>,
}

impl Run {
    /// Adds instruction `index`'s step.
    fn push(&mut self, body: &mut String, width: usize, index: usize, elem: Elem, last_use: &[usize]) {
        if !self.elems.is_empty() && width != self.width {
            self.flush(body, last_use);
        }
        self.width = width;
        self.elems.push((index, elem));
    }

    fn flush(&mut self, body: &mut String, last_use: &[usize]) {
        if self.elems.is_empty() {
            return;
        }
        let width = self.width;
        let elems = std::mem::take(&mut self.elems);
        let defined: Vec<usize> = elems.iter().map(|(_, e)| e.n).collect();
        // A value is stored if an instruction after the run reads it.
        let end = elems.iter().map(|(i, _)| *i).max().unwrap_or(0);
        let stored = |n: usize| last_use[n] > end;
        let render = |o: &RowVal| -> String {
            match o {
                RowVal::Local { name, .. } => match name[1..].parse::<usize>() {
                    Ok(m) if defined.contains(&m) => format!("t{m}"),
                    _ => format!("{name}[e]"),
                },
                other => other.at("e", "k"),
            }
        };
        for &n in &defined {
            if stored(n) {
                let _ = writeln!(body, "let mut v{n} = [0.0 as T; {}];", BLOCK_ROWS * width);
            }
        }
        let nested = elems
            .iter()
            .any(|(_, Elem { operands, .. })| operands.iter().any(|o| matches!(o, RowVal::Spread { .. })));
        // Every lane of the block (the last block's extra lanes compute on
        // zeros and are never stored).
        if nested {
            let _ = writeln!(
                body,
                "for k in 0..{width} {{ for l in 0..{BLOCK_ROWS} {{ let e = k * {BLOCK_ROWS} + l;"
            );
        } else {
            let _ = writeln!(body, "for e in 0..{} {{", BLOCK_ROWS * width);
        }
        for (_, Elem { n, expr, operands }) in &elems {
            let texts: Vec<String> = operands.iter().map(render).collect();
            let text = fill(expr, &texts);
            let keep = if stored(*n) {
                format!(" v{n}[e] = t{n};")
            } else {
                String::new()
            };
            let _ = writeln!(body, "let t{n}: T = {text};{keep}");
        }
        let _ = writeln!(body, "{}", if nested { "} }" } else { "}" });
    }
}

/// A pass over rows of several elements (softmax cross-entropy's rows of
/// classes): blocks of [`BLOCK_ROWS`] rows, each value a local array of the
/// block's rows, each instruction a loop over it, in the interpreter's
/// order (row reductions add each row's elements in order, the partial
/// sums' lanes get the interpreter's elements).
fn rows_source<T: Real>(
    plan: &Plan,
    code: &Code,
    pass: &Pass,
    index: usize,
    statics: &Statics<T>,
) -> Option<(String, GeneratedPass)> {
    let mut abi = GeneratedPass::new(index, plan, code, pass);
    let mut setup = String::new();
    let mut spread: Vec<Option<RowVal>> = vec![None; pass.n_regs];
    for (p, instr) in pass.prefill.iter().enumerate() {
        let Instr::Gather {
            dst: Dst::Reg(r),
            src: Src::Uniform(u),
            stride: 0,
            map,
        } = instr
        else {
            return None;
        };
        let names: Vec<String> = map.iter().map(|&m| scalar_name(&mut abi, (*u, m))).collect();
        let name = format!("spread{p}");
        let _ = writeln!(setup, "let {name}: [T; {}] = [{}];", map.len(), names.join(", "));
        spread[*r] = Some(RowVal::Spread { name, width: map.len() });
    }
    let mut local: Vec<Option<RowVal>> = vec![None; pass.n_regs];
    let mut body = String::new();
    let rows = BLOCK_ROWS;
    let last_use = last_uses(pass);
    let mut run = Run::default();
    for (n, instr) in pass.instrs.iter().enumerate() {
        let value = |src: Src, abi: &mut GeneratedPass, local: &[Option<RowVal>]| -> Option<RowVal> {
            match src {
                Src::Reg(r) => local
                    .get(r)
                    .cloned()
                    .flatten()
                    .or_else(|| spread.get(r).cloned().flatten()),
                Src::Input(i) => {
                    let width = code.input_widths[i];
                    Some(RowVal::Input {
                        j: input_index(abi, i, width),
                        width,
                    })
                }
                Src::Scalar(k) => Some(RowVal::Scalar(scalar_name(abi, (pass.scalars[k], 0)))),
                Src::Uniform(_) => None,
            }
        };
        let name = format!("v{n}");
        match instr {
            Instr::Map {
                op,
                dst: Dst::Reg(r),
                args,
                width,
            } => {
                let operands = args
                    .iter()
                    .map(|&a| value(a, &mut abi, &local))
                    .collect::<Option<Vec<_>>>()?;
                if operands
                    .iter()
                    .any(|o| !matches!(o, RowVal::Scalar(_)) && o.width() != *width)
                {
                    return None;
                }
                // Operands as placeholders, rendered when the run is written.
                let expr = match op {
                    MapOp::LseFinish => format!("logsumexp_finish::<T, math::Fast>({}, {})", slot(0), slot(1)),
                    MapOp::Builtin(builtin) => builtin_expr(*builtin, args, pass, code, statics)?,
                };
                run.push(&mut body, *width, n, Elem { n, expr, operands }, &last_use);
                local[*r] = Some(RowVal::Local { name, width: *width });
            }
            Instr::Gather {
                dst: Dst::Reg(r),
                src,
                stride,
                map,
            } => {
                run.flush(&mut body, &last_use);
                let source = value(*src, &mut abi, &local)?;
                if !matches!(source, RowVal::Local { .. } | RowVal::Input { .. }) || *stride != source.width() {
                    return None;
                }
                let m = map.len();
                let list: Vec<String> = map.iter().map(usize::to_string).collect();
                let _ = writeln!(body, "let mut {name} = [0.0 as T; {}];", rows * m);
                let _ = writeln!(
                    body,
                    "{{ const MAP: [usize; {m}] = [{}]; for o in 0..{m} {{ for l in 0..{rows} {{ {name}[o * {rows} + l] = {}; }} }} }}",
                    list.join(", "),
                    source.at(&format!("MAP[o] * {rows} + l"), "MAP[o]")
                );
                local[*r] = Some(RowVal::Local { name, width: m });
            }
            Instr::RowReduce {
                kind,
                dst: Dst::Reg(r),
                src,
                width,
                groups,
                q,
                perm: None,
            } if *q <= crate::tile::ROW_LEAF => {
                run.flush(&mut body, &last_use);
                let source = value(*src, &mut abi, &local)?;
                if !matches!(source, RowVal::Local { .. } | RowVal::Input { .. }) || source.width() != *width {
                    return None;
                }
                let x = source.at(&format!("(g * {q} + k) * {rows} + l"), "0");
                let _ = writeln!(body, "let mut {name} = [0.0 as T; {}];", rows * groups);
                let _ = match kind {
                    ReduceKind::Sum => writeln!(
                        body,
                        "for g in 0..{groups} {{ let mut acc = [(0.0 as T, 0.0 as T); {rows}]; \
                         for k in 0..{q} {{ for l in 0..{rows} {{ acc[l] = sum_step(acc[l], {x}); }} }} \
                         for l in 0..{rows} {{ {name}[g * {rows} + l] = sum_finish(acc[l].0, acc[l].1); }} }}"
                    ),
                    ReduceKind::Max | ReduceKind::Min => {
                        let (start, op) = match kind {
                            ReduceKind::Max => ("T::NEG_INFINITY", "Maximum"),
                            _ => ("T::INFINITY", "Minimum"),
                        };
                        writeln!(
                            body,
                            "for g in 0..{groups} {{ let mut acc = [{start}; {rows}]; \
                             for k in 0..{q} {{ for l in 0..{rows} {{ acc[l] = col(Builtin::{op}, &[acc[l], {x}]); }} }} \
                             for l in 0..{rows} {{ {name}[g * {rows} + l] = acc[l]; }} }}"
                        )
                    }
                };
                local[*r] = Some(RowVal::Local { name, width: *groups });
            }
            Instr::Accumulate { reduction, src, width } => {
                let reduce = &pass.reductions[*reduction];
                if reduce.kind != ReduceKind::Sum || reduce.map.is_some() {
                    return None;
                }
                let source = value(*src, &mut abi, &local)?;
                if source.width() != *width {
                    return None;
                }
                let j = reduction_index(&mut abi, *reduction);
                run.flush(&mut body, &last_use);
                // Row by row, each row's elements in order: every lane gets
                // the interpreter's elements in the interpreter's order.
                let _ = writeln!(
                    body,
                    "for l in 0..rows {{ for k in 0..{width} {{ let e = k * {rows} + l; \
                     let lane = ((row0 + l) * {width} + k) % {SUM_LANES}; \
                     (sum{j}[lane], err{j}[lane]) = sum_step((sum{j}[lane], err{j}[lane]), {}); }} }}",
                    source.at("e", "k")
                );
            }
            Instr::Store { output, src, width } => {
                let source = value(*src, &mut abi, &local)?;
                if source.width() != *width && !matches!(source, RowVal::Scalar(_)) {
                    return None;
                }
                run.flush(&mut body, &last_use);
                let _ = writeln!(
                    body,
                    "{{ let rows_out = &mut out{output}[row0 * {width}..row0 * {width} + rows * {width}]; \
                     for l in 0..rows {{ for k in 0..{width} {{ let e = k * {rows} + l; \
                     rows_out[l * {width} + k] = {}; }} }} }}",
                    source.at("e", "k")
                );
            }
            _ => return None,
        }
    }
    run.flush(&mut body, &last_use);
    let mut f = header(&abi);
    f.push_str(&setup);
    // The block's body, for a constant number of rows (full blocks) and for
    // the last, shorter one.
    let block = |rows_expr: &str| -> String {
        let mut text = format!("let rows: usize = {rows_expr};\n");
        for (j, w) in abi.input_widths.iter().enumerate() {
            let _ = writeln!(text, "prefetch(in{j}[row0 * {w}..].as_ptr(), rows * {w});");
        }
        // Each input's rows, transposed (the last block's missing rows
        // zero), from a slice of exactly the block's rows: with a constant
        // row count the copy has no bounds checks.
        for (j, w) in abi.input_widths.iter().enumerate() {
            let _ = writeln!(
                text,
                "let mut x{j} = [0.0 as T; {}]; {{ let rows_in = &in{j}[row0 * {w}..row0 * {w} + rows * {w}]; \
                 for l in 0..rows {{ for k in 0..{w} {{ x{j}[k * {rows} + l] = rows_in[l * {w} + k]; }} }} }}",
                rows * w
            );
        }
        text.push_str(&body);
        text
    };
    let _ = writeln!(
        f,
        "let blocks = n / {rows};\nfor b in 0..blocks {{\nlet row0 = b * {rows};\n{}}}",
        block(&rows.to_string())
    );
    let _ = writeln!(
        f,
        "if blocks * {rows} < n {{\nlet row0 = blocks * {rows};\n{}}}",
        block(&format!("n - blocks * {rows}"))
    );
    f.push_str(&footer(&abi));
    Some((f, abi))
}

/// Everything before the pass functions: the built-ins' names, the verbatim
/// sources (the scalar arithmetic, self-contained, and the kernels'
/// elementary functions with their `Elementary` impl), the glue.
fn prelude(dtype: &str) -> String {
    let variants: Vec<String> = Builtin::ALL.iter().map(|b| format!("{b:?}")).collect();
    let general_pow = if dtype == "f32" {
        "math::pow_f32(x, y)"
    } else {
        "x.powf(y)"
    };
    format!(
        r#"// Generated by lossc-kernel's code generator: one pass's tile loop per
// function, every operation fused. Do not edit.
#![allow(warnings, clippy::all)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {{ {variants} }}

pub mod scalar {{
{scalar}
}}

// Where `math.rs` finds them (lossc-kernel has them at its root too).
use scalar::{{Elementary, Scalar}};

pub mod math {{
{math}
}}

type T = {dtype};
use scalar::{{sum_finish, sum_step, logsumexp_finish}};

#[inline(always)]
fn col(builtin: Builtin, args: &[T]) -> T {{
    match scalar::eval_scalar_in::<T, math::Fast>(builtin, args) {{
        Some(value) => value,
        None => T::NAN,
    }}
}}

/// `x^y` for one general exponent (lossc-kernel's `Real::powf_slice`).
#[inline(always)]
fn pow_general(x: T, y: T) -> T {{
    {general_pow}
}}

/// Asks for the cache lines of the `len` elements that start
/// {prefetch_bytes} bytes after `p` (a hint: it never faults, so the
/// address may lie past the input). A fused loop does so much arithmetic
/// per element that the hardware prefetchers fall behind; without this,
/// a pass over data in main memory runs at half the speed of one in cache.
#[inline(always)]
fn prefetch(p: *const T, len: usize) {{
    #[cfg(target_arch = "x86_64")]
    {{
        let start = (p as *const i8).wrapping_add({prefetch_bytes});
        let mut offset = 0;
        while offset < len * core::mem::size_of::<T>() {{
            // SAFETY: a prefetch reads nothing and cannot fault.
            unsafe {{ core::arch::x86_64::_mm_prefetch::<{{ core::arch::x86_64::_MM_HINT_T0 }}>(start.wrapping_add(offset)) }};
            offset += 64;
        }}
    }}
}}

#[repr(C)]
pub struct Call {{
    n: usize,
    inputs: *const *const core::ffi::c_void,
    outputs: *const *mut core::ffi::c_void,
    scalars: *const core::ffi::c_void,
    sums: *mut core::ffi::c_void,
    errors: *mut core::ffi::c_void,
}}
"#,
        variants = variants.join(", "),
        scalar = lossc_ir::builtins::SCALAR_SOURCE,
        math = MATH_SOURCE,
        prefetch_bytes = PREFETCH_BYTES,
    )
}

/// Uniform values known before the first pass that do not depend on the
/// data: the values an exponent may be specialised on.
pub(crate) fn static_values(plan: &Plan) -> Vec<bool> {
    let mut known = vec![false; plan.values.len()];
    for (v, value) in plan.values.iter().enumerate() {
        known[v] = !value.varying
            && value.level == 0
            && !matches!(value.op, VOp::Input(_))
            && value.args.iter().all(|&a| a < v && known[a]);
    }
    known
}
