//! The hub side: accept appliance connections, admit them, route their streams and flows, and
//! drain gracefully.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, Semaphore, mpsc};
use tracing::{info, warn};
use tunnel_proto::{ApplianceId, Control};

use crate::log_limit::LogLimit;
use crate::{
    Credentials, FleetHooks, Metrics, OpenFleet, ServiceTable, TransportSettings, tls, transport,
};

mod connection;
mod enroll;
mod flows;
mod origins;
mod routed;
pub(crate) mod streams;

pub use origins::FlowOrigin;
pub use routed::UdpRouter;

/// Everything the hub endpoint needs.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub listen: SocketAddr,
    pub credentials: Credentials,
    pub transport: TransportSettings,
    pub services: ServiceTable,
    /// Handshakes in progress at once; more wait, so a reconnect storm cannot starve the CPU.
    pub max_concurrent_handshakes: usize,
    pub handshake_timeout: Duration,
    /// Time a new stream has to deliver its header.
    pub header_timeout: Duration,
    /// Time to reach a service's upstream.
    pub connect_timeout: Duration,
    /// A UDP flow with no traffic either way for this long is closed.
    pub flow_idle_timeout: Duration,
    /// UDP flows one connection may hold.
    pub max_flows: usize,
    /// Stateless-reset secret; persist it so a restarted hub resets stale connections at once.
    pub reset_key: Option<[u8; 32]>,
    /// Name the hub gives itself in `Welcome` and logs.
    pub hub_id: String,
    /// The fleet manager: revocation, enrollment, renewal.
    pub hooks: Arc<dyn FleetHooks>,
    /// How often live connections are checked against the deny-list.
    pub revocation_sweep: Duration,
}

impl HubConfig {
    /// A configuration with the defaults for everything but the essentials.
    pub fn new(listen: SocketAddr, credentials: Credentials, services: ServiceTable) -> Self {
        Self {
            listen,
            credentials,
            transport: TransportSettings::default(),
            services,
            max_concurrent_handshakes: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            flow_idle_timeout: Duration::from_secs(120),
            max_flows: 1024,
            reset_key: None,
            hub_id: "hub".to_owned(),
            hooks: Arc::new(OpenFleet),
            revocation_sweep: Duration::from_secs(1),
        }
    }
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("invalid TLS credentials")]
    Tls(#[from] tls::TlsError),
    #[error("cannot bind {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the status page and the NOC see of one admitted connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: u64,
    pub appliance: ApplianceId,
    pub remote: SocketAddr,
    pub connected_at: SystemTime,
    pub rtt: Duration,
    pub streams_open: u64,
    pub software: String,
}

/// The running hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HubHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: HubConfig,
    services: RwLock<Arc<ServiceTable>>,
    endpoint: quinn::Endpoint,
    metrics: Metrics,
    conns: Mutex<HashMap<u64, Registered>>,
    conn_closed: Notify,
    draining: AtomicBool,
    handshakes: Arc<Semaphore>,
    enrollments: Arc<Semaphore>,
    hooks: Arc<dyn FleetHooks>,
    next_id: AtomicU64,
    bad_peer_log: LogLimit,
    origins: Arc<origins::FlowOrigins>,
    /// Steers the datagrams of routed services; none drops them.
    router: RwLock<Option<Arc<dyn UdpRouter>>>,
}

#[derive(Debug)]
struct Registered {
    appliance: ApplianceId,
    software: String,
    connected_at: SystemTime,
    conn: quinn::Connection,
    control: mpsc::Sender<Control>,
    streams_open: Arc<AtomicU64>,
}

/// The hub endpoint.
#[derive(Debug)]
pub struct Hub;

impl Hub {
    /// Binds the endpoint and starts accepting connections.
    pub fn bind(config: HubConfig, metrics: Metrics) -> Result<HubHandle, HubError> {
        let crypto = tls::server_crypto(&config.credentials, config.hooks.clone())?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server.transport_config(config.transport.quinn(transport::Side::Hub));
        // Address validation costs a round trip; it is worth it only under attack, so leave it
        // to the handshake limit instead.
        server.migration(true);
        let socket = transport::bind_udp(config.listen).map_err(|source| HubError::Bind {
            addr: config.listen,
            source,
        })?;
        let endpoint = transport::endpoint(
            transport::endpoint_config(config.reset_key.as_ref()),
            Some(server),
            socket,
        )
        .map_err(|source| HubError::Bind {
            addr: config.listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            services: RwLock::new(Arc::new(config.services.clone())),
            handshakes: Arc::new(Semaphore::new(config.max_concurrent_handshakes.max(1))),
            enrollments: Arc::new(Semaphore::new(32)),
            hooks: config.hooks.clone(),
            config,
            endpoint,
            metrics,
            conns: Mutex::new(HashMap::new()),
            conn_closed: Notify::new(),
            draining: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            bad_peer_log: LogLimit::new(Duration::from_secs(10), 20),
            origins: Arc::default(),
            router: RwLock::new(None),
        });
        tokio::spawn(accept_loop(shared.clone()));
        tokio::spawn(revocation_sweep(Arc::downgrade(&shared)));
        Ok(HubHandle { shared })
    }
}

async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        if shared.draining.load(Ordering::Acquire) {
            incoming.refuse();
            continue;
        }
        tokio::spawn(connection::run(shared.clone(), incoming));
    }
}

/// Closes live connections of appliances revoked since they connected, wherever the
/// revocation was made (another hub instance, the NOC).
/// Holds the hub weakly, so a closed hub's socket is released at once.
async fn revocation_sweep(shared: std::sync::Weak<Shared>) {
    let Some(every) = shared.upgrade().map(|s| s.config.revocation_sweep) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let revoked: Vec<_> = lock(&shared.conns)
            .values()
            .filter(|r| shared.hooks.is_revoked(&r.appliance))
            .map(|r| (r.appliance.clone(), r.conn.clone()))
            .collect();
        for (appliance, conn) in revoked {
            warn!(%appliance, "appliance revoked; closing its connection");
            conn.close(code(tunnel_proto::ErrorCode::Revoked), b"revoked");
        }
    }
}

impl HubHandle {
    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.endpoint.local_addr()
    }

    /// Every admitted connection, oldest first.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let conns = lock(&self.shared.conns);
        let mut out: Vec<_> = conns
            .iter()
            .map(|(id, r)| ConnectionInfo {
                id: *id,
                appliance: r.appliance.clone(),
                remote: r.conn.remote_address(),
                connected_at: r.connected_at,
                rtt: r.conn.rtt(),
                streams_open: r.streams_open.load(Ordering::Relaxed),
                software: r.software.clone(),
            })
            .collect();
        out.sort_by_key(|c| c.id);
        out
    }

    /// The appliance whose UDP flow sends to its upstream from `source`, the address the
    /// upstream sees datagrams come from; `None` when no open flow has that address. The
    /// identity is the one in the connection's certificate (docs/tunnel.md, *UDP flows*).
    pub fn flow_origin(&self, source: SocketAddr) -> Option<ApplianceId> {
        self.shared.origins.appliance(source)
    }

    /// The flow whose hub-side socket sends from `source` (what an upstream sees as the
    /// datagram's source), with its origin: the appliance (from its certificate) and, when its
    /// gateway said so, the LAN client and the listener it sent to. `None` when no open flow
    /// sends from that address. An IPv4 address written as IPv4-mapped IPv6 is the same.
    pub fn flow_source(&self, source: SocketAddr) -> Option<FlowOrigin> {
        self.shared.origins.get(source)
    }

    /// Installs the router for routed services (replaces any earlier one). Until one is
    /// installed, datagrams of routed services are dropped and counted (`unrouted`).
    pub fn set_udp_router(&self, router: Arc<dyn UdpRouter>) {
        *self
            .shared
            .router
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(router);
    }

    /// Replaces the service table; new streams and flows see it at once.
    pub fn set_services(&self, services: ServiceTable) {
        *self
            .shared
            .services
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(services);
    }

    /// Graceful drain: refuse new connections, tell every gateway to move (`GoAway`), let
    /// streams in flight finish for up to `grace`, then close what is left. Returns the number
    /// of connections that had to be closed at the deadline.
    pub async fn drain(&self, grace: Duration) -> usize {
        let shared = &self.shared;
        shared.draining.store(true, Ordering::Release);
        let senders: Vec<_> = lock(&shared.conns)
            .values()
            .map(|r| r.control.clone())
            .collect();
        info!(
            connections = senders.len(),
            grace_s = grace.as_secs_f64(),
            "draining: asking gateways to move"
        );
        for tx in senders {
            let _ = tx.try_send(Control::GoAway {
                reconnect_after_ms: 0,
            });
        }
        let deadline = Instant::now() + grace;
        loop {
            let closed = shared.conn_closed.notified();
            if lock(&shared.conns).is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), closed)
                .await
                .is_err()
            {
                break;
            }
        }
        let left: Vec<_> = lock(&shared.conns)
            .values()
            .map(|r| r.conn.clone())
            .collect();
        for conn in &left {
            conn.close(
                code(tunnel_proto::ErrorCode::GoingAway),
                b"hub shutting down",
            );
        }
        if !left.is_empty() {
            warn!(
                connections = left.len(),
                "drain grace expired; closed remaining connections"
            );
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), shared.endpoint.wait_idle()).await;
        left.len()
    }

    /// Closes everything at once (no drain).
    pub fn close(&self) {
        self.shared
            .endpoint
            .close(code(tunnel_proto::ErrorCode::GoingAway), b"hub closed");
    }

    /// Closes every live connection of `appliance`; returns how many were closed.
    pub fn disconnect(&self, appliance: &ApplianceId, reason: tunnel_proto::ErrorCode) -> usize {
        let conns = lock(&self.shared.conns);
        let matching: Vec<_> = conns
            .values()
            .filter(|r| &r.appliance == appliance)
            .collect();
        for r in &matching {
            r.conn.close(code(reason), reason.name().as_bytes());
        }
        matching.len()
    }

    /// Whether a drain has begun.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::Acquire)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn code(c: tunnel_proto::ErrorCode) -> quinn::VarInt {
    quinn::VarInt::from_u32(c.to_u32())
}
