//! The [`FrameSource`] trait and the [`Frame`] it fills.

use framecast_image::{ImageBuf, PixelFormat};

use crate::CaptureError;

/// What kind of data a source's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// Raw pixels, in [`Frame::pixels`].
    Raw,
    /// An already-compressed JPEG, in [`Frame::jpeg`]: a sender can forward it
    /// unchanged when its size is the one wanted.
    Jpeg,
}

/// What a source delivers, known before the first frame.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SourceFormat {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Raw pixels or JPEG.
    pub kind: FrameKind,
    /// The pixel layout of raw frames.
    pub pixel_format: PixelFormat,
    /// Whether frames come from a live device whose frames go stale (a
    /// camera): a sender may drop them when it falls behind. Files and the
    /// test pattern are not live.
    pub live: bool,
    /// How many frames the source delivers before it ends, when that is
    /// known (a file that does not loop); `None` for endless sources.
    pub frames: Option<u64>,
}

impl SourceFormat {
    /// A format description.
    pub fn new(
        width: u32,
        height: u32,
        kind: FrameKind,
        pixel_format: PixelFormat,
        live: bool,
    ) -> Self {
        Self {
            width,
            height,
            kind,
            pixel_format,
            live,
            frames: None,
        }
    }

    /// The same format, for a source that ends after `frames` frames.
    pub fn with_frames(mut self, frames: Option<u64>) -> Self {
        self.frames = frames;
        self
    }
}

impl SourceFormat {
    /// Whether this source's frames can be forwarded unchanged to a receiver
    /// that wants `width` x `height` JPEG (see
    /// [`Frame::is_passthrough_for`], which decides per frame: a file's
    /// frames may change size).
    pub fn is_passthrough_for(&self, width: u32, height: u32) -> bool {
        self.kind == FrameKind::Jpeg && self.width == width && self.height == height
    }
}

/// One captured frame. Sources write into a caller-owned `Frame` whose
/// buffers are reused from frame to frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The source's frame counter, from 0.
    pub sequence: u64,
    /// When the frame was captured, in microseconds since the Unix epoch.
    pub capture_time_us: u64,
    /// Which of `pixels` and `jpeg` holds this frame.
    pub kind: FrameKind,
    /// The picture when `kind` is [`FrameKind::Raw`].
    pub pixels: ImageBuf,
    /// The compressed picture when `kind` is [`FrameKind::Jpeg`].
    pub jpeg: Vec<u8>,
    /// Picture width in pixels (for JPEG frames too).
    pub width: u32,
    /// Picture height in pixels (for JPEG frames too).
    pub height: u32,
}

impl Frame {
    /// Whether this frame can be forwarded as it is to a receiver that wants
    /// `width` x `height` JPEG: it is already a JPEG of exactly that size, so
    /// a sender needs neither decode nor re-encode it.
    ///
    /// ```
    /// use framecast_capture::{Frame, FrameKind};
    ///
    /// let mut frame = Frame::default();
    /// frame.kind = FrameKind::Jpeg;
    /// (frame.width, frame.height) = (400, 400);
    /// assert!(frame.is_passthrough_for(400, 400));
    /// assert!(!frame.is_passthrough_for(800, 600));
    /// ```
    pub fn is_passthrough_for(&self, width: u32, height: u32) -> bool {
        self.kind == FrameKind::Jpeg && self.width == width && self.height == height
    }
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            sequence: 0,
            capture_time_us: 0,
            kind: FrameKind::Raw,
            pixels: ImageBuf::empty(PixelFormat::Rgb8),
            jpeg: Vec::new(),
            width: 0,
            height: 0,
        }
    }
}

/// Anything that produces frames: a camera, a test pattern, a file.
pub trait FrameSource: Send {
    /// What this source's frames are.
    fn format(&self) -> SourceFormat;

    /// Waits for the next frame (a paced source sleeps until it is due) and
    /// writes it into `frame`, reusing its buffers. A source that has ended
    /// (a file that does not loop) returns [`CaptureError::EndOfFile`].
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError>;
}

impl<S: FrameSource + ?Sized> FrameSource for &mut S {
    fn format(&self) -> SourceFormat {
        (**self).format()
    }
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        (**self).next_frame(frame)
    }
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn format(&self) -> SourceFormat {
        (**self).format()
    }
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        (**self).next_frame(frame)
    }
}
