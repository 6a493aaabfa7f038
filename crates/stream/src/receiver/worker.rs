//! The worker threads: each takes ready streams in turn from the pool and
//! shows their newest frame through its own sinks, sorting a sink's error
//! by [`DisplayError::verdict`](framecast_display::DisplayError::verdict).

use super::*;

/// The body of one worker thread: take streams in turn, show their newest
/// frame through this worker's sink.
pub(super) fn worker(index: usize, shared: &Shared, mut sink: Option<Box<dyn FrameSink>>) {
    let mut ended = Vec::with_capacity(shared.config.max_clients);
    let mut broken = false;
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
                if !broken && show(shared, sink.as_deref_mut(), &stream, &frame).is_break() {
                    broken = true;
                }
                drop(frame);
                shared.pool.done(stream);
            }
            Work::End(stream) => {
                if !stream.end_reported.swap(true, Ordering::SeqCst) {
                    shared.registry.retire(&stream);
                    shared.pool.announce_end(stream.id);
                }
                shared.pool.done(stream);
            }
            Work::Nothing(stream) => shared.pool.done(stream),
        }
    }
    if let Some(sink) = sink.as_mut()
        && let Err(e) = sink.finish()
    {
        shared.fail(StreamError::Display(e));
    }
}

/// Shows one frame; breaks when the receiver must stop.
pub(super) fn show(
    shared: &Shared,
    sink: Option<&mut (dyn FrameSink + 'static)>,
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
            .with_source_size(frame.source_size());
        if let Err(e) = sink.show(&encoded) {
            match e.verdict() {
                Verdict::BadFrame => {
                    stream.corrupt.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stream = stream.id.get(), "corrupt frame dropped: {e}");
                    return ControlFlow::Continue(());
                }
                Verdict::Skipped => {
                    stream.dropped.fetch_add(1, Ordering::Relaxed);
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
