//! The side other threads use: [`WindowHandle`] (show raw pictures, close,
//! ask whether the window closed) and [`WindowSink`], a [`FrameSink`] that
//! decodes each frame straight into its stream's tile.

use super::*;

/// The app thread's access to the window. Cheap to clone; every clone is
/// the same window.
#[derive(Clone)]
pub struct WindowHandle {
    pub(super) shared: Arc<Shared>,
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
            tile.arrived(label, sequence, None, About::default());
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

pub(super) fn remove_stream(shared: &Shared, stream: u32) {
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
    pub(super) shared: Arc<Shared>,
    pub(super) pipeline: ReceiverPipeline,
    pub(super) scratch: ImageBuf,
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
            tile.arrived(
                frame.label,
                frame.sequence,
                frame.capture_time_us,
                About::of(frame),
            );
        }
        self.shared.request_redraw()
    }

    fn stream_ended(&mut self, stream: u32) {
        remove_stream(&self.shared, stream);
    }
}
