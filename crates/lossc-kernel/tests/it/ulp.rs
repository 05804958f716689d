//! The elementary functions of the kernels against the standard library:
//! within `math::ULP_BOUND` ulps over a sample of the whole f32 range
//! (every 4099th bit pattern, both signs, denormals, infinities and NaN
//! included, plus the edges) and over f64 samples of every exponent. The
//! exhaustive f32 sweep is `cargo run --release -p lossc-kernel --example
//! ulp_sweep`; its results are in docs/performance.md.

use lossc_kernel::math::*;

type F32 = fn(f32) -> f32;
type F64 = fn(f64) -> f64;

const F32S: [(&str, F32, F32); 6] = [
    ("exp", exp_f32, f32::exp),
    ("exp_m1", exp_m1_f32, f32::exp_m1),
    ("ln", ln_f32, f32::ln),
    ("ln_1p", ln_1p_f32, f32::ln_1p),
    ("tanh", tanh_f32, f32::tanh),
    ("cosh", cosh_f32, f32::cosh),
];

const F64S: [(&str, F64, F64); 6] = [
    ("exp", exp_f64, f64::exp),
    ("exp_m1", exp_m1_f64, f64::exp_m1),
    ("ln", ln_f64, f64::ln),
    ("ln_1p", ln_1p_f64, f64::ln_1p),
    ("tanh", tanh_f64, f64::tanh),
    ("cosh", cosh_f64, f64::cosh),
];

/// Inputs where implementations go wrong: zeros, the smallest denormal and
/// normal, the overflow and underflow thresholds, -1 (for ln_1p), the ends
/// of the polynomial ranges, infinities and NaN.
const EDGES: &[f64] = &[
    0.0,
    -0.0,
    1e-45,
    1.1754944e-38,
    1e-300,
    5e-324,
    2.2250738585072014e-308,
    1.0,
    -1.0,
    0.5,
    0.55,
    0.625,
    0.3466,
    -0.9999999,
    9.0,
    9.1,
    19.0,
    22.0,
    88.72,
    88.7228,
    89.0,
    89.41,
    89.42,
    90.0,
    -87.33,
    -103.97,
    -104.0,
    709.78,
    710.0,
    710.5,
    -745.13,
    -746.0,
    1e30,
    -1e30,
    f64::MAX,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

#[test]
fn f32_functions_are_within_the_bound_over_the_whole_range() {
    for (name, fast, reference) in F32S {
        let mut worst = (0u64, 0f32);
        let patterns = (0..=u32::MAX).step_by(4099).map(f32::from_bits);
        let edges = EDGES.iter().flat_map(|&e| [e as f32, -(e as f32)]);
        for x in patterns.chain(edges) {
            let d = ulp_distance_f32(fast(x), reference(x));
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(
            worst.0 <= u64::from(ULP_BOUND),
            "f32 {name}: {} ulps at {:e} ({} vs std {})",
            worst.0,
            worst.1,
            fast(worst.1),
            reference(worst.1)
        );
    }
}

#[test]
fn f64_functions_are_within_the_bound_at_every_exponent() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, fast, reference) in F64S {
        let mut worst = (0u64, 0f64);
        let mut check = |x: f64| {
            let d = ulp_distance_f64(fast(x), reference(x));
            if d > worst.0 {
                worst = (d, x);
            }
        };
        for _ in 0..100_000 {
            // Uniform in the bit patterns, and uniform in [-750, 750].
            check(f64::from_bits(next()));
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
            check(1500.0 * u - 750.0);
            // Around 1 (ln's reduced argument, ln_1p's small arguments).
            check(0.5 + 1.5 * u);
            check(1.5 * u - 0.5);
            // Mantissas at small exponents (the polynomials' territory).
            let e = (next() % 80) as i32 - 70;
            check((u - 0.5) * 2f64.powi(e));
        }
        for &x in EDGES {
            check(x);
            check(-x);
        }
        assert!(
            worst.0 <= u64::from(ULP_BOUND),
            "f64 {name}: {} ulps at {:e} ({} vs std {})",
            worst.0,
            worst.1,
            fast(worst.1),
            reference(worst.1)
        );
    }
}

#[test]
fn special_values_follow_ieee() {
    assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
    assert!(exp_f32(f32::NAN).is_nan());
    assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
    assert_eq!(ln_f32(-0.0), f32::NEG_INFINITY);
    assert!(ln_f32(-1.0).is_nan());
    assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
    assert!(ln_1p_f32(-2.0).is_nan());
    assert_eq!(ln_1p_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(exp_m1_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
    assert_eq!(cosh_f32(89.4), 89.4f32.cosh());
    assert_eq!(exp_f64(-746.0), 0.0);
    assert_eq!(ln_f64(f64::INFINITY), f64::INFINITY);
    assert_eq!(exp_m1_f64(f64::NEG_INFINITY), -1.0);
}
