//! README's tour is a test: every `console` block's `$ lossc ...` command is
//! run and must print exactly the lines shown under it.

use std::path::Path;
use std::process::Command;

#[test]
fn every_console_block_prints_what_the_readme_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut blocks = 0;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```console" {
            continue;
        }
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let (command, expected) = body.split_first().expect("a command line");
        let command = command.strip_prefix("$ lossc ").expect("blocks start with `$ lossc`");
        let args = shlex::split(command).expect("shell words");
        let output = Command::new(env!("CARGO_BIN_EXE_lossc"))
            .args(&args)
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .output()
            .expect("lossc runs");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8");
        let got: Vec<&str> = stdout.lines().map(str::trim_end).collect();
        let want: Vec<&str> = expected.iter().map(|l| l.trim_end()).collect();
        assert_eq!(got, want, "README block `$ lossc {command}`");
        blocks += 1;
    }
    assert!(blocks >= 5, "README has only {blocks} console blocks");
}
