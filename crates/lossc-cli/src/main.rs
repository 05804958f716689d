//! The `lossc` binary. Everything lives in the `lossc_cli` library, where it
//! can be tested; this file only parses the command line and runs it.

use clap::Parser;

fn main() -> std::process::ExitCode {
    lossc_cli::run(&lossc_cli::Cli::parse())
}
