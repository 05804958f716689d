//! `lossc bench`: times a loss, and the loss with its gradient, on the fast
//! evaluator, over data generated inside the declared domains; and
//! [`Progress`], the progress bar `eval` and `bench` show on a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;
use lossc_kernel::{Real, Tensor};
use ndarray::{ArrayViewD, IxDyn};
use serde::Serialize;

use crate::cli::{DtypeArg, Format, ParamArgs, library_error};
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Time a loss, and the loss with its gradient, on the fast evaluator.

Generates data inside each input's declared domain (uniform over an
interval, its values for a set, [-3, 3] for `real`), with the batch
dimension N = --n and every other named dimension 10 (or --dim NAME=SIZE),
then runs the loss alone (its value) and the loss with its gradient (every
gradient written to memory) repeatedly, and reports the median time, the
elements per second and the memory bandwidth achieved (bytes read and
written once each, divided by the time). A run reuses the previous run's
output arrays, as a training loop would. With --triad, also measures a
STREAM-like triad (a = b + s c) over 3 arrays of N elements: the bandwidth
the same threads reach when all they do is move data.

Exit status: 0 success, 1 the program has errors, 2 bad usage.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc bench examples/mse.loss
  lossc bench examples/bce.loss --n 100000 --dtype f64
  lossc bench examples/cce_logits.loss --n 1000000 --dim C=10 --threads 2 --format json
  lossc bench examples/focal.loss --triad --explain";

/// Options of `lossc bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The batch size (the batch dimension of the generated data), e.g. `--n
    /// 100000`. The data and gradients must fit in the memory available: a
    /// larger --n is refused with the size it would need.
    #[arg(long, value_name = "SIZE", default_value_t = 10_000_000)]
    pub n: usize,

    /// The size of another named dimension (default 10), e.g. `--dim C=10`; repeatable.
    #[arg(long = "dim", value_name = "NAME=SIZE", value_parser = parse_dim)]
    pub dims: Vec<(String, usize)>,

    /// The float type, `f32` (default) or `f64`.
    #[arg(long, value_enum, value_name = "DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,

    /// Worker threads (default: one per core; at most 1024), e.g. `--threads 1`.
    #[arg(long, value_name = "K")]
    pub threads: Option<usize>,

    /// The loss to time, by name (default: the first).
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    #[command(flatten)]
    pub params: ParamArgs,

    /// Timed runs of each measurement, from 1 to 10000 (default: as many as
    /// fit in about two seconds, at least 5 and at most 100).
    #[arg(long, value_name = "RUNS")]
    pub runs: Option<usize>,

    /// Also measure a STREAM-like triad over the same number of elements.
    #[arg(long)]
    pub triad: bool,

    /// Print the compiled kernels (passes, stages and their instructions) on stderr.
    #[arg(long)]
    pub explain: bool,

    /// Fuse each pass into native code with the Rust compiler: `auto`
    /// (default: when `rustc` runs, else interpreted, with a note), `on`
    /// (an error without it) or `off`. See docs/performance.md.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = JitMode::Auto)]
    pub jit: JitMode,

    /// `text` (default) or `json`: one object with `loss`, `dtype`, `n`,
    /// `threads`, `median_ms_value`, `median_ms_value_and_grad` and more.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,
}

/// When to compile the kernels' passes to native code (`--jit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JitMode {
    Auto,
    On,
    Off,
}

impl JitMode {
    /// Attaches generated code to `prepared` as the mode says: the number of
    /// passes that run it, or a note on why none does (`auto`), or an error
    /// (`on`).
    pub(crate) fn apply<T: Real>(
        self,
        prepared: &mut lossc_kernel::Prepared<'_, '_>,
    ) -> Result<(usize, Option<String>), CliError> {
        if self == JitMode::Off {
            return Ok((0, None));
        }
        let mut rebuilt = None;
        let result = lossc_jit::Jit::from_env().and_then(|jit| jit.attach_noting::<T>(prepared, &mut rebuilt));
        match (result, self) {
            (Ok(passes), _) => Ok((
                passes,
                rebuilt.map(|why| {
                    format!(
                        "note: a cached library of generated code failed its check ({why}); lossc compiled it again"
                    )
                }),
            )),
            (Err(error), JitMode::Auto) => Ok((0, Some(format!("note: running interpreted (--jit auto): {error}")))),
            (Err(error), _) => Err(CliError::new(format!("--jit on: {error}"))),
        }
    }
}

/// Parses `NAME=SIZE`.
fn parse_dim(text: &str) -> Result<(String, usize), String> {
    let (name, size) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=SIZE, e.g. `--dim C=10`".to_string())?;
    let size: usize = size
        .trim()
        .parse()
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("`{}` is not a size of at least 1, e.g. `--dim C=10`", size.trim()))?;
    Ok((name.trim().to_string(), size))
}

/// The JSON of `bench --format json`.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub loss: String,
    pub dtype: String,
    /// The batch size.
    pub n: usize,
    pub threads: usize,
    pub median_ms_value: f64,
    pub median_ms_value_and_grad: f64,
    /// Elements of the largest input (N times the other dimensions).
    pub elements: usize,
    /// Bytes read and written once by the value, and by value and gradient.
    pub bytes_value: usize,
    pub bytes_value_and_grad: usize,
    /// Passes over the batch of the loss and gradient.
    pub passes: usize,
    pub runs: usize,
    /// The triad's median time and bandwidth, with `--triad`.
    pub median_ms_triad: Option<f64>,
    pub triad_gb_per_s: Option<f64>,
    /// Passes of the loss and gradient running generated native code (`--jit`).
    pub compiled_passes: usize,
}

/// The most worker threads `bench --threads` starts.
pub const MAX_THREADS: usize = 1024;

/// The most timed runs `bench --runs` makes.
pub const MAX_RUNS: usize = 10_000;

/// Refuses data that could not be held: the generated inputs, the
/// gradients (at most one of each input's size) and the triad's three
/// arrays, in bytes of `element` each, must be addressable and fit in the
/// memory the system reports available. The message names the sizes.
fn check_memory(
    args: &BenchArgs,
    ir: &lossc::ir::Program,
    shapes: &[Vec<usize>],
    element: usize,
) -> Result<(), CliError> {
    let counts: Option<Vec<usize>> = shapes
        .iter()
        .map(|shape| shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)))
        .collect();
    let needed = counts.as_ref().and_then(|counts| {
        let inputs = counts.iter().try_fold(0usize, |sum, &c| sum.checked_add(c))?;
        let largest = counts.iter().copied().max().unwrap_or(0);
        let triad = if args.triad { largest.checked_mul(3)? } else { 0 };
        // Inputs, their gradients, the triad: elements of `element` bytes.
        inputs.checked_mul(2)?.checked_add(triad)?.checked_mul(element)
    });
    let sizes = || {
        let named: Vec<String> = ir
            .inputs
            .iter()
            .zip(shapes)
            .map(|(input, shape)| {
                let sizes: Vec<String> = shape.iter().map(usize::to_string).collect();
                format!("`{}` [{}]", input.name, sizes.join(", "))
            })
            .collect();
        named.join(", ")
    };
    let available = crate::data::available_memory();
    match (needed, available) {
        (Some(bytes), Some(available)) if bytes as u64 <= available => Ok(()),
        (Some(bytes), None) if isize::try_from(bytes).is_ok() => Ok(()),
        (Some(bytes), available) => Err(CliError::new(format!(
            "`--n {}`: the generated data and gradients ({}) would need {}, more than {}; give a smaller --n or --dim",
            args.n,
            sizes(),
            bytes_text(bytes as f64),
            available.map_or("can be addressed".to_string(), |a| format!(
                "the {} of memory available",
                bytes_text(a as f64)
            ))
        ))),
        (None, _) => Err(CliError::new(format!(
            "`--n {}`: the generated data ({}) would need more bytes than can be addressed; give a smaller --n or --dim",
            args.n,
            sizes()
        ))),
    }
}

/// `1.5 GB`, `120 TB`: a byte count for a message.
fn bytes_text(bytes: f64) -> String {
    let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// How long `bench` runs the kernels before timing them.
const WARM_UP: Duration = Duration::from_millis(300);

/// Runs `bench`.
pub fn run(args: &BenchArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    let file = source.name.as_str();
    let dtype = args.dtype.dtype();
    let program = match program::compile(&source, &args.params, args.format, dtype, out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    if args.n == 0 {
        return Err(CliError::new("`--n 0`: the batch size must be at least 1"));
    }
    if let Some(runs) = args.runs
        && !(1..=MAX_RUNS).contains(&runs)
    {
        return Err(CliError::new(format!(
            "`--runs {runs}`: give from 1 to {MAX_RUNS} timed runs"
        )));
    }
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(CliError::new("`--threads 0`: give at least 1"));
        }
        if threads > MAX_THREADS {
            return Err(CliError::new(format!(
                "`--threads {threads}`: lossc runs at most {MAX_THREADS} worker threads \
                 (more than the cores only slows a measurement; this machine has {})",
                std::thread::available_parallelism().map_or(1, usize::from)
            )));
        }
        builder = builder.num_threads(threads);
    }
    let pool = builder
        .build()
        .map_err(|error| CliError::new(format!("cannot start {} threads: {error}", args.threads.unwrap_or(0))))?;
    let (report, explained) = pool.install(|| match dtype {
        lossc::Dtype::F32 => measure::<f32>(args, &program, file),
        lossc::Dtype::F64 => measure::<f64>(args, &program, file),
    })?;
    if let Some(text) = explained {
        let _ = write!(err, "{text}");
    }
    let written = match args.format {
        Format::Json => serde_json::to_writer(&mut *out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Text => write_text(out, &report),
    };
    finish_output(Status::Success, written)
}

fn write_text(out: &mut dyn WriteColor, report: &BenchReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} ({}, N = {}, {} elements, {} threads, {} pass{}{}, median of {} runs)",
        report.loss,
        report.dtype,
        report.n,
        report.elements,
        report.threads,
        report.passes,
        if report.passes == 1 { "" } else { "es" },
        match report.compiled_passes {
            0 => String::new(),
            k if k == report.passes => " compiled".to_string(),
            k => format!(", {k} compiled"),
        },
        report.runs
    )?;
    let line = |out: &mut dyn WriteColor, what: &str, ms: f64, bytes: usize| {
        let seconds = ms / 1e3;
        writeln!(
            out,
            "  {what:<16} {ms:>10.3} ms  {:>8.3} G elements/s  {:>7.2} GB/s",
            report.elements as f64 / seconds / 1e9,
            bytes as f64 / seconds / 1e9
        )
    };
    line(out, "loss", report.median_ms_value, report.bytes_value)?;
    line(
        out,
        "loss + gradient",
        report.median_ms_value_and_grad,
        report.bytes_value_and_grad,
    )?;
    if let (Some(ms), Some(gbs)) = (report.median_ms_triad, report.triad_gb_per_s) {
        writeln!(
            out,
            "  {:<16} {ms:>10.3} ms  {:>28.2} GB/s (a = b + s c; loss + gradient at this bandwidth: {:.3} ms)",
            "triad",
            gbs,
            report.bytes_value_and_grad as f64 / (gbs * 1e9) * 1e3
        )?;
    }
    Ok(())
}

/// Generates the data, then times the value, value and gradient, and the triad.
#[allow(clippy::type_complexity)] // The report and the `--explain` listing.
fn measure<T: AsTensor>(
    args: &BenchArgs,
    program: &lossc::Program,
    file: &str,
) -> Result<(BenchReport, Option<String>), CliError> {
    let ir = program.ir();
    let value_options = lossc::EvalOptions {
        dtype: args.dtype.dtype(),
        result: args.loss.clone(),
        grad: false,
        wrt: Vec::new(),
    };
    let grad_options = lossc::EvalOptions {
        grad: true,
        ..value_options.clone()
    };
    let value = program
        .evaluator(&value_options, false)
        .map_err(|error| library_error(&error, file))?;
    if value.kind != lossc::ResultKind::Loss {
        return Err(CliError::new(format!(
            "`{}` is an output: bench times losses",
            value.name
        )));
    }
    let with_grad = program
        .evaluator(&grad_options, false)
        .map_err(|error| library_error(&error, file))?;

    // The data, generated in parallel, each input 64-byte aligned.
    let size_of = |name: &str| args.dims.iter().find(|(dim, _)| dim == name).map(|(_, size)| *size);
    let batch = match ir.batch {
        Some(lossc::ir::Dim::Named(id)) => Some(id),
        _ => None,
    };
    let shapes: Vec<Vec<usize>> = ir
        .inputs
        .iter()
        .map(|input| {
            input
                .shape
                .iter()
                .map(|d| match d {
                    lossc::ir::Dim::Fixed(k) => usize::try_from(*k).unwrap_or(usize::MAX),
                    lossc::ir::Dim::Named(id) if Some(*id) == batch => args.n,
                    lossc::ir::Dim::Named(id) => {
                        let name = &ir.dims[id.0 as usize];
                        size_of(name).unwrap_or(if name == "N" { args.n } else { 10 })
                    }
                })
                .collect()
        })
        .collect();
    check_memory(args, ir, &shapes, std::mem::size_of::<T>())?;
    let mut buffers: Vec<(String, Vec<usize>, Vec<T>, usize)> = Vec::new();
    for (index, (input, shape)) in ir.inputs.iter().zip(shapes).enumerate() {
        let count: usize = shape.iter().product();
        let width = shape.last().copied().unwrap_or(1);
        let (data, start) = generate::<T>(&input.domain, count, width, 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
        buffers.push((input.name.clone(), shape, data, start));
    }
    let tensors: Vec<(&str, Tensor<'_>)> = buffers
        .iter()
        .map(|(name, shape, data, start)| {
            let count: usize = shape.iter().product();
            let view = ArrayViewD::from_shape(IxDyn(shape), &data[*start..*start + count]).expect("sized to fit");
            (name.as_str(), T::tensor(view))
        })
        .collect();
    let mut prepared_value = value
        .prepare::<T>(&tensors)
        .map_err(|error| library_error(&lossc::Error::Eval(error), file))?;
    let mut prepared_grad = with_grad
        .prepare::<T>(&tensors)
        .map_err(|error| library_error(&lossc::Error::Eval(error), file))?;
    let (_, note) = args.jit.apply::<T>(&mut prepared_value)?;
    let (compiled_passes, _) = args.jit.apply::<T>(&mut prepared_grad)?;
    let explained = args.explain.then(|| {
        format!(
            "loss:\n{}loss + gradient:\n{}",
            prepared_value.describe(),
            prepared_grad.describe()
        )
    });
    let explained = match (explained, note) {
        (Some(text), Some(note)) => Some(format!("{text}{note}\n")),
        (text, note) => text.or(note.map(|n| format!("{n}\n"))),
    };

    // Warm up: page in the outputs, and run for at least WARM_UP so that
    // every worker thread and core is awake and at speed (a short run on an
    // idle machine otherwise times the cores waking up: a virtual machine's
    // idle vCPU takes tens of microseconds). Then decide the number of runs.
    let started = Instant::now();
    let mut last_value = Some(value.run_recycling::<T>(&prepared_value, None));
    let mut last_grad = Some(with_grad.run_recycling::<T>(&prepared_grad, None));
    let first_round = started.elapsed();
    while started.elapsed() < WARM_UP {
        last_value = Some(value.run_recycling::<T>(&prepared_value, last_value.take()));
        last_grad = Some(with_grad.run_recycling::<T>(&prepared_grad, last_grad.take()));
    }
    let runs = args.runs.unwrap_or_else(|| {
        let per_round = first_round.as_secs_f64().max(1e-6);
        ((2.0 / per_round) as usize).clamp(5, 100)
    });
    let measurements = if args.triad { 3 } else { 2 };
    let progress = Progress::new("benchmarking", (runs * measurements) as u64);
    let mut time_value = Vec::with_capacity(runs);
    let mut time_grad = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        last_value = Some(value.run_recycling::<T>(&prepared_value, last_value.take()));
        time_value.push(t.elapsed());
        progress.step();
        let t = Instant::now();
        last_grad = Some(with_grad.run_recycling::<T>(&prepared_grad, last_grad.take()));
        time_grad.push(t.elapsed());
        progress.step();
    }
    let mut triad = None;
    if args.triad {
        let count = buffers
            .iter()
            .map(|(_, shape, _, _)| shape.iter().product())
            .max()
            .unwrap_or(args.n);
        let (b, b0) = generate::<T>(&lossc::ir::Domain::Real, count, 1, 1);
        let (c, c0) = generate::<T>(&lossc::ir::Domain::Real, count, 1, 2);
        let (mut a, a0) = aligned::<T>(count);
        let (b, c) = (&b[b0..b0 + count], &c[c0..c0 + count]);
        let scalar = T::from_f64(0.5);
        lossc_kernel::triad(&mut a[a0..a0 + count], b, c, scalar);
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            lossc_kernel::triad(&mut a[a0..a0 + count], b, c, scalar);
            times.push(t.elapsed());
            progress.step();
        }
        let ms = median_ms(&mut times);
        let bytes = 3 * count * std::mem::size_of::<T>();
        triad = Some((ms, bytes as f64 / (ms / 1e3) / 1e9));
    }
    progress.finish();
    let report = BenchReport {
        loss: value.name.clone(),
        dtype: args.dtype.dtype().to_string(),
        n: args.n,
        threads: rayon::current_num_threads(),
        median_ms_value: median_ms(&mut time_value),
        median_ms_value_and_grad: median_ms(&mut time_grad),
        elements: buffers
            .iter()
            .map(|(_, shape, _, _)| shape.iter().product())
            .max()
            .unwrap_or(0),
        bytes_value: prepared_value.bytes_moved::<T>(),
        bytes_value_and_grad: prepared_grad.bytes_moved::<T>(),
        passes: with_grad.kernel().passes(),
        runs,
        median_ms_triad: triad.map(|t| t.0),
        compiled_passes,
        triad_gb_per_s: triad.map(|t| t.1),
    };
    Ok((report, explained))
}

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    times.get(times.len() / 2).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// A zeroed buffer of `count` elements whose element `start` is 64-byte aligned.
fn aligned<T: Real>(count: usize) -> (Vec<T>, usize) {
    let data = vec![T::zero(); count + 64 / std::mem::size_of::<T>()];
    let start = data.as_ptr().align_offset(64).min(data.len() - count);
    (data, start)
}

/// `count` values inside `domain` (rows of `width` for a row domain),
/// deterministic for a `seed`, generated in parallel; returned as an aligned
/// buffer and the index of the first.
fn generate<T: Real>(domain: &lossc::ir::Domain, count: usize, width: usize, seed: u64) -> (Vec<T>, usize) {
    use lossc::ir::rng::SplitMix64;
    use rayon::prelude::*;
    let (mut data, start) = aligned::<T>(count);
    let sample = |rng: &mut SplitMix64| -> f64 {
        let u = rng.unit();
        match domain {
            lossc::ir::Domain::Real => -3.0 + 6.0 * u,
            lossc::ir::Domain::Interval { lo, hi, .. } => {
                let lo = if lo.is_finite() { *lo } else { hi.min(3.0) - 6.0 };
                let hi = if hi.is_finite() { *hi } else { lo + 6.0 };
                lo + (hi - lo) * u
            }
            lossc::ir::Domain::Set(values) => values[((u * values.len() as f64) as usize).min(values.len() - 1)],
            // Rows are made whole below.
            lossc::ir::Domain::Simplex => u,
            lossc::ir::Domain::OneHot => f64::from(u < 0.5),
        }
    };
    // Parts hold whole rows.
    let width = width.max(1);
    let part_len = ((1 << 16) / width).max(1) * width;
    data[start..start + count]
        .par_chunks_mut(part_len)
        .enumerate()
        .for_each(|(k, part)| {
            let mut rng = SplitMix64::new(seed ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            let mut values: Vec<f64> = (0..part.len()).map(|_| sample(&mut rng)).collect();
            domain.make_rows(&mut values, width, &mut rng, true);
            for (slot, value) in part.iter_mut().zip(values) {
                *slot = T::from_f64(value);
            }
        });
    (data, start)
}

/// Views of generated data as the evaluator's tensors.
trait AsTensor: Real {
    fn tensor(view: ArrayViewD<'_, Self>) -> Tensor<'_>;
}

impl AsTensor for f32 {
    fn tensor(view: ArrayViewD<'_, f32>) -> Tensor<'_> {
        Tensor::F32(view)
    }
}

impl AsTensor for f64 {
    fn tensor(view: ArrayViewD<'_, f64>) -> Tensor<'_> {
        Tensor::F64(view)
    }
}

/// A progress bar on stderr, shown only on a terminal and only once the work
/// has taken more than a second; `step` may be called from any thread.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
    enabled: bool,
    bar: OnceLock<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Self {
        Progress {
            label,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            bar: OnceLock::new(),
        }
    }

    /// One unit of work done.
    pub fn step(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let bar = indicatif::ProgressBar::new(self.total).with_elapsed(self.started.elapsed());
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})")
            {
                bar.set_style(style);
            }
            bar.set_message(self.label);
            bar
        });
        bar.set_position(done);
    }

    /// Removes the bar, if it was shown.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
