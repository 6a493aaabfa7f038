//! The README's tour runs as written: every shell block of its "A tour"
//! section, in order, under the shell its fence names (`sh` is dash on
//! Debian, `bash` is bash), with the built `framecast` first on `PATH`,
//! from an empty folder, with no display, each within a time limit.
//!
//! Each block runs in a private network namespace (`unshare -rn`) with its
//! own loopback, so the tour's ports (the programs' defaults, as a user
//! types them) never meet another copy of this suite or any other program
//! on the machine.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const README: &str = include_str!("../../../README.md");

/// How long one block may take.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// A shell block: the shell its fence names, and its text.
struct Block {
    shell: &'static str,
    text: String,
}

impl Block {
    /// The shell's command line that runs the block and stops at the first
    /// failing command.
    fn command(&self) -> Vec<&str> {
        match self.shell {
            // POSIX sh (dash) has no pipefail.
            "sh" => vec!["sh", "-eu", "-c", &self.text],
            _ => vec!["bash", "-euo", "pipefail", "-c", &self.text],
        }
    }
}

/// The tour's shell blocks, each with the shell its fence names.
fn tour_blocks() -> Vec<Block> {
    let start = README.find("## A tour").expect("a tour section");
    let section = &README[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut rest = &section[..end];
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let (lang, body) = after.split_once('\n').expect("a fence line");
        let close = body.find("```").expect("a closed block");
        let shell = match lang.trim() {
            "sh" => "sh",
            "bash" => "bash",
            other => panic!("a tour block fenced {other:?}: fence it sh or bash"),
        };
        blocks.push(Block {
            shell,
            text: body[..close].to_owned(),
        });
        rest = &body[close + 3..];
    }
    blocks
}

/// Whether this machine gives an unprivileged process a network namespace
/// of its own.
fn private_network() -> bool {
    Command::new("unshare")
        .args(["-rn", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks();
    assert!(blocks.len() >= 5, "{} blocks", blocks.len());
    if !private_network() {
        framecast_test_support::tools::skip(
            "readme",
            "`unshare -rn` cannot make a private network namespace here",
        );
        return;
    }
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempdir();
    let mut outputs = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        // Each block in its own process group (whatever it left in the
        // background is stopped with it) and network namespace, whose
        // loopback is brought up first.
        let mut child = Command::new("setsid")
            .args([
                "unshare",
                "-rn",
                "sh",
                "-c",
                "ip link set lo up && exec \"$@\"",
                "netns",
            ])
            .args(block.command())
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
        let deadline = Instant::now() + BLOCK_TIMEOUT;
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
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let log = format!(
            "README block {i} ({}):\n{}\nstdout:\n{stdout}\nstderr:\n{}",
            block.shell,
            block.text,
            String::from_utf8_lossy(&out.stderr)
        );
        match status {
            Some(s) => assert!(s.success(), "failed ({s}): {log}"),
            None => panic!("did not finish within {BLOCK_TIMEOUT:?}: {log}"),
        }
        outputs.push(stdout);
    }
    // What the blocks promise was made.
    let stats = read_json(&dir.path().join("stats.json"));
    assert_eq!(stats["received"], 60, "{stats}");
    assert_eq!(mjpeg_frames(&dir.path().join("lobby.mjpeg")).len(), 60);
    assert!(dir.path().join("replayed.mkv").metadata().unwrap().len() > 10_000);
    assert!(dir.path().join("products.redb").exists());
    let catalog = outputs.last().unwrap();
    assert!(catalog.contains("lamp-1  24.5  Desk lamp"), "{catalog}");
}
