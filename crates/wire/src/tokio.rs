//! The async adapters (feature `tokio`): [`FrameCodec`] implements
//! [`tokio_util::codec::Decoder`] and [`Encoder`], so
//! [`Framed`](tokio_util::codec::Framed) turns any `AsyncRead + AsyncWrite`
//! into a stream and sink of frames; [`MessageCodec`] does the same for one
//! prost message type; [`AsyncFrameReader`] reads each frame's payload
//! straight into a buffer the caller owns.
//!
//! ```
//! use bytes::Bytes;
//! use framecast_wire::FrameCodec;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = FrameCodec::new();
//! let mut buf = bytes::BytesMut::new();
//! Encoder::encode(&mut codec, Bytes::from_static(b"hi"), &mut buf)?;
//! assert_eq!(Decoder::decode(&mut codec, &mut buf)?.as_deref(), Some(&b"hi"[..]));
//! # Ok::<(), framecast_wire::WireError>(())
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{FrameCodec, MAX_HEADER_LEN, RESERVE_AHEAD};
use crate::error::WireError;

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        FrameCodec::decode(self, src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        FrameCodec::decode_eof(self, src)
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = WireError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), WireError> {
        FrameCodec::encode(self, &item, dst)
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = WireError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), WireError> {
        FrameCodec::encode(self, item, dst)
    }
}

/// A [`Decoder`] and [`Encoder`] of one prost message type, one per frame.
///
/// ```
/// use framecast_proto::video::Video;
/// use framecast_wire::MessageCodec;
/// use futures_util::{SinkExt, StreamExt};
/// use tokio_util::codec::Framed;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let mut tx = Framed::new(a, MessageCodec::<Video>::default());
/// let mut rx = Framed::new(b, MessageCodec::<Video>::default());
/// tx.send(Video { sequence: 7, ..Default::default() }).await?;
/// let got = rx.next().await.transpose()?;
/// assert_eq!(got.map(|v| v.sequence), Some(7));
/// # Ok::<(), framecast_wire::WireError>(())
/// # })?;
/// # Ok::<(), framecast_wire::WireError>(())
/// ```
///
/// Note that [`Framed`](tokio_util::codec::Framed) ends the stream after
/// any decoder error, a [`WireError::Message`] included. A receiver that
/// wants to count corrupt frames and go on should frame with [`FrameCodec`]
/// and call `M::decode` on each payload itself.
pub struct MessageCodec<M> {
    frames: FrameCodec,
    _message: PhantomData<fn(M) -> M>,
}

impl<M> MessageCodec<M> {
    /// A message codec over `frames` (its prefix and limit).
    pub fn new(frames: FrameCodec) -> Self {
        Self {
            frames,
            _message: PhantomData,
        }
    }

    /// The frame codec underneath.
    pub fn frames(&self) -> &FrameCodec {
        &self.frames
    }
}

impl<M> Default for MessageCodec<M> {
    fn default() -> Self {
        Self::new(FrameCodec::new())
    }
}

impl<M> Clone for MessageCodec<M> {
    fn clone(&self) -> Self {
        Self::new(self.frames.clone())
    }
}

impl<M> fmt::Debug for MessageCodec<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageCodec")
            .field("frames", &self.frames)
            .finish()
    }
}

impl<M: prost::Message + Default> Decoder for MessageCodec<M> {
    type Item = M;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<M>, WireError> {
        match self.frames.decode(src)? {
            Some(frame) => Ok(Some(M::decode(frame)?)),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<M>, WireError> {
        match self.frames.decode_eof(src)? {
            Some(frame) => Ok(Some(M::decode(frame)?)),
            None => Ok(None),
        }
    }
}

impl<M: prost::Message> Encoder<M> for MessageCodec<M> {
    type Error = WireError;

    fn encode(&mut self, item: M, dst: &mut BytesMut) -> Result<(), WireError> {
        self.frames.encode_message(&item, dst)
    }
}

impl<M: prost::Message> Encoder<&M> for MessageCodec<M> {
    type Error = WireError;

    fn encode(&mut self, item: &M, dst: &mut BytesMut) -> Result<(), WireError> {
        self.frames.encode_message(item, dst)
    }
}

/// Reads frames from an [`AsyncRead`], each payload into a buffer the
/// caller owns.
///
/// Unlike [`FramedRead`](tokio_util::codec::FramedRead), which splits every
/// payload off one shared read buffer, this reader puts each payload in the
/// [`BytesMut`] the caller passes, and reads nothing of the next frame into
/// it. A caller can therefore keep a small pool of buffers, hand a frame on
/// (frozen into [`Bytes`]) and take the buffer back once every consumer has
/// dropped it ([`Bytes::try_into_mut`]): in the steady state no frame costs
/// an allocation.
///
/// Memory follows what arrives, not what a header announces: a payload's
/// buffer is grown at most [`RESERVE_AHEAD`] bytes ahead of the bytes that
/// came, doubling after that (see [`FrameCodec::next_read_len`]).
///
/// [`poll_read_frame`](Self::poll_read_frame) keeps its progress in the
/// reader and in the buffer, so it is cancel-safe: a caller may race it
/// against timers and poll again later with the same buffer.
/// [`in_frame`](Self::in_frame) tells whether a frame has started, which
/// lets a caller time out a peer that starts a frame and never finishes it.
///
/// ```
/// use bytes::BytesMut;
/// use framecast_wire::{AsyncFrameReader, FrameCodec};
/// use tokio::io::AsyncWriteExt;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let (mut tx, rx) = tokio::io::duplex(1024);
/// tx.write_all(b"\x03\x00\x00\x00abc\x00\x00\x00\x00").await?;
/// drop(tx);
/// let mut reader = AsyncFrameReader::new(rx, FrameCodec::new());
/// let mut buf = BytesMut::new();
/// assert_eq!(reader.read_frame_into(&mut buf).await?, Some(3));
/// assert_eq!(&buf[..], b"abc");
/// assert_eq!(reader.read_frame_into(&mut buf).await?, Some(0));
/// assert_eq!(reader.read_frame_into(&mut buf).await?, None); // clean end
/// # Ok::<(), framecast_wire::WireError>(())
/// # })?;
/// # Ok::<(), framecast_wire::WireError>(())
/// ```
#[derive(Debug)]
pub struct AsyncFrameReader<R> {
    inner: R,
    codec: FrameCodec,
    head: [u8; MAX_HEADER_LEN],
    /// Header bytes read so far.
    head_got: usize,
    /// The announced payload length, once the header is complete.
    payload: Option<usize>,
}

impl<R> AsyncFrameReader<R> {
    /// A reader framing with `codec` (its prefix and limit).
    pub fn new(inner: R, codec: FrameCodec) -> Self {
        Self {
            inner,
            codec,
            head: [0; MAX_HEADER_LEN],
            head_got: 0,
            payload: None,
        }
    }

    /// Whether a frame has started: at least one byte of its header has
    /// been read and the frame is not complete yet.
    pub fn in_frame(&self) -> bool {
        self.head_got > 0 || self.payload.is_some()
    }

    /// The codec (its prefix and limit).
    pub fn codec(&self) -> &FrameCodec {
        &self.codec
    }

    /// The bytes of the current frame's header read so far; after a header
    /// error, the whole offending header (to tell the peer what it sent, or
    /// to recognise another protocol).
    pub fn header_bytes(&self) -> &[u8] {
        &self.head[..self.head_got]
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader, mutably. Reading from it directly
    /// desynchronises the frame stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncFrameReader<R> {
    /// Polls for the next frame, reading its payload into `buf`.
    ///
    /// `buf` is cleared when a new payload starts; pass the same buffer on
    /// every call until one returns `Ready`. Returns `Ready(Ok(Some(len)))`
    /// with the whole payload in `buf` (`len == buf.len()`), and
    /// `Ready(Ok(None))` when the stream ends cleanly at a frame boundary.
    ///
    /// # Errors
    ///
    /// A protocol error ([`WireError::is_protocol`]) as soon as a header
    /// announces too much (nothing is reserved for it: drop the
    /// connection); [`WireError::TruncatedHeader`] /
    /// [`WireError::TruncatedPayload`] when the stream ends inside a frame;
    /// [`WireError::Io`] when the reader fails.
    pub fn poll_read_frame(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<Result<Option<usize>, WireError>> {
        let head_len = self.codec.prefix().len();
        let len = loop {
            if let Some(len) = self.payload {
                break len;
            }
            if self.head_got == head_len {
                let len = self.codec.parse_header(&self.head[..head_len])?;
                self.payload = Some(len);
                buf.clear();
                continue;
            }
            // Read the header alone, so that no byte of the payload lands
            // outside `buf`.
            let mut rb = ReadBuf::new(&mut self.head[self.head_got..head_len]);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                if self.head_got == 0 {
                    return Poll::Ready(Ok(None));
                }
                return Poll::Ready(Err(WireError::TruncatedHeader {
                    got: self.head_got,
                    len: head_len,
                }));
            }
            self.head_got += n;
        };
        while buf.len() < len {
            let missing = len - buf.len();
            let ahead = missing.min(buf.len().max(RESERVE_AHEAD));
            if buf.capacity() - buf.len() < ahead {
                buf.reserve(ahead);
            }
            // At most the rest of this payload: the next frame's bytes stay
            // in the socket.
            let n = ready!(poll_read_buf(
                Pin::new(&mut self.inner),
                cx,
                &mut (&mut *buf).limit(missing)
            ))?;
            if n == 0 {
                return Poll::Ready(Err(WireError::TruncatedPayload { missing, len }));
            }
        }
        self.head_got = 0;
        self.payload = None;
        Poll::Ready(Ok(Some(len)))
    }

    /// Reads the next frame's payload into `buf`; see
    /// [`poll_read_frame`](Self::poll_read_frame). Cancel-safe: if the
    /// future is dropped, call again with the same buffer to resume.
    ///
    /// # Errors
    ///
    /// Those of [`poll_read_frame`](Self::poll_read_frame).
    pub async fn read_frame_into(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<usize>, WireError> {
        poll_fn(|cx| self.poll_read_frame(cx, buf)).await
    }
}

/// Reads into `buf`'s spare room (as far as its [`BufMut::chunk_mut`] goes).
fn poll_read_buf<R: AsyncRead, B: BufMut>(
    io: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut B,
) -> Poll<io::Result<usize>> {
    tokio_util::io::poll_read_buf(io, cx, buf)
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::codec::Prefix;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn frames_split_at_every_byte_arrive_whole() {
        rt().block_on(async {
            let mut wire = BytesMut::new();
            let mut codec = FrameCodec::new();
            for p in [&b"one"[..], b"", &[9; 1000]] {
                codec.encode(p, &mut wire).unwrap();
            }
            let (mut tx, rx) = tokio::io::duplex(1);
            let writer = tokio::spawn(async move {
                for b in wire.iter() {
                    tx.write_all(&[*b]).await.unwrap();
                }
            });
            let mut r = AsyncFrameReader::new(rx, FrameCodec::new());
            let mut buf = BytesMut::new();
            assert_eq!(r.read_frame_into(&mut buf).await.unwrap(), Some(3));
            assert_eq!(&buf[..], b"one");
            assert_eq!(r.read_frame_into(&mut buf).await.unwrap(), Some(0));
            assert_eq!(r.read_frame_into(&mut buf).await.unwrap(), Some(1000));
            assert!(buf.iter().all(|&b| b == 9));
            writer.await.unwrap();
            assert_eq!(r.read_frame_into(&mut buf).await.unwrap(), None);
            assert!(!r.in_frame());
        });
    }

    #[test]
    fn an_announced_length_reserves_nothing_until_bytes_come() {
        rt().block_on(async {
            let (mut tx, rx) = tokio::io::duplex(1 << 20);
            let mut head = BytesMut::new();
            head.put_u32_le(8 << 20);
            head.put_slice(&[1; 10]);
            tx.write_all(&head).await.unwrap();
            let mut r = AsyncFrameReader::new(rx, FrameCodec::new().max_frame_len(8 << 20));
            let mut buf = BytesMut::new();
            let pending = tokio::time::timeout(
                std::time::Duration::from_millis(50),
                r.read_frame_into(&mut buf),
            )
            .await;
            assert!(pending.is_err(), "the frame cannot be complete");
            assert!(r.in_frame());
            assert_eq!(buf.len(), 10);
            assert!(buf.capacity() <= 2 * RESERVE_AHEAD, "{}", buf.capacity());
            // Cancel-safe: resuming with the same buffer completes the frame.
            let rest = vec![1u8; (8 << 20) - 10];
            let writer = tokio::spawn(async move { tx.write_all(&rest).await });
            assert_eq!(r.read_frame_into(&mut buf).await.unwrap(), Some(8 << 20));
            writer.await.unwrap().unwrap();
            assert!(buf.iter().all(|&b| b == 1));
        });
    }

    #[test]
    fn errors_name_what_went_wrong() {
        rt().block_on(async {
            let read = |bytes: Vec<u8>, prefix: Prefix| async move {
                let mut r = AsyncFrameReader::new(&bytes[..], FrameCodec::with_prefix(prefix));
                r.read_frame_into(&mut BytesMut::new()).await
            };
            let e = read(vec![0xff; 4], Prefix::U32Le).await.unwrap_err();
            assert!(e.is_protocol(), "{e}");
            let mut r = AsyncFrameReader::new(
                &b"FCST\x01\x00\x00\x00"[..],
                FrameCodec::with_prefix(Prefix::LegacyI64Le),
            );
            assert!(r.read_frame_into(&mut BytesMut::new()).await.is_err());
            assert_eq!(r.header_bytes(), b"FCST\x01\x00\x00\x00");
            let e = read(vec![5, 0], Prefix::U32Le).await.unwrap_err();
            assert!(
                matches!(e, WireError::TruncatedHeader { got: 2, len: 4 }),
                "{e}"
            );
            let e = read(vec![5, 0, 0, 0, 1], Prefix::U32Le).await.unwrap_err();
            assert!(
                matches!(e, WireError::TruncatedPayload { missing: 4, len: 5 }),
                "{e}"
            );
            let e = read(vec![0xff; 8], Prefix::LegacyI64Le).await.unwrap_err();
            assert!(matches!(e, WireError::NegativeLength(-1)), "{e}");
            assert_eq!(read(vec![], Prefix::U32Le).await.unwrap(), None);
        });
    }

    #[test]
    fn a_recycled_buffer_is_reused_without_growing() {
        rt().block_on(async {
            let mut wire = BytesMut::new();
            let mut codec = FrameCodec::new();
            for _ in 0..10 {
                codec.encode(&[3; 5000], &mut wire).unwrap();
            }
            let mut r = AsyncFrameReader::new(&wire[..], FrameCodec::new());
            let mut buf = BytesMut::with_capacity(8192);
            let ptr = buf.as_ptr();
            while let Some(n) = r.read_frame_into(&mut buf).await.unwrap() {
                assert_eq!(n, 5000);
                assert_eq!(buf.as_ptr(), ptr, "same memory every frame");
            }
        });
    }
}
