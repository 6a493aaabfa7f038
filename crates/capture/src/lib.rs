//! Frame sources for framecast: where a sender's pictures come from.
//!
//! - [`FrameSource`]: the trait every source implements. It fills a
//!   caller-owned [`Frame`] whose buffers are reused, so streaming allocates
//!   nothing per frame. A frame holds raw pixels or an already-compressed
//!   JPEG, never both ([`FrameKind`]; [`Frame::picture`] lends it as a
//!   [`Picture`]); [`Frame::is_passthrough_for`] says when a JPEG can be
//!   forwarded without decoding.
//! - The sources: [`PatternSource`] (a deterministic animated test pattern
//!   whose frame number [`decode_marker`] reads back after JPEG and
//!   resizing), [`RawFileSource`] (RGB24 frames), [`MjpegFileSource`]
//!   (concatenated JPEGs), and [`CameraSource`] (nokhwa, behind the
//!   `camera` feature; without it every camera call says how to rebuild).
//! - [`SourceSpec`] and [`open_source`]: `pattern`, `camera[:INDEX|:NAME]`,
//!   `raw:PATH` or `mjpeg:PATH` from a command line, opened in one call.
//! - [`Paced`] and [`Pacer`]: a frame rate, kept against an injected
//!   [`Clock`] ([`SystemClock`], or [`ManualClock`] in tests) with no drift.
//!   Sources do not pace themselves (a camera's driver does); the clock also
//!   stamps each frame's capture time.
//!
//! The picture types and the JPEG header probe come from `framecast-image`
//! (re-exported here); no JPEG codec or resizer comes with this crate.
//!
//! ```
//! use std::sync::Arc;
//! use framecast_capture::{Frame, ManualClock, SourceOptions, decode_marker, open_source};
//!
//! // The test pattern at 25 fps, on a fake clock so this runs instantly.
//! let clock = ManualClock::new(1_700_000_000_000_000);
//! let options = SourceOptions::new(320, 240).with_fps(25).with_clock(Arc::new(clock.clone()));
//! let mut source = open_source(&"pattern".parse()?, &options)?;
//!
//! let mut frame = Frame::default();
//! for _ in 0..3 {
//!     source.next_frame(&mut frame)?;
//! }
//! assert_eq!(frame.sequence, 2);
//! assert_eq!(frame.capture_time_us, 1_700_000_000_080_000); // 2 frames x 40 ms later
//! assert_eq!(frame.pixels().and_then(|p| decode_marker(&p)), Some(2));
//! # Ok::<(), framecast_capture::CaptureError>(())
//! ```

#![forbid(unsafe_code)]

mod camera;
mod clock;
#[cfg_attr(not(feature = "camera"), allow(dead_code))]
mod convert;
mod dht;
mod error;
mod limits;
mod mjpeg;
mod pace;
mod pattern;
mod raw;
mod source;
mod spec;

pub use camera::{
    CAMERA_FRAME_TIMEOUT, CAMERA_MAX_READ_FAILURES, CameraDevice, CameraMode, CameraPixelFormat,
    CameraRequest, CameraSelector, CameraSource, choose_mode, list_devices,
};
pub use clock::{Clock, ManualClock, SystemClock, unix_time_us};
pub use dht::ensure_huffman_tables;
pub use error::CaptureError;
/// The picture types frames are made of, from `framecast-image` (the same
/// types `framecast-codec` re-exports).
pub use framecast_image::{ImageBuf, ImageError, ImageRef, JpegInfo, Picture, PixelFormat};
pub use limits::{
    DEFAULT_MAX_CACHED_BYTES, DEFAULT_MAX_JPEG_BYTES, DEFAULT_MAX_SIDE, SourceLimits,
};
pub use mjpeg::{JpegSpan, MjpegFileSource, MjpegIndex};
pub use pace::{DEFAULT_MAX_LAG_PERIODS, Paced, Pacer};
pub use pattern::{MARKER_COLUMNS, MARKER_ROWS, Pattern, PatternSource, decode_marker};
pub use raw::RawFileSource;
pub use source::{Frame, FrameKind, FrameSource, SourceFormat};
pub use spec::{
    DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH, SourceOptions, SourceSpec, open_source,
};
