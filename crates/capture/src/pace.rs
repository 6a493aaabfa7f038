//! Pacing a source to a frame rate.
//!
//! Sources do not pace themselves (except a camera, whose driver delivers
//! frames at the rate it was opened with): they produce the next frame as
//! soon as asked. [`Paced`] wraps any source and sleeps, through an injected
//! [`Clock`], until each frame is due. Frame `n` is due at
//! `start + n * period`, computed from the start rather than from the
//! previous frame, so rounding and late wake-ups never accumulate into drift.
//! When the caller falls more than [`Pacer::max_lag`] periods behind (a
//! stalled network, a debugger), the pacer skips the missed slots instead of
//! bursting to catch up, and stays on the same grid.

use std::sync::Arc;
use std::time::Duration;

use crate::{CaptureError, Clock, Frame, FrameSource, SourceFormat};

/// How many whole periods late a frame may be before the pacer gives up on
/// the missed slots ([`Pacer::with_max_lag`] changes it).
pub const DEFAULT_MAX_LAG_PERIODS: u32 = 2;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The schedule of a paced stream: when each frame is due.
///
/// ```
/// use std::time::Duration;
/// use framecast_capture::{ManualClock, Pacer};
///
/// let clock = ManualClock::new(0);
/// let mut pacer = Pacer::new(25);
/// for _ in 0..3 {
///     pacer.wait(&clock);
/// }
/// // Frames 0, 1, 2 went out at 0, 40 and 80 ms.
/// assert_eq!(clock.sleeps(), [Duration::from_millis(40); 2]);
/// ```
#[derive(Debug, Clone)]
pub struct Pacer {
    /// Nanoseconds per `frames` frames; `None` means as fast as possible.
    rate: Option<(u128, u128)>,
    start: Option<Duration>,
    next: u64,
    max_lag: u32,
    skipped: u64,
}

impl Pacer {
    /// A pacer for `fps` frames per second; `0` means as fast as possible
    /// (no waiting at all).
    pub fn new(fps: u32) -> Self {
        let rate = (fps > 0).then_some((NANOS_PER_SEC, u128::from(fps)));
        Self::with_rate(rate)
    }

    /// A pacer with one frame every `period`; a zero period means as fast as
    /// possible.
    pub fn with_period(period: Duration) -> Self {
        let rate = (!period.is_zero()).then_some((period.as_nanos(), 1));
        Self::with_rate(rate)
    }

    fn with_rate(rate: Option<(u128, u128)>) -> Self {
        Self {
            rate,
            start: None,
            next: 0,
            max_lag: DEFAULT_MAX_LAG_PERIODS,
            skipped: 0,
        }
    }

    /// Sets how many whole periods late a frame may be before the missed
    /// slots are skipped.
    pub fn with_max_lag(mut self, periods: u32) -> Self {
        self.max_lag = periods;
        self
    }

    /// The lag, in periods, beyond which missed slots are skipped.
    pub fn max_lag(&self) -> u32 {
        self.max_lag
    }

    /// Whether this pacer waits at all.
    pub fn is_paced(&self) -> bool {
        self.rate.is_some()
    }

    /// The frames per second it paces to; `None` when it does not wait.
    pub fn fps(&self) -> Option<f64> {
        self.rate
            .map(|(nanos, frames)| frames as f64 * NANOS_PER_SEC as f64 / nanos as f64)
    }

    /// How many schedule slots were skipped so far because the caller fell
    /// too far behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Forgets the schedule: the next [`Pacer::wait`] starts a new one at
    /// that moment.
    pub fn reset(&mut self) {
        self.start = None;
        self.next = 0;
    }

    /// Offset of slot `n` from the start.
    fn due_offset(&self, n: u64, (nanos, frames): (u128, u128)) -> Duration {
        let ns = u128::from(n) * nanos / frames;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// Sleeps until the next frame is due, then returns. The first call
    /// returns at once and starts the schedule. Returns how many slots were
    /// skipped by this call (0 unless the caller fell far behind).
    pub fn wait(&mut self, clock: &dyn Clock) -> u64 {
        let Some(rate) = self.rate else {
            return 0;
        };
        let now = clock.now();
        let start = *self.start.get_or_insert(now);
        let due = start.saturating_add(self.due_offset(self.next, rate));
        let mut skipped = 0;
        if now < due {
            clock.sleep(due - now);
        } else {
            // Late: how many whole slots have already passed?
            let late = (now - due).as_nanos();
            let (nanos, frames) = rate;
            let behind = u64::try_from(late * frames / nanos).unwrap_or(u64::MAX);
            if behind > u64::from(self.max_lag) {
                // Drop the missed slots; this frame takes the latest one that
                // has passed, so the next stays on the original grid.
                skipped = behind;
                self.next = self.next.saturating_add(behind);
                self.skipped = self.skipped.saturating_add(behind);
            }
        }
        self.next = self.next.saturating_add(1);
        skipped
    }
}

/// A source paced to a frame rate by a [`Pacer`] and an injected [`Clock`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use framecast_capture::{Clock, Frame, FrameSource, ManualClock, Paced, PatternSource};
///
/// let clock = ManualClock::new(0);
/// let pattern = PatternSource::new(64, 48)?.with_clock(Arc::new(clock.clone()));
/// let mut paced = Paced::new(pattern, 10, Arc::new(clock.clone()));
/// let mut frame = Frame::default();
/// for _ in 0..3 {
///     paced.next_frame(&mut frame)?;
/// }
/// assert_eq!(frame.sequence, 2);
/// assert_eq!(clock.now(), Duration::from_millis(200));
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
#[derive(Debug)]
pub struct Paced<S> {
    inner: S,
    pacer: Pacer,
    clock: Arc<dyn Clock>,
}

impl<S: FrameSource> Paced<S> {
    /// Paces `inner` to `fps` frames per second (0: as fast as possible).
    pub fn new(inner: S, fps: u32, clock: Arc<dyn Clock>) -> Self {
        Self::with_pacer(inner, Pacer::new(fps), clock)
    }

    /// Paces `inner` with a configured [`Pacer`].
    pub fn with_pacer(inner: S, pacer: Pacer, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            pacer,
            clock,
        }
    }

    /// The schedule, for its statistics.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped source, writable.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the source.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: FrameSource> FrameSource for Paced<S> {
    fn format(&self) -> SourceFormat {
        let format = self.inner.format();
        match self.pacer.fps() {
            Some(fps) => format.with_paced_fps(Some(fps)),
            None => format,
        }
    }

    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        self.pacer.wait(&*self.clock);
        self.inner.next_frame(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn unpaced_never_sleeps() {
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::new(0);
        assert!(!pacer.is_paced());
        for _ in 0..100 {
            assert_eq!(pacer.wait(&clock), 0);
        }
        assert!(clock.sleeps().is_empty());
        assert_eq!(clock.now(), Duration::ZERO);
    }

    #[test]
    fn schedule_is_anchored_to_the_start_and_does_not_drift() {
        // 30 fps does not divide a second into whole nanoseconds: after 3000
        // frames the schedule must still be exactly 100 s from the start.
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::new(30);
        for n in 0..=3000u64 {
            pacer.wait(&clock);
            let due = Duration::from_nanos(n * 1_000_000_000 / 30);
            assert_eq!(clock.now(), due, "frame {n}");
            // Work that takes a varying time, always under one period.
            clock.advance(Duration::from_micros(n * 7919 % 30_000));
        }
        assert_eq!(
            clock.now() - Duration::from_micros(3000 * 7919 % 30_000),
            Duration::from_secs(100)
        );
        assert_eq!(pacer.skipped(), 0);
    }

    #[test]
    fn work_time_is_subtracted_from_the_sleep() {
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::new(10);
        pacer.wait(&clock);
        clock.advance(30 * MS);
        pacer.wait(&clock);
        assert_eq!(clock.sleeps(), [70 * MS]);
    }

    #[test]
    fn small_lag_is_caught_up_without_skipping() {
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::new(10);
        pacer.wait(&clock); // slot 0 at 0
        clock.advance(250 * MS); // slots 1 (100) and 2 (200) are late
        assert_eq!(pacer.wait(&clock), 0); // slot 1, immediately
        assert_eq!(pacer.wait(&clock), 0); // slot 2, immediately
        pacer.wait(&clock); // slot 3 at 300
        assert_eq!(clock.now(), 300 * MS);
        assert_eq!(clock.sleeps(), [50 * MS]);
    }

    #[test]
    fn far_behind_skips_ahead_on_the_same_grid() {
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::new(10).with_max_lag(2);
        pacer.wait(&clock); // slot 0 at 0
        clock.advance(1050 * MS); // slot 1 was due at 100: 9 slots behind
        assert_eq!(pacer.wait(&clock), 9); // takes slot 10 (1000 ms), now
        assert_eq!(pacer.skipped(), 9);
        pacer.wait(&clock); // slot 11 at 1100
        assert_eq!(clock.now(), 1100 * MS);
        assert_eq!(clock.sleeps(), [50 * MS]);
    }

    #[test]
    fn reset_starts_a_new_schedule() {
        let clock = ManualClock::new(0);
        let mut pacer = Pacer::with_period(10 * MS);
        pacer.wait(&clock);
        clock.advance(1000 * MS);
        pacer.reset();
        assert_eq!(pacer.wait(&clock), 0);
        pacer.wait(&clock);
        assert_eq!(clock.sleeps(), [10 * MS]);
    }
}
