//! The send stage: hands each message to the sender's transport when the
//! transport is ready for it, takes the newest (latest wins at the socket:
//! a frame that could not start while the link was busy is replaced by a
//! newer one and counted), drops what went stale while no session was open,
//! runs the rate control on what the transport reports, and counts what was
//! sent. Connecting, retrying, waiting for room and writing are the
//! transport's (see [`transport`](super::transport)).
//!
//! ```text
//!  encoded queue ─▶ transport.ready (TCP: until less than the unsent limit
//!                   waits in the kernel; feedback read meanwhile ─▶ rate
//!                   control ─▶ target, for the encode stage)
//!               ─▶ the newest frame (older ones: "replaced")
//!               ─▶ transport.send ─▶ the rate control learns its size
//! ```

use super::transport::{OutgoingFrame, Ready, SendContext, Sent, Transport};
use super::*;
use crate::adapt::Controller;
use crate::limits::FIRST_FRAME_MAX_AGE;

pub(super) fn send_loop(
    shared: &SenderShared,
    mut transport: Box<dyn Transport>,
    hook: Option<&SenderHook>,
    count: Option<u64>,
    adapt: Option<Controller>,
) {
    let mut cx = SendContext::new(shared, hook, adapt);
    let mut sent: u64 = 0;
    let mut sessions: u64 = 0;
    // Frames captured before the session opened are stale and dropped, so
    // that the receiver's first frame is a fresh one: at the first
    // connection (a sender started before its receiver) as after a loss.
    let mut fresh_after: Option<u64> = None;
    // Whether a session was lost since the last one opened.
    let mut lost = false;
    // A frame first, without taking it: a source that has ended opens no
    // session, and the transport is made ready before a frame is chosen.
    while shared.encoded.wait_item() {
        if shared.stopped() {
            break;
        }
        let ready = transport.ready(&mut cx);
        cx.tick();
        match ready {
            Ok(Ready::Ready) => {}
            Ok(Ready::Stopped) => break,
            // Not yet (feedback came in, or time passed while the link
            // was busy), and any answer added later: ask again.
            Ok(_) => continue,
            Err(e) => {
                shared.fail(e);
                break;
            }
        }
        let opened = lock(&shared.counters).sessions;
        if opened != sessions {
            // Frames from before the session opened are stale after a
            // loss, and at the first session of a real-time source (a
            // sender started before its receiver); a file sent as fast as
            // it goes loses nothing at the start.
            let lost_waiting = shared.lost.swap(false, Ordering::SeqCst);
            if lost || lost_waiting {
                fresh_after = Some(now_us());
            } else if sessions == 0 && shared.realtime {
                // A frame captured just before the first session opened
                // (connecting takes a moment) is still fresh; one that
                // waited for a receiver that was not there is not.
                let slack = FIRST_FRAME_MAX_AGE.as_micros() as u64;
                fresh_after = Some(now_us().saturating_sub(slack));
            }
            lost = false;
            sessions = opened;
        }
        let Some(mut msg) = shared.encoded.pop() else {
            break;
        };
        if shared.realtime {
            // The newest frame goes: the ones that waited while the link
            // was busy are replaced.
            while let Some(newer) = shared.encoded.try_pop() {
                shared.encoded.recycle(std::mem::replace(&mut msg, newer));
                shared.replaced.fetch_add(1, Ordering::SeqCst);
                if let Some(c) = cx.adapt() {
                    c.on_replaced(shared.started.elapsed());
                }
            }
        }
        if fresh_after.is_some_and(|t| msg.capture_time_us() < t) {
            shared.stale.fetch_add(1, Ordering::SeqCst);
            shared.encoded.recycle(msg);
            continue;
        }
        let frame = OutgoingFrame::new(&msg);
        let started = shared.started.elapsed();
        let outcome = transport.send(&frame, &mut cx);
        let len = frame.encoded_len();
        let done = crate::adapt::Sent {
            sequence: msg.meta.sequence,
            bytes: len,
            quality: msg.meta.quality.min(100) as u8,
            width: msg.meta.width,
            height: msg.meta.height,
            source_width: msg.meta.source_width,
            source_height: msg.meta.source_height,
            started,
        };
        shared.encoded.recycle(msg);
        match outcome {
            Ok(Sent::Sent) => {
                sent += 1;
                {
                    let mut c = lock(&shared.counters);
                    c.sent = sent;
                    c.bytes += len as u64;
                }
                if let Some(c) = cx.adapt() {
                    c.on_sent(done);
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
                lost = true;
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
