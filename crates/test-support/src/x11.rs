//! Looking at and typing into a real window on a private X server
//! ([`Xvfb`](crate::tools::Xvfb)), with the stock X tools (feature `x11`):
//! `xdotool` finds windows and types keys, ImageMagick's `import` takes
//! screenshots. The window library's tests and the binary's share them.
//!
//! The tools' paths come from
//! [`require_tools`](crate::tools::require_tools) (a test without them
//! skips, or fails under `FRAMECAST_CI=1`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A screenshot: width, height and the RGB bytes, row by row.
pub type Screenshot = (u32, u32, Vec<u8>);

/// The X window id of the first visible window whose title starts with
/// `framecast`, once it is mapped.
///
/// # Panics
///
/// When none appears within `timeout`.
pub fn find_window(xdotool: &Path, display: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let out = Command::new(xdotool)
            .args(["search", "--onlyvisible", "--name", "^framecast"])
            .env("DISPLAY", display)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Some(id) = stdout.lines().next() {
            return id.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "no framecast window appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Presses `key` (an xdotool key name: `q`, `Escape`) in window `id`,
/// focused first: a private X server has no window manager to focus it.
///
/// # Panics
///
/// When xdotool fails.
pub fn press_key(xdotool: &Path, display: &str, id: &str, key: &str) {
    let status = Command::new(xdotool)
        .args(["windowfocus", "--sync", id, "key", key])
        .env("DISPLAY", display)
        .status()
        .unwrap();
    assert!(status.success(), "xdotool failed: {status}");
}

/// A screenshot of window `id`, through a PNG file in a temporary
/// directory.
///
/// # Panics
///
/// When `import` fails or writes a PNG without the three colour channels.
pub fn screenshot(import: &Path, display: &str, id: &str) -> Screenshot {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shot.png");
    let status = Command::new(import)
        .args(["-display", display, "-window", id])
        .arg(format!("png24:{}", path.display()))
        .status()
        .unwrap();
    assert!(status.success(), "import failed: {status}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "unexpected PNG colour type {:?}",
        info.color_type
    );
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect();
    (info.width, info.height, rgb)
}
