//! `legatura-lan-status`: binds the status page's port, confines itself (the `sandbox` crate:
//! reading `/run/legatura` only, the daemons' system-call allow-list, no capabilities) and
//! serves the page until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use lan_status::{Page, Sources};
use sandbox::{Profile, Sandbox};
use tracing::{info, warn};

/// The appliance's read-only status page for the embassy LAN.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the page is served.
    /// `[::]` serves IPv6 and IPv4 both.
    #[arg(long, default_value = "[::]:8080")]
    listen: SocketAddr,
    /// gatewayd's admin endpoint (its `admin` setting).
    #[arg(long, default_value = "127.0.0.1:9101")]
    admin: SocketAddr,
    /// The status file gateway-provision writes.
    #[arg(long, default_value = "/run/legatura/provision.json")]
    provision_status: PathBuf,
    /// How long gatewayd may take to answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    admin_timeout_ms: u64,
    /// Do not confine the process (to diagnose only).
    #[arg(long)]
    no_sandbox: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    daemon::logging::init();
    // One thread is plenty for a page asked for by a few people, and it is one thread to confine.
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "legatura-lan-status failed");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = lan_status::serve::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    if args.no_sandbox {
        warn!("sandbox disabled (--no-sandbox)");
    } else {
        confine(&args)?;
    }
    let page = Page::new(Sources {
        provision_file: args.provision_status,
        admin: args.admin,
        admin_timeout: Duration::from_millis(args.admin_timeout_ms),
    });
    info!(addr = %args.listen, "serving the status page");
    daemon::notify::ready("serving the status page");
    tokio::select! {
        served = axum::serve(listener, page.router()) => served.context("serving the page")?,
        _ = daemon::shutdown_signal() => info!("stopping"),
        _ = daemon::notify::watchdog() => {}
    }
    daemon::notify::stopping();
    Ok(())
}

/// After start-up the page reads the provisioning status file's directory and nothing else,
/// and makes no call the daemons' allow-list does not have.
fn confine(args: &Args) -> anyhow::Result<()> {
    let mut sandbox = Sandbox::builder()
        .allow_exec(false)
        .syscalls(Profile::LanStatus);
    match args.provision_status.parent() {
        Some(dir) if dir.is_dir() => sandbox = sandbox.read_only([dir]),
        _ => warn!(
            file = %args.provision_status.display(),
            "the provisioning status directory does not exist; the page will say the file is unreadable"
        ),
    }
    let report = sandbox
        .apply()
        .context("confining legatura-lan-status (docs/hardening.md)")?;
    report.log();
    Ok(())
}
