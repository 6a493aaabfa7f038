//! What the sinks write and the event loop reads: each stream's tile (its
//! latest picture and label), where tiles sit in the window, and the state
//! shared between the threads.

use super::*;

/// One stream's tile: its latest picture and what the label says.
#[derive(Debug)]
pub(super) struct Tile {
    pub(super) stream: u32,
    pub(super) label: String,
    /// The latest picture, `Xrgb32`, usually already at its on-screen size.
    pub(super) image: ImageBuf,
    pub(super) has_image: bool,
    /// The shape the picture is shown at (letterboxed), or `None` to fill
    /// the tile.
    pub(super) shape: Option<(u32, u32)>,
    pub(super) sequence: u64,
    pub(super) shown_sequence: Option<u64>,
    pub(super) latency_ms: Option<u64>,
    pub(super) fps: f32,
    pub(super) fps_frames: u32,
    pub(super) fps_since: Instant,
    /// "30.0 fps  12 ms  q95 400x400  link 9.8 Mbit/s  label", rebuilt
    /// into the same storage per frame.
    pub(super) status: String,
}

/// What a frame says of itself, for the tile's status: what the sender
/// sends (quality, size) and what it thinks its link carries.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct About {
    pub(super) quality: Option<u8>,
    pub(super) size: Option<(u32, u32)>,
    pub(super) link_rate_bps: Option<u64>,
}

impl About {
    pub(super) fn of(frame: &crate::EncodedFrame<'_>) -> Self {
        Self {
            quality: frame.quality,
            size: frame.size,
            link_rate_bps: frame.link_rate_bps,
        }
    }
}

impl Tile {
    pub(super) fn new(stream: u32, label: &str) -> Self {
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
    pub(super) fn arrived(
        &mut self,
        label: &str,
        sequence: u64,
        capture_time_us: Option<u64>,
        about: About,
    ) {
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
        match (about.quality, about.size) {
            (Some(q), Some((w, h))) => {
                let _ = write!(self.status, "  q{q} {w}x{h}");
            }
            (Some(q), None) => {
                let _ = write!(self.status, "  q{q}");
            }
            (None, Some((w, h))) => {
                let _ = write!(self.status, "  {w}x{h}");
            }
            (None, None) => {}
        }
        if let Some(bps) = about.link_rate_bps {
            if bps >= 1_000_000 {
                let _ = write!(self.status, "  link {:.1} Mbit/s", bps as f64 / 1e6);
            } else {
                let _ = write!(self.status, "  link {} kbit/s", bps.div_ceil(1000));
            }
        }
        let _ = write!(self.status, "  {}", self.label);
    }
}

/// Tile `index` of `count` in a `width` x `height` window: a grid of
/// `ceil(sqrt(count))` columns.
pub(super) fn tile_rect(count: usize, index: usize, width: u32, height: u32) -> Rect {
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
pub(super) struct State {
    pub(super) size: (u32, u32),
    /// Sorted by stream id, so tiles keep their places.
    pub(super) tiles: Vec<Tile>,
}

impl State {
    /// The index of `stream`'s tile, creating it if there is room.
    pub(super) fn tile_index(
        &mut self,
        stream: u32,
        label: &str,
        max: usize,
    ) -> Result<usize, DisplayError> {
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
    pub(super) fn picture_rect(&self, index: usize, source: (u32, u32), keep_aspect: bool) -> Rect {
        let tile = tile_rect(self.tiles.len(), index, self.size.0, self.size.1);
        if keep_aspect {
            tile.fit_aspect(source.0, source.1)
        } else {
            tile
        }
    }
}

/// What the event loop and every handle share.
pub(super) struct Shared {
    pub(super) options: WindowOptions,
    pub(super) state: Mutex<State>,
    pub(super) closed: AtomicBool,
    pub(super) closed_lock: Mutex<bool>,
    pub(super) closed_cv: Condvar,
    /// Whether a `Redraw` is already queued: at most one is.
    pub(super) redraw_pending: AtomicBool,
    pub(super) presented: AtomicU64,
    pub(super) proxy: EventLoopProxy<UserEvent>,
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (each update is a swap
        // or a counter), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *self.closed_lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.closed_cv.notify_all();
    }

    pub(super) fn request_redraw(&self) -> Result<(), DisplayError> {
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
