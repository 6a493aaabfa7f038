//! Camera pixel layouts to RGB, written here rather than taken from nokhwa
//! (whose decoders pull in C code and allocate per frame). Pure functions,
//! tested without a camera.
//!
//! YUV is converted with the BT.601 limited-range integer formulas (what
//! webcams send, and what libjpeg and OpenCV use):
//! `R = 1.164(Y-16) + 1.596(V-128)`, `G = 1.164(Y-16) - 0.392(U-128) - 0.813(V-128)`,
//! `B = 1.164(Y-16) + 2.017(U-128)`, in 8.8 fixed point.

/// The uncompressed layouts a camera may deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawLayout {
    /// 4:2:2 packed, `Y0 U Y1 V` per two pixels.
    Yuyv,
    /// 4:2:0, a Y plane then an interleaved `U V` plane at half size.
    Nv12,
    /// Packed `R G B`.
    Rgb,
    /// Packed `B G R`.
    Bgr,
    /// One grey byte per pixel.
    Grey,
}

impl RawLayout {
    /// The layout's name as cameras list it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::Rgb => "RGB3",
            Self::Bgr => "BGR3",
            Self::Grey => "GREY",
        }
    }

    /// Bytes in one packed `width` x `height` frame.
    pub(crate) fn frame_len(self, width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        match self {
            Self::Yuyv => w.div_ceil(2) * 4 * h,
            Self::Nv12 => w * h + w.div_ceil(2) * 2 * h.div_ceil(2),
            Self::Rgb | Self::Bgr => w * h * 3,
            Self::Grey => w * h,
        }
    }

    /// Converts one frame to packed RGB in `dst` (`width * height * 3`
    /// bytes). `src` must hold at least [`RawLayout::frame_len`] bytes; the
    /// caller checks.
    pub(crate) fn to_rgb(self, src: &[u8], width: u32, height: u32, dst: &mut [u8]) {
        let (w, h) = (width as usize, height as usize);
        match self {
            Self::Rgb => dst.copy_from_slice(&src[..w * h * 3]),
            Self::Bgr => {
                for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                    d.copy_from_slice(&[s[2], s[1], s[0]]);
                }
            }
            Self::Grey => {
                for (d, &g) in dst.chunks_exact_mut(3).zip(src) {
                    d.fill(g);
                }
            }
            Self::Yuyv => {
                let src_row = w.div_ceil(2) * 4;
                for (y, out) in dst.chunks_exact_mut(w * 3).enumerate() {
                    let row = &src[y * src_row..(y + 1) * src_row];
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        let quad = &row[(x / 2) * 4..(x / 2) * 4 + 4];
                        let luma = if x % 2 == 0 { quad[0] } else { quad[2] };
                        px.copy_from_slice(&yuv_to_rgb(luma, quad[1], quad[3]));
                    }
                }
            }
            Self::Nv12 => {
                let (luma, chroma) = src.split_at(w * h);
                let chroma_row = w.div_ceil(2) * 2;
                for (y, out) in dst.chunks_exact_mut(w * 3).enumerate() {
                    let uv = &chroma[(y / 2) * chroma_row..];
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        let c = (x / 2) * 2;
                        px.copy_from_slice(&yuv_to_rgb(luma[y * w + x], uv[c], uv[c + 1]));
                    }
                }
            }
        }
    }
}

/// One BT.601 limited-range YUV sample to RGB.
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuv_reference_colours() {
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
        // BT.601 limited-range pure red, green and blue, to within rounding.
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 2);
        assert!(
            close(yuv_to_rgb(81, 90, 240), [255, 0, 0]),
            "{:?}",
            yuv_to_rgb(81, 90, 240)
        );
        assert!(
            close(yuv_to_rgb(145, 54, 34), [0, 255, 0]),
            "{:?}",
            yuv_to_rgb(145, 54, 34)
        );
        assert!(
            close(yuv_to_rgb(41, 240, 110), [0, 0, 255]),
            "{:?}",
            yuv_to_rgb(41, 240, 110)
        );
    }

    #[test]
    fn yuyv_shares_chroma_between_pixel_pairs() {
        // 2x1: black then white, neutral chroma.
        let src = [16, 128, 235, 128];
        let mut dst = [0u8; 6];
        RawLayout::Yuyv.to_rgb(&src, 2, 1, &mut dst);
        assert_eq!(dst, [0, 0, 0, 255, 255, 255]);
        assert_eq!(RawLayout::Yuyv.frame_len(640, 480), 640 * 480 * 2);
        // Odd widths round up to whole pixel pairs.
        assert_eq!(RawLayout::Yuyv.frame_len(3, 1), 8);
        let mut dst = [0u8; 9];
        RawLayout::Yuyv.to_rgb(&[16, 128, 16, 128, 235, 128, 0, 128], 3, 1, &mut dst);
        assert_eq!(dst, [0, 0, 0, 0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn nv12_reads_the_half_size_chroma_plane() {
        // 2x2 grey Y, one chroma sample that makes it red.
        let src = [81, 81, 81, 81, 90, 240];
        let mut dst = [0u8; 12];
        RawLayout::Nv12.to_rgb(&src, 2, 2, &mut dst);
        for px in dst.chunks_exact(3) {
            assert!(px[0] > 250 && px[1] < 5 && px[2] < 5, "{px:?}");
        }
        assert_eq!(RawLayout::Nv12.frame_len(2, 2), 6);
    }

    #[test]
    fn packed_layouts() {
        let mut dst = [0u8; 6];
        RawLayout::Bgr.to_rgb(&[1, 2, 3, 4, 5, 6], 2, 1, &mut dst);
        assert_eq!(dst, [3, 2, 1, 6, 5, 4]);
        RawLayout::Rgb.to_rgb(&[1, 2, 3, 4, 5, 6], 2, 1, &mut dst);
        assert_eq!(dst, [1, 2, 3, 4, 5, 6]);
        RawLayout::Grey.to_rgb(&[7, 9], 2, 1, &mut dst);
        assert_eq!(dst, [7, 7, 7, 9, 9, 9]);
    }
}
