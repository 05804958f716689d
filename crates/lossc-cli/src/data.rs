//! The tensors `eval` works on: `--input NAME=SOURCE` read from an inline
//! JSON array, a `.npy` file or a `.csv` file, and the `--grad-out` file
//! written as `.npy`.
//!
//! Every number becomes an f64 here; the library converts to the dtype. Every
//! way the data can be unusable (a ragged array, a missing file, a `.npy` of
//! complex numbers, a CSV cell that is not a number) is a one-line
//! [`CliError`] naming the input and the file.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyError, ReadNpyExt, ReadableElement, WriteNpyExt};
use serde_json::Value;

use crate::CliError;

/// One `--input NAME=SOURCE`, not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputArg {
    pub name: String,
    pub source: DataSource,
}

/// Where an input's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A path ending in `.npy`.
    Npy(PathBuf),
    /// A path ending in `.csv`.
    Csv(PathBuf),
    /// Anything else: an inline JSON array (or number).
    Json(String),
}

/// Parses `NAME=SOURCE`: SOURCE is a `.npy` or `.csv` path, or inline JSON.
pub fn parse_input(text: &str) -> Result<InputArg, String> {
    let Some((name, source)) = text.split_once('=') else {
        return Err("expected NAME=SOURCE, e.g. `--input y_true='[1, 0, 1]'` or `--input y_pred=pred.npy`".to_string());
    };
    let name = name.trim();
    let is_identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_identifier {
        return Err(format!(
            "`{name}` is not an input name, e.g. `--input y_true='[1, 0, 1]'`"
        ));
    }
    let source = source.trim();
    if source.is_empty() {
        return Err(format!(
            "no data for `{name}`: give a JSON array, a .npy or a .csv file, e.g. `--input {name}='[1, 0, 1]'`"
        ));
    }
    let lower = source.to_ascii_lowercase();
    let source = if lower.ends_with(".npy") {
        DataSource::Npy(PathBuf::from(source))
    } else if lower.ends_with(".csv") {
        DataSource::Csv(PathBuf::from(source))
    } else {
        DataSource::Json(source.to_string())
    };
    Ok(InputArg {
        name: name.to_string(),
        source,
    })
}

impl InputArg {
    /// Reads the data.
    pub fn load(&self) -> Result<ArrayD<f64>, CliError> {
        match &self.source {
            DataSource::Json(text) => from_json(&self.name, text),
            DataSource::Npy(path) => read_npy(&self.name, path),
            DataSource::Csv(path) => read_csv(&self.name, path),
        }
    }
}

/// An inline JSON array (nested for more axes) of numbers or booleans; a
/// bare number is a 0-d array. `"NaN"`, `"inf"` and `"-inf"` are accepted as
/// numbers, as `eval --format json` writes them.
pub fn from_json(name: &str, text: &str) -> Result<ArrayD<f64>, CliError> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        let hint = if text.starts_with('[') || text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            String::new()
        } else {
            " (a file must end in .npy or .csv)".to_string()
        };
        CliError::new(format!(
            "input `{name}`: `{}` is not a JSON array: {error}{hint}",
            abbreviate(text)
        ))
    })?;
    let shape = leading_shape(&value);
    let mut data = Vec::with_capacity(shape.iter().product());
    let mut path = Vec::new();
    flatten(&value, &shape, &mut path, &mut data).map_err(|why| CliError::new(format!("input `{name}`: {why}")))?;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), data).expect("the data was checked against the shape"))
}

/// The shape the first element at each depth implies.
fn leading_shape(value: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut value = value;
    while let Value::Array(items) = value {
        shape.push(items.len());
        match items.first() {
            Some(first) => value = first,
            None => break,
        }
    }
    shape
}

/// Appends the numbers of `value` to `out`, checking that it has `shape`;
/// `path` is the index of `value` in the whole array, for messages.
fn flatten(value: &Value, shape: &[usize], path: &mut Vec<usize>, out: &mut Vec<f64>) -> Result<(), String> {
    let reference = |depth: usize| index_text(&vec![0; depth]);
    match (value, shape.split_first()) {
        (Value::Array(items), Some((&len, rest))) => {
            if items.len() != len {
                return Err(format!(
                    "ragged array: item {} has {} entries but item {} has {len}",
                    index_text(path),
                    items.len(),
                    reference(path.len())
                ));
            }
            for (index, item) in items.iter().enumerate() {
                path.push(index);
                flatten(item, rest, path, out)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Array(items), None) => Err(format!(
            "ragged array: item {} is a list of {} but item {} is a number",
            index_text(path),
            items.len(),
            reference(path.len())
        )),
        (scalar, Some((&len, _))) => match number(scalar) {
            Ok(_) => Err(format!(
                "ragged array: item {} is a number but item {} is a list of {len}",
                index_text(path),
                reference(path.len())
            )),
            Err(why) => Err(format!("item {}: {why}", index_text(path))),
        },
        (scalar, None) => {
            let value = number(scalar).map_err(|why| format!("item {}: {why}", index_text(path)))?;
            out.push(value);
            Ok(())
        }
    }
}

/// A JSON number or boolean (true is 1) as f64.
fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(number) => number.as_f64().ok_or_else(|| format!("`{number}` is not a number")),
        Value::Bool(flag) => Ok(if *flag { 1.0 } else { 0.0 }),
        Value::String(text) => {
            non_finite(text).ok_or_else(|| format!("`\"{text}\"` is not a number (write numbers without quotes)"))
        }
        Value::Null => Err("`null` is not a number".to_string()),
        Value::Object(_) => Err("an object is not a number".to_string()),
        Value::Array(_) => Err("a list is not a number".to_string()),
    }
}

/// `NaN`, `inf` or `-inf`, as `eval` writes them.
fn non_finite(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// `[1][0]`, or `[]` for the whole array.
fn index_text(path: &[usize]) -> String {
    if path.is_empty() {
        return "[]".to_string();
    }
    path.iter().map(|index| format!("[{index}]")).collect()
}

/// The text, cut to a length that fits in a one-line message.
fn abbreviate(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Reads a `.npy` file of floats, integers or booleans (any byte order,
/// C or Fortran order) as f64.
pub fn read_npy(name: &str, path: &Path) -> Result<ArrayD<f64>, CliError> {
    let file = path.display();
    let bytes =
        fs::read(path).map_err(|error| CliError::new(format!("input `{name}`: cannot read `{file}`: {error}")))?;
    let bad = |error: ReadNpyError| match error {
        ReadNpyError::WrongDescriptor(descriptor) => CliError::new(format!(
            "input `{name}`: `{file}` has dtype {descriptor}; lossc reads .npy files of floats, integers or booleans"
        )),
        other => CliError::new(format!("input `{name}`: `{file}` is not a readable .npy file: {other}")),
    };
    let readers: [Reader; 11] = [
        read_as::<f64>,
        read_as::<f32>,
        read_as::<i64>,
        read_as::<i32>,
        read_as::<i16>,
        read_as::<i8>,
        read_as::<u64>,
        read_as::<u32>,
        read_as::<u16>,
        read_as::<u8>,
        read_as::<bool>,
    ];
    let mut wrong_type = None;
    for read in readers {
        match read(&bytes) {
            Ok(array) => return Ok(array),
            Err(error @ ReadNpyError::WrongDescriptor(_)) => wrong_type = Some(error),
            Err(error) => return Err(bad(error)),
        }
    }
    Err(bad(wrong_type.expect("every reader was tried")))
}

/// Reads a `.npy` file's bytes if they hold one element type.
type Reader = fn(&[u8]) -> Result<ArrayD<f64>, ReadNpyError>;

/// An element type a `.npy` file may hold, as f64.
trait NpyNumber: ReadableElement + Copy {
    fn to_f64(self) -> f64;
}

macro_rules! npy_number {
    ($($ty:ty),*) => {
        $(impl NpyNumber for $ty {
            // Integers beyond 2^53 round to the nearest f64, as NumPy's astype does.
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn to_f64(self) -> f64 {
                self as f64
            }
        })*
    };
}

npy_number!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);

impl NpyNumber for bool {
    fn to_f64(self) -> f64 {
        if self { 1.0 } else { 0.0 }
    }
}

/// The file's array as f64, if it holds `T`s.
fn read_as<T: NpyNumber>(bytes: &[u8]) -> Result<ArrayD<f64>, ReadNpyError> {
    ArrayD::<T>::read_npy(bytes).map(|array| array.mapv(T::to_f64))
}

/// Reads a `.csv` file of numbers, one row per line, without a header: one
/// column is a vector `[rows]`, more a matrix `[rows, columns]`.
pub fn read_csv(name: &str, path: &Path) -> Result<ArrayD<f64>, CliError> {
    let file = path.display();
    let text = fs::read_to_string(path)
        .map_err(|error| CliError::new(format!("input `{name}`: cannot read `{file}`: {error}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut data = Vec::new();
    let mut columns = None;
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|error| csv_error(name, &file.to_string(), &error))?;
        let line = record.position().map_or(rows + 1, |position| position.line() as usize);
        for (column, cell) in record.iter().enumerate() {
            let value = csv_number(cell).ok_or_else(|| {
                CliError::new(format!(
                    "input `{name}`: `{file}` line {line}, column {}: `{}` is not a number",
                    column + 1,
                    abbreviate(cell)
                ))
            })?;
            data.push(value);
        }
        columns.get_or_insert(record.len());
        rows += 1;
    }
    let Some(columns) = columns else {
        return Err(CliError::new(format!("input `{name}`: `{file}` has no rows")));
    };
    let shape = if columns == 1 { vec![rows] } else { vec![rows, columns] };
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), data).expect("every row has the same length"))
}

fn csv_number(cell: &str) -> Option<f64> {
    match cell {
        "true" | "True" | "TRUE" => Some(1.0),
        "false" | "False" | "FALSE" => Some(0.0),
        _ => cell.parse::<f64>().ok().or_else(|| non_finite(cell)),
    }
}

fn csv_error(name: &str, file: &str, error: &csv::Error) -> CliError {
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos
                .as_ref()
                .map_or(String::new(), |pos| format!("line {} ", pos.line()));
            let columns = if *len == 1 { "column" } else { "columns" };
            format!("`{file}` {line}has {len} {columns} but the first row has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => format!("`{file}` is not valid UTF-8"),
        _ => format!("`{file}` is not a readable .csv file: {error}"),
    };
    CliError::new(format!("input `{name}`: {message}"))
}

/// Writes `array` to `path` as an f64 `.npy` file, atomically: into a
/// temporary file in the same directory, then renamed over `path`. On any
/// error the temporary file is removed and `path` is untouched.
pub fn write_npy_atomically(path: &Path, array: &ArrayD<f64>) -> Result<(), CliError> {
    let file = path.display();
    let fail = |what: &str, error: &dyn std::fmt::Display| CliError::new(format!("cannot {what} `{file}`: {error}"));
    if path.is_dir() {
        return Err(CliError::new(format!("cannot write `{file}`: it is a directory")));
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".lossc-")
        .suffix(".npy.tmp")
        .tempfile_in(directory)
        .map_err(|error| fail("write", &error))?;
    {
        let mut writer = BufWriter::new(temporary.as_file_mut());
        array
            .as_standard_layout()
            .write_npy(&mut writer)
            .map_err(|error| fail("write", &error))?;
        writer.flush().map_err(|error| fail("write", &error))?;
    }
    temporary.as_file().sync_all().map_err(|error| fail("write", &error))?;
    temporary.persist(path).map_err(|error| fail("write", &error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<ArrayD<f64>, String> {
        from_json("x", text).map_err(|error| error.message().to_string())
    }

    #[test]
    fn inputs_are_name_equals_source() {
        let input = parse_input("y_true=[1, 0]").unwrap();
        assert_eq!(input.name, "y_true");
        assert_eq!(input.source, DataSource::Json("[1, 0]".to_string()));
        assert_eq!(
            parse_input("y=data/p.NPY").unwrap().source,
            DataSource::Npy(PathBuf::from("data/p.NPY"))
        );
        assert_eq!(
            parse_input("y=p.csv").unwrap().source,
            DataSource::Csv(PathBuf::from("p.csv"))
        );
        assert!(parse_input("y_true").is_err());
        assert!(parse_input("1y=[1]").is_err());
        assert!(parse_input("y=").is_err());
    }

    #[test]
    fn nested_json_gives_the_shape() {
        let array = json("[[1, 2, 3], [4, 5, 6]]").unwrap();
        assert_eq!(array.shape(), &[2, 3]);
        assert_eq!(array[[1, 0]], 4.0);
        assert_eq!(json("[true, false]").unwrap().as_slice().unwrap(), &[1.0, 0.0]);
        assert_eq!(json("2.5").unwrap().ndim(), 0);
        assert!(json("[\"NaN\", \"-inf\"]").unwrap()[[0]].is_nan());
    }

    #[test]
    fn ragged_json_names_the_items() {
        assert_eq!(
            json("[[1, 2], [3]]").unwrap_err(),
            "input `x`: ragged array: item [1] has 1 entries but item [0] has 2"
        );
        assert_eq!(
            json("[[1, 2], 3]").unwrap_err(),
            "input `x`: ragged array: item [1] is a number but item [0] is a list of 2"
        );
        assert_eq!(
            json("[1, [2]]").unwrap_err(),
            "input `x`: ragged array: item [1] is a list of 1 but item [0] is a number"
        );
        assert_eq!(
            json("[1, null]").unwrap_err(),
            "input `x`: item [1]: `null` is not a number"
        );
        assert!(
            json("[1, 2")
                .unwrap_err()
                .starts_with("input `x`: `[1, 2` is not a JSON array")
        );
        assert!(
            json("pred.npz")
                .unwrap_err()
                .ends_with("(a file must end in .npy or .csv)")
        );
    }
}
