//! Source text through the `lossc` facade: compile, check (its diagnostics
//! rendered as `lossc check` renders them), the gradient of
//! every loss (and its printed program compiles again), simplify (and the
//! printed program compiles again), emit for every target, probe with a few
//! samples, and eval (reference and fast, with the gradient) on small data
//! inside the declared domains. The analysis is the costly part in a debug
//! build, so each case checks in one dtype (f32 or f64, by the source's
//! length) and emits with the analysis (its fixes applied) every other time.
//!
//! Inputs: random well-typed programs (`tests/support/programs.rs`), valid
//! programs (the examples and the corpus) mutated token by token and byte by
//! byte, and token soups (`tests/support/tokens.rs`).

use codespan_reporting::term::termcolor::NoColor;
use lossc::ir::{Dim, Domain};
use lossc::{CheckOptions, Diagnostic, Dtype, EmitOptions, EmitTarget, EvalOptions, LineIndex, ProbeOptions, Program};
use lossc_cli::render;
use lossc_cli::source::Source;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::{Problem, Verdict, abbreviate, fuzz};
use crate::mutate::{Mutation, mutated};
use crate::{programs, seeds, tokens};

/// Samples `probe` draws per case: enough to reach its every path.
const PROBE_SAMPLES: usize = 16;

/// The most elements of one input `eval` is given (larger fixed dimensions
/// are not evaluated; the analysis still sees them).
const MAX_EVAL_ELEMENTS: u64 = 4096;

/// Checks that every span of `diagnostics` lies in `source` on char
/// boundaries, and renders them as `lossc check` does (line and column of
/// each span, rustc-style snippets, the fixes' help).
fn spans_in_source(source: &str, diagnostics: &[Diagnostic], stage: &str) -> Verdict {
    let lines = LineIndex::new(source);
    let shown = Source::new("fuzz.loss", source);
    let mut out = NoColor::new(Vec::new());
    render::write_diagnostics(&mut out, &shown, diagnostics)
        .map_err(|error| Problem::new(&format!("{stage}: rendering fails"), error.to_string()))?;
    for diagnostic in diagnostics {
        let _ = render::fix_help(source, diagnostic);
        let spans = std::iter::once(diagnostic.span)
            .chain(diagnostic.secondary.iter().map(|label| label.span))
            .chain(diagnostic.fix.iter().map(|fix| fix.span));
        for span in spans {
            let inside = span.start <= span.end
                && span.end <= source.len()
                && source.is_char_boundary(span.start)
                && source.is_char_boundary(span.end);
            if !inside {
                return Err(Problem::new(
                    &format!("{stage}: a diagnostic's span is outside the source"),
                    format!("{span:?} in {} bytes: {}", source.len(), diagnostic.message),
                ));
            }
            let _ = lines.line_col(source, span.start);
            let _ = lines.line_col(source, span.end);
        }
        if diagnostic.message.trim().is_empty() {
            return Err(Problem::new(
                &format!("{stage}: a diagnostic with an empty message"),
                format!("{diagnostic:?}"),
            ));
        }
    }
    Ok(())
}

/// The whole pipeline on `source`: nothing may panic or hang, and what the
/// library prints as `.loss` must compile again.
pub fn pipeline(source: &str) -> Verdict {
    let program = match lossc::compile(source) {
        Ok(program) => program,
        Err(lossc::Error::Invalid(diagnostics)) => {
            if diagnostics.is_empty() {
                return Err(Problem::new("compile: an error without diagnostics", ""));
            }
            return spans_in_source(source, &diagnostics, "compile");
        }
        Err(other) => {
            return Err(Problem::new(
                "compile: an error that is not a diagnostic",
                other.to_string(),
            ));
        }
    };
    let dtype = if source.len().is_multiple_of(2) {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let checked = source.len() % 4 < 2;
    let options = CheckOptions {
        dtype,
        ..CheckOptions::default()
    };
    spans_in_source(source, &program.check(&options), "check")?;
    let losses: Vec<String> = program.losses().map(str::to_string).collect();
    for loss in &losses {
        if let Ok(gradient) = program.gradient(Some(loss), &[]) {
            let printed = gradient.to_source();
            if let Err(error) = lossc::compile(&printed) {
                return Err(Problem::new(
                    "grad: the gradient program does not compile",
                    format!("{error}\n--- gradient program:\n{}", abbreviate(&printed, 2000)),
                ));
            }
        }
    }
    let simplified = program.simplify();
    if let Err(error) = lossc::compile(&simplified.source) {
        return Err(Problem::new(
            "simplify: the simplified program does not compile",
            format!("{error}\n--- simplified:\n{}", abbreviate(&simplified.source, 2000)),
        ));
    }
    if !losses.is_empty() {
        let emit = EmitOptions {
            dtype,
            no_check: !checked,
            ..EmitOptions::default()
        };
        if let Ok(emission) = program.emit(&emit) {
            for &target in EmitTarget::ALL {
                let _ = emission.module(target);
            }
        }
        let probe = ProbeOptions {
            dtype,
            samples: PROBE_SAMPLES,
            ..ProbeOptions::default()
        };
        let _ = program.probe(&probe);
    }
    evaluate(&program)
}

/// Evaluates every result (and the gradient of each loss) on small data.
fn evaluate(program: &Program) -> Verdict {
    let Some(data) = small_data(program) else {
        return Ok(());
    };
    let names: Vec<String> = program.ir().results.iter().map(|r| r.name.clone()).collect();
    let losses: Vec<String> = program.losses().map(str::to_string).collect();
    for name in names {
        let grad = losses.contains(&name);
        let options = EvalOptions {
            dtype: Dtype::F64,
            result: Some(name),
            grad,
            wrt: Vec::new(),
        };
        let _ = program.eval(&data, &options);
        let views: Vec<(&str, lossc_kernel::Tensor<'_>)> = data
            .iter()
            .map(|(n, a)| (n.as_str(), lossc_kernel::Tensor::F64(a.view())))
            .collect();
        let _ = program.eval_fast(&views, &options);
    }
    Ok(())
}

/// Data inside each input's domain: `N` = 3, other named dimensions 2;
/// `None` when an input would be too large to be worth evaluating.
fn small_data(program: &Program) -> Option<Vec<(String, ArrayD<f64>)>> {
    let ir = program.ir();
    let mut out = Vec::new();
    for (slot, input) in ir.inputs.iter().enumerate() {
        let shape: Vec<usize> = input
            .shape
            .iter()
            .map(|dim| match dim {
                Dim::Fixed(k) => usize::try_from(*k).unwrap_or(usize::MAX),
                Dim::Named(id) => match ir.dims.get(id.0 as usize).map(String::as_str) {
                    Some("N") => 3,
                    _ => 2,
                },
            })
            .collect();
        let count = shape
            .iter()
            .try_fold(1u64, |acc, &k| acc.checked_mul(k as u64))
            .filter(|&count| count <= MAX_EVAL_ELEMENTS)?;
        let mut values: Vec<f64> = (0..count as usize)
            .map(|i| {
                let u = ((slot * 31 + i) as f64 * 0.618_033_988_749_894_8).fract();
                match &input.domain {
                    // Rows are made whole below.
                    Domain::Simplex => u,
                    Domain::OneHot => f64::from(u < 0.5),
                    Domain::Real => (u - 0.5) * 6.0,
                    Domain::Interval { lo, hi, .. } => {
                        let (lo, hi) = (lo.max(-3.0), hi.min(3.0));
                        if lo <= hi {
                            lo + (hi - lo) * (0.02 + 0.96 * u)
                        } else {
                            lo
                        }
                    }
                    Domain::Set(values) => values.get(i % values.len().max(1)).copied().unwrap_or(0.0),
                }
            })
            .collect();
        let mut rng = lossc::ir::rng::SplitMix64::new(slot as u64);
        input
            .domain
            .make_rows(&mut values, shape.last().copied().unwrap_or(1), &mut rng, false);
        out.push((input.name.clone(), ArrayD::from_shape_vec(IxDyn(&shape), values).ok()?));
    }
    Some(out)
}

/// A valid program with token and byte mutations.
pub fn mutated_program() -> impl Strategy<Value = String> {
    (
        prop::sample::select(seeds::programs()),
        prop::collection::vec(any::<Mutation>(), 1..5),
        prop::sample::select(seeds::programs()),
    )
        .prop_map(|(seed, mutations, donor)| mutated(&seed, &mutations, &donor))
}

#[test]
fn generated_programs() {
    fuzz(
        "source: generated programs",
        programs::case().prop_map(|case| case.source),
        40,
        |source: &String| abbreviate(source, 6000),
        |source| pipeline(&source),
    );
}

#[test]
fn mutated_programs() {
    // How many mutants still compile: the ones that reach every stage.
    let compiled = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&compiled);
    let cases = crate::harness::cases(120);
    fuzz(
        "source: mutated programs",
        mutated_program(),
        120,
        |source: &String| abbreviate(source, 6000),
        move |source| {
            if lossc::compile(&source).is_ok() {
                count.fetch_add(1, Ordering::Relaxed);
            }
            pipeline(&source)
        },
    );
    eprintln!(
        "source: mutated programs: {} of {cases} compiled",
        compiled.load(Ordering::Relaxed)
    );
}

#[test]
fn token_soups() {
    fuzz(
        "source: token soups and edits",
        prop_oneof![tokens::token_soup(), tokens::edited_program()],
        200,
        |source: &String| abbreviate(source, 6000),
        |source| pipeline(&source),
    );
}
