//! Data files through the CLI crate's readers (`lossc_cli::data`): `.npy`
//! files (generated headers of every kind, then their bytes edited), `.csv`
//! text and inline JSON, each read as f64, opened for the evaluator, and
//! evaluated by `lossc eval` (in this process) with a gradient file.
//!
//! A reader may refuse the data; it must do so with a one-line message that
//! names the input, never panic, hang or allocate what the file does not hold.

use std::path::Path;

use lossc_cli::data::{self, parse_input};
use proptest::prelude::*;
use tempfile::TempDir;

use crate::harness::{Verdict, abbreviate, fuzz};
use crate::mutate::{ByteEdit, edit_bytes};
use crate::run::{command_line, one_line_error};

/// The `descr` values of generated headers: every kind NumPy writes, kinds
/// lossc does not read, and malformed ones.
const DESCRS: &[&str] = &[
    "'<f8'",
    "'<f4'",
    "'>f8'",
    "'>f4'",
    "'|b1'",
    "'|u1'",
    "'|i1'",
    "'<i2'",
    "'>i2'",
    "'<i4'",
    "'<i8'",
    "'<u2'",
    "'<u4'",
    "'<u8'",
    "'<f2'",
    "'<c16'",
    "'|O'",
    "'<U3'",
    "'|S2'",
    "'<m8[s]'",
    "\"<f8\"",
    "'é<f8'",
    "'<f8é'",
    "''",
    "'<'",
    "'<f'",
    "'<f99999999999999999999'",
    "'f8'",
    "'=f8'",
    "[('a', '<f8')]",
    "1",
];

/// Shapes, as the header's text.
const SHAPES: &[&str] = &[
    "()",
    "(0,)",
    "(1,)",
    "(3,)",
    "(2, 3)",
    "(3, 2)",
    "(2, 0)",
    "(1, 1, 1)",
    "(2, 2, 2)",
    "(3)",
    "(-1,)",
    "(18446744073709551615,)",
    "(18446744073709551616,)",
    "(4294967296, 4294967296)",
    "(9223372036854775807, 2)",
    "(3, 'a')",
    "[3]",
    "(3,,)",
    "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
];

/// A `.npy` file: the header's fields in some order and form, and data.
#[derive(Debug, Clone)]
struct Npy {
    descr: &'static str,
    shape: &'static str,
    fortran: &'static str,
    version: u8,
    data: Vec<u8>,
    edits: Vec<ByteEdit>,
}

impl Npy {
    fn bytes(&self) -> (Vec<u8>, usize) {
        let dict = format!(
            "{{'descr': {}, 'fortran_order': {}, 'shape': {}, }}",
            self.descr, self.fortran, self.shape
        );
        let prefix = if self.version == 1 { 10 } else { 12 };
        let mut header = dict.into_bytes();
        while (prefix + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.push(self.version);
        out.push(0);
        if self.version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(&header);
        let focus = out.len();
        out.extend_from_slice(&self.data);
        (edit_bytes(&out, &self.edits, focus), focus)
    }
}

fn npy() -> impl Strategy<Value = Npy> {
    (
        prop::sample::select(DESCRS),
        prop::sample::select(SHAPES),
        prop::sample::select(&["False", "True", "0", "None"][..]),
        prop::sample::select(&[1u8, 2, 3][..]),
        prop::collection::vec(any::<u8>(), 0..96),
        prop::collection::vec(any::<ByteEdit>(), 0..4),
    )
        .prop_map(|(descr, shape, fortran, version, data, edits)| Npy {
            descr,
            shape,
            fortran,
            version,
            data,
            edits,
        })
}

/// The programs the data is evaluated with: a vector and a matrix input.
const MATRIX_PROGRAM: &str = "input y_pred: real [N, C]\nloss = mean(sum(y_pred * y_pred, axis=-1))\n";

/// Reads `path` with every reader and evaluates it with `lossc eval`.
fn read_and_evaluate(dir: &Path, source: &str) -> Verdict {
    let input = match parse_input(&format!("y_pred={source}")) {
        Ok(input) => input,
        Err(message) => return one_line_error("parse_input", &message),
    };
    let _ = input.load().map_err(|error| one_line_error("load", error.message()));
    if let Ok(loaded) = input.open() {
        let _ = loaded.shape();
        let _ = loaded.tensor();
    }
    let matrix = dir.join("matrix.loss");
    std::fs::write(&matrix, MATRIX_PROGRAM).expect("write a scratch file");
    let grad_out = dir.join("grad.npy");
    let grad_out = grad_out.to_string_lossy();
    let input = format!("y_pred={source}");
    let matrix = matrix.to_string_lossy();
    for program in [vec!["-e", "mean(y_pred)"], vec![&*matrix]] {
        let mut args = vec!["eval", "--input", &input, "--grad-out", &grad_out, "--format", "json"];
        args.extend(program);
        command_line(&args)?;
    }
    Ok(())
}

#[test]
fn npy_files() {
    fuzz(
        "data: .npy files",
        npy(),
        250,
        |npy| format!("{npy:?}\nbytes: {:?}", String::from_utf8_lossy(&npy.bytes().0)),
        |npy| {
            let dir = TempDir::new().expect("a scratch directory");
            let path = dir.path().join("data.npy");
            std::fs::write(&path, npy.bytes().0).expect("write a scratch file");
            if let Err(error) = data::read_npy("y_pred", &path) {
                one_line_error("read_npy", error.message())?;
            }
            read_and_evaluate(dir.path(), &path.to_string_lossy())
        },
    );
}

/// CSV cells: numbers, the spellings lossc accepts, and ones it must refuse.
const CELLS: &[&str] = &[
    "0",
    "1",
    "-1.5",
    "2e3",
    "1e999",
    "-1e999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "true",
    "False",
    "",
    " ",
    " 1 ",
    "\"1\"",
    "\"",
    "0x10",
    "1_000",
    "é",
    "\u{feff}1",
    "1e-400",
    "+1",
    ".5",
    "5.",
    "--1",
    "1,2",
];

fn csv_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::collection::vec(prop::sample::select(CELLS), 1..4), 0..6),
        prop::sample::select(&[",", ";", "\t"][..]),
        prop::sample::select(&["\n", "\r\n", "\r"][..]),
        prop::collection::vec(any::<ByteEdit>(), 0..3),
    )
        .prop_map(|(rows, separator, newline, edits)| {
            let text: String = rows.iter().map(|row| row.join(separator) + newline).collect();
            String::from_utf8_lossy(&edit_bytes(text.as_bytes(), &edits, text.len())).into_owned()
        })
}

#[test]
fn csv_files() {
    fuzz(
        "data: .csv files",
        csv_text(),
        150,
        |text| format!("{text:?}"),
        |text| {
            let dir = TempDir::new().expect("a scratch directory");
            let path = dir.path().join("data.csv");
            std::fs::write(&path, &text).expect("write a scratch file");
            if let Err(error) = data::read_csv("y_pred", &path) {
                one_line_error("read_csv", error.message())?;
            }
            read_and_evaluate(dir.path(), &path.to_string_lossy())
        },
    );
}

/// JSON scalars, as text.
const SCALARS: &[&str] = &[
    "0",
    "1",
    "-2.5",
    "1e308",
    "1e999",
    "-0",
    "true",
    "false",
    "null",
    "\"NaN\"",
    "\"inf\"",
    "\"-inf\"",
    "\"x\"",
    "{}",
    "{\"a\": 1}",
    "1.5e-400",
    "18446744073709551616",
    "[]",
];

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(SCALARS).prop_map(str::to_string);
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop::collection::vec(inner, 0..6).prop_map(|items| format!("[{}]", items.join(", ")))
    })
}

fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (json_value(), prop::collection::vec(any::<ByteEdit>(), 0..3)).prop_map(|(text, edits)| {
            String::from_utf8_lossy(&edit_bytes(text.as_bytes(), &edits, text.len())).into_owned()
        }),
        1 => (1..3000usize, prop::bool::ANY).prop_map(|(depth, closed)| {
            let close = if closed { "]".repeat(depth) } else { String::new() };
            format!("{}1{close}", "[".repeat(depth))
        }),
    ]
}

#[test]
fn inline_json() {
    fuzz(
        "data: inline JSON",
        json_text(),
        300,
        |text| abbreviate(text, 2000),
        |text| {
            if let Err(error) = data::from_json("y_pred", &text) {
                one_line_error("from_json", error.message())?;
            }
            // The text as `--input y_pred=TEXT`, unless it would name a file.
            let lower = text.trim().to_ascii_lowercase();
            if lower.ends_with(".npy") || lower.ends_with(".csv") {
                return Ok(());
            }
            let dir = TempDir::new().expect("a scratch directory");
            read_and_evaluate(dir.path(), &text)
        },
    );
}
