//! [`Latest`]: a bounded queue between two pipeline stages where, when it is
//! full, the newest item wins, plus a recycling bin so that buffers travel
//! back to the producer instead of being freed and reallocated.
//!
//! ```text
//!   producer ──push──▶ [ queue: at most `capacity` items ] ──pop──▶ consumer
//!       ▲                    │ (full: oldest is dropped, counted)       │
//!       └──── spare() ◀── [ spare bin ] ◀──────────── recycle() ────────┘
//! ```
//!
//! A live source pushes with [`Latest::push`] (drop the oldest when full); a
//! source that must not lose frames pushes with [`Latest::push_wait`]
//! (backpressure: wait for room).
//!
//! The spare bin hands out the item that has waited longest (first in,
//! first out), so every buffer of a pool is used in turn: none lies unused
//! at the bottom until a busy moment needs it, smaller than the pictures
//! of the moment. [`Latest::with_spares`] fills the bin from the start, so
//! that a stage never makes a new buffer because the others happened to be
//! in flight at once.
//!
//! Not part of the crate's API: its types are reachable only with the
//! `testing` feature, for the crate's own benches.

// `pub` so that the `testing` feature can show them to the benches; without
// it they are the sender's internals.
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A bounded, closable, latest-wins queue with a spare-buffer bin.
///
/// All storage is allocated up front: pushing, popping and recycling do not
/// allocate.
#[derive(Debug)]
pub struct Latest<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    spare_capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    queue: VecDeque<T>,
    spare: VecDeque<T>,
    closed: bool,
    dropped: u64,
    /// Threads waiting for an item (on `not_empty`) and for room (on
    /// `not_full`): a condition variable is signalled only when someone
    /// waits on it, since signalling costs a system call even then.
    want_item: u32,
    want_room: u32,
}

/// Why an item could not be queued: the queue is closed. The item is handed
/// back.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> Latest<T> {
    /// A queue holding at most `capacity` items (at least 1), whose spare bin
    /// keeps up to `spare_capacity` recycled items.
    pub fn new(capacity: usize, spare_capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(capacity),
                spare: VecDeque::with_capacity(spare_capacity),
                closed: false,
                dropped: 0,
                want_item: 0,
                want_room: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
            spare_capacity,
        }
    }

    /// A queue as [`new`](Self::new) makes, whose spare bin starts full:
    /// `spare_capacity` items made by `make`. A pipeline whose stages hold
    /// at most that many items besides the queued ones then never finds
    /// the bin empty, whatever the scheduling.
    pub fn with_spares(capacity: usize, spare_capacity: usize, make: impl FnMut() -> T) -> Self {
        let queue = Self::new(capacity, spare_capacity);
        queue
            .lock()
            .spare
            .extend(std::iter::repeat_with(make).take(spare_capacity));
        queue
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking stage must not take the other stages down with it: the
        // state stays consistent between statements, so a poisoned lock is
        // still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item`; when the queue is full the oldest item is dropped
    /// (counted, and moved to the spare bin). Never blocks.
    pub fn push(&self, item: T) -> Result<(), Closed<T>> {
        let mut s = self.lock();
        if s.closed {
            return Err(Closed(item));
        }
        if s.queue.len() >= self.capacity
            && let Some(old) = s.queue.pop_front()
        {
            s.dropped += 1;
            if s.spare.len() < self.spare_capacity {
                s.spare.push_back(old);
            }
        }
        s.queue.push_back(item);
        let wake = s.want_item > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Queues `item`, waiting while the queue is full (backpressure). Fails
    /// only when the queue is closed.
    pub fn push_wait(&self, item: T) -> Result<(), Closed<T>> {
        let mut s = self.lock();
        while !s.closed && s.queue.len() >= self.capacity {
            s.want_room += 1;
            s = self
                .not_full
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
            s.want_room -= 1;
        }
        if s.closed {
            return Err(Closed(item));
        }
        s.queue.push_back(item);
        let wake = s.want_item > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Takes the oldest queued item, waiting for one. `None` once the queue
    /// is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.queue.pop_front() {
                let wake = s.want_room > 0;
                drop(s);
                if wake {
                    self.not_full.notify_one();
                }
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s = self.wait_item_locked(s);
        }
    }

    /// Takes the oldest queued item if there is one, without waiting.
    pub fn try_pop(&self) -> Option<T> {
        let mut s = self.lock();
        let item = s.queue.pop_front();
        let wake = item.is_some() && s.want_room > 0;
        drop(s);
        if wake {
            self.not_full.notify_one();
        }
        item
    }

    /// Waits until an item is queued, without taking it: `true` then,
    /// `false` once the queue is closed and empty.
    pub fn wait_item(&self) -> bool {
        let mut s = self.lock();
        loop {
            if !s.queue.is_empty() {
                return true;
            }
            if s.closed {
                return false;
            }
            s = self.wait_item_locked(s);
        }
    }

    /// Waits on `not_empty`, counted as a thread that wants an item.
    fn wait_item_locked<'a>(&self, mut s: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        s.want_item += 1;
        let mut s = self
            .not_empty
            .wait(s)
            .unwrap_or_else(PoisonError::into_inner);
        s.want_item -= 1;
        s
    }

    /// A recycled item to fill, if the bin has one: the one that has waited
    /// longest.
    pub fn spare(&self) -> Option<T> {
        self.lock().spare.pop_front()
    }

    /// Gives a used item back for [`Latest::spare`] to hand out again.
    pub fn recycle(&self, item: T) {
        let mut s = self.lock();
        if s.spare.len() < self.spare_capacity {
            s.spare.push_back(item);
        }
    }

    /// Closes the queue: pushes fail, waiters wake, and [`Latest::pop`]
    /// drains what is queued then returns `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    /// How many items were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// How many items are queued now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    #[test]
    fn full_queue_drops_the_oldest_and_counts_it() {
        let q = Latest::new(2, 4);
        q.push(1).unwrap();
        q.push(2).unwrap();
        q.push(3).unwrap();
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        // The dropped item went to the spare bin.
        assert_eq!(q.spare(), Some(1));
        assert_eq!(q.spare(), None);
    }

    #[test]
    fn push_wait_blocks_until_there_is_room() {
        let q = Arc::new(Latest::new(1, 1));
        q.push_wait(1).unwrap();
        let q2 = Arc::clone(&q);
        let t = thread::spawn(move || q2.push_wait(2));
        thread::sleep(Duration::from_millis(50));
        assert_eq!(q.len(), 1, "second push must wait");
        assert_eq!(q.pop(), Some(1));
        t.join().unwrap().unwrap();
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn close_wakes_waiters_and_drains() {
        let q = Arc::new(Latest::<u32>::new(1, 1));
        q.push(7).unwrap();
        let q2 = Arc::clone(&q);
        let blocked = thread::spawn(move || q2.push_wait(8));
        thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(blocked.join().unwrap(), Err(Closed(8)));
        assert_eq!(q.pop(), Some(7));
        assert_eq!(q.pop(), None);
        assert_eq!(q.push(9), Err(Closed(9)));
        assert!(!q.wait_item(), "closed and empty");
    }

    #[test]
    fn wait_item_waits_without_taking() {
        let q = Arc::new(Latest::<u32>::new(1, 0));
        let q2 = Arc::clone(&q);
        let t = thread::spawn(move || q2.wait_item());
        thread::sleep(Duration::from_millis(20));
        q.push(5).unwrap();
        assert!(t.join().unwrap());
        assert_eq!(q.len(), 1, "the item is still queued");
        assert_eq!(q.pop(), Some(5));
    }

    #[test]
    fn spares_come_back_in_turn_and_a_filled_bin_starts_full() {
        let q = Latest::with_spares(1, 3, Vec::<u8>::new);
        let taken: Vec<Vec<u8>> = (0..3).map(|_| q.spare().unwrap()).collect();
        assert_eq!(q.spare(), None, "three made, three taken");
        for (i, mut buf) in taken.into_iter().enumerate() {
            buf.push(i as u8);
            q.recycle(buf);
        }
        // First in, first out: each buffer is used in turn.
        assert_eq!(q.spare(), Some(vec![0]));
        q.recycle(vec![0]);
        assert_eq!(q.spare(), Some(vec![1]));
        assert_eq!(q.spare(), Some(vec![2]));
        assert_eq!(q.spare(), Some(vec![0]));
    }

    #[test]
    fn spare_bin_is_bounded() {
        let q = Latest::new(1, 1);
        q.recycle(vec![1u8]);
        q.recycle(vec![2u8]);
        assert_eq!(q.spare(), Some(vec![1u8]));
        assert_eq!(q.spare(), None);
    }

    #[test]
    fn buffers_circulate_without_new_ones() {
        // A producer that allocates only when the bin is empty ends up
        // allocating a fixed number of buffers however many items flow.
        let q = Arc::new(Latest::<Vec<u8>>::new(2, 4));
        let allocated = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (qp, ap) = (Arc::clone(&q), Arc::clone(&allocated));
        let producer = thread::spawn(move || {
            for i in 0..1000u32 {
                let mut buf = qp.spare().unwrap_or_else(|| {
                    ap.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Vec::with_capacity(16)
                });
                buf.clear();
                buf.extend_from_slice(&i.to_le_bytes());
                qp.push_wait(buf).unwrap();
            }
            qp.close();
        });
        let mut last = None;
        while let Some(buf) = q.pop() {
            let v = u32::from_le_bytes(buf[..4].try_into().unwrap());
            if let Some(l) = last {
                assert_eq!(v, l + 1, "backpressure loses nothing");
            }
            last = Some(v);
            q.recycle(buf);
        }
        producer.join().unwrap();
        assert_eq!(last, Some(999));
        assert!(allocated.load(std::sync::atomic::Ordering::Relaxed) <= 4);
    }
}
