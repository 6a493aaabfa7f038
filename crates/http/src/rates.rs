//! Each stream's current rates: frames and bits received per second over
//! the last few seconds (not the average since it connected).
//!
//! The counters are sampled when someone asks (`/stats.json`, which the
//! pages ask for every second; `/metrics`), at most every
//! [`MIN_SAMPLE_GAP`]: nothing runs, and nothing is allocated, while nobody
//! looks. The rate spans the samples of the last [`RATE_WINDOW`], or the
//! last two when they are further apart (a scraper's interval).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use framecast_stream::{ReceiverStats, StreamId};

use super::lock;

/// How many seconds the current rates span (at least two samples).
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Samples closer together than this are not kept (many pages asking at
/// once).
pub(crate) const MIN_SAMPLE_GAP: Duration = Duration::from_millis(200);

/// A stream's current rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Recent {
    /// Frames received per second.
    pub(crate) fps: f64,
    /// Bits received per second.
    pub(crate) bits_per_second: f64,
}

/// One sample of a stream: when, frames received, bytes received.
type Sample = (Instant, u64, u64);

#[derive(Debug, Default)]
pub(crate) struct Rates {
    streams: Mutex<HashMap<StreamId, VecDeque<Sample>>>,
}

impl Rates {
    /// Records every stream of `stats` at `now`; forgets streams no longer
    /// in them.
    pub(crate) fn sample(&self, stats: &ReceiverStats, now: Instant) {
        let mut streams = lock(&self.streams);
        streams.retain(|id, _| stats.per_stream.iter().any(|s| s.id == *id));
        for s in &stats.per_stream {
            let ring = streams
                .entry(s.id)
                .or_insert_with(|| VecDeque::with_capacity(32));
            if ring
                .back()
                .is_some_and(|(t, _, _)| now.duration_since(*t) < MIN_SAMPLE_GAP)
            {
                continue;
            }
            ring.push_back((now, s.received, s.bytes));
            while ring.len() > 2
                && ring
                    .get(1)
                    .is_some_and(|(t, _, _)| now.duration_since(*t) >= RATE_WINDOW)
            {
                ring.pop_front();
            }
        }
    }

    /// Stream `id`'s rates over the window, once two samples are in.
    pub(crate) fn recent(&self, id: StreamId) -> Option<Recent> {
        let streams = lock(&self.streams);
        let ring = streams.get(&id)?;
        let (&(t0, f0, b0), &(t1, f1, b1)) = (ring.front()?, ring.back()?);
        let dt = t1.duration_since(t0).as_secs_f64();
        (dt > 0.0).then(|| Recent {
            fps: f1.saturating_sub(f0) as f64 / dt,
            bits_per_second: b1.saturating_sub(b0) as f64 * 8.0 / dt,
        })
    }
}
