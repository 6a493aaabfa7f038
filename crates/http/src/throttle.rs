//! The login form's brake: after a few failed logins from one address,
//! each further attempt from it must wait, longer after each failure; an
//! attempt made sooner is answered `429` without the token being looked
//! at. So guessing the token through the form goes at a few guesses a
//! minute, not tens of thousands a second.
//!
//! ```text
//! failures from an address:  1 … free_failures   then each one more
//! wait before the next try:  none                delay, 2×delay, 4×delay … max_delay
//! ```
//!
//! Addresses are kept in a bounded table (`addresses` entries): an IPv6
//! address by its /64 (one host usually holds a whole /64), an address is
//! forgotten once it has made no failure for `memory`, and when the table
//! is full the address whose last failure is the oldest is dropped. A
//! successful login forgets the address's failures.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The brake's settings (see [`HttpConfig::login_throttle`](crate::HttpConfig::login_throttle)).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) free_failures: u32,
    pub(super) delay: Duration,
    pub(super) max_delay: Duration,
    pub(super) addresses: usize,
    pub(super) memory: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    /// No attempt is checked before this.
    until: Instant,
}

/// Failed logins by address.
#[derive(Debug)]
pub(super) struct Throttle {
    limits: Limits,
    table: HashMap<IpAddr, Failures>,
}

/// The key of `ip`: IPv4 (an IPv4-mapped IPv6 address too) as it is, IPv6
/// by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl Throttle {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            table: HashMap::new(),
        }
    }

    /// `Err(wait)` when `ip` must wait that long before its next attempt
    /// is checked.
    pub(super) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.table.get(&key(ip)) {
            Some(f) if f.until > now => Err(f.until - now),
            _ => Ok(()),
        }
    }

    /// A failed login from `ip`: returns how long its next attempt must
    /// wait (zero while it has failed no more than `free_failures` times).
    pub(super) fn failed(&mut self, ip: IpAddr, now: Instant) -> Duration {
        let limits = self.limits;
        let ip = key(ip);
        self.table
            .retain(|_, f| now.saturating_duration_since(f.last) < limits.memory);
        if !self.table.contains_key(&ip) && self.table.len() >= limits.addresses.max(1) {
            let oldest = self
                .table
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.table.remove(&oldest);
            }
        }
        let f = self.table.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
            until: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        let over = f.count.saturating_sub(limits.free_failures);
        let wait = if over == 0 {
            Duration::ZERO
        } else {
            let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
            limits.delay.saturating_mul(factor).min(limits.max_delay)
        };
        f.until = now + wait;
        wait
    }

    /// A successful login from `ip`: its failures are forgotten.
    pub(super) fn succeeded(&mut self, ip: IpAddr) {
        self.table.remove(&key(ip));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        free_failures: 3,
        delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
        addresses: 4,
        memory: Duration::from_secs(60),
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn after_the_free_failures_each_one_doubles_the_wait_up_to_the_most() {
        let mut t = Throttle::new(LIMITS);
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(t.check(a, now), Ok(()));
            assert_eq!(t.failed(a, now), Duration::ZERO);
        }
        let waits: Vec<u64> = (0..6).map(|_| t.failed(a, now).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(t.check(a, now), Err(Duration::from_secs(10)));
        assert_eq!(
            t.check(a, now + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert_eq!(t.check(a, now + Duration::from_secs(10)), Ok(()));
        // Another address is not slowed.
        assert_eq!(t.check(ip("192.0.2.2"), now), Ok(()));
        // A success forgets.
        t.succeeded(a);
        assert_eq!(t.check(a, now), Ok(()));
        assert_eq!(t.failed(a, now), Duration::ZERO);
    }

    #[test]
    fn ipv6_hosts_are_one_address_per_64() {
        let mut t = Throttle::new(LIMITS);
        let now = Instant::now();
        for i in 0..4 {
            t.failed(ip(&format!("2001:db8:1:2::{i}")), now);
        }
        assert!(t.check(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert_eq!(t.check(ip("2001:db8:1:3::1"), now), Ok(()));
        // IPv4-mapped is IPv4.
        for _ in 0..4 {
            t.failed(ip("::ffff:192.0.2.9"), now);
        }
        assert!(t.check(ip("192.0.2.9"), now).is_err());
    }

    #[test]
    fn the_table_is_bounded_and_forgets() {
        let mut t = Throttle::new(LIMITS);
        let start = Instant::now();
        for i in 0..10u64 {
            t.failed(ip(&format!("192.0.2.{i}")), start + Duration::from_secs(i));
            assert!(t.len() <= 4);
        }
        // The oldest went first.
        assert!(t.table.contains_key(&ip("192.0.2.9")));
        assert!(!t.table.contains_key(&ip("192.0.2.0")));
        // Long after, a failure elsewhere clears the forgotten ones.
        t.failed(ip("198.51.100.1"), start + Duration::from_secs(200));
        assert_eq!(t.len(), 1);
    }
}
