//! `GET /metrics`: the receiver's and the viewer's counters in the
//! Prometheus text format.
//!
//! Each scrape copies the counters (atomics the engine keeps anyway) into a
//! fresh `metrics-exporter-prometheus` recorder local to the request and
//! renders it: no global recorder (two receivers in one process each serve
//! their own), and a stream that has gone out of the stats leaves no stale
//! series behind. The latency histogram is rebucketed from the receiver's
//! own fine-grained histogram (about 3 % resolution) into
//! [`LATENCY_BUCKETS_SECONDS`] and written with the exporter's formatting
//! functions.

use framecast_stream::LatencyHistogram;
use indexmap::IndexMap;
use metrics::{counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::formatting::{
    write_help_line, write_metric_line, write_type_line,
};
use metrics_exporter_prometheus::{LabelSet, PrometheusBuilder};

use super::State;

/// The upper bounds (seconds) of the `framecast_latency_seconds` buckets.
pub(crate) const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const LATENCY: &str = "framecast_latency_seconds";
const STREAM_LATENCY: &str = "framecast_stream_latency_seconds";

/// The metrics page.
pub(super) fn render(state: &State) -> String {
    let (stats, latency) = state.receiver.stats_with_latency();
    state.rates.sample(&stats, std::time::Instant::now());
    let http = state.stats();
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        let totals = [
            (
                "framecast_frames_received_total",
                "Frames read off the wire, over all streams (valid or not).",
                stats.received,
            ),
            (
                "framecast_frames_shown_total",
                "Frames handed to the receiver's sinks (decoded and shown).",
                stats.frames,
            ),
            (
                "framecast_frames_dropped_total",
                "Frames replaced by a newer one before a decode worker got to them.",
                stats.dropped,
            ),
            (
                "framecast_frames_corrupt_total",
                "Frames that were not a valid message or picture.",
                stats.corrupt,
            ),
            (
                "framecast_frames_clock_skew_total",
                "Frames left out of the latency figures: capture time not trusted.",
                stats.clock_skew,
            ),
            (
                "framecast_received_bytes_total",
                "Payload bytes read off the wire.",
                stats.bytes,
            ),
            (
                "framecast_streams_total",
                "Sender sessions accepted.",
                stats.streams,
            ),
            (
                "framecast_connections_total",
                "TCP connections accepted on the frame port.",
                stats.connections,
            ),
            (
                "framecast_refused_total",
                "Frame-port connections refused (busy, too many, wrong version, stopping).",
                stats.refused,
            ),
            (
                "framecast_handshake_failures_total",
                "Frame-port connections whose session handshake failed.",
                stats.handshake_failures,
            ),
            (
                "framecast_http_viewers_refused_total",
                "MJPEG viewers refused because the most allowed were connected.",
                http.viewers_refused,
            ),
            (
                "framecast_http_parts_sent_total",
                "MJPEG parts (frames) sent, over all viewers.",
                http.parts,
            ),
            (
                "framecast_http_connections_total",
                "HTTP connections accepted.",
                http.connections,
            ),
            (
                "framecast_http_connections_refused_total",
                "HTTP connections closed at once because the most allowed were open, none \
                 evictable.",
                http.connections_refused,
            ),
            (
                "framecast_http_connections_evicted_total",
                "HTTP connections closed to make room for a new one (no complete request with \
                 the access token, or idle the longest).",
                http.connections_evicted,
            ),
            (
                "framecast_http_auth_failures_total",
                "HTTP requests and logins refused for a missing or wrong access token.",
                http.auth_failures,
            ),
            (
                "framecast_http_logins_throttled_total",
                "Login attempts answered 429 unchecked: their address had failed too often.",
                http.logins_throttled,
            ),
            (
                "framecast_http_logins_cross_origin_total",
                "Login forms refused 403 because a page of another origin sent them.",
                http.logins_cross_origin,
            ),
            (
                "framecast_http_tls_failures_total",
                "HTTPS connections closed because their TLS handshake failed or stalled.",
                http.tls_failures,
            ),
            (
                "framecast_http_tier_decodes_total",
                "Frames decoded to be re-encoded at tiers (once a frame for all its tiers).",
                http.tier_decodes,
            ),
            (
                "framecast_http_tier_failures_total",
                "Frames that could not be decoded or encoded for tiers.",
                http.tier_failures,
            ),
            (
                "framecast_http_auto_switches_total",
                "Times a quality=auto viewer moved to another tier.",
                http.auto_switches,
            ),
        ];
        for (name, help, value) in totals {
            describe_counter!(name, help);
            counter!(name).absolute(value);
        }
        describe_counter!(
            "framecast_timeouts_total",
            "Frame-port connections closed by a timeout, by stage."
        );
        for (kind, value) in [
            ("handshake", stats.timeouts.handshake),
            ("idle", stats.timeouts.idle),
            ("trickle", stats.timeouts.trickle),
        ] {
            counter!("framecast_timeouts_total", "kind" => kind).absolute(value);
        }
        describe_counter!(
            "framecast_http_timeouts_total",
            "HTTP connections closed by a timeout: no request head, a stalled write, a part too slow."
        );
        for (kind, value) in [
            ("header", http.header_timeouts),
            ("write", http.write_timeouts),
            ("part", http.part_timeouts),
        ] {
            counter!("framecast_http_timeouts_total", "kind" => kind).absolute(value);
        }
        let gauges = [
            (
                "framecast_streams_active",
                "Sender sessions open now.",
                stats.active_streams as f64,
            ),
            (
                "framecast_uptime_seconds",
                "Seconds since the receiver started.",
                stats.seconds,
            ),
            (
                "framecast_http_viewers",
                "MJPEG viewers connected now.",
                http.viewers as f64,
            ),
            (
                "framecast_http_connections_open",
                "HTTP connections open now.",
                http.open_connections as f64,
            ),
        ];
        for (name, help, value) in gauges {
            describe_gauge!(name, help);
            gauge!(name).set(value);
        }

        // Per stream: the open ones, then the most recently ended (as in
        // /stats.json), labelled with the stream's number and name.
        describe_gauge!(
            "framecast_stream_connected",
            "1 while the stream's session is open, 0 once it ended."
        );
        describe_counter!(
            "framecast_stream_frames_received_total",
            "Frames read off the wire for this stream."
        );
        describe_counter!(
            "framecast_stream_frames_shown_total",
            "Frames of this stream handed to the sinks."
        );
        describe_counter!(
            "framecast_stream_frames_dropped_total",
            "Frames of this stream replaced by a newer one before being shown."
        );
        describe_counter!(
            "framecast_stream_frames_corrupt_total",
            "Frames of this stream that were not a valid message or picture."
        );
        describe_counter!(
            "framecast_stream_received_bytes_total",
            "Payload bytes read for this stream."
        );
        describe_gauge!(
            "framecast_stream_fps",
            "Frames of this stream shown per second of its connected time."
        );
        describe_gauge!(
            "framecast_stream_viewers",
            "MJPEG viewers of this stream now."
        );
        describe_gauge!(
            "framecast_stream_fps_recent",
            "Frames of this stream received per second over the last few seconds."
        );
        describe_gauge!(
            "framecast_stream_bitrate_recent_bits_per_second",
            "Bits of this stream received per second over the last few seconds."
        );
        describe_gauge!(
            "framecast_stream_width_pixels",
            "The width of this stream's newest picture."
        );
        describe_gauge!(
            "framecast_stream_height_pixels",
            "The height of this stream's newest picture."
        );
        describe_gauge!(
            "framecast_stream_jpeg_quality",
            "The JPEG quality of this stream's newest picture (as its sender said, else read from its quantization tables)."
        );
        describe_gauge!(
            "framecast_http_tier_viewers",
            "MJPEG viewers of this tier of the stream now."
        );
        describe_counter!(
            "framecast_http_tier_encodes_total",
            "Pictures of this stream encoded at this tier (one a frame while watched, however many watch)."
        );
        for s in &stats.per_stream {
            let labels = [("stream", s.id.to_string()), ("name", label_name(&s.name))];
            gauge!("framecast_stream_connected", &labels).set(f64::from(u8::from(s.connected)));
            for (name, value) in [
                ("framecast_stream_frames_received_total", s.received),
                ("framecast_stream_frames_shown_total", s.frames),
                ("framecast_stream_frames_dropped_total", s.dropped),
                ("framecast_stream_frames_corrupt_total", s.corrupt),
                ("framecast_stream_received_bytes_total", s.bytes),
            ] {
                counter!(name, &labels).absolute(value);
            }
            gauge!("framecast_stream_fps", &labels).set(s.fps);
            gauge!("framecast_stream_viewers", &labels).set(state.viewers_of(s.id) as f64);
            if let Some(r) = state.rates.recent(s.id) {
                gauge!("framecast_stream_fps_recent", &labels).set(r.fps);
                gauge!("framecast_stream_bitrate_recent_bits_per_second", &labels)
                    .set(r.bits_per_second);
            }
            let latest = state.receiver.stream(s.id).and_then(|h| h.latest());
            if let Some(f) = &latest {
                gauge!("framecast_stream_width_pixels", &labels).set(f64::from(f.width()));
                gauge!("framecast_stream_height_pixels", &labels).set(f64::from(f.height()));
                if let Some(q) = super::quality::estimate(f.jpeg()) {
                    gauge!("framecast_stream_jpeg_quality", &labels).set(f64::from(q));
                }
            }
            for t in state.tiers.stats(s.id) {
                let tier = super::tier::Tier {
                    quality: t.quality,
                    width: t.width,
                }
                .to_string();
                let labels = [
                    ("stream", s.id.to_string()),
                    ("name", label_name(&s.name)),
                    ("tier", tier),
                ];
                gauge!("framecast_http_tier_viewers", &labels).set(t.viewers as f64);
                counter!("framecast_http_tier_encodes_total", &labels).absolute(t.encodes);
            }
        }
    });
    let mut out = recorder.handle().render();
    write_latency(
        &mut out,
        LATENCY,
        "Capture-to-shown latency of every frame that carried a trusted capture time.",
        &[],
        &latency,
    );
    let mut described = false;
    for s in &stats.per_stream {
        let Some(h) = state.receiver.stream(s.id) else {
            continue;
        };
        let help = if described {
            None
        } else {
            described = true;
            Some(
                "Capture-to-shown latency of this stream's frames that carried a trusted capture time.",
            )
        };
        write_latency_lines(
            &mut out,
            STREAM_LATENCY,
            help,
            &[("stream", s.id.to_string()), ("name", label_name(&s.name))],
            &h.latency(),
        );
    }
    out
}

/// A stream's name as a label value: its control, bidirectional and
/// zero-width characters escaped as everywhere a name is shown (the
/// exporter then escapes `\`, `"` and line breaks as the text format
/// wants).
fn label_name(name: &str) -> String {
    framecast_net::printable(name).into_owned()
}

/// Writes a latency histogram: its help and type, then cumulative counts
/// at each bound of [`LATENCY_BUCKETS_SECONDS`], `+Inf`, the sum and the
/// count.
fn write_latency(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &[(&'static str, String)],
    latency: &LatencyHistogram,
) {
    write_latency_lines(out, name, Some(help), labels, latency);
}

/// [`write_latency`], with the help and type lines only when `help` is
/// given (one family, many label sets).
fn write_latency_lines(
    out: &mut String,
    name: &str,
    help: Option<&str>,
    labels: &[(&'static str, String)],
    latency: &LatencyHistogram,
) {
    let key = metrics::Key::from_parts(
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect::<Vec<_>>(),
    );
    let labels = LabelSet::from_key_and_global(&key, &IndexMap::new());
    if let Some(help) = help {
        write_help_line(out, name, None, None, help);
        write_type_line(out, name, None, None, "histogram");
    }
    for (bound, count) in LATENCY_BUCKETS_SECONDS
        .iter()
        .zip(cumulative_at(latency, &LATENCY_BUCKETS_SECONDS))
    {
        write_metric_line(
            out,
            name,
            Some("bucket"),
            &labels,
            Some(("le", bound)),
            count,
            None,
        );
    }
    let count = latency.count();
    write_metric_line(
        out,
        name,
        Some("bucket"),
        &labels,
        Some(("le", "+Inf")),
        count,
        None,
    );
    write_metric_line::<&str, f64>(
        out,
        name,
        Some("sum"),
        &labels,
        None,
        latency.sum() as f64 / 1e6,
        None,
    );
    write_metric_line::<&str, u64>(out, name, Some("count"), &labels, None, count, None);
}

/// How many samples are at most each bound (seconds, increasing). A fine
/// bucket counts under a bound when its whole range is.
fn cumulative_at(latency: &LatencyHistogram, bounds: &[f64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(bounds.len());
    let mut fine = latency.cumulative().peekable();
    let mut below = 0;
    for &bound in bounds {
        let bound_us = (bound * 1e6) as u64;
        while let Some(&(upper, cumulative)) = fine.peek() {
            if upper > bound_us {
                break;
            }
            below = cumulative;
            fine.next();
        }
        out.push(below);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_rebucketed_cumulatively() {
        let mut h = LatencyHistogram::new();
        for us in [500, 900, 4_000, 40_000, 40_000, 2_000_000, 100_000_000] {
            h.record(us);
        }
        let at = cumulative_at(&h, &LATENCY_BUCKETS_SECONDS);
        // ≤1 ms: 2; ≤5 ms: 3; ≤50 ms: 5; ≤2.5 s: 6; 100 s is beyond 30 s.
        assert_eq!(at, [2, 2, 3, 3, 3, 5, 5, 5, 5, 5, 6, 6, 6, 6]);
        let mut text = String::new();
        write_latency(&mut text, LATENCY, "help", &[], &h);
        assert!(
            text.contains("# TYPE framecast_latency_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("framecast_latency_seconds_bucket{le=\"0.001\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("framecast_latency_seconds_bucket{le=\"+Inf\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("framecast_latency_seconds_count 7\n"),
            "{text}"
        );
        assert!(
            text.contains("framecast_latency_seconds_sum 102.0854\n"),
            "{text}"
        );
    }

    #[test]
    fn names_are_escaped_in_labels() {
        assert_eq!(label_name("door"), "door");
        assert_eq!(
            label_name("\u{1b}[2Jx\u{202e}y\u{200b}"),
            "\\u{1b}[2Jx\\u{202e}y\\u{200b}"
        );
    }

    #[test]
    fn an_empty_histogram_renders_zeros() {
        let mut text = String::new();
        write_latency(&mut text, LATENCY, "help", &[], &LatencyHistogram::new());
        assert!(
            text.contains("framecast_latency_seconds_bucket{le=\"+Inf\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("framecast_latency_seconds_sum 0\n"), "{text}");
    }
}
