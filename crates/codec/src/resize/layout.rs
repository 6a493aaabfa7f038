//! The pixel layouts the kernels read and write (resolved at compile time,
//! so each source and destination pair gets its own loop), and the
//! per-row conversions between them.

use crate::{CodecError, PixelFormat};

/// A pixel format added to [`PixelFormat`] after these kernels were written.
pub(super) const UNSUPPORTED: CodecError = CodecError::Unsupported {
    reason: "the resizer does not know this pixel format",
};

/// A byte layout the kernels read and write, resolved at compile time so
/// each (source, destination) pair gets its own loop.
pub(super) trait Layout {
    const BPP: usize;
    /// Channel values in storage order -> red, green, blue, alpha.
    fn to_rgba(v: [u8; 4]) -> [u8; 4];
    /// Stores red, green, blue, alpha in this layout.
    fn store(rgba: [u8; 4], out: &mut [u8]);
}

pub(super) struct Rgb;
pub(super) struct Rgba;
pub(super) struct Bgra;
pub(super) struct Xrgb;

impl Layout for Rgb {
    const BPP: usize = 3;
    #[inline(always)]
    fn to_rgba(v: [u8; 4]) -> [u8; 4] {
        [v[0], v[1], v[2], 255]
    }
    #[inline(always)]
    fn store(p: [u8; 4], out: &mut [u8]) {
        out[..3].copy_from_slice(&p[..3]);
    }
}

impl Layout for Rgba {
    const BPP: usize = 4;
    #[inline(always)]
    fn to_rgba(v: [u8; 4]) -> [u8; 4] {
        v
    }
    #[inline(always)]
    fn store(p: [u8; 4], out: &mut [u8]) {
        out[..4].copy_from_slice(&p);
    }
}

impl Layout for Bgra {
    const BPP: usize = 4;
    #[inline(always)]
    fn to_rgba(v: [u8; 4]) -> [u8; 4] {
        [v[2], v[1], v[0], v[3]]
    }
    #[inline(always)]
    fn store(p: [u8; 4], out: &mut [u8]) {
        out[..4].copy_from_slice(&[p[2], p[1], p[0], p[3]]);
    }
}

impl Layout for Xrgb {
    const BPP: usize = 4;
    #[inline(always)]
    fn to_rgba(v: [u8; 4]) -> [u8; 4] {
        let [_, r, g, b] = u32::from_ne_bytes(v).to_be_bytes();
        [r, g, b, 255]
    }
    #[inline(always)]
    fn store(p: [u8; 4], out: &mut [u8]) {
        let px = u32::from_be_bytes([0, p[0], p[1], p[2]]);
        out[..4].copy_from_slice(&px.to_ne_bytes());
    }
}

/// Converts one row of pixels from layout `S` to layout `D`.
pub(super) fn convert<S: Layout, D: Layout>(src: &[u8], out: &mut [u8]) {
    for (o, p) in out.chunks_exact_mut(D::BPP).zip(src.chunks_exact(S::BPP)) {
        let mut v = [0u8; 4];
        v[..S::BPP].copy_from_slice(p);
        D::store(S::to_rgba(v), o);
    }
}

pub(super) type ConvertKernel = fn(&[u8], &mut [u8]);

pub(super) fn convert_for<S: Layout>(dst: PixelFormat) -> Option<ConvertKernel> {
    Some(match dst {
        PixelFormat::Rgb8 => convert::<S, Rgb>,
        PixelFormat::Rgba8 => convert::<S, Rgba>,
        PixelFormat::Bgra8 => convert::<S, Bgra>,
        PixelFormat::Xrgb32 => convert::<S, Xrgb>,
        _ => return None,
    })
}

/// `None` for a pixel format this resizer does not know.
pub(super) fn convert_kernel(src: PixelFormat, dst: PixelFormat) -> Option<ConvertKernel> {
    match src {
        PixelFormat::Rgb8 => convert_for::<Rgb>(dst),
        PixelFormat::Rgba8 => convert_for::<Rgba>(dst),
        PixelFormat::Bgra8 => convert_for::<Bgra>(dst),
        PixelFormat::Xrgb32 => convert_for::<Xrgb>(dst),
        _ => None,
    }
}
