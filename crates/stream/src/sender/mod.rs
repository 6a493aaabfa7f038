//! The sending engine: capture → encode → send, over a transport.
//!
//! ```text
//!  capture thread ──▶ [raw frames] ──▶ encode thread ──▶ [messages] ──▶ send thread ──▶ transport
//!   source.next_frame   latest wins     resize + JPEG     latest wins    (TCP: reconnects
//!   into a recycled     (live source)   or pass-through   (live source)  with backoff +
//!   Frame                               into a recycled   or waits       jitter)
//!                                       message buffer    (file, pattern)
//! ```
//!
//! Buffers circulate: the send thread gives each message buffer back to the
//! encode thread, and the encode thread gives each frame back to the capture
//! thread, so the steady state allocates nothing. A live source (a camera)
//! has its oldest queued frame dropped when a later stage falls behind, so
//! the receiver always gets a recent picture.
//!
//! A source that is not live (a file, a directory of pictures, a raw file,
//! the test pattern) has no capture thread: its frames do not go stale, so
//! the encode thread takes each from the source when it is ready for it
//! (a paced source sleeps there until the frame is due), one thread
//! wake-up and hand-off a frame fewer. It is never dropped from before
//! the send stage: a full queue makes the encode thread wait
//! (backpressure), unless the source is paced (then the link decides
//! which frames go, as for a camera).
//!
//! `transport` is the seam every transport implements, `link` the TCP one
//! ([`TcpDestination`]), `send` the stage that drives it, `pipeline` the
//! capture and encode stages.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use framecast_capture::{Frame, FrameSource};
use framecast_codec::{Fit, SenderConfig, SenderPipeline, Transcode};
use framecast_proto::handshake::{Hello, Status, StatusCode};
use framecast_proto::video::{PayloadFormat, Video, VideoRef};
use framecast_wire::{FrameCodec, FrameWriter, Prefix};

use framecast_net::Backoff;

use crate::error::TlsFailureKind;
use crate::error::{Report, SessionError, StreamError};
use crate::events::{LogLimiter, SenderEvent, SenderHook};
use crate::frame::StreamId;
use crate::handshake::{self, Decoded};
use crate::limits::{
    DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_STATUS_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
    KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES, KEEPALIVE_TIME,
};
use crate::queue::Latest;
use crate::stats::{SenderStats, secs};
use crate::util::{lock, now_us};
use crate::{Stop, StopHandle};

mod link;
mod pipeline;
mod send;
pub mod transport;

pub use self::link::TcpDestination;
use self::pipeline::{
    EncodeStage, Encoded, Encoder, SharedTarget, capture_encode_loop, capture_loop, encode_loop,
};
use self::send::send_loop;
pub use self::transport::Destination;
use self::transport::{Interrupt, StreamInfo, Transport};

/// The original program's frame size: the box frames are fitted in by
/// default (see [`SenderBuilder::fit`]).
pub const DEFAULT_SIZE: (u32, u32) = (400, 400);

/// The original program's JPEG quality (the codec's default).
pub use framecast_codec::DEFAULT_QUALITY;

pub use crate::limits::DEFAULT_CONNECT_TIMEOUT;

/// How many failed attempts in a row a sender makes before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Give up after this many retries (attempts after the first), counted
    /// since the last session that carried frames.
    Attempts(u32),
    /// Never give up.
    Forever,
}

impl Default for Retry {
    /// [`DEFAULT_RETRIES`](crate::limits::DEFAULT_RETRIES) retries.
    fn default() -> Self {
        Self::Attempts(crate::limits::DEFAULT_RETRIES)
    }
}

impl std::str::FromStr for Retry {
    type Err = String;

    /// `forever`, or a number of retries.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("forever") {
            return Ok(Self::Forever);
        }
        s.parse()
            .map(Self::Attempts)
            .map_err(|_| format!("expected a number of retries or \"forever\", got {s:?}"))
    }
}

impl std::fmt::Display for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attempts(n) => write!(f, "{n}"),
            Self::Forever => f.write_str("forever"),
        }
    }
}

/// Frames (or messages) that may wait between two stages of a sender. Two
/// lets a stage start on the next item while the one after it is still
/// busy, without letting stale frames pile up (each waiting frame adds a
/// frame period of latency). See [`SenderBuilder::queue_depth`].
pub const DEFAULT_QUEUE_DEPTH: usize = 2;

/// Buffers per queue beyond its depth: one in each stage's hands, and one
/// spare. They all exist from the start (the queues' spare bins start
/// full), so a busy moment that fills the queue finds a buffer waiting
/// instead of allocating one.
const POOL_EXTRA: usize = 3;

/// A callback shown every frame the encode stage took (a local preview).
pub type FrameHook = Box<dyn FnMut(&Frame) + Send>;

/// Configures and starts a [`Sender`].
///
/// Where the frames go is a [`Destination`]: a receiver over TCP
/// ([`TcpDestination`], which holds every setting only TCP has; a
/// `HOST:PORT` string converts into one) or any other
/// [`Transport`](transport::Transport).
pub struct SenderBuilder {
    destination: Destination,
    source: Box<dyn FrameSource>,
    width: u32,
    height: u32,
    fit: Fit,
    quality: u8,
    count: Option<u64>,
    queue_depth: usize,
    on_frame: Option<FrameHook>,
    name: String,
    hook: Option<SenderHook>,
    adapt: bool,
    min_quality: u8,
    max_latency: Duration,
}

impl std::fmt::Debug for SenderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderBuilder")
            .field("destination", &self.destination)
            .field("source", &self.source.format())
            .field("size", &(self.width, self.height))
            .field("fit", &self.fit)
            .field("quality", &self.quality)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl SenderBuilder {
    /// A sender of `source`'s frames to `to` (a [`TcpDestination`], a
    /// `HOST:PORT` string for one with every default, or any other
    /// [`Destination`]), fitted in the original program's 400x400 with
    /// their shape kept (see [`fit`](Self::fit)), at its quality 95.
    pub fn new(to: impl Into<Destination>, source: Box<dyn FrameSource>) -> Self {
        Self {
            destination: to.into(),
            source,
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
            fit: Fit::Contain,
            quality: DEFAULT_QUALITY,
            count: None,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            on_frame: None,
            name: String::new(),
            hook: None,
            adapt: true,
            min_quality: crate::adapt::DEFAULT_MIN_QUALITY,
            max_latency: crate::adapt::DEFAULT_MAX_LATENCY,
        }
    }

    /// Whether the sender adapts to its link (default: yes). It then asks
    /// for feedback (a TCP receiver that knows it sends it back) and, from
    /// what arrives and when, lowers the JPEG quality (down to
    /// [`min_quality`](Self::min_quality)), then the picture size, then
    /// the frame rate, to keep frames within
    /// [`max_latency`](Self::max_latency), and climbs back as the link
    /// allows (see [`adapt`](crate::adapt)); never above the configured
    /// quality, size and rate. Off, every frame has the configured quality
    /// and size.
    pub fn adapt(mut self, on: bool) -> Self {
        self.adapt = on;
        self
    }

    /// The lowest JPEG quality the rate control goes down to before it
    /// makes pictures smaller (default
    /// [`DEFAULT_MIN_QUALITY`](crate::adapt::DEFAULT_MIN_QUALITY); 1..=100,
    /// [`start`](Self::start) refuses others).
    pub fn min_quality(mut self, quality: u8) -> Self {
        self.min_quality = quality;
        self
    }

    /// The latency budget the rate control keeps frames within, from
    /// capture to arrival (default
    /// [`DEFAULT_MAX_LATENCY`](crate::adapt::DEFAULT_MAX_LATENCY); at least
    /// 10 ms).
    pub fn max_latency(mut self, latency: Duration) -> Self {
        self.max_latency = latency;
        self
    }

    /// The stream's name: the receiver shows and counts the stream under
    /// it (default: none, and a TCP receiver uses this sender's address).
    /// At most [`MAX_NAME_LEN`](crate::handshake::MAX_NAME_LEN) bytes, no
    /// control characters; [`start`](Self::start) checks.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sees every connection event (connected, refused, failed) before the
    /// sender logs it, and returns what the user can do about it in the
    /// program's own terms (a hint, added to the log line), if anything.
    pub fn on_event(
        mut self,
        hook: impl Fn(&SenderEvent<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The box frames are scaled to fit before encoding (see
    /// [`fit`](Self::fit)).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// How a frame of another shape is sized to [`size`](Self::size):
    /// [`Fit::Contain`] (the default) sends the largest size with the
    /// frame's own aspect ratio inside it (a 4:3 camera at 400x400 arrives
    /// 400x300, see [`framecast_codec::fit_within`]); [`Fit::Stretch`]
    /// sends exactly that size, as the original programs did.
    pub fn fit(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }

    /// The JPEG quality, 1..=100 ([`start`](Self::start) refuses others).
    pub fn quality(mut self, quality: u8) -> Self {
        self.quality = quality;
        self
    }

    /// Stops after `n` frames were sent.
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// How many frames may wait between two stages (at least 1; default
    /// [`DEFAULT_QUEUE_DEPTH`]). Deeper smooths out bursts at the cost of
    /// latency.
    pub fn queue_depth(mut self, depth: usize) -> Self {
        self.queue_depth = depth;
        self
    }

    /// Calls `hook` with every frame the encoder takes, on the encode thread
    /// (for a local preview). It should return quickly.
    pub fn on_frame(mut self, hook: impl FnMut(&Frame) + Send + 'static) -> Self {
        self.on_frame = Some(Box::new(hook));
        self
    }

    /// Checks the settings, starts the transport
    /// ([`Transport::start`](transport::Transport::start)) and the threads.
    /// Connecting happens in the background: a TCP receiver that is not
    /// there yet is retried with backoff.
    ///
    /// # Errors
    ///
    /// [`StreamError::Config`] for a setting that cannot work, the
    /// transport's own error when it cannot start,
    /// [`StreamError::Spawn`] when a thread cannot be started.
    pub fn start(self) -> Result<Sender, StreamError> {
        let named = Hello {
            name: self.name.clone(),
            ..Hello::default()
        };
        handshake::check_hello(&named).map_err(|_| StreamError::Config {
            what: "name",
            reason: "must be at most 64 bytes of UTF-8 without control characters",
        })?;
        let bad = |what, reason| Err(StreamError::Config { what, reason });
        if !(1..=100).contains(&self.quality) {
            return bad("quality", "must be between 1 and 100");
        }
        if !(1..=100).contains(&self.min_quality) {
            return bad("min_quality", "must be between 1 and 100");
        }
        if self.max_latency < Duration::from_millis(10) {
            return bad("max_latency", "must be at least 10 ms");
        }
        if self.queue_depth == 0 {
            return bad("queue_depth", "must be at least 1");
        }
        if self.width == 0 || self.height == 0 {
            return bad("size", "width and height must be at least 1");
        }
        let mut transport: Box<dyn Transport> = match self.destination {
            Destination::Tcp(tcp) => Box::new(tcp.into_link()),
            Destination::Transport(t) => t,
        };
        transport.start(&StreamInfo {
            name: self.name,
            width: self.width,
            height: self.height,
            feedback: self.adapt,
        })?;
        let format = self.source.format();
        let adapt = self.adapt.then(|| {
            let fps = format.paced_fps.map_or(30, |f| f.round().max(1.0) as u32);
            crate::adapt::Controller::new(
                crate::adapt::AdaptConfig::new(self.width, self.height, fps)
                    .with_max_quality(self.quality)
                    .with_min_quality(self.min_quality)
                    .with_max_latency(self.max_latency)
                    .with_fit(self.fit),
            )
        });
        let shared = Arc::new(SenderShared {
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            raw: Latest::with_spares(
                self.queue_depth,
                self.queue_depth + POOL_EXTRA,
                Frame::default,
            ),
            encoded: Latest::with_spares(
                self.queue_depth,
                self.queue_depth + POOL_EXTRA,
                Encoded::default,
            ),
            stale: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            live: format.live,
            realtime: format.live || format.paced_fps.is_some(),
            target: SharedTarget::default(),
            lost: AtomicBool::new(false),
            counters: Mutex::new(SenderStats::default()),
            interrupt: Mutex::new(None),
            log: LogLimiter::new(),
            started: Instant::now(),
            error: Mutex::new(None),
        });
        let mut threads = Vec::with_capacity(3);
        let spawn = |what: &'static str, f: Box<dyn FnOnce() + Send>| {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("framecast-{what}"))
                .spawn(move || {
                    // A stage that panics stops the others, which may be
                    // waiting for it: the sender can then be joined.
                    let _guard = StopOnPanic(shared);
                    f();
                })
                .map_err(|source| StreamError::Spawn { what, source })
        };
        let encoder = Encoder::new(
            SenderConfig::new(self.width, self.height)
                .with_quality(self.quality)
                .with_fit(self.fit),
        )?;
        // A camera's rate, when its mode does not say, is taken as 30.
        let full_fps = format.paced_fps.or_else(|| format.live.then_some(30.0));
        let stage = EncodeStage::new(encoder, self.on_frame, full_fps);
        let (source, count) = (self.source, self.count);
        if format.live {
            // A live source's frames go stale: its own thread takes each
            // as it comes (latest wins), whatever the encoder is doing.
            let capture = {
                let shared = Arc::clone(&shared);
                spawn(
                    "capture",
                    Box::new(move || capture_loop(&shared, source, count)),
                )
            };
            threads.push(("capture", capture?));
            let encode = {
                let shared = Arc::clone(&shared);
                spawn("encode", Box::new(move || encode_loop(&shared, stage)))
            };
            match encode {
                Ok(t) => threads.push(("encode", t)),
                Err(e) => {
                    shared.stop();
                    return Err(e);
                }
            }
        } else {
            // Any other source is captured on the encode thread, each frame
            // when the encoder is ready for it.
            let encode = {
                let shared = Arc::clone(&shared);
                spawn(
                    "encode",
                    Box::new(move || capture_encode_loop(&shared, source, count, stage)),
                )
            };
            threads.push(("encode", encode?));
        }
        let send_stage: Box<dyn FnOnce() + Send> = {
            let shared = Arc::clone(&shared);
            let (count, hook) = (self.count, self.hook);
            Box::new(move || send_loop(&shared, transport, hook.as_ref(), count, adapt))
        };
        let send = spawn("send", send_stage);
        match send {
            Ok(t) => threads.push(("send", t)),
            Err(e) => {
                shared.stop();
                return Err(e);
            }
        }
        Ok(Sender { shared, threads })
    }
}

/// Stops the sender when the stage thread holding it panics.
struct StopOnPanic(Arc<SenderShared>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.stop();
        }
    }
}

/// A running sender. Dropping it stops it.
#[derive(Debug)]
pub struct Sender {
    shared: Arc<SenderShared>,
    threads: Vec<(&'static str, JoinHandle<()>)>,
}

impl Sender {
    /// The counters now.
    pub fn stats(&self) -> SenderStats {
        self.shared.snapshot()
    }

    /// Frames sent so far, without taking a whole snapshot (nothing is
    /// allocated).
    pub fn frames_sent(&self) -> u64 {
        lock(&self.shared.counters).sent
    }

    /// Asks every thread to stop; returns at once (see [`Sender::wait`]).
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// A handle that can stop this sender from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::new(Arc::clone(&self.shared) as Arc<dyn Stop>)
    }

    /// Whether every stage has finished (count reached, stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|(_, t)| t.is_finished())
    }

    /// Waits for the threads to finish and returns the final counters, or
    /// the error that stopped the sender.
    pub fn wait(mut self) -> Result<SenderStats, StreamError> {
        self.join()
    }

    /// [`Sender::stop`] then [`Sender::wait`].
    pub fn shutdown(self) -> Result<SenderStats, StreamError> {
        self.stop();
        self.wait()
    }

    fn join(&mut self) -> Result<SenderStats, StreamError> {
        let mut panicked = None;
        for (what, t) in self.threads.drain(..) {
            if t.join().is_err() {
                panicked = Some(what);
                // The other stages may be waiting on the dead one.
                self.shared.stop();
            }
        }
        if let Some(e) = lock(&self.shared.error).take() {
            return Err(e);
        }
        if let Some(what) = panicked {
            return Err(StreamError::Panicked(what));
        }
        Ok(self.shared.snapshot())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shared.stop();
            let _ = self.join();
        }
    }
}

struct SenderShared {
    stop: AtomicBool,
    stop_lock: Mutex<()>,
    stop_cv: Condvar,
    raw: Latest<Frame>,
    encoded: Latest<Encoded>,
    /// Frames captured before a connection broke, dropped after it was made
    /// again rather than sent late.
    stale: AtomicU64,
    /// Frames that could not start because the link was busy, replaced by a
    /// newer one at the socket.
    replaced: AtomicU64,
    live: bool,
    /// Whether frames are due at a steady rate (a camera, a paced source):
    /// then a frame the link cannot take yet is replaced by a newer one,
    /// rather than making the source wait.
    realtime: bool,
    /// What the rate control chose, for the encode stage.
    target: SharedTarget,
    /// Set when the transport lost its session outside `send`: frames from
    /// before the next session are stale.
    lost: AtomicBool,
    counters: Mutex<SenderStats>,
    /// What unblocks the transport's blocking call (a write) when the
    /// sender stops.
    interrupt: Mutex<Option<Interrupt>>,
    /// This sender's event lines, rate-limited per kind.
    log: LogLimiter,
    started: Instant,
    error: Mutex<Option<StreamError>>,
}

impl std::fmt::Debug for SenderShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderShared")
            .field("stopped", &self.stopped())
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Stop for SenderShared {
    fn stop(&self) {
        {
            let _guard = lock(&self.stop_lock);
            self.stop.store(true, Ordering::SeqCst);
        }
        self.stop_cv.notify_all();
        self.raw.close();
        self.encoded.close();
        if let Some(interrupt) = lock(&self.interrupt).as_ref() {
            interrupt();
        }
    }
}

impl SenderShared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` unless stopped first; returns whether stopped.
    fn sleep(&self, d: Duration) -> bool {
        let guard = lock(&self.stop_lock);
        let (_guard, _) = self
            .stop_cv
            .wait_timeout_while(guard, d, |_| !self.stop.load(Ordering::SeqCst))
            .unwrap_or_else(PoisonError::into_inner);
        self.stopped()
    }

    fn fail(&self, e: StreamError) {
        // The caller gets the error from `wait`; logged here only for
        // debugging, so that a program prints it once.
        tracing::debug!("sender failed: {}", Report(&e));
        lock(&self.error).get_or_insert(e);
        self.stop();
    }

    fn snapshot(&self) -> SenderStats {
        let mut s = lock(&self.counters).clone();
        s.replaced = self.encoded.dropped() + self.replaced.load(Ordering::SeqCst);
        s.dropped = self.raw.dropped() + s.replaced + self.stale.load(Ordering::SeqCst);
        if let Some(t) = self.target.load() {
            s.adapt = Some(crate::stats::AdaptStats {
                quality: t.quality,
                width: t.width,
                height: t.height,
                fps: (t.fps * 100.0).round() / 100.0,
                rate_kbps: t.rate_bps / 1000,
                link_rate_kbps: t.link_rate_bps / 1000,
                queue_delay_ms: secs(self.target.queue_delay()) * 1000.0,
            });
        }
        let elapsed = self.started.elapsed();
        s.seconds = secs(elapsed);
        s.fps = if s.seconds > 0.0 {
            ((s.sent as f64 / s.seconds) * 100.0).round() / 100.0
        } else {
            0.0
        };
        s
    }

    /// Frames captured that will never be sent: gone stale, replaced at
    /// the socket, or left out by the rate control.
    fn not_sent(&self) -> u64 {
        self.stale.load(Ordering::SeqCst)
            + self.replaced.load(Ordering::SeqCst)
            + self.encoded.dropped()
            + lock(&self.counters).skipped
    }

    /// Hands `item` to the next stage: a live source's oldest item is
    /// dropped when the queue is full (and, before the send stage, any
    /// real-time source's: the link decides which frames go); anything
    /// else waits for room.
    fn forward<T>(&self, queue: &Latest<T>, item: T, to_send: bool) -> bool {
        let pushed = if self.live || (to_send && self.realtime) {
            queue.push(item)
        } else {
            queue.push_wait(item)
        };
        pushed.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use framecast_capture::{SourceOptions, SourceSpec, open_source};

    use super::transport::{OutgoingFrame, Ready, SendContext, Sent};
    use super::*;

    /// Takes every frame, and panics at the `panic_at`th if asked to.
    struct Accept {
        taken: u64,
        panic_at: Option<u64>,
    }

    impl Transport for Accept {
        fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
            if cx.is_stopped() {
                return Ok(Ready::Stopped);
            }
            if self.taken == 0 {
                cx.session_opened();
            }
            Ok(Ready::Ready)
        }

        fn send(
            &mut self,
            _frame: &OutgoingFrame<'_>,
            _cx: &mut SendContext<'_>,
        ) -> Result<Sent, StreamError> {
            self.taken += 1;
            assert!(self.panic_at != Some(self.taken), "a transport bug");
            Ok(Sent::Sent)
        }
    }

    /// The test pattern as fast as it goes: not live, so a full queue makes
    /// the capture stage wait for the next stage.
    fn pattern() -> Box<dyn FrameSource> {
        open_source(
            &SourceSpec::Pattern,
            &SourceOptions::new(64, 48).with_fps(0),
        )
        .unwrap()
    }

    /// Waits for the sender on another thread, so that a hang fails the
    /// test instead of stalling it.
    fn wait(sender: Sender) -> Result<SenderStats, StreamError> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(sender.wait());
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the sender could not be joined: a stage waits for the one that panicked")
    }

    #[test]
    fn a_stage_that_panics_stops_the_sender_instead_of_hanging_it() {
        // The encode stage panics (in the preview hook).
        let mut frames = 0;
        let sender = SenderBuilder::new(
            Destination::transport(Accept {
                taken: 0,
                panic_at: None,
            }),
            pattern(),
        )
        .size(64, 48)
        .on_frame(move |_| {
            frames += 1;
            assert!(frames < 3, "a preview bug");
        })
        .start()
        .unwrap();
        assert!(matches!(wait(sender), Err(StreamError::Panicked("encode"))));

        // The send stage panics (in its transport) while the others wait
        // for it.
        let sender = SenderBuilder::new(
            Destination::transport(Accept {
                taken: 0,
                panic_at: Some(3),
            }),
            pattern(),
        )
        .size(64, 48)
        .start()
        .unwrap();
        assert!(matches!(wait(sender), Err(StreamError::Panicked("send"))));
    }

    #[test]
    fn a_transport_gets_every_frame_of_a_source_that_is_not_live() {
        let sender = SenderBuilder::new(
            Destination::transport(Accept {
                taken: 0,
                panic_at: None,
            }),
            pattern(),
        )
        .size(64, 48)
        .count(20)
        .start()
        .unwrap();
        // Captured on the encode thread: no thread of its own.
        let stages: Vec<_> = sender.threads.iter().map(|(what, _)| *what).collect();
        assert_eq!(stages, ["encode", "send"]);
        let stats = wait(sender).unwrap();
        assert_eq!((stats.sent, stats.dropped, stats.sessions), (20, 0, 1));
    }

    /// The test pattern, said to be live (a camera's frames).
    struct Live(Box<dyn FrameSource>);

    impl FrameSource for Live {
        fn format(&self) -> framecast_capture::SourceFormat {
            let mut format = self.0.format();
            format.live = true;
            format
        }

        fn next_frame(&mut self, frame: &mut Frame) -> Result<(), framecast_capture::CaptureError> {
            self.0.next_frame(frame)
        }
    }

    #[test]
    fn a_live_source_has_a_capture_thread_of_its_own() {
        let sender = SenderBuilder::new(
            Destination::transport(Accept {
                taken: 0,
                panic_at: None,
            }),
            Box::new(Live(pattern())),
        )
        .size(64, 48)
        .count(20)
        .start()
        .unwrap();
        let stages: Vec<_> = sender.threads.iter().map(|(what, _)| *what).collect();
        assert_eq!(stages, ["capture", "encode", "send"]);
        let stats = wait(sender).unwrap();
        assert_eq!((stats.sent, stats.sessions), (20, 1));
    }

    #[test]
    fn only_what_can_pass_by_itself_is_retried() {
        use framecast_proto::handshake::StatusCode as C;

        let passes: Vec<C> = [
            C::Unspecified,
            C::Busy,
            C::UnsupportedVersion,
            C::Unauthenticated,
            C::BadHello,
            C::ShuttingDown,
            C::WrongFraming,
            C::TlsRequired,
        ]
        .into_iter()
        .filter(|&c| link::refusal_may_pass(c))
        .collect();
        assert_eq!(passes, [C::Busy, C::ShuttingDown]);

        let tls = |kind| SessionError::Tls {
            kind,
            reason: String::new(),
        };
        for (error, retried) in [
            (SessionError::ClosedBeforeStatus, true),
            (SessionError::Timeout(Duration::from_secs(5)), true),
            (
                SessionError::Io(std::io::ErrorKind::ConnectionReset.into()),
                true,
            ),
            (tls(TlsFailureKind::Closed), true),
            (tls(TlsFailureKind::Other), true),
            (tls(TlsFailureKind::NotTls), false),
            (tls(TlsFailureKind::UnknownIssuer), false),
            (tls(TlsFailureKind::WrongName), false),
            (tls(TlsFailureKind::Expired), false),
            (
                SessionError::Handshake(crate::handshake::HandshakeError::UnsupportedVersion {
                    got: 9,
                    supported: 1,
                }),
                false,
            ),
        ] {
            assert_eq!(link::retrying_may_help(&error), retried, "{error}");
        }
    }

    #[test]
    fn a_refusal_that_cannot_pass_stops_the_sender_at_its_first_answer() {
        let receiver = crate::ReceiverBuilder::new("127.0.0.1:0".parse().unwrap())
            .max_clients(1)
            .start()
            .unwrap();
        // The receiver's only place is taken: busy, which passes, is
        // retried as often as allowed.
        let ingest = receiver.handle().ingest();
        let taken = ingest
            .open(Some("taken"), "127.0.0.1:1".parse().unwrap())
            .unwrap();
        let busy = SenderBuilder::new(
            TcpDestination::new(receiver.local_addr().to_string())
                .retry(Retry::Attempts(1))
                .backoff(Duration::from_millis(1), Duration::from_millis(2)),
            pattern(),
        )
        .size(64, 48)
        .count(1)
        .start()
        .unwrap();
        match wait(busy) {
            Err(StreamError::GaveUp { attempts: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        drop(taken);
        // Legacy framing to a receiver that expects the handshake: told
        // WRONG_FRAMING, which asking again cannot change.
        let started = Instant::now();
        let legacy = SenderBuilder::new(
            TcpDestination::new(receiver.local_addr().to_string())
                .framing(Prefix::LegacyI64Le)
                .retry(Retry::Forever),
            pattern(),
        )
        .size(64, 48)
        .start()
        .unwrap();
        match wait(legacy) {
            Err(StreamError::Rejected { cause, .. }) => {
                let refused = cause.downcast_ref::<crate::Refused>().expect("a refusal");
                assert_eq!(
                    refused.code,
                    framecast_proto::handshake::StatusCode::WrongFraming
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "one attempt, however long the receiver lingers"
        );
        let stats = receiver.shutdown().unwrap();
        assert_eq!(stats.refused, 2, "two busy");
        assert_eq!(stats.handshake_failures, 1, "one wrong framing");
    }
}
