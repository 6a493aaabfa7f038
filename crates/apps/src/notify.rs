//! Telling the service manager how the process is doing (systemd's
//! `Type=notify`, see `contrib/systemd/`): ready once it listens and its
//! streams have started, reloading while `run` applies a new
//! configuration, stopping when it winds down, and a one-line status.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing. A
//! message that cannot be sent is logged once, never an error: the service
//! manager going away is no reason to stop serving streams.

use std::sync::atomic::{AtomicBool, Ordering};

use sd_notify::NotifyState;

/// Set after the first failed notification, so the log says it once.
static FAILED: AtomicBool = AtomicBool::new(false);

/// The process is up: it listens and its streams have started.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The process is reloading its configuration (`READY=1` follows when
/// done). systemd's `Type=notify-reload` needs the monotonic time with it.
pub(crate) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// The process is stopping.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// A status line for `systemctl status`.
pub(crate) fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states)
        && !FAILED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
    }
}
