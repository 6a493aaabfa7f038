//! Helpers for the tests that run the real `framecast` binary on loopback.
//!
//! Every child process is killed (by PID) when its guard drops, so a failing
//! test never leaves a process behind, and every wait is bounded.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use framecast_capture::{MjpegIndex, SourceLimits, decode_marker};
use framecast_codec::{
    ImageBuf, ImageRef, PixelFormat, ReceiverConfig, ReceiverPipeline, probe_jpeg,
};
use framecast_proto::handshake::StatusCode;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_framecast");

/// What a receiver logs when a session starts.
pub const STREAM_STARTED: &str = "\" connected from ";

/// What a receiver logs when a session ends, however it ends.
pub const STREAM_ENDED: &str = " ended: ";

/// Says hello on a raw connection (name `name`, no token) and returns the
/// receiver's status.
pub fn hello(s: &mut std::net::TcpStream, name: &str) -> framecast_proto::handshake::Status {
    hello_with_token(s, name, "")
}

/// Says hello on a raw connection with `name` and `token` and returns the
/// receiver's status.
pub fn hello_with_token(
    s: &mut std::net::TcpStream,
    name: &str,
    token: &str,
) -> framecast_proto::handshake::Status {
    use std::io::Read;

    use framecast_stream::handshake::{self, Decoded};
    let mut out = Vec::new();
    let hello = framecast_proto::handshake::Hello {
        name: name.into(),
        token: token.as_bytes().to_vec(),
        ..Default::default()
    };
    handshake::encode_hello(&hello, &mut out);
    s.write_all(&out).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Decoded::Complete { message, .. } = handshake::decode_status(&buf).unwrap() {
            s.set_read_timeout(None).unwrap();
            return message;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "the receiver closed before its status");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Long enough for a slow, loaded 2-core CI machine; short enough that a
/// hang fails the test instead of the whole run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A running `framecast` (or other) process, killed when dropped, whose
/// stderr lines are collected as they come.
pub struct Proc {
    pub child: Child,
    pub name: String,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `framecast ARGS`.
    pub fn framecast(name: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        Self::spawn(name, cmd)
    }

    /// Starts `framecast ARGS` on X display `display`.
    pub fn framecast_on(display: &str, name: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY");
        Self::spawn(name, cmd)
    }

    /// Starts `cmd` with piped output.
    pub fn spawn(name: &str, mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        collect(child.stderr.take().unwrap(), Arc::clone(&stderr));
        collect(child.stdout.take().unwrap(), Arc::clone(&stdout));
        Self {
            child,
            name: name.to_owned(),
            stderr,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// Waits until a stderr line contains `needle`; returns that line.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_for_line(needle, timeout, true)
    }

    /// Waits until a stdout line contains `needle`; returns that line.
    pub fn wait_for_stdout(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_for_line(needle, timeout, false)
    }

    fn wait_for_line(&mut self, needle: &str, timeout: Duration, err: bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = if err { &self.stderr } else { &self.stdout };
            if let Some(l) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader threads a moment to catch the last lines.
                thread::sleep(Duration::from_millis(100));
                let lines = if err { &self.stderr } else { &self.stdout };
                if let Some(l) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                    return l.clone();
                }
                panic!(
                    "{} exited ({status}) before printing {needle:?}\nstderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not print {needle:?} within {timeout:?}\nstderr:\n{}",
                self.name,
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many stderr lines contain `needle`.
    pub fn count_stderr(&self, needle: &str) -> usize {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits for the process to exit, killing it and failing after
    /// `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                thread::sleep(Duration::from_millis(50));
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {timeout:?}\nstderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a successful exit.
    pub fn wait_ok(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert!(
            status.success(),
            "{} failed ({status})\nstderr:\n{}",
            self.name,
            self.stderr()
        );
    }

    /// Sends SIGINT (what Ctrl-C sends) to the process.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT {} failed", self.pid());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(pipe: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line);
        }
    });
}

/// Starts `framecast recv --listen 127.0.0.1:0 --display none ARGS` and
/// returns it with the address it printed.
pub fn start_recv(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["recv", "--listen", "127.0.0.1:0", "--display", "none"];
    all.extend_from_slice(args);
    start_recv_raw("recv", &all)
}

/// `framecast recv --display none --http 127.0.0.1:0 ARGS`, with the frame
/// and viewer addresses it printed.
pub fn start_recv_http(args: &[&str]) -> (Proc, SocketAddr, SocketAddr) {
    let mut all = vec!["--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (mut recv, addr) = start_recv(&all);
    let http = http_addr(&mut recv);
    (recv, addr, http)
}

/// The viewer's address, from the "HTTP viewer on http://ADDR/" line of a
/// receiver (or `serve`, or `run`).
pub fn http_addr(recv: &mut Proc) -> SocketAddr {
    let line = recv.wait_for_stderr("HTTP viewer on http://", TIMEOUT);
    line.rsplit("http://")
        .next()
        .and_then(|a| a.trim().trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// Starts a `framecast` receiver with exactly `args` and waits for its
/// "listening on" line.
pub fn start_recv_raw(name: &str, args: &[&str]) -> (Proc, SocketAddr) {
    let mut recv = Proc::framecast(name, args);
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    (recv, listening_addr(&line))
}

/// The address of a "listening on ADDR" line (followed by ` (NAME)` when
/// the address was asked for by name).
pub fn listening_addr(line: &str) -> SocketAddr {
    line.rsplit("listening on ")
        .next()
        .and_then(|a| a.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads a `--stats-json` file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

/// The JPEGs of a Motion-JPEG file, in order.
pub fn mjpeg_frames(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let index =
        MjpegIndex::from_bytes(&data, &SourceLimits::default()).expect("index the MJPEG file");
    index
        .frames()
        .iter()
        .map(|span| data[span.offset as usize..span.offset as usize + span.len].to_vec())
        .collect()
}

/// Decodes a JPEG to RGB at its own size.
pub fn decode(jpeg: &[u8]) -> ImageBuf {
    let info = probe_jpeg(jpeg).expect("a JPEG header");
    let mut out = ImageBuf::empty(PixelFormat::Rgb8);
    ReceiverPipeline::new(ReceiverConfig::default())
        .decode_to(jpeg, info.width, info.height, PixelFormat::Rgb8, &mut out)
        .expect("decode");
    out
}

/// The test pattern's frame number drawn in a JPEG.
pub fn marker(jpeg: &[u8]) -> u64 {
    let img = decode(jpeg);
    decode_marker(&img.as_image()).expect("a readable pattern marker")
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `dir/name` as a `&str`-friendly owned string.
pub fn path_str(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(name);
    let s = p.to_str().unwrap().to_owned();
    (p, s)
}

// Not every test binary uses each of them.
#[allow(unused_imports)]
pub use framecast_test_support::tools::{Xvfb, ci, find_tool, require_tools, workspace_root};

/// `framecast cert --out DIR --host …`; returns the CA, the server's
/// certificate and its key.
pub fn make_certs(dir: &Path, hosts: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    framecast_test_support::fixtures::make_certs(Path::new(BIN), dir, hosts)
}

/// Writes `token` to `dir/name`; returns the path as a string.
pub fn write_token(dir: &Path, name: &str, token: &str) -> String {
    let (path, s) = path_str(dir, name);
    std::fs::write(path, token).unwrap();
    s
}

/// Small, fast pattern frames, as in the other end-to-end tests.
/// (Square, so the pictures are sent at exactly 128x128 with their shape
/// kept.)
pub const PATTERN_ARGS: &[&str] = &["--input-size", "160x160", "--size", "128x128"];

/// A sender of the pattern at 30 fps named `good`, for `seconds`.
pub fn good_sender(addr: SocketAddr, seconds: u64, extra: &[&str]) -> Proc {
    let to = addr.to_string();
    let count = (seconds * 30).to_string();
    let mut args = vec![
        "send", "--to", &to, "--name", "good", "--fps", "30", "--count", &count,
    ];
    args.extend_from_slice(PATTERN_ARGS);
    args.extend_from_slice(extra);
    Proc::framecast("good", &args)
}

/// The stats of the stream named `name` in a receiver's JSON.
pub fn stream_named<'a>(stats: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    stats["per_stream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stream {name:?} in {stats}"))
}

/// Checks that the good sender's stream was shown in full health: every
/// frame received, nearly all shown, none corrupt.
pub fn assert_good_stream(stats: &serde_json::Value, frames: u64) {
    let good = stream_named(stats, "good");
    assert_eq!(
        good["received"], frames,
        "the good sender lost frames: {good}"
    );
    assert_eq!(good["corrupt"], 0, "{good}");
    let shown = good["frames"].as_u64().unwrap();
    assert!(
        shown * 10 >= frames * 9,
        "the good stream was starved: {shown} of {frames} shown: {good}"
    );
}

/// A raw peer that has said hello and been accepted.
pub fn session(addr: SocketAddr, name: &str) -> TcpStream {
    session_with_token(addr, name, "")
}

/// A raw peer that has said hello with `token` and been accepted.
pub fn session_with_token(addr: SocketAddr, name: &str, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let status = hello_with_token(&mut s, name, token);
    assert_eq!(status.code(), StatusCode::Accepted, "{status:?}");
    s
}

/// Writes one frame with the framecast framing (a u32 little-endian
/// length, then the payload).
pub fn write_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    s.write_all(&(payload.len() as u32).to_le_bytes())?;
    s.write_all(payload)
}

/// Finds the test pattern's picture (`size`) in an RGB screenshot and
/// reads its frame number.
pub fn find_pattern(png_path: &Path, size: (u32, u32)) -> Option<(u32, u32, u64)> {
    let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    // As RGB, so the picture can be viewed at any offset.
    let rgb: Vec<u8> = buf[..info.buffer_size()]
        .chunks_exact(bpp)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let stride = info.width as usize * 3;
    for y in 0..=info.height.saturating_sub(size.1).min(120) {
        for x in 0..=info.width.saturating_sub(size.0).min(120) {
            let start = y as usize * stride + x as usize * 3;
            let view =
                ImageRef::with_stride(size.0, size.1, PixelFormat::Rgb8, stride, &rgb[start..])
                    .unwrap();
            if let Some(m) = decode_marker(&view) {
                return Some((x, y, m));
            }
        }
    }
    None
}

/// Headless Chromium's screenshot of `url` (an 800x600 window), taken
/// three seconds after the page loaded (the stream page draws its picture
/// from the MJPEG parts it reads, after the load), with a fresh profile in
/// `dir`, by `tests/python/chromium_page.py` (the DevTools protocol on a
/// pipe); returns the PNG's path and the finished process.
pub fn chromium_screenshot(chromium: &Path, dir: &Path, url: &str) -> (std::path::PathBuf, Proc) {
    let (shot, shot_str) = path_str(dir, "shot.png");
    let python = framecast_test_support::tools::python("chromium_screenshot", &["json"])
        .expect("a Python 3 (the standard library is enough)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/chromium_page.py");
    let command = || {
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .arg("--chromium")
            .arg(chromium)
            .args(["shot", url, &shot_str, "--wait", "3", "--size", "800x600"]);
        command
    };
    // A browser that lost its pipe on a loaded machine gets one more try.
    let mut first = Proc::spawn("chromium", command());
    if first.wait(TIMEOUT).success() {
        return (shot, first);
    }
    eprintln!("chromium_page.py failed once: {}", first.stderr());
    let mut chromium = Proc::spawn("chromium", command());
    chromium.wait_ok(TIMEOUT);
    (shot, chromium)
}

/// Copies a failing test's file somewhere it survives the test.
pub fn keep(path: &Path) -> String {
    let kept = std::env::temp_dir().join(format!(
        "framecast-{}-{}",
        std::process::id(),
        path.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::copy(path, &kept);
    kept.display().to_string()
}
