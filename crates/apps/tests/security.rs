//! TLS and tokens on the stream, and the secure defaults: the real binary
//! on loopback, certificates from `framecast cert`, a good authenticated
//! sender streaming throughout while every wrong peer is refused with its
//! own clear message on both sides.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Small, fast pattern frames, as in the other end-to-end tests.
const PATTERN_ARGS: &[&str] = &["--input-size", "160x120", "--size", "128x128"];

const TOKEN: &str = "correct-horse-battery-staple-42";

/// A sender that tries once and must fail; returns its stderr.
fn failing_send(to: &str, extra: &[&str]) -> String {
    let mut args = vec!["send", "--to", to, "--count", "3", "--retry", "0"];
    args.extend_from_slice(PATTERN_ARGS);
    args.extend_from_slice(extra);
    let mut p = Proc::framecast("bad-sender", &args);
    let status = p.wait(TIMEOUT);
    assert!(!status.success(), "{args:?} succeeded:\n{}", p.stderr());
    p.stderr()
}

#[test]
fn tls_and_token_let_one_sender_in_and_refuse_every_wrong_one_clearly() {
    let dir = tempdir();
    let certs = dir.path().join("certs");
    make_certs(&certs, &["localhost"]);
    let other = dir.path().join("other");
    make_certs(&other, &["localhost"]);
    let cert = certs.join("server.pem");
    let key = certs.join("server-key.pem");
    let ca = certs.join("ca.pem").to_str().unwrap().to_owned();
    let other_ca = other.join("ca.pem").to_str().unwrap().to_owned();
    let token = write_token(dir.path(), "token", TOKEN);
    let wrong = write_token(dir.path(), "wrong", "not-the-token-but-long-enough");
    let (json_path, json) = path_str(dir.path(), "stats.json");

    let (mut recv, addr) = start_recv(&[
        "--stats-json",
        &json,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--token-file",
        &token,
    ]);
    let by_name = format!("localhost:{}", addr.port());
    let by_ip = addr.to_string();

    // The good sender: TLS verified against the CA, by a name the
    // certificate holds, with the token. 8 s at 30 fps, throughout.
    let mut good_args = vec![
        "send",
        "--to",
        &by_name,
        "--tls-ca",
        &ca,
        "--token-file",
        &token,
        "--name",
        "good",
        "--fps",
        "30",
        "--count",
        "240",
    ];
    good_args.extend_from_slice(PATTERN_ARGS);
    let mut good = Proc::framecast("good", &good_args);
    recv.wait_for_stderr("\"good\" connected", TIMEOUT);

    let cases: [(&str, Vec<&str>, &str, &str, &str); 5] = [
        (
            "wrong token",
            vec!["--tls-ca", &ca, "--token-file", &wrong],
            "unauthenticated: the token is wrong",
            "--token-file",
            "unauthenticated: the token is wrong",
        ),
        (
            "missing token",
            vec!["--tls-ca", &ca],
            "unauthenticated: this receiver requires a token and none was given",
            "--token-file",
            "unauthenticated: this receiver requires a token",
        ),
        (
            "wrong CA",
            vec!["--tls-ca", &other_ca, "--token-file", &token],
            "not signed by a trusted CA",
            "--tls-ca",
            "TLS handshake with",
        ),
        (
            "plaintext to TLS",
            vec!["--token-file", &token],
            "this receiver requires TLS",
            "--tls",
            "it connected in plaintext and this receiver requires TLS",
        ),
        (
            "wrong host name",
            vec!["--tls-ca", &ca, "--token-file", &token],
            "not valid for the name connected to",
            "framecast cert --host",
            "TLS handshake with",
        ),
    ];
    for (what, extra, sender_says, hint, receiver_says) in cases {
        let before = recv.count_stderr(receiver_says);
        let to = if what == "wrong host name" {
            &by_ip
        } else {
            &by_name
        };
        let err = failing_send(to, &extra);
        assert!(err.contains(sender_says), "{what}: the sender says:\n{err}");
        assert!(err.contains(hint), "{what}: no hint naming {hint}:\n{err}");
        let deadline = Instant::now() + TIMEOUT;
        while recv.count_stderr(receiver_says) <= before {
            assert!(
                Instant::now() < deadline,
                "{what}: the receiver did not say {receiver_says:?}:\n{}",
                recv.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !err.contains(TOKEN) && !recv.stderr().contains(TOKEN),
            "the token leaked into a log"
        );
    }

    good.wait_ok(TIMEOUT);
    recv.wait_for_stderr("\"good\" from", TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    let text = std::fs::read_to_string(&json_path).unwrap();
    assert!(!text.contains(TOKEN), "the token leaked into the stats");
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Only the good sender became a stream, and it lost nothing.
    assert_eq!(stats["streams"], 1, "{stats}");
    assert_eq!(stats["per_stream"][0]["name"], "good");
    assert_eq!(stats["per_stream"][0]["received"], 240, "{stats}");
    assert_eq!(stats["unauthenticated"], 2, "{stats}");
}

#[test]
fn tls_to_a_plaintext_receiver_is_refused_clearly_on_both_sides() {
    let dir = tempdir();
    let certs = dir.path().join("certs");
    make_certs(&certs, &[]);
    let ca = certs.join("ca.pem").to_str().unwrap().to_owned();
    let (mut recv, addr) = start_recv(&[]);
    let to = format!("localhost:{}", addr.port());
    let err = failing_send(&to, &["--tls-ca", &ca]);
    assert!(err.contains("does not speak TLS"), "{err}");
    assert!(err.contains("send without --tls"), "{err}");
    recv.wait_for_stderr("it speaks TLS and this receiver does not use TLS", TIMEOUT);
    assert!(recv.stderr().contains("--tls-cert"), "{}", recv.stderr());
    // A good plaintext sender is unaffected.
    let mut args = vec!["send", "--to", &to, "--count", "10", "--fps", "0"];
    args.extend_from_slice(PATTERN_ARGS);
    Proc::framecast("good", &args).wait_ok(TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}

#[test]
fn beyond_loopback_without_a_token_refuses_to_start() {
    let out = Command::new(BIN)
        .args(["recv", "--listen", "0.0.0.0:0", "--display", "none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-file"), "{err}");
    assert!(err.contains("--allow-anonymous"), "{err}");
    assert!(!err.contains("listening on"), "{err}");

    // The legacy framing cannot authenticate: beyond loopback it needs the
    // explicit opt-out, and it refuses a token outright.
    let out = Command::new(BIN)
        .args([
            "recv",
            "--listen",
            "0.0.0.0:0",
            "--display",
            "none",
            "--framing",
            "legacy",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let dir = tempdir();
    let token = write_token(dir.path(), "token", TOKEN);
    let out = Command::new(BIN)
        .args([
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--display",
            "none",
            "--framing",
            "legacy",
            "--token-file",
            &token,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("legacy framing cannot carry TLS or a token")
    );

    // With --allow-anonymous it starts, and warns once.
    let (mut recv, _) = start_recv_raw(
        "recv-open",
        &[
            "recv",
            "--listen",
            "0.0.0.0:0",
            "--display",
            "none",
            "--allow-anonymous",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
    assert_eq!(
        recv.count_stderr("without authentication"),
        1,
        "{}",
        recv.stderr()
    );
}

#[test]
fn a_weak_token_is_refused_beyond_loopback_with_how_to_make_one() {
    let dir = tempdir();
    let weak = write_token(dir.path(), "weak", "aaaaaaaaaaaaaaaa");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["recv", "--display", "none", "--token-file", &weak])
            .args(args)
            .env_remove("FRAMECAST_TOKEN")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for args in [
        &["--listen", "0.0.0.0:0"][..],
        &["--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"],
    ] {
        let err = run(args);
        for needle in [
            "weak access token",
            "only 1 distinct characters",
            "at least 6",
            "openssl rand -hex 32",
        ] {
            assert!(err.contains(needle), "{args:?}: no {needle:?} in {err}");
        }
        assert!(
            !err.contains("aaaaaaaaaaaaaaaa"),
            "the token was shown: {err}"
        );
    }
    // On loopback the same token is accepted, stream and viewer.
    let (mut recv, _) = start_recv(&["--token-file", &weak, "--http", "127.0.0.1:0"]);
    recv.wait_for_stderr("HTTP viewer on http://127.0.0.1:", TIMEOUT);
    recv.interrupt();
    recv.wait_ok(TIMEOUT);
}
