//! The corpus of real-world loss formulas in `tests/corpus/`: standard,
//! well-guarded losses and buggy ones taken from framework docs, papers and
//! public bug reports. Each file starts with a header:
//!
//! ```text
//! # <what it is>; source: <where it comes from>
//! # hazards: <diagnostic codes that must be reported, comma-separated, or `none`>
//! # clean: <yes|no>
//! # dtype: f32          (optional: the hazards hold in f32 only)
//! ```
//!
//! `clean: yes` means a well-guarded loss that must get no error-severity
//! diagnostic (warnings and notes are allowed). Without `# dtype: f32` the
//! listed hazards hold in both f32 and f64 and are checked in both.

use std::fs;
use std::path::{Path, PathBuf};

use lossc::{CheckOptions, Code, Dtype, Error, Severity};

const MIN_FILES: usize = 110;
const MIN_CLEAN: usize = 40;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// Every `.loss` file of the corpus, sorted, with its name and source.
fn corpus() -> Vec<(String, String)> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "loss"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().expect("file name").to_string_lossy().into_owned();
            let source = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
            (name, source)
        })
        .collect()
}

/// The parsed header of one corpus file.
#[derive(Debug)]
struct Header {
    hazards: Vec<Code>,
    clean: bool,
    /// The dtypes the hazards are checked in.
    dtypes: Vec<Dtype>,
}

/// The value of the first `# KEY: value` line among the leading comment lines.
fn field<'a>(source: &'a str, key: &str) -> Option<&'a str> {
    source
        .lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix('#')?.trim_start().strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

fn parse_header(source: &str) -> Result<Header, String> {
    let first = source.lines().next().unwrap_or_default();
    let (what, origin) = first
        .strip_prefix("# ")
        .and_then(|rest| rest.split_once("; source: "))
        .ok_or("the first line is not `# <what it is>; source: <where it comes from>`")?;
    if what.trim().is_empty() || origin.trim().is_empty() {
        return Err("empty description or source on the first line".into());
    }

    let hazards_field = field(source, "hazards").ok_or("no `# hazards:` line")?;
    let hazards = if hazards_field == "none" {
        Vec::new()
    } else {
        hazards_field
            .split(',')
            .map(|name| Code::from_name(name.trim()).ok_or(format!("unknown code `{}` in `# hazards:`", name.trim())))
            .collect::<Result<Vec<_>, _>>()?
    };
    if hazards.is_empty() && hazards_field != "none" {
        return Err("`# hazards:` is empty: write `none`".into());
    }

    let clean = match field(source, "clean").ok_or("no `# clean:` line")? {
        "yes" => true,
        "no" => false,
        other => return Err(format!("`# clean: {other}` is neither `yes` nor `no`")),
    };
    if !clean && hazards.is_empty() {
        return Err("`clean: no` but no hazard is listed".into());
    }

    let dtypes = match field(source, "dtype") {
        None => vec![Dtype::F32, Dtype::F64],
        Some("f32") => vec![Dtype::F32],
        Some(other) => return Err(format!("`# dtype: {other}`: only `f32` may be given")),
    };
    Ok(Header { hazards, clean, dtypes })
}

#[test]
fn every_file_has_a_header_and_passes_the_front_end() {
    let mut failures = Vec::new();
    for (name, source) in corpus() {
        if let Err(e) = parse_header(&source) {
            failures.push(format!("{name}: header: {e}"));
        }
        match lossc::compile(&source) {
            Ok(program) => {
                if program.losses().next().is_none() {
                    failures.push(format!("{name}: defines no loss"));
                }
            }
            Err(Error::Invalid(diagnostics)) => {
                for d in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
                    failures.push(format!("{name}: front end: error[{}]: {}", d.code, d.message));
                }
            }
            Err(e) => failures.push(format!("{name}: front end: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Also: every witness is the point its message names and shows its
/// finding ([`check_witnesses`]).
#[test]
fn every_file_reports_its_hazards_and_clean_files_have_no_errors() {
    let mut failures = Vec::new();
    let mut witnesses = (0, 0);
    for (name, source) in corpus() {
        let header = match parse_header(&source) {
            Ok(header) => header,
            Err(e) => {
                failures.push(format!("{name}: header: {e}"));
                continue;
            }
        };
        for &dtype in &header.dtypes {
            let options = CheckOptions {
                dtype,
                ..CheckOptions::default()
            };
            let diagnostics = match lossc::check(&source, &options) {
                Ok(diagnostics) => diagnostics,
                Err(e) => {
                    failures.push(format!("{name} ({}): check failed: {e}", dtype.as_str()));
                    continue;
                }
            };
            let program = lossc::compile(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (shown, evaluated) = check_witnesses(&name, &program, dtype, &diagnostics, &mut failures);
            witnesses.0 += shown;
            witnesses.1 += evaluated;
            let found: Vec<String> = diagnostics
                .iter()
                .map(|d| format!("{}[{}]", d.severity.as_str(), d.code))
                .collect();
            let missing: Vec<&str> = header
                .hazards
                .iter()
                .filter(|&&code| !diagnostics.iter().any(|d| d.code == code))
                .map(|code| code.as_str())
                .collect();
            if !missing.is_empty() {
                failures.push(format!(
                    "{name} ({}): missing {}; found [{}]",
                    dtype.as_str(),
                    missing.join(", "),
                    found.join(", ")
                ));
            }
            if header.clean {
                let errors: Vec<String> = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(|d| format!("error[{}]: {}", d.code, d.message))
                    .collect();
                if !errors.is_empty() {
                    failures.push(format!("{name} ({}): clean, but {}", dtype.as_str(), errors.join("; ")));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The witness check must have something to check.
    assert!(witnesses.0 >= 100, "only {} diagnostics with a witness", witnesses.0);
    assert!(witnesses.1 >= 20, "only {} witnesses evaluated", witnesses.1);
}

#[test]
fn the_corpus_is_large_and_mixed() {
    let files = corpus();
    let clean = files
        .iter()
        .filter(|(_, source)| parse_header(source).is_ok_and(|h| h.clean))
        .count();
    assert!(
        files.len() >= MIN_FILES,
        "the corpus has {} files, fewer than {MIN_FILES}",
        files.len()
    );
    assert!(
        clean >= MIN_CLEAN,
        "the corpus has {clean} clean files, fewer than {MIN_CLEAN}"
    );
    assert!(
        files.len() - clean >= MIN_CLEAN,
        "the corpus has only {} buggy files",
        files.len() - clean
    );
}

/// Soundness (docs/analysis.md): `lossc probe` samples every corpus file and every
/// example in f32 and f64, and finds no NaN, infinity, exploding or dead
/// gradient that `check` did not predict. (The CLI runs the same cross-check
/// with 10,000 samples; here 400 keep the debug build quick.)
#[test]
fn probe_finds_nothing_check_missed() {
    let examples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "loss"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).expect("readable")));
    let mut programs: Vec<(String, String)> = corpus();
    programs.extend(examples);
    assert!(programs.len() >= 190, "only {} programs", programs.len());
    let mut failures = Vec::new();
    for (name, source) in &programs {
        let program = lossc::compile(source).unwrap_or_else(|e| panic!("{name}: {e}"));
        for dtype in [Dtype::F32, Dtype::F64] {
            let options = lossc::ProbeOptions {
                dtype,
                samples: 400,
                ..lossc::ProbeOptions::default()
            };
            let report = program.probe(&options).unwrap_or_else(|e| panic!("{name}: {e}"));
            for miss in &report.unpredicted {
                failures.push(format!("{name} ({dtype}): {miss:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} analyzer miss(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A diagnostic's witness (`Diagnostic::witness`) is the point its message
/// names, and it shows the finding: for every error that a NaN or an
/// infinity is reached, evaluating the loss and its gradient with the
/// reference interpreter at the witness (one sample, every declared input
/// given a value by the witness) gives a non-finite loss or gradient.
/// Returns how many diagnostics had a witness, and how many were evaluated.
fn check_witnesses(
    name: &str,
    program: &lossc::Program,
    dtype: Dtype,
    diagnostics: &[lossc::Diagnostic],
    failures: &mut Vec<String>,
) -> (usize, usize) {
    use lossc::EvalOptions;
    use ndarray::ArrayD;

    use lossc_analysis::probe::Class;

    // The codes that predict a NaN or an infinity, in the value or the gradient.
    let non_finite_codes: Vec<Code> = [Class::NanValue, Class::InfValue, Class::NonFiniteGradient]
        .iter()
        .flat_map(|class| class.predicted_by().iter().copied())
        .collect();
    let ir = program.ir();
    let single_loss = program.losses().count() == 1;
    // One sample: every input is a scalar or a batch of scalars.
    let batch_only = ir
        .inputs
        .iter()
        .all(|input| input.shape.is_empty() || (input.shape.len() == 1 && Some(input.shape[0]) == ir.batch));
    let (mut with_witness, mut evaluated) = (0, 0);
    for d in diagnostics.iter().filter(|d| !d.witness.is_empty()) {
        with_witness += 1;
        for w in &d.witness {
            let said = [
                lossc::ir::format_number(w.value, dtype),
                lossc::ir::format_number(w.value, Dtype::F64),
                lossc::ir::format_approx(w.value),
            ]
            .iter()
            .any(|v| {
                let text = if let Some(row) = &w.row {
                    let mut items: Vec<String> = row
                        .iter()
                        .take(4)
                        .map(|x| lossc::ir::format_number(*x, dtype))
                        .collect();
                    if row.len() > 4 {
                        items.push("...".into());
                    }
                    format!("`{}` = [{}] in each row", w.input, items.join(", "))
                } else if w.first_of_row {
                    format!("`{}` = [{v}, 0, ...]", w.input)
                } else {
                    format!("`{}` = {v}", w.input)
                };
                // The whole number: `y_pred` = 0 is not `y_pred` = 0.5.
                d.message.match_indices(&text).any(|(at, _)| {
                    !d.message[at + text.len()..].starts_with(|c: char| c.is_ascii_digit() || ".e+-".contains(c))
                })
            });
            if !said || !w.value.is_finite() {
                failures.push(format!("{name} ({dtype}): witness {w:?} not in `{}`", d.message));
            }
        }
        let complete = ir.inputs.iter().all(|i| d.witness.iter().any(|w| w.input == i.name));
        if d.severity != Severity::Error
            || !non_finite_codes.contains(&d.code)
            || !single_loss
            || !batch_only
            || !complete
        {
            continue;
        }
        let inputs: Vec<(String, ArrayD<f64>)> = ir
            .inputs
            .iter()
            .map(|input| {
                let value = d
                    .witness
                    .iter()
                    .find(|w| w.input == input.name)
                    .expect("complete")
                    .value;
                let shape = vec![1; input.shape.len()];
                (input.name.clone(), ArrayD::from_elem(shape, value))
            })
            .collect();
        let options = EvalOptions {
            dtype,
            result: None,
            grad: true,
            wrt: Vec::new(),
        };
        let evaluation = match program.eval(&inputs, &options) {
            Ok(evaluation) => evaluation,
            Err(e) => {
                failures.push(format!("{name} ({dtype}): eval at the witness {:?}: {e}", d.witness));
                continue;
            }
        };
        evaluated += 1;
        let finite = evaluation.value.iter().all(|v| v.is_finite())
            && evaluation.gradient.iter().all(|(_, g)| g.iter().all(|v| v.is_finite()));
        if finite {
            failures.push(format!(
                "{name} ({dtype}): error[{}] `{}`, but the loss and gradient are finite at {:?}",
                d.code, d.message, d.witness
            ));
        }
    }
    (with_witness, evaluated)
}
