//! The appliance image boots to a working tunnel: a hub runs on the host (in the test's
//! namespace), the NOC makes a one-time code, and the image built by `cargo xtask image` is
//! powered on under qemu/OVMF with the hub's address, its CA and the code as boot credentials.
//! The test passes only when the hub itself lists the appliance as connected. A copy whose root
//! partition has one byte flipped must stop at dm-verity and never bring a tunnel up.
//!
//! The bad inputs embassy IT may meet are each one boot, judged by what the serial console (the
//! one place they look) says and by what the hub sees: a wrong code, no code at all, a hub that
//! cannot be reached when the box starts (it must come up without a reboot once the hub
//! answers), a LAN cable out at power-on (the box must say it has no network, not blame the
//! hub, and come up once the cable is in), a full state partition (the one-time code must
//! not be spent), and an enrolled box whose state partition filled up later (its tunnel comes
//! up, and the console and page warn that its certificate cannot be renewed).
//!
//! In every case the box's LAN status page (`legatura-lan-status`, port 8080, forwarded by qemu
//! to the hub's namespace) must say the same as the console, and never show the code; a
//! tampered box must not serve it at all. No case boots only for the page.
//!
//! Every case needs root, the Debian archive for the first build, and a few minutes: the guest
//! is emulated (TCG) unless `LEGATURA_QEMU_ACCEL=kvm`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use system::{
    Credential, HUB_HOST, HubNode, Lab, Noc, Vm, appliance_image, line_with, machine_lock,
};

const START: Duration = Duration::from_secs(10);
/// Power-on to tunnel: ~60–120 s under TCG on an idle 2-core machine; more under load.
const BOOT: Duration = Duration::from_secs(600);
/// The hub as the guest sees it: qemu's user network maps 10.0.2.2 to the loopback of the
/// namespace qemu runs in, the hub's.
const HUB_FROM_GUEST: &str = "10.0.2.2:4433";
/// Longer than the unit's watchdog (30 s) and restart delay (10 s) together: a gatewayd that
/// crash-looped, or was killed for not feeding the watchdog, would start again within it.
const QUIET: Duration = Duration::from_secs(45);
/// What provisioning prints each time gatewayd's unit starts.
const PROVISIONED: &str = "hub 10.0.2.2:4433 from the boot credentials";
/// How long the status page may take to show what the console already says: it asks its
/// sources at most once a second and gatewayd may be between two states.
const PAGE: Duration = Duration::from_secs(60);
/// From the moment the hub, or the network, comes back to the box's tunnel: its retries have
/// backed off to at most 30 s, and DHCP comes first.
const AGAIN: Duration = Duration::from_secs(120);

/// The enrollment code among `credentials`.
fn code_of(credentials: &[Credential]) -> String {
    credentials
        .iter()
        .find(|c| c.name == "legatura.enroll-code")
        .map(|c| c.value.clone())
        .expect("an enrollment code among the credentials")
}

/// The status page's HTML, which must not show the enrollment `code` the box was given.
fn page_html(vm: &Vm, code: Option<&str>) -> String {
    let (status, html) = vm.status_page("/").expect("the status page answers");
    assert_eq!(status, 200, "the status page answered {status}: {html}");
    if let Some(code) = code {
        assert!(
            !html.contains(code),
            "the status page shows the enrollment code:\n{html}"
        );
    }
    html
}

/// Waits at most `within` for `hub` to list `appliance` as connected, and returns the guest's
/// uptime then. Fails at once if qemu exits: the box must never reboot (qemu runs with
/// `-no-reboot`). `since` names what `within` counts from, for the failure.
fn wait_for_tunnel(
    vm: &mut Vm,
    hub: &HubNode,
    appliance: &str,
    within: Duration,
    since: &str,
) -> Duration {
    let deadline = vm.uptime() + within;
    while vm.uptime() < deadline {
        vm.check_running()
            .expect("the appliance is running, never rebooted");
        if hub
            .appliances()
            .is_ok_and(|a| a.iter().any(|x| x == appliance))
        {
            return vm.uptime();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    hub.daemon.print_logs();
    panic!(
        "no tunnel from {appliance} at the hub within {within:?} {since}; console:\n{}",
        vm.tail(60)
    );
}

/// A copy of `disk` at `to` (sparse, as the image is), for a case that changes the disk.
fn copy_disk(disk: &Path, to: &Path) -> PathBuf {
    let copied = Command::new("cp")
        .args(["--sparse=always"])
        .arg(disk)
        .arg(to)
        .status()
        .expect("cp");
    assert!(copied.success(), "copying the image failed");
    to.to_owned()
}

/// A hub with the fleet PKI, and the boot credentials that enrol `paris/<appliance>` with it.
fn hub_and_credentials(lab: &Lab, appliance: &str) -> (system::HubNode, Noc, Vec<Credential>) {
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    let spec = lab
        .pki_hub_spec("hub-a", 4433, 9100, &noc, Some(9443))
        .expect("hub config");
    let mut hub = lab.start_hub_with("hub-a", spec).expect("start hubd");
    hub.wait_ready(START).expect("hubd ready");
    let code = noc
        .enroll(lab.net.ns(HUB_HOST), "paris", appliance)
        .expect("legatura fleet enroll");
    // Multi-line values travel in base64, as systemd's binary credentials.
    let ca = Command::new("base64")
        .arg("-w0")
        .arg(noc.root())
        .output()
        .expect("base64");
    assert!(ca.status.success(), "base64 of the root CA failed");
    let credentials = vec![
        Credential::new("legatura.hub", HUB_FROM_GUEST),
        Credential::binary("legatura.hub-ca", String::from_utf8(ca.stdout).unwrap()),
        Credential::new("legatura.enroll-code", code),
    ];
    (hub, noc, credentials)
}

#[test]
fn the_appliance_enrols_and_its_tunnel_comes_up() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, noc, credentials) = hub_and_credentials(&lab, "PAR-01");
    let hub_ns = lab.net.ns(HUB_HOST);

    let mut vm =
        Vm::boot(hub_ns, &disk, lab.net.dir(), "appliance", &credentials).expect("start qemu");
    let tunnel_up = wait_for_tunnel(&mut vm, &hub, "paris/PAR-01", BOOT, "of power-on");
    let console = vm.console();
    println!("power-on to tunnel up at the hub: {tunnel_up:.1?}");

    // The console tells embassy IT what happened, in order.
    for line in [
        "hub 10.0.2.2:4433 from the boot credentials",
        "enrolling with the code from the boot credentials",
        "enrolled",
    ] {
        assert!(
            console.contains(line),
            "the console does not say {line:?}:\n{console}"
        );
    }
    let row = noc.row(hub_ns, "paris", "PAR-01").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    assert_eq!(row.transport, "quic", "{row:?}");

    // Embassy IT's view from the LAN: the appliance's identity and its tunnel up.
    let code = code_of(&credentials);
    let json = vm
        .wait_status_page(PAGE, "the tunnel up as paris/PAR-01", |j| {
            j["tunnel"]["state"] == "up" && j["appliance"] == "PAR-01"
        })
        .expect("the status page shows the working appliance");
    assert_eq!(json["verdict"], "working", "{json}");
    assert_eq!(json["mission"], "paris", "{json}");
    assert_eq!(json["enrollment"], "enrolled", "{json}");
    assert!(
        !json.to_string().contains(&code),
        "the page's JSON shows the code: {json}"
    );
    let html = page_html(&vm, Some(&code));
    for what in [
        "Legătura appliance paris/PAR-01",
        "OK: The tunnel to the hub is up.",
        "<tr><th>Tunnel to the hub</th><td>up, to the hub",
    ] {
        assert!(
            html.contains(what),
            "the status page does not say {what:?}:\n{html}"
        );
    }
    println!("status page: {}", json["summary"]);

    if let Some(path) = std::env::var_os("LEGATURA_IMAGE_FIGURES") {
        std::fs::write(
            path,
            format!(
                "boot_to_tunnel_s={:.1}\nkvm={}\n",
                tunnel_up.as_secs_f64(),
                vm.kvm
            ),
        )
        .expect("write the figures for the benchmark");
    }
    drop(vm);
}

#[test]
fn a_tampered_root_is_refused_and_never_connects() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, _noc, credentials) = hub_and_credentials(&lab, "PAR-02");

    // One byte flipped in the first data block of slot A's root file system, in a copy.
    let tampered = lab.net.dir().join("tampered.raw");
    let copied = Command::new("cp")
        .args(["--sparse=always"])
        .arg(&disk)
        .arg(&tampered)
        .status()
        .expect("cp");
    assert!(copied.success(), "copying the image failed");
    let offset = partition_start(&tampered, "root-a") + 1088;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&tampered)
        .expect("open the copy");
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut byte).unwrap();
    byte[0] ^= 0x01;
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&byte).unwrap();
    drop(file);

    let mut vm = Vm::boot(
        lab.net.ns(HUB_HOST),
        &tampered,
        lab.net.dir(),
        "tampered",
        &credentials,
    )
    .expect("start qemu");
    vm.wait_console(BOOT, "dm-verity corruption report", |c| {
        c.contains("verity") && c.contains("is corrupted")
    })
    .expect("dm-verity reports the corrupted block");
    // Give a root that was wrongly mounted time to show itself.
    std::thread::sleep(Duration::from_secs(20));
    let console = vm.console();
    assert!(
        !console.contains("legatura:") && !console.contains("Reached target multi-user"),
        "the appliance booted into the tampered root:\n{console}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "a tampered appliance has a tunnel"
    );
    let page = vm.status_page("/");
    assert!(
        page.is_err(),
        "a tampered appliance serves its status page: {page:?}"
    );
    drop(vm);
}

#[test]
fn a_wrong_enrollment_code_is_said_on_the_console_once_and_not_retried() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, _noc, mut credentials) = hub_and_credentials(&lab, "PAR-03");
    credentials.retain(|c| c.name != "legatura.enroll-code");
    credentials.push(Credential::new(
        "legatura.enroll-code",
        "this-is-not-a-code-the-noc-made",
    ));
    let mut vm = Vm::boot(
        lab.net.ns(HUB_HOST),
        &disk,
        lab.net.dir(),
        "wrong-code",
        &credentials,
    )
    .expect("start qemu");
    // The refusal and its reason are on the console. The code is not tried again: each wrong
    // attempt counts at the hub, and the same code would only be refused again.
    let refused = vm
        .wait_console(BOOT, "the refused enrollment", |c| {
            c.contains("enrollment failed")
        })
        .expect("gatewayd says the enrollment failed");
    println!("power-on to the refusal on the console: {refused:.1?}");
    std::thread::sleep(QUIET);
    vm.check_running().expect("the appliance is running");
    let console = vm.console();
    let failure = line_with(&console, "enrollment failed");
    assert!(
        failure.contains("enrollment code has") && failure.contains("waiting for a new code"),
        "the console says what is wrong with the code and that a new one is needed: {failure}"
    );
    println!("console: {failure}");
    assert_eq!(
        console.matches("enrollment failed").count(),
        1,
        "a refused code was tried again, or gatewayd restarted:\n{console}"
    );
    assert_eq!(
        console.matches(PROVISIONED).count(),
        1,
        "gatewayd's unit restarted after the refusal:\n{console}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "an appliance with a wrong code has a tunnel"
    );
    let json = vm
        .wait_status_page(PAGE, "the refused code", |j| j["enrollment"] == "refused")
        .expect("the status page says the code was refused");
    let reason = json["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("enrollment code has"),
        "the status page does not give the reason: {json}"
    );
    assert_eq!(json["verdict"], "problem", "{json}");
    let html = page_html(&vm, Some("this-is-not-a-code-the-noc-made"));
    assert!(
        html.contains("The enrollment code was refused") && html.contains("new code"),
        "{html}"
    );
    println!("status page: {} ({reason})", json["summary"]);
    drop(vm);
}

#[test]
fn a_missing_enrollment_code_is_said_once_with_the_credential_to_give() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, noc, mut credentials) = hub_and_credentials(&lab, "PAR-04");
    credentials.retain(|c| c.name != "legatura.enroll-code");
    let hub_ns = lab.net.ns(HUB_HOST);
    let mut vm =
        Vm::boot(hub_ns, &disk, lab.net.dir(), "no-code", &credentials).expect("start qemu");
    let waiting = vm
        .wait_console(BOOT, "gatewayd waiting for a code", |c| {
            c.contains("enrollment pending")
        })
        .expect("gatewayd starts and waits for a code");
    println!("power-on to waiting for a code: {waiting:.1?}");
    std::thread::sleep(QUIET);
    vm.check_running().expect("the appliance is running");
    let console = vm.console();
    let said = console
        .lines()
        .find(|l| l.contains("no enrollment code"))
        .unwrap_or_else(|| panic!("the console never says the code is missing:\n{console}"));
    for what in [
        "no boot credential legatura.enroll-code",
        "io.systemd.credential:legatura.enroll-code=",
        "restart the box",
    ] {
        assert!(
            said.contains(what),
            "the console does not say {what:?}: {said}"
        );
    }
    println!("console: {said}");
    // Said once, then quiet: no restarts of gatewayd's unit, no watchdog kills.
    assert_eq!(
        console.matches("no enrollment code").count(),
        1,
        "the missing code is said over and over (gatewayd restarts):\n{console}"
    );
    assert_eq!(
        console.matches("enrollment pending").count(),
        1,
        "gatewayd was restarted while it waited for a code:\n{console}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "an appliance without a code has a tunnel"
    );
    let row = noc.row(hub_ns, "paris", "PAR-04").expect("fleet ls");
    assert_eq!(row.state, "pending", "{row:?}");

    // The status page says what the console said: no code, and which credential to set.
    let json = vm
        .wait_status_page(PAGE, "the missing code", |j| {
            j["provision"]["state"] == "no-code" && j["enrollment"] == "waiting_for_code"
        })
        .expect("the status page says the code is missing");
    assert_eq!(json["verdict"], "problem", "{json}");
    assert!(json["appliance"].is_null(), "{json}");
    let html = page_html(&vm, None);
    for what in [
        "PROBLEM: Not enrolled: this box was given no enrollment code.",
        "no boot credential legatura.enroll-code",
        "io.systemd.credential:legatura.enroll-code=&lt;the code from the NOC&gt;",
        "<tr><th>Enrollment</th><td>waiting for an enrollment code</td></tr>",
    ] {
        assert!(
            html.contains(what),
            "the status page does not say {what:?}:\n{html}"
        );
    }
    println!("status page: {}", json["summary"]);
    drop(vm);
}

#[test]
fn a_hub_unreachable_at_boot_is_said_and_retried_until_the_tunnel_comes_up_without_a_reboot() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (mut hub, noc, credentials) = hub_and_credentials(&lab, "PAR-05");
    let hub_ns = lab.net.ns(HUB_HOST);
    // The code is made; then the hub goes away. The box's own network is up (DHCP from qemu),
    // but nothing answers at the hub's address: what it sees when the embassy's uplink is
    // down or the hub is not started yet.
    hub.daemon.kill().expect("stop hubd");

    let mut vm =
        Vm::boot(hub_ns, &disk, lab.net.dir(), "no-hub", &credentials).expect("start qemu");
    let retrying = "cannot reach the hub to enrol; retrying";
    let twice = vm
        .wait_console(BOOT, "two enrollment attempts that found no hub", |c| {
            c.matches(retrying).count() >= 2
        })
        .expect("gatewayd says it cannot reach the hub, and tries again");
    println!("power-on to the second attempt that found no hub: {twice:.1?}");
    let console = vm.console();
    let said = line_with(&console, retrying);
    assert!(
        said.contains("cannot reach the hub at 10.0.2.2:4433") && said.contains("retry_in_s"),
        "the console names the hub it cannot reach and when it tries again: {said}"
    );
    println!("console: {said}");
    assert!(
        !console.contains("enrollment failed"),
        "an unreachable hub was taken for a refused code:\n{console}"
    );
    let code = code_of(&credentials);
    let json = vm
        .wait_status_page(PAGE, "the enrollment retrying", |j| {
            j["enrollment"] == "retrying"
        })
        .expect("the status page says the hub cannot be reached");
    let error = json["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot reach the hub at 10.0.2.2:4433"),
        "the status page does not name the hub it cannot reach: {json}"
    );
    assert!(json["tunnel"]["retry_in_s"].is_u64(), "{json}");
    let html = page_html(&vm, Some(&code));
    assert!(
        html.contains("Cannot reach the hub to enrol; trying again"),
        "{html}"
    );
    println!("status page: {} ({error})", json["summary"]);

    // The hub comes back; the box enrols on its next attempt, with no help and no reboot (qemu
    // runs with -no-reboot: a guest reboot would end it, and check_running fails).
    hub.restart().expect("start hubd again");
    hub.wait_ready(START).expect("hubd ready again");
    let back = vm.uptime();
    let tunnel_up = wait_for_tunnel(&mut vm, &hub, "paris/PAR-05", AGAIN, "of the hub's return");
    let console = vm.console();
    println!(
        "hub back at {back:.1?} after power-on, tunnel up at {tunnel_up:.1?} ({:.1?} later)",
        tunnel_up - back
    );
    assert!(
        console.contains("\"enrolled\""),
        "the console does not say the box enrolled:\n{console}"
    );
    assert_eq!(
        console.matches(PROVISIONED).count(),
        1,
        "gatewayd's unit was restarted rather than retrying itself:\n{console}"
    );
    let row = noc.row(hub_ns, "paris", "PAR-05").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    vm.wait_status_page(PAGE, "the tunnel up as paris/PAR-05", |j| {
        j["tunnel"]["state"] == "up" && j["appliance"] == "PAR-05"
    })
    .expect("the status page follows the box from retrying to working");
    drop(vm);
}

#[test]
fn an_unplugged_cable_at_boot_is_said_and_the_box_enrols_once_it_is_plugged_in() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, noc, credentials) = hub_and_credentials(&lab, "PAR-07");
    let hub_ns = lab.net.ns(HUB_HOST);

    // The cable is out before the firmware has even started: no carrier, no DHCP, no route.
    let mut vm =
        Vm::boot(hub_ns, &disk, lab.net.dir(), "unplugged", &credentials).expect("start qemu");
    vm.set_link(false).expect("unplug the cable");
    let no_network = "no network: this box has no route to 10.0.2.2:4433";
    let said = vm
        .wait_console(BOOT, "the box saying it has no network", |c| {
            c.matches(no_network).count() >= 2
        })
        .expect("gatewayd says the box has no network, and tries again");
    println!("power-on to the second attempt with no network: {said:.1?}");
    let console = vm.console();
    let line = line_with(&console, no_network);
    assert!(
        line.contains("LAN cable") && line.contains("retry_in_s"),
        "the console sends embassy IT to the cable and says when it tries again: {line}"
    );
    println!("console: {line}");
    assert!(
        !console.contains("enrollment failed"),
        "a missing network was taken for a refused code:\n{console}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "a box with no cable has a tunnel"
    );

    // The cable goes in: DHCP, then the next attempt enrols, with no reboot and no help.
    vm.set_link(true).expect("plug the cable in");
    let plugged = vm.uptime();
    let tunnel_up = wait_for_tunnel(
        &mut vm,
        &hub,
        "paris/PAR-07",
        AGAIN,
        "of the cable going in",
    );
    println!(
        "cable in at {plugged:.1?} after power-on, tunnel up at {tunnel_up:.1?} ({:.1?} later)",
        tunnel_up - plugged
    );
    assert_eq!(
        vm.console().matches(PROVISIONED).count(),
        1,
        "gatewayd's unit was restarted rather than retrying itself"
    );
    let row = noc.row(hub_ns, "paris", "PAR-07").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    vm.wait_status_page(PAGE, "the tunnel up as paris/PAR-07", |j| {
        j["tunnel"]["state"] == "up" && j["appliance"] == "PAR-07"
    })
    .expect("the status page, reachable once the cable is in, says the tunnel is up");
}

#[test]
fn a_full_state_partition_is_said_on_the_console_and_the_code_is_not_spent() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, noc, credentials) = hub_and_credentials(&lab, "PAR-06");
    let hub_ns = lab.net.ns(HUB_HOST);

    // A copy whose state partition already holds an ext4 file system filled up to root's
    // reserve, as a box that ran until something filled it would have: first boot's makefs
    // leaves a formatted partition alone.
    let full = copy_disk(&disk, &lab.net.dir().join("full-state.raw"));
    fill_state_partition(&full, lab.net.dir(), true);

    let mut vm =
        Vm::boot(hub_ns, &full, lab.net.dir(), "full-state", &credentials).expect("start qemu");
    let said = "the state partition legatura-state (/var) is full";
    let twice = vm
        .wait_console(BOOT, "two reports of the full state partition", |c| {
            c.matches(said).count() >= 2
        })
        .expect("the box says its state partition is full, and tries again");
    println!("power-on to the second report of the full partition: {twice:.1?}");
    let console = vm.console();
    let line = line_with(&console, said);
    let free_kib: u64 = line
        .split_once(" KiB free of ")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the console does not say how much is free: {line}"));
    println!("console: {line}");
    assert!(free_kib < 1024, "{free_kib} KiB free is not full: {line}");
    assert!(
        line.contains("MiB") && line.contains("enrollment code is kept unused"),
        "the console says how big the partition is and that the code is kept: {line}"
    );
    // Nothing was written with the code: gatewayd never got it, the hub never saw it.
    assert!(
        !console.contains("enrolling with the code") && !console.contains("enrollment failed"),
        "the code was used on a full partition:\n{console}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "an appliance with a full state partition has a tunnel"
    );
    let row = noc.row(hub_ns, "paris", "PAR-06").expect("fleet ls");
    assert_eq!(row.state, "pending", "the one-time code was spent: {row:?}");

    // gatewayd is held back, so the page has only provisioning's word, and says so.
    let json = vm
        .wait_status_page(PAGE, "the full state partition", |j| {
            j["provision"]["state"] == "state-full"
        })
        .expect("the status page says the state partition is full");
    assert_eq!(json["gatewayd"]["running"], false, "{json}");
    let summary = json["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(said) && summary.contains("KiB free of"),
        "the status page does not say the partition is full and how full: {json}"
    );
    let html = page_html(&vm, Some(&code_of(&credentials)));
    assert!(html.contains("gatewayd is not running"), "{html}");
    println!("status page: {summary}");
    drop(vm);
}

#[test]
fn an_enrolled_box_whose_state_partition_fills_says_so_and_keeps_its_tunnel() {
    let _machine = machine_lock();
    let disk = appliance_image().expect("the appliance image");
    let lab = Lab::new(&[]).expect("topology");
    let (hub, noc, credentials) = hub_and_credentials(&lab, "PAR-08");
    let hub_ns = lab.net.ns(HUB_HOST);

    // A box that enrolled on its own disk and was powered off; then its state partition filled.
    let box_disk = copy_disk(&disk, &lab.net.dir().join("enrolled.raw"));
    let mut vm = Vm::boot_persistent(hub_ns, &box_disk, lab.net.dir(), "enrolled", &credentials)
        .expect("start qemu");
    wait_for_tunnel(&mut vm, &hub, "paris/PAR-08", BOOT, "of power-on");
    vm.power_off(Duration::from_secs(180))
        .expect("the box powers off cleanly");
    drop(vm);
    // Its tunnel closed with it: the next one the hub lists is the next boot's.
    let gone = std::time::Instant::now();
    while hub.appliances().is_ok_and(|a| !a.is_empty()) {
        assert!(
            gone.elapsed() < QUIET,
            "the hub still lists the powered-off box"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    fill_state_partition(&box_disk, lab.net.dir(), false);

    let mut vm = Vm::boot(
        hub_ns,
        &box_disk,
        lab.net.dir(),
        "enrolled-full",
        &credentials,
    )
    .expect("start qemu");
    let warning = "WARNING: the state partition legatura-state (/var) is full";
    vm.wait_console(BOOT, "the warning about the full partition", |c| {
        c.contains(warning)
    })
    .expect("the box warns that its state partition is full");
    wait_for_tunnel(
        &mut vm,
        &hub,
        "paris/PAR-08",
        BOOT,
        "of power-on, on a full partition",
    );
    let console = vm.console();
    let line = line_with(&console, warning);
    assert!(
        line.contains("KiB free of") && line.contains("cannot be renewed"),
        "the console says how full and what it means: {line}"
    );
    println!("console: {line}");
    assert!(
        !console.contains("enrolling with the code"),
        "an enrolled box used the code again:\n{console}"
    );
    let row = noc.row(hub_ns, "paris", "PAR-08").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    let json = vm
        .wait_status_page(PAGE, "the tunnel up on a full partition", |j| {
            j["provision"]["state"] == "enrolled-state-full" && j["tunnel"]["state"] == "up"
        })
        .expect("the status page says the tunnel is up and the partition full");
    let summary = json["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("state partition is full") && json["verdict"] == "problem",
        "the status page does not call the full partition a problem: {json}"
    );
    println!("status page: {summary}");
}

/// Fills `disk`'s `legatura-state` partition with one file, up to what a non-root user may
/// write, as a box that ran until something filled it would have. With `format`, on a fresh
/// ext4 (which first boot's makefs leaves alone); without, on the file system an earlier boot
/// left there, everything on it kept. Nothing is mounted: debugfs writes the file.
fn fill_state_partition(disk: &Path, dir: &Path, format: bool) {
    let (start, bytes) = partition(disk, "legatura-state");
    let fs = dir.join("state.ext4");
    if format {
        std::fs::File::create(&fs)
            .and_then(|f| f.set_len(bytes))
            .expect("the state file system's file");
        let status = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "legatura-state"])
            .arg(&fs)
            .status()
            .expect("mkfs.ext4");
        assert!(status.success(), "mkfs.ext4 failed");
    } else {
        let mut from = std::fs::File::open(disk).expect("open the disk");
        from.seek(SeekFrom::Start(start)).unwrap();
        let mut to = std::fs::File::create(&fs).expect("the state file system's file");
        std::io::copy(&mut from.take(bytes), &mut to).expect("read the state partition");
    }
    let available = || -> (u64, u64) {
        let out = Command::new("dumpe2fs")
            .arg("-h")
            .arg(&fs)
            .output()
            .expect("dumpe2fs");
        let header = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| -> u64 {
            header
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim_start_matches(':').trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in dumpe2fs:\n{header}"))
        };
        let block = field("Block size");
        let free = field("Free blocks").saturating_sub(field("Reserved block count"));
        (free, block)
    };
    let (free, block) = available();
    // All but root's reserve, less a few blocks for the filler's own extent tree. Not zeros:
    // they could be left as holes.
    let filler_path = dir.join("state-filler");
    let mut filler = std::fs::File::create(&filler_path).expect("the filler");
    let chunk = vec![0x5au8; block as usize * 256];
    let mut left = free.saturating_sub(64) * block;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        filler.write_all(&chunk[..n]).expect("write the filler");
        left -= n as u64;
    }
    drop(filler);
    let out = Command::new("debugfs")
        .arg("-w")
        .arg("-R")
        .arg(format!("write {} filler", filler_path.display()))
        .arg(&fs)
        .output()
        .expect("debugfs");
    assert!(out.status.success(), "debugfs write failed: {out:?}");
    std::fs::remove_file(&filler_path).unwrap();
    let (left, _) = available();
    assert!(
        left * block < 1024 * 1024,
        "the filler left {} KiB free",
        left * block / 1024
    );

    let mut from = std::fs::File::open(&fs).expect("the state file system");
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .expect("open the copy");
    to.seek(SeekFrom::Start(start)).unwrap();
    std::io::copy(&mut from, &mut to).expect("write the state partition");
    drop(to);
    std::fs::remove_file(&fs).unwrap();
}

/// The byte offset of the partition named `name`.
fn partition_start(disk: &Path, name: &str) -> u64 {
    partition(disk, name).0
}

/// The byte offset and size of the partition named `name`, from `sfdisk --json`.
fn partition(disk: &Path, name: &str) -> (u64, u64) {
    let out = Command::new("sfdisk")
        .arg("--json")
        .arg(disk)
        .output()
        .expect("sfdisk");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sfdisk JSON");
    let part = doc["partitiontable"]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no partition {name} in {doc}"));
    (
        part["start"].as_u64().expect("start sector") * 512,
        part["size"].as_u64().expect("size in sectors") * 512,
    )
}
