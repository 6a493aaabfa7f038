//! Frame sources for framecast.
//!
//! - [`FrameSource`]: the trait every source implements; it fills a reused
//!   [`Frame`].

#![forbid(unsafe_code)]

mod clock;
mod error;
mod limits;
mod pace;
mod pattern;
mod source;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CaptureError;
pub use limits::{DEFAULT_MAX_JPEG_BYTES, DEFAULT_MAX_SIDE, Limits};
pub use pace::{DEFAULT_MAX_LAG_PERIODS, Paced, Pacer};
pub use pattern::{MARKER_COLUMNS, MARKER_ROWS, Pattern, PatternSource, decode_marker};
pub use source::{Frame, FrameKind, FrameSource, SourceFormat};
