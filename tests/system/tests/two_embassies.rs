//! Two embassies, one hub: each embassy's clients reach the hub's services through their own
//! gateway, and the hub lists both appliances under their certificate identities.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::net::UdpSocket;
use std::time::Duration;

use system::Lab;

const START: Duration = Duration::from_secs(10);

#[test]
fn two_embassies_reach_the_hub_service() {
    let lab = Lab::new(&["embassy1", "embassy2"]).expect("topology");
    let mut hub = lab.start_hub("hub-a", 4433, 9100).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let embassies = [
        ("embassy1", "paris", "PAR-01"),
        ("embassy2", "berlin", "BER-01"),
    ];
    let mut gateways = Vec::new();
    for (host, mission, appliance) in embassies {
        let spec = lab
            .gateway_spec(mission, appliance, &[hub.addr])
            .expect("gateway config");
        gateways.push(lab.start_gateway(host, spec).expect("start gatewayd"));
    }
    for gw in &mut gateways {
        gw.wait_ready(START).expect("gatewayd ready");
    }

    for (gw, (_, mission, _)) in gateways.iter().zip(embassies) {
        for i in 0..5 {
            let line = format!("{mission} {i}");
            assert_eq!(
                gw.echo(&line).expect("TCP request through the tunnel"),
                format!("echo: {line}")
            );
        }
        let reply = lab
            .net
            .run_in(&gw.host, || udp_round_trip(gw.uecho, mission.as_bytes()))
            .expect("UDP datagram through the tunnel");
        assert_eq!(reply, format!("echo: {mission}").into_bytes());
    }

    assert_eq!(
        hub.appliances().expect("hub /status"),
        ["berlin/BER-01", "paris/PAR-01"]
    );
    // Each tunnel really comes from its own embassy host across the bridge.
    let status = system::status(lab.net.ns(system::HUB_HOST), hub.spec.admin).expect("hub /status");
    for row in status["appliances"].as_array().expect("appliances") {
        let host = if row["mission"] == "paris" {
            "embassy1"
        } else {
            "embassy2"
        };
        let remote = row["remote"].as_str().expect("remote");
        assert!(
            remote.starts_with(&format!("{}:", lab.net.ip(host))),
            "{row}"
        );
    }
}

/// Sends `payload` to `to` until an answer comes (UDP may lose the first while the hub opens
/// the flow), returning the answer.
fn udp_round_trip(to: std::net::SocketAddr, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        socket.send_to(payload, to)?;
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            return Ok(buf[..n].to_vec());
        }
    }
    anyhow::bail!("no UDP answer from {to} after 10 tries")
}
