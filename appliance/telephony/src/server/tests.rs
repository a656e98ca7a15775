//! The bridge's UDP socket under a burst.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::engine::EngineConfig;

fn options(i: usize, from: SocketAddr) -> String {
    format!(
        "OPTIONS sip:bridge@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKburst{i}\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@{from}>;tag=p{i}\r\nTo: <sip:bridge@127.0.0.1>\r\n\
Call-ID: burst-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// 2,000 requests land while the engine is busy (its lock held, as during a long step): the
/// kernel must queue all of them for the bridge. With the default ~208 KiB receive buffer
/// only about 150 fit and the rest are dropped, which under load means retransmissions from
/// every peer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_that_arrives_while_the_engine_is_busy_is_not_dropped() {
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let bridge = Telephony::start(ServerConfig {
        listen,
        advertise: None,
        engine: EngineConfig::new(listen, "test", Vec::new()),
        max_connections: 4,
    })
    .await
    .expect("start");
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let from = probe.local_addr().expect("addr");
    const BURST: usize = 2_000;
    {
        let _busy = lock(&bridge.engine);
        for i in 0..BURST {
            probe
                .send_to(options(i, from).as_bytes(), bridge.udp_addr())
                .expect("send");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while bridge.stats().options < BURST as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        bridge.stats().options,
        BURST as u64,
        "requests lost at the bridge's socket; is net.core.rmem_max below 4 MiB?"
    );
    bridge.shutdown().await;
}
