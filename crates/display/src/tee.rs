//! [`Tee`]: one frame to several sinks.

use crate::{DisplayError, EncodedFrame, FrameSink};

/// Hands every frame to each of its sinks in order, e.g. a window and a
/// recorder.
///
/// One sink failing does not starve the others: every sink is given every
/// frame, and the first error (if any) is returned afterwards.
///
/// ```
/// use framecast_display::{FrameSink, NullSink, Recorder, Tee};
///
/// let mut tee = Tee::new()
///     .with(NullSink::default())
///     .with(Recorder::new(Vec::new()));
/// assert_eq!(tee.len(), 2);
/// tee.finish()?;
/// # Ok::<(), framecast_display::DisplayError>(())
/// ```
#[derive(Default)]
pub struct Tee {
    sinks: Vec<Box<dyn FrameSink>>,
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Tee {
    /// A tee with no sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink (builder style).
    pub fn with(mut self, sink: impl FrameSink + 'static) -> Self {
        self.push(Box::new(sink));
        self
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: Box<dyn FrameSink>) {
        self.sinks.push(sink);
    }

    /// How many sinks it feeds.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether it feeds no sink.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl From<Vec<Box<dyn FrameSink>>> for Tee {
    fn from(sinks: Vec<Box<dyn FrameSink>>) -> Self {
        Self { sinks }
    }
}

impl FrameSink for Tee {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        let mut first = Ok(());
        for sink in &mut self.sinks {
            let r = sink.show(frame);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn stream_ended(&mut self, stream: u32) {
        for sink in &mut self.sinks {
            sink.stream_ended(stream);
        }
    }

    fn finish(&mut self) -> Result<(), DisplayError> {
        let mut first = Ok(());
        for sink in &mut self.sinks {
            let r = sink.finish();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NullSink, SnapshotSink};

    #[test]
    fn a_failing_sink_does_not_starve_the_others() {
        let snapshots = SnapshotSink::new();
        let handle = snapshots.handle();
        // The null sink fails on this frame (not a JPEG); the snapshot sink,
        // after it, must still get it.
        let mut tee = Tee::new().with(NullSink::default()).with(snapshots);
        let frame = EncodedFrame::new(1, "", b"junk").with_sequence(11);
        let err = tee.show(&frame).unwrap_err();
        assert!(matches!(err, DisplayError::Decode { sequence: 11, .. }));
        assert_eq!(handle.latest().unwrap().sequence, 11);
        assert_eq!(tee.len(), 2);
        assert!(!tee.is_empty());
        tee.stream_ended(1);
        tee.finish().unwrap();
    }
}
