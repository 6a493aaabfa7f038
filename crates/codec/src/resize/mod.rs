//! Resizing, with the pixel-format conversion fused into the same pass.
//!
//! [`AreaResizer`] reproduces OpenCV's `INTER_AREA`, which the original
//! program used on both ends: when shrinking, every output pixel is the
//! average of the source area it covers, each source pixel weighted by the
//! fraction of it inside that area; when enlarging, it is OpenCV's
//! area-mode interpolation (a copy of the nearest source pixel, blended with
//! the next one only where an output pixel straddles two source pixels: at
//! 2x that is a pure copy, at 1.5x every third row is a 50/50 blend).
//!
//! Both axes are separable: a vertical pass combines up to `n` source rows
//! into a row of 16-bit sums, then a horizontal pass combines up to `n` of
//! those per output pixel and writes it in the destination's format. The
//! weights are fixed point, 8 fractional bits per axis, each axis's weights
//! summing to exactly 256, so the sums cannot overflow and a flat area stays
//! exactly flat.
//!
//! The parts, one concern each: `axis` (the weights of one axis), `layout`
//! (pixel layouts and row conversions), `separable` (the general path),
//! `enlarge` (the enlarging path and its fused 2x kernels) and `shrink`
//! (exact kernels for common shrink ratios). This module holds the
//! [`Resizer`] trait and [`AreaResizer`], which picks a path per call.

mod axis;
mod enlarge;
mod layout;
mod separable;
mod shrink;

use self::axis::Axis;
use self::shrink::shrink_kernel;

use crate::{CodecError, ImageError, ImageMut, ImageRef};

/// Resizes a picture to the size of a destination picture.
pub trait Resizer {
    /// Fills `dst` with `src` scaled to `dst`'s size. Implementations say
    /// which pixel-format pairs they accept.
    fn resize(&mut self, src: ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError>;
}

impl<R: Resizer + ?Sized> Resizer for &mut R {
    fn resize(&mut self, src: ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError> {
        (**self).resize(src, dst)
    }
}

impl<R: Resizer + ?Sized> Resizer for Box<R> {
    fn resize(&mut self, src: ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError> {
        (**self).resize(src, dst)
    }
}

/// OpenCV `INTER_AREA` resizing in fixed point, converting between any two
/// [`PixelFormat`](crate::PixelFormat)s in the same pass (alpha is averaged like a colour
/// channel; formats without alpha read as opaque).
///
/// The weight tables are computed once per (source size, destination size)
/// pair and reused; a resizer kept from frame to frame allocates nothing.
///
/// ```
/// use framecast_codec::{AreaResizer, ImageBuf, PixelFormat, Resizer};
///
/// let src = ImageBuf::from_vec(2, 1, PixelFormat::Rgb8, vec![0, 0, 0, 200, 100, 50])?;
/// let mut dst = ImageBuf::new(1, 1, PixelFormat::Rgb8);
/// AreaResizer::new().resize(src.as_image(), &mut dst.as_image_mut())?;
/// assert_eq!(dst.data(), &[100, 50, 25]);
/// # Ok::<(), framecast_codec::CodecError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AreaResizer {
    x: Axis,
    y: Axis,
    acc: Vec<u16>,
    /// One source row in the destination's layout (enlarging path).
    conv: Vec<u8>,
    /// Two stretched rows for blends whose inputs no output row holds.
    spare: [Vec<u8>; 2],
    /// For each source row, the output row holding it stretched, if any.
    held_at: Vec<u32>,
}

impl AreaResizer {
    /// A resizer with no tables yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Resizer for AreaResizer {
    fn resize(&mut self, src: ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError> {
        let (dw, dh) = (dst.width(), dst.height());
        if dw == 0 || dh == 0 {
            return Ok(());
        }
        if src.width() == 0 || src.height() == 0 {
            return Err(ImageError::Layout {
                reason: "cannot resize an empty picture to a non-empty one",
            }
            .into());
        }
        if (src.width(), src.height(), src.format()) == (dw, dh, dst.format()) {
            for y in 0..dh {
                dst.row_mut(y).copy_from_slice(src.row(y));
            }
            return Ok(());
        }
        self.x.plan(src.width(), dw);
        self.y.plan(src.height(), dh);
        if dw >= src.width() && dh >= src.height() {
            return self.enlarge(&src, dst);
        }
        if let Some(shrink) = shrink_kernel(&src, dst) {
            shrink(&src, dst, &mut self.acc);
            return Ok(());
        }
        self.separable(&src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::axis::*;
    use super::shrink::*;
    use super::*;
    use crate::ImageBuf;
    use crate::PixelFormat;

    #[test]
    fn weights_sum_to_one_and_stay_in_range() {
        for (src, dst) in [
            (640, 400),
            (480, 400),
            (400, 800),
            (400, 600),
            (7, 3),
            (3, 7),
            (5, 5),
        ] {
            let mut axis = Axis::default();
            axis.plan(src, dst);
            assert_eq!(axis.start.len(), dst as usize);
            for i in 0..dst as usize {
                let w = axis.weights_of(i);
                assert_eq!(w.iter().sum::<u16>(), ONE, "{src}->{dst} at {i}: {w:?}");
                assert!(axis.start[i] as usize + axis.taps <= src as usize);
            }
        }
    }

    #[test]
    fn area_shrink_by_integer_factor_is_the_block_mean() {
        // 4x2 -> 2x1: each output is the mean of a 2x2 block.
        let px: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
        let src = ImageBuf::from_vec(4, 2, PixelFormat::Rgb8, px.clone()).unwrap();
        let mut dst = ImageBuf::new(2, 1, PixelFormat::Rgb8);
        AreaResizer::new()
            .resize(src.as_image(), &mut dst.as_image_mut())
            .unwrap();
        for (o, c) in dst.data().iter().zip(0..) {
            let (x, ch) = (c / 3, c % 3);
            let at = |xx: usize, yy: usize| f64::from(px[(yy * 4 + xx) * 3 + ch]);
            let mean = (at(2 * x, 0) + at(2 * x + 1, 0) + at(2 * x, 1) + at(2 * x + 1, 1)) / 4.0;
            assert!((f64::from(*o) - mean).abs() <= 0.5, "{o} vs {mean}");
        }
    }

    #[test]
    fn upscale_2x_copies_and_1_5x_blends_every_third_row() {
        let src = ImageBuf::from_vec(
            2,
            2,
            PixelFormat::Rgb8,
            vec![
                0, 0, 0, 90, 90, 90, //
                200, 200, 200, 10, 20, 30,
            ],
        )
        .unwrap();
        let mut dst = ImageBuf::new(4, 3, PixelFormat::Xrgb32);
        AreaResizer::new()
            .resize(src.as_image(), &mut dst.as_image_mut())
            .unwrap();
        let px: Vec<u32> = dst
            .data()
            .chunks_exact(4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(&px[0..4], &[0, 0, 0x5A5A5A, 0x5A5A5A]);
        assert_eq!(&px[4..8], &[0x646464, 0x646464, 0x32373C, 0x32373C]);
        assert_eq!(&px[8..12], &[0xC8C8C8, 0xC8C8C8, 0x0A141E, 0x0A141E]);
    }

    /// A deterministic picture with edges, gradients and noise.
    fn test_picture(w: u32, h: u32, format: PixelFormat) -> ImageBuf {
        let bpp = format.bytes_per_pixel() as u32;
        let data = (0..w * h * bpp)
            .map(|i| {
                let (x, y) = ((i / bpp) % w, (i / bpp) / w);
                let v = (x * 7 + y * 13 + (i % bpp) * 50) ^ (x * y);
                if format == PixelFormat::Xrgb32 && i % 4 == 3 {
                    0
                } else {
                    v as u8
                }
            })
            .collect();
        ImageBuf::from_vec(w, h, format, data).unwrap()
    }

    #[test]
    fn enlarging_path_agrees_with_the_separable_path() {
        for (sw, sh, dw, dh) in [(40, 40, 80, 60), (3, 2, 7, 5), (5, 5, 5, 5), (9, 4, 9, 13)] {
            for (sf, df) in [
                (PixelFormat::Rgb8, PixelFormat::Xrgb32),
                (PixelFormat::Rgba8, PixelFormat::Xrgb32),
                (PixelFormat::Rgb8, PixelFormat::Rgb8),
                (PixelFormat::Bgra8, PixelFormat::Rgba8),
            ] {
                let src = test_picture(sw, sh, sf);
                let mut fast = ImageBuf::new(dw, dh, df);
                let mut slow = ImageBuf::new(dw, dh, df);
                let mut r = AreaResizer::new();
                r.resize(src.as_image(), &mut fast.as_image_mut()).unwrap();
                r.x.plan(sw, dw);
                r.y.plan(sh, dh);
                r.acc.resize((sw * sf.bytes_per_pixel() as u32) as usize, 0);
                r.separable(&src.as_image(), &mut slow.as_image_mut())
                    .unwrap();
                // The fast path rounds after each of two blends, the
                // separable one once: at most one level apart.
                let worst = fast
                    .data()
                    .iter()
                    .zip(slow.data())
                    .map(|(a, b)| a.abs_diff(*b))
                    .max();
                assert!(
                    worst <= Some(1),
                    "{sw}x{sh}->{dw}x{dh} {sf:?}->{df:?}: {worst:?}"
                );
            }
        }
    }

    #[test]
    fn area_tables_are_exact_and_sum_to_p() {
        let (starts, w) = area_table::<8, 5>();
        assert_eq!(starts, [0, 1, 3, 4, 6]);
        assert_eq!(
            w,
            [
                [5, 3, 0, 0],
                [2, 5, 1, 0],
                [4, 4, 0, 0],
                [1, 5, 2, 0],
                [3, 5, 0, 0]
            ]
        );
        let (_, w) = area_table::<6, 5>();
        assert!(w.iter().all(|row| row.iter().sum::<u16>() == 6));
    }

    #[test]
    fn exact_shrink_agrees_with_the_separable_path() {
        for (sw, sh, dw, dh) in [(640, 480, 400, 400), (48, 36, 32, 24), (40, 12, 20, 8)] {
            for f in [PixelFormat::Rgb8, PixelFormat::Bgra8] {
                let src = test_picture(sw, sh, f);
                let mut fast = ImageBuf::new(dw, dh, f);
                let mut slow = ImageBuf::new(dw, dh, f);
                let mut r = AreaResizer::new();
                assert!(shrink_kernel(&src.as_image(), &fast.as_image_mut()).is_some());
                r.resize(src.as_image(), &mut fast.as_image_mut()).unwrap();
                r.separable(&src.as_image(), &mut slow.as_image_mut())
                    .unwrap();
                // Exact arithmetic against 8-bit fixed-point weights.
                let worst = fast
                    .data()
                    .iter()
                    .zip(slow.data())
                    .map(|(a, b)| a.abs_diff(*b))
                    .max();
                assert!(worst <= Some(1), "{sw}x{sh}->{dw}x{dh} {f:?}: {worst:?}");
            }
        }
    }

    #[test]
    fn converts_formats_without_resizing() {
        let src = ImageBuf::from_vec(1, 1, PixelFormat::Bgra8, vec![1, 2, 3, 4]).unwrap();
        for (format, want) in [
            (PixelFormat::Rgb8, vec![3, 2, 1]),
            (PixelFormat::Rgba8, vec![3, 2, 1, 4]),
            (PixelFormat::Bgra8, vec![1, 2, 3, 4]),
            (PixelFormat::Xrgb32, 0x030201u32.to_ne_bytes().to_vec()),
        ] {
            let mut dst = ImageBuf::new(1, 1, format);
            AreaResizer::new()
                .resize(src.as_image(), &mut dst.as_image_mut())
                .unwrap();
            assert_eq!(dst.data(), &want[..], "{format:?}");
        }
    }
}
