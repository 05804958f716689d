//! When to colour: `--color auto|always|never`, `NO_COLOR`, and whether the
//! stream is a terminal.

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::ValueEnum;
use codespan_reporting::term::termcolor::ColorChoice;

/// The `--color` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorWhen {
    /// Colour when the output is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file (and despite `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

/// A standard stream whose colour is being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl ColorWhen {
    /// Whether to colour, given the facts about the stream and the environment.
    ///
    /// `no_color` and `term` are the values of `NO_COLOR` and `TERM`. An
    /// explicit `--color always` wins over `NO_COLOR`, as <https://no-color.org>
    /// asks; under `auto` a non-empty `NO_COLOR` or `TERM=dumb` turns colour off.
    pub fn use_color(self, is_terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                let no_color = no_color.is_some_and(|value| !value.is_empty());
                let dumb = term.is_some_and(|value| value == "dumb");
                is_terminal && !no_color && !dumb
            }
        }
    }

    /// The termcolor choice for a real stream of this process.
    pub fn choice(self, stream: Stream) -> ColorChoice {
        let is_terminal = match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        };
        let no_color = std::env::var_os("NO_COLOR");
        let term = std::env::var_os("TERM");
        if self.use_color(is_terminal, no_color.as_deref(), term.as_deref()) {
            ColorChoice::AlwaysAnsi
        } else {
            ColorChoice::Never
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_only_a_terminal_without_no_color() {
        let auto = ColorWhen::Auto;
        assert!(auto.use_color(true, None, None));
        assert!(!auto.use_color(false, None, None));
        assert!(!auto.use_color(true, Some(OsStr::new("1")), None));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(auto.use_color(true, Some(OsStr::new("")), None));
        assert!(!auto.use_color(true, None, Some(OsStr::new("dumb"))));
    }

    #[test]
    fn explicit_choices_win() {
        assert!(ColorWhen::Always.use_color(false, Some(OsStr::new("1")), Some(OsStr::new("dumb"))));
        assert!(!ColorWhen::Never.use_color(true, None, None));
    }
}
