//! The [`FrameSink`] trait and the [`EncodedFrame`] it is given.

use std::time::Instant;

use crate::DisplayError;

/// One received frame, as it came off the wire: a JPEG and its metadata.
///
/// Sinks decode it if they need pixels (the window, the null sink) or store
/// it unchanged (the recorders). Made with [`EncodedFrame::new`] and the
/// `with_` methods, so that fields can be added without breaking callers.
///
/// ```
/// use framecast_display::EncodedFrame;
///
/// let jpeg = [0xFF, 0xD8, 0xFF, 0xD9];
/// let frame = EncodedFrame::new(3, "door", &jpeg)
///     .with_sequence(41)
///     .with_capture_time_us(Some(1_700_000_000_000_000))
///     .with_source_size(Some((640, 480)));
/// assert_eq!((frame.stream, frame.sequence, frame.source_size), (3, 41, Some((640, 480))));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EncodedFrame<'a> {
    /// Which stream (sender session) it came from; stable for the stream's
    /// life.
    pub stream: u32,
    /// A human label for the stream: its name, or the peer's address.
    pub label: &'a str,
    /// The sender's sequence number (0 when the sender sends none).
    pub sequence: u64,
    /// Capture time in microseconds since the Unix epoch, if the sender sent it.
    pub capture_time_us: Option<u64>,
    /// The picture's size as captured, before the sender scaled it, if the
    /// sender said: the shape to show it at.
    pub source_size: Option<(u32, u32)>,
    /// The JPEG bytes.
    pub jpeg: &'a [u8],
    /// When the receiver finished reading it, if known: the pace a
    /// recording falls back on when the sender's clock cannot be trusted.
    pub received: Option<Instant>,
    /// The JPEG quality the sender encoded it with, if it said (a sender
    /// that adapts to its link changes it as it goes).
    pub quality: Option<u8>,
    /// The picture's size as sent (the JPEG's), if the sender said.
    pub size: Option<(u32, u32)>,
    /// The sender's estimate of what its link carries, bits per second, if
    /// it has one.
    pub link_rate_bps: Option<u64>,
}

impl<'a> EncodedFrame<'a> {
    /// A frame of stream `stream`, labelled `label`, holding `jpeg`; no
    /// sequence number (0), capture time or source size.
    pub fn new(stream: u32, label: &'a str, jpeg: &'a [u8]) -> Self {
        Self {
            stream,
            label,
            sequence: 0,
            capture_time_us: None,
            source_size: None,
            jpeg,
            received: None,
            quality: None,
            size: None,
            link_rate_bps: None,
        }
    }

    /// Sets [`EncodedFrame::sequence`].
    #[must_use]
    pub fn with_sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets [`EncodedFrame::capture_time_us`].
    #[must_use]
    pub fn with_capture_time_us(mut self, capture_time_us: Option<u64>) -> Self {
        self.capture_time_us = capture_time_us;
        self
    }

    /// Sets [`EncodedFrame::source_size`].
    #[must_use]
    pub fn with_source_size(mut self, source_size: Option<(u32, u32)>) -> Self {
        self.source_size = source_size;
        self
    }

    /// Sets [`EncodedFrame::quality`].
    #[must_use]
    pub fn with_quality(mut self, quality: Option<u8>) -> Self {
        self.quality = quality;
        self
    }

    /// Sets [`EncodedFrame::size`].
    #[must_use]
    pub fn with_size(mut self, size: Option<(u32, u32)>) -> Self {
        self.size = size;
        self
    }

    /// Sets [`EncodedFrame::link_rate_bps`].
    #[must_use]
    pub fn with_link_rate_bps(mut self, link_rate_bps: Option<u64>) -> Self {
        self.link_rate_bps = link_rate_bps;
        self
    }

    /// Sets [`EncodedFrame::received`].
    #[must_use]
    pub fn with_received(mut self, received: Instant) -> Self {
        self.received = Some(received);
        self
    }
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
