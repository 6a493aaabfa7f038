//! Interop with the original lab programs' wire: Python peers that frame
//! exactly like the originals (`struct.pack("l", n)` + a one-field `Video`
//! message from the real `protobuf` package, JPEGs from OpenCV), against
//! `framecast recv --framing legacy` and `framecast send --framing legacy`.
//!
//! Python comes from `FRAMECAST_PYTHON`, else `<workspace>/.venv/bin/python`,
//! else `python3`,
//! and needs the pip packages `protobuf opencv-python-headless numpy
//! grpcio-tools`. Without them the tests skip with a message, unless
//! `FRAMECAST_CI=1`, where they fail.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The interpreter to use, or `None` (after saying why) to skip.
fn python() -> Option<PathBuf> {
    framecast_test_support::tools::python(
        "interop",
        &["cv2", "numpy", "google.protobuf", "grpc_tools"],
    )
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

#[test]
fn original_client_streams_into_framecast_recv_legacy() {
    let Some(python) = python() else { return };
    let dir = tempdir();
    // Four 640x480 frames (webcam-sized), each a flat BGR colour, as the
    // client's "camera".
    let colours_bgr: [[u8; 3]; 4] = [[0, 0, 255], [0, 255, 0], [255, 0, 0], [240, 240, 240]];
    let mut raw = Vec::new();
    for c in colours_bgr {
        for _ in 0..640 * 480 {
            raw.extend_from_slice(&c);
        }
    }
    let (raw_path, raw_arg) = path_str(dir.path(), "camera.bgr");
    std::fs::write(&raw_path, raw).unwrap();
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let (json_path, json) = path_str(dir.path(), "stats.json");

    let (mut recv, addr) = start_recv(&[
        "--framing",
        "legacy",
        "--record",
        &rec,
        "--stats-json",
        &json,
    ]);
    let mut client = Command::new(&python);
    client.arg(script("legacy_client.py")).args([
        "127.0.0.1",
        &addr.port().to_string(),
        &raw_arg,
        "640",
        "480",
        "12",
        "30",
    ]);
    let mut client = Proc::spawn("legacy_client.py", client);
    client.wait_ok(TIMEOUT);
    assert!(
        client.stdout().contains("sent 12 frames"),
        "{}",
        client.stdout()
    );
    recv.wait_for_stderr(STREAM_ENDED, TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);

    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 12, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    assert!(
        stats["latency_ms"].is_null(),
        "the original sends no capture time: {stats}"
    );
    let frames = mjpeg_frames(&rec_path);
    assert_eq!(frames.len() as u64, stats["received"].as_u64().unwrap());
    assert!(!frames.is_empty());
    // The pictures are the client's frames: 400x400, in the file's colours
    // (BGR on the client's side, RGB once decoded), in order.
    let mut seen = Vec::new();
    for jpeg in &frames {
        let img = decode(jpeg);
        assert_eq!((img.width(), img.height()), (400, 400));
        let i = (200 * 400 + 200) * 3;
        let px = &img.data()[i..i + 3];
        let which = colours_bgr
            .iter()
            .position(|c| {
                let rgb = [c[2], c[1], c[0]];
                rgb.iter().zip(px).all(|(a, b)| a.abs_diff(*b) < 12)
            })
            .unwrap_or_else(|| panic!("unexpected colour {px:?}"));
        seen.push(which);
    }
    if stats["dropped"] == 0 {
        let expected: Vec<usize> = (0..12).map(|i| i % 4).collect();
        assert_eq!(seen, expected);
    }
}

#[test]
fn framecast_send_legacy_feeds_an_original_style_receiver() {
    let Some(python) = python() else { return };
    let dir = tempdir();
    let (out_path, out) = path_str(dir.path(), "received.mjpeg");
    let mut server = Command::new(&python);
    server.arg(script("legacy_server.py")).args(["10", &out]);
    let mut server = Proc::spawn("legacy_server.py", server);
    let line = server.wait_for_stdout("listening on ", TIMEOUT);
    let port = line.trim().rsplit(' ').next().unwrap().to_owned();
    let to = format!("127.0.0.1:{port}");

    let mut send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &to,
            "--framing",
            "legacy",
            "--count",
            "10",
            "--fps",
            "30",
            // Exactly 400x400, as the original client sent.
            "--stretch",
        ],
    );
    send.wait_ok(TIMEOUT);
    server.wait_ok(TIMEOUT);
    let report = server.stdout();
    let json_line = report.lines().last().unwrap();
    let report: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(report["frames"], 10, "{report}");
    for shape in report["shapes"].as_array().unwrap() {
        assert_eq!(shape, &serde_json::json!([400, 400, 3]), "{report}");
    }
    // What it parsed as `video_data` is exactly our JPEGs: the pattern's
    // frames 0..10, in order.
    let frames = mjpeg_frames(&out_path);
    assert_eq!(frames.len(), 10);
    let markers: Vec<u64> = frames.iter().map(|f| marker(f)).collect();
    assert_eq!(markers, (0..10).collect::<Vec<_>>());
}

/// By default a sender keeps the picture's shape: the original server takes
/// the 4:3 pattern as 400x300 frames, decodes and shows them all.
#[test]
fn an_original_style_receiver_takes_frames_that_keep_their_shape() {
    let Some(python) = python() else { return };
    let dir = tempdir();
    let (out_path, out) = path_str(dir.path(), "received.mjpeg");
    let mut server = Command::new(&python);
    server.arg(script("legacy_server.py")).args(["10", &out]);
    let mut server = Proc::spawn("legacy_server.py", server);
    let line = server.wait_for_stdout("listening on ", TIMEOUT);
    let port = line.trim().rsplit(' ').next().unwrap().to_owned();
    let to = format!("127.0.0.1:{port}");
    let mut send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &to,
            "--framing",
            "legacy",
            "--count",
            "10",
            "--fps",
            "30",
        ],
    );
    send.wait_ok(TIMEOUT);
    server.wait_ok(TIMEOUT);
    let report = server.stdout();
    let report: serde_json::Value = serde_json::from_str(report.lines().last().unwrap()).unwrap();
    assert_eq!(report["frames"], 10, "{report}");
    for shape in report["shapes"].as_array().unwrap() {
        assert_eq!(shape, &serde_json::json!([300, 400, 3]), "{report}");
    }
    let markers: Vec<u64> = mjpeg_frames(&out_path).iter().map(|f| marker(f)).collect();
    assert_eq!(markers, (0..10).collect::<Vec<_>>());
}

/// The sender of `docs/protocol.md` section 8, in Python, against
/// `framecast recv`: the handshake is implementable from the document
/// alone, and a refusal reaches a peer that is not framecast.
#[test]
fn python_peer_speaks_the_handshake() {
    let Some(python) = python() else { return };
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--max-clients", "1"]);
    let protos = workspace_root().join("crates/proto/proto");
    let run = |name: &str, frames: &str| {
        let mut cmd = Command::new(&python);
        cmd.arg(script("handshake_sender.py")).args([
            protos.to_str().unwrap(),
            "127.0.0.1",
            &addr.port().to_string(),
            name,
            frames,
        ]);
        Proc::spawn(name, cmd)
    };
    let mut first = run("python", "20");
    first.wait_ok(TIMEOUT);
    assert!(
        first.stdout().contains("sent 20 frames as stream 1"),
        "{}",
        first.stdout()
    );
    recv.wait_for_stderr(STREAM_ENDED, TIMEOUT);

    // With the one place taken, the next Python sender is told why.
    let holder = {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        hello(&mut s, "holder");
        s
    };
    let mut second = run("python-2", "1");
    let status = second.wait(TIMEOUT);
    assert_eq!(status.code(), Some(3), "{}", second.stderr());
    assert!(
        second
            .stdout()
            .contains("refused: busy: already serving 1 senders"),
        "{}",
        second.stdout()
    );
    drop(holder);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    let s = &stats["per_stream"][0];
    assert_eq!(s["name"], "python", "{stats}");
    assert_eq!(s["received"], 20, "{stats}");
    assert_eq!(s["corrupt"], 0, "{stats}");
}
