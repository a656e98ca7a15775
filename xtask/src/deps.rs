//! What tests and benchmarks need from outside Rust: Debian packages, installed with apt-get
//! when missing, and the npm packages of the browser tests.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::cmd;

/// Every Debian package a test or benchmark shells out to. One line each, with why.
const PACKAGES: &[&str] = &[
    // `ip netns` / `ip link`: system tests put the hub and each gateway in a network namespace.
    "iproute2",
    // The TLS-over-TCP tunnel the tunnel bench measures itself against.
    "stunnel4",
    // Traffic generator and throughput meter for the tunnel bench.
    "iperf3",
    // Ad-hoc TCP/UDP echo and relay endpoints behind the tunnel in system tests.
    "socat",
    // `ps`, `pgrep`, `sysctl`: find daemons the tests started and tune namespace sysctls.
    "procps",
    // `fuser`, `killall`: find what still holds a port when a test cannot bind it.
    "psmisc",
    // System TLS roots, so cargo and pip can fetch over HTTPS on a fresh image.
    "ca-certificates",
    // SoftHSM2: the PKCS#11 token that the hardware/keys tests create and sign with.
    "softhsm2",
    // clamd: appliance/scan's tests start it with a signature database they generate (EICAR).
    "clamav-daemon",
    // SIPp: the telephony tests' trunk and agent phones (appliance/telephony/tests/sipp.rs).
    "sip-tester",
    // Kamailio: the stateful SIP relay the telephony bench measures the bridge against.
    "kamailio",
    // sipsak: the OPTIONS health check of the SIP bridge (appliance/telephony/tests/calls.rs).
    "sipsak",
    // Headless Chromium: the browser tests (the portal's, and the console's system test) drive
    // /usr/bin/chromium with Playwright.
    "chromium",
    // `systemd-analyze security`: the exposure test of the appliance's units.
    "systemd",
    // swaks: the SMTP client the e-mail channel's tests send mail in with.
    "swaks",
    // Net::SSLeay: swaks's STARTTLS, for the tests of mail coming in over TLS.
    "libnet-ssleay-perl",
    // aiosmtpd: the real SMTP server that stands in for the ministry's relay in the mail tests.
    "python3-aiosmtpd",
    // The appliance image (`cargo xtask image`, docs/image.md), built without mounting anything:
    // the root tree from Debian packages, …
    "mmdebstrap",
    // … made a read-only erofs, with its dm-verity hash tree computed from the file, …
    "erofs-utils",
    "cryptsetup-bin",
    // … systemd-boot and the EFI stub of the unified kernel image, which objcopy assembles, …
    "systemd-boot-efi",
    "binutils",
    // … the ESP as a FAT image filled by mtools, the GPT written by sfdisk.
    "dosfstools",
    "mtools",
    "fdisk",
    // `cargo xtask image --check` shows where two builds differ.
    "diffoscope-minimal",
    // The image boot test: UEFI firmware and the emulator.
    "ovmf",
    "qemu-system-x86",
];

/// The browser tests' npm packages (Playwright, without a browser download), each installed
/// from its committed lock file: the portal's, and the console's system test.
const NPM_DIRS: &[&str] = &["appliance/portal/tests/browser", "tests/system/browser"];

/// Installs the missing [`PACKAGES`], then each of [`NPM_DIRS`]'s packages if they are missing.
pub(crate) fn ensure() -> Result<()> {
    ensure_debian()?;
    for dir in NPM_DIRS {
        if !Path::new(dir).join("node_modules").is_dir() {
            cmd::run(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(dir),
            )
            .with_context(|| {
                format!("{dir}: the browser tests need Node.js 20 or later with npm")
            })?;
        }
    }
    Ok(())
}

/// Installs the missing [`PACKAGES`]; touches apt only when something is missing.
fn ensure_debian() -> Result<()> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        say!("deps: all {} Debian packages present", PACKAGES.len());
        return Ok(());
    }
    let list = missing.join(" ");
    if !is_root()? {
        bail!(
            "missing Debian packages: {list}. Run `cargo xtask deps` as root, or \
             `sudo apt-get install --no-install-recommends {list}`"
        );
    }
    say!("deps: installing {list}");
    cmd::run(Command::new("apt-get").arg("update"))?;
    cmd::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
    )?;
    let still = missing_packages()?;
    if !still.is_empty() {
        bail!(
            "apt-get reported success but these are still not installed: {}",
            still.join(" ")
        );
    }
    Ok(())
}

/// The packages of [`PACKAGES`] that dpkg does not list as installed.
fn missing_packages() -> Result<Vec<&'static str>> {
    let mut missing = Vec::new();
    for &package in PACKAGES {
        if !installed(package)? {
            missing.push(package);
        }
    }
    Ok(missing)
}

fn installed(package: &str) -> Result<bool> {
    let out = cmd::capture(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .with_context(|| {
            format!(
                "`cargo xtask deps` needs dpkg (Debian or Ubuntu); elsewhere install these by \
                 hand: {}",
                PACKAGES.join(" ")
            )
        })?;
    // `${Status}` is "want flag state", e.g. "install ok installed"; a removed package whose
    // configuration files remain reads "deinstall ok config-files". dpkg-query fails outright
    // for a package it has never heard of.
    Ok(out.success && out.stdout.split_whitespace().nth(2) == Some("installed"))
}

fn is_root() -> Result<bool> {
    let uid = cmd::stdout_of(Command::new("id").arg("-u"))?;
    Ok(uid.trim() == "0")
}
