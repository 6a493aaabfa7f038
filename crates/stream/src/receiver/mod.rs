//! The receiving engine: network I/O on one tokio runtime, CPU work on a
//! fixed pool of worker threads, joined by per-stream latest-wins slots.
//!
//! ```text
//!  tokio runtime (io_threads)                      worker threads (workers)
//!  ┌───────────────────────────────┐
//!  │ accept ─▶ task per connection │   stream slot      ┌─────────────────────┐
//!  │   handshake, then frames:     │──▶ (latest wins) ──▶│ fair by cost:       │
//!  │   read into recycled buffers, │   stream.latest    │ decode, scale, show │
//!  │   check Video + JPEG header,  │    subscribe()     │ via the sinks (one  │
//!  │   idle/trickle timeouts       │    (every frame:   │ set per worker)     │
//!  └───────────────────────────────┘    recorders)      └──────────┬──────────┘
//!                                       stream.latest (watch: viewers, ◀──┤ shown
//!                                       snapshots), subscribe_shown()  ◀──┘ frames
//!                                       (publishers)
//! ```
//!
//! Viewers and publishers get a frame only once a worker has shown it
//! (decoded without error): a frame whose header reads but whose picture
//! is damaged is counted as corrupt and never served or published. The
//! price is the decode time (and the wait for a worker) before a viewer
//! sees a frame; see `docs/reliability.md`.
//!
//! Nothing a peer sends can block another peer: each connection has its own
//! task, its own timeouts and its own buffers (bounded by what arrived), and
//! the workers share their time out by what each stream's frames cost (a
//! slow stream only on a slow lane of lower-priority threads), so an
//! expensive stream loses its own frames, not others'. See
//! `ARCHITECTURE.md` and `docs/reliability.md`.
//!
//! This module holds the engine's shared state and the running
//! [`Receiver`]; `builder` its settings, `handle` the [`ReceiverHandle`]
//! adapters use, `ingest` the port every transport feeds frames through,
//! `conn` the TCP connection tasks (one such transport), `pool` the ready
//! queue, fair by cost, `worker` the worker threads, `state` each stream's state
//! and the registry.

mod builder;
mod conn;
mod handle;
pub mod ingest;
mod pool;
mod state;
mod worker;

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use framecast_display::{DisplayError, EncodedFrame, FrameSink, Verdict};
use framecast_proto::handshake::StatusCode;
use framecast_wire::Prefix;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

pub use self::builder::ReceiverBuilder;
pub use self::handle::ReceiverHandle;
use self::pool::{Pool, Work};
pub(crate) use self::state::lock;
use self::state::{Registry, StreamState, rate};
use self::worker::worker;
use crate::error::StreamError;
use crate::events::{EndCause, LogLimiter, ReceiverEvent, ReceiverHook};
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
    pub(crate) slow_frame: Duration,
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
    /// Adapters' tasks that feed or follow streams
    /// ([`ReceiverHandle::spawn`]): the pool is closed only once they have
    /// ended too.
    pub(crate) tasks: tokio_util::task::TaskTracker,
    pub(crate) counters: Counters,
    /// Every accepted frame ([`ReceiverHandle::subscribe`]); taken (closing
    /// every subscription) once the receiver has stopped.
    pub(crate) frames_tx: Mutex<Option<broadcast::Sender<StreamEvent>>>,
    /// Every frame the workers showed
    /// ([`ReceiverHandle::subscribe_shown`]); taken with `frames_tx`.
    pub(crate) shown_tx: Mutex<Option<broadcast::Sender<StreamEvent>>>,
    hook: Option<ReceiverHook>,
    /// This receiver's event lines, rate-limited per kind.
    log: LogLimiter,
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

    /// Passes an event to the hook, then logs it (with the hook's hint)
    /// through this receiver's own limiter.
    pub(crate) fn event(&self, event: &ReceiverEvent<'_>) {
        let hint = self.hook.as_ref().and_then(|hook| hook(event));
        event.log(&self.log, hint);
    }

    /// Counts and reports a refused peer.
    pub(crate) fn refuse(&self, peer: SocketAddr, code: StatusCode, reason: &str) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        self.event(&ReceiverEvent::Refused { peer, code, reason });
    }

    /// Hands an accepted frame to the subscribers of every frame (the
    /// recorders) and to the workers' slot (latest wins). Viewers and
    /// publishers get it only once a worker has shown it
    /// ([`hand_on`](Self::hand_on)): a frame whose picture turns out to be
    /// damaged when decoded never reaches them.
    pub(crate) fn deliver(&self, stream: &Arc<StreamState>, frame: Frame) {
        if let Some(tx) = lock(&self.frames_tx).as_ref()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(StreamEvent::Frame(frame.clone()));
        }
        if self.pool.put(stream, frame) {
            stream.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands a frame the workers showed (decoded without error) to the
    /// latest-frame watch (viewers, snapshots) and the subscribers of shown
    /// frames (publishers).
    pub(crate) fn hand_on(&self, stream: &StreamState, frame: &Frame) {
        stream.latest.send_replace(Some(frame.clone()));
        if let Some(tx) = lock(&self.shown_tx).as_ref()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(StreamEvent::Frame(frame.clone()));
        }
    }

    /// A stream was retired (its last frame dealt with): the subscribers of
    /// shown frames get no more of it.
    pub(crate) fn retired(&self, id: StreamId) {
        if let Some(tx) = lock(&self.shown_tx).as_ref()
            && tx.receiver_count() > 0
        {
            let _ = tx.send(StreamEvent::Ended(id));
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
    /// computed from (one consistent read), for a metrics endpoint.
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
    handle: ReceiverHandle,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    workers: Vec<JoinHandle<()>>,
}

impl Receiver {
    /// The address it listens on (with the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The handle adapters use (an HTTP viewer, a publisher, another
    /// transport): cheap to clone, and usable from any thread or task.
    pub fn handle(&self) -> ReceiverHandle {
        self.handle.clone()
    }

    /// The counters now.
    pub fn stats(&self) -> ReceiverStats {
        self.handle.stats()
    }

    /// Frames received so far over all streams (shown, dropped or
    /// corrupt): one atomic load, for callers that poll often (the whole
    /// [`stats`](Self::stats) snapshot allocates).
    pub fn frames_received(&self) -> u64 {
        self.handle.frames_received()
    }

    /// The streams connected now (see [`ReceiverHandle::streams`]).
    pub fn streams(&self) -> Vec<StreamHandle> {
        self.handle.streams()
    }

    /// A connected stream, by number.
    pub fn stream(&self, id: StreamId) -> Option<StreamHandle> {
        self.handle.stream(id)
    }

    /// Changes whenever a stream starts or ends (a counter): for pages that
    /// list the streams.
    pub fn stream_changes(&self) -> watch::Receiver<u64> {
        self.handle.stream_changes()
    }

    /// Every frame accepted from now on (see
    /// [`ReceiverHandle::subscribe`]). A subscriber more than
    /// [`SUBSCRIBER_BACKLOG`] events behind misses the oldest and is told
    /// how many.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.handle.subscribe()
    }

    /// Every frame the workers show from now on (see
    /// [`ReceiverHandle::subscribe_shown`]).
    pub fn subscribe_shown(&self) -> broadcast::Receiver<StreamEvent> {
        self.handle.subscribe_shown()
    }

    /// The network runtime, to run tasks beside the receiver's own (see
    /// [`ReceiverHandle::spawn`] for tasks tied to its lifetime).
    pub fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.handle.runtime().cloned()
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
        self.handle.is_stopping()
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
        lock(&self.shared.shown_tx).take();
        if let Some(e) = lock(&self.shared.error).take() {
            return Err(e);
        }
        if let Some(what) = panicked {
            return Err(StreamError::Panicked(what));
        }
        Ok(self.shared.snapshot())
    }
}

/// Adapters take `&impl AsRef<ReceiverHandle>`: a receiver or its handle.
impl AsRef<ReceiverHandle> for Receiver {
    fn as_ref(&self) -> &ReceiverHandle {
        &self.handle
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

    /// Its newest frame the workers showed: decoded without error by the
    /// sinks (or, for a receiver without sinks, that passed the checks). A
    /// frame found damaged when decoded is never here.
    pub fn latest(&self) -> Option<Frame> {
        self.0.latest.borrow().clone()
    }

    /// Its newest shown frame (as [`latest`](Self::latest)), as a watch:
    /// `changed().await` wakes on each new one, and a slow reader simply
    /// sees the newest.
    pub fn watch(&self) -> watch::Receiver<Option<Frame>> {
        self.0.latest.subscribe()
    }

    /// Its counters now.
    pub fn stats(&self) -> StreamStats {
        self.0.snapshot()
    }

    /// Asks its sender to keep within `settings` from now on (a viewer that
    /// wants less, an operator's choice): the ask travels in the session's
    /// feedback with the next frame, and a sender that adapts treats it as
    /// its new ceiling. Replaces any earlier ask. Returns whether the
    /// sender reads feedback at all (a sender that does not, or the legacy
    /// framing, never learns of it).
    pub fn ask_sender(&self, settings: framecast_proto::handshake::Settings) -> bool {
        *lock(&self.0.asked) = (Some(settings), true);
        self.0.feedback.load(Ordering::Relaxed)
    }

    /// Why its sender cannot be asked anything ([`ask_sender`](Self::ask_sender)
    /// would reach no one), as a sentence: the legacy framing, a sender
    /// that did not ask for feedback, a transport that carries nothing
    /// back (NATS); `None` when the sender reads what it is asked.
    pub fn asks_refused(&self) -> Option<String> {
        if self.0.feedback.load(Ordering::Relaxed) {
            None
        } else {
            Some(lock(&self.0.no_asks).clone().into_owned())
        }
    }

    /// What it last asked its sender ([`ask_sender`](Self::ask_sender)),
    /// for as long as the session lasts; `None` before any ask.
    pub fn asked(&self) -> Option<framecast_proto::handshake::Settings> {
        lock(&self.0.asked).0
    }

    /// Its capture-to-shown latency over the whole session (every frame
    /// that carried a trusted capture time): a copy, for a per-stream
    /// histogram (the HTTP viewer's `/metrics`).
    pub fn latency(&self) -> LatencyHistogram {
        lock(&self.0.latency).whole.clone()
    }
}
