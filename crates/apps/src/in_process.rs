//! A sender feeding a receiver of the same process (`serve`, and a
//! `[senders.NAME]` table of `run --config` without `to`): the sender's
//! [`Transport`] seam on one side, the receiver's ingest port on the other,
//! and nothing between them but memory.
//!
//! ```text
//!  capture ─▶ encode (once) ─▶ send stage ── InProcess::send ──┐
//!                                                              │ Video bytes, in a
//!                                                              │ recycled buffer
//!  receiver ◀── IngestStream::feed ◀───────────────────────────┘
//!   (checked, counted, shown, recorded, served to browsers, published)
//! ```
//!
//! There is no socket, framing, handshake or retry: the session is the
//! ingest stream, opened when the sender is first ready and ended when it
//! finishes. It carries the receiver's asks (the viewer's
//! `POST /streams/{id}/settings`) to a sender that adapts, in memory,
//! before its next frame. The stream is a stream like any other to the receiver (its
//! limits, checks and counters apply); its peer address is the
//! unspecified address with port 0, as no network peer exists.
//!
//! Built only on the engines' public seams (`framecast_stream::transport`
//! and `framecast_stream::ingest`), as any other transport is.

use std::net::{Ipv4Addr, SocketAddr};

use framecast_proto::handshake::{Feedback, StatusCode};
use framecast_stream::ingest::{Fed, IngestStream, OpenError};
use framecast_stream::transport::{OutgoingFrame, Ready, SendContext, Sent, StreamInfo, Transport};
use framecast_stream::{BufferRing, ReceiverHandle, StreamError};

/// The peer an in-process stream reports: no network address.
pub(crate) const IN_PROCESS_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// How many frame buffers the transport keeps for reuse: the receiver holds
/// the newest frame (viewers' watch), one waiting for a worker, and the
/// recorder and NATS may each hold a few more; past that a buffer is
/// allocated, never waited for.
const BUFFERS: usize = 8;

/// The transport: frames go to `receiver`'s ingest port.
pub(crate) struct InProcess {
    receiver: ReceiverHandle,
    name: String,
    stream: Option<IngestStream>,
    buffers: BufferRing,
}

impl InProcess {
    /// A transport into `receiver`.
    pub(crate) fn new(receiver: ReceiverHandle) -> Self {
        Self {
            receiver,
            name: String::new(),
            stream: None,
            buffers: BufferRing::new(BUFFERS),
        }
    }
}

impl Transport for InProcess {
    fn start(&mut self, stream: &StreamInfo) -> Result<(), StreamError> {
        self.name.clone_from(&stream.name);
        Ok(())
    }

    fn ready(&mut self, cx: &mut SendContext<'_>) -> Result<Ready, StreamError> {
        loop {
            if cx.is_stopped() {
                return Ok(Ready::Stopped);
            }
            if self.stream.is_some() {
                return Ok(Ready::Ready);
            }
            let ingest = self.receiver.ingest();
            match ingest.open(Some(&self.name), IN_PROCESS_PEER) {
                Ok(stream) => {
                    // The receiver's asks (the viewer's settings) reach a
                    // sender that adapts, in memory, before its next frame.
                    if cx.wants_feedback() {
                        stream.carry_asks();
                    } else {
                        stream.refuse_asks(
                            "the sender was started with --adapt off, so it keeps its own \
                             settings",
                        );
                    }
                    cx.feedback_offered(cx.wants_feedback());
                    self.stream = Some(stream);
                    cx.session_opened();
                }
                // The receiver went away: so does this sender, quietly
                // (whoever stopped the receiver stops it too).
                Err(OpenError::Stopping) => return Ok(Ready::Stopped),
                Err(OpenError::Busy { max_clients }) => {
                    ingest.refuse(
                        IN_PROCESS_PEER,
                        StatusCode::Busy,
                        &format!("already serving {max_clients} streams"),
                    );
                    cx.refused();
                    if cx.sleep(ingest.limits().busy_retry_after) {
                        return Ok(Ready::Stopped);
                    }
                }
                // The sender checks its name before starting: this is
                // for a transport started otherwise.
                Err(OpenError::BadName(e)) => {
                    return Err(StreamError::Config {
                        what: "name",
                        reason: e.reason(),
                    });
                }
                Err(_) => return Ok(Ready::Stopped),
            }
        }
    }

    fn send(
        &mut self,
        frame: &OutgoingFrame<'_>,
        cx: &mut SendContext<'_>,
    ) -> Result<Sent, StreamError> {
        let Some(stream) = &self.stream else {
            return Ok(Sent::Lost);
        };
        if let Some(settings) = stream.take_ask() {
            // What the TCP session's feedback would carry, without the
            // arrivals: memory has no link to measure.
            cx.feedback(&Feedback {
                settings: Some(settings),
                ..Feedback::default()
            });
        }
        let message = frame.message();
        let mut buf = self.buffers.take();
        buf.reserve(frame.encoded_len());
        // Into a buffer with room reserved for the whole message: encoding
        // cannot fail.
        if prost::Message::encode(&message, &mut buf).is_err() {
            return Ok(Sent::Dropped);
        }
        let bytes = buf.freeze();
        self.buffers.track(bytes.clone());
        match stream.feed(bytes) {
            Fed::Accepted => Ok(Sent::Sent),
            // Counted as corrupt by the receiver (a frame larger than it
            // takes): this one is lost, the next may pass.
            Fed::Corrupt(_) => Ok(Sent::Dropped),
            // The receiver's frame count is reached: it is stopping.
            Fed::CountReached => {
                self.stream = None;
                Ok(Sent::Sent)
            }
            _ => Ok(Sent::Sent),
        }
    }

    fn finish(&mut self, _cx: &mut SendContext<'_>) {
        if let Some(stream) = self.stream.take() {
            stream.end(framecast_stream::events::EndCause::Closed);
        }
    }
}
