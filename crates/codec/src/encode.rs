//! JPEG encoding into caller-owned byte buffers.

use libjpeg_turbo_rs::{PixelFormat as TurboFormat, Subsampling as TurboSubsampling};

use crate::{CodecError, ImageBuf, ImageRef, PixelFormat};

/// The quality the original program used (OpenCV's default for `.jpg`).
pub const DEFAULT_QUALITY: u8 = 95;

/// Encodes pictures into compressed bytes.
pub trait Encoder {
    /// Replaces `out`'s contents with `src` compressed at `quality`
    /// (1..=100). Implementations reuse `out`'s capacity where their
    /// library lets them (see each one's notes).
    fn encode(
        &mut self,
        src: ImageRef<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError>;
}

impl<E: Encoder + ?Sized> Encoder for &mut E {
    fn encode(
        &mut self,
        src: ImageRef<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        (**self).encode(src, quality, out)
    }
}

impl<E: Encoder + ?Sized> Encoder for Box<E> {
    fn encode(
        &mut self,
        src: ImageRef<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        (**self).encode(src, quality, out)
    }
}

fn check_quality(quality: u8) -> Result<(), CodecError> {
    if (1..=100).contains(&quality) {
        Ok(())
    } else {
        Err(CodecError::Quality { quality })
    }
}

/// Returns `src`'s pixels as one packed slice, copying into `scratch` only
/// when the rows are padded.
fn packed<'a>(src: &ImageRef<'a>, scratch: &'a mut ImageBuf) -> Result<&'a [u8], CodecError> {
    if src.is_packed() {
        let len = src.stride() * src.height() as usize;
        return Ok(&src.data()[..len]);
    }
    scratch.try_reshape(src.width(), src.height(), src.format())?;
    let row = scratch.stride().max(1);
    for (dst, y) in scratch
        .data_mut()
        .chunks_exact_mut(row)
        .zip(0..src.height())
    {
        dst.copy_from_slice(src.row(y));
    }
    Ok(scratch.data())
}

/// The default JPEG encoder: libjpeg-turbo-rs, a pure-Rust reimplementation
/// of libjpeg-turbo whose output is byte-identical to the C library's (and
/// so to what the original OpenCV program sent). Baseline, 4:2:0 with
/// box-averaged chroma, standard Huffman tables, at every quality.
///
/// Accepts every [`PixelFormat`] directly, with no conversion pass.
///
/// The library returns a fresh `Vec` per picture and builds its working
/// planes per call; those allocations happen inside it (see the
/// allocation test). `out` is replaced by the library's `Vec` rather than
/// copied into, so its old capacity is not reused.
#[derive(Debug, Default)]
pub struct TurboEncoder {
    scratch: ImageBuf,
}

impl TurboEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }
}

fn turbo_format(format: PixelFormat) -> Result<TurboFormat, CodecError> {
    Ok(match format {
        PixelFormat::Rgb8 => TurboFormat::Rgb,
        PixelFormat::Rgba8 => TurboFormat::Rgba,
        PixelFormat::Bgra8 => TurboFormat::Bgra,
        // 0x00RRGGBB in native byte order.
        PixelFormat::Xrgb32 if cfg!(target_endian = "little") => TurboFormat::Bgrx,
        PixelFormat::Xrgb32 => TurboFormat::Xrgb,
        _ => {
            return Err(CodecError::Unsupported {
                reason: "TurboEncoder does not know this pixel format",
            });
        }
    })
}

impl Encoder for TurboEncoder {
    fn encode(
        &mut self,
        src: ImageRef<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        check_quality(quality)?;
        check_size(&src)?;
        let format = turbo_format(src.format())?;
        let pixels = packed(&src, &mut self.scratch)?;
        let jpeg = libjpeg_turbo_rs::compress(
            pixels,
            src.width() as usize,
            src.height() as usize,
            format,
            quality,
            TurboSubsampling::S420,
        )
        .map_err(|e| CodecError::Encode(Box::new(e)))?;
        // The library hands back a fresh `Vec` every time; taking it is
        // free, where copying it into `out`'s old storage cost a pass over
        // the ~70 KB frame. (The old storage is freed: the allocation
        // count per frame is the library's either way.)
        *out = jpeg;
        Ok(())
    }
}

/// The largest width or height a JPEG can declare: its frame header holds
/// 16-bit sizes.
pub const MAX_JPEG_SIDE: u32 = 65535;

/// JPEG's own limit: sizes are 16-bit, and a zero-sized picture has no
/// encoding.
fn check_size(src: &ImageRef<'_>) -> Result<(), CodecError> {
    let fits = |side: u32| (1..=MAX_JPEG_SIDE).contains(&side);
    if !fits(src.width()) || !fits(src.height()) {
        return Err(CodecError::Unsupported {
            reason: "JPEG sizes are 1..=65535 pixels on each side",
        });
    }
    Ok(())
}

/// The conservative alternative encoder: jpeg-encoder (pure Rust, long
/// established), set to match libjpeg's output choices — 4:2:0 with
/// box-averaged chroma at every quality (its defaults are 4:4:4 at
/// quality >= 90 and nearest-sample chroma). About 3x slower than
/// [`TurboEncoder`]: its Huffman coder is scalar.
#[cfg(feature = "jpeg-encoder")]
#[cfg_attr(docsrs, doc(cfg(feature = "jpeg-encoder")))]
#[derive(Debug, Default)]
pub struct JpegEncoderEncoder {
    scratch: ImageBuf,
}

#[cfg(feature = "jpeg-encoder")]
impl JpegEncoderEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(feature = "jpeg-encoder")]
impl Encoder for JpegEncoderEncoder {
    fn encode(
        &mut self,
        src: ImageRef<'_>,
        quality: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, SamplingFactor};

        check_quality(quality)?;
        check_size(&src)?;
        let color = match src.format() {
            PixelFormat::Rgb8 => ColorType::Rgb,
            PixelFormat::Rgba8 => ColorType::Rgba,
            PixelFormat::Bgra8 => ColorType::Bgra,
            PixelFormat::Xrgb32 if cfg!(target_endian = "little") => ColorType::Bgra,
            _ => {
                return Err(CodecError::Unsupported {
                    reason: "jpeg-encoder takes no big-endian 0RGB",
                });
            }
        };
        let pixels = packed(&src, &mut self.scratch)?;
        out.clear();
        let mut encoder = jpeg_encoder::Encoder::new(&mut *out, quality);
        encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
        encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
        // Sizes were checked to fit in u16 above.
        encoder
            .encode(pixels, src.width() as u16, src.height() as u16, color)
            .map_err(|e| CodecError::Encode(Box::new(e)))
    }
}
