//! The HTTP viewer's limits, each hit on purpose over real loopback sockets:
//! an in-process receiver, a sender streaming the test pattern, and raw TCP
//! clients that misbehave (stop reading, trickle, stay silent, send huge
//! heads, open too many connections).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_http::{HttpConfig, HttpError, HttpStats, HttpViewer};
use framecast_stream::{Receiver, ReceiverBuilder, Sender, SenderBuilder};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A receiver with the viewer `configure` asks for, and a sender streaming
/// 400x400 frames of the pattern (about 50 KB each, so that a few fill
/// every buffer between the receiver and a viewer) at 30 fps.
struct Setup {
    viewer: HttpViewer,
    sender: Sender,
    receiver: Receiver,
}

impl Setup {
    fn start(configure: impl FnOnce(HttpConfig) -> HttpConfig) -> Self {
        let receiver = ReceiverBuilder::new(loopback()).start().unwrap();
        let viewer = HttpViewer::start(&receiver, configure(HttpConfig::new(loopback()))).unwrap();
        let options = SourceOptions::new(640, 480).with_fps(30);
        let source = open_source(&SourceSpec::Pattern, &options).unwrap();
        let sender = SenderBuilder::new(receiver.local_addr().to_string(), source)
            .size(400, 400)
            .start()
            .unwrap();
        wait("the first frame", || {
            receiver
                .streams()
                .first()
                .is_some_and(|s| s.latest().is_some())
        });
        Self {
            viewer,
            sender,
            receiver,
        }
    }

    fn http(&self) -> SocketAddr {
        self.viewer.local_addr()
    }

    fn wait_stats(&self, what: &str, done: impl Fn(&HttpStats) -> bool) {
        wait(what, || done(&self.viewer.stats()));
        let _ = &self.sender;
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A client socket whose receive buffer is `rcvbuf` bytes (set before
/// connecting, so the window is small from the start).
fn connect(addr: SocketAddr, rcvbuf: Option<usize>) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(&addr.into()).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Sends `GET path` (HTTP/1.0: no chunked encoding) and reads the response
/// head; returns its status code.
fn get_head(s: &mut TcpStream, path: &str) -> u16 {
    write!(s, "GET {path} HTTP/1.0\r\nHost: framecast\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "closed in the head: {head:?}"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Whether the server closed `s` (reading reaches the end or a reset),
/// reading and discarding whatever comes first.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = vec![0; 64 * 1024];
    let deadline = Instant::now() + limit;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) if Instant::now() < deadline => {}
            Ok(_) => return false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_viewer_that_stops_reading_is_closed_after_the_write_timeout() {
    let setup = Setup::start(|c| c.write_timeout(Duration::from_millis(500)));
    let mut stuck = connect(setup.http(), Some(4096));
    assert_eq!(get_head(&mut stuck, "/streams/1.mjpg"), 200);
    setup.wait_stats("a viewer", |s| s.viewers == 1);
    // It never reads again: the buffers on the way fill, a write stalls,
    // and the connection is closed.
    setup.wait_stats("the write timeout", |s| s.write_timeouts == 1);
    setup.wait_stats("the viewer gone", |s| s.viewers == 0);
    assert_eq!(setup.viewer.stats().part_timeouts, 0);
    // The receiver went on all along.
    let before = setup.receiver.stats().received;
    wait("more frames", || {
        setup.receiver.stats().received > before + 10
    });
    assert!(closed_within(&mut stuck, TIMEOUT));
}

#[test]
fn a_viewer_trickling_through_a_part_is_closed_after_the_part_timeout() {
    let setup = Setup::start(|c| c.part_timeout(Duration::from_secs(1)));
    let mut trickle = connect(setup.http(), Some(8192));
    assert_eq!(get_head(&mut trickle, "/streams/1.mjpg"), 200);
    // 1 KB every 50 ms: every write makes progress (no write timeout), but
    // a 50 KB part takes over 2 s.
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + TIMEOUT;
    while setup.viewer.stats().part_timeouts == 0 {
        assert!(Instant::now() < deadline, "{:?}", setup.viewer.stats());
        match trickle.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
    setup.wait_stats("the part timeout", |s| s.part_timeouts == 1);
    assert_eq!(setup.viewer.stats().write_timeouts, 0);
    setup.wait_stats("the viewer gone", |s| s.viewers == 0);
}

#[test]
fn silent_and_idle_connections_are_closed_after_the_header_timeout() {
    let setup = Setup::start(|c| c.header_timeout(Duration::from_millis(300)));
    // Connects and says nothing.
    let mut silent = connect(setup.http(), None);
    assert!(closed_within(&mut silent, TIMEOUT));
    // Asks once, then keeps the connection idle.
    let mut idle = connect(setup.http(), None);
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: framecast\r\n\r\n").unwrap();
    assert!(closed_within(&mut idle, TIMEOUT));
    setup.wait_stats("two header timeouts", |s| s.header_timeouts == 2);
}

#[test]
fn oversized_request_heads_are_refused_with_431() {
    let setup = Setup::start(|c| c);
    // Over the 8 KiB limit, but within what the connection buffers (16 KiB):
    // the whole head is read, so the answer is not lost to a reset.
    let big = "x".repeat(12 * 1024);
    let many: String = (0..200).map(|i| format!("X-H{i}: 1\r\n")).collect();
    for extra in [format!("X-Big: {big}\r\n"), many] {
        let mut s = connect(setup.http(), None);
        // The server may answer and close before the head is all written.
        let _ = write!(s, "GET /healthz HTTP/1.1\r\nHost: framecast\r\n{extra}\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    }
}

#[test]
fn over_the_cap_the_oldest_idle_connection_gives_way_never_a_viewer() {
    let setup = Setup::start(|c| c.max_viewers(1).max_connections(3));
    let mut watching = connect(setup.http(), None);
    assert_eq!(get_head(&mut watching, "/streams/1.mjpg"), 200);
    let mut old = connect(setup.http(), None);
    let mut young = connect(setup.http(), None);
    setup.wait_stats("three connections", |s| s.open_connections == 3);
    // Every place taken: a health probe gets the oldest idle one's.
    let mut probe = connect(setup.http(), None);
    assert_eq!(get_head(&mut probe, "/healthz"), 200);
    assert!(closed_within(&mut old, Duration::from_secs(5)));
    let stats = setup.viewer.stats();
    assert_eq!(
        (stats.connections_evicted, stats.connections_refused),
        (1, 0)
    );
    // Then the next oldest; the viewer keeps watching throughout.
    setup.wait_stats("the probe gone", |s| s.open_connections == 2);
    let _third = connect(setup.http(), None);
    setup.wait_stats("three connections", |s| s.open_connections == 3);
    let mut other = connect(setup.http(), None);
    assert_eq!(get_head(&mut other, "/healthz"), 200);
    assert!(closed_within(&mut young, Duration::from_secs(5)));
    let mut frames = [0u8; 64 * 1024];
    let before = setup.viewer.stats().parts;
    let deadline = Instant::now() + TIMEOUT;
    while setup.viewer.stats().parts < before + 3 {
        assert!(
            watching.read(&mut frames).unwrap() > 0,
            "the viewer was closed"
        );
        assert!(Instant::now() < deadline);
    }
    assert_eq!(setup.viewer.stats().viewers, 1);
}

#[test]
fn stopping_the_viewer_ends_every_response() {
    let setup = Setup::start(|c| c);
    let mut watching = connect(setup.http(), None);
    assert_eq!(get_head(&mut watching, "/streams/1.mjpg"), 200);
    setup.wait_stats("a viewer", |s| s.viewers == 1);
    setup.viewer.stop();
    assert!(closed_within(&mut watching, TIMEOUT));
    setup.wait_stats("no viewer", |s| s.viewers == 0);
    // No new connection is served.
    wait("the listener closed", || {
        TcpStream::connect(setup.http()).is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
    });
}

#[test]
fn start_refuses_what_cannot_work() {
    let receiver = ReceiverBuilder::new(loopback()).start().unwrap();
    let anywhere: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = HttpViewer::start(&receiver, HttpConfig::new(anywhere)).unwrap_err();
    assert!(matches!(err, HttpError::Anonymous { .. }), "{err}");
    assert!(err.to_string().contains("without authentication"), "{err}");
    let open = HttpViewer::start(&receiver, HttpConfig::new(anywhere).allow_anonymous(true));
    assert!(open.is_ok());
    let err = HttpViewer::start(&receiver, HttpConfig::new(loopback()).max_viewers(0));
    assert!(matches!(
        err,
        Err(HttpError::Config {
            what: "max_viewers",
            ..
        })
    ));
    let open = open.unwrap();
    let taken = open.local_addr();
    let taken = SocketAddr::from(([127, 0, 0, 1], taken.port()));
    let err = HttpViewer::start(&receiver, HttpConfig::new(taken)).unwrap_err();
    assert!(matches!(err, HttpError::Bind { .. }), "{err}");
    receiver.stop();
    let err = HttpViewer::start(&receiver, HttpConfig::new(loopback())).unwrap_err();
    assert!(matches!(err, HttpError::Stopped), "{err}");
}

#[test]
fn login_forms_too_large_or_too_slow_are_refused() {
    let token = framecast_tls::Token::new("login-limits-token-0123456789").unwrap();
    let setup = Setup::start(|c| c.token(token).header_timeout(Duration::from_millis(500)));
    let answer = |s: &mut TcpStream| {
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    // Announced larger than the limit: refused without reading it all.
    let mut big = connect(setup.http(), None);
    write!(
        big,
        "POST /login HTTP/1.1\r\nHost: framecast\r\nConnection: close\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\ntoken="
    )
    .unwrap();
    let text = answer(&mut big);
    assert!(text.starts_with("HTTP/1.1 413"), "{text:?}");
    // A body that trickles: answered 408 once the head's time is up.
    let mut slow = connect(setup.http(), None);
    write!(
        slow,
        "POST /login HTTP/1.1\r\nHost: framecast\r\nConnection: close\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken="
    )
    .unwrap();
    let started = Instant::now();
    let text = answer(&mut slow);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(started.elapsed() < TIMEOUT);
    // Neither let anyone in.
    assert_eq!(setup.viewer.stats().auth_failures, 0);
    let mut s = connect(setup.http(), None);
    assert_eq!(get_head(&mut s, "/stats.json"), 401);
}

/// `POST /login` with `token` (and `extra` headers) on `s`, kept alive;
/// the status and `Retry-After` of the answer, whose body is read.
fn login(s: &mut TcpStream, token: &str, extra: &str) -> (u16, Option<u64>) {
    let body = format!("token={token}");
    // In one write: no piece waits for an acknowledgement.
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: framecast\r\n{extra}Content-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let length: usize = field("content-length:").unwrap().parse().unwrap();
    let mut body = vec![0; length];
    s.read_exact(&mut body).unwrap();
    let retry = field("retry-after:").map(|v| v.parse().unwrap());
    (status, retry)
}

#[test]
fn failed_logins_slow_their_address_down() {
    const TOKEN: &str = "throttle-test-token-0123456789";
    let token = framecast_tls::Token::new(TOKEN).unwrap();
    let setup = Setup::start(|c| {
        c.token(token)
            .login_throttle(3, Duration::from_millis(250), Duration::from_secs(1))
    });
    // Guess as fast as one connection can, for 2 s.
    let mut s = connect(setup.http(), None);
    let started = Instant::now();
    let (mut checked, mut throttled) = (0, 0);
    while started.elapsed() < Duration::from_secs(2) {
        match login(&mut s, "a-wrong-guess-0123456789", "") {
            (401, _) => checked += 1,
            (429, Some(_)) => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    eprintln!("in 2 s on one connection: {checked} guesses checked, {throttled} answered 429");
    // 3 free and a 4th at once, then one 0.25 s, 0.5 s and 1 s later: at
    // most 7 checked in 2 s however fast the machine.
    assert!((4..=7).contains(&checked), "{checked} guesses checked");
    assert!(throttled > 0);
    let stats = setup.viewer.stats();
    assert_eq!(stats.logins_throttled, throttled);
    assert_eq!(stats.auth_failures, checked);
    // Right after a failure (1 s to wait now), even the right token waits:
    // it is not looked at.
    while login(&mut s, "a-wrong-guess-0123456789", "").0 != 401 {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(login(&mut s, TOKEN, ""), (429, Some(1)));
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(login(&mut s, TOKEN, "").0, 303);
    // The success forgot the failures: the next wrong guess is free again.
    assert_eq!(login(&mut s, "a-wrong-guess-0123456789", ""), (401, None));
}

#[test]
fn a_login_form_sent_from_another_site_is_refused() {
    const TOKEN: &str = "origin-test-token-0123456789";
    let token = framecast_tls::Token::new(TOKEN).unwrap();
    let setup = Setup::start(|c| c.token(token));
    let mut s = connect(setup.http(), None);
    for evil in [
        "Origin: http://evil.example\r\n",
        "Origin: null\r\n",
        "Referer: http://evil.example/csrf.html\r\n",
    ] {
        assert_eq!(login(&mut s, TOKEN, evil).0, 403, "{evil}");
    }
    let mut s = connect(setup.http(), None);
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: framecast\r\nOrigin: http://evil.example\r\nConnection: \
         close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\n\
         token="
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        answer.contains(
            "login refused: it was sent from another site (Origin: \"http://evil.example\")"
        ),
        "{answer}"
    );
    assert_eq!(setup.viewer.stats().logins_cross_origin, 4);
    // From this viewer's own page (and from no browser at all): in.
    let mut s = connect(setup.http(), None);
    assert_eq!(login(&mut s, TOKEN, "Origin: http://framecast\r\n").0, 303);
    assert_eq!(login(&mut s, TOKEN, "").0, 303);
}

#[test]
fn stalled_tls_handshakes_give_way_to_a_health_probe() {
    let dir = tempfile::tempdir().unwrap();
    let files = framecast_tls::CertificateSet::generate(&["localhost".to_owned()])
        .unwrap()
        .write_to(dir.path(), false)
        .unwrap();
    let server = framecast_tls::ServerTls::from_pem_files(&files.server_cert, &files.server_key)
        .unwrap()
        .config()
        .unwrap();
    let client = framecast_tls::ClientTls::with_ca_file(&files.ca_cert)
        .unwrap()
        .with_alpn(&[b"http/1.1"])
        .config()
        .unwrap();
    let setup = Setup::start(|c| c.tls(server).max_viewers(1).max_connections(4));
    // Many more than the places: connected, never a byte of TLS.
    let stalled: Vec<TcpStream> = (0..12).map(|_| connect(setup.http(), None)).collect();
    setup.wait_stats("every place taken", |s| s.open_connections == 4);
    for _ in 0..5 {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = rustls::ClientConnection::new(std::sync::Arc::clone(&client), name).unwrap();
        let mut s = rustls::StreamOwned::new(tls, connect(setup.http(), None));
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        // The server may close without close_notify after the answer.
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    }
    let stats = setup.viewer.stats();
    assert!(stats.connections_evicted >= 5, "{stats:?}");
    assert_eq!(stats.connections_refused, 0, "{stats:?}");
    drop(stalled);
}
