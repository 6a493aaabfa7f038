//! The [`FrameSource`] trait and the [`Frame`] it fills.

use std::sync::Arc;

use framecast_image::{ImageBuf, ImageError, ImageRef, Picture, PixelFormat};

use crate::CaptureError;

/// What kind of data a source's frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// Raw pixels, in [`Frame::pixels`] (the frame's own, or shared with
    /// its source).
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
    /// The frames per second the source is paced at ([`Paced`](crate::Paced)),
    /// when it is: its frames are due at a steady rate, like a camera's,
    /// so a sender may drop one that went stale. `None` for a source that
    /// delivers as fast as it is asked.
    pub paced_fps: Option<f64>,
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
            paced_fps: None,
        }
    }

    /// The same format, for a source that ends after `frames` frames.
    pub fn with_frames(mut self, frames: Option<u64>) -> Self {
        self.frames = frames;
        self
    }

    /// The same format, for a source paced at `fps` frames per second.
    pub fn with_paced_fps(mut self, fps: Option<f64>) -> Self {
        self.paced_fps = fps;
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
///
/// A frame holds either raw pixels or a JPEG, never both: a source fills one
/// through [`Frame::pixels_mut`] or [`Frame::jpeg_mut`], or points it at
/// pixels it holds in memory ([`Frame::share_pixels`]: no copy), and readers
/// see it as a [`Picture`] ([`Frame::picture`]). The other kind's buffer is
/// kept, unseen, so a source that alternates reuses both.
///
/// ```
/// use framecast_capture::{Frame, FrameKind, Picture, PixelFormat};
///
/// let mut frame = Frame::default();
/// frame.pixels_mut().reshape(64, 48, PixelFormat::Rgb8);
/// assert_eq!((frame.kind(), frame.width(), frame.height()), (FrameKind::Raw, 64, 48));
/// assert!(frame.jpeg().is_none());
///
/// frame.jpeg_mut(640, 480).extend_from_slice(b"\xff\xd8...");
/// assert_eq!((frame.kind(), frame.width(), frame.height()), (FrameKind::Jpeg, 640, 480));
/// assert!(frame.pixels().is_none());
/// assert!(matches!(frame.picture(), Picture::Jpeg { width: 640, .. }));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Frame {
    /// The source's frame counter, from 0.
    pub sequence: u64,
    /// When the frame was captured, in microseconds since the Unix epoch.
    pub capture_time_us: u64,
    /// Which buffer holds the picture.
    kind: FrameKind,
    /// The picture when `kind` is [`FrameKind::Raw`] and `shared` is
    /// `None`.
    pixels: ImageBuf,
    /// The picture when `kind` is [`FrameKind::Raw`], held by the source.
    shared: Option<SharedPixels>,
    /// The compressed picture when `kind` is [`FrameKind::Jpeg`].
    jpeg: Vec<u8>,
    /// The JPEG's size (a raw picture's is its buffer's).
    jpeg_size: (u32, u32),
}

impl Frame {
    /// Whether this frame holds raw pixels or a JPEG.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// Picture width in pixels (for JPEG frames too).
    pub fn width(&self) -> u32 {
        match self.kind {
            FrameKind::Raw => self.raw().width(),
            FrameKind::Jpeg => self.jpeg_size.0,
        }
    }

    /// Picture height in pixels (for JPEG frames too).
    pub fn height(&self) -> u32 {
        match self.kind {
            FrameKind::Raw => self.raw().height(),
            FrameKind::Jpeg => self.jpeg_size.1,
        }
    }

    /// The picture, as pixels or as a JPEG.
    pub fn picture(&self) -> Picture<'_> {
        match self.kind {
            FrameKind::Raw => Picture::Pixels(self.raw()),
            FrameKind::Jpeg => Picture::Jpeg {
                data: &self.jpeg,
                width: self.jpeg_size.0,
                height: self.jpeg_size.1,
            },
        }
    }

    /// The pixels of a [`FrameKind::Raw`] frame, its own or shared with
    /// its source.
    pub fn pixels(&self) -> Option<ImageRef<'_>> {
        (self.kind == FrameKind::Raw).then(|| self.raw())
    }

    /// Whether this frame's pixels are shared with its source
    /// ([`Frame::share_pixels`]) rather than its own.
    pub fn shares_pixels(&self) -> bool {
        self.kind == FrameKind::Raw && self.shared.is_some()
    }

    fn raw(&self) -> ImageRef<'_> {
        match &self.shared {
            Some(shared) => shared.image(),
            None => self.pixels.as_image(),
        }
    }

    /// Makes this a raw frame whose pixels are the `width` x `height`
    /// picture in `format` starting at byte `offset` of `data`, which the
    /// source keeps (a file held in memory): the frame holds a reference,
    /// not a copy, so handing it on costs no copy of the picture. The
    /// frame's own pixel buffer is kept for a later
    /// [`pixels_mut`](Self::pixels_mut).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use framecast_capture::{Frame, PixelFormat};
    ///
    /// let file: Arc<[u8]> = vec![7u8; 2 * 4 * 3 * 2].into(); // two 4x2 RGB frames
    /// let mut frame = Frame::default();
    /// frame.share_pixels(Arc::clone(&file), 4 * 2 * 3, 4, 2, PixelFormat::Rgb8)?;
    /// assert!(frame.shares_pixels());
    /// assert_eq!(frame.pixels().map(|p| (p.width(), p.data().len())), Some((4, 24)));
    /// // Out of range: refused, and the frame is left as it was.
    /// assert!(frame.share_pixels(file, 4 * 2 * 3 + 1, 4, 2, PixelFormat::Rgb8).is_err());
    /// # Ok::<(), framecast_capture::ImageError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ImageError`] when the picture does not lie within `data`.
    pub fn share_pixels(
        &mut self,
        data: Arc<[u8]>,
        offset: usize,
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<(), ImageError> {
        let len = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(format.bytes_per_pixel()))
            .ok_or(ImageError::Layout {
                reason: "the picture's size overflows",
            })?;
        let end = offset.checked_add(len).ok_or(ImageError::Layout {
            reason: "the picture's size overflows",
        })?;
        let Some(bytes) = data.get(offset..end) else {
            return Err(ImageError::Layout {
                reason: "the shared picture lies beyond the end of its data",
            });
        };
        // Checked once here, so that reading it can never fail.
        ImageRef::new(width, height, format, bytes)?;
        self.kind = FrameKind::Raw;
        self.shared = Some(SharedPixels {
            data,
            offset,
            len,
            width,
            height,
            format,
        });
        Ok(())
    }

    /// The compressed picture of a [`FrameKind::Jpeg`] frame.
    pub fn jpeg(&self) -> Option<&[u8]> {
        (self.kind == FrameKind::Jpeg).then_some(self.jpeg.as_slice())
    }

    /// Makes this a raw frame and returns its picture to fill (reshape it
    /// to the frame's size and format). Its previous contents remain.
    pub fn pixels_mut(&mut self) -> &mut ImageBuf {
        self.kind = FrameKind::Raw;
        self.shared = None;
        &mut self.pixels
    }

    /// Makes this a `width` x `height` JPEG frame and returns the buffer
    /// for its bytes (clear or overwrite it: its previous contents remain).
    /// Calling it again with another size only changes the size.
    pub fn jpeg_mut(&mut self, width: u32, height: u32) -> &mut Vec<u8> {
        self.kind = FrameKind::Jpeg;
        self.jpeg_size = (width, height);
        &mut self.jpeg
    }

    /// Whether this frame can be forwarded as it is to a receiver that wants
    /// `width` x `height` JPEG: it is already a JPEG of exactly that size, so
    /// a sender needs neither decode nor re-encode it.
    ///
    /// ```
    /// use framecast_capture::Frame;
    ///
    /// let mut frame = Frame::default();
    /// frame.jpeg_mut(400, 400);
    /// assert!(frame.is_passthrough_for(400, 400));
    /// assert!(!frame.is_passthrough_for(800, 600));
    /// ```
    pub fn is_passthrough_for(&self, width: u32, height: u32) -> bool {
        self.picture().is_jpeg_of(width, height)
    }
}

impl Default for Frame {
    /// An empty raw frame (0x0 RGB pixels).
    fn default() -> Self {
        Self {
            sequence: 0,
            capture_time_us: 0,
            kind: FrameKind::Raw,
            pixels: ImageBuf::empty(PixelFormat::Rgb8),
            shared: None,
            jpeg: Vec::new(),
            jpeg_size: (0, 0),
        }
    }
}

/// A picture a frame shares with its source, checked when it was made.
#[derive(Debug, Clone)]
struct SharedPixels {
    data: Arc<[u8]>,
    offset: usize,
    len: usize,
    width: u32,
    height: u32,
    format: PixelFormat,
}

impl SharedPixels {
    fn image(&self) -> ImageRef<'_> {
        let bytes = &self.data[self.offset..self.offset + self.len];
        // `Frame::share_pixels` made this very view before keeping it.
        ImageRef::new(self.width, self.height, self.format, bytes)
            .unwrap_or_else(|_| unreachable!("checked by Frame::share_pixels"))
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
