//! Test and bench helpers: the committed natural images and a frame
//! sequence made from them.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use framecast_codec::{ImageBuf, PixelFormat};

/// Frames in [`natural_frames`].
pub const FRAMES: usize = 32;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Loads one of the committed 8-bit RGB PNGs.
pub fn load_png(name: &str) -> ImageBuf {
    let file = std::fs::File::open(testdata(name)).expect("committed test image");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb, "{name} is RGB");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    ImageBuf::from_vec(info.width, info.height, PixelFormat::Rgb8, buf).expect("layout")
}

/// The two natural images, each 640x480.
pub fn natural_images() -> [ImageBuf; 2] {
    [
        load_png("bunny_640x480.png"),
        load_png("motorcycle_640x480.png"),
    ]
}

/// [`FRAMES`] natural 640x480 RGB frames: a 640x480 window panning across
/// the two images side by side (a 1280x480 strip), 20 pixels a frame.
pub fn natural_frames() -> Vec<ImageBuf> {
    let [a, b] = natural_images();
    let (w, h) = (640usize, 480usize);
    (0..FRAMES)
        .map(|i| {
            let x0 = i * 20;
            let mut data = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in x0..x0 + w {
                    let (img, xx) = if x < w { (&a, x) } else { (&b, x - w) };
                    let at = (y * w + xx) * 3;
                    data.extend_from_slice(&img.data()[at..at + 3]);
                }
            }
            ImageBuf::from_vec(w as u32, h as u32, PixelFormat::Rgb8, data).expect("layout")
        })
        .collect()
}

/// Peak signal-to-noise ratio between two same-sized pictures, in dB.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// Mean and maximum absolute difference per channel.
pub fn abs_diff(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len());
    let mut sum = 0u64;
    let mut max = 0u8;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        sum += u64::from(d);
        max = max.max(d);
    }
    (sum as f64 / a.len() as f64, max)
}
