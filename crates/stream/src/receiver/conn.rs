//! The network side of the receiver, on its tokio runtime: the accept loop
//! and one task per connection (handshake, then frames), each with its
//! timeouts.
//!
//! ```text
//! accept ──▶ over max_clients + max_pending? ──yes──▶ close at once (refused)
//!    │ no
//!    ▼
//! handshake (hello within handshake_timeout; the oldest waiting connection
//!    │        is closed when max_pending are waiting)
//!    ├── not framecast / bad hello ──▶ status "bad hello" if the peer can read it, close
//!    ├── stopping / busy / version ──▶ status with the reason, linger, close
//!    ▼
//! status "accepted" (limits) ──▶ frames: each read into a recycled buffer,
//!    checked (Video, JPEG header, pixels, declared size), put in the
//!    stream's latest-wins slot for the workers and in its latest-frame
//!    watch; idle_timeout between frames, trickle_timeout within one
//! ```

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use framecast_net::Acceptor;
use framecast_proto::handshake::{Arrival, Feedback, Hello, Status, StatusCode};
use framecast_wire::{AsyncFrameReader, FrameCodec, Prefix};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Shared;
use super::ingest::{Fed, Ingest, IngestStream, OpenError};
use super::state::StreamState;
use crate::events::{EndCause, ReceiverEvent, TimeoutKind};
use crate::frame::BufferRing;
use crate::handshake::{
    self, Decoded, ENVELOPE_LEN, GUESS_LEN, HELLO_MAGIC, HandshakeError, MAX_HANDSHAKE_BODY,
    PeerGuess,
};
use crate::limits::{FEEDBACK_BACKLOG, REFUSAL_LINGER, REFUSAL_LINGER_BYTES};
use crate::util::lock;

/// Accepts connections until the receiver stops, then waits for every
/// connection task and closes the worker pool.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let tracker = TaskTracker::new();
    let pending = Arc::new(PendingHandshakes::new(shared.config.max_pending_handshakes));
    let mut acceptor = Acceptor::new(listener);
    loop {
        let (sock, peer) = tokio::select! {
            biased;
            () = shared.cancel.cancelled() => break,
            // Out of file descriptors and the like: reported, and the
            // streams we have are served on while the acceptor waits.
            accepted = acceptor.accept(|error| {
                shared.event(&ReceiverEvent::AcceptFailed { error });
            }) => accepted,
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        // Streams, connections waiting for their handshake (the oldest of
        // which give way to newer ones), and as many again being closed.
        let cap = shared.config.max_clients + 2 * shared.config.max_pending_handshakes;
        let open = shared.counters.open.fetch_add(1, Ordering::SeqCst) + 1;
        if open > cap {
            shared.counters.open.fetch_sub(1, Ordering::SeqCst);
            shared.refuse(
                peer,
                StatusCode::Busy,
                "too many connections open: closed at once",
            );
            drop(sock);
            continue;
        }
        let guard = OpenGuard(Arc::clone(&shared));
        let (shared, pending) = (Arc::clone(&shared), Arc::clone(&pending));
        tracker.spawn(async move {
            connection(&shared, &pending, sock, peer).await;
            drop(guard);
        });
    }
    drop(acceptor);
    tracker.close();
    tracker.wait().await;
    // Adapters' tasks (other transports, publishers) end on the same
    // cancellation; the workers wait for the frames they fed.
    shared.tasks.close();
    shared.tasks.wait().await;
    shared.pool.close();
}

/// Counts an open connection until dropped.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connections waiting for their handshake, oldest first. When one
/// more would exceed the limit, the oldest is told to give up.
struct PendingHandshakes {
    waiting: Mutex<VecDeque<(u64, CancellationToken)>>,
    next: std::sync::atomic::AtomicU64,
    max: usize,
}

impl PendingHandshakes {
    fn new(max: usize) -> Self {
        Self {
            waiting: Mutex::new(VecDeque::with_capacity(max + 1)),
            next: std::sync::atomic::AtomicU64::new(0),
            max: max.max(1),
        }
    }

    fn enter(&self) -> (u64, CancellationToken) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let mut w = lock(&self.waiting);
        while w.len() >= self.max {
            if let Some((_, oldest)) = w.pop_front() {
                oldest.cancel();
            }
        }
        w.push_back((id, token.clone()));
        (id, token)
    }

    fn leave(&self, id: u64) {
        let mut w = lock(&self.waiting);
        if let Some(i) = w.iter().position(|(x, _)| *x == id) {
            w.remove(i);
        }
    }
}

async fn connection(
    shared: &Arc<Shared>,
    pending: &PendingHandshakes,
    sock: TcpStream,
    peer: SocketAddr,
) {
    let _ = sock.set_nodelay(true);
    let codec =
        FrameCodec::with_prefix(shared.config.prefix).max_frame_len(shared.config.max_frame_len);
    if shared.config.prefix != Prefix::U32Le {
        // The legacy framing has no handshake: the stream opens with its
        // first frame.
        if shared.registry.connected_count() >= shared.config.max_clients {
            shared.refuse(
                peer,
                StatusCode::Busy,
                &format!(
                    "busy: already serving {} senders (the legacy framing cannot say why, so \
                     the connection is just closed)",
                    shared.config.max_clients
                ),
            );
            return;
        }
        frames(shared, AsyncFrameReader::new(sock, codec), peer, None, None).await;
        return;
    }

    // Everything before the session (TLS, the hello) shares one deadline
    // and one place among the connections waiting for their handshake.
    let (ticket, evicted) = pending.enter();
    let deadline = Instant::now() + shared.config.handshake_timeout;
    let opened = tokio::select! {
        biased;
        () = shared.cancel.cancelled() => Err(HelloFailure::Stopping),
        () = evicted.cancelled() => Err(HelloFailure::Evicted),
        r = tokio::time::timeout_at(deadline, open(shared, sock, peer)) => {
            r.unwrap_or(Err(HelloFailure::Timeout))
        }
    };
    pending.leave(ticket);
    match opened {
        Ok(Opened::Plain(mut sock)) => {
            let hello = tokio::select! {
                biased;
                () = shared.cancel.cancelled() => Err(HelloFailure::Stopping),
                r = tokio::time::timeout_at(deadline, read_hello(&mut sock)) => {
                    r.unwrap_or(Err(HelloFailure::Timeout))
                }
            };
            session(shared, sock, peer, hello, codec).await;
        }
        #[cfg(feature = "tls")]
        Ok(Opened::Tls(mut sock)) => {
            let hello = tokio::select! {
                biased;
                () = shared.cancel.cancelled() => Err(HelloFailure::Stopping),
                r = tokio::time::timeout_at(deadline, read_hello(&mut *sock)) => {
                    r.unwrap_or(Err(HelloFailure::Timeout))
                }
            };
            session(shared, *sock, peer, hello, codec).await;
        }
        Ok(Opened::Refused(sock, status)) => send_and_close(shared, sock, &status).await,
        Ok(Opened::Closed) => {}
        Err(failure) => report_failure(shared, peer, &failure),
    }
}

/// A connection ready for its hello: in plaintext or in TLS; or one to
/// refuse with a status, in plaintext (a peer that uses the other
/// transport, which can then read why).
enum Opened {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Refused(TcpStream, Status),
    /// Nothing to tell the peer: closed.
    Closed,
}

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// Tells TLS from plaintext by the first byte, and does the TLS handshake
/// when this receiver uses TLS.
async fn open(shared: &Shared, sock: TcpStream, peer: SocketAddr) -> Result<Opened, HelloFailure> {
    let mut first = [0u8; 1];
    // Peeking leaves the byte for the TLS handshake or the hello.
    match sock.peek(&mut first).await {
        Ok(0) => return Err(HelloFailure::Eof),
        Ok(_) => {}
        Err(_) => return Err(HelloFailure::Io),
    }
    let tls_peer = first[0] == TLS_HANDSHAKE;
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &shared.config.tls {
        if !tls_peer {
            return Ok(refused(shared, sock, peer, Failure::PlaintextOnTls));
        }
        return match acceptor.accept(sock).await {
            Ok(tls) => Ok(Opened::Tls(Box::new(tls))),
            Err(e) => {
                let reason = framecast_tls::HandshakeFailure::of(&e)
                    .map_or_else(|| e.to_string(), |f| f.to_string());
                handshake_failed(shared, peer, &Failure::Tls(&reason));
                Err(HelloFailure::Reported)
            }
        };
    }
    if tls_peer {
        return Ok(refused(shared, sock, peer, Failure::TlsOnPlaintext));
    }
    let _ = (shared, peer);
    Ok(Opened::Plain(sock))
}

/// After the hello: authenticate, register the stream, answer, and read
/// its frames.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    mut sock: S,
    peer: SocketAddr,
    hello: Result<Hello, HelloFailure>,
    codec: FrameCodec,
) {
    let hello = match hello {
        Ok(hello) => hello,
        Err(failure) => return refuse_hello(shared, sock, peer, failure).await,
    };
    let refusal = if shared.cancel.is_cancelled() {
        Some((
            StatusCode::ShuttingDown,
            "the receiver is stopping".to_owned(),
        ))
    } else if !shared.authenticated(&hello.token) {
        shared
            .counters
            .unauthenticated
            .fetch_add(1, Ordering::Relaxed);
        Some((
            StatusCode::Unauthenticated,
            if hello.token.is_empty() {
                "unauthenticated: this receiver requires a token and none was given".to_owned()
            } else {
                "unauthenticated: the token is wrong".to_owned()
            },
        ))
    } else {
        None
    };
    let ingest = Ingest::new(Arc::clone(shared));
    let opened = match refusal {
        Some(r) => Err(r),
        None => ingest.open(Some(&hello.name), peer).map_err(|e| match e {
            OpenError::Busy { max_clients } => (
                StatusCode::Busy,
                format!("busy: already serving {max_clients} senders"),
            ),
            // check_hello let it through, so this cannot be, but the
            // answer would be this one.
            OpenError::BadName(e) => (StatusCode::BadHello, e.to_string()),
            // Stopping, and anything the port says later.
            _ => (
                StatusCode::ShuttingDown,
                "the receiver is stopping".to_owned(),
            ),
        }),
    };
    let stream = match opened {
        Ok(stream) => stream,
        Err((code, reason)) => {
            ingest.refuse(peer, code, &reason);
            let status = Status {
                code: code as i32,
                reason,
                retry_after_ms: if code == StatusCode::Busy {
                    shared.config.busy_retry_after.as_millis() as u32
                } else {
                    0
                },
                ..Default::default()
            };
            return send_and_close(shared, sock, &status).await;
        }
    };
    // Feedback only to a sender that asked for it: an older one reads
    // nothing after the status.
    let feedback = hello.feedback >= handshake::FEEDBACK_VERSION;
    stream.state().feedback.store(feedback, Ordering::Relaxed);
    if !feedback {
        stream.refuse_asks(super::state::NO_ASKS_NOT_NEGOTIATED);
    }
    let status = Status {
        code: StatusCode::Accepted as i32,
        reason: String::new(),
        max_frame_len: shared.config.max_frame_len as u64,
        max_pixels: shared.config.max_pixels,
        stream_id: stream.id().get(),
        retry_after_ms: 0,
        feedback: if feedback {
            handshake::FEEDBACK_VERSION
        } else {
            0
        },
    };
    let mut out = Vec::with_capacity(64);
    handshake::encode_status(&status, &mut out);
    let written = timeout(shared.config.handshake_timeout, async {
        sock.write_all(&out).await?;
        sock.flush().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        stream.end(EndCause::Closed);
        return;
    }
    let feedback = feedback.then(FeedbackOut::new);
    frames(
        shared,
        AsyncFrameReader::new(sock, codec),
        peer,
        Some(stream),
        feedback,
    )
    .await;
}
/// The feedback a session sends back to its sender: each frame's arrival,
/// written between reads without ever holding them up. Everything is
/// reused from frame to frame.
struct FeedbackOut {
    /// The session's zero on the receiver's clock.
    began: std::time::Instant,
    /// When the first byte of the frame being read arrived.
    first_byte: Option<std::time::Instant>,
    message: Feedback,
    /// Encoded messages not yet written, and how much of them was.
    out: Vec<u8>,
    written: usize,
    /// Set when a write failed: the read side will see why; no more
    /// feedback is attempted.
    failed: bool,
}

impl FeedbackOut {
    fn new() -> Self {
        Self {
            began: std::time::Instant::now(),
            first_byte: None,
            message: Feedback {
                arrivals: Vec::with_capacity(1),
                ..Feedback::default()
            },
            out: Vec::with_capacity(FEEDBACK_BACKLOG),
            written: 0,
            failed: false,
        }
    }

    fn us(&self, t: std::time::Instant) -> u64 {
        t.saturating_duration_since(self.began).as_micros() as u64
    }

    /// Queues the arrival of a frame of `bytes` (its sequence, when it
    /// parsed) with the stream's counters and any new ask.
    fn arrived(&mut self, stream: &StreamState, sequence: Option<u64>, bytes: usize) {
        let last = std::time::Instant::now();
        let first = self.first_byte.take().unwrap_or(last);
        if self.failed || self.out.len() - self.written + 64 > FEEDBACK_BACKLOG {
            // The sender reads nothing back (it is stuck, or gone): its
            // frames are what matters, not its feedback.
            return;
        }
        self.message.arrivals.clear();
        self.message.arrivals.push(Arrival {
            sequence,
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
            first_byte_us: self.us(first),
            last_byte_us: self.us(last),
        });
        self.message.dropped = stream.dropped.load(Ordering::Relaxed);
        self.message.corrupt = stream.corrupt.load(Ordering::Relaxed);
        self.message.settings = {
            let mut asked = lock(&stream.asked);
            if asked.1 {
                asked.1 = false;
                asked.0
            } else {
                None
            }
        };
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        handshake::encode_feedback(&self.message, &mut self.out);
    }

    /// Writes what is queued, as far as the socket takes it now.
    fn poll_write<S: AsyncWrite + Unpin>(&mut self, cx: &mut std::task::Context<'_>, sock: &mut S) {
        if self.failed {
            return;
        }
        while self.written < self.out.len() {
            match std::pin::Pin::new(&mut *sock).poll_write(cx, &self.out[self.written..]) {
                Poll::Ready(Ok(n)) if n > 0 => self.written += n,
                Poll::Ready(_) => {
                    self.failed = true;
                    return;
                }
                Poll::Pending => return,
            }
        }
        // TLS holds written bytes until flushed.
        if let Poll::Ready(Err(_)) = std::pin::Pin::new(&mut *sock).poll_flush(cx) {
            self.failed = true;
        }
    }
}

/// Why a connection did not produce a hello.
enum HelloFailure {
    Handshake(HandshakeError),
    Eof,
    Io,
    Timeout,
    Evicted,
    Stopping,
    /// Already reported (a TLS handshake that failed).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Reported,
}

/// Reads one hello, with what more is needed to guess at a peer that is not
/// a framecast sender.
async fn read_hello<S: AsyncRead + Unpin + ?Sized>(sock: &mut S) -> Result<Hello, HelloFailure> {
    let mut buf = Vec::with_capacity(ENVELOPE_LEN + 64);
    loop {
        match handshake::decode_hello(&buf) {
            Ok(Decoded::Complete { message, .. }) => return Ok(message),
            Ok(Decoded::Incomplete { needed }) => {
                // Bounded: the envelope's length was checked against
                // MAX_HANDSHAKE_BODY before `needed` covered the body.
                buf.reserve(needed.min(ENVELOPE_LEN + MAX_HANDSHAKE_BODY));
            }
            Err(HandshakeError::BadMagic { .. }) if buf.len() < GUESS_LEN => {
                // A few more bytes make a better guess; do not wait long.
                buf.reserve(GUESS_LEN - buf.len());
                let more = timeout(Duration::from_millis(200), sock.read_buf(&mut buf)).await;
                if !matches!(more, Ok(Ok(n)) if n > 0) {
                    let shown = buf.len().min(GUESS_LEN);
                    return Err(HelloFailure::Handshake(HandshakeError::BadMagic {
                        got: handshake::HexBytes(buf[..shown].to_vec()),
                        guess: PeerGuess::from_bytes(&buf[..shown]),
                    }));
                }
                continue;
            }
            Err(e) => return Err(HelloFailure::Handshake(e)),
        }
        match sock.read_buf(&mut buf).await {
            Ok(0) => return Err(HelloFailure::Eof),
            Ok(_) => {}
            Err(_) => return Err(HelloFailure::Io),
        }
    }
}

/// Answers a connection whose hello failed: a status saying why when the
/// peer can read one, and the event.
async fn refuse_hello<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    sock: S,
    peer: SocketAddr,
    failure: HelloFailure,
) {
    let HelloFailure::Handshake(error) = failure else {
        return report_failure(shared, peer, &failure);
    };
    let status = handshake_failed(shared, peer, &Failure::Hello(&error));
    if error.peer_guess() == Some(PeerGuess::Http) {
        // A browser or an HTTP client at the frame port: told in its own
        // language which port this is.
        return answer_and_close(shared, sock, http_answer().as_bytes()).await;
    }
    if let Some(status) = status {
        send_and_close(shared, sock, &status).await;
    }
}

/// What an HTTP client that reached the frame port is told.
const HTTP_ANSWER_BODY: &str = "This is a framecast receiver's frame port: senders connect here \
(framecast send --to HOST:PORT), browsers do not.\nThe receiver's viewer is on its own port, \
given with framecast recv --http (for example --http 8080).\n";

/// The whole HTTP answer to a request on the frame port.
fn http_answer() -> String {
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{HTTP_ANSWER_BODY}",
        HTTP_ANSWER_BODY.len()
    )
}

/// Why a connection's handshake failed, before any session.
enum Failure<'a> {
    /// A plaintext connection to a receiver that requires TLS.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    PlaintextOnTls,
    /// A TLS client to a receiver without TLS.
    TlsOnPlaintext,
    /// The TLS handshake failed, for this reason.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(&'a str),
    /// The hello was not one this receiver takes.
    Hello(&'a HandshakeError),
    /// A framecast hello reached a receiver using the legacy framing.
    HelloOnLegacyFraming,
}

/// The one path of a failed handshake: counted, reported (the event), and
/// the status to answer with when the peer can read one.
fn handshake_failed(shared: &Shared, peer: SocketAddr, failure: &Failure<'_>) -> Option<Status> {
    shared
        .counters
        .handshake_failures
        .fetch_add(1, Ordering::Relaxed);
    let status = |code: StatusCode, reason: String| {
        Some(Status {
            code: code as i32,
            reason,
            ..Default::default()
        })
    };
    match failure {
        Failure::PlaintextOnTls => {
            shared.event(&ReceiverEvent::PlaintextOnTls { peer });
            status(
                StatusCode::TlsRequired,
                "this receiver requires TLS, and the connection is plaintext".into(),
            )
        }
        Failure::TlsOnPlaintext => {
            shared.event(&ReceiverEvent::TlsOnPlaintext { peer });
            // In plaintext: the peer's TLS library reads "not TLS" from it.
            status(
                StatusCode::BadHello,
                "this receiver does not use TLS".into(),
            )
        }
        Failure::Tls(reason) => {
            shared.event(&ReceiverEvent::TlsFailed { peer, reason });
            None
        }
        Failure::HelloOnLegacyFraming => {
            shared.event(&ReceiverEvent::HelloOnLegacyFraming { peer });
            status(
                StatusCode::WrongFraming,
                "this receiver uses the legacy framing, which has no session handshake".into(),
            )
        }
        Failure::Hello(error) => {
            shared.event(&ReceiverEvent::HandshakeFailed { peer, error });
            match error {
                // A peer that speaks HTTP cannot read a status.
                _ if error.peer_guess() == Some(PeerGuess::Http) => None,
                HandshakeError::UnsupportedVersion { .. } => {
                    status(StatusCode::UnsupportedVersion, error.to_string())
                }
                // A framecast program using another framing can, and
                // says so.
                _ if error.peer_guess() == Some(PeerGuess::LegacyFraming) => status(
                    StatusCode::WrongFraming,
                    "this receiver uses the framecast framing with its session handshake, and \
                     the frames sent use the legacy framing"
                        .into(),
                ),
                _ => status(
                    StatusCode::BadHello,
                    format!(
                        "this receiver expects the framecast session handshake (the default \
                         framing): {error}"
                    ),
                ),
            }
        }
    }
}

/// A connection refused for a failed handshake, to be told why in
/// plaintext.
fn refused(shared: &Shared, sock: TcpStream, peer: SocketAddr, failure: Failure<'_>) -> Opened {
    match handshake_failed(shared, peer, &failure) {
        Some(status) => Opened::Refused(sock, status),
        None => Opened::Closed,
    }
}

/// Counts and reports a connection that ended before its hello, when there
/// is nothing to tell the peer.
fn report_failure(shared: &Shared, peer: SocketAddr, failure: &HelloFailure) {
    match failure {
        HelloFailure::Timeout => {
            shared
                .counters
                .timeout_handshake
                .fetch_add(1, Ordering::Relaxed);
            shared.event(&ReceiverEvent::TimedOut {
                peer,
                kind: TimeoutKind::Handshake,
                after: shared.config.handshake_timeout,
            });
        }
        HelloFailure::Evicted => {
            shared.refuse(
                peer,
                StatusCode::Busy,
                "closed to make room: too many connections were waiting for their handshake, \
                 and this one had waited longest",
            );
        }
        HelloFailure::Handshake(error) => {
            handshake_failed(shared, peer, &Failure::Hello(error));
        }
        HelloFailure::Stopping | HelloFailure::Eof | HelloFailure::Io | HelloFailure::Reported => {}
    }
}

/// Sends `status`, then reads and discards for a moment before closing, so
/// the peer reads the status instead of a reset.
async fn send_and_close<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    sock: S,
    status: &Status,
) {
    let mut out = Vec::with_capacity(64 + status.reason.len());
    handshake::encode_status(status, &mut out);
    answer_and_close(shared, sock, &out).await;
}

/// Writes `out` (within the handshake timeout), then reads and discards for
/// a moment before closing, so the peer reads the answer instead of a reset.
async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    mut sock: S,
    out: &[u8],
) {
    let written = timeout(shared.config.handshake_timeout, async {
        sock.write_all(out).await?;
        sock.flush().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let _ = sock.shutdown().await;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let linger = sleep(REFUSAL_LINGER);
    let mut linger = pin!(linger);
    while drained < REFUSAL_LINGER_BYTES {
        tokio::select! {
            () = &mut linger => break,
            () = shared.cancel.cancelled() => break,
            r = sock.read(&mut sink) => match r {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            },
        }
    }
}

/// What ended a connection's frame loop.
enum Event {
    Frame,
    Eof,
    Failed(framecast_wire::WireError),
    Timeout(TimeoutKind),
    Stop,
}

/// Reads frames until the connection ends, a timeout passes or the
/// receiver stops, and feeds them to the stream through the ingest port.
/// `stream` is `None` for the legacy framing until the first frame arrives.
async fn frames<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    mut reader: AsyncFrameReader<S>,
    peer: SocketAddr,
    mut stream: Option<IngestStream>,
    mut feedback: Option<FeedbackOut>,
) {
    let config = &shared.config;
    let mut ring = BufferRing::new(config.frame_buffers);
    let mut buf = ring.take();
    let deadline = sleep(config.idle_timeout);
    let mut deadline = pin!(deadline);
    let cancelled = shared.cancel.cancelled();
    let mut cancelled = pin!(cancelled);
    let mut frame_started = false;
    let cause = loop {
        let event = poll_fn(|cx| {
            if cancelled.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            if let Some(f) = feedback.as_mut() {
                f.poll_write(cx, reader.get_mut());
            }
            match reader.poll_read_frame(cx, &mut buf) {
                Poll::Ready(Ok(Some(_))) => return Poll::Ready(Event::Frame),
                Poll::Ready(Ok(None)) => return Poll::Ready(Event::Eof),
                Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(e)),
                Poll::Pending => {}
            }
            if reader.in_frame() && !frame_started {
                // The first bytes of a frame: it now has the trickle
                // timeout to finish.
                frame_started = true;
                if let Some(f) = feedback.as_mut() {
                    f.first_byte = Some(std::time::Instant::now());
                }
                deadline
                    .as_mut()
                    .reset(Instant::now() + config.trickle_timeout);
            }
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Timeout(if frame_started {
                    TimeoutKind::Trickle
                } else {
                    TimeoutKind::Idle
                }));
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Frame => {
                frame_started = false;
                deadline
                    .as_mut()
                    .reset(Instant::now() + config.idle_timeout);
                if stream.is_none() {
                    match open_legacy_stream(shared, peer) {
                        Some(s) => stream = Some(s),
                        None => return,
                    }
                }
                let Some(stream) = &stream else { return };
                let payload = std::mem::replace(&mut buf, ring.take()).freeze();
                ring.track(payload.clone());
                let len = payload.len();
                let (fed, sequence) = stream.feed_sequence(payload);
                if let Some(f) = feedback.as_mut() {
                    // Written at the next poll, before the next read.
                    f.arrived(stream.state(), sequence, len);
                }
                match fed {
                    Fed::Corrupt(e) => {
                        tracing::debug!(stream = stream.id().get(), %peer, "corrupt frame dropped: {e}");
                    }
                    Fed::CountReached => break EndCause::Stopping,
                    _ => {}
                }
            }
            Event::Eof => break EndCause::Closed,
            Event::Stop => break EndCause::Stopping,
            Event::Timeout(kind) => {
                let after = match kind {
                    TimeoutKind::Trickle => config.trickle_timeout,
                    _ => config.idle_timeout,
                };
                if stream.is_none() {
                    // No stream yet to count it: counted here.
                    match kind {
                        TimeoutKind::Trickle => &shared.counters.timeout_trickle,
                        _ => &shared.counters.timeout_idle,
                    }
                    .fetch_add(1, Ordering::Relaxed);
                    shared.event(&ReceiverEvent::TimedOut { peer, kind, after });
                }
                break EndCause::Timeout { kind, after };
            }
            Event::Failed(e) => {
                if stream.is_none() && reader_sent_hello(&reader) {
                    if let Some(status) =
                        handshake_failed(shared, peer, &Failure::HelloOnLegacyFraming)
                    {
                        send_and_close(shared, reader.into_inner(), &status).await;
                    }
                    return;
                }
                break EndCause::Wire(e);
            }
        }
    };
    // Free the buffers now: the connection is over.
    drop(ring);
    drop(buf);
    if let Some(stream) = stream {
        stream.end(cause);
    }
}

/// Whether a legacy-framed reader's first header was a framecast hello.
fn reader_sent_hello<S>(reader: &AsyncFrameReader<S>) -> bool {
    reader.header_bytes().starts_with(&HELLO_MAGIC)
}

/// The stream of a legacy-framed connection, opened by its first frame
/// (that framing has no hello, so no name).
fn open_legacy_stream(shared: &Arc<Shared>, peer: SocketAddr) -> Option<IngestStream> {
    let ingest = Ingest::new(Arc::clone(shared));
    match ingest.open(None, peer) {
        Ok(stream) => {
            stream.refuse_asks(super::state::NO_ASKS_LEGACY);
            Some(stream)
        }
        Err(OpenError::Busy { max_clients }) => {
            ingest.refuse(
                peer,
                StatusCode::Busy,
                &format!("busy: already serving {max_clients} senders"),
            );
            None
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_answer_is_the_one_docs_protocol_md_shows() {
        let doc = include_str!("../../../../docs/protocol.md");
        let start = doc
            .find("```text\nHTTP/1.1 400")
            .expect("protocol.md shows the frame port's HTTP answer");
        let block = &doc[start + "```text\n".len()..];
        let block = &block[..block.find("```").unwrap()];
        let shown = block.replace("\\r\\n\n", "\r\n").replace("\\n\n", "\n");
        assert_eq!(shown, http_answer());
    }

    #[test]
    fn the_oldest_waiting_handshake_makes_room() {
        let p = PendingHandshakes::new(2);
        let (a, ta) = p.enter();
        let (_b, tb) = p.enter();
        assert!(!ta.is_cancelled());
        let (_c, tc) = p.enter();
        assert!(ta.is_cancelled(), "the oldest gave way");
        assert!(!tb.is_cancelled() && !tc.is_cancelled());
        p.leave(a); // already gone: nothing happens
        assert_eq!(lock(&p.waiting).len(), 2);
    }

    #[test]
    fn buffers_for_hellos_are_bounded() {
        // A hello's body length is checked before it is waited for.
        let mut env = HELLO_MAGIC.to_vec();
        env.push(1);
        env.extend_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            handshake::decode_hello(&env),
            Err(HandshakeError::TooLong { .. })
        ));
    }
}
