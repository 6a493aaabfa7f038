//! The real window on a private Xvfb server: a known frame is shown, a
//! screenshot checks the right colours in the right places after scaling,
//! and `q` or Esc (typed with xdotool) closes it. Also: no display is a clear error.
//!
//! winit allows one event loop per process, on the main thread, so this is a
//! `harness = false` test whose scenarios each run in a child process (this
//! binary re-invoked with `CHILD_ENV` set); the child's `main` thread owns
//! the event loop, as in the real app.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fixture;
use framecast_codec::{ImageBuf, PixelFormat, ReceiverConfig, ReceiverPipeline};
use framecast_display::{DisplayError, EncodedFrame, FrameSink, WindowOptions, run_window};
use framecast_test_support::alloc::{CountingAllocator, allocations_on_this_thread as allocations};
use framecast_test_support::process::{lines, wait_timeout};
use framecast_test_support::tools::{Xvfb, require_tools};
use framecast_test_support::x11::{self, Screenshot, press_key, screenshot};

const CHILD_ENV: &str = "FRAMECAST_TEST_WINDOW_CHILD";

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// How long anything in this test may take before it is a failure.
const TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("no-display") => child_no_display(),
        Ok("show") => child_show(false),
        Ok("show-tiles") => child_show(true),
        Ok("app-returns") => child_app_returns(),
        Ok(other) => panic!("unknown child mode {other}"),
        Err(_) => parent(),
    }
}

fn parent() {
    no_display_is_a_clear_error();
    let Some(tools) = require_tools("window_x11", &["Xvfb", "xdotool", "import"]) else {
        return;
    };
    let xvfb = Xvfb::start(&tools[0]);
    window_shows_the_frame_scaled_and_q_closes_it(&xvfb, &tools[1], &tools[2]);
    tiles_keep_the_aspect_ratio(&xvfb, &tools[1], &tools[2]);
    the_window_closes_when_the_app_returns(&xvfb);
    println!("window_x11: all scenarios passed");
}

/// Re-invokes this binary as a child in `mode`.
fn spawn_child(mode: &str, display: Option<&str>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, mode)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .stdout(Stdio::piped());
    match display {
        Some(d) => cmd.env("DISPLAY", d),
        None => cmd.env_remove("DISPLAY"),
    };
    cmd.spawn().unwrap()
}

/// Waits for `child` to exit; fails after `TIMEOUT`.
fn wait_exit(child: &mut Child) -> ExitStatus {
    wait_timeout(child, TIMEOUT).unwrap_or_else(|| panic!("child did not exit within {TIMEOUT:?}"))
}

fn expect_line(rx: &mpsc::Receiver<String>, want: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == want => return,
            Ok(_) => {}
            Err(e) => panic!("waiting for {want:?} from the child: {e:?}"),
        }
    }
}

// ---------------------------------------------------------------- no display

fn no_display_is_a_clear_error() {
    // Unset, then pointing at a server that does not exist.
    for display in [None, Some(":247")] {
        let mut child = spawn_child("no-display", display);
        let status = wait_exit(&mut child);
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(status.success(), "DISPLAY={display:?}: {status}\n{out}");
        assert!(
            out.contains("no display available"),
            "DISPLAY={display:?}: {out}"
        );
        // What the user sees names no file inside the windowing library.
        assert!(!out.contains(".rs:"), "DISPLAY={display:?}: {out}");
        assert!(!out.contains("--"), "a library error names no flag: {out}");
    }
    println!("no display: clear error, no panic");
}

fn child_no_display() {
    let result = run_window(WindowOptions::default(), |_| -> () {
        panic!("the app must not run without a display")
    });
    match result {
        Err(e @ DisplayError::NoDisplay { .. }) => println!("{e}"),
        other => panic!("expected NoDisplay, got {other:?}"),
    }
}

// ---------------------------------------------------------------- X tools

/// The framecast window on `display`, once it is mapped.
fn find_window(xdotool: &Path, display: &str) -> String {
    x11::find_window(xdotool, display, TIMEOUT)
}

/// Asserts the pixel at (`x`, `y`) is `want`, within a JPEG's tolerance.
fn assert_colour(shot: &Screenshot, x: u32, y: u32, want: [u8; 3], what: &str) {
    let (w, h, rgb) = shot;
    assert!(
        x < *w && y < *h,
        "({x}, {y}) outside the {w}x{h} screenshot"
    );
    let at = (y as usize * *w as usize + x as usize) * 3;
    let got = [rgb[at], rgb[at + 1], rgb[at + 2]];
    let close = got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 40);
    assert!(close, "{what} at ({x}, {y}): got {got:?}, want {want:?}");
}

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const YELLOW: [u8; 3] = [255, 255, 0];
/// The window's background (`0x101010`), seen in letterbox bars.
const BACKGROUND: [u8; 3] = [16, 16, 16];

fn window_shows_the_frame_scaled_and_q_closes_it(xvfb: &Xvfb, xdotool: &Path, import: &Path) {
    let mut child = spawn_child("show", Some(xvfb.display()));
    let rx = lines(child.stdout.take().unwrap());
    expect_line(&rx, "shown");
    let id = find_window(xdotool, xvfb.display());
    let shot = screenshot(import, xvfb.display(), &id);
    assert_eq!((shot.0, shot.1), (800, 600), "default window size");
    // The 400x400 quadrants stretched over 800x600: the borders move to
    // x = 400 and y = 300. Check each quadrant's middle, and points 20 px
    // either side of both borders.
    for (x, y, colour, what) in [
        (200, 150, RED, "top left"),
        (600, 150, GREEN, "top right"),
        (200, 450, BLUE, "bottom left"),
        (600, 450, YELLOW, "bottom right"),
        (380, 280, RED, "top left, near the centre"),
        (420, 280, GREEN, "top right, near the centre"),
        (380, 320, BLUE, "bottom left, near the centre"),
        (420, 320, YELLOW, "bottom right, near the centre"),
        (790, 590, YELLOW, "bottom right corner"),
    ] {
        assert_colour(&shot, x, y, colour, what);
    }
    press_key(xdotool, xvfb.display(), &id, "q");
    expect_line(&rx, "closed");
    let status = wait_exit(&mut child);
    assert!(status.success(), "child: {status}");
    println!("window: frame scaled to 800x600 as expected; q closed it");
}

fn tiles_keep_the_aspect_ratio(xvfb: &Xvfb, xdotool: &Path, import: &Path) {
    let mut child = spawn_child("show-tiles", Some(xvfb.display()));
    let rx = lines(child.stdout.take().unwrap());
    expect_line(&rx, "shown");
    let id = find_window(xdotool, xvfb.display());
    let shot = screenshot(import, xvfb.display(), &id);
    assert_eq!((shot.0, shot.1), (800, 600));
    // Two streams side by side: 400x600 tiles; the square picture keeps its
    // aspect, 400x400 centred, with bars of 100 px above and below.
    for (x, y, colour, what) in [
        (200, 50, BACKGROUND, "left tile, top bar"),
        (100, 200, RED, "left tile, top left"),
        (300, 200, GREEN, "left tile, top right"),
        (100, 400, BLUE, "left tile, bottom left"),
        (300, 400, YELLOW, "left tile, bottom right"),
        (200, 550, BACKGROUND, "left tile, bottom bar"),
        (500, 200, RED, "right tile, top left"),
        (700, 400, YELLOW, "right tile, bottom right"),
    ] {
        assert_colour(&shot, x, y, colour, what);
    }
    press_key(xdotool, xvfb.display(), &id, "Escape");
    expect_line(&rx, "closed");
    let status = wait_exit(&mut child);
    assert!(status.success(), "child: {status}");
    println!("window: two tiles, letterboxed as expected; Esc closed it");
}

/// Shows the quadrants (on one stream, or on two with `keep_aspect`), says
/// "shown" once they are on screen, and "closed" once the window closes.
fn child_show(tiles: bool) {
    let jpeg = fixture("quadrants-400x400.jpg");
    let options = WindowOptions::default().with_keep_aspect(tiles);
    let streams: &[u32] = if tiles { &[1, 2] } else { &[1] };
    let result = run_window(options, move |window| {
        let mut sink = window.sink();
        for &stream in streams {
            let frame = EncodedFrame::new(stream, "127.0.0.1:5252", &jpeg).with_sequence(7);
            sink.show(&frame).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        while streams.iter().any(|&s| window.shown_sequence(s) != Some(7)) {
            assert!(
                Instant::now() < deadline,
                "the frame never reached the screen"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        if !tiles {
            sink_allocations(&window, &mut sink, &jpeg);
            // Back to the frame the screenshot expects.
            let frame = EncodedFrame::new(1, "127.0.0.1:5252", &jpeg).with_sequence(7);
            sink.show(&frame).unwrap();
            wait_shown(&window, 1, 7);
        }
        // The draw that put it on screen has been presented; give the X
        // server a moment to process the upload before the screenshot.
        std::thread::sleep(Duration::from_millis(200));
        println!("shown");
        assert!(
            window.wait_closed_timeout(TIMEOUT),
            "nobody closed the window"
        );
        // Once closed, the sink says so.
        let frame = EncodedFrame::new(1, "", &jpeg).with_sequence(8);
        assert!(matches!(sink.show(&frame), Err(DisplayError::Closed)));
        "closed"
    });
    println!("{}", result.unwrap());
}

fn wait_shown(window: &framecast_display::WindowHandle, stream: u32, sequence: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while window.shown_sequence(stream) != Some(sequence) {
        assert!(
            Instant::now() < deadline,
            "frame {sequence} never reached the screen"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The window sink's steady state: 30 frames, each waited for until it is
/// on screen (so each wakes the event loop), allocate on the sending thread
/// no more than the codec's receiver alone does for the same frames, plus
/// the wake-up channel's amortised blocks.
fn sink_allocations(
    window: &framecast_display::WindowHandle,
    sink: &mut framecast_display::WindowSink,
    jpeg: &[u8],
) {
    let frame = |sequence| {
        EncodedFrame::new(1, "127.0.0.1:5252", jpeg)
            .with_sequence(sequence)
            .with_capture_time_us(Some(sequence))
    };
    for sequence in 100..105 {
        sink.show(&frame(sequence)).unwrap();
        wait_shown(window, 1, sequence);
    }
    let in_sink = allocations(|| {
        for sequence in 200..230 {
            sink.show(&frame(sequence)).unwrap();
            wait_shown(window, 1, sequence);
        }
    });
    let mut pipeline = ReceiverPipeline::new(ReceiverConfig::default());
    let mut out = ImageBuf::new(800, 600, PixelFormat::Xrgb32);
    pipeline.decode_into(jpeg, out.as_image_mut()).unwrap();
    let in_decoder = allocations(|| {
        for _ in 0..30 {
            pipeline.decode_into(jpeg, out.as_image_mut()).unwrap();
        }
    });
    // winit's X11 event-loop proxy is a std channel, which allocates one
    // block per 31 messages: the only allocation the sink adds, amortised
    // (one wake-up per frame here, since each frame is waited for).
    let wakeup_blocks = 30u64.div_ceil(31);
    eprintln!(
        "window sink: {in_sink} allocations in 30 frames; decoder alone {in_decoder}, \
         wake-up channel {wakeup_blocks}"
    );
    assert!(
        in_sink <= in_decoder + wakeup_blocks,
        "window sink: {in_sink} allocations in 30 frames; decoder alone {in_decoder}, \
         wake-up channel {wakeup_blocks}"
    );
}

fn the_window_closes_when_the_app_returns(xvfb: &Xvfb) {
    let mut child = spawn_child("app-returns", Some(xvfb.display()));
    let rx = lines(child.stdout.take().unwrap());
    expect_line(&rx, "run_window returned 42");
    let status = wait_exit(&mut child);
    assert!(status.success(), "child: {status}");
    println!("window: closed when the app returned, with the app's result");
}

/// Shows one frame, then returns: the window must close by itself and
/// `run_window` hand back the app's result.
fn child_app_returns() {
    let jpeg = fixture("quadrants-400x400.jpg");
    let result = run_window(WindowOptions::default(), move |window| {
        let frame = EncodedFrame::new(0, "brief", &jpeg).with_sequence(1);
        window.sink().show(&frame).unwrap();
        wait_shown(&window, 0, 1);
        assert!(!window.is_closed());
        42
    });
    println!("run_window returned {}", result.unwrap());
}
