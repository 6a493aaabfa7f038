//! Recording never silently loses a stream, and its timeline stays sane
//! whatever a sender's clock does: the real binary on loopback, with a
//! good sender beside whose frames are counted.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::video::Video;
use prost::Message;

/// `framecast send` of `count` pattern frames at 30 fps, named `name`.
fn sender(addr: SocketAddr, name: &str, count: u64) -> Proc {
    let to = addr.to_string();
    let count = count.to_string();
    let mut args = vec![
        "send", "--to", &to, "--name", name, "--fps", "30", "--count", &count,
    ];
    args.extend_from_slice(PATTERN_ARGS);
    Proc::framecast(name, &args)
}

/// The files in `dir`, by name, with the number of JPEGs in each.
fn recordings(dir: &Path) -> Vec<(String, usize)> {
    let mut files: Vec<(String, usize)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mjpeg"))
        .map(|p| {
            let n = mjpeg_frames(&p).len();
            (p.file_name().unwrap().to_string_lossy().into_owned(), n)
        })
        .collect();
    files.sort();
    files
}

/// Runs a receiver recording into `rec` with `extra` flags while `good`
/// sends 60 frames, and `door` sends 30, reconnects, and sends 30 more;
/// "front door" and "front_door" (one file name) send 15 each. Returns
/// the receiver, stopped, and its stats.
fn record_a_session_of_each_kind(rec: &str, extra: &[&str]) -> (Proc, serde_json::Value) {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let mut args = vec!["--record", rec, "--stats-json", &json];
    args.extend_from_slice(extra);
    let (mut recv, addr) = start_recv(&args);
    let mut good = sender(addr, "good", 60);
    sender(addr, "door", 30).wait_ok(TIMEOUT);
    sender(addr, "door", 30).wait_ok(TIMEOUT);
    let mut a = sender(addr, "front door", 15);
    let mut b = sender(addr, "front_door", 15);
    a.wait_ok(TIMEOUT);
    b.wait_ok(TIMEOUT);
    good.wait_ok(TIMEOUT);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while recv.count_stderr(STREAM_ENDED) < 5 {
        assert!(std::time::Instant::now() < deadline, "{}", recv.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    recv.interrupt();
    let status = recv.wait(TIMEOUT);
    assert!(status.success(), "{status}\n{}", recv.stderr());
    let stats = read_json(&json_path);
    let good = stream_named(&stats, "good");
    assert_eq!(
        (good["received"].as_u64(), good["corrupt"].as_u64()),
        (Some(60), Some(0)),
        "{good}"
    );
    (recv, stats)
}

#[test]
fn reconnects_and_colliding_names_get_files_of_their_own_run_after_run() {
    let dir = tempdir();
    let rec_dir = dir.path().join("rec");
    std::fs::create_dir(&rec_dir).unwrap();
    let rec = format!("{}/{{name}}.mjpeg", rec_dir.display());

    let (recv, _) = record_a_session_of_each_kind(&rec, &[]);
    let first = recordings(&rec_dir);
    assert_eq!(
        first,
        [
            ("door-2.mjpeg".to_owned(), 30),
            ("door.mjpeg".to_owned(), 30),
            ("front_door-2.mjpeg".to_owned(), 15),
            ("front_door.mjpeg".to_owned(), 15),
            ("good.mjpeg".to_owned(), 60),
        ],
        "{}",
        recv.stderr()
    );
    assert!(
        recv.stderr().contains("door.mjpeg is taken"),
        "the log says where the second session went:\n{}",
        recv.stderr()
    );
    let before: Vec<Vec<u8>> = first
        .iter()
        .map(|(f, _)| std::fs::read(rec_dir.join(f)).unwrap())
        .collect();

    // A second run (a service restarted) records again, beside the files
    // of the first, which stay as they were.
    let (recv, _) = record_a_session_of_each_kind(&rec, &[]);
    let second = recordings(&rec_dir);
    assert_eq!(second.len(), 10, "{second:?}\n{}", recv.stderr());
    for (name, n) in [
        ("door-3.mjpeg", 30),
        ("door-4.mjpeg", 30),
        ("front_door-3.mjpeg", 15),
        ("front_door-4.mjpeg", 15),
        ("good-2.mjpeg", 60),
    ] {
        assert!(second.contains(&(name.to_owned(), n)), "{name}: {second:?}");
    }
    for ((f, _), bytes) in first.iter().zip(before) {
        assert_eq!(
            std::fs::read(rec_dir.join(f)).unwrap(),
            bytes,
            "{f} changed"
        );
    }
}

#[test]
fn the_session_placeholder_names_each_reconnect() {
    let dir = tempdir();
    let rec = format!("{}/{{name}}.{{session}}.mjpeg", dir.path().display());
    let (_recv, _) = record_a_session_of_each_kind(&rec, &[]);
    let files = recordings(dir.path());
    for (name, n) in [
        ("door.1.mjpeg", 30),
        ("door.2.mjpeg", 30),
        ("front_door.1.mjpeg", 15),
        ("front_door.1-2.mjpeg", 15),
        ("good.1.mjpeg", 60),
    ] {
        assert!(files.contains(&(name.to_owned(), n)), "{name}: {files:?}");
    }
}

#[test]
fn a_stream_that_cannot_be_recorded_makes_the_exit_status_an_error() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    // Four times a 64-byte name is longer than a file name may be; four
    // times "good" is not.
    let rec = format!(
        "{}/{{name}}{{name}}{{name}}{{name}}.mjpeg",
        dir.path().display()
    );
    let (mut recv, addr) = start_recv(&["--record", &rec, "--stats-json", &json]);
    let mut good = sender(addr, "good", 60);
    let long = "L".repeat(64);
    sender(addr, &long, 20).wait_ok(TIMEOUT);
    good.wait_ok(TIMEOUT);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while recv.count_stderr(STREAM_ENDED) < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", recv.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    recv.interrupt();
    let status = recv.wait(TIMEOUT);
    assert_eq!(status.code(), Some(1), "{}", recv.stderr());
    let err = recv.stderr();
    assert!(
        err.contains(&format!("\"{long}\" is not recorded")),
        "{err}"
    );
    assert!(
        err.contains("1 stream could not be recorded in full"),
        "{err}"
    );
    // The other stream was recorded, and the stats were written.
    assert_eq!(
        recordings(dir.path()),
        [("goodgoodgoodgood.mjpeg".to_owned(), 60)]
    );
    let stats = read_json(&json_path);
    assert_eq!(stream_named(&stats, "good")["received"], 60, "{stats}");
}

#[test]
fn segments_split_a_session_by_time_and_by_size() {
    for (segment, template) in [
        ("1s", "{name}-t{segment}.mjpeg"),
        ("40KiB", "{name}-b.mjpeg"),
    ] {
        let dir = tempdir();
        let rec = format!("{}/{template}", dir.path().display());
        let (mut recv, addr) = start_recv(&["--record", &rec, "--record-segment", segment]);
        // 3.5 s of frames.
        sender(addr, "good", 105).wait_ok(TIMEOUT);
        let deadline = std::time::Instant::now() + TIMEOUT;
        while recv.count_stderr(STREAM_ENDED) < 1 {
            assert!(std::time::Instant::now() < deadline, "{}", recv.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
        recv.interrupt();
        recv.wait_ok(TIMEOUT);
        let files = recordings(dir.path());
        let total: usize = files.iter().map(|(_, n)| n).sum();
        assert_eq!(
            total, 105,
            "{segment}: every frame is in one file: {files:?}"
        );
        assert!(files.len() >= 3, "{segment}: {files:?}");
        assert!(files.iter().all(|(_, n)| *n > 0), "{segment}: {files:?}");
        if segment == "1s" {
            // 30 frames a second: about 30 a file (the last one less).
            assert!(files.iter().all(|(_, n)| *n <= 40), "{files:?}");
            assert!(files.iter().any(|(f, _)| f == "good-t2.mjpeg"), "{files:?}");
        } else {
            for (f, _) in &files {
                let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
                assert!(len < 40 * 1024 + 16 * 1024, "{f}: {len} bytes");
            }
            assert!(
                files.iter().any(|(f, _)| f == "good-b-2.mjpeg"),
                "{files:?}"
            );
        }
    }
}

/// A JPEG of `w` x `h` of the codec's own making.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let img = ImageBuf::new(w, h, PixelFormat::Rgb8);
    SenderPipeline::new(SenderConfig::new(w, h).with_quality(80))
        .unwrap()
        .encode(img.as_image(), &mut out)
        .unwrap();
    out
}

/// The timestamps, in seconds, of the packets of a media file (ffprobe).
fn packet_times(ffprobe: &Path, file: &Path) -> Vec<f64> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(',').parse().unwrap())
        .collect()
}

/// What ffmpeg says when it copies `file`'s packets through, warnings
/// included (a timestamp that does not increase is one).
fn ffmpeg_warnings(ffmpeg: &Path, file: &Path) -> String {
    let out = Command::new(ffmpeg)
        .args(["-v", "warning", "-i"])
        .arg(file)
        .args(["-c", "copy", "-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The duration a Matroska file declares, in seconds (ffprobe).
fn duration(ffprobe: &Path, file: &Path) -> f64 {
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_wild_sender_clock_never_bends_the_recorded_timeline() {
    let Some(tools) = require_tools(
        "a_wild_sender_clock_never_bends_the_recorded_timeline",
        &["ffprobe", "ffmpeg"],
    ) else {
        return;
    };
    let (ffprobe, ffmpeg) = (&tools[0], &tools[1]);
    let dir = tempdir();
    let rec = format!("{}/{{name}}.mkv", dir.path().display());
    let (mut recv, addr) = start_recv(&["--record", &rec]);
    let mut good = sender(addr, "good", 150);

    // 150 frames at 30 fps (5 s): frame 30 stamped an hour ahead, 60 at
    // 0, 61 at u64::MAX, and from 90 on the clock 5 s behind.
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let picture = jpeg(64, 48);
    let mut s = session(addr, "skewed");
    let start = std::time::Instant::now();
    for i in 0..150u64 {
        let real = now_us + i * 33_333;
        let capture = match i {
            30 => real + 3_600_000_000,
            60 => 0,
            61 => u64::MAX,
            90.. => real - 5_000_000,
            _ => real,
        };
        let v = Video {
            video_data: picture.clone().into(),
            sequence: i,
            capture_time_us: Some(capture),
            ..Default::default()
        };
        write_frame(&mut s, &v.encode_to_vec()).unwrap();
        let due = start + Duration::from_micros((i + 1) * 33_333);
        if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    drop(s);
    good.wait_ok(TIMEOUT);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while recv.count_stderr(STREAM_ENDED) < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", recv.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    assert!(
        recv.stderr()
            .contains("the sender's clock jumped at frame 30"),
        "{}",
        recv.stderr()
    );

    for name in ["skewed", "good"] {
        let file: PathBuf = dir.path().join(format!("{name}.mkv"));
        let times = packet_times(ffprobe, &file);
        assert_eq!(times.len(), 150, "{name}: {times:?}");
        let backwards = times.windows(2).filter(|w| w[1] <= w[0]).count();
        assert_eq!(backwards, 0, "{name}: timestamps not increasing: {times:?}");
        let last = *times.last().unwrap();
        // 149 steps of 33 ms: 4.97 s; a loaded machine may stretch the
        // arrival pace a little, never to an hour.
        assert!((4.5..7.0).contains(&last), "{name}: last frame at {last} s");
        let d = duration(ffprobe, &file);
        assert!((4.5..7.5).contains(&d), "{name}: duration {d} s");
        let warnings = ffmpeg_warnings(ffmpeg, &file);
        assert!(
            !warnings.contains("monoton"),
            "{name}: ffmpeg: {}",
            &warnings[..warnings.len().min(2000)]
        );
    }
}
