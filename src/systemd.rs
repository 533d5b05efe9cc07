//! systemd integration for `Type=notify` units: READY once the endpoint listens, STOPPING on
//! shutdown, and watchdog keep-alives while the runtime is responsive. Outside systemd
//! (no `NOTIFY_SOCKET`) every call here does nothing.

use std::time::Duration;

/// Tells systemd the exporter is serving.
pub fn ready() {
    if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::debug!(%error, "sd_notify READY failed");
    }
}

/// Tells systemd the exporter is shutting down.
pub fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// When the unit has `WatchdogSec=`, pings at half that period from a tokio task, so a wedged
/// runtime (the task no longer runs) gets the process restarted.
pub fn spawn_watchdog() {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(500));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    });
}
