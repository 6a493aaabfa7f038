//! [`SourceLimits`]: bounds on what a source accepts from its configuration and
//! its input files.

use crate::CaptureError;

/// The default [`SourceLimits::max_side`]: 16384 pixels, beyond any camera.
pub const DEFAULT_MAX_SIDE: u32 = 16_384;

/// The default [`SourceLimits::max_jpeg_bytes`]: 32 MiB, several times a q100 8K
/// frame.
pub const DEFAULT_MAX_JPEG_BYTES: usize = 32 << 20;

/// The default [`SourceLimits::max_cached_bytes`]: 64 MiB, about 70 frames
/// of 640x480 RGB, or 10 of 1920x1080.
pub const DEFAULT_MAX_CACHED_BYTES: u64 = 64 << 20;

/// Bounds on sizes, checked before anything is allocated for them.
///
/// ```
/// use framecast_capture::SourceLimits;
///
/// let limits = SourceLimits::default().with_max_side(4096);
/// assert!(limits.check_size(3840, 2160).is_ok());
/// assert!(limits.check_size(8192, 8192).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceLimits {
    /// Largest width or height of a frame, in pixels.
    pub max_side: u32,
    /// Largest JPEG frame in an MJPEG file, in bytes; a longer one means the
    /// file is not MJPEG (or is corrupt).
    pub max_jpeg_bytes: usize,
    /// Largest raw file a looping [`RawFileSource`](crate::RawFileSource)
    /// keeps in memory, in bytes, so that its frames are handed on without
    /// being read or copied again on every pass; a larger file is read
    /// frame by frame. 0 never keeps one.
    pub max_cached_bytes: u64,
}

impl Default for SourceLimits {
    fn default() -> Self {
        Self {
            max_side: DEFAULT_MAX_SIDE,
            max_jpeg_bytes: DEFAULT_MAX_JPEG_BYTES,
            max_cached_bytes: DEFAULT_MAX_CACHED_BYTES,
        }
    }
}

impl SourceLimits {
    /// Sets [`SourceLimits::max_side`].
    pub fn with_max_side(mut self, max_side: u32) -> Self {
        self.max_side = max_side;
        self
    }

    /// Sets [`SourceLimits::max_jpeg_bytes`].
    pub fn with_max_jpeg_bytes(mut self, max_jpeg_bytes: usize) -> Self {
        self.max_jpeg_bytes = max_jpeg_bytes;
        self
    }

    /// Sets [`SourceLimits::max_cached_bytes`].
    pub fn with_max_cached_bytes(mut self, max_cached_bytes: u64) -> Self {
        self.max_cached_bytes = max_cached_bytes;
        self
    }

    /// Checks a frame size: each side must be 1..=[`SourceLimits::max_side`].
    pub fn check_size(&self, width: u32, height: u32) -> Result<(), CaptureError> {
        let ok = |side: u32| (1..=self.max_side).contains(&side);
        if ok(width) && ok(height) {
            Ok(())
        } else {
            Err(CaptureError::InvalidSize {
                width,
                height,
                max_side: self.max_side,
            })
        }
    }
}
