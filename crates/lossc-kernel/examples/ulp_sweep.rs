//! Measures the ulp error of the kernels' elementary functions against the
//! standard library over every f32 bit pattern, and over 10^8 random f64s
//! (uniform in their bit patterns, so every exponent is hit):
//! `cargo run --release -p lossc-kernel --example ulp_sweep [NAME]` (only
//! the functions called NAME, e.g. `ln`, when given).
#![allow(clippy::print_stdout)] // An example prints its findings.
#![allow(clippy::type_complexity)] // Tables of (name, fast, reference) functions.

use lossc_kernel::math::*;
use rayon::prelude::*;

fn main() {
    let only = std::env::args().nth(1);
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let f32s: [(&str, fn(f32) -> f32, fn(f32) -> f32); 6] = [
        ("exp", exp_f32, f32::exp),
        ("exp_m1", exp_m1_f32, f32::exp_m1),
        ("ln", ln_f32, f32::ln),
        ("ln_1p", ln_1p_f32, f32::ln_1p),
        ("tanh", tanh_f32, f32::tanh),
        ("cosh", cosh_f32, f32::cosh),
    ];
    for (name, fast, reference) in f32s.into_iter().filter(|f| wanted(f.0)) {
        let (worst, at, differ) = (0..=u16::MAX as u32)
            .into_par_iter()
            .map(|high| {
                let mut local = (0u64, 0f32, 0u64);
                for low in 0..=u16::MAX as u32 {
                    let x = f32::from_bits(high << 16 | low);
                    let d = ulp_distance_f32(fast(x), reference(x));
                    local.2 += u64::from(d > 0);
                    if d > local.0 {
                        local = (d, x, local.2);
                    }
                }
                local
            })
            .reduce(
                || (0, 0.0, 0),
                |a, b| {
                    let (w, x) = if b.0 > a.0 { (b.0, b.1) } else { (a.0, a.1) };
                    (w, x, a.2 + b.2)
                },
            );
        println!("f32 {name:7} max {worst} ulp (at {at:e}); {differ} of 2^32 inputs differ from std");
    }
    let f64s: [(&str, fn(f64) -> f64, fn(f64) -> f64); 6] = [
        ("exp", exp_f64, f64::exp),
        ("exp_m1", exp_m1_f64, f64::exp_m1),
        ("ln", ln_f64, f64::ln),
        ("ln_1p", ln_1p_f64, f64::ln_1p),
        ("tanh", tanh_f64, f64::tanh),
        ("cosh", cosh_f64, f64::cosh),
    ];
    for (name, fast, reference) in f64s.into_iter().filter(|f| wanted(f.0)) {
        let worst = (0..100u64)
            .into_par_iter()
            .map(|block| {
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ block.wrapping_mul(0xD1B5_4A32_D192_ED03);
                let mut local = (0u64, 0f64);
                for _ in 0..1_000_000 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let x = f64::from_bits(state);
                    let d = ulp_distance_f64(fast(x), reference(x));
                    if d > local.0 {
                        local = (d, x);
                    }
                }
                local
            })
            .reduce(|| (0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
        println!(
            "f64 {name:7} max {} ulp (at {:e}) over 10^8 random bit patterns",
            worst.0, worst.1
        );
    }
}
