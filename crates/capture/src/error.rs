//! [`CaptureError`]: everything that can go wrong while capturing.

use std::path::PathBuf;

use framecast_image::ImageError;

/// Everything that can go wrong while capturing. Every message says what to
/// do about it where there is something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// A file source that does not loop has delivered its last frame. Not a
    /// failure: the end of the input.
    #[error("the source has no more frames")]
    EndOfFile,

    /// An I/O error reading a source.
    #[error("I/O error")]
    Io(#[from] std::io::Error),

    /// A file could not be opened or read.
    #[error("cannot read {}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A raw RGB24 file is not a whole number of frames of the given size.
    #[error(
        "{} is {len} bytes, not a whole number of {width}x{height} RGB24 frames \
         ({frame_bytes} bytes each): {frames} frames and {remainder} bytes over; \
         check the frame size given for it",
        path.display(),
        frames = len / frame_bytes,
        remainder = len % frame_bytes
    )]
    RawFileSize {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// Bytes in one frame (`width * height * 3`).
        frame_bytes: u64,
        /// The frame width given.
        width: u32,
        /// The frame height given.
        height: u32,
    },

    /// A file holds no frame at all.
    #[error("{} holds no complete frame{hint}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What the file was expected to hold.
        hint: &'static str,
    },

    /// A JPEG frame is longer than the configured limit.
    #[error(
        "JPEG frame at byte {offset} is longer than the {limit}-byte limit \
         (SourceLimits::max_jpeg_bytes); is this an MJPEG file?"
    )]
    JpegTooLarge {
        /// Where the frame starts in its file.
        offset: u64,
        /// [`SourceLimits::max_jpeg_bytes`](crate::SourceLimits::max_jpeg_bytes).
        limit: usize,
    },

    /// A JPEG frame's header could not be read.
    #[error("bad JPEG frame at byte {offset}")]
    BadJpeg {
        /// Where the frame starts in its file.
        offset: u64,
        /// What the codec said.
        source: ImageError,
    },

    /// A picture size that is zero or beyond the configured limits.
    #[error(
        "invalid frame size {width}x{height}: each side must be 1..={max_side} \
         (SourceLimits::max_side)"
    )]
    InvalidSize {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
        /// [`SourceLimits::max_side`](crate::SourceLimits::max_side).
        max_side: u32,
    },

    /// A source specification that does not parse.
    #[error(
        "invalid source {input:?}: {reason}; expected pattern, camera, camera:INDEX, \
         camera:NAME, raw:PATH or mjpeg:PATH"
    )]
    InvalidSpec {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// This build has no camera support.
    #[error("this build has no camera support (the `camera` feature of framecast-capture)")]
    CameraUnsupported,

    /// No camera is connected (or none the system lets us see).
    #[error("no camera found")]
    NoCamera,

    /// No camera matches the index or name asked for.
    #[error("no camera matches {wanted:?}; cameras found: {available}")]
    CameraNotFound {
        /// The index or name asked for.
        wanted: String,
        /// The cameras there are, for the user to pick from.
        available: String,
    },

    /// The camera offers no format this crate can deliver.
    #[error(
        "camera {camera:?} offers no usable format (MJPEG, YUYV, NV12, RGB, BGR or GREY); \
         it offers: {offered}"
    )]
    NoUsableFormat {
        /// The camera.
        camera: String,
        /// What it offers.
        offered: String,
    },

    /// The camera backend failed (open, configure, read).
    #[error("camera error while {action}")]
    Camera {
        /// What was being done.
        action: &'static str,
        /// The backend's (or the header probe's) own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The camera delivered no frame for a while.
    #[error("no frame from the camera in {} s", waited.as_secs())]
    CameraTimeout {
        /// How long was waited ([`CAMERA_FRAME_TIMEOUT`](crate::CAMERA_FRAME_TIMEOUT)).
        waited: std::time::Duration,
    },

    /// The camera delivered a buffer of the wrong length for its format.
    #[error(
        "camera delivered {len} bytes for a {width}x{height} {format} frame \
         ({expected} expected)"
    )]
    CameraBuffer {
        /// Bytes delivered.
        len: usize,
        /// Bytes expected.
        expected: usize,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// The camera's pixel format.
        format: &'static str,
    },

    /// The camera's capture thread stopped (the device was unplugged, or
    /// failed).
    #[error("the camera stopped delivering frames (unplugged?)")]
    CameraStopped,
}
impl CaptureError {
    /// Whether this is the normal end of a file source
    /// ([`CaptureError::EndOfFile`]), not a failure.
    pub fn is_end_of_file(&self) -> bool {
        matches!(self, Self::EndOfFile)
    }
}
