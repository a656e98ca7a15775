//! The appliance behind a UDP flow, as an upstream in the hub's process learns it: the source
//! address the upstream saw names the gateway's certificate identity while the flow is open,
//! and nothing once it has closed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

#[path = "loopback/support.rs"]
#[allow(dead_code)] // shared with the loopback suite, which uses more of it
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::*;
use tokio::net::UdpSocket;
use tunnel::{ApplianceId, Protocol};

const SECOND: Duration = Duration::from_secs(1);

/// Sends `payload` from a fresh LAN socket to the gateway's listener and returns the source
/// address the upstream saw it come from.
async fn source_seen(upstream: &UdpSocket, listener: SocketAddr, payload: &[u8]) -> SocketAddr {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    phone.send_to(payload, listener).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(2 * SECOND, upstream.recv_from(&mut buf))
        .await
        .expect("the datagram crossed the tunnel")
        .unwrap();
    assert_eq!(&buf[..n], payload);
    from
}

#[tokio::test]
async fn a_flows_source_address_names_its_appliance_until_the_flow_closes() {
    init_logs();
    let fleet = fleet();
    let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (hub, _) = start_hub_with(
        &fleet,
        vec![service(
            "sip",
            Protocol::Udp,
            upstream.local_addr().unwrap(),
            &["*"],
        )],
        |c| c.flow_idle_timeout = Duration::from_millis(400),
    );
    let mut listeners = Vec::new();
    let mut gateways = Vec::new();
    for (mission, appliance) in [("ro-emb-paris", "PAR-01"), ("ro-emb-berlin", "BER-01")] {
        let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), mission, appliance);
        let (gw, _) = start_gateway(gateway_config(&[hub.local_addr().unwrap()], creds));
        listeners.push(listen_udp(&gw, "sip").await);
        assert!(gw.wait_ready(5 * SECOND).await, "gateway never ready");
        gateways.push(gw);
    }

    let paris = source_seen(&upstream, listeners[0], b"REGISTER paris").await;
    let berlin = source_seen(&upstream, listeners[1], b"REGISTER berlin").await;
    assert_ne!(paris, berlin);
    assert_eq!(
        hub.flow_origin(paris),
        Some(ApplianceId::new("ro-emb-paris", "PAR-01").unwrap())
    );
    assert_eq!(
        hub.flow_origin(berlin),
        Some(ApplianceId::new("ro-emb-berlin", "BER-01").unwrap())
    );
    // The upstream's own address, or any other, is nobody's flow.
    assert_eq!(hub.flow_origin(upstream.local_addr().unwrap()), None);

    // An idle flow is closed at the hub and its address names nobody any more.
    assert!(
        eventually(3 * SECOND, || hub.flow_origin(paris).is_none()).await,
        "a closed flow still names its appliance"
    );
}
