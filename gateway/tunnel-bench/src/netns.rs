//! The benchmark's own network namespace: entered by re-executing this program under
//! `unshare -n`, then set up with loopback at MTU 1500 and socket-buffer caps large enough for
//! the tunnel's 4 MiB UDP buffers.

use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::progress;

/// Set in the environment of the re-executed program, inside the namespace, to the network
/// namespace it was started from (`net:[inode]`).
const ENV: &str = "TUNNEL_BENCH_IN_NETNS";

/// The socket buffer the tunnel asks the kernel for.
const WANTED_BUFFER_MAX: u64 = tunnel::transport::SOCKET_BUFFER as u64;

/// What the namespace turned out to be.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub(crate) in_netns: bool,
    pub(crate) lo_mtu: u32,
    pub(crate) rmem_max: u64,
    pub(crate) wmem_max: u64,
}

/// True when this process is the re-executed one.
pub(crate) fn inside() -> bool {
    std::env::var_os(ENV).is_some()
}

/// Runs this program again in a fresh network namespace and exits with its status.
pub(crate) fn reexec() -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's executable")?;
    let outer = std::fs::read_link("/proc/self/ns/net").context("cannot read /proc/self/ns/net")?;
    let status = Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(ENV, &outer)
        .status()
        .context("cannot run `unshare -n` (util-linux): the benchmark needs a network namespace, which needs root")?;
    std::process::exit(status.code().unwrap_or(1))
}

/// Brings loopback up at MTU 1500 and raises the socket-buffer caps where the kernel lets this
/// namespace do so.
pub(crate) fn setup() -> Result<Namespace> {
    let out = Command::new("ip")
        .args(["link", "set", "lo", "mtu", "1500", "up"])
        .output()
        .context("cannot run `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip link set lo mtu 1500 up` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // /sys/class/net shows the namespace sysfs was mounted in, not ours: ask `ip` instead.
    let show = Command::new("ip")
        .args(["-o", "link", "show", "dev", "lo"])
        .output()
        .context("cannot run `ip link show`")?;
    let text = String::from_utf8_lossy(&show.stdout);
    let lo_mtu = text
        .split_whitespace()
        .skip_while(|w| *w != "mtu")
        .nth(1)
        .and_then(|m| m.parse().ok())
        .with_context(|| format!("no MTU in `ip link show dev lo`: {text}"))?;
    Ok(Namespace {
        in_netns: own_namespace()?,
        lo_mtu,
        rmem_max: raise("rmem_max")?,
        wmem_max: raise("wmem_max")?,
    })
}

/// Whether this process's network namespace differs from the one it was re-executed from.
fn own_namespace() -> Result<bool> {
    let own = std::fs::read_link("/proc/self/ns/net").context("cannot read /proc/self/ns/net")?;
    Ok(std::env::var_os(ENV).is_some_and(|outer| outer != own.as_os_str()))
}

/// Raises `net.core.<name>` to [`WANTED_BUFFER_MAX`] if it is lower; returns the value in force.
/// Kernels with per-namespace caps refuse values above the initial namespace's, so a refusal
/// is reported, not fatal.
fn raise(name: &str) -> Result<u64> {
    let path = format!("/proc/sys/net/core/{name}");
    let read = || -> Result<u64> {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        text.trim()
            .parse()
            .with_context(|| format!("{path} is not a number: {text}"))
    };
    let now = read()?;
    if now >= WANTED_BUFFER_MAX {
        return Ok(now);
    }
    if let Err(error) = std::fs::write(&path, WANTED_BUFFER_MAX.to_string()) {
        progress!(
            "net.core.{name} stays at {} KiB here ({error}); the tunnel asks for {} KiB",
            now / 1024,
            WANTED_BUFFER_MAX / 1024
        );
    }
    read()
}
