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

use crate::{CodecError, ImageError, ImageMut, ImageRef, PixelFormat};

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

/// Fixed-point weight of a whole source sample.
const ONE: u16 = 256;

/// The weights of one axis, for one (source, destination) length pair.
#[derive(Debug, Clone, Default)]
struct Axis {
    src: u32,
    dst: u32,
    /// Taps per output sample (the same for all, unused ones weigh 0).
    taps: usize,
    /// First source sample of each output sample.
    start: Vec<u32>,
    /// `taps` weights per output sample, summing to [`ONE`].
    weights: Vec<u16>,
    /// When no output reads more than two inputs (enlarging): per output,
    /// the two inputs and the second one's weight (0 for a plain copy).
    pairs: Vec<(u32, u32, u16)>,
}

impl Axis {
    /// Computes the weights, unless they are already those for `src -> dst`.
    /// Only the first plan for a larger size allocates.
    fn plan(&mut self, src: u32, dst: u32) {
        if self.src == src && self.dst == dst && self.start.len() == dst as usize {
            return;
        }
        self.src = src;
        self.dst = dst;
        self.start.clear();
        self.weights.clear();
        let taps = (0..dst).map(|i| span(src, dst, i).1).max().unwrap_or(1);
        self.taps = taps;
        for i in 0..dst {
            let (first, count) = span(src, dst, i);
            // Shift the window left at the far edge so it stays inside.
            let start = first.min(src as usize - taps);
            let base = self.weights.len();
            self.weights.resize(base + taps, 0);
            let row = &mut self.weights[base..];
            let mut sum = 0u16;
            for k in 0..count {
                let q = (exact_weight(src, dst, i, first + k) * f64::from(ONE)).round() as u16;
                row[first - start + k] = q;
                sum += q;
            }
            // Rounding may miss 256 by a little: the largest weight absorbs
            // the difference, so flat areas stay flat.
            let big = (0..taps).max_by_key(|&k| row[k]).unwrap_or(0);
            row[big] = (row[big] + ONE).saturating_sub(sum);
            self.start.push(start as u32);
        }
        self.pairs.clear();
        if taps <= 2 {
            for i in 0..dst as usize {
                let ([(i0, _), (i1, w1)], n) = nonzero_taps(self, i);
                let pair = if n == 2 { (i0, i1, w1) } else { (i0, i0, 0) };
                self.pairs.push((pair.0 as u32, pair.1 as u32, pair.2));
            }
        }
    }

    fn weights_of(&self, i: usize) -> &[u16] {
        &self.weights[i * self.taps..(i + 1) * self.taps]
    }
}

/// The first source sample output `i` reads and how many it reads, in
/// exact integer arithmetic (floating point would add slivers of weight
/// and an extra tap at the edges of the 8:5 pattern).
fn span(src: u32, dst: u32, i: u32) -> (usize, usize) {
    let (s, d, i) = (u64::from(src), u64::from(dst), u64::from(i));
    if src > dst {
        let first = i * s / d;
        let end = ((i + 1) * s).div_ceil(d).min(s);
        (first as usize, (end - first) as usize)
    } else if src == dst {
        (i as usize, 1)
    } else {
        let (sx, fx) = upscale(src, dst, i as u32);
        (sx, if fx > 0.0 { 2 } else { 1 })
    }
}

/// OpenCV's area-mode interpolation when enlarging: the source sample and
/// the weight of the next one,
/// `fx = (i + 1) - (sx + 1) * dst / src`, kept only if positive, then its
/// fractional part.
fn upscale(src: u32, dst: u32, i: u32) -> (usize, f64) {
    let (s, d, i) = (u64::from(src), u64::from(dst), u64::from(i));
    let sx = i * s / d;
    if sx + 1 >= s {
        return ((s - 1) as usize, 0.0);
    }
    // fx * src = (i + 1) * src - (sx + 1) * dst
    let num = ((i + 1) * s) as i64 - ((sx + 1) * d) as i64;
    let fx = if num <= 0 {
        0.0
    } else {
        (num as u64 % s) as f64 / s as f64
    };
    (sx as usize, fx)
}

/// The exact weight of source sample `j` in output sample `i`.
fn exact_weight(src: u32, dst: u32, i: u32, j: usize) -> f64 {
    let (s, d, i, j) = (u64::from(src), u64::from(dst), u64::from(i), j as u64);
    if src > dst {
        // Overlap of [i*s, (i+1)*s) and [j*d, (j+1)*d), in units of 1/d
        // source samples, over the s/d samples an output covers.
        let lo = (i * s).max(j * d);
        let hi = ((i + 1) * s).min((j + 1) * d);
        hi.saturating_sub(lo) as f64 / s as f64
    } else if src == dst {
        1.0
    } else {
        let (sx, fx) = upscale(src, dst, i as u32);
        if j as usize == sx { 1.0 - fx } else { fx }
    }
}

/// A byte layout the kernels read and write, resolved at compile time so
/// each (source, destination) pair gets its own loop.
trait Layout {
    const BPP: usize;
    /// Channel values in storage order -> red, green, blue, alpha.
    fn to_rgba(v: [u8; 4]) -> [u8; 4];
    /// Stores red, green, blue, alpha in this layout.
    fn store(rgba: [u8; 4], out: &mut [u8]);
}

struct Rgb;
struct Rgba;
struct Bgra;
struct Xrgb;

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

/// `acc[i] = sum_k w[k] * rows[k][i]`, over the source rows the weights
/// start at. The weights sum to at most 256, so the sum fits in `u16`.
/// Inlined so each kernel gets its own copy, vectorised in place.
#[inline(always)]
fn vertical(src: &ImageRef<'_>, start: u32, weights: &[u16], acc: &mut [u16]) {
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
fn horizontal<S: Layout, D: Layout, const N: usize>(acc: &[u16], axis: &Axis, out: &mut [u8]) {
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
fn horizontal_any<S: Layout, D: Layout>(acc: &[u16], axis: &Axis, out: &mut [u8]) {
    match axis.taps {
        1 => horizontal::<S, D, 1>(acc, axis, out),
        2 => horizontal::<S, D, 2>(acc, axis, out),
        3 => horizontal::<S, D, 3>(acc, axis, out),
        4 => horizontal::<S, D, 4>(acc, axis, out),
        _ => horizontal_wide::<S, D>(acc, axis, out),
    }
}

fn horizontal_wide<S: Layout, D: Layout>(acc: &[u16], axis: &Axis, out: &mut [u8]) {
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

type RowKernel = fn(&[u16], &Axis, &mut [u8]);

/// A pixel format added to [`PixelFormat`] after these kernels were written.
const UNSUPPORTED: CodecError = CodecError::Unsupported {
    reason: "the resizer does not know this pixel format",
};

fn kernel_for<S: Layout>(dst: PixelFormat) -> Option<RowKernel> {
    Some(match dst {
        PixelFormat::Rgb8 => horizontal_any::<S, Rgb>,
        PixelFormat::Rgba8 => horizontal_any::<S, Rgba>,
        PixelFormat::Bgra8 => horizontal_any::<S, Bgra>,
        PixelFormat::Xrgb32 => horizontal_any::<S, Xrgb>,
        _ => return None,
    })
}

/// `None` for a pixel format this resizer does not know.
fn kernel(src: PixelFormat, dst: PixelFormat) -> Option<RowKernel> {
    match src {
        PixelFormat::Rgb8 => kernel_for::<Rgb>(dst),
        PixelFormat::Rgba8 => kernel_for::<Rgba>(dst),
        PixelFormat::Bgra8 => kernel_for::<Bgra>(dst),
        PixelFormat::Xrgb32 => kernel_for::<Xrgb>(dst),
        _ => None,
    }
}

/// Converts one row of pixels from layout `S` to layout `D`.
fn convert<S: Layout, D: Layout>(src: &[u8], out: &mut [u8]) {
    for (o, p) in out.chunks_exact_mut(D::BPP).zip(src.chunks_exact(S::BPP)) {
        let mut v = [0u8; 4];
        v[..S::BPP].copy_from_slice(p);
        D::store(S::to_rgba(v), o);
    }
}

type ConvertKernel = fn(&[u8], &mut [u8]);

fn convert_for<S: Layout>(dst: PixelFormat) -> Option<ConvertKernel> {
    Some(match dst {
        PixelFormat::Rgb8 => convert::<S, Rgb>,
        PixelFormat::Rgba8 => convert::<S, Rgba>,
        PixelFormat::Bgra8 => convert::<S, Bgra>,
        PixelFormat::Xrgb32 => convert::<S, Xrgb>,
        _ => return None,
    })
}

/// `None` for a pixel format this resizer does not know.
fn convert_kernel(src: PixelFormat, dst: PixelFormat) -> Option<ConvertKernel> {
    match src {
        PixelFormat::Rgb8 => convert_for::<Rgb>(dst),
        PixelFormat::Rgba8 => convert_for::<Rgba>(dst),
        PixelFormat::Bgra8 => convert_for::<Bgra>(dst),
        PixelFormat::Xrgb32 => convert_for::<Xrgb>(dst),
        _ => None,
    }
}

/// `out = (a * wa + b * wb + 128) >> 8`, byte by byte, with `wa + wb = 256`
/// (so the 16-bit sum cannot overflow).
fn blend(a: &[u8], b: &[u8], wa: u16, wb: u16, out: &mut [u8]) {
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
type Stretch2x = fn(&[u8], &mut [u8]);

/// The fused 2x kernel from `src` to `dst` layout, if there is one: 4-byte
/// sources are converted as whole `u32`s (shifts and masks the compiler
/// vectorises), 3-byte RGB with one unaligned load and a byte swap per
/// pixel.
fn stretch2x_kernel(src: PixelFormat, dst: PixelFormat) -> Option<Stretch2x> {
    match (src, dst) {
        (PixelFormat::Rgba8, PixelFormat::Xrgb32) => Some(rgba_to_xrgb_2x),
        (PixelFormat::Rgb8, PixelFormat::Xrgb32) => Some(rgb_to_xrgb_2x),
        _ => None,
    }
}

/// `0x00RRGGBB` from the little-endian `u32` of R, G, B, A bytes.
#[inline(always)]
fn rgba_le_to_xrgb(v: u32) -> u32 {
    ((v & 0xFF) << 16) | (v & 0xFF00) | ((v >> 16) & 0xFF)
}

fn rgba_to_xrgb_2x(src: &[u8], out: &mut [u8]) {
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

fn rgb_to_xrgb_2x(src: &[u8], out: &mut [u8]) {
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

/// The source rows (at most two when enlarging) and weights of output `i`.
fn nonzero_taps(axis: &Axis, i: usize) -> ([(usize, u16); 2], usize) {
    let mut taps = [(0, 0); 2];
    let mut n = 0;
    for (k, &w) in axis.weights_of(i).iter().enumerate() {
        if w != 0 && n < 2 {
            taps[n] = (axis.start[i] as usize + k, w);
            n += 1;
        }
    }
    (taps, n)
}

/// Stretches a row of `B`-byte pixels: each output pixel is a copy of one
/// input pixel or a blend of two (`pairs` from [`Axis::pairs`]).
fn stretch<const B: usize>(x: &Axis, row: &[u8], out: &mut [u8]) {
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
fn stretch_row(x: &Axis, conv_row: &[u8], bpp: usize, out: &mut [u8]) {
    if x.src == x.dst {
        out.copy_from_slice(&conv_row[..out.len()]);
    } else if bpp == 4 {
        stretch::<4>(x, conv_row, out);
    } else {
        stretch::<3>(x, conv_row, out);
    }
}

/// OpenCV `INTER_AREA` resizing in fixed point, converting between any two
/// [`PixelFormat`]s in the same pass (alpha is averaged like a colour
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

/// Exact area weights for shrinking by `P:Q` (`P > Q`, both small): for
/// each of the `Q` outputs of a group, the first of the group's `P` inputs
/// it covers and the numerators (over `P`) of up to four inputs' weights.
/// Every weight of an area shrink by `P:Q` is a whole number of `1/P`, so
/// these are exact.
const fn area_table<const P: usize, const Q: usize>() -> ([usize; Q], [[u16; 4]; Q]) {
    let mut starts = [0usize; Q];
    let mut weights = [[0u16; 4]; Q];
    let mut j = 0;
    while j < Q {
        // Output j covers [j*P, (j+1)*P) in units of 1/Q input.
        let (lo, hi) = (j * P, (j + 1) * P);
        let first = lo / Q;
        starts[j] = first;
        let mut k = 0;
        while k < 4 {
            let i = first + k;
            let a = if i * Q > lo { i * Q } else { lo };
            let b = if (i + 1) * Q < hi { (i + 1) * Q } else { hi };
            if b > a {
                weights[j][k] = (b - a) as u16;
            }
            k += 1;
        }
        j += 1;
    }
    (starts, weights)
}

/// Lanes of the horizontal shrink's vector of outputs: one group's
/// `QX * C` output samples (at most 5 * 4 = 20).
const LANES: usize = 32;

/// For each tap `k` and output lane `l = j * C + c` of a group: which input
/// sample of the group the tap reads and its weight (0 if output `j` has no
/// `k`-th tap), and whether any lane uses tap `k` at all.
#[allow(clippy::type_complexity)]
const fn lane_tables<const P: usize, const Q: usize, const C: usize>()
-> ([[usize; LANES]; 4], [[u16; LANES]; 4], [bool; 4]) {
    let (starts, weights) = area_table::<P, Q>();
    let mut idx = [[0usize; LANES]; 4];
    let mut w = [[0u16; LANES]; 4];
    let mut used = [false; 4];
    let mut k = 0;
    while k < 4 {
        let mut j = 0;
        while j < Q {
            let mut c = 0;
            while c < C {
                if weights[j][k] != 0 {
                    idx[k][j * C + c] = (starts[j] + k) * C + c;
                    w[k][j * C + c] = weights[j][k];
                    used[k] = true;
                }
                c += 1;
            }
            j += 1;
        }
        k += 1;
    }
    (idx, w, used)
}

/// Shrinks by `PX:QX` across and `PY:QY` down, `C` bytes per pixel (same
/// layout in and out), in exact integer arithmetic: the vertical pass sums
/// whole-number weights into 16 bits (at most 255 * PY), the horizontal pass
/// into at most 255 * PX * PY <= 16320, and one rounded division by the
/// constant PX * PY gives OpenCV's area average rounded to nearest.
///
/// The horizontal pass works a group (`PX` inputs -> `QX` outputs) at a
/// time: per tap it gathers each output lane's input into a small array
/// (indices are compile-time constants), then multiplies and adds whole
/// arrays, which the compiler turns into vector instructions.
fn shrink_exact<
    const PX: usize,
    const QX: usize,
    const PY: usize,
    const QY: usize,
    const C: usize,
>(
    src: &ImageRef<'_>,
    dst: &mut ImageMut<'_>,
    acc: &mut Vec<u16>,
) {
    let (idx, wl, used) = const { lane_tables::<PX, QX, C>() };
    let (starts_y, wy) = const { area_table::<PY, QY>() };
    let total = (PX * PY) as u16;
    let lanes = QX * C;
    acc.resize(src.width() as usize * C, 0);
    for y in 0..dst.height() as usize {
        let (g, j) = (y / QY, y % QY);
        vertical(src, (g * PY + starts_y[j]) as u32, &wy[j], acc);
        let out = dst.row_mut(y as u32);
        for (input, output) in acc.chunks_exact(PX * C).zip(out.chunks_exact_mut(lanes)) {
            let mut sum = [total / 2; LANES];
            for k in 0..4 {
                if !used[k] {
                    continue;
                }
                let mut tap = [0u16; LANES];
                for l in 0..lanes {
                    tap[l] = input[idx[k][l]];
                }
                for l in 0..LANES {
                    sum[l] += tap[l] * wl[k][l];
                }
            }
            for l in 0..lanes {
                output[l] = (sum[l] / total) as u8;
            }
        }
    }
}

type ShrinkKernel = fn(&ImageRef<'_>, &mut ImageMut<'_>, &mut Vec<u16>);

/// The exact kernel for this shrink, if its ratios are among the
/// specialised ones (8:5 and 6:5 are 640x480 -> 400x400; 4:3, 3:2 and 2:1
/// cover other common camera sizes) and the layout stays the same.
fn shrink_kernel(src: &ImageRef<'_>, dst: &ImageMut<'_>) -> Option<ShrinkKernel> {
    const RATIOS: [(u32, u32); 5] = [(8, 5), (6, 5), (4, 3), (3, 2), (2, 1)];
    if src.format() != dst.format() {
        return None;
    }
    let ratio = |s: u32, d: u32| {
        RATIOS
            .iter()
            .position(|&(p, q)| u64::from(s) * u64::from(q) == u64::from(d) * u64::from(p))
    };
    let rx = ratio(src.width(), dst.width())?;
    let ry = ratio(src.height(), dst.height())?;
    let c4 = src.format().bytes_per_pixel() == 4;
    macro_rules! pick {
        ($($px:literal $qx:literal),*; $ys:tt) => {{
            let mut k: Option<ShrinkKernel> = None;
            let mut i = 0;
            $(
                if rx == i { k = pick!(@y $px $qx; $ys); }
                i += 1;
            )*
            let _ = i;
            k
        }};
        (@y $px:literal $qx:literal; [$($py:literal $qy:literal),*]) => {{
            let mut k: Option<ShrinkKernel> = None;
            let mut i = 0;
            $(
                if ry == i {
                    k = Some(if c4 {
                        shrink_exact::<$px, $qx, $py, $qy, 4>
                    } else {
                        shrink_exact::<$px, $qx, $py, $qy, 3>
                    });
                }
                i += 1;
            )*
            let _ = i;
            k
        }};
    }
    pick!(8 5, 6 5, 4 3, 3 2, 2 1; [8 5, 6 5, 4 3, 3 2, 2 1])
}

/// No output row holds this source row.
const NOT_HELD: u32 = u32::MAX;

impl AreaResizer {
    /// Enlarging (or equal size) on both axes. With area-mode interpolation
    /// every output row is one source row converted and stretched, or a
    /// blend of two such rows; each is computed once, straight into the
    /// output, and the blends are made from those rows afterwards.
    fn enlarge(&mut self, src: &ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError> {
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

impl AreaResizer {
    /// The general path: per output row, a vertical pass into 16-bit sums,
    /// then a horizontal pass writing the destination layout.
    fn separable(&mut self, src: &ImageRef<'_>, dst: &mut ImageMut<'_>) -> Result<(), CodecError> {
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
    use super::*;
    use crate::ImageBuf;

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
