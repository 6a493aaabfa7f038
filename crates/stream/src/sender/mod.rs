//! The sending engine: capture → encode → connect/reconnect → send.
//!
//! ```text
//!  capture thread ──▶ [raw frames] ──▶ encode thread ──▶ [messages] ──▶ send thread ──▶ TCP
//!   source.next_frame   latest wins     resize + JPEG     latest wins    reconnects with
//!   into a recycled     (live source)   or pass-through   (live source)  backoff + jitter
//!   Frame               or waits        into a recycled   or waits
//!                       (file, pattern) message buffer
//! ```
//!
//! Buffers circulate: the send thread gives each message buffer back to the
//! encode thread, and the encode thread gives each frame back to the capture
//! thread, so the steady state allocates nothing. A live source (a camera)
//! has its oldest queued frame dropped when a later stage falls behind, so
//! the receiver always gets a recent picture; a source that is not live (a
//! file, the test pattern) is never dropped from: the full queue makes the
//! capture thread wait (backpressure).

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use framecast_capture::{Frame, FrameSource};
use framecast_codec::{SenderConfig, SenderPipeline, Transcode};
use framecast_proto::handshake::{Hello, Status, StatusCode};
use framecast_proto::video::{PayloadFormat, Video, VideoRef};
use framecast_wire::{FrameCodec, FrameWriter, Prefix};
use prost::Message;

use crate::backoff::{Backoff, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF};
#[cfg(feature = "tls")]
use crate::error::TlsFailureKind;
use crate::error::{Report, SessionError, StreamError};
use crate::events::{SenderEvent, SenderHook, log_sender_event};
use crate::handshake::{self, Decoded};
use crate::limits::{
    DEFAULT_STATUS_TIMEOUT, DEFAULT_WRITE_TIMEOUT, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES,
    KEEPALIVE_TIME,
};
use crate::queue::Latest;
use crate::stats::{SenderStats, secs};
use crate::util::{lock, now_us};
use crate::{Stop, StopHandle};

mod link;
mod pipeline;
mod send;

// The NATS send stage lives with the NATS code but is a child of this
// module, so that it drives the same queues and counters as `send_loop`.
#[cfg(feature = "nats")]
#[path = "../nats/send.rs"]
mod nats;

use self::link::Link;
#[cfg(feature = "tls")]
use self::link::TlsClient;
use self::pipeline::{Encoded, Encoder, SharedTarget, capture_loop, encode_loop};
use self::send::send_loop;

/// The original program's frame size.
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

/// Buffers kept for reuse per queue beyond its depth: one in each stage's
/// hands, and one spare.
const POOL_EXTRA: usize = 3;

/// A callback shown every frame the encode stage took (a local preview).
pub type FrameHook = Box<dyn FnMut(&Frame) + Send>;

/// Configures and starts a [`Sender`].
pub struct SenderBuilder {
    to: String,
    source: Box<dyn FrameSource>,
    width: u32,
    height: u32,
    quality: u8,
    prefix: Prefix,
    max_frame_len: usize,
    count: Option<u64>,
    queue_depth: usize,
    initial_backoff: Duration,
    max_backoff: Duration,
    connect_timeout: Duration,
    status_timeout: Duration,
    write_timeout: Duration,
    retry: Retry,
    seed: Option<u64>,
    on_frame: Option<FrameHook>,
    name: String,
    hook: Option<SenderHook>,
    #[cfg(feature = "tls")]
    tls: Option<TlsClient>,
    #[cfg(feature = "tls")]
    token: Option<framecast_tls::Token>,
    /// Publish to NATS instead of connecting to a receiver.
    #[cfg(feature = "nats")]
    nats: Option<crate::nats::NatsUrl>,
    adapt: bool,
    min_quality: u8,
    max_latency: Duration,
    unsent_limit: u32,
}

impl std::fmt::Debug for SenderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderBuilder")
            .field("to", &self.to)
            .field("source", &self.source.format())
            .field("size", &(self.width, self.height))
            .field("quality", &self.quality)
            .field("prefix", &self.prefix)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl SenderBuilder {
    /// A sender of `source`'s frames to `to` (`HOST:PORT`, resolved at every
    /// connection attempt), at the original program's 400x400 and quality
    /// 95, with the framecast framing.
    pub fn new(to: impl Into<String>, source: Box<dyn FrameSource>) -> Self {
        Self {
            to: to.into(),
            source,
            width: DEFAULT_SIZE.0,
            height: DEFAULT_SIZE.1,
            quality: DEFAULT_QUALITY,
            prefix: Prefix::U32Le,
            max_frame_len: framecast_wire::DEFAULT_MAX_FRAME_LEN,
            count: None,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            status_timeout: DEFAULT_STATUS_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            retry: Retry::default(),
            seed: None,
            on_frame: None,
            name: String::new(),
            hook: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            token: None,
            #[cfg(feature = "nats")]
            nats: None,
            adapt: true,
            min_quality: crate::adapt::DEFAULT_MIN_QUALITY,
            max_latency: crate::adapt::DEFAULT_MAX_LATENCY,
            unsent_limit: crate::limits::DEFAULT_UNSENT_LIMIT,
        }
    }

    /// Whether the sender adapts to its link (default: yes). It then asks
    /// the receiver for feedback in the handshake and, from what arrives
    /// and when, lowers the JPEG quality (down to
    /// [`min_quality`](Self::min_quality)), then the picture size, then
    /// the frame rate, to keep each frame within
    /// [`max_latency`](Self::max_latency), and climbs back as the link
    /// allows (see [`adapt`](crate::adapt)). Never above the configured
    /// quality, size and rate. Off, every frame has the configured quality
    /// and size, as before.
    pub fn adapt(mut self, on: bool) -> Self {
        self.adapt = on;
        self
    }

    /// The lowest JPEG quality the rate control goes down to before it makes
    /// pictures smaller (default
    /// [`DEFAULT_MIN_QUALITY`](crate::adapt::DEFAULT_MIN_QUALITY); 1..=100,
    /// [`start`](Self::start) refuses others).
    pub fn min_quality(mut self, quality: u8) -> Self {
        self.min_quality = quality;
        self
    }

    /// The latency budget the rate control keeps frames within, from
    /// capture to arrival (default
    /// [`DEFAULT_MAX_LATENCY`](crate::adapt::DEFAULT_MAX_LATENCY)).
    pub fn max_latency(mut self, latency: Duration) -> Self {
        self.max_latency = latency;
        self
    }

    /// How many bytes may wait unsent in the kernel before the send stage
    /// holds the next frame back (`TCP_NOTSENT_LOWAT`; default
    /// [`DEFAULT_UNSENT_LIMIT`](crate::limits::DEFAULT_UNSENT_LIMIT)). A
    /// frame starts only once less than this is waiting, so stale frames
    /// never queue in the socket: a newer frame replaces one that could
    /// not start.
    pub fn unsent_limit(mut self, bytes: u32) -> Self {
        self.unsent_limit = bytes;
        self
    }

    /// Connects with TLS, verifying the receiver's certificate with
    /// `config` (see `framecast_tls::ClientTls`) against the host name in
    /// the address (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(TlsClient { config });
        self
    }

    /// Sends `token` in the session handshake, for a receiver that
    /// requires one (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn token(mut self, token: framecast_tls::Token) -> Self {
        self.token = Some(token);
        self
    }

    /// The stream's name, sent in the session handshake: the receiver
    /// shows and counts the stream under it (default: none, and the
    /// receiver uses this sender's address). At most
    /// [`MAX_NAME_LEN`](crate::handshake::MAX_NAME_LEN) bytes, no control
    /// characters; [`start`](Self::start) checks.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// When to give up: after this many failed attempts in a row (default
    /// [`Retry::default`]), or never.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How long one write may block before the connection is given up and
    /// made again (default [`DEFAULT_WRITE_TIMEOUT`]); also the bound on
    /// unacknowledged data (`TCP_USER_TIMEOUT`).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// How long to wait for the receiver's answer to the hello (default
    /// [`DEFAULT_STATUS_TIMEOUT`]).
    pub fn status_timeout(mut self, timeout: Duration) -> Self {
        self.status_timeout = timeout;
        self
    }

    /// Sees every connection event (connected, refused, failed). With a
    /// hook the sender logs events at debug level only; call
    /// [`log_sender_event`] from the hook to log them.
    pub fn on_event(mut self, hook: impl Fn(&SenderEvent<'_>) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The size frames are scaled to before encoding.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// The JPEG quality, 1..=100 ([`start`](Self::start) refuses others).
    pub fn quality(mut self, quality: u8) -> Self {
        self.quality = quality;
        self
    }

    /// The length prefix ([`Prefix::LegacyI64Le`] for the original server).
    pub fn framing(mut self, prefix: Prefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// The largest message sent; a larger one is an error.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
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

    /// Reconnect delays: the first, and the cap (default 100 ms and 5 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// How long one connection attempt may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Seeds the reconnect jitter (random by default), for reproducible
    /// tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls `hook` with every frame the encoder takes, on the encode thread
    /// (for a local preview). It should return quickly.
    pub fn on_frame(mut self, hook: impl FnMut(&Frame) + Send + 'static) -> Self {
        self.on_frame = Some(Box::new(hook));
        self
    }

    /// Starts the threads. Connecting happens in the background: a
    /// receiver that is not there yet is retried with backoff.
    pub fn start(self) -> Result<Sender, StreamError> {
        #[cfg(feature = "tls")]
        let token = self
            .token
            .as_ref()
            .map(|t| t.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        #[cfg(not(feature = "tls"))]
        let token = Vec::new();
        if self.prefix != Prefix::U32Le && !token.is_empty() {
            return Err(StreamError::Config {
                what: "framing",
                reason: "the legacy framing cannot carry a token (it has no handshake)",
            });
        }
        #[cfg(feature = "tls")]
        if self.prefix != Prefix::U32Le && self.tls.is_some() {
            return Err(StreamError::Config {
                what: "framing",
                reason: "the legacy framing cannot carry TLS (the original programs cannot)",
            });
        }
        let hello = Hello {
            name: self.name.clone(),
            token,
            software: concat!("framecast/", env!("CARGO_PKG_VERSION")).to_owned(),
            // Only a sender that adapts reads what the receiver says back.
            feedback: if self.adapt {
                handshake::FEEDBACK_VERSION
            } else {
                0
            },
        };
        handshake::check_hello(&hello).map_err(|_| StreamError::Config {
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
        if self.unsent_limit == 0 {
            return bad("unsent_limit", "must be at least 1 byte");
        }
        if self.queue_depth == 0 {
            return bad("queue_depth", "must be at least 1");
        }
        if self.width == 0 || self.height == 0 {
            return bad("size", "width and height must be at least 1");
        }
        for (what, t) in [
            ("connect_timeout", self.connect_timeout),
            ("status_timeout", self.status_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if t.is_zero() {
                return bad(what, "must be longer than zero");
            }
        }
        #[cfg(feature = "nats")]
        let nats = nats::connect(&self)?;
        let format = self.source.format();
        let shared = Arc::new(SenderShared {
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_cv: Condvar::new(),
            raw: Latest::new(self.queue_depth, self.queue_depth + POOL_EXTRA),
            encoded: Latest::new(self.queue_depth, self.queue_depth + POOL_EXTRA),
            stale: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            live: format.live,
            realtime: format.live || format.paced_fps.is_some(),
            target: SharedTarget::default(),
            counters: Mutex::new(SenderStats::default()),
            socket: Mutex::new(None),
            started: Instant::now(),
            error: Mutex::new(None),
        });
        let mut threads = Vec::with_capacity(3);
        let spawn = |what: &'static str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(format!("framecast-{what}"))
                .spawn(f)
                .map_err(|source| StreamError::Spawn { what, source })
        };
        let capture = {
            let shared = Arc::clone(&shared);
            let (source, count) = (self.source, self.count);
            spawn(
                "capture",
                Box::new(move || capture_loop(&shared, source, count)),
            )
        };
        threads.push(("capture", capture?));
        let encoder = Encoder::new(self.width, self.height, self.quality)?;
        let encode = {
            let shared = Arc::clone(&shared);
            let hook = self.on_frame;
            spawn(
                "encode",
                Box::new(move || encode_loop(&shared, encoder, hook)),
            )
        };
        match encode {
            Ok(t) => threads.push(("encode", t)),
            Err(e) => {
                shared.stop();
                return Err(e);
            }
        }
        let control = self.adapt.then(|| {
            let fps = format.paced_fps.map_or(30, |f| f.round().max(1.0) as u32);
            crate::adapt::Controller::new(
                crate::adapt::AdaptConfig::new(self.width, self.height, fps)
                    .with_max_quality(self.quality)
                    .with_min_quality(self.min_quality)
                    .with_max_latency(self.max_latency),
            )
        });
        let link = Link {
            unsent_limit: self.unsent_limit,
            to: self.to,
            codec: FrameCodec::with_prefix(self.prefix).max_frame_len(self.max_frame_len),
            size: (self.width, self.height),
            hello,
            hook: self.hook,
            status_timeout: self.status_timeout,
            connect_timeout: self.connect_timeout,
            write_timeout: self.write_timeout,
            retry: self.retry,
            failures: 0,
            #[cfg(feature = "tls")]
            tls: self.tls,
            backoff: Backoff::new(
                self.initial_backoff,
                self.max_backoff,
                self.seed.unwrap_or_else(rand::random),
            ),
        };
        let send_stage: Box<dyn FnOnce() + Send> = {
            let shared = Arc::clone(&shared);
            let count = self.count;
            Box::new(move || send_loop(&shared, link, count, control))
        };
        #[cfg(feature = "nats")]
        let send_stage = nats::send_stage(nats, &shared, self.count).unwrap_or(send_stage);
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

#[derive(Debug)]
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
    counters: Mutex<SenderStats>,
    /// The open connection, so that stopping can unblock a write.
    socket: Mutex<Option<TcpStream>>,
    started: Instant,
    error: Mutex<Option<StreamError>>,
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
        if let Some(s) = lock(&self.socket).as_ref() {
            let _ = s.shutdown(Shutdown::Both);
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

    /// Frames captured that will never be sent: gone stale, replaced at
    /// the socket, or left out by the rate control.
    fn not_sent(&self) -> u64 {
        self.stale.load(Ordering::SeqCst)
            + self.replaced.load(Ordering::SeqCst)
            + self.encoded.dropped()
            + lock(&self.counters).skipped
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
