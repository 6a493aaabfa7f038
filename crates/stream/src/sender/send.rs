//! The send stage: hands each message to the sender's transport when the
//! transport is ready for it, drops what went stale while a session was
//! lost, and counts what was sent. Connecting, retrying and writing are the
//! transport's (see [`transport`](super::transport)).

use super::transport::{OutgoingFrame, Ready, SendContext, Sent, Transport};
use super::*;

pub(super) fn send_loop(
    shared: &SenderShared,
    mut transport: Box<dyn Transport>,
    hook: Option<&SenderHook>,
    count: Option<u64>,
) {
    let mut cx = SendContext::new(shared, hook);
    let mut sent: u64 = 0;
    let mut sessions: u64 = 0;
    // After a session was lost: frames captured before this time are stale
    // and dropped, so that the receiver's first frame is a fresh one.
    let mut fresh_after: Option<u64> = None;
    // A frame first, without taking it: a source that has ended opens no
    // session, and the transport is made ready before a frame is chosen.
    while shared.encoded.wait_item() {
        if shared.stopped() {
            break;
        }
        match transport.ready(&mut cx) {
            Ok(Ready::Ready) => {}
            Ok(Ready::Stopped) => break,
            // Not yet (and any answer added later): ask again.
            Ok(_) => continue,
            Err(e) => {
                shared.fail(e);
                break;
            }
        }
        let opened = lock(&shared.counters).sessions;
        if opened != sessions {
            sessions = opened;
            if fresh_after.is_some() {
                // Everything captured while disconnected goes too.
                fresh_after = Some(now_us());
            }
        }
        let Some(msg) = shared.encoded.pop() else {
            break;
        };
        if fresh_after.is_some_and(|t| msg.capture_time_us() < t) {
            shared.stale.fetch_add(1, Ordering::SeqCst);
            shared.encoded.recycle(msg);
            continue;
        }
        let frame = OutgoingFrame::new(&msg);
        let outcome = transport.send(&frame, &mut cx);
        let len = frame.encoded_len() as u64;
        shared.encoded.recycle(msg);
        match outcome {
            Ok(Sent::Sent) => {
                sent += 1;
                {
                    let mut c = lock(&shared.counters);
                    c.sent = sent;
                    c.bytes += len;
                }
                if count.is_some_and(|n| sent >= n) {
                    tracing::info!(frames = sent, "frame count reached");
                    break;
                }
            }
            Ok(Sent::Lost) => {
                lock(&shared.counters).connected = false;
                // The frame in hand and everything queued behind it is
                // from before the break: none of it goes out late.
                fresh_after = Some(now_us());
                shared.stale.fetch_add(1, Ordering::SeqCst);
            }
            // Dropped, and any outcome added later: not sent.
            Ok(_) => {
                shared.stale.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                shared.fail(e);
                break;
            }
        }
    }
    transport.finish(&mut cx);
    lock(&shared.counters).connected = false;
    // Upstream stages may be waiting for room that will never come.
    shared.stop();
}
