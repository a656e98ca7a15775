//! The telephony bridge in the hub: `[telephony]` → the `telephony` crate's server.

use std::net::SocketAddr;

use anyhow::Context;
use tracing::info;

use crate::config::TelephonySection;

/// Loads the agents' credentials and starts SIP; the bridge runs until the process ends.
pub async fn start(section: &TelephonySection) -> anyhow::Result<SocketAddr> {
    let accounts = telephony::credentials::load(&section.agents, &section.realm)
        .context("loading the SIP agents' credentials")?;
    let agents = accounts.len();
    let mut engine = telephony::EngineConfig::new(section.listen, &section.realm, accounts);
    engine.ring_timeout = section.ring_timeout;
    let bridge = telephony::Telephony::start(telephony::ServerConfig {
        listen: section.listen,
        advertise: section.advertise,
        engine,
        max_connections: 1024,
    })
    .await
    .context("starting the telephony bridge")?;
    let addr = bridge.udp_addr();
    info!(sip = %addr, agents, realm = %section.realm, "telephony bridge listening");
    // The handle stops the bridge when dropped; the hub keeps it for its whole life.
    tokio::spawn(async move {
        let _bridge = bridge;
        std::future::pending::<()>().await;
    });
    Ok(addr)
}
