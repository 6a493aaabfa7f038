//! The synthetic test pattern: [`Pattern`] renders frame `n` of any size,
//! [`PatternSource`] streams it, [`decode_marker`] reads the frame number back
//! out of a received picture.
//!
//! Frame `n` is a pure function of `(n, width, height)`:
//!
//! ```text
//! +----------------------------------------------+
//! | marker band: 2 x 16 flat grey cells           |  top eighth: sequence number
//! | (4 grey levels = 2 bits each: 32-bit number  |  + 32-bit check, readable
//! |  and a 32-bit check)                          |  after JPEG and resizing
//! +----------------------------------------------+
//! |  gradient background + scrolling texture      |
//! |        (o) bouncing disk     [==] sliding bar |
//! | [12345] frame counter                         |
//! +----------------------------------------------+
//! ```
//!
//! The texture (value noise at three scales, fixed per size) gives JPEG
//! something realistic to chew on: at 400x400 a q95 frame is some tens of
//! kilobytes, like a webcam picture, where a flat test card would be a few.

use std::sync::Arc;

use framecast_image::{ImageBuf, ImageRef, PixelFormat};

use crate::{
    CaptureError, Clock, Frame, FrameKind, FrameSource, SourceFormat, SourceLimits, SystemClock,
};

/// Marker cells per row of the marker band.
pub const MARKER_COLUMNS: u32 = 16;
/// Rows of marker cells.
pub const MARKER_ROWS: u32 = 2;
/// The picture is divided into this many cell rows; the marker band takes
/// the top [`MARKER_ROWS`] of them.
const CELL_ROWS_PER_PICTURE: u32 = 16;
/// The grey levels of the marker cells, 2 bits each.
const MARKER_LEVELS: [u8; 4] = [0, 85, 170, 255];
/// A cell whose mean is further than this from every level is unreadable.
const MARKER_TOLERANCE: i32 = 36;
/// Mixed into the check word so that a plain grey ramp does not decode.
const MARKER_SALT: u32 = 0x5EED_CAFE;

/// Renders frames of the test pattern at one size. Creating one computes the
/// texture for that size once; rendering then allocates nothing.
///
/// ```
/// use framecast_capture::{Pattern, decode_marker};
/// use framecast_image::{ImageBuf, PixelFormat};
///
/// let pattern = Pattern::new(320, 240)?;
/// let mut a = ImageBuf::empty(PixelFormat::Rgb8);
/// let mut b = ImageBuf::empty(PixelFormat::Rgb8);
/// pattern.render(7, &mut a);
/// pattern.render(7, &mut b);
/// assert_eq!(a, b); // a pure function of (n, size)
/// assert_eq!(decode_marker(&a.as_image()), Some(7));
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    width: u32,
    height: u32,
    /// Signed luma detail added to the background, `width * height`.
    texture: Vec<i8>,
    /// Red ramp by column.
    red: Vec<u8>,
    /// Green ramp by row.
    green: Vec<u8>,
}

impl Pattern {
    /// A pattern of `width` x `height`, within the default [`SourceLimits`].
    pub fn new(width: u32, height: u32) -> Result<Self, CaptureError> {
        Self::with_limits(width, height, &SourceLimits::default())
    }

    /// A pattern of `width` x `height`, within `limits`.
    pub fn with_limits(
        width: u32,
        height: u32,
        limits: &SourceLimits,
    ) -> Result<Self, CaptureError> {
        limits.check_size(width, height)?;
        let (w, h) = (width as usize, height as usize);
        let mut texture = Vec::with_capacity(w * h);
        for y in 0..height {
            for x in 0..width {
                texture.push(texture_at(x, y));
            }
        }
        let ramp = |i: u32, n: u32| (u64::from(i) * 255 / u64::from(n.max(2) - 1)).min(255) as u8;
        Ok(Self {
            width,
            height,
            texture,
            red: (0..width).map(|x| ramp(x, width)).collect(),
            green: (0..height).map(|y| ramp(y, height)).collect(),
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Renders frame `seq` into `out`, reshaping it to this pattern's size in
    /// [`PixelFormat::Rgb8`] (which allocates only if `out` is too small).
    pub fn render(&self, seq: u64, out: &mut ImageBuf) {
        // The size was checked against the limits when `self` was made, and
        // a buffer of it was allocated for the texture: it cannot overflow.
        out.reshape(self.width, self.height, PixelFormat::Rgb8);
        let (w, h) = (self.width as usize, self.height as usize);
        let data = out.data_mut();
        self.background(seq, data);

        let min_side = w.min(h) as i64;
        // A disk bouncing off the walls, at different speeds in x and y.
        let r = (min_side / 8).max(1);
        let cx = r + bounce(seq * 3, (w as i64 - 2 * r).max(0) as u64) as i64;
        let cy = r + bounce(seq * 2, (h as i64 - 2 * r).max(0) as u64) as i64;
        self.fill_disk(data, cx, cy, r, [255, 140, 0]);
        // A bar sliding left to right across the middle, wrapping round.
        let (bw, bh) = ((w as i64 / 5).max(1), (h as i64 / 6).max(1));
        let bx = (seq.wrapping_mul(4) % (w as u64 + bw as u64)) as i64 - bw;
        let by = h as i64 / 2 - bh / 2;
        self.fill_rect(data, bx, by, bw, bh, [0, 150, 160]);
        self.draw_counter(data, seq);
        self.draw_marker(data, seq);
    }

    /// Gradient plus texture, scrolling one pixel per frame.
    fn background(&self, seq: u64, data: &mut [u8]) {
        let w = self.width as usize;
        let shift = (seq % w as u64) as usize;
        let blue_phase = (seq.wrapping_mul(3) % 512) as usize;
        for (y, row) in data.chunks_exact_mut(w * 3).enumerate() {
            let tex = &self.texture[y * w..(y + 1) * w];
            // The texture row, rotated left by `shift`: no per-pixel wrap.
            let scrolled = tex[shift..].iter().chain(&tex[..shift]);
            let g = self.green[y];
            let mut phase = (y + blue_phase) % 512;
            for ((px, &t), &r) in row.chunks_exact_mut(3).zip(scrolled).zip(&self.red) {
                let b = triangle(phase) as u8;
                px.copy_from_slice(&[
                    r.saturating_add_signed(t),
                    g.saturating_add_signed(t),
                    b.saturating_add_signed(t),
                ]);
                phase = (phase + 1) & 511;
            }
        }
    }

    fn fill_disk(&self, data: &mut [u8], cx: i64, cy: i64, r: i64, rgb: [u8; 3]) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for y in (cy - r).max(0)..(cy + r + 1).min(h) {
            let dy = y - cy;
            for x in (cx - r).max(0)..(cx + r + 1).min(w) {
                let dx = x - cx;
                if dx * dx + dy * dy <= r * r {
                    self.shade(data, x as usize, y as usize, rgb);
                }
            }
        }
    }

    fn fill_rect(&self, data: &mut [u8], x0: i64, y0: i64, rw: i64, rh: i64, rgb: [u8; 3]) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for y in y0.max(0)..(y0 + rh).min(h) {
            for x in x0.max(0)..(x0 + rw).min(w) {
                self.shade(data, x as usize, y as usize, rgb);
            }
        }
    }

    /// A shape's colour with half the texture, so shapes are not flat.
    fn shade(&self, data: &mut [u8], x: usize, y: usize, rgb: [u8; 3]) {
        let w = self.width as usize;
        let t = i16::from(self.texture[y * w + x]) / 2;
        let i = (y * w + x) * 3;
        for c in 0..3 {
            data[i + c] = clamp(i16::from(rgb[c]) + t);
        }
    }

    /// The frame number in decimal, white on black, bottom left.
    fn draw_counter(&self, data: &mut [u8], seq: u64) {
        let mut digits = [0u8; 20];
        let mut n = seq;
        let mut len = 0;
        loop {
            digits[len] = (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let scale = (h / 80).max(1);
        let (cell_w, cell_h) = (6 * scale, 9 * scale);
        let x0 = scale;
        let y0 = h - cell_h - scale;
        self.fill_solid(
            data,
            x0 - scale,
            y0 - scale,
            cell_w * len as i64 + scale * 2,
            cell_h + scale,
            [0, 0, 0],
        );
        for (i, &d) in digits[..len].iter().rev().enumerate() {
            let gx = x0 + i as i64 * cell_w;
            for (row, bits) in FONT[usize::from(d)].iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let px = gx + col * scale;
                        let py = y0 + scale + row as i64 * scale;
                        if px < w {
                            self.fill_solid(data, px, py, scale, scale, [255, 255, 255]);
                        }
                    }
                }
            }
        }
    }

    fn fill_solid(&self, data: &mut [u8], x0: i64, y0: i64, rw: i64, rh: i64, rgb: [u8; 3]) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for y in y0.max(0)..(y0 + rh).min(h) {
            let row = y as usize * w as usize * 3;
            for x in x0.max(0)..(x0 + rw).min(w) {
                let i = row + x as usize * 3;
                data[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }

    /// The marker band: flat grey cells encoding `seq` and its check word.
    fn draw_marker(&self, data: &mut [u8], seq: u64) {
        let word = marker_word(seq);
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        for i in 0..MARKER_ROWS * MARKER_COLUMNS {
            let symbol = (word >> (62 - 2 * i)) & 3;
            let level = MARKER_LEVELS[symbol as usize];
            let (col, row) = (i64::from(i % MARKER_COLUMNS), i64::from(i / MARKER_COLUMNS));
            let x0 = col * w / i64::from(MARKER_COLUMNS);
            let x1 = (col + 1) * w / i64::from(MARKER_COLUMNS);
            let y0 = row * h / i64::from(CELL_ROWS_PER_PICTURE);
            let y1 = (row + 1) * h / i64::from(CELL_ROWS_PER_PICTURE);
            self.fill_solid(data, x0, y0, x1 - x0, y1 - y0, [level; 3]);
        }
    }
}

/// Reads the frame number out of a picture of the test pattern, or `None` if
/// the picture carries no readable marker.
///
/// The marker is the top eighth of the picture: 2 x 16 flat grey cells, each
/// at one of 4 levels, holding the low 32 bits of the sequence number and a
/// 32-bit check word. Cells are found in proportion to the picture's size and
/// read by averaging their middle, so the marker survives JPEG compression
/// (tested at quality 80) and resizing to any size and aspect ratio (tested
/// 400x400 to 800x600), as long as each cell keeps about 4 x 4 pixels. The
/// result is the sequence number modulo 2^32. Any [`PixelFormat`] is read.
pub fn decode_marker(image: &ImageRef<'_>) -> Option<u64> {
    let (w, h) = (u64::from(image.width()), u64::from(image.height()));
    let (cols, rows) = (u64::from(MARKER_COLUMNS), u64::from(CELL_ROWS_PER_PICTURE));
    if w < cols * 2 || h < rows * 2 {
        return None;
    }
    let bpp = image.format().bytes_per_pixel();
    // Byte offsets of red, green and blue within a pixel; the marker is grey,
    // so only which bytes hold colour (not alpha or padding) matters.
    let colour: [usize; 3] = match image.format() {
        PixelFormat::Xrgb32 if cfg!(target_endian = "big") => [1, 2, 3],
        _ => [0, 1, 2],
    };
    let mut word = 0u64;
    for i in 0..u64::from(MARKER_ROWS * MARKER_COLUMNS) {
        let (col, row) = (i % cols, i / cols);
        // The middle half of the cell, at least one pixel.
        let (x0, x1) = (col * w / cols, (col + 1) * w / cols);
        let (y0, y1) = (row * h / rows, (row + 1) * h / rows);
        let (qx, qy) = ((x1 - x0) / 4, (y1 - y0) / 4);
        let (sx0, sx1) = (x0 + qx, (x1 - qx).max(x0 + qx + 1));
        let (sy0, sy1) = (y0 + qy, (y1 - qy).max(y0 + qy + 1));
        let mut sum = 0u64;
        let mut count = 0u64;
        for y in sy0..sy1 {
            let line = image.row(y as u32);
            for x in sx0..sx1 {
                let p = x as usize * bpp;
                sum += colour.iter().map(|&c| u64::from(line[p + c])).sum::<u64>();
                count += 3;
            }
        }
        let mean = (sum / count.max(1)) as i32;
        let (symbol, distance) = MARKER_LEVELS
            .iter()
            .enumerate()
            .map(|(s, &l)| (s as u64, (mean - i32::from(l)).abs()))
            .min_by_key(|&(_, d)| d)?;
        if distance > MARKER_TOLERANCE {
            return None;
        }
        word = (word << 2) | symbol;
    }
    let seq = (word >> 32) as u32;
    (marker_word(u64::from(seq)) == word).then_some(u64::from(seq))
}

/// The 64 bits the marker band carries for `seq`: its low 32 bits, then a
/// check word derived from them.
fn marker_word(seq: u64) -> u64 {
    let low = seq as u32;
    (u64::from(low) << 32) | u64::from(mix32(low ^ MARKER_SALT))
}

/// A 32-bit integer hash (the finaliser of MurmurHash3): every input bit
/// affects every output bit.
fn mix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Deterministic lattice noise in -1.0..=1.0 at integer point `(x, y)` of
/// octave `seed`.
fn lattice(x: u32, y: u32, seed: u32) -> i32 {
    let h = mix32(x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ seed);
    (h >> 24) as i32 - 128
}

/// Value noise of cell size `cell`, bilinearly interpolated, -128..=127.
fn value_noise(x: u32, y: u32, cell: u32, seed: u32) -> i32 {
    let (gx, gy) = (x / cell, y / cell);
    let (fx, fy) = ((x % cell) as i32, (y % cell) as i32);
    let c = cell as i32;
    let top = lattice(gx, gy, seed) * (c - fx) + lattice(gx + 1, gy, seed) * fx;
    let bottom = lattice(gx, gy + 1, seed) * (c - fx) + lattice(gx + 1, gy + 1, seed) * fx;
    (top * (c - fy) + bottom * fy) / (c * c)
}

/// The texture at `(x, y)`: coarse blobs, medium detail and fine grain, about
/// like a webcam picture's mix of frequencies.
fn texture_at(x: u32, y: u32) -> i8 {
    let coarse = value_noise(x, y, 24, 1) * 30 / 128;
    let medium = value_noise(x, y, 6, 2) * 18 / 128;
    let fine = lattice(x, y, 3) * 8 / 128;
    (coarse + medium + fine).clamp(-127, 127) as i8
}

/// Position along a back-and-forth path of length `span` at step `t`.
fn bounce(t: u64, span: u64) -> u64 {
    if span == 0 {
        return 0;
    }
    let p = t % (2 * span);
    if p < span { p } else { 2 * span - p }
}

/// 0..=255..=0 over 512 steps.
fn triangle(t: usize) -> i16 {
    if t < 256 { t as i16 } else { (511 - t) as i16 }
}

fn clamp(v: i16) -> u8 {
    v.clamp(0, 255) as u8
}

/// 5 x 7 bitmaps of the digits 0-9, one byte per row, bit 4 leftmost.
const FONT: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// The test pattern as a [`FrameSource`]: raw RGB frames 0, 1, 2, ... of a
/// [`Pattern`], stamped by its clock. Not paced: wrap it in
/// [`Paced`](crate::Paced) for a frame rate.
#[derive(Debug)]
pub struct PatternSource {
    pattern: Pattern,
    next_seq: u64,
    clock: Arc<dyn Clock>,
}

impl PatternSource {
    /// A pattern source of `width` x `height`, stamped by the system clock.
    pub fn new(width: u32, height: u32) -> Result<Self, CaptureError> {
        Self::with_limits(width, height, &SourceLimits::default())
    }

    /// A pattern source of `width` x `height` within `limits`.
    pub fn with_limits(
        width: u32,
        height: u32,
        limits: &SourceLimits,
    ) -> Result<Self, CaptureError> {
        Ok(Self {
            pattern: Pattern::with_limits(width, height, limits)?,
            next_seq: 0,
            clock: SystemClock::shared(),
        })
    }

    /// Stamps frames with `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts at frame `seq` instead of 0.
    pub fn starting_at(mut self, seq: u64) -> Self {
        self.next_seq = seq;
        self
    }

    /// The renderer, to compute the expected picture of any frame.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }
}

impl FrameSource for PatternSource {
    fn format(&self) -> SourceFormat {
        SourceFormat::new(
            self.pattern.width,
            self.pattern.height,
            FrameKind::Raw,
            PixelFormat::Rgb8,
            false,
        )
    }

    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        self.pattern.render(self.next_seq, frame.pixels_mut());
        frame.sequence = self.next_seq;
        frame.capture_time_us = self.clock.unix_time_us();
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn render(p: &Pattern, seq: u64) -> ImageBuf {
        let mut img = ImageBuf::empty(PixelFormat::Rgb8);
        p.render(seq, &mut img);
        img
    }

    #[test]
    fn same_frame_same_bytes_across_instances() {
        let a = Pattern::new(160, 120).unwrap();
        let b = Pattern::new(160, 120).unwrap();
        for seq in [0, 1, 99, u64::from(u32::MAX) + 5] {
            assert_eq!(render(&a, seq), render(&b, seq), "frame {seq}");
        }
    }

    #[test]
    fn consecutive_frames_differ_everywhere_things_move() {
        let p = Pattern::new(160, 120).unwrap();
        let (f0, f1) = (render(&p, 10), render(&p, 11));
        let changed = f0
            .data()
            .chunks_exact(3)
            .zip(f1.data().chunks_exact(3))
            .filter(|(a, b)| a != b)
            .count();
        // The background scrolls, so most pixels change, not just a few.
        assert!(changed > 160 * 120 / 2, "only {changed} pixels changed");
    }

    #[test]
    fn the_disk_moves() {
        let p = Pattern::new(200, 200).unwrap();
        let orange = |img: &ImageBuf| -> (u64, u64) {
            // Centroid of strongly orange pixels.
            let (mut sx, mut n) = (0u64, 0u64);
            for (i, px) in img.data().chunks_exact(3).enumerate() {
                if px[0] > 200 && px[1] > 90 && px[1] < 190 && px[2] < 60 {
                    sx += (i % 200) as u64;
                    n += 1;
                }
            }
            (sx / n.max(1), n)
        };
        let (x0, n0) = orange(&render(&p, 0));
        let (x20, n20) = orange(&render(&p, 20));
        assert!(n0 > 100 && n20 > 100, "disk not found: {n0} {n20}");
        assert!(x20 > x0 + 30, "disk did not move right: {x0} -> {x20}");
    }

    #[test]
    fn marker_round_trips_losslessly_at_many_sizes() {
        for (w, h) in [(32, 32), (64, 48), (400, 400), (641, 479)] {
            let p = Pattern::new(w, h).unwrap();
            for seq in [0, 1, 2, 12345, u64::from(u32::MAX)] {
                assert_eq!(
                    decode_marker(&render(&p, seq).as_image()),
                    Some(seq),
                    "{w}x{h} #{seq}"
                );
            }
        }
        // Only the low 32 bits are carried.
        let p = Pattern::new(64, 48).unwrap();
        assert_eq!(
            decode_marker(&render(&p, (1 << 32) + 9).as_image()),
            Some(9)
        );
    }

    #[test]
    fn non_pattern_pictures_have_no_marker() {
        let grey = ImageBuf::new(64, 64, PixelFormat::Rgb8);
        assert_eq!(decode_marker(&grey.as_image()), None);
        let mut ramp = ImageBuf::new(256, 64, PixelFormat::Rgb8);
        for (i, b) in ramp.data_mut().iter_mut().enumerate() {
            *b = ((i / 3) % 256) as u8;
        }
        assert_eq!(decode_marker(&ramp.as_image()), None);
        assert_eq!(
            decode_marker(&ImageBuf::new(8, 8, PixelFormat::Rgb8).as_image()),
            None
        );
        // A damaged cell is detected by the check word.
        let p = Pattern::new(64, 64).unwrap();
        let mut img = render(&p, 77);
        let cell = &mut img.data_mut()[(64 * 2 + 2) * 3..][..3];
        let flipped = if cell[0] > 128 { 0 } else { 255 };
        for y in 0..4 {
            for x in 0..4 {
                let i = (y * 64 + x) * 3;
                img.data_mut()[i..i + 3].fill(flipped);
            }
        }
        assert_eq!(decode_marker(&img.as_image()), None);
    }

    #[test]
    fn marker_reads_from_four_byte_formats() {
        let p = Pattern::new(64, 64).unwrap();
        let rgb = render(&p, 4242);
        let mut rgba = ImageBuf::new(64, 64, PixelFormat::Rgba8);
        for (d, s) in rgba
            .data_mut()
            .chunks_exact_mut(4)
            .zip(rgb.data().chunks_exact(3))
        {
            d[..3].copy_from_slice(s);
            d[3] = 255;
        }
        assert_eq!(decode_marker(&rgba.as_image()), Some(4242));
    }

    #[test]
    fn counter_is_drawn_in_the_corner() {
        let p = Pattern::new(160, 160).unwrap();
        let (a, b) = (render(&p, 1), render(&p, 8));
        // The counter box holds only black and white pixels, and "1" and "8"
        // differ there.
        let scale = 2;
        let y0 = 160 - 9 * scale - scale;
        let mut differs = false;
        for y in y0..y0 + 8 * scale {
            for x in scale..scale + 5 * scale {
                let i = ((y * 160 + x) * 3) as usize;
                for img in [&a, &b] {
                    let px = &img.data()[i..i + 3];
                    assert!(
                        px == [0, 0, 0] || px == [255, 255, 255],
                        "{px:?} at {x},{y}"
                    );
                }
                differs |= a.data()[i] != b.data()[i];
            }
        }
        assert!(differs);
    }

    #[test]
    fn source_streams_sequential_stamped_frames_into_one_buffer() {
        let clock = ManualClock::new(1_000);
        let mut src = PatternSource::new(64, 48)
            .unwrap()
            .with_clock(Arc::new(clock.clone()))
            .starting_at(5);
        let mut frame = Frame::default();
        src.next_frame(&mut frame).unwrap();
        let ptr = frame.pixels().unwrap().data().as_ptr();
        clock.advance(std::time::Duration::from_micros(40));
        src.next_frame(&mut frame).unwrap();
        assert_eq!(frame.sequence, 6);
        assert_eq!(frame.capture_time_us, 1_040);
        assert_eq!(
            (frame.width(), frame.height(), frame.kind()),
            (64, 48, FrameKind::Raw)
        );
        assert_eq!(
            frame.pixels().unwrap().data().as_ptr(),
            ptr,
            "buffer was reallocated"
        );
        assert_eq!(
            frame.pixels().unwrap().data(),
            render(src.pattern(), 6).data()
        );
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(matches!(
            Pattern::new(0, 10),
            Err(CaptureError::InvalidSize { .. })
        ));
        assert!(matches!(
            Pattern::new(10, 1 << 20),
            Err(CaptureError::InvalidSize { .. })
        ));
        // Tiny pictures render (everything clipped) and carry no readable
        // marker.
        for (w, h) in [(1, 1), (2, 3), (17, 5), (5, 17)] {
            let img = render(&Pattern::new(w, h).unwrap(), 123);
            assert_eq!(img.data().len(), (w * h * 3) as usize);
            assert_eq!(decode_marker(&img.as_image()), None);
        }
    }
}
