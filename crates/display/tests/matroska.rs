//! The Matroska recorder's files, read by a stock player's prober: every
//! frame is there, byte for byte, at the time it was captured, shown at the
//! shape it was captured at; and a file cut short still plays.

mod common;

use std::path::Path;
use std::process::Command;

use common::fixture;
use framecast_display::{EncodedFrame, FrameSink, MatroskaRecorder};
use framecast_test_support::tools::require_tools;

const T0: u64 = 1_700_000_000_000_000;

fn ffprobe(tool: &Path, file: &Path, entries: &str) -> String {
    let out = Command::new(tool)
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            entries,
        ])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ffprobe_reads_the_capture_times_and_the_shape() {
    let Some(tools) = require_tools("mkv_timestamps", &["ffprobe"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.mkv");
    let jpeg = fixture("quadrants-400x400.jpg");
    let mut rec = MatroskaRecorder::create(&path).unwrap();
    // 25 frames 40 ms apart (25 fps), then a 200 ms gap, then 5 more.
    let mut times = Vec::new();
    for i in 0..30u64 {
        let t = T0 + i * 40_000 + if i >= 25 { 200_000 } else { 0 };
        times.push(t);
        let frame = EncodedFrame::new(1, "cam", &jpeg)
            .with_sequence(i)
            .with_capture_time_us(Some(t))
            .with_source_size(Some((640, 480)));
        rec.show(&frame).unwrap();
    }
    rec.finish().unwrap();
    assert!(MatroskaRecorder::create(&path).is_err(), "never overwrites");

    let pts = ffprobe(&tools[0], &path, "packet=pts_time");
    let pts: Vec<f64> = pts.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(pts.len(), 30, "{pts:?}");
    for (i, (p, t)) in pts.iter().zip(&times).enumerate() {
        let want = (t - T0) as f64 / 1e6;
        assert!(
            (p - want).abs() < 0.0015,
            "frame {i}: pts {p}, captured at {want}"
        );
    }
    // Every frame decodes, and the picture is shown 4:3 as captured.
    let stream = ffprobe(
        &tools[0],
        &path,
        "stream=codec_name,width,height,display_aspect_ratio",
    );
    assert_eq!(stream.trim(), "mjpeg,400,400,4:3", "{stream}");
    let duration = ffprobe(&tools[0], &path, "format=duration");
    let duration: f64 = duration.trim().parse().unwrap();
    assert!((1.15..1.5).contains(&duration), "duration {duration}");
}

#[test]
fn a_file_cut_short_still_plays_its_whole_frames() {
    let Some(tools) = require_tools("mkv_cut", &["ffprobe"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.mkv");
    let jpeg = fixture("gradient-320x240.jpg");
    let mut rec = MatroskaRecorder::create(&path).unwrap();
    for i in 0..10u64 {
        let frame = EncodedFrame::new(1, "cam", &jpeg).with_capture_time_us(Some(T0 + i * 33_333));
        rec.show(&frame).unwrap();
    }
    // No finish (the process died): then the last frame cut in half.
    drop(rec);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - jpeg.len() / 2]).unwrap();
    let out = Command::new(&tools[0])
        .args(["-v", "quiet", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    let n: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(n >= 9, "{n} frames read");
}
