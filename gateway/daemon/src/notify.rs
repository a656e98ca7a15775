//! systemd notifications (`Type=notify`). Every call is a no-op outside systemd.

use std::time::Duration;

use sd_notify::NotifyState;

/// The daemon is serving; `status` says how (shown by `systemctl status`).
pub fn ready(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Updates the status line.
pub fn status(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Status(status)]);
}

/// The daemon is draining and will exit.
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// Pets the systemd watchdog from the runtime at half its interval, so a wedged runtime stops
/// petting and gets restarted. Returns at once when no watchdog is configured.
pub async fn watchdog() {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(Duration::from_micros(usec) / 2);
    loop {
        tick.tick().await;
        let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
    }
}
