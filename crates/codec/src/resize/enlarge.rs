//! The enlarging path: with area-mode interpolation every output row is one
//! source row converted and stretched, or a blend of two; the fused 2x
//! kernels convert and stretch in one pass.

use super::AreaResizer;
use super::axis::{Axis, ONE, nonzero_taps};
use super::layout::{UNSUPPORTED, convert_kernel};
use crate::{CodecError, ImageMut, ImageRef, PixelFormat};

/// `out = (a * wa + b * wb + 128) >> 8`, byte by byte, with `wa + wb = 256`
/// (so the 16-bit sum cannot overflow).
pub(super) fn blend(a: &[u8], b: &[u8], wa: u16, wb: u16, out: &mut [u8]) {
    if wa == wb {
        // The 1.5x enlargement's only blend: (x * 128 + y * 128 + 128) >> 8
        // is (x + y + 1) >> 1, a rounding average the compiler turns into
        // one vector instruction per 16 bytes (SSE2 `pavgb`).
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = ((u16::from(x) + u16::from(y) + 1) >> 1) as u8;
        }
        return;
    }
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = ((u16::from(x) * wa + u16::from(y) * wb + 128) >> 8) as u8;
    }
}

/// A source row converted and stretched 2x across in one pass, for the
/// (source, destination) layouts that have one.
pub(super) type Stretch2x = fn(&[u8], &mut [u8]);

/// The fused 2x kernel from `src` to `dst` layout, if there is one: 4-byte
/// sources are converted as whole `u32`s (shifts and masks the compiler
/// vectorises), 3-byte RGB with one unaligned load and a byte swap per
/// pixel.
pub(super) fn stretch2x_kernel(src: PixelFormat, dst: PixelFormat) -> Option<Stretch2x> {
    match (src, dst) {
        (PixelFormat::Rgba8, PixelFormat::Xrgb32) => Some(rgba_to_xrgb_2x),
        (PixelFormat::Rgb8, PixelFormat::Xrgb32) => Some(rgb_to_xrgb_2x),
        _ => None,
    }
}

/// `0x00RRGGBB` from the little-endian `u32` of R, G, B, A bytes.
#[inline(always)]
pub(super) fn rgba_le_to_xrgb(v: u32) -> u32 {
    ((v & 0xFF) << 16) | (v & 0xFF00) | ((v >> 16) & 0xFF)
}

pub(super) fn rgba_to_xrgb_2x(src: &[u8], out: &mut [u8]) {
    // Rows of a `Vec`-backed picture are 4-byte aligned in practice; then
    // the loop runs on `u32` lanes. Otherwise the same arithmetic on bytes.
    if let (Ok(src), Ok(out)) = (
        bytemuck::try_cast_slice::<u8, u32>(src),
        bytemuck::try_cast_slice_mut::<u8, u32>(out),
    ) {
        let (out, _) = out.as_chunks_mut::<2>();
        for (o, &p) in out.iter_mut().zip(src) {
            let x = rgba_le_to_xrgb(u32::from_le(p));
            *o = [x, x];
        }
        return;
    }
    let (px, _) = src.as_chunks::<4>();
    let (out, _) = out.as_chunks_mut::<8>();
    for (o, p) in out.iter_mut().zip(px) {
        let x = rgba_le_to_xrgb(u32::from_le_bytes(*p)).to_ne_bytes();
        o[..4].copy_from_slice(&x);
        o[4..].copy_from_slice(&x);
    }
}

pub(super) fn rgb_to_xrgb_2x(src: &[u8], out: &mut [u8]) {
    let (out, _) = out.as_chunks_mut::<8>();
    let n = (src.len() / 3).min(out.len());
    // All but the last pixel: read R, G, B and the next pixel's first byte
    // as one little-endian u32; swapping its bytes and dropping the stray
    // one leaves 0x00RRGGBB.
    let full = n.saturating_sub(1);
    let (pixels, _) = src.as_chunks::<3>();
    for (i, o) in out[..full].iter_mut().enumerate() {
        let at = i * 3;
        let v = u32::from_le_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]]);
        let x = (v.swap_bytes() >> 8).to_ne_bytes();
        o[..4].copy_from_slice(&x);
        o[4..].copy_from_slice(&x);
    }
    if let (Some(o), Some(&[r, g, b])) = (out[..n].last_mut(), pixels.get(full)) {
        let x = u32::from_be_bytes([0, r, g, b]).to_ne_bytes();
        o[..4].copy_from_slice(&x);
        o[4..].copy_from_slice(&x);
    }
}

/// Stretches a row of `B`-byte pixels: each output pixel is a copy of one
/// input pixel or a blend of two (`pairs` from [`Axis::pairs`]).
pub(super) fn stretch<const B: usize>(x: &Axis, row: &[u8], out: &mut [u8]) {
    let (px, _) = row.as_chunks::<B>();
    let (out, _) = out.as_chunks_mut::<B>();
    if x.dst == 2 * x.src {
        // Exact 2x: area-mode interpolation is a pure copy of each pixel.
        for (o, p) in out.chunks_exact_mut(2).zip(px) {
            o[0] = *p;
            o[1] = *p;
        }
        return;
    }
    for (o, &(i0, i1, w1)) in out.iter_mut().zip(&x.pairs) {
        let a = px[i0 as usize];
        if w1 == 0 {
            *o = a;
        } else {
            let b = px[i1 as usize];
            let w0 = ONE - w1;
            for k in 0..B {
                o[k] = ((u16::from(a[k]) * w0 + u16::from(b[k]) * w1 + 128) >> 8) as u8;
            }
        }
    }
}

/// One source row converted to the destination layout, then stretched to
/// the output width.
pub(super) fn stretch_row(x: &Axis, conv_row: &[u8], bpp: usize, out: &mut [u8]) {
    if x.src == x.dst {
        out.copy_from_slice(&conv_row[..out.len()]);
    } else if bpp == 4 {
        stretch::<4>(x, conv_row, out);
    } else {
        stretch::<3>(x, conv_row, out);
    }
}

/// No output row holds this source row.
const NOT_HELD: u32 = u32::MAX;

impl AreaResizer {
    /// Enlarging (or equal size) on both axes. With area-mode interpolation
    /// every output row is one source row converted and stretched, or a
    /// blend of two such rows; each is computed once, straight into the
    /// output, and the blends are made from those rows afterwards.
    pub(super) fn enlarge(
        &mut self,
        src: &ImageRef<'_>,
        dst: &mut ImageMut<'_>,
    ) -> Result<(), CodecError> {
        let convert = convert_kernel(src.format(), dst.format()).ok_or(UNSUPPORTED)?;
        let fused =
            stretch2x_kernel(src.format(), dst.format()).filter(|_| self.x.dst == 2 * self.x.src);
        let bpp = dst.format().bytes_per_pixel();
        let out_len = dst.width() as usize * bpp;
        let stride = dst.stride();
        self.conv.resize(src.width() as usize * bpp, 0);
        self.held_at.clear();
        self.held_at.resize(src.height() as usize, NOT_HELD);
        let dh = dst.height() as usize;

        // Pass 1: rows that are a single source row.
        let mut previous = None;
        for y in 0..dh {
            let (taps, n) = nonzero_taps(&self.y, y);
            if n != 1 {
                previous = None;
                continue;
            }
            let r = taps[0].0;
            if previous == Some(r) {
                dst.data_mut()
                    .copy_within((y - 1) * stride..(y - 1) * stride + out_len, y * stride);
            } else {
                if let Some(fused) = fused {
                    fused(src.row(r as u32), dst.row_mut(y as u32));
                } else {
                    convert(src.row(r as u32), &mut self.conv);
                    stretch_row(&self.x, &self.conv, bpp, dst.row_mut(y as u32));
                }
                if self.held_at[r] == NOT_HELD {
                    self.held_at[r] = y as u32;
                }
            }
            previous = Some(r);
        }

        // Pass 2: blends of two source rows.
        for y in 0..dh {
            let (taps, n) = nonzero_taps(&self.y, y);
            if n != 2 {
                continue;
            }
            let [(a, wa), (b, wb)] = taps;
            let (ya, yb) = (self.held_at[a], self.held_at[b]);
            let data = dst.data_mut();
            if ya != NOT_HELD && yb != NOT_HELD && (ya as usize) < y && (yb as usize) > y {
                // The usual case: the rows above and below hold both inputs.
                let (above, rest) = data.split_at_mut(y * stride);
                let (row, below) = rest.split_at_mut(out_len);
                let ra = &above[ya as usize * stride..][..out_len];
                let rb = &below[(yb as usize - y) * stride - out_len..][..out_len];
                blend(ra, rb, wa, wb, row);
                continue;
            }
            for (spare, (r, held)) in self.spare.iter_mut().zip([(a, ya), (b, yb)]) {
                spare.resize(out_len, 0);
                if held == NOT_HELD {
                    if let Some(fused) = fused {
                        fused(src.row(r as u32), spare);
                    } else {
                        convert(src.row(r as u32), &mut self.conv);
                        stretch_row(&self.x, &self.conv, bpp, spare);
                    }
                } else {
                    spare.copy_from_slice(&data[held as usize * stride..][..out_len]);
                }
            }
            let [sa, sb] = &self.spare;
            blend(sa, sb, wa, wb, &mut data[y * stride..][..out_len]);
        }
        Ok(())
    }
}
