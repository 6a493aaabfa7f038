//! framecast's JPEG and resize pipelines.
//!
//! - [`SenderPipeline`] (resize, then JPEG-encode; or pass a JPEG of the
//!   right size through: [`SenderPipeline::plan`] decides, [`Transcode`]
//!   says) and [`ReceiverPipeline`] (decode, then scale and convert to the
//!   display's layout in one pass): what the engines run per frame, reusing
//!   every buffer.
//! - The parts behind small traits: [`Encoder`] ([`TurboEncoder`]),
//!   [`Decoder`] ([`ZuneDecoder`], with [`DecodeLimits`]), [`Resizer`]
//!   ([`AreaResizer`]).
//! - The picture types ([`ImageBuf`], [`ImageRef`], [`ImageMut`],
//!   [`Picture`]) and [`probe_jpeg`] are `framecast-image`'s, re-exported:
//!   a crate that moves pictures without coding them depends on that one
//!   and gets no JPEG library.
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

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod decode;
mod encode;
mod error;
mod pipeline;
mod resize;

pub use decode::{
    DEFAULT_MAX_HEIGHT, DEFAULT_MAX_PIXELS, DEFAULT_MAX_WIDTH, DecodeLimits, Decoder, ZuneDecoder,
};
#[cfg(feature = "jpeg-encoder")]
#[cfg_attr(docsrs, doc(cfg(feature = "jpeg-encoder")))]
pub use encode::JpegEncoderEncoder;
pub use encode::{DEFAULT_QUALITY, Encoder, MAX_JPEG_SIDE, TurboEncoder};
pub use error::CodecError;
/// The picture types and the JPEG header probe, from `framecast-image`
/// (re-exported: they are the same types there and here).
pub use framecast_image::{
    ImageBuf, ImageError, ImageMut, ImageRef, JpegInfo, Picture, PixelFormat, Subsampling,
    probe_jpeg,
};
pub use pipeline::{
    DEFAULT_SEND_HEIGHT, DEFAULT_SEND_WIDTH, DecodedInfo, Fit, ReceiverConfig, ReceiverPipeline,
    SenderConfig, SenderPipeline, Transcode, fit_within,
};
pub use resize::{AreaResizer, Resizer};
