#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The real daemons confine themselves once started (docs/hardening.md) and keep working: a hub
//! with the fleet PKI and a gateway that enrols with a code file while already confined. Every
//! thread of both processes shows no_new_privs, a seccomp filter and no capabilities in
//! `/proc/<pid>/task/<tid>/status`; the tunnel forwards; the hub still writes its fleet records
//! and audit log when the NOC enrols another appliance afterwards. What the confinement refuses
//! (`/etc/shadow`, `/bin/sh`, a forbidden call) is proven by `hardware/sandbox/tests/enforced.rs`
//! with the same profiles.

use std::time::Duration;

use system::{Daemon, HUB_HOST, Lab, Noc, audit_entries};

const START: Duration = Duration::from_secs(15);

#[test]
fn hub_and_gateway_run_confined_and_the_tunnel_forwards() {
    let lab = Lab::new(&["embassy1"]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    let audit_log = spec.pki.as_ref().expect("[pki]").audit_log.clone();
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let hub_ns = lab.net.ns(HUB_HOST);

    // Enrolled from the code file by a gateway confined before it reads it.
    let code = noc
        .enroll(hub_ns, "paris", "PAR-01")
        .expect("legatura fleet enroll");
    let spec = lab
        .enrolling_gateway_spec("embassy1", &noc.root(), &[hub.addr])
        .expect("gateway config");
    std::fs::write(
        spec.tls.key.with_file_name("enroll.code"),
        format!("{code}\n"),
    )
    .expect("write the code file");
    let mut gw = lab.start_gateway("embassy1", spec).expect("start gatewayd");
    gw.wait_ready(START).expect("gatewayd enrolled and ready");
    for i in 0..3 {
        let line = format!("confined {i}");
        assert_eq!(
            gw.echo(&line).expect("TCP through the tunnel"),
            format!("echo: {line}")
        );
    }

    for (daemon, profile) in [(&hub.daemon, "hubd"), (&gw.daemon, "gatewayd")] {
        assert_confined(daemon);
        let applied = daemon.events("sandbox applied");
        assert_eq!(applied.len(), 1, "{} logs the sandbox once", daemon.label());
        let report = applied[0].fields["report"].as_str().expect("report");
        assert!(
            report.contains("fully enforced")
                && report.contains(&format!("seccomp {profile} allow-list")),
            "{}: {report}",
            daemon.label()
        );
    }

    // The hub's writable paths are the right ones: a second enrollment, made through the NOC
    // API after the hub was confined, lands in the fleet records and the audit log.
    let before = audit_entries(&audit_log).expect("audit log").len();
    noc.enroll(hub_ns, "paris", "PAR-02")
        .expect("enrollment code from the confined hub");
    assert!(audit_entries(&audit_log).expect("audit log").len() > before);
    let rows = noc.ls(hub_ns).expect("fleet ls");
    assert!(
        rows.iter().any(|r| r.appliance == "PAR-02"),
        "fleet records: {rows:?}"
    );

    // Both are still alive: nothing they did since tripped the filter.
    hub.daemon.check_running().expect("hubd still running");
    gw.daemon.check_running().expect("gatewayd still running");
    for daemon in [&hub.daemon, &gw.daemon] {
        assert!(
            !daemon.log().contains(sandbox_line()),
            "{} hit a forbidden call",
            daemon.label()
        );
    }
}

fn sandbox_line() -> &'static str {
    "sandbox: forbidden system call"
}

/// Every thread of `daemon`: no_new_privs, seccomp filter mode, no capability in any set (the
/// bounding set too: the tests run as root, which holds CAP_SETPCAP).
fn assert_confined(daemon: &Daemon) {
    let tasks = format!("/proc/{}/task", daemon.pid());
    let mut threads = 0;
    for task in std::fs::read_dir(&tasks).expect("task list") {
        let path = task.expect("task").path().join("status");
        let Ok(status) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        threads += 1;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{name} in {}", path.display()))
                .to_owned()
        };
        let what = format!("{} ({})", daemon.label(), path.display());
        assert_eq!(field("NoNewPrivs"), "1", "{what}");
        assert_eq!(field("Seccomp"), "2", "{what}");
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
            assert_eq!(field(set), "0000000000000000", "{set} of {what}");
        }
    }
    assert!(threads >= 2, "{} has its runtime's threads", daemon.label());
}
