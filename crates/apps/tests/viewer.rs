//! The HTTP viewer as people use it: frame age on every part, tiers
//! encoded once and shared, `?quality=auto` on a slow link beside a fast
//! one, addresses that survive a reconnect, the addresses mjpg-streamer
//! and ustreamer users expect (read by OpenCV, ffmpeg and Chromium), the
//! pages in headless Chromium, one stats shape checked against its JSON
//! Schema, and a Grafana dashboard checked against the metrics. Everything
//! runs the real `framecast recv --http` and `framecast send` over
//! loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use framecast_codec::probe_jpeg;
use framecast_test_support::tools::python;
use serde_json::Value;

/// `framecast send --source pattern` to `addr`, named `name`, with `extra`:
/// a square pattern, sent 400x400 at its own shape, whose size every check
/// here knows.
fn send_pattern(addr: SocketAddr, name: &str, extra: &[&str]) -> Proc {
    let addr = addr.to_string();
    let mut args = vec![
        "send",
        "--to",
        &addr,
        "--source",
        "pattern",
        "--input-size",
        "400x400",
        "--name",
        name,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    Proc::framecast("send", &args)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A plain HTTP/1.0 GET over a raw socket: HTTP/1.0 answers are not
/// chunked, so the body is the bytes that follow the head. Returns the
/// status, the headers (lower-case names) and the stream positioned at the
/// body.
fn open(http: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, Reader) {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {http}\r\n\r\n").unwrap();
    let mut r = Reader {
        s,
        buf: Vec::new(),
        rate: None,
        started: Instant::now(),
        taken: 0,
    };
    let head = r.until(b"\r\n\r\n").expect("an answer head");
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, headers(lines), r)
}

fn headers<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A socket read as a buffered byte stream, optionally no faster than
/// `rate` bytes a second (a viewer on a slow link: with a small receive
/// buffer, the receiver's socket drains at that rate).
struct Reader {
    s: TcpStream,
    buf: Vec<u8>,
    rate: Option<f64>,
    started: Instant,
    taken: usize,
}

impl Reader {
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 2048];
        let want = match self.rate {
            Some(rate) => {
                // Sleep until the budget allows the next chunk.
                let due = self.taken as f64 / rate;
                let now = self.started.elapsed().as_secs_f64();
                if due > now {
                    thread::sleep(Duration::from_secs_f64(due - now));
                }
                chunk.len()
            }
            None => chunk.len(),
        };
        match self.s.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.taken += n;
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The bytes up to and including `end`.
    fn until(&mut self, end: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                return Some(self.buf.drain(..i + end.len()).collect());
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn exactly(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }
}

/// One MJPEG part as it arrived.
#[derive(Debug, Clone)]
struct Part {
    arrived_us: u64,
    headers: BTreeMap<String, String>,
    jpeg: Vec<u8>,
}

impl Part {
    fn captured_us(&self) -> u64 {
        let t = &self.headers["x-timestamp"];
        let (s, us) = t.split_once('.').expect("seconds.microseconds");
        assert_eq!(us.len(), 6, "{t}: six decimals");
        s.parse::<u64>().unwrap() * 1_000_000 + us.parse::<u64>().unwrap()
    }

    fn sequence(&self) -> u64 {
        self.headers["x-sequence"].parse().unwrap()
    }

    fn tier(&self) -> &str {
        &self.headers["x-tier"]
    }

    fn age_ms(&self) -> f64 {
        (self.arrived_us as f64 - self.captured_us() as f64) / 1000.0
    }
}

/// The next part of an MJPEG body (after its opening boundary line).
fn next_part(r: &mut Reader) -> Option<Part> {
    let head = r.until(b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&head).into_owned();
    let h = headers(text.split("\r\n"));
    let len: usize = h.get("content-length")?.parse().ok()?;
    let jpeg = r.exactly(len)?;
    Some(Part {
        arrived_us: now_us(),
        headers: h,
        jpeg,
    })
}

/// Reads `path` as MJPEG for `seconds` (or `parts` parts, whichever comes
/// first), at most `rate` bytes a second when given.
fn watch(http: SocketAddr, path: &str, rate: Option<f64>, seconds: f64, parts: usize) -> Vec<Part> {
    let (status, h, mut r) = open(http, path);
    assert_eq!(status, 200, "GET {path}");
    assert!(
        h["content-type"].starts_with("multipart/x-mixed-replace"),
        "{h:?}"
    );
    if rate.is_some() {
        // A small receive buffer: the link is the reader's pace.
        let _ = socket2::SockRef::from(&r.s).set_recv_buffer_size(8 * 1024);
        r.rate = rate;
        r.started = Instant::now();
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut out = Vec::new();
    while out.len() < parts && Instant::now() < deadline {
        match next_part(&mut r) {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out
}

fn get(http: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let (status, h, mut r) = open(http, path);
    while r.fill() {}
    (status, h, r.buf)
}

fn stats(http: SocketAddr) -> Value {
    let (status, _, body) = get(http, "/stats.json");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Waits until `done` holds for `/stats.json`.
fn wait_stats(http: SocketAddr, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = stats(http);
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "no {what} in {s}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a stream named `name` is connected and has shown a frame;
/// returns its number.
fn wait_live(http: SocketAddr, name: &str) -> u64 {
    let s =
        wait_stats(http, name, |s| {
            s["per_stream"].as_array().unwrap().iter().any(|x| {
                x["name"] == name && x["connected"] == true && x["frames"].as_u64() > Some(0)
            })
        });
    s["per_stream"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["name"] == name && x["connected"] == true)
        .map(|x| x["id"].as_u64().unwrap())
        .max()
        .unwrap()
}

fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
}

fn size_of(jpeg: &[u8]) -> (u32, u32) {
    let info = probe_jpeg(jpeg).expect("a JPEG header");
    assert_eq!(&jpeg[jpeg.len() - 2..], [0xFF, 0xD9], "a complete JPEG");
    (info.width, info.height)
}

#[test]
fn parts_and_snapshots_say_when_they_were_captured_and_which_frame_they_are() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "clock", &["--fps", "30"]);
    let id = wait_live(http, "clock");
    let parts = watch(http, &format!("/streams/{id}.mjpg"), None, 30.0, 20);
    assert_eq!(parts.len(), 20);
    for pair in parts.windows(2) {
        assert!(pair[1].sequence() > pair[0].sequence(), "{pair:?}");
    }
    for p in &parts {
        assert_eq!(p.tier(), "original");
        assert_eq!(size_of(&p.jpeg), (400, 400));
        // Captured on this machine's clock, a moment before it arrived
        // (a loaded machine's margin).
        let age = p.age_ms();
        assert!((-50.0..5000.0).contains(&age), "age {age} ms");
    }
    let (status, h, jpeg) = get(http, &format!("/streams/{id}.jpg"));
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-tier"], "original");
    let snap = Part {
        arrived_us: now_us(),
        headers: h,
        jpeg,
    };
    assert!(snap.sequence() >= parts[19].sequence());
    assert!((-50.0..5000.0).contains(&snap.age_ms()));
}

/// Tier `w` `q` of stream `id` in the stats: (viewers, encodes).
fn tier_of(s: &Value, id: u64, tier: (u64, u64)) -> Option<(u64, u64)> {
    s["http"]["per_stream"]
        .as_array()?
        .iter()
        .find(|x| x["id"] == id)?["tiers"]
        .as_array()?
        .iter()
        .find(|t| t["width"] == tier.0 && t["quality"] == tier.1)
        .map(|t| {
            (
                t["viewers"].as_u64().unwrap(),
                t["encodes"].as_u64().unwrap(),
            )
        })
}

fn received(s: &Value, id: u64) -> u64 {
    s["per_stream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .and_then(|x| x["received"].as_u64())
        .unwrap()
}

#[test]
fn each_tier_is_encoded_once_a_frame_however_many_watch_it() {
    let (_recv, addr, http) = start_recv_http(&["--max-viewers", "20"]);
    let _send = send_pattern(addr, "tiers", &["--fps", "20"]);
    let id = wait_live(http, "tiers");
    let before = stats(http);
    let frames_before = received(&before, id);
    let decodes_before = before["http"]["tier_decodes"].as_u64().unwrap();
    // Four viewers of each of two tiers, and one of the original bytes.
    let mut viewers = Vec::new();
    for (path, n) in [
        (format!("/streams/{id}.mjpg?quality=60&width=200"), 4),
        (format!("/streams/{id}.mjpg?quality=40&width=100"), 4),
        (format!("/streams/{id}.mjpg"), 1),
    ] {
        for _ in 0..n {
            let path = path.clone();
            viewers.push(thread::spawn(move || watch(http, &path, None, 30.0, 60)));
        }
    }
    // Every viewer counted: the two tiers' eight, and the original's one
    // (which may connect last).
    let viewers_of = |s: &Value| {
        s["http"]["per_stream"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| x["viewers"].clone())
    };
    wait_stats(http, "two tiers with four viewers each", |s| {
        tier_of(s, id, (200, 60)).is_some_and(|t| t.0 == 4)
            && tier_of(s, id, (100, 40)).is_some_and(|t| t.0 == 4)
            && viewers_of(s) == Some(Value::from(9))
    });
    let parts: Vec<Vec<Part>> = viewers.into_iter().map(|t| t.join().unwrap()).collect();
    let after = stats(http);
    let frames = received(&after, id) - frames_before;
    for (i, p) in parts.iter().enumerate() {
        assert!(p.len() >= 30, "viewer {i} got {} parts", p.len());
        let (size, tier) = match i {
            0..4 => ((200, 200), "w200 q60"),
            4..8 => ((100, 100), "w100 q40"),
            _ => ((400, 400), "original"),
        };
        for part in p {
            assert_eq!(part.tier(), tier);
            assert_eq!(size_of(&part.jpeg), size);
        }
    }
    // Each tier: at most one encode per frame the stream received while
    // it was watched (not four), and the frames decoded once for both.
    for tier in [(200, 60), (100, 40)] {
        let (_, encodes) = tier_of(&after, id, tier).unwrap();
        assert!(
            encodes <= frames + 2,
            "tier {tier:?}: {encodes} encodes for {frames} frames"
        );
        assert!(encodes >= 30, "tier {tier:?}: only {encodes} encodes");
    }
    let decodes = after["http"]["tier_decodes"].as_u64().unwrap() - decodes_before;
    assert!(
        decodes <= frames + 2,
        "{decodes} decodes for {frames} frames"
    );
    // The same frame at a tier is the same bytes for every viewer of it.
    let seq_bytes = |p: &Vec<Part>| -> BTreeMap<u64, Vec<u8>> {
        p.iter().map(|x| (x.sequence(), x.jpeg.clone())).collect()
    };
    let (a, b) = (seq_bytes(&parts[0]), seq_bytes(&parts[1]));
    let shared: Vec<_> = a.keys().filter(|k| b.contains_key(k)).collect();
    assert!(!shared.is_empty());
    for k in shared {
        assert_eq!(
            a[k], b[k],
            "frame {k} differs between two viewers of one tier"
        );
    }
}

#[test]
fn tiers_are_capped_per_stream_and_bad_parameters_are_refused() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "cap", &["--fps", "10"]);
    let id = wait_live(http, "cap");
    for (query, why) in [
        ("quality=0", "quality must be"),
        ("quality=best", "quality must be"),
        ("width=5", "width must be"),
        ("quality=original&width=100", "takes no width"),
    ] {
        let (status, _, body) = get(http, &format!("/streams/{id}.mjpg?{query}"));
        assert_eq!(status, 400, "{query}");
        assert!(String::from_utf8_lossy(&body).contains(why), "{query}");
    }
    // A width beyond the picture's is the picture's: never enlarged (and
    // the same tier as any other such width).
    let (status, h, jpeg) = get(http, &format!("/streams/{id}.jpg?quality=50&width=4000"));
    assert_eq!(status, 200);
    assert_eq!(h["x-tier"], "w400 q50");
    assert_eq!(size_of(&jpeg), (400, 400));
    // A full width without a quality is the original, untouched.
    let (_, h, _) = get(http, &format!("/streams/{id}.jpg?width=400"));
    assert_eq!(h["x-tier"], "original");
    // The default cap: eight tiers watched at once; the ninth is refused,
    // naming those in use.
    let mut held = Vec::new();
    for w in 0..8 {
        let (status, _, mut r) = open(http, &format!("/streams/{id}.mjpg?width={}", 100 + w));
        assert_eq!(status, 200);
        assert!(next_part(&mut r).is_some());
        held.push(r);
    }
    let (status, h, body) = get(http, &format!("/streams/{id}.mjpg?width=150"));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(h.contains_key("retry-after"));
    assert!(
        body.contains("8 tiers") && body.contains("w100 q80"),
        "{body}"
    );
    drop(held);
}

#[test]
fn an_auto_viewer_on_a_slow_link_gets_a_smaller_picture_at_a_bounded_age_beside_a_fast_one() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "auto", &["--fps", "30"]);
    let id = wait_live(http, "auto");
    let path = format!("/streams/{id}.mjpg");
    // 200 kB/s (1.6 Mbit/s): the original pictures (about 50 kB) would
    // come at 4 a second, each queued behind the last.
    let rate = 200_000.0;
    let fast = {
        let path = path.clone();
        thread::spawn(move || watch(http, &path, None, 14.0, usize::MAX))
    };
    let slow = watch(
        http,
        &format!("{path}?quality=auto"),
        Some(rate),
        14.0,
        usize::MAX,
    );
    let fast = fast.join().unwrap();
    // After 6 s of finding its rung, the slow viewer's last 8 s.
    let settle = slow[0].arrived_us + 6_000_000;
    let late: Vec<&Part> = slow.iter().filter(|p| p.arrived_us >= settle).collect();
    let seconds = (late.last().unwrap().arrived_us - late[0].arrived_us) as f64 / 1e6;
    let fps = late.len() as f64 / seconds;
    let bytes: usize = late.iter().map(|p| p.jpeg.len()).sum();
    let tiered = late.iter().filter(|p| p.tier() != "original").count();
    let ages: Vec<f64> = late.iter().map(|p| p.age_ms()).collect();
    let p90 = percentile(ages.clone(), 0.9);
    eprintln!(
        "slow auto viewer: {fps:.1} fps, {:.1} kB a part, age p50 {:.0} ms p90 {p90:.0} ms, \
         tiers {:?}",
        bytes as f64 / late.len() as f64 / 1000.0,
        percentile(ages, 0.5),
        late.iter().map(|p| p.tier()).collect::<BTreeSet<_>>()
    );
    assert!(
        tiered * 10 >= late.len() * 9,
        "{tiered} of {} parts re-encoded",
        late.len()
    );
    assert!(
        (bytes as f64 / seconds) <= rate * 1.1,
        "{:.0} B/s over a {rate} B/s link",
        bytes as f64 / seconds
    );
    // A smaller picture often, rather than the original at 4 a second,
    // and never far behind (the original's parts alone take 250 ms here).
    assert!(fps >= 10.0, "{fps:.1} fps");
    assert!(p90 <= 1000.0, "age p90 {p90:.0} ms");
    // The fast viewer beside it got the original bytes, nearly every frame.
    let fast_late: Vec<&Part> = fast.iter().filter(|p| p.arrived_us >= settle).collect();
    assert!(fast_late.iter().all(|p| p.tier() == "original"));
    let span = fast_late.last().unwrap().sequence() - fast_late[0].sequence() + 1;
    assert!(
        fast_late.len() as u64 * 10 >= span * 8,
        "the fast viewer got {} of {span} frames",
        fast_late.len()
    );
}

#[test]
fn an_auto_viewer_climbs_back_to_the_original_when_its_link_is_fast() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "climb", &["--fps", "30"]);
    let id = wait_live(http, "climb");
    let (status, _, mut r) = open(http, &format!("/streams/{id}.mjpg?quality=auto"));
    assert_eq!(status, 200);
    // It starts small (quick to show) and is on the original within the
    // ladder's climb (three rungs, two seconds each, with a loaded
    // machine's margin).
    let first = next_part(&mut r).unwrap();
    assert_ne!(first.tier(), "original");
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let p = next_part(&mut r).expect("the stream goes on");
        if p.tier() == "original" {
            assert_eq!(size_of(&p.jpeg), (400, 400));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still on {} after 25 s",
            p.tier()
        );
    }
}

#[test]
fn addresses_by_name_outlive_a_reconnect() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let send = send_pattern(addr, "door", &["--fps", "30"]);
    let first = wait_live(http, "door");
    let (status, _, mut r) = open(http, "/streams/by-name/door.mjpg");
    assert_eq!(status, 200);
    let mut last = 0;
    for _ in 0..10 {
        last = next_part(&mut r).unwrap().sequence();
    }
    // The sender goes away and comes back: a new session, a new number.
    drop(send);
    let _send = send_pattern(addr, "door", &["--fps", "30"]);
    // The same response goes on with the new session's frames (counted
    // from the start again).
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let p = next_part(&mut r).expect("the response went on");
        if p.sequence() < last {
            break;
        }
        last = p.sequence();
        assert!(Instant::now() < deadline, "no frame of the new session");
    }
    let second = wait_live(http, "door");
    assert!(second > first);
    let (status, h, jpeg) = get(http, "/streams/by-name/door.jpg");
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(size_of(&jpeg), (400, 400));
    let (status, _, page) = get(http, "/streams/by-name/door");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("data-mjpg=\"/streams/by-name/door.mjpg\""));
    let (status, _, body) = get(http, "/streams/by-name/window.mjpg");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no live stream named \"window\""));
}

#[test]
fn the_addresses_mjpg_streamer_users_know_answer_opencv_ffmpeg_and_chromium() {
    let (_recv, addr, http) = start_recv_http(&[]);
    let _one = send_pattern(addr, "solo", &["--fps", "30"]);
    wait_live(http, "solo");
    for path in ["/stream", "/?action=stream"] {
        let parts = watch(http, path, None, 20.0, 3);
        assert_eq!(parts.len(), 3, "{path}");
        assert_eq!(size_of(&parts[2].jpeg), (400, 400));
    }
    for path in [
        "/snapshot",
        "/?action=snapshot",
        "/snapshot?quality=50&width=200",
    ] {
        let (status, h, jpeg) = get(http, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(h["content-type"], "image/jpeg", "{path}");
        assert!(h.contains_key("x-timestamp"), "{path}");
        let want = if path.contains("width") {
            (200, 200)
        } else {
            (400, 400)
        };
        assert_eq!(size_of(&jpeg), want, "{path}");
    }
    let test = "the_addresses_mjpg_streamer_users_know_answer_opencv_ffmpeg_and_chromium";
    if let Some(python) = python(test, &["cv2"]) {
        for path in ["/stream", "/?action=stream"] {
            let out = Command::new(&python)
                .args([
                    "-c",
                    "import sys, cv2\n\
                     cap = cv2.VideoCapture(sys.argv[1])\n\
                     assert cap.isOpened(), 'not opened'\n\
                     for _ in range(10):\n\
                     \x20   ok, frame = cap.read()\n\
                     \x20   assert ok, 'no frame'\n\
                     print(frame.shape)\n",
                    &format!("http://{http}{path}"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "OpenCV on {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "(400, 400, 3)");
        }
    }
    if let Some(tools) = require_tools(test, &["ffmpeg"]) {
        let dir = tempdir();
        for (path, frames) in [("/stream", "10"), ("/snapshot", "1")] {
            let (png, png_str) = path_str(dir.path(), "out.png");
            let out = Command::new(&tools[0])
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(format!("http://{http}{path}"))
                .args(["-frames:v", frames, "-update", "1", &png_str])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ffmpeg on {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let decoder =
                png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
            let info = decoder.read_info().unwrap();
            assert_eq!(
                (info.info().width, info.info().height),
                (400, 400),
                "{path}"
            );
        }
    }
    if let Some(tools) = require_tools(test, &["chromium"]) {
        let dir = tempdir();
        let (shot, shot_str) = path_str(dir.path(), "shot.png");
        let mut chromium = Proc::spawn(
            "chromium",
            chromium_command(
                &tools[0],
                dir.path(),
                &shot_str,
                (400, 400),
                &format!("http://{http}/snapshot"),
            ),
        );
        chromium.wait_ok(TIMEOUT);
        assert!(
            find_pattern(&shot).is_some(),
            "Chromium does not show the snapshot"
        );
    }
    // With a second stream, the one-stream addresses ask for a name.
    let _two = send_pattern(addr, "duo", &["--fps", "30"]);
    wait_live(http, "duo");
    let (status, _, body) = get(http, "/stream");
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 404);
    assert!(
        body.contains("?name=") && body.contains("solo") && body.contains("duo"),
        "{body}"
    );
    let parts = watch(http, "/stream?name=duo", None, 20.0, 2);
    assert_eq!(parts.len(), 2);
    let (status, _, _) = get(http, "/?action=snapshot&name=duo");
    assert_eq!(status, 200);
}

/// Headless Chromium taking a `size` screenshot of `url` into `shot`.
fn chromium_command(
    chromium: &Path,
    dir: &Path,
    shot: &str,
    size: (u32, u32),
    url: &str,
) -> Command {
    let mut command = Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        &format!("--user-data-dir={}", dir.join("profile").display()),
        &format!("--screenshot={shot}"),
        &format!("--window-size={},{}", size.0, size.1),
        url,
    ]);
    command
}

/// Where the 400x400 test pattern is in a screenshot (within 120 pixels of
/// the top left), and its frame number.
fn find_pattern(png_path: &Path) -> Option<(u32, u32, u64)> {
    let (rgb, width, height) = read_png(png_path);
    let stride = width as usize * 3;
    for y in 0..=height.saturating_sub(400).min(120) {
        for x in 0..=width.saturating_sub(400).min(120) {
            let start = y as usize * stride + x as usize * 3;
            let view = framecast_codec::ImageRef::with_stride(
                400,
                400,
                framecast_codec::PixelFormat::Rgb8,
                stride,
                &rgb[start..],
            )
            .unwrap();
            if let Some(m) = framecast_capture::decode_marker(&view) {
                return Some((x, y, m));
            }
        }
    }
    None
}

/// A PNG's pixels as RGB, with its size.
fn read_png(path: &Path) -> (Vec<u8>, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(bpp)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (rgb, info.width, info.height)
}

/// What `tests/python/chromium_page.py shot` saw: the screenshot (RGB,
/// width, height) and the page's elements.
fn page_shot(
    test: &str,
    url: &str,
    size: (u32, u32),
    wait: f64,
    then: Option<&str>,
) -> Option<(Vec<u8>, u32, Value)> {
    let tools = require_tools(test, &["chromium"])?;
    let python = python(test, &["json"])?;
    let dir = tempdir();
    let (shot, shot_str) = path_str(dir.path(), "shot.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/chromium_page.py");
    let shoot = || {
        Command::new(&python)
            .arg(&script)
            .arg("--chromium")
            .arg(&tools[0])
            .args(["shot", url, &shot_str, "--wait", &wait.to_string()])
            .arg(format!("--size={}x{}", size.0, size.1))
            .args(then.map(|js| format!("--then={js}")))
            .output()
            .unwrap()
    };
    // A browser that lost its pipe on a loaded machine gets one more try.
    let mut out = shoot();
    if !out.status.success() {
        eprintln!(
            "chromium_page.py failed once: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out = shoot();
    }
    assert!(
        out.status.success(),
        "chromium_page.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (rgb, width, _) = read_png(&shot);
    if std::env::var_os("FRAMECAST_KEEP_SHOTS").is_some() {
        let kept = std::env::temp_dir().join(format!("{test}.png"));
        std::fs::copy(&shot, &kept).unwrap();
        eprintln!("screenshot kept at {}", kept.display());
    }
    Some((rgb, width, page))
}

/// The standard deviation of the pixels' brightness inside a rectangle of
/// the page (a picture varies; an empty or broken one does not).
fn spread(rgb: &[u8], width: u32, r: &Value) -> f64 {
    let (x, y, w, h) = (
        r["x"].as_u64().unwrap() as usize,
        r["y"].as_u64().unwrap() as usize,
        r["w"].as_u64().unwrap() as usize,
        r["h"].as_u64().unwrap() as usize,
    );
    let mut values = Vec::new();
    for row in y..y + h {
        for col in x..x + w {
            let i = (row * width as usize + col) * 3;
            if let Some(p) = rgb.get(i..i + 3) {
                values.push((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) as f64 / 3.0);
            }
        }
    }
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len().max(1) as f64).sqrt()
}

/// Pixels inside a rectangle within `tolerance` of `colour`.
fn pixels_of(rgb: &[u8], width: u32, r: &Value, colour: [u8; 3]) -> usize {
    let (x, y, w, h) = (
        r["x"].as_u64().unwrap() as usize,
        r["y"].as_u64().unwrap() as usize,
        r["w"].as_u64().unwrap() as usize,
        r["h"].as_u64().unwrap() as usize,
    );
    let mut n = 0;
    for row in y..y + h {
        for col in x..x + w {
            let i = (row * width as usize + col) * 3;
            if let Some(p) = rgb.get(i..i + 3)
                && p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 24)
            {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_camera_wall_shows_a_live_tile_per_stream_on_a_desk_and_on_a_phone() {
    let test = "the_camera_wall_shows_a_live_tile_per_stream_on_a_desk_and_on_a_phone";
    let (_recv, addr, http) = start_recv_http(&[]);
    let _a = send_pattern(addr, "garden", &["--fps", "30"]);
    let _b = send_pattern(addr, "porch", &["--fps", "30", "--size", "640x360"]);
    wait_live(http, "garden");
    wait_live(http, "porch");
    for size in [(1024, 768), (390, 844)] {
        let Some((rgb, width, page)) = page_shot(test, &format!("http://{http}/"), size, 5.0, None)
        else {
            return;
        };
        assert_eq!(page["tiles"], 2, "{page}");
        let tiles: Vec<&Value> = page["canvases"].as_array().unwrap().iter().collect();
        assert_eq!(tiles.len(), 2, "{page}");
        for t in &tiles {
            // A picture was drawn (the canvas took its size) and it shows
            // something, in the tile's own shape.
            assert!(t["width"].as_u64() > Some(0), "{t}");
            let s = spread(&rgb, width, t);
            assert!(s > 20.0, "tile {t} is flat ({s:.1}) at {size:?}");
            let aspect = t["w"].as_f64().unwrap() / t["h"].as_f64().unwrap();
            let picture = t["width"].as_f64().unwrap() / t["height"].as_f64().unwrap();
            assert!(
                (aspect - picture).abs() < 0.1,
                "tile {t} is not its picture's shape"
            );
        }
        let texts = &page["texts"];
        assert!(
            texts["status"].as_str().unwrap().contains("2 live streams"),
            "{texts}"
        );
        // Each tile says the size, frame rate and JPEG quality its sender
        // sends at (95 unless a loaded machine made it adapt).
        let figures = page["figures"].as_array().unwrap();
        assert_eq!(figures.len(), 2, "{page}");
        for f in figures {
            let f = f.as_str().unwrap();
            let quality = f
                .split(" · ")
                .find_map(|part| part.strip_prefix('q')?.parse::<u32>().ok());
            assert!(
                f.contains('×') && f.contains(" fps") && quality.is_some_and(|q| q <= 95),
                "{f}"
            );
        }

        if size.0 < 500 {
            // A phone: one column, each tile as wide as the screen.
            assert!(
                tiles.iter().all(|t| t["w"].as_u64().unwrap() > 300),
                "{page}"
            );
            assert!(tiles[1]["y"].as_u64() > tiles[0]["y"].as_u64());
        }
    }
}

#[test]
fn the_stream_page_fits_the_picture_says_its_age_and_draws_its_graphs() {
    let test = "the_stream_page_fits_the_picture_says_its_age_and_draws_its_graphs";
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "yard", &["--fps", "30"]);
    wait_live(http, "yard");
    // Halfway through, the page's controls ask the sender for quality 40.
    let Some((rgb, width, page)) = page_shot(
        test,
        &format!("http://{http}/streams/by-name/yard"),
        (1280, 800),
        8.0,
        Some(
            "document.getElementById('ask-quality').value = '40'; \
             document.getElementById('ask-apply').click();",
        ),
    ) else {
        return;
    };
    let canvases = page["canvases"].as_array().unwrap();
    let by_id = |id: &str| {
        canvases
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {page}"))
    };
    let live = by_id("live");
    // Fitted: larger on screen than the 400x400 picture, and showing it.
    assert!(live["h"].as_u64() > Some(400), "{live}");
    assert!(spread(&rgb, width, live) > 20.0);
    for graph in ["graph-fps", "graph-latency", "graph-bitrate"] {
        let g = by_id(graph);
        assert!(g["points"].as_u64() >= Some(3), "{g}");
        let stream_line = pixels_of(&rgb, width, g, [0x8c, 0xc4, 0xff]);
        let page_line = pixels_of(&rgb, width, g, [0xff, 0xb8, 0x6b]);
        assert!(
            stream_line > 20 && page_line > 20,
            "{graph}: {stream_line} and {page_line} line pixels"
        );
    }
    let texts = &page["texts"];
    let age = texts["age"].as_str().unwrap();
    let ms: f64 = age
        .trim_end_matches(" ms")
        .parse()
        .unwrap_or_else(|_| panic!("age {age:?}"));
    assert!((0.0..3000.0).contains(&ms), "age {age}");
    assert!(
        texts["page-fps"].as_str().unwrap().ends_with("fps"),
        "{texts}"
    );
    assert_eq!(texts["stream-size"], "400×400");
    // What the sender sends at and what it was asked, from the page's own
    // controls (a same-origin POST): quality 40 from a frame or two on.
    assert_eq!(
        texts["ask-result"],
        "Asked: the sender takes it from its next frame."
    );
    // (40, or less if a loaded machine made the sender adapt further.)
    let quality: u32 = texts["stream-quality"].as_str().unwrap().parse().unwrap();
    assert!((1..=40).contains(&quality), "{texts}");
    assert_eq!(
        texts["sender"], "adapts to its link · asked for at most quality 40",
        "{texts}"
    );
    let link = texts["link-rate"].as_str().unwrap();
    assert!(link == "–" || link.ends_with("bit/s"), "{link}");
    assert!(
        texts["stream-fps"].as_str().unwrap().ends_with("fps"),
        "{texts}"
    );
    // The tier in use, as a size (auto climbs from a small one).
    assert!(texts["tier-now"].as_str().unwrap().contains('×'), "{texts}");
    // The receiver's own drops are not this page's.
    assert!(
        !texts.as_object().unwrap().contains_key("dropped"),
        "{texts}"
    );
}

/// The workspace's root (where `docs/` and `contrib/` are).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/stats.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("docs/stats.schema.json: {e}"))
}

fn valid(schema: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = schema
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} breaks docs/stats.schema.json: {errors:#?}\n{doc:#}"
    );
}

#[test]
fn the_stats_page_and_the_stats_file_are_one_documented_object() {
    let dir = tempdir();
    let (file, file_str) = path_str(dir.path(), "stats.json");
    let (mut recv, addr, http) = start_recv_http(&["--stats-json", &file_str]);
    let _send = send_pattern(addr, "schema", &["--fps", "30", "--count", "45"]);
    let id = wait_live(http, "schema");
    // A tier watched, so that the document carries one.
    let parts = watch(
        http,
        &format!("/streams/{id}.mjpg?width=100"),
        None,
        20.0,
        3,
    );
    assert_eq!(parts.len(), 3);
    let page = stats(http);
    let schema = schema();
    valid(&schema, "/stats.json", &page);
    assert!(page["time"].as_f64().unwrap() > 1.7e9);
    assert_eq!(page["per_stream"][0]["name"], "schema");
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let written = read_json(&file);
    valid(&schema, "--stats-json", &written);
    // The same keys, at the top and per stream.
    let keys = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&page), keys(&written));
    assert_eq!(
        keys(&page["per_stream"][0]),
        keys(&written["per_stream"][0])
    );
    assert_eq!(keys(&page["http"]), keys(&written["http"]));
}

/// The metric names in Prometheus text (without the histogram suffixes).
fn metric_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_owned()
        })
        .collect()
}

#[test]
fn metrics_say_each_streams_latency_rate_size_and_quality_and_the_dashboard_asks_for_nothing_else()
{
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "gauge", &["--fps", "30", "--quality", "70"]);
    let id = wait_live(http, "gauge");
    // A tier and an auto viewer, so that every series is there.
    let tiered = thread::spawn(move || {
        watch(
            http,
            &format!("/streams/{id}.mjpg?width=100"),
            None,
            20.0,
            60,
        )
    });
    let auto = thread::spawn(move || {
        watch(
            http,
            &format!("/streams/{id}.mjpg?quality=auto"),
            None,
            20.0,
            90,
        )
    });
    // The current rate needs two samples a second apart.
    thread::sleep(Duration::from_millis(2500));
    let (status, _, body) = get(http, "/metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let labels = format!("stream=\"{id}\",name=\"gauge\"");
    for line in [
        format!("framecast_stream_latency_seconds_bucket{{{labels},le=\"+Inf\"}}"),
        format!("framecast_stream_width_pixels{{{labels}}} 400"),
        format!("framecast_stream_height_pixels{{{labels}}} 400"),
        format!("framecast_stream_jpeg_quality{{{labels}}} 70"),
        "# TYPE framecast_stream_latency_seconds histogram".to_owned(),
    ] {
        assert!(text.contains(&line), "no {line} in\n{text}");
    }
    let recent = text
        .lines()
        .find(|l| l.starts_with(&format!("framecast_stream_fps_recent{{{labels}}}")))
        .unwrap_or_else(|| panic!("no current rate in\n{text}"));
    let fps: f64 = recent.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((15.0..45.0).contains(&fps), "{recent}");
    tiered.join().unwrap();
    auto.join().unwrap();
    // Every query of the dashboard names metrics the binary exports.
    let exported = metric_names(&text);
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contrib/grafana/framecast.json")).unwrap(),
    )
    .unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{queries:?}");
    for q in &queries {
        let names: Vec<&str> = q
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("framecast_"))
            .collect();
        assert!(!names.is_empty(), "a query without a framecast metric: {q}");
        for n in names {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n);
            assert!(
                exported.contains(base),
                "the dashboard asks for {n}, which is not exported: {q}"
            );
        }
    }
}

/// Every PromQL expression of a Grafana dashboard (panel targets and
/// template variable queries).
fn collect_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) if s.contains("framecast_") => out.push(s.clone()),
                    _ => collect_queries(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_queries(x, out)),
        _ => {}
    }
}
