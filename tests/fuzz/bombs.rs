//! Resource bombs: small programs whose naive handling costs exponential
//! time or memory, memory in proportion to a declared size, or a recursion
//! as deep as the program is long, at generated sizes, through `check`, `grad` and `emit` of the built binary in a child
//! process (a bomb in this process would end the test binary). A size that
//! fails is shrunk to the smallest that fails the same way.

use std::ffi::OsString;

use proptest::prelude::*;
use tempfile::TempDir;

use crate::harness::{Problem, WALL_LIMIT, fuzz_children};
use crate::run::{Ending, crash_summary, run_binary};

/// A kind of bomb, built at a size.
#[derive(Debug, Clone, Copy)]
enum Bomb {
    /// `exp(exp(...(y_pred)))`, nested `size` deep.
    Nesting,
    /// `def f{i}(a) = f{i-1}(a) + f{i-1}(a)`: 2^size copies if not shared.
    DefFanOut,
    /// `let a{i} = where(a{i-1} > 0, a{i-1} * a{i-1}, -a{i-1})`.
    WhereChain,
    /// `let a{i} = maximum(a{i-1}, -a{i-1}) * minimum(a{i-1}, 1)`.
    MaxMinChain,
    /// A class dimension of `size` thousand (up to vocabulary sizes).
    WideDimension,
    /// An input of rank `size`.
    HighRank,
    /// `size` tens of losses.
    ManyLosses,
    /// A chain of `size` hundreds of defs, each calling the previous.
    DefChain,
    /// A chain of `size` hundreds of lets, each using the previous.
    LetChain,
    /// A `clip` of a product, nested `size` times (selections in selections).
    NestedClips,
}

const BOMBS: &[Bomb] = &[
    Bomb::Nesting,
    Bomb::DefFanOut,
    Bomb::WhereChain,
    Bomb::MaxMinChain,
    Bomb::WideDimension,
    Bomb::HighRank,
    Bomb::ManyLosses,
    Bomb::DefChain,
    Bomb::LetChain,
    Bomb::NestedClips,
];

fn program(bomb: Bomb, size: usize) -> String {
    let header = "input y_true: real [N]\ninput y_pred: real [N]\n";
    match bomb {
        Bomb::Nesting => format!(
            "{header}loss = mean({}y_pred{})\n",
            "exp(".repeat(size * 4),
            ")".repeat(size * 4)
        ),
        Bomb::DefFanOut => {
            let mut text = format!("{header}def f0(a) = a * a\n");
            for i in 1..=size {
                text.push_str(&format!("def f{i}(a) = f{}(a) + f{}(a)\n", i - 1, i - 1));
            }
            text + &format!("loss = mean(f{size}(y_pred))\n")
        }
        Bomb::WhereChain => {
            let mut text = format!("{header}let a0 = y_pred - y_true\n");
            for i in 1..=size {
                let p = i - 1;
                text.push_str(&format!("let a{i} = where(a{p} > 0, a{p} * a{p}, -a{p})\n"));
            }
            text + &format!("loss = mean(a{size})\n")
        }
        Bomb::MaxMinChain => {
            let mut text = format!("{header}let a0 = y_pred - y_true\n");
            for i in 1..=size {
                let p = i - 1;
                text.push_str(&format!("let a{i} = maximum(a{p}, -a{p}) * minimum(a{p}, 1)\n"));
            }
            text + &format!("loss = mean(a{size})\n")
        }
        Bomb::WideDimension => format!(
            "input labels: {{0, 1}} [N, {k}]\ninput logits: real [N, {k}]\n\
             loss = mean(-sum(labels * log_softmax(logits), axis=-1))\n",
            k = size * 10_000
        ),
        Bomb::HighRank => {
            let dims = vec!["2"; size * 4].join(", ");
            format!("input y_pred: real [{dims}]\nloss = mean(square(y_pred))\n")
        }
        Bomb::ManyLosses => {
            let mut text = header.to_string();
            for i in 0..size * 40 {
                text.push_str(&format!("loss l{i} = mean(square(y_pred - y_true) * {i})\n"));
            }
            text
        }
        Bomb::DefChain => {
            let mut text = format!("{header}def f0(a) = a * a\n");
            let depth = size * 100;
            for i in 1..=depth {
                text.push_str(&format!("def f{i}(a) = f{}(a) + 1\n", i - 1));
            }
            text + &format!("loss = mean(f{depth}(y_pred))\n")
        }
        Bomb::LetChain => {
            let mut text = format!("{header}let a0 = y_pred\n");
            let depth = size * 100;
            for i in 1..=depth {
                text.push_str(&format!("let a{i} = sin(a{}) + 1\n", i - 1));
            }
            text + &format!("loss = mean(a{depth})\n")
        }
        Bomb::NestedClips => {
            let mut expr = "y_pred".to_string();
            for _ in 0..size {
                expr = format!("clip({expr} * y_pred, 0, 1)");
            }
            format!("{header}loss = mean({expr})\n")
        }
    }
}

#[test]
fn resource_bombs() {
    let strategy = (
        prop::sample::select(BOMBS),
        1..=20usize,
        prop::sample::select(&["check", "grad", "emit"][..]),
    );
    fuzz_children(
        WALL_LIMIT * 2,
        "bombs: resource bombs",
        strategy,
        9,
        |(bomb, size, command)| {
            format!("lossc {command} bomb.loss  # {bomb:?} at size {size}:\n{}", {
                let text = program(*bomb, *size);
                crate::harness::abbreviate(&text, 1500)
            })
        },
        |(bomb, size, command)| {
            let dir = TempDir::new().expect("a scratch directory");
            std::fs::write(dir.path().join("bomb.loss"), program(bomb, size)).expect("write a scratch file");
            let args = [OsString::from(command), OsString::from("bomb.loss")];
            match run_binary(&args, b"", dir.path()) {
                Ending::Normal { .. } => Ok(()),
                Ending::Crashed { status, stderr } => Err(Problem::new(
                    &format!("{command} crashes on {bomb:?}"),
                    format!("{status}: {}", crash_summary(&stderr)),
                )),
                Ending::Hung(why) => Err(Problem::new(&format!("{command} runs too long on {bomb:?}"), why)),
                Ending::TooMuchMemory(bytes) => Err(Problem::new(
                    &format!("{command} uses over 1 GiB on {bomb:?}"),
                    format!("killed at {} MiB", bytes >> 20),
                )),
            }
        },
    );
}
