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

/// Runs a daemon's main future on a multi-threaded runtime until it returns or SIGTERM/SIGINT
/// resolves the stop future it is given; logs a failure and turns it into the exit code.
pub fn run_until_signal<F, Fut, E>(name: &str, daemon: F) -> std::process::ExitCode
where
    F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let stop = Box::pin(async {
        shutdown_signal().await;
    });
    match runtime.block_on(daemon(stop)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{name} failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() -> Stop {
    catch_shutdown_signal().await
}

/// [`shutdown_signal`] with the handlers installed now, not at the first poll: for a caller
/// that tells someone to press Ctrl-C before it starts waiting, so that an early press stops
/// it cleanly instead of killing it.
pub fn catch_shutdown_signal() -> impl Future<Output = Stop> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Without signal handlers the daemon can still be stopped by SIGKILL; never resolve.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => Stop::Terminate,
            _ = int.recv() => Stop::Interrupt,
        }
    }
}
