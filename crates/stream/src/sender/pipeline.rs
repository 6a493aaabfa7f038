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
    let mut working = WorkingSize::default();
    while !shared.stopped() {
        let mut frame = shared.raw.spare().unwrap_or_default();
        if !capture(
            shared,
            source.as_mut(),
            &mut frame,
            &mut working,
            &mut captured,
            count,
        ) {
            shared.raw.recycle(frame);
            break;
        }
        if !shared.forward(&shared.raw, frame, false) {
            break;
        }
    }
    shared.raw.close();
}

/// Fills `frame` with the source's next one; returns whether there is one
/// to go on with (not: the count is reached, the source ended or failed).
fn capture(
    shared: &SenderShared,
    source: &mut dyn FrameSource,
    frame: &mut Frame,
    working: &mut WorkingSize,
    captured: &mut u64,
    count: Option<u64>,
) -> bool {
    // A source that is not live loses nothing but the frames left stale
    // by a broken connection, replaced at the socket or left out by the
    // rate control, so exactly `count` frames plus those are needed; a
    // live one may drop, so it runs until the send stage has sent
    // `count`.
    if !shared.live && count.is_some_and(|n| *captured >= n + shared.not_sent()) {
        return false;
    }
    if working.is_known() {
        // A JPEG source: room for the largest JPEG so far before the
        // source fills the frame (it makes the frame a JPEG one again,
        // of its own size).
        working.prepare(frame.jpeg_mut(0, 0));
    }
    if let Err(e) = source.next_frame(frame) {
        if e.is_end_of_file() {
            lock(&shared.counters).source_ended = true;
            tracing::debug!(frames = *captured, "the source ended");
        } else if !shared.stopped() {
            shared.fail(StreamError::Capture(e));
        }
        return false;
    }
    if let Some(jpeg) = frame.jpeg() {
        working.saw(jpeg.len());
    }
    *captured += 1;
    lock(&shared.counters).captured = *captured;
    true
}

pub(super) fn encode_loop(shared: &SenderShared, mut stage: EncodeStage) {
    while let Some(frame) = shared.raw.pop() {
        if shared.stopped() {
            break;
        }
        let step = stage.encode(shared, &frame);
        shared.raw.recycle(frame);
        match step {
            Step::Send(msg) => {
                if !shared.forward(&shared.encoded, msg, true) {
                    break;
                }
            }
            Step::Skipped => {}
            Step::Failed => break,
        }
    }
    shared.encoded.close();
}

/// Capture and encode as one stage, for a source that is not live (a file,
/// a directory of pictures, a raw file, the test pattern): its frames do
/// not go stale while one is encoded, so nothing is gained by capturing
/// the next meanwhile on a thread of its own, and each frame saves that
/// thread's wake-up and hand-off. A paced source sleeps in its own
/// `next_frame` until the frame is due. One frame is reused throughout.
pub(super) fn capture_encode_loop(
    shared: &SenderShared,
    mut source: Box<dyn FrameSource>,
    count: Option<u64>,
    mut stage: EncodeStage,
) {
    let mut captured: u64 = 0;
    let mut working = WorkingSize::default();
    let mut frame = Frame::default();
    while !shared.stopped() {
        if !capture(
            shared,
            source.as_mut(),
            &mut frame,
            &mut working,
            &mut captured,
            count,
        ) {
            break;
        }
        match stage.encode(shared, &frame) {
            Step::Send(msg) => {
                if !shared.forward(&shared.encoded, msg, true) {
                    break;
                }
            }
            Step::Skipped => {}
            Step::Failed => break,
        }
    }
    shared.raw.close();
    shared.encoded.close();
}

/// What became of a frame given to [`EncodeStage::encode`].
enum Step {
    /// Encoded: the message to hand to the send stage.
    Send(Encoded),
    /// Left out by the rate control (counted).
    Skipped,
    /// The encoder failed: the sender stops (the error is kept).
    Failed,
}

/// The encode stage's state: the encoder, the preview hook, the working
/// size of its message buffers and the rate control's thinning.
pub(super) struct EncodeStage {
    encoder: Encoder,
    hook: Option<FrameHook>,
    /// The source's own frame rate, when it has a steady one (a paced
    /// source, a camera): the rate control may ask for fewer; a source
    /// that goes as fast as it can is never thinned.
    full_fps: Option<f64>,
    working: WorkingSize,
    thinning: Thinning,
}

impl EncodeStage {
    pub(super) fn new(encoder: Encoder, hook: Option<FrameHook>, full_fps: Option<f64>) -> Self {
        Self {
            encoder,
            hook,
            full_fps,
            working: WorkingSize::default(),
            thinning: Thinning::default(),
        }
    }

    /// Turns `frame` into the message to send, in a buffer from the pool.
    fn encode(&mut self, shared: &SenderShared, frame: &Frame) -> Step {
        if let Some(target) = shared.target.load() {
            // The rate control asked for fewer frames per second: leave
            // out the ones between.
            let thin = self.full_fps.is_some_and(|full| target.fps < full * 0.99);
            if thin && !self.thinning.keep(frame.capture_time_us, target.fps) {
                lock(&shared.counters).skipped += 1;
                return Step::Skipped;
            }
            if let Err(e) = self.encoder.apply(&target) {
                shared.fail(e);
                return Step::Failed;
            }
        }
        let mut msg = shared.encoded.spare().unwrap_or_default();
        self.working.prepare(&mut msg.jpeg);
        match self.encoder.encode(frame, &mut msg) {
            Ok(passthrough) => {
                if passthrough {
                    lock(&shared.counters).passthrough += 1;
                }
            }
            Err(e) => {
                shared.encoded.recycle(msg);
                shared.fail(e);
                return Step::Failed;
            }
        }
        self.working.saw(msg.jpeg.len());
        if let Some(hook) = self.hook.as_mut() {
            hook(frame);
        }
        Step::Send(msg)
    }
}

/// The largest JPEG a stage has handled so far, and room for it (and a
/// quarter more) in each buffer the stage takes from its pool, before the
/// buffer is filled.
///
/// Without it a buffer grows only when a picture larger than any it held
/// before lands in it, which depends on which buffer each picture happens
/// to get: a buffer could first meet the largest picture long after the
/// start and allocate then. With it, every buffer reaches the working size
/// on its first use after that size is seen (the pools hand their buffers
/// out in turn), and the headroom absorbs the small variations of a steady
/// scene; only a new, larger working size allocates again, once per
/// buffer.
#[derive(Debug, Default)]
struct WorkingSize(usize);

impl WorkingSize {
    /// Whether any JPEG was seen yet.
    fn is_known(&self) -> bool {
        self.0 > 0
    }

    /// Notes a JPEG of `len` bytes.
    fn saw(&mut self, len: usize) {
        self.0 = self.0.max(len);
    }

    /// Gives `buf` room for the working size and its headroom.
    fn prepare(&self, buf: &mut Vec<u8>) {
        let want = self.0.saturating_add(self.0 / 4);
        if buf.capacity() < want {
            buf.reserve_exact(want - buf.len());
        }
    }
}

/// Which frames to keep when the rate control asks for fewer per second
/// than the source gives: each kept frame books the next slot one period
/// later, on the frames' own capture times.
#[derive(Debug, Default)]
struct Thinning {
    next_us: Option<u64>,
}

impl Thinning {
    fn keep(&mut self, captured_us: u64, fps: f64) -> bool {
        if !(fps.is_finite() && fps > 0.0) {
            return true;
        }
        let period = (1e6 / fps) as u64;
        // A frame a little early for its slot (the source's own period is
        // not a multiple of ours) still takes it.
        let slack = period / 4;
        match self.next_us {
            Some(next) if captured_us + slack < next => false,
            _ => {
                let next = self.next_us.map_or(captured_us, |n| {
                    n.max(captured_us - period.min(captured_us))
                });
                self.next_us = Some(next + period);
                true
            }
        }
    }
}

/// The settings the rate control chose, shared from the send stage (which
/// runs the controller) with the encode stage (which applies them to each
/// frame). Plain atomics: reading them allocates and blocks nothing.
#[derive(Debug, Default)]
pub(super) struct SharedTarget {
    /// Whether the rate control runs (`false`: nothing is ever stored).
    on: AtomicBool,
    quality: AtomicU64,
    size: AtomicU64,
    fps_milli: AtomicU64,
    rate_bps: AtomicU64,
    link_rate_bps: AtomicU64,
    queue_us: AtomicU64,
}

impl SharedTarget {
    pub(super) fn store(&self, t: &crate::adapt::Target, queue: Duration) {
        self.quality.store(u64::from(t.quality), Ordering::Relaxed);
        self.size.store(
            (u64::from(t.width) << 32) | u64::from(t.height),
            Ordering::Relaxed,
        );
        self.fps_milli
            .store((t.fps * 1000.0).round() as u64, Ordering::Relaxed);
        self.rate_bps.store(t.rate_bps, Ordering::Relaxed);
        self.link_rate_bps.store(t.link_rate_bps, Ordering::Relaxed);
        self.queue_us
            .store(queue.as_micros() as u64, Ordering::Relaxed);
        self.on.store(true, Ordering::Release);
    }

    /// The settings in force, once the rate control has chosen any.
    pub(super) fn load(&self) -> Option<crate::adapt::Target> {
        if !self.on.load(Ordering::Acquire) {
            return None;
        }
        let size = self.size.load(Ordering::Relaxed);
        Some(crate::adapt::Target {
            quality: self.quality.load(Ordering::Relaxed) as u8,
            width: (size >> 32) as u32,
            height: size as u32,
            fps: self.fps_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            rate_bps: self.rate_bps.load(Ordering::Relaxed),
            link_rate_bps: self.link_rate_bps.load(Ordering::Relaxed),
        })
    }

    /// The newest queuing delay the rate control measured.
    pub(super) fn queue_delay(&self) -> Duration {
        Duration::from_micros(self.queue_us.load(Ordering::Relaxed))
    }
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
    /// The configured quality and box: the ceiling the rate control works
    /// under.
    ceiling: (u8, u32, u32),
    /// The estimate of the link's rate sent with each frame.
    link_rate_bps: u64,
}

impl Encoder {
    pub(super) fn new(config: SenderConfig) -> Result<Self, StreamError> {
        Ok(Self {
            pipeline: SenderPipeline::new(config)?,
            ceiling: (config.quality, config.width, config.height),
            link_rate_bps: 0,
        })
    }

    /// Applies what the rate control chose: quality (allocates nothing),
    /// the box pictures are fitted in (the resize buffer is reallocated
    /// once when it grows), and whether a source's own JPEG may still pass
    /// through unchanged (only at the ceiling: below it, it is re-encoded
    /// to fit the link).
    pub(super) fn apply(&mut self, t: &crate::adapt::Target) -> Result<(), StreamError> {
        let (q, w, h) = self.ceiling;
        let quality = t.quality.clamp(1, q);
        let (width, height) = (t.width.clamp(1, w), t.height.clamp(1, h));
        let config = self.pipeline.config();
        if config.quality != quality {
            self.pipeline.set_quality(quality)?;
        }
        if (config.width, config.height) != (width, height) {
            self.pipeline.set_size(width, height)?;
        }
        // Only at the ceiling's quality and box may a source's JPEG of the
        // size sent go unchanged.
        self.pipeline
            .set_passthrough(quality == q && (width, height) == (w, h));
        self.link_rate_bps = t.link_rate_bps;
        Ok(())
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
            // A source's own JPEG: its quality is not known here.
            quality: if done == Transcode::PassThrough {
                0
            } else {
                u32::from(self.pipeline.config().quality)
            },
            link_rate_bps: self.link_rate_bps,
            ..Video::default()
        };
        Ok(done == Transcode::PassThrough)
    }
}
