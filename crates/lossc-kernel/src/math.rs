//! Vectorisable elementary functions: [`Fast`], the kernels' implementation
//! of [`lossc_ir::builtins::Elementary`].
//!
//! Every function here is straight-line code (range reduction with integer
//! bit operations, a polynomial, a few `if`s that select between values
//! already computed), so a loop that calls it auto-vectorises inside a
//! `pulp` dispatch (AVX-512 or AVX2+FMA). No float-to-integer `as` casts:
//! Rust's saturating casts do not vectorise; the exponent is read from the
//! bits of `k + 1.5 * 2^23` (or `2^52`) instead.
//!
//! Accuracy against the standard library (glibc's libm, itself within an ulp
//! of the exact value), measured over every f32 (`tests/it/ulp.rs` samples the
//! whole range in the default test run; `cargo run --release --example
//! ulp_sweep` checks all 2^32 patterns) and over random f64 samples:
//!
//! | function | f32: max ulp vs std, all 2^32 inputs | f64: max ulp vs std, 10^8 random inputs |
//! | --- | --- | --- |
//! | `exp` | 1 | 1 |
//! | `exp_m1` | 2 | 2 |
//! | `ln` | 1 | 1 |
//! | `ln_1p` | 1 | 1 |
//! | `tanh` | 2 | 2 |
//! | `cosh` | 2 | 2 |
//!
//! `sigmoid`, `softplus` and `log_sigmoid` are built from these in
//! `lossc_ir::builtins` (one definition for every evaluator).
//!
//! Special values follow IEEE and the standard library exactly: NaN in, NaN
//! out; `exp(-inf) = 0`, `exp(inf) = inf`, `ln(0) = -inf`, `ln(x < 0) = NaN`,
//! `ln_1p(-1) = -inf`, signed zeros kept where the standard library keeps
//! them, overflow to infinity and gradual underflow at the same thresholds.
//! `sin`, `cos` and the general `powf` are the standard library's (scalar);
//! the kernels specialise `pow` with a constant exponent themselves.

// The polynomial coefficients are written with every digit of their
// published minimax values; the compiler rounds them to the type.
#![allow(clippy::excessive_precision)]

/// The bound, in ulps of the standard library's result, that the tests
/// enforce for `exp`, `exp_m1`, `ln`, `ln_1p`, `tanh` and `cosh` over the
/// whole f32 range and over random f64 samples (the measured maxima are in
/// docs/performance.md; they are at most this).
pub const ULP_BOUND: u32 = 2;

/// The kernels' elementary functions (see the module documentation): the
/// built-ins' [`lossc_ir::builtins::Elementary`] with the functions of
/// [`FastMath`] where the kernels have their own, the standard library's
/// (the trait's defaults) elsewhere. This impl is in this file, which the
/// generated code includes verbatim (with the crate root's `Elementary` and
/// `Scalar` from its own copy of the scalar arithmetic), so the interpreted
/// and the generated kernels cannot pick different functions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fast;

impl<T: crate::Scalar + FastMath> crate::Elementary<T> for Fast {
    #[inline(always)]
    fn exp(x: T) -> T {
        T::fast_exp(x)
    }
    #[inline(always)]
    fn exp_m1(x: T) -> T {
        T::fast_exp_m1(x)
    }
    #[inline(always)]
    fn ln(x: T) -> T {
        T::fast_ln(x)
    }
    #[inline(always)]
    fn ln_1p(x: T) -> T {
        T::fast_ln_1p(x)
    }
    #[inline(always)]
    fn tanh(x: T) -> T {
        T::fast_tanh(x)
    }
    #[inline(always)]
    fn cosh(x: T) -> T {
        T::fast_cosh(x)
    }
}

/// The vectorisable functions of this file, per dtype.
pub trait FastMath: Sized {
    fn fast_exp(x: Self) -> Self;
    fn fast_exp_m1(x: Self) -> Self;
    fn fast_ln(x: Self) -> Self;
    fn fast_ln_1p(x: Self) -> Self;
    fn fast_tanh(x: Self) -> Self;
    fn fast_cosh(x: Self) -> Self;
}

macro_rules! fast_math {
    ($t:ident, $exp:ident, $exp_m1:ident, $ln:ident, $ln_1p:ident, $tanh:ident, $cosh:ident) => {
        impl FastMath for $t {
            #[inline(always)]
            fn fast_exp(x: $t) -> $t {
                $exp(x)
            }
            #[inline(always)]
            fn fast_exp_m1(x: $t) -> $t {
                $exp_m1(x)
            }
            #[inline(always)]
            fn fast_ln(x: $t) -> $t {
                $ln(x)
            }
            #[inline(always)]
            fn fast_ln_1p(x: $t) -> $t {
                $ln_1p(x)
            }
            #[inline(always)]
            fn fast_tanh(x: $t) -> $t {
                $tanh(x)
            }
            #[inline(always)]
            fn fast_cosh(x: $t) -> $t {
                $cosh(x)
            }
        }
    };
}

fast_math!(f32, exp_f32, exp_m1_f32, ln_f32, ln_1p_f32, tanh_f32, cosh_f32);
fast_math!(f64, exp_f64, exp_m1_f64, ln_f64, ln_1p_f64, tanh_f64, cosh_f64);

// ------------------------------------------------------------------- f32

/// `ln 2` in two parts: `LN2_HI_F32 * k` is exact for the `k` of a finite
/// exponential.
const LN2_HI_F32: f32 = 0.693_145_75;
const LN2_LO_F32: f32 = 1.428_606_8e-6;
/// Adding this to an integral float below 2^22 puts the integer in the low
/// mantissa bits (`bits - SHIFTER_BITS_F32` is the integer).
const SHIFTER_F32: f32 = 12_582_912.0;
const SHIFTER_BITS_F32: i32 = 0x4B40_0000;

/// `2^k` for an integer `k` in `[-126, 127]`, from its bits.
#[inline(always)]
fn pow2i_f32(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32).wrapping_shl(23))
}

/// Range reduction of an exponential: `x = k ln 2 + r`, `|r| <= ln2 / 2`,
/// and `e^r - 1` by a minimax polynomial (Cephes' `expf` coefficients).
/// `x` must be clamped to the range of interest first (finite or NaN).
#[inline(always)]
fn exp_reduce_f32(x: f32) -> (f32, i32) {
    let k = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = k.mul_add(-LN2_HI_F32, x);
    let r = k.mul_add(-LN2_LO_F32, r);
    let mut p = 1.987_569_2e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    // e^r - 1 = r + r^2 P(r)
    let em1 = (r * r).mul_add(p, r);
    let ki = (k + SHIFTER_F32).to_bits() as i32 - SHIFTER_BITS_F32;
    (em1, ki)
}

#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_halved_f32(x, 0)
}

/// `e^x / 2^halvings`, rounded once (for `cosh`, whose `e^x / 2` is finite
/// where `e^x` is not).
#[inline(always)]
fn exp_halved_f32(x: f32, halvings: i32) -> f32 {
    // Below -104 the result is 0 (even as a denormal), above 90 infinite.
    let xc = x.clamp(-104.0, 90.0);
    let (em1, k) = exp_reduce_f32(xc);
    // 2^k in two factors so that neither overflows nor is denormal; the
    // second multiplication rounds once, into the denormals if need be.
    let k = k - halvings;
    let k1 = k >> 1;
    let k2 = k - k1;
    (1.0 + em1) * pow2i_f32(k1) * pow2i_f32(k2)
}

#[inline(always)]
pub fn exp_m1_f32(x: f32) -> f32 {
    // Below -30 the result rounds to -1; above 89 it is infinite.
    let xc = x.clamp(-30.0, 89.0);
    let (p, k) = exp_reduce_f32(xc);
    // k > 0: 2^k (p + (1 - 2^-k)); k <= 0: 2^k p + (2^k - 1); both exact but
    // for one rounding. 2^-k is clamped to a normal: beyond, 1 - 2^-k is 1.
    let k1 = k >> 1;
    let k2 = k - k1;
    let positive = (p + (1.0 - pow2i_f32((-k).max(-126)))) * pow2i_f32(k1) * pow2i_f32(k2);
    let scale = pow2i_f32(k.max(-126));
    let negative = p.mul_add(scale, scale - 1.0);
    let y = if k > 0 { positive } else { negative };
    // Keeps -0 and NaN.
    if x == 0.0 || x.is_nan() { x } else { y }
}

#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    // Denormals are scaled into the normals first.
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8_388_608.0 } else { x };
    let bias = if tiny { -23 } else { 0 };
    // x = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)).
    let ix = xs.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23) as i32 - 0x7f + bias;
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    let f = m - 1.0;
    // ln(1 + f) = f - f^2 / 2 + f^3 P(f), P a minimax polynomial (Cephes'
    // `logf`): no division, which costs more than the polynomial.
    let mut p = 7.037_683_6e-2f32;
    p = p.mul_add(f, -1.151_461_031e-1);
    p = p.mul_add(f, 1.167_699_874e-1);
    p = p.mul_add(f, -1.242_014_084_6e-1);
    p = p.mul_add(f, 1.424_932_278_7e-1);
    p = p.mul_add(f, -1.666_805_766_5e-1);
    p = p.mul_add(f, 2.000_071_476_5e-1);
    p = p.mul_add(f, -2.499_999_399_3e-1);
    p = p.mul_add(f, 3.333_333_117_4e-1);
    let z = f * f;
    let dk = k as f32;
    // k ln 2 in two parts; the high part times k is exact.
    let r = (z * f).mul_add(p, dk.mul_add(-2.121_944_4e-4, -0.5 * z));
    let y = dk.mul_add(0.693_359_375, f + r);
    let special = if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    };
    // x in (0, inf), denormals included, in two integer operations: its
    // bits minus one, unsigned, below those of the largest finite number.
    let positive_finite = x.to_bits().wrapping_sub(1) < f32::MAX.to_bits();
    if positive_finite { y } else { special }
}

/// `x^y` in f32 for a general exponent: `exp(y ln x)` through f64 (53-bit
/// intermediates: within an ulp of the f32 result) for a positive finite `x`
/// and a finite `y`; the standard library's `powf` (whose special cases are
/// many) otherwise. The kernels' `Real::powf_slice` is its vectorised form.
#[inline(always)]
pub fn pow_f32(x: f32, y: f32) -> f32 {
    if x > 0.0 && x < f32::INFINITY && y.is_finite() {
        exp_f64(f64::from(y) * ln_f64(f64::from(x))) as f32
    } else {
        x.powf(y)
    }
}

#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    // log1p(x) = log(u) - ((u - 1) - x) / u with u = 1 + x rounded: the
    // second term is the rounding of u, relative to u.
    let u = 1.0 + x;
    let y = ln_f32(u) - ((u - 1.0) - x) / u;
    let special = if x == -1.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    };
    // Tiny x: u == 1 and y == x exactly; x == 0 keeps its sign.
    let y = if x == 0.0 { x } else { y };
    if x > -1.0 && x < f32::INFINITY { y } else { special }
}

#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    // Near 0 an odd polynomial (Cephes' `tanhf`); beyond, 1 - 2 / (e + 2)
    // with e = expm1(2|x|); 1 beyond 9.1.
    let a = x.abs().min(9.5);
    let z = x * x;
    let mut p = -5.704_988_7e-3f32;
    p = p.mul_add(z, 2.063_908_8e-2);
    p = p.mul_add(z, -5.373_971_6e-2);
    p = p.mul_add(z, 1.333_144_2e-1);
    p = p.mul_add(z, -3.333_328_2e-1);
    let near = (p * z).mul_add(x, x);
    let e = exp_m1_f32(2.0 * a);
    let far = (1.0 - 2.0 / (e + 2.0)).copysign(x);
    let t = if a < 0.625 { near } else { far };
    let t = if a > 9.1 { 1.0f32.copysign(x) } else { t };
    // Keeps NaN and the sign of zero.
    if x.is_nan() || x == 0.0 { x } else { t }
}

#[inline(always)]
pub fn cosh_f32(x: f32) -> f32 {
    let a = x.abs();
    // Near 0: (e + 1/e) / 2; beyond 9, e^a / 2 (the other term is below
    // half an ulp), computed without overflowing before cosh does.
    let e = exp_f32(a);
    let near = 0.5 * (e + 1.0 / e);
    let far = exp_halved_f32(a, 1);
    if a < 9.0 { near } else { far }
}

// ------------------------------------------------------------------- f64

const LN2_HI_F64: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO_F64: f64 = 1.908_214_929_270_587_700_02e-10;
const SHIFTER_F64: f64 = 6_755_399_441_055_744.0;
const SHIFTER_BITS_F64: i64 = 0x4338_0000_0000_0000;

/// `2^k` for an integer `k` in `[-1022, 1023]`.
#[inline(always)]
fn pow2i_f64(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64).wrapping_shl(52))
}

/// An integral f64 below 2^51 in magnitude as an i64 (vectorises; `as` does not).
#[inline(always)]
fn to_int_f64(k: f64) -> i64 {
    (k + SHIFTER_F64).to_bits() as i64 - SHIFTER_BITS_F64
}

/// An i64 below 2^51 in magnitude as an f64.
#[inline(always)]
fn to_float_f64(k: i64) -> f64 {
    f64::from_bits(k.wrapping_add(SHIFTER_BITS_F64) as u64) - SHIFTER_F64
}

/// `x = k ln 2 + r`, `|r| <= ln2 / 2`, and `e^r - 1` by its Taylor series to
/// degree 13 (truncation below 2^-56 relative).
#[inline(always)]
fn exp_reduce_f64(x: f64) -> (f64, i64) {
    let k = (x * std::f64::consts::LOG2_E).round_ties_even();
    let r = k.mul_add(-LN2_HI_F64, x);
    let r = k.mul_add(-LN2_LO_F64, r);
    let mut p = 1.605_904_383_682_161_3e-10f64;
    p = p.mul_add(r, 2.087_675_698_786_81e-9);
    p = p.mul_add(r, 2.505_210_838_544_172e-8);
    p = p.mul_add(r, 2.755_731_922_398_589e-7);
    p = p.mul_add(r, 2.755_731_922_398_589_3e-6);
    p = p.mul_add(r, 2.480_158_730_158_73e-5);
    p = p.mul_add(r, 1.984_126_984_126_984e-4);
    p = p.mul_add(r, 1.388_888_888_888_889e-3);
    p = p.mul_add(r, 8.333_333_333_333_333e-3);
    p = p.mul_add(r, 4.166_666_666_666_666_4e-2);
    p = p.mul_add(r, 1.666_666_666_666_666_6e-1);
    p = p.mul_add(r, 0.5);
    let em1 = (r * r).mul_add(p, r);
    (em1, to_int_f64(k))
}

#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    exp_halved_f64(x, 0)
}

/// `e^x / 2^halvings`, rounded once.
#[inline(always)]
fn exp_halved_f64(x: f64, halvings: i64) -> f64 {
    let xc = x.clamp(-746.0, 711.0);
    let (em1, k) = exp_reduce_f64(xc);
    let k = k - halvings;
    let k1 = k >> 1;
    let k2 = k - k1;
    (1.0 + em1) * pow2i_f64(k1) * pow2i_f64(k2)
}

#[inline(always)]
pub fn exp_m1_f64(x: f64) -> f64 {
    let xc = x.clamp(-40.0, 710.0);
    let (p, k) = exp_reduce_f64(xc);
    let k1 = k >> 1;
    let k2 = k - k1;
    let positive = (p + (1.0 - pow2i_f64((-k).max(-1022)))) * pow2i_f64(k1) * pow2i_f64(k2);
    let scale = pow2i_f64(k.max(-1022));
    let negative = p.mul_add(scale, scale - 1.0);
    let y = if k > 0 { positive } else { negative };
    if x == 0.0 || x.is_nan() { x } else { y }
}

#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
    let bias = if tiny { -54 } else { 0 };
    // Same reduction as fdlibm's `log`, on the whole 64-bit pattern.
    let ix = xs.to_bits().wrapping_add((0x3ff0_0000u64 - 0x3fe6_a09e) << 32);
    let k = (ix >> 52) as i64 - 0x3ff + bias;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + (0x3fe6_a09eu64 << 32));
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * 1.531_383_769_920_937_332e-1f64
        .mul_add(w, 2.222_219_843_214_978_396e-1)
        .mul_add(w, 3.999_999_999_940_941_908e-1);
    let t2 = z * 1.479_819_860_511_658_591e-1f64
        .mul_add(w, 1.818_357_216_161_805_012e-1)
        .mul_add(w, 2.857_142_874_366_239_149e-1)
        .mul_add(w, 6.666_666_666_666_735_130e-1);
    let r = t2 + t1;
    let dk = to_float_f64(k);
    let y = s.mul_add(hfsq + r, dk * LN2_LO_F64) - hfsq + f + dk * LN2_HI_F64;
    let special = if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    };
    // x in (0, inf), denormals included, in two integer operations: its
    // bits minus one, unsigned, below those of the largest finite number.
    let positive_finite = x.to_bits().wrapping_sub(1) < f64::MAX.to_bits();
    if positive_finite { y } else { special }
}

#[inline(always)]
pub fn ln_1p_f64(x: f64) -> f64 {
    let u = 1.0 + x;
    let y = ln_f64(u) - ((u - 1.0) - x) / u;
    let special = if x == -1.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    };
    let y = if x == 0.0 { x } else { y };
    if x > -1.0 && x < f64::INFINITY { y } else { special }
}

#[inline(always)]
pub fn tanh_f64(x: f64) -> f64 {
    // Near 0 Cephes' rational approximation of `tanh`; beyond, through expm1.
    let a = x.abs().min(23.0);
    let z = x * x;
    let p = (-9.643_991_794_250_522_386_28e-1f64)
        .mul_add(z, -9.928_772_310_019_185_865_64e1)
        .mul_add(z, -1.614_687_684_417_084_479_52e3);
    let q = (z + 1.128_116_784_916_329_314_02e2)
        .mul_add(z, 2.235_488_390_601_004_485_83e3)
        .mul_add(z, 4.844_063_053_251_254_860_48e3);
    let near = (x * z).mul_add(p / q, x);
    let e = exp_m1_f64(2.0 * a);
    let far = (1.0 - 2.0 / (e + 2.0)).copysign(x);
    let t = if a < 0.625 { near } else { far };
    let t = if a > 22.0 { 1.0f64.copysign(x) } else { t };
    if x.is_nan() || x == 0.0 { x } else { t }
}

#[inline(always)]
pub fn cosh_f64(x: f64) -> f64 {
    let a = x.abs();
    let e = exp_f64(a);
    let near = 0.5 * (e + 1.0 / e);
    let far = exp_halved_f64(a, 1);
    if a < 19.0 { near } else { far }
}

/// The distance between two floats in units in the last place: the number of
/// representable values between them (0 if equal, both NaN, or zeros of
/// either sign; `u64::MAX` if only one is NaN).
pub fn ulp_distance_f32(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    let key = |x: f32| {
        let bits = x.to_bits() as i32;
        // A monotone map of floats to integers: negatives mirrored.
        i64::from(if bits < 0 { i32::MIN - bits } else { bits })
    };
    key(a).abs_diff(key(b))
}

/// [`ulp_distance_f32`] for f64.
pub fn ulp_distance_f64(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        i128::from(if bits < 0 { i64::MIN - bits } else { bits })
    };
    u64::try_from(key(a).abs_diff(key(b))).unwrap_or(u64::MAX)
}
