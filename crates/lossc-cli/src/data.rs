//! The tensors `eval` works on: `--input NAME=SOURCE` read from an inline
//! JSON array, a `.npy` file or a `.csv` file. (The `--grad-out` file is
//! written by [`crate::output`].)
//!
//! A `.npy` file is memory-mapped ([`InputArg::open`]): the evaluator reads
//! its data where it lies, in its own element type (floats, integers,
//! booleans) and order (C or Fortran), so a file larger than memory streams
//! through the page cache. JSON and CSV data become f64 arrays. Every way the
//! data can be unusable (a ragged array, a missing file, a `.npy` of complex
//! numbers, a truncated file, a CSV cell that is not a number) is a one-line
//! [`CliError`] naming the input and the file.

use std::fs;
use std::path::{Path, PathBuf};

use lossc_kernel::Tensor;
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
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
    /// Reads the data as f64.
    pub fn load(&self) -> Result<ArrayD<f64>, CliError> {
        match &self.source {
            DataSource::Json(text) => from_json(&self.name, text),
            DataSource::Npy(path) => read_npy(&self.name, path),
            DataSource::Csv(path) => read_csv(&self.name, path),
        }
    }

    /// Opens the data for the evaluator: a `.npy` file memory-mapped and
    /// read in place, JSON and CSV parsed to f64.
    pub fn open(&self) -> Result<Loaded, CliError> {
        let data = match &self.source {
            DataSource::Npy(path) => open_npy(&self.name, path)?,
            _ => LoadedData::Owned(self.load()?),
        };
        Ok(Loaded {
            name: self.name.clone(),
            data,
        })
    }
}

/// An input's data, open for evaluation.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    data: LoadedData,
}

#[derive(Debug)]
enum LoadedData {
    Owned(ArrayD<f64>),
    Mapped(MappedNpy),
}

/// A memory-mapped `.npy` file whose header was checked: the data section
/// holds `shape` elements of `kind`, aligned for it, in native byte order.
#[derive(Debug)]
struct MappedNpy {
    map: memmap2::Mmap,
    offset: usize,
    kind: NpyKind,
    shape: Vec<usize>,
    fortran: bool,
}

impl Loaded {
    /// A view of the data, in its own element type and memory order.
    pub fn tensor(&self) -> Tensor<'_> {
        match &self.data {
            LoadedData::Owned(array) => Tensor::F64(array.view()),
            LoadedData::Mapped(npy) => npy.tensor(),
        }
    }

    /// The data's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.tensor().shape().to_vec()
    }
}

/// The element types lossc reads from `.npy` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NpyKind {
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl NpyKind {
    /// The kind of a descriptor such as `<f4`, and whether its bytes are big-endian.
    fn parse(descr: &str) -> Option<(NpyKind, bool)> {
        let (order, code) = descr.split_at(descr.len().min(1));
        let big = match order {
            "<" | "|" => false,
            ">" => true,
            "=" => cfg!(target_endian = "big"),
            _ => return None,
        };
        let kind = match code {
            "f4" => NpyKind::F32,
            "f8" => NpyKind::F64,
            "i1" => NpyKind::I8,
            "i2" => NpyKind::I16,
            "i4" => NpyKind::I32,
            "i8" => NpyKind::I64,
            "u1" => NpyKind::U8,
            "u2" => NpyKind::U16,
            "u4" => NpyKind::U32,
            "u8" => NpyKind::U64,
            "b1" => NpyKind::Bool,
            _ => return None,
        };
        Some((kind, big && kind.size() > 1))
    }

    fn size(self) -> usize {
        match self {
            NpyKind::I8 | NpyKind::U8 | NpyKind::Bool => 1,
            NpyKind::I16 | NpyKind::U16 => 2,
            NpyKind::F32 | NpyKind::I32 | NpyKind::U32 => 4,
            NpyKind::F64 | NpyKind::I64 | NpyKind::U64 => 8,
        }
    }
}

/// NumPy's name for a descriptor, for messages: `<c8` is `complex64`.
fn dtype_name(descr: &str) -> String {
    let code = descr.trim_start_matches(['<', '>', '=', '|']);
    let (letter, bytes) = code.split_at(code.len().min(1));
    let bits = bytes.parse::<usize>().map(|b| b * 8).unwrap_or(0);
    match letter {
        "f" => format!("float{bits}"),
        "c" => format!("complex{bits}"),
        "i" => format!("int{bits}"),
        "u" => format!("uint{bits}"),
        "b" => "bool".to_string(),
        "U" => "unicode string".to_string(),
        "S" | "a" => "byte string".to_string(),
        "O" => "object".to_string(),
        "M" => "datetime64".to_string(),
        "m" => "timedelta64".to_string(),
        "V" => "void (structured)".to_string(),
        _ => "unknown".to_string(),
    }
}

impl MappedNpy {
    fn tensor(&self) -> Tensor<'_> {
        let count: usize = self.shape.iter().product();
        let bytes = &self.map[self.offset..self.offset + count * self.kind.size()];
        fn view<'a, T: bytemuck::Pod>(bytes: &'a [u8], shape: &[usize], fortran: bool) -> ArrayViewD<'a, T> {
            // The alignment was checked when the file was opened.
            let data: &[T] = bytemuck::cast_slice(bytes);
            let shape = IxDyn(shape).set_f(fortran);
            ArrayViewD::from_shape(shape, data).expect("the element count was checked")
        }
        let (shape, f) = (&self.shape[..], self.fortran);
        match self.kind {
            NpyKind::F32 => Tensor::F32(view(bytes, shape, f)),
            NpyKind::F64 => Tensor::F64(view(bytes, shape, f)),
            NpyKind::I8 => Tensor::I8(view(bytes, shape, f)),
            NpyKind::I16 => Tensor::I16(view(bytes, shape, f)),
            NpyKind::I32 => Tensor::I32(view(bytes, shape, f)),
            NpyKind::I64 => Tensor::I64(view(bytes, shape, f)),
            // NumPy's booleans are the bytes 0 and 1.
            NpyKind::U8 | NpyKind::Bool => Tensor::U8(view(bytes, shape, f)),
            NpyKind::U16 => Tensor::U16(view(bytes, shape, f)),
            NpyKind::U32 => Tensor::U32(view(bytes, shape, f)),
            NpyKind::U64 => Tensor::U64(view(bytes, shape, f)),
        }
    }
}

/// The parsed header of a `.npy` file.
struct NpyHeader {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
    /// Where the data starts.
    offset: usize,
}

/// Parses a `.npy` header (format versions 1, 2 and 3).
fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("is not a readable .npy file: it does not start with the NumPy magic bytes".to_string());
    }
    let (length, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        version => {
            return Err(format!(
                "is not a readable .npy file: format version {version} (lossc reads 1, 2 and 3)"
            ));
        }
    };
    let end = start + length;
    if bytes.len() < end {
        return Err(format!(
            "is not a readable .npy file: it is truncated in its header ({length} bytes long, but the file ends {} bytes into it)",
            bytes.len().saturating_sub(start)
        ));
    }
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "is not a readable .npy file: its header is not text".to_string())?;
    let corrupt = |what: &str| format!("is not a readable .npy file: its header has {what}: `{}`", text.trim());
    let value_of = |key: &str| -> Option<&str> {
        let at = text.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = text[at..].trim_start().strip_prefix(':')?;
        Some(rest.trim_start())
    };
    let descr = value_of("descr")
        .and_then(|v| {
            let quote = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let inner = &v[1..];
            inner.find(quote).map(|close| inner[..close].to_string())
        })
        .ok_or_else(|| {
            if value_of("descr").is_some_and(|v| v.starts_with('[')) {
                "holds a structured array (fields), which lossc does not read".to_string()
            } else {
                corrupt("no 'descr'")
            }
        })?;
    let fortran = match value_of("fortran_order") {
        Some(v) if v.starts_with("True") => true,
        Some(v) if v.starts_with("False") => false,
        _ => return Err(corrupt("no 'fortran_order'")),
    };
    let shape_text = value_of("shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| corrupt("no 'shape'"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| corrupt("a size in 'shape' is not a number"))?;
    Ok(NpyHeader {
        descr,
        fortran,
        shape,
        offset: end,
    })
}

/// Memory-maps a `.npy` file and checks it: a supported element type, data
/// as long as the header says, aligned for its type (or else copied).
fn open_npy(name: &str, path: &Path) -> Result<LoadedData, CliError> {
    let file_name = path.display();
    let fail = |why: String| CliError::new(format!("input `{name}`: `{file_name}` {why}"));
    let unreadable =
        |error: std::io::Error| CliError::new(format!("input `{name}`: cannot read `{file_name}`: {error}"));
    let file = fs::File::open(path).map_err(unreadable)?;
    let length = file.metadata().map_err(unreadable)?.len();
    if length < 10 {
        return Err(fail(format!(
            "is not a readable .npy file: it is {length} bytes long, shorter than any .npy header"
        )));
    }
    #[allow(unsafe_code)]
    // SAFETY: the map is read-only and lives in `MappedNpy` beside the views
    // made of it. Mapping a file is `unsafe` because another process may
    // change or truncate it while it is mapped; lossc reads its inputs
    // once, as `cat` would, and documents that inputs must not change
    // during a run (a truncation then is a SIGBUS, never a wrong number).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(unreadable)?;
    let header = parse_npy_header(&map).map_err(fail)?;
    let Some((kind, big_endian)) = NpyKind::parse(&header.descr) else {
        return Err(fail(format!(
            "has dtype {} (`{}`); lossc reads .npy files of floats (float32, float64), integers or booleans",
            dtype_name(&header.descr),
            header.descr
        )));
    };
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| fail("has a shape too large to address".to_string()))?;
    let needed = count
        .checked_mul(kind.size())
        .ok_or_else(|| fail("has a shape too large to address".to_string()))?;
    let available = map.len() - header.offset;
    if available < needed {
        let shape: Vec<String> = header.shape.iter().map(usize::to_string).collect();
        return Err(fail(format!(
            "is truncated: its header promises shape ({}) of {}, {needed} bytes of data, but the file holds {available}",
            shape.join(", "),
            dtype_name(&header.descr)
        )));
    }
    let mapped = MappedNpy {
        offset: header.offset,
        kind,
        shape: header.shape,
        fortran: header.fortran,
        map,
    };
    let aligned = (mapped.map.as_ptr() as usize + mapped.offset).is_multiple_of(kind.size());
    if aligned && !big_endian {
        return Ok(LoadedData::Mapped(mapped));
    }
    // A big-endian file (or, never in practice, a misaligned one) is converted.
    let bytes = &mapped.map[mapped.offset..mapped.offset + needed];
    let values: Vec<f64> = bytes
        .chunks_exact(kind.size())
        .map(|chunk| {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            if big_endian {
                b[..chunk.len()].reverse();
            }
            match kind {
                NpyKind::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                NpyKind::F64 => f64::from_le_bytes(b),
                NpyKind::I8 => f64::from(b[0] as i8),
                NpyKind::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                NpyKind::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                // Beyond 2^53 an integer rounds to the nearest f64, as NumPy's astype does.
                NpyKind::I64 => i64::from_le_bytes(b) as f64,
                NpyKind::U8 | NpyKind::Bool => f64::from(b[0]),
                NpyKind::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
                NpyKind::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                NpyKind::U64 => u64::from_le_bytes(b) as f64,
            }
        })
        .collect();
    let shape = IxDyn(&mapped.shape).set_f(mapped.fortran);
    let array = ArrayD::from_shape_vec(shape, values).expect("the element count was checked");
    Ok(LoadedData::Owned(array.as_standard_layout().into_owned()))
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
    let loaded = Loaded {
        name: name.to_string(),
        data: open_npy(name, path)?,
    };
    Ok(match &loaded.data {
        LoadedData::Owned(array) => array.clone(),
        LoadedData::Mapped(npy) => {
            let tensor = npy.tensor();
            let shape = tensor.shape().to_vec();
            let values: Vec<f64> = match &tensor {
                Tensor::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::F64(v) => v.iter().copied().collect(),
                Tensor::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::I64(v) => v.iter().map(|&x| x as f64).collect(),
                Tensor::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::U32(v) => v.iter().map(|&x| f64::from(x)).collect(),
                Tensor::U64(v) => v.iter().map(|&x| x as f64).collect(),
                Tensor::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
            };
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("a view's elements fill its shape")
        }
    })
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
