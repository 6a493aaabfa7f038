//! Settings at run time: `POST /streams/{id}/settings` on the real
//! `framecast recv --http` (and `framecast serve --http`) reaches the real
//! `framecast send` through its session's feedback, and the frames that
//! arrive change within a few frames; what cannot work is refused with a
//! reason, and so is what is not allowed (no token, another site, bad
//! values).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The access token of the receivers here.
const TOKEN: &str = "settings-test-token-0123456789abcdef";

/// `framecast send --source pattern` to `addr`, named `name`: 400x400 at
/// 30 fps, adapting to its link (the default), with `extra`.
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
        "--fps",
        "30",
        "--name",
        name,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    Proc::framecast("send", &args)
}

/// An HTTP/1.1 exchange over a raw socket (every header as given, nothing
/// added but `Host`, `Content-Length` and `Connection: close`): status,
/// head and body.
fn request(
    http: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A refused body may be answered before it is all read.
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head, answer[split + 4..].to_vec())
}

const BEARER: (&str, &str) = (
    "Authorization",
    "Bearer settings-test-token-0123456789abcdef",
);
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// POSTs `body` as JSON with the token; the status and the JSON answer.
fn post(http: SocketAddr, path: &str, body: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut headers = vec![BEARER, JSON];
    headers.extend_from_slice(extra);
    let (status, head, body) = request(http, "POST", path, &headers, body.as_bytes());
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {head}\n{}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

fn stats(http: SocketAddr) -> Value {
    let (status, _, body) = request(http, "GET", "/stats.json", &[BEARER], b"");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// The live stream named `name` in `/stats.json`, once it has frames.
fn wait_stream(http: SocketAddr, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = stats(http);
        if let Some(st) = s["per_stream"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["name"] == name && x["connected"] == true)
            .max_by_key(|x| x["id"].as_u64())
            && st["frames"].as_u64() > Some(0)
            && done(st)
        {
            return st.clone();
        }
        assert!(
            Instant::now() < deadline,
            "stream {name:?} never got there: {s}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The IJG quality (1..=100) whose luminance table a JPEG carries: the
/// encoder scales the standard table, so the sum of its entries (in any
/// order) tells the quality.
fn jpeg_quality(jpeg: &[u8]) -> Option<u32> {
    const STD: [u32; 64] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
        56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
        104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];
    let at = jpeg.windows(2).position(|w| w == [0xFF, 0xDB])?;
    // Marker, length (2), Pq/Tq (1), then 64 one-byte entries.
    let table = jpeg.get(at + 5..at + 5 + 64)?;
    if jpeg[at + 4] != 0 {
        return None;
    }
    let sum: u32 = table.iter().map(|&v| u32::from(v)).sum();
    (1..=100).find(|&q| {
        let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
        STD.iter()
            .map(|&v| ((v * scale + 50) / 100).clamp(1, 255))
            .sum::<u32>()
            == sum
    })
}

/// One MJPEG part: its frame number, size in bytes, JPEG quality and
/// picture width.
#[derive(Debug, Clone, Copy)]
struct Part {
    sequence: u64,
    bytes: usize,
    quality: Option<u32>,
    width: u32,
}

/// Reads `path`'s MJPEG (the original bytes) with the token, into `parts`,
/// until `stop` is set.
fn watch(http: SocketAddr, path: &str, parts: Arc<Mutex<Vec<Part>>>, stop: Arc<Mutex<bool>>) {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {http}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !*stop.lock().unwrap() {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        // Each part: a head with Content-Length and X-Sequence, the JPEG.
        while let Some(start) = buf
            .windows(16)
            .position(|w| w.starts_with(b"Content-Type: im"))
        {
            let Some(end) = buf[start..].windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&buf[start..start + end]).to_ascii_lowercase();
            let field = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            let (Some(len), Some(sequence)) = (field("content-length:"), field("x-sequence:"))
            else {
                panic!("a part without its length or number: {head}");
            };
            let body = start + end + 4;
            if buf.len() < body + len as usize {
                break;
            }
            let jpeg = &buf[body..body + len as usize];
            let width = framecast_codec::probe_jpeg(jpeg).map_or(0, |i| i.width);
            parts.lock().unwrap().push(Part {
                sequence,
                bytes: jpeg.len(),
                quality: jpeg_quality(jpeg),
                width,
            });
            buf.drain(..body + len as usize);
        }
    }
}

/// Watches `path` while `act` runs, then for `after` more; the parts.
struct Watcher {
    parts: Arc<Mutex<Vec<Part>>>,
    stop: Arc<Mutex<bool>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watcher {
    fn start(http: SocketAddr, path: &str) -> Self {
        let parts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(Mutex::new(false));
        let (p, s, path) = (Arc::clone(&parts), Arc::clone(&stop), path.to_owned());
        let thread = Some(thread::spawn(move || watch(http, &path, p, s)));
        Self {
            parts,
            stop,
            thread,
        }
    }

    fn parts(&self) -> Vec<Part> {
        self.parts.lock().unwrap().clone()
    }

    /// Waits until a part satisfies `done`; every part so far.
    fn wait(&self, what: &str, done: impl Fn(&[Part]) -> bool) -> Vec<Part> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let parts = self.parts();
            if done(&parts) {
                return parts;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: never; the last parts: {:?}",
                &parts[parts.len().saturating_sub(10)..]
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        *self.stop.lock().unwrap() = true;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How many frames after `posted_at` (the newest frame number seen when
/// the POST was answered) the first part with `ok` came.
fn frames_until(parts: &[Part], posted_at: u64, ok: impl Fn(&Part) -> bool) -> Option<u64> {
    parts
        .iter()
        .find(|p| p.sequence > posted_at && ok(p))
        .map(|p| p.sequence - posted_at)
}

#[test]
fn a_posted_quality_size_and_frame_rate_reach_the_sender_within_a_few_frames() {
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let (_recv, addr, http) = start_recv_http(&["--token-file", &token]);
    let _send = send_pattern(addr, "yard", &["--token-file", &token]);
    let st = wait_stream(http, "yard", |s| s["feedback"] == true);
    let id = st["id"].as_u64().unwrap();
    let watcher = Watcher::start(http, "/streams/by-name/yard.mjpg");
    let before = watcher.wait("30 parts", |p| p.len() >= 30);
    // 95 and 400 wide on loopback, unless a loaded machine made the
    // sender adapt.
    assert!(
        before
            .iter()
            .all(|p| p.quality.is_some_and(|q| q <= 95) && p.width <= 400),
        "{before:?}"
    );

    // Quality 40, by the stream's number.
    let (status, answer) = post(
        http,
        &format!("/streams/{id}/settings"),
        r#"{"quality": 40}"#,
        &[],
    );
    let posted_at = watcher.parts().last().unwrap().sequence;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stream"], id);
    assert_eq!(answer["name"], "yard");
    assert_eq!(answer["asked"]["quality"], 40);
    assert_eq!(answer["asked"]["width"], Value::Null);
    assert_eq!(answer["can_ask"], true);
    let at_most_40 = |p: &Part| p.quality.is_some_and(|q| q <= 40);
    let parts = watcher.wait("a part at quality 40", |p| {
        frames_until(p, posted_at, at_most_40).is_some()
    });
    let frames = frames_until(&parts, posted_at, at_most_40).unwrap();
    eprintln!("quality 40 took effect {frames} frame(s) after the answer");
    // A frame or two at 30 fps; a loaded machine may have a few more in
    // flight between capture and the socket.
    assert!(frames <= 10, "{frames} frames: {parts:?}");
    // Every frame after that one stays there, and is smaller.
    let parts = watcher.wait("20 parts at quality 40", |p| {
        p.iter().filter(|p| at_most_40(p)).count() >= 20
    });
    let first = parts.iter().position(at_most_40).unwrap();
    assert!(parts[first..].iter().all(at_most_40), "{parts:?}");
    // Mostly exactly 40: the ask is the ceiling, and loopback carries it.
    let exactly = parts[first..]
        .iter()
        .filter(|p| p.quality == Some(40))
        .count();
    assert!(exactly * 2 >= parts.len() - first, "{parts:?}");
    let mean = |ps: &[Part]| ps.iter().map(|p| p.bytes).sum::<usize>() as f64 / ps.len() as f64;
    let (big, small) = (mean(&before), mean(&parts[first..]));
    eprintln!("mean frame: {big:.0} bytes before, {small:.0} at quality 40");
    if before.iter().all(|p| p.quality == Some(95)) {
        assert!(small < 0.7 * big, "{big:.0} bytes at 95, {small:.0} at 40");
    }
    // The receiver's stats say so too.
    wait_stream(http, "yard", |s| {
        s["quality"].as_u64().is_some_and(|q| q <= 40)
    });
    let (status, got) = {
        let (status, _, body) = request(
            http,
            "GET",
            &format!("/streams/{id}/settings"),
            &[BEARER],
            b"",
        );
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(got["asked"]["quality"], 40);

    // A smaller size and frame rate, by name: the whole ask replaces the
    // quality's.
    let (status, answer) = post(
        http,
        "/streams/by-name/yard/settings",
        r#"{"size": "200x200", "fps": 10}"#,
        &[("Origin", &format!("http://{http}"))],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["asked"]["quality"], Value::Null);
    assert_eq!(answer["asked"]["width"], 200);
    let posted_at = watcher.parts().last().unwrap().sequence;
    let parts = watcher.wait("a part at 200 pixels wide", |p| {
        frames_until(p, posted_at, |p| p.width <= 200).is_some()
    });
    let frames = frames_until(&parts, posted_at, |p| p.width <= 200).unwrap();
    eprintln!("200x200 took effect {frames} frame(s) after the answer");
    assert!(frames <= 10, "{frames} frames: {parts:?}");
    let st = wait_stream(http, "yard", |s| {
        s["width"].as_u64() <= Some(200) && s["quality"].as_u64() > Some(40)
    });
    // Ten frames a second: the receiver's recent rate comes down.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let s = stats(http);
        let h = s["http"]["per_stream"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"] == st["id"])
            .cloned()
            .unwrap();
        if h["recent_fps"].as_f64().is_some_and(|f| f < 14.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the rate stayed at {h}");
        thread::sleep(Duration::from_millis(200));
    }

    // `{}` lifts every ask: back to the sender's own 400x400.
    let (status, answer) = post(http, &format!("/streams/{id}/settings"), "{}", &[]);
    assert_eq!(status, 200, "{answer}");
    wait_stream(http, "yard", |s| {
        s["width"] == 400 && s["quality"].as_u64() > Some(40)
    });
}

#[test]
fn what_cannot_work_or_is_not_allowed_is_refused_with_a_reason() {
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let (_recv, addr, http) = start_recv_http(&["--token-file", &token]);
    let _fixed = send_pattern(addr, "fixed", &["--token-file", &token, "--adapt", "off"]);
    let _good = send_pattern(addr, "good", &["--token-file", &token]);
    let fixed = wait_stream(http, "fixed", |_| true);
    wait_stream(http, "good", |s| s["feedback"] == true);
    assert_eq!(fixed["feedback"], false);

    // A sender that reads no feedback.
    let (status, answer) = post(
        http,
        "/streams/by-name/fixed/settings",
        r#"{"quality": 40}"#,
        &[],
    );
    assert_eq!(status, 409, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("did not ask for feedback") && error.contains("--adapt off"),
        "{error}"
    );
    let (_, _, body) = request(
        http,
        "GET",
        "/streams/by-name/fixed/settings",
        &[BEARER],
        b"",
    );
    let got: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got["can_ask"], false, "{got}");

    let good = "/streams/by-name/good/settings";
    // No token, a wrong one, a cookie of no session: 401, and nothing asked.
    for auth in [
        None,
        Some(("Authorization", "Bearer wrong-token-wrong-token-wrong")),
        Some(("Cookie", "framecast_session=00")),
    ] {
        let mut headers = vec![JSON];
        headers.extend(auth);
        let (status, _, body) = request(http, "POST", good, &headers, br#"{"quality": 40}"#);
        assert_eq!(status, 401, "{auth:?}: {}", String::from_utf8_lossy(&body));
    }
    // Another site's page (the cookie would ride along): 403.
    for (name, value) in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Referer", "http://evil.example/page"),
    ] {
        let (status, answer) = post(http, good, r#"{"quality": 40}"#, &[(name, value)]);
        assert_eq!(status, 403, "{name}: {value}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with("cross-origin request refused"),
            "{answer}"
        );
    }
    // What an HTML form can send: 415.
    let (status, _, body) = request(
        http,
        "POST",
        good,
        &[
            BEARER,
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"quality=40",
    );
    assert_eq!(status, 415, "{}", String::from_utf8_lossy(&body));
    // Bad values: 400, naming them.
    for (body, says) in [
        (r#"{"quality": 0}"#, "quality must be between 1 and 100"),
        (r#"{"quality": 101}"#, "quality must be between 1 and 100"),
        (r#"{"fps": 0}"#, "fps must be between 1 and"),
        (r#"{"width": 100000}"#, "width must be between 1 and"),
        (r#"{"size": "huge"}"#, "size is WIDTHxHEIGHT"),
        (r#"{"quality": "best"}"#, "invalid type"),
        (r#"{"bitrate": 1}"#, "unknown field"),
        ("not json", "not JSON"),
        ("[40]", "not a JSON object"),
    ] {
        let (status, answer) = post(http, good, body, &[]);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    // Too large: 413 (announced, before it is read).
    let big = format!(r#"{{"quality": 40, "pad": "{}"}}"#, "x".repeat(64 * 1024));
    let (status, answer) = post(http, good, &big, &[]);
    assert_eq!(status, 413, "{answer}");
    // No such stream: 404.
    let (status, answer) = post(http, "/streams/999/settings", r#"{"quality": 40}"#, &[]);
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = post(http, "/streams/by-name/nobody/settings", "{}", &[]);
    assert_eq!(status, 404, "{answer}");
    // None of it reached the good sender.
    thread::sleep(Duration::from_millis(500));
    let st = wait_stream(http, "good", |_| true);
    assert!(st["quality"].as_u64() > Some(40), "{st}");
    let (_, _, body) = request(http, "GET", good, &[BEARER], b"");
    let got: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(got["asked"], Value::Null, "{got}");
}

#[test]
fn a_legacy_framed_sender_cannot_be_asked() {
    let (_recv, addr, http) = start_recv_http(&["--framing", "legacy"]);
    let _send = send_pattern(addr, "old", &["--framing", "legacy"]);
    // The legacy framing has no name: the stream is its address.
    let deadline = Instant::now() + TIMEOUT;
    let id = loop {
        let (_, _, body) = request(http, "GET", "/stats.json", &[], b"");
        let s: Value = serde_json::from_slice(&body).unwrap();
        if let Some(st) = s["per_stream"].as_array().unwrap().first()
            && st["frames"].as_u64() > Some(0)
        {
            break st["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "no stream: {s}");
        thread::sleep(Duration::from_millis(50));
    };
    let (status, _, body) = request(
        http,
        "POST",
        &format!("/streams/{id}/settings"),
        &[JSON],
        br#"{"quality": 40}"#,
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("legacy framing"),
        "{answer}"
    );
}

#[test]
fn serve_takes_settings_in_memory() {
    let (mut serve, _addr) = start_recv_raw(
        "serve",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--source",
            "pattern",
            "--size",
            "400x400",
            "--fps",
            "30",
            "--name",
            "desk",
        ],
    );
    let http = http_addr(&mut serve);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (_, _, body) = request(http, "GET", "/stats.json", &[], b"");
        let s: Value = serde_json::from_slice(&body).unwrap();
        if s["per_stream"][0]["quality"] == 95 {
            assert_eq!(s["per_stream"][0]["feedback"], true, "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "no frame: {s}");
        thread::sleep(Duration::from_millis(50));
    }
    let watcher = Watcher::start(http, "/streams/by-name/desk.mjpg");
    watcher.wait("10 parts", |p| p.len() >= 10);
    let (status, _, body) = request(
        http,
        "POST",
        "/streams/by-name/desk/settings",
        &[JSON, ("Origin", &format!("http://{http}"))],
        br#"{"quality": 40}"#,
    );
    let posted_at = watcher.parts().last().unwrap().sequence;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let parts = watcher.wait("a part at quality 40", |p| {
        frames_until(p, posted_at, |p| p.quality == Some(40)).is_some()
    });
    let frames = frames_until(&parts, posted_at, |p| p.quality == Some(40)).unwrap();
    eprintln!("serve: quality 40 took effect {frames} frame(s) after the answer");
    assert!(frames <= 10, "{frames} frames: {parts:?}");
}

#[test]
fn a_stream_from_nats_cannot_be_asked() {
    use framecast_test_support::nats::{Config, NatsServer};
    let Some(server) = NatsServer::start("settings_nats", &Config::default()) else {
        return;
    };
    let from = format!("{}/cams.>", server.url());
    let (mut recv, _addr) = start_recv_raw(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--from",
            &from,
            "--http",
            "127.0.0.1:0",
        ],
    );
    let http = http_addr(&mut recv);
    recv.wait_for_stderr("receiving from NATS subject cams.>", TIMEOUT);
    let to = format!("{}/cams.door", server.url());
    let _send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &to,
            "--fps",
            "30",
            "--input-size",
            "160x120",
            "--size",
            "128x128",
            "--quiet",
        ],
    );
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (_, _, body) = request(http, "GET", "/stats.json", &[], b"");
        let s: Value = serde_json::from_slice(&body).unwrap();
        if s["per_stream"][0]["frames"].as_u64() > Some(0) {
            assert_eq!(s["per_stream"][0]["name"], "door", "{s}");
            break;
        }
        assert!(Instant::now() < deadline, "no frame from NATS: {s}");
        thread::sleep(Duration::from_millis(50));
    }
    let (status, _, body) = request(
        http,
        "POST",
        "/streams/by-name/door/settings",
        &[JSON],
        br#"{"quality": 40}"#,
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("comes from NATS"),
        "{answer}"
    );
}
