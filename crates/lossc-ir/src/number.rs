//! Numbers as text, one formatter per purpose: [`loss_number`] for `.loss`
//! source text, [`format_number`] for a float named exactly in a message,
//! [`format_approx`] for a magnitude shown to a person. (Python literals are
//! lossc-emit's.)

use crate::types::Dtype;

/// A number as `.loss` source text: the shortest text that reads back to the
/// same f64 (`0.1`, `1e-8`, `3`, `inf`). The one formatter of numbers written
/// into `.loss` text.
pub fn loss_number(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let text = format!("{value:?}");
    text.replace("e-0", "e-")
}

/// A float of `dtype`, named exactly in a message: the shortest text that
/// reads back to the same float of the dtype (an f32 is written in f32's
/// shortest form), as an integer below 1e6, in decimal from 1e-3 to 1e6,
/// else in scientific notation: `0`, `-0`, `12`, `0.99999994`, `1e-8`,
/// `3.4028235e38`, `1e6`, `NaN`, `inf`.
pub fn format_number(value: f64, dtype: Dtype) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if value.fract() == 0.0 && value.abs() < 1e6 {
        return format!("{}", value as i64);
    }
    let decimal = (1e-3..1e6).contains(&value.abs());
    #[allow(clippy::cast_possible_truncation)]
    let single = value as f32;
    match (dtype == Dtype::F32 && f64::from(single) == value, decimal) {
        (true, true) => format!("{single}"),
        (true, false) => format!("{single:e}"),
        (false, true) => format!("{value}"),
        (false, false) => format!("{value:e}"),
    }
}

/// A magnitude or bound for a person, to 4 significant digits: `1.678e7`,
/// `6927`, `0.6931`, `1.5e-5`, `NaN`, `inf`.
pub fn format_approx(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format_number(value, Dtype::F64);
    }
    let a = value.abs();
    if (1e-3..1e6).contains(&a) {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        let text = format!("{value:.digits$}");
        return if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
    }
    let text = format!("{value:.3e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_read_back_to_the_same_float_of_the_dtype() {
        assert_eq!(format_number(0.0, Dtype::F32), "0");
        assert_eq!(format_number(-0.0, Dtype::F32), "-0");
        assert_eq!(format_number(f64::from(f32::from_bits(1)), Dtype::F32), "1e-45");
        assert_eq!(format_number(f64::from(f32::MAX), Dtype::F32), "3.4028235e38");
        assert_eq!(format_number(f64::from(1.0f32.next_down()), Dtype::F32), "0.99999994");
        assert_eq!(format_number(5e-324, Dtype::F64), "5e-324");
        assert_eq!(format_number(0.1, Dtype::F64), "0.1");
        // The f32 nearest 0.1 is not 0.1 in f64.
        assert_eq!(format_number(f64::from(0.1f32), Dtype::F64), "0.10000000149011612");
        assert_eq!(format_number(f64::MAX, Dtype::F64), "1.7976931348623157e308");
        assert_eq!(format_number(f64::NAN, Dtype::F64), "NaN");
        assert_eq!(format_number(f64::NEG_INFINITY, Dtype::F64), "-inf");
        assert_eq!(format_number(-1e8, Dtype::F32), "-1e8");
        assert_eq!(format_number(123.0, Dtype::F32), "123");
        for (value, dtype) in [
            (1e-8, Dtype::F64),
            (f64::from(1e-8f32), Dtype::F32),
            (2.5e7, Dtype::F64),
        ] {
            let text = format_number(value, dtype);
            assert_eq!(dtype.round(text.parse::<f64>().unwrap()), value, "{text}");
        }
    }

    #[test]
    fn approximate_numbers_have_four_significant_digits() {
        assert_eq!(format_approx(0.612345), "0.6123");
        assert_eq!(format_approx(12.5), "12.5");
        assert_eq!(format_approx(6927.2), "6927");
        assert_eq!(format_approx(1.5e-5), "1.5e-5");
        assert_eq!(format_approx(1.6777e7), "1.678e7");
        assert_eq!(format_approx(-2.0e8), "-2e8");
        assert_eq!(format_approx(f64::NAN), "NaN");
        assert_eq!(format_approx(0.0), "0");
    }

    #[test]
    fn loss_numbers_read_back_to_the_same_f64() {
        for value in [0.1, 1e-8, 3.0, -2.5e300, 1e15, 0.30000000000000004] {
            assert_eq!(loss_number(value).parse::<f64>().unwrap(), value);
        }
        assert_eq!(loss_number(1e-8), "1e-8");
        assert_eq!(loss_number(f64::INFINITY), "inf");
    }
}
