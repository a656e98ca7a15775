//! An embassy behind a satellite-like link: 150 ms each way (300 ms RTT) and 1 % loss each
//! way, made by a relay on a "wan" host between the gateway and the hub. The tunnel must come
//! up, carry requests, and deliver a bulk transfer byte for byte.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use system::{Impairment, Lab, Relay, pattern};

const EACH_WAY: Impairment = Impairment {
    delay: Duration::from_millis(150),
    loss: 0.01,
};
const BLOB: usize = 2 << 20;

#[test]
fn tunnel_works_over_a_300ms_lossy_link() {
    let lab = Lab::new(&["embassy1", "wan"]).expect("topology");
    let mut hub = lab.start_hub("hub-a", 4433, 9100).expect("start hubd");
    hub.wait_ready(Duration::from_secs(10)).expect("hubd ready");
    let wan = SocketAddr::from((lab.net.ip("wan"), 4433));
    let relay = Relay::start(lab.net.ns("wan"), wan, hub.addr, EACH_WAY).expect("start the relay");

    let mut spec = lab
        .gateway_spec("paris", "PAR-01", &[relay.listen()])
        .expect("gateway config");
    // Two round trips plus crypto take ~0.7 s here, and quinn's first retransmission timer is
    // ~1 s (3 × its 333 ms initial RTT estimate): a 1 s handshake timeout would fail every
    // handshake that loses a packet. An operator sets a longer one on such a link.
    spec.handshake_timeout = "3s";
    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    let up = gw
        .wait_ready(Duration::from_secs(30))
        .expect("tunnel up over the lossy link");

    let started = Instant::now();
    for i in 0..20 {
        let line = format!("over the sea {i}");
        assert_eq!(
            gw.echo(&line).expect("request over the lossy link"),
            format!("echo: {line}")
        );
    }
    let requests = started.elapsed();

    let started = Instant::now();
    let got = lab
        .net
        .run_in("embassy1", || download(gw.echo, BLOB, 7))
        .expect("2 MiB download");
    let transfer = started.elapsed();
    assert_eq!(got.len(), BLOB, "wrong length");
    let first_diff = got.iter().zip(pattern(7, BLOB)).position(|(a, b)| *a != b);
    assert_eq!(
        first_diff, None,
        "bytes changed in transit (first difference at this offset)"
    );

    let rtt_ms = gw.status().expect("gateway /status")["rtt_ms"]
        .as_f64()
        .expect("rtt_ms while connected");
    #[allow(clippy::print_stdout)]
    {
        println!(
            "tunnel up in {} ms; 20 requests in {} ms ({} ms each); 2 MiB in {:.1} s ({:.0} KiB/s); rtt_ms {rtt_ms:.0}; relay: {}",
            up.as_millis(),
            requests.as_millis(),
            requests.as_millis() / 20,
            transfer.as_secs_f64(),
            BLOB as f64 / 1024.0 / transfer.as_secs_f64(),
            relay.summary()
        );
    }
    // ~2000 datagrams at 1 %: no drop at all would mean the relay did not impair.
    assert!(
        relay.dropped() > 0,
        "the relay dropped nothing: {}",
        relay.summary()
    );
    assert!(
        (290.0..2000.0).contains(&rtt_ms),
        "the gateway measured {rtt_ms} ms RTT; the relay adds 300 ms"
    );
}

/// Asks the upstream for `len` bytes of `pattern(seed)` through the gateway at `addr`.
fn download(addr: SocketAddr, len: usize, seed: u64) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(format!("blob {len} {seed}\n").as_bytes())?;
    let mut got = Vec::with_capacity(len);
    // The upstream closes after the last byte, which ends read_to_end.
    s.read_to_end(&mut got)?;
    Ok(got)
}
