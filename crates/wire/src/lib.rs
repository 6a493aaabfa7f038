//! The framecast frame wire: length-prefixed frames over a byte stream.
//!
//! A frame is a length `N`, then `N` payload bytes (normally an encoded
//! `framecast_proto::video::Video`). The length is a little-endian `u32` by
//! default, or, for the original Python programs, the 8-byte little-endian
//! signed `long` that `struct.pack("l", n)` writes:
//!
//! ```text
//!          Prefix::U32Le (default)                 Prefix::LegacyI64Le
//! byte  0    1    2    3    4 ...  4+N-1    0 ...          7    8 ...  8+N-1
//!     +----+----+----+----+-------------+  +------------------+-------------+
//!     |  N as u32, LE     |  payload    |  |  N as i64, LE    |  payload    |
//!     +----+----+----+----+-------------+  +------------------+-------------+
//!      N <= max frame length (8 MiB by default); legacy N < 0 is an error
//! ```
//!
//! The key types:
//!
//! - [`FrameCodec`]: the sans-I/O codec. It decodes payloads out of a
//!   [`bytes::BytesMut`] without copying and encodes frames into one; it
//!   never touches a socket or a clock. Its [`Prefix`] and its frame length
//!   limit ([`DEFAULT_MAX_FRAME_LEN`]) are settings.
//! - [`FrameReader`] and [`FrameWriter`]: blocking adapters over
//!   [`std::io::Read`] / [`std::io::Write`] that reuse their buffers, with
//!   typed helpers for prost messages ([`MessageReader`], [`MessageWriter`]).
//! - With the `tokio` feature, `FrameCodec` is a
//!   `tokio_util::codec::{Decoder, Encoder}` (so `Framed` works),
//!   `MessageCodec` frames one message type, and `AsyncFrameReader` reads
//!   each payload into a buffer the caller owns (and may recycle), with a
//!   cancel-safe poll method for readers that race frames against timers.
//!
//! Every failure is a [`WireError`]. After a protocol error (a length over
//! the limit, a negative legacy length) the stream cannot be resynchronised:
//! drop the connection. A payload that is not a valid message is reported
//! and skipped; the stream stays usable.
//!
//! The byte-exact specification, with a hex dump of a real frame, is
//! `docs/protocol.md` at the root of the repository.
//!
//! # Example
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use std::thread;
//!
//! use framecast_proto::video::Video;
//! use framecast_wire::{FrameCodec, FrameReader, FrameWriter, Prefix};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let sender = thread::spawn(move || -> Result<(), framecast_wire::WireError> {
//!     let codec = FrameCodec::with_prefix(Prefix::U32Le);
//!     let mut tx = FrameWriter::with_codec(TcpStream::connect(addr)?, codec);
//!     for sequence in 0..3 {
//!         let frame = Video {
//!             video_data: bytes::Bytes::from_static(b"\xff\xd8...\xff\xd9"),
//!             sequence,
//!             ..Default::default()
//!         };
//!         tx.write_message(&frame)?;
//!     }
//!     Ok(())
//! });
//!
//! let (stream, _) = listener.accept()?;
//! let mut rx = FrameReader::new(stream);
//! let mut received = Vec::new();
//! while let Some(frame) = rx.read_message::<Video>()? {
//!     received.push(frame.sequence);
//! }
//! assert_eq!(received, [0, 1, 2]);
//! sender.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod blocking;
mod codec;
mod error;
mod message;
#[cfg(feature = "tokio")]
mod tokio;

pub use crate::blocking::{DEFAULT_READ_SIZE, FrameReader, FrameWriter};
pub use crate::codec::{
    DEFAULT_MAX_FRAME_LEN, FrameCodec, FrameHeader, MAX_HEADER_LEN, ParsePrefixError, Prefix,
    RESERVE_AHEAD,
};
pub use crate::error::WireError;
pub use crate::message::{MessageReader, MessageWriter};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use crate::tokio::{AsyncFrameReader, MessageCodec};
