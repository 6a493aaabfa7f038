//! Reconnect delays: exponential backoff with jitter, capped.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// The first reconnect delay.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// The longest reconnect delay.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Exponential backoff with "equal jitter": attempt `n` waits between half
/// and all of `min(max, initial * 2^n)`, so that many senders that lost the
/// same receiver do not all come back in the same millisecond, yet none
/// retries much sooner than the schedule says.
///
/// The randomness is seeded by the caller, so tests are deterministic.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: SmallRng,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`, jittered by a generator
    /// seeded with `seed`.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The delay before the next attempt; each call doubles the ceiling
    /// until it reaches the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .initial
            .checked_mul(1u32 << self.attempt.min(20))
            .unwrap_or(self.max)
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_us = self.rng.random_range(0..=half.as_micros() as u64);
        half + Duration::from_micros(jitter_us)
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, rand::random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 1);
        let mut ceiling = Duration::from_millis(100);
        for _ in 0..12 {
            let d = b.next_delay();
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} vs {ceiling:?}");
            ceiling = (ceiling * 2).min(Duration::from_secs(5));
        }
        assert!(b.next_delay() <= Duration::from_secs(5));
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 2);
        for _ in 0..8 {
            b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_senders_apart() {
        let delays: Vec<Duration> = (0..8)
            .map(|seed| {
                let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), seed);
                for _ in 0..5 {
                    b.next_delay();
                }
                b.next_delay()
            })
            .collect();
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 4, "{delays:?}");
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 3);
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(5));
        }
    }
}
