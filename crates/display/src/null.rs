//! [`NullSink`]: the whole receiving job, then nothing.

use framecast_codec::{
    DecodedInfo, ImageBuf, ImageRef, PixelFormat, ReceiverConfig, ReceiverPipeline,
};

use crate::{DisplayError, EncodedFrame, FrameSink};

/// Default output width of [`NullSink`] and of the window: the original
/// server's 800x600.
pub const DEFAULT_WIDTH: u32 = 800;
/// Default output height of [`NullSink`] and of the window.
pub const DEFAULT_HEIGHT: u32 = 600;

/// Checks an output size against the decoder's limits (an output is never
/// larger than an input we would accept).
pub(crate) fn check_size(
    width: u32,
    height: u32,
    config: &ReceiverConfig,
) -> Result<(), DisplayError> {
    if width == 0 || height == 0 {
        return Err(DisplayError::InvalidSize {
            width,
            height,
            reason: "width and height must be at least 1",
        });
    }
    config
        .limits
        .check(width, height)
        .map_err(|_| DisplayError::InvalidSize {
            width,
            height,
            reason: "larger than the decoder's limits (ReceiverConfig::limits)",
        })
}

/// A sink that decodes every frame and scales it to a fixed size in the
/// window's pixel layout ([`PixelFormat::Xrgb32`]), exactly as the window
/// would, then discards it. Headless servers and benchmarks use it: the CPU
/// cost is the real receiver's, minus the screen.
///
/// Its output buffer is reused, so after the first frame it allocates
/// nothing per frame.
///
/// ```
/// use framecast_display::{FrameSink, NullSink};
///
/// let mut sink = NullSink::new(800, 600)?;
/// // A frame that is not a JPEG is refused with an error, and counted.
/// let frame = framecast_display::EncodedFrame {
///     stream: 0, label: "test", sequence: 1, capture_time_us: None, jpeg: b"not a jpeg",
/// };
/// assert!(sink.show(&frame).is_err());
/// assert_eq!((sink.frames(), sink.errors()), (0, 1));
/// # Ok::<(), framecast_display::DisplayError>(())
/// ```
#[derive(Debug)]
pub struct NullSink {
    pipeline: ReceiverPipeline,
    out: ImageBuf,
    frames: u64,
    errors: u64,
    last: Option<DecodedInfo>,
}

impl NullSink {
    /// A sink scaling every frame to `width` x `height`, with the default
    /// decoder limits.
    pub fn new(width: u32, height: u32) -> Result<Self, DisplayError> {
        Self::with_config(width, height, ReceiverConfig::default())
    }

    /// A sink scaling every frame to `width` x `height`, decoding with
    /// `config` (its limits refuse oversized pictures before decoding).
    pub fn with_config(
        width: u32,
        height: u32,
        config: ReceiverConfig,
    ) -> Result<Self, DisplayError> {
        check_size(width, height, &config)?;
        Ok(Self {
            pipeline: ReceiverPipeline::new(config),
            out: ImageBuf::new(width, height, PixelFormat::Xrgb32),
            frames: 0,
            errors: 0,
            last: None,
        })
    }

    /// Frames decoded and scaled so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames refused (not decodable) so far.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// What the last decoded frame's header said (its size before scaling).
    pub fn last_decoded(&self) -> Option<DecodedInfo> {
        self.last
    }

    /// The last scaled picture (black before the first frame).
    pub fn picture(&self) -> ImageRef<'_> {
        self.out.as_image()
    }
}

impl Default for NullSink {
    /// An 800x600 null sink.
    fn default() -> Self {
        Self {
            pipeline: ReceiverPipeline::new(ReceiverConfig::default()),
            out: ImageBuf::new(DEFAULT_WIDTH, DEFAULT_HEIGHT, PixelFormat::Xrgb32),
            frames: 0,
            errors: 0,
            last: None,
        }
    }
}

impl FrameSink for NullSink {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        match self
            .pipeline
            .decode_into(frame.jpeg, self.out.as_image_mut())
        {
            Ok(info) => {
                self.frames += 1;
                self.last = Some(info);
                Ok(())
            }
            Err(source) => {
                self.errors += 1;
                Err(DisplayError::Decode {
                    stream: frame.stream,
                    sequence: frame.sequence,
                    source,
                })
            }
        }
    }
}
