//! The appliance image boots to a working tunnel: a hub runs on the host (in the test's
//! namespace), the NOC makes a one-time code, and the image built by `cargo xtask image` is
//! powered on under qemu/OVMF with the hub's address, its CA and the code as boot credentials.
//! The test passes only when the hub itself lists the appliance as connected. A copy whose root
//! partition has one byte flipped must stop at dm-verity and never bring a tunnel up.
//!
//! Both cases need root, the Debian archive for the first build, and a few minutes: the guest
//! is emulated (TCG) unless `LEGATURA_QEMU_ACCEL=kvm`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::Command;
use std::time::Duration;

use system::{Credential, HUB_HOST, Lab, Noc, Vm, appliance_image, machine_lock};

const START: Duration = Duration::from_secs(10);
/// Power-on to tunnel: ~60–120 s under TCG on an idle 2-core machine; more under load.
const BOOT: Duration = Duration::from_secs(600);
/// The hub as the guest sees it: qemu's user network maps 10.0.2.2 to the loopback of the
/// namespace qemu runs in, the hub's.
const HUB_FROM_GUEST: &str = "10.0.2.2:4433";

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
    let mut tunnel_up = None;
    while vm.uptime() < BOOT {
        vm.check_running().expect("the appliance is running");
        if hub
            .appliances()
            .is_ok_and(|a| a.iter().any(|x| x == "paris/PAR-01"))
        {
            tunnel_up = Some(vm.uptime());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let console = vm.console();
    let Some(tunnel_up) = tunnel_up else {
        hub.daemon.print_logs();
        panic!(
            "no tunnel from paris/PAR-01 at the hub within {BOOT:?}; console:\n{}",
            vm.tail(60)
        );
    };
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
    drop(vm);
}

#[test]
fn a_wrong_enrollment_code_is_said_on_the_console_and_retried_without_a_tunnel() {
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
    // The refusal and its reason are on the console, and the box tries again rather than
    // giving up.
    vm.wait_console(BOOT, "two refused enrollments", |c| {
        c.matches("enrollment failed").count() >= 2
    })
    .expect("gatewayd says the enrollment failed, and retries");
    let console = vm.console();
    let failure = console
        .lines()
        .find(|l| l.contains("enrollment failed"))
        .unwrap_or_default();
    assert!(
        failure.contains("enrollment code has"),
        "the console says what is wrong with the code: {failure}"
    );
    assert!(
        hub.appliances().expect("hub /status").is_empty(),
        "an appliance with a wrong code has a tunnel"
    );
    drop(vm);
}

/// The byte offset of the partition named `name`, from `sfdisk --json`.
fn partition_start(disk: &std::path::Path, name: &str) -> u64 {
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
    part["start"].as_u64().expect("start sector") * 512
}
