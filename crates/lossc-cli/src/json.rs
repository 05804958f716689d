//! Every command's JSON, in the shapes docs/cli.md fixes. For `check`:
//!
//! ```text
//! {"diagnostics": [{"code", "severity", "message",
//!                   "span": {"start", "end", "line", "column"},
//!                   "notes": [..], "help": str|null,
//!                   "fix": {"span", "replacement"}|null}],
//!  "summary": {"errors", "warnings", "notes"}}
//! ```
//!
//! Offsets are in bytes; `line` and `column` (1-based, columns in characters)
//! locate `start`. Keys beyond the contract: `file`, `dtype`, a span's
//! `end_line`/`end_column`, a diagnostic's `label` (the text under the primary
//! span) and `labels` (the secondary spans with their messages); for a
//! program imported from Python, `origin`: `{"file", "span"}`, the place in
//! the user's file the diagnostic is about (its `span` stays in the `.loss`
//! text lossc generated); `witness`: `[{"input", "value", "first_of_row"}]` (and `"row"` for a row domain),
//! the input values at which the finding happens (empty when it has no
//! concrete point).
//!
//! For `eval`, [`EvalReport`]; for `grad`, [`GradReport`]; for `simplify`,
//! [`SimplifyReport`]. A non-finite number is the string `"NaN"`, `"inf"` or
//! `"-inf"` ([`Number`]).

use std::io::{self, Write};

use lossc::{Diagnostic, LineIndex, Span};
use serde::Serialize;

use crate::render::{Counts, clamp};
use crate::source::Source;

/// The whole output of `check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    pub file: &'a str,
    pub dtype: &'static str,
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
    pub summary: Counts,
}

#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: &'a str,
    pub span: JsonSpan,
    pub label: &'a str,
    pub labels: Vec<JsonLabel<'a>>,
    pub notes: &'a [String],
    pub help: Option<&'a str>,
    pub fix: Option<JsonFix<'a>>,
    pub witness: Vec<JsonWitness<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<JsonOrigin>,
}

/// One input's value at a diagnostic's witness: in every element of the
/// input, or (`first_of_row`) in the first element of each row, the others
/// 0; for a `simplex` or `onehot` input, `row` is the row every row holds.
#[derive(Debug, Serialize)]
pub struct JsonWitness<'a> {
    pub input: &'a str,
    pub value: f64,
    pub first_of_row: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<&'a [f64]>,
}

/// Where, in the file a generated program came from, a diagnostic is.
#[derive(Debug, Serialize)]
pub struct JsonOrigin {
    pub file: String,
    pub span: JsonSpan,
}

/// A byte range with the line and column of both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JsonSpan {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub span: JsonSpan,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonFix<'a> {
    pub span: JsonSpan,
    pub replacement: &'a str,
}

impl<'a> CheckReport<'a> {
    pub fn new(source: &'a Source, dtype: lossc::Dtype, diagnostics: &'a [Diagnostic]) -> Self {
        let index = LineIndex::new(&source.text);
        let span = |span: Span| json_span(&source.text, &index, span);
        let summary = Counts::of(diagnostics);
        let diagnostics = diagnostics
            .iter()
            .map(|diagnostic| JsonDiagnostic {
                code: diagnostic.code.as_str(),
                severity: diagnostic.severity.as_str(),
                message: &diagnostic.message,
                span: span(diagnostic.span),
                label: &diagnostic.label,
                labels: diagnostic
                    .secondary
                    .iter()
                    .map(|label| JsonLabel {
                        span: span(label.span),
                        message: &label.message,
                    })
                    .collect(),
                notes: &diagnostic.notes,
                help: diagnostic.help.as_deref(),
                fix: diagnostic.fix.as_ref().map(|fix| JsonFix {
                    span: span(fix.span),
                    replacement: &fix.replacement,
                }),
                witness: diagnostic
                    .witness
                    .iter()
                    .map(|w| JsonWitness {
                        input: &w.input,
                        value: w.value,
                        first_of_row: w.first_of_row,
                        row: w.row.as_deref(),
                    })
                    .collect(),
                origin: origin(source, diagnostic),
            })
            .collect();
        CheckReport {
            file: &source.name,
            dtype: dtype.as_str(),
            diagnostics,
            summary,
        }
    }

    /// Writes the report as pretty-printed JSON and a final newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}

fn origin(source: &Source, diagnostic: &Diagnostic) -> Option<JsonOrigin> {
    let map = source.origins.as_deref()?;
    let (file, span) = map.locate(diagnostic.span)?;
    let file = map.files.get(file)?;
    Some(JsonOrigin {
        file: file.name.clone(),
        span: json_span(&file.text, &LineIndex::new(&file.text), span),
    })
}

fn json_span(text: &str, index: &LineIndex, span: Span) -> JsonSpan {
    // Clamped, so that offsets, lines and columns always name real positions.
    let range = clamp(text, span);
    let (line, column) = index.line_col(text, range.start);
    let (end_line, end_column) = index.line_col(text, range.end);
    JsonSpan {
        start: range.start,
        end: range.end,
        line,
        column,
        end_line,
        end_column,
    }
}

/// How a simplification ended: `{"stopped": "saturated"|"<limit>",
/// "iterations", "nodes"}`.
#[derive(Debug, Serialize)]
pub struct JsonSimplification {
    pub stopped: String,
    pub iterations: usize,
    pub nodes: usize,
}

impl JsonSimplification {
    pub fn new(report: &lossc::Report) -> Self {
        JsonSimplification {
            stopped: crate::program::stop_text(&report.stop),
            iterations: report.iterations,
            nodes: report.nodes,
        }
    }
}

/// The whole output of `grad --format json`: `{"loss", "wrt": [..],
/// "gradients": {"y_pred": "EXPR"}, "program", "simplification"}`, with the
/// gradients in `wrt` order.
#[derive(Debug, Serialize)]
pub struct GradReport {
    pub loss: String,
    pub wrt: Vec<String>,
    pub gradients: OrderedMap<String>,
    pub program: String,
    pub simplification: JsonSimplification,
}

impl GradReport {
    pub fn new(gradient: &lossc::Gradient) -> Self {
        let wrt: Vec<String> = gradient.wrt().map(str::to_string).collect();
        let gradients = wrt
            .iter()
            .map(|var| (var.clone(), gradient.expression(var).unwrap_or_default()))
            .collect();
        GradReport {
            loss: gradient.loss.clone(),
            wrt,
            gradients: OrderedMap(gradients),
            program: gradient.to_source(),
            simplification: JsonSimplification::new(&gradient.report),
        }
    }

    /// Writes the report as pretty-printed JSON and a final newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write_pretty(out, self)
    }
}

/// The whole output of `simplify --format json`: `{"program",
/// "simplification"}`.
#[derive(Debug, Serialize)]
pub struct SimplifyReport<'a> {
    pub program: &'a str,
    pub simplification: JsonSimplification,
}

impl<'a> SimplifyReport<'a> {
    pub fn new(simplified: &'a lossc::Simplified) -> Self {
        SimplifyReport {
            program: &simplified.source,
            simplification: JsonSimplification::new(&simplified.report),
        }
    }

    /// Writes the report as pretty-printed JSON and a final newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write_pretty(out, self)
    }
}

/// The whole output of `eval --format json`: `{"name", "dtype", "dims":
/// {"N": 3}, "value": number|[..], "per_sample": [..]|null, "gradient":
/// {"wrt", "shape", "data"}|null}`. Keys beyond the contract: `kind`
/// (`loss` or `output`), `gradients` (every variable's gradient, the first
/// being `gradient`; empty without `--grad`) and `grad_out` (the file
/// `--grad-out` wrote, or null).
#[derive(Debug, Serialize)]
pub struct EvalReport<'a> {
    pub name: &'a str,
    pub kind: &'static str,
    pub dtype: &'static str,
    pub dims: OrderedMap<usize>,
    pub value: Tensor<'a>,
    pub per_sample: Option<Tensor<'a>>,
    pub gradient: Option<JsonGradient<'a>>,
    pub gradients: Vec<JsonGradient<'a>>,
    pub grad_out: Option<String>,
}

/// One gradient: the variable, its shape, and the numbers nested like it.
#[derive(Debug, Clone, Serialize)]
pub struct JsonGradient<'a> {
    pub wrt: &'a str,
    pub shape: &'a [usize],
    pub data: Tensor<'a>,
}

impl<'a> EvalReport<'a> {
    pub fn new(evaluation: &'a lossc::Evaluation, grad_out: Option<String>) -> Self {
        let dtype = evaluation.dtype;
        let gradients: Vec<JsonGradient<'a>> = evaluation
            .gradient
            .iter()
            .map(|(wrt, array)| JsonGradient {
                wrt,
                shape: array.shape(),
                data: Tensor::new(array.view(), dtype),
            })
            .collect();
        EvalReport {
            name: &evaluation.name,
            kind: match evaluation.kind {
                lossc::ResultKind::Loss => "loss",
                lossc::ResultKind::Output => "output",
            },
            dtype: dtype.as_str(),
            dims: OrderedMap(evaluation.dims.clone()),
            value: Tensor::new(evaluation.value.view(), dtype),
            per_sample: evaluation
                .per_sample
                .as_ref()
                .map(|values| Tensor::new(values.view().into_dyn(), dtype)),
            gradient: gradients.first().cloned(),
            gradients,
            grad_out,
        }
    }

    /// Writes the report as pretty-printed JSON and a final newline.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        write_pretty(out, self)
    }
}

/// A JSON object whose keys keep the order given.
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A tensor as JSON: a number for a 0-d array, else lists nested like its
/// shape. Numbers are written as the shortest text that reads back to the
/// same value in the dtype (`0.03`, not `0.029999999329447746`, in f32).
#[derive(Debug, Clone)]
pub struct Tensor<'a> {
    array: ndarray::ArrayViewD<'a, f64>,
    dtype: lossc::Dtype,
}

impl<'a> Tensor<'a> {
    pub fn new(array: ndarray::ArrayViewD<'a, f64>, dtype: lossc::Dtype) -> Self {
        Tensor { array, dtype }
    }
}

impl Serialize for Tensor<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        if self.array.ndim() == 0 {
            let value = self.array.iter().next().copied().unwrap_or(f64::NAN);
            return Number(value, self.dtype).serialize(serializer);
        }
        let mut seq = serializer.serialize_seq(Some(self.array.len_of(ndarray::Axis(0))))?;
        for row in self.array.outer_iter() {
            seq.serialize_element(&Tensor::new(row, self.dtype))?;
        }
        seq.end()
    }
}

/// One number: the strings `"NaN"`, `"inf"` and `"-inf"` when not finite
/// (docs/cli.md), else a JSON number in the dtype's shortest form.
#[derive(Debug, Clone, Copy)]
pub struct Number(pub f64, pub lossc::Dtype);

impl Serialize for Number {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Number(value, dtype) = *self;
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_infinite() {
            serializer.serialize_str(if value > 0.0 { "inf" } else { "-inf" })
        } else {
            match dtype {
                // The value was computed in f32: converting back is exact.
                #[allow(clippy::cast_possible_truncation)]
                lossc::Dtype::F32 => serializer.serialize_f32(value as f32),
                lossc::Dtype::F64 => serializer.serialize_f64(value),
            }
        }
    }
}

/// Writes `value` with one object key per line, indented, but every array on
/// one line (`"shape": [1000, 10]`): a million-number gradient stays one
/// line, not a million. Ends with a newline.
fn write_pretty(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, InlineArrays::default());
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    writeln!(out)
}

/// The formatter of [`write_pretty`].
#[derive(Debug, Default)]
struct InlineArrays {
    /// The open containers, innermost last.
    open: Vec<Container>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Array,
    /// An object, and whether it has a key yet.
    Object {
        empty: bool,
    },
}

impl InlineArrays {
    fn newline_and_indent<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        let objects = self
            .open
            .iter()
            .filter(|container| matches!(container, Container::Object { .. }))
            .count();
        writer.write_all(b"\n")?;
        writer.write_all("  ".repeat(objects).as_bytes())
    }
}

impl serde_json::ser::Formatter for InlineArrays {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open.push(Container::Array);
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open.pop();
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open.push(Container::Object { empty: true });
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        // `{}` for an empty object, else the brace on a line of its own.
        if self.open.pop() == Some(Container::Object { empty: false }) {
            self.newline_and_indent(writer)?;
        }
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        if let Some(Container::Object { empty }) = self.open.last_mut() {
            *empty = false;
        }
        self.newline_and_indent(writer)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        write_pretty(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn objects_are_indented_and_arrays_inline() {
        let value = serde_json::json!({"a": {}, "b": [1, [2, 3]], "c": [{"d": []}]});
        assert_eq!(
            pretty(&value),
            "{\n  \"a\": {},\n  \"b\": [1, [2, 3]],\n  \"c\": [{\n    \"d\": []\n  }]\n}\n"
        );
    }

    #[test]
    fn non_finite_numbers_are_strings() {
        let json = |value, dtype| serde_json::to_string(&Number(value, dtype)).unwrap();
        assert_eq!(json(f64::NAN, lossc::Dtype::F64), "\"NaN\"");
        assert_eq!(json(f64::INFINITY, lossc::Dtype::F32), "\"inf\"");
        assert_eq!(json(f64::NEG_INFINITY, lossc::Dtype::F64), "\"-inf\"");
        assert_eq!(json(f64::from(0.03_f32), lossc::Dtype::F32), "0.03");
        assert_eq!(json(0.1 + 0.2, lossc::Dtype::F64), "0.30000000000000004");
    }
}
