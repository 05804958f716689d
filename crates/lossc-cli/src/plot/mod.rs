//! `lossc plot`: a loss and its gradient against one input over its declared
//! domain, the other inputs held fixed, as an SVG picture.
//!
//! One sample is drawn (the batch dimension is 1; other dimensions are 2
//! unless `--dim` or `--fix` data says otherwise); the swept input's first
//! element varies, its other elements and the other inputs keep their fixed
//! values (`--fix`, else a typical value of their domain). A finite-set
//! input that is not fixed gives one column per value (y_true = 0 and
//! y_true = 1). [`curve`] samples and reads the curves, [`draw`] draws them.

pub mod curve;
pub mod draw;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use codespan_reporting::term::termcolor::WriteColor;
use lossc::Dtype;
use lossc::ir::{Dim, Domain};
use ndarray::{ArrayD, IxDyn};

use crate::cli::{DtypeArg, Format, ParamArgs, library_error, listing};
use crate::data::{self, InputArg};
use crate::eval::number_text;
use crate::program::{self, Compiled};
use crate::source::SourceArgs;
use crate::{CliError, Status, finish_output, write_note_line};
use curve::{Curve, Features};

pub(crate) const LONG_ABOUT: &str = "\
Draw a loss and its gradient against one input, marking dead zones and kinks.

Sweeps one input (--wrt, default the file's first `wrt` input, else y_pred)
over its declared domain, holds the other inputs fixed, and draws the loss
above its derivative with respect to that input, as an SVG picture. A
`real` input is drawn over [-10, 10], a half-open one over 10 units from its
end (--range LO,HI draws another interval).

On the picture: where the gradient is exactly zero the region is shaded (a
dead zone), a jump of the loss is a red line, a kink (a jump of the slope)
an orange line, and a NaN or infinite value a dark red dot on the edge. All
of it is read from evaluated numbers, in --dtype (f32 by default).

The other inputs hold --fix NAME=VALUE (a number, or a JSON array of the
input's shape), else a typical value of their domain: the middle of an
interval, 1 for `real`. An input with a finite set of values, such as
y_true: {0, 1}, gives one column per value unless it is fixed. One sample
is drawn: the batch dimension is 1, other dimensions 2 (--dim NAME=SIZE).

A summary of what the picture shows is printed on stdout.

Exit status: 0 success, 1 the program has errors (shown as `check` shows
them), 2 bad usage or unreadable input.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc plot examples/mse.loss --out mse.svg
  lossc plot examples/faulty_step_where.loss --out step_where.svg
  lossc plot examples/hinge.loss --fix y_true=1 --range=-3,3 --out hinge.svg
  lossc plot examples/gaussian_nll.loss --wrt var --fix y_pred=0.5 --out nll_var.svg
  lossc plot examples/cce_logits.loss --fix 'y_true=[[1, 0, 0]]' --out cce.svg
  lossc plot -e 'mean(abs(y_true - y_pred))' --dtype f64 --out mae.svg";

/// Options of `lossc plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SVG file to write, e.g. `--out loss.svg`.
    #[arg(long, short = 'o', value_name = "FILE.svg")]
    pub out: PathBuf,

    /// The loss to draw, by name (default: the first), e.g. `--loss focal`.
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    /// The input to sweep along the x axis, e.g. `--wrt y_pred`.
    #[arg(long, value_name = "NAME")]
    pub wrt: Option<String>,

    /// Hold an input at VALUE: a number (every element) or a JSON array of
    /// the input's shape for one sample, e.g. `--fix y_true=1` or
    /// `--fix 'y_true=[[0, 1]]'`; repeat for several inputs.
    #[arg(long = "fix", value_name = "NAME=VALUE", value_parser = data::parse_input)]
    pub fix: Vec<InputArg>,

    /// The size of a dimension (default: 1 for the batch, 2 for others),
    /// e.g. `--dim C=3`.
    #[arg(long = "dim", value_name = "NAME=SIZE", value_parser = parse_dim)]
    pub dims: Vec<(String, usize)>,

    /// The interval to sweep instead of the domain, e.g. `--range=-3,3`.
    #[arg(long, value_name = "LO,HI", value_parser = parse_range, allow_hyphen_values = true)]
    pub range: Option<(f64, f64)>,

    /// How many points to evaluate along the sweep, e.g. `--points 2001`.
    #[arg(long, value_name = "COUNT", default_value_t = 801, value_parser = clap::value_parser!(u32).range(3..=100_000))]
    pub points: u32,

    /// The float type to evaluate in, e.g. `--dtype f64`.
    #[arg(long, value_enum, value_name = "DTYPE", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,

    #[command(flatten)]
    pub params: ParamArgs,
}

/// Parses `NAME=SIZE`.
pub fn parse_dim(text: &str) -> Result<(String, usize), String> {
    let (name, size) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=SIZE, e.g. `--dim C=3`".to_string())?;
    match size.trim().parse::<usize>() {
        Ok(size) if size >= 1 => Ok((name.trim().to_string(), size)),
        _ => Err(format!(
            "`{}` is not a size (an integer, at least 1), e.g. `--dim C=3`",
            size.trim()
        )),
    }
}

/// Parses `LO,HI` with finite LO < HI.
pub fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("`{text}` is not an interval LO,HI with LO < HI, e.g. `--range=-3,3`");
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if lo.is_finite() && hi.is_finite() && lo < hi {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// The most numbers an input of the one plotted sample holds.
pub const MAX_SAMPLE_ELEMENTS: usize = 65_536;

/// At most this many columns (the product of the finite sets' sizes).
const MAX_CASES: usize = 16;

/// Runs `plot`: the SVG file, and a summary on `out`.
pub fn run(args: &PlotArgs, out: &mut dyn WriteColor, err: &mut dyn WriteColor) -> Result<Status, CliError> {
    let source = args.source.load()?;
    run_on(args, &source, out, err)
}

/// Runs `plot` on `source` (`args.source` is not read): the REPL's `:plot`
/// draws its session.
pub fn run_on(
    args: &PlotArgs,
    source: &crate::source::Source,
    out: &mut dyn WriteColor,
    err: &mut dyn WriteColor,
) -> Result<Status, CliError> {
    let is_svg = args
        .out
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("svg"));
    if !is_svg {
        return Err(CliError::new(format!(
            "`--out {}`: lossc writes SVG only; name the file `.svg` (an SVG renderer such as \
             `rsvg-convert plot.svg -o plot.png` makes a PNG)",
            args.out.display()
        )));
    }
    let file = source.name.as_str();
    let dtype = args.dtype.dtype();
    let program = match program::compile(source, &args.params, Format::Text, dtype, out)? {
        Compiled::Program(program) => program,
        Compiled::Rejected(status) => return Ok(status),
    };
    let plan = Plan::new(args, &program, file)?;
    for note in &plan.notes {
        write_note_line(err, note);
    }

    let gradient = program
        .gradient(Some(&plan.loss), &[plan.swept.as_str()])
        .map_err(|error| library_error(&error, file))?;
    let grad_name = format!("d_{}_d_{}", plan.loss, plan.swept);
    let mut grad_program = lossc::compile(&gradient.to_source()).map_err(|error| {
        CliError::new(format!(
            "cannot plot `{file}`: the gradient program does not compile ({error}); this is a bug in lossc"
        ))
    })?;
    for (name, value) in args.params.pairs() {
        // The printed program already holds the values; this only keeps a
        // param the gradient does not print from being a surprise.
        let _ = grad_program.set_param(&name, value);
    }

    let xs = curve::grid(dtype, plan.range.0, plan.range.1, args.points as usize);
    let mut panels = Vec::with_capacity(plan.cases.len());
    let mut summary = Vec::new();
    for case in &plan.cases {
        let mut sampler = Sampler {
            program: &program,
            grad_program: &grad_program,
            loss: &plan.loss,
            grad_name: &grad_name,
            dtype,
            inputs: case.inputs.clone(),
            swept: plan.swept_index,
            domain: program.ir().inputs[plan.swept_index].domain.clone(),
            file,
        };
        let mut curve = Curve {
            xs: xs.clone(),
            ..Curve::default()
        };
        for &x in &xs {
            let (value, grad) = sampler.at(x)?;
            curve.values.push(value);
            curve.grads.push(grad);
        }
        let features = curve::features(&curve, dtype, &mut |x| sampler.at(x))?;
        summary.push((case.caption.clone(), describe(&plan.swept_label, &features)));
        panels.push(draw::Panel {
            caption: case.caption.clone(),
            curve,
            features,
        });
    }

    let mut title = format!("{} against {} ({dtype})", plan.loss, plan.swept_label);
    if !plan.held.is_empty() {
        title.push_str(&format!(", {}", plan.held.join(", ")));
    }
    if let Some(reason) = &plan.range_reason {
        title.push_str(&format!(
            "; {reason}: drawn over [{}, {}]",
            number_text(plan.range.0),
            number_text(plan.range.1)
        ));
    }
    let figure = draw::Figure {
        title,
        x_name: plan.swept_label.clone(),
        loss_name: plan.loss.clone(),
        range: plan.range,
        panels,
    };
    let svg = draw::svg(&figure).map_err(|error| CliError::new(format!("cannot draw the plot: {error}")))?;
    write_atomically(&args.out, svg.as_bytes())?;

    let written = (|| {
        writeln!(
            out,
            "{}: loss `{}` against `{}` over [{}, {}] ({dtype}){}",
            args.out.display(),
            plan.loss,
            plan.swept_label,
            number_text(plan.range.0),
            number_text(plan.range.1),
            if plan.held.is_empty() {
                String::new()
            } else {
                format!(", {}", plan.held.join(", "))
            }
        )?;
        for (caption, lines) in &summary {
            let indent = if caption.is_empty() {
                "  ".to_string()
            } else {
                writeln!(out, "  {caption}:")?;
                "    ".to_string()
            };
            for line in lines {
                writeln!(out, "{indent}{line}")?;
            }
        }
        out.flush()
    })();
    finish_output(Status::Success, written)
}

/// The findings of one curve, one sentence each.
fn describe(swept: &str, features: &Features) -> Vec<String> {
    let mut lines = Vec::new();
    for &(from, to) in &features.dead {
        lines.push(format!(
            "dead zone: the gradient is exactly 0 for {swept} in [{}, {}]",
            number_text(from),
            number_text(to)
        ));
    }
    let points = |points: &[f64]| points.iter().map(|&x| number_text(x)).collect::<Vec<_>>().join(", ");
    if !features.jumps.is_empty() {
        lines.push(format!("the loss jumps at {swept} = {}", points(&features.jumps)));
    }
    if !features.kinks.is_empty() {
        lines.push(format!(
            "kinks (the slope jumps) at {swept} = {}",
            points(&features.kinks)
        ));
    }
    for (what, bad) in [("loss", &features.bad_values), ("gradient", &features.bad_grads)] {
        if !bad.is_empty() {
            let xs: Vec<f64> = bad.iter().map(|&(x, _)| x).collect();
            let shown = if xs.len() > 6 {
                format!("{}, ... ({} points)", points(&xs[..6]), xs.len())
            } else {
                points(&xs)
            };
            lines.push(format!("the {what} is NaN or infinite at {swept} = {shown}"));
        }
    }
    if lines.is_empty() {
        lines.push("no dead zone, jump, kink, NaN or infinity".to_string());
    }
    lines
}

/// What to draw, decided from the program and the options.
#[derive(Debug)]
struct Plan {
    loss: String,
    swept: String,
    /// The swept input, or its first element, e.g. `y_pred[0, 0]`.
    swept_label: String,
    /// The index of the swept input in each case's inputs.
    swept_index: usize,
    range: (f64, f64),
    /// Why the range is not the whole domain, for the title.
    range_reason: Option<String>,
    cases: Vec<Case>,
    /// `name = value` of the inputs held fixed by default, for the title.
    held: Vec<String>,
    notes: Vec<String>,
}

/// One column: every input's data for one sample.
#[derive(Debug, Clone)]
struct Case {
    caption: String,
    inputs: Vec<(String, ArrayD<f64>)>,
}

impl Plan {
    fn new(args: &PlotArgs, program: &lossc::Program, file: &str) -> Result<Plan, CliError> {
        let ir = program.ir();
        let mut notes = Vec::new();
        let loss = match &args.loss {
            Some(name) if program.losses().any(|loss| loss == name) => name.clone(),
            Some(name) => {
                return Err(CliError::new(format!(
                    "`--loss {name}`: no loss named `{name}` in `{file}`; its losses: {}",
                    listing(program.losses())
                )));
            }
            None => program
                .losses()
                .next()
                .ok_or_else(|| CliError::new(format!("`{file}` defines no `loss`: there is nothing to plot")))?
                .to_string(),
        };
        let inputs = || listing(ir.inputs.iter().map(|input| input.name.as_str()));

        // The swept input.
        let swept_index = match &args.wrt {
            Some(name) => match ir.find_input(name) {
                Ok(index) => index,
                Err(missing) if ir.param(name).is_some() => {
                    return Err(CliError::new(format!(
                        "`--wrt {name}`: `{name}` is a param; plot sweeps an input (its inputs: {}); \
                         set a param with `--param {name}=VALUE`",
                        missing.listing()
                    )));
                }
                Err(missing) => {
                    return Err(CliError::new(format!(
                        "`--wrt {name}`: no input named `{name}` in `{file}`{}; its inputs: {}",
                        missing.hint(),
                        missing.listing()
                    )));
                }
            },
            None => ir
                .wrt
                .iter()
                .find_map(|var| match var {
                    lossc::Var::Input(index) => Some(*index),
                    lossc::Var::Param(_) => None,
                })
                .or_else(|| ir.input("y_pred"))
                .or_else(|| {
                    ir.inputs
                        .iter()
                        .position(|input| !matches!(input.domain, Domain::Set(_)))
                })
                .ok_or_else(|| CliError::new(format!("`{file}` has no input to plot against")))?,
        };
        let swept = ir.inputs[swept_index].name.clone();
        let mut range_reason = None;
        let largest = match args.dtype.dtype() {
            Dtype::F32 => f64::from(f32::MAX),
            Dtype::F64 => f64::MAX,
        };
        let range = match (args.range, &ir.inputs[swept_index].domain) {
            (_, Domain::OneHot) => {
                return Err(CliError::new(format!(
                    "`{swept}` holds one-hot rows, which have no values in between: plot it against an input with \
                     an interval or simplex domain (`--wrt NAME`; the inputs: {})",
                    inputs()
                )));
            }
            (_, Domain::Set(values)) => {
                return Err(CliError::new(format!(
                    "`{swept}` takes only the values {}: plot it against an input with an interval domain \
                     (`--wrt NAME`; the inputs: {})",
                    values.iter().map(|v| number_text(*v)).collect::<Vec<_>>().join(", "),
                    inputs()
                )));
            }
            (Some(range), _) => {
                if range.0 < -largest || range.1 > largest {
                    return Err(CliError::new(format!(
                        "`--range={},{}`: the {} floats end at ±{}; give an interval inside them (or `--dtype f64`)",
                        number_text(range.0),
                        number_text(range.1),
                        args.dtype.dtype(),
                        number_text(largest)
                    )));
                }
                range
            }
            (None, domain) => {
                let (range, note) = sweep_range(&swept, domain, args.dtype.dtype());
                if note.is_some() {
                    range_reason = Some(match domain {
                        Domain::Real => format!("{swept} is real"),
                        _ => format!("{swept} is unbounded"),
                    });
                }
                notes.extend(note);
                // A domain may reach beyond the dtype's floats (`[-1e308,
                // 1e308]` in f32), or hold none of them (`(0, 1e-320)`).
                let dtype = args.dtype.dtype();
                if range.0 > range.1 {
                    return Err(CliError::new(format!(
                        "`{swept}`'s domain holds no {dtype} number to plot; try `--dtype f64` or `--range LO,HI`"
                    )));
                }
                let clamped = (range.0.max(-largest), range.1.min(largest));
                let (lo, hi) = domain.hull();
                let end_beyond = (lo.is_finite() && lo < -largest) || (hi.is_finite() && hi > largest);
                if clamped != range || end_beyond {
                    notes.push(format!(
                        "`{swept}`'s domain reaches beyond the finite {dtype} numbers: plotted over [{}, {}]",
                        number_text(clamped.0),
                        number_text(clamped.1)
                    ));
                }
                clamped
            }
        };

        // Fixed data, by input.
        let mut fixed: Vec<Option<ArrayD<f64>>> = vec![None; ir.inputs.len()];
        for fix in &args.fix {
            let index = ir.find_input(&fix.name).map_err(|missing| {
                CliError::new(format!(
                    "`--fix {}`: no input named `{}` in `{file}`{}; its inputs: {}",
                    fix.name,
                    fix.name,
                    missing.hint(),
                    missing.listing()
                ))
            })?;
            fixed[index] = Some(fix.load_at_most(MAX_SAMPLE_ELEMENTS)?);
        }

        // Dimension sizes: --dim, then the shapes of fixed data, then defaults.
        let mut sizes: Vec<Option<usize>> = vec![None; ir.dims.len()];
        for (name, size) in &args.dims {
            let Some(index) = ir.dims.iter().position(|dim| dim == name) else {
                return Err(CliError::new(format!(
                    "`--dim {name}={size}`: no dimension named `{name}` in `{file}`; its dimensions: {}",
                    listing(ir.dims.iter().map(String::as_str))
                )));
            };
            sizes[index] = Some(*size);
        }
        let batch = match ir.batch {
            Some(Dim::Named(id)) => Some(id.0 as usize),
            _ => None,
        };
        for (index, data) in fixed.iter().enumerate() {
            let Some(data) = data.as_ref().filter(|data| data.ndim() > 0) else {
                continue;
            };
            let input = &ir.inputs[index];
            let declared = ir.shape_string(&input.shape);
            if data.ndim() != input.shape.len() {
                return Err(CliError::new(format!(
                    "`--fix {}`: the data has shape {:?} but `{}` is declared {declared}; give a number or one sample of that shape",
                    input.name,
                    data.shape(),
                    input.name
                )));
            }
            for (dim, &len) in input.shape.iter().zip(data.shape()) {
                let (expected, name) = match *dim {
                    Dim::Fixed(n) => (Some(n as usize), n.to_string()),
                    Dim::Named(id) => {
                        let slot = &mut sizes[id.0 as usize];
                        let expected = *slot.get_or_insert(len);
                        (Some(expected), ir.dims[id.0 as usize].clone())
                    }
                };
                if expected != Some(len) {
                    return Err(CliError::new(format!(
                        "`--fix {}`: the data has {len} entries along `{name}`, which is {} here (shape {:?}, declared {declared})",
                        input.name,
                        expected.unwrap_or(0),
                        data.shape()
                    )));
                }
            }
        }
        if let Some(batch) = batch {
            match sizes[batch] {
                Some(1) | None => sizes[batch] = Some(1),
                Some(other) => {
                    return Err(CliError::new(format!(
                        "plot draws one sample, but the data given with `--fix` has {other} along the batch dimension `{}`: give one row",
                        ir.dims[batch]
                    )));
                }
            }
        }
        let mut defaulted = Vec::new();
        for (index, size) in sizes.iter_mut().enumerate() {
            if size.is_none() {
                *size = Some(2);
                defaulted.push(format!("{} = 2", ir.dims[index]));
            }
        }
        if !defaulted.is_empty() {
            notes.push(format!(
                "one sample with {} (set a size with `--dim NAME=SIZE`)",
                defaulted.join(", ")
            ));
        }
        let shape_of = |shape: &[Dim]| -> Vec<usize> {
            shape
                .iter()
                .map(|dim| match *dim {
                    Dim::Fixed(n) => n as usize,
                    Dim::Named(id) => sizes[id.0 as usize].unwrap_or(1),
                })
                .collect()
        };

        // Every input is one sample, evaluated at every point of the curve:
        // its size bounds the work.
        for input in &ir.inputs {
            let shape = shape_of(&input.shape);
            let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if count.is_none_or(|count| count > MAX_SAMPLE_ELEMENTS) {
                let sizes: Vec<String> = shape.iter().map(usize::to_string).collect();
                return Err(CliError::new(format!(
                    "`{}` would have shape [{}] here; plot draws one sample of at most {MAX_SAMPLE_ELEMENTS} numbers per input (set smaller sizes with `--dim NAME=SIZE`)",
                    input.name,
                    sizes.join(", ")
                )));
            }
        }

        // The base data of every input, and the inputs that make cases.
        let mut base = Vec::with_capacity(ir.inputs.len());
        let mut splits: Vec<(usize, Vec<f64>)> = Vec::new();
        let mut held = Vec::new();
        for (index, input) in ir.inputs.iter().enumerate() {
            let shape = shape_of(&input.shape);
            let data = match &fixed[index] {
                Some(data) if data.ndim() == 0 => {
                    ArrayD::from_elem(IxDyn(&shape), data.iter().next().copied().unwrap_or(0.0))
                }
                Some(data) => data.clone(),
                None => {
                    let value = typical(&input.domain);
                    if index != swept_index {
                        match &input.domain {
                            Domain::Set(values) if values.len() > 1 => splits.push((index, values.clone())),
                            Domain::Simplex => held.push(format!("{} = uniform rows", input.name)),
                            Domain::OneHot => held.push(format!("{} = rows hot at class 0", input.name)),
                            _ => held.push(format!("{} = {}", input.name, number_text(value))),
                        }
                    }
                    typical_data(&input.domain, &shape)
                }
            };
            base.push((input.name.clone(), data));
        }

        // A tensor input is swept at its first element.
        let swept_data = &base[swept_index].1;
        let swept_label = if swept_data.len() > 1 {
            let index = vec!["0"; swept_data.ndim()].join(", ");
            let label = format!("{swept}[{index}]");
            let others = match (&fixed[swept_index], &ir.inputs[swept_index].domain) {
                (Some(_), _) => "the `--fix` values".to_string(),
                (None, Domain::Simplex) => "1 - x shared, so that each row sums to 1".to_string(),
                (None, domain) => number_text(typical(domain)),
            };
            notes.push(format!(
                "`{swept}` has {} elements per sample: {label} is swept, the others hold {others}",
                swept_data.len()
            ));
            label
        } else {
            swept.clone()
        };

        let count: usize = splits.iter().map(|(_, values)| values.len()).product();
        if count > MAX_CASES {
            return Err(CliError::new(format!(
                "the finite-set inputs {} make {count} cases, more than {MAX_CASES} columns: hold some with `--fix NAME=VALUE`",
                listing(splits.iter().map(|(index, _)| ir.inputs[*index].name.as_str()))
            )));
        }
        let mut cases = vec![Case {
            caption: String::new(),
            inputs: base,
        }];
        for (index, values) in &splits {
            let name = &ir.inputs[*index].name;
            cases = cases
                .into_iter()
                .flat_map(|case| {
                    values.iter().map(move |&value| {
                        let mut case = case.clone();
                        case.inputs[*index].1.fill(value);
                        let part = format!("{name} = {}", number_text(value));
                        case.caption = if case.caption.is_empty() {
                            part
                        } else {
                            format!("{}, {part}", case.caption)
                        };
                        case
                    })
                })
                .collect();
        }

        Ok(Plan {
            loss,
            swept,
            swept_label,
            swept_index,
            range,
            range_reason,
            cases,
            held,
            notes,
        })
    }
}

/// The interval to sweep for a domain, and a note when it is not the domain
/// itself. A finite end is the first float of the dtype inside the domain
/// (an open end is left out).
fn sweep_range(name: &str, domain: &Domain, dtype: Dtype) -> ((f64, f64), Option<String>) {
    const WIDTH: f64 = 10.0;
    match *domain {
        // One element of a row: [0, 1] (one-hot rows are refused before this).
        Domain::Simplex | Domain::OneHot => sweep_range(name, &domain.element(), dtype),
        Domain::Interval { lo, hi, .. } => {
            let (lo_finite, hi_finite) = (lo.is_finite(), hi.is_finite());
            let (first, last) = domain.bounds(dtype);
            let from = match (lo_finite, hi_finite) {
                (true, _) => first,
                (false, true) => window_end(dtype, hi, -WIDTH),
                (false, false) => -WIDTH,
            };
            let to = match (lo_finite, hi_finite) {
                (_, true) => last,
                (true, false) => window_end(dtype, lo, WIDTH),
                (false, false) => WIDTH,
            };
            let note = (!lo_finite || !hi_finite).then(|| {
                format!(
                    "`{name}` is unbounded: plotted over [{}, {}] (`--range LO,HI` for another interval)",
                    number_text(from),
                    number_text(to)
                )
            });
            ((from, to), note)
        }
        // Sets are refused before this; `real` is the whole line.
        Domain::Real | Domain::Set(_) => (
            (-WIDTH, WIDTH),
            Some(format!(
                "`{name}` is `real`: plotted over [-10, 10] (`--range LO,HI` for another interval)"
            )),
        ),
    }
}

/// The far end of a window of `width` from the finite end `end` of a
/// half-bounded domain; where that window rounds to the single point `end`
/// in the dtype (`(-inf, 1e308]`), as far from `end` as `end` is from 0,
/// within the largest float: `[0, 1e308]`.
fn window_end(dtype: Dtype, end: f64, width: f64) -> f64 {
    let far = end + width;
    if dtype.round(far) != dtype.round(end) {
        return far;
    }
    let largest = match dtype {
        Dtype::F32 => f64::from(f32::MAX),
        Dtype::F64 => f64::MAX,
    };
    (end + width.signum() * end.abs()).clamp(-largest, largest)
}

/// The value an input holds when it is not swept or fixed: 1 for `real` (0
/// would make a vector input a zero vector, a degenerate case for a cosine
/// or a norm), the middle of a bounded interval, one unit inside a
/// half-bounded one, the first value of a set.
fn typical(domain: &Domain) -> f64 {
    match *domain {
        Domain::Real => 1.0,
        Domain::Interval { lo, hi, .. } => match (lo.is_finite(), hi.is_finite()) {
            (true, true) => lo + (hi - lo) / 2.0,
            (true, false) => lo + 1.0,
            (false, true) => hi - 1.0,
            (false, false) => 0.0,
        },
        Domain::Set(ref values) => values.first().copied().unwrap_or(0.0),
        Domain::Simplex | Domain::OneHot => 1.0,
    }
}

/// An input's data when it is not swept or fixed: [`typical`] everywhere,
/// or for a row domain, rows the domain holds (uniform simplex rows,
/// one-hot rows hot at the first class).
fn typical_data(domain: &Domain, shape: &[usize]) -> ArrayD<f64> {
    let width = shape.last().copied().unwrap_or(1).max(1);
    let first = match domain {
        Domain::Simplex => 1.0 / width as f64,
        _ => typical(domain),
    };
    let mut data = ArrayD::from_elem(IxDyn(shape), first);
    if domain.is_row()
        && let Some(values) = data.as_slice_mut()
    {
        for row in values.chunks_mut(width) {
            for (column, v) in row.iter_mut().enumerate() {
                *v = domain.row_element(first, false, column, width);
            }
        }
    }
    data
}

/// Evaluates the loss and its derivative with respect to the swept element.
struct Sampler<'a> {
    program: &'a lossc::Program,
    grad_program: &'a lossc::Program,
    loss: &'a str,
    grad_name: &'a str,
    dtype: Dtype,
    inputs: Vec<(String, ArrayD<f64>)>,
    swept: usize,
    /// The swept input's domain.
    domain: Domain,
    file: &'a str,
}

impl Sampler<'_> {
    /// `(loss, d loss / d x)` with the swept input's first element at `x`.
    fn at(&mut self, x: f64) -> Result<(f64, f64), CliError> {
        let data = &mut self.inputs[self.swept].1;
        let width = data.shape().last().copied().unwrap_or(1).max(1);
        match (&self.domain, data.as_slice_mut()) {
            // The rest of the first row shares 1 - x.
            (domain @ Domain::Simplex, Some(values)) => {
                for (column, v) in values.iter_mut().take(width).enumerate() {
                    *v = domain.row_element(x, false, column, width);
                }
            }
            _ => {
                if let Some(first) = data.iter_mut().next() {
                    *first = x;
                }
            }
        }
        let eval = |program: &lossc::Program, name: &str| {
            let options = lossc::EvalOptions {
                dtype: self.dtype,
                result: Some(name.to_string()),
                grad: false,
                wrt: Vec::new(),
            };
            program
                .eval(&self.inputs, &options)
                .map(|evaluation| evaluation.value.iter().next().copied().unwrap_or(f64::NAN))
                .map_err(|error| {
                    CliError::new(format!(
                        "cannot evaluate `{}`: {}",
                        self.file,
                        library_error(&error, self.file)
                    ))
                })
        };
        Ok((eval(self.program, self.loss)?, eval(self.grad_program, self.grad_name)?))
    }
}

/// Writes `bytes` to `path` ([`crate::output::write_file`]: a file
/// atomically, a device in place, anything else refused).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::output::write_file(path, ".svg.tmp", |file| file.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        assert_eq!(parse_range("-3,3"), Ok((-3.0, 3.0)));
        assert!(parse_range("3,-3").is_err());
        assert!(parse_range("0,inf").is_err());
        assert_eq!(parse_dim("C=3"), Ok(("C".to_string(), 3)));
        assert!(parse_dim("C=0").is_err());
    }

    /// A half-bounded domain whose finite end is too large for a window of
    /// 10 (`1e308 - 10 == 1e308`) is drawn over a finite window that is not
    /// a single point, and the note says which.
    #[test]
    fn a_huge_finite_end_gets_a_window_wider_than_a_point() {
        let below = Domain::Interval {
            lo: f64::NEG_INFINITY,
            lo_closed: false,
            hi: 1e308,
            hi_closed: true,
        };
        let ((from, to), note) = sweep_range("y_pred", &below, Dtype::F64);
        assert_eq!((from, to), (0.0, 1e308));
        assert_eq!(
            note.as_deref(),
            Some("`y_pred` is unbounded: plotted over [0, 1e+308] (`--range LO,HI` for another interval)")
        );
        let above = Domain::Interval {
            lo: -1e308,
            lo_closed: true,
            hi: f64::INFINITY,
            hi_closed: false,
        };
        assert_eq!(sweep_range("y_pred", &above, Dtype::F64).0, (-1e308, 0.0));
        let negative = Domain::Interval {
            lo: f64::NEG_INFINITY,
            lo_closed: false,
            hi: -1e308,
            hi_closed: true,
        };
        assert_eq!(sweep_range("y_pred", &negative, Dtype::F64).0, (-f64::MAX, -1e308));
        let f32_end = Domain::Interval {
            lo: f64::NEG_INFINITY,
            lo_closed: false,
            hi: 1e30,
            hi_closed: true,
        };
        let (from, to) = sweep_range("y_pred", &f32_end, Dtype::F32).0;
        assert!(from < to && from.is_finite(), "{from} {to}");
        // An ordinary end keeps its window of 10.
        let ordinary = Domain::Interval {
            lo: f64::NEG_INFINITY,
            lo_closed: false,
            hi: 1.0,
            hi_closed: true,
        };
        assert_eq!(sweep_range("y_pred", &ordinary, Dtype::F64).0, (-9.0, 1.0));
    }

    #[test]
    fn domains_give_ranges_and_typical_values() {
        let unit = Domain::interval(0.0, true, 1.0, true);
        assert_eq!(sweep_range("p", &unit, Dtype::F32), ((0.0, 1.0), None));
        assert_eq!(typical(&unit), 0.5);
        let open = Domain::interval(0.0, false, 1.0, false);
        let ((lo, hi), _) = sweep_range("p", &open, Dtype::F32);
        assert!(lo > 0.0 && hi < 1.0 && f64::from(hi as f32) == hi);
        let positive = Domain::interval(0.0, true, f64::INFINITY, false);
        let (range, note) = sweep_range("v", &positive, Dtype::F32);
        assert_eq!(range, (0.0, 10.0));
        assert!(note.unwrap().contains("unbounded"));
        assert_eq!(typical(&positive), 1.0);
        assert_eq!(sweep_range("z", &Domain::Real, Dtype::F32).0, (-10.0, 10.0));
    }

    #[test]
    fn a_swept_range_holds_only_floats_of_the_domain() {
        // 0.7 is not an f32 and the nearest one is below it: the sweep
        // starts at the next one up. An open end that is not an f32 excludes
        // only the real number, so the float just above it is inside.
        let closed = Domain::interval(0.7, true, 1.0, true);
        let ((lo, _), _) = sweep_range("p", &closed, Dtype::F32);
        assert_eq!(lo, f64::from(0.7f32.next_up()));
        let open = Domain::interval(0.1, false, 1.0, true);
        let ((lo, _), _) = sweep_range("p", &open, Dtype::F32);
        assert_eq!(lo, f64::from(0.1f32));
    }
}
