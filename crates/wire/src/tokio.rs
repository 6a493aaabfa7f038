//! The async adapters (feature `tokio`): [`FrameCodec`] implements
//! [`tokio_util::codec::Decoder`] and [`Encoder`], so
//! [`Framed`](tokio_util::codec::Framed) turns any `AsyncRead + AsyncWrite`
//! into a stream and sink of frames; [`MessageCodec`] does the same for one
//! prost message type.
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
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::FrameCodec;
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
