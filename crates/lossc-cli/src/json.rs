//! Diagnostics as JSON, exactly the shape SPEC.md §4 fixes for `check`:
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
//! span) and `labels` (the secondary spans with their messages).

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
