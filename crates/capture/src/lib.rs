//! Frame sources for framecast.
//!
//! - [`FrameSource`]: the trait every source implements; it fills a reused
//!   [`Frame`].

#![forbid(unsafe_code)]

mod source;

pub use source::{Frame, FrameKind, FrameSource, SourceFormat};

/// Everything that can go wrong while capturing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// An I/O error reading a source.
    #[error("capture I/O error: {0}")]
    Io(#[from] std::io::Error),
}
