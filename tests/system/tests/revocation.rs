//! Revocation reaches every hub instance: two hubs share the fleet records, the gateway is
//! connected to hub B while an embassy client streams requests through it, and the operator
//! revokes the appliance through hub A's NOC API. Hub B notices within its refresh interval and
//! closes the live connection; from then on both hubs refuse the appliance at the handshake:
//! the running gateway (which may still hold a TLS session ticket from hub B) stays unready,
//! gets no TCP request and no UDP datagram through, and so does the gateway restarted afresh.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use system::{GatewayNode, HUB_HOST, HubNode, Lab, Noc, RequestLoop, poll};

const START: Duration = Duration::from_secs(10);
const LIMIT: Duration = Duration::from_secs(5);
/// How long the revoked gateway is watched trying to get back in.
const REFUSED_FOR: Duration = Duration::from_secs(4);

#[test]
fn revocation_closes_a_live_connection_within_five_seconds() {
    let lab = Lab::new(&["embassy1"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub-a config");
    let mut a = lab.start_hub_with("hub-a", spec).expect("start hub-a");
    // Same fleet records and keys, its own audit log, no NOC API.
    let spec = lab
        .pki_hub_spec("hub-b", 4434, 9110, &noc, None)
        .expect("hub-b config");
    let mut b = lab.start_hub_with("hub-b", spec).expect("start hub-b");
    a.wait_ready(START).expect("hub-a ready");
    b.wait_ready(START).expect("hub-b ready");
    let hub_ns = lab.net.ns(HUB_HOST);

    // The code comes from hub A; the gateway dials hub B first, so B enrols it.
    let code = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("legatura fleet enroll");
    let spec = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[b.addr, a.addr])
        .expect("gateway config");
    let out = lab
        .gatewayd_enroll("embassy1", &spec, &code)
        .expect("run gatewayd enroll");
    assert!(out.success(), "enrollment through hub B failed:\n{out}");
    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    gw.wait_ready(START).expect("gatewayd ready");
    let status = gw.status().expect("gateway /status");
    assert_eq!(
        status["hub_id"], "hub-b",
        "the gateway dials hub B first: {status}"
    );
    assert_eq!(b.appliances().expect("hub-b /status"), ["paris/PAR-01"]);

    let load = RequestLoop::start(&gw.ns, gw.echo);
    assert!(
        poll(START, || (load.ok_so_far() >= 100).then_some(())).is_some(),
        "requests through hub B stalled at {}",
        load.ok_so_far()
    );

    let revoked_at = Instant::now();
    let revoked_wall = SystemTime::now();
    let out = noc.revoke(hub_ns, "PAR-01").expect("legatura fleet revoke");
    assert!(
        out.stdout
            .contains("0 live connection(s) closed at this hub"),
        "hub A holds no connection of PAR-01; B must close it: {out}"
    );
    // Hub B closes the connection it holds (its log says when), and its /status drops it.
    let closed = poll(LIMIT * 2, || {
        b.daemon
            .events("appliance disconnected")
            .first()
            .map(|e| e.at)
    })
    .expect("hub B did not close the revoked appliance's connection within 10 s");
    let revocation = closed
        .duration_since(revoked_wall)
        .unwrap_or(Duration::ZERO);
    let revocation_s = revocation.as_secs_f64();
    let unlisted = poll(LIMIT, || {
        b.appliances()
            .ok()
            .filter(|ids| ids.is_empty())
            .map(|_| revoked_at.elapsed())
    });

    // Then the running gateway keeps trying; neither hub may let it back in.
    let mut violations = Vec::new();
    let ok_then = load.ok_so_far();
    watch_refused(&gw, &a, &b, "the running gateway", &mut violations);
    let ok_after = load.ok_so_far();
    let report = load.finish().expect("request loop");
    let failing_s = report
        .first_failure
        .map(|t| t.saturating_duration_since(revoked_at).as_secs_f64());
    let last_ok_s = report
        .last_ok
        .map(|t| t.saturating_duration_since(revoked_at).as_secs_f64());
    let readmitted = b
        .daemon
        .events("appliance connected")
        .len()
        .saturating_sub(1);

    // A fresh process (no TLS session to resume) must be refused at the handshake too.
    gw.daemon.kill().expect("stop gatewayd");
    gw.restart().expect("restart gatewayd");
    watch_refused(&gw, &a, &b, "a restarted gateway", &mut violations);

    #[allow(clippy::print_stdout)]
    {
        println!(
            "revocation_s={revocation_s:.3} (revoke at hub A → hub B closes the connection); \
             hub B /status empty after {:.3?} s; first failing request sent at +{failing_s:.3?} s, \
             last answered at +{last_ok_s:.3?} s; {} requests answered, {} failed; hub B \
             re-admitted the revoked appliance {readmitted} times",
            unlisted.map(|d| d.as_secs_f64()),
            report.ok,
            report.failures.len()
        );
    }
    assert!(
        revocation <= LIMIT,
        "hub B took {revocation:?} to close the revoked connection"
    );
    assert!(
        failing_s.is_some_and(|s| s <= LIMIT.as_secs_f64()),
        "requests did not start failing within {LIMIT:?}: first failure at {failing_s:?} s"
    );
    assert_eq!(
        ok_after, ok_then,
        "requests got through after the revocation took effect"
    );
    assert!(
        violations.is_empty(),
        "the revoked appliance got back in:\n{}",
        violations.join("\n")
    );

    // Both hubs refused the handshake, and say why.
    for hub in [&a, &b] {
        let refused = hub
            .daemon
            .events("appliance not admitted")
            .iter()
            .filter(|e| e.fields.to_string().to_lowercase().contains("revoked"))
            .count();
        assert!(
            refused > 0,
            "{} does not log refusing the revoked appliance",
            hub.name
        );
    }
    let row = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    assert_eq!(row.state, "revoked", "{row:?}");
    assert_eq!(row.transport, "-", "{row:?}");
}

/// Watches for [`REFUSED_FOR`]: the gateway must stay unready and neither hub may admit the
/// appliance (an `appliance connected` line in its log). Records what went wrong in
/// `violations`.
fn watch_refused(
    gw: &GatewayNode,
    a: &HubNode,
    b: &HubNode,
    who: &str,
    violations: &mut Vec<String>,
) {
    let from = SystemTime::now();
    let watch = Instant::now();
    let (mut ready, mut udp, mut samples) = (0, 0, 0);
    while watch.elapsed() < REFUSED_FOR {
        samples += 1;
        if gw.is_ready() {
            ready += 1;
        }
        // A datagram through the `uecho` listener must not reach the upstream either.
        if udp_answered(&gw.ns, gw.uecho, samples) {
            udp += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if ready > 0 {
        violations.push(format!(
            "{who}: /readyz answered 200 in {ready} of {samples} probes over {REFUSED_FOR:?}"
        ));
    }
    if udp > 0 {
        violations.push(format!(
            "{who}: {udp} of {samples} UDP datagrams came back through the tunnel from the \
             upstream"
        ));
    }
    for hub in [a, b] {
        let admitted = hub
            .daemon
            .events("appliance connected")
            .iter()
            .filter(|e| e.at >= from)
            .count();
        if admitted > 0 {
            violations.push(format!(
                "{who}: {} admitted the revoked appliance {admitted} times in {REFUSED_FOR:?}",
                hub.name
            ));
        }
    }
}

/// Sends one datagram to the gateway's `uecho` listener from a fresh socket inside `ns`;
/// whether the upstream's echo came back within 200 ms.
fn udp_answered(ns: &str, to: SocketAddr, n: u32) -> bool {
    system::in_ns(ns, || {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let payload = format!("after revocation {n}");
        socket.send_to(payload.as_bytes(), to)?;
        let mut buf = [0u8; 256];
        let (len, _) = socket.recv_from(&mut buf)?;
        Ok(buf[..len].starts_with(b"echo: "))
    })
    .unwrap_or(false)
}
