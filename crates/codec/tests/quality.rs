//! Quality evidence on natural images: sizes and PSNR at the original
//! program's settings, the area resize against an exact reference, and the
//! two encoders against each other.

mod common;

use common::{abs_diff, natural_frames, natural_images, psnr};
use framecast_codec::{
    AreaResizer, Decoder, Encoder, ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline,
    Resizer, SenderConfig, SenderPipeline, Subsampling, TurboEncoder, ZuneDecoder, probe_jpeg,
};

/// What OpenCV 5.0 (libjpeg-turbo inside) gives on the same 32 frames:
/// mean JPEG size and PSNR at 400x400, quality 95 and 80. Produced by
/// `tests/reference/opencv_quality.py`. (The 68.4 KB / 40.04 dB quoted for
/// OpenCV in the project's issue were measured on another, smoother frame
/// set; on these frames, which include a detailed photograph, OpenCV itself
/// gives 73.7 KB and 37.76 dB, so the comparison is made against OpenCV on
/// the same pixels.)
const OPENCV_Q95_BYTES: f64 = 73_701.8;
const OPENCV_Q95_DB: f64 = 37.756;
const OPENCV_Q80_DB: f64 = 33.909;
/// How far below OpenCV's PSNR we may be: the issue allows 40.04 -> 39.5.
const PSNR_SLACK_DB: f64 = 0.5;

fn resize_all(frames: &[ImageBuf], w: u32, h: u32) -> Vec<ImageBuf> {
    let mut resizer = AreaResizer::new();
    frames
        .iter()
        .map(|f| {
            let mut out = ImageBuf::new(w, h, PixelFormat::Rgb8);
            resizer
                .resize(f.as_image(), &mut out.as_image_mut())
                .unwrap();
            out
        })
        .collect()
}

/// Mean size and mean PSNR (decoded against the encoder's input).
fn encode_stats(enc: &mut dyn Encoder, pictures: &[ImageBuf], quality: u8) -> (f64, f64) {
    let mut dec = ZuneDecoder::default();
    let mut jpeg = Vec::new();
    let mut back = ImageBuf::default();
    let (mut bytes, mut db) = (0.0, 0.0);
    for p in pictures {
        enc.encode(p.as_image(), quality, &mut jpeg).unwrap();
        let info = probe_jpeg(&jpeg).unwrap();
        assert_eq!(
            info.subsampling,
            Subsampling::Yuv420,
            "4:2:0 at every quality"
        );
        dec.decode(&jpeg, &mut back).unwrap();
        bytes += jpeg.len() as f64;
        db += psnr(p.data(), back.data());
    }
    let n = pictures.len() as f64;
    (bytes / n, db / n)
}

#[test]
fn sizes_and_psnr_match_opencv_on_the_same_frames() {
    let small = resize_all(&natural_frames(), 400, 400);
    let (bytes, db) = encode_stats(&mut TurboEncoder::new(), &small, 95);
    println!("q95: {bytes:.0} bytes, {db:.2} dB");
    let off = (bytes - OPENCV_Q95_BYTES).abs() / OPENCV_Q95_BYTES;
    assert!(
        off <= 0.02,
        "q95 mean size {bytes:.0} is {:.1} % off",
        off * 100.0
    );
    assert!(db >= OPENCV_Q95_DB - PSNR_SLACK_DB, "q95 PSNR {db:.2} dB");
    let (bytes80, db80) = encode_stats(&mut TurboEncoder::new(), &small, 80);
    println!("q80: {bytes80:.0} bytes, {db80:.2} dB");
    assert!(
        db80 >= OPENCV_Q80_DB - PSNR_SLACK_DB,
        "q80 PSNR {db80:.2} dB"
    );
    assert!(bytes80 < bytes * 0.7, "q80 must be markedly smaller");
}

/// Exact `INTER_AREA` shrink in floating point: each output pixel is the
/// mean of the source area it covers, partial pixels weighted by coverage.
fn box_reference(src: &ImageBuf, w: u32, h: u32) -> Vec<u8> {
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    let (sx, sy) = (sw / f64::from(w), sh / f64::from(h));
    let weights = |i: u32, scale: f64, len: f64| -> Vec<(usize, f64)> {
        let (a, b) = (f64::from(i) * scale, (f64::from(i) + 1.0) * scale);
        let mut out = Vec::new();
        let mut j = a.floor();
        while j < b.min(len) {
            let cover = (b.min(j + 1.0) - a.max(j)) / scale;
            if cover > 0.0 {
                out.push((j as usize, cover));
            }
            j += 1.0;
        }
        out
    };
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        let wy = weights(y, sy, sh);
        for x in 0..w {
            let wx = weights(x, sx, sw);
            for c in 0..3 {
                let mut v = 0.0;
                for &(yy, fy) in &wy {
                    for &(xx, fx) in &wx {
                        let at = (yy * src.width() as usize + xx) * 3 + c;
                        v += f64::from(src.data()[at]) * fx * fy;
                    }
                }
                out.push(v.round() as u8);
            }
        }
    }
    out
}

/// The area resize keeps 8 fractional bits per axis weight (so 16-bit
/// sums cannot overflow). Each weight is then off by at most 1/512 plus the
/// share of the rounding correction, and since the errors sum to zero the
/// output error is bounded by those weight errors times the local contrast:
/// worst case about one level per axis at a hard black/white edge, and far
/// less on average. Hence: at most 2 levels anywhere, under 0.1 on average.
#[test]
fn area_downscale_matches_the_box_average_reference() {
    let mut resizer = AreaResizer::new();
    for img in natural_images() {
        for (w, h) in [(400, 400), (320, 240), (213, 161)] {
            let mut out = ImageBuf::new(w, h, PixelFormat::Rgb8);
            resizer
                .resize(img.as_image(), &mut out.as_image_mut())
                .unwrap();
            let (mean, max) = abs_diff(out.data(), &box_reference(&img, w, h));
            println!("{w}x{h}: mean {mean:.4}, max {max}");
            assert!(max <= 2 && mean < 0.1, "{w}x{h}: mean {mean}, max {max}");
        }
    }
}

#[cfg(feature = "jpeg-encoder")]
#[test]
fn both_encoders_decode_to_the_same_picture() {
    use framecast_codec::JpegEncoderEncoder;
    let small = resize_all(&natural_frames()[..4], 400, 400);
    let (mut turbo, mut alt) = (TurboEncoder::new(), JpegEncoderEncoder::new());
    let mut dec = ZuneDecoder::default();
    let (mut a, mut b) = (ImageBuf::default(), ImageBuf::default());
    let mut jpeg = Vec::new();
    for p in &small {
        turbo.encode(p.as_image(), 95, &mut jpeg).unwrap();
        dec.decode(&jpeg, &mut a).unwrap();
        alt.encode(p.as_image(), 95, &mut jpeg).unwrap();
        assert_eq!(probe_jpeg(&jpeg).unwrap().subsampling, Subsampling::Yuv420);
        dec.decode(&jpeg, &mut b).unwrap();
        // Same quantisation tables and sampling; the encoders differ only in
        // DCT rounding and colour-conversion arithmetic, so the pictures
        // differ by rounding noise, far below the coding error (~40 dB).
        let (mean, max) = abs_diff(a.data(), b.data());
        let db = psnr(a.data(), b.data());
        println!("turbo vs jpeg-encoder: mean {mean:.3}, max {max}, {db:.1} dB");
        assert!(mean < 1.0 && db > 45.0, "mean {mean}, {db} dB");
    }
}

#[test]
fn receiver_shows_what_the_sender_sent_in_every_format() {
    let frames = natural_frames();
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut jpeg = Vec::new();
    let mut rgb = ImageBuf::default();
    let mut other = ImageBuf::default();
    for frame in frames.iter().step_by(8) {
        sender.encode(frame.as_image(), &mut jpeg).unwrap();
        receiver
            .decode_to(&jpeg, 800, 600, PixelFormat::Rgb8, &mut rgb)
            .unwrap();
        // Against the source frame scaled the same way: only coding noise.
        let mut want = ImageBuf::new(800, 600, PixelFormat::Rgb8);
        AreaResizer::new()
            .resize(frame.as_image(), &mut want.as_image_mut())
            .unwrap();
        let db = psnr(rgb.data(), want.data());
        assert!(db > 25.0, "{db} dB");
        for format in [PixelFormat::Xrgb32, PixelFormat::Rgba8, PixelFormat::Bgra8] {
            receiver
                .decode_to(&jpeg, 800, 600, format, &mut other)
                .unwrap();
            let same = other
                .data()
                .chunks_exact(4)
                .zip(rgb.data().chunks_exact(3))
                .all(|(o, p)| {
                    let rgb = match format {
                        PixelFormat::Xrgb32 => {
                            let v = u32::from_ne_bytes(o.try_into().unwrap());
                            [(v >> 16) as u8, (v >> 8) as u8, v as u8]
                        }
                        PixelFormat::Bgra8 => [o[2], o[1], o[0]],
                        _ => [o[0], o[1], o[2]],
                    };
                    rgb == p[..]
                });
            assert!(same, "{format:?} differs from Rgb8");
        }
    }
}

#[test]
fn sender_accepts_every_capture_format_alike() {
    let frame = &natural_frames()[3];
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut from_rgb = Vec::new();
    sender.encode(frame.as_image(), &mut from_rgb).unwrap();
    for format in [PixelFormat::Rgba8, PixelFormat::Bgra8, PixelFormat::Xrgb32] {
        let mut conv = ImageBuf::new(640, 480, format);
        AreaResizer::new()
            .resize(frame.as_image(), &mut conv.as_image_mut())
            .unwrap();
        let mut jpeg = Vec::new();
        sender.encode(conv.as_image(), &mut jpeg).unwrap();
        assert_eq!(jpeg, from_rgb, "{format:?}");
    }
}

/// The receiver decodes to RGBA (the hand-off its fused 0RGB kernel
/// wants); zune-jpeg must give the same colours that way as in RGB.
#[test]
fn rgba_and_rgb_decodes_agree() {
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut decoder = ZuneDecoder::default();
    let mut jpeg = Vec::new();
    let mut rgb = ImageBuf::empty(PixelFormat::Rgb8);
    let mut rgba = ImageBuf::empty(PixelFormat::Rgba8);
    for frame in natural_frames().iter().step_by(5) {
        sender.encode(frame.as_image(), &mut jpeg).unwrap();
        decoder.decode(&jpeg, &mut rgb).unwrap();
        decoder.decode(&jpeg, &mut rgba).unwrap();
        let same = rgba
            .data()
            .chunks_exact(4)
            .zip(rgb.data().chunks_exact(3))
            .all(|(a, b)| a[..3] == *b && a[3] == 255);
        assert!(same, "RGBA decode differs from RGB");
    }
}
