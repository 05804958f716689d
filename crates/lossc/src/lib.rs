//! lossc as a library: compile, check, differentiate and evaluate a loss.
//!
//! **In:** `.loss` source text and options.
//! **Out:** a checked [`Program`], or the diagnostics that stop it, as data.
//! **Never:** prints, exits, or reads files: the caller owns IO.
//!
//! ```
//! let program = lossc::compile("loss = mean(square(y_true - y_pred))").unwrap();
//! assert_eq!(program.losses().next().unwrap(), "loss");
//!
//! let diagnostics = lossc::check("loss = mean(squre(y_true - y_pred))", &lossc::CheckOptions::default()).unwrap();
//! assert_eq!(diagnostics[0].code, lossc::Code::UnknownName);
//! ```

pub use lossc_diagnostics::{Code, Diagnostic, Fix, Label, LineIndex, Severity, Span};
pub use lossc_ir::Dtype;

/// Why a program could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source has errors; every one found is here, sorted by position.
    #[error("the program has {} error(s); the first: {}", .0.len(), .0.first().map_or("", |d| d.message.as_str()))]
    Invalid(Vec<Diagnostic>),
    /// A `--param` override names no `param` of the program.
    #[error("no param named `{name}` in the program{}", suggestion(.known))]
    UnknownParam { name: String, known: Vec<String> },
}

fn suggestion(known: &[String]) -> String {
    if known.is_empty() {
        " (it declares none)".to_string()
    } else {
        format!(" (it declares {})", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
    }
}

/// Options shared by compilation and checking.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The float type the analysis reasons in.
    pub dtype: Dtype,
    /// `param` values that replace the declared defaults, as `--param NAME=VALUE`.
    pub params: Vec<(String, f64)>,
}

/// A compiled, checked program.
#[derive(Debug, Clone)]
pub struct Program {
    ir: lossc_ir::Program,
    /// The front end's warnings (e.g. an `[N, N]` broadcast).
    warnings: Vec<Diagnostic>,
}

impl Program {
    /// The typed IR, for the later stages.
    pub fn ir(&self) -> &lossc_ir::Program {
        &self.ir
    }

    /// The names of the losses, the default first.
    pub fn losses(&self) -> impl Iterator<Item = &str> {
        self.ir.losses().map(|result| result.name.as_str())
    }
}

/// Compiles `source` with the declared param defaults.
pub fn compile(source: &str) -> Result<Program, Error> {
    let ast = lossc_syntax::parse(source).map_err(Error::Invalid)?;
    let (ir, warnings) = lossc_ir::lower(&ast, source).map_err(Error::Invalid)?;
    Ok(Program { ir, warnings })
}

impl Program {
    /// Replaces the value of `param NAME` (as `--param NAME=VALUE` does).
    pub fn set_param(&mut self, name: &str, value: f64) -> Result<(), Error> {
        if self.ir.set_param(name, value) {
            Ok(())
        } else {
            Err(Error::UnknownParam {
                name: name.to_string(),
                known: self.ir.params.iter().map(|p| p.name.clone()).collect(),
            })
        }
    }

    /// The findings for this program under `options`: the front end's
    /// warnings (the analyzer's findings join them as it grows).
    pub fn check(&self, _options: &CheckOptions) -> Vec<Diagnostic> {
        self.warnings.clone()
    }
}

/// Every diagnostic for `source`, sorted by position: the front end's errors
/// if it has any, or else the findings of [`Program::check`].
///
/// `Err` only for a bad option: a `--param` that names no param.
pub fn check(source: &str, options: &CheckOptions) -> Result<Vec<Diagnostic>, Error> {
    let mut program = match compile(source) {
        Ok(program) => program,
        Err(Error::Invalid(diagnostics)) => return Ok(diagnostics),
        Err(other) => return Err(other),
    };
    for (name, value) in &options.params {
        program.set_param(name, *value)?;
    }
    Ok(program.check(options))
}
