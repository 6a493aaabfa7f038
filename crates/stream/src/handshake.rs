//! The session handshake of the framecast framing, sans I/O.
//!
//! Before any frame, the sender writes a **hello** and the receiver answers
//! with a **status**; then frames flow from sender to receiver. When the
//! hello asked for it ([`Hello::feedback`]) and the status agreed
//! ([`Status::feedback`]), the receiver sends **feedback** back while frames
//! flow: what arrived and when, what it dropped, what it asks of the sender
//! ([`Feedback`]); otherwise nothing more comes back. Each of these messages
//! is a small envelope around a protobuf body ([`Hello`] / [`Status`] /
//! [`Feedback`] from `framecast-proto`):
//!
//! ```text
//! byte  0    1    2    3    4         5    6         7 ........ 7+L-1
//!     +----+----+----+----+---------+----+----+    +---------------+
//!     |      magic        | version |  L, u16 LE |  | body: L bytes |
//!     +----+----+----+----+---------+----+----+    +---------------+
//!       "FCST" (46 43 53 54) hello    L <= 4096      protobuf Hello
//!       "FCRS" (46 43 52 53) status                  protobuf Status
//!       "FCFB" (46 43 46 42) feedback                protobuf Feedback
//! ```
//!
//! The magic lets each side tell a framecast peer from anything else (the
//! original programs' legacy framing, a TLS client, an HTTP client) and say
//! so clearly; see [`PeerGuess`]. The version is [`HANDSHAKE_VERSION`]; a
//! receiver that gets another answers [`StatusCode::UnsupportedVersion`].
//! Body lengths are checked against [`MAX_HANDSHAKE_BODY`] before anything
//! is buffered for them.
//!
//! ```
//! use framecast_proto::handshake::{Hello, Status, StatusCode};
//! use framecast_stream::handshake::{self, Decoded};
//!
//! let mut wire = Vec::new();
//! handshake::encode_hello(&Hello { name: "door".into(), ..Default::default() }, &mut wire);
//! assert_eq!(&wire[..5], b"FCST\x01");
//! // Fed a byte at a time, the decoder asks for more until the end.
//! assert!(matches!(handshake::decode_hello(&wire[..3])?, Decoded::Incomplete { .. }));
//! let Decoded::Complete { message, len } = handshake::decode_hello(&wire)? else {
//!     unreachable!()
//! };
//! assert_eq!((message.name.as_str(), len), ("door", wire.len()));
//!
//! // Anything else is refused with a guess at what the peer is.
//! let legacy = b"\x31\x01\x00\x00\x00\x00\x00\x00\x0a\x9f\x02";
//! let err = handshake::decode_hello(legacy).unwrap_err();
//! assert!(err.to_string().contains("legacy framing"), "{err}");
//! # Ok::<(), handshake::HandshakeError>(())
//! ```

use std::fmt;

use framecast_proto::handshake::{Feedback, Hello, Status, StatusCode};
use prost::Message;

/// The version of the handshake this crate speaks.
pub const HANDSHAKE_VERSION: u8 = 1;

/// The version of the [`Feedback`] messages this crate reads and writes
/// ([`Hello::feedback`], [`Status::feedback`]); 0 there means none.
pub const FEEDBACK_VERSION: u32 = 1;

/// The first four bytes of a receiver's feedback: `FCFB`.
pub const FEEDBACK_MAGIC: [u8; 4] = *b"FCFB";

/// The most arrivals one [`Feedback`] carries, so that its body stays
/// within [`MAX_HANDSHAKE_BODY`] (an arrival takes at most 40 bytes); a
/// receiver with more to report sends several.
pub const MAX_ARRIVALS_PER_FEEDBACK: usize = 64;

/// The first four bytes of a sender's hello: `FCST`.
pub const HELLO_MAGIC: [u8; 4] = *b"FCST";

/// The first four bytes of a receiver's status: `FCRS`.
pub const STATUS_MAGIC: [u8; 4] = *b"FCRS";

/// The envelope before a body: magic (4), version (1), body length (2).
pub const ENVELOPE_LEN: usize = 7;

/// The largest handshake body accepted (and sent), in bytes: 4 KiB, far
/// more than a name, a token and a program name need.
pub const MAX_HANDSHAKE_BODY: usize = 4096;

/// The longest stream name a hello may carry, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;

/// The longest token a hello may carry, in bytes.
pub const MAX_TOKEN_LEN: usize = 1024;

/// How many bytes a receiver looks at to guess what a peer that did not
/// start with a hello is (a legacy header and the first byte of its
/// payload).
pub const GUESS_LEN: usize = 9;

/// The outcome of feeding bytes to a decoder.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<M> {
    /// Not enough bytes yet: at least `needed` more are required.
    Incomplete {
        /// How many more bytes the decoder needs, at least.
        needed: usize,
    },
    /// A whole message, which took the first `len` bytes.
    Complete {
        /// The message.
        message: M,
        /// How many bytes of the input it took (envelope included).
        len: usize,
    },
}

/// What a peer that did not send a framecast handshake message probably
/// is, from its first bytes; carried by [`HandshakeError::BadMagic`] so the
/// error can say what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerGuess {
    /// An 8-byte little-endian length then a protobuf `Video`: the original
    /// programs, or framecast with the legacy framing.
    LegacyFraming,
    /// A 4-byte length then a `Video`, without a hello: a framecast sender
    /// from before the handshake existed.
    NoHandshake,
    /// A TLS ClientHello: the peer speaks TLS and this side does not.
    Tls,
    /// An HTTP request.
    Http,
    /// An HTTP response: the peer is an HTTP server (a receiver's viewer,
    /// say), not a framecast receiver.
    HttpServer,
    /// The other direction's magic: two senders, or two receivers, talking
    /// to each other.
    WrongDirection,
    /// Nothing recognisable.
    Unknown,
}

impl PeerGuess {
    /// Guesses from the first bytes a peer sent (look at up to
    /// [`GUESS_LEN`] of them; fewer give a weaker guess).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.len() >= 4
            && (bytes[..4] == HELLO_MAGIC
                || bytes[..4] == STATUS_MAGIC
                || bytes[..4] == FEEDBACK_MAGIC)
        {
            return Self::WrongDirection;
        }
        // A TLS record: content type 22 (handshake), version 3.x.
        if bytes.len() >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03 {
            return Self::Tls;
        }
        if bytes.len() >= 4 && bytes[..4] == *b"HTTP" {
            return Self::HttpServer;
        }
        const METHODS: [&[u8]; 6] = [b"GET ", b"POST", b"HEAD", b"PUT ", b"PRI ", b"OPTI"];
        if bytes.len() >= 4 && METHODS.iter().any(|m| bytes[..4] == **m) {
            return Self::Http;
        }
        // A Video starts with field 1 (tag 0x0a) in every framecast and lab
        // frame; an empty one is a zero-length frame.
        let plausible_len = |len: u64| len <= 64 * 1024 * 1024;
        if bytes.len() >= 8 {
            let len = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0xff; 8]));
            if plausible_len(len) && bytes.get(8).is_none_or(|&b| b == 0x0a || len == 0) {
                return Self::LegacyFraming;
            }
        }
        if bytes.len() >= 5 {
            let len = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
            if plausible_len(len) && bytes[4] == 0x0a {
                return Self::NoHandshake;
            }
        }
        Self::Unknown
    }

    /// What the guess means, as a clause for an error message.
    fn describe(self) -> &'static str {
        match self {
            Self::LegacyFraming => {
                "it looks like the legacy framing (an 8-byte length, then a Video): the original \
                 programs, or framecast with the legacy framing"
            }
            Self::NoHandshake => {
                "it looks like framecast frames without the session handshake: a sender from \
                 before the handshake"
            }
            Self::Tls => "it looks like a TLS handshake: the peer uses TLS and this side does not",
            Self::Http => "it looks like an HTTP request",
            Self::HttpServer => {
                "it is an HTTP answer: that port serves HTTP (a receiver's viewer?), not frames"
            }
            Self::WrongDirection => {
                "it is the other direction's handshake: both ends are senders, or both receivers"
            }
            Self::Unknown => "it is not a framecast peer",
        }
    }
}

/// A handshake that cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The first bytes are not the expected magic.
    #[error("expected the framecast handshake, got bytes {got}; {}", guess.describe())]
    BadMagic {
        /// The first bytes that arrived (hex).
        got: HexBytes,
        /// What the peer probably is.
        guess: PeerGuess,
    },
    /// The envelope's version is not [`HANDSHAKE_VERSION`].
    #[error("handshake version {got} is not supported (this side speaks version {supported})")]
    UnsupportedVersion {
        /// The version the peer sent.
        got: u8,
        /// The version this side speaks.
        supported: u8,
    },
    /// The envelope announces a body over [`MAX_HANDSHAKE_BODY`].
    #[error("handshake body of {len} bytes exceeds the {max}-byte limit")]
    TooLong {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not a valid message.
    #[error("the handshake body is not a valid {what} message")]
    Malformed {
        /// `Hello`, `Status` or `Feedback`.
        what: &'static str,
        /// The protobuf error.
        source: prost::DecodeError,
    },
    /// The body parsed but breaks a rule.
    #[error("invalid handshake message: {0}")]
    Invalid(&'static str),
}

impl HandshakeError {
    /// What the peer probably is, when it did not speak the handshake.
    pub fn peer_guess(&self) -> Option<PeerGuess> {
        match self {
            Self::BadMagic { guess, .. } => Some(*guess),
            _ => None,
        }
    }
}

/// Bytes shown as hex in messages (`46 43 53 54`).
#[derive(Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Appends a hello envelope around `hello` to `out`.
///
/// The caller keeps the body within [`MAX_HANDSHAKE_BODY`] (a name within
/// [`MAX_NAME_LEN`] and a token within [`MAX_TOKEN_LEN`] always are); see
/// [`check_hello`].
pub fn encode_hello(hello: &Hello, out: &mut Vec<u8>) {
    encode(HELLO_MAGIC, hello, out);
}

/// Appends a status envelope around `status` to `out`.
pub fn encode_status(status: &Status, out: &mut Vec<u8>) {
    encode(STATUS_MAGIC, status, out);
}

fn encode(magic: [u8; 4], body: &impl Message, out: &mut Vec<u8>) {
    let len = body.encoded_len();
    out.reserve(ENVELOPE_LEN + len);
    out.extend_from_slice(&magic);
    out.push(HANDSHAKE_VERSION);
    // Bodies are built from bounded fields; a longer one is a bug, and the
    // peer refuses it with TooLong rather than misreading it.
    out.extend_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_le_bytes());
    body.encode_raw(out);
}

/// Appends a feedback envelope around `feedback` to `out`.
///
/// The caller keeps the body within [`MAX_HANDSHAKE_BODY`]: at most
/// [`MAX_ARRIVALS_PER_FEEDBACK`] arrivals always are. Encoding into a
/// reused `out` allocates nothing once it has grown.
pub fn encode_feedback(feedback: &Feedback, out: &mut Vec<u8>) {
    encode(FEEDBACK_MAGIC, feedback, out);
}

/// Decodes a feedback message from the front of `buf`.
///
/// # Errors
///
/// As [`decode_hello`], with [`FEEDBACK_MAGIC`]; a feedback carrying more
/// than [`MAX_ARRIVALS_PER_FEEDBACK`] arrivals is
/// [`HandshakeError::Invalid`].
pub fn decode_feedback(buf: &[u8]) -> Result<Decoded<Feedback>, HandshakeError> {
    let decoded = decode::<Feedback>(FEEDBACK_MAGIC, "Feedback", buf)?;
    if let Decoded::Complete { message, .. } = &decoded
        && message.arrivals.len() > MAX_ARRIVALS_PER_FEEDBACK
    {
        return Err(HandshakeError::Invalid(
            "the feedback carries more than 64 arrivals",
        ));
    }
    Ok(decoded)
}

/// Decodes a feedback message from the front of `buf` into `message`
/// (cleared first, its lists keeping their capacity, so that a reused
/// message allocates nothing); returns how many bytes it took, or `None`
/// when the message has not fully arrived.
///
/// # Errors
///
/// As [`decode_feedback`].
pub fn decode_feedback_into(
    buf: &[u8],
    message: &mut Feedback,
) -> Result<Option<usize>, HandshakeError> {
    let total = match envelope(FEEDBACK_MAGIC, buf)? {
        Decoded::Complete { len, .. } => len,
        Decoded::Incomplete { .. } => return Ok(None),
    };
    message.clear();
    message
        .merge(&buf[ENVELOPE_LEN..total])
        .map_err(|source| HandshakeError::Malformed {
            what: "Feedback",
            source,
        })?;
    if message.arrivals.len() > MAX_ARRIVALS_PER_FEEDBACK {
        return Err(HandshakeError::Invalid(
            "the feedback carries more than 64 arrivals",
        ));
    }
    Ok(Some(total))
}

/// Decodes a hello from the front of `buf`.
///
/// # Errors
///
/// [`HandshakeError::BadMagic`] as soon as the first four bytes are not
/// [`HELLO_MAGIC`] (with a better [`PeerGuess`] once [`GUESS_LEN`] bytes
/// are there); [`HandshakeError::UnsupportedVersion`],
/// [`HandshakeError::TooLong`] or [`HandshakeError::Malformed`] from the
/// envelope and body; [`HandshakeError::Invalid`] when the body breaks a
/// rule of [`check_hello`].
pub fn decode_hello(buf: &[u8]) -> Result<Decoded<Hello>, HandshakeError> {
    match decode::<Hello>(HELLO_MAGIC, "Hello", buf)? {
        Decoded::Complete { message, len } => {
            check_hello(&message)?;
            Ok(Decoded::Complete { message, len })
        }
        incomplete => Ok(incomplete),
    }
}

/// Decodes a status from the front of `buf`.
///
/// # Errors
///
/// As [`decode_hello`], with [`STATUS_MAGIC`]; and
/// [`HandshakeError::Malformed`] for a status whose code is missing or
/// unknown.
pub fn decode_status(buf: &[u8]) -> Result<Decoded<Status>, HandshakeError> {
    let decoded = decode::<Status>(STATUS_MAGIC, "Status", buf)?;
    if let Decoded::Complete { message, .. } = &decoded
        && !matches!(StatusCode::try_from(message.code), Ok(c) if c != StatusCode::Unspecified)
    {
        return Err(HandshakeError::Invalid("the status has no known code"));
    }
    Ok(decoded)
}

/// Checks the rules a hello's fields must follow: a name that is empty or a
/// [`StreamName`](crate::StreamName) (at most [`MAX_NAME_LEN`] bytes
/// without control characters), a token of at most
/// [`MAX_TOKEN_LEN`] bytes.
///
/// # Errors
///
/// [`HandshakeError::Invalid`] naming the broken rule.
pub fn check_hello(hello: &Hello) -> Result<(), HandshakeError> {
    // An empty name names nothing: the receiver names the stream by its
    // sender's address. Any other goes through the one check of names.
    if !hello.name.is_empty() {
        crate::StreamName::check(&hello.name).map_err(|e| HandshakeError::Invalid(e.reason()))?;
    }
    if hello.token.len() > MAX_TOKEN_LEN {
        return Err(HandshakeError::Invalid(
            "the token is longer than 1024 bytes",
        ));
    }
    if hello.software.len() > MAX_NAME_LEN || hello.software.chars().any(char::is_control) {
        return Err(HandshakeError::Invalid(
            "the software field is longer than 64 bytes or holds control characters",
        ));
    }
    Ok(())
}

fn decode<M: Message + Default>(
    magic: [u8; 4],
    what: &'static str,
    buf: &[u8],
) -> Result<Decoded<M>, HandshakeError> {
    let total = match envelope(magic, buf)? {
        Decoded::Complete { len, .. } => len,
        Decoded::Incomplete { needed } => return Ok(Decoded::Incomplete { needed }),
    };
    let message = M::decode(&buf[ENVELOPE_LEN..total])
        .map_err(|source| HandshakeError::Malformed { what, source })?;
    Ok(Decoded::Complete {
        message,
        len: total,
    })
}

/// Checks the envelope at the front of `buf`: `Complete` with the whole
/// message's length once its body has arrived.
fn envelope(magic: [u8; 4], buf: &[u8]) -> Result<Decoded<()>, HandshakeError> {
    let seen = buf.len().min(4);
    if buf[..seen] != magic[..seen] {
        let shown = &buf[..buf.len().min(GUESS_LEN)];
        return Err(HandshakeError::BadMagic {
            got: HexBytes(shown.to_vec()),
            guess: PeerGuess::from_bytes(shown),
        });
    }
    if buf.len() < ENVELOPE_LEN {
        return Ok(Decoded::Incomplete {
            needed: ENVELOPE_LEN - buf.len(),
        });
    }
    if buf[4] != HANDSHAKE_VERSION {
        return Err(HandshakeError::UnsupportedVersion {
            got: buf[4],
            supported: HANDSHAKE_VERSION,
        });
    }
    let len = usize::from(u16::from_le_bytes([buf[5], buf[6]]));
    if len > MAX_HANDSHAKE_BODY {
        return Err(HandshakeError::TooLong {
            len,
            max: MAX_HANDSHAKE_BODY,
        });
    }
    let total = ENVELOPE_LEN + len;
    if buf.len() < total {
        return Ok(Decoded::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok(Decoded::Complete {
        message: (),
        len: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            name: "front door".into(),
            token: b"secret".to_vec(),
            software: "framecast/0.1.0".into(),
            feedback: 1,
        }
    }

    #[test]
    fn hello_round_trips_when_fed_byte_by_byte() {
        let mut wire = Vec::new();
        encode_hello(&hello(), &mut wire);
        for cut in 0..wire.len() {
            match decode_hello(&wire[..cut]).unwrap() {
                Decoded::Incomplete { needed } => {
                    assert!(needed >= 1 && cut + needed <= wire.len())
                }
                Decoded::Complete { .. } => panic!("complete at {cut} of {}", wire.len()),
            }
        }
        let mut longer = wire.clone();
        longer.extend_from_slice(b"\x05\x00\x00\x00frame");
        assert_eq!(
            decode_hello(&longer).unwrap(),
            Decoded::Complete {
                message: hello(),
                len: wire.len()
            }
        );
    }

    #[test]
    fn status_round_trips_and_needs_a_code() {
        let status = Status {
            code: StatusCode::Busy as i32,
            reason: "busy".into(),
            retry_after_ms: 1000,
            ..Default::default()
        };
        let mut wire = Vec::new();
        encode_status(&status, &mut wire);
        assert_eq!(&wire[..5], b"FCRS\x01");
        assert!(matches!(
            decode_status(&wire).unwrap(),
            Decoded::Complete { message, .. } if message == status
        ));
        let mut empty = Vec::new();
        encode_status(&Status::default(), &mut empty);
        assert!(matches!(
            decode_status(&empty),
            Err(HandshakeError::Invalid(_))
        ));
    }

    #[test]
    fn guesses_name_the_peer() {
        let cases: [(&[u8], PeerGuess); 9] = [
            (
                b"\x31\x01\x00\x00\x00\x00\x00\x00\x0a",
                PeerGuess::LegacyFraming,
            ),
            (
                b"\x31\x01\x00\x00\x0a\x9f\x02\xff\xd8",
                PeerGuess::NoHandshake,
            ),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", PeerGuess::Tls),
            (b"GET / HTTP/1.1", PeerGuess::Http),
            (b"HTTP/1.1 400 Bad Request", PeerGuess::HttpServer),
            (b"FCRS\x01\x00\x00", PeerGuess::WrongDirection),
            (b"FCST\x01\x00\x00", PeerGuess::WrongDirection),
            (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff", PeerGuess::Unknown),
            (
                b"\x00\x00\x00\x00\x00\x00\x00\x00",
                PeerGuess::LegacyFraming,
            ),
        ];
        for (bytes, guess) in cases {
            assert_eq!(
                PeerGuess::from_bytes(bytes),
                guess,
                "{:?}",
                HexBytes(bytes.to_vec())
            );
        }
    }

    #[test]
    fn a_status_is_not_a_hello() {
        let mut wire = Vec::new();
        encode_status(
            &Status {
                code: 1,
                ..Default::default()
            },
            &mut wire,
        );
        let err = decode_hello(&wire).unwrap_err();
        assert_eq!(err.peer_guess(), Some(PeerGuess::WrongDirection));
        assert!(
            err.to_string()
                .starts_with("expected the framecast handshake, got bytes 46 43 52 53"),
            "{err}"
        );
    }

    #[test]
    fn envelope_limits_are_checked_before_waiting_for_the_body() {
        assert!(matches!(
            decode_hello(b"FCST\x02\x00\x00"),
            Err(HandshakeError::UnsupportedVersion {
                got: 2,
                supported: 1
            })
        ));
        assert!(matches!(
            decode_hello(b"FCST\x01\xff\xff"),
            Err(HandshakeError::TooLong {
                len: 65535,
                max: 4096
            })
        ));
        assert!(matches!(
            decode_hello(b"FCST\x01\x02\x00\x0f\x00"),
            Err(HandshakeError::Malformed { what: "Hello", .. })
        ));
    }

    #[test]
    fn hello_rules() {
        let long = Hello {
            name: "x".repeat(65),
            ..Default::default()
        };
        assert!(check_hello(&long).is_err());
        let escape = Hello {
            name: "a\x1b[2Jb".into(),
            ..Default::default()
        };
        assert!(check_hello(&escape).is_err());
        assert!(check_hello(&hello()).is_ok());
        let mut wire = Vec::new();
        encode_hello(&escape, &mut wire);
        assert!(matches!(
            decode_hello(&wire),
            Err(HandshakeError::Invalid(_))
        ));
    }
}
