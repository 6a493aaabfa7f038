//! The worker threads: each takes ready streams from the pool and shows
//! their newest frame through its own sinks, sorting a sink's error by
//! [`DisplayError::verdict`](framecast_display::DisplayError::verdict),
//! and tells the pool what each frame cost.

use framecast_display::NullSink;

use super::*;

/// The body of one worker thread: take streams in turn, show their newest
/// frame through this worker's sink.
pub(super) fn worker(index: usize, shared: &Shared, mut sink: Option<Box<dyn FrameSink>>) {
    if shared.pool.is_slow_lane(index) {
        yield_to_cheap_work();
    }
    let mut ended = Vec::with_capacity(shared.config.max_clients);
    let mut broken = false;
    // Decodes, to check them, the frames the sink skips (made when first
    // needed).
    let mut checker = None;
    while let Some(work) = shared.pool.next(index, &mut ended) {
        match work {
            Work::Ended => {
                if let Some(sink) = sink.as_mut() {
                    for &id in &ended {
                        sink.stream_ended(id.get());
                    }
                }
                ended.clear();
            }
            Work::Frame(stream, frame) => {
                let started = cpu_time();
                if !broken
                    && show(shared, sink.as_deref_mut(), &mut checker, &stream, &frame).is_break()
                {
                    broken = true;
                }
                let spent = cpu_time().saturating_sub(started);
                let pixels = u64::from(frame.width()) * u64::from(frame.height());
                drop(frame);
                shared.pool.done(stream, Some((spent, pixels)));
            }
            Work::End(stream) => {
                if !stream.end_reported.swap(true, Ordering::SeqCst) {
                    shared.registry.retire(&stream);
                    shared.pool.announce_end(stream.id);
                    shared.retired(stream.id);
                }
                shared.pool.done(stream, None);
            }
            Work::Nothing(stream) => shared.pool.done(stream, None),
        }
    }
    if let Some(sink) = sink.as_mut()
        && let Err(e) = sink.finish()
    {
        shared.fail(StreamError::Display(e));
    }
}

/// How much lower the slow lane's threads run than the rest of the
/// receiver, in nice levels: with 10, a busy fast-lane or network thread
/// gets about nine tenths of a core the two share.
#[cfg(target_os = "linux")]
const SLOW_LANE_NICE: i32 = 10;

/// Lowers this thread's priority, so that when it shares a core with the
/// network thread or a fast-lane worker, the operating system runs them
/// first: a slow stream then loses its own frames, not a cheap stream's.
/// On Linux the nice value is per thread; elsewhere it is per process, so
/// nothing is changed there.
fn yield_to_cheap_work() {
    #[cfg(target_os = "linux")]
    {
        let now = rustix::process::getpriority_process(None).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(None, (now + SLOW_LANE_NICE).min(19)) {
            tracing::debug!("the slow lane runs at normal priority: {e}");
        }
    }
}

/// The CPU time this thread has had. A frame's cost is measured in it,
/// not by the wall clock: a cheap frame whose worker the operating system
/// paused for a slow stream's worker must not be charged for that pause.
#[cfg(unix)]
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Without a thread CPU clock, the wall clock (since the first call).
#[cfg(not(unix))]
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Shows one frame, and hands it on to viewers and publishers when it
/// decoded; breaks when the receiver must stop.
pub(super) fn show(
    shared: &Shared,
    sink: Option<&mut (dyn FrameSink + 'static)>,
    checker: &mut Option<NullSink>,
    stream: &StreamState,
    frame: &Frame,
) -> ControlFlow<()> {
    let config = &shared.config;
    if !config.sink_delay.is_zero() {
        thread::sleep(config.sink_delay);
    }
    if let Some(sink) = sink {
        let encoded = EncodedFrame::new(stream.id.get(), &stream.name, &frame.jpeg()[..])
            .with_sequence(frame.sequence())
            .with_capture_time_us(frame.capture_time_us())
            .with_source_size(frame.source_size())
            .with_quality(frame.quality())
            .with_size(Some((frame.width(), frame.height())))
            .with_link_rate_bps(frame.link_rate_bps());
        if let Err(e) = sink.show(&encoded) {
            match e.verdict() {
                Verdict::BadFrame => {
                    stream.corrupt.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stream = stream.id.get(), "corrupt frame dropped: {e}");
                    return ControlFlow::Continue(());
                }
                Verdict::Skipped => {
                    // Not shown here, but viewers may want it: decoded to
                    // check it first.
                    let checker = checker.get_or_insert_with(NullSink::decode_only);
                    match checker.show(&encoded) {
                        Ok(()) => {
                            stream.dropped.fetch_add(1, Ordering::Relaxed);
                            shared.hand_on(stream, frame);
                        }
                        Err(bad) => {
                            stream.corrupt.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(
                                stream = stream.id.get(),
                                "corrupt frame dropped: {bad}"
                            );
                        }
                    }
                    tracing::debug!(stream = stream.id.get(), "frame not shown: {e}");
                    return ControlFlow::Continue(());
                }
                Verdict::Closed => {
                    tracing::info!("the window was closed");
                    shared.stop();
                    return ControlFlow::Break(());
                }
                // `Fatal`, and any verdict added later: stop with the error.
                _ => {
                    shared.fail(StreamError::Display(e));
                    return ControlFlow::Break(());
                }
            }
        }
    }
    stream.shown.fetch_add(1, Ordering::Relaxed);
    shared.hand_on(stream, frame);
    if let Some(t) = frame.capture_time_us() {
        let now = now_us();
        let skew = config.max_clock_skew.as_micros() as u64;
        let max_age = config.max_latency_age.as_micros() as u64;
        if t > now.saturating_add(skew) || now.saturating_sub(t) > max_age {
            stream.clock_skew.fetch_add(1, Ordering::Relaxed);
        } else {
            let latency = now.saturating_sub(t);
            let mut l = lock(&stream.latency);
            l.whole.record(latency);
            l.recent.record(latency);
        }
    }
    ControlFlow::Continue(())
}
