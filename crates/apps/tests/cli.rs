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

#[test]
fn a_window_that_cannot_open_keeps_the_bench_report() {
    // DISPLAY names an X server that is not there: `recv` (display auto)
    // tries a window, cannot open one, and runs headless instead; it must
    // still measure itself for `--bench-report`, as `framecast bench`
    // relies on.
    let dir = tempdir();
    let (report_path, report) = path_str(dir.path(), "report.json");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "recv",
        "--listen",
        "127.0.0.1:0",
        "--count",
        "40",
        "-q",
        "--bench-report",
        &report,
    ])
    .env("DISPLAY", ":4242")
    .env_remove("WAYLAND_DISPLAY");
    let mut recv = Proc::spawn("recv", cmd);
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    let addr = line
        .rsplit("listening on ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let mut send = Proc::framecast(
        "send",
        &["send", "--to", &addr, "--count", "40", "--fps", "0", "-q"],
    );
    send.wait_ok(TIMEOUT);
    recv.wait_ok(TIMEOUT);
    if cfg!(feature = "window") {
        assert!(
            recv.stderr().contains("running headless"),
            "{}",
            recv.stderr()
        );
    }
    let report = read_json(&report_path);
    assert_eq!(report["frames"], 40, "{report}");
    assert!(report["warm_frames"].as_u64().unwrap() >= 30, "{report}");
    assert!(report["cpu_us"].as_u64().unwrap() > 0, "{report}");
}

/// `framecast ARGS --help`'s text.
fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_says_what_each_command_is_with_examples_and_only_its_flags() {
    let top = help(&[]);
    let first = top.lines().next().unwrap();
    assert!(first.starts_with("Stream camera frames"), "{first}");
    assert!(!top.contains("clap"), "{top}");
    for command in [
        &["send"][..],
        &["recv"],
        &["serve"],
        &["run"],
        &["demo"],
        &["devices"],
        &["bench"],
        &["cert"],
        &["catalog"],
        &["catalog", "serve"],
        &["catalog", "add"],
        &["catalog", "get"],
        &["catalog", "del"],
    ] {
        let text = help(command);
        let examples = text
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{command:?} has no examples:\n{text}"))
            .1;
        // Every example runs the program it documents.
        assert!(
            examples
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("      "))
                .all(|l| l.trim_start().starts_with("framecast ")
                    || l.trim_start().starts_with("id=$(framecast ")),
            "{command:?}:\n{examples}"
        );
    }
    // -q is for the commands with a stats line only.
    for command in [
        &["send"][..],
        &["recv"],
        &["serve"],
        &["run"],
        &["demo"],
        &["bench"],
    ] {
        assert!(help(command).contains("-q, --quiet"), "{command:?}");
    }
    for command in [
        &["cert"][..],
        &["devices"],
        &["catalog", "serve"],
        &["catalog", "get"],
    ] {
        assert!(!help(command).contains("--quiet"), "{command:?}");
    }
    let out = Command::new(BIN)
        .args(["-q", "cert", "--out", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("-q is for send, recv, serve, run, demo and bench")
    );
    // demo's help names only flags demo takes.
    let demo = help(&["demo"]);
    for other in [
        "--token-file",
        "--tls-cert",
        "--allow-anonymous",
        "--listen",
    ] {
        assert!(
            !demo.contains(other),
            "demo --help mentions {other}:\n{demo}"
        );
    }
    // Sizes in human units, and taken in them.
    let recv = help(&["recv"]);
    assert!(recv.contains("[default: \"8 MiB\"]"), "{recv}");
    assert!(help(&["catalog", "serve"]).contains("[default: \"64 KiB\"]"));
    // The viewer has authentication: the help says how, not that it has none.
    assert!(!recv.contains("has no authentication"), "{recv}");
    assert!(recv.contains("It protects --http too"), "{recv}");
}

#[test]
fn sizes_are_taken_in_human_units() {
    // A frame larger than the limit is refused: 1MiB lets the 400x400
    // pattern through, 1KiB does not.
    for (limit, passes) in [("1MiB", true), ("1KiB", false)] {
        let (mut recv, addr) = start_recv(&["--max-frame-len", limit, "--count", "3"]);
        let to = addr.to_string();
        let mut send = Proc::framecast(
            "send",
            &[
                "send", "--to", &to, "--count", "3", "--fps", "0", "--retry", "0",
            ],
        );
        let sent = send.wait(TIMEOUT);
        assert_eq!(sent.success(), passes, "{limit}: {}", send.stderr());
        if passes {
            recv.wait_ok(TIMEOUT);
        }
    }
    let out = Command::new(BIN)
        .args(["recv", "--max-frame-len", "8 parsecs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KiB, MiB"));
}

#[test]
fn a_bare_port_is_that_port_on_this_machine_for_every_address_flag() {
    // `recv --http 8081` once listened on 0.0.31.145:8080: a bare number
    // is a port now, on loopback, for listening and connecting alike.
    let (port, http_port) = (free_port(), free_port());
    let (port_arg, http_arg) = (port.to_string(), format!(":{http_port}"));
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--listen",
            &port_arg,
            "--http",
            &http_arg,
            "--count",
            "3",
        ],
    );
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    assert!(
        line.ends_with(&format!("listening on 127.0.0.1:{port}")),
        "{line}"
    );
    let http = recv.wait_for_stderr("HTTP viewer on ", TIMEOUT);
    assert!(
        http.ends_with(&format!("http://127.0.0.1:{http_port}/")),
        "{http}"
    );
    let mut send = Proc::framecast(
        "send",
        &["send", "--to", &port_arg, "--count", "3", "--fps", "0"],
    );
    send.wait_ok(TIMEOUT);
    recv.wait_ok(TIMEOUT);

    // The catalog's server and client read addresses the same way.
    let port = free_port();
    let mut serve = Proc::framecast(
        "catalog",
        &[
            "catalog",
            "serve",
            "--memory",
            "--listen",
            &format!(":{port}"),
        ],
    );
    let line = serve.wait_for_stdout("listening on ", TIMEOUT);
    assert!(
        line.ends_with(&format!("listening on 127.0.0.1:{port}")),
        "{line}"
    );
    let out = Command::new(BIN)
        .args([
            "catalog", "add", "--name", "lamp", "--price", "1", "--id", "l1",
        ])
        .args(["--server", &port.to_string()])
        .env_remove("FRAMECAST_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "l1\n");
    serve.interrupt();
    serve.wait_ok(TIMEOUT);

    // What is not an address is refused, quoting what was written.
    for (flag, value, says) in [
        ("--listen", "10.1", "not an IPv4 address"),
        ("--http", "host name:80", "not a host name"),
        ("--listen", ":99999", "out of range (0-65535)"),
    ] {
        let out = Command::new(BIN)
            .args(["recv", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && err.contains(&format!("{value:?}")),
            "{err}"
        );
    }
}
