//! framecast's pixel buffers and its JPEG/resize pipelines.
//!
//! - [`ImageBuf`], [`ImageRef`], [`ImageMut`]: the picture types that
//!   capture, codec and display share.

#![forbid(unsafe_code)]

mod image;

pub use image::{ImageBuf, ImageMut, ImageRef, PixelFormat};

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
}
