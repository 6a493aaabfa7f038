//! The recorder's file, read back frame by frame: after a clean finish, by a
//! stock player, and after the writing process was killed mid-frame.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use framecast_capture::{Frame, FrameSource, MjpegFileSource, MjpegIndex, SourceLimits};
use framecast_display::{EncodedFrame, FrameSink, Recorder};
use framecast_test_support::tools::require_tools;

fn frame<'a>(sequence: u64, jpeg: &'a [u8]) -> EncodedFrame<'a> {
    EncodedFrame::new(1, "test", jpeg)
        .with_sequence(sequence)
        .with_capture_time_us(Some(1_700_000_000_000_000 + sequence))
}

fn pictures() -> Vec<Vec<u8>> {
    vec![
        fixture("quadrants-400x400.jpg"),
        fixture("gradient-320x240.jpg"),
        fixture("noise-640x480.jpg"),
    ]
}

#[test]
fn frames_read_back_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mjpeg");
    let pictures = pictures();
    let mut rec = Recorder::create(&path).unwrap();
    for i in 0..9 {
        rec.show(&frame(i, &pictures[i as usize % 3])).unwrap();
    }
    // A bad frame in the middle is refused and leaves no trace.
    let err = rec.show(&frame(99, &pictures[0][..100])).unwrap_err();
    assert!(err.to_string().contains("frame 99"), "{err}");
    rec.show(&frame(9, &pictures[0])).unwrap();
    rec.finish().unwrap();
    assert_eq!(rec.frames(), 10);

    assert_eq!(rec.bytes(), std::fs::metadata(&path).unwrap().len());
    // Read back by the capture crate's MJPEG reader, frame by frame.
    let mut source = MjpegFileSource::open(&path).unwrap();
    assert_eq!(source.index().frames().len(), 10);
    assert_eq!(
        (source.index().dropped(), source.index().skipped_bytes()),
        (0, 0)
    );
    let mut read = Frame::default();
    for i in 0..10 {
        source.next_frame(&mut read).unwrap();
        assert_eq!(read.jpeg().unwrap(), pictures[i % 3], "frame {i} differs");
    }

    // Appending continues the same stream.
    let mut rec = Recorder::append(&path).unwrap();
    rec.show(&frame(10, &pictures[1])).unwrap();
    let source = MjpegFileSource::open(&path).unwrap();
    let spans = source.index().frames();
    assert_eq!(spans.len(), 11);
    assert_eq!(spans[10].len, pictures[1].len());
}

#[test]
fn refuses_what_is_not_a_whole_jpeg() {
    let jpeg = fixture("quadrants-400x400.jpg");
    let mut rec = Recorder::new(Vec::new());
    for bad in [
        &b""[..],
        &b"\xFF\xD8\xFF\xD9"[..],
        &jpeg[2..],
        &jpeg[..jpeg.len() - 1],
    ] {
        assert!(rec.show(&frame(0, bad)).is_err());
    }
    assert_eq!(rec.frames(), 0);
    assert!(rec.get_ref().is_empty());
    assert!(Recorder::create("/nonexistent-dir/x.mjpeg").is_err());
}

#[test]
fn a_stock_player_reads_every_frame() {
    let Some(tools) = require_tools("a_stock_player_reads_every_frame", &["ffprobe"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mjpeg");
    let pictures = pictures();
    let mut rec = Recorder::create(&path).unwrap();
    for i in 0..6 {
        rec.show(&frame(i, &pictures[i as usize % 3])).unwrap();
    }
    rec.finish().unwrap();
    // The raw MJPEG demuxer, as `ffplay -f mjpeg` uses it; every frame must
    // decode (-count_frames decodes them).
    let out = Command::new(&tools[0])
        .args([
            "-v",
            "error",
            "-f",
            "mjpeg",
            "-count_frames",
            "-select_streams",
            "v:0",
        ])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Env var that turns `child_writer` into the writer process.
const CHILD_ENV: &str = "FRAMECAST_TEST_RECORDER_CHILD";

/// A writer that hands the file at most 4 KiB per call and pauses between
/// calls, as a slow disk would: most of the child's time is spent inside a
/// frame, so the kill lands mid-frame.
struct SlowFile(std::fs::File);

impl Write for SlowFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_micros(300));
        self.0.write(&buf[..buf.len().min(4096)])
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The writer process (a no-op unless re-invoked by the test below): writes
/// the noise picture forever, reporting each completed frame on stdout.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let jpeg = fixture("noise-640x480.jpg");
    let mut rec = Recorder::new(SlowFile(std::fs::File::create(path).unwrap()));
    let mut stdout = std::io::stdout();
    for i in 0.. {
        rec.show(&frame(i, &jpeg)).unwrap();
        writeln!(stdout, "frame {i}").unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn completed_frames_survive_a_kill_mid_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.mjpeg");
    let jpeg = fixture("noise-640x480.jpg");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reported = 0;
    while reported < 3 {
        let line = lines.next().expect("the writer died early").unwrap();
        if line.starts_with("frame ") {
            reported += 1;
        }
        assert!(Instant::now() < deadline, "the writer is too slow");
    }
    // The next frame takes ~10 ms to write (32 calls with pauses): wait a
    // few ms into it, then SIGKILL.
    std::thread::sleep(Duration::from_millis(4));
    child.kill().unwrap();
    child.wait().unwrap();
    // Frames completed after our last read of stdout count too.
    let reported = reported
        + lines
            .map_while(Result::ok)
            .filter(|l| l.starts_with("frame "))
            .count();

    let data = std::fs::read(&path).unwrap();
    let index = MjpegIndex::from_bytes(&data, &SourceLimits::default()).unwrap();
    let frames = index.frames();
    assert!(
        frames.len() >= reported,
        "{} frames on disk, {reported} reported",
        frames.len()
    );
    for (i, span) in frames.iter().enumerate() {
        let at = span.offset as usize;
        assert_eq!(
            &data[at..at + span.len],
            jpeg.as_slice(),
            "frame {i} is damaged"
        );
    }
    // Frames lie back to back; what follows the last is the start of the
    // next frame, cut short, which the reader drops.
    let whole = frames.len() * jpeg.len();
    let tail = data.len() - whole;
    assert!(tail < jpeg.len());
    assert_eq!(&data[whole..], &jpeg[..tail]);
    assert_eq!(index.dropped(), u64::from(tail > 0));
    eprintln!("{} whole frames, {tail}-byte truncated tail", frames.len());
}
