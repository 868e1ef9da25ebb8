//! A small, stable pseudo-random generator for the sample district.
//!
//! The same seed must give byte-identical files on every machine and with every future
//! version of our dependencies, so the generator is ours (SplitMix64) rather than a crate's
//! whose stream may change. Each part of the district draws from its own stream, forked by
//! label, so that changing one part does not reshuffle all the others.

#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed ^ 0x9E37_79B9_7F4A_7C15 }
    }

    /// An independent stream for `label`, derived from this one's seed state.
    pub fn fork(&self, label: &str) -> Rng {
        // FNV-1a over the label, mixed with the current state.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut forked = Rng { state: self.state ^ h };
        forked.next_u64();
        forked
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for sample data and stable across platforms.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks an index with the given integer weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A count around `mean` (sum of uniform draws; good enough for daily volumes).
    pub fn around(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        let spread = (mean * 0.6).max(1.0);
        let x = mean - spread + (self.below(10_001) as f64 / 10_000.0) * 2.0 * spread;
        x.round().max(0.0) as u64
    }
}

/// Splits `total` into parts proportional to `weights` that add up exactly (largest remainder).
pub fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    let mut parts: Vec<u64> = weights.iter().map(|w| total * w / sum).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse((total * weights[i]) % sum), i));
    let short = total - parts.iter().sum::<u64>();
    for &i in order.iter().take(short as usize) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(7).fork("x").next_u64(), Rng::new(7).fork("y").next_u64());
    }

    #[test]
    fn apportion_adds_up() {
        assert_eq!(apportion(784, &[3, 5, 7, 11]).iter().sum::<u64>(), 784);
    }
}
