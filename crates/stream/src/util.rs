//! Two helpers every engine module shares: a lock that survives a
//! panicking thread, and the wall clock in Unix microseconds.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// The wall clock in µs since the Unix epoch (capture's, which stamps
/// frames, so latencies compare like with like).
pub(crate) use framecast_capture::unix_time_us as now_us;

/// Locks `m`, carrying on if a panicking thread poisoned it: every guarded
/// value stays consistent between statements, so it is still usable (and the
/// panic is reported when the engine is joined).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
