//! Cameras, through nokhwa, behind the `camera` feature.
//!
//! The types here exist in every build so that an application compiles the
//! same either way: without the feature, [`list_devices`] and
//! [`CameraSource::open`] return [`CaptureError::CameraUnsupported`], whose
//! message says how to rebuild.
//!
//! A camera is opened on a thread of its own (nokhwa's camera handle is not
//! `Send`), which keeps reading frames from the driver into one of two
//! reused buffers. [`CameraSource::next_frame`] takes the newest frame and
//! gives the thread its old buffer back; a frame the consumer was too slow to
//! take is overwritten, never queued, since a camera frame goes stale. The
//! driver paces the stream at the frame rate the camera was opened with.
//!
//! MJPEG is preferred when the camera offers it at a suitable size: its
//! frames are delivered as [`FrameKind::Jpeg`](crate::FrameKind::Jpeg) for a
//! sender to forward without decoding. Other layouts (YUYV, NV12, RGB, BGR,
//! grey) are converted to RGB here.
//!
//! This module holds the public types and the choice of a camera mode; the
//! backend (`nokhwa.rs` with the feature, `unsupported.rs` without) does the
//! work.

use std::fmt;
use std::sync::Arc;

use crate::{CaptureError, Clock, Frame, FrameSource, SourceFormat};

/// Which camera to open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CameraSelector {
    /// The system's index (`/dev/videoN` on Linux).
    Index(u32),
    /// The first camera whose name contains this text, ignoring case.
    Name(String),
}

impl Default for CameraSelector {
    fn default() -> Self {
        Self::Index(0)
    }
}

impl fmt::Display for CameraSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "{i}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// How a camera encodes its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CameraPixelFormat {
    /// Motion JPEG: each frame a JPEG, delivered as is.
    Mjpeg,
    /// Packed 4:2:2 YUV.
    Yuyv,
    /// Planar 4:2:0 YUV with interleaved chroma.
    Nv12,
    /// Packed RGB.
    Rgb,
    /// Packed BGR.
    Bgr,
    /// 8-bit grey.
    Grey,
}

impl fmt::Display for CameraPixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mjpeg => "MJPEG",
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::Rgb => "RGB",
            Self::Bgr => "BGR",
            Self::Grey => "GREY",
        })
    }
}

/// One way a camera can stream: size, rate and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CameraMode {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// The encoding.
    pub format: CameraPixelFormat,
}

impl CameraMode {
    /// A mode description.
    pub fn new(width: u32, height: u32, fps: u32, format: CameraPixelFormat) -> Self {
        Self {
            width,
            height,
            fps,
            format,
        }
    }
}

impl fmt::Display for CameraMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{}@{} {}",
            self.width, self.height, self.fps, self.format
        )
    }
}

/// What to ask a camera for. The closest mode it offers is chosen by
/// [`choose_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CameraRequest {
    /// Wanted frame width.
    pub width: u32,
    /// Wanted frame height.
    pub height: u32,
    /// Wanted frames per second (0: the highest offered).
    pub fps: u32,
    /// Whether MJPEG wins over raw layouts among otherwise equal modes.
    pub prefer_mjpeg: bool,
}

impl CameraRequest {
    /// `width` x `height` at `fps`, preferring MJPEG.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width,
            height,
            fps,
            prefer_mjpeg: true,
        }
    }

    /// Sets [`CameraRequest::prefer_mjpeg`].
    pub fn with_prefer_mjpeg(mut self, prefer: bool) -> Self {
        self.prefer_mjpeg = prefer;
        self
    }
}

impl Default for CameraRequest {
    fn default() -> Self {
        Self::new(640, 480, 30)
    }
}

/// A camera the system knows, with the modes it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CameraDevice {
    /// Its index, for [`CameraSelector::Index`].
    pub index: u32,
    /// Its human-readable name, for [`CameraSelector::Name`].
    pub name: String,
    /// The backend's description (on Linux, the device path).
    pub description: String,
    /// The modes it offers; empty if the camera could not be opened to ask
    /// (busy, no permission).
    pub modes: Vec<CameraMode>,
}

/// Picks the offered mode closest to `request`, or `None` if none is
/// offered. In order of importance:
///
/// 1. size: the exact size, else the smallest mode at least as large in
///    both directions (a sender scales down), else the largest;
/// 2. rate: the exact rate, else the slowest rate above it, else the
///    fastest below; with `fps == 0`, the fastest;
/// 3. encoding: MJPEG first if [`CameraRequest::prefer_mjpeg`], then YUYV,
///    NV12, RGB, BGR, grey (cheapest to convert first).
///
/// ```
/// use framecast_capture::{CameraMode, CameraPixelFormat::*, CameraRequest, choose_mode};
///
/// let offered = [
///     CameraMode::new(1280, 720, 30, Mjpeg),
///     CameraMode::new(640, 480, 30, Yuyv),
///     CameraMode::new(640, 480, 30, Mjpeg),
/// ];
/// let chosen = choose_mode(&offered, &CameraRequest::new(640, 480, 30));
/// assert_eq!(chosen, Some(offered[2]));
/// ```
pub fn choose_mode(offered: &[CameraMode], request: &CameraRequest) -> Option<CameraMode> {
    let area = |w: u32, h: u32| u64::from(w) * u64::from(h);
    let wanted = area(request.width, request.height);
    offered.iter().copied().min_by_key(|m| {
        let size = if (m.width, m.height) == (request.width, request.height) {
            (0, 0)
        } else if m.width >= request.width && m.height >= request.height {
            (1, area(m.width, m.height) - wanted)
        } else {
            (2, u64::MAX - area(m.width, m.height))
        };
        let rate = match request.fps {
            0 => (0, u32::MAX - m.fps),
            fps if m.fps == fps => (0, 0),
            fps if m.fps > fps => (1, m.fps - fps),
            fps => (2, fps - m.fps),
        };
        let encoding = match m.format {
            CameraPixelFormat::Mjpeg if request.prefer_mjpeg => 0,
            CameraPixelFormat::Yuyv => 1,
            CameraPixelFormat::Nv12 => 2,
            CameraPixelFormat::Rgb => 3,
            CameraPixelFormat::Bgr => 4,
            CameraPixelFormat::Grey => 5,
            CameraPixelFormat::Mjpeg => 6,
        };
        (size, rate, encoding)
    })
}

/// Lists the cameras the system knows, with their modes. An empty list means
/// no camera is connected. In a build without the `camera` feature, returns
/// [`CaptureError::CameraUnsupported`].
pub fn list_devices() -> Result<Vec<CameraDevice>, CaptureError> {
    backend::list_devices()
}

/// A live camera as a [`FrameSource`].
///
/// The camera runs on a thread of its own (nokhwa's handle is not `Send`)
/// that keeps reading frames from the driver into one of two reused buffers;
/// [`FrameSource::next_frame`] takes the newest and hands its old buffer
/// back. A frame the consumer was too slow to take is overwritten, never
/// queued (counted by [`CameraSource::dropped`]): camera frames go stale. The
/// driver paces the stream at the rate the camera was opened with, so a
/// camera needs no [`Paced`](crate::Paced) wrapper.
///
/// In MJPEG mode frames are [`FrameKind::Jpeg`](crate::FrameKind::Jpeg),
/// passed through with no decoding (only the standard Huffman tables are
/// inserted into frames that lack them, see
/// [`ensure_huffman_tables`](crate::ensure_huffman_tables)); otherwise they
/// are converted to RGB.
///
/// ```no_run
/// use framecast_capture::{CameraRequest, CameraSelector, CameraSource, Frame, FrameSource, SystemClock};
///
/// let request = CameraRequest::new(640, 480, 30);
/// let mut camera = CameraSource::open(&CameraSelector::Index(0), &request, SystemClock::shared())?;
/// let mut frame = Frame::default();
/// camera.next_frame(&mut frame)?;
/// println!("{} gave a {:?} frame in mode {}", camera.name(), frame.kind(), camera.mode());
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
pub struct CameraSource {
    inner: backend::Inner,
}

impl fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CameraSource").finish_non_exhaustive()
    }
}

impl CameraSource {
    /// Opens the camera `selector` names in the mode closest to `request`
    /// (see [`choose_mode`]) and starts streaming. Frames are stamped by
    /// `clock` as they arrive from the driver.
    ///
    /// Fails with [`CaptureError::NoCamera`] when no camera is connected,
    /// [`CaptureError::CameraNotFound`] when none matches `selector`, and
    /// [`CaptureError::CameraUnsupported`] in a build without the `camera`
    /// feature.
    pub fn open(
        selector: &CameraSelector,
        request: &CameraRequest,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CaptureError> {
        Ok(Self {
            inner: backend::Inner::open(selector, request, clock)?,
        })
    }

    /// The mode the camera streams in.
    pub fn mode(&self) -> CameraMode {
        self.inner.mode()
    }

    /// The camera's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Frames the driver delivered that were overwritten before
    /// [`FrameSource::next_frame`] took them.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped()
    }
}

impl FrameSource for CameraSource {
    fn format(&self) -> SourceFormat {
        self.inner.format()
    }

    /// Waits for the next frame from the driver (at most
    /// [`CAMERA_FRAME_TIMEOUT`](crate::CAMERA_FRAME_TIMEOUT)).
    fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
        self.inner.next_frame(frame)
    }
}

/// How long [`CameraSource::next_frame`] waits for the driver before giving
/// up with an error.
pub const CAMERA_FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Consecutive failed reads after which the capture thread gives up.
pub const CAMERA_MAX_READ_FAILURES: u32 = 10;

#[cfg(not(feature = "camera"))]
#[cfg(not(feature = "camera"))]
#[path = "unsupported.rs"]
mod backend;

#[cfg(feature = "camera")]
#[path = "nokhwa.rs"]
mod backend;

#[cfg(test)]
mod tests {
    use super::*;
    use CameraPixelFormat::*;

    #[test]
    fn chooses_exact_size_then_rate_then_mjpeg() {
        let offered = [
            CameraMode::new(1920, 1080, 30, Mjpeg),
            CameraMode::new(640, 480, 15, Mjpeg),
            CameraMode::new(640, 480, 30, Yuyv),
            CameraMode::new(320, 240, 30, Mjpeg),
        ];
        let pick = |w, h, fps| choose_mode(&offered, &CameraRequest::new(w, h, fps));
        // The exact size and rate, even though only as YUYV.
        assert_eq!(pick(640, 480, 30), Some(offered[2]));
        assert_eq!(pick(640, 480, 15), Some(offered[1]));
        // No exact size: the smallest larger one.
        assert_eq!(pick(800, 600, 30), Some(offered[0]));
        assert_eq!(pick(400, 400, 30), Some(offered[2]));
        // Larger than anything: the largest.
        assert_eq!(pick(4000, 3000, 30), Some(offered[0]));
        // fps 0: the fastest at that size.
        assert_eq!(pick(640, 480, 0), Some(offered[2]));
        assert_eq!(choose_mode(&[], &CameraRequest::default()), None);
    }

    #[test]
    fn mjpeg_preference_breaks_ties_only() {
        let offered = [
            CameraMode::new(640, 480, 30, Yuyv),
            CameraMode::new(640, 480, 30, Mjpeg),
        ];
        let request = CameraRequest::new(640, 480, 30);
        assert_eq!(choose_mode(&offered, &request), Some(offered[1]));
        let request = request.with_prefer_mjpeg(false);
        assert_eq!(choose_mode(&offered, &request), Some(offered[0]));
    }

    /// This machine, and CI, have no camera: opening one must fail with an
    /// error that tells the user what to do. (On a machine with a camera the
    /// test checks only that listing works.)
    #[test]
    fn no_camera_is_a_clear_error() {
        let clock = crate::SystemClock::shared();
        let result =
            CameraSource::open(&CameraSelector::Index(0), &CameraRequest::default(), clock);
        match list_devices() {
            Err(CaptureError::CameraUnsupported) if !cfg!(feature = "camera") => {
                let err = result.unwrap_err();
                assert!(matches!(err, CaptureError::CameraUnsupported));
                assert!(err.to_string().contains("`camera` feature"), "{err}");
                assert!(!err.to_string().contains("--"), "no CLI flag: {err}");
            }
            Ok(devices) if devices.is_empty() => {
                let err = result.unwrap_err();
                assert!(matches!(err, CaptureError::NoCamera), "{err}");
                assert_eq!(err.to_string(), "no camera found");
            }
            Ok(devices) => {
                eprintln!("cameras present, skipping the no-camera check: {devices:?}");
                drop(result);
                let missing = CameraSource::open(
                    &CameraSelector::Name("no such camera, surely".into()),
                    &CameraRequest::default(),
                    crate::SystemClock::shared(),
                );
                assert!(matches!(missing, Err(CaptureError::CameraNotFound { .. })));
            }
            Err(e) => panic!("listing cameras failed: {e}"),
        }
    }
}
