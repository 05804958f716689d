//! Reading the program a command works on: a `.loss` file, or a `-e` formula.
//!
//! Every way the input can be unusable (missing, a directory, a FIFO or a
//! device, larger than [`MAX_SOURCE_BYTES`], not UTF-8, empty) becomes a one-line [`CliError`] naming the file; nothing here panics.

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// For a program lossc generated (a Python function imported by the
    /// Python package): where its pieces came from, so that diagnostics are
    /// shown over the user's lines.
    pub origins: Option<Arc<lossc::SourceMap>>,
}

impl Source {
    /// A program with no origins: a file or a formula.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
            origins: None,
        }
    }
}

thread_local! {
    static PRELOADED: RefCell<Option<(String, Source)>> = const { RefCell::new(None) };
}

/// Runs `body` with `source` standing for the FILE argument `key` (e.g.
/// `losses.py::focal`): the Python package imports a Python function itself,
/// then runs the command line on the program it generated this way.
pub fn with_preloaded<T>(key: &str, source: Source, body: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PRELOADED.with(|slot| slot.borrow_mut().take());
        }
    }
    PRELOADED.with(|slot| *slot.borrow_mut() = Some((key.to_string(), source)));
    let _reset = Reset;
    body()
}

fn preloaded(path: &Path) -> Option<Source> {
    PRELOADED.with(|slot| {
        slot.borrow()
            .as_ref()
            .filter(|(key, _)| Path::new(key) == path)
            .map(|(_, source)| source.clone())
    })
}

/// Whether `path` names a Python file or a function in one (`losses.py`,
/// `losses.py::focal`).
fn python_target(path: &Path) -> bool {
    let text = path.to_string_lossy();
    let file = text.split("::").next().unwrap_or(&text);
    file.ends_with(".py") || (text.contains("::") && !file.ends_with(".loss"))
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
            (Some(path), None) => match preloaded(path) {
                Some(source) => Ok(source),
                None if python_target(path) => Err(CliError::new(format!(
                    "`{}` is a Python loss: this `lossc` reads .loss files only. The `lossc` command of the Python \
                     package imports Python functions (`pip install lossc`, then `lossc check losses.py::my_loss`)",
                    path.display()
                ))),
                None => read_file(path),
            },
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
    // Statements separated by `;` (`input y_pred: [0, 1]; mean(-log(y_pred))`):
    // a last part that is an expression is the loss.
    let parts: Vec<&str> = formula.split(';').collect();
    let text = match parts.split_last() {
        Some((last, first)) if parts.iter().any(|part| starts_as_statement(part)) => {
            let last = if starts_as_statement(last) || is_blank(last) {
                (*last).to_string()
            } else {
                format!(" loss = {}", last.trim_start())
            };
            let mut text = first.join(";");
            text.push(';');
            text.push_str(&last);
            text
        }
        _ => format!("loss = {formula}"),
    };
    Ok(Source::new(FORMULA_NAME, text))
}

/// Whether `text` starts as a statement does: a statement word, then a name
/// or a single `=` (the language reads a statement word only there: `output
/// * 2` is an expression over a name `output`).
fn starts_as_statement(text: &str) -> bool {
    const WORDS: [&str; 8] = ["input", "param", "const", "let", "def", "loss", "output", "wrt"];
    let text = text.trim_start();
    let word_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if !WORDS.contains(&&text[..word_end]) {
        return false;
    }
    let rest = text[word_end..].trim_start();
    rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        || (rest.starts_with('=') && !rest.starts_with("=="))
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
    Ok(Source::new(name, text))
}

/// Reads a program from standard input (`-`), shown as `<stdin>`: UTF-8
/// text of at most [`MAX_SOURCE_BYTES`] with at least one statement.
pub fn read_stdin() -> Result<Source, CliError> {
    use std::io::Read;
    let name = "<stdin>";
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| read_error(name, &error))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(CliError::new(format!(
            "standard input holds more than {}, the largest program lossc reads",
            input_file::size_text(MAX_SOURCE_BYTES)
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::new("standard input is not valid UTF-8: a .loss program is UTF-8 text"))?;
    if is_blank(&text) {
        return Err(CliError::new(
            "standard input is empty: a program needs at least one `loss` statement",
        ));
    }
    Ok(Source::new(name, text))
}

/// The `.loss` files under `dir`, at any depth, sorted by path (directories
/// whose name starts with `.` are skipped).
pub fn loss_files_under(dir: &Path) -> Result<Vec<std::path::PathBuf>, CliError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries =
            std::fs::read_dir(&current).map_err(|error| read_error(&current.display().to_string(), &error))?;
        for entry in entries {
            let entry = entry.map_err(|error| read_error(&current.display().to_string(), &error))?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && !hidden => pending.push(path),
                Ok(kind) if kind.is_file() && path.extension().is_some_and(|x| x == "loss") => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(CliError::new(format!("`{}` holds no .loss file", dir.display())));
    }
    Ok(found)
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

    #[test]
    fn a_formula_may_be_statements_separated_by_semicolons() {
        let text = |formula: &str| from_formula(formula).unwrap().text;
        assert_eq!(text("mean(y_pred)"), "loss = mean(y_pred)");
        assert_eq!(
            text("input y_pred: [0, 1]; mean(-log(y_pred))"),
            "input y_pred: [0, 1]; loss = mean(-log(y_pred))"
        );
        assert_eq!(
            text("input y_pred: [0, 1]; loss ce = mean(-log(y_pred))"),
            "input y_pred: [0, 1]; loss ce = mean(-log(y_pred))"
        );
        // A statement word used as a name is an expression.
        assert_eq!(text("output * 2"), "loss = output * 2");
        assert_eq!(text("loss == 1"), "loss = loss == 1");
        let program = lossc::compile(&text("input y_pred: [0, 1]; param w = 2; w * mean(y_pred)")).unwrap();
        assert_eq!(program.ir().inputs[0].domain.to_string(), "[0, 1]");
    }

    #[test]
    fn a_python_target_is_refused_unless_preloaded() {
        let args = SourceArgs {
            file: Some(PathBuf::from("losses.py::focal")),
            formula: None,
        };
        let error = args.load().unwrap_err();
        assert!(error.message().contains("Python package"), "{}", error.message());
        let source = Source::new("losses.py::focal", "loss = mean(y_pred)");
        let loaded = with_preloaded("losses.py::focal", source.clone(), || args.load().unwrap());
        assert_eq!(loaded, source);
        // Only inside the call.
        assert!(args.load().is_err());
        assert!(python_target(Path::new("a.py")));
        assert!(!python_target(Path::new("a.loss")));
        assert!(!python_target(Path::new("dir.py/x.loss")));
    }
}
