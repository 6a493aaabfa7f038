//! [`Frame`]: one accepted frame as the receiver hands it on, the checks a
//! frame passes before that ([`check_frame`], [`FrameError`]), and the
//! per-connection buffer ring that lets frames be shared without being
//! allocated one by one.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use framecast_codec::{ImageError, probe_jpeg};
use framecast_proto::video::{PayloadFormat, Video};
use prost::Message;

/// A stream's number within one receiver: from 1, in the order streams
/// were opened, never reused while the receiver runs. Shown, parsed and
/// serialised as the plain number (`/streams/3`, `"id": 3`).
///
/// ```
/// use framecast_stream::StreamId;
///
/// let id: StreamId = "3".parse()?;
/// assert_eq!((id.get(), id.to_string()), (3, "3".to_owned()));
/// # Ok::<(), std::num::ParseIntError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct StreamId(u32);

impl StreamId {
    /// The stream numbered `n` (what a receiver said in its status, or a
    /// test's own number).
    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for StreamId {
    type Err = std::num::ParseIntError;

    /// The plain number.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

/// One frame the receiver accepted: the `Video` message exactly as it
/// arrived, the JPEG inside it (shared, not copied) and what its header
/// says.
///
/// Cloning is cheap (two reference counts): the window, the HTTP viewers,
/// a recorder and a publisher can each hold the same frame.
#[derive(Debug, Clone)]
pub struct Frame {
    stream: StreamId,
    name: Arc<str>,
    message: Bytes,
    jpeg: Bytes,
    sequence: u64,
    capture_time_us: Option<u64>,
    width: u32,
    height: u32,
    source_size: Option<(u32, u32)>,
    received: Instant,
    quality: Option<u8>,
    link_rate_bps: Option<u64>,
}

impl Frame {
    /// The stream it came from.
    pub fn stream(&self) -> StreamId {
        self.stream
    }

    /// The name of the stream it came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoded `Video` message, byte for byte as it arrived (without
    /// the length prefix).
    pub fn message(&self) -> &Bytes {
        &self.message
    }

    /// The JPEG: `video_data`, a slice of [`message`](Self::message).
    pub fn jpeg(&self) -> &Bytes {
        &self.jpeg
    }

    /// The sender's frame counter.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the sender captured it, in µs since the Unix epoch, if it said.
    pub fn capture_time_us(&self) -> Option<u64> {
        self.capture_time_us
    }

    /// The picture's width, from its JPEG header.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The picture's height, from its JPEG header.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The size of the picture the sender captured, before it scaled it
    /// for sending, when it said: what the picture's shape should be.
    pub fn source_size(&self) -> Option<(u32, u32)> {
        self.source_size
    }

    /// When the receiver finished reading it.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// The JPEG quality the sender encoded it with, when it said.
    pub fn quality(&self) -> Option<u8> {
        self.quality
    }

    /// The sender's estimate of what the link carries (bits per second),
    /// when it had one.
    pub fn link_rate_bps(&self) -> Option<u64> {
        self.link_rate_bps
    }
}

/// What [`Receiver::subscribe`](crate::Receiver::subscribe) delivers:
/// every accepted frame, and the end of each stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamEvent {
    /// A frame the receiver accepted (before the workers' drop policy).
    Frame(Frame),
    /// A stream's session is over: no more frames will come from it.
    Ended(StreamId),
}

/// Why a frame was not accepted (it is counted as corrupt and dropped; the
/// connection goes on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The payload is not a protobuf `Video`.
    #[error("not a Video message")]
    NotVideo(#[source] prost::DecodeError),
    /// The payload format is not JPEG.
    #[error("unsupported payload format {0}")]
    UnsupportedFormat(i32),
    /// The JPEG's header cannot be read.
    #[error("bad JPEG header")]
    Jpeg(#[source] ImageError),
    /// The picture is larger than the receiver decodes.
    #[error("picture of {width}x{height} exceeds the {max_pixels}-pixel limit")]
    TooManyPixels {
        /// From the JPEG header.
        width: u32,
        /// From the JPEG header.
        height: u32,
        /// The limit.
        max_pixels: u64,
    },
    /// The JPEG header and the `Video`'s width and height disagree.
    #[error("the JPEG is {width}x{height} but the message says {declared_width}x{declared_height}")]
    SizeMismatch {
        /// From the JPEG header.
        width: u32,
        /// From the JPEG header.
        height: u32,
        /// From the message.
        declared_width: u32,
        /// From the message.
        declared_height: u32,
    },
}

/// Checks one payload and makes it a [`Frame`]: a `Video` carrying a JPEG
/// whose header reads, within `max_pixels`, and agreeing with the width and
/// height the message declares (when it declares them). Nothing is copied:
/// the frame's JPEG is a slice of `payload`.
///
/// Only the header is read here, which is cheap; whether the entropy-coded
/// data is complete is found by decoding it.
///
/// ```
/// use bytes::Bytes;
/// use framecast_proto::video::Video;
/// use framecast_stream::{FrameError, check_frame};
/// use prost::Message;
///
/// let not_a_jpeg = Video { video_data: Bytes::from_static(b"hello"), ..Default::default() };
/// let id = framecast_stream::StreamId::new(1);
/// let err = check_frame(id, &"cam".into(), not_a_jpeg.encode_to_vec().into(), 1 << 20).unwrap_err();
/// assert!(matches!(err, FrameError::Jpeg(_)));
/// ```
///
/// # Errors
///
/// A [`FrameError`] saying what is wrong.
pub fn check_frame(
    stream: StreamId,
    name: &Arc<str>,
    payload: Bytes,
    max_pixels: u64,
) -> Result<Frame, FrameError> {
    let received = Instant::now();
    let video = Video::decode(payload.clone()).map_err(FrameError::NotVideo)?;
    if video.format != PayloadFormat::Jpeg as i32 {
        return Err(FrameError::UnsupportedFormat(video.format));
    }
    let info = probe_jpeg(&video.video_data).map_err(FrameError::Jpeg)?;
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels > max_pixels {
        return Err(FrameError::TooManyPixels {
            width: info.width,
            height: info.height,
            max_pixels,
        });
    }
    let declared = (video.width, video.height);
    if declared != (0, 0) && declared != (info.width, info.height) {
        return Err(FrameError::SizeMismatch {
            width: info.width,
            height: info.height,
            declared_width: video.width,
            declared_height: video.height,
        });
    }
    let source_size = match (video.source_width, video.source_height) {
        (0, _) | (_, 0) => None,
        size => Some(size),
    };
    Ok(Frame {
        stream,
        name: Arc::clone(name),
        message: payload,
        jpeg: video.video_data,
        sequence: video.sequence,
        capture_time_us: video.capture_time_us,
        width: info.width,
        height: info.height,
        source_size,
        received,
        quality: (1..=100)
            .contains(&video.quality)
            .then_some(video.quality as u8),
        link_rate_bps: (video.link_rate_bps > 0).then_some(video.link_rate_bps),
    })
}

/// A small ring of buffers that shared [`Bytes`] are made from and come
/// back to: what keeps a transport's receive (or send) path free of
/// allocations while its frames are shared.
///
/// Each frame is read into a buffer from here ([`take`](Self::take)),
/// frozen into [`Bytes`] and handed on ([`track`](Self::track) keeps a
/// handle); the ring takes the buffer back once every consumer has dropped
/// the frame. In the steady state no frame allocates. When consumers hold
/// on to every buffer (a slow viewer, say), a new one is made and the
/// oldest handle is let go: it is freed when its last holder drops it, so
/// memory stays bounded by what consumers hold.
///
/// ```
/// use framecast_stream::BufferRing;
///
/// let mut ring = BufferRing::new(2);
/// let mut buf = ring.take();
/// buf.extend_from_slice(b"a frame");
/// let frame = buf.freeze();
/// ring.track(frame.clone());
/// let ptr = frame.as_ptr();
/// drop(frame); // every holder let go: the memory comes back
/// assert_eq!(ring.take().as_ptr(), ptr);
/// ```
#[derive(Debug)]
pub struct BufferRing {
    held: Vec<Bytes>,
    size: usize,
}

impl BufferRing {
    /// A ring that keeps up to `size` buffers (at least 1) for reuse.
    pub fn new(size: usize) -> Self {
        Self {
            held: Vec::with_capacity(size.max(1)),
            size: size.max(1),
        }
    }

    /// A buffer no one else holds, emptied: a recycled one if any.
    pub fn take(&mut self) -> BytesMut {
        if let Some(i) = self.held.iter().position(Bytes::is_unique) {
            let bytes = self.held.swap_remove(i);
            if let Ok(mut buf) = bytes.try_into_mut() {
                buf.clear();
                return buf;
            }
        }
        let mut buf = BytesMut::new();
        // Make the buffer reference-counted now, once. Frozen, a counted
        // buffer is cloned and taken back without allocating; a plain one
        // would allocate its counter on the first clone of every frame.
        drop(buf.split_to(0));
        buf
    }

    /// Keeps a handle on a frame's buffer, to take it back later.
    pub fn track(&mut self, bytes: Bytes) {
        if self.held.len() == self.size {
            // Every buffer is still in use somewhere: forget the oldest.
            self.held.remove(0);
        }
        self.held.push(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        framecast_codec::SenderPipeline::new(
            framecast_codec::SenderConfig::new(width, height).with_quality(80),
        )
        .unwrap()
        .encode(
            framecast_codec::ImageBuf::new(width, height, framecast_codec::PixelFormat::Rgb8)
                .as_image(),
            &mut out,
        )
        .unwrap();
        out
    }

    fn video(jpeg: Vec<u8>, width: u32, height: u32) -> Bytes {
        Video {
            video_data: Bytes::from(jpeg),
            width,
            height,
            sequence: 3,
            ..Default::default()
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn a_good_frame_shares_the_payload() {
        let payload = video(jpeg(32, 16), 32, 16);
        let frame = check_frame(StreamId::new(7), &"t".into(), payload.clone(), 1 << 20).unwrap();
        assert_eq!(
            (frame.width(), frame.height(), frame.sequence()),
            (32, 16, 3)
        );
        assert_eq!(frame.message(), &payload);
        let start = frame.jpeg().as_ptr() as usize - payload.as_ptr() as usize;
        assert!(start < 8, "the JPEG is a slice of the message");
    }

    #[test]
    fn bad_frames_are_typed() {
        assert!(matches!(
            check_frame(
                StreamId::new(1),
                &"t".into(),
                Bytes::from_static(&[0xff; 8]),
                1 << 20
            ),
            Err(FrameError::NotVideo(_))
        ));
        let rgb = Video {
            video_data: Bytes::from_static(&[0; 12]),
            format: PayloadFormat::Rgb24 as i32,
            ..Default::default()
        };
        assert!(matches!(
            check_frame(
                StreamId::new(1),
                &"t".into(),
                rgb.encode_to_vec().into(),
                1 << 20
            ),
            Err(FrameError::UnsupportedFormat(1))
        ));
        assert!(matches!(
            check_frame(
                StreamId::new(1),
                &"t".into(),
                video(jpeg(64, 64), 0, 0),
                64 * 63
            ),
            Err(FrameError::TooManyPixels {
                width: 64,
                height: 64,
                ..
            })
        ));
        let err = check_frame(
            StreamId::new(1),
            &"t".into(),
            video(jpeg(64, 32), 32, 64),
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the JPEG is 64x32 but the message says 32x64"
        );
    }

    #[test]
    fn the_ring_recycles_buffers_nobody_holds() {
        let mut ring = BufferRing::new(2);
        let mut buf = ring.take();
        buf.extend_from_slice(&[1; 1000]);
        let ptr = buf.as_ptr();
        let frame = buf.freeze();
        ring.track(frame.clone());
        // Still held: a new buffer.
        let other = ring.take();
        assert_ne!(other.as_ptr(), ptr);
        drop(frame);
        // Released: the same memory comes back, empty.
        let again = ring.take();
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty() && again.capacity() >= 1000);
    }
}
