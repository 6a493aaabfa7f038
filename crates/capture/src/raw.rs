//! Raw RGB24 files: frames of a known size, back to back, no header (what
//! `ffmpeg -f rawvideo -pix_fmt rgb24` writes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use framecast_image::PixelFormat;

use crate::{
    CaptureError, Clock, Frame, FrameKind, FrameSource, SourceFormat, SourceLimits, SystemClock,
};

/// Frames of a raw RGB24 file, ending after the last (or, with
/// [`looping`](RawFileSource::looping), starting again from the first). Not paced: wrap it in
/// [`Paced`](crate::Paced).
///
/// A raw file carries no size, so the caller gives it. A file whose length
/// is not a whole number of frames of that size is refused when opened (a
/// trailing partial frame almost always means the size given is wrong, and
/// playing on would show sheared garbage).
///
/// A looping source whose file is at most
/// [`SourceLimits::max_cached_bytes`] reads the whole file once, on its
/// first frame, and from then on hands out frames that share that memory
/// ([`Frame::share_pixels`]): no read and no copy of a picture per frame.
/// Any other reads each frame into the frame's own buffer.
///
/// ```no_run
/// use framecast_capture::{Frame, FrameSource, RawFileSource};
///
/// let mut source = RawFileSource::open("frames.rgb", 640, 480)?;
/// let mut frame = Frame::default();
/// source.next_frame(&mut frame)?;
/// assert_eq!(frame.pixels().map(|p| p.data().len()), Some(640 * 480 * 3));
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
#[derive(Debug)]
pub struct RawFileSource {
    path: PathBuf,
    file: File,
    width: u32,
    height: u32,
    frames: u64,
    next: u64,
    sequence: u64,
    clock: Arc<dyn Clock>,
    looping: bool,
    max_cached_bytes: u64,
    /// The whole file, once a looping source has read it.
    cached: Option<Arc<[u8]>>,
}

impl RawFileSource {
    /// Opens `path` as `width` x `height` RGB24 frames, within the default
    /// [`SourceLimits`].
    pub fn open(path: impl AsRef<Path>, width: u32, height: u32) -> Result<Self, CaptureError> {
        Self::open_with_limits(path, width, height, &SourceLimits::default())
    }

    /// Opens `path` as `width` x `height` RGB24 frames, within `limits`.
    pub fn open_with_limits(
        path: impl AsRef<Path>,
        width: u32,
        height: u32,
        limits: &SourceLimits,
    ) -> Result<Self, CaptureError> {
        limits.check_size(width, height)?;
        let path = path.as_ref().to_path_buf();
        let file_error = |source| CaptureError::File {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(file_error)?;
        let len = file.metadata().map_err(file_error)?.len();
        let frame_bytes = u64::from(width) * u64::from(height) * 3;
        if len % frame_bytes != 0 {
            return Err(CaptureError::RawFileSize {
                path,
                len,
                frame_bytes,
                width,
                height,
            });
        }
        if len == 0 {
            return Err(CaptureError::Empty {
                path,
                hint: " (expected raw RGB24 frames)",
            });
        }
        Ok(Self {
            path,
            file,
            width,
            height,
            frames: len / frame_bytes,
            next: 0,
            sequence: 0,
            clock: SystemClock::shared(),
            looping: false,
            max_cached_bytes: limits.max_cached_bytes,
            cached: None,
        })
    }

    /// Stamps frames with `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts again from the first frame after the last, instead of ending
    /// (builder style).
    pub fn looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self
    }

    /// How many frames the file holds.
    pub fn frame_count(&self) -> u64 {
        self.frames
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl FrameSource for RawFileSource {
    fn format(&self) -> SourceFormat {
        SourceFormat::new(
            self.width,
            self.height,
            FrameKind::Raw,
            PixelFormat::Rgb8,
            false,
        )
        .with_frames((!self.looping).then_some(self.frames))
    }

    /// Reads the next frame; after the last, ends with
    /// [`CaptureError::EndOfFile`], or starts again from the first when
    /// looping.
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        if self.next == self.frames {
            if !self.looping {
                return Err(CaptureError::EndOfFile);
            }
            self.next = 0;
        }
        let frame_bytes = u64::from(self.width) * u64::from(self.height) * 3;
        if self.looping && self.frames * frame_bytes <= self.max_cached_bytes {
            let file = match &self.cached {
                Some(file) => Arc::clone(file),
                None => {
                    let file = self.read_whole()?;
                    self.cached = Some(Arc::clone(&file));
                    file
                }
            };
            // Within the file: it is a whole number of frames, and `next`
            // is below their count. usize holds it: the file is in memory.
            let offset = (self.next * frame_bytes) as usize;
            frame
                .share_pixels(file, offset, self.width, self.height, PixelFormat::Rgb8)
                .map_err(|_| CaptureError::RawFileSize {
                    path: self.path.clone(),
                    len: self.frames * frame_bytes,
                    frame_bytes,
                    width: self.width,
                    height: self.height,
                })?;
            self.stamp(frame);
            return Ok(());
        }
        // The size was checked against the limits at open, and the file is a
        // whole number of frames of it.
        let pixels = frame.pixels_mut();
        pixels.reshape(self.width, self.height, PixelFormat::Rgb8);
        let frame_bytes = pixels.data().len() as u64;
        let read = self
            .file
            .seek(SeekFrom::Start(self.next * frame_bytes))
            .and_then(|_| self.file.read_exact(pixels.data_mut()));
        read.map_err(|source| CaptureError::File {
            path: self.path.clone(),
            source,
        })?;
        self.stamp(frame);
        Ok(())
    }
}

impl RawFileSource {
    /// Numbers and stamps the frame just filled, and moves on.
    fn stamp(&mut self, frame: &mut Frame) {
        self.next += 1;
        frame.sequence = self.sequence;
        frame.capture_time_us = self.clock.unix_time_us();
        self.sequence += 1;
    }

    /// The whole file, read once for a looping source to share.
    fn read_whole(&mut self) -> Result<Arc<[u8]>, CaptureError> {
        let file_error = |source| CaptureError::File {
            path: self.path.clone(),
            source,
        };
        let len = self.frames * u64::from(self.width) * u64::from(self.height) * 3;
        // Bounded by `max_cached_bytes`, checked by the caller.
        let mut data = Vec::with_capacity(len as usize);
        self.file.seek(SeekFrom::Start(0)).map_err(file_error)?;
        (&mut self.file)
            .take(len)
            .read_to_end(&mut data)
            .map_err(file_error)?;
        if data.len() as u64 != len {
            // The file shrank since it was opened.
            return Err(file_error(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(data.into())
    }
}
