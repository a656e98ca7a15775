//! Keeping embassy phones reachable. The tunnel closes a UDP flow that carried nothing from
//! the phone's side for `flow_idle_timeout` (120 s by default), and with it the only way back
//! to a phone that registered through its gateway. Phones re-register far less often (minutes
//! to an hour), so every [`EngineConfig::keepalive`](crate::EngineConfig::keepalive) the
//! bridge sends each such phone an `OPTIONS` through its flow: the phone's answer travels the
//! phone's side of the flow and keeps it open at the gateway and at the hub. (Asterisk's
//! `qualify` and Kamailio's `nathelper` do the same for phones behind NAT.) Phones the hub
//! reaches directly are left alone.

use std::time::Instant;

use sip::{Method, NameAddr, Request, Uri};
use tracing::debug;

use crate::b2bua::Purpose;
use crate::engine::{ALLOW, Engine};

impl Engine {
    /// Sends the round of keep-alives that is due.
    pub(crate) fn keep_alive(&mut self, now: Instant) {
        let phones: Vec<_> = self
            .registrar
            .bindings(now)
            .into_iter()
            .filter(|b| b.gateway.is_some())
            .filter_map(|b| b.target().map(|peer| (b, peer)))
            .collect();
        for (binding, peer) in phones {
            let via = self.via(peer.transport);
            let mut options = Request::new(Method::Options, binding.contact.clone());
            let h = &mut options.headers;
            h.push("Via", via.to_string());
            h.push("Max-Forwards", "70");
            let from = NameAddr::new(Uri::for_addr(Some("bridge"), self.cfg.local));
            let tag = self.random_token();
            h.push("From", from.with_tag(&tag).to_string());
            let to = NameAddr::new(binding.contact.clone());
            h.push("To", to.to_string());
            h.push("Call-ID", format!("{}@legatura", self.random_token()));
            h.push("CSeq", "1 OPTIONS");
            h.push("Allow", ALLOW);
            match self.txns.send_request(now, options, peer) {
                // Whatever the answer, the datagram did its work; a phone that does not
                // answer lapses when its registration does.
                Ok(key) => {
                    self.purposes.insert(key, Purpose::Cleanup);
                }
                Err(_) => {
                    debug!(phone = %binding.username, "keep-alive not sent: transactions full")
                }
            }
        }
    }
}
