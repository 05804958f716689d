//! `lossc._lossc`: the native half of the Python package `lossc`.
//!
//! **In:** `.loss` text from the pure-Python layer (`python/lossc/`), NumPy
//! arrays, option values as plain strings and lists.
//! **Out:** plain Python data (strings, dicts of diagnostics, NumPy arrays)
//! that the Python layer wraps in its typed classes; `main(argv)` runs the
//! `lossc` command in-process and returns its exit status.
//! **Never:** reads files (the Python layer does), copies an input array
//! (NumPy arrays of every element type the evaluator reads are viewed in
//! place), or lets a Rust panic reach the interpreter.
//!
//! Every entry point runs inside [`guarded`], which turns a panic into a
//! `RuntimeError` naming it as a bug, so a Python session survives it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use codespan_reporting::term::termcolor::NoColor;
use lossc::{Diagnostic, Dtype, LineIndex};
use lossc_cli::source::Source;
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pyo3::create_exception!(
    _lossc,
    NativeLossError,
    PyException,
    "Raised with (message, diagnostics); the Python layer re-raises it as `lossc.LossError`."
);

/// Runs `f`, turning a Rust panic into a `RuntimeError` instead of pyo3's
/// `PanicException` (which `except Exception` does not catch).
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(PyRuntimeError::new_err(format!(
                "internal error in lossc (a bug; please report it with the input): {what}"
            )))
        }
    }
}

/// `"float32"`/`"f32"` or `"float64"`/`"f64"`.
fn dtype(name: &str) -> PyResult<Dtype> {
    match name {
        "float32" | "f32" => Ok(Dtype::F32),
        "float64" | "f64" => Ok(Dtype::F64),
        other => Err(PyValueError::new_err(format!(
            "dtype must be \"float32\" or \"float64\", not {other:?}"
        ))),
    }
}

/// A compiled `.loss` program and the text and name its diagnostics quote.
#[pyclass(frozen, module = "lossc._lossc")]
struct Program {
    program: lossc::Program,
    source: Source,
}

/// The origins of a program the Python importers generated, as they pass
/// them: `files` is a list of `(name, text)`, `origins` a list of
/// `(start, end, file, start_in_file, end_in_file)` (byte offsets: the piece
/// of the `.loss` text, the index of its file, the place in that file's
/// UTF-8 text), `fallback` an optional `(file, start, end)`.
type NativeSourceMap = (
    Vec<(String, String)>,
    Vec<(usize, usize, usize, usize, usize)>,
    Option<(usize, usize, usize)>,
);

fn source_map(text: &str, map: NativeSourceMap) -> PyResult<std::sync::Arc<lossc::SourceMap>> {
    let (files, origins, fallback) = map;
    let map = lossc::SourceMap {
        files: files
            .into_iter()
            .map(|(name, text)| lossc::OriginFile { name, text })
            .collect(),
        origins: origins
            .into_iter()
            .map(|(start, end, file, file_start, file_end)| lossc::Origin {
                span: lossc::Span::new(start, end),
                file,
                span_in_file: lossc::Span::new(file_start, file_end),
            })
            .collect(),
        fallback: fallback.map(|(file, start, end)| (file, lossc::Span::new(start, end))),
    };
    if !map.is_consistent(text.len()) {
        return Err(PyValueError::new_err(
            "internal error in lossc's importer (a bug): a source map points outside its texts",
        ));
    }
    Ok(std::sync::Arc::new(map))
}

/// Compiles `text`, shown as `name` in diagnostics (over the user's Python
/// lines, when `origins` maps a generated program). Raises `NativeLossError`
/// with the diagnostics when the program has errors.
#[pyfunction]
#[pyo3(signature = (text, name, origins=None))]
fn compile(py: Python<'_>, text: String, name: String, origins: Option<NativeSourceMap>) -> PyResult<Program> {
    guarded(|| {
        let mut source = Source::new(name, text);
        if let Some(map) = origins {
            source.origins = Some(source_map(&source.text, map)?);
        }
        match lossc::compile(&source.text) {
            Ok(program) => Ok(Program { program, source }),
            Err(lossc::Error::Invalid(diagnostics)) => Err(loss_error(
                py,
                &source,
                &invalid_message(&source, &diagnostics),
                &diagnostics,
            )),
            Err(other) => Err(library_error(py, &source, &other)),
        }
    })
}

fn invalid_message(source: &Source, diagnostics: &[Diagnostic]) -> String {
    let first = diagnostics.first().map_or("", |d| d.message.as_str());
    format!(
        "`{}` has {} error(s); the first: {first}",
        source.name,
        diagnostics.len()
    )
}

/// A library error as a Python exception: a name or option the program does
/// not have is a `ValueError`; an invalid program a `NativeLossError`.
fn library_error(py: Python<'_>, source: &Source, error: &lossc::Error) -> PyErr {
    use lossc::Error;
    match error {
        Error::Invalid(diagnostics) => loss_error(py, source, &invalid_message(source, diagnostics), diagnostics),
        Error::UnknownParam { .. }
        | Error::VectorParam(_)
        | Error::UnknownResult { .. }
        | Error::NotALoss(_)
        | Error::UnknownVar { .. }
        | Error::Eval(_) => PyValueError::new_err(error.to_string()),
        Error::NoLoss | Error::Probe(_) | Error::Emit(_) => loss_error(py, source, &error.to_string(), &[]),
    }
}

fn loss_error(py: Python<'_>, source: &Source, message: &str, diagnostics: &[Diagnostic]) -> PyErr {
    match diagnostic_dicts(py, source, diagnostics) {
        Ok(list) => NativeLossError::new_err((message.to_string(), list.unbind())),
        Err(error) => error,
    }
}

/// Each diagnostic as a dict of its fields, with `rendered`: the text
/// `lossc check` prints for it (the CLI's own renderer, without colour).
fn diagnostic_dicts<'py>(py: Python<'py>, source: &Source, diagnostics: &[Diagnostic]) -> PyResult<Bound<'py, PyList>> {
    let index = LineIndex::new(&source.text);
    let list = PyList::empty(py);
    for diagnostic in diagnostics {
        let dict = PyDict::new(py);
        let loss_span = lossc_cli::render::clamp(&source.text, diagnostic.span);
        dict.set_item("loss_span", (loss_span.start, loss_span.end))?;
        // A generated program's diagnostic is located in the user's file.
        let relocated = source
            .origins
            .as_deref()
            .and_then(|map| map.relocate(&source.text, diagnostic).map(|moved| (map, moved)));
        let (file_name, text, located) = match &relocated {
            Some((map, moved)) => {
                let file = &map.files[moved.file];
                (file.name.as_str(), file.text.as_str(), &moved.diagnostic)
            }
            None => (source.name.as_str(), source.text.as_str(), diagnostic),
        };
        let file_index = if relocated.is_some() {
            LineIndex::new(text)
        } else {
            index.clone()
        };
        let span = lossc_cli::render::clamp(text, located.span);
        let (line, column) = file_index.line_col(text, span.start);
        let (end_line, end_column) = file_index.line_col(text, span.end);
        dict.set_item("code", diagnostic.code.as_str())?;
        dict.set_item("severity", diagnostic.severity.to_string())?;
        dict.set_item("message", &diagnostic.message)?;
        dict.set_item("label", &diagnostic.label)?;
        dict.set_item("file", file_name)?;
        dict.set_item("line", line)?;
        dict.set_item("column", column)?;
        dict.set_item("end_line", end_line)?;
        dict.set_item("end_column", end_column)?;
        dict.set_item("span", (span.start, span.end))?;
        dict.set_item("notes", located.notes.clone())?;
        dict.set_item("help", located.help.clone())?;
        let fix = match &diagnostic.fix {
            Some(fix) => {
                let fix_span = lossc_cli::render::clamp(&source.text, fix.span);
                let fix_dict = PyDict::new(py);
                fix_dict.set_item("span", (fix_span.start, fix_span.end))?;
                fix_dict.set_item("replacement", &fix.replacement)?;
                fix_dict.set_item("original", &source.text[fix_span])?;
                Some(fix_dict)
            }
            None => None,
        };
        dict.set_item("fix", fix)?;
        let witness: Vec<(&str, f64, bool, Option<Vec<f64>>)> = diagnostic
            .witness
            .iter()
            .map(|w| (w.input.as_str(), w.value, w.first_of_row, w.row.clone()))
            .collect();
        dict.set_item("witness", witness)?;
        dict.set_item("rendered", render(source, std::slice::from_ref(diagnostic)))?;
        list.append(dict)?;
    }
    Ok(list)
}

/// The diagnostics as `lossc check` prints them, without colour.
fn render(source: &Source, diagnostics: &[Diagnostic]) -> String {
    let mut out = NoColor::new(Vec::new());
    // Writing to memory cannot fail.
    let _ = lossc_cli::render::write_diagnostics(&mut out, source, diagnostics);
    String::from_utf8_lossy(&out.into_inner()).into_owned()
}

#[pymethods]
impl Program {
    /// The file name or `<formula>`/`<string>` diagnostics show.
    #[getter]
    fn name(&self) -> &str {
        &self.source.name
    }

    /// The `.loss` text compiled.
    #[getter]
    fn text(&self) -> &str {
        &self.source.text
    }

    /// The names of the losses, the default first.
    fn losses(&self) -> Vec<String> {
        self.program.losses().map(str::to_string).collect()
    }

    /// The names of the outputs.
    fn outputs(&self) -> Vec<String> {
        let ir = self.program.ir();
        ir.results
            .iter()
            .filter(|r| r.kind == lossc::ResultKind::Output)
            .map(|r| r.name.clone())
            .collect()
    }

    /// The inputs: (name, shape as text, declared or implicit).
    fn inputs(&self) -> Vec<(String, String, bool)> {
        let ir = self.program.ir();
        ir.inputs
            .iter()
            .map(|input| (input.name.clone(), ir.shape_string(&input.shape), !input.implicit))
            .collect()
    }

    /// The diagnostics of the analysis (warnings included), as dicts.
    #[pyo3(signature = (dtype, loss=None, wrt=Vec::new()))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        dtype: &str,
        loss: Option<String>,
        wrt: Vec<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        guarded(|| {
            let options = lossc::CheckOptions {
                dtype: self::dtype(dtype)?,
                params: Vec::new(),
                loss,
                wrt,
            };
            let diagnostics = self
                .program
                .check_with(&options)
                .map_err(|error| library_error(py, &self.source, &error))?;
            diagnostic_dicts(py, &self.source, &diagnostics)
        })
    }

    /// The diagnostics rendered as `lossc check` prints them.
    fn render(&self, py: Python<'_>, dtype: &str) -> PyResult<String> {
        guarded(|| {
            let options = lossc::CheckOptions {
                dtype: self::dtype(dtype)?,
                ..Default::default()
            };
            let diagnostics = self
                .program
                .check_with(&options)
                .map_err(|error| library_error(py, &self.source, &error))?;
            Ok(render(&self.source, &diagnostics))
        })
    }

    /// The gradient as a `.loss` program (`lossc grad`).
    #[pyo3(signature = (loss=None, wrt=Vec::new()))]
    fn grad(&self, py: Python<'_>, loss: Option<String>, wrt: Vec<String>) -> PyResult<String> {
        guarded(|| {
            let wrt: Vec<&str> = wrt.iter().map(String::as_str).collect();
            let gradient = self
                .program
                .gradient(loss.as_deref(), &wrt)
                .map_err(|error| library_error(py, &self.source, &error))?;
            Ok(gradient.to_source())
        })
    }

    /// Every loss simplified, as a `.loss` program (`lossc simplify`).
    fn simplify(&self) -> PyResult<String> {
        guarded(|| Ok(self.program.simplify().source))
    }

    /// The emitted Python module for `target` and the name of its loss function.
    #[pyo3(signature = (target, dtype, loss=None, wrt=Vec::new(), unguarded=false))]
    fn emit(
        &self,
        py: Python<'_>,
        target: &str,
        dtype: &str,
        loss: Option<String>,
        wrt: Vec<String>,
        unguarded: bool,
    ) -> PyResult<(String, String)> {
        guarded(|| {
            let Some(target) = lossc::EmitTarget::parse(target) else {
                let known: Vec<&str> = lossc::EmitTarget::ALL.iter().map(|t| t.as_str()).collect();
                return Err(PyValueError::new_err(format!(
                    "unknown emit target {target:?}: one of {}",
                    known.join(", ")
                )));
            };
            let options = lossc::EmitOptions {
                loss,
                wrt,
                dtype: self::dtype(dtype)?,
                file: Some(self.source.name.clone()),
                unguarded,
                no_check: false,
            };
            let emission = self
                .program
                .emit(&options)
                .map_err(|error| library_error(py, &self.source, &error))?;
            Ok((emission.module(target), emission.loss().to_string()))
        })
    }

    /// Evaluates a loss or output (and the gradient of a loss) on NumPy
    /// arrays, read in place. Returns a dict: `name`, `value`, `per_sample`,
    /// `gradient` (a list of (name, array)), `dims`, and `outside_domains`
    /// (what of the data lies outside the declared domains, as messages).
    #[pyo3(signature = (arrays, dtype, result=None, grad=true, wrt=Vec::new()))]
    fn eval<'py>(
        &self,
        py: Python<'py>,
        arrays: Vec<(String, Bound<'py, PyAny>)>,
        dtype: &str,
        result: Option<String>,
        grad: bool,
        wrt: Vec<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guarded(|| {
            let dtype = self::dtype(dtype)?;
            let held = arrays
                .iter()
                .map(|(name, array)| Held::of(name, array))
                .collect::<PyResult<Vec<_>>>()?;
            let tensors: Vec<(&str, lossc_kernel::Tensor<'_>)> = arrays
                .iter()
                .zip(&held)
                .map(|((name, _), held)| (name.as_str(), held.tensor()))
                .collect();
            let options = lossc::EvalOptions {
                dtype,
                result,
                grad,
                wrt,
            };
            let evaluation = self
                .program
                .eval_fast(&tensors, &options)
                .map_err(|error| library_error(py, &self.source, &error))?;
            let dict = evaluation_dict(py, evaluation)?;
            let outside: Vec<String> = self
                .program
                .data_outside_domains(&tensors)
                .iter()
                .map(|outside| format!("input `{}` holds {}", outside.input, outside.describe()))
                .collect();
            dict.set_item("outside_domains", outside)?;
            Ok(dict)
        })
    }
}

/// An evaluation's numbers as NumPy arrays in its dtype (values computed in
/// f32 are exact in f32).
fn evaluation_dict(py: Python<'_>, evaluation: lossc::Evaluation) -> PyResult<Bound<'_, PyDict>> {
    let f32_out = evaluation.dtype == Dtype::F32;
    let array = |a: ndarray::ArrayD<f64>| -> Py<PyAny> {
        if f32_out {
            a.mapv(|v| v as f32).into_pyarray(py).into_any().unbind()
        } else {
            a.into_pyarray(py).into_any().unbind()
        }
    };
    let dict = PyDict::new(py);
    dict.set_item("name", &evaluation.name)?;
    dict.set_item("value", array(evaluation.value))?;
    dict.set_item("per_sample", evaluation.per_sample.map(|s| array(s.into_dyn())))?;
    let gradient: Vec<(String, Py<PyAny>)> = evaluation
        .gradient
        .into_iter()
        .map(|(name, g)| (name, array(g)))
        .collect();
    dict.set_item("gradient", gradient)?;
    dict.set_item("dims", evaluation.dims)?;
    Ok(dict)
}

/// A NumPy array borrowed read-only in its own element type: the evaluator
/// reads it in place, whatever its strides.
enum Held<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
    I8(PyReadonlyArrayDyn<'py, i8>),
    I16(PyReadonlyArrayDyn<'py, i16>),
    I32(PyReadonlyArrayDyn<'py, i32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
    U8(PyReadonlyArrayDyn<'py, u8>),
    U16(PyReadonlyArrayDyn<'py, u16>),
    U32(PyReadonlyArrayDyn<'py, u32>),
    U64(PyReadonlyArrayDyn<'py, u64>),
    Bool(PyReadonlyArrayDyn<'py, bool>),
}

impl<'py> Held<'py> {
    fn of(name: &str, object: &Bound<'py, PyAny>) -> PyResult<Self> {
        // An unaligned array cannot be viewed as a Rust slice; the Python
        // layer copies such arrays before they get here.
        if let Ok(array) = object.cast::<PyUntypedArray>()
            && !array.getattr("flags")?.getattr("aligned")?.extract::<bool>()?
        {
            return Err(PyValueError::new_err(format!(
                "input `{name}`: the array is not aligned in memory; pass a copy (`numpy.array(a)`)"
            )));
        }
        macro_rules! try_as {
            ($($variant:ident: $ty:ty),*) => {
                $(if let Ok(array) = object.cast::<PyArrayDyn<$ty>>() {
                    return Ok(Held::$variant(array.try_readonly()?));
                })*
            };
        }
        try_as!(F32: f32, F64: f64, I8: i8, I16: i16, I32: i32, I64: i64, U8: u8, U16: u16, U32: u32, U64: u64, Bool: bool);
        let described = match object.cast::<PyUntypedArray>() {
            Ok(array) => format!("a NumPy array of {}", array.dtype()),
            Err(_) => format!("a {}", object.get_type().name()?),
        };
        Err(PyTypeError::new_err(format!(
            "input `{name}`: expected a NumPy array of floats, integers or booleans, got {described}"
        )))
    }

    fn tensor(&self) -> lossc_kernel::Tensor<'_> {
        use lossc_kernel::Tensor;
        match self {
            Held::F32(a) => Tensor::F32(a.as_array()),
            Held::F64(a) => Tensor::F64(a.as_array()),
            Held::I8(a) => Tensor::I8(a.as_array()),
            Held::I16(a) => Tensor::I16(a.as_array()),
            Held::I32(a) => Tensor::I32(a.as_array()),
            Held::I64(a) => Tensor::I64(a.as_array()),
            Held::U8(a) => Tensor::U8(a.as_array()),
            Held::U16(a) => Tensor::U16(a.as_array()),
            Held::U32(a) => Tensor::U32(a.as_array()),
            Held::U64(a) => Tensor::U64(a.as_array()),
            Held::Bool(a) => Tensor::Bool(a.as_array()),
        }
    }
}

/// `text` with the domains of `overrides` ((input, domain) pairs) in place
/// of the declared ones ([`lossc::with_domains`]).
#[pyfunction]
fn with_domains(text: &str, overrides: Vec<(String, String)>) -> PyResult<String> {
    guarded(|| lossc::with_domains(text, &overrides).map_err(|error| PyValueError::new_err(format!("inputs: {error}"))))
}

/// The output layers' names accepted as domains, with the domain each
/// stands for.
#[pyfunction]
fn domain_aliases() -> Vec<(&'static str, &'static str)> {
    lossc::DOMAIN_ALIASES.to_vec()
}

/// Runs the `lossc` command with `argv` (program name first) in this
/// process, writing to the real stdout and stderr, and returns its exit
/// status: the same as the `lossc` binary's.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    use clap::Parser;
    guarded(|| {
        // The command can run for long (`fit`, `bench`): other Python threads go on.
        py.detach(|| {
            Ok(match lossc_cli::Cli::try_parse_from(&argv) {
                Ok(cli) => lossc_cli::run_status(&cli),
                Err(error) => {
                    // As `Cli::parse` does: help on stdout with 0, usage errors on stderr with 2.
                    let _ = error.print();
                    u8::try_from(error.exit_code()).unwrap_or(2)
                }
            })
        })
    })
}

/// Runs the `lossc` command as [`main`] does, with the program `text` (and
/// its origins) standing for the FILE argument `key`: the Python package's
/// `lossc check losses.py::my_loss` imports the function, then runs this.
#[pyfunction]
#[pyo3(signature = (argv, key, text, origins=None))]
fn main_with_source(
    py: Python<'_>,
    argv: Vec<String>,
    key: String,
    text: String,
    origins: Option<NativeSourceMap>,
) -> PyResult<u8> {
    let mut source = Source::new(key.clone(), text);
    if let Some(map) = origins {
        source.origins = Some(source_map(&source.text, map)?);
    }
    lossc_cli::source::with_preloaded(&key, source, || main(py, argv))
}

/// The names of the language's built-in functions, which a generated
/// program must not use for its own bindings.
#[pyfunction]
fn builtin_names() -> Vec<&'static str> {
    lossc::ir::builtins::Builtin::ALL
        .iter()
        .filter(|builtin| builtin.spec().callable)
        .map(|builtin| builtin.name())
        .collect()
}

/// The native module.
#[pymodule]
fn _lossc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeLossError", m.py().get_type::<NativeLossError>())?;
    m.add_class::<Program>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(with_domains, m)?)?;
    m.add_function(wrap_pyfunction!(domain_aliases, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(main_with_source, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_names, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
