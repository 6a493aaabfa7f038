//! JPEG decoding into caller-owned pictures, with size limits checked first.

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::probe::{JpegInfo, probe_jpeg};
use crate::{CodecError, ImageBuf, PixelFormat};

/// Default [`Limits::max_width`]: 8192 pixels, above any camera framecast
/// expects.
pub const DEFAULT_MAX_WIDTH: u32 = 8192;
/// Default [`Limits::max_height`]: 8192 pixels.
pub const DEFAULT_MAX_HEIGHT: u32 = 8192;
/// Default [`Limits::max_pixels`]: 33 554 432 (8K x 4K), about 100 MB of RGB.
pub const DEFAULT_MAX_PIXELS: u64 = 8192 * 4096;

/// The largest picture a decoder accepts from untrusted data. The sizes are
/// read from the JPEG header and checked before any pixel memory is
/// allocated.
///
/// ```
/// use framecast_codec::Limits;
///
/// let limits = Limits { max_pixels: 1920 * 1080, ..Limits::default() };
/// assert!(limits.check(1920, 1080).is_ok());
/// assert!(limits.check(1920, 1081).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Widest accepted picture, in pixels.
    pub max_width: u32,
    /// Tallest accepted picture, in pixels.
    pub max_height: u32,
    /// Most accepted pixels (`width * height`).
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_width: DEFAULT_MAX_WIDTH,
            max_height: DEFAULT_MAX_HEIGHT,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl Limits {
    /// Fails with [`CodecError::TooLarge`] if a `width` x `height` picture is
    /// beyond these limits.
    pub fn check(&self, width: u32, height: u32) -> Result<(), CodecError> {
        let pixels = u64::from(width) * u64::from(height);
        if width > self.max_width || height > self.max_height || pixels > self.max_pixels {
            return Err(CodecError::TooLarge {
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

/// Decodes compressed pictures into a caller-owned [`ImageBuf`].
pub trait Decoder {
    /// Decodes `data` into `out`, reshaping `out` to the picture's size and
    /// keeping its pixel format (implementations say which formats they
    /// write). `out`'s storage is reused; it grows only for a larger picture.
    /// Returns the header information.
    ///
    /// On error `out`'s contents are unspecified, but it stays a valid
    /// picture.
    fn decode(&mut self, data: &[u8], out: &mut ImageBuf) -> Result<JpegInfo, CodecError>;
}

impl<D: Decoder + ?Sized> Decoder for &mut D {
    fn decode(&mut self, data: &[u8], out: &mut ImageBuf) -> Result<JpegInfo, CodecError> {
        (**self).decode(data, out)
    }
}

impl<D: Decoder + ?Sized> Decoder for Box<D> {
    fn decode(&mut self, data: &[u8], out: &mut ImageBuf) -> Result<JpegInfo, CodecError> {
        (**self).decode(data, out)
    }
}

/// The JPEG decoder for untrusted data, built on zune-jpeg (mature and
/// widely fuzzed), in strict mode so that corrupt data is an error rather
/// than a silently patched picture; data that does not end with the
/// end-of-image marker (ignoring zero padding) is refused as truncated.
///
/// Writes [`PixelFormat::Rgb8`], [`PixelFormat::Rgba8`] or
/// [`PixelFormat::Bgra8`] (alpha 255), whichever `out` has. Baseline and
/// progressive, grey and colour JPEGs are accepted; 12-bit and CMYK are not.
#[derive(Debug, Clone, Default)]
pub struct ZuneDecoder {
    limits: Limits,
}

impl ZuneDecoder {
    /// A decoder refusing pictures beyond `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

impl Decoder for ZuneDecoder {
    fn decode(&mut self, data: &[u8], out: &mut ImageBuf) -> Result<JpegInfo, CodecError> {
        // Our own header walk first: it allocates nothing, so a hostile
        // size is refused before the decoder builds any state for it.
        let info = probe_jpeg(data)?;
        self.limits.check(info.width, info.height)?;
        // zune-jpeg pads a stream cut short in its last rows instead of
        // failing; a frame that lost its tail must be an error. FF D9 cannot
        // occur inside entropy-coded data (FF is byte-stuffed there), so
        // ending with it means the scan is complete. Some cameras pad MJPEG
        // frames with zeros after it.
        let trimmed = data.len() - data.iter().rev().take_while(|&&b| b == 0).count();
        if !data[..trimmed].ends_with(&[0xFF, 0xD9]) {
            return Err(CodecError::Truncated {
                needed: data.len() + 2,
                len: data.len(),
            });
        }
        if info.precision != 8 {
            return Err(CodecError::Unsupported {
                reason: "only 8-bit JPEGs are decoded",
            });
        }
        if info.components == 4 {
            return Err(CodecError::Unsupported {
                reason: "CMYK/YCCK JPEGs are not decoded",
            });
        }
        let colorspace = match out.format() {
            PixelFormat::Rgb8 => ColorSpace::RGB,
            PixelFormat::Rgba8 => ColorSpace::RGBA,
            PixelFormat::Bgra8 => ColorSpace::BGRA,
            _ => {
                return Err(CodecError::Unsupported {
                    reason: "ZuneDecoder writes Rgb8, Rgba8 or Bgra8 only",
                });
            }
        };
        let options = DecoderOptions::default()
            .set_max_width(self.limits.max_width as usize)
            .set_max_height(self.limits.max_height as usize)
            .set_strict_mode(true)
            .jpeg_set_out_colorspace(colorspace);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
        decoder.decode_headers().map_err(decode_error)?;
        let (width, height) = decoder.dimensions().ok_or(CodecError::Malformed {
            reason: "decoder reported no dimensions",
        })?;
        // Our header walk and the decoder's must agree on the picture: a
        // file with two frame headers could otherwise get past the limits.
        if (u32::try_from(width), u32::try_from(height)) != (Ok(info.width), Ok(info.height)) {
            return Err(CodecError::Malformed {
                reason: "the frame header the decoder used differs from the first one",
            });
        }
        out.try_reshape(info.width, info.height, out.format())?;
        decoder.decode_into(out.data_mut()).map_err(decode_error)?;
        Ok(info)
    }
}

fn decode_error(e: zune_jpeg::errors::DecodeErrors) -> CodecError {
    CodecError::Decode {
        message: e.to_string(),
    }
}
