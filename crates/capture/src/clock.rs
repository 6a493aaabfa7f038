//! Injected time: a monotonic clock to pace by, a wall clock to stamp frames
//! with, and a way to sleep.
//!
//! Sources and the [`Paced`](crate::Paced) wrapper never read the system time
//! themselves; they ask a [`Clock`]. Production code uses [`SystemClock`];
//! tests use [`ManualClock`], whose time only moves when the test (or a
//! `sleep`) moves it, so pacing tests are exact and instant.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time. Object safe; shared as `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic time since an arbitrary, fixed origin. Never goes back.
    fn now(&self) -> Duration;

    /// Blocks the calling thread for `duration` (a fake clock advances
    /// instead).
    fn sleep(&self, duration: Duration);

    /// Wall-clock time in microseconds since the Unix epoch: what
    /// [`Frame::capture_time_us`](crate::Frame::capture_time_us) holds.
    fn unix_time_us(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration);
    }
    fn unix_time_us(&self) -> u64 {
        (**self).unix_time_us()
    }
}

/// The real clock: [`Instant`] for pacing, [`SystemTime`] for timestamps,
/// [`std::thread::sleep`] for waiting.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// The system clock as the shared handle sources take.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn unix_time_us(&self) -> u64 {
        unix_time_us()
    }
}

/// The system clock's time in microseconds since the Unix epoch: what
/// [`SystemClock`] stamps frames with, for code that reads the time without
/// an injected [`Clock`] (an engine's latency figures).
///
/// A system clock set before 1970 reads as the epoch rather than failing: a
/// timestamp is informative, never load-bearing.
pub fn unix_time_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A fake clock for deterministic tests: time stands still until
/// [`ManualClock::advance`] or [`Clock::sleep`] moves it, and every sleep is
/// recorded. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use framecast_capture::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_700_000_000_000_000);
/// clock.sleep(Duration::from_millis(5));
/// assert_eq!(clock.now(), Duration::from_millis(5));
/// assert_eq!(clock.unix_time_us(), 1_700_000_000_005_000);
/// assert_eq!(clock.sleeps(), [Duration::from_millis(5)]);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: Duration,
    unix_origin_us: u64,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock at monotonic time zero whose wall clock reads
    /// `unix_origin_us` microseconds since the epoch.
    pub fn new(unix_origin_us: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(ManualState {
                now: Duration::ZERO,
                unix_origin_us,
                sleeps: Vec::new(),
            })),
        }
    }

    /// Moves time forward by `by` (without recording a sleep): simulates work
    /// that took that long.
    pub fn advance(&self, by: Duration) {
        self.lock().now += by;
    }

    /// Every duration passed to [`Clock::sleep`] so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // The state stays consistent even if a test thread panicked while
        // holding the lock: every update is a single assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.lock();
        state.now += duration;
        state.sleeps.push(duration);
    }

    fn unix_time_us(&self) -> u64 {
        let state = self.lock();
        let elapsed = u64::try_from(state.now.as_micros()).unwrap_or(u64::MAX);
        state.unix_origin_us.saturating_add(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_near_the_wall_clock() {
        let clock = SystemClock::new();
        let a = clock.now();
        clock.sleep(Duration::from_millis(2));
        let b = clock.now();
        assert!(b >= a + Duration::from_millis(2));
        // Later than 2020-01-01, in microseconds.
        assert!(clock.unix_time_us() > 1_577_836_800_000_000);
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::new(10);
        let other = clock.clone();
        other.advance(Duration::from_micros(7));
        assert_eq!(clock.now(), Duration::from_micros(7));
        assert_eq!(clock.unix_time_us(), 17);
        assert!(clock.sleeps().is_empty());
    }
}
