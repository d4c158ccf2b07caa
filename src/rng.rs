//! A small counter-based random source, for the synthetic world and the portal simulator.
//!
//! Every entity draws from its own stream, keyed by (seed, stream, index), so a person or an
//! organization comes out the same whatever order or thread generates it: that is what makes
//! the world byte-identical for a seed while chunks are built in parallel. SplitMix64 is
//! enough here: the world needs reproducibility and speed, not cryptographic quality.

/// Streams: one constant per kind of entity, so streams never collide.
pub mod stream {
    pub const PERSON_FATE: u64 = 1;
    pub const PERSON_NAME: u64 = 2;
    pub const PERSON_PHONE: u64 = 3;
    pub const PERSON_ACTS: u64 = 4;
    pub const DAY_SPLIT: u64 = 5;
    pub const ORG: u64 = 10;
    pub const ORG_HEADS: u64 = 11;
    pub const ORG_PERMITS: u64 = 12;
    pub const ORG_RENAME: u64 = 13;
    pub const HOLDER: u64 = 14;
    pub const DIRT: u64 = 20;
    /// The report's bootstrap intervals.
    pub const BOOTSTRAP: u64 = 30;
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn keyed(seed: u64, stream: u64, index: u64) -> Rng {
        Rng(mix(seed.wrapping_add(GOLDEN) ^ mix(stream.wrapping_mul(GOLDEN) ^ mix(index))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// Index drawn with the given weights (need not sum to 1).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::keyed(7, 1, 42).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::keyed(7, 1, 42).next_u64(), Rng::keyed(7, 2, 42).next_u64());
        assert_ne!(Rng::keyed(7, 1, 42).next_u64(), Rng::keyed(8, 1, 42).next_u64());
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = Rng::keyed(1, 1, 1);
        for _ in 0..10_000 {
            assert!(r.f64() < 1.0);
            assert!(r.below(3) < 3);
            let x = r.range(-2, 2);
            assert!((-2..=2).contains(&x));
        }
        let hits = (0..100_000).filter(|_| r.chance(0.25)).count();
        assert!((23_000..27_000).contains(&hits), "{hits}");
    }
}
