//! The header the hub writes to an upstream before the first forwarded byte.

use std::net::{SocketAddr, SocketAddrV6};

use ppp::v2::{Builder, Command, Protocol, Version};

use crate::{Origin, TLV_APPLIANCE};

/// A PROXY protocol v2 header: command PROXY, TCP, source `origin.peer`, destination
/// `upstream`, and the appliance identity in a [`TLV_APPLIANCE`] TLV.
///
/// The header has one address family, so when the two addresses differ in family the IPv4 one
/// is written as an IPv4-mapped IPv6 address (the reader maps it back).
pub fn encode(origin: &Origin, upstream: SocketAddr) -> Vec<u8> {
    let (source, destination) = match (origin.peer, upstream) {
        (s @ SocketAddr::V4(_), d @ SocketAddr::V4(_))
        | (s @ SocketAddr::V6(_), d @ SocketAddr::V6(_)) => (s, d),
        (s, d) => (to_v6(s), to_v6(d)),
    };
    let identity = origin.appliance.to_string();
    let built = Builder::with_addresses(
        Version::Two | Command::Proxy,
        Protocol::Stream,
        (source, destination),
    )
    .write_tlv(TLV_APPLIANCE, identity.as_bytes())
    .and_then(Builder::build);
    // The builder fails only when a part exceeds 65535 bytes; an identity is at most 65 bytes
    // (two validated parts of 32 and a slash), so the whole header is at most 120.
    #[allow(clippy::expect_used)]
    built.expect("a PROXY header with an appliance identity is far below 64 KiB")
}

fn to_v6(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) => SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0).into(),
        v6 @ SocketAddr::V6(_) => v6,
    }
}
