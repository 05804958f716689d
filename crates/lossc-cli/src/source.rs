//! Reading the program a command works on: a `.loss` file, or a `-e` formula.
//!
//! Every way the input can be unusable (missing, a directory, a FIFO or a
//! device, larger than [`MAX_SOURCE_BYTES`], not UTF-8, empty) becomes a one-line [`CliError`] naming the file; nothing here panics.

use std::io;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::CliError;
use crate::input_file::{self, MAX_SOURCE_BYTES, OpenError};

/// The name a `-e` formula is shown under.
pub const FORMULA_NAME: &str = "<formula>";

/// A program's text and the name it is shown under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file as given on the command line, or `<formula>`.
    pub name: String,
    pub text: String,
}

/// `FILE` or `-e FORMULA`: exactly one of the two.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct SourceArgs {
    /// The .loss file to read, e.g. `examples/bce.loss`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// A one-line loss instead of a file, over the implicit inputs `y_true` and
    /// `y_pred`: `-e 'mean(square(y_true - y_pred))'` is the program
    /// `loss = mean(square(y_true - y_pred))`, shown as `<formula>`.
    #[arg(short = 'e', long = "expr", value_name = "FORMULA", allow_hyphen_values = true)]
    pub formula: Option<String>,
}

impl SourceArgs {
    /// Reads the file, or wraps the formula.
    pub fn load(&self) -> Result<Source, CliError> {
        match (&self.file, &self.formula) {
            (_, Some(formula)) => from_formula(formula),
            (Some(path), None) => read_file(path),
            // clap's group makes one of the two required.
            (None, None) => Err(CliError::new("give a .loss FILE or a formula with `-e 'FORMULA'`")),
        }
    }
}

/// The program `loss = FORMULA`.
pub fn from_formula(formula: &str) -> Result<Source, CliError> {
    if is_blank(formula) {
        return Err(CliError::new(
            "the formula given to `-e` is empty: write a loss such as `-e 'mean(square(y_true - y_pred))'`",
        ));
    }
    Ok(Source {
        name: FORMULA_NAME.to_string(),
        text: format!("loss = {formula}"),
    })
}

/// Reads a `.loss` file: UTF-8 text with at least one statement.
///
/// Only a regular file of at most [`MAX_SOURCE_BYTES`] is read: a FIFO or a
/// device (`/dev/zero`) is refused before it is opened, so it can neither
/// block the command nor feed it without end.
pub fn read_file(path: &Path) -> Result<Source, CliError> {
    let name = path.display().to_string();
    let bytes = input_file::read_regular(path, MAX_SOURCE_BYTES).map_err(|error| match error {
        OpenError::Io(error) => read_error(&name, &error),
        OpenError::NotRegular("a directory") => CliError::new(format!("`{name}` is a directory, not a .loss file")),
        OpenError::NotRegular(kind) => CliError::new(format!(
            "`{name}` is not a regular file ({kind}): lossc reads a .loss program from a regular file"
        )),
        OpenError::TooLarge { limit } => CliError::new(format!(
            "`{name}` is larger than {}, the largest .loss file lossc reads",
            input_file::size_text(limit)
        )),
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let valid = &error.as_bytes()[..offset];
        let line = 1 + valid.iter().filter(|&&byte| byte == b'\n').count();
        CliError::new(format!(
            "`{name}` is not valid UTF-8 (invalid byte at offset {offset}, line {line}): .loss files are UTF-8 text"
        ))
    })?;
    if is_blank(&text) {
        return Err(CliError::new(format!(
            "`{name}` is empty: a .loss file needs at least one `loss` statement"
        )));
    }
    Ok(Source { name, text })
}

fn read_error(name: &str, error: &io::Error) -> CliError {
    if error.kind() == io::ErrorKind::IsADirectory {
        CliError::new(format!("`{name}` is a directory, not a .loss file"))
    } else {
        CliError::new(format!("cannot read `{name}`: {error}"))
    }
}

/// Whether `text` holds no statement: only whitespace, `;` and `#` comments.
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let code = line.split('#').next().unwrap_or("");
        code.chars().all(|c| c.is_whitespace() || c == ';')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_no_statement() {
        assert!(is_blank(""));
        assert!(is_blank("  \n\t\r\n"));
        assert!(is_blank("# a comment\n   # another\n;"));
        assert!(!is_blank("# a comment\nloss = y_pred"));
        assert!(!is_blank("x # trailing comment"));
    }

    #[test]
    fn a_formula_becomes_a_loss_statement() {
        let source = from_formula("mean(y_pred)").unwrap();
        assert_eq!(source.name, "<formula>");
        assert_eq!(source.text, "loss = mean(y_pred)");
        assert!(from_formula("  ").is_err());
    }
}
