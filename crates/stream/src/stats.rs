//! Counters and latency percentiles.
//!
//! The engines keep one set of counters per stream behind a mutex that each
//! stage holds for a few instructions per frame; a [`ReceiverStats`] or
//! [`SenderStats`] snapshot copies them out. Turning snapshots into lines
//! for people is the application's business (the `framecast` binary's
//! stats line).

use std::time::Duration;

use serde::Serialize;

use crate::frame::StreamId;

/// How many recent latency samples each stream keeps for the live p50/p99.
pub const RECENT_LATENCY_SAMPLES: usize = 128;

/// Latency values the whole-run histogram resolves exactly (µs); above this
/// each power of two is split into [`SUB_BUCKETS`] buckets (≈3 % error).
const LINEAR_LIMIT: u64 = 64;
/// Buckets per power of two above [`LINEAR_LIMIT`].
const SUB_BUCKETS: u64 = 32;
/// The largest power of two the histogram tracks (2^40 µs ≈ 12.7 days);
/// larger values land in the last bucket.
const MAX_EXPONENT: u64 = 40;
const BUCKETS: usize = (LINEAR_LIMIT + (MAX_EXPONENT - 5) * SUB_BUCKETS) as usize;

/// A fixed-size log-linear histogram of latencies in microseconds: the
/// whole run's latencies of a receiver's streams
/// ([`ReceiverHandle::stats_with_latency`](crate::ReceiverHandle::stats_with_latency)),
/// for percentiles and for a metrics endpoint's histogram.
///
/// Recording never allocates; the value reported for a bucket is its
/// midpoint, so percentiles are within about 3 % of the truth.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    /// The exact sum of every sample (µs), for Prometheus' `_sum`.
    sum: u64,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (its buckets are allocated once, here).
    pub fn new() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            sum: 0,
            max: 0,
        }
    }

    fn bucket(v: u64) -> usize {
        if v < LINEAR_LIMIT {
            return v as usize;
        }
        let exp = (63 - v.leading_zeros() as u64).min(MAX_EXPONENT);
        let v = v.min((1 << (MAX_EXPONENT + 1)) - 1);
        let mantissa = (v >> (exp - 5)) & (SUB_BUCKETS - 1);
        (LINEAR_LIMIT + (exp - 6) * SUB_BUCKETS + mantissa) as usize
    }

    /// The smallest value bucket `index` holds, and how many values it
    /// holds (one each below [`LINEAR_LIMIT`]).
    fn bucket_range(index: usize) -> (u64, u64) {
        let i = index as u64;
        if i < LINEAR_LIMIT {
            return (i, 1);
        }
        let exp = (i - LINEAR_LIMIT) / SUB_BUCKETS + 6;
        let mantissa = (i - LINEAR_LIMIT) % SUB_BUCKETS;
        let width = 1u64 << (exp - 5);
        ((SUB_BUCKETS + mantissa) * width, width)
    }

    fn bucket_mid(index: usize) -> u64 {
        let (low, width) = Self::bucket_range(index);
        low + width / 2
    }

    /// Records one latency, in µs; never allocates.
    pub fn record(&mut self, us: u64) {
        self.counts[Self::bucket(us)] += 1;
        self.total += 1;
        self.sum = self.sum.saturating_add(us);
        self.max = self.max.max(us);
    }

    /// The value at quantile `q` (0..=1), in µs; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // The last bucket also holds everything beyond the range.
                if i == BUCKETS - 1 {
                    return Some(self.max);
                }
                return Some(Self::bucket_mid(i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The samples recorded since `earlier`, a copy of this histogram taken
    /// before (bucket by bucket). The largest is known to within its
    /// bucket (about 3 %) unless it is the largest ever.
    pub(crate) fn since(&self, earlier: &Self) -> Self {
        let mut d = Self::new();
        let mut top = None;
        for (i, (a, b)) in self.counts.iter().zip(earlier.counts.iter()).enumerate() {
            let n = a.saturating_sub(*b);
            d.counts[i] = n;
            d.total += n;
            if n > 0 {
                top = Some(i);
            }
        }
        d.sum = self.sum.saturating_sub(earlier.sum);
        d.max = match top {
            Some(i) if i == BUCKETS - 1 => self.max,
            Some(i) => Self::bucket_upper(i).min(self.max),
            None => 0,
        };
        d
    }

    /// Adds every sample of `other` to this one.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The sum of every sample, in µs.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The upper bound (µs) and cumulative count of every non-empty bucket,
    /// in increasing order: what a Prometheus histogram needs.
    pub fn cumulative(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut seen = 0;
        self.counts.iter().enumerate().filter_map(move |(i, &c)| {
            seen += c;
            (c > 0).then(|| (Self::bucket_upper(i), seen))
        })
    }

    fn bucket_upper(index: usize) -> u64 {
        let (low, width) = Self::bucket_range(index);
        low + width - 1
    }

    /// The median, 99th percentile and maximum, in milliseconds; `None`
    /// when empty.
    pub fn summary(&self) -> Option<LatencySummary> {
        Some(LatencySummary {
            p50: us_to_ms(self.quantile(0.50)?),
            p99: us_to_ms(self.quantile(0.99)?),
            max: us_to_ms(self.max),
        })
    }
}

/// The last [`RECENT_LATENCY_SAMPLES`] latencies, for the live stats line.
#[derive(Debug, Clone)]
pub(crate) struct RecentLatency {
    samples: [u64; RECENT_LATENCY_SAMPLES],
    next: usize,
    len: usize,
}

impl RecentLatency {
    pub(crate) fn new() -> Self {
        Self {
            samples: [0; RECENT_LATENCY_SAMPLES],
            next: 0,
            len: 0,
        }
    }

    pub(crate) fn record(&mut self, us: u64) {
        self.samples[self.next] = us;
        self.next = (self.next + 1) % RECENT_LATENCY_SAMPLES;
        self.len = (self.len + 1).min(RECENT_LATENCY_SAMPLES);
    }

    /// Percentiles of the recent samples (sorts a copy: call it once a
    /// second, not per frame).
    pub(crate) fn summary(&self) -> Option<LatencySummary> {
        if self.len == 0 {
            return None;
        }
        let mut s = self.samples;
        let s = &mut s[..self.len];
        s.sort_unstable();
        let at = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        Some(LatencySummary {
            p50: us_to_ms(at(0.50)),
            p99: us_to_ms(at(0.99)),
            max: us_to_ms(s[s.len() - 1]),
        })
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

/// One receiving stream (one sender session), as a snapshot.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StreamStats {
    /// The stream's number, from 1, in the order streams were opened;
    /// never reused while the receiver runs.
    pub id: StreamId,
    /// The stream's name: the one its sender gave, else the peer address.
    /// (The JSON key `label`, which repeated it, is gone: read `name`.)
    pub name: String,
    /// The sender's address.
    pub peer: String,
    /// Whether the session is still open.
    pub connected: bool,
    /// Frames handed to the sinks (shown).
    pub frames: u64,
    /// Frames read off the wire, valid or not.
    pub received: u64,
    /// Frames replaced by a newer one before a worker got to them.
    pub dropped: u64,
    /// Frames that were not a valid message or picture.
    pub corrupt: u64,
    /// Frames whose capture time was too far in the future or too old to
    /// trust: left out of the latency figures.
    pub clock_skew: u64,
    /// Payload bytes read off the wire (without length prefixes).
    pub bytes: u64,
    /// Seconds the stream has been (or was) connected.
    pub seconds: f64,
    /// Frames shown per second of connected time.
    pub fps: f64,
    /// CPU time a worker spent on each frame of this stream it took
    /// (decoding, scaling, showing), in milliseconds, on average: what the
    /// stream costs the receiver. The workers share their time out by it.
    pub cost_ms: f64,
    /// Capture-to-shown latency over the whole stream; `None` when no frame
    /// carried a usable capture time.
    pub latency_ms: Option<LatencySummary>,
    /// The same over the most recent frames only.
    pub recent_latency_ms: Option<LatencySummary>,
    /// The JPEG quality of the newest frame, as its sender said (a sender
    /// that adapts to its link changes it as it goes); `None` when it did
    /// not say.
    pub quality: Option<u8>,
    /// The newest frame's width (0 before the first).
    pub width: u32,
    /// The newest frame's height (0 before the first).
    pub height: u32,
    /// The sender's estimate of what the link carries, kbit/s, when it has
    /// one.
    pub link_rate_kbps: Option<u64>,
    /// Whether this receiver sends the sender feedback (the sender asked
    /// for it: it adapts to its link).
    pub feedback: bool,
    /// The whole-stream latency histogram, for [`IntervalMeter`].
    #[serde(skip)]
    pub(crate) latency_histogram: Option<std::sync::Arc<LatencyHistogram>>,
}

/// One stream over one interval (normally a second): what
/// [`IntervalMeter`] reports, and what `recv --stats-jsonl` writes.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct StreamInterval {
    /// The stream's number.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Frames shown during the interval.
    pub frames: u64,
    /// Frames read off the wire during the interval.
    pub received: u64,
    /// Frames dropped (replaced before a worker took them) during it.
    pub dropped: u64,
    /// Corrupt frames during it.
    pub corrupt: u64,
    /// Payload bytes read during it.
    pub bytes: u64,
    /// Frames shown per second.
    pub fps: f64,
    /// Payload kbit/s read.
    pub kbps: f64,
    /// JPEG quality of the newest frame, when its sender said.
    pub quality: Option<u8>,
    /// Size of the newest frame.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// The sender's estimate of the link's rate, kbit/s, when it has one.
    pub link_rate_kbps: Option<u64>,
    /// Capture-to-shown latency of the frames shown during the interval
    /// (the largest to within about 3 %); `None` when none was shown.
    pub latency_ms: Option<LatencySummary>,
}

/// Every stream over one interval.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct IntervalStats {
    /// Seconds since the receiver started, at the end of the interval.
    pub seconds: f64,
    /// The interval's length, seconds.
    pub interval: f64,
    /// Each stream connected during the interval.
    pub per_stream: Vec<StreamInterval>,
}

/// What one stream had at the previous snapshot.
#[derive(Debug, Clone)]
struct IntervalMark {
    id: u32,
    frames: u64,
    received: u64,
    dropped: u64,
    corrupt: u64,
    bytes: u64,
    latency: Option<std::sync::Arc<LatencyHistogram>>,
}

/// Turns successive [`ReceiverStats`] snapshots into what happened between
/// them, per stream: the per-second report of `recv --stats-jsonl`.
///
/// ```
/// use framecast_stream::IntervalMeter;
/// # fn stats() -> framecast_stream::ReceiverStats { unimplemented!() }
/// let mut meter = IntervalMeter::new();
/// # if false {
/// let second = meter.next(&stats());
/// println!("{}", serde_json::to_string(&second)?);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct IntervalMeter {
    last: Option<(f64, Vec<IntervalMark>)>,
}

impl IntervalMeter {
    /// A meter with no history: its first interval starts when the
    /// receiver did.
    pub fn new() -> Self {
        Self::default()
    }

    /// What happened since the previous call, per stream that was
    /// connected at either end of the interval or showed a frame in it.
    pub fn next(&mut self, s: &ReceiverStats) -> IntervalStats {
        let (t0, prev) = self.last.take().unwrap_or((0.0, Vec::new()));
        let interval = (s.seconds - t0).max(0.0);
        let mut per_stream = Vec::new();
        let mut marks = Vec::with_capacity(s.per_stream.len());
        for st in &s.per_stream {
            let before = prev.iter().find(|m| m.id == u32::from(st.id));
            let d = |now: u64, f: fn(&IntervalMark) -> u64| now - before.map_or(0, f).min(now);
            let frames = d(st.frames, |m| m.frames);
            let received = d(st.received, |m| m.received);
            let bytes = d(st.bytes, |m| m.bytes);
            let latency = match (
                &st.latency_histogram,
                before.and_then(|m| m.latency.as_ref()),
            ) {
                (Some(now), Some(then)) => now.since(then).summary(),
                (Some(now), None) => now.summary(),
                _ => None,
            };
            marks.push(IntervalMark {
                id: st.id.into(),
                frames: st.frames,
                received: st.received,
                dropped: st.dropped,
                corrupt: st.corrupt,
                bytes: st.bytes,
                latency: st.latency_histogram.clone(),
            });
            if !(st.connected || before.is_some_and(|m| m.received < st.received)) {
                continue;
            }
            let per = |n: f64| if interval > 0.0 { n / interval } else { 0.0 };
            per_stream.push(StreamInterval {
                id: st.id.into(),
                name: st.name.clone(),
                frames,
                received,
                dropped: d(st.dropped, |m| m.dropped),
                corrupt: d(st.corrupt, |m| m.corrupt),
                bytes,
                fps: (per(frames as f64) * 100.0).round() / 100.0,
                kbps: (per(bytes as f64 * 8.0 / 1000.0) * 10.0).round() / 10.0,
                quality: st.quality,
                width: st.width,
                height: st.height,
                link_rate_kbps: st.link_rate_kbps,
                latency_ms: latency,
            });
        }
        self.last = Some((s.seconds, marks));
        IntervalStats {
            seconds: s.seconds,
            interval: (interval * 1000.0).round() / 1000.0,
            per_stream,
        }
    }
}

/// Connections closed because a timeout passed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TimeoutCounts {
    /// No complete handshake within the handshake timeout.
    pub handshake: u64,
    /// No complete frame within the idle timeout.
    pub idle: u64,
    /// A frame started and not finished within the trickle timeout.
    pub trickle: u64,
}

/// A receiver's totals, as a snapshot. Serialised, this is what
/// `--stats-json` writes.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Frames shown (handed to the sinks), over all streams.
    pub frames: u64,
    /// Frames read off the wire, over all streams.
    pub received: u64,
    /// Frames replaced by newer ones before being shown.
    pub dropped: u64,
    /// Frames that were not a valid message or picture.
    pub corrupt: u64,
    /// Frames left out of the latency figures because their capture time
    /// could not be trusted.
    pub clock_skew: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Seconds since the receiver started.
    pub seconds: f64,
    /// Seconds during which at least one stream was connected.
    pub connected_seconds: f64,
    /// Frames shown per second of connected time.
    pub fps: f64,
    /// Capture-to-shown latency over every stream; `None` when no frame
    /// carried a usable capture time.
    pub latency_ms: Option<LatencySummary>,
    /// Sessions accepted since the start.
    pub streams: u64,
    /// Sessions open now.
    pub active_streams: u64,
    /// Connections refused: too many senders or too many connections, a
    /// wrong version, or the receiver stopping.
    pub refused: u64,
    /// TCP connections accepted since the start (sessions or not).
    pub connections: u64,
    /// Connections whose handshake failed (not a framecast peer, a bad
    /// hello, TLS on one side only, a failed TLS handshake).
    pub handshake_failures: u64,
    /// Sessions refused for a missing or wrong token (also in `refused`).
    pub unauthenticated: u64,
    /// Connections closed by a timeout.
    pub timeouts: TimeoutCounts,
    /// Each open stream, then the most recently ended ones (at most the
    /// receiver's `max_ended_streams`), oldest first.
    pub per_stream: Vec<StreamStats>,
}

/// A sender's totals, as a snapshot.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct SenderStats {
    /// Frames taken from the source.
    pub captured: u64,
    /// Frames written to the receiver.
    pub sent: u64,
    /// Frames a live source produced faster than they could be sent, dropped
    /// (latest wins), with `replaced` and frames gone stale while the
    /// connection was down.
    pub dropped: u64,
    /// Frames that could not start because the link was still busy with
    /// earlier ones, replaced by a newer frame (latest wins at the socket;
    /// also counted in `dropped`).
    pub replaced: u64,
    /// Frames the rate control left out to send fewer per second (not in
    /// `dropped`: they were never meant to go).
    pub skipped: u64,
    /// Whether the receiver of the current (or last) session sends feedback.
    pub feedback: bool,
    /// What the rate control has chosen; `None` when it is off.
    pub adapt: Option<AdaptStats>,
    /// Frames forwarded as the source's own JPEG, without re-encoding.
    pub passthrough: u64,
    /// Message bytes sent (without length prefixes).
    pub bytes: u64,
    /// Sessions the receiver accepted (with the legacy framing:
    /// connections made).
    pub sessions: u64,
    /// Connections made after the first.
    pub reconnects: u64,
    /// Session attempts the receiver refused (busy, wrong version, ...).
    pub refused: u64,
    /// Whether the source ended (a file that does not loop reached its
    /// end) rather than the sender being stopped.
    pub source_ended: bool,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Seconds since the sender started.
    pub seconds: f64,
    /// Frames sent per second over the whole run.
    pub fps: f64,
}

/// What a sender's rate control chose, as a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AdaptStats {
    /// The JPEG quality of the frames being encoded.
    pub quality: u8,
    /// The size they fit inside.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Frames per second being sent, at most.
    pub fps: f64,
    /// The rate planned for, kbit/s.
    pub rate_kbps: u64,
    /// The estimate of what the link carries, kbit/s; 0 while there is
    /// none (the link has not yet been the bottleneck).
    pub link_rate_kbps: u64,
    /// The newest queuing delay measured from the receiver's feedback, ms.
    pub queue_delay_ms: f64,
}

/// Seconds as `f64`, rounded to milliseconds for readable JSON.
pub(crate) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_are_close() {
        let mut h = LatencyHistogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 10);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.035, "{p50}");
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.035, "{p99}");
        assert_eq!(h.summary().unwrap().max, 100.0);
    }

    #[test]
    fn histogram_small_and_huge_values() {
        let mut h = LatencyHistogram::new();
        assert!(h.summary().is_none());
        h.record(0);
        h.record(7);
        assert_eq!(h.quantile(0.5), Some(0));
        assert_eq!(h.quantile(1.0), Some(7));
        h.record(u64::MAX);
        assert_eq!(h.quantile(1.0), Some(u64::MAX));
    }

    #[test]
    fn merged_histograms_and_bucket_bounds() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(10);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.quantile(1.0), Some(1_000_000));
        let cum: Vec<_> = a.cumulative().collect();
        assert_eq!(cum.len(), 2);
        assert_eq!(cum[0], (10, 1));
        assert!(cum[1].0 >= 1_000_000 && cum[1].1 == 2, "{cum:?}");
        for i in 0..BUCKETS - 1 {
            let upper = LatencyHistogram::bucket_upper(i);
            assert_eq!(LatencyHistogram::bucket(upper), i, "bucket {i}");
            assert_eq!(LatencyHistogram::bucket(upper + 1), i + 1, "bucket {i}");
        }
    }

    #[test]
    fn every_bucket_midpoint_maps_back_to_its_bucket() {
        for i in 0..BUCKETS {
            assert_eq!(LatencyHistogram::bucket(LatencyHistogram::bucket_mid(i)), i);
        }
    }

    #[test]
    fn recent_latency_keeps_only_the_newest() {
        let mut r = RecentLatency::new();
        assert!(r.summary().is_none());
        for _ in 0..RECENT_LATENCY_SAMPLES {
            r.record(1_000_000);
        }
        for _ in 0..RECENT_LATENCY_SAMPLES {
            r.record(2_000);
        }
        let s = r.summary().unwrap();
        assert_eq!((s.p50, s.p99, s.max), (2.0, 2.0, 2.0));
    }

    #[test]
    fn stats_json_has_the_contract_keys() {
        let s = ReceiverStats {
            frames: 1,
            received: 2,
            dropped: 0,
            corrupt: 1,
            clock_skew: 0,
            bytes: 10,
            seconds: 1.5,
            connected_seconds: 1.0,
            fps: 1.0,
            latency_ms: None,
            streams: 1,
            active_streams: 0,
            refused: 0,
            connections: 1,
            handshake_failures: 0,
            unauthenticated: 0,
            timeouts: TimeoutCounts::default(),
            per_stream: vec![],
        };
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "frames",
            "received",
            "dropped",
            "corrupt",
            "bytes",
            "seconds",
            "fps",
            "latency_ms",
            "streams",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v["latency_ms"].is_null());
    }
}
