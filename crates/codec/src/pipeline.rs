//! The two composed pipelines the apps run per frame.
//!
//! ```text
//! sender:   capture (Rgb8/Rgba8/Bgra8, any size) -> area resize -> JPEG encode -> bytes
//! receiver: bytes -> probe + limits -> JPEG decode (Rgba8) -> upscale + convert -> window
//! ```
//!
//! Each pipeline owns its intermediate pictures and reuses them from frame
//! to frame; passes are skipped when sizes already match.

use crate::decode::{DecodeLimits, Decoder, ZuneDecoder};
use crate::encode::{DEFAULT_QUALITY, Encoder, TurboEncoder};
use crate::resize::{AreaResizer, Resizer};
use crate::{CodecError, ImageBuf, ImageError, ImageMut, ImageRef, JpegInfo, PixelFormat};

/// The size the original program sent: 400x400.
pub const DEFAULT_SEND_WIDTH: u32 = 400;
/// See [`DEFAULT_SEND_WIDTH`].
pub const DEFAULT_SEND_HEIGHT: u32 = 400;

/// What the sender produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// Width of the pictures sent.
    pub width: u32,
    /// Height of the pictures sent.
    pub height: u32,
    /// JPEG quality, 1..=100.
    pub quality: u8,
}

impl Default for SenderConfig {
    /// 400x400 at quality 95, like the original program.
    fn default() -> Self {
        Self {
            width: DEFAULT_SEND_WIDTH,
            height: DEFAULT_SEND_HEIGHT,
            quality: DEFAULT_QUALITY,
        }
    }
}

/// The sender's per-frame work: resize to the configured size (OpenCV
/// `INTER_AREA` look, skipped when the frame already has that size), then
/// JPEG-encode.
///
/// ```
/// use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline, probe_jpeg};
///
/// let mut sender = SenderPipeline::new(SenderConfig { width: 40, height: 40, quality: 90 })?;
/// let frame = ImageBuf::new(64, 48, PixelFormat::Bgra8);
/// let mut jpeg = Vec::new();
/// sender.encode(frame.as_image(), &mut jpeg)?;
/// assert_eq!(probe_jpeg(&jpeg)?.width, 40);
/// # Ok::<(), framecast_codec::CodecError>(())
/// ```
pub struct SenderPipeline {
    config: SenderConfig,
    resizer: Box<dyn Resizer + Send>,
    encoder: Box<dyn Encoder + Send>,
    resized: ImageBuf,
}

impl std::fmt::Debug for SenderPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderPipeline")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SenderPipeline {
    /// [`AreaResizer`] then [`TurboEncoder`]. Fails on a zero size or a
    /// quality outside 1..=100.
    pub fn new(config: SenderConfig) -> Result<Self, CodecError> {
        Self::with_parts(
            config,
            Box::new(AreaResizer::new()),
            Box::new(TurboEncoder::new()),
        )
    }

    /// The pipeline with another resizer or encoder (e.g. the
    /// `jpeg-encoder` alternative).
    pub fn with_parts(
        config: SenderConfig,
        resizer: Box<dyn Resizer + Send>,
        encoder: Box<dyn Encoder + Send>,
    ) -> Result<Self, CodecError> {
        if !(1..=100).contains(&config.quality) {
            return Err(CodecError::Quality {
                quality: config.quality,
            });
        }
        if config.width == 0 || config.height == 0 {
            return Err(ImageError::Layout {
                reason: "the sender's picture size must not be zero",
            }
            .into());
        }
        Ok(Self {
            config,
            resizer,
            encoder,
            resized: ImageBuf::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> SenderConfig {
        self.config
    }

    /// Replaces `out`'s contents with `src` resized and JPEG-encoded.
    pub fn encode(&mut self, src: ImageRef<'_>, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let SenderConfig {
            width,
            height,
            quality,
        } = self.config;
        if (src.width(), src.height()) == (width, height) {
            return self.encoder.encode(src, quality, out);
        }
        self.resized.try_reshape(width, height, src.format())?;
        self.resizer.resize(src, &mut self.resized.as_image_mut())?;
        self.encoder.encode(self.resized.as_image(), quality, out)
    }
}

/// What the receiver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverConfig {
    /// The largest picture decoded; checked from the JPEG header before
    /// anything is allocated.
    pub limits: DecodeLimits,
}

/// What [`ReceiverPipeline::decode_into`] found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodedInfo {
    /// The JPEG's own width, before scaling.
    pub width: u32,
    /// The JPEG's own height, before scaling.
    pub height: u32,
    /// Everything its header said.
    pub jpeg: JpegInfo,
}

/// The receiver's per-frame work: check the header against the limits,
/// decode (zune-jpeg), then scale to the output's size and write the
/// output's pixel format in one fused pass (OpenCV `INTER_AREA` look).
///
/// ```
/// use framecast_codec::*;
///
/// let mut sender = SenderPipeline::new(SenderConfig { width: 40, height: 40, quality: 90 })?;
/// let mut jpeg = Vec::new();
/// sender.encode(ImageBuf::new(40, 40, PixelFormat::Rgb8).as_image(), &mut jpeg)?;
///
/// let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
/// let mut window = vec![0u32; 80 * 60]; // a softbuffer-style pixel buffer
/// let info = receiver.decode_into(&jpeg, ImageMut::from_xrgb32(80, 60, &mut window)?)?;
/// assert_eq!((info.width, info.height), (40, 40));
/// # Ok::<(), CodecError>(())
/// ```
pub struct ReceiverPipeline {
    config: ReceiverConfig,
    decoder: ZuneDecoder,
    resizer: AreaResizer,
    decoded: ImageBuf,
}

impl std::fmt::Debug for ReceiverPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverPipeline")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReceiverPipeline {
    /// A receiver with the given limits.
    pub fn new(config: ReceiverConfig) -> Self {
        Self {
            config,
            decoder: ZuneDecoder::new(config.limits),
            resizer: AreaResizer::new(),
            // RGBA: zune-jpeg's colour conversion to it is vectorised like
            // its RGB one, and 4-byte pixels become 0RGB with vector shifts
            // and masks, where 3-byte ones need per-pixel shuffles.
            decoded: ImageBuf::empty(PixelFormat::Rgba8),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> ReceiverConfig {
        self.config
    }

    /// Decodes `jpeg` and writes it scaled to `out`'s size, in `out`'s pixel
    /// format. Returns the JPEG's own size. On error `out` is left as it was
    /// or partly written, never with foreign data.
    pub fn decode_into(
        &mut self,
        jpeg: &[u8],
        mut out: ImageMut<'_>,
    ) -> Result<DecodedInfo, CodecError> {
        let info = self.decoder.decode(jpeg, &mut self.decoded)?;
        self.resizer.resize(self.decoded.as_image(), &mut out)?;
        Ok(DecodedInfo {
            width: info.width,
            height: info.height,
            jpeg: info,
        })
    }

    /// [`ReceiverPipeline::decode_into`] an owned picture, reshaped to
    /// `width` x `height` in `format` (its storage is reused).
    pub fn decode_to(
        &mut self,
        jpeg: &[u8],
        width: u32,
        height: u32,
        format: PixelFormat,
        out: &mut ImageBuf,
    ) -> Result<DecodedInfo, CodecError> {
        out.try_reshape(width, height, format)?;
        self.decode_into(jpeg, out.as_image_mut())
    }
}
