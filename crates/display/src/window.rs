//! The on-screen window: winit owns the main thread, the app runs on a
//! worker thread and feeds frames through a [`WindowHandle`].
//!
//! ```text
//!  main thread (event loop)              app thread (run_window's closure)
//!  ─────────────────────────             ──────────────────────────────────
//!  run_window ─ creates loop+window ───▶ app(handle)
//!                                          WindowSink::show(jpeg)
//!                                            decode + scale (ReceiverPipeline)
//!                                            swap into the stream's tile slot
//!  RedrawRequested ◀── proxy: Redraw ──────  (one wake-up pending at most)
//!    blit tiles + labels, present
//!  q / Esc / close ─▶ closed = true ─────▶ handle.is_closed(), show → Closed
//!  exit, join app ◀─── app returns ─────── (app returning closes the window)
//! ```
//!
//! Each stream has one slot holding its latest decoded picture: a new frame
//! replaces the old one (the producer swaps buffers with the slot, so
//! nothing is copied or allocated in the steady state), and at most one
//! wake-up is queued on the event loop however fast frames arrive. A slow
//! screen therefore skips frames; it never builds a queue. (The wake-up
//! goes through winit's event-loop proxy, a std channel that allocates one
//! block per 31 messages: the window's only steady-state allocation besides
//! the decoder's.)

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use framecast_codec::{
    CodecError, ImageBuf, ImageMut, ImageRef, PixelFormat, ReceiverConfig, ReceiverPipeline,
    probe_jpeg,
};
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::error::EventLoopError;
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop, EventLoopProxy};
use winit::keyboard::{Key, KeyCode, NamedKey, PhysicalKey};
use winit::window::{Window, WindowId};

use crate::null::{DEFAULT_HEIGHT, DEFAULT_WIDTH, check_size};
use crate::pixels::{LABEL_HEIGHT, Rect, blit_scaled, draw_label, fill, supported};
use crate::{DisplayError, EncodedFrame, FrameSink};

/// Default [`WindowOptions::max_tiles`]: at most 16 streams (a 4x4 grid) in
/// one window; more would make tiles too small to be useful.
pub const DEFAULT_MAX_TILES: usize = 16;

/// How often the window title (stream, fps, latency) is refreshed. Setting
/// a title is a round trip to the windowing system; once per frame would be
/// wasted work.
const TITLE_INTERVAL: Duration = Duration::from_millis(500);

/// The period over which a stream's frame rate is measured.
const FPS_INTERVAL: Duration = Duration::from_secs(1);

/// The colour behind tiles and letterbox bars (`0x00RRGGBB`).
const BACKGROUND: u32 = 0x0010_1010;

/// How the window looks.
///
/// ```
/// use framecast_display::WindowOptions;
///
/// let options = WindowOptions::default().with_size(1024, 768).with_keep_aspect(true);
/// assert_eq!((options.width, options.height), (1024, 768));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowOptions {
    /// The title's first part; stream, fps and latency follow it.
    pub title: String,
    /// Initial inner width in pixels (default [`DEFAULT_WIDTH`]).
    pub width: u32,
    /// Initial inner height in pixels (default [`DEFAULT_HEIGHT`]).
    pub height: u32,
    /// Keep each picture's own aspect ratio, with bars around it, when its
    /// sender did not say the shape it was captured at (pictures whose
    /// sender did are always shown at that shape, letterboxed); otherwise
    /// such pictures are stretched over their tile, as the original
    /// programs showed them.
    pub keep_aspect: bool,
    /// The most streams shown at once (default [`DEFAULT_MAX_TILES`]).
    pub max_tiles: usize,
    /// The decoder's configuration (its limits refuse oversized pictures).
    pub decoder: ReceiverConfig,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self {
            title: "framecast".to_owned(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            keep_aspect: false,
            max_tiles: DEFAULT_MAX_TILES,
            decoder: ReceiverConfig::default(),
        }
    }
}

impl WindowOptions {
    /// Sets [`WindowOptions::title`].
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the initial inner size.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets [`WindowOptions::keep_aspect`].
    pub fn with_keep_aspect(mut self, keep_aspect: bool) -> Self {
        self.keep_aspect = keep_aspect;
        self
    }

    /// Sets [`WindowOptions::max_tiles`].
    pub fn with_max_tiles(mut self, max_tiles: usize) -> Self {
        self.max_tiles = max_tiles;
        self
    }

    /// Sets [`WindowOptions::decoder`].
    pub fn with_decoder(mut self, decoder: ReceiverConfig) -> Self {
        self.decoder = decoder;
        self
    }
}

/// What other threads ask of the event loop.
#[derive(Debug, Clone, Copy)]
enum UserEvent {
    /// A tile has a new picture.
    Redraw,
    /// The app thread has returned (or panicked): close the window.
    AppDone,
    /// [`WindowHandle::close`] was called.
    Close,
}

/// One stream's tile: its latest picture and what the label says.
#[derive(Debug)]
struct Tile {
    stream: u32,
    label: String,
    /// The latest picture, `Xrgb32`, usually already at its on-screen size.
    image: ImageBuf,
    has_image: bool,
    /// The shape the picture is shown at (letterboxed), or `None` to fill
    /// the tile.
    shape: Option<(u32, u32)>,
    sequence: u64,
    shown_sequence: Option<u64>,
    latency_ms: Option<u64>,
    fps: f32,
    fps_frames: u32,
    fps_since: Instant,
    /// "30.0 fps  12 ms  label", rebuilt into the same storage per frame.
    status: String,
}

impl Tile {
    fn new(stream: u32, label: &str) -> Self {
        Self {
            stream,
            label: label.to_owned(),
            image: ImageBuf::empty(PixelFormat::Xrgb32),
            has_image: false,
            shape: None,
            sequence: 0,
            shown_sequence: None,
            latency_ms: None,
            fps: 0.0,
            fps_frames: 0,
            fps_since: Instant::now(),
            status: String::new(),
        }
    }

    /// Records a frame's arrival: label, fps, latency, status text.
    fn arrived(&mut self, label: &str, sequence: u64, capture_time_us: Option<u64>) {
        if self.label != label {
            self.label.clear();
            self.label.push_str(label);
        }
        self.sequence = sequence;
        let now = Instant::now();
        self.fps_frames += 1;
        let elapsed = now.duration_since(self.fps_since);
        if elapsed >= FPS_INTERVAL {
            self.fps = self.fps_frames as f32 / elapsed.as_secs_f32();
            self.fps_frames = 0;
            self.fps_since = now;
        }
        self.latency_ms =
            capture_time_us.map(|t| crate::matroska::now_us().saturating_sub(t) / 1000);
        self.status.clear();
        // Writing to a String cannot fail.
        // Numbers first, so a long label cut at the tile's edge never hides
        // them.
        let _ = write!(self.status, "{:.1} fps", self.fps);
        if let Some(ms) = self.latency_ms {
            let _ = write!(self.status, "  {ms} ms");
        }
        let _ = write!(self.status, "  {}", self.label);
    }
}

/// Tile `index` of `count` in a `width` x `height` window: a grid of
/// `ceil(sqrt(count))` columns.
fn tile_rect(count: usize, index: usize, width: u32, height: u32) -> Rect {
    let count = count.max(1) as u64;
    let cols = (1..=count).find(|c| c * c >= count).unwrap_or(1);
    let rows = count.div_ceil(cols);
    let (col, row) = (index as u64 % cols, index as u64 / cols);
    let (w, h) = (u64::from(width), u64::from(height));
    let x0 = col * w / cols;
    let x1 = (col + 1) * w / cols;
    let y0 = row * h / rows;
    let y1 = (row + 1) * h / rows;
    Rect {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
}

/// The tiles and the window size, behind one lock.
#[derive(Debug)]
struct State {
    size: (u32, u32),
    /// Sorted by stream id, so tiles keep their places.
    tiles: Vec<Tile>,
}

impl State {
    /// The index of `stream`'s tile, creating it if there is room.
    fn tile_index(&mut self, stream: u32, label: &str, max: usize) -> Result<usize, DisplayError> {
        match self.tiles.binary_search_by_key(&stream, |t| t.stream) {
            Ok(i) => Ok(i),
            Err(_) if self.tiles.len() >= max => Err(DisplayError::TooManyStreams { stream, max }),
            Err(i) => {
                self.tiles.insert(i, Tile::new(stream, label));
                Ok(i)
            }
        }
    }

    /// Where tile `index`'s picture goes on screen.
    fn picture_rect(&self, index: usize, source: (u32, u32), keep_aspect: bool) -> Rect {
        let tile = tile_rect(self.tiles.len(), index, self.size.0, self.size.1);
        if keep_aspect {
            tile.fit_aspect(source.0, source.1)
        } else {
            tile
        }
    }
}

/// What the event loop and every handle share.
struct Shared {
    options: WindowOptions,
    state: Mutex<State>,
    closed: AtomicBool,
    closed_lock: Mutex<bool>,
    closed_cv: Condvar,
    /// Whether a `Redraw` is already queued: at most one is.
    redraw_pending: AtomicBool,
    presented: AtomicU64,
    proxy: EventLoopProxy<UserEvent>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (each update is a swap
        // or a counter), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *self.closed_lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.closed_cv.notify_all();
    }

    fn request_redraw(&self) -> Result<(), DisplayError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(DisplayError::Closed);
        }
        if !self.redraw_pending.swap(true, Ordering::AcqRel) {
            self.proxy
                .send_event(UserEvent::Redraw)
                .map_err(|_| DisplayError::Closed)?;
        }
        Ok(())
    }
}

/// The app thread's access to the window. Cheap to clone; every clone is
/// the same window.
#[derive(Clone)]
pub struct WindowHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WindowHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowHandle")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl WindowHandle {
    /// A [`FrameSink`] showing received frames in this window. Each sink has
    /// its own decoder, so give each receiving thread its own.
    pub fn sink(&self) -> WindowSink {
        WindowSink {
            shared: Arc::clone(&self.shared),
            pipeline: ReceiverPipeline::new(self.shared.options.decoder),
            scratch: ImageBuf::empty(PixelFormat::Xrgb32),
        }
    }

    /// Shows raw pixels (e.g. the sender's own camera preview) as `stream`'s
    /// tile. Any [`PixelFormat`] the codec crate defines today is accepted;
    /// the picture is copied, so `image` can be reused right away.
    pub fn show_pixels(
        &self,
        stream: u32,
        label: &str,
        image: ImageRef<'_>,
    ) -> Result<(), DisplayError> {
        if self.is_closed() {
            return Err(DisplayError::Closed);
        }
        if !supported(image.format()) {
            return Err(DisplayError::UnsupportedFormat {
                format: image.format(),
            });
        }
        let (w, h) = (image.width(), image.height());
        check_size(w, h, &self.shared.options.decoder)?;
        {
            let mut state = self.shared.state();
            let i = state.tile_index(stream, label, self.shared.options.max_tiles)?;
            let tile = &mut state.tiles[i];
            tile.image
                .try_reshape(w, h, PixelFormat::Xrgb32)
                .map_err(DisplayError::Image)?;
            let full = Rect {
                x: 0,
                y: 0,
                width: w,
                height: h,
            };
            blit_scaled(&image, &mut tile.image.as_image_mut(), full);
            tile.has_image = true;
            tile.shape = self.shared.options.keep_aspect.then_some((w, h));
            let sequence = tile.sequence.wrapping_add(1);
            tile.arrived(label, sequence, None);
        }
        self.shared.request_redraw()
    }

    /// Removes `stream`'s tile.
    pub fn remove_stream(&self, stream: u32) {
        remove_stream(&self.shared, stream);
    }

    /// Whether the window has been closed (by the user, by
    /// [`WindowHandle::close`], or because the app returned).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Blocks until the window is closed.
    pub fn wait_closed(&self) {
        let mut closed = self
            .shared
            .closed_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while !*closed {
            closed = self
                .shared
                .closed_cv
                .wait(closed)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Blocks until the window is closed or `timeout` passes; returns
    /// whether it is closed.
    pub fn wait_closed_timeout(&self, timeout: Duration) -> bool {
        let closed = self
            .shared
            .closed_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (closed, _) = self
            .shared
            .closed_cv
            .wait_timeout_while(closed, timeout, |closed| !*closed)
            .unwrap_or_else(|e| e.into_inner());
        *closed
    }

    /// Closes the window; [`run_window`] returns once the app has returned.
    pub fn close(&self) {
        self.shared.mark_closed();
        // If the loop is gone already there is nothing left to close.
        let _ = self.shared.proxy.send_event(UserEvent::Close);
    }

    /// How many times the window has been drawn.
    pub fn frames_presented(&self) -> u64 {
        self.shared.presented.load(Ordering::SeqCst)
    }

    /// The sequence number of `stream`'s latest frame that is on screen,
    /// if any.
    pub fn shown_sequence(&self, stream: u32) -> Option<u64> {
        let state = self.shared.state();
        state
            .tiles
            .binary_search_by_key(&stream, |t| t.stream)
            .ok()
            .and_then(|i| state.tiles[i].shown_sequence)
    }

    /// The window's current inner size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.shared.state().size
    }
}

fn remove_stream(shared: &Shared, stream: u32) {
    let mut state = shared.state();
    if let Ok(i) = state.tiles.binary_search_by_key(&stream, |t| t.stream) {
        state.tiles.remove(i);
        drop(state);
        // A closed window has nothing to redraw.
        let _ = shared.request_redraw();
    }
}

/// A [`FrameSink`] that shows frames in the window; from
/// [`WindowHandle::sink`].
///
/// `show` decodes the JPEG and scales it to its tile's size on the calling
/// thread (so several receiving threads decode in parallel), then hands the
/// picture to the window; the window's thread only copies pixels. It fails
/// with [`DisplayError::Closed`] once the window is closed: stop sending.
pub struct WindowSink {
    shared: Arc<Shared>,
    pipeline: ReceiverPipeline,
    scratch: ImageBuf,
}

impl std::fmt::Debug for WindowSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowSink").finish_non_exhaustive()
    }
}

impl FrameSink for WindowSink {
    fn show(&mut self, frame: &EncodedFrame<'_>) -> Result<(), DisplayError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(DisplayError::Closed);
        }
        let decode_error = |source: CodecError| DisplayError::Decode {
            stream: frame.stream,
            sequence: frame.sequence,
            source,
        };
        // The shape to show: the captured picture's, when the sender said
        // (a 640x360 camera sent at 400x400 is shown 16:9, letterboxed);
        // else, with `keep_aspect`, the JPEG's own, from its header (no
        // decoding), to size the letterbox before decoding straight to the
        // on-screen size; else the whole tile.
        let shape = match frame.source_size {
            Some(size) => Some(size),
            None if self.shared.options.keep_aspect => {
                let info = probe_jpeg(frame.jpeg).map_err(|e| decode_error(e.into()))?;
                Some((info.width, info.height))
            }
            None => None,
        };
        let target = {
            let mut state = self.shared.state();
            let i = state.tile_index(frame.stream, frame.label, self.shared.options.max_tiles)?;
            state.picture_rect(i, shape.unwrap_or((1, 1)), shape.is_some())
        };
        self.pipeline
            .decode_to(
                frame.jpeg,
                target.width.max(1),
                target.height.max(1),
                PixelFormat::Xrgb32,
                &mut self.scratch,
            )
            .map_err(decode_error)?;
        {
            let mut state = self.shared.state();
            // The tile may have gone meanwhile (stream_ended on another
            // thread); then it comes back.
            let i = state.tile_index(frame.stream, frame.label, self.shared.options.max_tiles)?;
            let tile = &mut state.tiles[i];
            std::mem::swap(&mut tile.image, &mut self.scratch);
            tile.has_image = true;
            tile.shape = shape;
            tile.arrived(frame.label, frame.sequence, frame.capture_time_us);
        }
        self.shared.request_redraw()
    }

    fn stream_ended(&mut self, stream: u32) {
        remove_stream(&self.shared, stream);
    }
}

/// What the windowing library said, without the source location it puts in
/// front (`os error at /path/to/winit/src/...rs:123: ...`), which means
/// nothing to a user.
fn detail(text: &str) -> String {
    match text.strip_prefix("os error at ") {
        Some(rest) => rest
            .split_once(": ")
            .map_or(rest, |(_, message)| message)
            .to_owned(),
        None => text.to_owned(),
    }
}

/// Maps the event loop's creation error to ours.
fn loop_error(e: EventLoopError) -> DisplayError {
    match e {
        EventLoopError::RecreationAttempt => DisplayError::EventLoopRecreated,
        EventLoopError::Os(e) => DisplayError::NoDisplay {
            detail: detail(&e.to_string()),
        },
        EventLoopError::NotSupported(e) => DisplayError::NoDisplay {
            detail: detail(&e.to_string()),
        },
        other => DisplayError::Window {
            detail: other.to_string(),
        },
    }
}

/// Opens the window on the calling thread, runs `app` on a new thread with a
/// [`WindowHandle`], and returns `app`'s result once both are done.
///
/// Call it from the main thread: the windowing system's event loop must own
/// it (on some platforms it must be the process's first thread), and winit
/// allows one event loop per process, so call it at most once.
///
/// The window stays open until the user closes it (`q`, Esc, or the close
/// button), [`WindowHandle::close`] is called, or `app` returns. After the
/// window closes, `run_window` waits for `app` to return: the app should
/// watch [`WindowHandle::is_closed`] (its [`WindowSink`] returns
/// [`DisplayError::Closed`]). A panic in `app` is resumed on the caller.
///
/// Fails with [`DisplayError::NoDisplay`] (before running `app`) when no
/// windowing system can be reached.
///
/// ```no_run
/// use framecast_display::{EncodedFrame, FrameSink, WindowOptions, run_window};
///
/// let jpeg: Vec<u8> = std::fs::read("frame.jpg")?;
/// let shown = run_window(WindowOptions::default(), move |window| {
///     let mut sink = window.sink();
///     let mut sequence = 0;
///     while !window.is_closed() {
///         let frame = EncodedFrame::new(0, "file", &jpeg).with_sequence(sequence);
///         if sink.show(&frame).is_err() {
///             break;
///         }
///         sequence += 1;
///         std::thread::sleep(std::time::Duration::from_millis(33));
///     }
///     sequence
/// })?;
/// println!("showed {shown} frames");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_window<R, F>(options: WindowOptions, app: F) -> Result<R, DisplayError>
where
    F: FnOnce(WindowHandle) -> R + Send + 'static,
    R: Send + 'static,
{
    check_size(options.width, options.height, &options.decoder)?;
    if options.max_tiles == 0 {
        return Err(DisplayError::InvalidSize {
            width: options.width,
            height: options.height,
            reason: "max_tiles must be at least 1",
        });
    }
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .map_err(loop_error)?;
    event_loop.set_control_flow(ControlFlow::Wait);
    let size = (options.width, options.height);
    let shared = Arc::new(Shared {
        options,
        state: Mutex::new(State {
            size,
            tiles: Vec::new(),
        }),
        closed: AtomicBool::new(false),
        closed_lock: Mutex::new(false),
        closed_cv: Condvar::new(),
        redraw_pending: AtomicBool::new(false),
        presented: AtomicU64::new(0),
        proxy: event_loop.create_proxy(),
    });
    let mut runner = Runner {
        shared: Arc::clone(&shared),
        app: Some(app),
        thread: None,
        window: None,
        error: None,
        title: String::new(),
        title_at: None,
    };
    let run = event_loop.run_app(&mut runner);
    shared.mark_closed();
    // Drop the surface and window before waiting for the app.
    runner.window = None;
    let joined = runner.thread.take().map(JoinHandle::join);
    if let Some(e) = runner.error.take() {
        return Err(e);
    }
    run.map_err(|e| DisplayError::Window {
        detail: e.to_string(),
    })?;
    match joined {
        Some(Ok(r)) => Ok(r),
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => Err(DisplayError::Window {
            detail: "the event loop ended before the window was created".to_owned(),
        }),
    }
}

/// The window and its pixel surface.
struct Screen {
    window: Rc<Window>,
    surface: softbuffer::Surface<Rc<Window>, Rc<Window>>,
}

/// Sends [`UserEvent::AppDone`] when the app thread ends, even by a panic.
struct AppDone(EventLoopProxy<UserEvent>);

impl Drop for AppDone {
    fn drop(&mut self) {
        // The loop may be gone already (the window was closed first).
        let _ = self.0.send_event(UserEvent::AppDone);
    }
}

/// The event loop's side.
struct Runner<F, R> {
    shared: Arc<Shared>,
    app: Option<F>,
    thread: Option<JoinHandle<R>>,
    window: Option<Screen>,
    error: Option<DisplayError>,
    /// The window title, rebuilt into the same storage.
    title: String,
    title_at: Option<Instant>,
}

impl<F, R> Runner<F, R>
where
    F: FnOnce(WindowHandle) -> R + Send + 'static,
    R: Send + 'static,
{
    fn fail(&mut self, event_loop: &ActiveEventLoop, detail: String) {
        self.error = Some(DisplayError::Window { detail });
        self.close(event_loop);
    }

    fn close(&mut self, event_loop: &ActiveEventLoop) {
        self.shared.mark_closed();
        event_loop.exit();
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<Screen, String> {
        let options = &self.shared.options;
        let attributes = Window::default_attributes()
            .with_title(options.title.clone())
            .with_inner_size(PhysicalSize::new(options.width, options.height))
            .with_resizable(true);
        let window = Rc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| format!("cannot create the window: {e}"))?,
        );
        let context = softbuffer::Context::new(Rc::clone(&window))
            .map_err(|e| format!("cannot reach the display for drawing: {e}"))?;
        let surface = softbuffer::Surface::new(&context, Rc::clone(&window))
            .map_err(|e| format!("cannot create the drawing surface: {e}"))?;
        Ok(Screen { window, surface })
    }

    fn spawn_app(&mut self) -> Result<(), String> {
        let Some(app) = self.app.take() else {
            return Ok(());
        };
        let handle = WindowHandle {
            shared: Arc::clone(&self.shared),
        };
        let done = AppDone(self.shared.proxy.clone());
        let thread = std::thread::Builder::new()
            .name("framecast-app".to_owned())
            .spawn(move || {
                let _done = done;
                app(handle)
            })
            .map_err(|e| format!("cannot start the app thread: {e}"))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn draw(&mut self) -> Result<(), String> {
        let Some(screen) = self.window.as_mut() else {
            return Ok(());
        };
        let size = screen.window.inner_size();
        let (Some(w), Some(h)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height)) else {
            return Ok(()); // minimised: nothing to draw
        };
        screen
            .surface
            .resize(w, h)
            .map_err(|e| format!("cannot resize the drawing surface: {e}"))?;
        let mut buffer = screen
            .surface
            .buffer_mut()
            .map_err(|e| format!("cannot get the drawing buffer: {e}"))?;
        // Cleared before reading the tiles: a frame arriving while we draw
        // queues another redraw rather than being missed.
        self.shared.redraw_pending.store(false, Ordering::Release);
        let mut canvas = ImageMut::from_xrgb32(w.get(), h.get(), &mut buffer)
            .map_err(|e| format!("drawing buffer of unexpected size: {e}"))?;
        let full = Rect {
            x: 0,
            y: 0,
            width: w.get(),
            height: h.get(),
        };
        fill(&mut canvas, full, BACKGROUND);
        let mut title_due = self.title_at.is_none_or(|t| t.elapsed() >= TITLE_INTERVAL);
        {
            let mut state = self.shared.state();
            state.size = (w.get(), h.get());
            let count = state.tiles.len();
            if count == 0 {
                draw_label(
                    &mut canvas,
                    4,
                    4,
                    w.get().saturating_sub(8),
                    "waiting for frames",
                );
            }
            for i in 0..count {
                let tile_area = tile_rect(count, i, w.get(), h.get());
                let shape = state.tiles[i].shape;
                let picture = state.picture_rect(i, shape.unwrap_or((1, 1)), shape.is_some());
                let tile = &mut state.tiles[i];
                if tile.has_image {
                    blit_scaled(&tile.image.as_image(), &mut canvas, picture);
                    tile.shown_sequence = Some(tile.sequence);
                }
                if tile_area.height > LABEL_HEIGHT {
                    draw_label(
                        &mut canvas,
                        tile_area.x + 2,
                        tile_area.y + 2,
                        tile_area.width.saturating_sub(4),
                        &tile.status,
                    );
                }
            }
            if title_due {
                self.title.clear();
                self.title.push_str(&self.shared.options.title);
                // Writing to a String cannot fail.
                match state.tiles.as_slice() {
                    [] => {}
                    [tile] => {
                        let _ = write!(self.title, " - {}", tile.status);
                    }
                    tiles => {
                        let _ = write!(self.title, " - {} streams", tiles.len());
                    }
                }
            } else {
                title_due = false;
            }
        }
        buffer
            .present()
            .map_err(|e| format!("cannot show the picture: {e}"))?;
        if title_due {
            screen.window.set_title(&self.title);
            self.title_at = Some(Instant::now());
        }
        self.shared.presented.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Whether a key press asks to close the window: `q` or Esc, as in the
/// original.
fn is_close_key(event: &KeyEvent) -> bool {
    if event.state != ElementState::Pressed {
        return false;
    }
    let logical = match &event.logical_key {
        Key::Named(NamedKey::Escape) => true,
        Key::Character(c) => c.eq_ignore_ascii_case("q"),
        _ => false,
    };
    logical
        || matches!(
            event.physical_key,
            PhysicalKey::Code(KeyCode::KeyQ | KeyCode::Escape)
        )
}

impl<F, R> ApplicationHandler<UserEvent> for Runner<F, R>
where
    F: FnOnce(WindowHandle) -> R + Send + 'static,
    R: Send + 'static,
{
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.window.is_some() || self.shared.closed.load(Ordering::SeqCst) {
            return;
        }
        match self.open(event_loop) {
            Ok(screen) => {
                screen.window.request_redraw();
                self.window = Some(screen);
            }
            Err(detail) => return self.fail(event_loop, detail),
        }
        if let Err(detail) = self.spawn_app() {
            self.fail(event_loop, detail);
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: UserEvent) {
        match event {
            UserEvent::Redraw => {
                if let Some(screen) = &self.window {
                    screen.window.request_redraw();
                }
            }
            UserEvent::AppDone | UserEvent::Close => self.close(event_loop),
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => self.close(event_loop),
            WindowEvent::KeyboardInput { event, .. } if is_close_key(&event) => {
                self.close(event_loop)
            }
            WindowEvent::Resized(size) => {
                self.shared.state().size = (size.width, size.height);
                if let Some(screen) = &self.window {
                    screen.window.request_redraw();
                }
            }
            WindowEvent::RedrawRequested => {
                if let Err(detail) = self.draw() {
                    self.fail(event_loop, detail);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_form_a_grid_covering_the_window() {
        assert_eq!(
            tile_rect(1, 0, 800, 600),
            Rect {
                x: 0,
                y: 0,
                width: 800,
                height: 600
            }
        );
        assert_eq!(
            tile_rect(2, 1, 800, 600),
            Rect {
                x: 400,
                y: 0,
                width: 400,
                height: 600
            }
        );
        // 3 streams: 2x2 grid, the last cell empty.
        assert_eq!(
            tile_rect(3, 2, 800, 600),
            Rect {
                x: 0,
                y: 300,
                width: 400,
                height: 300
            }
        );
        // Odd sizes: cells meet exactly, no gaps.
        let a = tile_rect(3, 0, 801, 601);
        let b = tile_rect(3, 1, 801, 601);
        assert_eq!(a.x + a.width, b.x);
        assert_eq!(b.x + b.width, 801);
        for n in 1..=DEFAULT_MAX_TILES {
            let area: u64 = (0..n)
                .map(|i| tile_rect(n, i, 640, 480))
                .map(|r| u64::from(r.width) * u64::from(r.height))
                .sum();
            assert!(area <= 640 * 480);
        }
    }

    #[test]
    fn tiles_are_refused_beyond_the_limit() {
        let mut state = State {
            size: (800, 600),
            tiles: Vec::new(),
        };
        assert_eq!(state.tile_index(5, "a", 2).unwrap(), 0);
        assert_eq!(state.tile_index(1, "b", 2).unwrap(), 0);
        assert_eq!(state.tile_index(5, "a", 2).unwrap(), 1);
        let err = state.tile_index(9, "c", 2).unwrap_err();
        assert!(matches!(
            err,
            DisplayError::TooManyStreams { stream: 9, max: 2 }
        ));
        assert!(err.to_string().contains("max_tiles"));
    }

    #[test]
    fn status_shows_label_fps_and_latency() {
        let mut tile = Tile::new(0, "peer");
        tile.arrived("10.0.0.1:5000", 3, Some(crate::matroska::now_us() - 20_000));
        assert!(tile.status.starts_with("0.0 fps  "), "{}", tile.status);
        assert!(
            tile.status.ends_with(" ms  10.0.0.1:5000"),
            "{}",
            tile.status
        );
        assert!(tile.latency_ms.unwrap() >= 20);
        // A capture clock ahead of ours reads as 0 ms, not a wrap-around.
        tile.arrived("x", 4, Some(crate::matroska::now_us() + 10_000_000));
        assert_eq!(tile.latency_ms, Some(0));
    }
}
