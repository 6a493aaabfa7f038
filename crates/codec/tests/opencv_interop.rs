//! Against the original program's own processing, OpenCV, run by a real
//! Python interpreter on the same frames: its `INTER_AREA` shrink and
//! enlarge, and its JPEG encoder (libjpeg-turbo inside).
//!
//! The interpreter is `$FRAMECAST_PYTHON`, else `<workspace>/.venv/bin/python`,
//! else `python3` on the PATH, with the pip packages `opencv-python-headless`
//! and `numpy`. Without them the test is skipped with a message, unless
//! `FRAMECAST_CI=1`, when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::abs_diff;
use framecast_codec::{
    AreaResizer, DEFAULT_QUALITY, Decoder, Encoder, ImageBuf, PixelFormat, ReceiverConfig,
    ReceiverPipeline, Resizer, TurboEncoder, ZuneDecoder,
};

fn python() -> Option<PathBuf> {
    framecast_test_support::tools::python("opencv_interop", &["cv2", "numpy"])
}

/// For each raw 640x480 RGB frame `in{i}.rgb`: OpenCV's 400x400 shrink
/// (`small{i}.rgb`), its q95 JPEG of that (`small{i}.jpg`, the original
/// client's `cv2.imencode('.jpg', ...)`), OpenCV's decode of it
/// (`decoded{i}.rgb`) and the server's 800x600 `INTER_AREA` enlargement of
/// the decode (`big{i}.rgb`). Pixels are RGB on disk, BGR inside OpenCV.
const SCRIPT: &str = r#"
import sys, cv2, numpy as np
d, n = sys.argv[1], int(sys.argv[2])
def save(name, bgr):
    open(f"{d}/{name}", "wb").write(np.ascontiguousarray(bgr[:, :, ::-1]).tobytes())
for i in range(n):
    rgb = np.fromfile(f"{d}/in{i}.rgb", dtype=np.uint8).reshape(480, 640, 3)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    small = cv2.resize(bgr, (400, 400), interpolation=cv2.INTER_AREA)
    save(f"small{i}.rgb", small)
    ok, jpeg = cv2.imencode(".jpg", small)
    open(f"{d}/small{i}.jpg", "wb").write(jpeg.tobytes())
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)
    save(f"decoded{i}.rgb", decoded)
    save(f"big{i}.rgb", cv2.resize(decoded, (800, 600), interpolation=cv2.INTER_AREA))
"#;

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).expect("python wrote it")
}

fn rgb(w: u32, h: u32, data: Vec<u8>) -> ImageBuf {
    ImageBuf::from_vec(w, h, PixelFormat::Rgb8, data).unwrap()
}

#[test]
fn matches_opencv_resize_and_encoder() {
    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("framecast-codec-opencv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let frames: Vec<ImageBuf> = common::natural_frames().into_iter().step_by(5).collect();
    for (i, f) in frames.iter().enumerate() {
        std::fs::write(dir.join(format!("in{i}.rgb")), f.data()).unwrap();
    }
    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(&dir)
        .arg(frames.len().to_string())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut resizer = AreaResizer::new();
    let mut encoder = TurboEncoder::new();
    let mut decoder = ZuneDecoder::default();
    let mut jpeg = Vec::new();
    let mut ours = ImageBuf::default();
    let mut receiver = ReceiverPipeline::new(ReceiverConfig::default());
    let mut window = ImageBuf::default();
    for (i, frame) in frames.iter().enumerate() {
        // The sender's shrink: the issue's bar is a mean absolute
        // difference of at most 1.0 against INTER_AREA.
        let cv_small = rgb(400, 400, read(&dir, &format!("small{i}.rgb")));
        ours.reshape(400, 400, PixelFormat::Rgb8);
        resizer
            .resize(frame.as_image(), &mut ours.as_image_mut())
            .unwrap();
        let (mean, max) = abs_diff(ours.data(), cv_small.data());
        println!("frame {i}: shrink vs INTER_AREA mean {mean:.4} max {max}");
        assert!(mean <= 1.0 && max <= 1, "shrink: mean {mean}, max {max}");

        // The encoder: byte for byte what the original client sent.
        let cv_jpeg = read(&dir, &format!("small{i}.jpg"));
        encoder
            .encode(cv_small.as_image(), DEFAULT_QUALITY, &mut jpeg)
            .unwrap();
        assert!(jpeg == cv_jpeg, "frame {i}: JPEG differs from OpenCV's");

        // The receiver's enlargement of the same decoded pixels.
        let cv_decoded = rgb(400, 400, read(&dir, &format!("decoded{i}.rgb")));
        let cv_big = read(&dir, &format!("big{i}.rgb"));
        ours.reshape(800, 600, PixelFormat::Rgb8);
        resizer
            .resize(cv_decoded.as_image(), &mut ours.as_image_mut())
            .unwrap();
        let (mean, max) = abs_diff(ours.data(), &cv_big);
        println!("frame {i}: enlarge vs INTER_AREA mean {mean:.4} max {max}");
        // Area-mode enlargement at 2x across and 1.5x down is copies and
        // exact 50/50 blends, so it can match OpenCV bit for bit.
        assert_eq!(max, 0, "enlarge: mean {mean}");

        // zune-jpeg against OpenCV's libjpeg-turbo decode: IDCT and chroma
        // up-sampling rounding only.
        decoder.decode(&cv_jpeg, &mut ours).unwrap();
        let (mean, max) = abs_diff(ours.data(), cv_decoded.data());
        println!("frame {i}: zune-jpeg vs OpenCV decode mean {mean:.4} max {max}");
        assert!(mean <= 1.0, "decode: mean {mean}, max {max}");

        // The whole receiver (RGBA hand-off, fused stretch) against the
        // original server's imdecode + INTER_AREA on the same JPEG: only the
        // decoders' rounding is left (measured: mean 0.25, max 4).
        receiver
            .decode_to(&cv_jpeg, 800, 600, PixelFormat::Xrgb32, &mut window)
            .unwrap();
        let shown: Vec<u8> = window
            .data()
            .chunks_exact(4)
            .flat_map(|p| {
                let v = u32::from_ne_bytes(p.try_into().unwrap());
                [(v >> 16) as u8, (v >> 8) as u8, v as u8]
            })
            .collect();
        let (mean, max) = abs_diff(&shown, &cv_big);
        println!("frame {i}: receiver vs OpenCV server mean {mean:.4} max {max}");
        assert!(mean <= 0.3 && max <= 6, "receiver: mean {mean}, max {max}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
