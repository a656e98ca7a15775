//! The gateway side: keep one admitted connection to a hub at all times, and forward local
//! TCP connections and UDP flows over it.
//!
//! A supervisor dials the configured hubs in turn with capped full-jitter backoff, forever.
//! Each admitted connection is a `Link`; the current link is published through a `watch`
//! channel that readiness and every forwarder read. When a hub sends `GoAway` the supervisor
//! dials a replacement (another hub first) while the old link keeps serving, swaps, and
//! retires the old link once its streams have finished.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};
use tunnel_proto::{Backoff, ErrorCode};

use crate::{Credentials, Metrics, TransportSettings, tls, transport};

mod link;
mod tcp;
mod udp;

pub use link::DialError as ConnectError;
use link::{Link, LinkEvent};

/// Everything the gateway needs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Hub addresses (`host:port`), tried in turn.
    pub hubs: Vec<String>,
    /// The name the hub certificate must carry.
    pub server_name: String,
    pub credentials: Credentials,
    pub transport: TransportSettings,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A connection up this long resets the backoff.
    pub backoff_stable: Duration,
    /// Time from first packet to `Welcome` before an attempt is abandoned.
    pub handshake_timeout: Duration,
    /// Interval of the watchdog's pings on the control stream.
    pub watchdog_interval: Duration,
    /// How long a new local connection waits for the tunnel before it is refused.
    pub wait_for_link: Duration,
    /// How long a replaced link may keep finishing its streams.
    pub drain_grace: Duration,
    /// A UDP flow with no traffic for this long is closed.
    pub flow_idle_timeout: Duration,
    /// Local address of the QUIC socket.
    pub bind: SocketAddr,
    /// Connections kept at once (to different hubs when several are configured); streams are
    /// spread over them. More than one lets bulk flows use more than one core at each end.
    pub connections: usize,
    /// Software version sent in `Hello`.
    pub software: String,
}

impl GatewayConfig {
    /// A configuration with the defaults for everything but the essentials.
    pub fn new(hubs: Vec<String>, server_name: String, credentials: Credentials) -> Self {
        Self {
            hubs,
            server_name,
            credentials,
            transport: TransportSettings::default(),
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            backoff_stable: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            watchdog_interval: Duration::from_secs(5),
            wait_for_link: Duration::from_secs(5),
            drain_grace: Duration::from_secs(30),
            flow_idle_timeout: Duration::from_secs(120),
            bind: ([0, 0, 0, 0], 0).into(),
            connections: 1,
            software: concat!("gatewayd/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid TLS credentials")]
    Tls(#[from] tls::TlsError),
    #[error("cannot bind {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no hub address configured")]
    NoHubs,
}

/// Why a renewal exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error("no tunnel to the hub")]
    NoTunnel,
    #[error("renewal exchange failed")]
    Rpc(#[from] crate::rpc::RpcStreamError),
}

fn client_config(
    credentials: &Credentials,
    transport: &TransportSettings,
) -> Result<quinn::ClientConfig, tls::TlsError> {
    let mut client = quinn::ClientConfig::new(Arc::new(tls::client_crypto(credentials)?));
    client.transport_config(transport.quinn(transport::Side::Gateway));
    Ok(client)
}

/// What `/status` and the logs say about the tunnel.
#[derive(Debug, Clone)]
pub struct GatewayStatus {
    pub connected: bool,
    pub hub: Option<SocketAddr>,
    pub hub_id: Option<String>,
    pub up_for: Option<Duration>,
    pub rtt: Option<Duration>,
}

/// The gateway. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: GatewayConfig,
    /// Used for every new connection; replaced when the certificate is renewed.
    client: std::sync::Mutex<quinn::ClientConfig>,
    endpoint: quinn::Endpoint,
    metrics: Metrics,
    /// One slot per connection kept; each has its own supervisor.
    links: Vec<watch::Sender<Option<Arc<Link>>>>,
    /// Bumped whenever any slot changes, to wake whoever waits for a link.
    changed: watch::Sender<u64>,
    /// Round-robin position for new streams.
    next_slot: std::sync::atomic::AtomicUsize,
    shutdown: watch::Sender<bool>,
    started: AtomicBool,
}

impl Gateway {
    /// Binds the local QUIC socket. Call [`Gateway::start`] to begin dialing.
    pub fn new(config: GatewayConfig, metrics: Metrics) -> Result<Self, GatewayError> {
        if config.hubs.is_empty() {
            return Err(GatewayError::NoHubs);
        }
        let client = client_config(&config.credentials, &config.transport)?;
        let socket = transport::bind_udp(config.bind).map_err(|source| GatewayError::Bind {
            addr: config.bind,
            source,
        })?;
        let endpoint = transport::endpoint(transport::endpoint_config(None), None, socket)
            .map_err(|source| GatewayError::Bind {
                addr: config.bind,
                source,
            })?;
        let slots = config.connections.max(1);
        let shared = Arc::new(Shared {
            client: std::sync::Mutex::new(client),
            config,
            endpoint,
            metrics,
            links: (0..slots).map(|_| watch::Sender::new(None)).collect(),
            changed: watch::Sender::new(0),
            next_slot: std::sync::atomic::AtomicUsize::new(0),
            shutdown: watch::Sender::new(false),
            started: AtomicBool::new(false),
        });
        Ok(Self { shared })
    }

    /// Starts the supervisor (once).
    pub fn start(&self) {
        if !self.shared.started.swap(true, Ordering::AcqRel) {
            for slot in 0..self.shared.links.len() {
                tokio::spawn(supervise(self.shared.clone(), slot));
            }
        }
    }

    /// True while an admitted connection to a hub is up.
    pub fn is_ready(&self) -> bool {
        self.shared.primary().is_some()
    }

    /// A receiver that changes whenever readiness may have changed.
    pub fn watch_ready(&self) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(self.is_ready());
        let mut changed = self.shared.changed.subscribe();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            while changed.changed().await.is_ok() {
                if tx.send(shared.primary().is_some()).is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Waits until the tunnel is up, or `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.current_link(timeout).await.is_some()
    }

    /// The tunnel as the status page shows it.
    pub fn status(&self) -> GatewayStatus {
        match self.shared.primary() {
            Some(l) => GatewayStatus {
                connected: true,
                hub: Some(l.hub),
                hub_id: Some(l.hub_id.clone()),
                up_for: Some(l.since.elapsed()),
                rtt: Some(l.conn.rtt()),
            },
            None => GatewayStatus {
                connected: false,
                hub: None,
                hub_id: None,
                up_for: None,
                rtt: None,
            },
        }
    }

    /// Replaces the certificate and key used for new connections. The live connection and its
    /// streams are untouched: TLS identities matter only at the handshake.
    pub fn set_credentials(&self, credentials: &Credentials) -> Result<(), tls::TlsError> {
        let client = client_config(credentials, &self.shared.config.transport)?;
        *self.shared.client.lock().unwrap_or_else(|e| e.into_inner()) = client;
        Ok(())
    }

    /// One renewal exchange with the hub over the live tunnel: `request` out, the answer back.
    pub async fn renew(&self, request: &[u8]) -> Result<Vec<u8>, RenewError> {
        let link = self
            .shared
            .current_link(self.shared.config.wait_for_link)
            .await
            .ok_or(RenewError::NoTunnel)?;
        let (mut send, mut recv) = link
            .conn
            .open_bi()
            .await
            .map_err(|_| RenewError::NoTunnel)?;
        let mut head = tunnel_proto::StreamHeader::Renew.to_bytes();
        tunnel_proto::rpc::encode(request, &mut head).map_err(crate::rpc::RpcStreamError::from)?;
        send.write_all(&head)
            .await
            .map_err(crate::rpc::RpcStreamError::from)?;
        let _ = send.finish();
        Ok(crate::rpc::read(&mut recv).await?)
    }

    /// The local address of the QUIC socket.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.endpoint.local_addr()
    }

    /// Stops dialing, closes the connection and waits briefly for the close to be sent.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        for link in self
            .shared
            .links
            .iter()
            .filter_map(|slot| slot.send_replace(None))
        {
            link.conn.close(
                quinn::VarInt::from_u32(ErrorCode::Shutdown.to_u32()),
                b"gateway shutting down",
            );
        }
        let _ =
            tokio::time::timeout(Duration::from_secs(1), self.shared.endpoint.wait_idle()).await;
    }

    /// One dial attempt to the first hub, without the supervisor: handshake, `Hello`, and the
    /// hub's `Welcome`. Returns the hub's id and closes the connection. A hub that refuses our
    /// certificate makes this fail at once, not on a later stream.
    pub async fn connect_once(&self) -> Result<String, ConnectError> {
        let (link, _events) = link::dial(&self.shared, 0).await?;
        link.conn.close(
            quinn::VarInt::from_u32(ErrorCode::NoError.to_u32()),
            b"probe",
        );
        Ok(link.hub_id.clone())
    }

    async fn current_link(&self, wait: Duration) -> Option<Arc<Link>> {
        self.shared.current_link(wait).await
    }
}

impl Shared {
    /// An admitted link for a new stream, round-robin over the slots, waiting up to `wait`
    /// for one to come up.
    async fn current_link(&self, wait: Duration) -> Option<Arc<Link>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut changed = self.changed.subscribe();
        loop {
            if let Some(link) = self.pick() {
                return Some(link);
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.pick(),
            }
        }
    }

    fn alive(slot: &watch::Sender<Option<Arc<Link>>>) -> Option<Arc<Link>> {
        slot.borrow()
            .as_ref()
            .filter(|l| l.conn.close_reason().is_none())
            .cloned()
    }

    /// The next admitted link in round-robin order.
    fn pick(&self) -> Option<Arc<Link>> {
        let n = self.links.len();
        let start = self.next_slot.fetch_add(1, Ordering::Relaxed);
        (0..n).find_map(|i| Self::alive(&self.links[(start + i) % n]))
    }

    /// The first admitted link in slot order: the one status and UDP flows use, so a flow
    /// stays on one connection.
    fn primary(&self) -> Option<Arc<Link>> {
        self.links.iter().find_map(Self::alive)
    }

    /// Publishes `link` in `slot`; returns the link it replaces.
    fn publish(&self, slot: usize, link: Arc<Link>) -> Option<Arc<Link>> {
        let old = self.links[slot].send_replace(Some(link));
        self.changed.send_modify(|g| *g += 1);
        old
    }

    fn clear_link(&self, id: u64) {
        let mut any = false;
        for slot in &self.links {
            any |= slot.send_if_modified(|cur| {
                if cur.as_ref().is_some_and(|l| l.id == id) {
                    *cur = None;
                    true
                } else {
                    false
                }
            });
        }
        if any {
            self.changed.send_modify(|g| *g += 1);
        }
    }
}

async fn supervise(shared: Arc<Shared>, slot: usize) {
    let c = &shared.config;
    let mut backoff = Backoff::new(c.backoff_base, c.backoff_cap, c.backoff_stable);
    // Slots start at different hubs, so a gateway with two connections and two hubs holds
    // one to each.
    let mut next = slot;
    let mut avoid = None;
    let mut shutdown = shared.shutdown.subscribe();
    let mut had_link = false;
    loop {
        let dial = link::dial_until_up(&shared, &mut backoff, &mut next, avoid);
        // Shutdown first, so a gateway being stopped never starts another dial.
        let (link, mut events) = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            up = dial => up,
        };
        avoid = None;
        if had_link {
            shared.metrics.reconnects.inc();
        }
        had_link = true;
        info!(hub = %link.hub, hub_id = %link.hub_id, "tunnel up");
        if let Some(old) = shared.publish(slot, link.clone()) {
            tokio::spawn(link::retire(old, shared.config.drain_grace));
        }
        let event = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            ev = events.recv() => ev.unwrap_or(LinkEvent::Lost),
        };
        match event {
            LinkEvent::GoAway => {
                info!(hub = %link.hub, "hub is draining; opening a replacement connection");
                avoid = Some(link.hub_index);
                next = link.hub_index + 1;
            }
            LinkEvent::Wedged => {
                warn!(hub = %link.hub, "tunnel unresponsive; replacing the connection");
                link.conn.close(
                    quinn::VarInt::from_u32(ErrorCode::Wedged.to_u32()),
                    b"watchdog",
                );
                shared.clear_link(link.id);
                backoff.connection_ended(link.since.elapsed());
            }
            LinkEvent::Lost => {
                let reason = link
                    .conn
                    .close_reason()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                let revoked = matches!(
                    link.conn.close_reason(),
                    Some(quinn::ConnectionError::ApplicationClosed(ref c))
                        if c.error_code == quinn::VarInt::from_u32(ErrorCode::Revoked.to_u32())
                );
                if revoked {
                    // Say it plainly: retrying will not help until the NOC enrols this box again.
                    tracing::error!(hub = %link.hub, "this appliance has been revoked by the NOC; ask them to enrol it again");
                } else {
                    warn!(hub = %link.hub, %reason, up_s = link.since.elapsed().as_secs(), "tunnel lost; reconnecting");
                }
                shared.clear_link(link.id);
                backoff.connection_ended(link.since.elapsed());
            }
        }
    }
}
