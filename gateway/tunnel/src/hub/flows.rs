//! UDP flows at the hub: one upstream socket per flow, datagrams both ways. The socket is
//! connected to the service's upstream, or, for a routed service, unconnected and steered per
//! datagram (`routed`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;
use tunnel_proto::{
    ApplianceId, Control, ErrorCode, FlowId, MAX_UDP_PAYLOAD, ServiceName, datagram,
};

use super::origins::{FlowOrigin, Registered};
use super::routed::{self, Routed};
use super::{Shared, lock};
use crate::log_limit::limited;
use crate::policy::{Protocol, Upstream};
use crate::udp;

#[derive(Debug)]
struct Flow {
    socket: Arc<UdpSocket>,
    service: ServiceName,
    /// Milliseconds since `Flows::epoch` of the last datagram either way.
    last: Arc<AtomicU64>,
    reader: tokio::task::AbortHandle,
    /// For a routed service: where its datagrams go now.
    routed: Option<Arc<Routed>>,
    /// The flow's entry in the hub's flow origins, dropped with the flow.
    origin: Registered,
}

/// What a gateway said of a flow (`FlowSource`) before opening it.
#[derive(Debug, Clone, Copy)]
struct Source {
    client: SocketAddr,
    listener: Option<SocketAddr>,
}

/// The UDP flows of one connection.
#[derive(Debug)]
pub(super) struct Flows {
    shared: Arc<Shared>,
    conn: quinn::Connection,
    appliance: ApplianceId,
    control: mpsc::Sender<Control>,
    map: Mutex<HashMap<FlowId, Flow>>,
    /// `FlowSource`s waiting for their `FlowOpen`, at most `max_flows`.
    sources: Mutex<HashMap<FlowId, Source>>,
    epoch: Instant,
}

impl Flows {
    pub(super) fn new(
        shared: Arc<Shared>,
        conn: quinn::Connection,
        appliance: ApplianceId,
        control: mpsc::Sender<Control>,
    ) -> Self {
        Self {
            shared,
            conn,
            appliance,
            control,
            map: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Handles `FlowSource`: remembers it for the `FlowOpen` that follows. A gateway that
    /// sends sources and never opens their flows fills this only up to `max_flows`.
    pub(super) fn source(&self, flow: FlowId, client: SocketAddr, listener: Option<SocketAddr>) {
        let mut sources = lock(&self.sources);
        if sources.len() < self.shared.config.max_flows || sources.contains_key(&flow) {
            sources.insert(flow, Source { client, listener });
        }
    }

    /// Handles `FlowOpen`: authorise, bind a socket for the upstream, answer.
    pub(super) async fn open(&self, flow: FlowId, service: ServiceName) {
        let source = lock(&self.sources).remove(&flow);
        let origin = FlowOrigin {
            appliance: self.appliance.clone(),
            client: source.map(|s| s.client),
            listener: source.and_then(|s| s.listener),
        };
        let reply = match self.try_open(flow, &service, origin).await {
            Ok(()) => Control::FlowAccepted { flow },
            Err(code) => {
                self.shared.metrics.refused(service.as_str(), code);
                limited!(
                    self.shared.bad_peer_log,
                    warn!(appliance = %self.appliance, %service, %flow, reason = code.name(), "flow refused")
                );
                Control::FlowRefused { flow, code }
            }
        };
        let _ = self.control.send(reply).await;
    }

    async fn try_open(
        &self,
        flow: FlowId,
        service: &ServiceName,
        origin: FlowOrigin,
    ) -> Result<(), ErrorCode> {
        if self.shared.hooks.is_revoked(&self.appliance) {
            return Err(ErrorCode::Revoked);
        }
        if lock(&self.map).len() >= self.shared.config.max_flows {
            return Err(ErrorCode::Limit);
        }
        let upstream = {
            let services = self
                .shared
                .services
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            services
                .authorize(&self.appliance, service, Protocol::Udp)?
                .upstream
                .clone()
        };
        let origin = self.shared.origins.register(origin);
        let (socket, routed) = match &upstream {
            Upstream::Address(upstream) => {
                let socket = connect(upstream).await?;
                // The address the upstream sees, so an upstream in this process can learn who
                // is behind the flow (`HubHandle::flow_source`).
                origin.add(socket.local_addr().map_err(|_| ErrorCode::Internal)?);
                (socket, None)
            }
            // Its source addresses are recorded as it sends (`Routed::send`).
            Upstream::Routed => {
                let socket = routed::bind().map_err(|_| ErrorCode::Internal)?;
                let routed = Routed::new(&socket).map_err(|_| ErrorCode::Internal)?;
                (socket, Some(Arc::new(routed)))
            }
        };
        let socket = Arc::new(socket);
        let last = Arc::new(AtomicU64::new(self.now_ms()));
        let reader = tokio::spawn(upstream_reader(
            socket.clone(),
            routed.clone(),
            self.conn.clone(),
            self.shared.metrics.clone(),
            flow,
            last.clone(),
            self.epoch,
        ));
        let old = lock(&self.map).insert(
            flow,
            Flow {
                socket,
                service: service.clone(),
                last,
                reader: reader.abort_handle(),
                routed,
                origin,
            },
        );
        if let Some(old) = old {
            old.reader.abort();
        }
        self.shared
            .metrics
            .streams
            .get_or_create(&crate::metrics::ServiceLabel {
                service: service.to_string(),
            })
            .inc();
        debug!(appliance = %self.appliance, %service, %flow, %upstream, "flow open");
        Ok(())
    }

    /// Handles `FlowClosed` from the gateway.
    pub(super) fn close(&self, flow: FlowId) {
        lock(&self.sources).remove(&flow);
        if let Some(f) = lock(&self.map).remove(&flow) {
            f.reader.abort();
        }
    }

    pub(super) fn close_all(&self) {
        lock(&self.sources).clear();
        for (_, f) in lock(&self.map).drain() {
            f.reader.abort();
        }
    }

    /// Delivers one datagram from the gateway to its flow's upstream.
    fn deliver(&self, flow: FlowId, payload: &[u8]) {
        if self.shared.hooks.is_revoked(&self.appliance) {
            self.shared.metrics.datagram("revoked");
            return;
        }
        let map = lock(&self.map);
        let Some(f) = map.get(&flow) else {
            self.shared.metrics.datagram("unknown_flow");
            return;
        };
        f.last.store(self.now_ms(), Ordering::Relaxed);
        let sent = match &f.routed {
            None => f.socket.try_send(payload),
            Some(routed) => {
                let router = self.shared.router.read().unwrap_or_else(|e| e.into_inner());
                let target = router
                    .as_ref()
                    .and_then(|r| r.route(&f.service, f.origin.origin()));
                let Some(target) = target else {
                    self.shared.metrics.datagram("unrouted");
                    return;
                };
                routed.send(&f.socket, target, payload, &f.origin)
            }
        };
        match sent {
            Ok(n) => self
                .shared
                .metrics
                .forwarded(f.service.as_str(), n as u64, 0),
            Err(_) => self.shared.metrics.datagram("upstream_dropped"),
        }
    }

    pub(super) async fn read_datagrams(&self) {
        while let Ok(dgram) = self.conn.read_datagram().await {
            match datagram::decode(&dgram) {
                Ok((flow, payload)) => self.deliver(flow, payload),
                Err(_) => self.shared.metrics.datagram("malformed"),
            }
        }
    }

    pub(super) async fn accept_uni(&self) {
        while let Ok(recv) = self.conn.accept_uni().await {
            let read =
                tokio::time::timeout(self.shared.config.header_timeout, udp::read_fallback(recv))
                    .await;
            match read {
                Ok(Ok((flow, payload))) => self.deliver(flow, &payload),
                _ => self.shared.metrics.datagram("malformed"),
            }
        }
    }

    /// Closes flows idle in both directions for longer than the configured timeout.
    pub(super) async fn sweep(&self) {
        let idle = self.shared.config.flow_idle_timeout;
        let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
        loop {
            tick.tick().await;
            let cutoff = self
                .now_ms()
                .saturating_sub(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
            let expired: Vec<FlowId> = {
                let mut map = lock(&self.map);
                let ids: Vec<_> = map
                    .iter()
                    .filter(|(_, f)| f.last.load(Ordering::Relaxed) < cutoff)
                    .map(|(id, _)| *id)
                    .collect();
                for id in &ids {
                    if let Some(f) = map.remove(id) {
                        f.reader.abort();
                    }
                }
                ids
            };
            for flow in expired {
                let _ = self.control.send(Control::FlowClosed { flow }).await;
            }
        }
    }
}

/// A UDP socket connected to the first address `upstream` resolves to, on a fresh port.
async fn connect(upstream: &str) -> Result<UdpSocket, ErrorCode> {
    let addr = tokio::net::lookup_host(upstream)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(ErrorCode::UpstreamUnreachable)?;
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|_| ErrorCode::Internal)?;
    socket
        .connect(addr)
        .await
        .map_err(|_| ErrorCode::UpstreamUnreachable)?;
    Ok(socket)
}

/// Carries the upstream's datagrams back to the gateway. A connected socket only receives
/// from its upstream; a routed one takes replies only from where the flow last sent.
async fn upstream_reader(
    socket: Arc<UdpSocket>,
    routed: Option<Arc<Routed>>,
    conn: quinn::Connection,
    metrics: crate::Metrics,
    flow: FlowId,
    last: Arc<AtomicU64>,
    epoch: Instant,
) {
    let mut buf = vec![0u8; MAX_UDP_PAYLOAD];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((_, from)) if routed.as_ref().is_some_and(|r| !r.accepts(from)) => {
                metrics.datagram("stray_reply");
            }
            Ok((n, _)) => {
                last.store(
                    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                udp::send(&conn, &metrics, flow, &buf[..n]);
            }
            // ICMP port unreachable from the upstream surfaces here; keep the flow.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
