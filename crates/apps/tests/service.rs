//! framecast as a service: `framecast serve` (one process from source to
//! browser, read by OpenCV and headless Chromium), `framecast run
//! --config` (errors that point into the file, a reload that leaves the
//! streams it keeps untouched), the readiness messages systemd's
//! `Type=notify` waits for, and the unit files in contrib/systemd.

mod common;

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// An access token for the files the tests write.
const TOKEN: &str = "service-token-0123456789-abcdef";

/// `GET http://ADDR/PATH`'s status and body, with a plain blocking socket.
fn get(http: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut body = answer[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let len = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + len]);
        data = &data[eol + 2 + len + 2..];
    }
}

/// `/stats.json`'s `per_stream`: one object per stream.
fn streams(http: SocketAddr) -> Vec<Value> {
    let (status, body) = get(http, "/stats.json");
    assert_eq!(status, 200);
    let value: Value = serde_json::from_slice(&body).expect("JSON");
    value["per_stream"].as_array().expect("per_stream").clone()
}

/// The stream named `name` in `list`, if any (the newest, if several).
fn stream<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().rev().find(|s| s["name"] == name)
}

/// Waits until `done` holds for `/stats.json`.
fn wait_streams(http: SocketAddr, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let list = streams(http);
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "no {what} in {list:#?}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn live(list: &[Value], name: &str) -> bool {
    stream(list, name).is_some_and(|s| s["connected"] == true && s["frames"].as_u64() > Some(0))
}

fn signal(proc: &Proc, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serve_is_one_process_from_source_to_opencv_and_chromium() {
    let dir = tempdir();
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
    let list = wait_streams(http, "live stream", |l| live(l, "desk"));
    // Handed over in memory: no connection, so no network peer.
    assert_eq!(stream(&list, "desk").unwrap()["peer"], "0.0.0.0:0");
    // The snapshot and /metrics are served by the same process.
    let (status, jpeg) = get(http, "/streams/1.jpg");
    assert_eq!(status, 200);
    assert_eq!(
        framecast_codec::probe_jpeg(&jpeg)
            .map(|i| (i.width, i.height))
            .ok(),
        // The pattern's 4:3 in the 400x400 box, at its own shape.
        Some((400, 300))
    );
    let (status, metrics) = get(http, "/metrics");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&metrics).contains("framecast_"));

    // A stock client: OpenCV's VideoCapture reads the MJPEG stream.
    if let Some(python) = framecast_test_support::tools::python("serve_opencv", &["cv2"]) {
        let (first, first_s) = path_str(dir.path(), "first.png");
        let (last, last_s) = path_str(dir.path(), "last.png");
        let script = "\
import sys, cv2
cap = cv2.VideoCapture(sys.argv[1])
assert cap.isOpened(), 'VideoCapture cannot open ' + sys.argv[1]
frames = []
for _ in range(15):
    ok, frame = cap.read()
    assert ok, 'no frame'
    frames.append(frame)
cv2.imwrite(sys.argv[2], frames[0])
cv2.imwrite(sys.argv[3], frames[-1])
print(frames[0].shape[1], frames[0].shape[0], len(frames))
";
        let url = format!("http://{http}/streams/1.mjpg");
        let mut opencv = Command::new(python);
        opencv.args(["-c", script, &url, &first_s, &last_s]);
        let mut opencv = Proc::spawn("opencv", opencv);
        opencv.wait_ok(TIMEOUT);
        assert_eq!(opencv.stdout().trim(), "400 300 15", "{}", opencv.stderr());
        let (_, _, a) = find_pattern(&first, (400, 300)).expect("the pattern in OpenCV's frame");
        let (_, _, b) = find_pattern(&last, (400, 300)).expect("the pattern in OpenCV's frame");
        assert!(b > a, "OpenCV read frames {a} then {b}: not live");
    }

    // A browser: headless Chromium shows the stream's page live.
    if let Some(tools) = require_tools("serve_chromium", &["chromium"]) {
        // At the picture's own size and bytes, so the screenshot can be
        // read for the pattern's frame number.
        let (shot, chromium) = chromium_screenshot(
            &tools[0],
            dir.path(),
            &format!("http://{http}/streams/1?quality=original&size=actual"),
        );
        assert!(shot.exists(), "no screenshot\n{}", chromium.stderr());
        assert!(
            find_pattern(&shot, (400, 300)).is_some(),
            "the screenshot does not show the pattern (kept at {})",
            keep(&shot)
        );
    }
    signal(&serve, "TERM");
    serve.wait_ok(TIMEOUT);
    assert!(
        serve.stdout().contains("from 1 streams"),
        "{}",
        serve.stdout()
    );
}

/// A configuration file with a receiver and in-process senders named
/// `senders` (the test pattern, small and quick).
fn config_with(senders: &[&str]) -> String {
    let mut text = String::from(
        "# written by the test\n[receivers.hub]\nlisten = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n",
    );
    for name in senders {
        text.push_str(&format!(
            "\n[senders.{name}]\nsize = \"160x120\"\nfps = 20\nquality = 60\n"
        ));
    }
    text
}

#[test]
fn a_reload_adds_and_removes_streams_and_leaves_the_others_flowing() {
    let dir = tempdir();
    let (file, file_s) = path_str(dir.path(), "framecast.toml");
    std::fs::write(&file, config_with(&["stay", "gone"])).unwrap();
    let mut run = Proc::framecast("run", &["run", "--config", &file_s]);
    let http = http_addr(&mut run);
    let list = wait_streams(http, "both streams", |l| live(l, "stay") && live(l, "gone"));
    let stay_id = stream(&list, "stay").unwrap()["id"].clone();

    std::fs::write(&file, config_with(&["stay", "new"])).unwrap();
    signal(&run, "HUP");
    // Through the reload, the stream that stays is the same session, and
    // its frames keep coming.
    let mut last = 0;
    let mut rises = 0;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let list = streams(http);
        let stay = stream(&list, "stay").expect("stay");
        assert_eq!(stay["id"], stay_id, "stay was restarted: {list:#?}");
        assert_eq!(stay["connected"], true, "stay was disconnected: {list:#?}");
        let received = stay["received"].as_u64().unwrap();
        assert!(received >= last);
        if received > last {
            rises += 1;
        }
        last = received;
        let gone_ended = stream(&list, "gone").is_none_or(|s| s["connected"] == false);
        if live(&list, "new") && gone_ended && rises > 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reload did not apply: {list:#?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(run.count_stderr("\"stay\" from"), 0, "{}", run.stderr());
    assert_eq!(run.count_stderr("\"gone\" from"), 1, "{}", run.stderr());

    // A file that does not read changes nothing, and says where it is
    // wrong.
    std::fs::write(
        &file,
        "[receivers.hub]\nlisten = \"127.0.0.1:0\"\nmax-clients = \"many\"\n",
    )
    .unwrap();
    signal(&run, "HUP");
    let line = run.wait_for_stderr("not reloaded", TIMEOUT);
    assert!(
        line.contains(&format!("{file_s}:3:1: receivers.hub.max-clients")),
        "{line}"
    );
    let before = stream(&streams(http), "stay").unwrap()["received"]
        .as_u64()
        .unwrap();
    wait_streams(http, "stay still flowing", |l| {
        stream(l, "stay").and_then(|s| s["received"].as_u64()) > Some(before + 5)
    });
    signal(&run, "TERM");
    run.wait_ok(TIMEOUT);
}

#[test]
fn the_documented_example_is_valid() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/config.md")).unwrap();
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML example in docs/config.md");
    // The files it names, made here: certificates, tokens, a clip.
    let dir = tempdir();
    let root = dir.path().display().to_string();
    let mut cert = Proc::framecast("cert", &["cert", "--out", &root, "--host", "localhost"]);
    cert.wait_ok(TIMEOUT);
    write_token(dir.path(), "token", TOKEN);
    write_token(dir.path(), "nats-token", TOKEN);
    let mut jpeg = Vec::new();
    framecast_codec::SenderPipeline::new(framecast_codec::SenderConfig::new(64, 48))
        .unwrap()
        .encode(
            framecast_codec::ImageBuf::new(64, 48, framecast_codec::PixelFormat::Rgb8).as_image(),
            &mut jpeg,
        )
        .unwrap();
    std::fs::write(dir.path().join("lobby.mjpeg"), jpeg).unwrap();
    let text = example
        .replace("/etc/framecast/", &format!("{root}/"))
        .replace("/var/lib/framecast/", &format!("{root}/"));
    let (file, file_s) = path_str(dir.path(), "framecast.toml");
    std::fs::write(&file, text).unwrap();
    let mut check = Proc::framecast("check", &["run", "--config", &file_s, "--check"]);
    check.wait_ok(TIMEOUT);
    assert!(
        check.stdout().contains("good: 1 receivers, 4 senders"),
        "{}",
        check.stdout()
    );
}

#[test]
fn errors_name_the_file_the_line_and_the_key() {
    let dir = tempdir();
    for (text, at, says) in [
        (
            "[receivers.main]\nlisten = \"127.0.0.1:0\"\nmax-client = 8\n",
            ":3:1: receivers.main.max-client",
            "did you mean `max-clients`",
        ),
        (
            "[receivers.main]\n\n[senders.porch]\nsize = \"huge\"\n",
            ":4:1: senders.porch.size",
            "expected WIDTHxHEIGHT",
        ),
        (
            "[receivers.main]\n[senders.porch]\nreceiver = \"attic\"\n",
            ":3:1: senders.porch.receiver",
            "no [receivers.attic]",
        ),
        (
            "[receivers.main]\ntls-cert = \"server.pem\"\n",
            ":2:1: receivers.main.tls-cert",
            "also needs `tls-key`",
        ),
        (
            "[receivers.a]\nhttp = \"127.0.0.1:8080\"\n[receivers.b]\nhttp = \"127.0.0.1:8080\"\n",
            ":4:1: receivers.b.http",
            "already taken by receivers.a.http",
        ),
        (
            "[receivers.main]\nlisten = [\"127.0.0.1:0\"\n",
            ":2:",
            "not valid TOML",
        ),
        (
            "[receivers.main]\n[senders.porch]\nretry = \"forever\"\n",
            ":3:1: senders.porch.retry",
            "is for a sender with `to`",
        ),
    ] {
        let (file, file_s) = path_str(dir.path(), "bad.toml");
        std::fs::write(&file, text).unwrap();
        let mut check = Proc::framecast("check", &["run", "--config", &file_s, "--check"]);
        let status = check.wait(TIMEOUT);
        assert!(!status.success(), "{text} was accepted");
        let err = check.stderr();
        assert!(err.contains(&format!("{file_s}{at}")), "{text}\n{err}");
        assert!(err.contains(says), "{text}\n{err}");
    }
}

/// Receives what the process under test tells its service manager.
struct FakeSystemd {
    socket: UnixDatagram,
    path: String,
}

impl FakeSystemd {
    fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let (path, path_s) = path_str(dir, "notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        Self {
            socket,
            path: path_s,
        }
    }

    /// Waits for a message holding `line` (one of its lines); returns it.
    fn expect(&self, line: &str) -> String {
        let mut buf = [0u8; 4096];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no {line} from the process: {e}"));
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            if message.lines().any(|l| l == line) {
                return message;
            }
        }
    }
}

#[test]
fn the_binary_tells_systemd_when_it_is_ready_reloading_and_stopping() {
    let dir = tempdir();
    let systemd = FakeSystemd::new(dir.path());
    let (file, file_s) = path_str(dir.path(), "framecast.toml");
    std::fs::write(&file, config_with(&["porch"])).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["run", "--config", &file_s])
        .env("NOTIFY_SOCKET", &systemd.path);
    let mut run = Proc::spawn("run", command);
    let ready = systemd.expect("READY=1");
    assert!(ready.contains("STATUS=1 receivers"), "{ready}");
    // By then it listens and its sender has started.
    assert!(run.stderr().contains("listening on"), "{}", run.stderr());
    signal(&run, "HUP");
    let reloading = systemd.expect("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    systemd.expect("READY=1");
    signal(&run, "TERM");
    systemd.expect("STOPPING=1");
    run.wait_ok(TIMEOUT);

    // The receiver and sender units' commands tell it too.
    let systemd = FakeSystemd::new(&dir.path().join("recv"));
    let mut command = Command::new(BIN);
    command
        .args([
            "recv",
            "--display",
            "none",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
        ])
        .env("NOTIFY_SOCKET", &systemd.path);
    let mut recv = Proc::spawn("recv", command);
    systemd.expect("READY=1");
    let addr = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr = listening_addr(&addr).to_string();
    let sender_systemd = FakeSystemd::new(&dir.path().join("send"));
    let mut command = Command::new(BIN);
    command
        .args(["send", "--to", &addr, "--count", "5", "--quiet"])
        .env("NOTIFY_SOCKET", &sender_systemd.path);
    let mut send = Proc::spawn("send", command);
    sender_systemd.expect("READY=1");
    sender_systemd.expect("STOPPING=1");
    send.wait_ok(TIMEOUT);
    signal(&recv, "TERM");
    systemd.expect("STOPPING=1");
    recv.wait_ok(TIMEOUT);
}

#[test]
fn the_unit_files_pass_systemd_analyze_verify() {
    let Some(tools) = require_tools(
        "the_unit_files_pass_systemd_analyze_verify",
        &["systemd-analyze"],
    ) else {
        return;
    };
    let dir = tempdir();
    let units = workspace_root().join("contrib/systemd");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "service") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for must in [
            "Type=notify",
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "StateDirectory=",
            "Restart=on-failure",
            "NoNewPrivileges=yes",
        ] {
            assert!(text.contains(must), "{} lacks {must}", path.display());
        }
        // verify checks that the command exists: point it at the binary
        // under test. A template is checked as one of its instances.
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("@.", "@test.");
        let copy = dir.path().join(&name);
        std::fs::write(&copy, text.replace("/usr/local/bin/framecast", BIN)).unwrap();
        checked.push(copy);
    }
    assert_eq!(
        checked.len(),
        3,
        "a receiver, a sender template and run --config"
    );
    let out = Command::new(&tools[0])
        .arg("verify")
        .args(&checked)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.lines().any(|l| l.contains("framecast")),
        "systemd-analyze verify warned:\n{stderr}"
    );
}

#[test]
fn serve_takes_other_senders_on_its_stream_port() {
    let (mut serve, addr) = start_recv_raw(
        "serve",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--size",
            "160x120",
            "--name",
            "desk",
        ],
    );
    let http = http_addr(&mut serve);
    let to = addr.to_string();
    let mut send = Proc::framecast(
        "send",
        &[
            "send", "--to", &to, "--name", "door", "--size", "160x120", "--count", "30", "--quiet",
        ],
    );
    send.wait_ok(TIMEOUT);
    let list = wait_streams(http, "both streams", |l| {
        live(l, "desk") && stream(l, "door").and_then(|s| s["received"].as_u64()) == Some(30)
    });
    // The served stream is in memory; the other came over TCP.
    assert_eq!(stream(&list, "desk").unwrap()["peer"], "0.0.0.0:0");
    let door_peer = stream(&list, "door").unwrap()["peer"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(door_peer.starts_with("127.0.0.1:"), "{door_peer}");
    signal(&serve, "TERM");
    serve.wait_ok(TIMEOUT);
}
