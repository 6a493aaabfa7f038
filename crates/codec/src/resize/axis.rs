//! The weights of one axis: which source samples each output sample reads
//! and how much, in 8-bit fixed point, for OpenCV's `INTER_AREA` (shrinking:
//! area averages; enlarging: area-mode interpolation).

/// Fixed-point weight of a whole source sample.
pub(super) const ONE: u16 = 256;

/// The weights of one axis, for one (source, destination) length pair.
#[derive(Debug, Clone, Default)]
pub(super) struct Axis {
    pub(super) src: u32,
    pub(super) dst: u32,
    /// Taps per output sample (the same for all, unused ones weigh 0).
    pub(super) taps: usize,
    /// First source sample of each output sample.
    pub(super) start: Vec<u32>,
    /// `taps` weights per output sample, summing to [`ONE`].
    pub(super) weights: Vec<u16>,
    /// When no output reads more than two inputs (enlarging): per output,
    /// the two inputs and the second one's weight (0 for a plain copy).
    pub(super) pairs: Vec<(u32, u32, u16)>,
}

impl Axis {
    /// Computes the weights, unless they are already those for `src -> dst`.
    /// Only the first plan for a larger size allocates.
    pub(super) fn plan(&mut self, src: u32, dst: u32) {
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

    pub(super) fn weights_of(&self, i: usize) -> &[u16] {
        &self.weights[i * self.taps..(i + 1) * self.taps]
    }
}

/// The first source sample output `i` reads and how many it reads, in
/// exact integer arithmetic (floating point would add slivers of weight
/// and an extra tap at the edges of the 8:5 pattern).
pub(super) fn span(src: u32, dst: u32, i: u32) -> (usize, usize) {
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
pub(super) fn upscale(src: u32, dst: u32, i: u32) -> (usize, f64) {
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
pub(super) fn exact_weight(src: u32, dst: u32, i: u32, j: usize) -> f64 {
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

/// The source rows (at most two when enlarging) and weights of output `i`.
pub(super) fn nonzero_taps(axis: &Axis, i: usize) -> ([(usize, u16); 2], usize) {
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
