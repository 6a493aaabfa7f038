//! [`NatsTransport`]: a sender that publishes to NATS instead of
//! connecting to a receiver, as a [`Transport`]: the sender's send stage
//! hands it each encoded message when it is ready, and keeps the same
//! counters as for TCP.
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

use std::time::Duration;

use async_nats::Subject;
use framecast_stream::transport::{OutgoingFrame, Ready, SendContext, Sent, StreamInfo, Transport};
use framecast_stream::{BufferRing, StreamError};
use tokio::time::timeout;

use crate::{DEFAULT_PREFIX, Link, NatsError, NatsUrl, Role, check_subject, run_on, subject_token};

/// A NATS failure as the sender's error: [`StreamError::Transport`], the
/// [`NatsError`] within (`downcast_ref` finds it).
fn nats_error(e: NatsError) -> StreamError {
    StreamError::Transport(Box::new(e))
}

/// Publish buffers kept for reuse. A buffer comes back once the client has
/// written it to the socket; normally one or two are out at a time.
const SEND_BUFFERS: usize = 4;

/// A sender's transport that publishes each encoded `Video` message to
/// NATS: to the URL's subject, or, when it names none, to
/// `framecast.<`[`subject_token`]`(name)>` (so give the sender a
/// [`name`](framecast_stream::SenderBuilder::name)).
///
/// Core NATS: at most once, no session handshake, the newest frame wins.
/// The client connects when the sender starts (which fails when no server
/// of the list answers) and fails over along the list later; a message
/// larger than the server's `max_payload` stops the sender with
/// [`NatsError::PayloadTooLarge`], naming both sizes.
///
/// ```no_run
/// use framecast_capture::{SourceOptions, SourceSpec, open_source};
/// use framecast_nats::NatsTransport;
/// use framecast_stream::{Destination, SenderBuilder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = open_source(&SourceSpec::Pattern, &SourceOptions::new(640, 480))?;
/// let to = NatsTransport::new("nats://127.0.0.1:4222".parse()?);
/// let sender = SenderBuilder::new(Destination::transport(to), source)
///     .name("door")
///     .count(100)
///     .start()?; // publishes to framecast.door
/// sender.wait()?;
/// # Ok(())
/// # }
/// ```
pub struct NatsTransport {
    url: NatsUrl,
    client: Option<Connected>,
    ring: BufferRing,
    /// Connections to a server reported to the sender so far.
    sessions: u64,
}

/// A connected client and where to publish.
struct Connected {
    runtime: tokio::runtime::Runtime,
    link: Link,
    subject: Subject,
}

impl std::fmt::Debug for NatsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl NatsTransport {
    /// Publishes to `url`'s servers (see the type's docs for the subject).
    pub fn new(url: NatsUrl) -> Self {
        Self {
            url,
            client: None,
            ring: BufferRing::new(SEND_BUFFERS),
            sessions: 0,
        }
    }
}

impl Transport for NatsTransport {
    fn start(&mut self, stream: &StreamInfo) -> Result<(), StreamError> {
        let subject = match self.url.subject() {
            Some(subject) => subject.to_owned(),
            None if stream.name.is_empty() => {
                return Err(StreamError::Config {
                    what: "name",
                    reason: "a NATS sender needs a subject or a stream name to publish to",
                });
            }
            None => format!("{DEFAULT_PREFIX}.{}", subject_token(&stream.name)),
        };
        check_subject(&subject, false).map_err(nats_error)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("framecast-nats")
            .enable_all()
            .build()
            .map_err(|source| StreamError::Spawn {
                what: "nats",
                source,
            })?;
        let to = self.url.clone();
        let link = run_on(runtime.handle(), async move {
            Link::connect(&to, Role::Sender).await
        })
        .ok_or(StreamError::Panicked("nats"))?
        .map_err(nats_error)?;
        tracing::info!("publishing frames to NATS subject {subject}");
        self.client = Some(Connected {
            runtime,
            link,
            subject: Subject::from(subject),
        });
        Ok(())
    }

    fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
        let Some(client) = &self.client else {
            return Ok(Ready::Stopped);
        };
        if cx.is_stopped() {
            return Ok(Ready::Stopped);
        }
        // The client connects and fails over by itself: each connection is
        // a session in the sender's stats.
        let connects = client.link.connects();
        while self.sessions < connects {
            self.sessions += 1;
            cx.session_opened();
        }
        Ok(Ready::Ready)
    }

    fn send(
        &mut self,
        frame: &OutgoingFrame<'_>,
        _cx: &mut SendContext<'_>,
    ) -> Result<Sent, StreamError> {
        let Some(Connected {
            runtime,
            link,
            subject,
        }) = &self.client
        else {
            return Ok(Sent::Lost);
        };
        let message = frame.message();
        let len = prost::Message::encoded_len(&message);
        let max_payload = link.client.max_payload();
        if len > max_payload {
            return Err(nats_error(NatsError::PayloadTooLarge { len, max_payload }));
        }
        if !link.is_connected() {
            return Ok(Sent::Lost);
        }
        // The client holds the payload until it is written: a copy into a
        // recycled shared buffer, so the message buffer goes straight back
        // to the encoder.
        let mut buf = self.ring.take();
        buf.reserve(len);
        prost::Message::encode_raw(&message, &mut buf);
        let payload = buf.freeze();
        self.ring.track(payload.clone());
        // The timer is made inside the runtime, which drives it.
        let published = runtime.block_on(async {
            timeout(
                link.limits.publish_timeout,
                link.client.publish(subject.clone(), payload),
            )
            .await
        });
        Ok(if matches!(published, Ok(Ok(()))) {
            Sent::Sent
        } else {
            Sent::Dropped
        })
    }

    fn finish(&mut self, _cx: &mut SendContext<'_>) {
        let Some(Connected { runtime, link, .. }) = self.client.take() else {
            return;
        };
        // What was published is written out before the client goes.
        let flush = link.limits.flush_timeout;
        let _ = runtime.block_on(async { timeout(flush, link.client.flush()).await });
        drop(link);
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
