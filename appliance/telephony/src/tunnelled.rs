//! Embassy phones' audio through the tunnel.
//!
//! A phone behind an embassy gateway cannot be reached from the hub, and reaches nothing of
//! the hub's but the gateway. So the SDP such a phone gets names the gateway's media service
//! — the address of the gateway listener its SIP went to, port
//! `[telephony.media] gateway_rtp_port` (RTCP on the next) — and the gateway carries its RTP
//! to the hub as QUIC datagrams of a *routed* UDP service: for each datagram the hub's
//! endpoint asks [`MediaRoutes::route`] which relay port that phone's address, on that
//! mission's LAN, belongs to. The relay latches on the flow's hub-side socket, so its answers
//! go back through the same flow to the phone.
//!
//! A route is keyed by the appliance *and* the phone's address: every embassy's LAN reuses
//! the same private addresses, and a phone at one mission must never reach another's call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use media::Leg;

#[derive(Debug, Clone)]
struct Route {
    appliance: String,
    call: u64,
    leg: Leg,
    relay: SocketAddr,
}

/// Where tunnelled RTP and RTCP go: the bridge writes a route when a tunnelled phone's SDP
/// names its address, and removes it when the call's media ends.
#[derive(Debug, Clone, Default)]
pub struct MediaRoutes(Arc<RwLock<HashMap<SocketAddr, Vec<Route>>>>);

impl MediaRoutes {
    /// The relay address for a datagram from `client` (the phone's address on its LAN) on
    /// the appliance `is_appliance` accepts (`mission/appliance`); `None` when no call
    /// expects it. A map lookup: the hub asks for every datagram.
    pub fn route(
        &self,
        client: SocketAddr,
        is_appliance: impl Fn(&str) -> bool,
    ) -> Option<SocketAddr> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&client)?
            .iter()
            .find(|r| is_appliance(&r.appliance))
            .map(|r| r.relay)
    }

    /// Routes the phone at `rtp` (and its RTCP on the next port) behind `appliance` to the
    /// relay's ports for `leg` of `call`, replacing that leg's earlier routes (a re-offer to
    /// another agent, a phone that moved). Returns whether this is news: the leg had no route
    /// to this phone before (no route at all, or another phone's), so the relay must latch
    /// afresh.
    pub(crate) fn set(
        &self,
        call: u64,
        leg: Leg,
        appliance: &str,
        rtp: SocketAddr,
        relay: SocketAddr,
    ) -> bool {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let known = map.get(&rtp).is_some_and(|routes| {
            routes.iter().any(|r| {
                r.call == call && r.leg == leg && r.appliance == appliance && r.relay == relay
            })
        });
        remove(&mut map, |r| r.call == call && r.leg == leg);
        let next = |a: SocketAddr| SocketAddr::new(a.ip(), a.port().wrapping_add(1));
        for (client, relay) in [(rtp, relay), (next(rtp), next(relay))] {
            let routes = map.entry(client).or_default();
            routes.retain(|r| r.appliance != appliance);
            routes.push(Route {
                appliance: appliance.to_owned(),
                call,
                leg,
                relay,
            });
        }
        !known
    }

    /// Forgets `leg` of `call` (its peer is no longer behind a gateway).
    pub(crate) fn clear_leg(&self, call: u64, leg: Leg) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        remove(&mut map, |r| r.call == call && r.leg == leg);
    }

    /// Forgets every route of `call`.
    pub(crate) fn remove_call(&self, call: u64) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        remove(&mut map, |r| r.call == call);
    }

    /// Phone addresses routed now (RTP and RTCP count apart).
    pub fn len(&self) -> usize {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn remove(map: &mut HashMap<SocketAddr, Vec<Route>>, gone: impl Fn(&Route) -> bool) {
    map.retain(|_, routes| {
        routes.retain(|r| !gone(r));
        !routes.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_phone_reaches_its_call_only_from_its_own_mission() {
        let routes = MediaRoutes::default();
        let phone = addr("192.168.1.20:4000");
        routes.set(
            7,
            Leg::Caller,
            "ro-emb-paris/PAR-01",
            phone,
            addr("127.0.0.1:20000"),
        );
        let paris = |a: &str| a == "ro-emb-paris/PAR-01";
        let berlin = |a: &str| a == "ro-emb-berlin/BER-01";
        assert_eq!(routes.route(phone, paris), Some(addr("127.0.0.1:20000")));
        assert_eq!(
            routes.route(addr("192.168.1.20:4001"), paris),
            Some(addr("127.0.0.1:20001"))
        );
        // The same LAN address at another embassy is another phone.
        assert_eq!(routes.route(phone, berlin), None);
        assert_eq!(routes.route(addr("192.168.1.21:4000"), paris), None);

        // Berlin's phone with the same address gets its own call's relay.
        routes.set(
            8,
            Leg::Agent,
            "ro-emb-berlin/BER-01",
            phone,
            addr("127.0.0.1:20010"),
        );
        assert_eq!(routes.route(phone, berlin), Some(addr("127.0.0.1:20010")));
        assert_eq!(routes.route(phone, paris), Some(addr("127.0.0.1:20000")));
        assert_eq!(routes.len(), 4);

        routes.remove_call(7);
        assert_eq!(routes.route(phone, paris), None);
        assert_eq!(routes.route(phone, berlin), Some(addr("127.0.0.1:20010")));
    }

    #[test]
    fn a_leg_offered_again_loses_its_old_phone() {
        let routes = MediaRoutes::default();
        let any = |_: &str| true;
        let first = addr("10.0.0.5:4000");
        let second = addr("10.0.0.6:4000");
        assert!(routes.set(1, Leg::Agent, "m/a", first, addr("127.0.0.1:20002")));
        assert!(
            !routes.set(1, Leg::Agent, "m/a", first, addr("127.0.0.1:20002")),
            "the same phone again (a hold, a refresh) keeps its latch"
        );
        assert!(routes.set(1, Leg::Agent, "m/a", second, addr("127.0.0.1:20002")));
        assert_eq!(routes.route(first, any), None);
        assert_eq!(routes.route(second, any), Some(addr("127.0.0.1:20002")));
        routes.remove_call(1);
        assert!(routes.is_empty());
    }
}
