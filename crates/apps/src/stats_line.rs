//! The once-a-second stats line: rates since the previous line, from
//! successive snapshots of the engines' cumulative counters.

use std::fmt::Write as _;

use framecast_stream::{LatencySummary, ReceiverStats, SenderStats, StreamStats};

/// One stream's counters, as the line needs them.
#[derive(Debug, Clone, PartialEq)]
struct StreamSample {
    id: u32,
    name: String,
    frames: u64,
    received: u64,
    bytes: u64,
    /// Seconds the stream has been connected.
    seconds: f64,
    dropped: u64,
    corrupt: u64,
    recent_latency_ms: Option<LatencySummary>,
    /// The newest frame's quality (when its sender said) and size.
    quality: Option<u8>,
    size: (u32, u32),
    /// The sender's estimate of the link's rate, kbit/s.
    link_rate_kbps: Option<u64>,
}

impl StreamSample {
    fn of(st: &StreamStats) -> Self {
        Self {
            id: st.id.get(),
            name: st.name.clone(),
            frames: st.frames,
            received: st.received,
            bytes: st.bytes,
            seconds: st.seconds,
            dropped: st.dropped,
            corrupt: st.corrupt,
            recent_latency_ms: st.recent_latency_ms,
            quality: st.quality,
            size: (st.width, st.height),
            link_rate_kbps: st.link_rate_kbps,
        }
    }
}

/// One stream's cumulative counters at the previous line: id, frames,
/// received, bytes.
type StreamMark = (u32, u64, u64, u64);

/// Turns successive snapshots into the once-a-second stats line.
#[derive(Debug, Default)]
pub(crate) struct RateMeter {
    last: Option<(f64, Vec<StreamMark>)>,
    last_sender: Option<(f64, u64, u64)>,
}

impl RateMeter {
    /// One line per connected stream (rates since the previous call): fps
    /// shown and received, kbit/s, recent latency p50/p99, dropped, corrupt.
    /// With no stream connected, a single "waiting" line.
    pub(crate) fn receiver_lines(&mut self, s: &ReceiverStats) -> Vec<String> {
        let connected: Vec<StreamSample> = s
            .per_stream
            .iter()
            .filter(|st| st.connected)
            .map(StreamSample::of)
            .collect();
        let lines = self.lines(s.seconds, &connected, (s.frames, s.streams));
        self.last = Some((
            s.seconds,
            s.per_stream
                .iter()
                .map(|st| (st.id.get(), st.frames, st.received, st.bytes))
                .collect(),
        ));
        lines
    }

    fn lines(&self, now: f64, connected: &[StreamSample], totals: (u64, u64)) -> Vec<String> {
        let prev = self.last.as_ref();
        let dt = prev.map(|(t, _)| now - t).filter(|dt| *dt > 0.0);
        let mut lines = Vec::new();
        for st in connected {
            let before = prev
                .and_then(|(_, v)| v.iter().find(|p| p.0 == st.id))
                .copied();
            let (shown_fps, recv_fps, kbps) = match (dt, before) {
                (Some(dt), Some((_, f, r, b))) => (
                    (st.frames - f) as f64 / dt,
                    (st.received - r) as f64 / dt,
                    (st.bytes - b) as f64 * 8.0 / 1000.0 / dt,
                ),
                _ if st.seconds > 0.0 => (
                    st.frames as f64 / st.seconds,
                    st.received as f64 / st.seconds,
                    st.bytes as f64 * 8.0 / 1000.0 / st.seconds,
                ),
                _ => (0.0, 0.0, 0.0),
            };
            let mut line = String::new();
            let _ = write!(
                line,
                "stream {} {}: {:5.1} fps shown, {:5.1} received, {:7.0} kbit/s, ",
                st.id,
                framecast_net::printable(&st.name),
                shown_fps,
                recv_fps,
                kbps
            );
            match st.recent_latency_ms {
                Some(l) => {
                    let _ = write!(line, "latency p50 {:.1} ms p99 {:.1} ms, ", l.p50, l.p99);
                }
                None => line.push_str("latency n/a, "),
            }
            let _ = write!(line, "dropped {}, corrupt {}", st.dropped, st.corrupt);
            if let Some(q) = st.quality {
                let _ = write!(line, ", q {q} {}x{}", st.size.0, st.size.1);
            }
            if let Some(r) = st.link_rate_kbps {
                let _ = write!(line, ", link ~{:.1} Mbit/s", r as f64 / 1000.0);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push(format!(
                "waiting for senders: {} frames shown from {} streams so far",
                totals.0, totals.1
            ));
        }
        lines
    }

    /// The sender's line: fps and kbit/s sent since the previous call,
    /// dropped, reconnects, connection state.
    pub(crate) fn sender_line(&mut self, s: &SenderStats) -> String {
        let (fps, kbps) = match self.last_sender {
            Some((t, sent, bytes)) if s.seconds > t => (
                (s.sent - sent) as f64 / (s.seconds - t),
                (s.bytes - bytes) as f64 * 8.0 / 1000.0 / (s.seconds - t),
            ),
            _ if s.seconds > 0.0 => (
                s.sent as f64 / s.seconds,
                s.bytes as f64 * 8.0 / 1000.0 / s.seconds,
            ),
            _ => (0.0, 0.0),
        };
        self.last_sender = Some((s.seconds, s.sent, s.bytes));
        let mut line = format!(
            "sent {} frames: {:5.1} fps, {:7.0} kbit/s, dropped {}, reconnects {}",
            s.sent, fps, kbps, s.dropped, s.reconnects,
        );
        if let Some(a) = &s.adapt {
            // What adapting to the link chose: quality, size, frame rate,
            // and what it thinks the link carries.
            let _ = write!(
                line,
                ", q {} {}x{} {:.0} fps",
                a.quality, a.width, a.height, a.fps
            );
            if a.link_rate_kbps > 0 {
                let _ = write!(
                    line,
                    ", link ~{:.1} Mbit/s",
                    a.link_rate_kbps as f64 / 1000.0
                );
            }
        }
        if !s.connected {
            line.push_str(" (connecting)");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_stream_since_the_previous_line() {
        let sample = |frames: u64| StreamSample {
            id: 1,
            name: "peer".into(),
            frames,
            received: frames,
            bytes: frames * 1000,
            seconds: 2.0,
            dropped: 0,
            corrupt: 0,
            recent_latency_ms: Some(LatencySummary {
                p50: 1.0,
                p99: 2.0,
                max: 3.0,
            }),
            quality: Some(80),
            size: (400, 400),
            link_rate_kbps: Some(9_200),
        };
        let meter = RateMeter {
            last: Some((1.0, vec![(1, 10, 10, 10_000)])),
            last_sender: None,
        };
        let lines = meter.lines(2.0, &[sample(40)], (40, 1));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(" 30.0 fps shown"), "{}", lines[0]);
        assert!(lines[0].contains("240 kbit/s"), "{}", lines[0]);
        assert!(lines[0].contains("p50 1.0 ms p99 2.0 ms"), "{}", lines[0]);
        assert!(
            lines[0].contains("q 80 400x400, link ~9.2 Mbit/s"),
            "{}",
            lines[0]
        );
        // A first line: rates over the stream's whole connected time.
        let lines = RateMeter::default().lines(2.0, &[sample(40)], (40, 1));
        assert!(lines[0].contains(" 20.0 fps shown"), "{}", lines[0]);
        // Nobody connected: one waiting line.
        let lines = meter.lines(2.0, &[], (7, 2));
        assert_eq!(
            lines,
            ["waiting for senders: 7 frames shown from 2 streams so far"]
        );
    }
}
