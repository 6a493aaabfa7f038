//! A JPEG's quality, read from its luminance quantization table: what
//! `/metrics` reports for a stream whose sender did not say.
//!
//! libjpeg (and so OpenCV, libjpeg-turbo, our encoder) scales the standard
//! table of the JPEG specification (Annex K) by `5000 / q` below quality
//! 50 and by `200 - 2q` above; averaging the table's ratio to the standard
//! one and inverting that gives the quality back (exactly for pictures
//! libjpeg made, approximately for other encoders' tables).

/// The standard luminance quantization table (JPEG Annex K.1), in the
/// zig-zag order a DQT segment stores it in.
const STANDARD_LUMINANCE: [u16; 64] = [
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37,
    29, 40, 58, 51, 61, 60, 57, 51, 56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81,
    87, 95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
];

/// The quality (1–100) `jpeg` was encoded at, from its first luminance
/// table; `None` when it has none before its picture data.
pub(crate) fn estimate(jpeg: &[u8]) -> Option<u8> {
    let table = luminance_table(jpeg)?;
    // Entries libjpeg clamped (to 1 at the top qualities, to 255 at the
    // bottom ones) no longer say the scale: left out while others are
    // there.
    let unclamped = |q: u16| (2..255).contains(&q);
    let all = !table.iter().any(|&q| unclamped(q));
    let (sum, n) = table
        .iter()
        .zip(STANDARD_LUMINANCE)
        .filter(|(q, _)| all || unclamped(**q))
        .fold((0.0, 0u32), |(sum, n), (&q, s)| {
            (sum + f64::from(q) * 100.0 / f64::from(s), n + 1)
        });
    let ratio = sum / f64::from(n.max(1));
    let quality = if ratio <= 100.0 {
        (200.0 - ratio) / 2.0
    } else {
        5000.0 / ratio
    };
    Some(quality.round().clamp(1.0, 100.0) as u8)
}

/// Table 0 of the first DQT segments, before the picture data starts.
fn luminance_table(jpeg: &[u8]) -> Option<[u16; 64]> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    loop {
        // A marker: 0xFF, its kind, then (for these) a 16-bit length.
        while *jpeg.get(i)? == 0xFF && *jpeg.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *jpeg.get(i)? != 0xFF {
            return None;
        }
        let kind = *jpeg.get(i + 1)?;
        let len = usize::from(u16::from_be_bytes([*jpeg.get(i + 2)?, *jpeg.get(i + 3)?]));
        let segment = jpeg.get(i + 4..i + 2 + len)?;
        match kind {
            // Start of scan: the tables come before it.
            0xDA => return None,
            0xDB => {
                let mut t = segment;
                while let Some(&pq_tq) = t.first() {
                    let wide = pq_tq >> 4 == 1;
                    let n = if wide { 128 } else { 64 };
                    let values = t.get(1..1 + n)?;
                    if pq_tq & 0x0F == 0 {
                        let mut table = [0u16; 64];
                        for (k, v) in table.iter_mut().enumerate() {
                            *v = if wide {
                                u16::from_be_bytes([values[2 * k], values[2 * k + 1]])
                            } else {
                                u16::from(values[k])
                            };
                        }
                        return Some(table);
                    }
                    t = &t[1 + n..];
                }
            }
            _ => {}
        }
        i += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use framecast_codec::{Encoder, ImageBuf, PixelFormat, TurboEncoder};

    use super::*;

    #[test]
    fn the_quality_a_picture_was_encoded_at_is_read_back() {
        let mut picture = ImageBuf::new(64, 48, PixelFormat::Rgb8);
        for (i, b) in picture.data_mut().iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        let mut encoder = TurboEncoder::new();
        for q in [10, 30, 50, 60, 75, 80, 90, 95, 100] {
            let mut jpeg = Vec::new();
            encoder.encode(picture.as_image(), q, &mut jpeg).unwrap();
            let got = estimate(&jpeg).unwrap();
            assert!(got.abs_diff(q) <= 1, "encoded at {q}, read {got}");
        }
    }

    #[test]
    fn what_is_not_a_jpeg_has_no_quality() {
        assert_eq!(estimate(b""), None);
        assert_eq!(estimate(b"\xFF\xD8"), None);
        assert_eq!(estimate(b"\xFF\xD8\xFF\xDA\x00\x02"), None);
        assert_eq!(estimate(b"\xFF\xD8\xFF\xDB\xFF\xFF"), None);
        assert_eq!(estimate(b"GIF89a"), None);
    }
}
