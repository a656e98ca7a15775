//! Real quinn endpoints on 127.0.0.1 with the fixture PKI: admission, routing, refusal,
//! forwarding, drain and reconnection as a gateway operator would see them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tunnel::{ConnectError, Gateway, Metrics, Protocol};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn admitted_gateway_is_listed_with_its_certificate_identity() {
    init_logs();
    let fleet = fleet();
    let (hub, _) = start_hub(&fleet, vec![]);
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, _) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    assert!(
        gw.wait_ready(5 * SECOND).await,
        "gateway never became ready"
    );
    assert!(eventually(2 * SECOND, || hub.connections().len() == 1).await);
    let conns = hub.connections();
    assert_eq!(conns[0].appliance.to_string(), "paris/PAR-01");
    assert!(conns[0].software.starts_with("gatewayd/"));
}

/// Every rejected client must learn of it from `connect_once` itself, quickly.
async fn assert_rejected(gw: Gateway) {
    let started = Instant::now();
    let result = gw.connect_once().await;
    assert!(result.is_err(), "hub admitted a client it should refuse");
    assert!(
        started.elapsed() < 2 * SECOND,
        "rejection took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_rejected_at_once() {
    let fleet = fleet();
    let rogue = support::fleet();
    let (hub, metrics) = start_hub(&fleet, vec![]);
    let creds = appliance_credentials(&rogue, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let gw = Gateway::new(
        gateway_config(&[hub.local_addr().expect("addr")], creds),
        Metrics::default(),
    )
    .expect("binds");
    assert_rejected(gw).await;
    assert!(hub.connections().is_empty());
    assert!(
        eventually(SECOND, || metric(
            &metrics,
            "legatura_tunnel_handshakes_total{result=\"rejected\"}"
        ) >= 1.0)
        .await
    );
}

#[tokio::test]
async fn expired_client_certificate_is_rejected() {
    let fleet = fleet();
    let (hub, _) = start_hub(&fleet, vec![]);
    let expired = fleet.expired_appliance("paris", "PAR-01").expect("cert");
    let creds =
        tunnel::Credentials::from_pem(&fleet.ca().cert_pem(), &expired.cert_pem, &expired.key_pem)
            .expect("creds");
    let gw = Gateway::new(
        gateway_config(&[hub.local_addr().expect("addr")], creds),
        Metrics::default(),
    )
    .expect("binds");
    assert_rejected(gw).await;
}

#[tokio::test]
async fn gateway_refuses_a_hub_outside_its_pinned_ca() {
    let fleet = fleet();
    let other = support::fleet();
    let (hub, _) = start_hub(&fleet, vec![]);
    // The gateway pins another CA than the one that issued the hub's certificate.
    let creds = appliance_credentials(&fleet, &other.ca().cert_pem(), "paris", "PAR-01");
    let gw = Gateway::new(
        gateway_config(&[hub.local_addr().expect("addr")], creds),
        Metrics::default(),
    )
    .expect("binds");
    let err = gw.connect_once().await.expect_err("must not trust the hub");
    assert!(matches!(err, ConnectError::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn client_without_certificate_is_rejected() {
    let fleet = fleet();
    let (hub, _) = start_hub(&fleet, vec![]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(fleet.ca().cert_der()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![tunnel_proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic");
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let outcome = async {
        let conn = endpoint
            .connect(hub.local_addr()?, "hub.legatura.test")?
            .await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(&tunnel_proto::StreamHeader::Control.to_bytes())
            .await?;
        let mut byte = [0u8; 1];
        recv.read_exact(&mut byte).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    let result = tokio::time::timeout(2 * SECOND, outcome)
        .await
        .expect("failure must be immediate");
    assert!(result.is_err(), "an anonymous client got through");
}

#[tokio::test]
async fn streams_reach_the_upstream_of_the_service_they_name() {
    let fleet = fleet();
    let alpha = tagged_echo(b"alpha:").await;
    let beta = tagged_echo(b"beta:").await;
    let (hub, _) = start_hub(
        &fleet,
        vec![
            service("alpha", Protocol::Tcp, alpha, &["*"]),
            service("beta", Protocol::Tcp, beta, &["paris/*"]),
        ],
    );
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let a = listen_tcp(&gw, "alpha").await;
    let b = listen_tcp(&gw, "beta").await;
    assert!(gw.wait_ready(5 * SECOND).await);
    assert_eq!(round_trip(a, b"one").await.expect("alpha"), b"alpha:one");
    assert_eq!(round_trip(b, b"two").await.expect("beta"), b"beta:two");
    assert_eq!(
        metric(&metrics, "legatura_tunnel_streams_total{service=\"alpha\"}"),
        1.0
    );
}

#[tokio::test]
async fn forbidden_and_unknown_services_are_reset_while_others_keep_working() {
    let fleet = fleet();
    let open = tagged_echo(b"ok:").await;
    let (hub, hub_metrics) = start_hub(
        &fleet,
        vec![
            service("open", Protocol::Tcp, open, &["*"]),
            service("secret", Protocol::Tcp, open, &["berlin/*"]),
        ],
    );
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, gw_metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let open_addr = listen_tcp(&gw, "open").await;
    let secret = listen_tcp(&gw, "secret").await;
    let missing = listen_tcp(&gw, "missing").await;
    assert!(gw.wait_ready(5 * SECOND).await);

    // A long-lived stream on an allowed service, open across the refusals.
    let mut long = TcpStream::connect(open_addr).await.expect("connect");
    let mut tag = [0u8; 3];
    long.read_exact(&mut tag).await.expect("tag");

    for addr in [secret, missing] {
        let got = round_trip(addr, b"let me in").await.unwrap_or_default();
        assert!(got.is_empty(), "refused service leaked {got:?}");
    }
    assert!(
        eventually(SECOND, || metric(
            &hub_metrics,
            "legatura_tunnel_streams_refused_total{service=\"secret\",reason=\"forbidden\"}"
        ) == 1.0)
        .await
    );
    assert!(
        eventually(SECOND, || metric(
            &hub_metrics,
            "legatura_tunnel_streams_refused_total{service=\"missing\",reason=\"unknown_service\"}"
        ) == 1.0)
        .await
    );
    assert!(
        eventually(SECOND, || metric(
            &gw_metrics,
            "legatura_tunnel_streams_refused_total{service=\"secret\",reason=\"forbidden\"}"
        ) == 1.0)
        .await
    );

    long.write_all(b"still here").await.expect("write");
    let mut back = [0u8; 10];
    long.read_exact(&mut back)
        .await
        .expect("the allowed stream survived");
    assert_eq!(&back, b"still here");
    assert_eq!(hub.connections().len(), 1, "the connection carried on");
}

#[tokio::test]
async fn hundred_mebibytes_arrive_byte_exact() {
    let fleet = fleet();
    let sink = digest_sink().await;
    let (hub, _) = start_hub(&fleet, vec![service("bulk", Protocol::Tcp, sink, &["*"])]);
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let addr = listen_tcp(&gw, "bulk").await;
    assert!(gw.wait_ready(5 * SECOND).await);

    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut block, mut state) = (vec![0u8; 1 << 20], 0x9e37_79b9_7f4a_7c15);
    for _ in 0..100 {
        pattern(&mut block, &mut state);
        ctx.update(&block);
        s.write_all(&block).await.expect("write");
    }
    s.shutdown().await.expect("half-close");
    let mut digest = Vec::new();
    s.read_to_end(&mut digest).await.expect("digest");
    assert_eq!(digest, ctx.finish().as_ref(), "bytes changed in transit");
    assert!(
        eventually(SECOND, || metric(
            &metrics,
            "legatura_tunnel_bytes_total{service=\"bulk\",direction=\"to_hub\"}"
        ) == 100.0 * 1048576.0)
        .await
    );
}

/// The other direction, to a client that reads in small pieces and pauses now and then, so
/// the gateway's writes to it are often cut short: every byte arrives once and in order, and
/// the upstream's end of data reaches the client as end of data.
#[tokio::test]
async fn bulk_from_the_hub_side_arrives_byte_exact_at_a_slow_reader() {
    const MIB: usize = 32;
    let fleet = fleet();
    let source = pattern_source(MIB).await;
    let (hub, _) = start_hub(&fleet, vec![service("feed", Protocol::Tcp, source, &["*"])]);
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let addr = listen_tcp(&gw, "feed").await;
    assert!(gw.wait_ready(5 * SECOND).await);

    let mut s = TcpStream::connect(addr).await.expect("connect");
    let (mut expected, mut state) = (vec![0u8; 1 << 20], 0x9e37_79b9_7f4a_7c15);
    let mut got = vec![0u8; 1 << 20];
    for mib in 0..MIB {
        pattern(&mut expected, &mut state);
        let mut filled = 0;
        while filled < got.len() {
            let end = (filled + 3000).min(got.len());
            let n = s.read(&mut got[filled..end]).await.expect("read");
            assert!(n > 0, "stream ended after {mib} MiB and {filled} bytes");
            filled += n;
            if filled % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert!(got == expected, "MiB {mib} changed in transit");
    }
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.expect("end of data");
    assert!(rest.is_empty(), "{} bytes past the end", rest.len());
    s.shutdown().await.expect("half-close");
    assert!(
        eventually(SECOND, || metric(
            &metrics,
            "legatura_tunnel_bytes_total{service=\"feed\",direction=\"from_hub\"}"
        ) == (MIB << 20) as f64)
        .await
    );
}

/// Path MTU discovery climbs to the most a 1500-byte IPv4 path carries (loopback carries
/// more), so bulk transfers need 1.4 % fewer packets than at quinn's own ceiling of 1452; the
/// gauge shows operators what each path settled on.
#[tokio::test]
async fn path_mtu_discovery_reaches_a_full_ipv4_packet() {
    let fleet = fleet();
    let echo = tagged_echo(b"ok:").await;
    let (hub, hub_metrics) = start_hub(&fleet, vec![service("echo", Protocol::Tcp, echo, &["*"])]);
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    assert!(gw.wait_ready(5 * SECOND).await);
    // The path is sampled every five seconds.
    for m in [&metrics, &hub_metrics] {
        assert!(
            eventually(12 * SECOND, || metric(m, "legatura_tunnel_path_mtu_bytes")
                == 1472.0)
            .await,
            "path MTU {}",
            metric(m, "legatura_tunnel_path_mtu_bytes")
        );
    }
}

#[tokio::test]
async fn udp_flows_round_trip_including_datagrams_too_large_for_quic() {
    let fleet = fleet();
    let echo = udp_echo(b"echo:").await;
    let (hub, _) = start_hub(
        &fleet,
        vec![
            service("sip", Protocol::Udp, echo, &["*"]),
            service("private", Protocol::Udp, echo, &["berlin/*"]),
        ],
    );
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, metrics) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let sip = listen_udp(&gw, "sip").await;
    let private = listen_udp(&gw, "private").await;
    assert!(gw.wait_ready(5 * SECOND).await);

    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut buf = vec![0u8; 70_000];
    for payload in [b"INVITE".to_vec(), vec![7u8; 8000]] {
        phone.send_to(&payload, sip).await.expect("send");
        let (n, from) = tokio::time::timeout(2 * SECOND, phone.recv_from(&mut buf))
            .await
            .expect("echo arrives")
            .expect("recv");
        assert_eq!(from, sip);
        assert_eq!(&buf[..5], b"echo:");
        assert_eq!(&buf[5..n], payload.as_slice());
    }
    phone.send_to(b"hello?", private).await.expect("send");
    let refused = tokio::time::timeout(Duration::from_millis(500), phone.recv_from(&mut buf)).await;
    assert!(refused.is_err(), "a forbidden flow was answered");
    assert!(
        eventually(SECOND, || metric(
            &metrics,
            "legatura_tunnel_streams_refused_total{service=\"private\",reason=\"forbidden\"}"
        ) == 1.0)
        .await
    );
}

#[tokio::test]
async fn malformed_headers_are_reset_and_the_connection_carries_on() {
    let fleet = fleet();
    let open = tagged_echo(b"ok:").await;
    let (hub, hub_metrics) = start_hub_with(
        &fleet,
        vec![service("open", Protocol::Tcp, open, &["*"])],
        |c| {
            c.header_timeout = Duration::from_millis(300);
        },
    );
    let issued = fleet.appliance("paris", "PAR-01").expect("cert");
    let creds =
        tunnel::Credentials::from_pem(&fleet.ca().cert_pem(), &issued.cert_pem, &issued.key_pem)
            .expect("creds");
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
    let crypto = tunnel::tls::client_crypto(&creds).expect("crypto");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = endpoint
        .connect(hub.local_addr().expect("addr"), "hub.legatura.test")
        .expect("connect")
        .await
        .expect("handshake");
    let (mut control, mut control_rx) = conn.open_bi().await.expect("control");
    let mut hello = tunnel_proto::StreamHeader::Control.to_bytes();
    tunnel_proto::Control::Hello {
        software: "raw".into(),
    }
    .encode(&mut hello);
    control.write_all(&hello).await.expect("hello");
    let mut welcome = [0u8; 3];
    control_rx.read_exact(&mut welcome).await.expect("welcome");

    let garbage: [&[u8]; 5] = [
        b"\x09\x01",
        b"\x01\x07",
        b"\x01\x01\xff",
        b"\x01\x01\x02AB",
        b"\x01",
    ];
    for bytes in garbage {
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        send.write_all(bytes).await.expect("write");
        let mut one = [0u8; 1];
        let err = tokio::time::timeout(2 * SECOND, recv.read_exact(&mut one))
            .await
            .expect("reset in time")
            .expect_err("must be reset");
        assert!(format!("{err:?}").contains("Reset"), "{bytes:?}: {err:?}");
    }
    assert!(metric(&hub_metrics, "legatura_tunnel_streams_refused_total") >= 5.0);

    let (mut send, mut recv) = conn.open_bi().await.expect("stream");
    send.write_all(&tunnel_proto::StreamHeader::Service(name("open")).to_bytes())
        .await
        .expect("header");
    let mut tag = [0u8; 3];
    recv.read_exact(&mut tag)
        .await
        .expect("a good stream still works");
    assert_eq!(&tag, b"ok:");
}

#[tokio::test]
async fn a_peer_opening_streams_without_end_is_bounded() {
    let fleet = fleet();
    let open = tagged_echo(b"ok:").await;
    let (hub, _) = start_hub_with(
        &fleet,
        vec![service("open", Protocol::Tcp, open, &["*"])],
        |c| {
            c.transport.max_streams = 64;
            c.header_timeout = Duration::from_millis(200);
        },
    );
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let (gw, _) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    let addr = listen_tcp(&gw, "open").await;
    assert!(gw.wait_ready(5 * SECOND).await);
    // 500 local connections that never send: the hub serves 64 at a time, the rest wait
    // for stream credit, and all of them are answered.
    let mut clients = Vec::new();
    for _ in 0..500 {
        clients.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await?;
            let mut tag = [0u8; 3];
            tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut tag))
                .await
                .map_err(std::io::Error::other)??;
            Ok::<_, std::io::Error>(tag)
        }));
        tokio::task::yield_now().await;
    }
    let mut answered = 0;
    for c in clients {
        if let Ok(Ok(tag)) = c.await {
            assert_eq!(&tag, b"ok:");
            answered += 1;
        }
    }
    assert_eq!(answered, 500);
    assert!(eventually(2 * SECOND, || hub.connections()[0].streams_open <= 64).await);
}

#[tokio::test]
async fn drain_moves_the_gateway_to_another_hub_without_failing_a_request() {
    init_logs();
    let fleet = fleet();
    let echo = tagged_echo(b"ok:").await;
    let services = || vec![service("echo", Protocol::Tcp, echo, &["*"])];
    let (hub_a, _) = start_hub(&fleet, services());
    let (hub_b, _) = start_hub(&fleet, services());
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let hubs = [
        hub_a.local_addr().expect("addr"),
        hub_b.local_addr().expect("addr"),
    ];
    let (gw, gw_metrics) = start_gateway(gateway_config(&hubs, creds));
    let addr = listen_tcp(&gw, "echo").await;
    assert!(gw.wait_ready(5 * SECOND).await);
    assert_eq!(
        hub_a.connections().len(),
        1,
        "gateway starts on the first hub"
    );

    // A stream in flight on hub A when the drain begins.
    let mut inflight = TcpStream::connect(addr).await.expect("connect");
    let mut tag = [0u8; 3];
    inflight.read_exact(&mut tag).await.expect("tag");

    let load = tokio::spawn(async move {
        let mut failures = 0;
        for i in 0..200u32 {
            let msg = i.to_be_bytes();
            match round_trip(addr, &msg).await {
                Ok(got) if got[3..] == msg => {}
                _ => failures += 1,
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        failures
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let drain = tokio::spawn({
        let hub_a = hub_a.clone();
        async move { hub_a.drain(Duration::from_secs(5)).await }
    });
    assert!(
        eventually(3 * SECOND, || hub_b.connections().len() == 1).await,
        "gateway never moved to hub B"
    );
    inflight
        .write_all(b"done")
        .await
        .expect("in-flight stream still writable");
    let mut back = [0u8; 4];
    inflight
        .read_exact(&mut back)
        .await
        .expect("in-flight stream finished on the old hub");
    drop(inflight);
    assert_eq!(
        load.await.expect("load"),
        0,
        "requests failed during the drain"
    );
    assert_eq!(
        drain.await.expect("drain"),
        0,
        "drain had to cut connections"
    );
    assert!(hub_a.connections().is_empty());
    assert!(gw.is_ready());
    assert_eq!(metric(&gw_metrics, "legatura_tunnel_reconnects_total"), 1.0);
}

#[tokio::test]
async fn gateway_reconnects_when_the_hub_restarts() {
    let fleet = fleet();
    let echo = tagged_echo(b"ok:").await;
    let (hub, _) = start_hub_with(
        &fleet,
        vec![service("echo", Protocol::Tcp, echo, &["*"])],
        |c| c.reset_key = Some([7; 32]),
    );
    let addr = hub.local_addr().expect("addr");
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let mut config = gateway_config(&[addr], creds);
    config.transport.keepalive = Duration::from_millis(300);
    config.watchdog_interval = Duration::from_millis(300);
    let (gw, _) = start_gateway(config);
    let local = listen_tcp(&gw, "echo").await;
    assert!(gw.wait_ready(5 * SECOND).await);

    // The hub closes everything and a new instance binds the same address. (A hub killed
    // without a word is the system tests' job: that needs a real process to kill.)
    hub.close();
    drop(hub);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (hub2, _) = start_hub_with(
        &fleet,
        vec![service("echo", Protocol::Tcp, echo, &["*"])],
        |c| {
            c.listen = addr;
            c.reset_key = Some([7; 32]);
        },
    );
    let restarted = Instant::now();
    assert!(
        eventually(5 * SECOND, || hub2.connections().len() == 1).await,
        "gateway did not come back"
    );
    assert!(
        restarted.elapsed() < 2 * SECOND,
        "took {:?}",
        restarted.elapsed()
    );
    assert!(gw.wait_ready(SECOND).await);
    assert_eq!(round_trip(local, b"x").await.expect("works again"), b"ok:x");
}

/// A hub whose QUIC stack still answers (so keepalives flow) but whose application has wedged:
/// it admits the gateway and then never answers a ping. The gateway's watchdog must notice and
/// replace the connection rather than stay alive-but-dead.
#[tokio::test]
async fn watchdog_replaces_a_connection_to_a_wedged_hub() {
    let fleet = fleet();
    let crypto = tunnel::tls::server_crypto(&hub_credentials(&fleet), Arc::new(tunnel::OpenFleet))
        .expect("crypto");
    let server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let endpoint =
        quinn::Endpoint::server(server, "127.0.0.1:0".parse().expect("addr")).expect("server");
    let addr = endpoint.local_addr().expect("addr");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(incoming) = endpoint.accept().await {
            let Ok(conn) = incoming.await else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Ok((mut send, mut recv)) = conn.accept_bi().await else {
                continue;
            };
            let mut hello = [0u8; 2 + 3 + 1];
            let _ = recv.read(&mut hello).await;
            let welcome = tunnel_proto::Control::Welcome {
                hub: "wedged".into(),
            }
            .to_bytes();
            let _ = send.write_all(&welcome).await;
            // From here on: silence. Keep everything alive so QUIC keeps acknowledging.
            held.push((conn, send, recv));
        }
    });
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let mut config = gateway_config(&[addr], creds);
    config.transport.keepalive = Duration::from_millis(200);
    config.transport.idle_timeout = Duration::from_secs(1);
    config.watchdog_interval = Duration::from_millis(200);
    let (gw, metrics) = start_gateway(config);
    assert!(
        gw.wait_ready(5 * SECOND).await,
        "the wedged hub still admits"
    );
    assert!(
        eventually(5 * SECOND, || accepted
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2)
        .await,
        "the watchdog never replaced the wedged connection"
    );
    assert!(metric(&metrics, "legatura_tunnel_reconnects_total") >= 1.0);
}

/// A gateway keeping two connections holds one to each hub and spreads streams over both, so
/// bulk flows use more than one core at each end; losing one hub leaves the other serving.
#[tokio::test]
async fn two_connections_spread_streams_over_two_hubs() {
    let fleet = fleet();
    let echo = tagged_echo(b"ok:").await;
    let services = || vec![service("echo", Protocol::Tcp, echo, &["*"])];
    let (hub_a, _) = start_hub(&fleet, services());
    let (hub_b, b_metrics) = start_hub(&fleet, services());
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "paris", "PAR-01");
    let hubs = [
        hub_a.local_addr().expect("addr"),
        hub_b.local_addr().expect("addr"),
    ];
    let mut config = gateway_config(&hubs, creds);
    config.connections = 2;
    let (gw, _) = start_gateway(config);
    let addr = listen_tcp(&gw, "echo").await;
    assert!(
        eventually(5 * SECOND, || hub_a.connections().len() == 1
            && hub_b.connections().len() == 1)
        .await
    );
    for i in 0..20u8 {
        assert_eq!(
            round_trip(addr, &[i]).await.expect("request"),
            [b'o', b'k', b':', i]
        );
    }
    let on_b = metric(
        &b_metrics,
        "legatura_tunnel_streams_total{service=\"echo\"}",
    );
    assert!(
        (5.0..=15.0).contains(&on_b),
        "streams were not spread: {on_b} of 20 on hub B"
    );
    hub_a.close();
    assert!(
        eventually(3 * SECOND, || gw.status().hub == Some(hubs[1])).await,
        "status moves to the remaining hub"
    );
    for i in 0..5u8 {
        assert_eq!(
            round_trip(addr, &[i])
                .await
                .expect("request after losing a hub"),
            [b'o', b'k', b':', i]
        );
    }
}
