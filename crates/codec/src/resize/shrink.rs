//! Exact shrinks by small ratios (8:5, 6:5, 4:3, 3:2, 2:1 on each axis,
//! same layout in and out): whole-number weights and one rounded division,
//! vectorised a group of outputs at a time.

use super::separable::vertical;
use crate::{ImageMut, ImageRef};

/// Exact area weights for shrinking by `P:Q` (`P > Q`, both small): for
/// each of the `Q` outputs of a group, the first of the group's `P` inputs
/// it covers and the numerators (over `P`) of up to four inputs' weights.
/// Every weight of an area shrink by `P:Q` is a whole number of `1/P`, so
/// these are exact.
pub(super) const fn area_table<const P: usize, const Q: usize>() -> ([usize; Q], [[u16; 4]; Q]) {
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
pub(super) const LANES: usize = 32;

/// For each tap `k` and output lane `l = j * C + c` of a group: which input
/// sample of the group the tap reads and its weight (0 if output `j` has no
/// `k`-th tap), and whether any lane uses tap `k` at all.
#[allow(clippy::type_complexity)]
pub(super) const fn lane_tables<const P: usize, const Q: usize, const C: usize>()
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
pub(super) fn shrink_exact<
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

pub(super) type ShrinkKernel = fn(&ImageRef<'_>, &mut ImageMut<'_>, &mut Vec<u16>);

/// The exact kernel for this shrink, if its ratios are among the
/// specialised ones (8:5 and 6:5 are 640x480 -> 400x400; 4:3, 3:2 and 2:1
/// cover other common camera sizes) and the layout stays the same.
pub(super) fn shrink_kernel(src: &ImageRef<'_>, dst: &ImageMut<'_>) -> Option<ShrinkKernel> {
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
