//! The decode workers' schedule: a fair, round-robin queue of streams that
//! have a frame waiting.
//!
//! ```text
//!   connection tasks                       worker threads (N)
//!   put(frame) ──▶ stream.pending ──┐
//!   (latest wins: a newer frame     │  ready: [s3, s1, s7]  ──pop──▶ take s3's frame,
//!    replaces an unshown one,       └─▶ (each stream at     ◀─push─  show it; if s3 has
//!    counted as dropped)                 most once)                  another, s3 goes to
//!                                                                    the back of the queue
//! ```
//!
//! A stream is in the queue at most once and is worked on by at most one
//! worker at a time, so its frames are shown in order and its sinks' state
//! stays consistent. After each frame a busy stream goes to the back of the
//! queue: a stream whose frames are expensive to decode takes one worker at
//! most and loses its *own* frames to the latest-wins slot, never another
//! stream's.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};

use super::state::{IDLE, QUEUED, RUNNING, StreamState, lock};
use crate::frame::{Frame, StreamId};

#[derive(Debug)]
struct PoolState {
    ready: VecDeque<Arc<StreamState>>,
    closed: bool,
    /// Per worker: streams that ended since it last looked.
    ended: Vec<Vec<StreamId>>,
}

/// What a worker gets from [`Pool::next`].
pub(crate) enum Work {
    /// A stream's newest frame.
    Frame(Arc<StreamState>, Frame),
    /// A stream that has no frame left and whose session is over.
    End(Arc<StreamState>),
    /// Nothing (a stream scheduled whose frame another path took).
    Nothing(Arc<StreamState>),
    /// Streams ended: they are in the list passed to [`Pool::next`].
    Ended,
}

#[derive(Debug)]
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
}

impl Pool {
    pub(crate) fn new(workers: usize, streams: usize) -> Self {
        Self {
            state: Mutex::new(PoolState {
                ready: VecDeque::with_capacity(streams + 1),
                closed: false,
                ended: (0..workers).map(|_| Vec::with_capacity(streams)).collect(),
            }),
            cv: Condvar::new(),
        }
    }

    /// Puts `frame` in `stream`'s slot; returns whether it replaced one no
    /// worker had taken (a drop).
    pub(crate) fn put(&self, stream: &Arc<StreamState>, frame: Frame) -> bool {
        let old = lock(&stream.pending).replace(frame);
        self.schedule(stream);
        old.is_some()
    }

    /// Makes sure a worker will look at `stream` (after a frame, or when
    /// its session ended).
    pub(crate) fn schedule(&self, stream: &Arc<StreamState>) {
        let mut st = lock(&self.state);
        if stream.sched.load(Ordering::Relaxed) == IDLE {
            stream.sched.store(QUEUED, Ordering::Relaxed);
            st.ready.push_back(Arc::clone(stream));
            drop(st);
            self.cv.notify_one();
        }
    }

    /// Waits for work for worker `index`; `None` once closed and drained.
    /// On [`Work::Ended`], `ended` (which must be empty) holds the streams
    /// that ended since the worker last looked; the caller empties it.
    pub(crate) fn next(&self, index: usize, ended: &mut Vec<StreamId>) -> Option<Work> {
        let mut st = lock(&self.state);
        loop {
            if let Some(mine) = st.ended.get_mut(index)
                && !mine.is_empty()
            {
                // The caller's list is empty; swapping keeps both lists'
                // capacity, so nothing is allocated.
                std::mem::swap(mine, ended);
                return Some(Work::Ended);
            }
            if let Some(stream) = st.ready.pop_front() {
                stream.sched.store(RUNNING, Ordering::Relaxed);
                drop(st);
                let frame = lock(&stream.pending).take();
                return Some(match frame {
                    Some(frame) => Work::Frame(stream, frame),
                    None if !stream.is_connected() => Work::End(stream),
                    None => Work::Nothing(stream),
                });
            }
            if st.closed {
                return None;
            }
            st = self
                .cv
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// A worker is done with `stream`: requeue it at the back if another
    /// frame (or its end) is waiting.
    pub(crate) fn done(&self, stream: Arc<StreamState>) {
        let mut st = lock(&self.state);
        let more = lock(&stream.pending).is_some()
            || (!stream.is_connected() && !stream.end_reported.load(Ordering::SeqCst));
        if more {
            stream.sched.store(QUEUED, Ordering::Relaxed);
            st.ready.push_back(stream);
            drop(st);
            self.cv.notify_one();
        } else {
            stream.sched.store(IDLE, Ordering::Relaxed);
        }
    }

    /// Tells every worker that `id` ended.
    pub(crate) fn announce_end(&self, id: StreamId) {
        let mut st = lock(&self.state);
        for list in &mut st.ended {
            list.push(id);
        }
        drop(st);
        self.cv.notify_all();
    }

    /// No more work will come: workers finish what is queued, then stop.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.cv.notify_all();
    }
}
