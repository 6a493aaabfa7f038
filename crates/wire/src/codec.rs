//! The sans-I/O frame codec: [`FrameCodec`] and its [`Prefix`] setting.
//!
//! ```text
//!  U32Le (default)                      LegacyI64Le
//! +----------------+-------------+     +--------------------------------+-------------+
//! | N: u32 LE (4)  | N bytes     |     | N: i64 LE (8), 0 <= N          | N bytes     |
//! +----------------+-------------+     +--------------------------------+-------------+
//!   header           payload             header                           payload
//! ```
//!
//! The decoder is a two-state machine, `Head` then `Data(n)`: it waits for a
//! whole header, checks the length against the limit (before reserving any
//! memory), waits for `n` payload bytes, and hands them out with
//! [`BytesMut::split_to`], so the payload is never copied.

use std::fmt;
use std::str::FromStr;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::WireError;

/// The default limit on a frame's payload length: 8 MiB.
///
/// A 400x400 JPEG at quality 95 is 30–80 KiB and an uncompressed 1920x1080
/// RGB frame is about 6 MiB, so 8 MiB admits every frame framecast sends
/// while bounding what a hostile or broken peer can make a receiver allocate.
/// Change it per codec with [`FrameCodec::max_frame_len`].
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// The largest header any [`Prefix`] uses, in bytes.
pub const MAX_HEADER_LEN: usize = 8;

/// How far ahead of the bytes that have arrived a decoder makes room for a
/// frame's payload: 64 KiB.
///
/// A header only *announces* a length; a peer may announce 8 MiB and then
/// send one byte a second. So room for a payload is made step by step: at
/// most this much at first, then at most as much again as has arrived
/// (doubling), never more than the frame still needs. A buffer therefore
/// holds a small multiple of what actually arrived (at most four times,
/// counting the buffer's own doubling) plus this, whatever the header
/// claims, and a frame of `N` bytes still costs only `O(log N)`
/// reallocations. See [`FrameCodec::next_read_len`].
pub const RESERVE_AHEAD: usize = 64 * 1024;

/// How a frame's length is written in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Prefix {
    /// 4 bytes, unsigned, little-endian. framecast's own format.
    #[default]
    U32Le,
    /// 8 bytes, signed, little-endian: what the original Python programs'
    /// `struct.pack("l", n)` writes on 64-bit Linux (a native C `long`).
    /// Negative lengths are refused.
    LegacyI64Le,
}

// `len` is the header's size; a prefix is never "empty", so `is_empty`
// would mean nothing.
#[allow(clippy::len_without_is_empty)]
impl Prefix {
    /// The header's size in bytes: 4 for [`U32Le`](Self::U32Le), 8 for
    /// [`LegacyI64Le`](Self::LegacyI64Le).
    pub const fn len(self) -> usize {
        match self {
            Self::U32Le => 4,
            Self::LegacyI64Le => 8,
        }
    }

    /// The largest payload length this header can express.
    pub const fn max_len(self) -> u64 {
        match self {
            Self::U32Le => u32::MAX as u64,
            Self::LegacyI64Le => i64::MAX as u64,
        }
    }

    /// The name [`FromStr`] accepts and [`Display`](fmt::Display) prints:
    /// `"u32"` or `"legacy"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::U32Le => "u32",
            Self::LegacyI64Le => "legacy",
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Prefix {
    type Err = ParsePrefixError;

    /// Parses `"u32"` or `"legacy"` (ASCII case ignored), the values of a
    /// `--framing` flag.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("u32") {
            Ok(Self::U32Le)
        } else if s.eq_ignore_ascii_case("legacy") {
            Ok(Self::LegacyI64Le)
        } else {
            Err(ParsePrefixError(s.to_owned()))
        }
    }
}

/// The error of parsing a [`Prefix`] from a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown framing {0:?}: expected \"u32\" or \"legacy\"")]
pub struct ParsePrefixError(String);

/// A frame header, ready to be written in front of its payload.
///
/// Returned by [`FrameCodec::header`] for callers that write the header and
/// the payload separately (for example with vectored writes) rather than
/// copying both into one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl FrameHeader {
    /// The header's bytes (4 or 8 of them, per the [`Prefix`]).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeState {
    /// Waiting for a whole header.
    Head,
    /// The header was consumed; waiting for this many payload bytes.
    Data(usize),
}

/// The sans-I/O frame codec: turns bytes into payloads and payloads into
/// bytes, for one direction of one stream. It never touches a socket.
///
/// The decoder keeps state (whether it is inside a frame), so use one codec
/// per stream and per direction.
///
/// ```
/// use bytes::BytesMut;
/// use framecast_wire::{FrameCodec, Prefix};
///
/// let mut codec = FrameCodec::with_prefix(Prefix::LegacyI64Le).max_frame_len(1024);
/// let mut buf = BytesMut::new();
/// codec.encode(b"hello", &mut buf)?;
/// assert_eq!(&buf[..8], &[5, 0, 0, 0, 0, 0, 0, 0]);
///
/// let mut half = buf.split_to(10);
/// assert_eq!(codec.decode(&mut half)?, None); // need more bytes
/// half.unsplit(buf);
/// assert_eq!(codec.decode(&mut half)?.as_deref(), Some(&b"hello"[..]));
/// # Ok::<(), framecast_wire::WireError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameCodec {
    prefix: Prefix,
    max_frame_len: usize,
    state: DecodeState,
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameCodec {
    /// A codec with the [`U32Le`](Prefix::U32Le) prefix and the
    /// [`DEFAULT_MAX_FRAME_LEN`] limit.
    pub fn new() -> Self {
        Self::with_prefix(Prefix::default())
    }

    /// A codec with the given prefix and the [`DEFAULT_MAX_FRAME_LEN`] limit.
    pub fn with_prefix(prefix: Prefix) -> Self {
        Self {
            prefix,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            state: DecodeState::Head,
        }
    }

    /// Sets the largest payload length accepted on decode and on encode
    /// (builder style). The prefix's own range also applies: a `U32Le` codec
    /// never exceeds `u32::MAX` whatever this says.
    #[must_use]
    pub fn max_frame_len(mut self, max: usize) -> Self {
        self.max_frame_len = max;
        self
    }

    /// Sets the largest payload length, in place.
    pub fn set_max_frame_len(&mut self, max: usize) {
        self.max_frame_len = max;
    }

    /// The largest payload length this codec accepts: the configured limit,
    /// capped by what the prefix can express.
    pub fn frame_len_limit(&self) -> u64 {
        (self.max_frame_len as u64).min(self.prefix.max_len())
    }

    /// The length prefix in use.
    pub fn prefix(&self) -> Prefix {
        self.prefix
    }

    /// Whether the decoder is between frames (no header consumed without
    /// its payload).
    pub fn is_at_boundary(&self) -> bool {
        self.state == DecodeState::Head
    }

    /// Decodes one frame from the front of `src`.
    ///
    /// Returns `Ok(Some(payload))` and removes the frame from `src` when a
    /// whole one is there; the payload is split off `src` without copying.
    /// Returns `Ok(None)` when more bytes are needed; once a header is
    /// complete it has made room in `src` for the next read: at most
    /// [`next_read_len`](Self::next_read_len) bytes, so the buffer grows with
    /// the bytes that arrive, not with the length the header announces.
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] or [`WireError::NegativeLength`] when the
    /// header is invalid. The length is checked before anything is reserved,
    /// and the header stays in `src`, so the same error repeats on every
    /// call: the stream cannot be resynchronised and should be dropped.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        let len = match self.state {
            DecodeState::Data(len) => len,
            DecodeState::Head => match self.decode_head(src)? {
                Some(len) => {
                    self.state = DecodeState::Data(len);
                    len
                }
                None => return Ok(None),
            },
        };
        if src.len() < len {
            let ahead = self.next_read_len(src);
            if src.capacity() - src.len() < ahead {
                src.reserve(ahead);
            }
            return Ok(None);
        }
        self.state = DecodeState::Head;
        Ok(Some(src.split_to(len).freeze()))
    }

    /// Decodes a frame when the stream has ended: what to call once the
    /// reader reports end of stream, until it returns `Ok(None)`.
    ///
    /// Returns a frame if a whole one is buffered, and `Ok(None)` when the
    /// stream ended cleanly at a frame boundary with nothing left over.
    ///
    /// # Errors
    ///
    /// Those of [`decode`](Self::decode), plus
    /// [`WireError::TruncatedHeader`] or [`WireError::TruncatedPayload`] when
    /// the stream ended inside a frame. The partial frame is left in `src`.
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        match self.state {
            DecodeState::Head if src.is_empty() => Ok(None),
            DecodeState::Head => Err(WireError::TruncatedHeader {
                got: src.len(),
                len: self.prefix.len(),
            }),
            DecodeState::Data(len) => Err(WireError::TruncatedPayload {
                missing: len - src.len(),
                len,
            }),
        }
    }

    /// How many more bytes `src` needs before [`decode`](Self::decode) can
    /// make progress (0 if it can already). Adapters use it to size reads.
    pub fn bytes_needed(&self, src: &BytesMut) -> usize {
        match self.state {
            DecodeState::Head => self.prefix.len().saturating_sub(src.len()),
            DecodeState::Data(len) => len.saturating_sub(src.len()),
        }
    }

    /// How many bytes the next read should make room for: what the current
    /// step (header or payload) still needs, capped for a payload at the
    /// larger of [`RESERVE_AHEAD`] and the payload bytes already in `src`.
    ///
    /// Reading at most this much per step keeps a buffer's size proportional
    /// to what actually arrived (a peer that announces a huge frame and then
    /// stalls costs [`RESERVE_AHEAD`], not the announced length) while a
    /// large frame that does arrive still grows its buffer geometrically.
    /// 0 means [`decode`](Self::decode) can already make progress.
    ///
    /// ```
    /// use bytes::{BufMut, BytesMut};
    /// use framecast_wire::{FrameCodec, RESERVE_AHEAD};
    ///
    /// let mut codec = FrameCodec::new();
    /// let mut src = BytesMut::new();
    /// src.put_u32_le(8 << 20); // announces 8 MiB ...
    /// assert_eq!(codec.decode(&mut src)?, None);
    /// // ... but only 64 KiB is made room for until bytes arrive.
    /// assert_eq!(codec.next_read_len(&src), RESERVE_AHEAD);
    /// assert!(src.capacity() < 2 * RESERVE_AHEAD);
    /// src.put_slice(&[0; 100_000]);
    /// assert_eq!(codec.next_read_len(&src), 100_000);
    /// # Ok::<(), framecast_wire::WireError>(())
    /// ```
    pub fn next_read_len(&self, src: &BytesMut) -> usize {
        match self.state {
            DecodeState::Head => self.prefix.len().saturating_sub(src.len()),
            DecodeState::Data(len) => {
                let missing = len.saturating_sub(src.len());
                missing.min(src.len().max(RESERVE_AHEAD))
            }
        }
    }

    /// The payload length of the frame being decoded, once its header has
    /// been read; `None` between frames.
    pub fn pending_len(&self) -> Option<usize> {
        match self.state {
            DecodeState::Head => None,
            DecodeState::Data(len) => Some(len),
        }
    }

    /// Parses a whole header (exactly [`Prefix::len`] bytes): the payload
    /// length it announces, checked against the limit. For adapters that
    /// read the header and the payload into buffers of their own (such as
    /// `AsyncFrameReader`, with the `tokio` feature); [`decode`](Self::decode)
    /// does this itself.
    ///
    /// ```
    /// use framecast_wire::{FrameCodec, WireError};
    ///
    /// let codec = FrameCodec::new();
    /// assert_eq!(codec.parse_header(&[5, 0, 0, 0])?, 5);
    /// assert!(codec.parse_header(&[0xff; 4]).unwrap_err().is_protocol());
    /// # Ok::<(), WireError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] or [`WireError::NegativeLength`];
    /// [`WireError::TruncatedHeader`] if `head` is shorter than a header.
    pub fn parse_header(&self, head: &[u8]) -> Result<usize, WireError> {
        let head_len = self.prefix.len();
        if head.len() < head_len {
            return Err(WireError::TruncatedHeader {
                got: head.len(),
                len: head_len,
            });
        }
        let len: u64 = match self.prefix {
            Prefix::U32Le => u64::from((&head[..4]).get_u32_le()),
            Prefix::LegacyI64Le => {
                let signed = (&head[..8]).get_i64_le();
                u64::try_from(signed).map_err(|_| WireError::NegativeLength(signed))?
            }
        };
        let max = self.frame_len_limit();
        if len > max {
            return Err(WireError::FrameTooLarge { len, max });
        }
        // `len <= max_frame_len`, a usize, so this cannot truncate.
        usize::try_from(len).map_err(|_| WireError::FrameTooLarge { len, max })
    }

    /// The header for a payload of `len` bytes.
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] when `len` exceeds
    /// [`frame_len_limit`](Self::frame_len_limit).
    pub fn header(&self, len: usize) -> Result<FrameHeader, WireError> {
        let max = self.frame_len_limit();
        let wide = len as u64;
        if wide > max {
            return Err(WireError::FrameTooLarge { len: wide, max });
        }
        let mut bytes = [0; MAX_HEADER_LEN];
        // The limit check above keeps `wide` within the prefix's range, so
        // neither conversion can wrap.
        match self.prefix {
            Prefix::U32Le => bytes[..4].copy_from_slice(&(wide as u32).to_le_bytes()),
            Prefix::LegacyI64Le => bytes.copy_from_slice(&(wide as i64).to_le_bytes()),
        }
        Ok(FrameHeader {
            bytes,
            len: self.prefix.len() as u8,
        })
    }

    /// Appends one frame (header, then `payload`) to `dst`.
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] when the payload exceeds the limit;
    /// `dst` is then left untouched.
    pub fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<(), WireError> {
        let header = self.header(payload.len())?;
        dst.reserve(header.as_bytes().len() + payload.len());
        dst.put_slice(header.as_bytes());
        dst.put_slice(payload);
        Ok(())
    }

    /// Appends one frame holding `msg`, encoded in place (no intermediate
    /// buffer), to `dst`.
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] when the encoded message exceeds the
    /// limit; `dst` is then left untouched.
    pub fn encode_message<M: prost::Message>(
        &mut self,
        msg: &M,
        dst: &mut BytesMut,
    ) -> Result<(), WireError> {
        let len = msg.encoded_len();
        let header = self.header(len)?;
        dst.reserve(header.as_bytes().len() + len);
        dst.put_slice(header.as_bytes());
        // prost only fails when the buffer has too little room, and a
        // `BytesMut` grows on demand (and was reserved just above).
        msg.encode(dst)
            .expect("encoding into a BytesMut cannot run out of room");
        Ok(())
    }

    /// Parses the header at the front of `src`, consuming it only if valid.
    fn decode_head(&self, src: &mut BytesMut) -> Result<Option<usize>, WireError> {
        let head_len = self.prefix.len();
        if src.len() < head_len {
            return Ok(None);
        }
        let len = self.parse_header(&src[..head_len])?;
        src.advance(head_len);
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(prefix: Prefix, payload: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        FrameCodec::with_prefix(prefix)
            .encode(payload, &mut buf)
            .unwrap();
        buf
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn u32_header_is_little_endian() {
        assert_eq!(&frame(Prefix::U32Le, b"abc")[..], b"\x03\x00\x00\x00abc");
        let mut big = BytesMut::new();
        FrameCodec::new().encode(&[7; 0x0102], &mut big).unwrap();
        assert_eq!(&big[..4], &[0x02, 0x01, 0, 0]);
    }

    /// Python 3 on 64-bit Linux: `struct.pack("l", n).hex(" ")`.
    #[test]
    fn legacy_headers_match_python_struct_pack() {
        let vectors = [
            (0usize, "00 00 00 00 00 00 00 00"),
            (5, "05 00 00 00 00 00 00 00"),
            (255, "ff 00 00 00 00 00 00 00"),
            (256, "00 01 00 00 00 00 00 00"),
            (31_337, "69 7a 00 00 00 00 00 00"),
            (8_388_608, "00 00 80 00 00 00 00 00"),
        ];
        let codec = FrameCodec::with_prefix(Prefix::LegacyI64Le);
        for (n, expected) in vectors {
            assert_eq!(codec.header(n).unwrap().as_bytes(), hex(expected), "n={n}");
        }
    }

    #[test]
    fn legacy_decodes_python_bytes() {
        let mut src = BytesMut::from(&hex("05 00 00 00 00 00 00 00 68 65 6c 6c 6f")[..]);
        let mut codec = FrameCodec::with_prefix(Prefix::LegacyI64Le);
        assert_eq!(codec.decode(&mut src).unwrap().unwrap(), &b"hello"[..]);
        assert!(src.is_empty());
    }

    #[test]
    fn negative_legacy_length_is_refused_and_kept() {
        // struct.pack("l", -1) and struct.pack("l", -9223372036854775808)
        for (bytes, n) in [
            ("ff ff ff ff ff ff ff ff", -1),
            ("00 00 00 00 00 00 00 80", i64::MIN),
        ] {
            let mut src = BytesMut::from(&hex(bytes)[..]);
            let mut codec = FrameCodec::with_prefix(Prefix::LegacyI64Le);
            let err = codec.decode(&mut src).unwrap_err();
            assert!(
                matches!(err, WireError::NegativeLength(v) if v == n),
                "{err}"
            );
            assert_eq!(src.len(), 8, "nothing consumed");
            // The error repeats: the stream stays refused.
            assert!(codec.decode(&mut src).is_err());
        }
    }

    #[test]
    fn u32_max_is_refused_without_allocating() {
        let mut src = BytesMut::with_capacity(16);
        src.put_slice(&[0xff; 4]);
        let cap = src.capacity();
        let mut codec = FrameCodec::new();
        let err = codec.decode(&mut src).unwrap_err();
        assert!(matches!(
            err,
            WireError::FrameTooLarge {
                len: 4_294_967_295,
                max: 8_388_608
            }
        ));
        assert_eq!(src.capacity(), cap, "nothing reserved");
        assert_eq!(src.len(), 4, "header kept");
        assert!(codec.is_at_boundary());
    }

    #[test]
    fn legacy_huge_length_is_refused_without_allocating() {
        let mut src = BytesMut::with_capacity(16);
        src.put_i64_le(i64::MAX);
        let cap = src.capacity();
        let err = FrameCodec::with_prefix(Prefix::LegacyI64Le)
            .decode(&mut src)
            .unwrap_err();
        assert!(matches!(err, WireError::FrameTooLarge { len, .. } if len == i64::MAX as u64));
        assert_eq!(src.capacity(), cap);
    }

    #[test]
    fn limit_is_inclusive_on_decode_and_encode() {
        let mut codec = FrameCodec::new().max_frame_len(3);
        let mut buf = BytesMut::new();
        codec.encode(b"abc", &mut buf).unwrap();
        let err = codec.encode(b"abcd", &mut buf).unwrap_err();
        assert!(matches!(err, WireError::FrameTooLarge { len: 4, max: 3 }));
        assert_eq!(buf.len(), 7, "refused frame left dst untouched");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b"abc"[..]);

        let mut over = frame(Prefix::U32Le, b"abcd");
        assert!(matches!(
            codec.decode(&mut over),
            Err(WireError::FrameTooLarge { len: 4, max: 3 })
        ));
    }

    #[test]
    fn room_grows_with_the_bytes_that_arrive_not_the_announced_length() {
        let mut codec = FrameCodec::new().max_frame_len(8 << 20);
        let mut src = BytesMut::new();
        src.put_u32_le(8 << 20);
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        assert_eq!(codec.bytes_needed(&src), 8 << 20);
        assert_eq!(codec.pending_len(), Some(8 << 20));
        // Announcing 8 MiB made room for 64 KiB only.
        assert!(src.capacity() < 2 * RESERVE_AHEAD, "{}", src.capacity());
        // Feed the payload in 1 KiB reads into the room the codec made, as a
        // socket read would: capacity stays within a small multiple of what
        // arrived (the buffer's own doubling included) all the way.
        let mut arrived = 0usize;
        while arrived < (8 << 20) {
            let room = src.capacity() - src.len();
            assert!(room > 0, "the codec made room for the next read");
            let step = room.min(1024).min((8 << 20) - arrived);
            src.put_slice(&vec![7; step]);
            arrived += step;
            let got = codec.decode(&mut src).unwrap();
            if arrived < (8 << 20) {
                assert!(got.is_none());
                assert!(
                    src.capacity() <= 4 * arrived + 2 * RESERVE_AHEAD,
                    "{} bytes arrived, capacity {}",
                    arrived,
                    src.capacity()
                );
            } else {
                assert_eq!(got.unwrap().len(), 8 << 20);
            }
        }
    }

    #[test]
    fn zero_length_frames() {
        for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
            let mut codec = FrameCodec::with_prefix(prefix);
            let mut buf = BytesMut::new();
            codec.encode(b"", &mut buf).unwrap();
            codec.encode(b"", &mut buf).unwrap();
            codec.encode(b"x", &mut buf).unwrap();
            assert_eq!(buf.len(), 3 * prefix.len() + 1);
            assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 0);
            assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 0);
            assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b"x"[..]);
            assert_eq!(codec.decode(&mut buf).unwrap(), None);
            assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        }
    }

    #[test]
    fn several_frames_in_one_buffer() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        let payloads: [&[u8]; 4] = [b"one", b"", b"three", &[0; 300]];
        for p in payloads {
            codec.encode(p, &mut buf).unwrap();
        }
        for p in payloads {
            assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], p);
        }
        assert!(buf.is_empty());
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    /// Feed an encoded stream cut at every byte boundary, in two parts and
    /// one byte at a time, for both prefixes.
    #[test]
    fn stream_cut_at_every_boundary() {
        for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
            let mut wire = BytesMut::new();
            let payloads: [&[u8]; 3] = [b"first frame", b"", b"third"];
            let mut enc = FrameCodec::with_prefix(prefix);
            for p in payloads {
                enc.encode(p, &mut wire).unwrap();
            }
            for cut in 0..=wire.len() {
                let mut codec = FrameCodec::with_prefix(prefix);
                let mut src = BytesMut::from(&wire[..cut]);
                let mut out = Vec::new();
                while let Some(f) = codec.decode(&mut src).unwrap() {
                    out.push(f);
                }
                src.extend_from_slice(&wire[cut..]);
                while let Some(f) = codec.decode_eof(&mut src).unwrap() {
                    out.push(f);
                }
                assert_eq!(out, payloads, "{prefix} cut at {cut}");
            }
            let mut codec = FrameCodec::with_prefix(prefix);
            let mut src = BytesMut::new();
            let mut out = Vec::new();
            for &b in wire.iter() {
                src.put_u8(b);
                if let Some(f) = codec.decode(&mut src).unwrap() {
                    out.push(f);
                }
            }
            assert_eq!(out, payloads, "{prefix} byte by byte");
        }
    }

    /// A stream that ends at each byte: clean only at frame boundaries,
    /// otherwise an error saying how much was missing.
    #[test]
    fn eof_at_every_boundary() {
        let mut wire = BytesMut::new();
        let mut enc = FrameCodec::new();
        enc.encode(b"0123456789", &mut wire).unwrap();
        enc.encode(b"ab", &mut wire).unwrap();
        // Frame 1 occupies 0..14, frame 2 occupies 14..20.
        for end in 0..=wire.len() {
            let mut codec = FrameCodec::new();
            let mut src = BytesMut::from(&wire[..end]);
            let mut frames = 0;
            let result = loop {
                match codec.decode_eof(&mut src) {
                    Ok(Some(_)) => frames += 1,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            match end {
                0 | 14 | 20 => assert!(result.is_ok(), "clean end at {end}"),
                1..=3 => assert!(matches!(
                    result,
                    Err(WireError::TruncatedHeader { got, len: 4 }) if got == end
                )),
                4..=13 => assert!(matches!(
                    result,
                    Err(WireError::TruncatedPayload { missing, len: 10 }) if missing == 14 - end
                )),
                15..=17 => assert!(matches!(
                    result,
                    Err(WireError::TruncatedHeader { got, len: 4 }) if got == end - 14
                )),
                _ => assert!(matches!(
                    result,
                    Err(WireError::TruncatedPayload { missing, len: 2 }) if missing == 20 - end
                )),
            }
            assert_eq!(frames, usize::from(end >= 14) + usize::from(end == 20));
        }
    }

    #[test]
    fn payload_is_split_off_without_copying() {
        let mut src = frame(Prefix::U32Le, b"zero-copy");
        let base = src.as_ptr() as usize;
        let payload = FrameCodec::new().decode(&mut src).unwrap().unwrap();
        assert_eq!(payload.as_ptr() as usize, base + 4);
    }

    #[test]
    fn prefix_names_round_trip() {
        for p in [Prefix::U32Le, Prefix::LegacyI64Le] {
            assert_eq!(p.to_string().parse::<Prefix>().unwrap(), p);
        }
        assert_eq!("LEGACY".parse::<Prefix>().unwrap(), Prefix::LegacyI64Le);
        let err = "i64".parse::<Prefix>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown framing \"i64\": expected \"u32\" or \"legacy\""
        );
        assert_eq!(Prefix::default(), Prefix::U32Le);
        assert_eq!((Prefix::U32Le.len(), Prefix::LegacyI64Le.len()), (4, 8));
    }

    #[test]
    fn u32_limit_is_capped_by_the_prefix() {
        let codec = FrameCodec::new().max_frame_len(usize::MAX);
        assert_eq!(codec.frame_len_limit(), u64::from(u32::MAX));
        let legacy = FrameCodec::with_prefix(Prefix::LegacyI64Le).max_frame_len(usize::MAX);
        assert_eq!(legacy.frame_len_limit(), i64::MAX as u64);
    }
}
