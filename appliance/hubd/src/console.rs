//! Wiring of the agents' console: the case store (shared with the portal when both name the
//! same file), the hub's audit log, the loopback listener the tunnel's `console` service
//! delivers to (with a PROXY header naming the appliance) and, optionally, a listener on the
//! central network.

use std::sync::Arc;

use anyhow::Context;

use crate::config::ConsoleSection;

/// Starts the console's listeners; returns the console so callers (the CLI's demo seeding)
/// can reach its store.
pub async fn start(
    section: &ConsoleSection,
    store: Arc<casestore::Store>,
    audit: Arc<audit::AuditLog>,
) -> anyhow::Result<Arc<console::Console>> {
    let central = casestore::ConsulateId::new(&section.central_consulate)
        .context("console.central_consulate")?;
    let mut settings = console::Settings::new(central);
    settings.sessions.idle = section.idle_timeout;
    settings.sessions.absolute = section.absolute_timeout;
    settings.secure_cookies = section.secure_cookies;
    let console = console::Console::new(store, audit, settings).context("building the console")?;

    let tunnel = tunnel_origin::OriginListener::bind(section.tunnel_listen)
        .await
        .with_context(|| {
            format!(
                "binding the console's tunnel listener {}",
                section.tunnel_listen
            )
        })?;
    tracing::info!(listen = %section.tunnel_listen, "agents' console (tunnel side, PROXY v2)");
    tokio::spawn(console.clone().serve_tunnel(tunnel));

    if let Some(addr) = section.central_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the console's central listener {addr}"))?;
        tracing::info!(listen = %addr, "agents' console (central network)");
        tokio::spawn(console.clone().serve_central(listener));
    }
    Ok(console)
}
