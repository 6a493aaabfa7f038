//! End-to-end tests: the real `framecast` binary, senders and receivers as
//! separate processes on loopback.
//!
//! Pictures are kept small (the pattern at 160x120, sent at 128x128) so that
//! the suite runs quickly in a debug build; the code paths are the ones a
//! 640x480 → 400x400 stream takes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::handshake::StatusCode;
use framecast_proto::video::Video;
use framecast_test_support::fixtures::pattern_jpegs;
use prost::Message;

/// Small, fast pattern frames.
/// (Square, so the pictures are sent at exactly 128x128 with their shape
/// kept.)
const PATTERN_ARGS: &[&str] = &["--input-size", "160x160", "--size", "128x128"];

fn send_args<'a>(addr: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["send", "--to", addr];
    args.extend_from_slice(extra);
    args
}

/// Waits until the receiver has logged `n` connections ending (cleanly or
/// not), so every frame they sent has been read.
fn wait_disconnects(recv: &mut Proc, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    let ended = |r: &Proc| r.count_stderr(STREAM_ENDED);
    while ended(recv) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} senders disconnected\n{}",
            ended(recv),
            recv.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks a recording of the pattern: every frame is `size`, and the frame
/// numbers drawn in the pictures strictly increase within `0..sent`.
fn check_pattern_recording(frames: &[Vec<u8>], size: (u32, u32), sent: u64) -> Vec<u64> {
    let mut markers = Vec::new();
    for jpeg in frames {
        let img = decode(jpeg);
        assert_eq!((img.width(), img.height()), size);
        markers.push(marker(jpeg));
    }
    assert!(
        markers.windows(2).all(|w| w[0] < w[1]),
        "frame numbers must increase: {markers:?}"
    );
    assert!(markers.iter().all(|&m| m < sent), "{markers:?}");
    markers
}

#[test]
fn pattern_frames_arrive_intact_and_ctrl_c_writes_the_stats() {
    let dir = tempdir();
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (recv, addr) = start_recv(&["--record", &rec, "--stats-json", &json]);
    let mut recv = recv;
    let addr = addr.to_string();
    let mut args = send_args(&addr, PATTERN_ARGS);
    args.extend_from_slice(&["--fps", "30", "--count", "30"]);
    let mut send = Proc::framecast("send", &args);
    send.wait_ok(TIMEOUT);
    assert!(
        send.stdout().contains("sent 30 frames"),
        "{}",
        send.stdout()
    );

    wait_disconnects(&mut recv, 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    assert!(
        recv.stdout().contains("shown "),
        "summary: {}",
        recv.stdout()
    );

    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 30, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    assert_eq!(stats["streams"], 1, "{stats}");
    let shown = stats["frames"].as_u64().unwrap();
    assert_eq!(shown + stats["dropped"].as_u64().unwrap(), 30, "{stats}");
    assert!(stats["bytes"].as_u64().unwrap() > 30 * 1000, "{stats}");
    assert!(stats["seconds"].as_f64().unwrap() > 0.0, "{stats}");
    assert!(stats["fps"].as_f64().unwrap() > 0.0, "{stats}");
    let latency = &stats["latency_ms"];
    for key in ["p50", "p99", "max"] {
        let v = latency[key].as_f64().unwrap_or(-1.0);
        assert!((0.0..5000.0).contains(&v), "latency {key}: {stats}");
    }

    // The recorder flushed on Ctrl-C: every received frame is in the
    // file, shown or not, and the pictures are the pattern's frames, in
    // order.
    let frames = mjpeg_frames(&rec_path);
    assert_eq!(frames.len() as u64, stats["received"].as_u64().unwrap());
    let markers = check_pattern_recording(&frames, (128, 128), 30);
    let _ = shown;
    {
        assert_eq!(markers, (0..30).collect::<Vec<_>>());
    }
}

#[test]
fn raw_file_frames_arrive_with_their_pixels() {
    let dir = tempdir();
    // Four 64x48 RGB24 frames, each a flat colour.
    let colours: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [250, 250, 250]];
    let mut raw = Vec::new();
    for c in colours {
        for _ in 0..64 * 48 {
            raw.extend_from_slice(&c);
        }
    }
    let (raw_path, raw_arg) = path_str(dir.path(), "in.rgb");
    std::fs::write(&raw_path, &raw).unwrap();
    let source = format!("raw:{raw_arg}");
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (json_path, json) = path_str(dir.path(), "stats.json");

    let (mut recv, addr) = start_recv(&["--record", &rec, "--stats-json", &json]);
    let addr = addr.to_string();
    let args = send_args(
        &addr,
        &[
            "--source",
            &source,
            "--input-size",
            "64x48",
            "--size",
            "64x48",
            "--fps",
            "30",
            "--count",
            "8",
            "--loop",
        ],
    );
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    wait_disconnects(&mut recv, 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 8, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    let frames = mjpeg_frames(&rec_path);
    assert_eq!(frames.len() as u64, stats["received"].as_u64().unwrap());
    assert!(!frames.is_empty());
    // The file loops: frame i shows colour i % 4. Find each picture's
    // colour from its centre pixel and check the order.
    let mut seen = Vec::new();
    for jpeg in &frames {
        let img = decode(jpeg);
        assert_eq!((img.width(), img.height()), (64, 48));
        let i = (24 * 64 + 32) * 3;
        let px = &img.data()[i..i + 3];
        let which = colours
            .iter()
            .position(|c| c.iter().zip(px).all(|(a, b)| a.abs_diff(*b) < 12))
            .unwrap_or_else(|| panic!("unexpected colour {px:?}"));
        seen.push(which);
    }
    if stats["dropped"] == 0 {
        assert_eq!(seen, [0, 1, 2, 3, 0, 1, 2, 3]);
    }
}

#[test]
fn mjpeg_file_at_the_wanted_size_is_forwarded_byte_for_byte() {
    let dir = tempdir();
    // Six JPEGs of the pattern at 128x128, concatenated.
    let originals = pattern_jpegs(128, 128, 80, 6);
    let file = originals.concat();
    let (mj_path, mj) = path_str(dir.path(), "in.mjpeg");
    std::fs::write(&mj_path, &file).unwrap();
    let source = format!("mjpeg:{mj}");
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (send_json_path, send_json) = path_str(dir.path(), "send.json");

    let (mut recv, addr) = start_recv(&["--record", &rec, "--stats-json", &json]);
    let addr = addr.to_string();
    let args = send_args(
        &addr,
        &[
            "--source",
            &source,
            "--size",
            "128x128",
            "--fps",
            "30",
            "--count",
            "6",
            "--stats-json",
            &send_json,
        ],
    );
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    wait_disconnects(&mut recv, 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let sent = read_json(&send_json_path);
    assert_eq!(sent["sent"], 6, "{sent}");
    assert_eq!(sent["passthrough"], 6, "no re-encoding: {sent}");
    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 6, "{stats}");
    let frames = mjpeg_frames(&rec_path);
    assert!(!frames.is_empty());
    for jpeg in &frames {
        let m = marker(jpeg) as usize;
        assert_eq!(jpeg, &originals[m], "frame {m} must arrive unchanged");
    }
}

/// `n` senders into one receiver at once; each is its own stream and every
/// frame of every stream arrives.
fn many_senders(n: usize) {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--max-clients", "16"]);
    let addr = addr.to_string();
    let frames_each = 20;
    let count = frames_each.to_string();
    let mut senders: Vec<Proc> = (0..n)
        .map(|i| {
            let mut args = send_args(&addr, PATTERN_ARGS);
            args.extend_from_slice(&["--fps", "20", "--count", &count, "-q"]);
            Proc::framecast(&format!("send-{i}"), &args)
        })
        .collect();
    for s in &mut senders {
        s.wait_ok(TIMEOUT);
    }
    wait_disconnects(&mut recv, n);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    assert_eq!(stats["streams"], n, "{stats}");
    assert_eq!(stats["received"], n * frames_each, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    assert_eq!(stats["refused"], 0, "{stats}");
    let per_stream = stats["per_stream"].as_array().unwrap();
    assert_eq!(per_stream.len(), n);
    for s in per_stream {
        assert_eq!(s["received"], frames_each, "{s}");
        assert!(s["frames"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn two_senders_at_once() {
    many_senders(2);
}

#[test]
fn eight_senders_at_once() {
    many_senders(8);
}

#[test]
fn sender_reconnects_when_the_receiver_restarts() {
    let dir = tempdir();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (rec_a_path, rec_a) = path_str(dir.path(), "a.mjpeg");
    let (rec_b_path, rec_b) = path_str(dir.path(), "b.mjpeg");
    let (send_json_path, send_json) = path_str(dir.path(), "send.json");
    let recv_args = |rec: &str| -> Vec<String> {
        [
            "recv",
            "--listen",
            &listen,
            "--display",
            "none",
            "--count",
            "10",
            "--record",
            rec,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a_args = recv_args(&rec_a);
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let (mut recv_a, _) = start_recv_raw("recv-a", &a_args);

    let mut args = send_args(&listen, PATTERN_ARGS);
    args.extend_from_slice(&["--fps", "20", "--stats-json", &send_json]);
    let mut send = Proc::framecast("send", &args);

    // The first receiver takes 10 frames and exits mid-stream.
    recv_a.wait_ok(TIMEOUT);
    // The second one comes up on the same port a little later.
    std::thread::sleep(Duration::from_millis(300));
    let b_args = recv_args(&rec_b);
    let b_args: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let (mut recv_b, _) = start_recv_raw("recv-b", &b_args);
    recv_b.wait_ok(TIMEOUT);

    // The sender survived both and is still streaming; Ctrl-C ends it.
    assert!(send.child.try_wait().unwrap().is_none(), "sender exited");
    send.interrupt();
    send.wait_ok(TIMEOUT);
    let sent = read_json(&send_json_path);
    assert!(sent["reconnects"].as_u64().unwrap() >= 1, "{sent}");

    let a = mjpeg_frames(&rec_a_path);
    let b = mjpeg_frames(&rec_b_path);
    assert_eq!((a.len(), b.len()), (10, 10));
    let last_a = *check_pattern_recording(&a, (128, 128), u64::MAX)
        .last()
        .unwrap();
    let first_b = check_pattern_recording(&b, (128, 128), u64::MAX)[0];
    assert!(
        first_b > last_a,
        "the stream carries on after the restart: {last_a} then {first_b}"
    );
}

#[test]
fn slow_sink_drops_frames_but_latency_stays_bounded() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    // The display takes 100 ms per frame; the sender sends 30 fps for 2 s.
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--sink-delay-ms", "100"]);
    let addr = addr.to_string();
    let mut args = send_args(&addr, PATTERN_ARGS);
    args.extend_from_slice(&["--fps", "30", "--count", "60"]);
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    wait_disconnects(&mut recv, 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 60, "{stats}");
    let dropped = stats["dropped"].as_u64().unwrap();
    let shown = stats["frames"].as_u64().unwrap();
    assert!(dropped >= 20, "a slow sink must drop, not queue: {stats}");
    assert_eq!(shown + dropped, 60, "{stats}");
    // Queued behind a 100 ms display, frame 60 would wait about 4 s; with
    // the latest frame winning, no frame waits much more than one display
    // time plus one frame.
    let p99 = stats["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p99 < 1000.0, "latency must not build up: {stats}");
}

/// Writes one length-prefixed (u32 LE) frame.
fn write_frame(s: &mut TcpStream, payload: &[u8]) {
    s.write_all(&(payload.len() as u32).to_le_bytes()).unwrap();
    s.write_all(payload).unwrap();
}

#[test]
fn bad_data_from_one_sender_does_not_disturb_another() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json]);
    let addr_s = addr.to_string();

    // A good sender streams while a bad one misbehaves.
    let mut args = send_args(&addr_s, PATTERN_ARGS);
    args.extend_from_slice(&["--fps", "30", "--count", "30"]);
    let mut good = Proc::framecast("good", &args);

    let mut bad = TcpStream::connect(addr).unwrap();
    assert_eq!(hello(&mut bad, "bad").code(), StatusCode::Accepted);
    // Not a protobuf message at all.
    write_frame(&mut bad, &[0xFF; 40]);
    // A valid message whose payload is not a JPEG.
    let not_jpeg = Video {
        video_data: bytes::Bytes::from_static(b"definitely not a jpeg"),
        ..Default::default()
    };
    write_frame(&mut bad, &not_jpeg.encode_to_vec());
    // A JPEG cut short: its header is fine, the data is not.
    let mut jpeg = Vec::new();
    SenderPipeline::new(SenderConfig::new(64, 64).with_quality(80))
        .unwrap()
        .encode(
            ImageBuf::new(64, 64, PixelFormat::Rgb8).as_image(),
            &mut jpeg,
        )
        .unwrap();
    let cut = Video {
        video_data: bytes::Bytes::copy_from_slice(&jpeg[..jpeg.len() / 2]),
        ..Default::default()
    };
    write_frame(&mut bad, &cut.encode_to_vec());
    // Then a length far over the limit: a protocol error, the receiver
    // hangs up on this connection alone.
    bad.write_all(&u32::MAX.to_le_bytes()).unwrap();
    bad.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 16];
    let n = bad.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the receiver closes the bad connection");

    good.wait_ok(TIMEOUT);
    wait_disconnects(&mut recv, 2);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    assert!(
        recv.stderr().contains("exceeds"),
        "the protocol error is logged: {}",
        recv.stderr()
    );

    let stats = read_json(&json_path);
    let per_stream = stats["per_stream"].as_array().unwrap();
    assert_eq!(per_stream.len(), 2, "{stats}");
    let (mut good_seen, mut bad_seen) = (false, false);
    for s in per_stream {
        if s["received"] == 30 {
            assert_eq!(s["corrupt"], 0, "{s}");
            assert_eq!(
                s["frames"].as_u64().unwrap() + s["dropped"].as_u64().unwrap(),
                30
            );
            good_seen = true;
        } else {
            assert_eq!(s["received"], 3, "{s}");
            assert_eq!(s["corrupt"], 3, "{s}");
            assert_eq!(s["frames"], 0, "{s}");
            bad_seen = true;
        }
    }
    assert!(good_seen && bad_seen, "{stats}");
}

#[test]
fn sessions_over_max_clients_are_refused_with_the_reason() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--max-clients", "1"]);
    let mut first = TcpStream::connect(addr).unwrap();
    assert_eq!(hello(&mut first, "first").code(), StatusCode::Accepted);
    recv.wait_for_stderr(STREAM_STARTED, TIMEOUT);
    let mut second = TcpStream::connect(addr).unwrap();
    let status = hello(&mut second, "second");
    assert_eq!(status.code(), StatusCode::Busy, "{status:?}");
    assert!(
        status.reason.contains("already serving 1 senders"),
        "{status:?}"
    );
    assert!(status.retry_after_ms >= 1000, "{status:?}");
    // The refusal is followed by a clean close, not a reset.
    let mut buf = [0u8; 1];
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert_eq!(second.read(&mut buf).unwrap(), 0);
    recv.wait_for_stderr("--max-clients", TIMEOUT);
    drop(first);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_eq!(stats["refused"], 1, "{stats}");
    assert_eq!(stats["streams"], 1, "{stats}");
}

#[test]
fn ctrl_c_stops_a_streaming_sender_and_receiver_cleanly() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (send_json_path, send_json) = path_str(dir.path(), "send.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--record", &rec]);
    let addr = addr.to_string();
    let mut args = send_args(&addr, PATTERN_ARGS);
    args.extend_from_slice(&["--fps", "30", "--stats-json", &send_json]);
    let mut send = Proc::framecast("send", &args);
    recv.wait_for_stderr(STREAM_STARTED, TIMEOUT);
    std::thread::sleep(Duration::from_millis(700));

    // Ctrl-C the receiver mid-stream, then the sender.
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    send.interrupt();
    send.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    let shown = stats["frames"].as_u64().unwrap();
    assert!(shown > 0, "{stats}");
    // Everything received was recorded, and the file ends on a whole
    // frame.
    let frames = mjpeg_frames(&rec_path);
    assert_eq!(frames.len() as u64, stats["received"].as_u64().unwrap());
    for f in &frames {
        decode(f);
    }
    let sent = read_json(&send_json_path);
    assert!(sent["sent"].as_u64().unwrap() >= shown, "{sent}");
}

#[test]
fn mjpeg_file_at_another_size_is_decoded_scaled_and_re_encoded() {
    let dir = tempdir();
    let file = pattern_jpegs(160, 120, 90, 5).concat();
    let (mj_path, mj) = path_str(dir.path(), "in.mjpeg");
    std::fs::write(&mj_path, &file).unwrap();
    let source = format!("mjpeg:{mj}");
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (send_json_path, send_json) = path_str(dir.path(), "send.json");

    let (mut recv, addr) = start_recv(&["--record", &rec]);
    let addr = addr.to_string();
    let args = send_args(
        &addr,
        &[
            "--source",
            &source,
            "--size",
            "128x128",
            "--fps",
            "30",
            "--count",
            "5",
            "--stats-json",
            &send_json,
        ],
    );
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    wait_disconnects(&mut recv, 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let sent = read_json(&send_json_path);
    assert_eq!(sent["sent"], 5, "{sent}");
    assert_eq!(sent["passthrough"], 0, "{sent}");
    // 4:3 in a 128x128 box: its own shape.
    let frames = mjpeg_frames(&rec_path);
    assert!(!frames.is_empty());
    check_pattern_recording(&frames, (128, 96), 5);
}

#[test]
fn pictures_keep_their_shape_unless_stretched() {
    let dir = tempdir();
    let (_, rec) = path_str(dir.path(), "{name}.mjpeg");
    let (mut recv, addr) = start_recv(&["--record", &rec, "--count", "9"]);
    let addr = addr.to_string();
    // The default --size is 400x400: a 4:3 and a 16:9 source fit inside it
    // at their own shape; --stretch fills it, as the original programs did.
    for (name, input, extra) in [
        ("four-three", "640x480", None),
        ("sixteen-nine", "1280x720", None),
        ("stretched", "640x480", Some("--stretch")),
    ] {
        let mut args = send_args(&addr, &["--input-size", input, "--name", name]);
        args.extend_from_slice(&["--count", "3", "--fps", "0"]);
        args.extend(extra);
        Proc::framecast(name, &args).wait_ok(TIMEOUT);
    }
    recv.wait_ok(TIMEOUT);
    for (name, size) in [
        ("four-three", (400, 300)),
        ("sixteen-nine", (400, 225)),
        ("stretched", (400, 400)),
    ] {
        let frames = mjpeg_frames(&dir.path().join(format!("{name}.mjpeg")));
        assert_eq!(frames.len(), 3, "{name}");
        check_pattern_recording(&frames, size, 3);
    }
}
