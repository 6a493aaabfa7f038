//! The camera backend on nokhwa (feature `camera`): device queries, the
//! capture thread that owns the camera (its handle is not `Send`) and keeps
//! the newest frame in a slot, and the hand-over of that frame, passed
//! through as JPEG or converted to RGB.

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
    CAMERA_FRAME_TIMEOUT, CAMERA_MAX_READ_FAILURES, CameraDevice, CameraMode, CameraPixelFormat,
    CameraRequest, CameraSelector, choose_mode,
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
