//! A corpus of bad JPEG data — truncated at many offsets, bit-flipped,
//! empty, with absurd frame-header sizes — that must give typed errors (or,
//! for damage a decoder cannot see, a picture), never a panic, and never an
//! allocation sized by a hostile header.

mod common;

use framecast_codec::{
    CodecError, DecodeLimits, Decoder, ImageBuf, ImageError, ImageMut, PixelFormat, ReceiverConfig,
    ReceiverPipeline, SenderConfig, SenderPipeline, ZuneDecoder, probe_jpeg,
};

fn good_jpeg(quality: u8) -> Vec<u8> {
    let frame = &common::natural_frames()[0];
    let mut sender = SenderPipeline::new(SenderConfig::new(96, 80).with_quality(quality)).unwrap();
    let mut jpeg = Vec::new();
    sender.encode(frame.as_image(), &mut jpeg).unwrap();
    jpeg
}

/// Runs every entry point on `data`; they may fail but must not panic, and
/// a success must describe the picture the header declares.
fn exercise(data: &[u8]) -> Result<(), CodecError> {
    let probed = probe_jpeg(data);
    let mut out = ImageBuf::default();
    let decoded = ZuneDecoder::default().decode(data, &mut out);
    if let Ok(info) = &decoded {
        assert_eq!((out.width(), out.height()), (info.width, info.height));
        assert_eq!(probed.as_ref().ok(), Some(info));
    }
    let mut window = vec![0u32; 64 * 48];
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    receiver.decode_into(data, ImageMut::from_xrgb32(64, 48, &mut window)?)?;
    decoded.map(|_| ())
}

#[test]
fn empty_and_non_jpeg_data_are_refused() {
    assert!(matches!(
        exercise(&[]),
        Err(CodecError::Image(ImageError::Truncated { .. }))
    ));
    assert!(matches!(
        exercise(b"GIF89a"),
        Err(CodecError::Image(ImageError::NotJpeg))
    ));
    assert!(matches!(
        exercise(&[0xFF, 0xD8]),
        Err(CodecError::Image(ImageError::Truncated { .. }))
    ));
    assert!(matches!(
        exercise(&[0xFF, 0xD8, 0xFF, 0xD9]),
        Err(CodecError::Image(ImageError::Malformed { .. }))
    ));
}

#[test]
fn every_truncation_is_an_error() {
    let jpeg = good_jpeg(95);
    assert!(exercise(&jpeg).is_ok());
    for cut in 0..jpeg.len() {
        assert!(
            exercise(&jpeg[..cut]).is_err(),
            "cut at {cut} of {}",
            jpeg.len()
        );
    }
}

#[test]
fn bit_flips_never_panic() {
    let jpeg = good_jpeg(80);
    let mut errors = 0;
    let mut data = jpeg.clone();
    // Every bit of the headers, then a spread of bits in the scan data.
    let header_end = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap() + 16;
    let bits = (0..header_end * 8).chain((header_end * 8..jpeg.len() * 8).step_by(7));
    for bit in bits {
        data[bit / 8] ^= 1 << (bit % 8);
        if exercise(&data).is_err() {
            errors += 1;
        }
        data[bit / 8] ^= 1 << (bit % 8);
    }
    // Most header damage is detected; flipped entropy-coded bits often
    // decode to a (wrong) picture, which is no error a decoder can see.
    assert!(errors > 100, "only {errors} flips were detected");
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let jpeg = good_jpeg(95);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut huge = jpeg.clone();
    // 65535 x 65535: 4 G pixels, 12 GB of RGB if anyone believed it.
    huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let err = exercise(&huge).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::TooLarge {
                width: 65535,
                height: 65535,
                ..
            }
        ),
        "{err}"
    );
    // Within each side's limit but over the pixel budget.
    let limits = DecodeLimits::default().with_max_pixels(96 * 79);
    let mut out = ImageBuf::new(8, 8, PixelFormat::Rgb8);
    let err = ZuneDecoder::new(limits)
        .decode(&jpeg, &mut out)
        .unwrap_err();
    assert!(matches!(err, CodecError::TooLarge { .. }), "{err}");
    assert_eq!(out.capacity(), 8 * 8 * 3, "nothing was allocated for it");
    // Zero height (a DNL-defined height) and zero width.
    for range in [sof + 5..sof + 7, sof + 7..sof + 9] {
        let mut zero = jpeg.clone();
        zero[range].fill(0);
        assert!(matches!(
            exercise(&zero),
            Err(CodecError::Image(ImageError::Malformed { .. }))
        ));
    }
}

#[test]
fn a_second_frame_header_cannot_smuggle_a_bigger_size() {
    // Our header walk reads the first SOF; if the decoder used another one
    // it must be caught rather than decoded past the limits.
    let jpeg = good_jpeg(95);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let len = usize::from(u16::from_be_bytes([jpeg[sof + 2], jpeg[sof + 3]]));
    let mut two = jpeg[..sof + 2 + len].to_vec();
    let mut second = jpeg[sof..sof + 2 + len].to_vec();
    second[5..9].copy_from_slice(&[0x7F, 0xFF, 0x7F, 0xFF]);
    two.extend_from_slice(&second);
    two.extend_from_slice(&jpeg[sof + 2 + len..]);
    assert!(exercise(&two).is_err());
}

/// `data[..cut]` with an end-of-image marker appended, as a peer that
/// closes a frame it could not finish would send it.
fn cut_then_eoi(data: &[u8], cut: usize) -> Vec<u8> {
    let mut t = data[..cut].to_vec();
    t.extend_from_slice(&[0xFF, 0xD9]);
    t
}

/// The end of the SOS segment: where the entropy-coded data starts.
fn scan_start(jpeg: &[u8]) -> usize {
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    sos + 2 + usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]))
}

#[test]
fn a_scan_cut_short_is_an_error_even_when_the_end_marker_follows() {
    // A real 400x400 q95 frame from the sender, cut inside its scan at
    // spread-out points and in each of its last 16 bytes.
    let frame = &common::natural_frames()[5];
    let mut sender = SenderPipeline::new(SenderConfig::default()).unwrap();
    let mut jpeg = Vec::new();
    sender.encode(frame.as_image(), &mut jpeg).unwrap();
    let (start, end) = (scan_start(&jpeg), jpeg.len() - 2);
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut decoder = ZuneDecoder::default();
    let mut window = vec![0u32; 800 * 600];
    let mut out = ImageBuf::default();
    // The whole frame, and the frame with its marker followed by zero
    // padding (as some cameras send), decode.
    decoder.decode(&jpeg, &mut out).unwrap();
    let mut padded = jpeg.clone();
    padded.extend_from_slice(&[0; 7]);
    decoder.decode(&padded, &mut out).unwrap();
    let cuts: Vec<usize> = (start + 1..end).step_by(997).chain(end - 16..end).collect();
    assert!(cuts.len() > 80);
    for cut in cuts {
        let data = cut_then_eoi(&jpeg, cut);
        let err = decoder.decode(&data, &mut out).unwrap_err();
        assert!(
            matches!(err, CodecError::IncompleteScan | CodecError::Decode(_)),
            "cut at {cut} of {}: {err}",
            jpeg.len()
        );
        let shown =
            receiver.decode_into(&data, ImageMut::from_xrgb32(800, 600, &mut window).unwrap());
        assert!(shown.is_err(), "receiver showed a frame cut at {cut}");
    }
    // A cut in the middle is named for what it is.
    let err = decoder
        .decode(&cut_then_eoi(&jpeg, (start + end) / 2), &mut out)
        .unwrap_err();
    assert!(matches!(err, CodecError::IncompleteScan), "{err}");
}

#[test]
fn every_cut_of_a_small_scan_with_the_end_marker_appended_is_an_error() {
    for quality in [95, 50] {
        let jpeg = good_jpeg(quality);
        let (start, end) = (scan_start(&jpeg), jpeg.len() - 2);
        for cut in start..end {
            // A cut right after an FF would turn the appended marker into
            // stuffing; a sender cannot produce that (FF is always followed
            // by 00 inside a scan), so skip it.
            if jpeg[cut - 1] == 0xFF {
                continue;
            }
            assert!(
                exercise(&cut_then_eoi(&jpeg, cut)).is_err(),
                "q{quality}: cut at {cut} of {}",
                jpeg.len()
            );
        }
    }
}

/// Every file in `testdata/bad/` is refused, by every entry point.
#[test]
fn the_bad_file_corpus_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bad");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        assert!(exercise(&data).is_err(), "{} was accepted", path.display());
        seen += 1;
    }
    assert!(seen >= 1, "no corpus in {}", dir.display());
}

#[test]
fn progressive_frames_decode_whole_and_fail_cut_short() {
    use framecast_codec::{AreaResizer, Resizer};
    // Progressive files carry several scans; the guard follows the last.
    let frame = &common::natural_frames()[9];
    let mut small = ImageBuf::new(96, 80, PixelFormat::Rgb8);
    AreaResizer::new()
        .resize(frame.as_image(), &mut small.as_image_mut())
        .unwrap();
    let jpeg = libjpeg_turbo_rs::compress_progressive(
        small.data(),
        96,
        80,
        libjpeg_turbo_rs::PixelFormat::Rgb,
        90,
        libjpeg_turbo_rs::Subsampling::S420,
    )
    .unwrap();
    assert!(probe_jpeg(&jpeg).unwrap().progressive);
    let mut out = ImageBuf::default();
    ZuneDecoder::default().decode(&jpeg, &mut out).unwrap();
    // Cuts inside the last scan, with the end marker appended.
    let last_sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let start =
        last_sos + 2 + usize::from(u16::from_be_bytes([jpeg[last_sos + 2], jpeg[last_sos + 3]]));
    let end = jpeg.len() - 2;
    let mut refused = 0;
    let mut tried = 0;
    for cut in start + 1..end {
        if jpeg[cut - 1] == 0xFF {
            continue;
        }
        tried += 1;
        if exercise(&cut_then_eoi(&jpeg, cut)).is_err() {
            refused += 1;
        }
    }
    assert!(tried > 0);
    assert_eq!(refused, tried, "progressive cuts accepted");
}
