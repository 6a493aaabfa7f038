//! Pixel plumbing shared by the sinks: format conversion with nearest-
//! neighbour scaling into `0x00RRGGBB` pictures, rectangle fills and label
//! text.
//!
//! Decoding and high-quality scaling of received frames is the codec
//! crate's job; this module only moves already-decoded pixels into a
//! window-sized buffer (tiles, letterboxing, a picture that arrived before
//! a resize).

use framecast_image::{ImageMut, ImageRef, PixelFormat};

/// A rectangle in a picture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Rect {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Rect {
    pub(crate) fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// The largest rectangle with the aspect ratio `src_w:src_h` that fits
    /// in `self`, centred (the letterbox).
    pub(crate) fn fit_aspect(&self, src_w: u32, src_h: u32) -> Rect {
        if src_w == 0 || src_h == 0 || self.is_empty() {
            return Rect {
                width: 0,
                height: 0,
                ..*self
            };
        }
        // The sender's own fit, so that a picture sent fitted in a box
        // and one shown fitted in a tile come out the same shape.
        let (w, h) = framecast_codec::fit_within(src_w, src_h, self.width, self.height);
        Rect {
            x: self.x + (self.width - w) / 2,
            y: self.y + (self.height - h) / 2,
            width: w,
            height: h,
        }
    }

    /// Clips `self` to a `width` x `height` picture.
    pub(crate) fn clip(&self, width: u32, height: u32) -> Rect {
        let x = self.x.min(width);
        let y = self.y.min(height);
        Rect {
            x,
            y,
            width: self.width.min(width - x),
            height: self.height.min(height - y),
        }
    }
}

/// Reads one pixel of `format` as `0x00RRGGBB`.
#[inline]
fn to_xrgb(format: PixelFormat, px: &[u8]) -> u32 {
    let rgb = |r: u8, g: u8, b: u8| (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b);
    match format {
        PixelFormat::Rgb8 | PixelFormat::Rgba8 => rgb(px[0], px[1], px[2]),
        PixelFormat::Bgra8 => rgb(px[2], px[1], px[0]),
        PixelFormat::Xrgb32 => u32::from_ne_bytes([px[0], px[1], px[2], px[3]]) & 0x00ff_ffff,
        // PixelFormat is non-exhaustive; a future format shows as magenta
        // rather than failing (callers check `supported` first).
        _ => 0x00ff_00ff,
    }
}

/// Whether [`blit_scaled`] reads `format`.
pub(crate) fn supported(format: PixelFormat) -> bool {
    matches!(
        format,
        PixelFormat::Rgb8 | PixelFormat::Rgba8 | PixelFormat::Bgra8 | PixelFormat::Xrgb32
    )
}

/// Draws `src` into `rect` of the `Xrgb32` picture `dst`, converting the
/// pixel format and scaling with nearest neighbour. Parts of `rect` outside
/// `dst` are skipped. Allocates nothing.
pub(crate) fn blit_scaled(src: &ImageRef<'_>, dst: &mut ImageMut<'_>, rect: Rect) {
    debug_assert_eq!(dst.format(), PixelFormat::Xrgb32);
    let clipped = rect.clip(dst.width(), dst.height());
    if clipped.is_empty() || src.width() == 0 || src.height() == 0 || !supported(src.format()) {
        return;
    }
    let bpp = src.format().bytes_per_pixel();
    let (sw, sh) = (u64::from(src.width()), u64::from(src.height()));
    let (rw, rh) = (u64::from(rect.width), u64::from(rect.height));
    let same_size = rw == sw && rh == sh;
    for y in clipped.y..clipped.y + clipped.height {
        // Sample at pixel centres: (d + 0.5) * s / r, in integers.
        let sy = ((2 * u64::from(y - rect.y) + 1) * sh / (2 * rh)) as u32;
        let src_row = src.row(sy.min(src.height() - 1));
        let dst_row = dst.row_mut(y);
        let start = clipped.x as usize * 4;
        let out = &mut dst_row[start..start + clipped.width as usize * 4];
        if same_size && src.format() == PixelFormat::Xrgb32 {
            let from = (clipped.x - rect.x) as usize * 4;
            out.copy_from_slice(&src_row[from..from + out.len()]);
            continue;
        }
        for (i, px) in out.chunks_exact_mut(4).enumerate() {
            let dx = u64::from(clipped.x - rect.x) + i as u64;
            let sx = (((2 * dx + 1) * sw / (2 * rw)) as usize).min(src.width() as usize - 1);
            let v = to_xrgb(src.format(), &src_row[sx * bpp..sx * bpp + bpp]);
            px.copy_from_slice(&v.to_ne_bytes());
        }
    }
}

/// Fills `rect` of the `Xrgb32` picture `dst` with `colour` (`0x00RRGGBB`).
pub(crate) fn fill(dst: &mut ImageMut<'_>, rect: Rect, colour: u32) {
    let clipped = rect.clip(dst.width(), dst.height());
    let bytes = colour.to_ne_bytes();
    for y in clipped.y..clipped.y + clipped.height {
        let row = dst.row_mut(y);
        let start = clipped.x as usize * 4;
        for px in row[start..start + clipped.width as usize * 4].chunks_exact_mut(4) {
            px.copy_from_slice(&bytes);
        }
    }
}

/// Height of a line of label text, in pixels (8x8 glyphs plus a margin).
pub(crate) const LABEL_HEIGHT: u32 = 12;

/// Draws `text` at (`x`, `y`) on a dark box, in 8x8 glyphs, clipped to
/// `dst` and to `max_width` pixels. Characters without a glyph show as `?`.
/// Allocates nothing.
pub(crate) fn draw_label(dst: &mut ImageMut<'_>, x: u32, y: u32, max_width: u32, text: &str) {
    let chars = text.chars().count() as u32;
    let box_w = (chars * 8 + 4).min(max_width);
    fill(
        dst,
        Rect {
            x,
            y,
            width: box_w,
            height: LABEL_HEIGHT,
        },
        0x0020_2020,
    );
    let (w, h) = (dst.width(), dst.height());
    for (i, c) in text.chars().enumerate() {
        let gx = x + 2 + i as u32 * 8;
        if gx + 8 > x + box_w {
            break;
        }
        let ascii = if c.is_ascii() && !c.is_ascii_control() {
            c as usize
        } else {
            usize::from(b'?')
        };
        let glyph = font8x8::legacy::BASIC_LEGACY[ascii];
        for (gy, bits) in glyph.iter().enumerate() {
            let py = y + 2 + gy as u32;
            if py >= h {
                break;
            }
            let row = dst.row_mut(py);
            for bit in 0..8u32 {
                let px = gx + bit;
                // font8x8 stores the leftmost pixel in bit 0.
                if px < w && bits & (1 << bit) != 0 {
                    let at = px as usize * 4;
                    row[at..at + 4].copy_from_slice(&0x00ff_ffffu32.to_ne_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use framecast_image::ImageBuf;

    use super::*;

    fn xrgb_at(img: &ImageBuf, x: u32, y: u32) -> u32 {
        let at = (y as usize * img.width() as usize + x as usize) * 4;
        let d = img.data();
        u32::from_ne_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
    }

    #[test]
    fn fit_aspect_letterboxes_and_pillarboxes() {
        let area = Rect {
            x: 0,
            y: 0,
            width: 800,
            height: 600,
        };
        // 1:1 in 4:3: bars left and right.
        assert_eq!(
            area.fit_aspect(400, 400),
            Rect {
                x: 100,
                y: 0,
                width: 600,
                height: 600
            }
        );
        // 16:9 in 4:3: bars top and bottom.
        assert_eq!(
            area.fit_aspect(1600, 900),
            Rect {
                x: 0,
                y: 75,
                width: 800,
                height: 450
            }
        );
        assert_eq!(area.fit_aspect(4, 3), area);
        assert!(area.fit_aspect(0, 3).is_empty());
    }

    #[test]
    fn blit_converts_and_scales_2x() {
        // 2x2 RGB: red, green / blue, white.
        let src = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        let src = ImageRef::new(2, 2, PixelFormat::Rgb8, &src).unwrap();
        let mut dst = ImageBuf::new(6, 4, PixelFormat::Xrgb32);
        blit_scaled(
            &src,
            &mut dst.as_image_mut(),
            Rect {
                x: 1,
                y: 0,
                width: 4,
                height: 4,
            },
        );
        assert_eq!(xrgb_at(&dst, 0, 0), 0);
        assert_eq!(xrgb_at(&dst, 1, 0), 0xff0000);
        assert_eq!(xrgb_at(&dst, 2, 1), 0xff0000);
        assert_eq!(xrgb_at(&dst, 3, 1), 0x00ff00);
        assert_eq!(xrgb_at(&dst, 4, 3), 0xffffff);
        assert_eq!(xrgb_at(&dst, 1, 2), 0x0000ff);
        assert_eq!(xrgb_at(&dst, 5, 3), 0);
    }

    #[test]
    fn blit_clips_to_the_destination() {
        let src = ImageBuf::new(3, 3, PixelFormat::Bgra8);
        let mut dst = ImageBuf::new(4, 4, PixelFormat::Xrgb32);
        // Mostly outside: must neither panic nor write out of bounds.
        blit_scaled(
            &src.as_image(),
            &mut dst.as_image_mut(),
            Rect {
                x: 3,
                y: 3,
                width: 10,
                height: 10,
            },
        );
        blit_scaled(
            &src.as_image(),
            &mut dst.as_image_mut(),
            Rect {
                x: 9,
                y: 9,
                width: 10,
                height: 10,
            },
        );
    }

    #[test]
    fn labels_draw_white_glyphs_on_a_dark_box() {
        let mut dst = ImageBuf::new(40, 16, PixelFormat::Xrgb32);
        draw_label(&mut dst.as_image_mut(), 0, 0, 40, "I");
        let lit = (0..16)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .filter(|&(x, y)| xrgb_at(&dst, x, y) == 0xffffff)
            .count();
        assert!(lit > 5, "{lit} lit pixels");
        assert_eq!(xrgb_at(&dst, 0, 0), 0x202020);
        assert_eq!(xrgb_at(&dst, 30, 0), 0);
    }
}
