//! Which path a connection came through: the central network, or an appliance's tunnel with
//! the identity the hub read from that appliance's certificate.

use std::net::SocketAddr;

use access::AccessPath;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tunnel_origin::{Origin, OriginListener};

/// The connect info of every console request.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser on the central network, at this address.
    Central(SocketAddr),
    /// A browser behind an appliance; the hub vouches for the appliance.
    Tunnel(Origin),
}

impl Via {
    /// The access path sessions are bound to and logins are checked against.
    pub fn path(&self) -> AccessPath {
        match self {
            Via::Central(_) => AccessPath::Central,
            Via::Tunnel(origin) => AccessPath::Appliance {
                mission: origin.appliance.mission().to_owned(),
                appliance: origin.appliance.appliance().to_owned(),
            },
        }
    }

    /// A key for per-source rate limits: the appliance (all its LAN shares one budget) or the
    /// central client's address.
    pub fn limit_key(&self) -> String {
        match self {
            Via::Central(addr) => format!("central:{}", addr.ip()),
            Via::Tunnel(origin) => format!("appliance:{}", origin.appliance),
        }
    }
}

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Via {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Via::Central(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, OriginListener>> for Via {
    fn connect_info(stream: IncomingStream<'_, OriginListener>) -> Self {
        Via::Tunnel(stream.remote_addr().clone())
    }
}
