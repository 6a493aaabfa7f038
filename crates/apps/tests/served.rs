//! What the receiver passes on and keeps: frames found corrupt only when
//! decoded are never served (snapshots, MJPEG) or published to NATS, and
//! the stats hold a bounded number of ended streams however fast senders
//! come and go. The real binary on loopback, beside a good sender whose
//! frames are counted.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::handshake::StatusCode;
use framecast_proto::video::Video;
use framecast_test_support::nats::{Config, NatsServer};
use prost::Message;

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

/// A `Video` carrying `jpeg` as frame number `sequence`.
fn video(jpeg: &[u8], sequence: u64) -> Vec<u8> {
    Video {
        video_data: jpeg.to_vec().into(),
        sequence,
        ..Default::default()
    }
    .encode_to_vec()
}

/// A GET over a raw connection: the status code and the body.
fn get(http: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let head_end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head");
    let head = String::from_utf8_lossy(&all[..head_end]);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    (code, all[head_end + 4..].to_vec())
}

/// How often `needle` occurs in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn frames_corrupt_only_when_decoded_are_never_served_or_published() {
    let Some(server) = NatsServer::start("served_corrupt", &Config::default()) else {
        return;
    };
    let dir = tempdir();
    let (camera_json_path, camera_json) = path_str(dir.path(), "camera.json");
    let (viewer_json_path, viewer_json) = path_str(dir.path(), "viewer.json");
    let url = server.url();
    // A viewer on NATS: it decodes what was published.
    let (mut viewer, _) = start_recv_raw(
        "nats-viewer",
        &[
            "recv",
            "--display",
            "none",
            "--from",
            &url,
            "--stats-json",
            &viewer_json,
        ],
    );
    viewer.wait_for_stderr("receiving from NATS subject framecast.>", TIMEOUT);
    let (mut camera, addr) = start_recv(&[
        "--http",
        "127.0.0.1:0",
        "--publish",
        &url,
        "--stats-json",
        &camera_json,
    ]);
    let http = http_addr(&mut camera);
    camera.wait_for_stderr("publishing to NATS", TIMEOUT);
    let mut good = good_sender(addr, 8, &["-q"]);

    // A stream whose good frames alternate with frames whose header reads
    // and whose scan is cut short (with an end marker): corrupt only when
    // decoded.
    let full = jpeg(128, 128);
    let cut_at = full.len() / 2;
    let mut cut = full[..cut_at].to_vec();
    cut.extend_from_slice(&[0xFF, 0xD9]);
    // Bytes found only in the cut frame, and only in the good one.
    let cut_mark = cut[cut.len() - 34..].to_vec();
    let good_mark = full[full.len() - 34..].to_vec();
    assert_eq!(occurrences(&full, &cut_mark), 0);

    let mut s = session(addr, "mixed");
    // Everything the MJPEG viewer of the stream gets, read meanwhile.
    let mjpeg = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (mjpeg, done) = (Arc::clone(&mjpeg), Arc::clone(&done));
        let mut c = TcpStream::connect(http).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        write!(
            c,
            "GET /streams/by-name/mixed.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !done.load(Ordering::SeqCst) {
                match c.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => mjpeg.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
            }
        })
    };

    const PAIRS: usize = 10;
    let (mut served_cut, mut served_good, mut snapshots) = (0, 0, 0);
    let mut sequence = 0;
    for _ in 0..PAIRS {
        for frame in [&full, &cut] {
            sequence += 1;
            write_frame(&mut s, &video(frame, sequence)).unwrap();
            // One at a time, so none is dropped by the latest-wins slot;
            // then the snapshot, as a viewer would take it.
            std::thread::sleep(Duration::from_millis(150));
            let (code, body) = get(http, "/streams/by-name/mixed.jpg");
            if code == 200 {
                snapshots += 1;
                if body == cut {
                    served_cut += 1;
                } else if body == full {
                    served_good += 1;
                }
            }
        }
    }
    drop(s);
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    let mjpeg = mjpeg.lock().unwrap().clone();
    let (mjpeg_cut, mjpeg_good) = (
        occurrences(&mjpeg, &cut_mark),
        occurrences(&mjpeg, &good_mark),
    );
    eprintln!(
        "snapshots: {snapshots} taken, {served_good} good, {served_cut} corrupt; MJPEG: \
         {mjpeg_good} good, {mjpeg_cut} corrupt"
    );
    assert_eq!(served_cut, 0, "a corrupt frame was served as a snapshot");
    assert!(served_good > 0, "no good snapshot: {snapshots} taken");
    assert_eq!(mjpeg_cut, 0, "a corrupt frame was served over MJPEG");
    assert!(
        mjpeg_good >= PAIRS / 2,
        "the MJPEG viewer got {mjpeg_good} good frames of {PAIRS}"
    );

    good.wait_ok(TIMEOUT);
    camera.wait_for_stderr("\"good\" from", TIMEOUT);
    camera.interrupt();
    camera.wait_ok(TIMEOUT);
    let stats = read_json(&camera_json_path);
    let mixed = stream_named(&stats, "mixed");
    assert_eq!(mixed["received"], 2 * PAIRS, "{mixed}");
    assert_eq!(mixed["corrupt"], PAIRS, "{mixed}");
    assert_eq!(mixed["frames"], PAIRS, "{mixed}");
    assert_good_stream(&stats, 8 * 30);
    let published = &stats["nats"]["publish"];
    eprintln!("camera side published: {published}");

    // The NATS viewer decoded every frame it was given: none corrupt.
    let deadline = Instant::now() + Duration::from_secs(5);
    while viewer.count_stderr("\"mixed\" from") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    viewer.interrupt();
    viewer.wait_ok(TIMEOUT);
    let seen = read_json(&viewer_json_path);
    let mixed = stream_named(&seen, "mixed");
    eprintln!("through NATS: {mixed}");
    assert_eq!(
        mixed["corrupt"], 0,
        "a corrupt frame was published: {mixed}"
    );
    assert!(mixed["received"].as_u64().unwrap() > 0, "{mixed}");
    assert_eq!(stream_named(&seen, "good")["corrupt"], 0, "{seen}");
}

#[test]
fn reconnect_churn_keeps_the_ended_streams_in_the_stats_bounded() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    // Workers slowed to 20 ms a frame: senders that come, send a frame and
    // go faster than that leave streams whose last frame is still to be
    // shown.
    let (mut recv, addr) = start_recv(&[
        "--http",
        "127.0.0.1:0",
        "--stats-json",
        &json,
        "--workers",
        "1",
        "--sink-delay-ms",
        "20",
    ]);
    let http = http_addr(&mut recv);
    let mut good = good_sender(addr, 10, &["-q"]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);

    let payload = video(&jpeg(64, 64), 1);
    // Sessions of one frame each, as fast as they go; one that finds the
    // receiver busy (the previous ones not seen closed yet) is not counted.
    let churn = std::thread::spawn(move || {
        let mut accepted = 0u64;
        for _ in 0..400 {
            let mut s = TcpStream::connect(addr).unwrap();
            if hello(&mut s, "churn").code() == StatusCode::Accepted {
                write_frame(&mut s, &payload).unwrap();
                accepted += 1;
            }
        }
        accepted
    });
    let (mut most_ended, mut polls) = (0, 0);
    while !churn.is_finished() || polls < 20 {
        let (code, body) = get(http, "/stats.json");
        assert_eq!(code, 200);
        let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let ended = stats["per_stream"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["connected"] == false)
            .count();
        most_ended = most_ended.max(ended);
        polls += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let accepted = churn.join().unwrap();
    eprintln!(
        "the most ended streams in /stats.json: {most_ended} over {polls} looks, {accepted} \
         sessions"
    );
    assert!(
        most_ended <= 64,
        "{most_ended} ended streams in the stats: more than 64"
    );
    assert!(
        most_ended >= 32,
        "the churn left too few ended streams to tell: {most_ended}"
    );

    good.wait_ok(TIMEOUT);
    recv.wait_for_stderr("\"good\" from", TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_eq!(stats["streams"], accepted + 1, "{}", stats["streams"]);
    assert!(stats["per_stream"].as_array().unwrap().len() <= 64 + 1);
    let good = stream_named(&stats, "good");
    assert_eq!(good["received"], 10 * 30, "{good}");
    assert_eq!(good["corrupt"], 0, "{good}");
    eprintln!("good stream: {good}");
}
