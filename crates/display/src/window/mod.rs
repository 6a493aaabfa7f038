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
//!
//! This module holds the options and [`run_window`]; `tiles` the shared
//! state, `handle` the side other threads use, `event_loop` the main
//! thread's.

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

mod event_loop;
mod handle;
mod tiles;

use self::event_loop::Runner;
pub use self::handle::{WindowHandle, WindowSink};
use self::tiles::{About, Shared, State, tile_rect};

/// Default [`WindowOptions::max_tiles`]: at most 16 streams (a 4x4 grid) in
/// one window; more would make tiles too small to be useful.
pub const DEFAULT_MAX_TILES: usize = 16;

/// How often the window title (stream, fps, latency) is refreshed. Setting
/// a title is a round trip to the windowing system; once per frame would be
/// wasted work.
pub(super) const TITLE_INTERVAL: Duration = Duration::from_millis(500);

/// The period over which a stream's frame rate is measured.
pub(super) const FPS_INTERVAL: Duration = Duration::from_secs(1);

/// The colour behind tiles and letterbox bars (`0x00RRGGBB`).
pub(super) const BACKGROUND: u32 = 0x0010_1010;

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
pub(super) enum UserEvent {
    /// A tile has a new picture.
    Redraw,
    /// The app thread has returned (or panicked): close the window.
    AppDone,
    /// [`WindowHandle::close`] was called.
    Close,
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

#[cfg(test)]
mod tests {
    use super::tiles::Tile;
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
    fn status_shows_label_fps_latency_quality_size_and_link() {
        let mut tile = Tile::new(0, "peer");
        tile.arrived(
            "10.0.0.1:5000",
            3,
            Some(crate::matroska::now_us() - 20_000),
            About::default(),
        );
        assert!(tile.status.starts_with("0.0 fps  "), "{}", tile.status);
        assert!(
            tile.status.ends_with(" ms  10.0.0.1:5000"),
            "{}",
            tile.status
        );
        assert!(tile.latency_ms.unwrap() >= 20);
        // A capture clock ahead of ours reads as 0 ms, not a wrap-around.
        tile.arrived(
            "x",
            4,
            Some(crate::matroska::now_us() + 10_000_000),
            About::default(),
        );
        assert_eq!(tile.latency_ms, Some(0));
        // What the sender said of the frame: quality, size, its link.
        let about = About {
            quality: Some(40),
            size: Some((320, 240)),
            link_rate_bps: Some(9_800_000),
        };
        tile.arrived("door", 5, None, about);
        assert!(
            tile.status
                .ends_with("fps  q40 320x240  link 9.8 Mbit/s  door"),
            "{}",
            tile.status
        );
        let about = About {
            link_rate_bps: Some(640_000),
            ..About::default()
        };
        tile.arrived("door", 6, None, about);
        assert!(
            tile.status.ends_with("fps  link 640 kbit/s  door"),
            "{}",
            tile.status
        );
        assert_eq!(tile.latency_ms, None);
    }
}
