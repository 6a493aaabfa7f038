//! [`CodecError`]: everything that can go wrong encoding, decoding or
//! resizing.

use framecast_image::ImageError;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A picture buffer does not match its layout, or a JPEG's header is
    /// missing, cut short or inconsistent: the [`ImageError`] (the source)
    /// says which.
    #[error("invalid picture")]
    Image(#[from] ImageError),
    /// The entropy-coded data ends before every block of the picture was
    /// decoded: a frame cut short, even when an end-of-image marker
    /// follows the cut.
    #[error("JPEG scan incomplete: the data ends before the picture does")]
    IncompleteScan,
    /// The picture declares a size beyond the configured [`DecodeLimits`](crate::DecodeLimits); refused
    /// before anything was allocated for it.
    #[error(
        "a {width}x{height} picture exceeds the limits \
         ({max_width}x{max_height}, {max_pixels} pixels)"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// [`DecodeLimits::max_width`](crate::DecodeLimits::max_width).
        max_width: u32,
        /// [`DecodeLimits::max_height`](crate::DecodeLimits::max_height).
        max_height: u32,
        /// [`DecodeLimits::max_pixels`](crate::DecodeLimits::max_pixels).
        max_pixels: u64,
    },
    /// A valid request this implementation does not handle (a pixel format,
    /// a JPEG colour space, a 12-bit JPEG, ...).
    #[error("unsupported: {reason}")]
    Unsupported {
        /// What is not supported.
        reason: &'static str,
    },
    /// A JPEG quality outside 1..=100.
    #[error("JPEG quality {quality} is outside 1..=100")]
    Quality {
        /// The quality asked for.
        quality: u8,
    },
    /// The JPEG decoder rejected the data (corrupt entropy-coded data, bad
    /// tables, ...). The decoder's own error is the source.
    #[error("JPEG decoding failed")]
    Decode(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The JPEG encoder failed. The encoder's own error is the source.
    #[error("JPEG encoding failed")]
    Encode(#[source] Box<dyn std::error::Error + Send + Sync>),
}
