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
mod backend {
    use std::convert::Infallible;
    use std::sync::Arc;

    use super::{CameraDevice, CameraMode, CameraRequest, CameraSelector};
    use crate::{CaptureError, Clock, Frame, SourceFormat};

    pub(super) fn list_devices() -> Result<Vec<CameraDevice>, CaptureError> {
        Err(CaptureError::CameraUnsupported)
    }

    /// Uninhabited: without the feature no camera can be opened.
    pub(super) struct Inner(Infallible);

    impl Inner {
        pub(super) fn open(
            _: &CameraSelector,
            _: &CameraRequest,
            _: Arc<dyn Clock>,
        ) -> Result<Self, CaptureError> {
            Err(CaptureError::CameraUnsupported)
        }
        pub(super) fn mode(&self) -> CameraMode {
            match self.0 {}
        }
        pub(super) fn name(&self) -> &str {
            match self.0 {}
        }
        pub(super) fn dropped(&self) -> u64 {
            match self.0 {}
        }
        pub(super) fn format(&self) -> SourceFormat {
            match self.0 {}
        }
        pub(super) fn next_frame(&mut self, _: &mut Frame) -> Result<(), CaptureError> {
            match self.0 {}
        }
    }
}

#[cfg(feature = "camera")]
mod backend {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
    use std::thread::JoinHandle;

    use framecast_image::{PixelFormat, probe_jpeg};
    use nokhwa::Camera;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
        RequestedFormatType, Resolution,
    };

    use super::{
        CAMERA_FRAME_TIMEOUT, CAMERA_MAX_READ_FAILURES, CameraDevice, CameraMode,
        CameraPixelFormat, CameraRequest, CameraSelector, choose_mode,
    };
    use crate::convert::RawLayout;
    use crate::{CaptureError, Clock, Frame, FrameKind, SourceFormat};

    /// Every layout we can deliver, for nokhwa's format negotiation.
    const USABLE: [FrameFormat; 6] = [
        FrameFormat::MJPEG,
        FrameFormat::YUYV,
        FrameFormat::NV12,
        FrameFormat::RAWRGB,
        FrameFormat::RAWBGR,
        FrameFormat::GRAY,
    ];

    fn from_nokhwa(format: FrameFormat) -> CameraPixelFormat {
        match format {
            FrameFormat::MJPEG => CameraPixelFormat::Mjpeg,
            FrameFormat::YUYV => CameraPixelFormat::Yuyv,
            FrameFormat::NV12 => CameraPixelFormat::Nv12,
            FrameFormat::RAWRGB => CameraPixelFormat::Rgb,
            FrameFormat::RAWBGR => CameraPixelFormat::Bgr,
            FrameFormat::GRAY => CameraPixelFormat::Grey,
        }
    }

    fn to_nokhwa(format: CameraPixelFormat) -> FrameFormat {
        match format {
            CameraPixelFormat::Mjpeg => FrameFormat::MJPEG,
            CameraPixelFormat::Yuyv => FrameFormat::YUYV,
            CameraPixelFormat::Nv12 => FrameFormat::NV12,
            CameraPixelFormat::Rgb => FrameFormat::RAWRGB,
            CameraPixelFormat::Bgr => FrameFormat::RAWBGR,
            CameraPixelFormat::Grey => FrameFormat::GRAY,
        }
    }

    fn layout(format: CameraPixelFormat) -> Option<RawLayout> {
        match format {
            CameraPixelFormat::Mjpeg => None,
            CameraPixelFormat::Yuyv => Some(RawLayout::Yuyv),
            CameraPixelFormat::Nv12 => Some(RawLayout::Nv12),
            CameraPixelFormat::Rgb => Some(RawLayout::Rgb),
            CameraPixelFormat::Bgr => Some(RawLayout::Bgr),
            CameraPixelFormat::Grey => Some(RawLayout::Grey),
        }
    }

    fn mode_of(format: &CameraFormat) -> CameraMode {
        CameraMode::new(
            format.width(),
            format.height(),
            format.frame_rate(),
            from_nokhwa(format.format()),
        )
    }

    fn backend_error(action: &'static str) -> impl Fn(nokhwa::NokhwaError) -> CaptureError {
        move |e| CaptureError::Camera {
            action,
            source: Box::new(e),
        }
    }

    fn query() -> Result<Vec<CameraInfo>, CaptureError> {
        nokhwa::query(ApiBackend::Auto).map_err(backend_error("listing cameras"))
    }

    fn index_of(info: &CameraInfo) -> Option<u32> {
        info.index().as_index().ok()
    }

    fn open_camera(index: u32) -> Result<Camera, CaptureError> {
        let any = RequestedFormat::with_formats(RequestedFormatType::None, &USABLE);
        Camera::new(CameraIndex::Index(index), any).map_err(backend_error("opening the camera"))
    }

    fn modes(camera: &mut Camera) -> Result<Vec<CameraMode>, CaptureError> {
        let formats = camera
            .compatible_camera_formats()
            .map_err(backend_error("listing the camera's formats"))?;
        Ok(formats.iter().map(mode_of).collect())
    }

    pub(super) fn list_devices() -> Result<Vec<CameraDevice>, CaptureError> {
        let mut devices = Vec::new();
        for info in query()? {
            let Some(index) = index_of(&info) else {
                continue;
            };
            // A camera that cannot be opened (busy, no permission) is still
            // listed, without modes.
            let modes = open_camera(index)
                .and_then(|mut camera| modes(&mut camera))
                .unwrap_or_default();
            devices.push(CameraDevice {
                index,
                name: info.human_name(),
                description: info.description().to_owned(),
                modes,
            });
        }
        Ok(devices)
    }

    /// Finds the camera `selector` names.
    fn resolve(selector: &CameraSelector) -> Result<(u32, String), CaptureError> {
        let cameras = query()?;
        if cameras.is_empty() {
            return Err(CaptureError::NoCamera);
        }
        let found = cameras.iter().find(|info| match selector {
            CameraSelector::Index(i) => index_of(info) == Some(*i),
            CameraSelector::Name(name) => info
                .human_name()
                .to_lowercase()
                .contains(&name.to_lowercase()),
        });
        match found.and_then(|info| Some((index_of(info)?, info.human_name()))) {
            Some(found) => Ok(found),
            None => Err(CaptureError::CameraNotFound {
                wanted: selector.to_string(),
                available: cameras
                    .iter()
                    .map(|info| format!("{}: {}", info.index(), info.human_name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The hand-over between the capture thread and the consumer: the newest
    /// frame, in a buffer the two swap.
    #[derive(Debug, Default)]
    struct Slot {
        buf: Vec<u8>,
        time_us: u64,
        fresh: bool,
        dropped: u64,
        failed: Option<CaptureError>,
        stopped: bool,
    }

    #[derive(Debug, Default)]
    struct Shared {
        slot: Mutex<Slot>,
        ready: Condvar,
        stop: AtomicBool,
    }

    impl Shared {
        fn lock(&self) -> MutexGuard<'_, Slot> {
            // Every update of the slot leaves it consistent.
            self.slot.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    pub(super) struct Inner {
        shared: Arc<Shared>,
        thread: Option<JoinHandle<()>>,
        mode: CameraMode,
        name: String,
        /// The buffer the consumer holds between frames.
        spare: Vec<u8>,
        sequence: u64,
    }

    impl Inner {
        pub(super) fn open(
            selector: &CameraSelector,
            request: &CameraRequest,
            clock: Arc<dyn Clock>,
        ) -> Result<Self, CaptureError> {
            let (index, name) = resolve(selector)?;
            let shared = Arc::new(Shared::default());
            let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
            let thread_shared = Arc::clone(&shared);
            let request = *request;
            let cam_name = name.clone();
            let thread = std::thread::Builder::new()
                .name("framecast-camera".into())
                .spawn(move || {
                    let mut camera = match start(index, &cam_name, &request) {
                        Ok((camera, mode)) => {
                            let _ = opened_tx.send(Ok(mode));
                            camera
                        }
                        Err(e) => {
                            let _ = opened_tx.send(Err(e));
                            return;
                        }
                    };
                    capture_loop(&mut camera, &thread_shared, &*clock);
                    let _ = camera.stop_stream();
                })?;
            let mode = match opened_rx.recv() {
                Ok(Ok(mode)) => mode,
                Ok(Err(e)) => {
                    let _ = thread.join();
                    return Err(e);
                }
                Err(_) => return Err(CaptureError::CameraStopped),
            };
            Ok(Self {
                shared,
                thread: Some(thread),
                mode,
                name,
                spare: Vec::new(),
                sequence: 0,
            })
        }

        pub(super) fn mode(&self) -> CameraMode {
            self.mode
        }

        pub(super) fn name(&self) -> &str {
            &self.name
        }

        pub(super) fn dropped(&self) -> u64 {
            self.shared.lock().dropped
        }

        pub(super) fn format(&self) -> SourceFormat {
            let kind = match self.mode.format {
                CameraPixelFormat::Mjpeg => FrameKind::Jpeg,
                _ => FrameKind::Raw,
            };
            SourceFormat::new(
                self.mode.width,
                self.mode.height,
                kind,
                PixelFormat::Rgb8,
                true,
            )
        }

        pub(super) fn next_frame(&mut self, frame: &mut Frame) -> Result<(), CaptureError> {
            let time_us = {
                let mut slot = self.shared.lock();
                while !slot.fresh {
                    if let Some(e) = slot.failed.take() {
                        return Err(e);
                    }
                    if slot.stopped {
                        return Err(CaptureError::CameraStopped);
                    }
                    let (guard, timeout) = self
                        .shared
                        .ready
                        .wait_timeout(slot, CAMERA_FRAME_TIMEOUT)
                        .unwrap_or_else(PoisonError::into_inner);
                    slot = guard;
                    if timeout.timed_out() && !slot.fresh {
                        return Err(CaptureError::CameraTimeout {
                            waited: CAMERA_FRAME_TIMEOUT,
                        });
                    }
                }
                slot.fresh = false;
                std::mem::swap(&mut slot.buf, &mut self.spare);
                slot.time_us
            };
            let (width, height) = (self.mode.width, self.mode.height);
            match layout(self.mode.format) {
                None => {
                    // Pass the JPEG through: swap buffers, no copy. Many
                    // webcams leave out the Huffman tables; put them back so
                    // that any decoder, here or at a peer, reads the frame.
                    let jpeg = frame.jpeg_mut(0, 0);
                    std::mem::swap(jpeg, &mut self.spare);
                    crate::ensure_huffman_tables(jpeg)?;
                    let info = probe_jpeg(jpeg).map_err(|e| CaptureError::Camera {
                        action: "reading a JPEG frame's header",
                        source: Box::new(e),
                    })?;
                    frame.jpeg_mut(info.width, info.height);
                }
                Some(layout) => {
                    let expected = layout.frame_len(width, height);
                    if self.spare.len() < expected {
                        return Err(CaptureError::CameraBuffer {
                            len: self.spare.len(),
                            expected,
                            width,
                            height,
                            format: layout.name(),
                        });
                    }
                    let pixels = frame.pixels_mut();
                    pixels
                        .try_reshape(width, height, PixelFormat::Rgb8)
                        .map_err(|e| CaptureError::Camera {
                            action: "sizing the frame buffer",
                            source: Box::new(e),
                        })?;
                    layout.to_rgb(&self.spare, width, height, pixels.data_mut());
                }
            }
            frame.sequence = self.sequence;
            frame.capture_time_us = time_us;
            self.sequence += 1;
            Ok(())
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            // The thread notices after the frame it is waiting for, and then
            // closes the camera. It is not joined: a camera that stopped
            // delivering (unplugged) would hang the drop, and with it a
            // program's exit.
            self.shared.stop.store(true, Ordering::Relaxed);
            drop(self.thread.take());
        }
    }

    /// Opens camera `index` in the mode closest to `request` and starts
    /// its stream.
    fn start(
        index: u32,
        name: &str,
        request: &CameraRequest,
    ) -> Result<(Camera, CameraMode), CaptureError> {
        let mut camera = open_camera(index)?;
        let offered = modes(&mut camera)?;
        let mode = choose_mode(&offered, request).ok_or_else(|| CaptureError::NoUsableFormat {
            camera: name.to_owned(),
            offered: offered
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let format = CameraFormat::new(
            Resolution::new(mode.width, mode.height),
            to_nokhwa(mode.format),
            mode.fps,
        );
        if camera.camera_format() != format {
            // An exact request: nokhwa's own "closest" matching is bypassed,
            // since `choose_mode` already picked from what is offered.
            let formats = [format.format()];
            let exact = RequestedFormat::with_formats(RequestedFormatType::Exact(format), &formats);
            camera
                .set_camera_requset(exact)
                .map_err(backend_error("setting the camera's mode"))?;
        }
        camera
            .open_stream()
            .map_err(backend_error("starting the camera's stream"))?;
        Ok((camera, mode))
    }

    /// Reads frames until told to stop or the camera fails for good.
    fn capture_loop(camera: &mut Camera, shared: &Shared, clock: &dyn Clock) {
        let mut work = Vec::new();
        let mut failures = 0;
        while !shared.stop.load(Ordering::Relaxed) {
            match camera.frame_raw() {
                Ok(data) => {
                    failures = 0;
                    work.clear();
                    work.extend_from_slice(&data);
                }
                Err(e) => {
                    failures += 1;
                    if failures >= CAMERA_MAX_READ_FAILURES {
                        let mut slot = shared.lock();
                        slot.failed = Some(backend_error("reading a frame")(e));
                        slot.stopped = true;
                        shared.ready.notify_all();
                        return;
                    }
                    continue;
                }
            }
            let time_us = clock.unix_time_us();
            let mut slot = shared.lock();
            std::mem::swap(&mut slot.buf, &mut work);
            if slot.fresh {
                slot.dropped += 1;
            }
            slot.fresh = true;
            slot.time_us = time_us;
            shared.ready.notify_all();
        }
        let mut slot = shared.lock();
        slot.stopped = true;
        shared.ready.notify_all();
    }
}

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
