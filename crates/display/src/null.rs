//! [`NullSink`]: the receiving job without a screen: decode (and, standing
//! in for a window, scale), then nothing.

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

/// A sink that decodes every frame, then discards it: what a receiver with
/// no screen runs, so that every frame is still checked whole (a corrupt
/// one is refused and counted) and timed.
///
/// Two modes:
///
/// - [`NullSink::decode_only`]: the decode alone. Nothing shows the
///   picture, so it is not scaled: the cheapest check a headless receiver
///   can make.
/// - [`NullSink::new`]: decode, then scale to a fixed size in the window's
///   pixel layout ([`PixelFormat::Xrgb32`]), exactly as the window would:
///   the CPU cost is the real receiver's, minus the screen (benchmarks
///   stand it in for a window).
///
/// Its buffers are reused, so after the first frame it allocates nothing
/// per frame.
///
/// ```
/// use framecast_display::{FrameSink, NullSink};
///
/// let mut sink = NullSink::new(800, 600)?;
/// // A frame that is not a JPEG is refused with an error, and counted.
/// let frame = framecast_display::EncodedFrame::new(0, "test", b"not a jpeg").with_sequence(1);
/// assert!(sink.show(&frame).is_err());
/// assert_eq!((sink.frames(), sink.errors()), (0, 1));
/// assert!(sink.scales() && !NullSink::decode_only().scales());
/// # Ok::<(), framecast_display::DisplayError>(())
/// ```
#[derive(Debug)]
pub struct NullSink {
    pipeline: ReceiverPipeline,
    /// The scaled picture; `None` decodes only.
    out: Option<ImageBuf>,
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
            out: Some(ImageBuf::new(width, height, PixelFormat::Xrgb32)),
            frames: 0,
            errors: 0,
            last: None,
        })
    }

    /// A sink that decodes every frame and does not scale it, with the
    /// default decoder limits.
    pub fn decode_only() -> Self {
        Self::decode_only_with_config(ReceiverConfig::default())
    }

    /// A sink that decodes every frame with `config` and does not scale
    /// it.
    pub fn decode_only_with_config(config: ReceiverConfig) -> Self {
        Self {
            pipeline: ReceiverPipeline::new(config),
            out: None,
            frames: 0,
            errors: 0,
            last: None,
        }
    }

    /// Whether it scales each frame ([`NullSink::new`]) or only decodes it
    /// ([`NullSink::decode_only`]).
    pub fn scales(&self) -> bool {
        self.out.is_some()
    }

    /// Frames decoded (and scaled) so far.
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

    /// The last picture: scaled ([`PixelFormat::Xrgb32`] at the configured
    /// size, black before the first frame), or decoding only, as decoded
    /// ([`PixelFormat::Rgba8`] at the frame's own size, empty before the
    /// first frame).
    pub fn picture(&self) -> ImageRef<'_> {
        match &self.out {
            Some(out) => out.as_image(),
            None => self.pipeline.decoded(),
        }
    }
}

impl Default for NullSink {
    /// An 800x600 null sink (decoding and scaling).
    fn default() -> Self {
        Self {
            pipeline: ReceiverPipeline::new(ReceiverConfig::default()),
            out: Some(ImageBuf::new(
                DEFAULT_WIDTH,
                DEFAULT_HEIGHT,
                PixelFormat::Xrgb32,
            )),
            frames: 0,
            errors: 0,
            last: None,
        }
    }
}

impl FrameSink for NullSink {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        let decoded = match self.out.as_mut() {
            Some(out) => self.pipeline.decode_into(frame.jpeg, out.as_image_mut()),
            None => self.pipeline.decode(frame.jpeg),
        };
        match decoded {
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

#[cfg(test)]
mod tests {
    use super::*;

    const QUADRANTS: &[u8] = include_bytes!("../tests/data/quadrants-400x400.jpg");

    fn frame(jpeg: &[u8]) -> EncodedFrame<'_> {
        EncodedFrame::new(3, "t", jpeg).with_sequence(42)
    }

    fn xrgb_at(img: ImageRef<'_>, x: u32, y: u32) -> [u8; 3] {
        let at = y as usize * img.stride() + x as usize * 4;
        let v = u32::from_ne_bytes(img.data()[at..at + 4].try_into().unwrap());
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }

    #[test]
    fn decodes_and_scales_to_the_configured_size() {
        let mut sink = NullSink::new(800, 600).unwrap();
        sink.show(&frame(QUADRANTS)).unwrap();
        assert_eq!(sink.frames(), 1);
        let info = sink.last_decoded().unwrap();
        assert_eq!((info.width, info.height), (400, 400));
        let pic = sink.picture();
        assert_eq!(
            (pic.width(), pic.height(), pic.format()),
            (800, 600, PixelFormat::Xrgb32)
        );
        for (x, y, want) in [
            (200, 150, [255, 0, 0]),
            (600, 150, [0, 255, 0]),
            (200, 450, [0, 0, 255]),
            (600, 450, [255, 255, 0]),
        ] {
            let got = xrgb_at(pic, x, y);
            assert!(
                got.iter()
                    .zip(want)
                    .all(|(g, w): (&u8, u8)| g.abs_diff(w) <= 40),
                "({x}, {y}): got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn decode_only_decodes_at_the_pictures_own_size() {
        let mut sink = NullSink::decode_only();
        assert!(!sink.scales());
        sink.show(&frame(QUADRANTS)).unwrap();
        assert_eq!(sink.frames(), 1);
        let pic = sink.picture();
        assert_eq!(
            (pic.width(), pic.height(), pic.format()),
            (400, 400, PixelFormat::Rgba8)
        );
        let at = |x: usize, y: usize| &pic.data()[y * pic.stride() + x * 4..][..3];
        for (x, y, want) in [
            (100, 100, [255, 0, 0]),
            (300, 100, [0, 255, 0]),
            (100, 300, [0, 0, 255]),
            (300, 300, [255, 255, 0]),
        ] {
            let got = at(x, y);
            assert!(
                got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 40),
                "({x}, {y}): got {got:?}, want {want:?}"
            );
        }
        // A corrupt frame is still refused: decoding only checks it whole.
        let cut = &QUADRANTS[..QUADRANTS.len() / 2];
        assert!(sink.show(&frame(cut)).is_err());
        assert_eq!((sink.frames(), sink.errors()), (1, 1));
    }

    #[test]
    fn bad_frames_are_typed_errors_and_counted() {
        let mut sink = NullSink::default();
        for bad in [&b""[..], &QUADRANTS[..QUADRANTS.len() / 2], &QUADRANTS[1..]] {
            let err = sink.show(&frame(bad)).unwrap_err();
            assert!(
                matches!(
                    err,
                    DisplayError::Decode {
                        stream: 3,
                        sequence: 42,
                        ..
                    }
                ),
                "{err}"
            );
        }
        assert_eq!((sink.frames(), sink.errors()), (0, 3));
        // And it still works afterwards.
        sink.show(&frame(QUADRANTS)).unwrap();
        assert_eq!(sink.frames(), 1);
    }

    #[test]
    fn unusable_sizes_are_refused() {
        assert!(matches!(
            NullSink::new(0, 600),
            Err(DisplayError::InvalidSize { .. })
        ));
        assert!(matches!(
            NullSink::new(100_000, 100_000),
            Err(DisplayError::InvalidSize { .. })
        ));
    }
}
