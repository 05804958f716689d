//! Diagnostics as data, shared by every stage of lossc.
//!
//! **In:** nothing; this is the bottom of the crate graph.
//! **Out:** [`Diagnostic`] (a stable [`Code`], a [`Severity`], a primary
//! [`Span`] in byte offsets, a message, secondary labels, notes, an optional
//! `help:` line, an optional machine-applicable [`Fix`] and the witness, the
//! input values at which the finding happens, as [`WitnessValue`]s), and [`LineIndex`]
//! to turn byte offsets into 1-based lines and columns.
//! **Never:** renders, prints, or knows about JSON or terminals. Rendering
//! happens once, in `lossc-cli`.
//!
//! The catalog of codes is [`Code`]; its kebab-case names are part of the
//! public contract (docs/diagnostics/README.md) and are never renamed or reused. Every code has
//! a page `docs/diagnostics/<code>.md`, checked by `tests/docs.rs`.

use std::fmt;

mod origin;
pub use origin::{Origin, OriginFile, Relocated, SourceMap};

/// A half-open byte range `start..end` into one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// How serious a finding is. Ordered from least to most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// A stable diagnostic code (docs/diagnostics/README.md). Never renamed, never reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in catalog order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The kebab-case name users see, e.g. `log-domain`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Code::$variant => $name, )*
                }
            }

            /// Looks a code up by its kebab-case name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name {
                    $( $name => Some(Code::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// A parse error.
    Syntax = "syntax",
    /// A name that is not declared, nor a built-in.
    UnknownName = "unknown-name",
    /// A call with the wrong number of arguments, or an unknown keyword argument.
    Arity = "arity",
    /// A boolean where a number is expected, or the reverse.
    TypeMismatch = "type-mismatch",
    /// Shapes that do not broadcast.
    ShapeMismatch = "shape-mismatch",
    /// An axis out of range for the operand's rank.
    BadAxis = "bad-axis",
    /// A `def` that calls itself, directly or not.
    RecursiveDef = "recursive-def",
    /// A name defined twice, or a def named like a built-in.
    DuplicateName = "duplicate-name",
    /// An empty interval or an infinite set value in an input's domain.
    BadDomain = "bad-domain",
    /// A `loss` that is neither scalar nor per-sample.
    LossShape = "loss-shape",
    /// A value with more axes or elements than lossc handles, or a program
    /// whose defs expand to too many operations.
    SizeLimit = "size-limit",
    /// The loss does not depend on a `wrt` variable.
    NoGradientPath = "no-gradient-path",
    /// `log`, `log2`, `log10`, `log1p` or `xlogy` of a value that can be out of its domain.
    LogDomain = "log-domain",
    /// A denominator that can be zero.
    DivByZero = "div-by-zero",
    /// `sqrt` of a value that can be negative.
    SqrtDomain = "sqrt-domain",
    /// `pow` out of its domain.
    PowDomain = "pow-domain",
    /// `exp`-like overflow.
    ExpOverflow = "exp-overflow",
    /// A finite value whose gradient can be NaN or infinite.
    NanGradient = "nan-gradient",
    /// A finite gradient that can exceed 1e6 in magnitude.
    ExplodingGradient = "exploding-gradient",
    /// Framework autodiff leaks NaN through an untaken branch.
    WhereNanGradient = "where-nan-gradient",
    /// Ordinary arithmetic that can overflow for inputs of large magnitude.
    Overflow = "overflow",
    /// A gradient that is zero on a region of positive measure.
    DeadGradient = "dead-gradient",
    /// A gradient that is zero almost everywhere.
    ZeroGradient = "zero-gradient",
    /// A `where` whose branches disagree on its boundary.
    Discontinuity = "discontinuity",
    /// Points where the loss is not differentiable.
    NonSmooth = "non-smooth",
    /// A constant or operation that vanishes in the dtype, or avoidable cancellation.
    PrecisionLoss = "precision-loss",
    /// A clip whose saturated side kills the gradient.
    ClipSaturation = "clip-saturation",
    /// The analysis reached its work limit on a deeply nested program and
    /// finished with coarser (still sound) intervals.
    AnalysisLimit = "analysis-limit",
    /// An input declared without a domain (`input x [N]`): the analysis
    /// assumed any real number, and names the domain that would remove
    /// findings, if one does.
    AssumedDomain = "assumed-domain",
    /// `asin` or `acos` of a value that can be outside [-1, 1].
    AsinDomain = "asin-domain",
    /// A loss that has no minimum in the prediction, or whose minimum is far
    /// from the label.
    WrongMinimum = "wrong-minimum",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary location with its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A machine-applicable edit: replace the text at `span` by `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

/// One input's value at a diagnostic's witness: the concrete point of the
/// declared domains at which the finding happens, the same point the message
/// describes ("when `y_pred` = 0").
#[derive(Debug, Clone)]
pub struct WitnessValue {
    /// The input's name, as declared (for a loss imported from Python, the
    /// parameter's name).
    pub input: String,
    /// The value, exactly representable in the dtype analysed.
    pub value: f64,
    /// Where the value is: in every element of the input (`false`), or in
    /// the first element of each row with every other element 0 (`true`;
    /// "`y_pred` = [1e-45, 0, ...] in a row").
    pub first_of_row: bool,
    /// For an input whose domain constrains whole rows (`simplex`,
    /// `onehot`), the row every row of the input holds (`value` is its
    /// first element); `None` for the others.
    pub row: Option<Vec<f64>>,
}

/// Values compare bit for bit (`-0` is not `0`; a witness is never NaN).
impl PartialEq for WitnessValue {
    fn eq(&self, other: &Self) -> bool {
        self.input == other.input
            && self.value.to_bits() == other.value.to_bits()
            && self.first_of_row == other.first_of_row
            && self
                .row
                .as_ref()
                .map(|r| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                == other
                    .row
                    .as_ref()
                    .map(|r| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
    }
}

impl Eq for WitnessValue {}

/// One finding, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// The headline, e.g. "cannot find `squre` in this scope".
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// A short text shown under the primary span (may be empty).
    pub label: String,
    /// Other places that explain the problem.
    pub secondary: Vec<Label>,
    /// `note:` lines.
    pub notes: Vec<String>,
    /// The `help:` line.
    pub help: Option<String>,
    /// A machine-applicable fix.
    pub fix: Option<Fix>,
    /// The input values at which the finding happens, one per input the
    /// message names (empty when the finding has no concrete point: a
    /// parse error, a warning the intervals cannot rule out but no point
    /// showed, a region rather than a point).
    pub witness: Vec<WitnessValue>,
}

impl Diagnostic {
    fn new(code: Code, severity: Severity, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
            fix: None,
            witness: Vec::new(),
        }
    }

    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Self {
        Self::new(code, Severity::Error, message, span)
    }

    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Self {
        Self::new(code, Severity::Warning, message, span)
    }

    pub fn note(code: Code, message: impl Into<String>, span: Span) -> Self {
        Self::new(code, Severity::Note, message, span)
    }

    /// Sets the text under the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.fix = Some(Fix {
            span,
            replacement: replacement.into(),
        });
        self
    }

    /// Sets the witness: the input values at which the finding happens.
    pub fn with_witness(mut self, witness: Vec<WitnessValue>) -> Self {
        self.witness = witness;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics into the stable order users see: by position, then code.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code, &a.message).cmp(&(b.span.start, b.span.end, b.code, &b.message))
    });
}

/// Maps byte offsets of one text to 1-based lines and columns.
///
/// Columns count Unicode scalar values, as rustc does.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 1-based (line, column) of `offset` in `text` (the text this index was built from).
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_by_name() {
        for &code in Code::ALL {
            assert_eq!(Code::from_name(code.as_str()), Some(code));
        }
        assert_eq!(Code::ALL.len(), 31);
    }

    #[test]
    fn line_index_counts_from_one() {
        let text = "ab\ncdé\n\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), (1, 1));
        assert_eq!(index.line_col(text, 2), (1, 3));
        assert_eq!(index.line_col(text, 3), (2, 1));
        assert_eq!(index.line_col(text, 7), (2, 4)); // after 'é' (2 bytes)
        assert_eq!(index.line_col(text, 8), (3, 1));
        assert_eq!(index.line_col(text, 9), (4, 1));
    }
}
