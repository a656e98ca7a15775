//! A hub that crashes and comes back: gateways must not wait for their idle timeout to notice.
//! The restarted hub keeps its stateless-reset key in its state directory, so the first packet
//! a gateway sends on its stale connection is answered with a reset and it redials at once.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::time::{Duration, Instant};

use system::{GatewayNode, Lab, poll};

const START: Duration = Duration::from_secs(10);
/// What an operator may expect: gateways back within two seconds of the hub process starting.
const BOUND: Duration = Duration::from_secs(2);

#[test]
fn gateways_return_within_two_seconds_of_a_hub_restart() {
    let lab = Lab::new(&["embassy1", "embassy2"]).expect("topology");
    let mut hub = lab.start_hub("hub-a", 4433, 9100).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let mut gateways: Vec<GatewayNode> = [
        ("embassy1", "paris", "PAR-01"),
        ("embassy2", "berlin", "BER-01"),
    ]
    .into_iter()
    .map(|(host, mission, appliance)| {
        let spec = lab
            .gateway_spec(mission, appliance, &[hub.addr])
            .expect("gateway config");
        lab.start_gateway(host, spec).expect("start gatewayd")
    })
    .collect();
    for gw in &mut gateways {
        gw.wait_ready(START).expect("gatewayd ready");
    }
    assert!(
        poll(START, || (hub.appliances().ok()?.len() == 2).then_some(())).is_some(),
        "hub never listed both gateways"
    );

    // A crash: no drain, no GoAway. The gateways still believe their connections are up.
    hub.daemon.kill().expect("kill -9 hubd");
    let spawned = Instant::now();
    hub.restart().expect("start hubd again");

    // Ready means connected to the *new* process: it lists both appliances (a gateway's own
    // /readyz stays 200 until it notices the old connection is dead).
    let back = poll(START, || {
        let listed = hub.appliances().ok()?.len() == 2;
        (listed && gateways.iter().all(GatewayNode::is_ready)).then(|| spawned.elapsed())
    });
    let back = back
        .unwrap_or_else(|| panic!("gateways did not return to the restarted hub within {START:?}"));
    #[allow(clippy::print_stdout)]
    {
        println!(
            "gateways back {} ms after the new hubd was spawned (bound {} ms)",
            back.as_millis(),
            BOUND.as_millis()
        );
    }
    assert!(
        back <= BOUND,
        "gateways took {back:?} to return after the hub restarted; expected at most {BOUND:?}"
    );
    for gw in &gateways {
        assert_eq!(
            gw.echo("after restart")
                .expect("request through the new tunnel"),
            "echo: after restart"
        );
    }
    // The gateways learnt from a stateless reset, not from their idle timeout.
    for gw in &gateways {
        let log = gw.daemon.log();
        assert!(
            log.contains("reset"),
            "{} did not log a stateless reset:\n{log}",
            gw.daemon.label()
        );
    }
}
