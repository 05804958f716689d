//! fit's randomness: lossc's one seeded generator (splitmix64,
//! [`lossc::ir::rng::SplitMix64`]), one stream per purpose, so a seed gives
//! the same data, weights and batch order on every platform.

/// The generator fit draws from.
pub use lossc::ir::rng::SplitMix64 as Rng;

/// What a stream of random numbers is for: each has its own, so that reading
/// data from files instead of generating it leaves the weights unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Synthetic features and labels.
    Data = 1,
    /// The layer's initial weights.
    Weights = 2,
    /// The order of the samples in each epoch.
    Shuffle = 3,
}

impl Stream {
    /// The generator of this stream for `seed`.
    pub fn rng(self, seed: u64) -> Rng {
        let mut mixer = Rng::new(seed ^ (self as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        Rng::new(mixer.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Stream::Data.rng(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Stream::Data.rng(7).next_u64(), Stream::Weights.rng(7).next_u64());
    }
}
