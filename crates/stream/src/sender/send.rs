//! The send stage: waits until the link can take a whole new frame, takes
//! the newest one (latest wins at the socket: a frame that could not start
//! is replaced by a newer one and counted), frames it onto the connection,
//! reads the receiver's feedback between frames and runs the rate control
//! on it; reconnects when the connection breaks (dropping what went stale
//! meanwhile), and counts what was sent.
//!
//! ```text
//!  encoded queue ─▶ wait: socket below the unsent limit ─▶ newest frame ─▶ write
//!                    (TCP_NOTSENT_LOWAT), feedback read      (older ones:    │
//!                    meanwhile ─▶ rate control ─▶ target     "replaced")     ▼
//!                                                 (encode stage reads it)  Sent
//! ```

use framecast_proto::handshake::Feedback;

use super::link::{Attempt, Conn, FeedbackEnd, read_feedback, refusal_on_legacy, wait_ready};
use super::*;
use crate::adapt::{Controller, Sent};
use crate::limits::SEND_POLL_INTERVAL;

/// One session with a receiver.
struct Session {
    writer: FrameWriter<Conn>,
    peer: SocketAddr,
    /// Frames written in this session.
    carried: u64,
    /// Whether the receiver sends feedback.
    feedback: bool,
    /// When the session began (the wall clock, µs): frames captured before
    /// are stale.
    began_us: u64,
}

/// What the wait for the link came to.
enum Wait {
    /// A frame may start.
    Ready,
    /// The connection is gone (already reported).
    Broken,
    /// Stopping.
    Stop,
}

/// The rate control and what it needs between frames.
struct Control {
    controller: Controller,
    inbox: Vec<u8>,
    message: Feedback,
}

pub(super) fn send_loop(
    shared: &SenderShared,
    mut link: Link,
    count: Option<u64>,
    controller: Option<Controller>,
) {
    let mut control = controller.map(|controller| Control {
        controller,
        // Room for a few whole feedback messages: reading never grows it.
        inbox: Vec::with_capacity(4 * (handshake::ENVELOPE_LEN + handshake::MAX_HANDSHAKE_BODY)),
        message: Feedback {
            arrivals: Vec::with_capacity(handshake::MAX_ARRIVALS_PER_FEEDBACK),
            ..Feedback::default()
        },
    });
    if let Some(c) = control.as_mut() {
        let t = c.controller.target();
        shared.target.store(&t, Duration::ZERO);
    }
    let mut session: Option<Session> = None;
    let mut connections: u64 = 0;
    let mut sent: u64 = 0;
    'frames: loop {
        if shared.stopped() {
            break;
        }
        // A session first: frames captured before it began are stale, so
        // the receiver's first frame is a fresh one, at the first
        // connection as after a reconnection.
        if session.is_none() {
            if shared.encoded.is_closed() && shared.encoded.is_empty() {
                break;
            }
            match link.connect(shared) {
                Some((writer, peer, feedback)) => {
                    connections += 1;
                    {
                        let mut c = lock(&shared.counters);
                        c.connected = true;
                        c.sessions = connections;
                        c.reconnects = connections - 1;
                        c.feedback = feedback;
                    }
                    session = Some(Session {
                        writer,
                        peer,
                        carried: 0,
                        feedback,
                        began_us: now_us(),
                    });
                }
                None => break,
            }
        }
        let Some(s) = session.as_mut() else {
            continue;
        };
        // Wait until a whole frame can start, reading feedback meanwhile.
        match wait_for_link(shared, &mut link, s, control.as_mut()) {
            Wait::Ready => {}
            Wait::Stop => break,
            Wait::Broken => {
                session = None;
                lock(&shared.counters).connected = false;
                continue;
            }
        }
        // The newest frame; older ones that waited are replaced.
        let Some(mut msg) = shared.encoded.pop() else {
            break;
        };
        if shared.realtime {
            while let Ok(Some(newer)) = shared.encoded.pop_timeout(Duration::ZERO) {
                shared.encoded.recycle(std::mem::replace(&mut msg, newer));
                shared.replaced.fetch_add(1, Ordering::SeqCst);
                if let Some(c) = control.as_mut() {
                    c.controller.on_replaced(shared.started.elapsed());
                }
            }
        }
        if msg.capture_time_us() < s.began_us {
            shared.stale.fetch_add(1, Ordering::SeqCst);
            shared.encoded.recycle(msg);
            continue;
        }
        let started = shared.started.elapsed();
        match s.writer.write_message(&msg.message()) {
            Ok(()) => {
                if s.carried == 0 {
                    // A session that carried a frame: the receiver is
                    // really there, so later failures start over.
                    link.backoff.reset();
                    link.failures = 0;
                }
                s.carried += 1;
            }
            Err(e) if e.is_io() => {
                if !shared.stopped() && broken(shared, &mut link, s, &e) {
                    break 'frames;
                }
                session = None;
                lock(&shared.counters).connected = false;
                shared.encoded.recycle(msg);
                continue;
            }
            Err(e) => {
                shared.fail(StreamError::Wire(e));
                break;
            }
        }
        sent += 1;
        let bytes = msg.message().encoded_len();
        {
            let mut c = lock(&shared.counters);
            c.sent = sent;
            c.bytes += bytes as u64;
        }
        if let Some(c) = control.as_mut() {
            c.controller.on_sent(Sent {
                sequence: msg.meta.sequence,
                bytes,
                quality: msg.meta.quality.min(100) as u8,
                width: msg.meta.width,
                height: msg.meta.height,
                started,
            });
        }
        shared.encoded.recycle(msg);
        if count.is_some_and(|n| sent >= n) {
            tracing::info!(frames = sent, "frame count reached");
            break;
        }
    }
    *lock(&shared.socket) = None;
    if let Some(mut s) = session {
        let _ = s.writer.flush();
        // A clean end of stream at a frame boundary.
        s.writer.get_mut().finish();
    }
    lock(&shared.counters).connected = false;
    // Upstream stages may be waiting for room that will never come.
    shared.stop();
}

/// Waits until the socket can take a whole new frame (less than the unsent
/// limit waiting in the kernel), reading the receiver's feedback and
/// running the rate control meanwhile. Gives up on the connection when no
/// frame could start within the write timeout.
fn wait_for_link(
    shared: &SenderShared,
    link: &mut Link,
    s: &mut Session,
    mut control: Option<&mut Control>,
) -> Wait {
    let deadline = Instant::now() + link.write_timeout;
    loop {
        if shared.stopped() {
            return Wait::Stop;
        }
        let read = s.feedback && control.is_some();
        let ready = match wait_ready(s.writer.get_ref(), read, SEND_POLL_INTERVAL) {
            Ok(r) => r,
            Err(e) => {
                link.event(&SenderEvent::Disconnected {
                    peer: s.peer,
                    error: &framecast_wire::WireError::Io(e),
                });
                return Wait::Broken;
            }
        };
        if let Some(c) = control.as_deref_mut() {
            if ready.readable {
                let controller = &mut c.controller;
                let started = shared.started;
                let read = read_feedback(
                    s.writer.get_mut(),
                    &mut c.inbox,
                    &mut c.message,
                    |fb| controller.on_feedback(started.elapsed(), fb),
                );
                if let Err(end) = read {
                    feedback_ended(link, s, &end);
                    return Wait::Broken;
                }
            }
            let target = c.controller.poll(shared.started.elapsed());
            shared
                .target
                .store(&target, c.controller.queue_delay());
        }
        if ready.writable {
            return Wait::Ready;
        }
        if Instant::now() >= deadline {
            let e = std::io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "the connection took no new frame for {:?}",
                    link.write_timeout
                ),
            );
            link.event(&SenderEvent::Disconnected {
                peer: s.peer,
                error: &framecast_wire::WireError::Io(e),
            });
            return Wait::Broken;
        }
    }
}

/// Reports why the receiver's feedback stopped.
fn feedback_ended(link: &Link, s: &Session, end: &FeedbackEnd) {
    let e = match end {
        FeedbackEnd::Closed => std::io::Error::new(
            ErrorKind::UnexpectedEof,
            "the receiver closed the connection",
        ),
        FeedbackEnd::Io(e) => std::io::Error::new(e.kind(), e.to_string()),
        FeedbackEnd::Protocol(e) => std::io::Error::new(
            ErrorKind::InvalidData,
            format!("the receiver's feedback is malformed: {e}"),
        ),
    };
    link.event(&SenderEvent::Disconnected {
        peer: s.peer,
        error: &framecast_wire::WireError::Io(e),
    });
}

/// After a write failed: a refusal from a receiver expecting the other
/// framing, or a broken connection. Returns whether the sender must stop.
fn broken(
    shared: &SenderShared,
    link: &mut Link,
    s: &Session,
    e: &framecast_wire::WireError,
) -> bool {
    let peer = s.peer;
    let refusal = (link.codec.prefix() != Prefix::U32Le)
        .then(|| refusal_on_legacy(s.writer.get_ref()))
        .flatten();
    match refusal {
        Some(status) => {
            lock(&shared.counters).refused += 1;
            let retry_in = link.failed(Duration::ZERO);
            link.event(&SenderEvent::Refused {
                peer,
                code: status.code(),
                reason: &status.reason,
                retry_in,
            });
            let Some(delay) = retry_in else {
                let e = link.give_up(crate::error::Refused {
                    code: status.code(),
                    reason: status.reason,
                });
                if let Attempt::Fatal(e) = e {
                    shared.fail(e);
                }
                return true;
            };
            shared.sleep(delay)
        }
        None => {
            link.event(&SenderEvent::Disconnected { peer, error: e });
            false
        }
    }
}
