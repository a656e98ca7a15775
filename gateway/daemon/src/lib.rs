//! Plumbing the Legătura daemons share, so that `hubd` and `gatewayd` stay wiring only.
//!
//! - [`config`]: TOML files that fail closed: an unknown key, a bad value or a missing file is
//!   one line on stderr naming the file, line and key, and exit code 78 (`EX_CONFIG`).
//! - [`notify`]: systemd readiness, status, watchdog and stopping notifications.
//! - [`secret`]: small secrets created once with mode 0600 and read back on every start.
//! - [`logging`] and [`shutdown_signal`].

pub mod config;
pub mod logging;
pub mod notify;
pub mod secret;

pub use config::{ConfigError, EX_CONFIG, TransportSection};

/// Which signal asked the daemon to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Terminate,
    Interrupt,
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() -> Stop {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the daemon can still be stopped by SIGKILL; never resolve.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => Stop::Terminate,
        _ = int.recv() => Stop::Interrupt,
    }
}
