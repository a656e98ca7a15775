//! Tunnel metrics, exposed in Prometheus text format by the daemons' admin port.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels naming a service.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

/// Labels naming a service and a direction of travel.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ByteLabels {
    pub service: String,
    /// `to_hub` or `from_hub`.
    pub direction: &'static str,
}

/// Labels naming a refused stream or flow.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    pub service: String,
    pub reason: &'static str,
}

/// A result label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// A peer label (the appliance at the hub, the hub address at the gateway).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

/// Every tunnel metric. Cheap to clone: the handles share their values.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub connections: Gauge,
    pub handshakes: Family<ResultLabel, Counter>,
    pub handshake_seconds: Histogram,
    pub reconnects: Counter,
    pub streams: Family<ServiceLabel, Counter>,
    pub streams_active: Gauge,
    pub streams_refused: Family<RefusedLabels, Counter>,
    pub bytes: Family<ByteLabels, Counter>,
    pub rtt_seconds: Family<PeerLabel, Gauge<f64, AtomicU64>>,
    pub path_mtu_bytes: Family<PeerLabel, Gauge>,
    pub lost_packets: Counter,
    pub datagrams: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections: Gauge::default(),
            handshakes: Family::default(),
            handshake_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            reconnects: Counter::default(),
            streams: Family::default(),
            streams_active: Gauge::default(),
            streams_refused: Family::default(),
            bytes: Family::default(),
            rtt_seconds: Family::default(),
            path_mtu_bytes: Family::default(),
            lost_packets: Counter::default(),
            datagrams: Family::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric under the `legatura_tunnel` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("legatura_tunnel");
        r.register(
            "connections",
            "Authenticated tunnel connections now open",
            self.connections.clone(),
        );
        r.register(
            "handshakes",
            "Tunnel handshakes by result",
            self.handshakes.clone(),
        );
        r.register(
            "handshake_seconds",
            "Time from first packet to admission",
            self.handshake_seconds.clone(),
        );
        r.register(
            "reconnects",
            "Connections replaced after a loss or a hub drain",
            self.reconnects.clone(),
        );
        r.register(
            "streams",
            "Streams opened per service",
            self.streams.clone(),
        );
        r.register(
            "streams_active",
            "Streams now open",
            self.streams_active.clone(),
        );
        r.register(
            "streams_refused",
            "Streams and flows refused, by service and reason",
            self.streams_refused.clone(),
        );
        r.register(
            "bytes",
            "Payload bytes forwarded per service and direction",
            self.bytes.clone(),
        );
        r.register(
            "rtt_seconds",
            "Smoothed round-trip time per peer",
            self.rtt_seconds.clone(),
        );
        r.register(
            "path_mtu_bytes",
            "Largest UDP payload path MTU discovery has found per peer",
            self.path_mtu_bytes.clone(),
        );
        r.register(
            "lost_packets",
            "QUIC packets declared lost",
            self.lost_packets.clone(),
        );
        r.register("datagrams", "UDP datagrams by fate", self.datagrams.clone());
    }

    /// Drops the per-peer gauges of a connection that has ended.
    pub(crate) fn forget_peer(&self, peer: String) {
        let label = PeerLabel { peer };
        let _ = self.rtt_seconds.remove(&label);
        let _ = self.path_mtu_bytes.remove(&label);
    }

    pub(crate) fn refused(&self, service: &str, code: tunnel_proto::ErrorCode) {
        self.streams_refused
            .get_or_create(&RefusedLabels {
                service: service.to_owned(),
                reason: code.name(),
            })
            .inc();
    }

    pub(crate) fn handshake(&self, result: &'static str) {
        self.handshakes.get_or_create(&ResultLabel { result }).inc();
    }

    pub(crate) fn datagram(&self, result: &'static str) {
        self.datagrams.get_or_create(&ResultLabel { result }).inc();
    }

    pub(crate) fn forwarded(&self, service: &str, to_hub: u64, from_hub: u64) {
        let service = service.to_owned();
        self.bytes
            .get_or_create(&ByteLabels {
                service: service.clone(),
                direction: "to_hub",
            })
            .inc_by(to_hub);
        self.bytes
            .get_or_create(&ByteLabels {
                service,
                direction: "from_hub",
            })
            .inc_by(from_hub);
    }
}

/// Samples a connection's path statistics every five seconds, for as long as it runs.
pub(crate) async fn sample_forever(metrics: &Metrics, peer: &str, conn: &quinn::Connection) {
    let mut lost = 0;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        lost = sample_path(metrics, peer, conn, lost);
    }
}

/// Samples a connection's path statistics into the metrics; returns the new lost-packet total.
fn sample_path(metrics: &Metrics, peer: &str, conn: &quinn::Connection, lost_before: u64) -> u64 {
    let stats = conn.stats();
    let label = PeerLabel {
        peer: peer.to_owned(),
    };
    metrics
        .rtt_seconds
        .get_or_create(&label)
        .set(stats.path.rtt.as_secs_f64());
    metrics
        .path_mtu_bytes
        .get_or_create(&label)
        .set(i64::from(stats.path.current_mtu));
    let lost = stats.path.lost_packets;
    metrics
        .lost_packets
        .inc_by(lost.saturating_sub(lost_before));
    lost
}
