//! Decoding is shared by cost, not by frame: legitimate senders of
//! expensive pictures beside a good stream, against the real binary on
//! loopback, its decode workers confined to one core.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::video::Video;
use prost::Message;

/// A 3840x2160 JPEG at quality 92 of noise: about 8 MB, the most expensive
/// picture a receiver accepts by default.
fn noise_4k() -> Vec<u8> {
    let (w, h) = (3840, 2160);
    let mut img = ImageBuf::new(w, h, PixelFormat::Rgb8);
    let mut x: u32 = 0x9E37_79B9;
    for b in img.data_mut() {
        // xorshift32: noise no encoder can compress much.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let mut out = Vec::new();
    SenderPipeline::new(SenderConfig::new(w, h).with_quality(92))
        .unwrap()
        .encode(img.as_image(), &mut out)
        .unwrap();
    out
}

/// The first CPU this process may run on.
fn one_cpu() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in /proc/self/status")
        .trim();
    list.split([',', '-']).next().unwrap().to_owned()
}

/// An authenticated peer sending `frame` at `fps` for `seconds`; returns
/// how many it sent.
fn expensive_sender(
    addr: SocketAddr,
    name: &str,
    token: &str,
    frame: &[u8],
    fps: u32,
    seconds: u64,
) -> u64 {
    let mut s = session_with_token(addr, name, token);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        if write_frame(&mut s, frame).is_err() {
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
fn two_expensive_streams_cost_their_own_frames_not_the_good_ones() {
    let Some(tools) = require_tools(
        "two_expensive_streams_cost_their_own_frames_not_the_good_ones",
        &["taskset"],
    ) else {
        return;
    };
    const SECONDS: u64 = 8;
    let dir = tempdir();
    let token = "Fair-by-cost-0123456789";
    let token_file = write_token(dir.path(), "token", token);
    let (json_path, json) = path_str(dir.path(), "stats.json");
    // Every decode worker on one core: the receiver's whole process is
    // confined to it.
    let mut cmd = Command::new(&tools[0]);
    cmd.args(["-c", &one_cpu(), BIN])
        .args(["recv", "--listen", "127.0.0.1:0", "--display", "none"])
        .args(["--token-file", &token_file, "--stats-json", &json])
        .args(["--max-frame-len", "16000000"]);
    let mut recv = Proc::spawn("recv", cmd);
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr: SocketAddr = line
        .rsplit("listening on ")
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let picture = noise_4k();
    let frame = Video {
        video_data: picture.into(),
        width: 3840,
        height: 2160,
        ..Default::default()
    }
    .encode_to_vec();
    eprintln!("4K frame of {} bytes", frame.len());
    assert!(frame.len() > 6_000_000, "{}", frame.len());

    let to = addr.to_string();
    let count = (SECONDS * 30).to_string();
    let mut good = Proc::framecast(
        "good",
        &[
            "send",
            "--to",
            &to,
            "--name",
            "good",
            "--fps",
            "30",
            "--count",
            &count,
            "--size",
            "400x400",
            "--token-file",
            &token_file,
        ],
    );
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);
    let heavy: Vec<_> = (1..=2)
        .map(|i| {
            let frame = frame.clone();
            std::thread::spawn(move || {
                expensive_sender(addr, &format!("4k-{i}"), token, &frame, 15, SECONDS)
            })
        })
        .collect();
    let sent: Vec<u64> = heavy.into_iter().map(|t| t.join().unwrap()).collect();
    good.wait_ok(TIMEOUT);
    wait_until(|| recv.count_stderr(STREAM_ENDED) >= 3, &recv);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    let good_s = stream_named(&stats, "good");
    eprintln!("good: {good_s}");
    assert_eq!(good_s["received"], SECONDS * 30, "{good_s}");
    assert_eq!(good_s["corrupt"], 0, "{good_s}");
    // Before the pool was fair by cost, 7 of 240 were shown. On a quiet
    // machine nearly all are (scripts/fair-decode.sh measures the frame
    // rate: 29 fps and more); a machine busy with other work, sharing the
    // receiver's one core, costs a few more: at least 4 of 5.
    let shown = good_s["frames"].as_u64().unwrap();
    assert!(
        shown * 5 >= SECONDS * 30 * 4,
        "the good stream was starved beside two 4K streams: {shown} of {} shown: {good_s}",
        SECONDS * 30
    );
    let shown: Vec<u64> = (1..=2)
        .map(|i| {
            stream_named(&stats, &format!("4k-{i}"))["frames"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Fair between themselves too: the same time, so about as many frames.
    assert!(
        shown[0].abs_diff(shown[1]) <= shown[0].max(shown[1]) / 2 + 1,
        "two equal streams shown {shown:?} times"
    );
    let good_cost = stream_named(&stats, "good")["cost_ms"].as_f64().unwrap();
    for (i, sent) in sent.iter().enumerate() {
        let s = stream_named(&stats, &format!("4k-{}", i + 1));
        eprintln!("4k-{}: {s}", i + 1);
        assert_eq!(s["received"], *sent, "{s}");
        assert_eq!(s["corrupt"], 0, "{s}");
        assert!(s["frames"].as_u64().unwrap() > 0, "never shown: {s}");
        assert!(
            s["dropped"].as_u64().unwrap() > 0,
            "an expensive stream loses its own frames: {s}"
        );
        let cost = s["cost_ms"].as_f64().unwrap();
        assert!(
            cost > 10.0 * good_cost,
            "a 4K frame costs {cost} ms, a good one {good_cost} ms"
        );
    }
}

/// Waits until `done()`, failing with the receiver's log after the timeout.
fn wait_until(done: impl Fn() -> bool, recv: &Proc) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out\n{}", recv.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}
