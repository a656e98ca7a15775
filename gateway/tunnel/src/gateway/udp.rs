//! UDP services at the gateway: each local peer address is one flow to the hub.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::net::UdpSocket;
use tunnel_proto::{Control, FlowId, MAX_UDP_PAYLOAD, ServiceName};

use super::Gateway;
use super::link::{FlowState, GwFlow, Link};

/// Datagrams held per flow while the hub decides on it.
const PENDING_MAX: usize = 64;

struct Peer {
    link: u64,
    flow: FlowId,
    last: Instant,
}

impl Gateway {
    /// Forwards every local UDP peer of `socket` as a flow to `service` at the hub. Runs until
    /// the socket fails. The hub learns each flow's client and, unless `socket` is bound to a
    /// wildcard address, the listener address (see [`Gateway::serve_udp_advertised`]).
    pub async fn serve_udp(&self, socket: UdpSocket, service: ServiceName) -> std::io::Result<()> {
        self.serve_udp_advertised(socket, service, None).await
    }

    /// [`Gateway::serve_udp`], telling the hub that clients reach this listener at
    /// `advertise` (the address phones are configured with, when the socket is bound to a
    /// wildcard or sits behind a port mapping). Without it the bound address is named, unless
    /// it is a wildcard, in which case none is.
    pub async fn serve_udp_advertised(
        &self,
        socket: UdpSocket,
        service: ServiceName,
        advertise: Option<SocketAddr>,
    ) -> std::io::Result<()> {
        let listener = advertise.or_else(|| {
            socket
                .local_addr()
                .ok()
                .filter(|a| !a.ip().is_unspecified())
        });
        let socket = Arc::new(socket);
        let shared = &self.shared;
        let idle = shared.config.flow_idle_timeout;
        let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
        let mut buf = vec![0u8; MAX_UDP_PAYLOAD];
        let mut sweep =
            tokio::time::interval((idle / 4).max(std::time::Duration::from_millis(100)));
        loop {
            let (n, from) = tokio::select! {
                r = socket.recv_from(&mut buf) => r?,
                _ = sweep.tick() => {
                    expire(&mut peers, shared.primary(), idle);
                    continue;
                }
            };
            let Some(link) = shared.primary() else {
                shared.metrics.datagram("no_tunnel");
                continue;
            };
            let payload = &buf[..n];
            let known = peers
                .get_mut(&from)
                .filter(|p| p.link == link.id && link.has_flow(p.flow));
            let flow = match known {
                Some(p) => {
                    p.last = Instant::now();
                    p.flow
                }
                None => {
                    let flow = link.open_flow(&service, socket.clone(), from, listener);
                    peers.insert(
                        from,
                        Peer {
                            link: link.id,
                            flow,
                            last: Instant::now(),
                        },
                    );
                    flow
                }
            };
            link.send_flow(flow, payload, &shared.metrics);
        }
    }
}

fn expire(
    peers: &mut HashMap<SocketAddr, Peer>,
    link: Option<Arc<Link>>,
    idle: std::time::Duration,
) {
    peers.retain(|_, p| {
        let keep = p.last.elapsed() < idle;
        if !keep && let Some(link) = link.as_ref().filter(|l| l.id == p.link) {
            link.flows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&p.flow);
            let _ = link.control.try_send(Control::FlowClosed { flow: p.flow });
        }
        keep
    });
}

impl Link {
    fn has_flow(&self, flow: FlowId) -> bool {
        self.flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&flow)
    }

    /// Registers a new flow and asks the hub to open it, saying first who it is from.
    fn open_flow(
        &self,
        service: &ServiceName,
        socket: Arc<UdpSocket>,
        peer: SocketAddr,
        listener: Option<SocketAddr>,
    ) -> FlowId {
        let id = self.next_flow.fetch_add(1, Ordering::Relaxed);
        // Ids only grow; 2^62 flows on one connection cannot happen, but stay total anyway.
        let flow =
            FlowId::new(id).unwrap_or_else(|_| FlowId::new(0).unwrap_or_else(|_| unreachable!()));
        let state = FlowState::Pending(Vec::new());
        self.flows.lock().unwrap_or_else(|e| e.into_inner()).insert(
            flow,
            GwFlow {
                socket,
                peer,
                service: service.to_string(),
                state,
            },
        );
        // The source goes first on the one control stream, so the hub has it when the flow
        // opens; a hub that does not know the frame skips it.
        let _ = self.control.try_send(Control::FlowSource {
            flow,
            client: peer,
            listener,
        });
        let _ = self.control.try_send(Control::FlowOpen {
            flow,
            service: service.clone(),
        });
        flow
    }

    fn send_flow(&self, flow: FlowId, payload: &[u8], metrics: &crate::Metrics) {
        let mut flows = self.flows.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = flows.get_mut(&flow) else {
            return;
        };
        match &mut f.state {
            FlowState::Open => {
                let service = f.service.clone();
                drop(flows);
                crate::udp::send(&self.conn, metrics, flow, payload);
                metrics.forwarded(&service, payload.len() as u64, 0);
            }
            FlowState::Pending(queue) if queue.len() < PENDING_MAX => queue.push(payload.to_vec()),
            FlowState::Pending(_) => metrics.datagram("pending_overflow"),
            FlowState::Refused => metrics.datagram("refused"),
        }
    }
}
