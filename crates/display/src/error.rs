//! The crate's error type.

use std::path::PathBuf;

use framecast_codec::CodecError;
use framecast_image::{ImageError, PixelFormat};

/// Everything that can go wrong in a sink.
///
/// Every variant says what to do about it; none of them loses a frame that
/// was already stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// An I/O error writing a file.
    #[error("I/O error")]
    Io(#[from] std::io::Error),

    /// A file could not be created or opened.
    #[error("cannot create {path}")]
    Create {
        /// The file asked for.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },

    /// A received frame is not a JPEG a sink can use; it was skipped and
    /// nothing was written for it.
    #[error("stream {stream}, frame {sequence}: not a complete JPEG ({reason}); frame skipped")]
    NotJpeg {
        /// The frame's stream.
        stream: u32,
        /// The frame's sequence number.
        sequence: u64,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A received frame could not be decoded; it was skipped.
    #[error("stream {stream}, frame {sequence} skipped: it cannot be decoded")]
    Decode {
        /// The frame's stream.
        stream: u32,
        /// The frame's sequence number.
        sequence: u64,
        /// The decoder's error.
        source: CodecError,
    },

    /// A picture handed to a sink does not match its declared layout.
    #[error("bad picture")]
    Image(#[source] ImageError),

    /// A picture handed to a sink is in a pixel format it cannot show.
    #[error("pixel format {format:?} cannot be shown")]
    UnsupportedFormat {
        /// The picture's format.
        format: PixelFormat,
    },

    /// A size in the options is unusable (zero, or larger than a limit).
    #[error("invalid size {width}x{height}: {reason}")]
    InvalidSize {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
        /// Why it is refused.
        reason: &'static str,
    },

    /// More streams than the window has tiles for; the new stream's frames
    /// are dropped until another stream ends.
    #[error(
        "stream {stream} refused: the window already shows {max} streams \
         (raise WindowOptions::max_tiles)"
    )]
    TooManyStreams {
        /// The refused stream.
        stream: u32,
        /// The configured maximum.
        max: usize,
    },

    /// No windowing system could be reached.
    #[error("no display available (DISPLAY and WAYLAND_DISPLAY unset or unreachable): {detail}")]
    NoDisplay {
        /// What the windowing library reported.
        detail: String,
    },

    /// The window's event loop was created before in this process; the
    /// windowing library allows one per process.
    #[error(
        "the window was already opened once in this process; only one window per process is supported"
    )]
    EventLoopRecreated,

    /// The window or its pixel surface could not be created or drawn.
    #[error("window error: {detail}")]
    Window {
        /// What the windowing library reported.
        detail: String,
    },

    /// The window was closed (by the user, or because the app finished);
    /// stop sending frames to it.
    #[error("the window was closed")]
    Closed,

    /// A snapshot was asked for before any frame arrived.
    #[error("no frame has been received yet; nothing to save")]
    NoFrame,

    /// Writing a PNG failed.
    #[error("PNG encoding failed")]
    Png(#[from] png::EncodingError),
}
