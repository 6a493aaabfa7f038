//! JPEG decoding into caller-owned pictures, with size limits checked first.

use std::cell::Cell;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::{ZByteIoError, ZByteReaderTrait, ZSeekFrom};
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::{CodecError, ImageBuf, ImageError, JpegInfo, PixelFormat, probe_jpeg};

/// Default [`DecodeLimits::max_width`]: 8192 pixels, above any camera framecast
/// expects.
pub const DEFAULT_MAX_WIDTH: u32 = 8192;
/// Default [`DecodeLimits::max_height`]: 8192 pixels.
pub const DEFAULT_MAX_HEIGHT: u32 = 8192;
/// Default [`DecodeLimits::max_pixels`]: 33 554 432 (8K x 4K), about 100 MB of RGB.
pub const DEFAULT_MAX_PIXELS: u64 = 8192 * 4096;

/// The largest picture a decoder accepts from untrusted data. The sizes are
/// read from the JPEG header and checked before any pixel memory is
/// allocated.
///
/// ```
/// use framecast_codec::DecodeLimits;
///
/// let limits = DecodeLimits::default().with_max_pixels(1920 * 1080);
/// assert!(limits.check(1920, 1080).is_ok());
/// assert!(limits.check(1920, 1081).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DecodeLimits {
    /// Widest accepted picture, in pixels.
    pub max_width: u32,
    /// Tallest accepted picture, in pixels.
    pub max_height: u32,
    /// Most accepted pixels (`width * height`).
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_width: DEFAULT_MAX_WIDTH,
            max_height: DEFAULT_MAX_HEIGHT,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl DecodeLimits {
    /// Limits of `max_width` x `max_height` and `max_pixels` in all.
    pub fn new(max_width: u32, max_height: u32, max_pixels: u64) -> Self {
        Self {
            max_width,
            max_height,
            max_pixels,
        }
    }

    /// Sets [`DecodeLimits::max_width`].
    pub fn with_max_width(mut self, max_width: u32) -> Self {
        self.max_width = max_width;
        self
    }

    /// Sets [`DecodeLimits::max_height`].
    pub fn with_max_height(mut self, max_height: u32) -> Self {
        self.max_height = max_height;
        self
    }

    /// Sets [`DecodeLimits::max_pixels`].
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

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
/// end-of-image marker (ignoring zero padding) is refused as truncated, and
/// a scan that ends before its data is complete is refused
/// ([`CodecError::IncompleteScan`]) even when the marker follows it.
///
/// Writes [`PixelFormat::Rgb8`], [`PixelFormat::Rgba8`] or
/// [`PixelFormat::Bgra8`] (alpha 255), whichever `out` has. Baseline and
/// progressive, grey and colour JPEGs are accepted; 12-bit and CMYK are not.
#[derive(Debug, Clone, Default)]
pub struct ZuneDecoder {
    limits: DecodeLimits,
}

impl ZuneDecoder {
    /// A decoder refusing pictures beyond `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        Self { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }
}

impl Decoder for ZuneDecoder {
    fn decode(&mut self, data: &[u8], out: &mut ImageBuf) -> Result<JpegInfo, CodecError> {
        // Our own header walk first: it allocates nothing, so a hostile
        // size is refused before the decoder builds any state for it.
        let info = probe_jpeg(data)?;
        self.limits.check(info.width, info.height)?;
        // A frame must end with the end-of-image marker (FF D9; some
        // cameras pad MJPEG frames with zeros after it), else it lost its
        // tail. The marker alone proves nothing about the scan before it,
        // though: see `GuardedScan`.
        let trimmed = data.len() - data.iter().rev().take_while(|&&b| b == 0).count();
        if !data[..trimmed].ends_with(&[0xFF, 0xD9]) {
            return Err(ImageError::Truncated {
                needed: data.len() + 2,
                len: data.len(),
            }
            .into());
        }
        let scan_data = &data[..trimmed - 2];
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
        let reached_guard = Cell::new(false);
        let input = GuardedScan {
            head: scan_data,
            pos: 0,
            reached_guard: &reached_guard,
        };
        let mut decoder = JpegDecoder::new_with_options(input, options);
        decoder.decode_headers().map_err(decode_error)?;
        let (width, height) = decoder.dimensions().ok_or(ImageError::Malformed {
            reason: "decoder reported no dimensions",
        })?;
        // Our header walk and the decoder's must agree on the picture: a
        // file with two frame headers could otherwise get past the limits.
        if (u32::try_from(width), u32::try_from(height)) != (Ok(info.width), Ok(info.height)) {
            return Err(ImageError::Malformed {
                reason: "the frame header the decoder used differs from the first one",
            }
            .into());
        }
        out.try_reshape(info.width, info.height, out.format())?;
        decoder.decode_into(out.data_mut()).map_err(|e| {
            if reached_guard.get() {
                // It failed having read to the end of the data: the guard's
                // invalid codes were decoded as picture data.
                CodecError::IncompleteScan
            } else {
                decode_error(e)
            }
        })?;
        Ok(info)
    }
}

/// What the decoder reads after the last scan's entropy-coded data, in
/// place of the frame's own end-of-image marker: eight stuffed `FF 00`
/// pairs (64 one-bits of scan data), then the marker.
///
/// zune-jpeg, like libjpeg, treats a marker met inside a scan as the end of
/// the data and decodes the blocks still missing from zero bits: a frame
/// cut mid-scan with `FF D9` appended (a sender that died mid-write and a
/// peer that closes the frame, a proxy that truncates) would decode to a
/// picture whose lower part is invented. A scan that ends before its data
/// is complete is corrupt even when `FF D9` follows, so the decoder is made
/// to read this guard instead: a complete scan never decodes it (the
/// encoder's own padding is at most seven one-bits, and reading ahead into
/// the bit buffer is not decoding), while an incomplete one decodes 16
/// one-bits as a Huffman code, which no valid table has (JPEG reserves the
/// all-ones codes), and fails.
const SCAN_GUARD: [u8; 18] = [
    0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
    0xFF, 0xD9,
];

/// The decoder's input: `head` (the frame up to its end-of-image marker)
/// followed by [`SCAN_GUARD`], read in place, without copying the frame.
/// Semantics follow zune's own slice cursor: reads past the end give zeros
/// (single bytes) or short counts, and the position may pass the end.
struct GuardedScan<'a> {
    head: &'a [u8],
    pos: usize,
    /// Set once any read reaches into the guard: a decode error after that
    /// is an incomplete scan rather than corrupt data.
    reached_guard: &'a Cell<bool>,
}

impl GuardedScan<'_> {
    fn len(&self) -> usize {
        self.head.len() + SCAN_GUARD.len()
    }

    /// Copies the bytes from the position on into `buf`, as many as there
    /// are; returns how many.
    #[inline(always)]
    fn peek(&self, buf: &mut [u8]) -> usize {
        let head = self.head.len();
        if let Some(src) = self.head.get(self.pos..self.pos + buf.len()) {
            // The hot case: entirely inside the frame.
            buf.copy_from_slice(src);
            return buf.len();
        }
        self.reached_guard.set(true);
        let mut n = 0;
        if self.pos < head {
            n = head - self.pos;
            buf[..n].copy_from_slice(&self.head[self.pos..]);
        }
        let from = (self.pos + n).saturating_sub(head).min(SCAN_GUARD.len());
        let k = (SCAN_GUARD.len() - from).min(buf.len() - n);
        buf[n..n + k].copy_from_slice(&SCAN_GUARD[from..from + k]);
        n + k
    }
}

impl ZByteReaderTrait for GuardedScan<'_> {
    #[inline(always)]
    fn read_byte_no_error(&mut self) -> u8 {
        let byte = match self.head.get(self.pos) {
            Some(&b) => b,
            None => {
                self.reached_guard.set(true);
                SCAN_GUARD
                    .get(self.pos - self.head.len())
                    .copied()
                    .unwrap_or(0)
            }
        };
        self.pos += 1;
        byte
    }

    #[inline(always)]
    fn read_exact_bytes(&mut self, buf: &mut [u8]) -> Result<(), ZByteIoError> {
        let n = self.peek(buf);
        if n != buf.len() {
            return Err(ZByteIoError::NotEnoughBytes(n, buf.len()));
        }
        self.pos += n;
        Ok(())
    }

    #[inline(always)]
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<usize, ZByteIoError> {
        let n = self.peek(buf);
        self.pos += n;
        Ok(n)
    }

    #[inline(always)]
    fn peek_bytes(&mut self, buf: &mut [u8]) -> Result<usize, ZByteIoError> {
        Ok(self.peek(buf))
    }

    #[inline(always)]
    fn peek_exact_bytes(&mut self, buf: &mut [u8]) -> Result<(), ZByteIoError> {
        let n = self.peek(buf);
        if n != buf.len() {
            return Err(ZByteIoError::NotEnoughBytes(n, buf.len()));
        }
        Ok(())
    }

    fn z_seek(&mut self, from: ZSeekFrom) -> Result<u64, ZByteIoError> {
        let target = match from {
            ZSeekFrom::Start(n) => usize::try_from(n).ok(),
            ZSeekFrom::End(n) => isize::try_from(n)
                .ok()
                .and_then(|n| self.len().checked_add_signed(n)),
            ZSeekFrom::Current(n) => isize::try_from(n)
                .ok()
                .and_then(|n| self.pos.checked_add_signed(n)),
        };
        let target = target.ok_or(ZByteIoError::SeekError("seek out of range"))?;
        self.pos = target;
        Ok(target as u64)
    }

    #[inline(always)]
    fn is_eof(&mut self) -> Result<bool, ZByteIoError> {
        Ok(self.pos >= self.len())
    }

    fn z_position(&mut self) -> Result<u64, ZByteIoError> {
        Ok(self.pos as u64)
    }

    fn read_remaining(&mut self, sink: &mut Vec<u8>) -> Result<usize, ZByteIoError> {
        let start = sink.len();
        if self.pos < self.head.len() {
            sink.extend_from_slice(&self.head[self.pos..]);
        }
        let from = self
            .pos
            .saturating_sub(self.head.len())
            .min(SCAN_GUARD.len());
        sink.extend_from_slice(&SCAN_GUARD[from..]);
        self.reached_guard.set(true);
        let n = sink.len() - start;
        self.pos = self.pos.max(self.len());
        Ok(n)
    }
}

fn decode_error(e: zune_jpeg::errors::DecodeErrors) -> CodecError {
    CodecError::Decode(Box::new(e))
}
