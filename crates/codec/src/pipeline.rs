//! The two composed pipelines the apps run per frame.
//!
//! ```text
//! sender:   capture (Rgb8/Rgba8/Bgra8, any size) -> area resize -> JPEG encode -> bytes
//!           a JPEG of the size sent -> as it is (pass-through)
//!           a JPEG of another size  -> JPEG decode -> area resize -> JPEG encode
//! receiver: bytes -> probe + limits -> JPEG decode (Rgba8) -> upscale + convert -> window
//! ```
//!
//! Each pipeline owns its intermediate pictures and reuses them from frame
//! to frame; passes are skipped when sizes already match.

use crate::decode::{DecodeLimits, Decoder, ZuneDecoder};
use crate::encode::{DEFAULT_QUALITY, Encoder, TurboEncoder};
use crate::resize::{AreaResizer, Resizer};
use crate::{CodecError, ImageBuf, ImageError, ImageMut, ImageRef, JpegInfo, Picture, PixelFormat};

/// The size the original program sent: 400x400.
pub const DEFAULT_SEND_WIDTH: u32 = 400;
/// See [`DEFAULT_SEND_WIDTH`].
pub const DEFAULT_SEND_HEIGHT: u32 = 400;

/// The largest size with the aspect ratio of a `width` x `height` picture
/// that fits in a `max_width` x `max_height` box: one side touches the
/// box, the other is rounded to the nearest pixel (never 0). A picture of
/// the box's own shape gets the box, a smaller one is scaled up to it.
///
/// This is the one place a sender's picture size is decided when shapes
/// are kept ([`Fit::Contain`]); code that picks a smaller box (a rate
/// controller stepping down) passes the new box here too.
///
/// ```
/// use framecast_codec::fit_within;
///
/// assert_eq!(fit_within(640, 480, 400, 400), (400, 300)); // 4:3
/// assert_eq!(fit_within(1280, 720, 400, 400), (400, 225)); // 16:9
/// assert_eq!(fit_within(480, 640, 400, 400), (300, 400)); // portrait
/// assert_eq!(fit_within(160, 120, 400, 400), (400, 300)); // scaled up
/// assert_eq!(fit_within(640, 480, 320, 240), (320, 240)); // same shape
/// ```
pub fn fit_within(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width == 0 || height == 0 || max_width == 0 || max_height == 0 {
        return (max_width, max_height);
    }
    let (w, h) = (u64::from(width), u64::from(height));
    let (bw, bh) = (u64::from(max_width), u64::from(max_height));
    // Compare the aspect ratios without division: the wider one touches
    // the box's width, the taller its height.
    let rounded = |num: u64, den: u64| {
        u32::try_from((num + den / 2) / den)
            .unwrap_or(u32::MAX)
            .max(1)
    };
    if w * bh >= h * bw {
        (max_width, rounded(h * bw, w).min(max_height))
    } else {
        (rounded(w * bh, h).min(max_width), max_height)
    }
}

/// How a picture is sized to the box a [`SenderConfig`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Fit {
    /// Exactly the box, whatever the picture's shape: a 4:3 picture in a
    /// 400x400 box is sent 400x400, stretched, as the original programs
    /// did.
    #[default]
    Stretch,
    /// The largest size with the picture's own aspect ratio that fits in
    /// the box ([`fit_within`]): a 4:3 picture in a 400x400 box is sent
    /// 400x300.
    Contain,
}

/// What the sender produces.
///
/// Built with [`SenderConfig::new`] or [`Default`] and the `with_` methods,
/// so fields can be added; [`SenderPipeline::new`] refuses values out of
/// range with an error.
///
/// ```
/// use framecast_codec::{Fit, SenderConfig};
///
/// let config = SenderConfig::new(640, 480).with_quality(80);
/// assert_eq!((config.width, config.height, config.quality), (640, 480, 80));
/// // Exactly the box by default; with Fit::Contain, the picture's shape.
/// assert_eq!(config.size_for(1280, 720), (640, 480));
/// assert_eq!(config.with_fit(Fit::Contain).size_for(1280, 720), (640, 360));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderConfig {
    /// Width of the pictures sent: exactly, or at most with
    /// [`Fit::Contain`].
    pub width: u32,
    /// Height of the pictures sent, as [`width`](Self::width).
    pub height: u32,
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// How a picture of another shape is sized to `width` x `height`.
    pub fit: Fit,
}

impl Default for SenderConfig {
    /// 400x400 at quality 95, stretched, like the original program.
    fn default() -> Self {
        Self::new(DEFAULT_SEND_WIDTH, DEFAULT_SEND_HEIGHT)
    }
}

impl SenderConfig {
    /// Pictures of `width` x `height` ([`Fit::Stretch`]) at
    /// [`DEFAULT_QUALITY`].
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            quality: DEFAULT_QUALITY,
            fit: Fit::Stretch,
        }
    }

    /// Sets [`SenderConfig::quality`] (1..=100).
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = quality;
        self
    }

    /// Sets [`SenderConfig::fit`].
    pub fn with_fit(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }

    /// The size a `width` x `height` picture is sent at.
    pub fn size_for(&self, width: u32, height: u32) -> (u32, u32) {
        match self.fit {
            Fit::Contain => fit_within(width, height, self.width, self.height),
            _ => (self.width, self.height),
        }
    }
}

/// How a sender turns a picture into the JPEG it sends: what
/// [`SenderPipeline::plan`] decides and [`SenderPipeline::jpeg_for`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transcode {
    /// The picture is already a JPEG of the size sent: forwarded unchanged,
    /// neither decoded nor encoded.
    PassThrough,
    /// Raw pixels: resized to the size sent (when it differs), then encoded.
    Encode,
    /// A JPEG of another size: decoded, resized and encoded again.
    Reencode,
}

/// The sender's per-frame work: resize to the configured size (OpenCV
/// `INTER_AREA` look, skipped when the frame already has that size), then
/// JPEG-encode.
///
/// ```
/// use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline, probe_jpeg};
///
/// let mut sender = SenderPipeline::new(SenderConfig::new(40, 40).with_quality(90))?;
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
    /// Decodes source JPEGs of another size ([`Transcode::Reencode`]).
    decoder: ZuneDecoder,
    /// A source JPEG, decoded.
    decoded: ImageBuf,
    /// Whether a JPEG of the size sent is forwarded unchanged.
    passthrough: bool,
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
            decoder: ZuneDecoder::new(DecodeLimits::default()),
            decoded: ImageBuf::empty(PixelFormat::Rgb8),
            passthrough: true,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> SenderConfig {
        self.config
    }

    /// Changes the JPEG quality of the next frames (1..=100), for a sender
    /// that adapts to its link. Allocates nothing.
    ///
    /// # Errors
    ///
    /// [`CodecError::Quality`] outside 1..=100 (the quality in force stays).
    pub fn set_quality(&mut self, quality: u8) -> Result<(), CodecError> {
        if !(1..=100).contains(&quality) {
            return Err(CodecError::Quality { quality });
        }
        self.config.quality = quality;
        Ok(())
    }

    /// Changes the size of the next frames. The resized picture's buffer is
    /// reallocated once, on the next frame, if it must grow.
    ///
    /// # Errors
    ///
    /// [`ImageError::Layout`] for a zero width or height (the size in force
    /// stays).
    pub fn set_size(&mut self, width: u32, height: u32) -> Result<(), CodecError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Layout {
                reason: "the sender's picture size must not be zero",
            }
            .into());
        }
        self.config.width = width;
        self.config.height = height;
        Ok(())
    }

    /// Whether a source's JPEG of the size sent may be forwarded unchanged
    /// (the default). A sender that lowered its quality to fit its link
    /// turns this off, so that such JPEGs are re-encoded at that quality.
    pub fn set_passthrough(&mut self, allowed: bool) {
        self.passthrough = allowed;
    }

    /// How [`SenderPipeline::jpeg_for`] would send `picture`: a JPEG that
    /// already has the size it would be sent at
    /// ([`SenderConfig::size_for`]) passes through, any other JPEG is
    /// re-encoded, raw pixels are encoded.
    ///
    /// ```
    /// use framecast_codec::{Picture, SenderConfig, SenderPipeline, Transcode};
    ///
    /// let sender = SenderPipeline::new(SenderConfig::new(400, 400))?;
    /// let jpeg = |width, height| Picture::Jpeg { data: b"", width, height };
    /// assert_eq!(sender.plan(&jpeg(400, 400)), Transcode::PassThrough);
    /// assert_eq!(sender.plan(&jpeg(640, 480)), Transcode::Reencode);
    /// # Ok::<(), framecast_codec::CodecError>(())
    /// ```
    pub fn plan(&self, picture: &Picture<'_>) -> Transcode {
        match picture {
            Picture::Pixels(_) => Transcode::Encode,
            // A JPEG already of the size it would be sent at, unless a
            // sender that adapts asked for its own quality.
            p if self.passthrough
                && self.config.size_for(p.width(), p.height()) == (p.width(), p.height()) =>
            {
                Transcode::PassThrough
            }
            _ => Transcode::Reencode,
        }
    }

    /// Replaces `out`'s contents with the JPEG to send for `picture`, as
    /// [`SenderPipeline::plan`] decides: the source's own JPEG copied
    /// unchanged, or the picture encoded at the configured size and
    /// quality. Returns what was done.
    ///
    /// A JPEG is decoded only when it has another size, with the default
    /// [`DecodeLimits`].
    pub fn jpeg_for(
        &mut self,
        picture: Picture<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Transcode, CodecError> {
        let plan = self.plan(&picture);
        match picture {
            Picture::Jpeg { data, .. } if plan == Transcode::PassThrough => {
                out.clear();
                out.extend_from_slice(data);
            }
            Picture::Jpeg { data, .. } => {
                let mut decoded = std::mem::take(&mut self.decoded);
                let result = self
                    .decoder
                    .decode(data, &mut decoded)
                    .and_then(|_| self.encode(decoded.as_image(), out));
                self.decoded = decoded;
                result?;
            }
            Picture::Pixels(image) => self.encode(image, out)?,
            _ => {
                return Err(CodecError::Unsupported {
                    reason: "a kind of picture this sender does not know",
                });
            }
        }
        Ok(plan)
    }

    /// Replaces `out`'s contents with `src` resized to the size it is sent
    /// at ([`SenderConfig::size_for`]) and JPEG-encoded.
    pub fn encode(&mut self, src: ImageRef<'_>, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let quality = self.config.quality;
        let (width, height) = self.config.size_for(src.width(), src.height());
        if (src.width(), src.height()) == (width, height) {
            return self.encoder.encode(src, quality, out);
        }
        self.resized.try_reshape(width, height, src.format())?;
        self.resizer.resize(src, &mut self.resized.as_image_mut())?;
        self.encoder.encode(self.resized.as_image(), quality, out)
    }
}

/// What the receiver accepts. Built with [`Default`] or
/// [`ReceiverConfig::new`], so fields can be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReceiverConfig {
    /// The largest picture decoded; checked from the JPEG header before
    /// anything is allocated.
    pub limits: DecodeLimits,
}

impl ReceiverConfig {
    /// A receiver refusing pictures beyond `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        Self { limits }
    }
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
/// let mut sender = SenderPipeline::new(SenderConfig::new(40, 40).with_quality(90))?;
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

    /// Decodes `jpeg` without scaling it, into the pipeline's own picture
    /// (RGBA at the JPEG's size; see [`ReceiverPipeline::decoded`]): all a
    /// receiver needs when nothing shows the picture but each frame must
    /// still be checked whole and timed. Costs the decode alone; the scale
    /// [`decode_into`](Self::decode_into) adds is left out.
    ///
    /// ```
    /// use framecast_codec::*;
    ///
    /// let mut sender = SenderPipeline::new(SenderConfig::new(40, 30))?;
    /// let mut jpeg = Vec::new();
    /// sender.encode(ImageBuf::new(40, 30, PixelFormat::Rgb8).as_image(), &mut jpeg)?;
    ///
    /// let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    /// let info = receiver.decode(&jpeg)?;
    /// assert_eq!((info.width, info.height), (40, 30));
    /// assert_eq!(receiver.decoded().format(), PixelFormat::Rgba8);
    /// # Ok::<(), CodecError>(())
    /// ```
    pub fn decode(&mut self, jpeg: &[u8]) -> Result<DecodedInfo, CodecError> {
        let info = self.decoder.decode(jpeg, &mut self.decoded)?;
        Ok(DecodedInfo {
            width: info.width,
            height: info.height,
            jpeg: info,
        })
    }

    /// The picture the last decode made, before any scale (RGBA, the JPEG's
    /// own size); after a failed decode its contents are unspecified.
    pub fn decoded(&self) -> ImageRef<'_> {
        self.decoded.as_image()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_jpeg;

    fn jpeg_of(width: u32, height: u32) -> Vec<u8> {
        let mut sender = SenderPipeline::new(SenderConfig::new(width, height)).unwrap();
        let mut jpeg = Vec::new();
        let picture = ImageBuf::new(width, height, PixelFormat::Rgb8);
        sender.encode(picture.as_image(), &mut jpeg).unwrap();
        jpeg
    }

    #[test]
    fn fit_keeps_the_shape_inside_the_box() {
        for ((w, h), (bw, bh), want) in [
            ((640, 480), (400, 400), (400, 300)),
            ((1920, 1080), (400, 400), (400, 225)),
            ((1080, 1920), (400, 400), (225, 400)),
            ((400, 400), (400, 400), (400, 400)),
            ((641, 480), (400, 400), (400, 300)),
            ((640, 480), (800, 100), (133, 100)),
            ((10_000, 1), (400, 400), (400, 1)),
            ((1, 10_000), (400, 400), (1, 400)),
            ((u32::MAX, u32::MAX - 1), (16_384, 16_384), (16_384, 16_384)),
            ((0, 480), (400, 400), (400, 400)),
        ] {
            let got = fit_within(w, h, bw, bh);
            assert_eq!(got, want, "{w}x{h} in {bw}x{bh}");
            assert!(got.0 <= bw && got.1 <= bh && got.0 > 0 && got.1 > 0);
        }
    }

    #[test]
    fn contain_sends_each_source_at_its_own_shape() {
        let config = SenderConfig::new(400, 400).with_fit(Fit::Contain);
        let mut sender = SenderPipeline::new(config).unwrap();
        let mut out = Vec::new();
        for ((w, h), sent) in [
            ((640, 480), (400, 300)),
            ((1280, 720), (400, 225)),
            ((300, 400), (300, 400)),
        ] {
            let frame = ImageBuf::new(w, h, PixelFormat::Rgb8);
            sender.encode(frame.as_image(), &mut out).unwrap();
            let info = probe_jpeg(&out).unwrap();
            assert_eq!((info.width, info.height), sent, "{w}x{h}");
        }
        // A JPEG already of the size it would be sent at passes through.
        let fitted = jpeg_of(400, 300);
        let picture = Picture::Jpeg {
            data: &fitted,
            width: 400,
            height: 300,
        };
        assert_eq!(sender.plan(&picture), Transcode::PassThrough);
        let big = jpeg_of(800, 600);
        let picture = Picture::Jpeg {
            data: &big,
            width: 800,
            height: 600,
        };
        assert_eq!(
            sender.jpeg_for(picture, &mut out).unwrap(),
            Transcode::Reencode
        );
        assert_eq!(probe_jpeg(&out).unwrap().width, 400);
        assert_eq!(probe_jpeg(&out).unwrap().height, 300);
        // Stretch, the default: exactly the box.
        let mut stretch = SenderPipeline::new(SenderConfig::new(400, 400)).unwrap();
        stretch
            .encode(
                ImageBuf::new(640, 480, PixelFormat::Rgb8).as_image(),
                &mut out,
            )
            .unwrap();
        assert_eq!(probe_jpeg(&out).unwrap().height, 400);
    }

    #[test]
    fn jpeg_for_passes_through_reencodes_or_encodes() {
        let mut sender = SenderPipeline::new(SenderConfig::new(40, 30)).unwrap();
        let mut out = Vec::new();

        let same = jpeg_of(40, 30);
        let picture = Picture::Jpeg {
            data: &same,
            width: 40,
            height: 30,
        };
        let done = sender.jpeg_for(picture, &mut out).unwrap();
        assert_eq!(done, Transcode::PassThrough);
        assert_eq!(out, same, "forwarded byte for byte");

        let other = jpeg_of(64, 48);
        let picture = Picture::Jpeg {
            data: &other,
            width: 64,
            height: 48,
        };
        assert_eq!(
            sender.jpeg_for(picture, &mut out).unwrap(),
            Transcode::Reencode
        );
        let info = probe_jpeg(&out).unwrap();
        assert_eq!((info.width, info.height), (40, 30));

        let pixels = ImageBuf::new(64, 48, PixelFormat::Bgra8);
        let picture = Picture::Pixels(pixels.as_image());
        assert_eq!(
            sender.jpeg_for(picture, &mut out).unwrap(),
            Transcode::Encode
        );
        let info = probe_jpeg(&out).unwrap();
        assert_eq!((info.width, info.height), (40, 30));
    }

    #[test]
    fn a_corrupt_jpeg_of_another_size_is_an_error() {
        let mut sender = SenderPipeline::new(SenderConfig::new(40, 30)).unwrap();
        let mut jpeg = jpeg_of(64, 48);
        jpeg.truncate(jpeg.len() / 2);
        let picture = Picture::Jpeg {
            data: &jpeg,
            width: 64,
            height: 48,
        };
        assert!(sender.jpeg_for(picture, &mut Vec::new()).is_err());
    }

    #[test]
    fn out_of_range_settings_are_errors() {
        for config in [
            SenderConfig::new(0, 30),
            SenderConfig::new(40, 0),
            SenderConfig::new(40, 30).with_quality(0),
            SenderConfig::new(40, 30).with_quality(101),
        ] {
            assert!(SenderPipeline::new(config).is_err(), "{config:?}");
        }
    }
}
