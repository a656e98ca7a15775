//! The relay's UDP ports: a bounded range from the configuration, handed out as even/odd
//! pairs (RTP on the even port, RTCP on the next, RFC 3550 §11) and returned when a lease is
//! dropped. Freed pairs go to the back of the queue, so a port is not reused while late
//! packets of its last call may still arrive.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

/// The range the relay may bind, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// Pairs in the range (an odd `first` starts at the next even port).
    pub fn pairs(&self) -> usize {
        let first = self.first.saturating_add(self.first % 2);
        usize::from(self.last.saturating_sub(first).saturating_add(1) / 2)
    }
}

/// The free pairs, shared by every session.
#[derive(Debug)]
pub(crate) struct Ports {
    free: VecDeque<u16>,
}

/// A bound pair; dropping it returns the pair.
#[derive(Debug)]
pub(crate) struct Lease {
    ports: Arc<Mutex<Ports>>,
    port: u16,
}

impl Drop for Lease {
    fn drop(&mut self) {
        lock(&self.ports).free.push_back(self.port);
    }
}

fn lock(ports: &Mutex<Ports>) -> MutexGuard<'_, Ports> {
    ports
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ports {
    pub(crate) fn new(range: PortRange) -> Ports {
        let first = range.first.saturating_add(range.first % 2);
        // Every even p < last has its RTCP port p + 1 ≤ last inside the range.
        let free = (first..range.last).step_by(2).collect();
        Ports { free }
    }

    pub(crate) fn free(ports: &Mutex<Ports>) -> usize {
        lock(ports).free.len()
    }

    /// Binds the next free pair on `ip`. A pair some other program holds is skipped (and
    /// kept for later); after trying every free pair once, gives up.
    pub(crate) fn bind(
        ports: &Arc<Mutex<Ports>>,
        ip: IpAddr,
    ) -> Option<(UdpSocket, UdpSocket, Lease)> {
        let attempts = lock(ports).free.len();
        for _ in 0..attempts {
            let port = lock(ports).free.pop_front()?;
            let lease = Lease {
                ports: ports.clone(),
                port,
            };
            let rtp = UdpSocket::bind(SocketAddr::new(ip, port));
            let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1));
            if let (Ok(rtp), Ok(rtcp)) = (rtp, rtcp) {
                return Some((rtp, rtcp, lease));
            }
            // Dropping the lease puts the pair back at the end of the queue.
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_bounded_and_come_back() {
        let ports = Arc::new(Mutex::new(Ports::new(PortRange {
            first: 41_001,
            last: 41_006,
        })));
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(Ports::free(&ports), 2, "41002/3 and 41004/5");
        let (a, _, lease_a) = Ports::bind(&ports, ip).expect("first pair");
        let (b, b_rtcp, lease_b) = Ports::bind(&ports, ip).expect("second pair");
        assert_eq!(a.local_addr().expect("addr").port(), 41_002);
        assert_eq!(b.local_addr().expect("addr").port(), 41_004);
        assert_eq!(b_rtcp.local_addr().expect("addr").port(), 41_005);
        assert!(Ports::bind(&ports, ip).is_none(), "the range is exhausted");
        drop((a, lease_a));
        assert_eq!(Ports::free(&ports), 1);
        drop((b, b_rtcp, lease_b));
        assert_eq!(Ports::free(&ports), 2);
    }

    #[test]
    fn a_pair_held_by_another_program_is_skipped() {
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let squatter = UdpSocket::bind((ip, 41_102)).expect("bind");
        let ports = Arc::new(Mutex::new(Ports::new(PortRange {
            first: 41_102,
            last: 41_105,
        })));
        let (rtp, _, _lease) = Ports::bind(&ports, ip).expect("the free pair");
        assert_eq!(rtp.local_addr().expect("addr").port(), 41_104);
        drop(squatter);
    }
}
