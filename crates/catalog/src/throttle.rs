//! [`Throttle`]: at most one log line per interval for events an attacker
//! can repeat at will (refused connections, failed handshakes, bad tokens).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// How often a throttled event is logged at most: every 10 seconds.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// Lets one event through per [`LOG_EVERY`] and counts the ones it holds
/// back.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl Throttle {
    /// A throttle that lets the first event through.
    pub(crate) const fn new() -> Self {
        Self {
            last: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if this event should be logged, `n` being how many were
    /// held back since the last one logged; `None` to stay quiet.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match *last {
            Some(t) if now.duration_since(t) < LOG_EVERY => {
                self.held_back.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.held_back.swap(0, Ordering::Relaxed))
            }
        }
    }
}

/// A [`Throttle`] per kind of event, so that one kind repeated at will does
/// not hide the others. Kinds are a small fixed set of names.
#[derive(Debug, Default)]
pub(crate) struct KeyedThrottle {
    kinds: Mutex<HashMap<&'static str, Arc<Throttle>>>,
}

impl KeyedThrottle {
    /// As [`Throttle::allow`], for events of kind `kind`.
    pub(crate) fn allow(&self, kind: &'static str) -> Option<u64> {
        let throttle = {
            let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(kinds.entry(kind).or_default())
        };
        throttle.allow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_each_interval() {
        let t = Throttle::default();
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
        *t.last.lock().unwrap() = Some(Instant::now() - LOG_EVERY);
        assert_eq!(t.allow(), Some(2));
    }

    #[test]
    fn kinds_are_throttled_apart() {
        let t = KeyedThrottle::default();
        assert_eq!(t.allow("a"), Some(0));
        assert_eq!(t.allow("a"), None);
        assert_eq!(t.allow("b"), Some(0));
    }
}
