//! Frames over NATS through the real `framecast` binary and real
//! `nats-server` processes on loopback: `send --to nats://…`,
//! `recv --from nats://…`, `recv --publish nats://…`, a server's
//! `max_payload`, credentials, and protected mode.

mod common;

use std::time::Duration;

use common::*;
use framecast_test_support::nats::{self as nats_server, Config, NatsServer};

/// Small, fast pattern frames.
const PATTERN_ARGS: &[&str] = &["--input-size", "160x120", "--size", "128x128"];

/// Starts `recv --display none ARGS` (no --listen) and waits until its
/// NATS side is up (the line naming the subscription or prefix).
fn start_nats_recv(args: &[&str], ready: &str) -> (Proc, std::net::SocketAddr) {
    let mut all = vec!["recv", "--display", "none"];
    all.extend_from_slice(args);
    let (mut recv, addr) = start_recv_raw("recv", &all);
    recv.wait_for_stderr(ready, TIMEOUT);
    (recv, addr)
}

#[test]
fn send_to_nats_reaches_recv_from_nats_as_a_stream_named_by_its_subject() {
    let Some(server) = NatsServer::start("cli_send_recv", &Config::default()) else {
        return;
    };
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let from = format!("{}/cams.>", server.url());
    // --count 30: the receiver ends by itself once the 30 frames came.
    let (mut recv, addr) = start_nats_recv(
        &["--from", &from, "--stats-json", &json, "--count", "30"],
        "receiving from NATS subject cams.>",
    );
    // Without --listen, a receiver fed by NATS takes a free loopback port
    // (it never competes for 5252 with the receiver that publishes).
    assert!(addr.ip().is_loopback() && addr.port() != 5252, "{addr}");

    let to = format!("{}/cams.door", server.url());
    let mut args = vec!["send", "--to", &to, "--fps", "30", "--count", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    let mut send = Proc::framecast("send", &args);
    send.wait_ok(TIMEOUT);
    assert!(
        send.stdout().contains("sent 30 frames"),
        "{}",
        send.stdout()
    );
    recv.wait_ok(TIMEOUT);
    assert!(
        recv.stderr()
            .contains("stream 1 \"door\" connected from 127.0.0.1:"),
        "{}",
        recv.stderr()
    );
    assert!(
        recv.stdout()
            .contains("took 30 messages from NATS subject cams.>"),
        "{}",
        recv.stdout()
    );

    let stats = read_json(&json_path);
    assert_eq!(stats["received"], 30, "{stats}");
    assert_eq!(stats["corrupt"], 0, "{stats}");
    let door = &stats["per_stream"][0];
    assert_eq!(door["name"], "door", "{stats}");
    assert_eq!(door["received"], 30, "{stats}");
    assert_eq!(door["peer"], server.addr(), "{stats}");
    assert!(stats["latency_ms"]["p50"].as_f64().is_some(), "{stats}");
    assert_eq!(stats["nats"]["from"]["messages"], 30, "{stats}");
    assert_eq!(stats["nats"]["from"]["dropped"], 0, "{stats}");
    assert!(stats["nats"].get("publish").is_none(), "{stats}");
}

#[test]
fn recv_publish_makes_a_tcp_sender_watchable_from_another_receiver() {
    let Some(server) = NatsServer::start("cli_publish", &Config::default()) else {
        return;
    };
    let dir = tempdir();
    let (viewer_json_path, viewer_json) = path_str(dir.path(), "viewer.json");
    let (camera_json_path, camera_json) = path_str(dir.path(), "camera.json");
    // The viewer takes every stream published under the default prefix,
    // and ends by itself after 20 frames.
    let (mut viewer, _) = start_nats_recv(
        &[
            "--from",
            &server.url(),
            "--stats-json",
            &viewer_json,
            "--count",
            "20",
        ],
        "receiving from NATS subject framecast.>",
    );
    let (mut camera_side, addr) = start_nats_recv(
        &[
            "--listen",
            "127.0.0.1:0",
            "--publish",
            &server.url(),
            "--stats-json",
            &camera_json,
        ],
        "publishing to NATS under framecast.<stream name>",
    );
    let addr = addr.to_string();
    let mut args = vec![
        "send", "--to", &addr, "--fps", "30", "--count", "20", "--name", "yard cam",
    ];
    args.extend_from_slice(PATTERN_ARGS);
    let mut send = Proc::framecast("send", &args);
    send.wait_ok(TIMEOUT);

    // The stream reaches the viewer under its sender's name, read back
    // from its subject (framecast.yard~20cam).
    viewer.wait_for_stderr("\"yard cam\" connected from 127.0.0.1:", TIMEOUT);
    camera_side.wait_for_stderr(STREAM_ENDED, TIMEOUT);
    camera_side.interrupt();
    camera_side.wait_ok(TIMEOUT);
    // Every frame published has reached the viewer within a moment (it
    // has ended), unless the publisher had to drop some on a loaded
    // machine: then it is stopped, and counts what it got.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while viewer.child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if viewer.child.try_wait().unwrap().is_none() {
        viewer.interrupt();
    }
    viewer.wait_ok(TIMEOUT);

    let camera = read_json(&camera_json_path);
    assert_eq!(camera["received"], 20, "{camera}");
    let published = &camera["nats"]["publish"];
    // Every frame the workers showed is published or dropped for NATS (the
    // workers' own drops never reach the publisher).
    assert_eq!(
        published["published"].as_u64().unwrap()
            + published["dropped"].as_u64().unwrap()
            + camera["dropped"].as_u64().unwrap(),
        20,
        "{camera}"
    );
    assert_eq!(published["too_large"], 0, "{camera}");
    let n = published["published"].as_u64().unwrap();
    assert!(n > 0, "{camera}");
    assert!(
        camera_side
            .stdout()
            .contains(&format!("published {n} frames")),
        "{}",
        camera_side.stdout()
    );

    let seen = read_json(&viewer_json_path);
    assert_eq!(seen["received"].as_u64(), Some(n), "{seen}");
    assert_eq!(seen["per_stream"][0]["name"], "yard cam", "{seen}");
    assert_eq!(seen["corrupt"], 0, "{seen}");
}

#[test]
fn a_frame_over_max_payload_stops_the_sender_naming_both_sizes() {
    let config = Config {
        max_payload: Some(4096),
        ..Config::default()
    };
    let Some(server) = NatsServer::start("cli_max_payload", &config) else {
        return;
    };
    let to = format!("{}/cams.big", server.url());
    let mut send = Proc::framecast(
        "send",
        &[
            "send",
            "--to",
            &to,
            "--size",
            "320x240",
            "--quality",
            "95",
            "--count",
            "5",
        ],
    );
    let status = send.wait(TIMEOUT);
    assert!(!status.success());
    let err = send.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("exceeds the NATS server's max_payload of 4096 bytes"),
        "{err}"
    );
    let len: u64 = line
        .split("a frame of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame size in {line}"));
    assert!(len > 4096, "{line}");
    assert!(
        err.contains("hint: ") && err.contains("max_payload"),
        "{err}"
    );
    assert!(send.stdout().contains("sent 0 frames"), "{}", send.stdout());
}

#[test]
fn credentials_are_used_and_never_shown() {
    let config = Config {
        user: Some(("cam".into(), "pa55-for-tests".into())),
        ..Config::default()
    };
    let Some(server) = NatsServer::start("cli_credentials", &config) else {
        return;
    };
    let port = server.port;

    // Wrong password: refused, with a hint, and the password never shown.
    let wrong = format!("nats://cam:wrong-pa55@127.0.0.1:{port}");
    let mut recv = Proc::framecast("recv", &["recv", "--display", "none", "--from", &wrong]);
    assert!(!recv.wait(TIMEOUT).success());
    let err = recv.stderr();
    assert!(err.contains("--from cannot use NATS"), "{err}");
    assert!(err.contains("hint: give the servers' credentials"), "{err}");
    assert!(!err.contains("wrong-pa55"), "{err}");

    // The right one: frames flow; neither log nor JSON shows it.
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let right = format!("nats://cam:pa55-for-tests@127.0.0.1:{port}");
    let (mut recv, _) = start_nats_recv(
        &["--from", &right, "--stats-json", &json, "--count", "5"],
        "receiving from NATS subject",
    );
    let to = format!("{right}/framecast.creds");
    let mut args = vec!["send", "--to", &to, "--count", "5", "--fps", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    let mut send = Proc::framecast("send", &args);
    send.wait_ok(TIMEOUT);
    recv.wait_ok(TIMEOUT);
    assert!(recv.stderr().contains("\"creds\" connected"));
    for text in [
        recv.stderr(),
        recv.stdout(),
        send.stderr(),
        send.stdout(),
        std::fs::read_to_string(&json_path).unwrap(),
    ] {
        assert!(!text.contains("pa55-for-tests"), "{text}");
    }
    assert_eq!(read_json(&json_path)["received"], 5);
}

#[test]
fn a_token_file_logs_in_and_servers_beyond_loopback_need_credentials() {
    let config = Config {
        token: Some("t0ken-for-tests".into()),
        ..Config::default()
    };
    let Some(server) = NatsServer::start("cli_token", &config) else {
        return;
    };
    let dir = tempdir();
    let (_, token_file) = path_str(dir.path(), "nats-token");
    std::fs::write(&token_file, "t0ken-for-tests\n").unwrap();
    let (mut recv, _) = start_nats_recv(
        &["--from", &server.url(), "--nats-token-file", &token_file],
        "receiving from NATS subject framecast.>",
    );
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    assert!(!recv.stderr().contains("t0ken-for-tests"));

    // Protected mode: servers beyond loopback without credentials are
    // refused before any connection, naming the way out.
    for args in [
        &[
            "recv",
            "--display",
            "none",
            "--from",
            "nats://192.0.2.1:4222",
        ][..],
        &["recv", "--display", "none", "--publish", "nats://192.0.2.1"][..],
    ] {
        let mut recv = Proc::framecast("recv", args);
        assert!(!recv.wait(TIMEOUT).success());
        let err = recv.stderr();
        assert!(err.contains("without credentials"), "{err}");
        assert!(err.contains("--allow-anonymous"), "{err}");
    }

    // A receiver that would take back what it publishes is refused.
    let mut recv = Proc::framecast(
        "recv",
        &[
            "recv",
            "--display",
            "none",
            "--from",
            &server.url(),
            "--publish",
            &server.url(),
        ],
    );
    assert!(!recv.wait(TIMEOUT).success());
    assert!(recv.stderr().contains("in a loop"), "{}", recv.stderr());
}

#[test]
fn nats_server_started_late() {
    // Receivers that take from and publish to NATS start before their
    // server does, keep trying, and carry frames once it is up.
    if nats_server::binary("nats_server_started_late").is_none() {
        return;
    }
    let port = nats_server::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let from = format!("{url}/late.>");
    let (mut viewer, _) = start_nats_recv(
        &["--from", &from, "--count", "20"],
        "receiving from NATS: no NATS server answers",
    );
    let publish = format!("{url}/relay");
    let (mut relay, relay_addr) = start_nats_recv(
        &[
            "--listen",
            "127.0.0.1:0",
            "--publish",
            &publish,
            "--count",
            "30",
        ],
        "publishing to NATS: no NATS server answers",
    );
    // A few failed attempts later, both are still running.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        viewer.child.try_wait().unwrap().is_none(),
        "{}",
        viewer.stderr()
    );
    assert!(
        relay.child.try_wait().unwrap().is_none(),
        "{}",
        relay.stderr()
    );

    let Some(_server) = NatsServer::start_on("nats_server_started_late", &Config::default(), port)
    else {
        return;
    };
    viewer.wait_for_stderr("receiving from NATS: connected to the NATS server", TIMEOUT);
    relay.wait_for_stderr("publishing to NATS: connected to the NATS server", TIMEOUT);
    let to = format!("{url}/late.door");
    let mut args = vec!["send", "--to", &to, "--fps", "30", "--count", "40"];
    args.extend_from_slice(PATTERN_ARGS);
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    viewer.wait_ok(TIMEOUT);
    assert!(
        viewer
            .stderr()
            .contains("stream 1 \"door\" connected from 127.0.0.1:"),
        "{}",
        viewer.stderr()
    );

    let relay_to = relay_addr.to_string();
    let mut args = vec!["send", "--to", &relay_to, "--fps", "30", "--count", "30"];
    args.extend_from_slice(PATTERN_ARGS);
    Proc::framecast("send", &args).wait_ok(TIMEOUT);
    relay.wait_ok(TIMEOUT);
    let summary = relay.stdout();
    let published: u64 = summary
        .split("published ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no published count in {summary}"));
    assert!(published > 0, "{summary}");
}
