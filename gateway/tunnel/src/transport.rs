//! QUIC transport tuning and UDP socket setup, sized for embassy WANs (VSAT up to ~600 ms RTT).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::{IdleTimeout, TransportConfig, VarInt};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{info, warn};

/// Socket buffer size asked of the kernel; concurrent handshakes drop packets below this.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// The largest UDP payload a 1500-byte IPv4 path carries.
const MAX_UDP_PAYLOAD: u16 = 1472;

/// Knobs an operator may set per site.
#[derive(Debug, Clone)]
pub struct TransportSettings {
    /// Interval between keepalive packets on an otherwise quiet connection.
    pub keepalive: Duration,
    /// A connection with no packets from the peer for this long is dead.
    pub idle_timeout: Duration,
    /// Receive window per stream: one stream's share of a long fat link.
    pub stream_window: u32,
    /// Receive window for the whole connection, bounding what one peer can make us buffer.
    pub connection_window: u32,
    /// Concurrent bidirectional streams the peer may open.
    pub max_streams: u32,
}

impl Default for TransportSettings {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            // 8 MiB per stream carries ~100 Mbit/s at 600 ms RTT; quinn's 1.25 MB default caps a
            // stream at ~17 Mbit/s there.
            stream_window: 8 << 20,
            connection_window: 24 << 20,
            // quinn keeps state for every stream a peer may open, idle or not: 1024 (the floor
            // the console and phones need) keeps an idle connection near 100 KiB at the hub.
            max_streams: 1024,
        }
    }
}

/// Which end a transport configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Hub,
    Gateway,
}

impl TransportSettings {
    /// The quinn transport configuration for these settings, at `side`.
    pub(crate) fn quinn(&self, side: Side) -> Arc<TransportConfig> {
        let mut t = TransportConfig::default();
        t.keep_alive_interval(Some(self.keepalive));
        // An idle timeout above quinn's varint range falls back to quinn's default.
        if let Ok(idle) = IdleTimeout::try_from(self.idle_timeout) {
            t.max_idle_timeout(Some(idle));
        }
        t.stream_receive_window(VarInt::from_u32(self.stream_window));
        t.receive_window(VarInt::from_u32(self.connection_window));
        t.send_window(u64::from(self.connection_window));
        // Only gateways open bidirectional streams; a gateway grants the hub none, and pays
        // nothing for stream state it would never use.
        let bidi = if side == Side::Hub {
            self.max_streams
        } else {
            0
        };
        t.max_concurrent_bidi_streams(VarInt::from_u32(bidi));
        // Unidirectional streams only carry oversized datagrams.
        t.max_concurrent_uni_streams(VarInt::from_u32(32));
        // Path MTU discovery may climb to what a 1500-byte IPv4 path carries (1500 - 20 - 8);
        // quinn stops at 1452, the IPv6 figure, which costs IPv4 paths 1.4 % more packets and
        // every packet's fixed work. On a smaller path the probes above it are lost and
        // discovery settles lower, as before; the first packets still use quinn's safe 1200.
        let mut mtu = quinn::MtuDiscoveryConfig::default();
        mtu.upper_bound(MAX_UDP_PAYLOAD);
        t.mtu_discovery_config(Some(mtu));
        t.datagram_receive_buffer_size(Some(1 << 20));
        t.datagram_send_buffer_size(1 << 20);
        Arc::new(t)
    }
}

/// Binds a UDP socket with large buffers; warns once, naming the sysctl, when the kernel caps
/// them lower.
pub(crate) fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // Accept IPv4-mapped peers on a wildcard IPv6 socket where the system allows it.
        let _ = socket.set_only_v6(false);
    }
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    check_buffers(&socket);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn check_buffers(socket: &Socket) {
    // Linux reports twice the granted size; anything under the request means a sysctl cap.
    let recv = socket.recv_buffer_size().unwrap_or(0) / 2;
    let send = socket.send_buffer_size().unwrap_or(0) / 2;
    if recv < SOCKET_BUFFER || send < SOCKET_BUFFER {
        warn!(
            recv_buffer = recv,
            send_buffer = send,
            wanted = SOCKET_BUFFER,
            "UDP socket buffers are capped below 4 MiB; handshakes and bulk transfers will drop packets. \
             Fix: sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608 (the appliance image sets this)"
        );
    } else {
        info!(recv_buffer = recv, send_buffer = send, "UDP socket buffers");
    }
}

/// An endpoint config whose stateless-reset key survives restarts, so that gateways learn at
/// once that a restarted hub forgot their connection instead of waiting for the idle timeout.
///
/// Both keys must survive: quinn's default connection-id generator authenticates the ids it
/// issues with a key made fresh per process, and a restarted hub silently drops packets whose
/// ids it cannot authenticate, before any reset is considered. So the id key is derived from
/// the persisted secret too.
pub(crate) fn endpoint_config(reset_key: Option<&[u8; 32]>) -> quinn::EndpointConfig {
    match reset_key {
        Some(secret) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            let tag = ring::hmac::sign(&key, b"legatura connection-id key");
            let mut cid_key = [0u8; 8];
            cid_key.copy_from_slice(&tag.as_ref()[..8]);
            let cid_key = u64::from_le_bytes(cid_key);
            let mut config = quinn::EndpointConfig::new(Arc::new(key));
            // After a restart every gateway's next packet deserves a reset at once; quinn's
            // default allows one per 20 ms per endpoint, which leaves a reconnect storm waiting
            // for idle timeouts. A reset is always smaller than the packet that caused it, so
            // answering every one cannot amplify.
            config.min_reset_interval(Duration::ZERO);
            config.cid_generator(move || {
                Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
            });
            config
        }
        None => quinn::EndpointConfig::default(),
    }
}

/// Builds an endpoint on `socket` and logs whether the kernel offloads (GSO/GRO) are on.
pub(crate) fn endpoint(
    config: quinn::EndpointConfig,
    server: Option<quinn::ServerConfig>,
    socket: std::net::UdpSocket,
) -> std::io::Result<quinn::Endpoint> {
    if let Ok(state) = quinn::udp::UdpSocketState::new((&socket).into()) {
        info!(
            gso_segments = state.max_gso_segments(),
            gro_segments = state.gro_segments(),
            "UDP offloads"
        );
    }
    quinn::Endpoint::new(config, server, socket, Arc::new(quinn::TokioRuntime))
}
