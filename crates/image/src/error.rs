//! [`ImageError`]: what can be wrong with a picture buffer or a JPEG header.

/// What can be wrong with a picture's layout or a JPEG's header.
///
/// Each variant carries the detail that explains it; none has an underlying
/// cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
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
