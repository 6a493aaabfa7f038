//! Reaching the receiver: connecting with a timeout and socket options, TLS
//! (feature `tls`), the session handshake, and telling a refusal from a
//! network fault, with backoff between attempts.

use super::*;

/// Where and how to connect, and the session handshake.
pub(super) struct Link {
    pub(super) to: String,
    pub(super) codec: FrameCodec,
    /// The size of the frames this sender makes.
    pub(super) size: (u32, u32),
    pub(super) hello: Hello,
    pub(super) hook: Option<SenderHook>,
    pub(super) status_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) write_timeout: Duration,
    pub(super) retry: Retry,
    /// Failed attempts since the last session that carried frames.
    pub(super) failures: u32,
    pub(super) backoff: Backoff,
    #[cfg(feature = "tls")]
    pub(super) tls: Option<TlsClient>,
    /// `TCP_NOTSENT_LOWAT`: see [`SenderBuilder::unsent_limit`].
    pub(super) unsent_limit: u32,
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
pub(super) enum Attempt {
    /// A session: the writer, the receiver's address, and whether it sends
    /// feedback.
    Session(FrameWriter<Conn>, SocketAddr, bool),
    Retry(Duration),
    Fatal(StreamError),
}

impl Link {
    pub(super) fn event(&self, event: &SenderEvent<'_>) {
        match &self.hook {
            Some(hook) => {
                tracing::debug!("{event}");
                hook(event);
            }
            None => log_sender_event(event, None),
        }
    }

    pub(super) fn try_connect(&self) -> std::io::Result<TcpStream> {
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

    /// Connects, retrying with backoff; `None` once stopped.
    pub(super) fn connect(
        &mut self,
        shared: &SenderShared,
    ) -> Option<(FrameWriter<Conn>, SocketAddr, bool)> {
        loop {
            if shared.stopped() {
                return None;
            }
            match self.attempt(shared) {
                Attempt::Session(w, peer, feedback) => return Some((w, peer, feedback)),
                Attempt::Retry(delay) => {
                    if shared.sleep(delay) {
                        return None;
                    }
                }
                Attempt::Fatal(e) => {
                    shared.fail(e);
                    return None;
                }
            }
        }
    }

    /// The connection as this sender uses it: TLS when configured.
    pub(super) fn secure(&self, tcp: TcpStream) -> Result<Conn, SessionError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let host = host_of(&self.to);
            return tls_handshake(tcp, tls, host, self.status_timeout);
        }
        Ok(Conn::Plain(tcp))
    }

    /// One more failed attempt: when to try again, or `None` to give up.
    pub(super) fn failed(&mut self, floor: Duration) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        match self.retry {
            Retry::Attempts(n) if self.failures > n => None,
            _ => Some(self.backoff.next_delay().max(floor)),
        }
    }

    pub(super) fn give_up(&self, last: impl std::error::Error + Send + Sync + 'static) -> Attempt {
        Attempt::Fatal(StreamError::GaveUp {
            to: self.to.clone(),
            attempts: self.failures,
            last: Box::new(last),
        })
    }

    pub(super) fn attempt(&mut self, shared: &SenderShared) -> Attempt {
        let stream = match self.try_connect() {
            Ok(stream) => stream,
            Err(error) => {
                let retry_in = self.failed(Duration::ZERO);
                self.event(&SenderEvent::ConnectFailed {
                    to: &self.to,
                    error: &error,
                    retry_in,
                });
                return match retry_in {
                    Some(delay) => Attempt::Retry(delay),
                    None => self.give_up(error),
                };
            }
        };
        let _ = stream.set_nodelay(true);
        tune(&stream, self.write_timeout, self.unsent_limit);
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        *lock(&shared.socket) = stream.try_clone().ok();
        // A stop that came while connecting must still unblock this socket.
        if shared.stopped() {
            return Attempt::Retry(Duration::ZERO);
        }
        let mut stream = match self.secure(stream) {
            Ok(conn) => conn,
            Err(error) => {
                if shared.stopped() {
                    return Attempt::Retry(Duration::ZERO);
                }
                let retry_in = self.failed(Duration::ZERO);
                self.event(&SenderEvent::HandshakeFailed {
                    peer,
                    error: &error,
                    retry_in,
                });
                return match retry_in {
                    Some(delay) => Attempt::Retry(delay),
                    None => self.give_up(error),
                };
            }
        };
        let mut codec = self.codec.clone();
        let mut stream_id = None;
        let mut feedback = false;
        if codec.prefix() == Prefix::U32Le {
            let status = match session(&mut stream, &self.hello, self.status_timeout) {
                Ok(status) => status,
                Err(error) => {
                    if shared.stopped() {
                        return Attempt::Retry(Duration::ZERO);
                    }
                    let retry_in = self.failed(Duration::ZERO);
                    self.event(&SenderEvent::HandshakeFailed {
                        peer,
                        error: &error,
                        retry_in,
                    });
                    return match retry_in {
                        Some(delay) => Attempt::Retry(delay),
                        None => self.give_up(error),
                    };
                }
            };
            if status.code() != StatusCode::Accepted {
                lock(&shared.counters).refused += 1;
                let floor = Duration::from_millis(u64::from(status.retry_after_ms));
                let retry_in = self.failed(floor);
                self.event(&SenderEvent::Refused {
                    peer,
                    code: status.code(),
                    reason: &status.reason,
                    retry_in,
                });
                return match retry_in {
                    Some(delay) => Attempt::Retry(delay),
                    None => self.give_up(crate::error::Refused {
                        code: status.code(),
                        reason: status.reason,
                    }),
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
                // Feedback is read between frames, a little at a time:
                // a read must never hold up the next frame.
                let _ = stream.tcp().set_read_timeout(Some(FEEDBACK_READ_TIMEOUT));
            }
        }
        self.event(&SenderEvent::Connected { peer, stream_id });
        Attempt::Session(FrameWriter::with_codec(stream, codec), peer, feedback)
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

/// Waits up to `timeout` until the socket can take a new frame or (with
/// `read`) has bytes from the receiver.
pub(super) fn wait_ready(
    conn: &Conn,
    read: bool,
    timeout: Duration,
) -> std::io::Result<Readiness> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut flags = PollFlags::OUT;
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

/// Reads what the receiver has sent back, without waiting for more than a
/// moment, and hands each whole feedback message to `on`. `inbox` keeps a
/// message that has not fully arrived; `message` is reused (decoding into
/// it allocates nothing once its lists have grown).
pub(super) fn read_feedback(
    conn: &mut Conn,
    inbox: &mut Vec<u8>,
    message: &mut framecast_proto::handshake::Feedback,
    mut on: impl FnMut(&framecast_proto::handshake::Feedback),
) -> Result<(), FeedbackEnd> {
    use std::io::Read;
    let mut chunk = [0u8; 2048];
    loop {
        match conn.read(&mut chunk) {
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
pub(super) fn refusal_on_legacy(stream: &Conn) -> Option<Status> {
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
