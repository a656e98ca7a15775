//! Which embassy gateway a SIP message came through.
//!
//! Phones at an embassy reach the bridge over a UDP service of the tunnel: the hub opens one
//! socket per flow, so their messages arrive from the hub's own addresses and say nothing of
//! the mission. The hub knows, from the tunnel's mutual-TLS identity, which appliance each
//! such socket carries, and the gateway says which of its listeners the phone sent to;
//! [`Origins`] is how the engine asks. The answer never comes from the message itself, so a
//! phone cannot claim another mission.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// The embassy gateway behind a tunnel flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// `mission/appliance`, from the connection's certificate.
    pub appliance: String,
    /// The gateway's listener the phone sent to, on the embassy LAN: the phone reaches the
    /// gateway's media service at the same address. `None` when the gateway did not say.
    pub listener: Option<SocketAddr>,
}

type Lookup = dyn Fn(SocketAddr) -> Option<Gateway> + Send + Sync;

/// The gateway whose tunnel flow sends from a given address.
#[derive(Clone)]
pub struct Origins(Arc<Lookup>);

impl Origins {
    /// `lookup` answers for a source address the bridge saw; `None` for anything that is
    /// not a tunnel flow (a trunk, an agent's phone on the hub's network).
    pub fn new(lookup: impl Fn(SocketAddr) -> Option<Gateway> + Send + Sync + 'static) -> Origins {
        Origins(Arc::new(lookup))
    }

    pub fn of(&self, source: SocketAddr) -> Option<Gateway> {
        (self.0)(source)
    }
}

impl fmt::Debug for Origins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Origins(..)")
    }
}
