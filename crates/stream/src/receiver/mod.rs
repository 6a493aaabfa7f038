//! The receiving engine: network I/O on one tokio runtime, CPU work on a
//! fixed pool of worker threads, joined by per-stream latest-wins slots.
//!
//! ```text
//!  tokio runtime (io_threads)                      worker threads (workers)
//!  ┌───────────────────────────────┐
//!  │ accept ─▶ task per connection │   stream slot      ┌─────────────────────┐
//!  │   handshake, then frames:     │──▶ (latest wins) ──▶│ fair round-robin:   │
//!  │   read into recycled buffers, │   stream.latest    │ decode, scale, show │
//!  │   check Video + JPEG header,  │──▶ (watch: viewers,│ via the sinks (one  │
//!  │   idle/trickle timeouts       │    snapshots)      │ set per worker)     │
//!  └───────────────────────────────┘   subscribe()      └─────────────────────┘
//!                                      (every frame: recorders, publishers)
//! ```
//!
//! Nothing a peer sends can block another peer: each connection has its own
//! task, its own timeouts and its own buffers (bounded by what arrived), and
//! the workers take streams in turn, so an expensive stream loses its own
//! frames, not others'. See `ARCHITECTURE.md` and `docs/reliability.md`.

mod conn;
mod pool;
mod state;

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use framecast_display::{DisplayError, EncodedFrame, FrameSink, Verdict};
use framecast_wire::Prefix;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use self::pool::{Pool, Work};
pub(crate) use self::state::lock;
use self::state::{Registry, StreamState, rate};
use crate::error::StreamError;
use crate::events::{EndCause, ReceiverEvent, ReceiverHook, log_receiver_event};
use crate::frame::{Frame, StreamEvent, StreamId};
use crate::limits::*;
use crate::stats::{LatencyHistogram, ReceiverStats, StreamStats, TimeoutCounts, secs};
use crate::util::now_us;
use crate::{Stop, StopHandle};

/// How many frames [`Receiver::subscribe`] can fall behind before it
/// misses some (it is then told how many).
pub const SUBSCRIBER_BACKLOG: usize = 256;

/// Makes the sinks of one worker; called once per worker, with its index,
/// on [`ReceiverBuilder::start`].
pub type SinkFactory = Box<dyn Fn(usize) -> Result<Box<dyn FrameSink>, DisplayError> + Send + Sync>;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) prefix: Prefix,
    pub(crate) max_frame_len: usize,
    pub(crate) max_clients: usize,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) max_pixels: u64,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) trickle_timeout: Duration,
    pub(crate) max_ended_streams: usize,
    pub(crate) max_clock_skew: Duration,
    pub(crate) max_latency_age: Duration,
    pub(crate) busy_retry_after: Duration,
    pub(crate) frame_buffers: usize,
    pub(crate) count: Option<u64>,
    pub(crate) sink_delay: Duration,
    pub(crate) workers: usize,
    pub(crate) io_threads: usize,
    /// TLS on every connection, when set.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Acceptor>,
    /// The token every hello must carry, when set.
    #[cfg(feature = "tls")]
    pub(crate) token: Option<framecast_tls::Token>,
}

/// A TLS acceptor that can be printed (without its keys).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct Acceptor(tokio_rustls::TlsAcceptor);

#[cfg(feature = "tls")]
impl std::ops::Deref for Acceptor {
    type Target = tokio_rustls::TlsAcceptor;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsAcceptor")
    }
}

/// Configures and starts a [`Receiver`].
///
/// Every limit has a documented default (see [`crate::limits`]); a value
/// that cannot work (zero workers, a zero timeout) makes
/// [`start`](Self::start) fail with [`StreamError::Config`] rather than
/// being quietly changed.
pub struct ReceiverBuilder {
    listen: SocketAddr,
    config: Config,
    sinks: Option<SinkFactory>,
    hook: Option<ReceiverHook>,
}

impl std::fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("listen", &self.listen)
            .field("config", &self.config)
            .field("sinks", &self.sinks.is_some())
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    /// A receiver that will listen on `listen` (port 0 picks a free port;
    /// see [`Receiver::local_addr`]), with the framecast framing, every
    /// default limit, and no sink (frames are counted as shown and
    /// dropped).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            config: Config {
                prefix: Prefix::U32Le,
                max_frame_len: framecast_wire::DEFAULT_MAX_FRAME_LEN,
                max_clients: DEFAULT_MAX_CLIENTS,
                max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
                max_pixels: DEFAULT_MAX_PIXELS,
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                trickle_timeout: DEFAULT_TRICKLE_TIMEOUT,
                max_ended_streams: DEFAULT_MAX_ENDED_STREAMS,
                max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
                max_latency_age: DEFAULT_MAX_LATENCY_AGE,
                busy_retry_after: DEFAULT_BUSY_RETRY_AFTER,
                frame_buffers: FRAME_BUFFERS_PER_STREAM,
                count: None,
                sink_delay: Duration::ZERO,
                workers: default_workers(),
                io_threads: DEFAULT_IO_THREADS,
                #[cfg(feature = "tls")]
                tls: None,
                #[cfg(feature = "tls")]
                token: None,
            },
            sinks: None,
            hook: None,
        }
    }

    /// The length prefix senders use ([`Prefix::LegacyI64Le`] for the
    /// original Python client; that framing has no session handshake).
    pub fn framing(mut self, prefix: Prefix) -> Self {
        self.config.prefix = prefix;
        self
    }

    /// The largest frame accepted (default: the wire's 8 MiB); a sender
    /// announcing a longer one is disconnected.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.config.max_frame_len = len;
        self
    }

    /// How many senders are served at once (default
    /// [`DEFAULT_MAX_CLIENTS`]); the next one is refused as busy.
    pub fn max_clients(mut self, n: usize) -> Self {
        self.config.max_clients = n;
        self
    }

    /// How many connections may wait for their handshake at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`]).
    pub fn max_pending_handshakes(mut self, n: usize) -> Self {
        self.config.max_pending_handshakes = n;
        self
    }

    /// The largest picture decoded, in pixels (default
    /// [`DEFAULT_MAX_PIXELS`]); a frame whose JPEG header says more is
    /// corrupt.
    pub fn max_pixels(mut self, pixels: u64) -> Self {
        self.config.max_pixels = pixels;
        self
    }

    /// How long a connection has to send its hello (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.config.handshake_timeout = t;
        self
    }

    /// How long a stream may go without a complete frame (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.config.idle_timeout = t;
        self
    }

    /// How long one frame may take from its first byte to its last
    /// (default [`DEFAULT_TRICKLE_TIMEOUT`]).
    pub fn trickle_timeout(mut self, t: Duration) -> Self {
        self.config.trickle_timeout = t;
        self
    }

    /// How many ended streams keep their own counters in the stats
    /// (default [`DEFAULT_MAX_ENDED_STREAMS`]).
    pub fn max_ended_streams(mut self, n: usize) -> Self {
        self.config.max_ended_streams = n;
        self
    }

    /// The capture-time window that counts towards latency: at most `skew`
    /// in the future, at most `max_age` in the past (defaults
    /// [`DEFAULT_MAX_CLOCK_SKEW`], [`DEFAULT_MAX_LATENCY_AGE`]).
    pub fn latency_window(mut self, skew: Duration, max_age: Duration) -> Self {
        self.config.max_clock_skew = skew;
        self.config.max_latency_age = max_age;
        self
    }

    /// What a busy receiver asks senders to wait before trying again
    /// (default [`DEFAULT_BUSY_RETRY_AFTER`]).
    pub fn busy_retry_after(mut self, t: Duration) -> Self {
        self.config.busy_retry_after = t;
        self
    }

    /// Stops after `n` frames were received over all streams (shown,
    /// dropped or corrupt): a script that sends `n` frames always ends.
    pub fn count(mut self, n: u64) -> Self {
        self.config.count = Some(n);
        self
    }

    /// Decode workers (default: one per available core).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n;
        self
    }

    /// Threads of the network runtime (default [`DEFAULT_IO_THREADS`]).
    pub fn io_threads(mut self, n: usize) -> Self {
        self.config.io_threads = n;
        self
    }

    /// The sinks: `factory` is called once per worker (with its index) and
    /// the worker hands every frame it takes to what it returned. Use
    /// [`framecast_display::Tee`] for several.
    pub fn sinks(
        mut self,
        factory: impl Fn(usize) -> Result<Box<dyn FrameSink>, DisplayError> + Send + Sync + 'static,
    ) -> Self {
        self.sinks = Some(Box::new(factory));
        self
    }

    /// Requires TLS on every connection, with this server configuration
    /// (see `framecast_tls::ServerTls`). A plaintext sender is refused with
    /// a status saying TLS is required (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: std::sync::Arc<rustls::ServerConfig>) -> Self {
        self.config.tls = Some(Acceptor(tokio_rustls::TlsAcceptor::from(config)));
        self
    }

    /// Requires every sender's hello to carry `token` (compared in constant
    /// time); others are refused as unauthenticated before any frame is
    /// read (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn token(mut self, token: framecast_tls::Token) -> Self {
        self.config.token = Some(token);
        self
    }

    /// Sees every event (connections, refusals, timeouts). With a hook the
    /// receiver logs events at debug level only; call
    /// [`log_receiver_event`] from the hook to log them.
    pub fn on_event(mut self, hook: impl Fn(&ReceiverEvent<'_>) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Makes each worker sleep this long per frame: a test knob that
    /// simulates a slow display.
    pub fn sink_delay(mut self, delay: Duration) -> Self {
        self.config.sink_delay = delay;
        self
    }

    fn check(&self) -> Result<(), StreamError> {
        let c = &self.config;
        let bad =
            |what: &'static str, reason: &'static str| Err(StreamError::Config { what, reason });
        if c.max_clients == 0 {
            return bad("max_clients", "must be at least 1");
        }
        if c.max_pending_handshakes == 0 {
            return bad("max_pending_handshakes", "must be at least 1");
        }
        if c.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if c.io_threads == 0 {
            return bad("io_threads", "must be at least 1");
        }
        if c.max_pixels == 0 {
            return bad("max_pixels", "must be at least 1");
        }
        for (what, t) in [
            ("handshake_timeout", c.handshake_timeout),
            ("idle_timeout", c.idle_timeout),
            ("trickle_timeout", c.trickle_timeout),
        ] {
            if t.is_zero() {
                return bad(what, "must be longer than zero");
            }
        }
        if c.count == Some(0) {
            return bad("count", "must be at least 1");
        }
        #[cfg(feature = "tls")]
        if c.prefix != Prefix::U32Le && (c.tls.is_some() || c.token.is_some()) {
            return bad(
                "framing",
                "the legacy framing cannot carry TLS or a token (it has no handshake)",
            );
        }
        Ok(())
    }

    /// Binds the address, starts the network runtime and the workers.
    ///
    /// # Errors
    ///
    /// [`StreamError::Config`] for a setting that cannot work,
    /// [`StreamError::Bind`] when the address cannot be listened on,
    /// [`StreamError::Display`] when a sink cannot be made,
    /// [`StreamError::Spawn`] when a thread cannot be started.
    pub fn start(self) -> Result<Receiver, StreamError> {
        self.check()?;
        let config = self.config;
        let bind = |source| StreamError::Bind {
            addr: self.listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(self.listen).map_err(bind)?;
        let local_addr = std_listener.local_addr().map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads)
            .thread_name("framecast-io")
            .enable_all()
            .build()
            .map_err(|source| StreamError::Spawn { what: "io", source })?;
        let listener = {
            let _enter = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        let mut sinks = Vec::with_capacity(config.workers);
        for i in 0..config.workers {
            sinks.push(match &self.sinks {
                Some(factory) => Some(factory(i)?),
                None => None,
            });
        }
        let (frames_tx, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
        let shared = Arc::new(Shared {
            registry: Registry::new(config.max_clients, config.max_ended_streams),
            pool: Pool::new(config.workers, config.max_clients),
            cancel: CancellationToken::new(),
            counters: Counters::default(),
            frames_tx: Mutex::new(Some(frames_tx)),
            hook: self.hook,
            started: Instant::now(),
            error: Mutex::new(None),
            config,
        });
        let mut workers = Vec::with_capacity(sinks.len());
        for (i, sink) in sinks.into_iter().enumerate() {
            let s = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("framecast-worker-{i}"))
                .spawn(move || worker(i, &s, sink));
            match spawned {
                Ok(t) => workers.push(t),
                Err(source) => {
                    shared.stop();
                    shared.pool.close();
                    return Err(StreamError::Spawn {
                        what: "worker",
                        source,
                    });
                }
            }
        }
        runtime.spawn(conn::serve(Arc::clone(&shared), listener));
        tracing::debug!(%local_addr, "listening");
        Ok(Receiver {
            local_addr,
            shared,
            runtime: Some(runtime),
            workers,
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) handshake_failures: AtomicU64,
    pub(crate) timeout_handshake: AtomicU64,
    pub(crate) timeout_idle: AtomicU64,
    pub(crate) timeout_trickle: AtomicU64,
    /// Hellos refused for a missing or wrong token.
    pub(crate) unauthenticated: AtomicU64,
    /// Connections open now (handshaking or streaming).
    pub(crate) open: AtomicUsize,
    /// Frames received over all streams, for `count`.
    pub(crate) received: AtomicU64,
}

/// What the network tasks and the workers of one receiver share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) pool: Pool,
    /// Cancelled when the receiver stops: the accept loop and every
    /// connection end; the pool is closed once they all have.
    pub(crate) cancel: CancellationToken,
    pub(crate) counters: Counters,
    /// Taken (closing every subscription) once the receiver has stopped.
    frames_tx: Mutex<Option<broadcast::Sender<StreamEvent>>>,
    hook: Option<ReceiverHook>,
    started: Instant,
    error: Mutex<Option<StreamError>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Stop for Shared {
    fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Shared {
    /// Whether a hello's token lets it in: any token when none is
    /// required, else the right one (compared in constant time).
    pub(crate) fn authenticated(&self, token: &[u8]) -> bool {
        #[cfg(feature = "tls")]
        if let Some(required) = &self.config.token {
            return required.matches(token);
        }
        let _ = token;
        true
    }

    pub(crate) fn event(&self, event: &ReceiverEvent<'_>) {
        match &self.hook {
            Some(hook) => {
                tracing::debug!("{event}");
                hook(event);
            }
            None => log_receiver_event(event, None),
        }
    }

    /// Hands an accepted frame to its consumers: the latest-frame watch,
    /// the subscribers, and the workers' slot (latest wins).
    pub(crate) fn deliver(&self, stream: &Arc<StreamState>, frame: Frame) {
        stream.latest.send_replace(Some(frame.clone()));
        if let Some(tx) = lock(&self.frames_tx).as_ref()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(StreamEvent::Frame(frame.clone()));
        }
        if self.pool.put(stream, frame) {
            stream.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one received frame; returns whether `count` was reached (the
    /// receiver is then stopping).
    pub(crate) fn count_received(&self) -> bool {
        let total = self.counters.received.fetch_add(1, Ordering::SeqCst) + 1;
        if self.config.count.is_some_and(|n| total >= n) {
            if !self.cancel.is_cancelled() {
                tracing::info!(frames = total, "frame count reached");
            }
            self.stop();
            return true;
        }
        false
    }

    /// The streams not yet retired (see [`Receiver::streams`]).
    pub(crate) fn stream_handles(&self) -> Vec<StreamHandle> {
        self.registry.live().into_iter().map(StreamHandle).collect()
    }

    /// A stream not yet retired, by number.
    pub(crate) fn stream_handle(&self, id: StreamId) -> Option<StreamHandle> {
        self.registry.get(id).map(StreamHandle)
    }

    /// A stream's session is over: report it, and let a worker show what
    /// is left and retire it.
    pub(crate) fn end_stream(&self, stream: &Arc<StreamState>, cause: &EndCause) {
        if let Some(tx) = lock(&self.frames_tx).as_ref()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(StreamEvent::Ended(stream.id));
        }
        self.event(&ReceiverEvent::StreamEnded {
            id: stream.id,
            name: &stream.name,
            peer: stream.peer,
            cause,
        });
        self.pool.schedule(stream);
    }

    fn fail(&self, e: StreamError) {
        // The caller gets the error from `wait`; logged here only for
        // debugging, so that a program prints it once.
        tracing::debug!("receiver failed: {}", crate::error::Report(&e));
        lock(&self.error).get_or_insert(e);
        self.stop();
    }

    fn snapshot(&self) -> ReceiverStats {
        self.snapshot_with_latency().0
    }

    /// The stats, and the latency histogram over every stream they were
    /// computed from (one consistent read), for the metrics endpoint.
    pub(crate) fn snapshot_with_latency(&self) -> (ReceiverStats, LatencyHistogram) {
        let snap = self.registry.snapshot();
        let seconds = secs(self.started.elapsed());
        let connected_seconds = secs(snap.connected);
        let c = &self.counters;
        let stats = ReceiverStats {
            frames: snap.totals.frames,
            received: snap.totals.received,
            dropped: snap.totals.dropped,
            corrupt: snap.totals.corrupt,
            clock_skew: snap.totals.clock_skew,
            bytes: snap.totals.bytes,
            seconds,
            connected_seconds,
            fps: rate(snap.totals.frames, connected_seconds),
            latency_ms: snap.latency.summary(),
            streams: snap.accepted,
            active_streams: snap.active,
            refused: c.refused.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            handshake_failures: c.handshake_failures.load(Ordering::Relaxed),
            unauthenticated: c.unauthenticated.load(Ordering::Relaxed),
            timeouts: TimeoutCounts {
                handshake: c.timeout_handshake.load(Ordering::Relaxed),
                idle: c.timeout_idle.load(Ordering::Relaxed),
                trickle: c.timeout_trickle.load(Ordering::Relaxed),
            },
            per_stream: snap.per_stream,
        };
        (stats, snap.latency)
    }
}

/// A running receiver. Dropping it stops it.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct Receiver {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    workers: Vec<JoinHandle<()>>,
}

impl Receiver {
    /// The address it listens on (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The counters now.
    pub fn stats(&self) -> ReceiverStats {
        self.shared.snapshot()
    }

    /// Frames received so far over all streams (shown, dropped or
    /// corrupt): one atomic load, for callers that poll often (the whole
    /// [`stats`](Self::stats) snapshot allocates).
    pub fn frames_received(&self) -> u64 {
        self.shared.counters.received.load(Ordering::Relaxed)
    }

    /// The streams connected now.
    pub fn streams(&self) -> Vec<StreamHandle> {
        self.shared.stream_handles()
    }

    /// A connected stream, by number.
    pub fn stream(&self, id: StreamId) -> Option<StreamHandle> {
        self.shared.stream_handle(id)
    }

    /// Changes whenever a stream starts or ends (a counter): for pages that
    /// list the streams.
    pub fn stream_changes(&self) -> watch::Receiver<u64> {
        self.shared.registry.changes()
    }

    /// Every frame accepted from now on, from every stream, before the
    /// workers' drop policy, and the end of every stream: for recorders and
    /// publishers. A subscriber more than [`SUBSCRIBER_BACKLOG`] events
    /// behind misses the oldest and is told how many (`RecvError::Lagged`).
    /// The subscription ends (`RecvError::Closed`) once the receiver has
    /// stopped.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        match lock(&self.shared.frames_tx).as_ref() {
            Some(tx) => tx.subscribe(),
            // Stopped: a subscription that is already over.
            None => broadcast::channel(1).1,
        }
    }

    /// What the network tasks and workers share (for the HTTP viewer).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The network runtime, to run tasks beside the receiver's own (an
    /// HTTP server, a publisher).
    pub fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Asks it to stop; returns at once (see [`Receiver::wait`]). Frames
    /// already read are still shown.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// A handle that can stop this receiver from another thread (a signal
    /// handler, a window's close button).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::new(Arc::clone(&self.shared) as Arc<dyn Stop>)
    }

    /// Whether it has stopped or is stopping (asked to, `count` reached, a
    /// window closed, or a sink failed).
    pub fn is_finished(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Waits until it has stopped and every worker has finished (sinks
    /// flushed), and returns the final counters, or the error that stopped
    /// it.
    ///
    /// # Errors
    ///
    /// The first sink failure ([`StreamError::Display`]), or
    /// [`StreamError::Panicked`] if a thread panicked (a bug).
    pub fn wait(mut self) -> Result<ReceiverStats, StreamError> {
        self.join()
    }

    /// [`Receiver::stop`] then [`Receiver::wait`].
    ///
    /// # Errors
    ///
    /// Those of [`Receiver::wait`].
    pub fn shutdown(self) -> Result<ReceiverStats, StreamError> {
        self.stop();
        self.wait()
    }

    fn join(&mut self) -> Result<ReceiverStats, StreamError> {
        let mut panicked = None;
        for t in self.workers.drain(..) {
            if t.join().is_err() {
                panicked = Some("worker");
                self.shared.stop();
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        // No frame can come any more: end every subscription.
        lock(&self.shared.frames_tx).take();
        if let Some(e) = lock(&self.shared.error).take() {
            return Err(e);
        }
        if let Some(what) = panicked {
            return Err(StreamError::Panicked(what));
        }
        Ok(self.shared.snapshot())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if self.runtime.is_some() {
            self.shared.stop();
            let _ = self.join();
        }
    }
}

/// One connected stream: its name, counters and newest frame.
#[derive(Debug, Clone)]
pub struct StreamHandle(Arc<StreamState>);

impl StreamHandle {
    /// Its number.
    pub fn id(&self) -> StreamId {
        self.0.id
    }

    /// Its name (the sender's, else its address).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The sender's address.
    pub fn peer(&self) -> SocketAddr {
        self.0.peer
    }

    /// Whether its session is still open.
    pub fn is_connected(&self) -> bool {
        self.0.is_connected()
    }

    /// Its newest accepted frame.
    pub fn latest(&self) -> Option<Frame> {
        self.0.latest.borrow().clone()
    }

    /// Its newest accepted frame, as a watch: `changed().await` wakes on
    /// each new frame, and a slow reader simply sees the newest one.
    pub fn watch(&self) -> watch::Receiver<Option<Frame>> {
        self.0.latest.subscribe()
    }

    /// Its counters now.
    pub fn stats(&self) -> StreamStats {
        self.0.snapshot()
    }
}

/// The body of one worker thread: take streams in turn, show their newest
/// frame through this worker's sink.
fn worker(index: usize, shared: &Shared, mut sink: Option<Box<dyn FrameSink>>) {
    let mut ended = Vec::with_capacity(shared.config.max_clients);
    let mut broken = false;
    while let Some(work) = shared.pool.next(index, &mut ended) {
        match work {
            Work::Ended => {
                if let Some(sink) = sink.as_mut() {
                    for &id in &ended {
                        sink.stream_ended(id);
                    }
                }
                ended.clear();
            }
            Work::Frame(stream, frame) => {
                if !broken && show(shared, sink.as_deref_mut(), &stream, &frame).is_break() {
                    broken = true;
                }
                drop(frame);
                shared.pool.done(stream);
            }
            Work::End(stream) => {
                if !stream.end_reported.swap(true, Ordering::SeqCst) {
                    shared.registry.retire(&stream);
                    shared.pool.announce_end(stream.id);
                }
                shared.pool.done(stream);
            }
            Work::Nothing(stream) => shared.pool.done(stream),
        }
    }
    if let Some(sink) = sink.as_mut()
        && let Err(e) = sink.finish()
    {
        shared.fail(StreamError::Display(e));
    }
}

/// Shows one frame; breaks when the receiver must stop.
fn show(
    shared: &Shared,
    sink: Option<&mut (dyn FrameSink + 'static)>,
    stream: &StreamState,
    frame: &Frame,
) -> ControlFlow<()> {
    let config = &shared.config;
    if !config.sink_delay.is_zero() {
        thread::sleep(config.sink_delay);
    }
    if let Some(sink) = sink {
        let encoded = EncodedFrame::new(stream.id, &stream.name, &frame.jpeg()[..])
            .with_sequence(frame.sequence())
            .with_capture_time_us(frame.capture_time_us())
            .with_source_size(frame.source_size());
        if let Err(e) = sink.show(&encoded) {
            match e.verdict() {
                Verdict::BadFrame => {
                    stream.corrupt.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stream = stream.id, "corrupt frame dropped: {e}");
                    return ControlFlow::Continue(());
                }
                Verdict::Skipped => {
                    stream.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stream = stream.id, "frame not shown: {e}");
                    return ControlFlow::Continue(());
                }
                Verdict::Closed => {
                    tracing::info!("the window was closed");
                    shared.stop();
                    return ControlFlow::Break(());
                }
                // `Fatal`, and any verdict added later: stop with the error.
                _ => {
                    shared.fail(StreamError::Display(e));
                    return ControlFlow::Break(());
                }
            }
        }
    }
    stream.shown.fetch_add(1, Ordering::Relaxed);
    if let Some(t) = frame.capture_time_us() {
        let now = now_us();
        let skew = config.max_clock_skew.as_micros() as u64;
        let max_age = config.max_latency_age.as_micros() as u64;
        if t > now.saturating_add(skew) || now.saturating_sub(t) > max_age {
            stream.clock_skew.fetch_add(1, Ordering::Relaxed);
        } else {
            let latency = now.saturating_sub(t);
            let mut l = lock(&stream.latency);
            l.whole.record(latency);
            l.recent.record(latency);
        }
    }
    ControlFlow::Continue(())
}
