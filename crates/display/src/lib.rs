//! Frame sinks for framecast.
//!
//! - [`FrameSink`]: the trait every sink implements; it is given an
//!   [`EncodedFrame`].

#![forbid(unsafe_code)]

mod sink;

pub use sink::{EncodedFrame, FrameSink};

/// Everything that can go wrong in a sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// An I/O error writing a file.
    #[error("display I/O error: {0}")]
    Io(#[from] std::io::Error),
}
