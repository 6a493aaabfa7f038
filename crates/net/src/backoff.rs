//! [`Backoff`]: the one retry ladder of every framecast program: delays
//! that double from a first one up to a cap, with or without jitter. A
//! sender reconnecting to its receiver, a NATS client failing over along
//! its server list and a server riding out accept errors all wait along it.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// Delays that double from `initial` up to `max`: the `n`th (from 0) is
/// `min(max, initial * 2^n)`, its ceiling.
///
/// With [`jitter`](Self::jitter) ("equal jitter") each delay lies between
/// half and all of its ceiling, so that many clients that lost the same
/// server do not all come back in the same millisecond, yet none retries
/// much sooner than the ladder says. The randomness is seeded by the
/// caller, so tests are deterministic.
///
/// ```
/// use std::time::Duration;
///
/// use framecast_net::Backoff;
///
/// let ms = Duration::from_millis;
/// let mut accept = Backoff::new(ms(5), Duration::from_secs(1));
/// assert_eq!([accept.next_delay(), accept.next_delay(), accept.next_delay()], [ms(5), ms(10), ms(20)]);
/// accept.reset(); // after a success
/// assert_eq!(accept.next_delay(), ms(5));
///
/// let mut reconnect = Backoff::new(ms(100), Duration::from_secs(5)).jitter(7);
/// let d = reconnect.next_delay();
/// assert!(d >= ms(50) && d <= ms(100));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    jitter: Option<SmallRng>,
}

impl Backoff {
    /// A ladder from `initial` doubling up to `max` (at least `initial`),
    /// without jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
            jitter: None,
        }
    }

    /// Spreads each delay between half and all of its ceiling, with
    /// randomness seeded by `seed`.
    pub fn jitter(mut self, seed: u64) -> Self {
        self.jitter = Some(SmallRng::seed_from_u64(seed));
        self
    }

    /// The ceiling of the `n`th delay (from 0): `min(max, initial * 2^n)`.
    /// For a caller that counts attempts itself (a client library's
    /// reconnection callback).
    pub fn ceiling(&self, n: u32) -> Duration {
        self.initial
            .checked_mul(1u32 << n.min(20))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay before the next attempt; each call moves one rung up,
    /// until the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        match &mut self.jitter {
            Some(rng) => {
                let half = ceiling / 2;
                half + Duration::from_micros(rng.random_range(0..=half.as_micros() as u64))
            }
            None => ceiling,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn jittered(initial: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff::new(initial, max).jitter(seed)
    }

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let mut b = jittered(Duration::from_millis(100), Duration::from_secs(5), 1);
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
        let mut b = jittered(Duration::from_millis(100), Duration::from_secs(5), 2);
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
                let mut b = jittered(Duration::from_millis(100), Duration::from_secs(5), seed);
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
        let mut b = jittered(Duration::from_secs(1), Duration::from_secs(5), 3);
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(5));
        }
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn without_jitter_the_ceiling_is_the_delay() {
        let mut b = Backoff::new(Duration::from_millis(5), Duration::from_secs(1));
        let delays: Vec<u64> = (0..10).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }
}
