//! The appliance identity reaching an upstream through the real tunnel: a service with
//! `proxy_protocol` gets the hub's PROXY v2 header naming the gateway's certificate identity,
//! whatever the LAN client sends; a service without it gets the client's bytes only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

#[path = "loopback/support.rs"]
#[allow(dead_code)] // shared with the loopback suite, which uses more of it
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use pki::fixture::Fleet;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tunnel::{Gateway, HubHandle, Protocol};
use tunnel_origin::{ApplianceId, Origin, encode, read_origin};

const SECOND: Duration = Duration::from_secs(1);

/// An upstream that reads the PROXY header of every connection, reports the origin, greets
/// with `mission/appliance\n`, then echoes everything after the header back, so a test sees
/// exactly what followed it.
async fn origin_echo() -> (SocketAddr, mpsc::UnboundedReceiver<Origin>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(Ok(origin)) = tokio::time::timeout(SECOND, read_origin(&mut s)).await else {
                    return; // closed without an answer: the client reads nothing
                };
                let greeting = format!("{}\n", origin.appliance);
                let _ = tx.send(origin);
                if s.write_all(greeting.as_bytes()).await.is_err() {
                    return;
                }
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, rx)
}

async fn gateway(fleet: &Fleet, hub: &HubHandle, mission: &str, appliance: &str) -> Gateway {
    let creds = appliance_credentials(fleet, &fleet.ca().cert_pem(), mission, appliance);
    let (gw, _) = start_gateway(gateway_config(&[hub.local_addr().expect("addr")], creds));
    assert!(
        gw.wait_ready(5 * SECOND).await,
        "gateway never became ready"
    );
    gw
}

fn remote_of(hub: &HubHandle, id: &ApplianceId) -> SocketAddr {
    hub.connections()
        .into_iter()
        .find(|c| &c.appliance == id)
        .expect("connected")
        .remote
}

fn with_greeting(id: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{id}\n").into_bytes();
    out.extend_from_slice(payload);
    out
}

#[tokio::test]
async fn the_upstream_sees_the_certificate_identity_and_never_a_forged_one() {
    init_logs();
    let fleet = fleet();
    let (upstream, mut seen) = origin_echo().await;
    let plain = tagged_echo(b"plain:").await;
    let mut console = service("console", Protocol::Tcp, upstream, &["*"]);
    console.proxy_protocol = true;
    let (hub, _) = start_hub(
        &fleet,
        vec![console, service("plain", Protocol::Tcp, plain, &["*"])],
    );
    let paris = gateway(&fleet, &hub, "ro-emb-paris", "PAR-01").await;
    let berlin = gateway(&fleet, &hub, "ro-emb-berlin", "BER-01").await;
    let paris_console = listen_tcp(&paris, "console").await;
    let berlin_console = listen_tcp(&berlin, "console").await;
    let paris_plain = listen_tcp(&paris, "plain").await;
    let paris_id = ApplianceId::new("ro-emb-paris", "PAR-01").unwrap();
    let berlin_id = ApplianceId::new("ro-emb-berlin", "BER-01").unwrap();

    // Each gateway's streams carry that gateway's identity and its QUIC address.
    let request = b"GET / HTTP/1.1\r\n\r\n";
    for (addr, id) in [(paris_console, &paris_id), (berlin_console, &berlin_id)] {
        let answer = round_trip(addr, request).await.unwrap();
        assert_eq!(answer, with_greeting(&id.to_string(), request));
        let origin = seen.recv().await.unwrap();
        assert_eq!(&origin.appliance, id);
        assert_eq!(origin.peer, remote_of(&hub, id));
    }

    // A LAN client behind Paris that writes a PROXY header claiming Berlin: the upstream still
    // sees Paris, and the forged header arrives as payload, byte for byte.
    let forged = encode(
        &Origin {
            appliance: berlin_id.clone(),
            peer: "192.0.2.66:1".parse().unwrap(),
        },
        upstream,
    );
    let mut sent = forged.clone();
    sent.extend_from_slice(b"hello");
    assert_eq!(
        round_trip(paris_console, &sent).await.unwrap(),
        with_greeting("ro-emb-paris/PAR-01", &sent)
    );
    assert_eq!(seen.recv().await.unwrap().appliance, paris_id);

    // A service without the flag gets the client's bytes and nothing else.
    assert_eq!(
        round_trip(paris_plain, b"hello").await.unwrap(),
        b"plain:hello"
    );
    assert!(seen.try_recv().is_err(), "an origin was reported twice");
}

#[tokio::test]
async fn the_header_is_sent_at_connect_so_the_upstream_may_speak_first() {
    // Banner protocols (and an HTTP server's idle timeout) need the origin before the client
    // says anything.
    let fleet = fleet();
    let (upstream, _seen) = origin_echo().await;
    let mut console = service("console", Protocol::Tcp, upstream, &["*"]);
    console.proxy_protocol = true;
    let (hub, _) = start_hub(&fleet, vec![console]);
    let gw = gateway(&fleet, &hub, "paris", "PAR-01").await;
    let mut tcp = TcpStream::connect(listen_tcp(&gw, "console").await)
        .await
        .unwrap();
    let mut greeting = [0u8; 13];
    tokio::time::timeout(2 * SECOND, tcp.read_exact(&mut greeting))
        .await
        .expect("the upstream greeted without waiting for the client")
        .unwrap();
    assert_eq!(&greeting, b"paris/PAR-01\n");
    tcp.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping");
}
