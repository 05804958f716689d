//! The one-argument elementwise built-ins, read from the built-in table with
//! the interval the tests sample each one on (its `sample` column), shared
//! by the test binaries that cover every such built-in (finite differences
//! and JAX in `tests/gradients.rs` and `tests/jax_reference.rs`, the emitted
//! code in `crates/lossc-emit/tests/it/`): each declares it once, as a module
//! of its crate root (`#[path = ...]` outside this crate). A new built-in is
//! covered by all of them through its row alone.

// Each test binary uses a part of these.
#![allow(dead_code)]

use lossc::ir::{Builtin, BuiltinSpec, Signature};

/// A one-argument elementwise built-in and where it is sampled.
#[derive(Debug, Clone, Copy)]
pub struct Unary {
    pub builtin: Builtin,
    /// How source calls it: its name, or an operator's symbol (`-`).
    pub spelling: &'static str,
    /// An interval inside its domain, clear of its poles.
    pub sample: (f64, f64),
}

impl Unary {
    pub fn spec(&self) -> &'static BuiltinSpec {
        self.builtin.spec()
    }

    /// The source of an application to `argument`: `tan(x)`, `-(x)`.
    pub fn apply(&self, argument: &str) -> String {
        format!("{}({argument})", self.spelling)
    }

    /// A call whose argument `{}`, any real number, is mapped into the
    /// sample interval (`tan(-1.2 + 2.2 * sigmoid({}))`): inside the
    /// domain, clear of the poles, for random-program generators.
    pub fn mapped_call(&self) -> String {
        let (lo, hi) = self.sample;
        format!("{}({lo:?} + {:?} * sigmoid({{}}))", self.spelling, hi - lo)
    }

    /// `n` points from the lower end of the sample interval to the upper,
    /// evenly spaced, both ends included.
    pub fn points(&self, n: usize) -> Vec<f64> {
        let (lo, hi) = self.sample;
        let last = n.saturating_sub(1).max(1) as f64;
        (0..n).map(|k| lo + (hi - lo) * k as f64 / last).collect()
    }
}

/// Whether `builtin` is an elementwise function (or operator) of one argument.
pub fn is_unary(builtin: Builtin) -> bool {
    let spec = builtin.spec();
    spec.signature == Signature::Elementwise && spec.params.len() == 1
}

/// Every one-argument elementwise built-in with a sample interval, in table
/// order. Panics naming any with a derivative but no interval: those are the
/// ones the gradient tests must reach.
pub fn sampled() -> Vec<Unary> {
    let missing: Vec<&str> = Builtin::ALL
        .iter()
        .filter(|b| is_unary(**b) && b.has_derivative() && b.spec().sample.is_none())
        .map(|b| b.spec().name)
        .collect();
    assert!(
        missing.is_empty(),
        "one-argument elementwise built-ins with a derivative but `sample: None` in the built-in table: {}; \
         give each an interval inside its domain, clear of its poles, where the tests sample it",
        missing.join(", ")
    );
    Builtin::ALL
        .iter()
        .filter(|b| is_unary(**b))
        .filter_map(|&builtin| {
            let spec = builtin.spec();
            let spelling = if spec.callable {
                spec.name
            } else {
                spec.symbol.unwrap_or(spec.name)
            };
            let sample = spec.sample?;
            assert!(
                sample.0.is_finite() && sample.1.is_finite() && sample.0 < sample.1,
                "`{}`: the sample interval {sample:?} is not a finite interval lo < hi",
                spec.name
            );
            Some(Unary {
                builtin,
                spelling,
                sample,
            })
        })
        .collect()
}

/// The sampled ones with a derivative (not `sign`, `floor`, `stop_gradient`, ...).
pub fn differentiable() -> Vec<Unary> {
    sampled().into_iter().filter(|u| u.builtin.has_derivative()).collect()
}
