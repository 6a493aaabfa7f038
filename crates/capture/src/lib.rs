//! Frame sources for framecast.
//!
//! - [`FrameSource`]: the trait every source implements; it fills a reused
//!   [`Frame`].

#![forbid(unsafe_code)]

mod camera;
mod clock;
#[cfg_attr(not(feature = "camera"), allow(dead_code))]
mod convert;
mod error;
mod limits;
mod mjpeg;
mod pace;
mod pattern;
mod raw;
mod source;

pub use camera::{
    CAMERA_FRAME_TIMEOUT, CAMERA_MAX_READ_FAILURES, CameraDevice, CameraMode, CameraPixelFormat,
    CameraRequest, CameraSelector, CameraSource, choose_mode, list_devices,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CaptureError;
pub use limits::{DEFAULT_MAX_JPEG_BYTES, DEFAULT_MAX_SIDE, Limits};
pub use mjpeg::{JpegSpan, MjpegFileSource, MjpegIndex};
pub use pace::{DEFAULT_MAX_LAG_PERIODS, Paced, Pacer};
pub use pattern::{MARKER_COLUMNS, MARKER_ROWS, Pattern, PatternSource, decode_marker};
pub use raw::RawFileSource;
pub use source::{Frame, FrameKind, FrameSource, SourceFormat};
