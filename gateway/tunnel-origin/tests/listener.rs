//! An axum app behind an `OriginListener` on 127.0.0.1, reached by plain TCP clients that write
//! the header the hub would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tunnel_origin::{ApplianceId, BindError, Origin, OriginCounters, OriginListener, encode};

const REQUEST: &[u8] = b"GET /who HTTP/1.1\r\nHost: console\r\nConnection: close\r\n\r\n";

async fn who(ConnectInfo(origin): ConnectInfo<Origin>) -> String {
    format!("{} via {}", origin.appliance, origin.peer)
}

/// Serves `who` behind an origin listener; returns its address and counters.
async fn serve(header_timeout: Duration) -> (SocketAddr, OriginCounters) {
    let listener = OriginListener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("loopback binds")
        .header_timeout(header_timeout);
    let (addr, counters) = (listener.local_addr(), listener.counters());
    let app = Router::new().route("/who", get(who));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<Origin>(),
        )
        .await
    });
    (addr, counters)
}

fn origin(mission: &str, appliance: &str, peer: &str) -> Origin {
    Origin {
        appliance: ApplianceId::new(mission, appliance).unwrap(),
        peer: peer.parse().unwrap(),
    }
}

/// Sends `prefix` then the request and returns the response body ("" if the server closed).
async fn ask(addr: SocketAddr, prefix: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(REQUEST);
    tcp.write_all(&bytes).await.unwrap();
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response).await;
    let response = String::from_utf8(response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn handlers_see_the_origin_the_header_names() {
    let (addr, counters) = serve(Duration::from_secs(5)).await;
    let paris = origin("ro-emb-paris", "PAR-01", "192.0.2.7:51000");
    let berlin = origin("ro-emb-berlin", "BER-02", "[2001:db8::9]:40000");
    assert_eq!(
        ask(addr, &encode(&paris, addr)).await,
        "ro-emb-paris/PAR-01 via 192.0.2.7:51000"
    );
    assert_eq!(
        ask(addr, &encode(&berlin, addr)).await,
        "ro-emb-berlin/BER-02 via [2001:db8::9]:40000"
    );
    assert_eq!(counters.accepted(), 2);
}

#[tokio::test]
async fn connections_without_a_valid_header_are_closed_and_counted() {
    let (addr, counters) = serve(Duration::from_secs(5)).await;
    assert_eq!(ask(addr, b"").await, "", "plain HTTP got an answer");
    assert_eq!(
        ask(addr, b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 8443\r\n").await,
        ""
    );
    assert_eq!(counters.refused(), 2);
    assert_eq!(counters.accepted(), 0);
}

#[tokio::test]
async fn a_slow_client_does_not_hold_up_the_next_one_and_is_cut_off() {
    let (addr, counters) = serve(Duration::from_millis(500)).await;
    let header = encode(&origin("paris", "PAR-01", "192.0.2.7:1"), addr);
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(&header[..header.len() / 2]).await.unwrap();

    let started = tokio::time::Instant::now();
    let answer = ask(
        addr,
        &encode(&origin("paris", "PAR-02", "192.0.2.8:2"), addr),
    )
    .await;
    assert_eq!(answer, "paris/PAR-02 via 192.0.2.8:2");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the second client waited {:?}",
        started.elapsed()
    );

    // The slow client is closed once its time is up, without an answer.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the half-header connection was never closed");
    assert!(rest.is_empty());
    assert_eq!(counters.timed_out(), 1);
}

#[tokio::test]
async fn only_loopback_addresses_are_accepted() {
    for addr in ["0.0.0.0:0", "192.0.2.1:8443", "[::]:0"] {
        let err = OriginListener::bind(addr.parse().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, BindError::NotLoopback(_)), "{addr}: {err:?}");
    }
    // A socket bound elsewhere cannot be slipped in through the other constructors either.
    let wide = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    assert!(matches!(
        OriginListener::from_std(wide),
        Err(BindError::NotLoopback(_))
    ));
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(OriginListener::from_std(local).is_ok());
}
