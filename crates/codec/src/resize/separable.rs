//! The general resize path: per output row, a vertical pass into 16-bit
//! sums, then a horizontal pass that combines the taps and writes the
//! destination's layout. Used for any ratio the exact kernels do not cover.

use super::AreaResizer;
use super::axis::Axis;
use super::layout::{Bgra, Layout, Rgb, Rgba, UNSUPPORTED, Xrgb};
use crate::{CodecError, ImageMut, ImageRef, PixelFormat};

/// `acc[i] = sum_k w[k] * rows[k][i]`, over the source rows the weights
/// start at. The weights sum to at most 256, so the sum fits in `u16`.
/// Inlined so each kernel gets its own copy, vectorised in place.
#[inline(always)]
pub(super) fn vertical(src: &ImageRef<'_>, start: u32, weights: &[u16], acc: &mut [u16]) {
    let mut first = true;
    for (k, &w) in weights.iter().enumerate() {
        if w == 0 {
            continue;
        }
        let row = src.row(start + k as u32);
        if first {
            for (a, &s) in acc.iter_mut().zip(row) {
                *a = u16::from(s) * w;
            }
            first = false;
        } else {
            for (a, &s) in acc.iter_mut().zip(row) {
                *a += u16::from(s) * w;
            }
        }
    }
}

/// Combines the horizontal taps of one row of vertical sums and writes the
/// output row in `D`'s layout; `N` taps per output pixel, known at compile
/// time so the tap loop unrolls and the window is bounds-checked once.
pub(super) fn horizontal<S: Layout, D: Layout, const N: usize>(
    acc: &[u16],
    axis: &Axis,
    out: &mut [u8],
) {
    let (weights, _) = axis.weights.as_chunks::<N>();
    for ((o, &start), w) in out.chunks_exact_mut(D::BPP).zip(&axis.start).zip(weights) {
        let base = start as usize * S::BPP;
        let window = &acc[base..base + N * S::BPP];
        let mut v = [1u32 << 15; 4];
        for k in 0..N {
            for c in 0..S::BPP {
                v[c] += u32::from(window[k * S::BPP + c]) * u32::from(w[k]);
            }
        }
        let px = [
            (v[0] >> 16) as u8,
            (v[1] >> 16) as u8,
            (v[2] >> 16) as u8,
            (v[3] >> 16) as u8,
        ];
        D::store(S::to_rgba(px), o);
    }
}

/// [`horizontal`] for any tap count: compile-time counts for the common
/// ratios, a runtime loop above.
pub(super) fn horizontal_any<S: Layout, D: Layout>(acc: &[u16], axis: &Axis, out: &mut [u8]) {
    match axis.taps {
        1 => horizontal::<S, D, 1>(acc, axis, out),
        2 => horizontal::<S, D, 2>(acc, axis, out),
        3 => horizontal::<S, D, 3>(acc, axis, out),
        4 => horizontal::<S, D, 4>(acc, axis, out),
        _ => horizontal_wide::<S, D>(acc, axis, out),
    }
}

pub(super) fn horizontal_wide<S: Layout, D: Layout>(acc: &[u16], axis: &Axis, out: &mut [u8]) {
    let taps = axis.taps;
    for ((o, &start), w) in out
        .chunks_exact_mut(D::BPP)
        .zip(&axis.start)
        .zip(axis.weights.chunks_exact(taps))
    {
        let base = start as usize * S::BPP;
        let window = &acc[base..base + taps * S::BPP];
        let mut v = [1u32 << 15; 4];
        for (p, &wk) in window.chunks_exact(S::BPP).zip(w) {
            for c in 0..S::BPP {
                v[c] += u32::from(p[c]) * u32::from(wk);
            }
        }
        let px = [
            (v[0] >> 16) as u8,
            (v[1] >> 16) as u8,
            (v[2] >> 16) as u8,
            (v[3] >> 16) as u8,
        ];
        D::store(S::to_rgba(px), o);
    }
}

pub(super) type RowKernel = fn(&[u16], &Axis, &mut [u8]);

pub(super) fn kernel_for<S: Layout>(dst: PixelFormat) -> Option<RowKernel> {
    Some(match dst {
        PixelFormat::Rgb8 => horizontal_any::<S, Rgb>,
        PixelFormat::Rgba8 => horizontal_any::<S, Rgba>,
        PixelFormat::Bgra8 => horizontal_any::<S, Bgra>,
        PixelFormat::Xrgb32 => horizontal_any::<S, Xrgb>,
        _ => return None,
    })
}

/// `None` for a pixel format this resizer does not know.
pub(super) fn kernel(src: PixelFormat, dst: PixelFormat) -> Option<RowKernel> {
    match src {
        PixelFormat::Rgb8 => kernel_for::<Rgb>(dst),
        PixelFormat::Rgba8 => kernel_for::<Rgba>(dst),
        PixelFormat::Bgra8 => kernel_for::<Bgra>(dst),
        PixelFormat::Xrgb32 => kernel_for::<Xrgb>(dst),
        _ => None,
    }
}

impl AreaResizer {
    /// The general path: per output row, a vertical pass into 16-bit sums,
    /// then a horizontal pass writing the destination layout.
    pub(super) fn separable(
        &mut self,
        src: &ImageRef<'_>,
        dst: &mut ImageMut<'_>,
    ) -> Result<(), CodecError> {
        let (dw, dh) = (dst.width(), dst.height());
        let row_len = src.width() as usize * src.format().bytes_per_pixel();
        self.acc.resize(row_len, 0);
        let run = kernel(src.format(), dst.format()).ok_or(UNSUPPORTED)?;
        let stride = dst.stride();
        let out_row = dw as usize * dst.format().bytes_per_pixel();
        for y in 0..dh as usize {
            let (start, weights) = (self.y.start[y], self.y.weights_of(y));
            if y > 0 && start == self.y.start[y - 1] && weights == self.y.weights_of(y - 1) {
                // Same source rows, same weights: the row above is the answer.
                let from = (y - 1) * stride;
                dst.data_mut().copy_within(from..from + out_row, y * stride);
                continue;
            }
            vertical(src, start, weights, &mut self.acc);
            run(&self.acc, &self.x, dst.row_mut(y as u32));
        }
        Ok(())
    }
}
