//! Raw and MJPEG file sources on the committed fixtures, and on files
//! FFmpeg writes during the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use framecast_capture::{
    CaptureError, DEFAULT_MAX_CACHED_BYTES, Frame, FrameKind, FrameSource, ManualClock,
    MjpegFileSource, RawFileSource, SourceLimits, SourceOptions, SourceSpec, open_source,
};
use framecast_codec::probe_jpeg;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

const MJPEG_FRAMES: [(usize, usize); 5] = [
    (0, 1700),
    (1700, 3392),
    (3392, 5082),
    (5082, 6780),
    (6780, 8469),
];

#[test]
fn raw_file_frames_loop_with_continuous_sequence_numbers() {
    let bytes = std::fs::read(fixture("testsrc_64x48.rgb")).unwrap();
    // Kept in memory (the default), then read frame by frame.
    for limits in [
        SourceLimits::default(),
        SourceLimits::default().with_max_cached_bytes(0),
    ] {
        let cached = limits.max_cached_bytes > 0;
        let clock = ManualClock::new(42);
        let mut source =
            RawFileSource::open_with_limits(fixture("testsrc_64x48.rgb"), 64, 48, &limits)
                .unwrap()
                .with_clock(Arc::new(clock.clone()))
                .looping(true);
        assert_eq!(source.frame_count(), 3);
        assert_eq!(source.format().frames, None, "looping: endless");
        let format = source.format();
        assert_eq!(
            (format.width, format.height, format.kind),
            (64, 48, FrameKind::Raw)
        );
        let mut frame = Frame::default();
        let mut first = None;
        for n in 0..8u64 {
            source.next_frame(&mut frame).unwrap();
            let i = (n % 3) as usize * 64 * 48 * 3;
            assert_eq!(
                frame.pixels().unwrap().data(),
                &bytes[i..i + 64 * 48 * 3],
                "frame {n}, cached {cached}"
            );
            assert_eq!(frame.sequence, n);
            assert_eq!(frame.capture_time_us, 42);
            assert_eq!(frame.shares_pixels(), cached);
            // No allocation per frame: kept in memory, every frame points
            // into the one copy of the file; read, every frame reuses the
            // frame's own buffer.
            let ptr = frame.pixels().unwrap().data().as_ptr() as usize;
            let base = *first.get_or_insert(ptr);
            let want = if cached { base + i } else { base };
            assert_eq!(ptr, want, "frame {n}, cached {cached}");
        }
    }
}

#[test]
fn only_a_looping_raw_file_within_the_limit_is_kept_in_memory() {
    let frame_bytes = 64 * 48 * 3;
    let mut frame = Frame::default();
    for (looping, max, shared) in [
        (false, DEFAULT_MAX_CACHED_BYTES, false),
        (true, 3 * frame_bytes - 1, false),
        (true, 3 * frame_bytes, true),
    ] {
        let limits = SourceLimits::default().with_max_cached_bytes(max);
        let mut source =
            RawFileSource::open_with_limits(fixture("testsrc_64x48.rgb"), 64, 48, &limits)
                .unwrap()
                .looping(looping);
        source.next_frame(&mut frame).unwrap();
        assert_eq!(
            frame.shares_pixels(),
            shared,
            "looping {looping}, max {max}"
        );
        // A frame filled by a source that reads goes back to its own buffer.
        frame.pixels_mut();
        assert!(!frame.shares_pixels());
    }
}

#[test]
fn file_sources_end_after_their_last_frame_unless_looping() {
    let mut raw = RawFileSource::open(fixture("testsrc_64x48.rgb"), 64, 48).unwrap();
    assert_eq!(raw.format().frames, Some(3));
    let mut mjpeg = MjpegFileSource::open(fixture("testsrc_64x48.mjpeg")).unwrap();
    assert_eq!(mjpeg.format().frames, Some(5));
    let mut frame = Frame::default();
    for (source, n) in [(&mut raw as &mut dyn FrameSource, 3), (&mut mjpeg, 5)] {
        for _ in 0..n {
            source.next_frame(&mut frame).unwrap();
        }
        let end = source.next_frame(&mut frame).unwrap_err();
        assert!(end.is_end_of_file(), "{end}");
        // And it stays ended.
        assert!(source.next_frame(&mut frame).unwrap_err().is_end_of_file());
    }
    // Through open_source, --loop's option.
    let options = SourceOptions::new(64, 48).with_fps(0);
    let spec: SourceSpec = format!("mjpeg:{}", fixture("testsrc_64x48.mjpeg").display())
        .parse()
        .unwrap();
    let mut once = open_source(&spec, &options).unwrap();
    let mut looped = open_source(&spec, &options.clone().with_looping(true)).unwrap();
    assert_eq!(once.format().frames, Some(5));
    assert_eq!(looped.format().frames, None);
    for _ in 0..5 {
        once.next_frame(&mut frame).unwrap();
    }
    assert!(once.next_frame(&mut frame).unwrap_err().is_end_of_file());
    for _ in 0..11 {
        looped.next_frame(&mut frame).unwrap();
    }
}

#[test]
fn raw_file_of_the_wrong_size_is_refused_with_advice() {
    // 27648 bytes are 3 frames of 64x48 but not whole frames of 50x50.
    let err = RawFileSource::open(fixture("testsrc_64x48.rgb"), 50, 50).unwrap_err();
    let message = err.to_string();
    assert!(matches!(
        err,
        CaptureError::RawFileSize {
            len: 27648,
            frame_bytes: 7500,
            ..
        }
    ));
    assert!(
        message.contains("3 frames and 5148 bytes over"),
        "{message}"
    );
    assert!(message.contains("check the frame size"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.rgb");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        RawFileSource::open(&empty, 4, 4),
        Err(CaptureError::Empty { .. })
    ));
    let missing = RawFileSource::open(dir.path().join("missing.rgb"), 4, 4).unwrap_err();
    assert!(missing.to_string().contains("missing.rgb"), "{missing}");
    assert!(matches!(
        RawFileSource::open(fixture("testsrc_64x48.rgb"), 0, 48),
        Err(CaptureError::InvalidSize { .. })
    ));
}

#[test]
fn mjpeg_file_frames_pass_through_unchanged_and_loop() {
    let bytes = std::fs::read(fixture("testsrc_64x48.mjpeg")).unwrap();
    let mut source = MjpegFileSource::open(fixture("testsrc_64x48.mjpeg"))
        .unwrap()
        .looping(true);
    let format = source.format();
    assert_eq!(
        (format.width, format.height, format.kind),
        (64, 48, FrameKind::Jpeg)
    );
    assert!(format.is_passthrough_for(64, 48));
    assert!(!format.is_passthrough_for(400, 400));
    let mut frame = Frame::default();
    let mut capacity = 0;
    for n in 0..12usize {
        source.next_frame(&mut frame).unwrap();
        let (start, end) = MJPEG_FRAMES[n % 5];
        assert_eq!(frame.jpeg().unwrap(), &bytes[start..end], "frame {n}");
        assert_eq!(
            (frame.width(), frame.height(), frame.kind()),
            (64, 48, FrameKind::Jpeg)
        );
        assert!(frame.is_passthrough_for(64, 48));
        assert_eq!(frame.sequence, n as u64);
        if n >= 5 {
            // After one loop the buffer is as large as any frame.
            assert_eq!(
                frame.jpeg_mut(frame.width(), frame.height()).capacity(),
                capacity,
                "reallocated at frame {n}"
            );
        }
        capacity = capacity.max(frame.jpeg_mut(frame.width(), frame.height()).capacity());
    }
}

#[test]
fn truncated_mjpeg_file_plays_its_complete_frames() {
    let mut source = MjpegFileSource::open(fixture("truncated_64x48.mjpeg"))
        .unwrap()
        .looping(true);
    assert_eq!(source.index().frames().len(), 4);
    assert_eq!(source.index().dropped(), 1);
    let bytes = std::fs::read(fixture("testsrc_64x48.mjpeg")).unwrap();
    let mut frame = Frame::default();
    for n in 0..9usize {
        source.next_frame(&mut frame).unwrap();
        let (start, end) = MJPEG_FRAMES[n % 4];
        assert_eq!(frame.jpeg().unwrap(), &bytes[start..end], "frame {n}");
    }
}

#[test]
fn files_without_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mjpeg");
    std::fs::write(&junk, [0x42u8; 1000]).unwrap();
    let err = MjpegFileSource::open(&junk).unwrap_err();
    assert!(matches!(err, CaptureError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("FF D8"), "{err}");
    // A raw file given as MJPEG: no JPEG in it.
    let err = MjpegFileSource::open(fixture("testsrc_64x48.rgb")).unwrap_err();
    assert!(matches!(err, CaptureError::Empty { .. }), "{err}");
    // A "JPEG" with a scan but no frame header: indexed, but refused on read.
    let bad = dir.path().join("nosof.mjpeg");
    std::fs::write(&bad, [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x11, 0xFF, 0xD9]).unwrap();
    let err = MjpegFileSource::open(&bad).unwrap_err();
    assert!(
        matches!(err, CaptureError::BadJpeg { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn open_source_opens_files_by_spec() {
    let options = SourceOptions::new(64, 48).with_fps(0);
    let spec: SourceSpec = format!("mjpeg:{}", fixture("testsrc_64x48.mjpeg").display())
        .parse()
        .unwrap();
    let mut source = open_source(&spec, &options).unwrap();
    let mut frame = Frame::default();
    source.next_frame(&mut frame).unwrap();
    assert_eq!(frame.kind(), FrameKind::Jpeg);
    let spec: SourceSpec = format!("raw:{}", fixture("testsrc_64x48.rgb").display())
        .parse()
        .unwrap();
    let mut source = open_source(&spec, &options).unwrap();
    source.next_frame(&mut frame).unwrap();
    assert_eq!(
        (frame.kind(), frame.pixels().unwrap().width()),
        (FrameKind::Raw, 64)
    );
}

/// FFmpeg, found on the PATH. Missing: skipped with a message, except in CI
/// (`FRAMECAST_CI=1`), where a missing tool must fail rather than skip.
fn ffmpeg() -> Option<&'static str> {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("ffmpeg");
    }
    assert!(
        std::env::var_os("FRAMECAST_CI").is_none_or(|v| v != "1"),
        "ffmpeg is required when FRAMECAST_CI=1"
    );
    eprintln!("ffmpeg not found: skipping");
    None
}

#[test]
fn files_ffmpeg_writes_now_play() {
    let Some(ffmpeg) = ffmpeg() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mjpeg = dir.path().join("clip.mjpeg");
    let raw = dir.path().join("clip.rgb");
    let run = |args: &[&str], out: &Path| {
        let status = Command::new(ffmpeg)
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .args(["testsrc2=size=96x64:rate=25", "-frames:v", "7"])
            .args(args)
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg failed: {args:?}");
    };
    run(&["-q:v", "2", "-f", "mjpeg"], &mjpeg);
    run(&["-pix_fmt", "rgb24", "-f", "rawvideo"], &raw);

    let mut source = MjpegFileSource::open(&mjpeg).unwrap();
    assert_eq!(source.index().frames().len(), 7);
    assert_eq!(
        (source.index().dropped(), source.index().skipped_bytes()),
        (0, 0)
    );
    let mut frame = Frame::default();
    let mut previous = Vec::new();
    for _ in 0..7 {
        source.next_frame(&mut frame).unwrap();
        let info = probe_jpeg(frame.jpeg().unwrap()).unwrap();
        assert_eq!((info.width, info.height), (96, 64));
        assert_eq!(
            frame.jpeg().unwrap()[frame.jpeg().unwrap().len() - 2..],
            [0xFF, 0xD9]
        );
        assert_ne!(
            frame.jpeg().unwrap(),
            previous,
            "testsrc2 moves, frames differ"
        );
        previous.clear();
        previous.extend_from_slice(frame.jpeg().unwrap());
    }

    let mut source = RawFileSource::open(&raw, 96, 64).unwrap();
    assert_eq!(source.frame_count(), 7);
    source.next_frame(&mut frame).unwrap();
    assert_eq!(frame.pixels().unwrap().data().len(), 96 * 64 * 3);
}
