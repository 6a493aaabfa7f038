//! [`Recording`]: every frame a receiver accepts, as it arrived, handed to
//! a sink on a thread of its own (a file writer, typically).
//!
//! The recording follows [`Receiver::subscribe`](crate::Receiver::subscribe),
//! so it sees frames before the workers' drop policy: a slow display does
//! not thin out the recording. A recording that falls more than
//! [`SUBSCRIBER_BACKLOG`](crate::SUBSCRIBER_BACKLOG) frames behind (a disk
//! slower than the network) loses the oldest and counts them; a sink that
//! fails ends the recording, never the receiver.

use std::thread::{self, JoinHandle};

use framecast_display::{EncodedFrame, FrameSink};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::{Report, StreamError};
use crate::frame::Frame;
use crate::receiver::Receiver;

/// What a recording did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStats {
    /// Frames written.
    pub frames: u64,
    /// Frames the recording fell too far behind to keep.
    pub lost: u64,
    /// Whether the sink failed (and the recording stopped early).
    pub failed: bool,
}

/// A running recording; see the [module docs](self).
#[derive(Debug)]
pub struct Recording {
    thread: Option<JoinHandle<RecordingStats>>,
}

impl Recording {
    /// Records every frame `receiver` accepts from now on into `sink`.
    ///
    /// # Errors
    ///
    /// [`StreamError::Spawn`] when the thread cannot be started.
    pub fn start(receiver: &Receiver, sink: impl FrameSink + 'static) -> Result<Self, StreamError> {
        let rx = receiver.subscribe();
        let thread = thread::Builder::new()
            .name("framecast-record".into())
            .spawn(move || record(rx, sink))
            .map_err(|source| StreamError::Spawn {
                what: "record",
                source,
            })?;
        Ok(Self {
            thread: Some(thread),
        })
    }

    /// Waits for the recording to end (once its receiver has stopped and
    /// been dropped) and returns what it did.
    ///
    /// # Errors
    ///
    /// [`StreamError::Panicked`] if the recording thread panicked.
    pub fn finish(mut self) -> Result<RecordingStats, StreamError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(stats)) => Ok(stats),
            Some(Err(_)) => Err(StreamError::Panicked("record")),
            None => Ok(RecordingStats::default()),
        }
    }
}

fn record(mut rx: broadcast::Receiver<Frame>, mut sink: impl FrameSink) -> RecordingStats {
    let mut stats = RecordingStats::default();
    loop {
        let frame = match rx.blocking_recv() {
            Ok(frame) => frame,
            Err(RecvError::Lagged(n)) => {
                stats.lost += n;
                tracing::warn!("the recording fell behind and lost {n} frames");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        if stats.failed {
            continue;
        }
        let encoded = EncodedFrame::new(frame.stream(), "", &frame.jpeg()[..])
            .with_sequence(frame.sequence())
            .with_capture_time_us(frame.capture_time_us());
        match sink.show(&encoded) {
            Ok(()) => stats.frames += 1,
            Err(e) => {
                tracing::error!("recording stopped: {}", Report(&e));
                stats.failed = true;
            }
        }
    }
    if !stats.failed
        && let Err(e) = sink.finish()
    {
        tracing::error!("recording could not be finished: {}", Report(&e));
        stats.failed = true;
    }
    stats
}
