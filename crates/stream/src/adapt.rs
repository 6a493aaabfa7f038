//! Rate control for a sender on a link of unknown, changing capacity, sans
//! I/O: fed what was sent and what the receiver says arrived, it chooses
//! the JPEG quality, the picture size and the frame rate of the next frames.
//!
//! ```text
//!  send stage ──Sent (bytes, when the write started)──────────▶ ┌────────────┐
//!  receiver ──Feedback (arrivals on its clock, drops, asks)──▶ │ Controller │──▶ Target
//!  send stage ──a frame replaced while waiting for the link──▶ └────────────┘  (quality,
//!                                                                 size, fps, rates)
//! ```
//!
//! The method is delay-based, after WebRTC's congestion control (GCC) and
//! BBR (docs/adaptive.md says why and cites both):
//!
//! - **queuing delay** of each frame's first byte: its one-way delay (the
//!   receiver's arrival time minus the sender's write time, an unknown but
//!   constant clock offset apart) less the smallest one seen over the last
//!   [`BASE_DELAY_WINDOW`]. A first byte that waits means the frames before
//!   it have not drained: the sender is going faster than the link.
//! - **delivery rate**: bytes the receiver got over the last
//!   [`DELIVERY_WINDOW`] of its clock. While the link is the bottleneck, it
//!   is the link's rate.
//! - a **target rate**: cut to a fraction of the delivery rate when the
//!   queue grows ([`Controller`] says how much), held while it drains, then
//!   raised again, fast while far below the last rate at which the queue
//!   grew and slowly near it (so it does not oscillate).
//! - the **ladder**: the target rate buys, in this order of sacrifice, JPEG
//!   quality down to the minimum, then a smaller picture, then fewer frames
//!   per second, from a model of how many bytes a frame takes at each
//!   quality and size that learns from every frame encoded. Going back up
//!   needs a margin of rate, so the choice does not flap at a boundary.
//!
//! Everything is driven by the times passed in: the same inputs give the
//! same [`Target`]s, which is how the tests run it against a simulated link.
//!
//! ```
//! use std::time::Duration;
//! use framecast_stream::adapt::{AdaptConfig, Controller, Sent};
//!
//! let mut c = Controller::new(AdaptConfig::new(400, 400, 30));
//! // At the start, nothing is known: the ceiling.
//! assert_eq!(c.target().quality, 95);
//! c.on_sent(Sent {
//!     sequence: 0,
//!     bytes: 51_000,
//!     quality: 95,
//!     // A 4:3 camera's picture, fitted inside the 400x400 box.
//!     width: 400,
//!     height: 300,
//!     source_width: 640,
//!     source_height: 480,
//!     started: Duration::ZERO,
//! });
//! assert_eq!(c.target().quality, 95);
//! ```
//!
//! The size steps are boxes the picture is fitted inside, as the sender
//! sizes every picture ([`framecast_codec::fit_within`] with
//! [`Fit::Contain`], the default): each step keeps the source's shape, and
//! the model of what a frame costs counts the picture's real area. With
//! [`Fit::Stretch`] each step is exactly the box, scaled.

use std::time::Duration;

use framecast_codec::{Fit, fit_within};
use framecast_proto::handshake::{Feedback, Settings};

/// The latency a sender that adapts aims to keep each frame within, from
/// capture to arrival, by default.
pub const DEFAULT_MAX_LATENCY: Duration = Duration::from_millis(150);

/// The lowest JPEG quality a sender that adapts goes down to before it
/// makes pictures smaller, by default.
pub const DEFAULT_MIN_QUALITY: u8 = 30;

/// The sizes a sender steps down to once quality is at its minimum, as
/// fractions of the configured width and height (the last is a quarter of
/// each side).
pub const SIZE_STEPS: [f64; 7] = [1.0, 0.8, 0.64, 0.5, 0.4, 0.32, 0.25];

/// The frame rates a sender steps down to once the picture is at its
/// smallest, as fractions of the configured rate.
pub const FPS_STEPS: [f64; 7] = [1.0, 0.8, 0.67, 0.5, 0.33, 0.2, 0.1];

/// How far back the smallest one-way delay is looked for: long enough to
/// have seen an empty queue, short enough to follow a change of route.
pub const BASE_DELAY_WINDOW: Duration = Duration::from_secs(10);

/// The span of the receiver's clock the delivery rate is measured over.
pub const DELIVERY_WINDOW: Duration = Duration::from_millis(500);

/// Frames remembered between being sent and being reported: at 30 fps, 8 s.
const SENT_RING: usize = 256;

/// Arrivals remembered for the delivery rate.
const ARRIVAL_RING: usize = 128;

/// The queuing delay below which the link is taken to be keeping up.
const QUEUE_CLEAR: Duration = Duration::from_millis(8);

/// How long the queuing delay must stay above its threshold before it
/// counts as the sender outrunning the link (one late frame, a scheduler
/// hiccup on a busy machine, is not).
const OVERUSE_TIME: Duration = Duration::from_millis(100);

/// How many recent frames' queuing delays the controller looks at: a queue
/// persists over them, a scheduling hiccup does not.
const QUEUE_SAMPLES: usize = 3;

/// Without feedback: frames replaced at the socket within a second that
/// make a cut.
const REPLACED_TO_CUT: u64 = 4;

/// How much later than the measured link makes it a frame's report may be
/// before the link is taken to have slowed (and the next frame waits).
const OVERDUE_MARGIN: Duration = Duration::from_millis(5);

/// With feedback: how long the next frame may be held back while the path
/// is full ([`Controller::may_start`]) before that makes a cut: a few
/// frames' time, as for a queue that persists.
const HELD_TO_CUT: Duration = Duration::from_millis(100);

/// After a cut, how long at least before the rate may rise again.
const HOLD_AFTER_CUT: Duration = Duration::from_millis(300);

/// The share of the delivery rate the target is cut to when the queue
/// grows (GCC's β); deeper when the queue is already long, so it drains.
const BACKOFF: f64 = 0.85;

/// Rate growth per second far from the last known capacity (and at the
/// start): ×1.25 a second, so 4 → 16 Mbit/s takes about 6 s.
const FAST_GROWTH: f64 = 1.25;

/// Rate growth per second below the last known capacity, approaching it.
const APPROACH_GROWTH: f64 = 1.12;

/// Rate growth per second near the last known capacity, as a fraction of
/// it: additive, as GCC does close to the point where the queue grew.
const NEAR_GROWTH: f64 = 0.03;

/// The margin of rate a step up the ladder needs over what it costs.
const UP_MARGIN: f64 = 1.12;

/// The share of the target rate the ladder plans frames for: the rest is
/// headroom for frames larger than the model says.
const PLAN_SHARE: f64 = 0.95;

/// What may be on its way beyond the path's own round trip and the queue
/// the controller tolerates, when a frame starts: a share of a frame, so
/// that the next frame's start overlaps the end of the last.
pub const PIPE_SLACK: usize = 16 * 1024;

/// A frame the receiver has not reported after this long no longer holds
/// the next one back (its report was lost, or the receiver stopped
/// reporting): the socket's own limits apply again.
pub const PIPE_REPORT_TIMEOUT: Duration = Duration::from_secs(1);

/// What a sender that adapts may use: its configured ceiling and floor.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AdaptConfig {
    /// The highest quality (the sender's configured one).
    pub max_quality: u8,
    /// The lowest quality before pictures get smaller.
    pub min_quality: u8,
    /// The largest picture (the sender's configured size).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// The most frames per second (the source's rate).
    pub fps: u32,
    /// The latency budget of a frame, from capture to arrival.
    pub max_latency: Duration,
    /// How a picture is sized to each step's box, as the sender sizes it:
    /// [`Fit::Contain`] keeps the source's shape at every step (the
    /// source's size is learnt from the frames sent, [`Sent`]),
    /// [`Fit::Stretch`] makes each picture exactly the box.
    pub fit: Fit,
}

impl AdaptConfig {
    /// Quality 95 down to [`DEFAULT_MIN_QUALITY`], pictures fitted inside
    /// `width` x `height` with their shape kept ([`Fit::Contain`], a
    /// sender's default), `fps` frames per second (0 is taken as 30),
    /// within [`DEFAULT_MAX_LATENCY`].
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            max_quality: framecast_codec::DEFAULT_QUALITY,
            min_quality: DEFAULT_MIN_QUALITY,
            width: width.max(1),
            height: height.max(1),
            fps: if fps == 0 { 30 } else { fps },
            max_latency: DEFAULT_MAX_LATENCY,
            fit: Fit::Contain,
        }
    }

    /// Sets how pictures are sized to each step's box (the sender's own
    /// [`Fit`]).
    pub fn with_fit(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }

    /// Sets the highest quality (1..=100).
    pub fn with_max_quality(mut self, quality: u8) -> Self {
        self.max_quality = quality.clamp(1, 100);
        self.min_quality = self.min_quality.min(self.max_quality);
        self
    }

    /// Sets the lowest quality (1..=100, at most the highest).
    pub fn with_min_quality(mut self, quality: u8) -> Self {
        self.min_quality = quality.clamp(1, 100).min(self.max_quality);
        self
    }

    /// Sets the latency budget.
    pub fn with_max_latency(mut self, latency: Duration) -> Self {
        self.max_latency = latency.max(Duration::from_millis(10));
        self
    }
}

/// What the next frames should be.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Target {
    /// JPEG quality.
    pub quality: u8,
    /// The box the picture is sized to (fitted inside it with its shape
    /// kept, or stretched to it, as [`AdaptConfig::fit`] says): this
    /// width ...
    pub width: u32,
    /// ... and this height.
    pub height: u32,
    /// Frames per second to send (the encode stage skips the others).
    pub fps: f64,
    /// The rate the controller plans for, in bits per second; 0 when it
    /// knows no limit (the link has kept up with the ceiling).
    pub rate_bps: u64,
    /// Its estimate of what the link delivers, in bits per second; 0 while
    /// it has none (no feedback yet, or the link has never been the
    /// bottleneck, so all it knows is that it carries at least what was
    /// sent).
    pub link_rate_bps: u64,
}

/// One frame the send stage wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sent {
    /// Its `Video.sequence`.
    pub sequence: u64,
    /// Its payload length (the `Video` message).
    pub bytes: usize,
    /// The quality it was encoded at (0 for a source's JPEG passed through).
    pub quality: u8,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// The width of the picture it was made from, as captured (0 when not
    /// known): the source's shape, which each step of the ladder keeps.
    pub source_width: u32,
    /// The height of the picture it was made from (0 when not known).
    pub source_height: u32,
    /// When its first byte was written, on the sender's clock (any fixed
    /// origin: the controller only compares these with each other).
    pub started: Duration,
}

#[derive(Debug, Clone, Copy, Default)]
struct SentRecord {
    sequence: u64,
    started_us: u64,
    bytes: u64,
    valid: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct ArrivalRecord {
    last_us: u64,
    bytes: u64,
}

/// The smallest value over a sliding window of time, in a fixed number of
/// slots (no allocation): each slot holds the minimum of its share of the
/// window.
#[derive(Debug, Clone)]
struct WindowedMin {
    slots: [(u64, i64); 10],
    slot_us: u64,
}

impl WindowedMin {
    fn new(window: Duration) -> Self {
        Self {
            slots: [(u64::MAX, i64::MAX); 10],
            slot_us: (window.as_micros() as u64 / 10).max(1),
        }
    }

    fn push(&mut self, now_us: u64, value: i64) {
        let index = now_us / self.slot_us;
        let slot = &mut self.slots[(index % 10) as usize];
        if slot.0 != index {
            *slot = (index, value);
        } else {
            slot.1 = slot.1.min(value);
        }
    }

    fn min(&self, now_us: u64) -> Option<i64> {
        let index = now_us / self.slot_us;
        self.slots
            .iter()
            .filter(|(i, _)| *i != u64::MAX && index.saturating_sub(*i) < 10)
            .map(|(_, v)| *v)
            .min()
    }
}

/// The bytes a frame takes, relative to quality 95 at the same size, for
/// natural pictures at qualities 5, 10, ..., 100 (libjpeg's tables, 4:2:0;
/// measured on the natural test frames at 400x400, see docs/adaptive.md).
const SIZE_CURVE: [f64; 20] = [
    0.0736, 0.1096, 0.1406, 0.1676, 0.1922, 0.2145, 0.2362, 0.2535, 0.2732, 0.2905, 0.3084, 0.3303,
    0.3572, 0.3904, 0.4282, 0.4882, 0.5692, 0.7087, 1.0, 1.919,
];

/// How a frame's bytes grow with its area: as area^0.8 (measured at
/// 400x400, 320x320, 200x200 and 100x100 on the same frames: a smaller
/// picture keeps more detail per pixel, and its headers weigh more).
const AREA_EXPONENT: f64 = 0.8;

/// [`SIZE_CURVE`] at any quality, interpolated.
fn curve(quality: u8) -> f64 {
    let q = f64::from(quality.clamp(1, 100));
    let pos = q / 5.0 - 1.0;
    if pos <= 0.0 {
        return SIZE_CURVE[0] * q / 5.0;
    }
    let i = (pos.floor() as usize).min(SIZE_CURVE.len() - 2);
    let frac = pos - i as f64;
    SIZE_CURVE[i] + (SIZE_CURVE[i + 1] - SIZE_CURVE[i]) * frac
}

/// The rung of the ladder in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rung {
    quality: u8,
    size: usize,
    fps: usize,
}

/// The rate controller. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Controller {
    config: AdaptConfig,
    /// The receiver's ceilings (its `Settings`), when it sent some.
    asked: Option<Settings>,
    /// Bytes of a frame at quality 95 and the first size step: the
    /// model's scale, learnt.
    bytes_at_95: f64,
    /// The source's size, as the frames sent say.
    source: Option<(u32, u32)>,
    model_samples: u64,
    sent: [SentRecord; SENT_RING],
    arrivals: [ArrivalRecord; ARRIVAL_RING],
    arrivals_next: usize,
    base: WindowedMin,
    /// The newest time passed in (sender's clock, µs).
    now_us: u64,
    /// The target rate, bits per second.
    rate: f64,
    /// When `rate` was last raised or cut.
    rate_at_us: u64,
    /// No rise before this time (after a cut).
    hold_until_us: u64,
    /// Since when the link has kept up: no cut, no queue showing.
    clear_since_us: u64,
    /// Since when the queuing delay has been over its threshold.
    over_since_us: Option<u64>,
    /// The newest queuing delay measured, µs.
    queue_us: u64,
    /// The last few queuing delays, newest at `queue_next - 1`: their
    /// smallest is the queue that persists (a scheduling hiccup on a busy
    /// machine delays one frame's read, not several in a row).
    queue_recent: [u64; QUEUE_SAMPLES],
    queue_next: usize,
    /// Whether the first frame's delay was seen: it is the base delay by
    /// definition, a queuing delay of zero that says nothing.
    base_seen: bool,
    /// Sequence numbers below this were sent before the last cut: their
    /// queuing delay says nothing new.
    cut_sequence: u64,
    /// The delivery rate at the cuts (bits/s), smoothed: the link's
    /// capacity as last seen (GCC's "link capacity estimate").
    capacity: Option<f64>,
    /// The newest delivery rate measured (bits/s).
    delivered: Option<f64>,
    /// Frames the send stage replaced because the link could not take them.
    socket_drops: u64,
    socket_drops_seen: u64,
    /// Replaced frames counted since `drops_since_us` (without feedback).
    drops_counted: u64,
    /// Since when [`Controller::may_start`] has held the next frame back
    /// (none since the last frame was sent: `None`).
    holding_since_us: Option<u64>,
    /// Since when held time is counted, and how much was counted (µs),
    /// not including the hold under way.
    held_window: (u64, u64),
    drops_since_us: u64,
    rung: Rung,
    feedback_seen: bool,
    /// The newest sequence the receiver reported (in this session).
    reported: Option<u64>,
    /// Whether the session's receiver reports arrivals.
    expect_reports: bool,
    /// Frames sent before this sequence belong to an earlier session:
    /// they will never be reported.
    session_start: u64,
    /// The smallest round trip seen: a frame's first byte out, its
    /// report back, less the time the frame took to arrive.
    rtt: WindowedMin,
}

impl Controller {
    /// A controller at the ceiling: the configured quality, size and rate,
    /// until the link says otherwise.
    pub fn new(config: AdaptConfig) -> Self {
        let bytes_at_95 = 0.42 * f64::from(config.width) * f64::from(config.height);
        let mut c = Self {
            config,
            asked: None,
            bytes_at_95,
            source: None,
            model_samples: 0,
            sent: [SentRecord::default(); SENT_RING],
            arrivals: [ArrivalRecord::default(); ARRIVAL_RING],
            arrivals_next: 0,
            base: WindowedMin::new(BASE_DELAY_WINDOW),
            now_us: 0,
            rate: 0.0,
            rate_at_us: 0,
            hold_until_us: 0,
            clear_since_us: 0,
            over_since_us: None,
            queue_us: 0,
            queue_recent: [0; QUEUE_SAMPLES],
            queue_next: 0,
            base_seen: false,
            cut_sequence: 0,
            capacity: None,
            delivered: None,
            socket_drops: 0,
            socket_drops_seen: 0,
            drops_counted: 0,
            drops_since_us: 0,
            holding_since_us: None,
            held_window: (0, 0),
            rung: Rung {
                quality: config.max_quality,
                size: 0,
                fps: 0,
            },
            feedback_seen: false,
            reported: None,
            expect_reports: false,
            session_start: 0,
            rtt: WindowedMin::new(BASE_DELAY_WINDOW),
        };
        // No limit known yet: the ceiling, whatever it costs.
        c.rate = f64::INFINITY;
        c
    }

    /// The configuration.
    pub fn config(&self) -> AdaptConfig {
        self.config
    }

    /// What the next frames should be.
    pub fn target(&self) -> Target {
        let (width, height) = self.box_of(self.rung.size);
        Target {
            quality: self.rung.quality,
            width,
            height,
            fps: self.fps_of(self.rung.fps),
            rate_bps: if self.rate.is_finite() {
                self.rate as u64
            } else {
                0
            },
            link_rate_bps: self.capacity.map_or(0, |c| c as u64),
        }
    }

    /// The newest queuing delay measured (zero before any feedback).
    pub fn queue_delay(&self) -> Duration {
        Duration::from_micros(self.queue_us)
    }

    /// Whether any feedback has arrived.
    pub fn has_feedback(&self) -> bool {
        self.feedback_seen
    }

    /// A new session opened (the first, or a reconnection): frames sent
    /// before it will never be reported, and the receiver's clock starts
    /// again. With `reports`, the receiver reports each frame's arrival
    /// (the framecast session's feedback): until the reports say what the
    /// path holds, one frame at a time is on its way ([`may_start`]), so
    /// that on a slow link the first frames do not queue behind each
    /// other before the first cut.
    ///
    /// [`may_start`]: Controller::may_start
    pub fn on_session(&mut self, reports: bool) {
        self.expect_reports = reports;
        self.session_start = self.next_sequence();
        self.reported = None;
        self.base = WindowedMin::new(BASE_DELAY_WINDOW);
        self.base_seen = false;
        self.queue_next = 0;
        self.queue_recent = [0; QUEUE_SAMPLES];
        self.over_since_us = None;
    }

    /// Whether a new frame may start at `now` (sender's clock): whether
    /// what is on its way, written but not yet reported by the receiver,
    /// is within what the path holds (the delivery rate over the round
    /// trip) plus the queue the controller tolerates and [`PIPE_SLACK`].
    ///
    /// The kernel's unsent limit keeps stale frames out of the socket;
    /// this keeps them out of the network: TCP's congestion window, grown
    /// while the link was fast, would otherwise let several frames into a
    /// router's queue at once when the link slows, and they would wait
    /// there (or be lost and sent again) for as long as it takes. Without
    /// feedback, or before a delivery rate is known, it says yes.
    ///
    /// A frame held back for a few frames' time counts as the sender
    /// outrunning the link, and makes a cut as a growing queue would (the
    /// hold keeps that queue from forming).
    pub fn may_start(&mut self, now: Duration) -> bool {
        let now = now.as_micros() as u64;
        self.advance(now);
        let may = self
            .unreported_allowance(now)
            .is_none_or(|(unreported, allowance)| unreported <= allowance);
        if may {
            self.end_hold(now);
        } else {
            self.holding_since_us.get_or_insert(now);
        }
        may
    }

    /// A hold ended at `now`: its time counts.
    fn end_hold(&mut self, now: u64) {
        if let Some(since) = self.holding_since_us.take() {
            self.held_window.1 += now.saturating_sub(since);
        }
    }

    /// Frames held back this window, in µs, the hold under way included.
    fn held_us(&self, now: u64) -> u64 {
        self.held_window.1 + self.holding_since_us.map_or(0, |s| now.saturating_sub(s))
    }

    /// The bytes written and not yet reported, and how many may be, when
    /// the feedback says enough to hold frames back.
    fn unreported_allowance(&self, now: u64) -> Option<(u64, u64)> {
        if !self.expect_reports && self.reported.is_none() {
            return None;
        }
        let known = self.delivered.zip(self.rtt.min(now));
        let allowance = match known {
            Some((rate, rtt)) => {
                let queue = self.queue_limit_us() as f64;
                rate / 8.0 * (rtt.max(0) as f64 + queue) / 1e6 + PIPE_SLACK as f64
            }
            // Not known yet: one frame at a time.
            None => PIPE_SLACK as f64,
        };
        let timeout = PIPE_REPORT_TIMEOUT.as_micros() as u64;
        let mut unreported = 0;
        let mut overdue = false;
        for r in self.sent.iter().filter(|r| {
            r.valid
                && r.sequence >= self.session_start
                && self.reported.is_none_or(|seen| r.sequence > seen)
        }) {
            let age = now.saturating_sub(r.started_us);
            if age > timeout {
                // Never reported: it holds nothing back.
                return None;
            }
            unreported += r.bytes;
            if let Some((rate, rtt)) = known {
                // Later than the link as last measured would make it: the
                // link has slowed, and what goes now would queue behind it.
                let expected = rtt.max(0) as f64 + r.bytes as f64 * 8e6 / rate.max(1.0);
                overdue |= age as f64 > expected + OVERDUE_MARGIN.as_micros() as f64;
            }
        }
        if overdue {
            return Some((unreported, 0));
        }
        Some((unreported, allowance as u64))
    }

    /// The send stage wrote a frame.
    pub fn on_sent(&mut self, sent: Sent) {
        let now = sent.started.as_micros() as u64;
        self.advance(now);
        if sent.source_width > 0 && sent.source_height > 0 {
            let source = (sent.source_width, sent.source_height);
            if self.source != Some(source) {
                // A new shape: the model's scale is the first step's
                // picture, which changed with it.
                let before = self.picture_area(0);
                self.source = Some(source);
                self.bytes_at_95 *= (self.picture_area(0) / before).powf(AREA_EXPONENT);
            }
        }
        self.end_hold(now);
        self.sent[(sent.sequence % SENT_RING as u64) as usize] = SentRecord {
            sequence: sent.sequence,
            started_us: now,
            bytes: sent.bytes as u64,
            valid: true,
        };
        self.learn(&sent);
    }

    /// The send stage replaced a frame with a newer one because the link
    /// could not take it in time: a sign of going faster than the link,
    /// and the only one there is without feedback.
    pub fn on_replaced(&mut self, now: Duration) {
        let now = now.as_micros() as u64;
        self.advance(now);
        self.socket_drops += 1;
    }

    /// The receiver's feedback arrived, at `now` on the sender's clock.
    pub fn on_feedback(&mut self, now: Duration, feedback: &Feedback) {
        let now = now.as_micros() as u64;
        self.advance(now);
        self.feedback_seen = true;
        if let Some(settings) = &feedback.settings {
            self.asked = Some(*settings);
        }
        let mut overuse = false;
        for arrival in &feedback.arrivals {
            self.record_arrival(arrival.last_byte_us, u64::from(arrival.bytes));
            let Some(sequence) = arrival.sequence else {
                continue;
            };
            let record = self.sent[(sequence % SENT_RING as u64) as usize];
            if !record.valid || record.sequence != sequence {
                continue;
            }
            // The one-way delay of the frame's first byte, up to the
            // unknown offset between the two clocks.
            let owd = arrival.first_byte_us as i64 - record.started_us as i64;
            if sequence >= self.session_start {
                self.reported = Some(self.reported.map_or(sequence, |r| r.max(sequence)));
                // Out, arrived, reported back: the round trip, less the
                // frame's own time on the link.
                let transfer = arrival.last_byte_us.saturating_sub(arrival.first_byte_us);
                let rtt = now
                    .saturating_sub(record.started_us)
                    .saturating_sub(transfer);
                self.rtt.push(now, rtt as i64);
            }
            self.base.push(now, owd);
            let base = self.base.min(now).unwrap_or(owd);
            self.queue_us = (owd - base).max(0) as u64;
            if !self.base_seen {
                // The very first frame defines the base: its zero must not
                // hide the queue the next ones show (on a slow link, the
                // first frames queue behind each other at once).
                self.base_seen = true;
                continue;
            }
            self.queue_recent[self.queue_next % QUEUE_SAMPLES] = self.queue_us;
            self.queue_next += 1;
            if sequence < self.cut_sequence {
                // Sent before the last cut: already acted on.
                continue;
            }
            overuse |= self.judge_queue(now);
        }
        self.delivered = self.delivery_rate();
        if overuse {
            self.cut(now);
        }
        self.replan();
    }

    /// Moves time on to `now` (sender's clock): raises the rate when the
    /// link keeps up, reacts to frames replaced at the socket, and
    /// re-plans. Call it before each frame.
    pub fn poll(&mut self, now: Duration) -> Target {
        let now = now.as_micros() as u64;
        self.advance(now);
        // Without feedback, frames that could not start are the sign of
        // outrunning the link. With it, the queuing delay says more,
        // sooner; and a frame replaced while the send stage was starved of
        // CPU (a busy machine) says nothing about the link.
        if self.socket_drops > self.socket_drops_seen && !self.feedback_seen {
            // Several in a second, not one: a send stage starved of CPU
            // for a moment replaces a frame too.
            if now.saturating_sub(self.drops_since_us) > 1_000_000 {
                self.drops_since_us = now;
                self.drops_counted = self.socket_drops_seen;
            }
            self.socket_drops_seen = self.socket_drops;
            if self.socket_drops - self.drops_counted >= REPLACED_TO_CUT
                && now >= self.hold_until_us
            {
                self.drops_counted = self.socket_drops;
                self.cut_without_feedback(now);
            }
        } else if self.held_us(now) >= HELD_TO_CUT.as_micros() as u64 && now >= self.hold_until_us {
            // The next frame has waited for the path to empty for several
            // frames' time: the sender outruns the link; cut as for a
            // queue (the hold keeps that queue from forming).
            self.socket_drops_seen = self.socket_drops;
            self.held_window = (now, 0);
            self.holding_since_us = self.holding_since_us.map(|_| now);
            self.delivered = self.delivery_rate();
            self.cut(now);
        } else {
            self.socket_drops_seen = self.socket_drops;
            if now.saturating_sub(self.held_window.0) > 1_000_000 {
                // Held time counts over a second: a moment now and then
                // is not the link.
                self.held_window = (now, 0);
                self.holding_since_us = self.holding_since_us.map(|_| now);
            }
            self.grow(now);
        }
        self.replan();
        self.target()
    }

    fn advance(&mut self, now: u64) {
        self.now_us = self.now_us.max(now);
    }

    /// The rate the ceiling needs: full quality, size and frame rate.
    fn ceiling_rate(&self) -> f64 {
        let (q, _, fps) = self.ceilings();
        self.frame_bytes(q, 0) * 8.0 * fps
    }

    /// The highest quality, the size step and the frame rate allowed, with
    /// the receiver's asks applied.
    fn ceilings(&self) -> (u8, usize, f64) {
        let mut q = self.config.max_quality;
        let mut size = 0;
        let mut fps = f64::from(self.config.fps);
        if let Some(a) = &self.asked {
            if a.max_quality > 0 {
                q = q.min(a.max_quality.min(100) as u8).max(1);
            }
            if a.max_width > 0 || a.max_height > 0 {
                let w = if a.max_width > 0 {
                    a.max_width
                } else {
                    u32::MAX
                };
                let h = if a.max_height > 0 {
                    a.max_height
                } else {
                    u32::MAX
                };
                while size + 1 < SIZE_STEPS.len() {
                    let (sw, sh) = self.picture_of(size);
                    if sw <= w && sh <= h {
                        break;
                    }
                    size += 1;
                }
            }
            if a.max_fps > 0 {
                fps = fps.min(f64::from(a.max_fps));
            }
        }
        (q, size, fps)
    }

    /// The box of size step `step`: the configured one scaled by
    /// [`SIZE_STEPS`], each side even.
    fn box_of(&self, step: usize) -> (u32, u32) {
        let s = SIZE_STEPS[step.min(SIZE_STEPS.len() - 1)];
        let even = |v: u32| ((f64::from(v) * s / 2.0).round() as u32 * 2).max(2);
        if step == 0 {
            (self.config.width, self.config.height)
        } else {
            (even(self.config.width), even(self.config.height))
        }
    }

    /// The picture sent at size step `step`: its box, or the source's
    /// shape fitted inside it, exactly as the sender sizes it
    /// ([`framecast_codec::SenderConfig::size_for`]).
    fn picture_of(&self, step: usize) -> (u32, u32) {
        let (w, h) = self.box_of(step);
        match (self.config.fit, self.source) {
            (Fit::Contain, Some((sw, sh))) => fit_within(sw, sh, w, h),
            _ => (w, h),
        }
    }

    fn picture_area(&self, step: usize) -> f64 {
        let (w, h) = self.picture_of(step);
        f64::from(w) * f64::from(h)
    }

    fn fps_of(&self, step: usize) -> f64 {
        let (_, _, fps) = self.ceilings();
        (fps * FPS_STEPS[step.min(FPS_STEPS.len() - 1)]).max(1.0)
    }

    /// The model: bytes of a frame at `quality` and size step `size`.
    fn frame_bytes(&self, quality: u8, size: usize) -> f64 {
        let area = self.picture_area(size) / self.picture_area(0);
        self.bytes_at_95 * curve(quality) / curve(95) * area.powf(AREA_EXPONENT)
    }

    /// Teaches the model the size of a frame just sent.
    fn learn(&mut self, sent: &Sent) {
        if sent.quality == 0 || sent.bytes == 0 {
            return;
        }
        let full = self.picture_area(0);
        let area = (f64::from(sent.width) * f64::from(sent.height) / full).clamp(0.001, 4.0);
        let at_95 =
            sent.bytes as f64 / (curve(sent.quality) / curve(95)) / area.powf(AREA_EXPONENT);
        // Quick at first, then smoothed over about ten frames.
        let alpha = if self.model_samples < 3 { 0.6 } else { 0.1 };
        self.bytes_at_95 += alpha * (at_95 - self.bytes_at_95);
        self.model_samples += 1;
    }

    fn record_arrival(&mut self, last_us: u64, bytes: u64) {
        self.arrivals[self.arrivals_next] = ArrivalRecord { last_us, bytes };
        self.arrivals_next = (self.arrivals_next + 1) % ARRIVAL_RING;
    }

    /// Bits per second the receiver got over the last [`DELIVERY_WINDOW`]
    /// of its clock.
    fn delivery_rate(&self) -> Option<f64> {
        let newest = self.arrivals.iter().map(|a| a.last_us).max()?;
        if newest == 0 {
            return None;
        }
        let window = DELIVERY_WINDOW.as_micros() as u64;
        let since = newest.saturating_sub(window);
        let mut bytes = 0;
        let mut oldest = newest;
        for a in self
            .arrivals
            .iter()
            .filter(|a| a.bytes > 0 && a.last_us > since)
        {
            bytes += a.bytes;
            oldest = oldest.min(a.last_us);
        }
        // Between the oldest and the newest arrival in the window, all but
        // the oldest frame's bytes were delivered.
        let span = newest - oldest;
        if span < window / 4 {
            return None;
        }
        let first = self
            .arrivals
            .iter()
            .find(|a| a.last_us == oldest)
            .map_or(0, |a| a.bytes);
        Some((bytes - first) as f64 * 8.0 * 1e6 / span as f64)
    }

    /// Bits per second written over the last second of the sender's clock:
    /// what the link took, when frames had to wait for it.
    fn sent_rate(&self) -> Option<f64> {
        let since = self.now_us.saturating_sub(1_000_000);
        let mut bytes = 0;
        let mut oldest = self.now_us;
        for r in self
            .sent
            .iter()
            .filter(|r| r.valid && r.started_us >= since)
        {
            bytes += r.bytes;
            oldest = oldest.min(r.started_us);
        }
        let span = self.now_us.saturating_sub(oldest).max(200_000);
        (bytes > 0).then(|| bytes as f64 * 8.0 * 1e6 / span as f64)
    }

    /// The queuing delay threshold: a share of the latency budget, at
    /// least 15 ms (below that, a busy machine's scheduling shows).
    fn queue_limit_us(&self) -> u64 {
        let budget = self.config.max_latency.as_micros() as u64;
        (budget / 6).clamp(15_000, 100_000)
    }

    /// The queuing delay that persisted over the last few frames.
    fn standing_queue_us(&self) -> u64 {
        // One frame's delay is no queue that persists (a hiccup delays
        // one): two at least.
        if self.queue_next < 2 {
            return 0;
        }
        let n = self.queue_next.min(QUEUE_SAMPLES);
        self.queue_recent[..n].iter().copied().min().unwrap_or(0)
    }

    /// Whether the queuing delay now says the sender outruns the link.
    fn judge_queue(&mut self, now: u64) -> bool {
        let limit = self.queue_limit_us();
        if self.standing_queue_us() <= limit {
            self.over_since_us = None;
            return false;
        }
        // Far over the budget, frame after frame: at once.
        if self.standing_queue_us() > (self.config.max_latency.as_micros() as u64) / 2 {
            return true;
        }
        let since = *self.over_since_us.get_or_insert(now);
        now.saturating_sub(since) >= OVERUSE_TIME.as_micros() as u64
    }

    /// The queue grows: down to a share of what the link delivers.
    fn cut(&mut self, now: u64) {
        let Some(delivered) = self.delivered else {
            // No rate measured yet: half what was sent.
            let sent = self.sent_rate().unwrap_or(self.ceiling_rate());
            self.set_cut(now, (sent * 0.5).min(self.rate));
            return;
        };
        // The longer the queue, the deeper the cut, so it drains within
        // about a second.
        let drain = 1.0 - self.queue_us as f64 / 1e6;
        let share = BACKOFF.min(drain).max(0.5);
        self.capacity = Some(match self.capacity {
            Some(c) if (delivered - c).abs() < c * 0.5 => c + 0.5 * (delivered - c),
            _ => delivered,
        });
        // The frames sent take less (or more) than the rate planned them
        // for, as the size model errs: aim what is sent, not the plan.
        let model = match self.sent_rate() {
            Some(sent) if self.rate.is_finite() && sent > 0.0 => (self.rate / sent).clamp(0.8, 1.5),
            _ => 1.0,
        };
        let rate = (delivered * share * model).min(self.rate);
        self.set_cut(now, rate);
    }

    /// Without feedback: frames that could not start.
    fn cut_without_feedback(&mut self, now: u64) {
        let sent = self.sent_rate().unwrap_or(self.ceiling_rate());
        self.set_cut(now, (sent * BACKOFF).min(self.rate * BACKOFF));
    }

    fn set_cut(&mut self, now: u64, rate: f64) {
        self.rate = rate.max(self.floor_rate());
        self.rate_at_us = now;
        self.hold_until_us = now + HOLD_AFTER_CUT.as_micros() as u64;
        self.clear_since_us = now;
        self.over_since_us = None;
        // Frames sent from now on are the ones that show whether the cut
        // was enough.
        self.cut_sequence = self.next_sequence();
    }

    /// The sequence after the newest frame sent (0 before any).
    fn next_sequence(&self) -> u64 {
        self.sent
            .iter()
            .filter(|r| r.valid)
            .map(|r| r.sequence)
            .max()
            .map_or(0, |s| s + 1)
    }

    /// The least the ladder can go down to.
    fn floor_rate(&self) -> f64 {
        let last = SIZE_STEPS.len() - 1;
        self.frame_bytes(self.config.min_quality, last)
            * 8.0
            * self.fps_of(FPS_STEPS.len() - 1)
            * 0.5
    }

    /// The link keeps up: raise the rate, fast far from the last capacity
    /// seen, slowly near it.
    fn grow(&mut self, now: u64) {
        let dt = now.saturating_sub(self.rate_at_us) as f64 / 1e6;
        self.rate_at_us = now;
        if now < self.hold_until_us || dt <= 0.0 {
            return;
        }
        let standing = self.standing_queue_us();
        if standing > QUEUE_CLEAR.as_micros() as u64 {
            // The queue has not drained yet: hold.
            return;
        }
        if !self.rate.is_finite() {
            return;
        }
        if standing > QUEUE_CLEAR.as_micros() as u64 / 2 {
            // A queue begins to show: this is about what the link carries.
            self.clear_since_us = now;
            return;
        }
        // What the frames sent take (the model of frame sizes is never
        // exact: what was written is), against what the link was seen to
        // carry: far below it (or nothing known), grow fast; approaching
        // it, more gently; around it, additively, probing.
        let planned = self.sent_rate().unwrap_or(self.rate * PLAN_SHARE);
        // Near the last capacity, the additive step grows the longer the
        // link has kept up (no cut, no queue): a link that recovered is
        // found within seconds, a steady one is probed gently.
        let clear_s = now.saturating_sub(self.clear_since_us) as f64 / 1e6;
        let boost = (1.0 + (clear_s - 2.0).max(0.0) / 1.5).min(5.0);
        self.rate = match self.capacity {
            Some(c) if planned > 0.9 * c && planned <= 1.2 * c => {
                self.rate + NEAR_GROWTH * boost * c * dt
            }
            Some(c) if planned <= 0.9 * c => self.rate * APPROACH_GROWTH.powf(dt),
            _ => self.rate * FAST_GROWTH.powf(dt),
        };
        if let Some(c) = self.capacity
            && (planned > 1.2 * c || self.delivered.is_some_and(|d| d > 1.1 * c))
        {
            // Past the last capacity with no queue: the link carries more
            // than it did at the last cut, and that capacity is out of
            // date.
            self.capacity = None;
        }
        if self.rate > 2.0 * self.ceiling_rate() {
            // Far above what the ceiling needs: no limit known any more.
            self.rate = f64::INFINITY;
        }
    }

    /// Chooses the rung for the target rate: the highest quality that fits
    /// at full size and rate; at the minimum quality, the largest size that
    /// fits; at the smallest size, the highest frame rate that fits. A frame
    /// must also cross the link within part of the latency budget.
    fn replan(&mut self) {
        let (max_q, min_size, _) = self.ceilings();
        let min_q = self.config.min_quality.min(max_q);
        let budget_s = self.config.max_latency.as_secs_f64();
        // What the link carries, as last seen while it was the bottleneck
        // (what it delivers otherwise is only what was sent), while that is
        // recent: after seconds with no queue the link may carry more, and
        // an old figure must not cap the frames that would show it.
        let recent = self.now_us.saturating_sub(self.clear_since_us) < 5_000_000;
        let link = self.capacity.filter(|_| recent);
        let fits = |c: &Self, q: u8, size: usize, fps: usize, margin: f64| -> bool {
            let bytes = c.frame_bytes(q, size) * margin;
            let rate_ok = bytes * 8.0 * c.fps_of(fps) <= c.rate * PLAN_SHARE;
            // One frame must cross the link in under half the budget.
            let time_ok = link.is_none_or(|l| bytes * 8.0 / l <= budget_s * 0.5);
            rate_ok && time_ok
        };
        let mut best = Rung {
            quality: min_q,
            size: SIZE_STEPS.len() - 1,
            fps: FPS_STEPS.len() - 1,
        };
        'search: for fps in 0..FPS_STEPS.len() {
            for size in min_size..SIZE_STEPS.len() {
                if !fits(self, min_q, size, fps, 1.0) {
                    continue;
                }
                let mut q = max_q;
                while q > min_q && !fits(self, q, size, fps, 1.0) {
                    q -= 1;
                }
                best = Rung {
                    quality: q,
                    size,
                    fps,
                };
                break 'search;
            }
        }
        let current = self.rung;
        let current_ok = current.size >= min_size
            && current.quality <= max_q
            && current.quality >= min_q
            && fits(self, current.quality, current.size, current.fps, 1.0);
        let better = (best.fps, best.size, std::cmp::Reverse(best.quality))
            < (
                current.fps,
                current.size,
                std::cmp::Reverse(current.quality),
            );
        self.rung = if !current_ok {
            // Down (or a new ceiling): at once.
            best
        } else if better {
            // Up: only with a margin. A larger picture or more frames per
            // second first, when the rate allows it with the margin; else
            // a higher quality where it is.
            let step = (best.fps < current.fps || best.size < current.size)
                && fits(self, min_q, best.size, best.fps, UP_MARGIN);
            if step {
                best
            } else {
                let mut q = max_q;
                while q > current.quality && !fits(self, q, current.size, current.fps, UP_MARGIN) {
                    q -= 1;
                }
                Rung {
                    quality: q,
                    ..current
                }
            }
        } else {
            current
        };
    }
}

#[cfg(test)]
mod tests;
