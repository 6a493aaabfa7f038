//! framecast's pixel buffers and its JPEG/resize pipelines.
//!
//! - [`ImageBuf`], [`ImageRef`], [`ImageMut`]: the picture types that
//!   capture, codec and display share.
//! - [`probe_jpeg`]: a JPEG's size and sampling from its header, without
//!   decoding.

#![forbid(unsafe_code)]

mod image;
mod probe;

pub use image::{ImageBuf, ImageMut, ImageRef, PixelFormat};
pub use probe::{JpegInfo, Subsampling, probe_jpeg};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A buffer does not match the picture it is said to hold.
    #[error("bad picture layout: {reason}")]
    Layout {
        /// What does not fit.
        reason: &'static str,
    },
    /// The data does not start with a JPEG start-of-image marker.
    #[error("not a JPEG: the data does not start with the FF D8 marker")]
    NotJpeg,
    /// The data ends before the part being read does.
    #[error("JPEG data truncated: {len} bytes, at least {needed} needed")]
    Truncated {
        /// Bytes needed to read on.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The JPEG's header segments are inconsistent.
    #[error("malformed JPEG: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
}
