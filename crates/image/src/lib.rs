//! framecast's picture types, shared by every layer, and a JPEG header
//! probe — with no codec attached.
//!
//! - [`ImageBuf`]: an owned picture whose storage is reused from frame to
//!   frame; [`ImageRef`] and [`ImageMut`]: borrowed views of any byte slice
//!   (a window's `u32` pixels included), in any [`PixelFormat`].
//! - [`Picture`]: a frame's picture as its source delivered it, pixels or a
//!   JPEG.
//! - [`probe_jpeg`]: a JPEG's size, components and sampling ([`JpegInfo`])
//!   read from its frame header, without decoding or allocating.
//! - [`ImageError`]: what is wrong with a layout or a header.
//!
//! # Why a crate of its own
//!
//! A frame source (`framecast-capture`), a sink that only stores JPEGs, or
//! another project that moves pictures over `framecast-wire` needs these
//! types and the header probe, but no JPEG encoder, decoder or resizer.
//! Those live in `framecast-codec`, which depends on this crate and
//! re-exports everything here, so `framecast_codec::ImageBuf` and
//! `framecast_image::ImageBuf` are the same type. This crate depends on
//! nothing but `bytemuck` (safe casts of pixel slices) and `thiserror`.
//!
//! ```
//! use framecast_image::{ImageBuf, PixelFormat, probe_jpeg};
//!
//! // A reused 640x480 RGB picture, shrunk without giving memory back.
//! let mut picture = ImageBuf::new(640, 480, PixelFormat::Rgb8);
//! picture.reshape(320, 240, PixelFormat::Rgb8);
//! assert_eq!(picture.data().len(), 320 * 240 * 3);
//! assert!(picture.capacity() >= 640 * 480 * 3);
//!
//! // A JPEG's size from its first bytes: SOI, then a 400x400 SOF0.
//! let header = [
//!     0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0x01, 0x90, 0x01, 0x90, 3,
//!     1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
//! ];
//! let info = probe_jpeg(&header)?;
//! assert_eq!((info.width, info.height), (400, 400));
//! # Ok::<(), framecast_image::ImageError>(())
//! ```

#![forbid(unsafe_code)]

mod buf;
mod error;
mod picture;
mod probe;

pub use buf::{ImageBuf, ImageMut, ImageRef, PixelFormat};
pub use error::ImageError;
pub use picture::Picture;
pub use probe::{JpegInfo, Subsampling, probe_jpeg};
