//! Frame sinks for framecast: where received frames end up.
//!
//! - [`FrameSink`]: the trait every sink implements; it is given an
//!   [`EncodedFrame`] (the JPEG as it came off the wire, plus metadata).
//! - Headless sinks, always built: [`NullSink`] (decode, then discard:
//!   headless servers; or decode and scale as a window would: benchmarks),
//!   [`Recorder`] (the JPEGs
//!   appended unchanged to a Motion-JPEG file), [`SnapshotSink`] (the latest
//!   frame saved as PNG on request), [`MatroskaRecorder`] (the JPEGs with
//!   their capture times in a Matroska file that plays at the captured
//!   pace) and [`Tee`] (several sinks at once).
//! - With the `window` feature: `run_window`, an on-screen window (winit +
//!   softbuffer) that shows every stream as a labelled tile, fed through a
//!   `WindowSink`.
//!
//! Decoding and scaling are the codec crate's
//! [`ReceiverPipeline`](framecast_codec::ReceiverPipeline); every sink
//! reuses its buffers, so in the steady state no sink allocates per frame.
//! A sink's error says what it means for the frame and the sink
//! ([`DisplayError::verdict`]): a bad frame to count, a frame skipped, the
//! sink closed, or a failure.
//!
//! ```
//! use framecast_display::{EncodedFrame, FrameSink, NullSink, Recorder, Tee};
//!
//! // Record what arrives and do the receiver's full decoding work, headless.
//! let mut sink = Tee::new()
//!     .with(Recorder::new(Vec::new()))
//!     .with(NullSink::new(800, 600)?);
//! let garbage = EncodedFrame::new(1, "127.0.0.1:40000", &[0xFF, 0xD8, 0x00]);
//! // Bad input is a typed error, never a panic, and nothing is recorded.
//! let err = sink.show(&garbage).unwrap_err();
//! assert!(err.to_string().contains("frame 0"), "{err}");
//! sink.finish()?;
//! # Ok::<(), framecast_display::DisplayError>(())
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod error;
mod matroska;
mod null;
#[cfg(feature = "window")]
mod pixels;
mod recorder;
mod sink;
mod snapshot;
mod tee;
#[cfg(feature = "window")]
mod window;

pub use error::{DisplayError, Verdict};
pub use matroska::{ClockJump, DEFAULT_JUMP_TOLERANCE, MatroskaRecorder};
pub use null::{DEFAULT_HEIGHT, DEFAULT_WIDTH, NullSink};
pub use recorder::Recorder;
pub use sink::{EncodedFrame, FrameSink};
pub use snapshot::{SnapshotHandle, SnapshotInfo, SnapshotSink};
pub use tee::Tee;
#[cfg(feature = "window")]
#[cfg_attr(docsrs, doc(cfg(feature = "window")))]
pub use window::{DEFAULT_MAX_TILES, WindowHandle, WindowOptions, WindowSink, run_window};
