//! What happens to the engines' connections, as events: for logs, for a
//! program's own hints, and for monitoring.
//!
//! Each engine logs every event at its level, and takes an optional hook
//! (`ReceiverBuilder::on_event`, `SenderBuilder::on_event`) that sees each
//! event first and may return a hint in the program's own terms, which is
//! appended to the event's log line.
//!
//! Logging is rate-limited per kind of event ([`LOG_BURST`] a second), by a
//! [`LogLimiter`] each engine owns, so a peer that connects twenty thousand
//! times cannot flood the log (nor silence another engine's lines); the
//! number of lines left out is reported with the next one let through.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use framecast_proto::handshake::StatusCode;
use framecast_wire::WireError;

use crate::frame::StreamId;
use crate::handshake::HandshakeError;

/// How many log lines of one kind of event are written per second; the
/// rest are counted and reported with the next line let through.
pub const LOG_BURST: u32 = 20;

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// No complete hello within the handshake timeout.
    Handshake,
    /// No complete frame within the idle timeout.
    Idle,
    /// A frame started and did not finish within the trickle timeout.
    Trickle,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Handshake => "no complete handshake",
            Self::Idle => "no complete frame",
            Self::Trickle => "a frame started but not finished",
        })
    }
}

/// Why a stream ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum EndCause {
    /// The sender closed the connection at a frame boundary.
    Closed,
    /// A timeout passed.
    Timeout {
        /// Which one.
        kind: TimeoutKind,
        /// Its length.
        after: Duration,
    },
    /// The framing broke (a length over the limit, a stream cut inside a
    /// frame, an I/O error).
    Wire(WireError),
    /// The receiver is stopping.
    Stopping,
}

impl fmt::Display for EndCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the sender closed the connection"),
            Self::Timeout { kind, after } => write!(f, "timed out: {kind} within {after:?}"),
            Self::Wire(e) => write!(f, "{}", crate::error::Report(e)),
            Self::Stopping => f.write_str("the receiver is stopping"),
        }
    }
}

/// Something that happened to one of a receiver's connections.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReceiverEvent<'a> {
    /// A session was accepted: frames may flow.
    StreamStarted {
        /// Its number.
        id: StreamId,
        /// Its name, exact (`Display` shows it escaped, see
        /// [`StreamName::printable`](crate::StreamName::printable)).
        name: &'a str,
        /// The sender's address.
        peer: SocketAddr,
    },
    /// A session ended; its stream's counters stay in the stats.
    StreamEnded {
        /// Its number.
        id: StreamId,
        /// Its name, exact (`Display` shows it escaped, see
        /// [`StreamName::printable`](crate::StreamName::printable)).
        name: &'a str,
        /// The sender's address.
        peer: SocketAddr,
        /// Why.
        cause: &'a EndCause,
    },
    /// A connection was refused: answered with a status saying why, or,
    /// when even that cannot be afforded (too many connections) or the
    /// framing has no handshake, closed at once.
    Refused {
        /// The peer.
        peer: SocketAddr,
        /// Why, as sent to the peer.
        code: StatusCode,
        /// Why, in words.
        reason: &'a str,
    },
    /// A connection did not speak the handshake properly and was closed.
    HandshakeFailed {
        /// The peer.
        peer: SocketAddr,
        /// What was wrong.
        error: &'a HandshakeError,
    },
    /// A connection was closed by a timeout before it became a stream.
    TimedOut {
        /// The peer.
        peer: SocketAddr,
        /// Which timeout.
        kind: TimeoutKind,
        /// Its length.
        after: Duration,
    },
    /// A receiver using the legacy framing (which has no handshake) was sent
    /// a framecast hello: the sender uses the default framing.
    HelloOnLegacyFraming {
        /// The peer.
        peer: SocketAddr,
    },
    /// A plaintext connection reached a receiver that requires TLS; it was
    /// told so (in plaintext) and closed.
    PlaintextOnTls {
        /// The peer.
        peer: SocketAddr,
    },
    /// A TLS client reached a receiver without TLS; it was closed.
    TlsOnPlaintext {
        /// The peer.
        peer: SocketAddr,
    },
    /// A TLS handshake failed.
    TlsFailed {
        /// The peer.
        peer: SocketAddr,
        /// Why, in words.
        reason: &'a str,
    },
    /// Accepting a connection failed (out of file descriptors, say); the
    /// receiver keeps serving the streams it has and retries.
    AcceptFailed {
        /// Why.
        error: &'a io::Error,
    },
}

impl ReceiverEvent<'_> {
    /// How loud this event is in a log.
    pub fn level(&self) -> tracing::Level {
        match self {
            Self::StreamStarted { .. }
            | Self::StreamEnded {
                cause: EndCause::Closed | EndCause::Stopping,
                ..
            } => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }

    fn kind(&self) -> usize {
        match self {
            Self::StreamStarted { .. } => 0,
            Self::StreamEnded { .. } => 1,
            Self::Refused { .. } => 2,
            Self::HandshakeFailed { .. } => 3,
            Self::TimedOut { .. } => 4,
            Self::HelloOnLegacyFraming { .. } => 5,
            Self::AcceptFailed { .. } => 6,
            Self::PlaintextOnTls { .. } | Self::TlsOnPlaintext { .. } | Self::TlsFailed { .. } => 7,
        }
    }
}

impl fmt::Display for ReceiverEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StreamStarted { id, name, peer } => {
                let name = framecast_net::printable(name);
                write!(f, "stream {id} \"{name}\" connected from {peer}")
            }
            Self::StreamEnded {
                id,
                name,
                peer,
                cause,
            } => {
                let name = framecast_net::printable(name);
                write!(f, "stream {id} \"{name}\" from {peer} ended: {cause}")
            }
            Self::Refused { peer, reason, .. } => write!(f, "refused {peer}: {reason}"),
            Self::HandshakeFailed { peer, error } => {
                write!(f, "closed {peer}: {error}")?;
                if let Some(source) = std::error::Error::source(error) {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            Self::TimedOut { peer, kind, after } => {
                write!(f, "closed {peer}: timed out: {kind} within {after:?}")
            }
            Self::HelloOnLegacyFraming { peer } => write!(
                f,
                "closed {peer}: it sent the framecast session handshake, but this receiver uses \
                 the legacy framing, which has none"
            ),
            Self::AcceptFailed { error } => write!(f, "cannot accept a connection: {error}"),
            Self::PlaintextOnTls { peer } => write!(
                f,
                "refused {peer}: it connected in plaintext and this receiver requires TLS"
            ),
            Self::TlsOnPlaintext { peer } => write!(
                f,
                "closed {peer}: it speaks TLS and this receiver does not use TLS"
            ),
            Self::TlsFailed { peer, reason } => {
                write!(f, "TLS handshake with {peer} failed: {reason}")
            }
        }
    }
}

/// Something that happened to a sender's connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum SenderEvent<'a> {
    /// A session was accepted by the receiver (or, with the legacy framing,
    /// a connection opened).
    Connected {
        /// The receiver's address.
        peer: SocketAddr,
        /// The receiver's number for this stream, when it said.
        stream_id: Option<StreamId>,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// Where to.
        to: &'a str,
        /// Why.
        error: &'a io::Error,
        /// When the next attempt is.
        retry_in: Option<Duration>,
    },
    /// The receiver refused the session.
    Refused {
        /// The receiver.
        peer: SocketAddr,
        /// Why (the receiver's code).
        code: StatusCode,
        /// Why, in the receiver's words.
        reason: &'a str,
        /// When the next attempt is.
        retry_in: Option<Duration>,
    },
    /// The receiver did not answer the handshake properly.
    HandshakeFailed {
        /// The receiver.
        peer: SocketAddr,
        /// What went wrong.
        error: &'a crate::SessionError,
        /// When the next attempt is.
        retry_in: Option<Duration>,
    },
    /// An open session broke.
    Disconnected {
        /// The receiver.
        peer: SocketAddr,
        /// Why.
        error: &'a WireError,
    },
}

impl SenderEvent<'_> {
    /// How loud this event is in a log.
    pub fn level(&self) -> tracing::Level {
        match self {
            Self::Connected { .. } => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }

    fn kind(&self) -> usize {
        match self {
            Self::Connected { .. } => 0,
            Self::ConnectFailed { .. } => 1,
            Self::Refused { .. } => 2,
            Self::HandshakeFailed { .. } => 3,
            Self::Disconnected { .. } => 4,
        }
    }
}

fn retry(f: &mut fmt::Formatter<'_>, retry_in: Option<Duration>) -> fmt::Result {
    match retry_in {
        Some(d) => write!(f, "; retrying in {:.1} s", d.as_secs_f64()),
        None => Ok(()),
    }
}

impl fmt::Display for SenderEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connected {
                peer,
                stream_id: Some(id),
            } => write!(f, "connected to {peer} (stream {id})"),
            Self::Connected { peer, .. } => write!(f, "connected to {peer}"),
            Self::ConnectFailed {
                to,
                error,
                retry_in,
            } => {
                write!(f, "cannot connect to {to}: {error}")?;
                retry(f, *retry_in)
            }
            Self::Refused {
                peer,
                reason,
                retry_in,
                ..
            } => {
                write!(f, "{peer} refused the session: {reason}")?;
                retry(f, *retry_in)
            }
            Self::HandshakeFailed {
                peer,
                error,
                retry_in,
            } => {
                write!(f, "handshake with {peer} failed: {error}")?;
                let mut source = std::error::Error::source(*error);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                retry(f, *retry_in)
            }
            Self::Disconnected { peer, error } => write!(
                f,
                "connection to {peer} lost: {}",
                crate::error::Report(*error)
            ),
        }
    }
}

/// How many kinds of line a [`LogLimiter`] tells apart; kinds beyond share
/// the budget of `kind % LOG_KINDS`.
pub const LOG_KINDS: usize = 8;

/// Rate-limits log lines per kind: at most [`LOG_BURST`] lines of one kind
/// a second; the lines left out are counted and said with the next one let
/// through. Adapters (an HTTP viewer, a publisher) own one each, so that a
/// flood on one cannot silence another's lines.
///
/// ```
/// use framecast_stream::events::{LOG_BURST, LogLimiter};
///
/// let limiter = LogLimiter::new();
/// for _ in 0..LOG_BURST {
///     assert_eq!(limiter.admit(0), Some(0));
/// }
/// assert_eq!(limiter.admit(0), None); // over the burst: counted
/// assert_eq!(limiter.admit(1), Some(0)); // another kind has its own budget
/// limiter.log(1, tracing::Level::INFO, format_args!("a line"), None);
/// ```
pub struct LogLimiter {
    slots: Mutex<[(Option<Instant>, u32, u64); LOG_KINDS]>,
}

impl std::fmt::Debug for LogLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogLimiter")
    }
}

impl Default for LogLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LogLimiter {
    /// A limiter that has let nothing through yet.
    pub const fn new() -> Self {
        Self {
            slots: Mutex::new([(None, 0, 0); LOG_KINDS]),
        }
    }

    /// Whether a line of `kind` may be written now, and if so how many of
    /// its kind were left out before it.
    pub fn admit(&self, kind: usize) -> Option<u64> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, written, suppressed) = &mut slots[kind % LOG_KINDS];
        let now = Instant::now();
        if start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1)) {
            *start = Some(now);
            *written = 0;
        }
        if *written < LOG_BURST {
            *written += 1;
            Some(std::mem::take(suppressed))
        } else {
            *suppressed += 1;
            None
        }
    }

    /// Writes `text` at `level`, followed by `hint` when given and by how
    /// many similar lines were left out, if a line of `kind` is admitted
    /// now.
    pub fn log(
        &self,
        kind: usize,
        level: tracing::Level,
        text: fmt::Arguments<'_>,
        hint: Option<&str>,
    ) {
        if let Some(left_out) = self.admit(kind) {
            emit(level, text, hint, left_out);
        }
    }
}

fn emit(level: tracing::Level, text: fmt::Arguments<'_>, hint: Option<&str>, left_out: u64) {
    let hint = hint.unwrap_or("");
    let sep = if hint.is_empty() { "" } else { "; " };
    let more = if left_out > 0 {
        format!(" ({left_out} similar lines left out)")
    } else {
        String::new()
    };
    match level {
        tracing::Level::ERROR => tracing::error!("{text}{sep}{hint}{more}"),
        tracing::Level::WARN => tracing::warn!("{text}{sep}{hint}{more}"),
        tracing::Level::INFO => tracing::info!("{text}{sep}{hint}{more}"),
        _ => tracing::debug!("{text}{sep}{hint}{more}"),
    }
}

impl ReceiverEvent<'_> {
    /// Logs this event at its [`level`](Self::level) through `limiter`,
    /// with `hint` appended when given.
    pub fn log(&self, limiter: &LogLimiter, hint: Option<&str>) {
        limiter.log(self.kind(), self.level(), format_args!("{self}"), hint);
    }
}

impl SenderEvent<'_> {
    /// Logs this event at its [`level`](Self::level) through `limiter`,
    /// with `hint` appended when given.
    pub fn log(&self, limiter: &LogLimiter, hint: Option<&str>) {
        limiter.log(self.kind(), self.level(), format_args!("{self}"), hint);
    }
}

/// A hook that sees every receiver event before it is logged, and returns
/// what the user can do about it (a hint in the program's own terms, added
/// to the log line), if anything.
pub type ReceiverHook = Box<dyn Fn(&ReceiverEvent<'_>) -> Option<&'static str> + Send + Sync>;

/// A hook that sees every sender event before it is logged, and returns
/// what the user can do about it, if anything.
pub type SenderHook = Box<dyn Fn(&SenderEvent<'_>) -> Option<&'static str> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_a_burst_through_then_counts() {
        let l = LogLimiter::new();
        for _ in 0..LOG_BURST {
            assert_eq!(l.admit(1), Some(0));
        }
        assert_eq!(l.admit(1), None);
        assert_eq!(l.admit(1), None);
        // Another kind has its own budget.
        assert_eq!(l.admit(2), Some(0));
    }

    #[test]
    fn events_read_as_sentences() {
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let e = ReceiverEvent::TimedOut {
            peer,
            kind: TimeoutKind::Idle,
            after: Duration::from_secs(10),
        };
        assert_eq!(
            e.to_string(),
            "closed 127.0.0.1:4000: timed out: no complete frame within 10s"
        );
        let e = ReceiverEvent::Refused {
            peer,
            code: StatusCode::Busy,
            reason: "busy: already serving 16 senders",
        };
        assert_eq!(
            e.to_string(),
            "refused 127.0.0.1:4000: busy: already serving 16 senders"
        );
        assert_eq!(e.level(), tracing::Level::WARN);
    }
}
