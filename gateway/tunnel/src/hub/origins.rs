//! Who each UDP flow's upstream socket speaks for.
//!
//! A UDP upstream sees every tunnelled flow come from the hub, each from a socket of its own
//! (`flows`). A datagram carries no PROXY header, so an upstream in the hub's process that
//! must know who is behind a flow (the SIP registrar: which mission a phone is at; the media
//! relay: the phone's LAN address) asks here with the source address it saw. The appliance is
//! the one read from the connection's mutual-TLS certificate; nothing the gateway or a LAN
//! client sends can set it. The LAN addresses come from the gateway (`FlowSource`) and are
//! only as true as the appliance that sent them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tunnel_proto::ApplianceId;

use super::lock;

/// Who is behind one UDP flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOrigin {
    pub appliance: ApplianceId,
    /// The client's address on the embassy LAN, as the gateway's listener saw it.
    pub client: Option<SocketAddr>,
    /// The gateway listener address the client sent to (its configured `advertise`, else the
    /// bound address); `None` if the gateway did not say (an older gateway, or a listener bound
    /// to a wildcard address with nothing advertised).
    pub listener: Option<SocketAddr>,
}

/// The address without IPv4 mapping, flow label or scope id: the form every origin key and
/// every comparison of addresses uses, whichever socket family saw it.
pub(super) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Source addresses a routed flow's entry keeps at most: one per local address the hub has
/// sent the flow's datagrams from, which is one or two in practice.
const MAX_SOURCES: usize = 8;

/// Flow sockets' source addresses → who is behind them, for the flows open now.
#[derive(Debug, Default)]
pub(super) struct FlowOrigins {
    map: Mutex<HashMap<SocketAddr, (u64, Arc<FlowOrigin>)>>,
    next: AtomicU64,
}

/// One flow's entry in [`FlowOrigins`]: its source addresses are removed when it is dropped.
#[derive(Debug)]
pub(super) struct Registered {
    origins: Arc<FlowOrigins>,
    origin: Arc<FlowOrigin>,
    token: u64,
    addrs: Mutex<Vec<SocketAddr>>,
}

impl FlowOrigins {
    /// An entry for a flow of `origin`, with no source address yet.
    pub(super) fn register(self: &Arc<Self>, origin: FlowOrigin) -> Registered {
        Registered {
            origins: self.clone(),
            origin: Arc::new(origin),
            token: self.next.fetch_add(1, Ordering::Relaxed),
            addrs: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn get(&self, addr: SocketAddr) -> Option<FlowOrigin> {
        lock(&self.map)
            .get(&canonical(addr))
            .map(|(_, o)| FlowOrigin::clone(o))
    }

    pub(super) fn appliance(&self, addr: SocketAddr) -> Option<ApplianceId> {
        lock(&self.map)
            .get(&canonical(addr))
            .map(|(_, o)| o.appliance.clone())
    }
}

impl Registered {
    /// Who is behind this flow.
    pub(super) fn origin(&self) -> &FlowOrigin {
        &self.origin
    }

    /// Records that the flow's socket sends from `addr`, until the entry is dropped. Past
    /// `MAX_SOURCES` the oldest address is forgotten, so a flow's entry stays small.
    pub(super) fn add(&self, addr: SocketAddr) {
        let addr = canonical(addr);
        let mut addrs = lock(&self.addrs);
        if addrs.contains(&addr) {
            return;
        }
        let mut map = lock(&self.origins.map);
        if addrs.len() >= MAX_SOURCES {
            let oldest = addrs.remove(0);
            remove_own(&mut map, oldest, self.token);
        }
        map.insert(addr, (self.token, self.origin.clone()));
        addrs.push(addr);
    }
}

/// Removes `addr` if it is still `token`'s: the socket's port may already belong to a newer
/// flow (the old socket closed first), whose record must stay.
fn remove_own(map: &mut HashMap<SocketAddr, (u64, Arc<FlowOrigin>)>, addr: SocketAddr, token: u64) {
    if map.get(&addr).is_some_and(|(t, _)| *t == token) {
        map.remove(&addr);
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let addrs = std::mem::take(&mut *lock(&self.addrs));
        let mut map = lock(&self.origins.map);
        for addr in addrs {
            remove_own(&mut map, addr, self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn origin(mission: &str, appliance: &str) -> FlowOrigin {
        FlowOrigin {
            appliance: ApplianceId::new(mission, appliance).unwrap(),
            client: Some("192.168.1.20:5004".parse().unwrap()),
            listener: None,
        }
    }

    #[test]
    fn an_entry_lives_as_long_as_its_flow_and_never_removes_a_newer_one() {
        let origins = Arc::new(FlowOrigins::default());
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let paris = origin("ro-emb-paris", "PAR-01");
        let rome = origin("ro-emb-rome", "ROM-01");
        let old = origins.register(paris.clone());
        assert_eq!(origins.get(addr), None, "no address until one is added");
        old.add(addr);
        assert_eq!(origins.get(addr), Some(paris.clone()));
        assert_eq!(origins.appliance(addr), Some(paris.appliance));
        let new = origins.register(rome.clone());
        new.add(addr);
        drop(old);
        assert_eq!(origins.get(addr), Some(rome));
        drop(new);
        assert_eq!(origins.get(addr), None);
    }

    #[test]
    fn an_ipv4_source_is_found_however_a_socket_wrote_it() {
        let origins = Arc::new(FlowOrigins::default());
        let paris = origin("ro-emb-paris", "PAR-01");
        let entry = origins.register(paris.clone());
        entry.add("[::ffff:127.0.0.1]:40000".parse().unwrap());
        assert_eq!(
            origins.get("127.0.0.1:40000".parse().unwrap()),
            Some(paris.clone())
        );
        assert_eq!(
            origins.get("[::ffff:127.0.0.1]:40000".parse().unwrap()),
            Some(paris)
        );
    }

    #[test]
    fn a_flow_keeps_a_bounded_number_of_source_addresses() {
        let origins = Arc::new(FlowOrigins::default());
        let paris = origin("ro-emb-paris", "PAR-01");
        let entry = origins.register(paris.clone());
        let addr = |i: u8| SocketAddr::from(([127, 0, 0, i], 40000));
        for i in 1..=(MAX_SOURCES as u8 + 2) {
            entry.add(addr(i));
            entry.add(addr(i));
        }
        assert_eq!(origins.get(addr(1)), None, "the oldest were forgotten");
        assert_eq!(origins.get(addr(2)), None);
        assert_eq!(origins.get(addr(3)), Some(paris));
        assert_eq!(lock(&origins.map).len(), MAX_SOURCES);
        drop(entry);
        assert!(lock(&origins.map).is_empty());
    }
}
