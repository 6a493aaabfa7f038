//! [`ReceiverBuilder`]: every setting of a receiver, each checked when it
//! starts (a value that cannot work is a [`StreamError::Config`], never
//! clamped), and `start`, which binds and spawns the runtime and workers.

use super::*;

/// Configures and starts a [`Receiver`].
///
/// Every limit has a documented default (see [`crate::limits`]); a value
/// that cannot work (zero workers, a zero timeout) makes
/// [`start`](Self::start) fail with [`StreamError::Config`] rather than
/// being quietly changed.
pub struct ReceiverBuilder {
    listen: SocketAddr,
    config: Config,
    sinks: Option<SinkFactory>,
    hook: Option<ReceiverHook>,
}

impl std::fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("listen", &self.listen)
            .field("config", &self.config)
            .field("sinks", &self.sinks.is_some())
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    /// A receiver that will listen on `listen` (port 0 picks a free port;
    /// see [`Receiver::local_addr`]), with the framecast framing, every
    /// default limit, and no sink (frames are counted as shown and
    /// dropped).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            config: Config {
                prefix: Prefix::U32Le,
                max_frame_len: framecast_wire::DEFAULT_MAX_FRAME_LEN,
                max_clients: DEFAULT_MAX_CLIENTS,
                max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
                max_pixels: DEFAULT_MAX_PIXELS,
                handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                trickle_timeout: DEFAULT_TRICKLE_TIMEOUT,
                max_ended_streams: DEFAULT_MAX_ENDED_STREAMS,
                max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
                max_latency_age: DEFAULT_MAX_LATENCY_AGE,
                busy_retry_after: DEFAULT_BUSY_RETRY_AFTER,
                frame_buffers: FRAME_BUFFERS_PER_STREAM,
                count: None,
                sink_delay: Duration::ZERO,
                workers: default_workers(),
                slow_frame: DEFAULT_SLOW_FRAME,
                io_threads: DEFAULT_IO_THREADS,
                #[cfg(feature = "tls")]
                tls: None,
                #[cfg(feature = "tls")]
                token: None,
            },
            sinks: None,
            hook: None,
        }
    }

    /// The length prefix senders use ([`Prefix::LegacyI64Le`] for the
    /// original Python client; that framing has no session handshake).
    pub fn framing(mut self, prefix: Prefix) -> Self {
        self.config.prefix = prefix;
        self
    }

    /// The largest frame accepted (default: the wire's 8 MiB); a sender
    /// announcing a longer one is disconnected.
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.config.max_frame_len = len;
        self
    }

    /// How many senders are served at once (default
    /// [`DEFAULT_MAX_CLIENTS`]); the next one is refused as busy.
    pub fn max_clients(mut self, n: usize) -> Self {
        self.config.max_clients = n;
        self
    }

    /// How many connections may wait for their handshake at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`]).
    pub fn max_pending_handshakes(mut self, n: usize) -> Self {
        self.config.max_pending_handshakes = n;
        self
    }

    /// The largest picture decoded, in pixels (default
    /// [`DEFAULT_MAX_PIXELS`]); a frame whose JPEG header says more is
    /// corrupt.
    pub fn max_pixels(mut self, pixels: u64) -> Self {
        self.config.max_pixels = pixels;
        self
    }

    /// How long a connection has to send its hello (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.config.handshake_timeout = t;
        self
    }

    /// How long a stream may go without a complete frame (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.config.idle_timeout = t;
        self
    }

    /// How long one frame may take from its first byte to its last
    /// (default [`DEFAULT_TRICKLE_TIMEOUT`]).
    pub fn trickle_timeout(mut self, t: Duration) -> Self {
        self.config.trickle_timeout = t;
        self
    }

    /// How many ended streams keep their own counters in the stats
    /// (default [`DEFAULT_MAX_ENDED_STREAMS`]).
    pub fn max_ended_streams(mut self, n: usize) -> Self {
        self.config.max_ended_streams = n;
        self
    }

    /// The capture-time window that counts towards latency: at most `skew`
    /// in the future, at most `max_age` in the past (defaults
    /// [`DEFAULT_MAX_CLOCK_SKEW`], [`DEFAULT_MAX_LATENCY_AGE`]).
    pub fn latency_window(mut self, skew: Duration, max_age: Duration) -> Self {
        self.config.max_clock_skew = skew;
        self.config.max_latency_age = max_age;
        self
    }

    /// What a busy receiver asks senders to wait before trying again
    /// (default [`DEFAULT_BUSY_RETRY_AFTER`]).
    pub fn busy_retry_after(mut self, t: Duration) -> Self {
        self.config.busy_retry_after = t;
        self
    }

    /// Stops after `n` frames were received over all streams (shown,
    /// dropped or corrupt): a script that sends `n` frames always ends.
    pub fn count(mut self, n: u64) -> Self {
        self.config.count = Some(n);
        self
    }

    /// Decode workers (default: one per available core): `n` that take
    /// only streams whose frames are cheap, and `n` more that take any
    /// stream, slow ones too (see [`slow_frame`](Self::slow_frame)).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n;
        self
    }

    /// A stream whose next frame is predicted to take longer than this to
    /// show (decode, scale, sink) is served only by the slow lane of
    /// workers, so that it never holds back a cheap stream (default
    /// [`DEFAULT_SLOW_FRAME`]). The prediction is the stream's measured
    /// cost per pixel times the frame's pixels.
    pub fn slow_frame(mut self, t: Duration) -> Self {
        self.config.slow_frame = t;
        self
    }

    /// Threads of the network runtime (default [`DEFAULT_IO_THREADS`]).
    pub fn io_threads(mut self, n: usize) -> Self {
        self.config.io_threads = n;
        self
    }

    /// The sinks: `factory` is called once per worker thread (with its
    /// index: `0..2 × workers`, the fast lane first) and the worker hands
    /// every frame it takes to what it returned. Use
    /// [`framecast_display::Tee`] for several.
    pub fn sinks(
        mut self,
        factory: impl Fn(usize) -> Result<Box<dyn FrameSink>, DisplayError> + Send + Sync + 'static,
    ) -> Self {
        self.sinks = Some(Box::new(factory));
        self
    }

    /// Requires TLS on every connection, with this server configuration
    /// (see `framecast_tls::ServerTls`). A plaintext sender is refused with
    /// a status saying TLS is required (feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: std::sync::Arc<rustls::ServerConfig>) -> Self {
        self.config.tls = Some(Acceptor(tokio_rustls::TlsAcceptor::from(config)));
        self
    }

    /// Requires every sender's hello to carry `token` (compared in constant
    /// time); others are refused as unauthenticated before any frame is
    /// read (feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn token(mut self, token: framecast_tls::Token) -> Self {
        self.config.token = Some(token);
        self
    }

    /// Sees every event (connections, refusals, timeouts) before the
    /// receiver logs it, and returns what the user can do about it in the
    /// program's own terms (a hint, added to the log line), if anything.
    pub fn on_event(
        mut self,
        hook: impl Fn(&ReceiverEvent<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Makes each worker sleep this long per frame: a test knob that
    /// simulates a slow display. Hidden: it is no setting a program should
    /// use, but the binary's own hidden test flag (`--sink-delay-ms`) needs
    /// it in a normal build, so it cannot hide behind a feature.
    #[doc(hidden)]
    pub fn sink_delay(mut self, delay: Duration) -> Self {
        self.config.sink_delay = delay;
        self
    }

    fn check(&self) -> Result<(), StreamError> {
        let c = &self.config;
        let bad =
            |what: &'static str, reason: &'static str| Err(StreamError::Config { what, reason });
        if c.max_clients == 0 {
            return bad("max_clients", "must be at least 1");
        }
        if c.max_pending_handshakes == 0 {
            return bad("max_pending_handshakes", "must be at least 1");
        }
        if c.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if c.slow_frame.is_zero() {
            return bad("slow_frame", "must be longer than zero");
        }
        if c.io_threads == 0 {
            return bad("io_threads", "must be at least 1");
        }
        if c.max_pixels == 0 {
            return bad("max_pixels", "must be at least 1");
        }
        for (what, t) in [
            ("handshake_timeout", c.handshake_timeout),
            ("idle_timeout", c.idle_timeout),
            ("trickle_timeout", c.trickle_timeout),
        ] {
            if t.is_zero() {
                return bad(what, "must be longer than zero");
            }
        }
        if c.count == Some(0) {
            return bad("count", "must be at least 1");
        }
        #[cfg(feature = "tls")]
        if c.prefix != Prefix::U32Le && (c.tls.is_some() || c.token.is_some()) {
            return bad(
                "framing",
                "the legacy framing cannot carry TLS or a token (it has no handshake)",
            );
        }
        Ok(())
    }

    /// Binds the address, starts the network runtime and the workers.
    ///
    /// # Errors
    ///
    /// [`StreamError::Config`] for a setting that cannot work,
    /// [`StreamError::Bind`] when the address cannot be listened on,
    /// [`StreamError::Display`] when a sink cannot be made,
    /// [`StreamError::Spawn`] when a thread cannot be started.
    pub fn start(self) -> Result<Receiver, StreamError> {
        self.check()?;
        let config = self.config;
        let bind = |source| StreamError::Bind {
            addr: self.listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(self.listen).map_err(bind)?;
        let local_addr = std_listener.local_addr().map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads)
            .thread_name("framecast-io")
            .enable_all()
            .build()
            .map_err(|source| StreamError::Spawn { what: "io", source })?;
        let listener = {
            let _enter = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        // The fast lane, then as many slow-lane workers.
        let threads = 2 * config.workers;
        let mut sinks = Vec::with_capacity(threads);
        for i in 0..threads {
            sinks.push(match &self.sinks {
                Some(factory) => Some(factory(i)?),
                None => None,
            });
        }
        let (frames_tx, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
        let shared = Arc::new(Shared {
            registry: Registry::new(config.max_clients, config.max_ended_streams),
            pool: Pool::new(
                config.workers,
                config.workers,
                config.max_clients,
                config.slow_frame,
            ),
            cancel: CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            counters: Counters::default(),
            frames_tx: Mutex::new(Some(frames_tx)),
            shown_tx: Mutex::new(Some(broadcast::channel(SUBSCRIBER_BACKLOG).0)),
            hook: self.hook,
            log: LogLimiter::new(),
            started: Instant::now(),
            error: Mutex::new(None),
            config,
        });
        let mut workers = Vec::with_capacity(sinks.len());
        for (i, sink) in sinks.into_iter().enumerate() {
            let s = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("framecast-worker-{i}"))
                .spawn(move || worker(i, &s, sink));
            match spawned {
                Ok(t) => workers.push(t),
                Err(source) => {
                    shared.stop();
                    shared.pool.close();
                    return Err(StreamError::Spawn {
                        what: "worker",
                        source,
                    });
                }
            }
        }
        runtime.spawn(conn::serve(Arc::clone(&shared), listener));
        tracing::debug!(%local_addr, "listening");
        Ok(Receiver {
            handle: ReceiverHandle::new(
                Arc::clone(&shared),
                Some(runtime.handle().clone()),
                local_addr,
            ),
            shared,
            runtime: Some(runtime),
            workers,
        })
    }
}
