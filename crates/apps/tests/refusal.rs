//! A sender refused for a reason that retrying cannot fix stops at its
//! first answer, with the receiver's reason and the hint that fits; only
//! what can pass by itself (a busy receiver) is retried. The real binary
//! on loopback, with the default retry setting (10 retries), beside a good
//! sender whose frames are counted.

mod common;

use std::time::{Duration, Instant};

use common::*;

const TOKEN: &str = "correct-horse-battery-staple-42";

/// How long a sender refused for good may take to stop: one attempt. With
/// the retries of old it took over 20 s (11 attempts, backoff to 5 s).
const STOPS_WITHIN: Duration = Duration::from_secs(8);

/// Runs a sender with the default retries; returns its stderr and how long
/// it took to exit (with a non-zero status).
fn refused_send(to: &str, extra: &[&str]) -> (String, Duration) {
    let mut args = vec!["send", "--to", to, "--count", "300", "--name", "refused"];
    args.extend_from_slice(PATTERN_ARGS);
    args.extend_from_slice(extra);
    let started = Instant::now();
    let mut p = Proc::framecast("refused", &args);
    let status = p.wait(TIMEOUT);
    let took = started.elapsed();
    assert!(!status.success(), "{args:?} succeeded:\n{}", p.stderr());
    (p.stderr(), took)
}

/// Waits until the receiver's stderr holds `needle` at least `n` times.
fn wait_count(p: &Proc, needle: &str, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while p.count_stderr(needle) < n {
        assert!(
            Instant::now() < deadline,
            "{needle:?} seen {} of {n} times:\n{}",
            p.count_stderr(needle),
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_refusal_that_retrying_cannot_fix_stops_the_sender_at_once() {
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let wrong = write_token(dir.path(), "wrong", "not-the-token-but-long-enough");
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--token-file", &token]);
    let to = addr.to_string();
    let mut good = good_sender(addr, 8, &["-q", "--token-file", &token]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);

    // (what, flags, the receiver's reason the sender repeats, the hint,
    // what the receiver logs once per attempt)
    let cases: [(&str, Vec<&str>, &str, &str, &str); 4] = [
        (
            "wrong token",
            vec!["--token-file", &wrong],
            "unauthenticated: the token is wrong",
            "give the receiver's token with --token-file",
            "unauthenticated: the token is wrong",
        ),
        (
            "no token",
            vec![],
            "unauthenticated: this receiver requires a token and none was given",
            "give the receiver's token with --token-file",
            "unauthenticated: this receiver requires a token",
        ),
        (
            "TLS to a plaintext receiver",
            vec!["--tls", "--token-file", &token],
            "TLS handshake failed",
            "the receiver does not use TLS: send without --tls",
            "speaks TLS",
        ),
        (
            "the legacy framing",
            vec!["--framing", "legacy"],
            "legacy framing",
            "send with the framing the receiver uses",
            "it looks like the legacy framing",
        ),
    ];
    for (what, extra, reason, hint, receiver_says) in cases {
        let before = recv.count_stderr(receiver_says);
        let (err, took) = refused_send(&to, &extra);
        eprintln!("{what}: stopped after {} ms", took.as_millis());
        assert!(took < STOPS_WITHIN, "{what}: took {took:?}:\n{err}");
        assert!(err.contains(reason), "{what}: no reason:\n{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("hint: ") && last.contains(hint),
            "{what}: the last line is not the hint {hint:?}:\n{err}"
        );
        assert!(
            !err.contains("is a receiver running there") && !err.contains("retrying in"),
            "{what}: retried or blamed the address:\n{err}"
        );
        assert!(
            err.contains("trying again would not help"),
            "{what}: not said to be final:\n{err}"
        );
        assert_eq!(
            err.matches("hint: ").count(),
            1,
            "{what}: one hint, on the last line:\n{err}"
        );
        // One attempt: the receiver saw it once.
        wait_count(&recv, receiver_says, before + 1);
        assert_eq!(
            recv.count_stderr(receiver_says),
            before + 1,
            "{what}: more than one attempt:\n{}",
            recv.stderr()
        );
        assert!(!err.contains(TOKEN) && !recv.stderr().contains(TOKEN));
    }

    good.wait_ok(TIMEOUT);
    wait_count(&recv, "\"good\" from", 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_good_stream(&stats, 8 * 30);
}

#[test]
fn a_busy_receiver_is_retried_and_the_hint_names_its_limit() {
    let dir = tempdir();
    let (json_path, json) = path_str(dir.path(), "stats.json");
    let (mut recv, addr) = start_recv(&["--stats-json", &json, "--max-clients", "1"]);
    let to = addr.to_string();
    let mut good = good_sender(addr, 8, &["-q"]);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);

    // Busy passes by itself: retried (twice here), each after the
    // receiver's retry_after_ms (1 s).
    let (err, took) = refused_send(&to, &["--retry", "2"]);
    eprintln!("busy: gave up after {} ms", took.as_millis());
    assert!(
        took >= Duration::from_secs(2),
        "not retried: {took:?}\n{err}"
    );
    assert_eq!(err.matches("retrying in").count(), 2, "{err}");
    assert!(
        err.contains("gave up on") && err.contains("3 failed attempts"),
        "{err}"
    );
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("hint: ") && last.contains("--max-clients"),
        "the last line is not the busy hint:\n{err}"
    );
    assert!(!err.contains("is a receiver running there"), "{err}");

    good.wait_ok(TIMEOUT);
    wait_count(&recv, "\"good\" from", 1);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let stats = read_json(&json_path);
    assert_eq!(stats["refused"], 3, "{stats}");
    assert_good_stream(&stats, 8 * 30);
}

/// The frame port answers an HTTP client in HTTP, saying what the port is;
/// a sender pointed at the viewer's port stops at once, saying that it is
/// an HTTP server and which port frames go to.
#[test]
fn the_frame_port_and_the_viewer_port_each_say_which_is_which() {
    use std::io::{Read, Write};

    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let (mut recv, addr, http) = start_recv_http(&["--token-file", &token]);
    let http = http.to_string();

    // A browser (or curl) at the frame port.
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{answer:?}"
    );
    assert!(
        body.contains("frame port") && body.contains("--http"),
        "{body:?}"
    );

    // A sender at the viewer's port.
    let (err, took) = refused_send(&http, &["--token-file", &token]);
    assert!(took < STOPS_WITHIN, "took {took:?}:\n{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("hint: ") && last.contains("that is an HTTP server"),
        "the last line is not the HTTP hint:\n{err}"
    );
    assert!(
        !err.contains("--framing legacy") && !err.contains("retrying in"),
        "{err}"
    );
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}
