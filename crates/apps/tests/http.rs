//! The HTTP viewer at the HTTP level: the real `framecast recv --http`,
//! real `framecast send --source pattern` senders, stock HTTP clients
//! (reqwest, multer's multipart parser, raw sockets) and a real browser
//! (headless Chromium) over loopback.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;

use framecast_codec::probe_jpeg;
use serde_json::Value;

/// `framecast send --source pattern` to `addr`, named `name`, with `extra`.
fn send_pattern(addr: SocketAddr, name: &str, extra: &[&str]) -> Proc {
    let addr = addr.to_string();
    let mut args = vec![
        "send", "--to", &addr, "--source", "pattern", "--name", name, "--quiet",
    ];
    args.extend_from_slice(extra);
    Proc::framecast("send", &args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A GET answered in full: status, content type, body.
struct Got {
    status: u16,
    content_type: String,
    body: Bytes,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json");
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("bad JSON: {e}"))
    }
}

fn get(http: SocketAddr, path: &str) -> Got {
    fetch(
        &reqwest::Client::new(),
        &format!("http://{http}{path}"),
        &[],
    )
}

/// `GET url` with `headers`, answered in full (redirects are the client's
/// business).
fn fetch(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Got {
    let (got, _) = fetch_with_headers(client, url, headers);
    got
}

/// [`fetch`], with the answer's headers too.
fn fetch_with_headers(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (Got, reqwest::header::HeaderMap) {
    runtime().block_on(async {
        let mut request = client.get(url).timeout(TIMEOUT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = answer.status().as_u16();
        let answer_headers = answer.headers().clone();
        let content_type = answer
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = answer.bytes().await.unwrap();
        (
            Got {
                status,
                content_type,
                body,
            },
            answer_headers,
        )
    })
}

/// Polls `/stats.json` until `done` holds for it.
fn wait_stats(http: SocketAddr, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = get(http, "/stats.json").json();
        let list = stats["per_stream"].as_array().expect("per_stream").clone();
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "no {what} in {list:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until stream `id` is connected and has shown a frame.
fn wait_live(http: SocketAddr, id: u64) {
    wait_stats(http, "live stream", |l| {
        l.iter()
            .any(|s| s["id"] == id && s["connected"] == true && s["frames"].as_u64() > Some(0))
    });
}

/// The JPEG parts of an MJPEG response, read with a stock multipart parser
/// (multer) over a stock client (reqwest): each part's content type and
/// length are checked, and parts are taken until `parts` were read or the
/// response ended.
async fn mjpeg_parts(http: SocketAddr, id: u64, parts: usize) -> Vec<Bytes> {
    let url = format!("http://{http}/streams/{id}.mjpg");
    mjpeg_parts_of(reqwest::Client::new().get(url), parts).await
}

/// [`mjpeg_parts`] of any request (another scheme, credentials).
async fn mjpeg_parts_of(request: reqwest::RequestBuilder, parts: usize) -> Vec<Bytes> {
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("multipart/x-mixed-replace;"),
        "{content_type}"
    );
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a multipart boundary")
        .to_owned();
    let mut multipart = multer::Multipart::new(answer.bytes_stream(), boundary);
    let mut out = Vec::new();
    while out.len() < parts {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            // The stream ended: the response ends after its last part.
            Ok(None) | Err(multer::Error::IncompleteStream) => break,
            Err(e) => panic!("the multipart body does not parse: {e}"),
        };
        assert_eq!(
            field.content_type().map(ToString::to_string).as_deref(),
            Some("image/jpeg")
        );
        let declared: usize = field.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let jpeg = field.bytes().await.unwrap();
        assert_eq!(jpeg.len(), declared, "a part's length");
        out.push(jpeg);
    }
    out
}

/// Decodes a whole JPEG and reads the pattern's frame number from it.
fn pattern_marker(jpeg: &[u8], size: (u32, u32)) -> u64 {
    let info = probe_jpeg(jpeg).expect("a JPEG header");
    assert_eq!((info.width, info.height), size);
    assert_eq!(&jpeg[jpeg.len() - 2..], [0xFF, 0xD9], "a complete JPEG");
    marker(jpeg)
}

/// The value of the metric line `name` (with its labels, if any) in a
/// Prometheus text page.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            (key == name).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

const SMALL: &[&str] = &["--input-size", "160x160", "--size", "128x128"];

#[test]
fn every_endpoint_while_the_pattern_streams() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "recv.json");
    let (mut recv, addr, http) = start_recv_http(&["--stats-json", &json]);
    let mut args = SMALL.to_vec();
    args.extend_from_slice(&["--fps", "30", "--count", "300"]);
    let mut send = send_pattern(addr, "door <cam>", &args);
    wait_live(http, 1);

    // The pages: the wall has a tile for the stream (its name escaped)
    // linking to its page by name, which shows it live.
    let index = get(http, "/");
    assert_eq!(index.status, 200);
    assert!(index.content_type.starts_with("text/html"));
    let wall = index.text();
    assert!(
        wall.contains("href=\"/streams/by-name/door%20%3Ccam%3E\"")
            && wall.contains("<h2>door &lt;cam&gt;</h2>"),
        "{wall}"
    );
    let page = get(http, "/streams/1");
    assert_eq!(page.status, 200);
    assert!(
        page.text()
            .contains("data-mjpg=\"/streams/by-name/door%20%3Ccam%3E.mjpg\""),
        "{}",
        page.text()
    );
    assert!(page.text().contains("<h2>door &lt;cam&gt;</h2>"));
    for asset in ["/assets/viewer.js", "/assets/viewer.css"] {
        assert_eq!(get(http, asset).status, 200, "{asset}");
    }
    let health = get(http, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));

    // MJPEG: every part a complete JPEG of the pattern, in order.
    let parts = runtime().block_on(mjpeg_parts(http, 1, 20));
    assert_eq!(parts.len(), 20);
    let markers: Vec<u64> = parts
        .iter()
        .map(|p| pattern_marker(p, (128, 128)))
        .collect();
    assert!(
        markers.windows(2).all(|w| w[0] < w[1]),
        "frames must arrive in order: {markers:?}"
    );

    // Snapshots: a JPEG of the newest frame, which changes over time.
    let first = get(http, "/streams/1.jpg");
    assert_eq!(
        (first.status, first.content_type.as_str()),
        (200, "image/jpeg")
    );
    let a = pattern_marker(&first.body, (128, 128));
    let deadline = Instant::now() + TIMEOUT;
    let b = loop {
        thread::sleep(Duration::from_millis(100));
        let b = pattern_marker(&get(http, "/streams/1.jpg").body, (128, 128));
        if b != a || Instant::now() > deadline {
            break b;
        }
    };
    assert!(b > a, "the snapshot did not change: {a} then {b}");

    // Unknown streams and paths.
    for path in [
        "/streams/99",
        "/streams/99.mjpg",
        "/streams/99.jpg",
        "/streams/x.jpg",
        "/streams/1.png",
        "/nothing",
    ] {
        let got = get(http, path);
        assert_eq!(got.status, 404, "{path}: {}", got.text());
    }
    assert!(get(http, "/streams/99.jpg").text().contains("no stream 99"));

    // A viewer watching when the stream ends sees its response end.
    let (tx, watcher) = std::sync::mpsc::channel();
    thread::spawn(move || tx.send(runtime().block_on(mjpeg_parts(http, 1, usize::MAX))));
    send.wait_ok(TIMEOUT);

    // The stats agree with the receiver's own counters once the stream is
    // over: /stats.json, /metrics and --stats-json.
    let list = wait_stats(http, "ended stream", |l| {
        l.iter().any(|s| {
            s["id"] == 1
                && s["connected"] == false
                && s["received"] == 300
                && s["frames"].as_u64().unwrap()
                    + s["dropped"].as_u64().unwrap()
                    + s["corrupt"].as_u64().unwrap()
                    == 300
        })
    });
    let seen = watcher
        .recv_timeout(TIMEOUT)
        .expect("the MJPEG response did not end with its stream");
    assert!(!seen.is_empty());
    let metrics_page = get(http, "/metrics");
    assert_eq!(metrics_page.status, 200);
    assert!(metrics_page.content_type.starts_with("text/plain"));
    let metrics = metrics_page.text();
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let own = read_json(&json_path);
    let own_stream = &own["per_stream"][0];
    let listed = &list.iter().find(|s| s["id"] == 1).unwrap();
    assert_eq!(listed["name"], "door <cam>");
    for key in [
        "id", "name", "frames", "received", "dropped", "corrupt", "bytes",
    ] {
        assert_eq!(listed[key], own_stream[key], "stats.json {key}");
    }
    for (name, key) in [
        ("framecast_frames_received_total", "received"),
        ("framecast_frames_shown_total", "frames"),
        ("framecast_frames_dropped_total", "dropped"),
        ("framecast_frames_corrupt_total", "corrupt"),
        ("framecast_received_bytes_total", "bytes"),
        ("framecast_streams_total", "streams"),
        ("framecast_connections_total", "connections"),
        ("framecast_refused_total", "refused"),
    ] {
        assert_eq!(
            metric(&metrics, name),
            own[key].as_u64().unwrap() as f64,
            "{name} vs {key}"
        );
    }
    let labels = "{stream=\"1\",name=\"door <cam>\"}";
    for (name, key) in [
        ("framecast_stream_frames_received_total", "received"),
        ("framecast_stream_frames_shown_total", "frames"),
        ("framecast_stream_received_bytes_total", "bytes"),
    ] {
        assert_eq!(
            metric(&metrics, &format!("{name}{labels}")),
            own_stream[key].as_u64().unwrap() as f64,
            "{name}"
        );
    }
    assert_eq!(
        metric(&metrics, &format!("framecast_stream_connected{labels}")),
        0.0
    );
    // Every frame carried a capture time: each is in the latency histogram.
    let shown = own["frames"].as_u64().unwrap() as f64;
    assert_eq!(metric(&metrics, "framecast_latency_seconds_count"), shown);
    assert_eq!(
        metric(&metrics, "framecast_latency_seconds_bucket{le=\"+Inf\"}"),
        shown
    );
    assert!(metric(&metrics, "framecast_http_parts_sent_total") >= 20.0);
    assert_eq!(metric(&metrics, "framecast_http_viewers"), 0.0);
}

/// A viewer on a raw socket that reads its parts at its own pace: HTTP/1.0,
/// so the body comes without chunked encoding and parts are read by their
/// `Content-Length`.
struct RawViewer {
    reader: BufReader<TcpStream>,
}

impl RawViewer {
    /// Connects and reads the response head; returns the status code and
    /// the viewer.
    fn open(http: SocketAddr, path: &str) -> (u16, Self) {
        let mut s = TcpStream::connect(http).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: framecast\r\n\r\n").unwrap();
        let mut reader = BufReader::new(s);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let code = status
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status:?}"));
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        (code, Self { reader })
    }

    /// The rest of the response, as text.
    fn rest(mut self) -> String {
        let mut out = String::new();
        self.reader.read_to_string(&mut out).unwrap();
        out
    }

    /// The next part's JPEG, or `None` when the response ended.
    fn part(&mut self) -> Option<Vec<u8>> {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line).unwrap() == 0 {
                return None;
            }
            // The boundary line, then the part's headers up to a blank line.
            if line.starts_with(b"--") {
                continue;
            }
            if line == b"\r\n" && !head.is_empty() {
                break;
            }
            head.extend_from_slice(&line);
        }
        head.extend_from_slice(b"\r\n");
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let httparse::Status::Complete((_, headers)) =
            httparse::parse_headers(&head, &mut headers).unwrap()
        else {
            panic!("incomplete part headers: {head:?}");
        };
        let len: usize = headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
            .expect("a Content-Length");
        let mut jpeg = vec![0; len];
        self.reader.read_exact(&mut jpeg).ok()?;
        let mut crlf = [0; 2];
        self.reader.read_exact(&mut crlf).ok()?;
        assert_eq!(&crlf, b"\r\n");
        Some(jpeg)
    }
}

#[test]
fn a_slow_viewer_slows_neither_a_fast_one_nor_the_sender() {
    let dir = tempdir();
    let (send_json_path, send_json) = path_str(dir.path(), "send.json");
    let (_recv, addr, http) = start_recv_http(&[]);
    // 400x400 frames (stretched) of about 50 KB: a few fill every buffer
    // on the way to the slow viewer.
    const COUNT: u64 = 210;
    let count = COUNT.to_string();
    let mut send = send_pattern(
        addr,
        "cam",
        &[
            "--fps",
            "30",
            "--count",
            &count,
            "--stats-json",
            &send_json,
            "--stretch",
        ],
    );
    wait_live(http, 1);

    let slow = thread::spawn(move || {
        let (status, mut viewer) = RawViewer::open(http, "/streams/1.mjpg");
        assert_eq!(status, 200);
        let mut markers = Vec::new();
        while let Some(jpeg) = viewer.part() {
            markers.push(pattern_marker(&jpeg, (400, 400)));
            thread::sleep(Duration::from_secs(1));
        }
        markers
    });
    let fast = runtime().block_on(mjpeg_parts(http, 1, usize::MAX));
    send.wait_ok(TIMEOUT);
    let slow = slow.join().unwrap();

    let fast: Vec<u64> = fast.iter().map(|p| pattern_marker(p, (400, 400))).collect();
    assert!(fast.windows(2).all(|w| w[0] < w[1]), "{fast:?}");
    let (first, last) = (fast[0], *fast.last().unwrap());
    let share = fast.len() as f64 / (last - first + 1) as f64;
    eprintln!(
        "fast viewer: {} parts of frames {first}..={last}; slow viewer: {slow:?}",
        fast.len()
    );
    assert!(
        share >= 0.9,
        "the fast viewer got {} of frames {first}..={last} ({:.0} %)",
        fast.len(),
        share * 100.0
    );
    assert!(last + 3 >= COUNT, "the fast viewer stopped at {last}");
    // The slow viewer skipped frames: it was given the newest one each
    // time it could take one, and so saw the end of the stream.
    assert!(slow.windows(2).all(|w| w[0] < w[1]), "{slow:?}");
    assert!(
        (slow.len() as u64) < COUNT / 4,
        "the slow viewer read {} parts",
        slow.len()
    );
    assert!(
        *slow.last().unwrap() + 30 >= COUNT,
        "the slow viewer was left behind: {slow:?}"
    );
    // The sender sent every frame and dropped none; the receiver got them.
    let sent = read_json(&send_json_path);
    assert_eq!(sent["sent"], COUNT);
    assert_eq!(sent["dropped"], 0);
    wait_stats(http, "every frame received", |l| {
        l.iter().any(|s| s["id"] == 1 && s["received"] == COUNT)
    });
}

#[test]
fn viewer_n_plus_1_gets_503_and_a_freed_place_is_reused() {
    let (_recv, addr, http) = start_recv_http(&["--max-viewers", "2"]);
    let mut args = SMALL.to_vec();
    args.extend_from_slice(&["--fps", "20"]);
    let _send = send_pattern(addr, "cam", &args);
    wait_live(http, 1);

    let (status, mut one) = RawViewer::open(http, "/streams/1.mjpg");
    assert_eq!(status, 200);
    let (status, mut two) = RawViewer::open(http, "/streams/1.mjpg");
    assert_eq!(status, 200);
    assert!(one.part().is_some() && two.part().is_some());
    let (status, three) = RawViewer::open(http, "/streams/1.mjpg");
    assert_eq!(status, 503);
    let body = three.rest();
    assert!(
        body.contains("too many viewers") && body.contains("at most 2"),
        "{body}"
    );
    // Pages, snapshots and stats are not viewers.
    assert_eq!(get(http, "/streams/1.jpg").status, 200);
    let metrics = get(http, "/metrics").text();
    assert_eq!(metric(&metrics, "framecast_http_viewers"), 2.0);
    assert_eq!(
        metric(&metrics, "framecast_http_viewers_refused_total"),
        1.0
    );
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = get(http, "/stats.json").json();
        let streams = stats["http"]["per_stream"].as_array().unwrap().clone();
        if streams.iter().any(|s| s["viewers"] == 2) {
            assert_eq!(streams.len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "no viewers in {stats}");
        thread::sleep(Duration::from_millis(50));
    }

    // A viewer that leaves frees its place (noticed at the next frame).
    drop(one);
    let deadline = Instant::now() + TIMEOUT;
    let mut again = loop {
        let (status, viewer) = RawViewer::open(http, "/streams/1.mjpg");
        if status == 200 {
            break viewer;
        }
        assert!(Instant::now() < deadline, "the place was never freed");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(again.part().is_some());
}

#[test]
fn a_non_loopback_address_needs_allow_anonymous() {
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "none",
            "--http",
            "0.0.0.0:0",
        ],
    );
    let status = recv.wait(TIMEOUT);
    assert!(!status.success());
    let err = recv.stderr();
    assert!(
        err.contains("without authentication") && err.contains("--allow-anonymous"),
        "{err}"
    );
    let (mut recv, _) = start_recv(&["--http", "0.0.0.0:0", "--allow-anonymous"]);
    let http = http_addr(&mut recv);
    let loopback = SocketAddr::from(([127, 0, 0, 1], http.port()));
    assert_eq!(get(loopback, "/healthz").status, 200);
}

#[test]
fn headless_chromium_follows_a_token_link_to_the_live_stream() {
    let Some(tools) = require_tools(
        "headless_chromium_follows_a_token_link_to_the_live_stream",
        &["chromium"],
    ) else {
        return;
    };
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let (_recv, addr, http) = start_recv_http(&["--token-file", &token]);
    let _send = send_pattern(addr, "gate", &["--fps", "30", "--token-file", &token]);
    let client = reqwest::Client::new();
    let bearer = format!("Bearer {TOKEN}");
    let stats = || {
        fetch(
            &client,
            &format!("http://{http}/stats.json"),
            &[("authorization", &bearer)],
        )
    };
    let deadline = Instant::now() + TIMEOUT;
    while stats().json()["per_stream"][0]["frames"].as_u64() < Some(1) {
        assert!(Instant::now() < deadline, "no frame shown");
        thread::sleep(Duration::from_millis(50));
    }
    // The link sets the session cookie and reloads the page without the
    // token; the page's MJPEG picture then loads with the cookie alone.
    // At the picture's own size and bytes, so the screenshot can be read
    // for the pattern's frame number; the redirect keeps those settings.
    let url = format!("http://{http}/streams/1?quality=original&size=actual&token={TOKEN}");
    let (shot, chromium) = chromium_screenshot(&tools[0], dir.path(), &url);
    assert!(shot.exists(), "no screenshot\n{}", chromium.stderr());
    let (_, _, m) = find_pattern(&shot, (400, 300)).unwrap_or_else(|| {
        panic!(
            "the screenshot does not show the pattern (kept at {})",
            keep(&shot)
        )
    });
    assert!(
        m < stats().json()["per_stream"][0]["received"]
            .as_u64()
            .unwrap()
    );
    // Without the token the same browser gets the login form, not the
    // picture.
    let other = dir.path().join("without");
    std::fs::create_dir(&other).unwrap();
    let (shot, _) = chromium_screenshot(&tools[0], &other, &format!("http://{http}/streams/1"));
    assert!(
        find_pattern(&shot, (400, 300)).is_none(),
        "the pattern was shown without the token"
    );
}

#[test]
fn headless_chromium_shows_the_pattern_live() {
    let Some(tools) = require_tools("headless_chromium_shows_the_pattern_live", &["chromium"])
    else {
        return;
    };
    let dir = tempdir();
    let (_recv, addr, http) = start_recv_http(&[]);
    let _send = send_pattern(addr, "garden", &["--fps", "30"]);
    wait_live(http, 1);
    let (shot, chromium) = chromium_screenshot(
        &tools[0],
        dir.path(),
        &format!("http://{http}/streams/1?quality=original&size=actual"),
    );
    assert!(shot.exists(), "no screenshot\n{}", chromium.stderr());
    let sent_before = get(http, "/stats.json").json()["per_stream"][0]["received"]
        .as_u64()
        .unwrap();
    let (x, y, m) = find_pattern(&shot, (400, 300)).unwrap_or_else(|| {
        panic!(
            "the screenshot does not show the pattern (kept at {})",
            keep(&shot)
        )
    });
    assert!(m < sent_before, "frame {m} was never sent");
    eprintln!("chromium showed frame {m} at ({x}, {y})");
}

#[test]
fn snapshots_beside_a_window() {
    let Some(tools) = require_tools("snapshots_beside_a_window", &["Xvfb"]) else {
        return;
    };
    let x = Xvfb::start(&tools[0]);
    let mut recv = Proc::framecast_on(
        x.display(),
        "recv",
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "window",
            "--http",
            "127.0.0.1:0",
        ],
    );
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr: SocketAddr = listening_addr(&line);
    let http = http_addr(&mut recv);
    let mut args = SMALL.to_vec();
    args.extend_from_slice(&["--fps", "30"]);
    let _send = send_pattern(addr, "cam", &args);
    wait_live(http, 1);
    let snap = get(http, "/streams/1.jpg");
    assert_eq!(snap.status, 200);
    pattern_marker(&snap.body, (128, 128));
    let parts = runtime().block_on(mjpeg_parts(http, 1, 5));
    assert_eq!(parts.len(), 5);
    // The window shows the stream too.
    wait_stats(http, "frames shown in the window", |l| {
        l.iter().any(|s| s["frames"].as_u64() > Some(10))
    });
}

#[test]
fn the_demo_serves_its_stream_too() {
    let mut demo = Proc::framecast(
        "demo",
        &["demo", "--seconds", "60", "--http", "127.0.0.1:0"],
    );
    let http = http_addr(&mut demo);
    let list = wait_stats(http, "the demo's stream", |l| {
        l.iter()
            .any(|s| s["name"] == "demo" && s["frames"].as_u64() > Some(0))
    });
    let id = list[0]["id"].as_u64().unwrap();
    let snap = get(http, &format!("/streams/{id}.jpg"));
    assert_eq!(snap.status, 200);
    pattern_marker(&snap.body, (400, 300));
    demo.interrupt();
    demo.wait_ok(TIMEOUT);
}

const TOKEN: &str = "viewer-token-0123456789-abcdef";

/// A client that trusts `ca` (from `framecast cert`) and follows no
/// redirects, so that each answer is seen as the server gave it. Each
/// request opens a new connection (and TLS handshake).
fn https_client(ca: &Path) -> reqwest::Client {
    let tls = framecast_tls::ClientTls::with_ca_file(ca)
        .unwrap()
        .with_alpn(&[b"http/1.1".as_slice()])
        .config()
        .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
        .redirect(reqwest::redirect::Policy::none())
        // Each request runs on a runtime of its own: keep no connection.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The `framecast_session=…` pair of a `Set-Cookie` answer, checked for
/// the attributes that keep it from scripts and other sites.
fn session_cookie(headers: &reqwest::header::HeaderMap, secure: bool) -> String {
    let cookie = headers
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    assert!(
        !cookie.contains(TOKEN),
        "the cookie holds the token: {cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

#[test]
fn an_https_viewer_with_a_token_lets_in_only_who_has_it() {
    let dir = tempdir();
    let (ca, cert, key) = make_certs(&dir.path().join("certs"), &["localhost"]);
    let token = write_token(dir.path(), "token", TOKEN);
    let (mut recv, addr) = start_recv(&[
        "--http",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--token-file",
        &token,
    ]);
    let line = recv.wait_for_stderr("HTTP viewer on https://", TIMEOUT);
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let base = format!("https://localhost:{port}");
    let ca_str = ca.to_str().unwrap();
    // The sender verifies the certificate by name: it connects as localhost.
    let to = format!("localhost:{}", addr.port());
    let _send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &to,
            "--source",
            "pattern",
            "--name",
            "porch",
            "--quiet",
            "--fps",
            "30",
            "--tls-ca",
            ca_str,
            "--token-file",
            &token,
        ],
    );
    let client = https_client(&ca);
    let bearer = format!("Bearer {TOKEN}");
    let with_token = [("authorization", bearer.as_str())];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let got = fetch(&client, &format!("{base}/stats.json"), &with_token);
        assert_eq!(got.status, 200, "{}", got.text());
        let list = got.json();
        if list["per_stream"][0]["frames"].as_u64() > Some(0) {
            assert_eq!(list["per_stream"][0]["name"], "porch");
            break;
        }
        assert!(Instant::now() < deadline, "no frame shown: {list}");
        thread::sleep(Duration::from_millis(50));
    }

    // Without the token, or with a wrong one: 401 on everything but
    // /healthz, saying why, with a Bearer challenge.
    for path in [
        "/",
        "/stats.json",
        "/metrics",
        "/streams/1",
        "/streams/1.jpg",
        "/streams/1.mjpg",
    ] {
        let (got, headers) = fetch_with_headers(&client, &format!("{base}{path}"), &[]);
        assert_eq!(got.status, 401, "{path}: {}", got.text());
        assert!(
            got.text().contains("unauthenticated: no access token"),
            "{}",
            got.text()
        );
        assert_eq!(headers["www-authenticate"], "Bearer realm=\"framecast\"");
        let got = fetch(
            &client,
            &format!("{base}{path}"),
            &[("authorization", "Bearer not-the-token-at-all-0000")],
        );
        assert_eq!(got.status, 401, "{path}");
        assert!(got.text().contains("not valid"), "{}", got.text());
    }
    assert_eq!(fetch(&client, &format!("{base}/healthz"), &[]).status, 200);
    // A wrong token in a link is refused too.
    let got = fetch(&client, &format!("{base}/stats.json?token=guess"), &[]);
    assert_eq!(got.status, 401);

    // With it: the stream, part by part, every part a whole JPEG.
    let parts = runtime().block_on(mjpeg_parts_of(
        client
            .get(format!("{base}/streams/1.mjpg"))
            .header("authorization", &bearer),
        3,
    ));
    assert_eq!(parts.len(), 3);
    for part in &parts {
        pattern_marker(part, (400, 300));
    }
    let snapshot = fetch(&client, &format!("{base}/streams/1.jpg"), &with_token);
    assert_eq!(snapshot.status, 200);
    assert_eq!(snapshot.content_type, "image/jpeg");

    // A browser: the login form, then the session cookie (never the token).
    let browser = [("accept", "text/html,application/xhtml+xml")];
    let got = fetch(&client, &format!("{base}/streams/1"), &browser);
    assert_eq!(got.status, 401);
    assert!(
        got.text()
            .contains("<form method=\"post\" action=\"/login\""),
        "{}",
        got.text()
    );
    let login = |form: &str| {
        runtime().block_on(async {
            let answer = client
                .post(format!("{base}/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned())
                .send()
                .await
                .unwrap();
            let headers = answer.headers().clone();
            (
                answer.status().as_u16(),
                headers,
                answer.text().await.unwrap(),
            )
        })
    };
    let (status, _, body) = login("token=guess");
    assert_eq!(status, 401);
    assert!(body.contains("not the access token"), "{body}");
    let (status, headers, _) = login(&format!("token={TOKEN}"));
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/");
    let cookie = session_cookie(&headers, true);
    let got = fetch(
        &client,
        &format!("{base}/streams/1"),
        &[("cookie", cookie.as_str())],
    );
    assert_eq!(got.status, 200);
    assert!(got.text().contains("porch"));
    // A link with the token: the page comes back without it in the
    // address, and with the cookie.
    let (got, headers) =
        fetch_with_headers(&client, &format!("{base}/streams/1?token={TOKEN}"), &[]);
    assert_eq!(got.status, 303);
    assert_eq!(headers["location"], "/streams/1");
    assert_eq!(session_cookie(&headers, true), cookie);

    // Plain HTTP to the HTTPS port is closed, and counted.
    let plain = reqwest::Client::new();
    let refused = runtime().block_on(async {
        plain
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .timeout(TIMEOUT)
            .send()
            .await
    });
    assert!(refused.is_err(), "plain HTTP was answered: {refused:?}");
    let metrics = fetch(&client, &format!("{base}/metrics"), &with_token).text();
    assert!(
        metric(&metrics, "framecast_http_tls_failures_total") >= 1.0,
        "{metrics}"
    );
    // Every refusal above: 6 paths x 2, a link, a login.
    assert!(
        metric(&metrics, "framecast_http_auth_failures_total") >= 15.0,
        "{metrics}"
    );

    recv.interrupt();
    recv.wait(TIMEOUT);
    let log = recv.stderr();
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
    assert!(
        !log.contains(&cookie[cookie.find('=').unwrap() + 1..]),
        "the session key was logged"
    );
}

#[test]
fn beyond_loopback_the_viewer_needs_a_token_or_allow_anonymous() {
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    // A token is enough to serve beyond loopback (with a warning that it
    // crosses the network in plaintext without TLS).
    let (mut recv, _) = start_recv_raw(
        "recv",
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "none",
            "--http",
            "0.0.0.0:0",
            "--token-file",
            &token,
        ],
    );
    recv.wait_for_stderr("HTTP viewer on http://0.0.0.0:", TIMEOUT);
    recv.wait_for_stderr("in plaintext", TIMEOUT);
}
