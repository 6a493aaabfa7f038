//! The TCP transport: [`TcpDestination`] (every setting only TCP has) and
//! the link that implements [`Transport`] with it: connecting with a
//! timeout and socket options, TLS (feature `tls`), the session handshake,
//! telling a refusal from a network fault, backoff between attempts, and
//! framing each message onto the connection.

use framecast_proto::handshake::Feedback;

use super::transport::{Interrupt, OutgoingFrame, Ready, SendContext, Sent, StreamInfo, Transport};
use super::*;
use crate::handshake::MAX_HANDSHAKE_BODY;
use crate::limits::SEND_POLL_INTERVAL;

/// A framecast receiver over TCP, and every setting only TCP has: the
/// framing, TLS and the access token (feature `tls`), when to give up, the
/// reconnect delays and the timeouts. Give it to
/// [`SenderBuilder::new`](crate::SenderBuilder::new).
///
/// ```
/// use std::time::Duration;
///
/// use framecast_stream::{Retry, TcpDestination};
/// use framecast_wire::Prefix;
///
/// let to = TcpDestination::new("127.0.0.1:5252")
///     .framing(Prefix::LegacyI64Le)
///     .connect_timeout(Duration::from_secs(2))
///     .retry(Retry::Forever);
/// assert_eq!(to.address(), "127.0.0.1:5252");
/// ```
#[derive(Clone)]
pub struct TcpDestination {
    to: String,
    prefix: Prefix,
    max_frame_len: usize,
    initial_backoff: Duration,
    max_backoff: Duration,
    connect_timeout: Duration,
    status_timeout: Duration,
    write_timeout: Duration,
    retry: Retry,
    seed: Option<u64>,
    unsent_limit: u32,
    #[cfg(feature = "tls")]
    tls: Option<TlsClient>,
    #[cfg(feature = "tls")]
    token: Option<framecast_tls::Token>,
}

impl std::fmt::Debug for TcpDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TcpDestination");
        d.field("to", &self.to)
            .field("prefix", &self.prefix)
            .field("retry", &self.retry);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some())
            .field("token", &self.token.is_some());
        d.finish_non_exhaustive()
    }
}

impl TcpDestination {
    /// The receiver at `to` (`HOST:PORT`, resolved at every connection
    /// attempt), with the framecast framing and every default.
    pub fn new(to: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            prefix: Prefix::U32Le,
            max_frame_len: framecast_wire::DEFAULT_MAX_FRAME_LEN,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            status_timeout: DEFAULT_STATUS_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            retry: Retry::default(),
            seed: None,
            unsent_limit: crate::limits::DEFAULT_UNSENT_LIMIT,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            token: None,
        }
    }

    /// The address, as given.
    pub fn address(&self) -> &str {
        &self.to
    }

    /// Connects with TLS, verifying the receiver's certificate with
    /// `config` (see `framecast_tls::ClientTls`) against the host name in
    /// the address (feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(TlsClient { config });
        self
    }

    /// Sends `token` in the session handshake, for a receiver that
    /// requires one (feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn token(mut self, token: framecast_tls::Token) -> Self {
        self.token = Some(token);
        self
    }

    /// The length prefix ([`Prefix::LegacyI64Le`] for the original server;
    /// that framing has no session handshake, so no TLS and no token).
    pub fn framing(mut self, prefix: Prefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// The largest message sent; a larger one is an error.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// When to give up: after this many failed attempts in a row (default
    /// [`Retry::default`]), or never.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Reconnect delays: the first, and the cap (default 100 ms and 5 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// How long one connection attempt may take (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to wait for the receiver's answer to the hello (default
    /// [`DEFAULT_STATUS_TIMEOUT`]).
    pub fn status_timeout(mut self, timeout: Duration) -> Self {
        self.status_timeout = timeout;
        self
    }

    /// How long one write may block before the connection is given up and
    /// made again (default [`DEFAULT_WRITE_TIMEOUT`]); also the bound on
    /// unacknowledged data (`TCP_USER_TIMEOUT`).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Seeds the reconnect jitter (random by default), for reproducible
    /// tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How many bytes may wait unsent in the kernel before the next frame
    /// is held back (`TCP_NOTSENT_LOWAT`; default
    /// [`DEFAULT_UNSENT_LIMIT`](crate::limits::DEFAULT_UNSENT_LIMIT), at
    /// least 1). A frame starts only once less than this is waiting, so
    /// frames never queue stale in the socket: one that could not start is
    /// replaced by a newer one.
    pub fn unsent_limit(mut self, bytes: u32) -> Self {
        self.unsent_limit = bytes;
        self
    }

    /// The transport these settings describe.
    pub(super) fn into_link(self) -> Link {
        Link {
            codec: FrameCodec::with_prefix(self.prefix).max_frame_len(self.max_frame_len),
            backoff: Backoff::new(self.initial_backoff, self.max_backoff)
                .jitter(self.seed.unwrap_or_else(rand::random)),
            hello: Hello::default(),
            size: (0, 0),
            failures: 0,
            session: None,
            unsent_limit: self.unsent_limit,
            feedback: false,
            inbox: Vec::new(),
            message: Feedback::default(),
            delivery: Delivery::default(),
            waiting_since: None,
            to: self.to,
            status_timeout: self.status_timeout,
            connect_timeout: self.connect_timeout,
            write_timeout: self.write_timeout,
            retry: self.retry,
            #[cfg(feature = "tls")]
            tls: self.tls,
            #[cfg(feature = "tls")]
            token: self.token,
        }
    }
}

/// The TCP transport: where and how to connect, the session handshake, and
/// the open session.
pub(super) struct Link {
    to: String,
    codec: FrameCodec,
    /// The size of the frames this sender makes.
    size: (u32, u32),
    hello: Hello,
    status_timeout: Duration,
    connect_timeout: Duration,
    write_timeout: Duration,
    retry: Retry,
    /// Failed attempts since the last session that carried frames.
    failures: u32,
    backoff: Backoff,
    /// The open session: its writer, the receiver's address, and the
    /// frames it carried.
    session: Option<(FrameWriter<Conn>, SocketAddr, u64)>,
    /// `TCP_NOTSENT_LOWAT`: see [`TcpDestination::unsent_limit`].
    unsent_limit: u32,
    /// Whether the open session carries feedback from the receiver.
    feedback: bool,
    /// Feedback bytes that have not made a whole message yet, and the
    /// message decoded into (both reused: reading allocates nothing).
    inbox: Vec<u8>,
    message: Feedback,
    /// The last frame of the open session written, and the last the
    /// receiver said arrived.
    delivery: Delivery,
    /// Since when the open session's socket has had no room for a frame.
    waiting_since: Option<Instant>,
    #[cfg(feature = "tls")]
    tls: Option<TlsClient>,
    #[cfg(feature = "tls")]
    token: Option<framecast_tls::Token>,
}

/// The host part of `HOST:PORT` or `[V6]:PORT`: the name a TLS
/// certificate must be valid for.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(super) fn host_of(to: &str) -> &str {
    let host = match to.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => to,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// What one attempt at a session came to.
enum Attempt {
    /// A session: the writer, the receiver's address, and whether it sends
    /// feedback.
    Session(FrameWriter<Conn>, SocketAddr, bool),
    Retry(Duration),
    Fatal(StreamError),
}

impl Transport for Link {
    fn start(&mut self, stream: &StreamInfo) -> Result<(), StreamError> {
        #[cfg(feature = "tls")]
        let token = self
            .token
            .as_ref()
            .map(|t| t.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        #[cfg(not(feature = "tls"))]
        let token = Vec::new();
        let legacy = self.codec.prefix() != Prefix::U32Le;
        if legacy && !token.is_empty() {
            return Err(StreamError::Config {
                what: "framing",
                reason: "the legacy framing cannot carry a token (it has no handshake)",
            });
        }
        #[cfg(feature = "tls")]
        if legacy && self.tls.is_some() {
            return Err(StreamError::Config {
                what: "framing",
                reason: "the legacy framing cannot carry TLS (the original programs cannot)",
            });
        }
        if self.unsent_limit == 0 {
            return Err(StreamError::Config {
                what: "unsent_limit",
                reason: "must be at least 1 byte",
            });
        }
        for (what, t) in [
            ("connect_timeout", self.connect_timeout),
            ("status_timeout", self.status_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if t.is_zero() {
                return Err(StreamError::Config {
                    what,
                    reason: "must be longer than zero",
                });
            }
        }
        self.hello = Hello {
            name: stream.name.clone(),
            token,
            software: concat!("framecast/", env!("CARGO_PKG_VERSION")).to_owned(),
            // Only a sender that adapts reads what the receiver says back.
            feedback: if stream.feedback && !legacy {
                handshake::FEEDBACK_VERSION
            } else {
                0
            },
        };
        if self.hello.feedback > 0 {
            // Room for a few whole messages: reading never grows it.
            self.inbox = Vec::with_capacity(4 * (handshake::ENVELOPE_LEN + MAX_HANDSHAKE_BODY));
            self.message.arrivals = Vec::with_capacity(handshake::MAX_ARRIVALS_PER_FEEDBACK);
        }
        handshake::check_hello(&self.hello).map_err(|_| StreamError::Config {
            what: "token",
            reason: "must be at most 1024 bytes",
        })?;
        self.size = (stream.width, stream.height);
        Ok(())
    }

    fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
        if self.session.is_some() {
            return Ok(self.wait_for_room(cx));
        }
        loop {
            if cx.is_stopped() {
                return Ok(Ready::Stopped);
            }
            match self.attempt(cx) {
                Attempt::Session(w, peer, feedback) => {
                    self.session = Some((w, peer, 0));
                    self.feedback = feedback;
                    self.inbox.clear();
                    self.delivery = Delivery::default();
                    cx.session_opened();
                    if feedback {
                        cx.expect_reports();
                    }
                    cx.feedback_offered(feedback);
                    return Ok(Ready::Ready);
                }
                Attempt::Retry(delay) => {
                    if cx.sleep(delay) {
                        return Ok(Ready::Stopped);
                    }
                }
                Attempt::Fatal(e) => return Err(e),
            }
        }
    }

    fn send(
        &mut self,
        frame: &OutgoingFrame<'_>,
        cx: &mut SendContext<'_>,
    ) -> Result<Sent, StreamError> {
        let Some((w, peer, carried)) = self.session.as_mut() else {
            return Ok(Sent::Lost);
        };
        let message = frame.message();
        let written = if message.meta().video_data.is_empty() {
            // Header, the payload field's key and length, the JPEG and the
            // other fields in one vectored write: the JPEG is not copied.
            w.write_message_with_bytes(VideoRef::PAYLOAD_FIELD, message.payload(), message.meta())
        } else {
            w.write_message(&message)
        };
        match written {
            Ok(()) => {
                if *carried == 0 {
                    // A session that carried a frame: the receiver is
                    // really there, so later failures start over.
                    self.backoff.reset();
                    self.failures = 0;
                }
                *carried += 1;
                self.delivery.written(frame.sequence());
                Ok(Sent::Sent)
            }
            Err(e) if e.is_io() => {
                let peer = *peer;
                let refusal = if cx.is_stopped() || self.codec.prefix() == Prefix::U32Le {
                    None
                } else {
                    refusal_on_legacy(w.get_ref())
                };
                self.session = None;
                cx.set_interrupt(None);
                if cx.is_stopped() {
                    return Ok(Sent::Lost);
                }
                match refusal {
                    Some(status) => {
                        cx.refused();
                        let delay = self.refusal(status, peer, cx)?;
                        cx.sleep(delay);
                    }
                    None => cx.event(&SenderEvent::Disconnected { peer, error: &e }),
                }
                Ok(Sent::Lost)
            }
            Err(e) => Err(StreamError::Wire(e)),
        }
    }

    fn finish(&mut self, cx: &mut SendContext<'_>) {
        cx.set_interrupt(None);
        if let Some((mut w, _, _)) = self.session.take() {
            let _ = w.flush();
            // A clean end of stream at a frame boundary.
            w.get_mut().finish();
        }
    }
}

impl Link {
    /// Whether the open session's socket can take a whole new frame (less
    /// than the unsent limit waiting in the kernel), reading the receiver's
    /// feedback meanwhile: waits up to [`SEND_POLL_INTERVAL`], then says
    /// [`Ready::NotYet`] so the send stage can run its rate control. A
    /// socket that took nothing for the write timeout is given up.
    fn wait_for_room(&mut self, cx: &mut SendContext<'_>) -> Ready {
        match self.room(cx) {
            Ok(ready) => ready,
            Err(error) => {
                self.lose_session(&error, cx);
                Ready::NotYet
            }
        }
    }

    fn room(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, framecast_wire::WireError> {
        let Some((w, _, _)) = self.session.as_mut() else {
            return Ok(Ready::NotYet);
        };
        // The receiver's feedback says whether the last frame written has
        // arrived: then nothing of it waits unsent in the kernel, and the
        // socket can take a whole new frame without being asked. On a
        // plain connection whose feedback kept up so far, the feedback is
        // read first, without waiting: that one read stands for the poll.
        // (A TLS record may need more than one read: it is polled for.)
        if self.feedback && self.delivery.kept_up && matches!(w.get_ref(), Conn::Plain(_)) {
            let (inbox, message, delivery) =
                (&mut self.inbox, &mut self.message, &mut self.delivery);
            let tcp = w.get_ref().tcp();
            let read = |buf: &mut [u8]| {
                rustix::net::recv(tcp, buf, rustix::net::RecvFlags::DONTWAIT)
                    .map(|(n, _)| n)
                    .map_err(std::io::Error::from)
            };
            read_feedback(read, inbox, message, |fb| {
                delivery.saw(fb);
                cx.feedback(fb);
            })
            .map_err(|end| framecast_wire::WireError::Io(end.into_io()))?;
            if self.delivery.all_arrived() && cx.may_start() {
                self.waiting_since = None;
                return Ok(Ready::Ready);
            }
        }
        self.poll_for_room(cx)
    }

    /// [`room`](Self::room) by polling the socket for room (and, with
    /// feedback, for what the receiver sent).
    fn poll_for_room(
        &mut self,
        cx: &mut SendContext<'_>,
    ) -> Result<Ready, framecast_wire::WireError> {
        let Some((w, _, _)) = self.session.as_mut() else {
            return Ok(Ready::NotYet);
        };
        let broken = framecast_wire::WireError::Io;
        // While the frames on their way fill the path, the next one waits
        // for the receiver's reports, not for the socket.
        let held = self.feedback && !cx.may_start();
        let ready =
            wait_ready(w.get_ref(), self.feedback, !held, SEND_POLL_INTERVAL).map_err(broken)?;
        if ready.readable {
            let (inbox, message, delivery) =
                (&mut self.inbox, &mut self.message, &mut self.delivery);
            let conn = w.get_mut();
            read_feedback(
                |buf| std::io::Read::read(conn, buf),
                inbox,
                message,
                |fb| {
                    delivery.saw(fb);
                    cx.feedback(fb);
                },
            )
            .map_err(|end| broken(end.into_io()))?;
        }
        // Whether the next wait reads first: the feedback on the last frame
        // had come by the time the socket was asked (a link that queues
        // frames is polled, as before, until it no longer does).
        self.delivery.kept_up = self.delivery.all_arrived();
        if held {
            // The socket is not what waits.
            self.waiting_since = None;
            return Ok(Ready::NotYet);
        }
        if ready.writable {
            self.waiting_since = None;
            return Ok(Ready::Ready);
        }
        let since = *self.waiting_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.write_timeout {
            return Ok(Ready::NotYet);
        }
        Err(broken(std::io::Error::new(
            ErrorKind::TimedOut,
            format!(
                "the connection took no new frame for {} s",
                self.write_timeout.as_secs_f64()
            ),
        )))
    }

    /// The open session broke outside [`Transport::send`]: the next
    /// [`ready`](Transport::ready) opens another.
    fn lose_session(&mut self, error: &framecast_wire::WireError, cx: &mut SendContext<'_>) {
        let Some((_, peer, _)) = self.session.take() else {
            return;
        };
        self.waiting_since = None;
        cx.set_interrupt(None);
        if !cx.is_stopped() {
            cx.event(&SenderEvent::Disconnected { peer, error });
        }
        cx.session_lost();
    }

    fn try_connect(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for addr in self.to.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(ErrorKind::NotFound, "the address resolved to nothing")
        }))
    }

    /// The connection as this sender uses it: TLS when configured.
    fn secure(&self, tcp: TcpStream) -> Result<Conn, SessionError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let host = host_of(&self.to);
            return tls_handshake(tcp, tls, host, self.status_timeout);
        }
        Ok(Conn::Plain(tcp))
    }

    /// One more failed attempt: when to try again, or `None` to give up.
    fn failed(&mut self, floor: Duration) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        match self.retry {
            Retry::Attempts(n) if self.failures > n => None,
            _ => Some(self.backoff.next_delay().max(floor)),
        }
    }

    fn give_up(&self, last: impl std::error::Error + Send + Sync + 'static) -> StreamError {
        StreamError::GaveUp {
            to: self.to.clone(),
            attempts: self.failures,
            last: Box::new(last),
        }
    }

    /// After a failed step of an attempt: when to try again, or give up.
    fn retry_or_give_up(
        &mut self,
        error: SessionError,
        peer: SocketAddr,
        cx: &SendContext<'_>,
    ) -> Attempt {
        if cx.is_stopped() {
            return Attempt::Retry(Duration::ZERO);
        }
        let retry_in = if retrying_may_help(&error) {
            self.failed(Duration::ZERO)
        } else {
            self.failures = self.failures.saturating_add(1);
            None
        };
        cx.event(&SenderEvent::HandshakeFailed {
            peer,
            error: &error,
            retry_in,
        });
        match retry_in {
            Some(delay) => Attempt::Retry(delay),
            None if retrying_may_help(&error) => Attempt::Fatal(self.give_up(error)),
            None => Attempt::Fatal(self.rejected(error)),
        }
    }

    /// The receiver refused the session: a refusal that can pass (busy,
    /// stopping) is retried after the backoff, at least `retry_after_ms`
    /// later (the delay is returned); any other stops the sender at once.
    fn refusal(
        &mut self,
        status: Status,
        peer: SocketAddr,
        cx: &SendContext<'_>,
    ) -> Result<Duration, StreamError> {
        let code = status.code();
        let passes = refusal_may_pass(code);
        let retry_in = if passes {
            self.failed(Duration::from_millis(u64::from(status.retry_after_ms)))
        } else {
            self.failures = self.failures.saturating_add(1);
            None
        };
        cx.event(&SenderEvent::Refused {
            peer,
            code,
            reason: &status.reason,
            retry_in,
        });
        let refused = crate::error::Refused {
            code,
            reason: status.reason,
        };
        match retry_in {
            Some(delay) => Ok(delay),
            None if passes => Err(self.give_up(refused)),
            None => Err(self.rejected(refused)),
        }
    }

    /// The error of a sender stopped by an answer that trying again cannot
    /// change.
    fn rejected(&self, cause: impl std::error::Error + Send + Sync + 'static) -> StreamError {
        StreamError::Rejected {
            to: self.to.clone(),
            cause: Box::new(cause),
        }
    }

    fn attempt(&mut self, cx: &SendContext<'_>) -> Attempt {
        let stream = match self.try_connect() {
            Ok(stream) => stream,
            Err(error) => {
                let retry_in = self.failed(Duration::ZERO);
                cx.event(&SenderEvent::ConnectFailed {
                    to: &self.to,
                    error: &error,
                    retry_in,
                });
                return match retry_in {
                    Some(delay) => Attempt::Retry(delay),
                    None => Attempt::Fatal(self.give_up(error)),
                };
            }
        };
        let _ = stream.set_nodelay(true);
        tune(&stream, self.write_timeout, self.unsent_limit);
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        cx.set_interrupt(stream.try_clone().ok().map(|s| -> Interrupt {
            Box::new(move || {
                let _ = s.shutdown(Shutdown::Both);
            })
        }));
        // A stop that came while connecting must still unblock this socket.
        if cx.is_stopped() {
            return Attempt::Retry(Duration::ZERO);
        }
        let mut stream = match self.secure(stream) {
            Ok(conn) => conn,
            Err(error) => return self.retry_or_give_up(error, peer, cx),
        };
        let mut codec = self.codec.clone();
        let mut stream_id = None;
        let mut feedback = false;
        if codec.prefix() == Prefix::U32Le {
            let status = match session(&mut stream, &self.hello, self.status_timeout) {
                Ok(status) => status,
                Err(error) => return self.retry_or_give_up(error, peer, cx),
            };
            if status.code() != StatusCode::Accepted {
                cx.refused();
                return match self.refusal(status, peer, cx) {
                    Ok(delay) => Attempt::Retry(delay),
                    Err(e) => Attempt::Fatal(e),
                };
            }
            let (w, h) = self.size;
            if status.max_pixels > 0 && u64::from(w) * u64::from(h) > status.max_pixels {
                return Attempt::Fatal(StreamError::PictureTooLarge {
                    width: w,
                    height: h,
                    max_pixels: status.max_pixels,
                });
            }
            if status.max_frame_len > 0 {
                // Frames over the receiver's limit fail here, with both
                // sizes, instead of being cut off by the receiver.
                let ours = codec.frame_len_limit();
                let limit = ours.min(status.max_frame_len);
                codec.set_max_frame_len(usize::try_from(limit).unwrap_or(usize::MAX));
            }
            stream_id = Some(status.stream_id);
            feedback = self.hello.feedback > 0 && status.feedback == handshake::FEEDBACK_VERSION;
            if feedback {
                // Feedback is read between frames, a little at a time: a
                // read must never hold up the next frame.
                let _ = stream.tcp().set_read_timeout(Some(FEEDBACK_READ_TIMEOUT));
            }
        }
        cx.event(&SenderEvent::Connected {
            peer,
            stream_id: stream_id.map(StreamId::new),
        });
        Attempt::Session(FrameWriter::with_codec(stream, codec), peer, feedback)
    }
}

/// Whether a refusal with `code` can pass by itself, so that trying again
/// later may succeed: the receiver is busy, or stopping (and may be
/// restarted). Every other refusal (a wrong or missing token, TLS
/// required, the other framing, a hello or a handshake version the
/// receiver does not take) stays the same however often the sender asks.
pub(super) fn refusal_may_pass(code: StatusCode) -> bool {
    matches!(code, StatusCode::Busy | StatusCode::ShuttingDown)
}

/// Whether a session attempt that failed with `error` may succeed when
/// made again: a network fault, a connection closed or a status that did
/// not come (a receiver under load closes waiting handshakes) may pass. A
/// TLS handshake that failed on the certificate or on TLS itself (one side
/// without it), or an answer in another protocol or handshake version,
/// will fail the same way every time.
pub(super) fn retrying_may_help(error: &SessionError) -> bool {
    match error {
        SessionError::ClosedBeforeStatus | SessionError::Timeout(_) | SessionError::Io(_) => true,
        SessionError::Handshake(_) => false,
        SessionError::Tls { kind, .. } => {
            matches!(kind, TlsFailureKind::Closed | TlsFailureKind::Other)
        }
    }
}

/// How long one read of the receiver's feedback may wait for the rest of a
/// message (or of a TLS record) that has begun to arrive.
const FEEDBACK_READ_TIMEOUT: Duration = Duration::from_millis(2);

/// Bounds how long a broken connection can go unnoticed: a write timeout,
/// TCP keepalive, and (on Linux) `TCP_USER_TIMEOUT` on unacknowledged data.
/// Keeps at most `unsent_limit` bytes unsent in the kernel
/// (`TCP_NOTSENT_LOWAT`, Linux and macOS): the socket reports itself
/// writable, and a blocking write goes on, only below it. Best effort: a
/// socket that refuses an option keeps its defaults.
pub(super) fn tune(stream: &TcpStream, write_timeout: Duration, unsent_limit: u32) {
    let _ = stream.set_write_timeout(Some(write_timeout));
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    let _ = sock.set_tcp_keepalive(&keepalive);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = sock.set_tcp_user_timeout(Some(write_timeout));
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    let _ = sock.set_tcp_notsent_lowat(unsent_limit);
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    let _ = unsent_limit;
}

/// What the socket of a session is ready for.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Readiness {
    /// A whole new frame may start: less than the unsent limit is waiting.
    pub(super) writable: bool,
    /// The receiver sent something (feedback), or closed.
    pub(super) readable: bool,
}

/// Waits up to `timeout` until the socket (with `write`) can take a new
/// frame or (with `read`) has bytes from the receiver.
pub(super) fn wait_ready(
    conn: &Conn,
    read: bool,
    write: bool,
    timeout: Duration,
) -> std::io::Result<Readiness> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut flags = PollFlags::empty();
    if write {
        flags |= PollFlags::OUT;
    }
    if read {
        flags |= PollFlags::IN;
    }
    let tcp = conn.tcp();
    let mut fds = [PollFd::new(tcp, flags)];
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(Readiness::default()),
        Err(e) => return Err(e.into()),
    }
    let got = fds[0].revents();
    let broken = got.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL);
    Ok(Readiness {
        // A broken socket reads as ready: the write or read that follows
        // says what broke.
        writable: got.contains(PollFlags::OUT) || broken,
        readable: got.contains(PollFlags::IN) || (read && broken),
    })
}

/// The last frame of a session written, and the last its receiver said
/// arrived.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    /// The sequence of the last frame written.
    written: Option<u64>,
    /// The sequence of the newest arrival reported.
    arrived: Option<u64>,
    /// Whether the receiver's feedback said, when the socket was last
    /// asked for room, that the last frame written had arrived.
    kept_up: bool,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            written: None,
            arrived: None,
            kept_up: true,
        }
    }
}

impl Delivery {
    fn written(&mut self, sequence: u64) {
        self.written = Some(sequence);
    }

    fn saw(&mut self, feedback: &Feedback) {
        // Oldest first: the last one is the newest.
        if let Some(arrival) = feedback.arrivals.last() {
            self.arrived = arrival.sequence;
        }
    }

    /// Whether the last frame written has arrived whole (or none was
    /// written): nothing of this session waits unsent in the kernel.
    fn all_arrived(&self) -> bool {
        self.written.is_none() || self.arrived == self.written
    }
}

/// Why the receiver's feedback stopped.
#[derive(Debug)]
pub(super) enum FeedbackEnd {
    /// The receiver closed the connection.
    Closed,
    /// A read failed.
    Io(std::io::Error),
    /// What it sent is not feedback.
    Protocol(handshake::HandshakeError),
}

impl FeedbackEnd {
    /// As the I/O error that ends the session.
    fn into_io(self) -> std::io::Error {
        match self {
            Self::Closed => std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "the receiver closed the connection",
            ),
            Self::Io(e) => e,
            Self::Protocol(e) => std::io::Error::new(
                ErrorKind::InvalidData,
                format!("the receiver's feedback is malformed: {e}"),
            ),
        }
    }
}

/// Reads what the receiver has sent back with `read` (which waits for no
/// more than a moment), and hands each whole feedback message to `on`.
/// `inbox` keeps a message that has not fully arrived; `message` is reused
/// (decoding into it allocates nothing once its lists have grown).
pub(super) fn read_feedback(
    mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    inbox: &mut Vec<u8>,
    message: &mut framecast_proto::handshake::Feedback,
    mut on: impl FnMut(&framecast_proto::handshake::Feedback),
) -> Result<(), FeedbackEnd> {
    let mut chunk = [0u8; 2048];
    loop {
        match read(&mut chunk) {
            Ok(0) => return Err(FeedbackEnd::Closed),
            Ok(n) => {
                // Bounded: a message is at most the envelope and
                // MAX_HANDSHAKE_BODY, and whole ones leave at once below.
                inbox.extend_from_slice(&chunk[..n]);
                loop {
                    match handshake::decode_feedback_into(inbox, message) {
                        Ok(Some(len)) => {
                            on(message);
                            inbox.drain(..len);
                        }
                        Ok(None) => break,
                        Err(e) => return Err(FeedbackEnd::Protocol(e)),
                    }
                }
                if n < chunk.len() {
                    return Ok(());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(FeedbackEnd::Io(e)),
        }
    }
}

/// A sender's connection: plaintext, or TLS over TCP.
pub(super) enum Conn {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "tls")]
            Self::Tls(s) => &s.sock,
        }
    }

    /// Ends the stream cleanly at a frame boundary (TLS: with close_notify).
    pub(super) fn finish(&mut self) {
        #[cfg(feature = "tls")]
        if let Self::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = std::io::Write::flush(s.as_mut());
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl std::io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl std::io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.flush(),
        }
    }
}

/// TLS towards the receiver (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct TlsClient {
    pub(crate) config: Arc<rustls::ClientConfig>,
}

/// Makes the TLS handshake within `timeout` (the socket's read and write
/// timeouts bound each step).
#[cfg(feature = "tls")]
pub(super) fn tls_handshake(
    tcp: TcpStream,
    tls: &TlsClient,
    host: &str,
    timeout: Duration,
) -> Result<Conn, SessionError> {
    let name = framecast_tls::server_name(host).map_err(|e| SessionError::Tls {
        kind: TlsFailureKind::Other,
        reason: e.to_string(),
    })?;
    let conn = rustls::ClientConnection::new(Arc::clone(&tls.config), name).map_err(|e| {
        SessionError::Tls {
            kind: TlsFailureKind::Other,
            reason: e.to_string(),
        }
    })?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(SessionError::Io)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                return Err(SessionError::Timeout(timeout));
            }
            let failure = framecast_tls::HandshakeFailure::of(&e);
            let kind = match &failure {
                Some(framecast_tls::HandshakeFailure::NotTls) => TlsFailureKind::NotTls,
                Some(framecast_tls::HandshakeFailure::UnknownIssuer) => {
                    TlsFailureKind::UnknownIssuer
                }
                Some(framecast_tls::HandshakeFailure::WrongName { .. }) => {
                    TlsFailureKind::WrongName
                }
                Some(framecast_tls::HandshakeFailure::Expired) => TlsFailureKind::Expired,
                Some(framecast_tls::HandshakeFailure::Closed) => TlsFailureKind::Closed,
                _ => TlsFailureKind::Other,
            };
            let reason = failure.map_or_else(|| e.to_string(), |f| f.to_string());
            return Err(SessionError::Tls { kind, reason });
        }
    }
    Ok(Conn::Tls(Box::new(stream)))
}

/// Says hello and reads the receiver's status, within `timeout`.
pub(super) fn session(
    stream: &mut Conn,
    hello: &Hello,
    timeout: Duration,
) -> Result<Status, SessionError> {
    use std::io::{Read, Write};
    let mut out = Vec::with_capacity(64);
    handshake::encode_hello(hello, &mut out);
    stream.write_all(&out).map_err(SessionError::Io)?;
    stream.flush().map_err(SessionError::Io)?;
    stream
        .tcp()
        .set_read_timeout(Some(timeout))
        .map_err(SessionError::Io)?;
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 512];
    let status = loop {
        match handshake::decode_status(&buf).map_err(SessionError::Handshake)? {
            Decoded::Complete { message, .. } => break message,
            Decoded::Incomplete { .. } => {}
        }
        if Instant::now() >= deadline {
            return Err(SessionError::Timeout(timeout));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(SessionError::ClosedBeforeStatus),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(SessionError::Timeout(timeout));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Err(SessionError::ClosedBeforeStatus);
            }
            Err(e) => return Err(SessionError::Io(e)),
        }
    };
    stream
        .tcp()
        .set_read_timeout(None)
        .map_err(SessionError::Io)?;
    Ok(status)
}

/// After a write failed on a legacy-framed connection: whether the
/// receiver had sent a status, which only a framecast receiver expecting
/// the session handshake does.
fn refusal_on_legacy(stream: &Conn) -> Option<Status> {
    use std::io::Read;
    let stream = stream.tcp();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 1024];
    let mut reader = stream;
    let n = reader.read(&mut buf).ok()?;
    match handshake::decode_status(&buf[..n]) {
        Ok(Decoded::Complete { message, .. }) => Some(message),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use framecast_proto::handshake::Arrival;

    use super::*;

    fn arrivals(sequences: &[Option<u64>]) -> Feedback {
        Feedback {
            arrivals: sequences
                .iter()
                .map(|&sequence| Arrival {
                    sequence,
                    ..Arrival::default()
                })
                .collect(),
            ..Feedback::default()
        }
    }

    #[test]
    fn only_the_arrival_of_the_last_frame_written_means_nothing_waits() {
        let mut d = Delivery::default();
        assert!(d.all_arrived(), "nothing written yet");
        d.written(7);
        assert!(!d.all_arrived());
        d.saw(&arrivals(&[Some(6)]));
        assert!(!d.all_arrived(), "an older frame");
        d.saw(&arrivals(&[Some(6), Some(7)]));
        assert!(d.all_arrived(), "the newest arrival is the last frame");
        d.written(8);
        assert!(!d.all_arrived());
        d.saw(&arrivals(&[]));
        assert!(!d.all_arrived(), "no arrival says nothing");
        d.saw(&arrivals(&[Some(8), None]));
        assert!(
            !d.all_arrived(),
            "a payload that was no Video came after it"
        );
    }
}
