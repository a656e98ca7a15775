//! A hub and gateways on 127.0.0.1 with the fixture PKI, plus small upstream servers.

use std::net::SocketAddr;
use std::time::Duration;

use pki::fixture::Fleet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tunnel::{
    AllowRule, Credentials, Gateway, GatewayConfig, Hub, HubConfig, HubHandle, Metrics, Protocol,
    Service, ServiceName, ServiceTable,
};

pub(crate) fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("info")
        .try_init();
}

pub(crate) fn fleet() -> Fleet {
    pki::fixture::fleet().expect("fixture PKI")
}

pub(crate) fn name(s: &str) -> ServiceName {
    ServiceName::new(s).expect("valid service name")
}

pub(crate) fn service(
    n: &str,
    protocol: Protocol,
    upstream: SocketAddr,
    allow: &[&str],
) -> Service {
    Service {
        name: name(n),
        protocol,
        upstream: tunnel::Upstream::Address(upstream.to_string()),
        proxy_protocol: false,
        allow: allow
            .iter()
            .map(|r| r.parse::<AllowRule>().expect("valid rule"))
            .collect(),
    }
}

pub(crate) fn hub_credentials(fleet: &Fleet) -> Credentials {
    Credentials::from_pem(
        &fleet.ca().cert_pem(),
        &fleet.hub().cert_pem,
        &fleet.hub().key_pem,
    )
    .expect("hub credentials")
}

pub(crate) fn appliance_credentials(
    fleet: &Fleet,
    hub_ca_pem: &str,
    mission: &str,
    appliance: &str,
) -> Credentials {
    let issued = fleet.appliance(mission, appliance).expect("appliance cert");
    Credentials::from_pem(hub_ca_pem, &issued.cert_pem, &issued.key_pem)
        .expect("appliance credentials")
}

pub(crate) fn start_hub(fleet: &Fleet, services: Vec<Service>) -> (HubHandle, Metrics) {
    start_hub_with(fleet, services, |_| {})
}

pub(crate) fn start_hub_with(
    fleet: &Fleet,
    services: Vec<Service>,
    tweak: impl FnOnce(&mut HubConfig),
) -> (HubHandle, Metrics) {
    let table = ServiceTable::new(services).expect("unique services");
    let mut config = HubConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        hub_credentials(fleet),
        table,
    );
    tweak(&mut config);
    let metrics = Metrics::default();
    (
        Hub::bind(config, metrics.clone()).expect("hub binds"),
        metrics,
    )
}

pub(crate) fn gateway_config(hubs: &[SocketAddr], creds: Credentials) -> GatewayConfig {
    let mut config = GatewayConfig::new(
        hubs.iter().map(|a| a.to_string()).collect(),
        "hub.legatura.test".into(),
        creds,
    );
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.backoff_cap = Duration::from_millis(500);
    config.handshake_timeout = Duration::from_secs(3);
    config
}

pub(crate) fn start_gateway(config: GatewayConfig) -> (Gateway, Metrics) {
    let metrics = Metrics::default();
    let gw = Gateway::new(config, metrics.clone()).expect("gateway binds");
    gw.start();
    (gw, metrics)
}

/// A local TCP listener of the gateway for `service`; returns its address.
pub(crate) async fn listen_tcp(gw: &Gateway, service: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (gw, service) = (gw.clone(), name(service));
    tokio::spawn(async move { gw.serve_tcp(listener, service).await });
    addr
}

/// A local UDP socket of the gateway for `service`.
pub(crate) async fn listen_udp(gw: &Gateway, service: &str) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (gw, service) = (gw.clone(), name(service));
    tokio::spawn(async move { gw.serve_udp(socket, service).await });
    addr
}

/// An upstream that answers every connection with `tag` and then echoes what it reads.
pub(crate) async fn tagged_echo(tag: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                if s.write_all(tag).await.is_err() {
                    return;
                }
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// An upstream that reads to end of stream, then answers with the SHA-256 of what it read.
pub(crate) async fn digest_sink() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                let mut buf = vec![0u8; 256 << 10];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => ctx.update(&buf[..n]),
                        Err(_) => return,
                    }
                }
                let _ = s.write_all(ctx.finish().as_ref()).await;
            });
        }
    });
    addr
}

/// Fills `block` with the next bytes of a xorshift stream whose position is `state`.
pub(crate) fn pattern(block: &mut [u8], state: &mut u64) {
    for chunk in block.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// An upstream that sends `mebibytes` MiB of [`pattern`] bytes to every connection, then
/// half-closes and waits for the other side to close.
pub(crate) async fn pattern_source(mebibytes: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut block, mut state) = (vec![0u8; 1 << 20], 0x9e37_79b9_7f4a_7c15);
                for _ in 0..mebibytes {
                    pattern(&mut block, &mut state);
                    if s.write_all(&block).await.is_err() {
                        return;
                    }
                }
                let _ = s.shutdown().await;
                let _ = s.read_to_end(&mut Vec::new()).await;
            });
        }
    });
    addr
}

/// A UDP upstream that echoes each datagram back to its sender, prefixed with `tag`.
pub(crate) async fn udp_echo(tag: &'static [u8]) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 70_000];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut out = tag.to_vec();
            out.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&out, from).await;
        }
    });
    addr
}

/// Connects through `addr`, sends `msg`, half-closes, and returns everything read back.
pub(crate) async fn round_trip(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(msg).await?;
    s.shutdown().await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(out)
}

/// Polls `f` until it holds or `within` passes.
pub(crate) async fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// The value of a metric line starting with `prefix` in the Prometheus text of `metrics`.
pub(crate) fn metric(metrics: &Metrics, prefix: &str) -> f64 {
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
