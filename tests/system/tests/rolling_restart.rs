//! Two hubs restarted one after the other, each with SIGTERM (drain), while an embassy client
//! keeps sending requests: the gateway moves to the other hub on `GoAway`, and not one request
//! fails.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::time::{Duration, Instant};

use system::{GatewayNode, HubNode, Lab, RequestLoop, poll};

const START: Duration = Duration::from_secs(10);
/// hubd's `drain_grace` in the test configs is 5 s; a drain must finish well before it.
const DRAIN_LIMIT: Duration = Duration::from_secs(8);
/// Requests answered before the first restart, and after each hub is back.
const PHASE: u64 = 200;

#[test]
fn rolling_restart_of_two_hubs_loses_no_request() {
    let lab = Lab::new(&["embassy1"]).expect("topology");
    let mut a = lab.start_hub("hub-a", 4433, 9100).expect("start hub-a");
    let mut b = lab.start_hub("hub-b", 4434, 9110).expect("start hub-b");
    a.wait_ready(START).expect("hub-a ready");
    b.wait_ready(START).expect("hub-b ready");
    let spec = lab
        .gateway_spec("paris", "PAR-01", &[a.addr, b.addr])
        .expect("gateway config");
    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    gw.wait_ready(START).expect("gatewayd ready");
    assert_eq!(
        connected_hub(&gw),
        "hub-a",
        "the gateway dials its hubs in order"
    );

    let load = RequestLoop::start(&gw.ns, gw.echo);
    let started = Instant::now();
    wait_for_requests(&load, PHASE);
    let drained_a = restart_gracefully(&mut a, &gw, "hub-b", &load);
    let drained_b = restart_gracefully(&mut b, &gw, "hub-a", &load);
    let report = load.finish().expect("request loop");
    let took = started.elapsed();

    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} requests in {:.1} s, {} failed, slowest {} ms; hub-a drained in {} ms ({} requests \
             meanwhile), hub-b in {} ms ({} requests meanwhile)",
            report.ok,
            took.as_secs_f64(),
            report.failures.len(),
            report.slowest.as_millis(),
            drained_a.0.as_millis(),
            drained_a.1,
            drained_b.0.as_millis(),
            drained_b.1
        );
    }
    assert!(
        report.failures.is_empty(),
        "requests failed during the rolling restart:\n{}",
        report.failures.join("\n")
    );
    assert!(
        report.ok >= 300,
        "only {} requests succeeded; the load was too thin to prove anything",
        report.ok
    );
}

/// SIGTERM `hub`, wait for the drained hub to exit 0, check the gateway moved to `other`,
/// start the hub again, wait until it is ready and has seen more requests. Returns how long the
/// drain took and how many requests succeeded meanwhile.
fn restart_gracefully(
    hub: &mut HubNode,
    gw: &GatewayNode,
    other: &str,
    load: &RequestLoop,
) -> (Duration, u64) {
    let before = load.ok_so_far();
    hub.daemon.terminate().expect("SIGTERM");
    let signalled = Instant::now();
    let status = hub
        .daemon
        .wait_exit(DRAIN_LIMIT)
        .expect("a draining hub exits once its gateways have moved");
    let drained = signalled.elapsed();
    let during = load.ok_so_far() - before;
    assert!(
        status.success(),
        "{} exited with {status} after SIGTERM",
        hub.name
    );
    assert_eq!(
        connected_hub(gw),
        other,
        "the gateway should have moved to the other hub"
    );
    hub.restart().expect("restart hub");
    hub.wait_ready(START).expect("restarted hub ready");
    wait_for_requests(load, PHASE);
    (drained, during)
}

/// Waits until the loop has answered `more` further requests.
fn wait_for_requests(load: &RequestLoop, more: u64) {
    let target = load.ok_so_far() + more;
    assert!(
        poll(Duration::from_secs(10), || (load.ok_so_far() >= target)
            .then_some(()))
        .is_some(),
        "requests stalled at {} (waiting for {target})",
        load.ok_so_far()
    );
}

/// The `hub_id` the gateway's tunnel is connected to, per its `/status`.
fn connected_hub(gw: &GatewayNode) -> String {
    let status = gw.status().expect("gateway /status");
    status["hub_id"].as_str().unwrap_or("none").to_owned()
}
