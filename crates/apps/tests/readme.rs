//! The README's tour runs as written: every `sh` block of its "A tour"
//! section, in order, with the built `framecast` first on `PATH`, from an
//! empty folder, with no display, each within a time limit.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const README: &str = include_str!("../../../README.md");

/// The tour's shell blocks.
fn tour_blocks() -> Vec<String> {
    let start = README.find("## A tour").expect("a tour section");
    let section = &README[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut rest = &section[..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("a closed block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 3..];
    }
    blocks
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks();
    assert!(blocks.len() >= 5, "{} blocks", blocks.len());
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempdir();
    for (i, block) in blocks.iter().enumerate() {
        // Each block in its own process group, so that whatever it left in
        // the background is stopped with it.
        let mut child = Command::new("setsid")
            .args(["bash", "-euo", "pipefail", "-c", block])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("FRAMECAST_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let out = child.wait_with_output().unwrap();
        let log = format!(
            "README block {i}:\n{block}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        match status {
            Some(s) => assert!(s.success(), "failed ({s}): {log}"),
            None => panic!("did not finish within 120 s: {log}"),
        }
    }
    // What the blocks promise was made.
    let stats = read_json(&dir.path().join("stats.json"));
    assert_eq!(stats["received"], 60, "{stats}");
    assert_eq!(mjpeg_frames(&dir.path().join("lobby.mjpeg")).len(), 60);
    assert!(dir.path().join("replayed.mkv").metadata().unwrap().len() > 10_000);
    assert!(dir.path().join("products.redb").exists());
}
