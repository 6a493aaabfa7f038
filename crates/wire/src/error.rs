//! The one error type of the wire, [`WireError`].

use std::io;

/// Everything that can go wrong reading or writing frames.
///
/// The variants fall into four groups, which a receiver usually treats
/// differently (see [`is_recoverable`](Self::is_recoverable)):
///
/// | group | variants | the stream afterwards |
/// | --- | --- | --- |
/// | transport | [`Io`](Self::Io) | broken (unless the I/O error was a timeout or an interruption) |
/// | end of stream | [`TruncatedHeader`](Self::TruncatedHeader), [`TruncatedPayload`](Self::TruncatedPayload) | ended mid-frame |
/// | protocol | [`FrameTooLarge`](Self::FrameTooLarge), [`NegativeLength`](Self::NegativeLength) | **cannot be resynchronised**: drop the connection |
/// | message | [`Message`](Self::Message) | still in sync: the bad frame was consumed, read on |
/// | writer | [`Broken`](Self::Broken) | an earlier write left part of a frame: a new connection is needed |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A length prefix (read or about to be written) exceeds the frame
    /// length limit. On decode, the header is left in the buffer: nothing is
    /// consumed and nothing is allocated.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The length the prefix states (or the payload's length, on encode).
        len: u64,
        /// The limit in force.
        max: u64,
    },

    /// A legacy (signed 64-bit) length prefix is negative.
    #[error("negative legacy length {0}")]
    NegativeLength(i64),

    /// The stream ended after part of a length prefix.
    #[error("stream ended {got} bytes into a {len}-byte header")]
    TruncatedHeader {
        /// How many header bytes arrived.
        got: usize,
        /// The header's full size.
        len: usize,
    },

    /// The stream ended inside a frame's payload.
    #[error("stream ended inside a frame: {missing} of {len} payload bytes missing")]
    TruncatedPayload {
        /// How many payload bytes never arrived.
        missing: usize,
        /// The payload length the header announced.
        len: usize,
    },

    /// A whole frame arrived but its payload is not a valid protobuf message
    /// of the expected type. The frame was consumed; the stream is still in
    /// sync.
    #[error("frame payload is not a valid message")]
    Message(#[from] prost::DecodeError),

    /// The underlying reader or writer failed.
    #[error("I/O error")]
    Io(#[from] io::Error),

    /// A [`FrameWriter`](crate::FrameWriter) refused to write because an
    /// earlier write failed part-way through a frame: the stream holds a
    /// partial frame and cannot carry another.
    #[error("an earlier write stopped part-way through a frame; the stream cannot carry more")]
    Broken,
}

impl WireError {
    /// Whether this is a transport failure ([`Io`](Self::Io)), as opposed to
    /// something the peer sent.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io(_))
    }

    /// Whether the stream ended in the middle of a frame.
    pub fn is_truncated(&self) -> bool {
        matches!(
            self,
            Self::TruncatedHeader { .. } | Self::TruncatedPayload { .. }
        )
    }

    /// Whether the peer violated the framing (a length over the limit, a
    /// negative length). The stream cannot be resynchronised after this:
    /// there is no way to find the next frame boundary, so the connection
    /// must be dropped.
    pub fn is_protocol(&self) -> bool {
        matches!(self, Self::FrameTooLarge { .. } | Self::NegativeLength(_))
    }

    /// Whether a whole frame arrived but held an invalid message: a corrupt
    /// frame to count, on a connection that is still usable.
    pub fn is_message(&self) -> bool {
        matches!(self, Self::Message(_))
    }

    /// Whether the reader that returned this error
    /// ([`FrameReader`](crate::FrameReader), or the tokio adapters) can be
    /// used again: true for a bad message (the frame was consumed) and for
    /// an I/O error that only means "not now" (interrupted, would block,
    /// timed out): the reader keeps what it read and the next call resumes
    /// the frame.
    ///
    /// It says nothing of writers: a write that times out may have sent part
    /// of a frame. Ask the writer instead
    /// ([`FrameWriter::is_broken`](crate::FrameWriter::is_broken)).
    pub fn is_recoverable(&self) -> bool {
        match self {
            Self::Message(_) => true,
            Self::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_numbers() {
        let e = WireError::FrameTooLarge {
            len: u64::from(u32::MAX),
            max: 8 * 1024 * 1024,
        };
        assert_eq!(
            e.to_string(),
            "frame of 4294967295 bytes exceeds the 8388608-byte limit"
        );
        assert_eq!(
            WireError::NegativeLength(-1).to_string(),
            "negative legacy length -1"
        );
        assert_eq!(
            WireError::TruncatedHeader { got: 3, len: 4 }.to_string(),
            "stream ended 3 bytes into a 4-byte header"
        );
        assert_eq!(
            WireError::TruncatedPayload {
                missing: 10,
                len: 1000
            }
            .to_string(),
            "stream ended inside a frame: 10 of 1000 payload bytes missing"
        );
    }

    #[test]
    fn classification() {
        let protocol = WireError::NegativeLength(-5);
        assert!(protocol.is_protocol() && !protocol.is_recoverable() && !protocol.is_io());
        let trunc = WireError::TruncatedHeader { got: 1, len: 8 };
        assert!(trunc.is_truncated() && !trunc.is_recoverable() && !trunc.is_protocol());
        let io_reset = WireError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(io_reset.is_io() && !io_reset.is_recoverable());
        let io_timeout = WireError::from(io::Error::from(io::ErrorKind::WouldBlock));
        assert!(io_timeout.is_recoverable());
        // Wire type 7 does not exist: a genuine decode error.
        let bad = <framecast_proto::video::Video as prost::Message>::decode(&b"\x0f"[..]);
        let msg = WireError::from(bad.unwrap_err());
        assert!(msg.is_message() && msg.is_recoverable() && !msg.is_protocol());
    }
}
