//! Our tunnel, in this process: a `tunnel::Hub` and a `tunnel::Gateway`, each on a multi-thread
//! runtime of its own, the gateway listening for the `sink` and `echo` services whose upstreams
//! are the load generator's servers; and the handshake measurement against that hub.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use pki::fixture::Fleet;
use tokio::net::TcpListener;
use tunnel::{
    AllowRule, Credentials, Gateway, GatewayConfig, Hub, HubConfig, HubHandle, Metrics, Protocol,
    Service, ServiceName, ServiceTable,
};

use crate::certs;
use crate::report::percentile;

/// The hub and gateway carrying the throughput and latency traffic.
#[derive(Debug)]
pub(crate) struct TunnelPair {
    hub: HubHandle,
    gateway: Gateway,
    gateway_metrics: Metrics,
    pub(crate) hub_addr: SocketAddr,
    /// The gateway's listener for the sink service.
    pub(crate) sink: SocketAddr,
    /// The gateway's listener for the echo service.
    pub(crate) echo: SocketAddr,
}

fn service(name: &str, upstream: SocketAddr) -> Result<Service> {
    Ok(Service {
        name: ServiceName::new(name).with_context(|| format!("service name {name}"))?,
        protocol: Protocol::Tcp,
        upstream: tunnel::Upstream::Address(upstream.to_string()),
        proxy_protocol: false,
        allow: vec!["*".parse::<AllowRule>().context("allow rule")?],
    })
}

/// A gateway configuration for the fixture hub at `hub`.
pub(crate) fn gateway_config(hub: SocketAddr, credentials: Credentials) -> GatewayConfig {
    let mut config = GatewayConfig::new(
        vec![hub.to_string()],
        pki::fixture::HUB_DNS_NAME.to_owned(),
        credentials,
    );
    config.bind = ([127, 0, 0, 1], 0).into();
    config
}

/// Connections the measured gateway keeps to the hub: `TUNNEL_BENCH_CONNECTIONS`, default 2
/// (the setting for sites with bulk traffic; see docs/tunnel.md).
pub(crate) fn connections() -> usize {
    std::env::var("TUNNEL_BENCH_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(2)
}

impl TunnelPair {
    /// Starts the hub on `hub_runtime` and the gateway on the current runtime.
    pub(crate) async fn start(
        fleet: &Fleet,
        hub_runtime: &tokio::runtime::Handle,
        sink: SocketAddr,
        echo: SocketAddr,
    ) -> Result<Self> {
        let services = ServiceTable::new([service("sink", sink)?, service("echo", echo)?])
            .context("service table")?;
        let config = HubConfig::new(
            ([127, 0, 0, 1], 0).into(),
            certs::hub_credentials(fleet)?,
            services,
        );
        let hub = {
            let _hub_runtime = hub_runtime.enter();
            Hub::bind(config, Metrics::default()).context("cannot start the hub")?
        };
        let hub_addr = hub.local_addr()?;
        let creds = certs::appliance(fleet, certs::LOAD_APPLIANCE)?;
        let gateway_metrics = Metrics::default();
        let mut config = gateway_config(hub_addr, creds);
        config.connections = connections();
        let gateway =
            Gateway::new(config, gateway_metrics.clone()).context("cannot start the gateway")?;
        gateway.start();
        if !gateway.wait_ready(Duration::from_secs(10)).await {
            bail!("the gateway did not connect to the in-process hub within 10 s");
        }
        let sink = listen(&gateway, "sink").await?;
        let echo = listen(&gateway, "echo").await?;
        Ok(Self {
            hub,
            gateway,
            gateway_metrics,
            hub_addr,
            sink,
            echo,
        })
    }

    /// QUIC packets the gateway has declared lost so far (sampled every 5 s by the tunnel).
    pub(crate) fn lost_packets(&self) -> u64 {
        self.gateway_metrics.lost_packets.get()
    }

    pub(crate) async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.hub.close();
    }
}

async fn listen(gateway: &Gateway, service: &str) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a gateway listener")?;
    let addr = listener.local_addr()?;
    let (gateway, name) = (
        gateway.clone(),
        ServiceName::new(service).context("service name")?,
    );
    tokio::spawn(async move { gateway.serve_tcp(listener, name).await });
    Ok(addr)
}

/// Handshake times.
#[derive(Debug)]
pub(crate) struct Handshakes {
    pub(crate) full_p50_ms: f64,
    pub(crate) full_p99_ms: f64,
    /// One gateway reused: its client config keeps any session ticket the hub sent.
    pub(crate) same_gateway_p50_ms: f64,
}

/// `n` sequential handshakes to first byte: QUIC + mutual TLS, `Hello`, the hub's `Welcome`.
///
/// Each full handshake uses a fresh `Gateway`, whose `Gateway::new` builds a new rustls client
/// config (with an empty session store) and a new endpoint on a new UDP port: no ticket can be
/// offered, so each is a full handshake with both certificate chains sent and verified. Only
/// `connect_once` is timed. For contrast, one gateway reused for 200 handshakes shows what
/// resumption would save; it saves nothing while the hub sends no session tickets (it does
/// not, so that the revocation check in its client verifier always runs).
pub(crate) async fn handshakes(fleet: &Fleet, hub: SocketAddr, n: usize) -> Result<Handshakes> {
    let creds = certs::appliance(fleet, "HANDSHAKE")?;
    let mut full = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let gateway = Gateway::new(gateway_config(hub, creds.clone()), Metrics::default())
            .context("cannot create a gateway")?;
        let start = Instant::now();
        gateway
            .connect_once()
            .await
            .with_context(|| format!("handshake {i} failed"))?;
        // The first few warm the hub's caches and the allocator.
        if i >= 20 {
            full.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let reused = Gateway::new(gateway_config(hub, creds), Metrics::default())
        .context("cannot create a gateway")?;
    let mut same = Vec::new();
    for i in 0..220 {
        let start = Instant::now();
        reused
            .connect_once()
            .await
            .with_context(|| format!("handshake {i} of the reused gateway failed"))?;
        if i >= 20 {
            same.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    full.sort_by(f64::total_cmp);
    same.sort_by(f64::total_cmp);
    Ok(Handshakes {
        full_p50_ms: percentile(&full, 0.5),
        full_p99_ms: percentile(&full, 0.99),
        same_gateway_p50_ms: percentile(&same, 0.5),
    })
}
