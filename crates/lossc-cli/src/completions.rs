//! `lossc completions SHELL` and `lossc man [COMMAND]`: the command line
//! described for shells and for `man`, generated from the clap definitions
//! in [`crate::cli`] so they never fall out of step with them.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use codespan_reporting::term::termcolor::WriteColor;

use crate::cli::Cli;
use crate::{CliError, Status, finish_output};

pub(crate) const LONG_ABOUT: &str = "\
Print a shell completion script for lossc.

The script completes lossc's commands, options and their values (file names
for FILE, `f32`/`f64` for --dtype, ...). Write it where your shell looks for
completions, or source it from the shell's start-up file.

Exit status: 0 success, 2 bad usage.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  lossc completions bash > ~/.local/share/bash-completion/completions/lossc
  lossc completions zsh > ~/.zfunc/_lossc        # with fpath+=(~/.zfunc) in ~/.zshrc
  lossc completions fish > ~/.config/fish/completions/lossc.fish
  lossc completions powershell >> $PROFILE
  source <(lossc completions bash)";

pub(crate) const MAN_LONG_ABOUT: &str = "\
Print lossc's manual page, or a command's, as roff for `man`.

Without COMMAND, the page of lossc itself, listing every command; with one,
that command's page (lossc-check(1), lossc-plot(1), ...).

Exit status: 0 success, 2 bad usage.";

pub(crate) const MAN_EXAMPLES: &str = "\
Examples:
  lossc man | man -l -
  lossc man check | man -l -
  lossc man > /usr/local/share/man/man1/lossc.1
  for c in check grad simplify eval probe plot repl; do lossc man $c > lossc-$c.1; done";

/// Options of `lossc completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for, e.g. `bash`.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Options of `lossc man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// A command whose page to print instead of lossc's own, e.g. `check`.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Runs `completions`: the script on `out`.
pub fn run_completions(args: &CompletionsArgs, out: &mut dyn WriteColor) -> Result<Status, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "lossc", &mut script);
    finish_output(Status::Success, out.write_all(&script).and_then(|()| out.flush()))
}

/// Runs `man`: the page on `out`.
pub fn run_man(args: &ManArgs, out: &mut dyn WriteColor) -> Result<Status, CliError> {
    let mut page = Vec::new();
    let written = match &args.command {
        None => clap_mangen::Man::new(Cli::command()).render(&mut page),
        Some(name) => {
            let mut root = Cli::command();
            root.build();
            let Some(command) = root.find_subcommand(name).cloned() else {
                let names: Vec<String> = root
                    .get_subcommands()
                    .map(|command| format!("`{}`", command.get_name()))
                    .collect();
                return Err(CliError::new(format!(
                    "`lossc man {name}`: no command named `{name}`; the commands: {}",
                    names.join(", ")
                )));
            };
            // The page is titled as man names a subcommand's page: lossc-check(1).
            let title = format!("lossc-{}", command.get_name());
            clap_mangen::Man::new(command).title(title).render(&mut page)
        }
    };
    let written = written.and_then(|()| out.write_all(&page)).and_then(|()| out.flush());
    finish_output(Status::Success, written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codespan_reporting::term::termcolor::NoColor;

    fn run(args: &[&str]) -> Result<String, CliError> {
        let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
        let (mut out, mut err) = (NoColor::new(Vec::new()), NoColor::new(Vec::new()));
        crate::execute(&cli, &mut out, &mut err)?;
        Ok(String::from_utf8(out.into_inner()).unwrap())
    }

    #[test]
    fn every_command_has_examples_in_its_help() {
        let mut root = Cli::command();
        root.build();
        assert!(root.render_long_help().to_string().contains("Examples:\n  lossc "));
        for command in root.get_subcommands_mut() {
            let name = command.get_name().to_string();
            if name == "help" {
                continue;
            }
            let help = command.render_long_help().to_string();
            assert!(
                help.contains(&format!("Examples:\n  lossc {name}")),
                "`lossc {name} --help` has no example:\n{help}"
            );
        }
    }

    #[test]
    fn completion_scripts_know_every_command() {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let script = run(&["lossc", "completions", shell]).unwrap();
            for command in ["check", "grad", "plot", "repl", "completions"] {
                assert!(script.contains(command), "{shell}: no `{command}`");
            }
        }
    }

    #[test]
    fn man_pages_are_roff() {
        let page = run(&["lossc", "man"]).unwrap();
        assert!(page.contains(".TH lossc 1"), "{page}");
        assert!(page.contains("lossc\\-plot(1)"), "{page}");
        let page = run(&["lossc", "man", "plot"]).unwrap();
        assert!(page.contains(".TH lossc-plot 1"), "{page}");
        assert!(page.contains("\\-\\-fix"), "{page}");
        let error = run(&["lossc", "man", "plott"]).unwrap_err();
        assert!(error.message().contains("no command named `plott`"), "{error}");
    }
}
