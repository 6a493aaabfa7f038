//! framecast's pixel buffers and its JPEG/resize pipelines.
//!
//! - [`ImageBuf`], [`ImageRef`], [`ImageMut`]: the picture types that
//!   capture, codec and display share.
//! - [`SenderPipeline`] (resize, then JPEG-encode) and [`ReceiverPipeline`]
//!   (decode, then scale and convert to the display's layout in one pass):
//!   what the apps run per frame, reusing every buffer.
//! - The parts behind small traits: [`Encoder`] ([`TurboEncoder`]),
//!   [`Decoder`] ([`ZuneDecoder`], with [`Limits`]), [`Resizer`]
//!   ([`AreaResizer`], [`FirResizer`]), and [`probe_jpeg`], a JPEG's size
//!   from its header without decoding.
//!
//! ```
//! use framecast_codec::*;
//!
//! // Sender: a 640x480 camera frame becomes a 400x400 JPEG at quality 95.
//! let frame = ImageBuf::new(640, 480, PixelFormat::Rgb8);
//! let mut sender = SenderPipeline::new(SenderConfig::default())?;
//! let mut jpeg = Vec::new();
//! sender.encode(frame.as_image(), &mut jpeg)?;
//!
//! // Receiver: the JPEG becomes 800x600 0RGB pixels for a window.
//! let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
//! let mut shown = ImageBuf::empty(PixelFormat::Xrgb32);
//! let info = receiver.decode_to(&jpeg, 800, 600, PixelFormat::Xrgb32, &mut shown)?;
//! assert_eq!((info.width, info.height), (400, 400));
//! # Ok::<(), CodecError>(())
//! ```

#![forbid(unsafe_code)]

mod decode;
mod encode;
mod image;
mod pipeline;
mod probe;
mod resize;

pub use decode::{
    DEFAULT_MAX_HEIGHT, DEFAULT_MAX_PIXELS, DEFAULT_MAX_WIDTH, Decoder, Limits, ZuneDecoder,
};
#[cfg(feature = "jpeg-encoder")]
pub use encode::JpegEncoderEncoder;
pub use encode::{DEFAULT_QUALITY, Encoder, MAX_JPEG_SIDE, TurboEncoder};
/// The resizing library [`FirResizer`] wraps, for its algorithm names.
pub use fast_image_resize;
pub use image::{ImageBuf, ImageMut, ImageRef, PixelFormat};
pub use pipeline::{
    DEFAULT_SEND_HEIGHT, DEFAULT_SEND_WIDTH, DecodedInfo, ReceiverConfig, ReceiverPipeline,
    SenderConfig, SenderPipeline,
};
pub use probe::{JpegInfo, Subsampling, probe_jpeg};
pub use resize::{AreaResizer, FirResizer, Resizer};
/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A buffer does not match the picture it is said to hold.
    #[error("bad picture layout: {reason}")]
    Layout {
        /// What does not fit.
        reason: &'static str,
    },
    /// The data does not start with a JPEG start-of-image marker.
    #[error("not a JPEG: the data does not start with the FF D8 marker")]
    NotJpeg,
    /// The data ends before the part being read does.
    #[error("JPEG data truncated: {len} bytes, at least {needed} needed")]
    Truncated {
        /// Bytes needed to read on.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The JPEG's header segments are inconsistent.
    #[error("malformed JPEG: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The entropy-coded data ends before every block of the picture was
    /// decoded: a frame cut short, even when an end-of-image marker
    /// follows the cut.
    #[error("JPEG scan incomplete: the data ends before the picture does")]
    IncompleteScan,
    /// The picture declares a size beyond the configured [`Limits`]; refused
    /// before anything was allocated for it.
    #[error(
        "a {width}x{height} picture exceeds the limits \
         ({max_width}x{max_height}, {max_pixels} pixels)"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// [`Limits::max_width`].
        max_width: u32,
        /// [`Limits::max_height`].
        max_height: u32,
        /// [`Limits::max_pixels`].
        max_pixels: u64,
    },
    /// A valid request this implementation does not handle (a pixel format,
    /// a JPEG colour space, a 12-bit JPEG, ...).
    #[error("unsupported: {reason}")]
    Unsupported {
        /// What is not supported.
        reason: &'static str,
    },
    /// A JPEG quality outside 1..=100.
    #[error("JPEG quality {quality} is outside 1..=100")]
    Quality {
        /// The quality asked for.
        quality: u8,
    },
    /// The JPEG decoder rejected the data (corrupt entropy-coded data, bad
    /// tables, ...).
    #[error("JPEG decoding failed: {message}")]
    Decode {
        /// The decoder's own description.
        message: String,
    },
    /// The JPEG encoder failed.
    #[error("JPEG encoding failed: {message}")]
    Encode {
        /// The encoder's own description.
        message: String,
    },
    /// The resizer failed.
    #[error("resizing failed: {message}")]
    Resize {
        /// The resizer's own description.
        message: String,
    },
}
