//! Stream names against the real binary: names from NATS subjects checked
//! like names from a hello, names made into subjects one-to-one, and names
//! shown escaped in the log, the stats line, `/metrics` and the pages.
//! Each beside a good sender whose frames are counted.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};
use framecast_proto::video::Video;
use framecast_test_support::nats::{Config, NatsServer};
use prost::Message;

/// Small, fast pattern frames.
const SMALL: &[&str] = &["--input-size", "160x120", "--size", "128x128"];

/// A `Video` holding a JPEG of the codec's own making.
fn video(sequence: u64) -> Vec<u8> {
    let mut jpeg = Vec::new();
    let mut img = ImageBuf::new(32, 32, PixelFormat::Rgb8);
    for (i, b) in img.data_mut().iter_mut().enumerate() {
        *b = (i as u64 * 7 + sequence) as u8;
    }
    SenderPipeline::new(SenderConfig::new(32, 32).with_quality(80))
        .unwrap()
        .encode(img.as_image(), &mut jpeg)
        .unwrap();
    Video {
        video_data: jpeg.into(),
        sequence,
        ..Default::default()
    }
    .encode_to_vec()
}

/// A NATS client speaking the protocol by hand, so that it can publish to
/// any subject the server takes (a stock client refuses some).
struct RawNats {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawNats {
    fn connect(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut info = String::new();
        reader.read_line(&mut info).unwrap();
        assert!(info.starts_with("INFO "), "{info}");
        let mut nats = Self { stream, reader };
        nats.stream
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
            .unwrap();
        nats.flush();
        nats
    }

    fn publish(&mut self, subject: &str, payload: &[u8]) {
        let mut message = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        message.extend_from_slice(payload);
        message.extend_from_slice(b"\r\n");
        self.stream.write_all(&message).unwrap();
    }

    /// Waits until the server has taken everything sent so far.
    fn flush(&mut self) {
        self.stream.write_all(b"PING\r\n").unwrap();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(!line.starts_with("-ERR"), "{line}");
            if line.starts_with("PONG") {
                return;
            }
        }
    }
}

/// `GET path` from the viewer: the body.
fn http_get(http: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    answer
}

/// The streams of a `--stats-json` file.
fn streams(stats: &serde_json::Value) -> Vec<serde_json::Value> {
    stats["per_stream"].as_array().unwrap().clone()
}

/// How many of `text`'s characters are raw control, bidirectional or
/// zero-width ones that a terminal or a browser would act on or hide.
fn raw_invisible(text: &str) -> usize {
    text.chars()
        .filter(|&c| c != '\n' && c != '\r' && c != '\t' && framecast_net::is_invisible(c))
        .count()
}

#[test]
fn names_from_nats_subjects_are_checked_and_never_merged() {
    let Some(server) = NatsServer::start("names_from_subjects", &Config::default()) else {
        return;
    };
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let record = format!("{}/{{name}}.mjpeg", dir.path().display());
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--from",
            &server.url(),
            "--http",
            "127.0.0.1:0",
            "--stats-json",
            &json,
            "--record",
            &record,
        ],
    );
    let http = http_addr(&mut recv);
    recv.wait_for_stderr("receiving from NATS subject framecast.>", TIMEOUT);

    // The good sender, straight to NATS (framecast.good), 3 s.
    let url = server.url();
    let mut args = vec![
        "send", "--to", &url, "--name", "good", "--fps", "30", "--count", "90",
    ];
    args.extend_from_slice(SMALL);
    let mut good = Proc::framecast("good", &args);

    // Beside it: a subject that would clear the terminal, and two subjects
    // alike in far more than their first 64 bytes.
    let evil = "framecast.\u{1b}[2J\u{1b}[31mEVIL";
    let long = "x".repeat(80);
    let (long_a, long_b) = (format!("framecast.{long}a"), format!("framecast.{long}b"));
    let mut nats = RawNats::connect(&server.addr());
    const HOSTILE: u64 = 30;
    for i in 0..HOSTILE {
        for subject in [evil, &long_a, &long_b] {
            nats.publish(subject, &video(i));
        }
        nats.flush();
        std::thread::sleep(Duration::from_millis(40));
    }
    good.wait_ok(TIMEOUT);
    // Let the stats line run over every stream once more.
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = http_get(http, "/metrics");
    let wall = http_get(http, "/");
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stderr = recv.stderr();
    let escapes = stderr.matches('\u{1b}').count();
    assert_eq!(escapes, 0, "ESC bytes reached the log:\n{stderr}");
    // The refusal says which subject, escaped.
    assert!(
        stderr.contains("NATS subject framecast.\\u{1b}[2J\\u{1b}[31mEVIL makes no stream name"),
        "{stderr}"
    );
    for (what, text) in [("/metrics", &metrics), ("the wall", &wall)] {
        assert_eq!(text.matches('\u{1b}').count(), 0, "{what}: {text}");
        assert!(!text.contains("EVIL"), "{what}: {text}");
    }

    let stats = read_json(&json_path);
    let all = streams(&stats);
    assert_eq!(all.len(), 3, "good and the two long subjects: {stats}");
    assert_good_stream(&stats, 90);
    assert!(
        stats["nats"]["from"]["refused"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    // Two subjects, two streams, two names, two recordings, each whole.
    let longs: Vec<&serde_json::Value> = all.iter().filter(|s| s["name"] != "good").collect();
    let names: Vec<&str> = longs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(longs.len(), 2, "{stats}");
    assert_ne!(names[0], names[1], "{stats}");
    for s in &longs {
        let name = s["name"].as_str().unwrap();
        assert!(name.len() <= 64 && name.starts_with("xxxxxxxxxx"), "{name}");
        assert_eq!(s["received"], HOSTILE, "{s}");
    }
    let recordings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "mjpeg")
                && p.file_name().unwrap().to_string_lossy().starts_with("xxx")
        })
        .collect();
    assert_eq!(recordings.len(), 2, "{recordings:?}");
    for path in &recordings {
        assert_eq!(
            mjpeg_frames(path).len() as u64,
            HOSTILE,
            "{}",
            path.display()
        );
    }
}

#[test]
fn names_become_subjects_one_to_one() {
    let Some(server) = NatsServer::start("names_to_subjects", &Config::default()) else {
        return;
    };
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--from",
            &server.url(),
            "--stats-json",
            &json,
        ],
    );
    recv.wait_for_stderr("receiving from NATS subject framecast.>", TIMEOUT);

    // Four names the old scheme put on one subject (framecast.a_b), each
    // with its own count of frames, and the good sender.
    let url = server.url();
    let senders: Vec<(&str, u64)> = vec![("a.b", 20), ("a_b", 25), ("a*b", 30), ("a>b", 35)];
    let mut procs: Vec<Proc> = senders
        .iter()
        .map(|(name, count)| {
            let count = count.to_string();
            let mut args = vec![
                "send", "--to", &url, "--name", name, "--fps", "30", "--count", &count,
            ];
            args.extend_from_slice(SMALL);
            Proc::framecast(name, &args)
        })
        .collect();
    let mut args = vec![
        "send", "--to", &url, "--name", "good", "--fps", "30", "--count", "60",
    ];
    args.extend_from_slice(SMALL);
    procs.push(Proc::framecast("good", &args));
    for p in &mut procs {
        p.wait_ok(TIMEOUT);
    }
    std::thread::sleep(Duration::from_millis(500));
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    assert_good_stream(&stats, 60);
    assert_eq!(streams(&stats).len(), 5, "{stats}");
    for (name, count) in senders {
        // Each its own stream, named as its sender is, with its own frames.
        let s = stream_named(&stats, name);
        assert_eq!(s["received"], count, "{s}");
        assert_eq!(s["corrupt"], 0, "{s}");
    }
    // Each on a subject of its own, and each a stream once.
    for (p, token) in procs.iter().zip(["a~2eb", "a_b", "a~2ab", "a~3eb", "good"]) {
        let line = format!("publishing frames to NATS subject framecast.{token}");
        assert!(p.stderr().contains(&line), "{}: {}", p.name, p.stderr());
    }
    assert_eq!(recv.count_stderr(STREAM_STARTED), 5, "{}", recv.stderr());
}

#[test]
fn invisible_characters_in_names_are_shown_escaped() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--http", "127.0.0.1:0", "--stats-json", &json]);
    let http = http_addr(&mut recv);
    // 10 s each: the pages are read while both are live, on a loaded
    // machine too.
    let mut good = good_sender(addr, 10, &[]);
    // A name that reads "cam1.exe" turned around, with a zero-width space.
    let sly = "cam\u{202e}exe.1\u{200b}";
    let to = addr.to_string();
    let mut args = vec![
        "send", "--to", &to, "--name", sly, "--fps", "30", "--count", "300",
    ];
    args.extend_from_slice(PATTERN_ARGS);
    let mut sender = Proc::framecast("sly", &args);
    recv.wait_for_stderr("\"cam\\u{202e}exe.1\\u{200b}\" connected from", TIMEOUT);
    // The stats line has come round at least once for it.
    recv.wait_for_stderr("cam\\u{202e}exe.1\\u{200b}:", TIMEOUT);
    let metrics = http_get(http, "/metrics");
    let wall = http_get(http, "/");
    let by_name: String = sly
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let page = http_get(http, &format!("/streams/by-name/{by_name}"));
    sender.wait_ok(TIMEOUT);
    good.wait_ok(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stderr = recv.stderr();
    for (what, text) in [
        ("the log and the stats line", &stderr),
        ("/metrics", &metrics),
        ("the wall", &wall),
        ("the stream page", &page),
    ] {
        assert_eq!(raw_invisible(text), 0, "{what}: {text}");
    }
    assert!(
        metrics.contains("name=\"cam\\\\u{202e}exe.1\\\\u{200b}\""),
        "{metrics}"
    );
    assert!(
        wall.contains("<h2>cam\\u{202e}exe.1\\u{200b}</h2>"),
        "{wall}"
    );
    // The page's data keeps the exact name, as a character reference.
    assert!(
        page.contains("data-name=\"cam&#x202e;exe.1&#x200b;\""),
        "{page}"
    );
    let stats = read_json(&json_path);
    assert_good_stream(&stats, 300);
    // The data is exact.
    assert_eq!(stream_named(&stats, sly)["received"], 300, "{stats}");
}
