//! The command line itself: help, errors users hit first, and the demo.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn every_command_has_help_naming_its_flags() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--help"], &["send", "recv", "demo", "devices"]),
        (
            &["send", "--help"],
            &[
                "--to",
                "--source",
                "--input-size",
                "--size",
                "--quality",
                "--fps",
                "--count",
                "--framing",
                "--preview",
            ],
        ),
        (
            &["recv", "--help"],
            &[
                "--listen",
                "--display",
                "--size",
                "--framing",
                "--count",
                "--record",
                "--stats-json",
                "--max-clients",
            ],
        ),
        (&["demo", "--help"], &["--seconds"]),
        (&["devices", "--help"], &[]),
    ];
    for (args, flags) in cases {
        let out = Command::new(BIN).args(*args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        for flag in *flags {
            assert!(text.contains(flag), "{args:?} help lacks {flag}:\n{text}");
        }
        assert!(!text.contains("sink-delay"), "test knobs stay hidden");
    }
}

#[test]
fn window_without_a_display_suggests_display_none() {
    let out = Command::new(BIN)
        .args(["recv", "--listen", "127.0.0.1:0", "--display", "window"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--display none"), "{err}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (args, needle) in [
        (
            &["send", "--to", "127.0.0.1:1", "--size", "400"][..],
            "WIDTHxHEIGHT",
        ),
        (
            &["send", "--to", "127.0.0.1:1", "--source", "webcam"],
            "unknown source kind",
        ),
        (&["send", "--to", "127.0.0.1:1", "--framing", "u16"], "u16"),
        (
            &["send", "--to", "127.0.0.1:1", "--quality", "0"],
            "quality",
        ),
        (&["recv", "--listen", "nowhere"], "--listen"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let dir = tempdir();
    let missing = dir.path().join("missing.mjpeg");
    let out = Command::new(BIN)
        .args(["send", "--to", "127.0.0.1:1", "--source"])
        .arg(format!("mjpeg:{}", missing.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.mjpeg"), "{err}");
}

#[test]
fn demo_runs_headless_without_camera_or_display() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "demo.json");
    let mut demo = Proc::framecast("demo", &["demo", "--seconds", "3", "--stats-json", &json]);
    demo.wait_ok(TIMEOUT);
    assert!(demo.stdout().contains("shown "), "{}", demo.stdout());
    // The stats line, once a second.
    assert!(demo.stderr().contains("fps shown"), "{}", demo.stderr());
    let stats = read_json(&json_path);
    assert!(stats["frames"].as_u64().unwrap() >= 3, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    assert!(stats["latency_ms"]["p50"].as_f64().is_some(), "{stats}");
}

#[test]
fn quiet_mode_prints_no_stats_line() {
    let mut demo = Proc::framecast("demo", &["-q", "demo", "--seconds", "2"]);
    demo.wait_ok(TIMEOUT);
    assert!(!demo.stderr().contains("fps shown"), "{}", demo.stderr());
    assert!(demo.stdout().contains("shown "), "{}", demo.stdout());
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // `framecast demo | head -0`: the summary meets a closed pipe.
    let mut child = Command::new(BIN)
        .args(["-q", "demo", "--seconds", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
