//! The hub image boots to a hub that gateways enrol with: the NOC runs `legatura ca init` and
//! `legatura ca hub-credential` on its workstation, and the image built by `cargo xtask image
//! --role hub` is powered on under qemu/OVMF with that one boot credential. The test passes only
//! when the hub in the guest has provisioned itself, answers the NOC API (its certificate from
//! the credential, the operator's from `ca init`), and an embassy gateway on the host has
//! enrolled with the code the NOC made there and holds its tunnel to it.
//!
//! A hub powered on without the credential must say so on its console, with the credential to
//! give, and keep retrying; one whose credential is not what `hub-credential` writes (a file it
//! never holds; all the right names, but one a link out of the state directory) must say that,
//! name what is wrong, and never start hubd with it.
//!
//! Needs root, the Debian archive for the first build, and a few minutes: the guest is
//! emulated (TCG) unless `LEGATURA_QEMU_ACCEL=kvm`.

#![allow(clippy::expect_used)] // a failed expectation is a failed test

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use system::{
    Bin, Credential, Forward, HUB_HOST, Lab, Noc, Vm, image, line_with, machine_lock, run_bin,
};

/// Power-on to a hub that answers: ~40–90 s under TCG on an idle 2-core machine.
const BOOT: Duration = Duration::from_secs(600);
const START: Duration = Duration::from_secs(20);
/// The guest's tunnel (udp/4433) and NOC API (tcp/9443), on the host namespace's loopback.
const TUNNEL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 14433);
const NOC_API: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 19443);
/// How long a hub that is up must stay up with no restart of its unit: longer than the unit's
/// watchdog (30 s), which would restart a wedged hubd within it.
const HOLDS: Duration = Duration::from_secs(35);
/// Time for the unit's next attempt after a refusal: its restart delay is 10 s.
const RETRY: Duration = Duration::from_secs(60);

/// The hub's ports, forwarded by qemu to the host namespace's loopback.
fn forwards() -> [Forward; 2] {
    [Forward::udp(TUNNEL, 4433), Forward::tcp(NOC_API, 9443)]
}

/// What each case starts from: the machine to itself, the hub image, a lab, and a NOC whose
/// CLI is pointed at the guest's forwarded NOC API.
fn hub_lab() -> (MutexGuard<'static, ()>, PathBuf, Lab, Noc) {
    let machine = machine_lock();
    let disk = image("hub").expect("the hub image");
    let lab = Lab::new(&[]).expect("topology");
    let noc = Noc::init(&lab.net.dir().join("noc")).expect("legatura ca init");
    noc.set_address(NOC_API)
        .expect("point the CLI at the guest");
    (machine, disk, lab, noc)
}

/// `legatura ca hub-credential` for `noc`'s PKI, as the credential qemu hands the guest.
fn hub_credential(noc: &Noc) -> Credential {
    let out = noc.data().join("hub-pki.cred");
    run_bin(
        None,
        Bin::Legatura,
        &[
            OsStr::new("ca"),
            OsStr::new("hub-credential"),
            OsStr::new("--dir"),
            noc.pki_dir().as_os_str(),
            OsStr::new("--out"),
            out.as_os_str(),
        ],
        START,
    )
    .expect("run legatura ca hub-credential")
    .check("legatura ca hub-credential")
    .expect("legatura ca hub-credential");
    let text = std::fs::read_to_string(&out).expect("the credential file");
    let value = text
        .strip_prefix("io.systemd.credential.binary:legatura.hub-pki=")
        .expect("an SMBIOS credential string");
    Credential::binary("legatura.hub-pki", value.trim())
}

#[test]
fn the_hub_image_provisions_itself_and_a_gateway_enrols_and_holds_its_tunnel() {
    let (_machine, disk, lab, noc) = hub_lab();
    let ns = lab.net.ns(HUB_HOST);
    let credentials = [
        hub_credential(&noc),
        Credential::new("legatura.hub-id", "hub-central"),
    ];
    let mut vm = Vm::boot_forwarding(ns, &disk, lab.net.dir(), "hub", &credentials, &forwards())
        .expect("start qemu");

    // The NOC API answers once hubd runs with the PKI from the credential: the CLI pins the
    // root of `ca init` and presents the operator's certificate, so an answer proves both.
    let mut answered = None;
    while vm.uptime() < BOOT {
        vm.check_running().expect("the hub is running");
        if noc.ls(ns).is_ok() {
            answered = Some(vm.uptime());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let Some(answered) = answered else {
        panic!(
            "the hub's NOC API did not answer within {BOOT:?}; console:\n{}",
            vm.tail(60)
        );
    };
    println!("power-on to the hub answering the NOC: {answered:.1?}");
    let console = vm.console();
    assert!(
        console.contains("hub hub-central provisioned from the boot credentials"),
        "the console does not say the hub was provisioned:\n{console}"
    );

    // An embassy enrols with a code from the NOC, pinning only the root, and its tunnel comes
    // up at the hub in the guest.
    let code = noc
        .enroll(ns, "paris", "PAR-01")
        .expect("legatura fleet enroll");
    let spec = system::GatewaySpec {
        // An emulated hub answers a handshake in seconds, not the lab's milliseconds.
        handshake_timeout: "15s",
        ..lab
            .enrolling_gateway_spec(HUB_HOST, &noc.root(), &[TUNNEL])
            .expect("gateway config")
    };
    let out = lab
        .gatewayd_enroll(HUB_HOST, &spec, &code)
        .expect("run gatewayd enroll");
    assert!(
        out.success(),
        "gatewayd enroll against the hub image failed:\n{out}"
    );
    let started = Instant::now();
    let mut gw = lab.start_gateway(HUB_HOST, spec).expect("start gatewayd");
    gw.wait_ready(START)
        .expect("the gateway's tunnel to the hub image is up");
    let row = noc.row(ns, "paris", "PAR-01").expect("fleet ls");
    assert_eq!(row.state, "active", "{row:?}");
    assert_eq!(row.transport, "quic", "{row:?}");
    println!("enrolled, tunnel up {:.1?} after start", started.elapsed());

    // The tunnel holds: nothing restarts hubd in the guest (watchdog, crash) for a while.
    std::thread::sleep(HOLDS);
    vm.check_running().expect("the hub is running");
    assert!(gw.is_ready(), "the tunnel to the hub image went down");
    let console = vm.console();
    assert_eq!(
        console
            .matches("provisioned from the boot credentials")
            .count(),
        1,
        "hubd's unit restarted:\n{console}"
    );
}

#[test]
fn a_hub_without_its_credential_says_which_to_give_and_bad_ones_are_refused() {
    let (_machine, disk, lab, noc) = hub_lab();
    let ns = lab.net.ns(HUB_HOST);

    // Not what `hub-credential` writes: a gzip'd tar, but of a file it never holds.
    let stray = lab.net.dir().join("stray");
    std::fs::create_dir_all(&stray).expect("mkdir");
    std::fs::write(
        stray.join("authorized_keys"),
        "ssh-ed25519 AAAA… intruder\n",
    )
    .expect("write");
    let bad = archive_credential(&stray, &["authorized_keys"]);
    let said = refused(
        &lab,
        &disk,
        &noc,
        "hub-stray",
        bad,
        "it holds authorized_keys",
    );
    println!("a stray file: {said}");

    // Every name `hub-credential` writes, once, but the root CA a link to a file outside the
    // state directory: unpacked as root, it would hand hubd whatever the link names.
    let linked = lab.net.dir().join("linked");
    std::fs::create_dir_all(linked.join("keys")).expect("mkdir");
    for name in FILES {
        std::fs::copy(noc.pki_dir().join(name), linked.join(name)).expect("copy the PKI");
    }
    std::fs::remove_file(linked.join("root.pem")).expect("rm");
    std::os::unix::fs::symlink("/etc/shadow", linked.join("root.pem")).expect("symlink");
    let bad = archive_credential(&linked, FILES);
    let said = refused(
        &lab,
        &disk,
        &noc,
        "hub-linked",
        bad,
        "it holds something other than plain files",
    );
    println!("a link: {said}");

    let mut vm = Vm::boot_forwarding(ns, &disk, lab.net.dir(), "hub-none", &[], &forwards())
        .expect("start qemu");
    let missing = "give the boot credential legatura.hub-pki";
    let said = vm
        .wait_console(BOOT, "the missing credential", |c| c.contains(missing))
        .expect("the console names the credential to give");
    println!("power-on to the missing credential on the console: {said:.1?}");
    vm.wait_console(RETRY, "the next attempt", |c| {
        c.matches(missing).count() >= 2
    })
    .expect("the hub keeps retrying");
    assert!(noc.ls(ns).is_err(), "a hub with no PKI answers the NOC");
}

/// What `legatura ca hub-credential` puts in its archive.
const FILES: &[&str] = &[
    "root.pem",
    "issuing.pem",
    "hub.pem",
    "hub.key",
    "audit.pub",
    "receipt.pub",
    "keys/master-key",
    "keys/fleet-issuing.key",
    "keys/audit-checkpoint.key",
    "keys/receipt-signing.key",
];

/// `legatura.hub-pki` made by hand: a gzip'd tar of `names` under `dir`, links kept as links.
fn archive_credential(dir: &Path, names: &[&str]) -> Credential {
    let archive = std::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(dir)
        .args(names)
        .output()
        .expect("tar");
    assert!(archive.status.success(), "tar failed: {archive:?}");
    let encoded = std::process::Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&archive.stdout)?;
            child.wait_with_output()
        })
        .expect("base64");
    Credential::binary(
        "legatura.hub-pki",
        String::from_utf8(encoded.stdout).expect("base64 is ASCII"),
    )
}

/// Boots the hub image with `credential` and checks that it is refused for `reason`, said on
/// the console, tried again, and that hubd never starts with it (the NOC API does not answer).
/// Returns the console's line.
fn refused(
    lab: &Lab,
    disk: &Path,
    noc: &Noc,
    label: &str,
    credential: Credential,
    reason: &str,
) -> String {
    let ns = lab.net.ns(HUB_HOST);
    let mut vm = Vm::boot_forwarding(ns, disk, lab.net.dir(), label, &[credential], &forwards())
        .expect("start qemu");
    let refused = "credential legatura.hub-pki is not what";
    vm.wait_console(BOOT, "the refused credential", |c| c.contains(refused))
        .expect("the console says the credential is not what hub-credential writes");
    vm.wait_console(RETRY, "the next attempt", |c| {
        c.matches(refused).count() >= 2
    })
    .expect("the hub keeps retrying");
    let console = vm.console();
    let line = line_with(&console, refused);
    assert!(
        line.contains(reason),
        "the console does not say {reason:?}: {line}"
    );
    assert!(
        noc.ls(ns).is_err(),
        "a hub with a refused credential answers the NOC"
    );
    line.to_owned()
}
