//! The terminal side of the REPL: rustyline's helper (completion, syntax
//! highlighting) and the history file. An entry with a bracket open is
//! continued line by line by the loop in [`super`], after the
//! [`super::CONTINUATION`] prompt.

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::PathBuf;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::text::{self, Names};

/// The environment variable that sets the history file; empty turns history
/// off. Unset, the file is `lossc/history` in the user's data directory
/// (`~/.local/share` on Linux, `~/Library/Application Support` on macOS).
pub const HISTORY_ENV: &str = "LOSSC_HISTORY";

/// Where the history lives, given the value of [`HISTORY_ENV`]: `None` when
/// history is off or there is no data directory.
pub fn history_path(setting: Option<OsString>) -> Option<PathBuf> {
    match setting {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => dirs::data_dir().map(|dir| dir.join("lossc").join("history")),
    }
}

/// rustyline's helper: everything the editor asks about the text.
pub struct ReplHelper {
    /// The session's names, refreshed after every entry.
    pub names: Names,
    /// Whether to colour the line being edited.
    color: bool,
    files: FilenameCompleter,
}

impl std::fmt::Debug for ReplHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplHelper")
            .field("names", &self.names)
            .field("color", &self.color)
            .finish_non_exhaustive()
    }
}

impl ReplHelper {
    pub fn new(color: bool) -> ReplHelper {
        ReplHelper {
            names: Names::default(),
            color,
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        match text::complete(line, pos, &self.names) {
            Some((start, candidates)) => Ok((
                start,
                candidates
                    .into_iter()
                    .map(|c| Pair {
                        display: c.display,
                        replacement: c.replacement,
                    })
                    .collect(),
            )),
            // `:load` and `:save` take file names.
            None => self.files.complete(line, pos, ctx),
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            Cow::Owned(text::highlight(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        // Lines are short: colour again after every key.
        self.color
    }
}

/// Every line is taken as typed: the loop asks for the next line of an entry
/// with a bracket open, after a prompt of its own.
impl Validator for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_file_follows_the_environment() {
        assert_eq!(history_path(Some(OsString::new())), None);
        assert_eq!(
            history_path(Some(OsString::from("/tmp/h"))),
            Some(PathBuf::from("/tmp/h"))
        );
    }
}
