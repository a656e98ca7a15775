#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use super::*;
use crate::gatewayd::LastError;

const NO_CODE: &str = "not enrolled and no enrollment code: this box was given no boot \
    credential legatura.enroll-code. Set the SMBIOS OEM string \
    io.systemd.credential:legatura.enroll-code=<the code from the NOC> and restart the box \
    (docs/install.md); waiting";

fn said(state: State, message: &str) -> Provision {
    Provision::Said(Said {
        state,
        message: message.to_owned(),
        at_unix: Some(1_795_850_875),
    })
}

fn status(enrollment: &str, tunnel: &str) -> Status {
    Status {
        tunnel: tunnel.to_owned(),
        hub: None,
        hub_id: None,
        up_for_s: None,
        enrollment: Some(enrollment.to_owned()),
        retry_in_s: None,
        mission: None,
        appliance: None,
        last_error: None,
    }
}

fn up() -> Status {
    Status {
        hub: Some("10.0.2.2:4433".into()),
        hub_id: Some("hub-a".into()),
        up_for_s: Some(125),
        mission: Some("paris".into()),
        appliance: Some("PAR-01".into()),
        ..status("enrolled", "up")
    }
}

fn not_running() -> Gatewayd {
    Gatewayd::NotRunning(
        "its admin endpoint 127.0.0.1:9101 does not answer: Connection refused".into(),
    )
}

#[test]
fn a_working_box_shows_its_identity_and_the_tunnel_up() {
    let page = Snapshot {
        provision: said(State::Enrolled, "enrolled; starting the tunnel"),
        gatewayd: Gatewayd::Answered(up()),
    };
    assert_eq!(page.verdict().level, Level::Working);
    let html = page.html();
    for what in [
        "<h1>Legătura appliance paris/PAR-01</h1>",
        "OK: The tunnel to the hub is up.",
        "<tr><th>Appliance</th><td>PAR-01 of mission paris</td></tr>",
        "<tr><th>Tunnel to the hub</th><td>up, to the hub hub-a at 10.0.2.2:4433, for 2 min 5 s</td></tr>",
        "<tr><th>gatewayd</th><td>running</td></tr>",
    ] {
        assert!(
            html.contains(what),
            "the page does not say {what:?}:\n{html}"
        );
    }
    let json = page.json();
    assert_eq!(json["verdict"], "working");
    assert_eq!(json["appliance"], "PAR-01");
    assert_eq!(json["mission"], "paris");
    assert_eq!(json["tunnel"]["state"], "up");
    assert_eq!(json["tunnel"]["hub_id"], "hub-a");
    assert_eq!(json["provision"]["state"], "enrolled");
}

#[test]
fn a_missing_code_is_said_with_the_credential_to_set_escaped() {
    let page = Snapshot {
        provision: said(State::NoCode, NO_CODE),
        gatewayd: Gatewayd::Answered(status("waiting_for_code", "down")),
    };
    let v = page.verdict();
    assert_eq!(v.level, Level::Problem);
    assert!(v.summary.contains("no enrollment code"), "{v:?}");
    assert_eq!(v.advice, NO_CODE);
    let html = page.html();
    assert!(
        html.contains("io.systemd.credential:legatura.enroll-code=&lt;the code from the NOC&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<the code"),
        "unescaped text in the page:\n{html}"
    );
    assert!(
        html.contains("<h1>Legătura appliance (not enrolled)</h1>"),
        "{html}"
    );
    let json = page.json();
    assert_eq!(json["provision"]["state"], "no-code");
    assert_eq!(json["enrollment"], "waiting_for_code");
    assert!(json["appliance"].is_null());
}

#[test]
fn an_unreachable_hub_and_a_refused_code_say_what_gatewayd_said() {
    let retrying = Status {
        retry_in_s: Some(8),
        last_error: Some(LastError {
            message: "cannot reach the hub at 10.0.2.2:4433: no answer within 5 s".into(),
            ago_s: Some(3),
        }),
        ..status("retrying", "down")
    };
    let page = Snapshot {
        provision: said(
            State::Enrolling,
            "enrolling with the code from the boot credentials",
        ),
        gatewayd: Gatewayd::Answered(retrying),
    };
    let v = page.verdict();
    assert_eq!(
        v.summary,
        "Cannot reach the hub to enrol; trying again in 8 s."
    );
    assert!(page.html().contains(
        "<tr><th>Last error</th><td>cannot reach the hub at 10.0.2.2:4433: no answer within 5 s (3 s ago)</td></tr>"
    ));

    let refused = Status {
        last_error: Some(LastError {
            message: "hub refused: the code is not known".into(),
            ago_s: Some(1),
        }),
        ..status("refused", "down")
    };
    let page = Snapshot {
        provision: said(
            State::Enrolling,
            "enrolling with the code from the boot credentials",
        ),
        gatewayd: Gatewayd::Answered(refused),
    };
    let v = page.verdict();
    assert_eq!(v.level, Level::Problem);
    assert!(v.summary.contains("refused"), "{v:?}");
    assert!(v.advice.contains("new code"), "{v:?}");
    assert_eq!(
        page.json()["last_error"]["message"],
        "hub refused: the code is not known"
    );
}

#[test]
fn a_full_state_partition_is_said_while_gatewayd_is_held_back() {
    let full = "FAILED: the state partition legatura-state (/var) is full: 12 KiB free of 243 MiB; \
                enrolling needs 1024 KiB, so the enrollment code is kept unused. Call the NOC \
                (docs/install.md); retrying every 10 s";
    let page = Snapshot {
        provision: said(State::StateFull, full),
        gatewayd: not_running(),
    };
    let v = page.verdict();
    assert_eq!((v.level, v.summary.as_str()), (Level::Problem, full));
    assert!(v.advice.contains("every 10 s"), "{v:?}");
    let html = page.html();
    assert!(
        html.contains("gatewayd is not running: its admin endpoint"),
        "{html}"
    );
    let json = page.json();
    assert_eq!(json["gatewayd"]["running"], false);
    assert_eq!(json["tunnel"]["state"], "unknown");
}

#[test]
fn admin_down_on_an_enrolled_box_says_gatewayd_is_not_running() {
    let page = Snapshot {
        provision: said(State::Enrolled, "enrolled; starting the tunnel"),
        gatewayd: not_running(),
    };
    let v = page.verdict();
    assert_eq!(v.level, Level::Problem);
    assert_eq!(v.summary, "gatewayd is not running.");
    assert!(
        page.html()
            .contains("<tr><th>Provisioning said</th><td>enrolled; starting the tunnel</td></tr>")
    );
}

#[test]
fn missing_or_malformed_sources_are_shown_not_fatal() {
    let page = Snapshot {
        provision: Provision::Missing,
        gatewayd: not_running(),
    };
    assert_eq!(page.verdict().level, Level::Waiting);
    assert!(page.html().contains("nothing yet since this boot"));
    assert_eq!(page.json()["provision"]["state"], "missing");

    let page = Snapshot {
        provision: Provision::Unreadable(
            "/run/legatura/provision.json: not a provisioning status (EOF while parsing)".into(),
        ),
        gatewayd: Gatewayd::Unreadable(
            "its admin endpoint 127.0.0.1:9101: /status answered 500".into(),
        ),
    };
    let v = page.verdict();
    assert_eq!(v.level, Level::Problem);
    let html = page.html();
    assert!(
        html.contains("its status file is unreadable: /run/legatura/provision.json"),
        "{html}"
    );
    assert!(
        html.contains("its status is unreadable: its admin endpoint"),
        "{html}"
    );
    let json = page.json();
    assert_eq!(json["provision"]["state"], "unreadable");
    assert!(json["gatewayd"]["error"].as_str().unwrap().contains("500"));
}

#[test]
fn a_tunnel_down_after_enrollment_points_at_the_network_and_the_last_error() {
    let down = Status {
        mission: Some("paris".into()),
        appliance: Some("PAR-01".into()),
        last_error: Some(LastError {
            message: "cannot open tunnel: hub=10.0.2.2:4433, error=timed out".into(),
            ago_s: Some(4000),
        }),
        ..status("enrolled", "down")
    };
    let page = Snapshot {
        provision: said(State::Enrolled, "enrolled; starting the tunnel"),
        gatewayd: Gatewayd::Answered(down),
    };
    let v = page.verdict();
    assert_eq!(v.level, Level::Problem);
    assert!(v.summary.contains("tunnel to the hub is down"), "{v:?}");
    assert!(page.html().contains("error=timed out (1 h 6 min ago)"));
}

#[test]
fn hostile_text_is_escaped_and_control_characters_dropped() {
    let page = Snapshot {
        provision: said(
            State::BadCredential,
            "FAILED: credential legatura.hub is not host:port[,host:port...]: <script>alert(1)</script>\"'&\u{1b}[2J",
        ),
        gatewayd: not_running(),
    };
    let html = page.html();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp; [2J"),
        "{html}"
    );
}

#[test]
fn durations_read_out_loud() {
    assert_eq!(duration(0), "0 s");
    assert_eq!(duration(59), "59 s");
    assert_eq!(duration(60), "1 min 0 s");
    assert_eq!(duration(3661), "1 h 1 min");
    assert_eq!(duration(90_000), "1 d 1 h");
}
