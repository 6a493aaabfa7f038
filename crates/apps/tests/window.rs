//! The window paths of the binary on a private Xvfb server: `recv
//! --display window` shows the stream and `q` ends it cleanly, `send
//! --preview` stops on `q`, and `demo` opens its window when there is a
//! display.
//!
//! Needs `Xvfb`, `xdotool` and ImageMagick's `import`; without them the test
//! skips with a message, unless `FRAMECAST_CI=1`, where it fails.

#![cfg(feature = "window")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use framecast_test_support::x11::{self, press_key, screenshot};

/// The framecast window on `display`.
fn find_window(xdotool: &Path, display: &str) -> String {
    x11::find_window(xdotool, display, TIMEOUT)
}

#[test]
fn window_commands_on_a_real_x_server() {
    let Some(tools) = require_tools("window", &["Xvfb", "xdotool", "import"]) else {
        return;
    };
    let (xdotool, import) = (&tools[1], &tools[2]);
    let xvfb = Xvfb::start(&tools[0]);
    let display = xvfb.display();

    recv_shows_the_stream_and_q_ends_it(display, xdotool, import);
    a_wide_camera_keeps_its_shape_and_the_tile_its_name(display, xdotool, import);
    preview_window_q_stops_the_sender(display, xdotool);
    demo_opens_a_window_when_there_is_a_display(display);
}

fn recv_shows_the_stream_and_q_ends_it(display: &str, xdotool: &Path, import: &Path) {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (rec_path, rec) = path_str(dir.path(), "out.mjpeg");
    let mut recv = Proc::framecast_on(
        display,
        "recv",
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "window",
            "--size",
            "400x300",
            "--stats-json",
            &json,
            "--record",
            &rec,
        ],
    );
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr = listening_addr(&line).to_string();
    let mut send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &addr,
            "--input-size",
            "320x240",
            "--size",
            "200x200",
            "--fps",
            "30",
        ],
    );
    recv.wait_for_stderr(STREAM_STARTED, TIMEOUT);
    std::thread::sleep(Duration::from_millis(1500));

    // The stream is on screen: the pattern, not a blank window.
    let id = find_window(xdotool, display);
    let (w, h, rgb) = screenshot(import, display, &id);
    assert!(w >= 100 && h >= 100, "{w}x{h}");
    let mut levels = std::collections::HashSet::new();
    for px in rgb.chunks_exact(3).step_by(97) {
        levels.insert((px[0] / 32, px[1] / 32, px[2] / 32));
    }
    assert!(
        levels.len() > 8,
        "the window shows a picture, not a flat colour: {levels:?}"
    );

    press_key(xdotool, display, &id, "q");
    recv.wait_ok(TIMEOUT);
    send.interrupt();
    send.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert!(stats["received"].as_u64().unwrap() >= 3, "{stats}");
    let shown = stats["frames"].as_u64().unwrap();
    assert!(shown > 0, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    // The recording holds every frame received, shown or not.
    assert_eq!(
        mjpeg_frames(&rec_path).len() as u64,
        stats["received"].as_u64().unwrap()
    );
}

/// A 640x360 camera sent at 400x400 is shown 16:9, letterboxed in its
/// 4:3 tile (not stretched tall), and its tile and title carry its name,
/// not an ephemeral port.
fn a_wide_camera_keeps_its_shape_and_the_tile_its_name(
    display: &str,
    xdotool: &Path,
    import: &Path,
) {
    let mut recv = Proc::framecast_on(
        display,
        "recv",
        &[
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "window",
            "--size",
            "800x600",
        ],
    );
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr = listening_addr(&line).to_string();
    let mut send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &addr,
            "--input-size",
            "640x360",
            "--size",
            "400x400",
            "--fps",
            "20",
            "--name",
            "wide-camera",
        ],
    );
    recv.wait_for_stderr("\"wide-camera\" connected", TIMEOUT);
    std::thread::sleep(Duration::from_millis(1500));
    let id = find_window(xdotool, display);
    let (w, h, rgb) = screenshot(import, display, &id);
    assert_eq!((w, h), (800, 600));
    // 800 wide at 16:9 is 450 tall: 75 rows of bars above and below.
    let row_spread = |y: u32| {
        let row = &rgb[(y * w * 3) as usize..((y + 1) * w * 3) as usize];
        let (lo, hi) = row
            .chunks_exact(3)
            .map(|p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]))
            .fold((u32::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
        hi - lo
    };
    for y in [40, 60, 545, 590] {
        assert!(row_spread(y) < 30, "row {y} should be a flat letterbox bar");
    }
    for y in [120, 300, 480] {
        assert!(row_spread(y) > 100, "row {y} should show the picture");
    }
    let title = Command::new(xdotool)
        .args(["getwindowname", &id])
        .env("DISPLAY", display)
        .output()
        .unwrap();
    let title = String::from_utf8_lossy(&title.stdout);
    assert!(title.contains("wide-camera"), "title {title:?}");
    press_key(xdotool, display, &id, "q");
    recv.wait_ok(TIMEOUT);
    send.interrupt();
    send.wait_ok(TIMEOUT);
}

fn preview_window_q_stops_the_sender(display: &str, xdotool: &Path) {
    let (mut recv, addr) = start_recv(&[]);
    let addr = addr.to_string();
    let mut send = Proc::framecast_on(
        display,
        "send --preview",
        &[
            "send",
            "--to",
            &addr,
            "--input-size",
            "320x240",
            "--size",
            "200x200",
            "--fps",
            "30",
            "--preview",
        ],
    );
    recv.wait_for_stderr(STREAM_STARTED, TIMEOUT);
    let id = find_window(xdotool, display);
    press_key(xdotool, display, &id, "q");
    send.wait_ok(TIMEOUT);
    assert!(send.stdout().contains("sent "), "{}", send.stdout());
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}

fn demo_opens_a_window_when_there_is_a_display(display: &str) {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "demo.json");
    let mut demo = Proc::framecast_on(
        display,
        "demo",
        &["demo", "--seconds", "2", "--stats-json", &json],
    );
    demo.wait_ok(TIMEOUT);
    assert!(
        !demo.stderr().contains("running headless"),
        "{}",
        demo.stderr()
    );
    let stats = read_json(&json_path);
    assert!(stats["frames"].as_u64().unwrap() >= 3, "{stats}");
}
