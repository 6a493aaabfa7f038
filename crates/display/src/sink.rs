//! The [`FrameSink`] trait and the [`EncodedFrame`] it is given.

use crate::DisplayError;

/// One received frame, as it came off the wire: a JPEG and its metadata.
///
/// Sinks decode it if they need pixels (the window, the null sink) or store
/// it unchanged (the recorder).
#[derive(Debug, Clone, Copy)]
pub struct EncodedFrame<'a> {
    /// Which stream (sender connection) it came from; stable for the
    /// stream's life.
    pub stream: u32,
    /// A human label for the stream, e.g. the peer address.
    pub label: &'a str,
    /// The sender's sequence number (0 when the sender sends none).
    pub sequence: u64,
    /// Capture time in microseconds since the Unix epoch, if the sender sent it.
    pub capture_time_us: Option<u64>,
    /// The JPEG bytes.
    pub jpeg: &'a [u8],
}

/// Where received frames end up.
pub trait FrameSink: Send {
    /// Takes one frame. A sink that cannot keep up may skip frames; it must
    /// not queue without bound.
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError>;

    /// A stream has ended; its tile or state can go.
    fn stream_ended(&mut self, _stream: u32) {}

    /// Flushes whatever is buffered (called once at the end).
    fn finish(&mut self) -> Result<(), DisplayError> {
        Ok(())
    }
}

impl<S: FrameSink + ?Sized> FrameSink for &mut S {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        (**self).show(frame)
    }
    fn stream_ended(&mut self, stream: u32) {
        (**self).stream_ended(stream)
    }
    fn finish(&mut self) -> Result<(), DisplayError> {
        (**self).finish()
    }
}

impl<S: FrameSink + ?Sized> FrameSink for Box<S> {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        (**self).show(frame)
    }
    fn stream_ended(&mut self, stream: u32) {
        (**self).stream_ended(stream)
    }
    fn finish(&mut self) -> Result<(), DisplayError> {
        (**self).finish()
    }
}
