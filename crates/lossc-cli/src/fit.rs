//! `lossc fit`: trains the smallest model a loss is meant for with the
//! loss's exact gradient (the `lossc-fit` crate) and shows, per epoch, the
//! loss and the health of the gradient, a sparkline of the loss, and the
//! verdict linked to `check`'s diagnostics; or all of it as JSON; `--plot`
//! draws the curves as SVG.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use codespan_reporting::term::termcolor::{Color as TermColor, ColorSpec, WriteColor};
use lossc::Dtype;
use lossc_fit::{Dataset, Finding, Fit, FitError, FitOptions, ModelKind, Optimizer, Status as Verdict, Task};
use plotters::prelude::*;
use serde::Serialize;

use crate::cli::{AnalysisArgs, Format, library_error};
use crate::json::Number;
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output, write_note_line};

pub(crate) const LONG_ABOUT: &str = "\
Train the smallest model a loss is meant for, and say whether it learns.

Trains one dense layer whose activation lands in y_pred's declared domain
(a sigmoid for [0, 1], a softmax for [0, 1] [N, C], none for real; --model
chooses another) on --data X.npy with --labels Y.npy, or on synthetic data
that matches the declared domains (--synthetic N, 100 samples by default:
standard-normal features, labels from a hidden linear rule orthogonal to
the initial weights, so that training starts at chance). The loss's exact
gradient is derived once and chained through the activation and the
layer; the optimizer is Keras's Adam with its defaults (or SGD), in
mini-batches, in --dtype (f32 by default). It trains on 5 seeds (0 to 4)
and counts the verdicts; --seeds K runs K seeds, --seed S one run in full.

Per epoch it shows the loss, the fraction of samples whose gradient is
exactly zero, NaN (or infinite) and exploding (above 1e6), and the norm of
the weights; then a sparkline of the loss and the verdict: `learning`,
`stalled` (samples the model gets wrong receive no gradient, or the loss
does not fall), `diverging` (the loss falls below 0 without bound) or
`diverged` (NaN or inf), with the diagnostics of `check` that predicted
it. With several seeds, one line per seed and the count. --plot writes
the curves (of the first seed) as an SVG picture.

Exit status: 0 the model learns (on every seed), 1 it stalls or diverges
(on some seed; or the program has errors, shown as `check` shows them),
2 bad usage or unusable data.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc fit examples/mse_sigmoid.loss
  lossc fit examples/faulty_step_where.loss --seed 4 --plot curve.svg
  lossc fit examples/bce.loss --data x.npy --labels y.npy --batch-size 64
  lossc fit examples/sparse_cce.loss --model softmax --synthetic 500 --features 4
  lossc fit examples/faulty_log_eps.loss --model linear --optimizer sgd --lr 0.1
  lossc fit examples/mse.loss --format json | jq '.verdict'";

/// Options of `lossc fit`.
#[derive(Debug, Clone, Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The model: `linear` (no activation), `logistic` (a sigmoid) or
    /// `softmax` (over a row of C outputs); by default the one whose outputs
    /// match y_pred's declared domain, e.g. `--model linear`.
    #[arg(long, value_enum, value_name = "MODEL")]
    pub model: Option<ModelArg>,

    /// The features, a .npy file of shape [N, D] (or [N] for one feature),
    /// e.g. `--data x.npy`; needs --labels.
    #[arg(long, value_name = "X.npy", requires = "labels", conflicts_with = "synthetic")]
    pub data: Option<PathBuf>,

    /// The targets, a .npy file shaped as the target input ([N], or [N, C]),
    /// in its declared domain, e.g. `--labels y.npy`; needs --data.
    #[arg(long, value_name = "Y.npy", requires = "data")]
    pub labels: Option<PathBuf>,

    /// Train on N synthetic samples that match the declared domains (the
    /// default, with 100; at most 1000000), e.g. `--synthetic 1000`.
    #[arg(long, value_name = "N")]
    pub synthetic: Option<usize>,

    /// The number of synthetic features (default 1; at most 10000, and
    /// samples x features at most 100000000), e.g. `--features 4`; with
    /// --data, the number the file must have.
    #[arg(long, value_name = "D")]
    pub features: Option<usize>,

    /// Passes over the data (at most 100000, and epochs x samples at most
    /// 1000000000), e.g. `--epochs 20`.
    #[arg(long, value_name = "E", default_value_t = 100)]
    pub epochs: usize,

    /// Samples per step (the last batch may be smaller), e.g. `--batch-size 100`.
    #[arg(long, value_name = "B", default_value_t = 32)]
    pub batch_size: usize,

    /// The learning rate (default: Keras's, 0.001 for Adam, 0.01 for SGD),
    /// e.g. `--lr 0.01`.
    #[arg(long, value_name = "R")]
    pub lr: Option<f64>,

    /// The optimizer, with Keras's defaults, e.g. `--optimizer sgd`.
    #[arg(long, value_enum, value_name = "OPTIMIZER", default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,

    /// Seeds the initial weights, the batch order and synthetic data; alone,
    /// one run shown in full (by default seeds 0 to 4), e.g. `--seed 7`.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Runs K seeds, from --seed (0 by default) up, and counts the verdicts
    /// (default 5, or 1 with --seed; at most 100), e.g. `--seeds 10`.
    #[arg(long, value_name = "K")]
    pub seeds: Option<usize>,

    /// Keep the samples in their order in every epoch, as Keras's
    /// `fit(shuffle=False)` (by default they are shuffled before each epoch).
    #[arg(long)]
    pub no_shuffle: bool,

    /// Write the loss curve and the gradient's health per epoch as an SVG
    /// picture, e.g. `--plot curve.svg`.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// How to print the result: `text` (a table, a sparkline, the verdict)
    /// or `json` (one object with every number), e.g. `--format json`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Text)]
    pub format: Format,
}

/// `--model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// A dense layer without activation.
    Linear,
    /// A dense layer with a sigmoid.
    Logistic,
    /// A dense layer with a softmax over its outputs.
    Softmax,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Keras's Adam: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7.
    Adam,
    /// Plain SGD: lr 0.01.
    Sgd,
}

/// Synthetic samples when neither --data nor --synthetic is given.
const DEFAULT_SAMPLES: usize = 100;

/// Seeds run when neither --seed nor --seeds is given.
pub const DEFAULT_SEEDS: usize = 5;
/// The most seeds `fit` runs.
pub const MAX_SEEDS: usize = 100;

/// The most epochs `fit` runs.
pub const MAX_EPOCHS: usize = 100_000;
/// The most synthetic samples `fit` generates.
pub const MAX_SYNTHETIC: usize = 1_000_000;
/// The most features a model has.
pub const MAX_FEATURES: usize = 10_000;
/// The most numbers in the features (samples x features: 800 MB of f64).
pub const MAX_FEATURE_VALUES: usize = 100_000_000;
/// The most samples evaluated over a run (epochs x samples), which bounds
/// the time a run takes.
pub const MAX_SAMPLE_STEPS: usize = 1_000_000_000;

/// Refuses option values that would make a run unbounded in memory or time,
/// each with the limit in the message (the library refuses zeros itself).
fn check_bounds(args: &FitArgs) -> Result<(), CliError> {
    let over = |option: &str, value: usize, limit: usize| {
        CliError::new(format!("`--{option} {value}`: lossc fit allows at most {limit}"))
    };
    if args.epochs > MAX_EPOCHS {
        return Err(over("epochs", args.epochs, MAX_EPOCHS));
    }
    match args.seeds {
        Some(0) => return Err(CliError::new("`--seeds 0`: lossc fit runs at least one seed")),
        Some(seeds) if seeds > MAX_SEEDS => return Err(over("seeds", seeds, MAX_SEEDS)),
        _ => {}
    }
    if let Some(samples) = args.synthetic
        && samples > MAX_SYNTHETIC
    {
        return Err(over("synthetic", samples, MAX_SYNTHETIC));
    }
    if let Some(features) = args.features
        && features > MAX_FEATURES
    {
        return Err(over("features", features, MAX_FEATURES));
    }
    if args.data.is_none() {
        let samples = args.synthetic.unwrap_or(DEFAULT_SAMPLES);
        if let Some(features) = args.features {
            check_feature_values(samples, features)?;
        }
        check_steps(args.epochs, samples)?;
    }
    Ok(())
}

/// Refuses more than [`MAX_FEATURE_VALUES`] synthetic feature values.
fn check_feature_values(samples: usize, features: usize) -> Result<(), CliError> {
    if samples.saturating_mul(features) > MAX_FEATURE_VALUES {
        return Err(CliError::new(format!(
            "`--synthetic {samples}` with `--features {features}`: {} numbers of features; lossc fit holds at most {MAX_FEATURE_VALUES}",
            samples.saturating_mul(features)
        )));
    }
    Ok(())
}

/// Refuses more than [`MAX_SAMPLE_STEPS`] sample evaluations in a run.
fn check_steps(epochs: usize, samples: usize) -> Result<(), CliError> {
    if epochs.saturating_mul(samples) > MAX_SAMPLE_STEPS {
        return Err(CliError::new(format!(
            "`--epochs {epochs}` over {samples} samples: {} sample steps; lossc fit runs at most {MAX_SAMPLE_STEPS} (fewer epochs or samples)",
            epochs.saturating_mul(samples)
        )));
    }
    Ok(())
}

/// Runs `fit`, writing its product to `out` and notes to `err`.
pub fn run(args: &FitArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    check_bounds(args)?;
    let source = args.source.load()?;
    let file = source.name.as_str();
    let dtype = args.analysis.dtype.dtype();
    let program = match program::compile(&source, &args.analysis.params, args.format, dtype, out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    args.analysis.validate(&program, file)?;
    // What is at the `--plot` path is looked at (a FIFO or a directory
    // refused) before the training.
    let plot_output = args.plot.as_deref().map(crate::output::Output::resolve).transpose()?;
    let target = &args.analysis.target;
    let model = args.model.map(|model| match model {
        ModelArg::Linear => ModelKind::Linear,
        ModelArg::Logistic => ModelKind::Logistic,
        ModelArg::Softmax => ModelKind::Softmax,
    });
    let fit_error = |error: FitError| match error {
        FitError::Library(error) => library_error(&error, file),
        other => CliError::new(format!("cannot fit `{file}`: {other}")),
    };
    let task = Task::new(
        &program,
        target.loss.as_deref(),
        target.wrt.first().map(String::as_str),
        model,
    )
    .map_err(fit_error)?;
    // The seeds: --seed alone is one run; otherwise --seeds from --seed up.
    let first_seed = args.seed.unwrap_or(0);
    let count = args
        .seeds
        .unwrap_or(if args.seed.is_some() { 1 } else { DEFAULT_SEEDS });
    let seeds: Vec<u64> = (0..count as u64).map(|k| first_seed.saturating_add(k)).collect();
    let load = |seed: u64| {
        load_data(args, &task, seed).map_err(|error| match error {
            Loaded::Cli(error) => error,
            Loaded::Fit(error) => fit_error(error),
        })
    };
    let mut data = load(first_seed)?;

    let optimizer = match args.optimizer {
        OptimizerArg::Adam => Optimizer::KERAS_ADAM,
        OptimizerArg::Sgd => Optimizer::KERAS_SGD,
    };
    let optimizer = match args.lr {
        Some(rate) => optimizer.with_learning_rate(rate),
        None => optimizer,
    };
    let diagnostics = program.check(&lossc::CheckOptions {
        dtype,
        params: args.analysis.params.pairs(),
        loss: Some(task.loss.clone()),
        wrt: vec![task.prediction.clone()],
    });
    let findings = Finding::locate(&diagnostics, &source.text);
    let mut fits = Vec::with_capacity(seeds.len());
    for &seed in &seeds {
        // Synthetic data is drawn per seed (its rule is orthogonal to that
        // seed's initial weights); files are read once.
        if seed != first_seed && args.data.is_none() {
            data = load(seed)?;
        }
        let options = FitOptions {
            epochs: args.epochs,
            batch_size: args.batch_size,
            optimizer,
            seed,
            dtype,
            shuffle: !args.no_shuffle,
            initial_weights: None,
        };
        fits.push(lossc_fit::fit(&program, &task, &data, &options, &findings).map_err(fit_error)?);
    }
    let first = &fits[0];

    let plot = match (&args.plot, &plot_output) {
        (Some(path), Some(output)) => {
            let svg = svg(first, file).map_err(|error| CliError::new(format!("cannot draw the plot: {error}")))?;
            output.write(".svg.tmp", |file| file.write_all(svg.as_bytes()))?;
            Some(path.display().to_string())
        }
        _ => None,
    };
    if args.format == Format::Text {
        for note in &task.notes {
            write_note_line(err, note);
        }
    }
    let (overall, _) = overall(&fits);
    let written = match args.format {
        Format::Json => write_json(out, &FitReport::new(&fits, file, &data.origin, &findings, plot)),
        Format::Text if fits.len() == 1 => write_text(out, first, file, &data.origin, plot.as_deref()),
        Format::Text => write_seeds(out, &fits, file, &data.origin, plot.as_deref()),
    };
    let status = match overall {
        Verdict::Learning => Status::Success,
        Verdict::Stalled | Verdict::Diverging | Verdict::Diverged => Status::Findings,
    };
    finish_output(status, written)
}

/// The verdict over `fits` (see [`lossc_fit::overall`]).
fn overall(fits: &[Fit]) -> (Verdict, String) {
    let statuses: Vec<(u64, Verdict)> = fits.iter().map(|fit| (fit.options.seed, fit.verdict.status)).collect();
    lossc_fit::overall(&statuses)
}

enum Loaded {
    Cli(CliError),
    Fit(FitError),
}

/// The data: the .npy files, or synthetic samples for `seed`.
fn load_data(args: &FitArgs, task: &Task, seed: u64) -> Result<Dataset, Loaded> {
    match (&args.data, &args.labels) {
        (Some(x_path), Some(y_path)) => {
            let x = crate::data::read_npy_at_most("--data", x_path, MAX_FEATURE_VALUES).map_err(Loaded::Cli)?;
            let y = crate::data::read_npy_at_most("--labels", y_path, MAX_FEATURE_VALUES).map_err(Loaded::Cli)?;
            let origin = format!("{} and {}", x_path.display(), y_path.display());
            let data = Dataset::new(task, x, y, &origin).map_err(Loaded::Fit)?;
            check_steps(args.epochs, data.samples()).map_err(Loaded::Cli)?;
            match args.features {
                Some(features) if features != data.features() => Err(Loaded::Cli(CliError::new(format!(
                    "`--features {features}`: `{}` has {} features",
                    x_path.display(),
                    data.features()
                )))),
                _ => Ok(data),
            }
        }
        _ => {
            let samples = args.synthetic.unwrap_or(DEFAULT_SAMPLES);
            let features = args
                .features
                .unwrap_or_else(|| Dataset::default_features(task).min(MAX_FEATURES));
            check_feature_values(samples, features).map_err(Loaded::Cli)?;
            Dataset::synthetic(task, samples, features, seed).map_err(Loaded::Fit)
        }
    }
}

/// The epochs shown in the table: all of up to 12, else the first three,
/// every tenth of the run, and the last.
fn shown_epochs(count: usize) -> Vec<usize> {
    if count <= 12 {
        return (0..count).collect();
    }
    let every = count.div_ceil(10);
    let mut shown: Vec<usize> = (0..count)
        .filter(|&i| i < 3 || (i + 1) % every == 0 || i + 1 == count)
        .collect();
    shown.dedup();
    shown
}

/// The text report, e.g.
///
/// ```text
/// fit examples/mse.loss: loss `mse`, linear model (no activation: `y_pred` is declared real)
///   100 synthetic samples, 2 features -> 1 output; adam (lr 0.001), 100 epochs of batches of 32, seed 0, f32
///
///  epoch       loss    zero     NaN  exploding   |W|
///      1     1.2345      0%      0%         0%   0.8
/// ...
/// loss ▇▇▆▆▅▅▄▄▃▃▂▂▁▁  1.2345 to 0.0123
///
/// learning: the loss fell from 1.2 to 0.0123
/// ```
pub fn write_text(out: &mut dyn WriteColor, fit: &Fit, file: &str, origin: &str, plot: Option<&str>) -> io::Result<()> {
    use lossc::ir::format_approx;
    use lossc_fit::percent;
    let run = &fit.run;
    write_header(out, fit, file, origin, &format!("seed {}", fit.options.seed))?;
    writeln!(
        out,
        "{:>6} {:>12} {:>7} {:>7} {:>10} {:>10}",
        "epoch", "loss", "zero", "NaN", "exploding", "|W|"
    )?;
    writeln!(
        out,
        "{:>6} {:>12} {:>7} {:>7} {:>10} {:>10}",
        "start",
        format_approx(run.before.loss),
        percent(run.before.health.zero),
        percent(run.before.health.non_finite),
        percent(run.before.health.exploding),
        format_approx(run.initial_weights.norm())
    )?;
    for index in shown_epochs(run.history.len()) {
        let epoch = &run.history[index];
        writeln!(
            out,
            "{:>6} {:>12} {:>7} {:>7} {:>10} {:>10}",
            epoch.epoch,
            format_approx(epoch.loss),
            percent(epoch.health.zero),
            percent(epoch.health.non_finite),
            percent(epoch.health.exploding),
            format_approx(epoch.weight_norm)
        )?;
    }
    writeln!(out)?;
    let losses: Vec<f64> = run.history.iter().map(|epoch| epoch.loss).collect();
    if let (Some(first), Some(last)) = (losses.first(), losses.last()) {
        writeln!(
            out,
            "loss {}  {} to {}",
            sparkline(&losses, 50),
            format_approx(*first),
            format_approx(*last)
        )?;
    }
    if let Some(path) = plot {
        writeln!(out, "plot written to {path}")?;
    }
    writeln!(out)?;

    let verdict = &fit.verdict;
    write_summary(out, verdict.status, &verdict.summary)?;
    writeln!(out)?;
    write_reasons(out, verdict)
}

/// `summary` with its status word (up to the first `:`, or all of it)
/// coloured as `status`, the rest bold; no newline.
fn write_summary(out: &mut dyn WriteColor, status: Verdict, summary: &str) -> io::Result<()> {
    let color = match status {
        Verdict::Learning => TermColor::Green,
        Verdict::Stalled => TermColor::Yellow,
        Verdict::Diverging | Verdict::Diverged => TermColor::Red,
    };
    let (head, rest) = summary.split_once(':').unwrap_or((summary, ""));
    out.set_color(ColorSpec::new().set_fg(Some(color)).set_bold(true))?;
    write!(out, "{head}")?;
    out.reset()?;
    out.set_color(ColorSpec::new().set_bold(true))?;
    write!(out, "{}{rest}", if rest.is_empty() { "" } else { ":" })?;
    out.reset()
}

/// The reasons of `verdict`, one `  - ` line each, with the diagnostic each
/// links to.
fn write_reasons(out: &mut dyn WriteColor, verdict: &lossc_fit::Verdict) -> io::Result<()> {
    for reason in &verdict.reasons {
        match &reason.see {
            Some(finding) if !reason.text.contains(&finding.message) => {
                writeln!(out, "  - {} (see {})", reason.text, finding.reference())?
            }
            Some(finding) => writeln!(out, "  - {}: {}", finding.reference(), reason.text)?,
            None => writeln!(out, "  - {}", reason.text)?,
        }
    }
    Ok(())
}

/// The first lines of a report: the file, the loss and the model; the data
/// and the training (`seeds` names the seeds run); a blank line.
fn write_header(out: &mut dyn WriteColor, fit: &Fit, file: &str, origin: &str, seeds: &str) -> io::Result<()> {
    use lossc::ir::format_approx;
    let task = &fit.task;
    let options = &fit.options;
    writeln!(
        out,
        "fit {file}: loss `{}`, {} model ({}: {})",
        task.loss,
        task.model.as_str(),
        match task.model {
            ModelKind::Linear => "no activation",
            ModelKind::Logistic => "sigmoid",
            ModelKind::Softmax => "softmax",
        },
        task.model_reason
    )?;
    let data = if origin == "synthetic" {
        format!("{} synthetic samples", fit.samples)
    } else {
        format!("{} samples from {origin}", fit.samples)
    };
    writeln!(
        out,
        "  {data}, {} feature{} -> {} output{}; {} (lr {}), {} epochs of batches of {}, {seeds}, {}",
        fit.features,
        plural(fit.features),
        fit.outputs,
        plural(fit.outputs),
        options.optimizer.name(),
        format_approx(options.optimizer.learning_rate()),
        options.epochs,
        options.batch_size,
        options.dtype
    )?;
    writeln!(out)
}

/// The report of several seeds: the header, one line per seed (a sparkline
/// of its loss and its verdict), the count, and the reasons of the first
/// seed with the overall status.
fn write_seeds(out: &mut dyn WriteColor, fits: &[Fit], file: &str, origin: &str, plot: Option<&str>) -> io::Result<()> {
    let (first, last) = (fits[0].options.seed, fits[fits.len() - 1].options.seed);
    write_header(out, &fits[0], file, origin, &format!("seeds {first} to {last}"))?;
    let width = last.to_string().len();
    for fit in fits {
        let losses: Vec<f64> = fit.run.history.iter().map(|epoch| epoch.loss).collect();
        write!(
            out,
            "seed {:>width$}  {:<20}  ",
            fit.options.seed,
            sparkline(&losses, 20)
        )?;
        write_summary(out, fit.verdict.status, &fit.verdict.summary)?;
        writeln!(out)?;
    }
    if let Some(path) = plot {
        writeln!(out, "plot written to {path} (seed {first})")?;
    }
    writeln!(out)?;
    let (status, count) = overall(fits);
    write_summary(out, status, &count)?;
    writeln!(out)?;
    if let Some(shown) = fits.iter().find(|fit| fit.verdict.status == status) {
        if !shown.verdict.reasons.is_empty() {
            writeln!(out, "seed {}:", shown.options.seed)?;
            write_reasons(out, &shown.verdict)?;
        }
        writeln!(out, "(`--seed {}` shows that run epoch by epoch)", shown.options.seed)?;
    }
    Ok(())
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// A line of at most `width` block characters, one per epoch (or per group
/// of epochs, their last loss), from the lowest loss to the highest; `×`
/// marks a NaN or infinite loss.
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let groups = values.len().div_ceil(width);
    let points: Vec<f64> = values.chunks(groups).map(|chunk| chunk[chunk.len() - 1]).collect();
    let finite = points.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    points
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                '×'
            } else if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()) {
                BLOCKS[3]
            } else {
                let level = ((v - lo) / (hi - lo) * (BLOCKS.len() - 1) as f64).round() as usize;
                BLOCKS[level.min(BLOCKS.len() - 1)]
            }
        })
        .collect()
}

/// The whole output of `fit --format json`: every number of the first (or
/// only) seed's run, and the verdict of every seed.
#[derive(Debug, Serialize)]
pub struct FitReport<'a> {
    pub file: &'a str,
    pub loss: &'a str,
    pub dtype: &'static str,
    pub model: JsonModel<'a>,
    pub data: JsonData<'a>,
    pub training: JsonTraining,
    /// One entry per epoch run.
    pub history: Vec<JsonEpoch>,
    /// The whole data set under the initial weights, and under the final ones.
    pub before: JsonSnapshot,
    pub after: JsonSnapshot,
    pub weights: JsonWeights,
    pub verdict: JsonVerdict<'a>,
    /// `check`'s findings for the loss, which the verdict links to.
    pub diagnostics: Vec<JsonFinding<'a>>,
    /// The `--plot` file, if one was written.
    pub plot: Option<String>,
    /// Every seed run, the first included, in order.
    pub seeds: Vec<JsonSeed<'a>>,
    /// The verdict over the seeds.
    pub overall: JsonOverall,
}

/// One seed's run: its loss and accuracy before and after, and its verdict.
#[derive(Debug, Serialize)]
pub struct JsonSeed<'a> {
    pub seed: u64,
    pub before: JsonSnapshot,
    pub after: JsonSnapshot,
    pub verdict: JsonVerdict<'a>,
}

/// The verdict over the seeds: `learning` only if every seed learned.
#[derive(Debug, Serialize)]
pub struct JsonOverall {
    /// `learning`, `stalled`, `diverging` or `diverged`.
    pub status: &'static str,
    /// E.g. `stalled on 2 of 5 seeds; learning on 3 (seeds 0, 2, 3)`.
    pub summary: String,
    /// How many seeds learned, of `runs`.
    pub learning: usize,
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonModel<'a> {
    pub kind: &'static str,
    pub activation: &'static str,
    /// Why this model (the declaration it matches, or `as asked`).
    pub reason: &'a str,
    pub features: usize,
    pub outputs: usize,
    pub prediction: &'a str,
    pub target: &'a str,
    pub notes: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct JsonData<'a> {
    /// `synthetic`, or the two files.
    pub origin: &'a str,
    pub samples: usize,
    pub features: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonTraining {
    pub optimizer: &'static str,
    pub lr: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub shuffle: bool,
    /// Optimizer steps taken.
    pub steps: usize,
}

/// One epoch: the loss and the fractions (0 to 1) of samples whose gradient
/// is exactly zero, NaN or infinite (`nan`), or above 1e6 (`exploding`).
#[derive(Debug, Serialize)]
pub struct JsonEpoch {
    pub epoch: usize,
    pub loss: Number,
    pub zero: f64,
    pub zero_in_loss: f64,
    pub nan: f64,
    pub exploding: f64,
    pub weight_norm: Number,
}

#[derive(Debug, Serialize)]
pub struct JsonSnapshot {
    pub loss: Number,
    pub zero: f64,
    pub zero_in_loss: f64,
    pub nan: f64,
    pub exploding: f64,
    /// The fraction of samples the model gets wrong.
    pub misfit: f64,
    /// The fraction wrong with a zero gradient: nothing corrects them.
    pub dead_misfit: f64,
    pub accuracy: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct JsonWeights {
    pub initial: JsonLayer,
    #[serde(rename = "final")]
    pub last: JsonLayer,
}

/// A dense layer: `kernel` is `[features, outputs]`, `bias` `[outputs]`.
#[derive(Debug, Serialize)]
pub struct JsonLayer {
    pub kernel: Vec<Vec<Number>>,
    pub bias: Vec<Number>,
}

#[derive(Debug, Serialize)]
pub struct JsonVerdict<'a> {
    /// `learning`, `stalled`, `diverging` or `diverged`.
    pub status: &'static str,
    pub summary: &'a str,
    /// The epoch a diverged run stopped at.
    pub epoch: Option<usize>,
    pub reasons: Vec<JsonReason<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonReason<'a> {
    pub text: &'a str,
    /// The diagnostic that predicted it.
    pub see: Option<JsonFinding<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    pub code: &'static str,
    pub severity: &'static str,
    pub line: usize,
    pub column: usize,
    pub message: &'a str,
}

impl<'a> JsonFinding<'a> {
    fn new(finding: &'a Finding) -> Self {
        JsonFinding {
            code: finding.code.as_str(),
            severity: finding.severity.as_str(),
            line: finding.line,
            column: finding.column,
            message: &finding.message,
        }
    }
}

impl<'a> FitReport<'a> {
    /// The report of `fits` (one per seed, at least one).
    pub fn new(fits: &'a [Fit], file: &'a str, origin: &'a str, findings: &'a [Finding], plot: Option<String>) -> Self {
        let fit = &fits[0];
        let dtype = fit.options.dtype;
        let number = |v: f64| Number(v, dtype);
        let snapshot = |s: &lossc_fit::Snapshot| JsonSnapshot {
            loss: number(s.loss),
            zero: s.health.zero,
            zero_in_loss: s.health.zero_in_loss,
            nan: s.health.non_finite,
            exploding: s.health.exploding,
            misfit: s.misfit,
            dead_misfit: s.dead_misfit,
            accuracy: s.accuracy,
        };
        let layer = |layer: &lossc_fit::Dense<f64>| JsonLayer {
            kernel: layer
                .kernel
                .chunks(layer.outputs.max(1))
                .map(|row| row.iter().map(|&v| number(v)).collect())
                .collect(),
            bias: layer.bias.iter().map(|&v| number(v)).collect(),
        };
        let verdict = |verdict: &'a lossc_fit::Verdict| JsonVerdict {
            status: verdict.status.as_str(),
            summary: &verdict.summary,
            epoch: verdict.epoch,
            reasons: verdict
                .reasons
                .iter()
                .map(|reason| JsonReason {
                    text: &reason.text,
                    see: reason.see.as_ref().map(JsonFinding::new),
                })
                .collect(),
        };
        let (status, summary) = overall(fits);
        let task = &fit.task;
        let run = &fit.run;
        FitReport {
            file,
            loss: &task.loss,
            dtype: dtype.as_str(),
            model: JsonModel {
                kind: task.model.as_str(),
                activation: task.model.activation(),
                reason: &task.model_reason,
                features: fit.features,
                outputs: fit.outputs,
                prediction: &task.prediction,
                target: &task.target,
                notes: &task.notes,
            },
            data: JsonData {
                origin,
                samples: fit.samples,
                features: fit.features,
            },
            training: JsonTraining {
                optimizer: fit.options.optimizer.name(),
                lr: fit.options.optimizer.learning_rate(),
                epochs: fit.options.epochs,
                batch_size: fit.options.batch_size,
                seed: fit.options.seed,
                shuffle: fit.options.shuffle,
                steps: run.steps,
            },
            history: run
                .history
                .iter()
                .map(|epoch| JsonEpoch {
                    epoch: epoch.epoch,
                    loss: number(epoch.loss),
                    zero: epoch.health.zero,
                    zero_in_loss: epoch.health.zero_in_loss,
                    nan: epoch.health.non_finite,
                    exploding: epoch.health.exploding,
                    weight_norm: Number(epoch.weight_norm, Dtype::F64),
                })
                .collect(),
            before: snapshot(&run.before),
            after: snapshot(&run.after),
            weights: JsonWeights {
                initial: layer(&run.initial_weights),
                last: layer(&run.weights),
            },
            verdict: verdict(&fit.verdict),
            diagnostics: findings.iter().map(JsonFinding::new).collect(),
            plot,
            seeds: fits
                .iter()
                .map(|fit| JsonSeed {
                    seed: fit.options.seed,
                    before: snapshot(&fit.run.before),
                    after: snapshot(&fit.run.after),
                    verdict: verdict(&fit.verdict),
                })
                .collect(),
            overall: JsonOverall {
                status: status.as_str(),
                summary,
                learning: fits
                    .iter()
                    .filter(|fit| fit.verdict.status == Verdict::Learning)
                    .count(),
                runs: fits.len(),
            },
        }
    }
}

fn write_json(out: &mut dyn Write, report: &FitReport<'_>) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    writeln!(out)
}

/// The picture: the loss per epoch above the fractions of samples whose
/// gradient is zero, NaN or exploding.
fn svg(fit: &Fit, file: &str) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let history = &fit.run.history;
    let epochs = history.len().max(1) as f64;
    let losses: Vec<(f64, f64)> = history
        .iter()
        .filter(|e| e.loss.is_finite())
        .map(|e| (e.epoch as f64, e.loss))
        .collect();
    let (lo, hi) = losses
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let margin = ((hi - lo) * 0.05).max(hi.abs() * 1e-3).max(1e-12);
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (800, 620)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let title = format!(
            "lossc fit {file}: {} model, seed {}",
            fit.task.model.as_str(),
            fit.options.seed
        );
        let body = root.titled(&title, ("sans-serif", 16)).map_err(|e| fail(&e))?;
        let body = body
            .titled(&fit.verdict.summary, ("sans-serif", 13))
            .map_err(|e| fail(&e))?;
        let (top, bottom) = body.split_vertically(310);

        let mut chart = ChartBuilder::on(&top)
            .caption(format!("loss `{}` per epoch", fit.task.loss), ("sans-serif", 14))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..epochs, (lo - margin)..(hi + margin))
            .map_err(|e| fail(&e))?;
        let whole = |v: &f64| format!("{v:.0}");
        let loss_label = |v: &f64| lossc::ir::format_approx(*v);
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .x_label_formatter(&whole)
            .y_label_formatter(&loss_label)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| fail(&e))?;
        let blue = RGBColor(31, 119, 180);
        chart
            .draw_series(LineSeries::new(losses.iter().copied(), blue.stroke_width(2)))
            .map_err(|e| fail(&e))?;

        let mut health = ChartBuilder::on(&bottom)
            .caption("samples whose gradient is zero, NaN or exploding", ("sans-serif", 14))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..epochs, 0.0..100.0)
            .map_err(|e| fail(&e))?;
        health
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("% of samples")
            .x_label_formatter(&whole)
            .y_label_formatter(&whole)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| fail(&e))?;
        let series: [(&str, RGBColor, Fraction); 3] = [
            ("zero", RGBColor(214, 39, 40), |h| h.zero),
            ("NaN or inf", RGBColor(90, 0, 0), |h| h.non_finite),
            ("exploding", RGBColor(255, 127, 14), |h| h.exploding),
        ];
        for (label, color, pick) in series {
            health
                .draw_series(LineSeries::new(
                    history.iter().map(|e| (e.epoch as f64, 100.0 * pick(&e.health))),
                    color.stroke_width(2),
                ))
                .map_err(|e| fail(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        health
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(text)
}

/// Picks one fraction out of a [`lossc_fit::Health`].
type Fraction = fn(&lossc_fit::Health) -> f64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_span_the_blocks() {
        assert_eq!(sparkline(&[3.0, 2.0, 1.0, 0.0], 10), "█▆▃▁");
        assert_eq!(sparkline(&[1.0, 1.0], 10), "▄▄");
        assert_eq!(sparkline(&[1.0, f64::NAN], 10), "▄×");
        assert_eq!(
            sparkline(&(0..100).map(f64::from).collect::<Vec<_>>(), 10)
                .chars()
                .count(),
            10
        );
    }

    #[test]
    fn long_runs_show_a_tenth_of_their_epochs() {
        assert_eq!(shown_epochs(5), [0, 1, 2, 3, 4]);
        let shown = shown_epochs(100);
        assert_eq!(shown[..4], [0, 1, 2, 9]);
        assert_eq!(shown.last(), Some(&99));
        assert_eq!(shown.len(), 13);
    }
}
