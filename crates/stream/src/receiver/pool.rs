//! The decode workers' schedule: streams that have a frame waiting, shared
//! out fairly by what their frames cost to show.
//!
//! ```text
//!   connection tasks                        worker threads
//!   put(frame) ──▶ stream.pending ──┐       fast lane (workers):  cheap streams only
//!   (latest wins: a newer frame     │  ready: [s3, s1, s7] ──▶ the stream that has had
//!    replaces an unshown one,       └─▶ (each stream at         the least decode time
//!    counted as dropped)                 most once)            slow lane (as many again):
//!                                                              any stream, slow ones too
//! ```
//!
//! Fair by cost, not by frame: each stream's decode time is measured, and
//! a worker takes the ready stream that has had the least of it (a virtual
//! time per stream, as in start-time fair queuing: a stream that becomes
//! ready starts no further back than the streams being served, so it
//! cannot hoard credit while idle). A stream whose frames cost ten times
//! more gets no more time than another, and loses its *own* frames to its
//! latest-wins slot.
//!
//! Time-sharing alone cannot protect a cheap stream from one frame that
//! takes longer than the cheap stream's frame interval: a worker does not
//! stop half-way through a picture. So a stream whose next frame is
//! predicted to take longer than `slow_frame` (from its own measured cost
//! per pixel, or the pool's for a new stream, times the frame's pixels
//! from its header) is left to the slow lane: threads that take any
//! stream, beside fast-lane threads that never take a slow one. When both
//! kinds of thread share a core, the operating system's scheduler runs a
//! fast-lane thread as soon as its cheap frame arrives (it has slept, the
//! slow thread has not), and the slow decode simply takes a little longer.
//!
//! A stream is in the queue at most once and is worked on by at most one
//! worker at a time, so its frames are shown in order and its sinks' state
//! stays consistent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::state::{IDLE, QUEUED, RUNNING, StreamState, lock};
use crate::frame::{Frame, StreamId};

/// What the pool assumes a pixel costs before it has measured any frame:
/// 10 ns (a 400x400 frame 1.6 ms, a 3840x2160 one 83 ms), in picoseconds.
const INITIAL_PS_PER_PIXEL: u64 = 10_000;

/// How much of a new measurement enters a running cost estimate: 1/4.
const COST_WEIGHT_SHIFT: u32 = 2;

/// What the pool knows about one stream's cost (changed only under the
/// pool's lock, read anywhere).
#[derive(Debug, Default)]
pub(crate) struct Cost {
    /// Decode time this stream has had, in ns, moved forward to the pool's
    /// virtual time when it becomes ready after a pause.
    vtime: AtomicU64,
    /// The running estimate of its cost per pixel, in ps; 0 before the
    /// first measurement.
    ps_per_pixel: AtomicU64,
    /// The pixels of the frame waiting in its slot.
    pending_pixels: AtomicU64,
    /// Decode time spent on this stream, in ns, in all (for the stats).
    total_ns: AtomicU64,
    /// Frames that time was spent on.
    frames: AtomicU64,
}

impl Cost {
    /// The mean time spent per frame, in ms rounded to hundredths; 0
    /// before the first frame.
    pub(crate) fn mean_ms(&self) -> f64 {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames == 0 {
            return 0.0;
        }
        let ns = self.total_ns.load(Ordering::Relaxed) as f64 / frames as f64;
        (ns / 10_000.0).round() / 100.0
    }
}

#[derive(Debug)]
struct PoolState {
    ready: VecDeque<Arc<StreamState>>,
    closed: bool,
    /// Per worker: streams that ended since it last looked.
    ended: Vec<Vec<StreamId>>,
    /// The virtual time of the stream served last: where a stream that
    /// becomes ready starts at the earliest.
    vclock: u64,
    /// The pool's own running cost per pixel, in ps (for streams not yet
    /// measured).
    ps_per_pixel: u64,
    /// Workers of each lane waiting for work.
    idle_fast: usize,
    idle_slow: usize,
}

/// What a worker gets from [`Pool::next`].
pub(crate) enum Work {
    /// A stream's newest frame.
    Frame(Arc<StreamState>, Frame),
    /// A stream that has no frame left and whose session is over.
    End(Arc<StreamState>),
    /// Nothing (a stream scheduled whose frame another path took).
    Nothing(Arc<StreamState>),
    /// Streams ended: they are in the list passed to [`Pool::next`].
    Ended,
}

#[derive(Debug)]
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    fast_cv: Condvar,
    slow_cv: Condvar,
    /// Workers `0..fast` are the fast lane; the others (at least one) the
    /// slow lane.
    fast: usize,
    /// A frame predicted to take longer than this is left to the slow
    /// lane, in ns.
    slow_frame_ns: u64,
}

impl Pool {
    /// A pool of `fast` fast-lane and `slow` slow-lane workers for up to
    /// `streams` streams at once.
    pub(crate) fn new(fast: usize, slow: usize, streams: usize, slow_frame: Duration) -> Self {
        debug_assert!(slow > 0, "the slow lane drains what the fast lane leaves");
        Self {
            state: Mutex::new(PoolState {
                ready: VecDeque::with_capacity(streams + 1),
                closed: false,
                ended: (0..fast + slow)
                    .map(|_| Vec::with_capacity(streams))
                    .collect(),
                vclock: 0,
                ps_per_pixel: INITIAL_PS_PER_PIXEL,
                idle_fast: 0,
                idle_slow: 0,
            }),
            fast_cv: Condvar::new(),
            slow_cv: Condvar::new(),
            fast,
            slow_frame_ns: u64::try_from(slow_frame.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Whether worker `index` is of the slow lane.
    pub(crate) fn is_slow_lane(&self, index: usize) -> bool {
        index >= self.fast
    }

    /// Puts `frame` in `stream`'s slot; returns whether it replaced one no
    /// worker had taken (a drop).
    pub(crate) fn put(&self, stream: &Arc<StreamState>, frame: Frame) -> bool {
        let pixels = u64::from(frame.width()) * u64::from(frame.height());
        let old = {
            let mut pending = lock(&stream.pending);
            stream.cost.pending_pixels.store(pixels, Ordering::Relaxed);
            pending.replace(frame)
        };
        self.schedule(stream);
        old.is_some()
    }

    /// Makes sure a worker will look at `stream` (after a frame, or when
    /// its session ended).
    pub(crate) fn schedule(&self, stream: &Arc<StreamState>) {
        let mut st = lock(&self.state);
        if stream.sched.load(Ordering::Relaxed) == IDLE {
            // Back from a pause: no credit for the time it had nothing.
            let v = &stream.cost.vtime;
            v.store(v.load(Ordering::Relaxed).max(st.vclock), Ordering::Relaxed);
            self.enqueue(&mut st, stream);
        }
    }

    /// Queues `stream` and wakes a worker that may take it.
    fn enqueue(&self, st: &mut PoolState, stream: &Arc<StreamState>) {
        stream.sched.store(QUEUED, Ordering::Relaxed);
        st.ready.push_back(Arc::clone(stream));
        let slow = self.is_slow(st, stream);
        if !slow && st.idle_fast > 0 {
            self.fast_cv.notify_one();
        } else if st.idle_slow > 0 {
            self.slow_cv.notify_one();
        }
    }

    /// Whether `stream`'s waiting frame is predicted to take longer than
    /// the fast lane allows.
    fn is_slow(&self, st: &PoolState, stream: &StreamState) -> bool {
        let ps = match stream.cost.ps_per_pixel.load(Ordering::Relaxed) {
            0 => st.ps_per_pixel,
            ps => ps,
        };
        let pixels = stream.cost.pending_pixels.load(Ordering::Relaxed);
        pixels.saturating_mul(ps) / 1000 > self.slow_frame_ns
    }

    /// Waits for work for worker `index`; `None` once closed and drained.
    /// On [`Work::Ended`], `ended` (which must be empty) holds the streams
    /// that ended since the worker last looked; the caller empties it.
    pub(crate) fn next(&self, index: usize, ended: &mut Vec<StreamId>) -> Option<Work> {
        let fast_lane = index < self.fast;
        let mut st = lock(&self.state);
        loop {
            if let Some(mine) = st.ended.get_mut(index)
                && !mine.is_empty()
            {
                // The caller's list is empty; swapping keeps both lists'
                // capacity, so nothing is allocated.
                std::mem::swap(mine, ended);
                return Some(Work::Ended);
            }
            if let Some(stream) = self.pick(&mut st, fast_lane) {
                stream.sched.store(RUNNING, Ordering::Relaxed);
                st.vclock = st.vclock.max(stream.cost.vtime.load(Ordering::Relaxed));
                drop(st);
                let frame = {
                    let mut pending = lock(&stream.pending);
                    // Nothing waits now: an end to report costs nothing.
                    stream.cost.pending_pixels.store(0, Ordering::Relaxed);
                    pending.take()
                };
                return Some(match frame {
                    Some(frame) => Work::Frame(stream, frame),
                    None if !stream.is_connected() => Work::End(stream),
                    None => Work::Nothing(stream),
                });
            }
            // Closing: the fast lane leaves what it may not take to the
            // slow lane, which drains the rest.
            if st.closed && (st.ready.is_empty() || fast_lane) {
                return None;
            }
            let cv = if fast_lane {
                st.idle_fast += 1;
                &self.fast_cv
            } else {
                st.idle_slow += 1;
                &self.slow_cv
            };
            st = cv
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if fast_lane {
                st.idle_fast -= 1;
            } else {
                st.idle_slow -= 1;
            }
        }
    }

    /// Takes the ready stream this worker should serve: the one with the
    /// least decode time, among those its lane may take.
    fn pick(&self, st: &mut PoolState, fast_lane: bool) -> Option<Arc<StreamState>> {
        let mut best: Option<(usize, u64)> = None;
        for (i, stream) in st.ready.iter().enumerate() {
            if fast_lane && self.is_slow(st, stream) {
                continue;
            }
            let v = stream.cost.vtime.load(Ordering::Relaxed);
            if best.is_none_or(|(_, b)| v < b) {
                best = Some((i, v));
            }
        }
        best.and_then(|(i, _)| st.ready.remove(i))
    }

    /// A worker is done with `stream`, having spent `spent` showing a frame
    /// of `pixels` (or nothing); requeue it if another frame (or its end)
    /// is waiting.
    pub(crate) fn done(&self, stream: Arc<StreamState>, spent: Option<(Duration, u64)>) {
        let mut st = lock(&self.state);
        if let Some((time, pixels)) = spent {
            let ns = u64::try_from(time.as_nanos()).unwrap_or(u64::MAX);
            let cost = &stream.cost;
            cost.vtime.fetch_add(ns, Ordering::Relaxed);
            cost.total_ns.fetch_add(ns, Ordering::Relaxed);
            cost.frames.fetch_add(1, Ordering::Relaxed);
            if let Some(sample) = ns.saturating_mul(1000).checked_div(pixels) {
                st.ps_per_pixel = blend(st.ps_per_pixel, sample);
                let own = match cost.ps_per_pixel.load(Ordering::Relaxed) {
                    0 => sample,
                    old => blend(old, sample),
                };
                cost.ps_per_pixel.store(own.max(1), Ordering::Relaxed);
            }
        }
        let more = lock(&stream.pending).is_some()
            || (!stream.is_connected() && !stream.end_reported.load(Ordering::SeqCst));
        if more {
            self.enqueue(&mut st, &stream);
        } else {
            stream.sched.store(IDLE, Ordering::Relaxed);
        }
    }

    /// Tells every worker that `id` ended.
    pub(crate) fn announce_end(&self, id: StreamId) {
        let mut st = lock(&self.state);
        for list in &mut st.ended {
            list.push(id);
        }
        drop(st);
        self.fast_cv.notify_all();
        self.slow_cv.notify_all();
    }

    /// No more work will come: workers finish what is queued, then stop.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.fast_cv.notify_all();
        self.slow_cv.notify_all();
    }
}

/// A running estimate moved a quarter of the way towards `sample`.
fn blend(old: u64, sample: u64) -> u64 {
    if sample >= old {
        old + ((sample - old) >> COST_WEIGHT_SHIFT)
    } else {
        old - ((old - sample) >> COST_WEIGHT_SHIFT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(id: u32) -> Arc<StreamState> {
        Arc::new(StreamState::new(
            StreamId::new(id),
            format!("s{id}").into(),
            "127.0.0.1:1".parse().unwrap(),
        ))
    }

    /// `stream` with a frame of `pixels` waiting and a measured cost per
    /// pixel of `ps`.
    fn waiting(pool: &Pool, stream: &Arc<StreamState>, pixels: u64, ps: u64) {
        stream.cost.pending_pixels.store(pixels, Ordering::Relaxed);
        stream.cost.ps_per_pixel.store(ps, Ordering::Relaxed);
        pool.schedule(stream);
    }

    fn picked(pool: &Pool, fast_lane: bool) -> Option<StreamId> {
        let mut st = lock(&pool.state);
        pool.pick(&mut st, fast_lane).map(|s| s.id)
    }

    #[test]
    fn the_stream_that_had_the_least_time_goes_first() {
        let pool = Pool::new(1, 1, 4, Duration::from_millis(10));
        let (a, b) = (stream(1), stream(2));
        a.cost.vtime.store(5_000_000, Ordering::Relaxed);
        b.cost.vtime.store(1_000_000, Ordering::Relaxed);
        waiting(&pool, &a, 1000, 1000);
        waiting(&pool, &b, 1000, 1000);
        assert_eq!(picked(&pool, true), Some(StreamId::new(2)));
        assert_eq!(picked(&pool, true), Some(StreamId::new(1)));
        assert_eq!(picked(&pool, true), None);
    }

    #[test]
    fn only_the_slow_lane_takes_a_slow_frame() {
        let pool = Pool::new(1, 1, 4, Duration::from_millis(10));
        let (slow, cheap) = (stream(1), stream(2));
        // 3840x2160 at 20 ns a pixel: 166 ms. 400x400 at 10 ns: 1.6 ms.
        waiting(&pool, &slow, 3840 * 2160, 20_000);
        waiting(&pool, &cheap, 400 * 400, 10_000);
        cheap.cost.vtime.store(u64::MAX / 2, Ordering::Relaxed);
        assert_eq!(
            picked(&pool, true),
            Some(StreamId::new(2)),
            "the fast lane skips it"
        );
        assert_eq!(picked(&pool, true), None);
        assert_eq!(picked(&pool, false), Some(StreamId::new(1)));
    }

    #[test]
    fn a_new_stream_is_judged_by_the_pools_own_cost_per_pixel() {
        let pool = Pool::new(1, 1, 4, Duration::from_millis(10));
        let s = stream(1);
        // Unmeasured: 10 ns a pixel is assumed, so 4K is slow and a
        // 400x400 frame is not.
        waiting(&pool, &s, 3840 * 2160, 0);
        assert_eq!(picked(&pool, true), None);
        assert_eq!(picked(&pool, false), Some(StreamId::new(1)));
        s.sched.store(IDLE, Ordering::Relaxed);
        waiting(&pool, &s, 400 * 400, 0);
        assert_eq!(picked(&pool, true), Some(StreamId::new(1)));
    }

    #[test]
    fn a_stream_back_from_a_pause_has_no_credit_and_costs_are_learned() {
        let pool = Pool::new(1, 1, 4, Duration::from_millis(10));
        let (busy, back) = (stream(1), stream(2));
        waiting(&pool, &busy, 1000, 0);
        let Some(Work::Nothing(s)) = pool.next(0, &mut Vec::new()) else {
            panic!("the waiting stream")
        };
        // One 40 ms frame of 1000 pixels: 40 µs a pixel.
        pool.done(s, Some((Duration::from_millis(40), 1000)));
        assert_eq!(busy.cost.vtime.load(Ordering::Relaxed), 40_000_000);
        assert_eq!(busy.cost.mean_ms(), 40.0);
        assert_eq!(busy.cost.ps_per_pixel.load(Ordering::Relaxed), 40_000_000);
        waiting(&pool, &busy, 1000, 40_000_000);
        let Some(Work::Nothing(s)) = pool.next(1, &mut Vec::new()) else {
            panic!("the slow lane takes it")
        };
        // Its second turn starts the pool's virtual clock at 40 ms.
        pool.done(s, None);
        back.cost.vtime.store(0, Ordering::Relaxed);
        waiting(&pool, &back, 1000, 1000);
        assert_eq!(back.cost.vtime.load(Ordering::Relaxed), 40_000_000);
    }

    #[test]
    fn estimates_move_a_quarter_of_the_way() {
        assert_eq!(blend(100, 500), 200);
        assert_eq!(blend(500, 100), 400);
        assert_eq!(blend(7, 7), 7);
    }
}
