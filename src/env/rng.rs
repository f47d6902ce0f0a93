//! Seeded random streams: one ChaCha8 stream per purpose, so that changing one
//! generator never shifts another (environment.md §9).
//!
//! Key derivation, version 1 (`KEY_SCHEME`): the 32-byte ChaCha key is
//! `b"mlopsdv1"` ‖ seed (u64 LE) ‖ FNV-1a-64(task id) (LE) ‖ FNV-1a-64(purpose name) (LE).
//! The fields occupy disjoint bytes of the key, so no two (task, seed, purpose)
//! triples share a stream. No std hasher is involved.
//!
//! All sampling (integers, floats, choice, shuffle) is implemented here on top
//! of `next_u64`; no `rand` distribution code is used, so a dependency bump
//! cannot move an episode.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use super::catalogue::TaskId;

/// Tag of the key-derivation scheme; changing it changes every episode.
pub const KEY_SCHEME: &[u8; 8] = b"mlopsdv1";

/// What a stream is used for. Each purpose has its own independent stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Bug,
    Model,
    Hyperparameters,
    Curves,
    Distractors,
    SurfaceForm,
    Timestamps,
    RunId,
}

impl Purpose {
    pub const fn name(self) -> &'static str {
        match self {
            Purpose::Bug => "bug",
            Purpose::Model => "model",
            Purpose::Hyperparameters => "hyperparameters",
            Purpose::Curves => "curves",
            Purpose::Distractors => "distractors",
            Purpose::SurfaceForm => "surface_form",
            Purpose::Timestamps => "timestamps",
            Purpose::RunId => "run_id",
        }
    }
}

/// The seed an episode is generated from when the server has a secret salt
/// (`serve --seed-salt`): ChaCha20 keyed by the salt and the seed, first u64.
/// Key: three FNV-1a-64 lanes of (lane index ‖ salt) (LE) ‖ seed (LE). The
/// same salt and seed give the same episode; without the salt a client
/// cannot compute it offline. Unsalted episodes never pass through here.
pub fn salted_seed(salt: &[u8], seed: u64) -> u64 {
    let mut key = [0u8; 32];
    for lane in 0..3u8 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in std::iter::once(&lane).chain(salt) {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let at = 8 * lane as usize;
        key[at..at + 8].copy_from_slice(&hash.to_le_bytes());
    }
    key[24..32].copy_from_slice(&seed.to_le_bytes());
    rand_chacha::ChaCha20Rng::from_seed(key).next_u64()
}

/// FNV-1a, 64 bit: a fixed, documented hash for the key derivation.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The 32-byte key of the stream for `(task, seed, purpose)`.
pub fn stream_key(task: TaskId, seed: u64, purpose: Purpose) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(KEY_SCHEME);
    key[8..16].copy_from_slice(&seed.to_le_bytes());
    key[16..24].copy_from_slice(&fnv1a64(task.as_str().as_bytes()).to_le_bytes());
    key[24..32].copy_from_slice(&fnv1a64(purpose.name().as_bytes()).to_le_bytes());
    key
}

/// One deterministic random stream with the environment's own sampling code.
pub struct Stream(ChaCha8Rng);

impl Stream {
    pub fn new(task: TaskId, seed: u64, purpose: Purpose) -> Self {
        Stream(ChaCha8Rng::from_seed(stream_key(task, seed, purpose)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform integer in `[0, n)` by rejection (no modulo bias). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform integer in `[lo, hi]` (inclusive).
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        self.range_u64(lo as u64, hi as u64) as u32
    }

    /// Uniform float in `[0, 1)` from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box-Muller, libm only).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform(1e-12, 1.0);
        let v = self.unit();
        libm::sqrt(-2.0 * libm::log(u)) * libm::cos(2.0 * core::f64::consts::PI * v)
    }

    /// Uniform float in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform float in `[lo, hi)`; both must be positive.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        libm::exp(self.uniform(libm::log(lo), libm::log(hi)))
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_per_purpose_and_reproducible() {
        let mut a = Stream::new(TaskId::Easy, 7, Purpose::Bug);
        let mut b = Stream::new(TaskId::Easy, 7, Purpose::Bug);
        let mut c = Stream::new(TaskId::Easy, 7, Purpose::Model);
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn below_stays_in_range_and_unit_in_half_open_interval() {
        let mut s = Stream::new(TaskId::Hard, u64::MAX, Purpose::Curves);
        for n in 1..50u64 {
            assert!(s.below(n) < n);
        }
        for _ in 0..1000 {
            let u = s.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
