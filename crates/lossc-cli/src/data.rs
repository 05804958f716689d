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

use std::path::{Path, PathBuf};

use lossc_kernel::Tensor;
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use serde_json::Value;

use crate::CliError;
use crate::input_file::{self, OpenError};

mod npy_header;

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
        self.load_at_most(usize::MAX)
    }

    /// Reads the data as f64, refusing a `.npy` file of more than
    /// `max_elements` numbers from its header, before converting it.
    pub fn load_at_most(&self, max_elements: usize) -> Result<ArrayD<f64>, CliError> {
        match &self.source {
            DataSource::Json(text) => from_json(&self.name, text),
            DataSource::Npy(path) => read_npy_at_most(&self.name, path, max_elements),
            DataSource::Csv(path) => read_csv(&self.name, path),
        }
    }

    /// Opens the data for the evaluator: a `.npy` file memory-mapped and
    /// read in place, JSON and CSV parsed to f64.
    pub fn open(&self) -> Result<Loaded, CliError> {
        let data = match &self.source {
            DataSource::Npy(path) => open_npy(&self.name, path, usize::MAX).map_err(one_line)?,
            _ => LoadedData::Owned(self.load()?),
        };
        Ok(Loaded {
            name: self.name.clone(),
            data,
        })
    }
}

/// The error with every control character of its message escaped as Rust
/// writes it in a string (`\n`, `\t`, `\u{1}`): a message quotes the
/// user's text (a JSON array, a CSV cell, a `.npy` header), and an error is
/// one line whatever that text holds.
fn one_line(error: CliError) -> CliError {
    let message = error.message();
    if !message.contains(char::is_control) {
        return error;
    }
    let escaped: String = message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    CliError::new(escaped)
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
    /// Booleans of a `.npy` file whose bytes were not all 0 or 1, as 0 and 1.
    Booleans(ArrayD<u8>),
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
            LoadedData::Booleans(array) => Tensor::U8(array.view()),
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
    /// The kind of a descriptor such as `<f4`, and whether its bytes are
    /// big-endian. Like NumPy, a code without a byte order (`f8`) is native,
    /// `?` is a boolean, and the names `float32`, `int64`, `bool`... stand
    /// for their codes.
    fn parse(descr: &str) -> Option<(NpyKind, bool)> {
        let (big, code) = match descr.chars().next()? {
            '<' | '|' => (false, &descr[1..]),
            '>' => (true, &descr[1..]),
            '=' => (cfg!(target_endian = "big"), &descr[1..]),
            _ => (cfg!(target_endian = "big"), descr),
        };
        let kind = match code {
            "f4" | "float32" => NpyKind::F32,
            "f8" | "float64" => NpyKind::F64,
            "i1" | "int8" => NpyKind::I8,
            "i2" | "int16" => NpyKind::I16,
            "i4" | "int32" => NpyKind::I32,
            "i8" | "int64" => NpyKind::I64,
            "u1" | "uint8" => NpyKind::U8,
            "u2" | "uint16" => NpyKind::U16,
            "u4" | "uint32" => NpyKind::U32,
            "u8" | "uint64" => NpyKind::U64,
            "b1" | "?" | "bool" => NpyKind::Bool,
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
    let mut chars = code.chars();
    let letter = chars.next();
    let bits = chars
        .as_str()
        .parse::<usize>()
        .map(|b| b.saturating_mul(8))
        .unwrap_or(0);
    match letter {
        Some('f') => format!("float{bits}"),
        Some('c') => format!("complex{bits}"),
        Some('i') => format!("int{bits}"),
        Some('u') => format!("uint{bits}"),
        Some('b') => "bool".to_string(),
        Some('U') => "unicode string".to_string(),
        Some('S' | 'a') => "byte string".to_string(),
        Some('O') => "object".to_string(),
        Some('M') => "datetime64".to_string(),
        Some('m') => "timedelta64".to_string(),
        Some('V') => "void (structured)".to_string(),
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
            // Booleans are mapped only when every byte is 0 or 1.
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

/// The longest `.npy` header lossc reads: NumPy's own limit (`np.load`'s
/// `max_header_size`), far above any header NumPy writes.
const MAX_NPY_HEADER: usize = 10_000;

/// Parses a `.npy` header (format versions 1, 2 and 3) as NumPy does: the
/// magic bytes, the version, the header's length, and the Python dict of
/// [`npy_header`]. Version 1 and 2 headers are Latin-1, version 3 UTF-8.
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
        2 | 3 => {
            return Err("is not a readable .npy file: it is truncated in its header".to_string());
        }
        version => {
            return Err(format!(
                "is not a readable .npy file: format version {version} (lossc reads 1, 2 and 3)"
            ));
        }
    };
    if length > MAX_NPY_HEADER {
        return Err(format!(
            "is not a readable .npy file: its header is {length} bytes long; lossc reads headers of up to {MAX_NPY_HEADER} bytes, as NumPy does"
        ));
    }
    let end = start + length;
    if bytes.len() < end {
        return Err(format!(
            "is not a readable .npy file: it is truncated in its header ({length} bytes long, but the file ends {} bytes into it)",
            bytes.len().saturating_sub(start)
        ));
    }
    let raw = &bytes[start..end];
    let text = if bytes[6] == 3 {
        std::borrow::Cow::Borrowed(
            std::str::from_utf8(raw)
                .map_err(|_| "is not a readable .npy file: its header is not UTF-8 text".to_string())?,
        )
    } else {
        // Latin-1: each byte is the code point of the same value.
        std::borrow::Cow::Owned(raw.iter().map(|&byte| char::from(byte)).collect::<String>())
    };
    let header = npy_header::parse(&text).map_err(|why| {
        if why.starts_with("holds") {
            why
        } else {
            format!(
                "is not a readable .npy file: its header {why}: `{}`",
                abbreviate_to(text.trim(), 120)
            )
        }
    })?;
    Ok(NpyHeader {
        descr: header.descr,
        fortran: header.fortran,
        shape: header.shape,
        offset: end,
    })
}

/// Memory-maps a `.npy` file and checks it: a regular file, a supported
/// element type, a shape NumPy could make, data as long as the header says,
/// aligned for its type (or else copied). Booleans whose bytes are not all 0
/// or 1 are read as NumPy reads them (any byte but 0 is True) into memory.
///
/// A file of more than `max_elements` numbers is refused before anything is
/// allocated for it.
fn open_npy(name: &str, path: &Path, max_elements: usize) -> Result<LoadedData, CliError> {
    let file_name = path.display();
    let fail = |why: String| CliError::new(format!("input `{name}`: `{file_name}` {why}"));
    let unreadable =
        |error: std::io::Error| CliError::new(format!("input `{name}`: cannot read `{file_name}`: {error}"));
    let (file, length) = input_file::open_regular(path).map_err(|error| match error {
        OpenError::Io(error) => unreadable(error),
        other => fail(other.describe()),
    })?;
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
            abbreviate(&header.descr)
        )));
    };
    let sizes: Vec<String> = header.shape.iter().map(usize::to_string).collect();
    let shape_text = format!("({})", sizes.join(", "));
    // As NumPy: the product of the sizes, zeros left out, times the size of
    // an element must be an addressable number of bytes, even when the array
    // is empty (ndarray holds every view to that too).
    let too_large_message = format!(
        "has a shape too large to address: {shape_text} of {}",
        dtype_name(&header.descr)
    );
    let too_large = || fail(too_large_message.clone());
    let addressable = header
        .shape
        .iter()
        .try_fold(kind.size(), |n, &d| n.checked_mul(d.max(1)))
        .filter(|&bytes| isize::try_from(bytes).is_ok());
    if addressable.is_none() {
        return Err(too_large());
    }
    let count: usize = header.shape.iter().product();
    if count > max_elements {
        return Err(fail(format!(
            "holds {count} numbers (shape {shape_text}); at most {max_elements} are read here"
        )));
    }
    let needed = count * kind.size();
    let available = map.len() - header.offset;
    if available < needed {
        return Err(fail(format!(
            "is truncated: its header promises shape {shape_text} of {}, {needed} bytes of data, but the file holds {available}",
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
    let bytes = &mapped.map[mapped.offset..mapped.offset + needed];
    let aligned = (bytes.as_ptr() as usize).is_multiple_of(kind.size());
    let plain_booleans = kind != NpyKind::Bool || bytes.iter().all(|&byte| byte <= 1);
    if aligned && !big_endian && plain_booleans {
        return Ok(LoadedData::Mapped(mapped));
    }
    if kind == NpyKind::Bool {
        // One byte each, like the file: a file of any size still fits where
        // it would have been mapped.
        let flags: Vec<u8> = bytes.iter().map(|&byte| u8::from(byte != 0)).collect();
        let shape = IxDyn(&mapped.shape).set_f(mapped.fortran);
        let array = ndarray::ArrayD::from_shape_vec(shape, flags).map_err(|_| too_large())?;
        return Ok(LoadedData::Booleans(array));
    }
    // A big-endian file (or, never in practice, a misaligned one) is
    // converted, into memory: refused if that memory is not there.
    let converted = count.saturating_mul(std::mem::size_of::<f64>());
    if let Some(available) = available_memory()
        && converted as u64 > available
    {
        return Err(fail(format!(
            "is big-endian: reading it means converting it into {converted} bytes of memory, more than the {available} available; \
             write it little-endian with NumPy (`a.astype(a.dtype.newbyteorder('<'))`) to have it read in place"
        )));
    }
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
                NpyKind::U8 => f64::from(b[0]),
                NpyKind::Bool => f64::from(u8::from(b[0] != 0)),
                NpyKind::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
                NpyKind::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                NpyKind::U64 => u64::from_le_bytes(b) as f64,
            }
        })
        .collect();
    let shape = IxDyn(&mapped.shape).set_f(mapped.fortran);
    let array = ArrayD::from_shape_vec(shape, values).map_err(|_| too_large())?;
    Ok(LoadedData::Owned(array.as_standard_layout().into_owned()))
}

/// The memory the system can give without swapping, in bytes
/// (`MemAvailable` on Linux), or `None` where it does not say.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// An inline JSON array (nested for more axes) of numbers or booleans; a
/// bare number is a 0-d array. `"NaN"`, `"inf"` and `"-inf"` are accepted as
/// numbers, as `eval --format json` writes them.
pub fn from_json(name: &str, text: &str) -> Result<ArrayD<f64>, CliError> {
    parse_json(name, text).map_err(one_line)
}

fn parse_json(name: &str, text: &str) -> Result<ArrayD<f64>, CliError> {
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
    // The shape of the first items can promise far more numbers than the
    // text holds (a list of 5000 whose first item is a list of 5000...):
    // each number takes at least a byte of text, so that bounds the space.
    let promised = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let mut data = Vec::with_capacity(promised.unwrap_or(usize::MAX).min(text.len()));
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
    abbreviate_to(text, 40)
}

/// The text, cut to `max` characters.
fn abbreviate_to(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let head: String = text.chars().take(max).collect();
        format!("{head}...")
    }
}

/// Reads a `.npy` file of floats, integers or booleans (any byte order,
/// C or Fortran order) as f64.
pub fn read_npy(name: &str, path: &Path) -> Result<ArrayD<f64>, CliError> {
    read_npy_at_most(name, path, usize::MAX)
}

/// [`read_npy`], refusing a file of more than `max_elements` numbers before
/// converting (and allocating) anything.
pub fn read_npy_at_most(name: &str, path: &Path, max_elements: usize) -> Result<ArrayD<f64>, CliError> {
    let loaded = Loaded {
        name: name.to_string(),
        data: open_npy(name, path, max_elements).map_err(one_line)?,
    };
    Ok(match &loaded.data {
        LoadedData::Owned(array) => array.clone(),
        LoadedData::Booleans(array) => array.mapv(f64::from),
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
    parse_csv(name, path).map_err(one_line)
}

fn parse_csv(name: &str, path: &Path) -> Result<ArrayD<f64>, CliError> {
    let file = path.display();
    // Read as it is parsed: a regular file only (a FIFO or a device is
    // refused, never waited on), and no copy of its text in memory.
    let (opened, _) = input_file::open_regular(path).map_err(|error| match error {
        OpenError::Io(error) => CliError::new(format!("input `{name}`: cannot read `{file}`: {error}")),
        other => CliError::new(format!("input `{name}`: `{file}` {}", other.describe())),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(opened);
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
    fn first_items_promising_more_than_the_text_holds_are_ragged() {
        // Five levels of 5000 items, each first item a list: 50 KB of text
        // whose first items promise 5000^5 numbers (a capacity overflow).
        fn nested(depth: usize) -> String {
            if depth == 0 {
                return "1".to_string();
            }
            format!("[{}{}]", nested(depth - 1), ",1".repeat(4999))
        }
        let message = json(&nested(5)).unwrap_err();
        assert!(message.starts_with("input `x`: ragged array"), "{message}");
    }

    #[test]
    fn an_error_quoting_a_line_break_is_one_line() {
        let input = parse_input("y=[1,\nx]").unwrap();
        let message = input.load().unwrap_err().message().to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("[1,\\nx]"), "{message}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, "\",0\n0\n").unwrap();
        let input = parse_input(&format!("y={}", path.display())).unwrap();
        let message = input.load().unwrap_err().message().to_string();
        assert!(!message.contains(char::is_control), "{message}");
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

    /// A `.npy` file of format `version` with `header` (padded as NumPy pads
    /// it) and `data`, written by hand.
    fn npy_bytes(version: u8, header: &[u8], data: &[u8]) -> Vec<u8> {
        let prefix = if version == 1 { 10 } else { 12 };
        let mut header = header.to_vec();
        while !(prefix + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend_from_slice(&[version, 0]);
        if version == 1 {
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(data);
        bytes
    }

    /// Reads `bytes` as the `.npy` input `x`: its numbers, or the message.
    fn npy(bytes: &[u8]) -> Result<ArrayD<f64>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        std::fs::write(&path, bytes).unwrap();
        read_npy("x", &path).map_err(|error| {
            let message = error.message().to_string();
            let prefix = format!("input `x`: `{}` ", path.display());
            message.strip_prefix(&prefix).map_or(message.clone(), str::to_string)
        })
    }

    /// The error for a version 1 file with `header` and 64 zero bytes of data.
    fn npy_error(header: &str) -> String {
        npy(&npy_bytes(1, header.as_bytes(), &[0; 64])).unwrap_err()
    }

    #[test]
    fn npy_headers_are_python_dicts_as_numpy_reads_them() {
        let two = [1.5f64.to_le_bytes(), (-2.0f64).to_le_bytes()].concat();
        let read = |header: &str| npy(&npy_bytes(1, header.as_bytes(), &two)).map(|a| a.into_raw_vec_and_offset().0);
        // NumPy's own spelling, double quotes, no trailing comma, extra
        // spaces, Python 2's `L`, underscores, a native-order code.
        for header in [
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            r#"{"descr": "<f8", "fortran_order": False, "shape": (2,)}"#,
            "{ 'shape' : ( 2 , ) , 'fortran_order':False,'descr':'<f8' }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,)}",
            "{'descr': 'f8', 'fortran_order': False, 'shape': (0_2,)}",
            "{'descr': 'float64', 'fortran_order': False, 'shape': (1, 2)}",
            // A repeated key keeps its last value, as in a Python dict.
            "{'descr': '<i8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
        ] {
            assert_eq!(read(header), Ok(vec![1.5, -2.0]), "{header}");
        }
        // A version 3 header is UTF-8 text.
        let v3 = npy_bytes(
            3,
            "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2,)}".as_bytes(),
            &two,
        );
        assert_eq!(npy(&v3).map(|a| a.len()), Ok(2));
    }

    #[test]
    fn a_non_ascii_descr_is_an_unknown_dtype() {
        // Used to panic slicing the `&str` inside its first character.
        let utf8 = npy_bytes(
            3,
            "{'descr': 'éf8', 'fortran_order': False, 'shape': (1,)}".as_bytes(),
            &[0; 8],
        );
        let message = npy(&utf8).unwrap_err();
        assert!(message.starts_with("has dtype unknown (`éf8`)"), "{message}");
        // Latin-1 in a version 1 header: the byte 0xE9 is also `é`.
        let latin1 = npy_bytes(1, b"{'descr': '\xe9', 'fortran_order': False, 'shape': (1,)}", &[0; 8]);
        assert!(npy(&latin1).unwrap_err().starts_with("has dtype unknown (`é`)"));
        let empty = npy_error("{'descr': '', 'fortran_order': False, 'shape': (1,)}");
        assert!(empty.starts_with("has dtype unknown (``)"), "{empty}");
        // A version 3 header that is not UTF-8.
        let bad = npy_bytes(3, b"{'descr': '\xe9', 'fortran_order': False, 'shape': (1,)}", &[0; 8]);
        assert!(npy(&bad).unwrap_err().contains("its header is not UTF-8 text"));
    }

    #[test]
    fn npy_booleans_are_true_for_any_nonzero_byte() {
        let header = b"{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }";
        let flags = npy(&npy_bytes(1, header, &[0, 1, 2, 255, 0])).unwrap();
        assert_eq!(flags.as_slice().unwrap(), &[0.0, 1.0, 1.0, 1.0, 0.0]);
        // The evaluator's view holds the same 0 and 1, whether the bytes are
        // copied (not all 0 or 1) or mapped (all 0 or 1).
        let dir = tempfile::tempdir().unwrap();
        for (bytes, expected) in [([7u8, 0, 1], [1u8, 0, 1]), ([1, 0, 1], [1, 0, 1])] {
            let path = dir.path().join("b.npy");
            let header = b"{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }";
            std::fs::write(&path, npy_bytes(1, header, &bytes)).unwrap();
            let input = InputArg {
                name: "b".to_string(),
                source: DataSource::Npy(path),
            };
            let loaded = input.open().unwrap();
            let Tensor::U8(view) = loaded.tensor() else {
                panic!("booleans are viewed as bytes");
            };
            assert_eq!(view.iter().copied().collect::<Vec<u8>>(), expected);
        }
        // Big-endian and `?` spellings of the same.
        let question = npy(&npy_bytes(
            1,
            b"{'descr': '?', 'fortran_order': False, 'shape': (2,)}",
            &[9, 0],
        ));
        assert_eq!(question.unwrap().as_slice().unwrap(), &[1.0, 0.0]);
    }

    #[test]
    fn huge_npy_shapes_are_errors_not_allocations() {
        // The product of the sizes overflows, or the zeros hide sizes whose
        // product does (NumPy: "array is too big"), or a size is beyond u64.
        for shape in [
            "(4294967296, 4294967296, 2)",
            "(0, 4611686018427387904, 4611686018427387904)",
            "(18446744073709551616,)",
            "(1152921504606846976,)",
        ] {
            let message = npy_error(&format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}"));
            assert!(message.contains("too large to address"), "{shape}: {message}");
        }
        // Larger than the file: a truncated file, named with its sizes.
        let message = npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000)}");
        assert!(
            message.starts_with(
                "is truncated: its header promises shape (1000000, 1000000) of float32, 4000000000000 bytes of data, but the file holds 64"
            ),
            "{message}"
        );
        // More dimensions than NumPy allows.
        let ones = vec!["1"; 65].join(", ");
        let message = npy_error(&format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': ({ones})}}"
        ));
        assert!(
            message.contains("65 dimensions; NumPy arrays have at most 64"),
            "{message}"
        );
        // An empty array is fine.
        let empty = npy(&npy_bytes(
            1,
            b"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3)}",
            &[],
        ));
        assert_eq!(empty.unwrap().shape(), &[0, 3]);
    }

    #[test]
    fn a_big_endian_file_larger_than_memory_is_refused_not_converted() {
        // Converting it to f64 would allocate 8 bytes per element: more
        // than the memory available is refused with the sizes (it aborted).
        // The file is sparse: a quarter of the memory, never written. Sized
        // from the machine's total memory, which the memory available can
        // never exceed (sized from the memory available when the test
        // starts, it could fit by the time the file is read, once other
        // tests have freed theirs, and was then converted).
        let Some(total) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        }) else {
            return;
        };
        if available_memory().is_none() {
            return;
        }
        let count = total / 8 + 1;
        let header = format!("{{'descr': '>i2', 'fortran_order': False, 'shape': ({count},), }}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.npy");
        let bytes = npy_bytes(1, header.as_bytes(), &[]);
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(bytes.len() as u64 + 2 * count).unwrap();
        let message = read_npy("x", &path).unwrap_err().message().to_string();
        assert!(
            message.contains("is big-endian: reading it means converting it into"),
            "{message}"
        );
    }

    #[test]
    fn every_malformed_npy_header_is_a_clear_error() {
        let cases = [
            ("{'descr': '<f8', 'fortran_order': False}", "has no 'shape'"),
            ("{'fortran_order': False, 'shape': (1,)}", "has no 'descr'"),
            ("{'descr': '<f8', 'shape': (1,)}", "has no 'fortran_order'"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "has the key 'x'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
                "'fortran_order' that is an integer, not True or False",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1)}",
                "'shape' that is not a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': [1]}",
                "'shape' that is not a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
                "a negative size in 'shape'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': ('1',)}",
                "a size in 'shape' that is a string",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,)}",
                "not an integer",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2**3,)}",
                "expected `,` or `)`",
            ),
            (
                "{'descr': 8, 'fortran_order': False, 'shape': (1,)}",
                "'descr' that is an integer",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)",
                "expected `,` or `}`",
            ),
            (
                "{'descr: '<f8', 'fortran_order': False, 'shape': (1,)}",
                "expected `:` after a key",
            ),
            ("{'descr': '<f8", "ends inside a string"),
            ("['descr', '<f8']", "is a list, not a dict"),
            ("", "ends early"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
                "after the dict",
            ),
            ("{1: '<f8'}", "a key that is an integer"),
            (
                "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,)}",
                "not a Python literal",
            ),
            (
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}",
                "holds a structured array",
            ),
        ];
        for (header, expected) in cases {
            let message = npy_error(header);
            assert!(message.contains(expected), "{header}: {message}");
        }
        // Nesting is bounded: no stack overflow on a header of brackets.
        let deep = format!("{{'shape': {}", "(".repeat(5000));
        let message = npy(&npy_bytes(1, deep.as_bytes(), &[])).unwrap_err();
        assert!(message.contains("nests brackets more than 32 deep"), "{message}");
        // NumPy's limit on the header's length.
        let long = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': (1,), {}}}",
            " ".repeat(20_000)
        );
        let message = npy(&npy_bytes(2, long.as_bytes(), &[0; 8])).unwrap_err();
        assert!(
            message.contains("lossc reads headers of up to 10000 bytes, as NumPy does"),
            "{message}"
        );
        // A version 2 file cut inside its length, and an unknown version.
        assert!(
            npy(b"\x93NUMPY\x02\x00\x10\x00")
                .unwrap_err()
                .contains("truncated in its header")
        );
        assert!(
            npy(b"\x93NUMPY\x09\x00\x10\x00")
                .unwrap_err()
                .contains("format version 9")
        );
    }

    /// Valid headers the mutations start from.
    const HEADERS: &[&str] = &[
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        "{'descr': '|b1', 'fortran_order': True, 'shape': (1, 2), }",
        r#"{"descr": ">i4", "fortran_order": False, "shape": ()}"#,
        "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (0, 3L), }",
    ];

    /// Pieces a mutation inserts: the header's own syntax, and what broke
    /// readers (multi-byte characters, huge and negative sizes).
    const PIECES: &[&str] = &[
        "'",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        " ",
        "\\",
        "True",
        "False",
        "None",
        "-",
        "L",
        "_",
        "0",
        "7",
        "é",
        "€",
        "18446744073709551616",
        "4294967296",
        "'shape'",
        "'descr'",
        "<f4",
        "|b1",
    ];

    /// A header from [`HEADERS`] with up to 6 random edits.
    fn mutated_header() -> impl Strategy<Value = String> {
        let edits = prop::collection::vec(
            (any::<prop::sample::Index>(), 0..4usize, prop::sample::select(PIECES)),
            0..6,
        );
        (prop::sample::select(HEADERS), edits).prop_map(|(header, edits)| {
            let mut text = header.to_string();
            for (at, delete, insert) in edits {
                let mut start = at.index(text.len() + 1);
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (start + delete).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(start..end, insert);
            }
            text
        })
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_npy_bytes_never_panic(
            version in 0u8..5,
            rest in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut bytes = b"\x93NUMPY".to_vec();
            bytes.extend_from_slice(&[version, 0]);
            bytes.extend_from_slice(&rest);
            let _ = parse_npy_header(&bytes);
        }

        #[test]
        fn mutated_npy_headers_never_panic(header in mutated_header(), version in 1u8..4) {
            let bytes = npy_bytes(version, header.as_bytes(), &[1; 48]);
            if let Ok(header) = parse_npy_header(&bytes) {
                // Whatever parses has a descr, a flag and sizes: the checks
                // that follow (dtype, byte count) never panic either.
                let _ = NpyKind::parse(&header.descr);
                let _ = dtype_name(&header.descr);
            }
        }

        #[test]
        fn arbitrary_json_never_panics(text in "\\PC{0,120}") {
            let _ = from_json("x", &text);
        }

        #[test]
        fn json_soups_never_panic(pieces in prop::collection::vec(
            prop::sample::select(&["[", "]", ",", "1", "-2.5e3", "true", "null", "\"nan\"", "\"x\"", "{}", " "][..]),
            0..60,
        )) {
            let _ = from_json("x", &pieces.concat());
        }
    }

    proptest! {
        // These write a file each: fewer cases.
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn mutated_npy_files_read_or_fail_cleanly(header in mutated_header(), data in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = npy(&npy_bytes(1, header.as_bytes(), &data));
        }

        #[test]
        fn arbitrary_csv_reads_or_fails_cleanly(bytes in prop::collection::vec(
            prop::sample::select(&[b'1', b'.', b'-', b',', b'\n', b'"', b' ', b'e', 0xC3, b'x'][..]),
            0..120,
        )) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.csv");
            std::fs::write(&path, &bytes).unwrap();
            let _ = read_csv("x", &path);
        }
    }
}
