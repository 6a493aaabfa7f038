//! The viewer's connection places: at most `max_connections` open; when
//! they are all taken, a new connection takes the place of one that has
//! proved the least, so that connections without the token (idle, sending
//! their request a byte at a time, stalling a TLS handshake) can never
//! lock out health probes, the pages or a viewer with the token.
//!
//! ```text
//! every place taken, a connection arrives:
//!   1. the oldest connection (by when it opened) that has not sent a
//!      complete request with the token: idle, a slow request head, a
//!      TLS handshake not done, a login form trickling in, or requests
//!      without the token only
//!   2. else the one idle the longest between requests with the token
//!   3. never one in the middle of a request with the token (every MJPEG
//!      viewer) or of a /healthz request, nor one whose task has not read
//!      from it yet: while some have not been read, the newcomer waits (in
//!      the listen queue, accepting stops) until one has; if viewers and
//!      requests hold every place, it is closed (connections_refused)
//! ```
//!
//! A viewer that asks for no token counts every complete request as one
//! with the token. The evicted connection is closed at once (its task
//! sees its cancellation token) and counted in `connections_evicted`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::lock;

/// Where a connection stands, for eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Accepted, but its task has not read from it yet: not evicted before
    /// it had a chance to be read (under a flood of connections a newcomer
    /// waits for its task while others are accepted).
    New,
    /// No complete request with the token yet: evicted first, oldest first
    /// by when it opened.
    Unproven,
    /// Has sent a request with the token and is between requests: evicted
    /// next, the one idle the longest first.
    Idle,
    /// In a request with the token, or answering `/healthz`: never
    /// evicted.
    Busy,
}

#[derive(Debug)]
struct Entry {
    standing: Standing,
    /// When it opened (a sequence number): its order among the unproven.
    opened: u64,
    /// When it last became idle: its order among the idle.
    idle_since: u64,
    /// Whether a request of it carried the token.
    proven: bool,
    peer: SocketAddr,
    evict: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    /// Connections whose task has not read from them yet.
    new: usize,
    open: HashMap<u64, Entry>,
    /// `(opened, id)` of the unproven connections.
    unproven: BTreeSet<(u64, u64)>,
    /// `(idle_since, id)` of the idle ones.
    idle: BTreeSet<(u64, u64)>,
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Takes `id` out of the order it is in.
    fn unlist(&mut self, id: u64) {
        if let Some(e) = self.open.get(&id) {
            match e.standing {
                Standing::Unproven => self.unproven.remove(&(e.opened, id)),
                Standing::Idle => self.idle.remove(&(e.idle_since, id)),
                Standing::New | Standing::Busy => false,
            };
        }
    }

    /// Puts `id` in the order of its standing.
    fn list(&mut self, id: u64, standing: Standing) {
        let now = self.tick();
        let Some(e) = self.open.get_mut(&id) else {
            return;
        };
        e.standing = standing;
        match standing {
            Standing::Unproven => {
                self.unproven.insert((e.opened, id));
            }
            Standing::Idle => {
                e.idle_since = now;
                self.idle.insert((now, id));
            }
            Standing::New | Standing::Busy => {}
        }
    }
}

/// A connection evicted to make room.
#[derive(Debug)]
pub(super) struct Evicted {
    /// Its address.
    pub(super) peer: SocketAddr,
    /// Whether it had ever sent a request with the token.
    pub(super) proven: bool,
}

/// What [`Slots::admit`] decided.
#[derive(Debug)]
pub(super) enum Admission {
    /// A place: a free one, or that of the connection evicted (already
    /// told to close).
    In(Slot, Option<Evicted>),
    /// Every place taken, and the only connections that could give theirs
    /// way have not been read yet: try again once one has
    /// ([`Slots::changed`]); meanwhile the newcomer waits in the listen
    /// queue.
    Wait,
    /// Every place held by viewers and requests that are never evicted.
    Full,
}

/// Every open connection of one viewer.
#[derive(Debug)]
pub(super) struct Slots {
    max: usize,
    inner: Mutex<Inner>,
    /// Told when a connection is read for the first time, ends a request
    /// or closes: a place may be had.
    changed: Notify,
}

impl Slots {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
        }
    }

    /// Connections open now.
    pub(super) fn len(&self) -> usize {
        lock(&self.inner).open.len()
    }

    /// Resolves once something changed that may free a place (see
    /// [`Admission::Wait`]).
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// A place for a connection from `peer`: a free one, or the place of
    /// the connection that proved the least.
    pub(super) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Admission {
        let mut inner = lock(&self.inner);
        let evicted = if inner.open.len() >= self.max {
            let first = inner.unproven.first().or_else(|| inner.idle.first());
            let Some(&(_, id)) = first else {
                return if inner.new > 0 {
                    Admission::Wait
                } else {
                    Admission::Full
                };
            };
            inner.unlist(id);
            let Some(e) = inner.open.remove(&id) else {
                return Admission::Full;
            };
            e.evict.cancel();
            Some(Evicted {
                peer: e.peer,
                proven: e.proven,
            })
        } else {
            None
        };
        let id = inner.tick();
        let evict = CancellationToken::new();
        inner.open.insert(
            id,
            Entry {
                standing: Standing::New,
                opened: id,
                idle_since: id,
                proven: false,
                peer,
                evict: evict.clone(),
            },
        );
        inner.new += 1;
        drop(inner);
        let slot = Slot {
            place: Place {
                slots: Arc::clone(self),
                id,
            },
            evict,
        };
        Admission::In(slot, evicted)
    }
}

/// A connection's place, as its requests see it: they say when a request
/// starts with the token (or is a health probe) and when it ends.
#[derive(Debug, Clone)]
pub(super) struct Place {
    slots: Arc<Slots>,
    id: u64,
}

impl Place {
    /// The connection's task is about to read from it: from now on it can
    /// be evicted, as the oldest first.
    pub(super) fn started(&self) {
        let mut inner = lock(&self.slots.inner);
        if inner.open.get(&self.id).map(|e| e.standing) == Some(Standing::New) {
            inner.new -= 1;
            inner.list(self.id, Standing::Unproven);
            drop(inner);
            self.slots.changed.notify_one();
        }
    }

    /// A request of this connection passed the access check (`proven`:
    /// with the token, or no token is asked for), or is a health probe:
    /// the connection is not evicted until it ends.
    pub(super) fn busy(&self, proven: bool) {
        let mut inner = lock(&self.slots.inner);
        inner.unlist(self.id);
        if inner.open.get(&self.id).map(|e| e.standing) == Some(Standing::New) {
            inner.new -= 1;
        }
        if let Some(e) = inner.open.get_mut(&self.id) {
            e.proven |= proven;
        }
        inner.list(self.id, Standing::Busy);
    }

    /// A request of this connection ended (its response was sent, or
    /// dropped): the connection is idle, or unproven again if no request
    /// of it ever carried the token.
    pub(super) fn done(&self) {
        let mut inner = lock(&self.slots.inner);
        let Some(proven) = inner.open.get(&self.id).map(|e| e.proven) else {
            return;
        };
        inner.unlist(self.id);
        let standing = if proven {
            Standing::Idle
        } else {
            Standing::Unproven
        };
        inner.list(self.id, standing);
        drop(inner);
        self.slots.changed.notify_one();
    }
}

/// A connection's place, held by its task: given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    place: Place,
    evict: CancellationToken,
}

impl Slot {
    /// The handle its requests mark themselves busy and done with.
    pub(super) fn place(&self) -> Place {
        self.place.clone()
    }

    /// Cancelled when the connection is evicted to make room.
    pub(super) fn evicted(&self) -> &CancellationToken {
        &self.evict
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = lock(&self.place.slots.inner);
        inner.unlist(self.place.id);
        if let Some(e) = inner.open.remove(&self.place.id) {
            if e.standing == Standing::New {
                inner.new -= 1;
            }
            drop(inner);
            self.place.slots.changed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A place for a connection from `port`, without its task started.
    fn admit_new(slots: &Arc<Slots>, port: u16) -> Option<(Slot, Option<Evicted>)> {
        match slots.admit(peer(port)) {
            Admission::In(slot, evicted) => Some((slot, evicted)),
            Admission::Wait | Admission::Full => None,
        }
    }

    /// A place for a connection from `port`, its task started.
    fn admit(slots: &Arc<Slots>, port: u16) -> Option<(Slot, Option<Evicted>)> {
        let (slot, evicted) = admit_new(slots, port)?;
        slot.place().started();
        Some((slot, evicted))
    }

    #[test]
    fn the_unproven_go_first_oldest_first_then_the_idle_never_the_busy() {
        let slots = Arc::new(Slots::new(4));
        let (viewer, none) = admit(&slots, 1).unwrap();
        assert!(none.is_none());
        viewer.place().busy(true);
        let (idle, _) = admit(&slots, 2).unwrap();
        idle.place().busy(true);
        idle.place().done();
        let (old, _) = admit(&slots, 3).unwrap();
        let (young, _) = admit(&slots, 4).unwrap();
        assert_eq!(slots.len(), 4);

        // Full: the oldest unproven connection makes room.
        let (a, evicted) = admit(&slots, 5).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(3));
        assert!(old.evicted().is_cancelled());
        assert!(!young.evicted().is_cancelled());
        // Its task ends: nothing changes, the place was given already.
        drop(old);
        assert_eq!(slots.len(), 4);

        // A request without the token, once over, leaves it unproven, in
        // its place by age; a health probe being answered is kept.
        young.place().busy(false);
        let (b, evicted) = admit(&slots, 6).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(5));
        assert!(a.evicted().is_cancelled());
        young.place().done();
        let (c, evicted) = admit(&slots, 7).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(4));
        let (d, evicted) = admit(&slots, 8).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(6));
        drop((b, young));

        // Only proven ones left (c, d unproven are taken first).
        c.place().busy(true);
        d.place().busy(true);
        let (e, evicted) = admit(&slots, 9).unwrap();
        let evicted = evicted.unwrap();
        assert_eq!(evicted.peer, peer(2), "the idle one goes");
        assert!(evicted.proven);
        e.place().busy(true);
        // Every place busy: the newcomer is refused, nobody evicted.
        assert!(admit(&slots, 10).is_none());
        assert!(!viewer.evicted().is_cancelled());
        // A request ending makes the connection idle: evictable again.
        c.place().done();
        let (_f, evicted) = admit(&slots, 11).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(7));
        assert!(!viewer.evicted().is_cancelled());
    }

    #[test]
    fn places_are_given_back() {
        let slots = Arc::new(Slots::new(2));
        let (a, _) = admit(&slots, 1).unwrap();
        let (b, _) = admit(&slots, 2).unwrap();
        a.place().busy(true);
        b.place().busy(true);
        assert!(admit(&slots, 3).is_none());
        drop(a);
        assert_eq!(slots.len(), 1);
        let (_c, evicted) = admit(&slots, 3).unwrap();
        assert!(evicted.is_none());
        // A request handle outliving its connection changes nothing.
        let place = b.place();
        drop(b);
        place.busy(true);
        place.done();
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn a_connection_is_not_evicted_before_its_task_read_it() {
        let slots = Arc::new(Slots::new(2));
        let (a, _) = admit_new(&slots, 1).unwrap();
        let (b, _) = admit(&slots, 2).unwrap();
        // b goes although a is older: a has not been read yet.
        let (c, evicted) = admit_new(&slots, 3).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(2));
        assert!(b.evicted().is_cancelled());
        // Neither a nor c read yet: the next newcomer waits.
        assert!(matches!(slots.admit(peer(4)), Admission::Wait));
        a.place().started();
        let (d, evicted) = admit_new(&slots, 4).unwrap();
        assert_eq!(evicted.unwrap().peer, peer(1));
        // Busy and new ones only: wait; busy ones only: full.
        c.place().busy(true);
        assert!(matches!(slots.admit(peer(5)), Admission::Wait));
        d.place().busy(true);
        assert!(matches!(slots.admit(peer(5)), Admission::Full));
        drop(d);
        assert!(admit(&slots, 5).is_some());
    }
}
