//! The test pattern through the real JPEG pipelines, as the sender and the
//! receiver run them: the frame number must still be readable, and the JPEG
//! size must look like a camera picture's, not a flat test card's.

use framecast_capture::{Frame, FrameSource, Pattern, PatternSource, decode_marker};
use framecast_codec::{
    ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline, SenderConfig, SenderPipeline,
};

fn round_trip(
    source_size: (u32, u32),
    sent: (u32, u32),
    quality: u8,
    shown: (u32, u32),
    format: PixelFormat,
) {
    let mut source = PatternSource::new(source_size.0, source_size.1)
        .unwrap()
        .starting_at(u64::from(u32::MAX) - 20);
    let mut sender =
        SenderPipeline::new(SenderConfig::new(sent.0, sent.1).with_quality(quality)).unwrap();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let (mut frame, mut jpeg, mut out) = (Frame::default(), Vec::new(), ImageBuf::empty(format));
    for _ in 0..6 {
        source.next_frame(&mut frame).unwrap();
        sender.encode(frame.pixels().unwrap(), &mut jpeg).unwrap();
        receiver
            .decode_to(&jpeg, shown.0, shown.1, format, &mut out)
            .unwrap();
        assert_eq!(
            decode_marker(&out.as_image()),
            Some(frame.sequence & 0xFFFF_FFFF),
            "{source_size:?} -> {sent:?} q{quality} -> {shown:?} {format:?}, frame {}",
            frame.sequence
        );
    }
}

#[test]
fn marker_survives_q80_and_400x400_to_800x600() {
    round_trip((400, 400), (400, 400), 80, (800, 600), PixelFormat::Rgb8);
    round_trip((400, 400), (400, 400), 80, (800, 600), PixelFormat::Xrgb32);
}

#[test]
fn marker_survives_the_demo_path_and_low_quality() {
    // Camera-sized pattern, resized by the sender, shown in a window.
    round_trip((640, 480), (400, 400), 80, (800, 600), PixelFormat::Xrgb32);
    // Harsher: quality 30 and a small window.
    round_trip((640, 480), (400, 400), 30, (200, 150), PixelFormat::Rgb8);
}

#[test]
fn jpeg_sizes_are_camera_like() {
    // At 400x400 q95 a natural picture is tens of kilobytes (the codec
    // crate's two test photographs, area-resized to 400x400, give 69 and
    // 79 KB); a flat test card would be a few. The texture must keep the
    // pattern in that range.
    let pattern = Pattern::new(400, 400).unwrap();
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let (mut img, mut jpeg) = (ImageBuf::empty(PixelFormat::Rgb8), Vec::new());
    for seq in [0, 100, 1000] {
        pattern.render(seq, &mut img);
        sender.encode(img.as_image(), &mut jpeg).unwrap();
        eprintln!("pattern frame {seq}: {} bytes at 400x400 q95", jpeg.len());
        assert!(
            (25_000..150_000).contains(&jpeg.len()),
            "{} bytes",
            jpeg.len()
        );
    }
}

/// Removes every DHT segment before the first scan, as many webcams send
/// their MJPEG frames.
fn strip_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut at = 2;
    loop {
        let code = jpeg[at + 1];
        if code == 0xDA {
            out.extend_from_slice(&jpeg[at..]);
            return out;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if code != 0xC4 {
            out.extend_from_slice(&jpeg[at..at + 2 + len]);
        }
        at += 2 + len;
    }
}

#[test]
fn abbreviated_webcam_jpegs_are_completed_with_the_standard_tables() {
    let pattern = Pattern::new(160, 120).unwrap();
    let mut img = ImageBuf::empty(PixelFormat::Rgb8);
    pattern.render(3, &mut img);
    let mut sender = SenderPipeline::new(SenderConfig::new(160, 120).with_quality(90)).unwrap();
    let mut jpeg = Vec::new();
    sender.encode(img.as_image(), &mut jpeg).unwrap();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut expected = ImageBuf::empty(PixelFormat::Rgb8);
    receiver
        .decode_to(&jpeg, 160, 120, PixelFormat::Rgb8, &mut expected)
        .unwrap();

    let mut abbreviated = strip_huffman_tables(&jpeg);
    assert!(abbreviated.len() < jpeg.len(), "the encoder wrote no DHT");

    // A recording of such frames plays, completed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webcam.mjpeg");
    std::fs::write(
        &path,
        [abbreviated.as_slice(), abbreviated.as_slice()].concat(),
    )
    .unwrap();
    let mut file = framecast_capture::MjpegFileSource::open(&path).unwrap();
    assert_eq!(file.index().frames().len(), 2);
    let mut frame = Frame::default();
    file.next_frame(&mut frame).unwrap();
    let mut out = ImageBuf::empty(PixelFormat::Rgb8);
    receiver
        .decode_to(frame.jpeg().unwrap(), 160, 120, PixelFormat::Rgb8, &mut out)
        .unwrap();
    assert_eq!(out, expected);

    assert!(
        receiver
            .decode_to(&abbreviated, 160, 120, PixelFormat::Rgb8, &mut out)
            .is_err(),
        "the decoder accepts JPEGs without tables: this fix-up is moot"
    );
    assert!(framecast_capture::ensure_huffman_tables(&mut abbreviated).unwrap());
    receiver
        .decode_to(&abbreviated, 160, 120, PixelFormat::Rgb8, &mut out)
        .unwrap();
    // The encoder used the standard tables, so the picture is the same.
    assert_eq!(out, expected);
}
