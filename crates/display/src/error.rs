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
        /// What the windowing library reported, as text: its errors (and
        /// softbuffer's) may hold causes that cannot cross threads, and its
        /// message is trimmed of the backend's prefix.
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
        /// What failed and what the windowing library reported, as text (see
        /// [`DisplayError::NoDisplay`]).
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

/// What a sink's error means for the frame and for the sink, as
/// [`DisplayError::verdict`] says: whether a receiver counts the frame and
/// goes on, or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The frame was bad (not a JPEG, undecodable, a picture that does not
    /// fit its layout): count it as corrupt and go on with the next one.
    BadFrame,
    /// The frame was fine but could not be shown (no free tile): count it as
    /// dropped and go on.
    Skipped,
    /// The sink was closed (the window by its user): stop, without an error.
    Closed,
    /// The sink itself failed (a full disk, a lost display): stop with the
    /// error.
    Fatal,
}

impl DisplayError {
    /// What this error means for the frame and the sink (as
    /// `WireError::is_protocol` does for the wire).
    ///
    /// ```
    /// use framecast_display::{DisplayError, Verdict};
    ///
    /// let bad = DisplayError::NotJpeg { stream: 1, sequence: 7, reason: "no SOI marker" };
    /// assert_eq!(bad.verdict(), Verdict::BadFrame);
    /// assert_eq!(DisplayError::Closed.verdict(), Verdict::Closed);
    /// let disk = DisplayError::Io(std::io::Error::other("disk full"));
    /// assert_eq!(disk.verdict(), Verdict::Fatal);
    /// ```
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::NotJpeg { .. }
            | Self::Decode { .. }
            | Self::Image(_)
            | Self::UnsupportedFormat { .. } => Verdict::BadFrame,
            Self::TooManyStreams { .. } => Verdict::Skipped,
            Self::Closed => Verdict::Closed,
            Self::Io(_)
            | Self::Create { .. }
            | Self::InvalidSize { .. }
            | Self::NoDisplay { .. }
            | Self::EventLoopRecreated
            | Self::Window { .. }
            | Self::NoFrame
            | Self::Png(_) => Verdict::Fatal,
        }
    }
}
