//! The engines' error type, [`AppError`].

use std::io;
use std::net::SocketAddr;

use framecast_capture::CaptureError;
use framecast_codec::CodecError;
use framecast_display::DisplayError;
use framecast_wire::WireError;

/// Everything that can stop a sender or a receiver.
///
/// Per-frame problems (a corrupt frame, one sender's broken connection) are
/// not errors of the engine: they are counted in the stats and the engine
/// carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The receiver could not listen on its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A thread of the engine could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Spawn {
        /// Which stage.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The frame source failed.
    #[error("frame source: {0}")]
    Capture(#[from] CaptureError),
    /// Encoding or scaling a frame failed.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// A sink failed for a reason other than a bad frame (e.g. the recorder
    /// could not write its file).
    #[error("sink: {0}")]
    Display(#[from] DisplayError),
    /// Framing failed on the sending side.
    #[error("wire: {0}")]
    Wire(#[from] WireError),
    /// A stage of the engine panicked (a bug).
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}
