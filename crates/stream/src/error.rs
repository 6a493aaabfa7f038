//! The engines' errors, one per concern: [`StreamError`] (what stops an
//! engine) and [`SessionError`] (why one session attempt of a sender
//! failed). Adapters and the recording have their own (a transport's
//! reaches the sender's caller inside [`StreamError::Transport`]).
//!
//! Each error names its cause once: either in its message or as its
//! [`source`](std::error::Error::source), never both. [`Report`] prints an
//! error with its chain of causes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use framecast_capture::CaptureError;
use framecast_codec::CodecError;
use framecast_display::DisplayError;
use framecast_wire::WireError;

use crate::handshake::{HandshakeError, PeerGuess};

/// Everything that can stop a sender or a receiver.
///
/// Per-frame problems (a corrupt frame, one sender's broken connection) are
/// not errors of the engine: they are counted in the stats and the engine
/// carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A setting cannot work.
    #[error("invalid setting {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The receiver could not listen on its address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A thread of the engine could not be started.
    #[error("cannot start the {what} thread")]
    Spawn {
        /// Which stage.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The frame source failed.
    #[error("frame source failed")]
    Capture(#[from] CaptureError),
    /// Encoding or scaling a frame failed.
    #[error("encoding a frame failed")]
    Codec(#[from] CodecError),
    /// A sink failed for a reason other than a bad frame (e.g. the recorder
    /// could not write its file).
    #[error("a sink failed")]
    Display(#[from] DisplayError),
    /// Framing failed on the sending side.
    #[error("framing failed")]
    Wire(#[from] WireError),
    /// The receiver accepts smaller frames than this sender makes.
    #[error(
        "the receiver accepts pictures of at most {max_pixels} pixels; this sender sends \
         {width}x{height}"
    )]
    PictureTooLarge {
        /// The frame width.
        width: u32,
        /// The frame height.
        height: u32,
        /// The receiver's limit.
        max_pixels: u64,
    },
    /// A frame is longer than the receiver accepts.
    #[error("a frame of {len} bytes exceeds the receiver's {max}-byte limit")]
    FrameTooLong {
        /// The frame's length.
        len: u64,
        /// The receiver's limit.
        max: u64,
    },
    /// A sender made as many failed attempts in a row as it was allowed.
    #[error("gave up on {to} after {attempts} failed attempt{}", if *attempts == 1 { "" } else { "s" })]
    GaveUp {
        /// The receiver's address, as given.
        to: String,
        /// Attempts made since the last session that carried frames.
        attempts: u32,
        /// What went wrong the last time.
        #[source]
        last: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The receiver answered in a way trying again cannot change: it
    /// refused the session for a reason that stays (a wrong or missing
    /// token, TLS required, the other framing, a handshake version it does
    /// not speak), or the connection cannot work (TLS on one side only, a
    /// certificate not trusted or not for the name connected to, a peer
    /// that does not speak the handshake). The sender stops at the first
    /// such answer, whatever its retry setting; `cause` is a [`Refused`]
    /// (with the receiver's code and reason) or a [`SessionError`].
    #[error("cannot stream to {to}, and trying again would not help")]
    Rejected {
        /// The receiver's address, as given.
        to: String,
        /// The receiver's refusal or the failure.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sender's transport other than TCP cannot go on (its own error,
    /// found with `downcast_ref`: a NATS sender's is `framecast_nats::NatsError`).
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// A stage of the engine panicked (a bug).
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// A receiver's refusal of a session, as an error.
#[derive(Debug, thiserror::Error)]
#[error("the receiver refused the session: {reason}")]
pub struct Refused {
    /// The receiver's code.
    pub code: framecast_proto::handshake::StatusCode,
    /// The receiver's words.
    pub reason: String,
}

/// Why a sender's session attempt failed after the connection opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The receiver closed the connection without answering the hello.
    #[error(
        "the receiver closed the connection without answering the session handshake; it may \
         not speak it (the original programs and receivers using the legacy framing do not)"
    )]
    ClosedBeforeStatus,
    /// No answer came in time.
    #[error(
        "no answer to the session handshake within {0:?}; the receiver may not speak it (the \
         original programs and receivers using the legacy framing do not)"
    )]
    Timeout(Duration),
    /// The answer was not a framecast status.
    #[error("the receiver's answer is not a framecast session status")]
    Handshake(#[source] HandshakeError),
    /// The connection failed during the handshake.
    #[error("the connection failed during the session handshake")]
    Io(#[source] io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {reason}")]
    Tls {
        /// What kind of failure, for hints.
        kind: TlsFailureKind,
        /// Why, in words.
        reason: String,
    },
}

/// What kind of TLS failure a [`SessionError::Tls`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailureKind {
    /// The receiver does not speak TLS.
    NotTls,
    /// Its certificate is not signed by a trusted CA.
    UnknownIssuer,
    /// Its certificate is not for the name connected to.
    WrongName,
    /// Its certificate has expired or is not valid yet.
    Expired,
    /// It closed the connection during the handshake.
    Closed,
    /// Anything else.
    Other,
}

impl SessionError {
    /// Whether the peer looks like it does not speak the session handshake
    /// at all (the legacy framing): it closed, stayed silent, or answered
    /// with something else.
    pub fn peer_lacks_handshake(&self) -> bool {
        match self {
            Self::ClosedBeforeStatus | Self::Timeout(_) => true,
            Self::Handshake(e) => e.peer_guess().is_some_and(|g| g != PeerGuess::HttpServer),
            Self::Io(e) => e.kind() == io::ErrorKind::ConnectionReset,
            Self::Tls { .. } => false,
        }
    }

    /// Whether the peer answered as an HTTP server does: the address is an
    /// HTTP port (a receiver's viewer, say), not a receiver's frame port.
    pub fn peer_is_http_server(&self) -> bool {
        matches!(self, Self::Handshake(e) if e.peer_guess() == Some(PeerGuess::HttpServer))
    }
}

/// Displays an error followed by each of its causes: `a: b: c`.
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
