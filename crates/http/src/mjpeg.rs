//! The MJPEG response body: one viewer's view of one stream, in the
//! original bytes, at a fixed tier, or moved along the tier ladder
//! (`?quality=auto`).
//!
//! ```text
//! --B␍␊ Content-Type: image/jpeg␍␊ Content-Length: N␍␊ X-Timestamp: 1765012345.678901␍␊
//!       X-Sequence: 42␍␊ X-Tier: original␍␊ ␍␊ <JPEG, N bytes> ␍␊--B␍␊ Content-Type: ...
//! └──────────── header (per-viewer buffer) ───────────────────────┘ └ shared ┘ └static┘
//! ```
//!
//! Each part says when its picture was captured (`X-Timestamp`, seconds
//! since the epoch with microseconds, as ustreamer sends it), the frame's
//! sequence number (`X-Sequence`, the sender's counter: a gap is frames
//! this viewer skipped) and the tier it was encoded at (`X-Tier`:
//! `original`, or `w320 q70`). The boundary follows each JPEG at once (as
//! mjpg-streamer does), so a browser shows a frame as soon as it has
//! arrived rather than when the next one starts.
//!
//! The body takes the newest picture only once the previous part has left:
//! hyper has flushed its whole queue into the socket, where at most the
//! connection's unsent allowance waits for the network (see `meter`). So a
//! viewer that cannot keep up skips frames instead of queueing them, and the
//! picture it gets next is the newest when its link can take it. For an
//! `auto` viewer, how long each part took to leave is what moves it along
//! the ladder ([`AutoTier`]).
//!
//! A viewer of a stream by name follows the name: when the sender
//! reconnects (a new stream number), the response goes on with the new
//! stream's frames, for clients that do not reconnect by themselves.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use framecast_stream::{Frame, StreamHandle, StreamId};
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::Stream;
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::meter::Meter;
use super::tier::{AUTO_START_RUNG, Ask, AutoTier, Tier, rung_tier};
use super::transcode::{TierFrame, TierLease};
use super::{State, lock, millis_since};

/// The boundary, as a literal (for `concat!`).
macro_rules! boundary {
    () => {
        "framecast-mjpeg-part-boundary"
    };
}
pub(crate) use boundary;

/// What follows every JPEG: the delimiter that ends its part and opens the
/// next.
const DELIMITER: &[u8] = concat!("\r\n--", boundary!(), "\r\n").as_bytes();

/// What opens the response.
const OPENING: &str = concat!("--", boundary!(), "\r\n");

/// Room for the longest part header (the opening, five headers, three
/// 20-digit numbers, the longest tier name).
const HEADER_ROOM: usize = 256;

/// The frame interval assumed until two pictures have shown the stream's.
const FIRST_INTERVAL: Duration = Duration::from_millis(33);

/// One picture as a part carries it.
#[derive(Debug, Clone)]
pub(crate) struct Picture {
    pub(crate) jpeg: Bytes,
    pub(crate) sequence: u64,
    /// `X-Timestamp`, µs since the epoch.
    pub(crate) captured_us: u64,
    /// `None`: the stream's own bytes.
    pub(crate) tier: Option<Tier>,
}

impl Picture {
    pub(crate) fn original(frame: &Frame) -> Self {
        Self {
            jpeg: frame.jpeg().clone(),
            sequence: frame.sequence(),
            captured_us: super::stamp_us(frame),
            tier: None,
        }
    }

    pub(crate) fn tiered(frame: &TierFrame) -> Self {
        Self {
            jpeg: frame.jpeg.clone(),
            sequence: frame.sequence,
            captured_us: frame.captured_us,
            tier: Some(frame.tier),
        }
    }

    /// The part (or snapshot) headers' values: `X-Timestamp` and `X-Tier`.
    pub(crate) fn timestamp(&self) -> String {
        format_timestamp(self.captured_us)
    }
}

/// `X-Timestamp`'s form: seconds since the epoch with six decimals.
pub(crate) fn format_timestamp(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// `X-Tier`'s form: `original`, or the tier (`w320 q70`).
pub(crate) fn tier_name(tier: Option<Tier>) -> String {
    tier.map_or_else(|| "original".to_owned(), |t| t.to_string())
}

/// When the part being written to a viewer started: the connection task
/// closes the viewer when one part takes longer than `part_timeout`.
#[derive(Debug)]
pub(crate) struct PartClock {
    epoch: Instant,
    /// Milliseconds since `epoch` plus one when the current part started;
    /// 0 while no part is being written.
    started: AtomicU64,
}

impl PartClock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            started: AtomicU64::new(0),
        }
    }

    fn start(&self) {
        self.started.store(
            millis_since(self.epoch).saturating_add(1),
            Ordering::Relaxed,
        );
    }

    fn done(&self) {
        self.started.store(0, Ordering::Relaxed);
    }

    /// Completes once a part has been in flight for `limit`; wakes about
    /// once per `limit` otherwise.
    pub(crate) async fn overdue(&self, limit: Duration) {
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        loop {
            let wait = match self.started.load(Ordering::Relaxed) {
                0 => limit_ms,
                s => (s - 1)
                    .saturating_add(limit_ms)
                    .saturating_sub(millis_since(self.epoch)),
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let s = self.started.load(Ordering::Relaxed);
            if s != 0 && millis_since(self.epoch) >= (s - 1).saturating_add(limit_ms) {
                return;
            }
        }
    }
}

/// One viewer's place: the permit that counts it against `max_viewers`,
/// and its entry in the per-stream counts. Both are given back on drop.
pub(crate) struct Viewer {
    state: Arc<State>,
    stream: StreamId,
    _permit: OwnedSemaphorePermit,
}

impl Viewer {
    pub(crate) fn new(state: Arc<State>, stream: StreamId, permit: OwnedSemaphorePermit) -> Self {
        *lock(&state.per_stream).entry(stream).or_insert(0) += 1;
        Self {
            state,
            stream,
            _permit: permit,
        }
    }

    /// The viewer now watches `stream` (its sender reconnected).
    fn rebind(&mut self, stream: StreamId) {
        let mut per_stream = lock(&self.state.per_stream);
        leave(&mut per_stream, self.stream);
        *per_stream.entry(stream).or_insert(0) += 1;
        self.stream = stream;
    }
}

fn leave(per_stream: &mut std::collections::HashMap<StreamId, u64>, stream: StreamId) {
    if let Some(n) = per_stream.get_mut(&stream) {
        *n -= 1;
        if *n == 0 {
            per_stream.remove(&stream);
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        leave(&mut lock(&self.state.per_stream), self.stream);
    }
}

/// Which stream a viewer follows.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// This stream only: the response ends with it.
    Id,
    /// Whichever live stream has this name: the response goes on when its
    /// sender reconnects.
    Name(Arc<str>),
}

/// Where the pictures come from now.
enum Feed {
    Original(WatchStream<Option<Frame>>),
    Tier(WatchStream<Option<TierFrame>>, TierLease),
}

impl Feed {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Option<Picture>>> {
        match self {
            Self::Original(w) => Pin::new(w)
                .poll_next(cx)
                .map(|f| f.map(|f| f.as_ref().map(Picture::original))),
            Self::Tier(w, _) => Pin::new(w)
                .poll_next(cx)
                .map(|f| f.map(|f| f.as_ref().map(Picture::tiered))),
        }
    }
}

/// An `auto` viewer's rung and what it knows of the stream.
struct Auto {
    control: AutoTier,
    max_width: Option<u32>,
    /// The stream's frame interval, smoothed (µs).
    interval_us: f64,
    /// The previous picture's sequence number and capture time.
    previous: Option<(u64, u64)>,
}

impl Auto {
    fn learn_interval(&mut self, picture: &Picture) {
        if let Some((seq, at)) = self.previous
            && picture.sequence > seq
            && picture.captured_us > at
        {
            let per = (picture.captured_us - at) as f64 / (picture.sequence - seq) as f64;
            let per = per.clamp(5_000.0, 2_000_000.0);
            self.interval_us = 0.8 * self.interval_us + 0.2 * per;
        }
        self.previous = Some((picture.sequence, picture.captured_us));
    }
}

type Reconnect = Pin<Box<dyn Future<Output = Option<StreamHandle>> + Send>>;

enum Next {
    /// The next picture.
    Frame,
    /// The JPEG whose header was just given.
    Jpeg,
    /// The delimiter after the JPEG.
    Delimiter,
}

/// The endless body of an MJPEG response. It ends when the stream ends
/// (for a viewer by name: when no stream of that name comes back in time)
/// or the viewer stops.
pub(crate) struct MjpegBody {
    feed: Option<Feed>,
    /// A viewer by name whose stream ended: looking for the name again.
    reconnect: Option<Reconnect>,
    target: Target,
    ask: Ask,
    auto: Option<Auto>,
    next: Next,
    jpeg: Bytes,
    /// Part headers are written here and split off; once hyper has sent
    /// and dropped a header, its room is reused for the next one.
    head: BytesMut,
    opened: bool,
    /// The newest sequence number sent: a tier switch never goes back.
    sent: Option<u64>,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    clock: Option<Arc<PartClock>>,
    meter: Option<Arc<Meter>>,
    /// The meter's flush count when the last part was handed over: the
    /// next picture waits for a flush after it.
    gate: Option<u64>,
    /// When the last part was handed over (the meter's clock) and its
    /// length.
    handed: (u64, usize),
    viewer: Viewer,
}

impl MjpegBody {
    /// A body for `viewer` of `stream`, as `ask` asks.
    ///
    /// # Errors
    ///
    /// The tier cannot be served (the stream has the most tiers allowed).
    pub(crate) fn new(
        stream: &StreamHandle,
        target: Target,
        ask: Ask,
        viewer: Viewer,
        clock: Option<Arc<PartClock>>,
        meter: Option<Arc<Meter>>,
    ) -> Result<Self, super::transcode::TierError> {
        let state = Arc::clone(&viewer.state);
        let auto = match ask {
            Ask::Auto { max_width } => {
                let unsent = state.config.auto_unsent_bytes;
                if let Some(m) = &meter {
                    m.set_unsent(u32::try_from(unsent).unwrap_or(u32::MAX));
                }
                let now = meter.as_ref().map_or(0, |m| m.now_us());
                Some(Auto {
                    control: AutoTier::new(AUTO_START_RUNG, now, unsent),
                    max_width,
                    interval_us: FIRST_INTERVAL.as_micros() as f64,
                    previous: None,
                })
            }
            _ => None,
        };
        let mut body = Self {
            feed: None,
            reconnect: None,
            target,
            ask,
            auto,
            next: Next::Frame,
            jpeg: Bytes::new(),
            head: BytesMut::with_capacity(2 * HEADER_ROOM),
            opened: false,
            sent: None,
            stop: Box::pin(state.cancel.clone().cancelled_owned()),
            clock,
            meter,
            gate: None,
            handed: (0, 0),
            viewer,
        };
        body.feed = Some(body.feed_for(stream)?);
        Ok(body)
    }

    /// The feed this viewer wants from `stream` now.
    fn feed_for(&self, stream: &StreamHandle) -> Result<Feed, super::transcode::TierError> {
        let width = stream.latest().map_or(u32::MAX, |f| f.width());
        let tier = match self.ask {
            Ask::Original => None,
            Ask::Fixed { quality, width: w } => Ask::fixed_tier(quality, w, width),
            Ask::Auto { max_width } => {
                let rung = self
                    .auto
                    .as_ref()
                    .map_or(AUTO_START_RUNG, |a| a.control.rung());
                rung_tier(rung, width, max_width)
            }
        };
        self.feed_of(stream, tier)
    }

    fn feed_of(
        &self,
        stream: &StreamHandle,
        tier: Option<Tier>,
    ) -> Result<Feed, super::transcode::TierError> {
        let state = &self.viewer.state;
        Ok(match tier {
            None => Feed::Original(WatchStream::new(stream.watch())),
            Some(tier) => {
                let receiver = state.receiver.clone();
                let lease = state.tiers.watch(stream, tier, move |task| {
                    receiver.spawn(task);
                })?;
                Feed::Tier(WatchStream::new(lease.frames.clone()), lease)
            }
        })
    }

    /// An `auto` viewer's rung changed: its feed follows, if the stream is
    /// still there and the tier can be served (else it stays).
    fn follow_rung(&mut self) {
        let Some(auto) = &self.auto else { return };
        let Some(stream) = self
            .viewer
            .state
            .receiver
            .stream(self.viewer.stream)
            .filter(StreamHandle::is_connected)
        else {
            return;
        };
        let width = stream.latest().map_or(u32::MAX, |f| f.width());
        let tier = rung_tier(auto.control.rung(), width, auto.max_width);
        let current = match &self.feed {
            Some(Feed::Original(_)) => None,
            Some(Feed::Tier(_, lease)) => Some(lease.tier()),
            None => return,
        };
        if tier == current {
            return;
        }
        if let Ok(feed) = self.feed_of(&stream, tier) {
            self.feed = Some(feed);
            self.viewer
                .state
                .counters
                .auto_switches
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn header(&mut self, picture: &Picture) -> Bytes {
        // Reclaims the buffer's room when the previous header was dropped.
        self.head.reserve(HEADER_ROOM);
        if !self.opened {
            self.head.extend_from_slice(OPENING.as_bytes());
            self.opened = true;
        }
        let us = picture.captured_us;
        // Writing to a BytesMut cannot fail.
        let _ = write!(
            self.head,
            "Content-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.{:06}\r\n\
             X-Sequence: {}\r\nX-Tier: ",
            picture.jpeg.len(),
            us / 1_000_000,
            us % 1_000_000,
            picture.sequence,
        );
        let _ = match picture.tier {
            None => self.head.write_str("original"),
            Some(t) => write!(self.head, "{t}"),
        };
        self.head.extend_from_slice(b"\r\n\r\n");
        self.head.split().freeze()
    }

    /// Whether the previous part has left (hyper flushed after it); if not,
    /// the task is woken at the next flush. Feeds an `auto` viewer's
    /// controller with the part's drain time.
    fn drained(&mut self, cx: &mut Context<'_>) -> bool {
        let (Some(meter), Some(gate)) = (&self.meter, self.gate) else {
            return true;
        };
        if meter.flushes() <= gate {
            meter.wait(cx.waker());
            // A flush between the check and the registration.
            if meter.flushes() <= gate {
                return false;
            }
        }
        self.gate = None;
        let (at, bytes) = self.handed;
        let done = meter.flushed_at();
        if let Some(auto) = &mut self.auto {
            let drain = Duration::from_micros(done.saturating_sub(at));
            let interval = Duration::from_micros(auto.interval_us as u64);
            let before = auto.control.rung();
            let after = auto.control.on_part(done, bytes, drain, interval);
            if after != before {
                tracing::debug!(
                    stream = %self.viewer.stream,
                    "auto viewer: rung {before} -> {after} (a part of {bytes} B drained in \
                     {drain:?}, frames every {interval:?}, link about {:.0} kB/s)",
                    auto.control.rate().unwrap_or(0.0) / 1000.0
                );
                self.follow_rung();
            }
        }
        true
    }

    /// The stream ended: a viewer by name looks for it again.
    fn stream_ended(&mut self) -> bool {
        let Target::Name(name) = &self.target else {
            return false;
        };
        self.feed = None;
        let state = Arc::clone(&self.viewer.state);
        let name = Arc::clone(name);
        let wait = state.config.by_name_wait;
        self.reconnect = Some(Box::pin(super::routes::wait_named(state, name, wait)));
        true
    }
}

impl http_body::Body for MjpegBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let data = |b: Bytes| Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        match this.next {
            Next::Jpeg => {
                this.next = Next::Delimiter;
                return data(std::mem::take(&mut this.jpeg));
            }
            Next::Delimiter => {
                this.next = Next::Frame;
                if let Some(clock) = &this.clock {
                    clock.done();
                }
                if let Some(meter) = &this.meter {
                    this.gate = Some(meter.flushes());
                }
                this.viewer
                    .state
                    .counters
                    .parts
                    .fetch_add(1, Ordering::Relaxed);
                return data(Bytes::from_static(DELIMITER));
            }
            Next::Frame => {}
        }
        if this.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if !this.drained(cx) {
            return Poll::Pending;
        }
        loop {
            if let Some(reconnect) = &mut this.reconnect {
                let Poll::Ready(found) = reconnect.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                this.reconnect = None;
                let Some(stream) = found else {
                    return Poll::Ready(None);
                };
                match this.feed_for(&stream) {
                    Ok(feed) => {
                        this.viewer.rebind(stream.id());
                        this.feed = Some(feed);
                        // A new session counts its frames from the start.
                        this.sent = None;
                    }
                    Err(_) => return Poll::Ready(None),
                }
            }
            let Some(feed) = &mut this.feed else {
                return Poll::Ready(None);
            };
            match feed.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                // The stream ended: its watch closed.
                Poll::Ready(None) => {
                    if this.stream_ended() {
                        continue;
                    }
                    return Poll::Ready(None);
                }
                // No picture yet.
                Poll::Ready(Some(None)) => {}
                Poll::Ready(Some(Some(picture))) => {
                    // After a tier switch the new tier's newest picture may
                    // be one already sent.
                    if this.sent.is_some_and(|s| picture.sequence <= s) {
                        continue;
                    }
                    this.sent = Some(picture.sequence);
                    if let Some(auto) = &mut this.auto {
                        auto.learn_interval(&picture);
                        auto.control
                            .set_size(auto.control.rung(), picture.jpeg.len());
                    }
                    let header = this.header(&picture);
                    this.handed = (
                        this.meter.as_ref().map_or(0, |m| m.now_us()),
                        header.len() + picture.jpeg.len() + DELIMITER.len(),
                    );
                    this.jpeg = picture.jpeg;
                    this.next = Next::Jpeg;
                    if let Some(clock) = &this.clock {
                        clock.start();
                    }
                    return data(header);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_frame_every_part() {
        assert_eq!(
            DELIMITER,
            b"\r\n--framecast-mjpeg-part-boundary\r\n".as_slice()
        );
        // The longest header fits its room.
        let longest = OPENING.len()
            + "Content-Type: image/jpeg\r\nContent-Length: \r\nX-Timestamp: .000000\r\n\
               X-Sequence: \r\nX-Tier: \r\n\r\n"
                .len()
            + 3 * u64::MAX.to_string().len()
            + Tier {
                quality: 100,
                width: super::super::tier::MAX_TIER_WIDTH,
            }
            .to_string()
            .len();
        assert!(longest <= HEADER_ROOM, "{longest}");
    }

    #[test]
    fn timestamps_have_microseconds() {
        assert_eq!(format_timestamp(1_765_012_345_000_001), "1765012345.000001");
        assert_eq!(format_timestamp(0), "0.000000");
        assert_eq!(tier_name(None), "original");
        assert_eq!(
            tier_name(Some(Tier {
                quality: 70,
                width: 320
            })),
            "w320 q70"
        );
    }
}
