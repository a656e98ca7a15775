#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

#[test]
fn a_waiting_appliance_says_so_with_no_identity_and_the_tunnel_down() {
    let report = Report::new(Enrollment::WaitingForCode, None);
    let json = report.json(None);
    assert_eq!(json["enrollment"], "waiting_for_code");
    assert_eq!(json["tunnel"], "down");
    assert!(json["appliance"].is_null() && json["mission"].is_null());
    assert!(json["hub"].is_null() && json["retry_in_s"].is_null());
}

#[test]
fn a_retry_names_the_error_and_when_it_is_tried_again() {
    let report = Report::new(Enrollment::Enrolling, None);
    report.error("cannot reach the hub at 10.0.2.2:4433: no answer within 5 s");
    report.enrollment(Enrollment::Retrying, Some(Duration::from_secs(8)));
    let json = report.json(None);
    assert_eq!(json["enrollment"], "retrying");
    let retry = json["retry_in_s"].as_u64().unwrap();
    assert!((7..=8).contains(&retry), "{json}");
    assert_eq!(
        json["last_error"]["message"],
        "cannot reach the hub at 10.0.2.2:4433: no answer within 5 s"
    );
    assert!(json["last_error"]["at_unix"].as_u64().unwrap() > 1_600_000_000);

    report.enrolled(Some(ApplianceId::new("paris", "PAR-01").unwrap()));
    let json = report.json(None);
    assert_eq!(json["enrollment"], "enrolled");
    assert_eq!(json["mission"], "paris");
    assert_eq!(json["appliance"], "PAR-01");
    assert!(json["retry_in_s"].is_null());
}

#[test]
fn long_errors_are_cut_on_a_character_boundary() {
    let report = Report::new(Enrollment::Enrolled, None);
    report.error(&"ă".repeat(1000));
    let json = report.json(None);
    let message = json["last_error"]["message"].as_str().unwrap();
    assert!(message.len() <= MAX_ERROR, "{}", message.len());
    assert!(message.ends_with('…'));
}

#[test]
fn the_tunnels_warnings_become_the_last_error_and_others_do_not() {
    let report = Report::new(Enrollment::Enrolled, None);
    report.error("certificate renewal failed: the hub did not answer");
    let subscriber = tracing_subscriber::registry().with(TunnelWarnings);
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(target: "gatewayd", "not the tunnel");
        tracing::info!(target: "tunnel::gateway", "tunnel up");
    });
    assert_eq!(
        report.json(None)["last_error"]["message"],
        "certificate renewal failed: the hub did not answer",
        "an info line or another crate's warning was taken for the tunnel's"
    );
    // Later than the renewal failure by the clock the report compares with.
    std::thread::sleep(Duration::from_millis(5));
    let subscriber = tracing_subscriber::registry().with(TunnelWarnings);
    tracing::subscriber::with_default(subscriber, || {
        let hub = "10.0.2.2:4433";
        tracing::warn!(target: "tunnel::gateway::link", %hub, error = "certificate revoked", "cannot open tunnel");
    });
    assert_eq!(
        report.json(None)["last_error"]["message"],
        "cannot open tunnel: hub=10.0.2.2:4433, error=certificate revoked"
    );
}
