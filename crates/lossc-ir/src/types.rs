//! Types and shapes: numbers or booleans, of a shape made of named or fixed
//! dimensions, with NumPy broadcasting (docs/language.md).

use std::fmt;

/// The float type of evaluation and analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dtype {
    /// IEEE binary32, Keras's default.
    #[default]
    F32,
    /// IEEE binary64.
    F64,
}

impl Dtype {
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }

    pub fn parse(text: &str) -> Option<Dtype> {
        match text {
            "f32" | "float32" => Some(Dtype::F32),
            "f64" | "float64" => Some(Dtype::F64),
            _ => None,
        }
    }

    /// The largest finite float of the dtype.
    pub fn max_finite(self) -> f64 {
        match self {
            Dtype::F32 => f64::from(f32::MAX),
            Dtype::F64 => f64::MAX,
        }
    }

    /// The smallest positive float of the dtype (a subnormal).
    pub fn min_positive_subnormal(self) -> f64 {
        match self {
            Dtype::F32 => f64::from(f32::from_bits(1)),
            Dtype::F64 => f64::from_bits(1),
        }
    }

    /// The number of explicitly stored mantissa bits.
    pub fn mantissa_bits(self) -> u32 {
        match self {
            Dtype::F32 => f32::MANTISSA_DIGITS - 1,
            Dtype::F64 => f64::MANTISSA_DIGITS - 1,
        }
    }

    /// `value` rounded to the nearest float of the dtype (even on a tie;
    /// beyond the range, an infinity).
    #[allow(clippy::cast_possible_truncation)]
    pub fn round(self, value: f64) -> f64 {
        match self {
            Dtype::F32 => f64::from(value as f32),
            Dtype::F64 => value,
        }
    }

    /// `value` rounded to a float of the dtype in the given direction (a
    /// float of the dtype, a NaN or an infinity is returned as it is).
    pub fn round_toward(self, value: f64, rounding: crate::domain::Rounding) -> f64 {
        let nearest = self.round(value);
        if value.is_nan() || value.is_infinite() {
            return value;
        }
        match rounding {
            crate::domain::Rounding::Down if nearest > value => self.next_down(nearest),
            crate::domain::Rounding::Up if nearest < value => self.next_up(nearest),
            _ => nearest,
        }
    }

    /// The next float of the dtype above `value` (a float of the dtype).
    #[allow(clippy::cast_possible_truncation)]
    pub fn next_up(self, value: f64) -> f64 {
        match self {
            Dtype::F32 => f64::from((value as f32).next_up()),
            Dtype::F64 => value.next_up(),
        }
    }

    /// The next float of the dtype below `value` (a float of the dtype).
    #[allow(clippy::cast_possible_truncation)]
    pub fn next_down(self, value: f64) -> f64 {
        match self {
            Dtype::F32 => f64::from((value as f32).next_down()),
            Dtype::F64 => value.next_down(),
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index of a dimension name in [`crate::Program::dims`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DimId(pub u32);

/// One dimension of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A symbolic size such as `N`, bound from the data at evaluation.
    Named(DimId),
    /// A size written as an integer (at least 1).
    Fixed(u64),
}

impl Dim {
    pub fn is_one(self) -> bool {
        self == Dim::Fixed(1)
    }
}

/// A tensor shape, outermost dimension first. `[]` is a scalar.
pub type Shape = Vec<Dim>;

/// Numbers or booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Num,
    Bool,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Num => "number",
            Kind::Bool => "boolean",
        }
    }
}

/// The type of a node: its kind and its shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Type {
    pub kind: Kind,
    pub shape: Shape,
}

impl Type {
    pub fn num(shape: Shape) -> Type {
        Type { kind: Kind::Num, shape }
    }

    pub fn boolean(shape: Shape) -> Type {
        Type {
            kind: Kind::Bool,
            shape,
        }
    }

    pub fn scalar() -> Type {
        Type::num(Vec::new())
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// The broadcast of two shapes, or the position (from the right, 0-based) of
/// the first pair of dimensions that do not match.
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Result<Shape, usize> {
    let rank = a.len().max(b.len());
    let mut out = vec![Dim::Fixed(1); rank];
    for k in 0..rank {
        let da = if k < a.len() { a[a.len() - 1 - k] } else { Dim::Fixed(1) };
        let db = if k < b.len() { b[b.len() - 1 - k] } else { Dim::Fixed(1) };
        out[rank - 1 - k] = if da == db || db.is_one() {
            da
        } else if da.is_one() {
            db
        } else {
            return Err(k);
        };
    }
    Ok(out)
}

/// Writes a shape as the user wrote it, e.g. `[N, 3]`.
pub fn shape_to_string(shape: &[Dim], dims: &[String]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Named(id) => dims.get(id.0 as usize).cloned().unwrap_or_else(|| format!("?{}", id.0)),
            Dim::Fixed(n) => n.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Dim = Dim::Named(DimId(0));
    const C: Dim = Dim::Named(DimId(1));

    #[test]
    fn broadcasting_follows_numpy_with_names() {
        assert_eq!(broadcast(&[N], &[]), Ok(vec![N]));
        assert_eq!(broadcast(&[N, C], &[N, Dim::Fixed(1)]), Ok(vec![N, C]));
        assert_eq!(broadcast(&[N, C], &[C]), Ok(vec![N, C]));
        assert_eq!(broadcast(&[Dim::Fixed(1)], &[Dim::Fixed(3)]), Ok(vec![Dim::Fixed(3)]));
        // Two different names never match, even if the data might agree.
        assert_eq!(broadcast(&[N, C], &[N, Dim::Named(DimId(2))]), Err(0));
        assert_eq!(broadcast(&[N], &[Dim::Fixed(3)]), Err(0));
        assert_eq!(broadcast(&[N, C], &[N]), Err(0));
    }
}
