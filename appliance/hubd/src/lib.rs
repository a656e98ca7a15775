//! `hubd`, the hub daemon: terminate the embassy tunnels, route their services, serve the
//! status page, drain gracefully on SIGTERM. Wiring only; the tunnel crate owns the protocol.
//!
//! Once started the process is confined ([`confine`]). [`run`] never confines: it is for
//! hosts that run the hub beside other work (`legatura up`); the binary calls [`run_with`]
//! and [`Sandboxing::FromConfig`].

pub mod config;
pub mod confine;
pub mod console;
pub mod mail;
pub mod noc;
pub mod pki;
pub mod portal;
pub mod voice;

use std::sync::Arc;

use anyhow::Context;
use prometheus_client::registry::Registry;
use tracing::info;
use tunnel::{Credentials, Hub, HubConfig, HubHandle, Metrics};

pub use config::Config;
pub use confine::Sandboxing;

/// Builds the tunnel's configuration from the file's, creating the reset key on first start.
pub fn hub_config(
    config: &Config,
    hooks: Option<Arc<dyn tunnel::FleetHooks>>,
) -> anyhow::Result<HubConfig> {
    let t = &config.tls;
    let creds = Credentials::from_files(&t.fleet_ca, &t.cert, &t.key)
        .context("loading the hub's TLS files")?;
    let services = config.service_table("hubd.toml")?;
    let mut h = HubConfig::new(config.listen, creds, services);
    h.transport = config.transport.settings();
    let l = &config.limits;
    h.max_concurrent_handshakes = l.max_concurrent_handshakes;
    h.handshake_timeout = l.handshake_timeout;
    h.header_timeout = l.header_timeout;
    h.connect_timeout = l.connect_timeout;
    h.flow_idle_timeout = l.flow_idle_timeout;
    h.max_flows = l.max_flows;
    h.hub_id = config.hub_id.clone();
    if let Some(hooks) = hooks {
        h.hooks = hooks;
    }
    // Persisted so that after a crash the new process resets stale connections at once.
    h.reset_key = Some(
        daemon::secret::load_or_create(&config.state_dir.join("reset.key"))
            .context("loading the stateless-reset key")?,
    );
    Ok(h)
}

/// Runs the hub in a process shared with other work, unconfined, until `stop` resolves (see
/// [`run_with`]).
pub async fn run(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(config, Sandboxing::Skip, stop).await
}

/// A started hub: its handle, and a future that runs until shut down. With
/// [`Sandboxing::FromConfig`] the process is confined once everything is bound and loaded.
pub async fn run_with(
    config: Config,
    sandboxing: Sandboxing,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let Started { hub, pki, phones } = start(&config).await?;
    if sandboxing == Sandboxing::FromConfig {
        confine::confine(&config)?;
    }
    daemon::notify::ready(&format!("serving on {}", config.listen));
    tokio::select! {
        _ = stop => {}
        _ = daemon::notify::watchdog() => {}
    }
    daemon::notify::stopping();
    // Calls first, while the tunnels still carry the embassy phones' BYEs.
    if let Some(phones) = &phones {
        phones.hang_up_all(PHONE_HANG_UP_GRACE).await;
    }
    info!(grace_s = config.drain_grace.as_secs(), "draining");
    let cut = hub.drain(config.drain_grace).await;
    if let Some((fleet, audit)) = pki {
        pki::flush(fleet).await;
        // Seal what happened since the last checkpoint before going down.
        checkpoint(&audit).await;
    }
    info!(connections_cut = cut, "stopped");
    Ok(())
}

async fn checkpoint(audit: &Arc<audit::AuditLog>) {
    let audit = audit.clone();
    match tokio::task::spawn_blocking(move || audit.checkpoint()).await {
        Ok(Ok(_)) | Ok(Err(audit::CheckpointError::Empty)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "audit checkpoint failed; it will be retried"),
        Err(error) => tracing::warn!(%error, "audit checkpoint task failed"),
    }
}

/// Signs a checkpoint every few minutes, so a quiet log is sealed too.
async fn checkpoints(audit: Arc<audit::AuditLog>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    tick.tick().await;
    loop {
        tick.tick().await;
        checkpoint(&audit).await;
    }
}

/// How long a stopping hub waits for phones to answer the BYEs of the calls it hangs up.
const PHONE_HANG_UP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What [`start`] brought up.
#[derive(Debug)]
pub struct Started {
    pub hub: HubHandle,
    /// The fleet manager and its audit log, with `[pki]`.
    pub pki: Option<(Arc<fleet::Fleet>, Arc<audit::AuditLog>)>,
    /// The telephony bridge, with `[telephony]`.
    pub phones: Option<Arc<telephony::Telephony>>,
}

/// Binds the endpoint, the status page and the admin endpoint.
pub async fn start(config: &Config) -> anyhow::Result<Started> {
    let metrics = Metrics::default();
    let fleet = match &config.pki {
        Some(section) => Some(pki::open(section)?),
        None => None,
    };
    let hooks = fleet
        .as_ref()
        .map(|(f, _)| f.clone() as Arc<dyn tunnel::FleetHooks>);
    let hub = Hub::bind(hub_config(config, hooks)?, metrics.clone())
        .context("starting the tunnel endpoint")?;
    info!(listen = %hub.local_addr()?, hub_id = %config.hub_id, "hub listening");

    if let Some((fleet, audit)) = &fleet {
        tokio::spawn(pki::refresh(fleet.clone()));
        tokio::spawn(checkpoints(audit.clone()));
        if let Some(noc) = &config.noc {
            let tls = noc::tls_config(&config.tls.cert, &config.tls.key, &noc.operator_ca)?;
            let listener = tokio::net::TcpListener::bind(noc.listen)
                .await
                .with_context(|| format!("binding the NOC API on {}", noc.listen))?;
            info!(listen = %noc.listen, "NOC API (operator certificates only)");
            tokio::spawn(noc::serve(listener, tls, fleet.clone(), hub.clone()));
        }
    }

    let mut stores = portal::Stores::default();
    // One live chat hub joins the portal's chat windows and the console's chat pages; chats
    // are per hub instance (docs/chat.md).
    let chat_hub = ::chat::Hub::new(::chat::Settings {
        no_agent_wait: config
            .portal
            .as_ref()
            .map_or(std::time::Duration::from_secs(120), |p| p.chat_wait),
        ..::chat::Settings::default()
    });
    if let Some(section) = &config.portal {
        portal::start(section, stores.open(&section.database)?, chat_hub.clone()).await?;
    }
    let mut agents_console = None;
    if let (Some(section), Some((_, audit))) = (&config.console, &fleet) {
        let console =
            console::start(section, stores.open(&section.database)?, audit.clone()).await?;
        console.attach_chat(chat_hub.clone());
        agents_console = Some(console);
    }
    if let Some(section) = &config.mail {
        mail::start(section, stores.open(&section.database)?, chat_hub.clone()).await?;
    }
    let mut phones = None;
    if let Some(section) = &config.telephony {
        // Calls join cases in the telephony section's store, or else the console's.
        let database = section
            .database
            .as_ref()
            .or(config.console.as_ref().map(|c| &c.database));
        let store = database.map(|db| stores.open(db)).transpose()?;
        let bridge = voice::start(section, store, voice::origins(&hub)).await?;
        // Embassy phones' audio: the routed `rtp`/`rtcp` services go where their calls are.
        hub.set_udp_router(std::sync::Arc::new(voice::PhoneAudio::new(&bridge)));
        if let Some(console) = &agents_console {
            console.attach_phones(bridge.clone());
        }
        phones = Some(bridge);
    }

    if let Some(page) = &config.status_page {
        let listener = tokio::net::TcpListener::bind(page.listen)
            .await
            .with_context(|| format!("binding the status page on {}", page.listen))?;
        let router = statuspage::router(hub.clone(), config.hub_id.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
    }

    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let (ready_hub, status_hub, hub_id) = (hub.clone(), hub.clone(), config.hub_id.clone());
    let admin = admin::Admin::new(
        registry,
        Arc::new(move || {
            if ready_hub.is_draining() {
                Err("draining".into())
            } else {
                Ok(())
            }
        }),
        Arc::new({
            let phones = phones.clone();
            move || {
                serde_json::json!({
                    "hub_id": hub_id,
                    "draining": status_hub.is_draining(),
                    "appliances": statuspage::rows(&status_hub),
                    // Registered phones, with the embassy gateway of those registered through one.
                    "phones": phones.as_ref().map(|p| p.registrations()),
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(config.admin)
        .await
        .with_context(|| format!("binding admin {}", config.admin))?;
    tokio::spawn(async move { admin.serve(listener).await });
    Ok(Started {
        hub,
        pki: fleet,
        phones,
    })
}
