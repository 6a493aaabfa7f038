//! A lock that survives a panicking thread, for the store's write queue and
//! the connection registry.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, carrying on if a panicking thread poisoned it: nothing
/// held under the crate's locks can be left half-done by a panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
