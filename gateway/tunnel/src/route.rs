//! Whether this host has a route to a hub at all. A box whose LAN cable is out, or that got no
//! address from DHCP, fails to reach the hub just as a box whose hub is down does, after the
//! same timeout; asking the kernel for a route tells the two apart at once, so the person at
//! the embassy is sent to the cable rather than to the NOC.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// Why `hub` (`ip:port`) cannot be reached when the reason is this host's: it has no route
/// there. `None` when a route exists, and when `hub` is a name (resolving it may itself need
/// the network; the caller's own error says enough then).
pub fn no_route(hub: &str) -> Option<String> {
    let addr: SocketAddr = hub.parse().ok()?;
    let bind: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // Connecting a UDP socket sends nothing: the kernel only looks the route up.
    let socket = UdpSocket::bind(bind).ok()?;
    match socket.connect(addr) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NetworkUnreachable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::AddrNotAvailable
            ) =>
        {
            Some(format!(
                "no network: this box has no route to {addr} ({e}); is the LAN cable plugged \
                 in, and does the LAN's DHCP give the box an address?"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reachable_address_and_a_name_are_not_blamed_on_the_network() {
        assert_eq!(no_route("127.0.0.1:4433"), None);
        assert_eq!(no_route("hub.example:4433"), None);
    }

    #[test]
    fn a_host_with_no_network_says_so() {
        // A thread moved into a network namespace of its own: no address, no route, as a box
        // with its cable out. Only this thread moves; the test process keeps its network.
        let why = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map(|()| no_route("10.0.2.2:4433"))
        })
        .join()
        .expect("the probe thread");
        let why = why
            .expect("unshare(CLONE_NEWNET) needs root")
            .expect("no route is said");
        assert!(why.starts_with("no network"), "{why}");
        assert!(why.contains("10.0.2.2:4433"), "{why}");
        assert!(why.contains("LAN cable"), "{why}");
    }
}
