//! What the hub learns of a UDP flow's LAN side (`HubHandle::flow_source`), and routed
//! services: each datagram goes where the embedding program's router says, and only the
//! address it last went to may answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

#[path = "loopback/support.rs"]
#[allow(dead_code)] // shared with the loopback suite, which uses more of it
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tokio::net::UdpSocket;
use tunnel::{
    ApplianceId, FlowOrigin, Gateway, HubHandle, Metrics, Protocol, ServiceName, UdpRouter,
    Upstream,
};

const SECOND: Duration = Duration::from_secs(1);
/// How long a datagram that must not arrive is waited for.
const QUIET: Duration = Duration::from_millis(300);

fn paris() -> ApplianceId {
    ApplianceId::new("ro-emb-paris", "PAR-01").unwrap()
}

/// A hub with `services` and one Paris gateway, up.
async fn paris_hub(services: Vec<tunnel::Service>) -> (HubHandle, Metrics, Gateway) {
    init_logs();
    let fleet = fleet();
    let (hub, metrics) = start_hub(&fleet, services);
    let creds = appliance_credentials(&fleet, &fleet.ca().cert_pem(), "ro-emb-paris", "PAR-01");
    let (gw, _) = start_gateway(gateway_config(&[hub.local_addr().unwrap()], creds));
    assert!(gw.wait_ready(5 * SECOND).await, "gateway never ready");
    (hub, metrics, gw)
}

/// A gateway UDP listener for `service` on `bind`, advertising `advertise`.
async fn listen(
    gw: &Gateway,
    service: &str,
    bind: &str,
    advertise: Option<SocketAddr>,
) -> SocketAddr {
    let socket = UdpSocket::bind(bind).await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let (gw, service) = (gw.clone(), name(service));
    tokio::spawn(async move { gw.serve_udp_advertised(socket, service, advertise).await });
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The next datagram on `socket` within two seconds, with its source.
async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 256];
    let (n, from) = tokio::time::timeout(2 * SECOND, socket.recv_from(&mut buf))
        .await
        .expect("a datagram arrived")
        .unwrap();
    (buf[..n].to_vec(), from)
}

/// Whether anything arrives on `socket` for a little while.
async fn silent(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 256];
    tokio::time::timeout(QUIET, socket.recv_from(&mut buf))
        .await
        .is_err()
}

#[tokio::test]
async fn the_hub_learns_each_flows_lan_client_and_the_listener_it_sent_to() {
    let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (hub, _, gw) = paris_hub(vec![service(
        "sip",
        Protocol::Udp,
        upstream.local_addr().unwrap(),
        &["*"],
    )])
    .await;
    let advertised: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let cases = [
        // Bound to one address: that address is the listener.
        ("127.0.0.1:0", None, true),
        // Advertised: what the phones are told, whatever is bound.
        ("0.0.0.0:0", Some(advertised), false),
        // A wildcard with nothing advertised names no listener.
        ("0.0.0.0:0", None, false),
    ];
    for (bind, advertise, bound_is_listener) in cases {
        let listener = listen(&gw, "sip", bind, advertise).await;
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        phone.send_to(b"REGISTER", listener).await.unwrap();
        let (payload, source) = recv(&upstream).await;
        assert_eq!(payload, b"REGISTER");
        let expected_listener = if bound_is_listener {
            Some(listener)
        } else {
            advertise
        };
        assert_eq!(
            hub.flow_source(source),
            Some(FlowOrigin {
                appliance: paris(),
                client: Some(phone.local_addr().unwrap()),
                listener: expected_listener,
            }),
            "listener bound to {bind}, advertising {advertise:?}"
        );
        assert_eq!(hub.flow_origin(source), Some(paris()));
    }
    assert_eq!(hub.flow_source(upstream.local_addr().unwrap()), None);
}

/// A router whose answer the test sets, remembering what it was asked.
#[derive(Debug, Default)]
struct TestRouter {
    target: Mutex<Option<SocketAddr>>,
    asked: Mutex<Vec<(ServiceName, FlowOrigin)>>,
}

impl TestRouter {
    fn point_at(&self, target: Option<SocketAddr>) {
        *self.target.lock().unwrap() = target;
    }
}

impl UdpRouter for TestRouter {
    fn route(&self, service: &ServiceName, origin: &FlowOrigin) -> Option<SocketAddr> {
        self.asked
            .lock()
            .unwrap()
            .push((service.clone(), origin.clone()));
        *self.target.lock().unwrap()
    }
}

fn datagrams(metrics: &Metrics, result: &str) -> f64 {
    metric(
        metrics,
        &format!("legatura_tunnel_datagrams_total{{result=\"{result}\"}}"),
    )
}

#[tokio::test]
async fn a_routed_flow_goes_where_the_router_says_and_hears_only_from_there() {
    let mut rtp = service("rtp", Protocol::Udp, "127.0.0.1:9".parse().unwrap(), &["*"]);
    rtp.upstream = Upstream::Routed;
    let (hub, metrics, gw) = paris_hub(vec![rtp]).await;
    let listener = listen(&gw, "rtp", "127.0.0.1:0", None).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // No router yet: the flow opens, its datagrams are dropped and counted.
    phone.send_to(b"rtp 0", listener).await.unwrap();
    assert!(
        eventually(2 * SECOND, || datagrams(&metrics, "unrouted") >= 1.0).await,
        "a datagram with no router was not counted as unrouted"
    );
    assert!(silent(&relay_a).await);

    let router = Arc::new(TestRouter::default());
    router.point_at(Some(relay_a.local_addr().unwrap()));
    hub.set_udp_router(router.clone());
    phone.send_to(b"rtp 1", listener).await.unwrap();
    let (payload, source) = recv(&relay_a).await;
    assert_eq!(payload, b"rtp 1");
    let origin = FlowOrigin {
        appliance: paris(),
        client: Some(phone.local_addr().unwrap()),
        listener: Some(listener),
    };
    assert_eq!(hub.flow_source(source), Some(origin.clone()));
    let (service, asked) = router.asked.lock().unwrap().last().cloned().unwrap();
    assert_eq!((service.as_str(), asked), ("rtp", origin.clone()));

    // The routed address answers; anyone else writing to the flow's port does not get through.
    relay_a.send_to(b"from a", source).await.unwrap();
    assert_eq!(recv(&phone).await.0, b"from a");
    let strays = datagrams(&metrics, "stray_reply");
    stranger.send_to(b"from a stranger", source).await.unwrap();
    assert!(
        silent(&phone).await,
        "a stranger's datagram reached the phone"
    );
    assert!(
        eventually(SECOND, || datagrams(&metrics, "stray_reply") > strays).await,
        "a stranger's datagram was not counted"
    );

    // The router changes its mind: the same flow, from the same source, now reaches B, and
    // only B may answer.
    router.point_at(Some(relay_b.local_addr().unwrap()));
    phone.send_to(b"rtp 2", listener).await.unwrap();
    let (payload, source_b) = recv(&relay_b).await;
    assert_eq!((payload.as_slice(), source_b), (&b"rtp 2"[..], source));
    assert!(
        silent(&relay_a).await,
        "A still receives after the route moved"
    );
    relay_a.send_to(b"late from a", source).await.unwrap();
    assert!(
        silent(&phone).await,
        "the old route's reply reached the phone"
    );
    relay_b.send_to(b"from b", source).await.unwrap();
    assert_eq!(recv(&phone).await.0, b"from b");
    assert_eq!(hub.flow_source(source), Some(origin));

    // No route: dropped and counted.
    let unrouted = datagrams(&metrics, "unrouted");
    router.point_at(None);
    phone.send_to(b"rtp 3", listener).await.unwrap();
    assert!(
        eventually(SECOND, || datagrams(&metrics, "unrouted") > unrouted).await,
        "a datagram the router refused was not counted"
    );
    assert!(silent(&relay_a).await && silent(&relay_b).await);
}

#[tokio::test]
async fn a_routed_service_is_authorised_like_any_other() {
    let mut rtp = service(
        "rtp",
        Protocol::Udp,
        "127.0.0.1:9".parse().unwrap(),
        &["berlin/*"],
    );
    rtp.upstream = Upstream::Routed;
    let (hub, metrics, gw) = paris_hub(vec![rtp]).await;
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let router = Arc::new(TestRouter::default());
    router.point_at(Some(relay.local_addr().unwrap()));
    hub.set_udp_router(router.clone());
    let listener = listen(&gw, "rtp", "127.0.0.1:0", None).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    phone.send_to(b"rtp", listener).await.unwrap();
    assert!(
        eventually(2 * SECOND, || metric(
            &metrics,
            "legatura_tunnel_streams_refused_total{service=\"rtp\",reason=\"forbidden\"}"
        ) >= 1.0)
        .await,
        "Paris was not refused a service only Berlin may use"
    );
    assert!(silent(&relay).await);
    assert!(
        router.asked.lock().unwrap().is_empty(),
        "the router was asked"
    );
}
