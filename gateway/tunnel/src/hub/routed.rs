//! Routed UDP services at the hub: a flow of a service whose upstream is
//! [`Upstream::Routed`](crate::Upstream::Routed) has one unconnected socket, and each of its
//! datagrams goes where the embedding program's [`UdpRouter`] says at that moment. This is how
//! hubd's telephony bridge steers a desk phone's RTP to the media relay port of its current call
//! while the phone keeps sending to the one gateway port it was given.
//!
//! Replies are taken only from the address the flow last sent to: an unconnected socket would
//! otherwise carry anything anyone sends to its port back to the embassy LAN.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use socket2::{Domain, Socket, Type};
use tokio::net::UdpSocket;
use tunnel_proto::ServiceName;

use super::lock;
use super::origins::{FlowOrigin, Registered, canonical};

/// Chooses, per datagram, where a flow of a routed service goes upstream.
///
/// Installed with [`HubHandle::set_udp_router`](crate::HubHandle::set_udp_router). The hub
/// calls it while it holds the connection's flow table, so it must not block or wait on the
/// tunnel; asking [`HubHandle::flow_source`](crate::HubHandle::flow_source) is fine.
pub trait UdpRouter: Send + Sync + std::fmt::Debug + 'static {
    /// Where this datagram of a routed service goes; None drops it (counted). Called per
    /// datagram: must be a fast map lookup.
    fn route(&self, service: &ServiceName, origin: &FlowOrigin) -> Option<SocketAddr>;
}

/// Binds a routed flow's socket on every local address and a fresh port: IPv6 with IPv4
/// mapped, so the router may answer either family; IPv4 alone where the host has no IPv6.
pub(super) fn bind() -> io::Result<UdpSocket> {
    let dual = || -> io::Result<Socket> {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(socket2::Protocol::UDP))?;
        s.set_only_v6(false)?;
        s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())?;
        Ok(s)
    };
    let socket = match dual() {
        Ok(s) => s,
        Err(_) => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(socket2::Protocol::UDP))?;
            s.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
            s
        }
    };
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Where a routed flow's datagrams go now.
#[derive(Debug)]
pub(super) struct Routed {
    /// The address the flow last sent to, canonical; the only one whose replies are taken.
    last: Mutex<Option<SocketAddr>>,
    /// The socket's family is IPv6 (with IPv4 mapped).
    dual: bool,
    port: u16,
}

impl Routed {
    pub(super) fn new(socket: &UdpSocket) -> io::Result<Self> {
        let local = socket.local_addr()?;
        Ok(Self {
            last: Mutex::new(None),
            dual: local.is_ipv6(),
            port: local.port(),
        })
    }

    /// Sends `payload` to `target` from `socket`, never waiting. When the target's address
    /// changes, the source address an upstream there will see is recorded in the flow's
    /// origin entry, so that `HubHandle::flow_source` answers for it.
    pub(super) fn send(
        &self,
        socket: &UdpSocket,
        target: SocketAddr,
        payload: &[u8],
        origin: &Registered,
    ) -> io::Result<usize> {
        let target = canonical(target);
        let wire = match (self.dual, target.ip()) {
            (true, IpAddr::V4(ip)) => {
                SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), target.port())
            }
            (false, IpAddr::V6(_)) => return Err(io::ErrorKind::Unsupported.into()),
            _ => target,
        };
        let moved = {
            let mut last = lock(&self.last);
            let moved = last.is_none_or(|l| l.ip() != target.ip());
            *last = Some(target);
            moved
        };
        if moved && let Some(ip) = source_ip(wire) {
            origin.add(SocketAddr::new(ip, self.port));
        }
        socket.try_send_to(payload, wire)
    }

    /// Whether a datagram from `from` is a reply to this flow.
    pub(super) fn accepts(&self, from: SocketAddr) -> bool {
        *lock(&self.last) == Some(canonical(from))
    }
}

/// The local address the kernel sends from towards `wire`: what an upstream there sees. A
/// connected throwaway socket asks the routing table without sending anything; it is only
/// asked when a flow's target address changes.
fn source_ip(wire: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if wire.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(wire).ok()?;
    Some(probe.local_addr().ok()?.ip().to_canonical())
}
