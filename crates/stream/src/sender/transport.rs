//! The sender's transport seam: what its frames travel over. TCP to a
//! receiver is one transport ([`TcpDestination`]); a NATS subject is
//! another (in `framecast-nats`); anything that can take encoded `Video`
//! messages can be a third ([`Destination::transport`]).
//!
//! The sender's send stage drives its transport from one thread, in this
//! order, for every frame:
//!
//! ```text
//!  encode stage ──▶ [messages] ─┐
//!                               │ 1. wait until a message is queued (not taken:
//!                               │    a source that has ended opens nothing)
//!                               │ 2. transport.ready(cx): block until the
//!                               │    transport can take a whole new frame now
//!                               │    (open a session, reconnect, wait for room)
//!                               │ 3. take the newest message; one captured before
//!                               │    the session opened after a loss is stale:
//!                               │    dropped and counted
//!                               └ 4. transport.send(frame, cx): Sent, Dropped
//!                                    or Lost (the session is over)
//!  at the end: transport.finish(cx)
//! ```
//!
//! Because `ready` comes before a frame is taken, a transport that knows
//! when its link can take another frame (TCP with `TCP_NOTSENT_LOWAT` and
//! writability; a link with a rate controller) gets the newest frame at the
//! moment it is ready, never one that waited behind the link.
//!
//! [`SendContext`] is how a transport talks to its sender: whether it is
//! stopping, an interruptible sleep, a way to unblock a blocking write when
//! it stops, its events (for logs and the program's hints), and the
//! sessions it opens and refusals it meets (for the stats). It is where
//! messages a receiver sends back on a session (feedback: delivery and
//! queueing measurements, later requests for another quality, size or frame
//! rate) reach the sender: a transport that reads them (between frames, in
//! `ready`) hands them on through the context.

use std::sync::atomic::Ordering;
use std::time::Duration;

use framecast_proto::handshake::Feedback;
use framecast_proto::video::VideoRef;

use super::pipeline::Encoded;
use super::{SenderShared, TcpDestination};
use crate::adapt::Controller;
use crate::error::StreamError;
use crate::events::{SenderEvent, SenderHook};
use crate::util::lock;

/// What a transport is told of the stream it carries, once, before the
/// first frame.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The stream's name ([`SenderBuilder::name`](crate::SenderBuilder::name));
    /// empty when none was given.
    pub name: String,
    /// The width frames are sent at.
    pub width: u32,
    /// The height frames are sent at.
    pub height: u32,
    /// Whether the sender reads feedback (it adapts to its link): a
    /// transport that can carry feedback from the other end asks for it and
    /// hands what arrives to [`SendContext::feedback`].
    pub feedback: bool,
}

/// One encoded frame, lent to [`Transport::send`].
#[derive(Debug, Clone, Copy)]
pub struct OutgoingFrame<'a> {
    encoded: &'a Encoded,
}

impl<'a> OutgoingFrame<'a> {
    pub(super) fn new(encoded: &'a Encoded) -> Self {
        Self { encoded }
    }

    /// The `Video` message around the borrowed JPEG: what goes on the wire
    /// (`prost::Message::encode` it, or frame it with
    /// `framecast_wire::FrameWriter::write_message`).
    pub fn message(&self) -> VideoRef<'a> {
        self.encoded.message()
    }

    /// The length of the encoded message in bytes.
    pub fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(&self.message())
    }

    /// When the frame was captured, in µs since the Unix epoch.
    pub fn capture_time_us(&self) -> u64 {
        self.encoded.capture_time_us()
    }

    /// The sender's frame counter.
    pub fn sequence(&self) -> u64 {
        self.encoded.meta.sequence
    }
}

/// What [`Transport::ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ready {
    /// A session is open and can take a whole frame now.
    Ready,
    /// Not ready yet, but something needs the send stage first (a message
    /// from the receiver came in): it looks, then calls
    /// [`ready`](Transport::ready) again.
    NotYet,
    /// The sender is stopping: the send stage ends.
    Stopped,
}

/// What became of a frame given to [`Transport::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sent {
    /// On its way: written, published or handed over.
    Sent,
    /// Not sent, and the session goes on (a publish that timed out):
    /// counted with the sender's dropped frames.
    Dropped,
    /// Not sent, and the session is over: the next
    /// [`ready`](Transport::ready) opens another, and frames captured
    /// before it opened are dropped as stale rather than sent late.
    Lost,
}

/// What a sender's frames travel over: TCP to a receiver
/// ([`TcpDestination`]), a NATS subject (`framecast-nats`), a receiver in
/// the same process, or anything else that takes encoded `Video` messages.
///
/// One thread calls it (see the [module docs](self)): [`start`](Self::start)
/// once, on the thread that starts the sender; then, for every frame,
/// [`ready`](Self::ready) and [`send`](Self::send); [`finish`](Self::finish)
/// at the end. Settings that only make sense for one transport (framing,
/// TLS, retries, timeouts) belong to it, not to the sender, so a sender
/// cannot be built with settings its transport ignores.
///
/// A transport owns its reconnection policy: `ready` blocks while it
/// connects and retries, and returns an error once it gives up. It sleeps
/// with [`SendContext::sleep`] and makes its blocking calls interruptible
/// with [`SendContext::set_interrupt`], so that stopping the sender never
/// waits for a timeout.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// use framecast_capture::{SourceOptions, SourceSpec, open_source};
/// use framecast_stream::transport::{OutgoingFrame, Ready, SendContext, Sent, Transport};
/// use framecast_stream::{Destination, SenderBuilder, StreamError};
///
/// /// Keeps every message's sequence number.
/// struct Log(Arc<Mutex<Vec<u64>>>);
///
/// impl Transport for Log {
///     fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
///         if cx.is_stopped() {
///             return Ok(Ready::Stopped);
///         }
///         cx.session_opened(); // once, for the stats; a real link counts each session
///         Ok(Ready::Ready)
///     }
///
///     fn send(
///         &mut self,
///         frame: &OutgoingFrame<'_>,
///         _cx: &mut SendContext<'_>,
///     ) -> Result<Sent, StreamError> {
///         self.0.lock().unwrap().push(frame.sequence());
///         Ok(Sent::Sent)
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let source = open_source(&SourceSpec::Pattern, &SourceOptions::new(64, 48).with_fps(0))?;
/// let sender = SenderBuilder::new(Destination::transport(Log(Arc::clone(&log))), source)
///     .size(64, 48)
///     .count(5)
///     .start()?;
/// assert_eq!(sender.wait()?.sent, 5);
/// assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
/// # Ok(())
/// # }
/// ```
pub trait Transport: Send {
    /// Called once by [`SenderBuilder::start`](crate::SenderBuilder::start),
    /// on its caller's thread, before any frame: check settings against
    /// the stream, and connect when being unreachable at start must be an
    /// error. The default does nothing.
    ///
    /// # Errors
    ///
    /// Whatever makes this transport unable to carry `stream`; the sender
    /// does not start.
    fn start(&mut self, stream: &StreamInfo) -> Result<(), StreamError> {
        let _ = stream;
        Ok(())
    }

    /// Blocks until the transport can take a whole new frame now, opening
    /// or reopening a session as its policy says (each one reported with
    /// [`SendContext::session_opened`]), or until the sender stops. No
    /// frame is taken before this returns [`Ready::Ready`].
    ///
    /// # Errors
    ///
    /// The transport gave up (too many failed attempts, a refusal that
    /// cannot be fixed): the sender stops with this error.
    fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError>;

    /// Sends one frame on the session [`ready`](Self::ready) found.
    ///
    /// # Errors
    ///
    /// A frame that can never be sent (larger than the other end accepts):
    /// the sender stops with this error.
    fn send(
        &mut self,
        frame: &OutgoingFrame<'_>,
        cx: &mut SendContext<'_>,
    ) -> Result<Sent, StreamError>;

    /// The sender is done (count reached, source ended, stopped): end the
    /// session cleanly, flushing what was sent. The default does nothing.
    fn finish(&mut self, cx: &mut SendContext<'_>) {
        let _ = cx;
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn start(&mut self, stream: &StreamInfo) -> Result<(), StreamError> {
        (**self).start(stream)
    }

    fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
        (**self).ready(cx)
    }

    fn send(
        &mut self,
        frame: &OutgoingFrame<'_>,
        cx: &mut SendContext<'_>,
    ) -> Result<Sent, StreamError> {
        (**self).send(frame, cx)
    }

    fn finish(&mut self, cx: &mut SendContext<'_>) {
        (**self).finish(cx);
    }
}

/// Unblocks a transport's blocking call (shuts its socket down) when the
/// sender stops; see [`SendContext::set_interrupt`].
pub type Interrupt = Box<dyn Fn() + Send + Sync>;

/// A transport's view of its sender (see the [module docs](self)).
pub struct SendContext<'a> {
    shared: &'a SenderShared,
    hook: Option<&'a SenderHook>,
    /// The rate control, when the sender adapts.
    adapt: Option<Controller>,
}

impl std::fmt::Debug for SendContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendContext")
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl<'a> SendContext<'a> {
    pub(super) fn new(
        shared: &'a SenderShared,
        hook: Option<&'a SenderHook>,
        adapt: Option<Controller>,
    ) -> Self {
        let cx = Self {
            shared,
            hook,
            adapt,
        };
        if let Some(c) = &cx.adapt {
            shared.target.store(&c.target(), c.queue_delay());
        }
        cx
    }

    /// The rate control, when the sender adapts.
    pub(super) fn adapt(&mut self) -> Option<&mut Controller> {
        self.adapt.as_mut()
    }

    /// Moves the rate control on to now and hands what it chose to the
    /// encode stage.
    pub(super) fn tick(&mut self) {
        let now = self.shared.started.elapsed();
        if let Some(c) = self.adapt.as_mut() {
            let target = c.poll(now);
            self.shared.target.store(&target, c.queue_delay());
        }
    }

    /// Whether the sender reads feedback: it adapts to its link.
    pub fn wants_feedback(&self) -> bool {
        self.adapt.is_some()
    }

    /// Hands a feedback message from the other end (what arrived and when,
    /// what it dropped, what it asks) to the sender's rate control. Call it
    /// as messages arrive, between frames; a sender that does not adapt
    /// ignores it.
    pub fn feedback(&mut self, feedback: &Feedback) {
        let now = self.shared.started.elapsed();
        if let Some(c) = self.adapt.as_mut() {
            c.on_feedback(now, feedback);
            self.shared.target.store(&c.target(), c.queue_delay());
        }
    }

    /// Says whether the session just opened carries feedback (the other
    /// end agreed to send it), for the stats
    /// ([`SenderStats::feedback`](crate::SenderStats::feedback)).
    pub fn feedback_offered(&self, on: bool) {
        lock(&self.shared.counters).feedback = on;
    }

    /// Whether the sender is stopping.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped()
    }

    /// Sleeps for `d` unless the sender stops first; returns whether it
    /// stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        self.shared.sleep(d)
    }

    /// Sets what stopping the sender calls to unblock this transport (shut
    /// its socket down), replacing the one set before; `None` clears it.
    /// Set it when a blocking session opens, and check
    /// [`is_stopped`](Self::is_stopped) just after: a stop that came
    /// before it was set did not call it.
    pub fn set_interrupt(&self, interrupt: Option<Interrupt>) {
        *lock(&self.shared.interrupt) = interrupt;
    }

    /// Reports an event: to the sender's hook
    /// ([`SenderBuilder::on_event`](crate::SenderBuilder::on_event)), then
    /// to the log, with the hook's hint, rate-limited by the sender's own
    /// limiter.
    pub fn event(&self, event: &SenderEvent<'_>) {
        let hint = self.hook.and_then(|hook| hook(event));
        event.log(&self.shared.log, hint);
    }

    /// Counts a session opened (the first, or a reconnection) and marks
    /// the sender connected, in [`SenderStats`](crate::SenderStats); the
    /// rate control forgets what the earlier session had on its way.
    pub fn session_opened(&mut self) {
        {
            let mut c = lock(&self.shared.counters);
            c.sessions += 1;
            c.reconnects = c.sessions - 1;
            c.connected = true;
        }
        if let Some(c) = self.adapt.as_mut() {
            c.on_session(false);
        }
    }

    /// The session just opened reports each frame's arrival (TCP with
    /// feedback): the rate control holds frames back from its start until
    /// the reports say what the path holds ([`Controller::on_session`]).
    pub(super) fn expect_reports(&mut self) {
        if let Some(c) = self.adapt.as_mut() {
            c.on_session(true);
        }
    }

    /// Whether the next frame may start now, as far as the rate control
    /// is concerned: `false` while the frames already written and not yet
    /// reported by the receiver fill what the path holds
    /// ([`Controller::may_start`]). A transport that reads feedback waits
    /// for it (or for time to pass) instead of saying
    /// [`Ready::Ready`]; one that does not is never held.
    pub fn may_start(&mut self) -> bool {
        let now = self.shared.started.elapsed();
        self.adapt.as_mut().is_none_or(|c| c.may_start(now))
    }

    /// Marks the sender disconnected: the transport lost its session
    /// outside [`Transport::send`] (while waiting for room, say), and opens
    /// another on the next [`ready`](Transport::ready).
    pub fn session_lost(&self) {
        lock(&self.shared.counters).connected = false;
        self.shared.lost.store(true, Ordering::SeqCst);
    }

    /// Counts a session the other end refused
    /// ([`SenderStats::refused`](crate::SenderStats::refused)).
    pub fn refused(&self) {
        lock(&self.shared.counters).refused += 1;
    }
}

/// Where a sender's frames go: a receiver over TCP, with every setting that
/// only TCP has, or any other [`Transport`].
///
/// A `HOST:PORT` string or a socket address converts into a TCP
/// destination with the default settings:
///
/// ```
/// use framecast_stream::{Destination, Retry, TcpDestination};
///
/// let plain: Destination = "127.0.0.1:5252".into();
/// let tuned: Destination = TcpDestination::new("camera-host:5252")
///     .retry(Retry::Forever)
///     .into();
/// # let _ = (plain, tuned);
/// ```
pub enum Destination {
    /// A framecast receiver over TCP.
    Tcp(TcpDestination),
    /// Any other transport.
    Transport(Box<dyn Transport>),
}

impl Destination {
    /// A destination reached through `transport`.
    pub fn transport(transport: impl Transport + 'static) -> Self {
        Self::Transport(Box::new(transport))
    }
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(tcp) => f.debug_tuple("Tcp").field(tcp).finish(),
            Self::Transport(_) => f.write_str("Transport(..)"),
        }
    }
}

impl From<TcpDestination> for Destination {
    fn from(tcp: TcpDestination) -> Self {
        Self::Tcp(tcp)
    }
}

impl From<String> for Destination {
    /// `HOST:PORT`, over TCP with the default settings.
    fn from(to: String) -> Self {
        Self::Tcp(TcpDestination::new(to))
    }
}

impl From<&str> for Destination {
    /// `HOST:PORT`, over TCP with the default settings.
    fn from(to: &str) -> Self {
        Self::Tcp(TcpDestination::new(to))
    }
}

impl From<std::net::SocketAddr> for Destination {
    /// Over TCP with the default settings.
    fn from(to: std::net::SocketAddr) -> Self {
        Self::Tcp(TcpDestination::new(to.to_string()))
    }
}
