//! Which appliance each UDP flow's upstream socket speaks for.
//!
//! A UDP upstream sees every tunnelled flow come from the hub, each from a socket of its own
//! (`flows`). A datagram carries no PROXY header, so an upstream in the hub's process that
//! must know the appliance behind a flow (the SIP registrar: which mission a phone is at)
//! asks here with the source address it saw. The identity is the one read from the
//! connection's mutual-TLS certificate; nothing the gateway or a LAN client sends can set it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tunnel_proto::ApplianceId;

use super::lock;

/// Flow sockets' local addresses → their appliance, for the flows open now.
#[derive(Debug, Default)]
pub(super) struct FlowOrigins {
    map: Mutex<HashMap<SocketAddr, (u64, ApplianceId)>>,
    next: AtomicU64,
}

/// An entry of [`FlowOrigins`], removed when its flow is dropped.
#[derive(Debug)]
pub(super) struct Registered {
    origins: Arc<FlowOrigins>,
    addr: SocketAddr,
    token: u64,
}

impl FlowOrigins {
    /// Records that the socket bound to `addr` carries `appliance`'s flow, until the
    /// returned entry is dropped.
    pub(super) fn register(
        self: &Arc<Self>,
        addr: SocketAddr,
        appliance: ApplianceId,
    ) -> Registered {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.map).insert(addr, (token, appliance));
        Registered {
            origins: self.clone(),
            addr,
            token,
        }
    }

    pub(super) fn get(&self, addr: SocketAddr) -> Option<ApplianceId> {
        lock(&self.map).get(&addr).map(|(_, a)| a.clone())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut map = lock(&self.origins.map);
        // The socket's port may already belong to a newer flow (the old socket closed first);
        // only this entry's own record is removed.
        if map.get(&self.addr).is_some_and(|(t, _)| *t == self.token) {
            map.remove(&self.addr);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_entry_lives_as_long_as_its_flow_and_never_removes_a_newer_one() {
        let origins = Arc::new(FlowOrigins::default());
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let paris: ApplianceId = ApplianceId::new("ro-emb-paris", "PAR-01").unwrap();
        let rome: ApplianceId = ApplianceId::new("ro-emb-rome", "ROM-01").unwrap();
        let old = origins.register(addr, paris.clone());
        assert_eq!(origins.get(addr), Some(paris));
        let new = origins.register(addr, rome.clone());
        drop(old);
        assert_eq!(origins.get(addr), Some(rome));
        drop(new);
        assert_eq!(origins.get(addr), None);
    }
}
