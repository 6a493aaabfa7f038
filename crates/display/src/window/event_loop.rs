//! The main thread's side: the winit event loop that opens the window,
//! starts the app, blits the tiles and their labels on each wake-up, and
//! closes on q, Esc or the window's close button.

use super::*;

/// The window and its pixel surface.
pub(super) struct Screen {
    pub(super) window: Rc<Window>,
    pub(super) surface: softbuffer::Surface<Rc<Window>, Rc<Window>>,
}

/// Sends [`UserEvent::AppDone`] when the app thread ends, even by a panic.
pub(super) struct AppDone(EventLoopProxy<UserEvent>);

impl Drop for AppDone {
    fn drop(&mut self) {
        // The loop may be gone already (the window was closed first).
        let _ = self.0.send_event(UserEvent::AppDone);
    }
}

/// The event loop's side.
pub(super) struct Runner<F, R> {
    pub(super) shared: Arc<Shared>,
    pub(super) app: Option<F>,
    pub(super) thread: Option<JoinHandle<R>>,
    pub(super) window: Option<Screen>,
    pub(super) error: Option<DisplayError>,
    /// The window title, rebuilt into the same storage.
    pub(super) title: String,
    pub(super) title_at: Option<Instant>,
}

impl<F, R> Runner<F, R>
where
    F: FnOnce(WindowHandle) -> R + Send + 'static,
    R: Send + 'static,
{
    pub(super) fn fail(&mut self, event_loop: &ActiveEventLoop, detail: String) {
        self.error = Some(DisplayError::Window { detail });
        self.close(event_loop);
    }

    pub(super) fn close(&mut self, event_loop: &ActiveEventLoop) {
        self.shared.mark_closed();
        event_loop.exit();
    }

    pub(super) fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<Screen, String> {
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

    pub(super) fn spawn_app(&mut self) -> Result<(), String> {
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

    pub(super) fn draw(&mut self) -> Result<(), String> {
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
pub(super) fn is_close_key(event: &KeyEvent) -> bool {
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
