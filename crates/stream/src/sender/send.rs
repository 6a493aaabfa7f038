//! The send stage: frames each message onto the connection, reconnects
//! when it breaks (dropping what went stale meanwhile), and counts what was
//! sent.

use super::link::{Attempt, Conn, refusal_on_legacy};
use super::*;

pub(super) fn send_loop(shared: &SenderShared, mut link: Link, count: Option<u64>) {
    let mut writer: Option<(FrameWriter<Conn>, SocketAddr, u64)> = None;
    let mut connections: u64 = 0;
    let mut sent: u64 = 0;
    // After a connection broke: frames captured before this time are stale
    // and dropped, so that the receiver's first frame is a fresh one.
    let mut fresh_after: Option<u64> = None;
    'frames: while let Some(msg) = shared.encoded.pop() {
        loop {
            if shared.stopped() {
                break 'frames;
            }
            if fresh_after.is_some_and(|t| msg.capture_time_us() < t) {
                shared.stale.fetch_add(1, Ordering::SeqCst);
                shared.encoded.recycle(msg);
                continue 'frames;
            }
            let (w, peer, carried) = match writer.as_mut() {
                Some(w) => w,
                None => match link.connect(shared) {
                    Some((w, peer)) => {
                        connections += 1;
                        {
                            let mut c = lock(&shared.counters);
                            c.connected = true;
                            c.sessions = connections;
                            c.reconnects = connections - 1;
                        }
                        writer = Some((w, peer, 0));
                        if fresh_after.is_some() {
                            // Everything captured while disconnected goes too.
                            fresh_after = Some(now_us());
                        }
                        continue;
                    }
                    None => break 'frames,
                },
            };
            match w.write_message(&msg.message()) {
                Ok(()) => {
                    if *carried == 0 {
                        // A session that carried a frame: the receiver is
                        // really there, so later failures start over.
                        link.backoff.reset();
                        link.failures = 0;
                    }
                    *carried += 1;
                    break;
                }
                Err(e) if e.is_io() => {
                    if !shared.stopped() {
                        let peer = *peer;
                        let refusal = (link.codec.prefix() != Prefix::U32Le)
                            .then(|| refusal_on_legacy(w.get_ref()))
                            .flatten();
                        match refusal {
                            Some(status) => {
                                lock(&shared.counters).refused += 1;
                                let floor = Duration::ZERO;
                                let retry_in = link.failed(floor);
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
                                    break 'frames;
                                };
                                if shared.sleep(delay) {
                                    break 'frames;
                                }
                            }
                            None => link.event(&SenderEvent::Disconnected { peer, error: &e }),
                        }
                    }
                    writer = None;
                    lock(&shared.counters).connected = false;
                    // The frame in hand and everything queued behind it is
                    // from before the break: none of it goes out late.
                    fresh_after = Some(now_us());
                }
                Err(e) => {
                    shared.fail(StreamError::Wire(e));
                    break 'frames;
                }
            }
        }
        sent += 1;
        {
            let mut c = lock(&shared.counters);
            c.sent = sent;
            c.bytes += msg.message().encoded_len() as u64;
        }
        shared.encoded.recycle(msg);
        if count.is_some_and(|n| sent >= n) {
            tracing::info!(frames = sent, "frame count reached");
            break;
        }
    }
    *lock(&shared.socket) = None;
    if let Some((mut w, _, _)) = writer {
        let _ = w.flush();
        // A clean end of stream at a frame boundary.
        w.get_mut().finish();
    }
    lock(&shared.counters).connected = false;
    // Upstream stages may be waiting for room that will never come.
    shared.stop();
}
