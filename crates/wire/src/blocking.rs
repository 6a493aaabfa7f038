//! Blocking adapters over [`std::io::Read`] and [`std::io::Write`]:
//! [`FrameReader`] and [`FrameWriter`], with typed helpers for prost
//! messages.

use std::io::{self, IoSlice, Read, Write};

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::FrameCodec;
use crate::error::WireError;

/// The default size of one read from the underlying reader: 64 KiB.
///
/// A reader asks for at least this much per `read` call (more when the
/// current frame needs more), so small frames arrive many to a call. Change
/// it with [`FrameReader::read_size`].
pub const DEFAULT_READ_SIZE: usize = 64 * 1024;

/// Reads frames from a blocking [`Read`].
///
/// It reads in large chunks into one [`BytesMut`] that it keeps from frame to
/// frame, and hands out payloads split off that buffer without copying. The
/// buffer's memory is reused once the caller has dropped the payloads that
/// point into it; a caller that holds on to every frame makes it allocate
/// fresh memory instead (correct, just not free).
///
/// ```
/// use framecast_wire::{FrameReader, FrameWriter};
///
/// let mut writer = FrameWriter::new(Vec::new());
/// writer.write_frame(b"one")?;
/// writer.write_frame(b"two")?;
///
/// let wire: Vec<u8> = writer.into_inner();
/// let mut reader = FrameReader::new(wire.as_slice());
/// assert_eq!(reader.read_frame()?.as_deref(), Some(&b"one"[..]));
/// assert_eq!(reader.read_frame()?.as_deref(), Some(&b"two"[..]));
/// assert_eq!(reader.read_frame()?, None); // clean end of stream
/// # Ok::<(), framecast_wire::WireError>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    codec: FrameCodec,
    buf: BytesMut,
    read_size: usize,
}

impl<R: Read> FrameReader<R> {
    /// A reader with the default codec ([`FrameCodec::new`]).
    pub fn new(inner: R) -> Self {
        Self::with_codec(inner, FrameCodec::new())
    }

    /// A reader using `codec`'s prefix and limit.
    pub fn with_codec(inner: R, codec: FrameCodec) -> Self {
        Self {
            inner,
            codec,
            buf: BytesMut::new(),
            read_size: DEFAULT_READ_SIZE,
        }
    }

    /// Sets the least number of bytes asked for per `read` call (builder
    /// style; at least 1).
    #[must_use]
    pub fn read_size(mut self, bytes: usize) -> Self {
        self.read_size = bytes.max(1);
        self
    }

    /// Reads the next frame's payload.
    ///
    /// Returns `Ok(None)` when the stream ends cleanly at a frame boundary.
    ///
    /// # Errors
    ///
    /// - [`WireError::TruncatedHeader`] / [`WireError::TruncatedPayload`]
    ///   when the stream ends inside a frame;
    /// - a protocol error ([`WireError::is_protocol`]) on an invalid header:
    ///   drop the connection, the stream cannot be resynchronised;
    /// - [`WireError::Io`] when the reader fails. Interruptions are retried;
    ///   after a timeout (`WouldBlock`/`TimedOut`) the bytes read so far are
    ///   kept, and the next call resumes the frame.
    pub fn read_frame(&mut self) -> Result<Option<Bytes>, WireError> {
        loop {
            if let Some(frame) = self.codec.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            if self.fill()? == 0 {
                return self.codec.decode_eof(&mut self.buf);
            }
        }
    }

    /// Reads the next frame and decodes it as a `M`.
    ///
    /// [`bytes::Bytes`] fields of `M` (such as `Video::video_data`) share
    /// the frame's memory rather than copying it.
    ///
    /// # Errors
    ///
    /// Those of [`read_frame`](Self::read_frame), and [`WireError::Message`]
    /// when the payload is not a valid `M`. That frame is consumed: the
    /// reader stays usable and the next call reads the next frame.
    pub fn read_message<M: prost::Message + Default>(&mut self) -> Result<Option<M>, WireError> {
        match self.read_frame()? {
            Some(frame) => Ok(Some(M::decode(frame)?)),
            None => Ok(None),
        }
    }

    /// The codec (its prefix, limit and whether it is mid-frame).
    pub fn codec(&self) -> &FrameCodec {
        &self.codec
    }

    /// The bytes read from the stream but not yet returned as frames.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader, mutably. Reading from it directly desynchronises
    /// the frame stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying reader; bytes already buffered are dropped (see
    /// [`into_parts`](Self::into_parts) to keep them).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The underlying reader and the bytes read but not yet decoded.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.inner, self.buf)
    }

    /// Reads at least the bytes the codec still needs for its current step
    /// (header or payload), or up to `read_size` more, whichever is larger.
    /// Returns how many bytes arrived; 0 means end of stream.
    fn fill(&mut self) -> Result<usize, WireError> {
        // Room grows with what arrives (see `FrameCodec::next_read_len`):
        // a header announcing a huge frame does not make us zero and hold
        // that much before its bytes come.
        let needed = self.codec.next_read_len(&self.buf).max(1);
        let want = needed.max(self.read_size);
        let start = self.buf.len();
        // Safe Rust can only read into initialised memory, so the new room
        // is zeroed once per fill; it costs far less than the read itself.
        self.buf.resize(start + want, 0);
        let mut filled = start;
        let result = loop {
            match self.inner.read(&mut self.buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    // Stop as soon as the codec can make progress; do not
                    // block waiting for the rest of the optional read-ahead.
                    if filled - start >= needed {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf.truncate(filled);
        result?;
        Ok(filled - start)
    }
}

/// Writes frames to a blocking [`Write`].
///
/// [`write_frame`](Self::write_frame) hands the header and the payload to
/// the writer in one vectored write (one `writev` on a socket), without
/// copying the payload; [`write_message`](Self::write_message) encodes into
/// a buffer the writer keeps from frame to frame. Nothing is buffered
/// between calls: when a call returns, its frame has been passed to the
/// underlying writer. Wrap the writer in a [`std::io::BufWriter`] to batch
/// many small frames into fewer system calls.
///
/// If a write fails part-way (even with a timeout), the stream holds a
/// partial frame and cannot carry another: the writer is then
/// [broken](Self::is_broken) and refuses every later write with
/// [`WireError::Broken`]. A write refused before any byte went out (a frame
/// over the limit, an error on its first byte) leaves it usable.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    codec: FrameCodec,
    scratch: BytesMut,
    /// A write failed part-way through a frame.
    broken: bool,
}

impl<W: Write> FrameWriter<W> {
    /// A writer with the default codec ([`FrameCodec::new`]).
    pub fn new(inner: W) -> Self {
        Self::with_codec(inner, FrameCodec::new())
    }

    /// A writer using `codec`'s prefix and limit.
    pub fn with_codec(inner: W, codec: FrameCodec) -> Self {
        Self {
            inner,
            codec,
            scratch: BytesMut::new(),
            broken: false,
        }
    }

    /// Writes one frame holding `payload`.
    ///
    /// # Errors
    ///
    /// [`WireError::FrameTooLarge`] (nothing written) when the payload
    /// exceeds the limit; [`WireError::Io`] when the writer fails;
    /// [`WireError::Broken`] after an earlier write failed part-way.
    pub fn write_frame(&mut self, payload: &[u8]) -> Result<(), WireError> {
        if self.broken {
            return Err(WireError::Broken);
        }
        let header = self.codec.header(payload.len())?;
        let mut slices = [IoSlice::new(header.as_bytes()), IoSlice::new(payload)];
        write_all_vectored(&mut self.inner, &mut slices, &mut self.broken)
    }

    /// Encodes `msg` and writes it as one frame.
    ///
    /// The message is encoded, behind its header, into a buffer kept from
    /// call to call, and handed to the writer in one write.
    ///
    /// # Errors
    ///
    /// Those of [`write_frame`](Self::write_frame).
    pub fn write_message<M: prost::Message>(&mut self, msg: &M) -> Result<(), WireError> {
        if self.broken {
            return Err(WireError::Broken);
        }
        self.scratch.clear();
        self.codec.encode_message(msg, &mut self.scratch)?;
        let mut slices = [IoSlice::new(&self.scratch)];
        write_all_vectored(&mut self.inner, &mut slices, &mut self.broken)
    }

    /// Writes one frame holding `msg` with one more field, number `field`,
    /// a `bytes` field holding `payload`, written first: the bytes of a
    /// message whose field `field` is `payload` and whose other fields are
    /// `msg`'s. The frame's header, the field's key and length, `payload`
    /// and `msg`'s own fields go to the writer in one vectored write (one
    /// `writev` on a socket), and `payload` is not copied: a sender of
    /// large payloads (a JPEG in a `Video`) frames each without moving it.
    ///
    /// `msg` must not set field `field` itself (a decoder would keep the
    /// last of the two). A protobuf decoder reads fields in any order, and
    /// prost writes a `bytes` field numbered 1 first anyway, so for such a
    /// message the frame is byte for byte what
    /// [`write_message`](Self::write_message) writes.
    ///
    /// ```
    /// use framecast_proto::video::Video;
    /// use framecast_wire::{FrameReader, FrameWriter};
    ///
    /// let meta = Video { sequence: 7, ..Default::default() };
    /// let jpeg = vec![0xAB; 100_000];
    /// let mut writer = FrameWriter::new(Vec::new());
    /// writer.write_message_with_bytes(1, &jpeg, &meta)?;
    ///
    /// let wire = writer.into_inner();
    /// let got: Video = FrameReader::new(wire.as_slice()).read_message()?.unwrap();
    /// assert_eq!((got.sequence, got.video_data.len()), (7, 100_000));
    /// # Ok::<(), framecast_wire::WireError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`write_frame`](Self::write_frame).
    pub fn write_message_with_bytes<M: prost::Message>(
        &mut self,
        field: u32,
        payload: &[u8],
        msg: &M,
    ) -> Result<(), WireError> {
        use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
        if self.broken {
            return Err(WireError::Broken);
        }
        // proto3 leaves an empty bytes field out.
        let field_len = if payload.is_empty() {
            0
        } else {
            key_len(field) + encoded_len_varint(payload.len() as u64) + payload.len()
        };
        let len = field_len
            .checked_add(msg.encoded_len())
            .ok_or(WireError::FrameTooLarge {
                len: u64::MAX,
                max: self.codec.frame_len_limit(),
            })?;
        let header = self.codec.header(len)?;
        self.scratch.clear();
        self.scratch.put_slice(header.as_bytes());
        if !payload.is_empty() {
            encode_key(field, WireType::LengthDelimited, &mut self.scratch);
            encode_varint(payload.len() as u64, &mut self.scratch);
        }
        let split = self.scratch.len();
        // prost only fails when the buffer has too little room, and a
        // `BytesMut` grows on demand.
        msg.encode(&mut self.scratch)
            .expect("encoding into a BytesMut cannot run out of room");
        let (head, tail) = self.scratch.split_at(split);
        let mut slices = [
            IoSlice::new(head),
            IoSlice::new(payload),
            IoSlice::new(tail),
        ];
        write_all_vectored(&mut self.inner, &mut slices, &mut self.broken)
    }

    /// Whether a write failed part-way through a frame, so that the stream
    /// cannot carry another frame and every later write is refused.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// [`WireError::Io`] when the writer fails.
    pub fn flush(&mut self) -> Result<(), WireError> {
        self.inner.flush()?;
        Ok(())
    }

    /// The codec (its prefix and limit).
    pub fn codec(&self) -> &FrameCodec {
        &self.codec
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The underlying writer, mutably. Writing to it directly corrupts the
    /// frame stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying writer. Nothing is lost: the frame writer buffers
    /// nothing between calls.
    pub fn into_inner(self) -> W {
        self.inner
    }

    #[cfg(test)]
    pub(crate) fn scratch_capacity(&self) -> usize {
        self.scratch.capacity()
    }
}

/// Writes every byte of `slices`, retrying interrupted writes. Sets
/// `broken` when it fails after part of them went out.
fn write_all_vectored<W: Write>(
    inner: &mut W,
    slices: &mut [IoSlice<'_>],
    broken: &mut bool,
) -> Result<(), WireError> {
    let mut bufs = slices;
    let mut written = false;
    while !bufs.is_empty() {
        match inner.write_vectored(bufs) {
            Ok(0) => {
                *broken = written;
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            Ok(n) => {
                written = true;
                IoSlice::advance_slices(&mut bufs, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                *broken = written;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::codec::Prefix;

    /// A reader that returns at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn encoded(prefix: Prefix, payloads: &[&[u8]]) -> Vec<u8> {
        let mut w = FrameWriter::with_codec(Vec::new(), FrameCodec::with_prefix(prefix));
        for p in payloads {
            w.write_frame(p).unwrap();
        }
        w.into_inner()
    }

    /// A writer that counts its calls and takes everything at once.
    #[derive(Default)]
    struct Counting {
        out: Vec<u8>,
        calls: usize,
    }

    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let mut n = 0;
            for b in bufs {
                self.out.extend_from_slice(b);
                n += b.len();
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_message_with_borrowed_bytes_is_the_owned_message_in_one_write() {
        use framecast_proto::video::Video;
        for len in [0usize, 1, 127, 128, 100_000] {
            let payload = vec![0x5A; len];
            let meta = Video {
                sequence: 9,
                capture_time_us: Some(1_700_000_000_000_000),
                width: 400,
                height: 400,
                ..Default::default()
            };
            let owned = Video {
                video_data: payload.clone().into(),
                ..meta.clone()
            };
            for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
                let codec = FrameCodec::with_prefix(prefix);
                let mut expected = FrameWriter::with_codec(Vec::new(), codec.clone());
                expected.write_message(&owned).unwrap();
                let mut w = FrameWriter::with_codec(Counting::default(), codec);
                w.write_message_with_bytes(1, &payload, &meta).unwrap();
                let got = w.into_inner();
                assert_eq!(got.out, expected.into_inner(), "{len} bytes, {prefix:?}");
                assert_eq!(got.calls, 1, "one vectored write");
            }
        }
    }

    #[test]
    fn a_message_with_bytes_over_the_limit_writes_nothing() {
        use framecast_proto::video::Video;
        let mut w =
            FrameWriter::with_codec(Counting::default(), FrameCodec::new().max_frame_len(100));
        let err = w
            .write_message_with_bytes(1, &[0; 100], &Video::default())
            .unwrap_err();
        assert!(matches!(err, WireError::FrameTooLarge { .. }), "{err}");
        assert!(!w.is_broken());
        assert_eq!(w.get_ref().calls, 0);
        w.write_message_with_bytes(1, &[0; 90], &Video::default())
            .unwrap();
    }

    #[test]
    fn writer_output_matches_the_codec() {
        for prefix in [Prefix::U32Le, Prefix::LegacyI64Le] {
            let mut expected = BytesMut::new();
            let mut codec = FrameCodec::with_prefix(prefix);
            codec.encode(b"abc", &mut expected).unwrap();
            codec.encode(b"", &mut expected).unwrap();
            assert_eq!(encoded(prefix, &[b"abc", b""]), expected);
        }
    }

    #[test]
    fn reads_several_small_frames_per_read_call() {
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 10]).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let wire = encoded(Prefix::U32Le, &refs);
        let mut reader = FrameReader::new(Trickle {
            data: &wire,
            step: usize::MAX,
            calls: 0,
        });
        for p in &payloads {
            assert_eq!(reader.read_frame().unwrap().unwrap(), p);
        }
        assert_eq!(reader.read_frame().unwrap(), None);
        // 1400 bytes fit in one 64 KiB read, plus the read that sees EOF.
        assert_eq!(reader.get_ref().calls, 2);
    }

    #[test]
    fn reads_through_one_byte_reads() {
        let wire = encoded(Prefix::LegacyI64Le, &[b"hello", b"", b"world"]);
        let mut reader = FrameReader::with_codec(
            Trickle {
                data: &wire,
                step: 1,
                calls: 0,
            },
            FrameCodec::with_prefix(Prefix::LegacyI64Le),
        );
        let mut got = Vec::new();
        while let Some(f) = reader.read_frame().unwrap() {
            got.push(f);
        }
        assert_eq!(got, [&b"hello"[..], b"", b"world"]);
    }

    #[test]
    fn truncated_streams_report_what_is_missing() {
        let wire = encoded(Prefix::U32Le, &[&[1; 1000]]);
        let err = FrameReader::new(&wire[..14]).read_frame().unwrap_err();
        assert!(matches!(
            err,
            WireError::TruncatedPayload {
                missing: 990,
                len: 1000
            }
        ));
        let err = FrameReader::new(&wire[..3]).read_frame().unwrap_err();
        assert!(matches!(err, WireError::TruncatedHeader { got: 3, len: 4 }));
    }

    #[test]
    fn reader_reuses_its_buffer() {
        let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 100_000]).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let wire = encoded(Prefix::U32Le, &refs);
        let mut reader = FrameReader::new(Cursor::new(wire)).read_size(4096);
        let mut caps = Vec::new();
        let mut ptrs = std::collections::HashSet::new();
        for p in &payloads {
            let frame = reader.read_frame().unwrap().unwrap();
            assert_eq!(&frame[..], &p[..]);
            ptrs.insert(frame.as_ptr() as usize);
            drop(frame);
            caps.push(reader.buf.capacity());
        }
        // After the first frames the buffer settles: same capacity, and the
        // payloads come out of the same few allocations.
        assert!(
            caps[5..].windows(2).all(|w| w[0] == w[1]),
            "capacity changed: {caps:?}"
        );
        assert!(ptrs.len() <= 3, "{} distinct payload addresses", ptrs.len());
    }

    #[test]
    fn interrupted_reads_are_retried_and_timeouts_resume() {
        struct Flaky {
            data: Vec<u8>,
            pos: usize,
            calls: usize,
        }
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.calls += 1;
                match self.calls % 3 {
                    1 => return Err(io::ErrorKind::Interrupted.into()),
                    2 => return Err(io::ErrorKind::WouldBlock.into()),
                    _ => {}
                }
                let n = buf.len().min(self.data.len() - self.pos).min(3);
                buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
                self.pos += n;
                Ok(n)
            }
        }
        let wire = encoded(Prefix::U32Le, &[b"resumable"]);
        let mut reader = FrameReader::new(Flaky {
            data: wire,
            pos: 0,
            calls: 0,
        });
        let mut timeouts = 0;
        let frame = loop {
            match reader.read_frame() {
                Ok(f) => break f,
                Err(e) if e.is_recoverable() => timeouts += 1,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(frame.unwrap(), &b"resumable"[..]);
        assert!(timeouts > 2);
    }

    #[test]
    fn protocol_error_consumes_nothing() {
        let mut wire = vec![0xff; 4];
        wire.extend_from_slice(b"trailing");
        let mut reader = FrameReader::new(wire.as_slice());
        let err = reader.read_frame().unwrap_err();
        assert!(err.is_protocol());
        assert_eq!(reader.buffered().len(), 12);
        assert!(reader.read_frame().unwrap_err().is_protocol());
    }

    #[test]
    fn oversized_write_writes_nothing() {
        let mut w = FrameWriter::with_codec(Vec::new(), FrameCodec::new().max_frame_len(4));
        let err = w.write_frame(b"12345").unwrap_err();
        assert!(matches!(err, WireError::FrameTooLarge { len: 5, max: 4 }));
        assert!(w.get_ref().is_empty());
        w.write_frame(b"1234").unwrap();
        assert_eq!(w.get_ref().len(), 8);
    }

    #[test]
    fn short_writes_are_completed() {
        /// Accepts at most 3 bytes per call, and only from the first slice.
        struct Stingy(Vec<u8>);
        impl Write for Stingy {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = FrameWriter::new(Stingy(Vec::new()));
        w.write_frame(b"0123456789").unwrap();
        w.flush().unwrap();
        assert_eq!(w.into_inner().0, encoded(Prefix::U32Le, &[b"0123456789"]));
    }

    #[test]
    fn a_write_cut_short_breaks_the_writer_and_one_refused_whole_does_not() {
        /// Takes `budget` bytes, then times out on every call.
        struct Slow {
            data: Vec<u8>,
            budget: usize,
        }
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.budget == 0 {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let n = buf.len().min(self.budget);
                self.budget -= n;
                self.data.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Refused before any byte went out: still usable.
        let mut w = FrameWriter::new(Slow {
            data: Vec::new(),
            budget: 0,
        });
        assert!(w.write_frame(b"0123456789").unwrap_err().is_io());
        assert!(!w.is_broken());
        w.get_mut().budget = 100;
        w.write_frame(b"0123456789").unwrap();
        assert_eq!(w.get_ref().data, encoded(Prefix::U32Le, &[b"0123456789"]));

        // Cut short: broken, and every later write is refused.
        let mut w = FrameWriter::new(Slow {
            data: Vec::new(),
            budget: 6,
        });
        assert!(w.write_frame(b"0123456789").unwrap_err().is_io());
        assert!(w.is_broken());
        w.get_mut().budget = 100;
        assert!(matches!(
            w.write_frame(b"0123456789"),
            Err(WireError::Broken)
        ));
        assert!(matches!(
            w.write_message(&framecast_proto::video::Video::default()),
            Err(WireError::Broken)
        ));
        assert_eq!(w.get_ref().data.len(), 6, "nothing written after the break");
    }
}
