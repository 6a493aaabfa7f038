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
    let addr = listening_addr(&line).to_string();
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

/// The commands a `--help` text lists under "Commands:" (clap's own
/// `help` left out).
fn subcommands(help: &str) -> Vec<String> {
    let Some((_, list)) = help.split_once("\nCommands:\n") else {
        return Vec::new();
    };
    list.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_says_what_each_command_is_with_examples_and_only_its_flags() {
    let top = help(&[]);
    let first = top.lines().next().unwrap();
    assert!(first.starts_with("Stream camera frames"), "{first}");
    assert!(!top.contains("clap"), "{top}");
    // Every command the help lists, and theirs in turn: one added later
    // is held to the same rule.
    let mut commands = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(parent) = todo.pop() {
        let args: Vec<&str> = parent.iter().map(String::as_str).collect();
        for name in subcommands(&help(&args)) {
            let mut command = parent.clone();
            command.push(name);
            todo.push(command.clone());
            commands.push(command);
        }
    }
    assert!(commands.len() >= 14, "{commands:?}");
    for command in &commands {
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        let command = &command[..];
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
    let with_stats_line = ["send", "recv", "serve", "run", "demo", "bench"];
    for command in &commands {
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        let quiet = help(&command).contains("-q, --quiet");
        let wanted = command.len() == 1 && with_stats_line.contains(&command[0]);
        assert_eq!(quiet, wanted, "{command:?}");
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
    // Sizes in human units, and taken in them; defaults shown as they are
    // typed, so clap does not quote them.
    let recv = help(&["recv"]);
    assert!(recv.contains("[default: 8MiB]"), "{recv}");
    assert!(help(&["catalog", "serve"]).contains("[default: 64KiB]"));
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

#[test]
fn names_and_ipv6_serve_every_address_flag_and_are_shown_as_written() {
    // `localhost` for the frame port, `[::1]` for the viewer when this
    // machine has IPv6 loopback: each line shows the address bound and,
    // for a name, the name as written.
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let (port, http_port) = (free_port(), free_port());
    let listen = format!("localhost:{port}");
    let http = if ipv6 {
        format!("[::1]:{http_port}")
    } else {
        format!("localhost:{http_port}")
    };
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--listen",
            &listen,
            "--http",
            &http,
            "--count",
            "3",
        ],
    );
    let line = recv.wait_for_stderr("listening on ", TIMEOUT);
    assert!(line.ends_with(&format!(":{port} (localhost)")), "{line}");
    let shown = recv.wait_for_stderr("HTTP viewer on ", TIMEOUT);
    if ipv6 {
        assert!(
            shown.ends_with(&format!("http://[::1]:{http_port}/")),
            "{shown}"
        );
    } else {
        assert!(
            shown.ends_with(&format!(":{http_port}/ (localhost)")),
            "{shown}"
        );
    }
    let mut send = Proc::framecast(
        "send",
        &["send", "--to", &listen, "--count", "3", "--fps", "0"],
    );
    send.wait_ok(TIMEOUT);
    recv.wait_ok(TIMEOUT);

    // The catalog: a name to listen on and to connect to, plain and as a URL.
    let port = free_port();
    let listen = format!("localhost:{port}");
    let mut serve = Proc::framecast(
        "catalog",
        &["catalog", "serve", "--memory", "--listen", &listen],
    );
    let line = serve.wait_for_stdout("listening on ", TIMEOUT);
    assert!(line.ends_with(&format!(":{port} (localhost)")), "{line}");
    for server in [listen.clone(), format!("http://{listen}")] {
        let out = Command::new(BIN)
            .args(["catalog", "list", "--server", &server])
            .env_remove("FRAMECAST_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{server}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serve.interrupt();
    serve.wait_ok(TIMEOUT);

    // A name that cannot be looked up is named as written, with what to
    // do; never with a port the user did not write.
    let bad = "no-such-host.invalid";
    for args in [
        &["recv", "--display", "none", "--listen", bad][..],
        &["recv", "--display", "none", "--listen", "0", "--http", bad],
        &["catalog", "serve", "--memory", "--listen", bad],
        &["catalog", "get", "x", "--server", bad],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("FRAMECAST_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("cannot resolve {bad}")),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("\nhint: check the host name"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("listening on"), "{args:?}: {err}");
        let with_port = err
            .match_indices(&format!("{bad}:"))
            .any(|(i, m)| err[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!with_port, "{args:?}: {err}");
    }

    // A viewer beyond loopback without a token is refused before the
    // receiver listens.
    let out = Command::new(BIN)
        .args([
            "recv",
            "--display",
            "none",
            "--listen",
            "0",
            "--http",
            "0.0.0.0:0",
        ])
        .env_remove("FRAMECAST_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve the HTTP viewer on 0.0.0.0:0"),
        "{err}"
    );
    assert!(err.contains("\nhint: require a token"), "{err}");
    assert!(!err.contains("listening on"), "{err}");
}

#[test]
fn every_source_file_of_the_binary_stays_under_500_lines() {
    // A thin binary: one module per subcommand, each small enough to read
    // whole; a file that grows past this is split by concern.
    const MAX_LINES: usize = 500;
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut seen = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                assert!(lines < MAX_LINES, "{} has {lines} lines", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 20, "{seen} files");
}
