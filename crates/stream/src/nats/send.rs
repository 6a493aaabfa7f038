//! The send stage of a sender that publishes to NATS
//! ([`SenderBuilder::nats`]). Compiled as a child of the `sender` module:
//! it takes the encode stage's messages from the same queue and keeps the
//! same counters as the TCP send stage.
//!
//! ```text
//!  capture ──▶ encode ──▶ [messages] ──▶ send thread ──block_on──▶ NATS client task
//!                         latest wins    copy into a              ("framecast-nats"
//!                         (live source)  recycled buffer,         runtime, 1 thread):
//!                         or waits       publish (≤ NATS_         writes, pings,
//!                                        PUBLISH_TIMEOUT)         fails over
//! ```
//!
//! While no server is connected, messages are dropped (counted with the
//! sender's dropped frames) rather than queued: the first frame published
//! after a failover is a fresh one.

use std::sync::Arc;
use std::time::Duration;

use async_nats::Subject;
use tokio::time::timeout;

use super::{SenderBuilder, SenderShared, lock, now_us};
use crate::Stop;
use crate::error::StreamError;
use crate::frame::BufferRing;
use crate::nats::{
    DEFAULT_PREFIX, Link, NatsError, NatsUrl, Role, check_subject, run_on, subject_token,
};

/// Publish buffers kept for reuse. A buffer comes back once the client has
/// written it to the socket; normally one or two are out at a time.
const SEND_BUFFERS: usize = 4;

impl SenderBuilder {
    /// A sender of `source`'s frames that publishes each encoded `Video`
    /// message to NATS instead of connecting to a receiver: to `url`'s
    /// subject, or, when it names none, to
    /// `framecast.<`[`subject_token`]`(name)>` (so set a
    /// [`name`](Self::name)).
    ///
    /// Core NATS: at most once, no session handshake, the newest frame
    /// wins. The client connects in [`start`](Self::start) (which fails
    /// when no server of the list answers) and fails over along the list
    /// later; a message larger than the server's `max_payload` stops the
    /// sender with [`NatsError::PayloadTooLarge`], naming both sizes. The
    /// framing, the retry policy and the TCP timeouts do not apply.
    ///
    /// ```no_run
    /// use framecast_capture::{SourceOptions, SourceSpec, open_source};
    /// use framecast_stream::SenderBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let source = open_source(&SourceSpec::Pattern, &SourceOptions::new(640, 480))?;
    /// let sender = SenderBuilder::nats("nats://127.0.0.1:4222".parse()?, source)
    ///     .name("door")
    ///     .count(100)
    ///     .start()?; // publishes to framecast.door
    /// sender.wait()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn nats(url: NatsUrl, source: Box<dyn framecast_capture::FrameSource>) -> Self {
        let mut builder = Self::new(url.to_string(), source);
        builder.nats = Some(url);
        builder
    }
}

/// A connected client and where to publish.
pub(super) struct NatsSend {
    runtime: tokio::runtime::Runtime,
    link: Link,
    subject: Subject,
}

/// Connects the NATS sender `builder` describes, if it is one.
pub(super) fn connect(builder: &SenderBuilder) -> Result<Option<NatsSend>, StreamError> {
    let Some(url) = &builder.nats else {
        return Ok(None);
    };
    #[cfg(feature = "tls")]
    if builder.tls.is_some() || builder.token.is_some() {
        return Err(StreamError::Config {
            what: "tls",
            reason: "a NATS sender has no session with a receiver: TLS and the receiver's token \
                     do not apply (NATS credentials go with the URL)",
        });
    }
    let subject = match url.subject() {
        Some(subject) => subject.to_owned(),
        None if builder.name.is_empty() => {
            return Err(StreamError::Config {
                what: "name",
                reason: "a NATS sender needs a subject or a stream name to publish to",
            });
        }
        None => format!("{DEFAULT_PREFIX}.{}", subject_token(&builder.name)),
    };
    check_subject(&subject, false).map_err(StreamError::Nats)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("framecast-nats")
        .enable_all()
        .build()
        .map_err(|source| StreamError::Spawn {
            what: "nats",
            source,
        })?;
    let to = url.clone();
    let link = run_on(runtime.handle(), async move {
        Link::connect(&to, Role::Sender).await
    })
    .ok_or(StreamError::Panicked("nats"))?
    .map_err(StreamError::Nats)?;
    tracing::info!("publishing frames to NATS subject {subject}");
    Ok(Some(NatsSend {
        runtime,
        link,
        subject: Subject::from(subject),
    }))
}

/// The send stage for a NATS sender, if this is one.
pub(super) fn send_stage(
    nats: Option<NatsSend>,
    shared: &Arc<SenderShared>,
    count: Option<u64>,
) -> Option<Box<dyn FnOnce() + Send>> {
    let nats = nats?;
    let shared = Arc::clone(shared);
    Some(Box::new(move || send_loop(&shared, nats, count)))
}

fn send_loop(shared: &SenderShared, nats: NatsSend, count: Option<u64>) {
    let NatsSend {
        runtime,
        link,
        subject,
    } = nats;
    let client = &link.client;
    let mut ring = BufferRing::new(SEND_BUFFERS);
    let mut sent: u64 = 0;
    // Frames captured before this time are from before a failover: dropped
    // rather than published late (see the TCP send stage).
    let mut fresh_after: Option<u64> = None;
    while let Some(msg) = shared.encoded.pop() {
        if shared.stopped() {
            break;
        }
        let connected = link.is_connected();
        {
            let mut c = lock(&shared.counters);
            c.connected = connected;
            c.sessions = link.connects();
            c.reconnects = link.connects().saturating_sub(1);
        }
        let message = msg.message();
        let len = prost::Message::encoded_len(&message);
        let max_payload = client.max_payload();
        if len > max_payload {
            shared.encoded.recycle(msg);
            shared.fail(StreamError::Nats(NatsError::PayloadTooLarge {
                len,
                max_payload,
            }));
            break;
        }
        if !connected || fresh_after.is_some_and(|t| msg.capture_time_us() < t) {
            if !connected {
                fresh_after = Some(now_us());
            }
            shared
                .stale
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            shared.encoded.recycle(msg);
            continue;
        }
        // The client holds the payload until it is written: a copy into a
        // recycled shared buffer, so the message buffer goes straight back
        // to the encoder.
        let mut buf = ring.take();
        buf.reserve(len);
        prost::Message::encode_raw(&message, &mut buf);
        let payload = buf.freeze();
        ring.track(payload.clone());
        shared.encoded.recycle(msg);
        // The timer is made inside the runtime, which drives it.
        let published = runtime.block_on(async {
            timeout(
                link.limits.publish_timeout,
                client.publish(subject.clone(), payload),
            )
            .await
        });
        if !matches!(published, Ok(Ok(()))) {
            shared
                .stale
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            continue;
        }
        sent += 1;
        {
            let mut c = lock(&shared.counters);
            c.sent = sent;
            c.bytes += len as u64;
        }
        if count.is_some_and(|n| sent >= n) {
            tracing::info!(frames = sent, "frame count reached");
            break;
        }
    }
    // What was published is written out before the client goes.
    let flush = link.limits.flush_timeout;
    let _ = runtime.block_on(async { timeout(flush, client.flush()).await });
    lock(&shared.counters).connected = false;
    drop(link);
    runtime.shutdown_timeout(Duration::from_secs(1));
    // Upstream stages may be waiting for room that will never come.
    shared.stop();
}
