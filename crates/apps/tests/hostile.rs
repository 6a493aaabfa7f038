//! The receiver against hostile and broken peers: the real binary on
//! loopback, with a good 30 fps sender streaming throughout whose frames
//! are counted, so every test also shows that one bad peer never hurts
//! another.
//!
//! Figures are asserted with margins a regression would still break:
//! memory that grows per connection, a buffer reserved for an announced
//! length, a decode that blocks other streams.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::handshake::StatusCode;
use framecast_proto::video::Video;
use prost::Message;

/// The resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A JPEG of `w` x `h` of the codec's own making.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut img = ImageBuf::new(w, h, PixelFormat::Rgb8);
    for (i, b) in img.data_mut().iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    SenderPipeline::new(SenderConfig::new(w, h).with_quality(80))
        .unwrap()
        .encode(img.as_image(), &mut out)
        .unwrap();
    out
}

/// Rewrites the frame size in a JPEG's SOF0 header.
fn patch_sof(jpeg: &mut [u8], w: u16, h: u16) {
    let at = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline SOF0 marker");
    jpeg[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
}

fn video(jpeg: Vec<u8>) -> Vec<u8> {
    Video {
        video_data: jpeg.into(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Waits until the receiver's stats (read through a `--stats-json` it
/// writes on exit) cannot be had live, so tests poll the process instead:
/// this waits for a line on stderr a number of times.
fn wait_count(p: &Proc, needle: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while p.count_stderr(needle) < n {
        assert!(
            Instant::now() < deadline,
            "{needle:?} seen {} of {n} times\n{}",
            p.count_stderr(needle),
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connect_close_cycles_leave_nothing_behind() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json]);
    let mut good = good_sender(addr, 12, &["-q"]);

    let cycle = |i: usize| {
        let mut s = TcpStream::connect(addr).unwrap();
        if i.is_multiple_of(2) {
            // A whole session: hello, accepted, closed.
            let status = hello(&mut s, "cycle");
            assert_eq!(status.code(), StatusCode::Accepted, "{status:?}");
        }
        // Odd ones connect and close without a word.
    };
    for i in 0..100 {
        cycle(i);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after_100 = rss_kib(recv.pid());
    for i in 100..20_000 {
        cycle(i);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after_20k = rss_kib(recv.pid());
    eprintln!("RSS after 100 cycles {after_100} KiB, after 20,000 {after_20k} KiB");
    assert!(
        after_20k <= after_100 + 4 * 1024,
        "RSS grew from {after_100} KiB to {after_20k} KiB over 20,000 connections"
    );

    good.wait_ok(TIMEOUT);
    wait_count(&recv, "\"good\" from", 1, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let text = std::fs::read_to_string(&json_path).unwrap();
    assert!(text.len() < 200_000, "stats JSON of {} bytes", text.len());
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stats["streams"], 10_000 + 1, "{}", &text[..400]);
    assert_eq!(stats["connections"], 20_000 + 1);
    let kept = stats["per_stream"].as_array().unwrap().len();
    assert!(kept <= 64 + 1, "{kept} streams kept in the stats");
    assert_good_stream(&stats, 12 * 30);
}

#[test]
fn idle_connections_time_out_and_never_lock_out_a_sender() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&[
        "--stats-json",
        &json,
        "--handshake-timeout",
        "2",
        "--idle-timeout",
        "2",
        "--max-pending-handshakes",
        "20",
    ]);
    // 15 connections that never say a word hold nothing a sender needs.
    let idle: Vec<TcpStream> = (0..15).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // 30 more than the pending limit can hold: the oldest give way.
    let more: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // A session that says hello and then nothing: the idle timeout.
    let mut quiet = session(addr, "quiet");
    let mut good = good_sender(addr, 6, &[]);
    good.wait_ok(TIMEOUT);
    assert!(
        !good.stderr().contains("refused"),
        "the real sender was refused: {}",
        good.stderr()
    );
    // Every idle connection was closed by the receiver.
    quiet.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut b = [0u8; 1];
    assert_eq!(
        quiet.read(&mut b).unwrap_or(0),
        0,
        "the idle session was closed"
    );
    for mut s in idle.into_iter().chain(more) {
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut b = [0u8; 64];
        let n = s.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0, "closed without a word: {:?}", &b[..n]);
    }
    assert!(recv.stderr().contains("timed out"), "{}", recv.stderr());
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_good_stream(&stats, 6 * 30);
    assert!(
        stats["timeouts"]["handshake"].as_u64().unwrap() >= 15,
        "{stats}"
    );
    assert_eq!(stats["timeouts"]["idle"], 1, "{stats}");
    assert!(
        stats["refused"].as_u64().unwrap() >= 25,
        "evictions: {stats}"
    );
}

#[test]
fn announced_frames_reserve_nothing_until_they_arrive() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&[
        "--stats-json",
        &json,
        "--max-clients",
        "17",
        "--trickle-timeout",
        "4",
    ]);
    let mut good = good_sender(addr, 8, &[]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(recv.pid());
    // 16 peers announce 8 MiB frames, then trickle a byte a second.
    let mut peers: Vec<TcpStream> = (0..16)
        .map(|i| {
            let mut s = session(addr, &format!("trickle-{i}"));
            s.write_all(&(8u32 << 20).to_le_bytes()).unwrap();
            s
        })
        .collect();
    let mut peak = before;
    for _ in 0..3 {
        for s in &mut peers {
            let _ = s.write_all(&[0]);
        }
        std::thread::sleep(Duration::from_secs(1));
        peak = peak.max(rss_kib(recv.pid()));
    }
    eprintln!("RSS before {before} KiB, peak with 16 trickling peers {peak} KiB");
    assert!(
        peak < before + 16 * 1024,
        "16 announced 8 MiB frames raised RSS from {before} KiB to {peak} KiB"
    );
    // The trickle timeout ends them all.
    wait_count(&recv, "a frame started but not finished", 16, TIMEOUT);
    good.wait_ok(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_eq!(stats["timeouts"]["trickle"], 16, "{stats}");
    assert_good_stream(&stats, 8 * 30);
}

/// A peer that sends `payload` as fast as `fps` allows until `stop`.
fn flood(addr: SocketAddr, name: &str, payload: Vec<u8>, fps: u32, seconds: u64) -> u64 {
    let mut s = session(addr, name);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        if write_frame(&mut s, &payload).is_err() {
            break;
        }
        sent += 1;
        let due = start + Duration::from_secs_f64(sent as f64 / f64::from(fps));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    sent
}

#[test]
fn a_decompression_bomb_cannot_starve_another_stream() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--workers", "2"]);
    let mut good = good_sender(addr, 6, &[]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);
    // A 2.7 KB JPEG whose header claims 8192x4096 (33 Mpx): refused from
    // its header, before any decoding.
    let mut huge = jpeg(64, 64);
    patch_sof(&mut huge, 8192, 4096);
    // One that claims 3840x2160, within the default limit: decoding it is
    // expensive, and it takes one worker at most.
    let mut big = jpeg(64, 64);
    patch_sof(&mut big, 3840, 2160);
    let (huge, big) = (video(huge), video(big));
    assert!(huge.len() < 4000);
    let bomb_a = std::thread::spawn(move || flood(addr, "bomb-huge", huge, 100, 5));
    let bomb_b = std::thread::spawn(move || flood(addr, "bomb-big", big, 100, 5));
    let (a, b) = (bomb_a.join().unwrap(), bomb_b.join().unwrap());
    good.wait_ok(TIMEOUT);
    wait_count(&recv, " ended: ", 3, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    let good_s = stream_named(&stats, "good");
    let fps = good_s["fps"].as_f64().unwrap();
    assert!(fps >= 27.0, "the good stream fell to {fps} fps: {good_s}");
    assert_good_stream(&stats, 6 * 30);
    let huge_s = stream_named(&stats, "bomb-huge");
    assert_eq!(huge_s["received"], a, "{huge_s}");
    assert_eq!(huge_s["corrupt"], a, "refused from the header: {huge_s}");
    assert_eq!(huge_s["frames"], 0, "{huge_s}");
    let big_s = stream_named(&stats, "bomb-big");
    assert_eq!(big_s["received"], b, "{big_s}");
    assert_eq!(
        big_s["frames"], 0,
        "a truncated picture is never shown: {big_s}"
    );
    assert!(
        big_s["dropped"].as_u64().unwrap() > 0,
        "the expensive stream lost its own frames: {big_s}"
    );
}

#[test]
fn a_scan_cut_short_is_corrupt_even_with_an_end_marker() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json]);
    let mut good = good_sender(addr, 3, &[]);
    let full = jpeg(128, 128);
    let mut s = session(addr, "cut");
    let cuts = [
        full.len() / 3,
        full.len() / 2,
        full.len() * 3 / 4,
        full.len() - 40,
    ];
    for cut in cuts {
        let mut j = full[..cut].to_vec();
        j.extend_from_slice(&[0xFF, 0xD9]);
        write_frame(&mut s, &video(j)).unwrap();
        // One at a time, so none is dropped by the latest-wins slot.
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(s);
    good.wait_ok(TIMEOUT);
    wait_count(&recv, " ended: ", 2, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    let cut = stream_named(&stats, "cut");
    assert_eq!(cut["received"], 4, "{cut}");
    assert_eq!(cut["corrupt"], 4, "{cut}");
    assert_eq!(cut["frames"], 0, "{cut}");
    assert_good_stream(&stats, 3 * 30);
}

#[test]
fn wild_capture_times_are_counted_not_averaged() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json]);
    let mut good = good_sender(addr, 3, &[]);
    let mut s = session(addr, "skewed");
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    for (i, t) in [1, now_us + 3_600_000_000, 1, now_us - 120_000_000]
        .into_iter()
        .enumerate()
    {
        let v = Video {
            video_data: jpeg(32, 32).into(),
            sequence: i as u64,
            capture_time_us: Some(t),
            ..Default::default()
        };
        write_frame(&mut s, &v.encode_to_vec()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(s);
    good.wait_ok(TIMEOUT);
    wait_count(&recv, " ended: ", 2, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    let skewed = stream_named(&stats, "skewed");
    assert_eq!(skewed["clock_skew"], 4, "{skewed}");
    assert!(skewed["latency_ms"].is_null(), "{skewed}");
    let p99 = stats["latency_ms"]["p99"].as_f64().unwrap();
    assert!(
        p99 < 1000.0,
        "one peer's clock spoiled the latency: {stats}"
    );
    assert_eq!(stats["clock_skew"], 4, "{stats}");
    assert_good_stream(&stats, 3 * 30);
}

#[test]
fn frames_that_lie_about_their_size_are_corrupt() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--max-pixels", "200x200"]);
    let mut good = good_sender(addr, 3, &[]);
    let mut s = session(addr, "liar");
    // The message says 64x32, the JPEG is 32x64.
    let lie = Video {
        video_data: jpeg(32, 64).into(),
        width: 64,
        height: 32,
        ..Default::default()
    };
    write_frame(&mut s, &lie.encode_to_vec()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // Over --max-pixels.
    write_frame(&mut s, &video(jpeg(256, 200))).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // And one honest frame.
    let honest = Video {
        video_data: jpeg(32, 64).into(),
        width: 32,
        height: 64,
        ..Default::default()
    };
    write_frame(&mut s, &honest.encode_to_vec()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    drop(s);
    good.wait_ok(TIMEOUT);
    wait_count(&recv, " ended: ", 2, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    let liar = stream_named(&stats, "liar");
    assert_eq!(
        (
            liar["received"].as_u64(),
            liar["corrupt"].as_u64(),
            liar["frames"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{liar}"
    );
    assert_good_stream(&stats, 3 * 30);
}

#[test]
fn a_refused_sender_says_why_and_backs_off() {
    let (mut recv, addr) = start_recv(&["--max-clients", "1"]);
    let mut good = good_sender(addr, 10, &[]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);
    let to = addr.to_string();
    let mut args = vec!["send", "--to", &to, "--name", "extra", "--fps", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    let mut extra = Proc::framecast("extra", &args);
    extra.wait_for_stderr("busy: already serving 1 senders", TIMEOUT);
    let start = Instant::now();
    let first = recv.count_stderr("refused ");
    std::thread::sleep(Duration::from_secs(6));
    let attempts = recv.count_stderr("refused ") - first;
    let secs = start.elapsed().as_secs_f64();
    assert!(
        attempts as f64 <= secs + 1.0,
        "{attempts} attempts in {secs:.1} s: more than one a second"
    );
    assert!(attempts >= 3, "the refused sender keeps trying: {attempts}");
    extra.interrupt();
    extra.wait(TIMEOUT);
    assert!(
        !extra.stdout().contains("sent 0 frames") || extra.stderr().contains("refused"),
        "{}",
        extra.stderr()
    );
    good.wait_ok(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}

#[test]
fn a_legacy_sender_to_a_default_receiver_names_framing_on_both_sides() {
    let (mut recv, addr) = start_recv(&[]);
    let mut good = good_sender(addr, 4, &[]);
    let to = addr.to_string();
    let mut args = vec!["send", "--to", &to, "--framing", "legacy", "--fps", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    let mut legacy = Proc::framecast("legacy-sender", &args);
    let line = recv.wait_for_stderr("legacy framing", TIMEOUT);
    assert!(line.contains("--framing legacy"), "receiver: {line}");
    let line = legacy.wait_for_stderr("--framing", TIMEOUT);
    assert!(line.contains("--framing u32"), "sender: {line}");
    legacy.interrupt();
    legacy.wait(TIMEOUT);
    good.wait_ok(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}

#[test]
fn a_default_sender_to_a_legacy_receiver_names_framing_on_both_sides() {
    let (mut recv, addr) = start_recv(&["--framing", "legacy"]);
    let to = addr.to_string();
    let mut args = vec!["send", "--to", &to, "--fps", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    let mut sender = Proc::framecast("u32-sender", &args);
    let line = recv.wait_for_stderr("session handshake", TIMEOUT);
    assert!(line.contains("--framing"), "receiver: {line}");
    let line = sender.wait_for_stderr("--framing legacy", TIMEOUT);
    assert!(line.contains("handshake"), "sender: {line}");
    sender.interrupt();
    sender.wait(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}

#[test]
fn recv_count_ends_after_n_frames_received_even_when_some_are_dropped() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    // A slow display: most frames are dropped, yet the receiver ends
    // after 40 arrived.
    let (mut recv, addr) = start_recv(&[
        "--stats-json",
        &json,
        "--count",
        "40",
        "--sink-delay-ms",
        "100",
    ]);
    let to = addr.to_string();
    let mut args = vec!["send", "--to", &to, "--fps", "0", "--count", "40"];
    args.extend_from_slice(PATTERN_ARGS);
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 40, "{stats}");
    assert!(stats["dropped"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["frames"].as_u64().unwrap() + stats["dropped"].as_u64().unwrap(),
        40,
        "{stats}"
    );
}
