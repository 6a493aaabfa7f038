//! The capture and encode stages: the source fills recycled frames, and the
//! codec's pipeline turns each into the JPEG to send (passed through, or
//! (re-)encoded) with its `Video` fields.

use super::*;

pub(super) fn capture_loop(
    shared: &SenderShared,
    mut source: Box<dyn FrameSource>,
    count: Option<u64>,
) {
    let mut captured: u64 = 0;
    while !shared.stopped() {
        // A source that is not live loses nothing but the frames left stale
        // by a broken connection, so exactly `count` frames plus those are
        // needed; a live one may drop, so it runs until the send stage has
        // sent `count`.
        if !shared.live
            && count.is_some_and(|n| captured >= n + shared.stale.load(Ordering::SeqCst))
        {
            break;
        }
        let mut frame = shared.raw.spare().unwrap_or_default();
        if let Err(e) = source.next_frame(&mut frame) {
            if e.is_end_of_file() {
                lock(&shared.counters).source_ended = true;
                tracing::debug!(frames = captured, "the source ended");
            } else if !shared.stopped() {
                shared.fail(StreamError::Capture(e));
            }
            break;
        }
        captured += 1;
        lock(&shared.counters).captured = captured;
        if !shared.forward(&shared.raw, frame) {
            break;
        }
    }
    shared.raw.close();
}

pub(super) fn encode_loop(
    shared: &SenderShared,
    mut encoder: Encoder,
    mut hook: Option<FrameHook>,
) {
    while let Some(frame) = shared.raw.pop() {
        if shared.stopped() {
            break;
        }
        let mut msg = shared.encoded.spare().unwrap_or_default();
        match encoder.encode(&frame, &mut msg) {
            Ok(passthrough) => {
                if passthrough {
                    lock(&shared.counters).passthrough += 1;
                }
            }
            Err(e) => {
                shared.fail(e);
                break;
            }
        }
        if let Some(hook) = hook.as_mut() {
            hook(&frame);
        }
        shared.raw.recycle(frame);
        if !shared.forward(&shared.encoded, msg) {
            break;
        }
    }
    shared.encoded.close();
}

/// One frame ready to send: its JPEG and the `Video` fields around it,
/// framed by the send thread as one [`VideoRef`] message.
#[derive(Debug, Default)]
pub(super) struct Encoded {
    pub(super) meta: Video,
    pub(super) jpeg: Vec<u8>,
}

impl Encoded {
    /// When the frame was captured, in µs since the Unix epoch.
    pub(super) fn capture_time_us(&self) -> u64 {
        self.meta.capture_time_us.unwrap_or(0)
    }

    /// The message on the wire.
    pub(super) fn message(&self) -> VideoRef<'_> {
        VideoRef::new(&self.meta, &self.jpeg)
    }
}

/// Turns frames into JPEGs to send: the codec's pipeline decides whether a
/// source's JPEG passes through or the picture is (re-)encoded.
pub(super) struct Encoder {
    pub(super) pipeline: SenderPipeline,
}

impl Encoder {
    pub(super) fn new(config: SenderConfig) -> Result<Self, StreamError> {
        Ok(Self {
            pipeline: SenderPipeline::new(config)?,
        })
    }

    /// Fills `msg` with `frame`'s JPEG and its `Video` fields; returns
    /// whether the source's own JPEG was forwarded unchanged.
    pub(super) fn encode(&mut self, frame: &Frame, msg: &mut Encoded) -> Result<bool, StreamError> {
        let done = self.pipeline.jpeg_for(frame.picture(), &mut msg.jpeg)?;
        // The size the JPEG was made at (or already had, passed through).
        let (width, height) = self
            .pipeline
            .config()
            .size_for(frame.width(), frame.height());
        msg.meta = Video {
            sequence: frame.sequence,
            capture_time_us: Some(frame.capture_time_us),
            width,
            height,
            format: PayloadFormat::Jpeg as i32,
            // The picture's shape as captured, so the receiver can show it
            // undistorted whatever size it was sent at.
            source_width: frame.width(),
            source_height: frame.height(),
            ..Video::default()
        };
        Ok(done == Transcode::PassThrough)
    }
}
