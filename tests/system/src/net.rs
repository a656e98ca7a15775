//! A private network: a "switch" namespace holding a bridge, and one namespace per host joined
//! to it by a veth pair. Everything is deleted on drop.
//!
//! Names are `lgs<pid>x<n>-<host>`: the test process's PID and a per-process counter keep
//! parallel tests (and parallel test binaries) apart, and let a later run delete what a killed
//! run left behind (its PID no longer exists).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};

const PREFIX: &str = "lgs";

/// A topology of namespaces on one bridge.
#[derive(Debug)]
pub struct Net {
    tag: String,
    switch: String,
    /// Host name → (namespace, address), in creation order of addresses.
    hosts: BTreeMap<String, (String, Ipv4Addr)>,
    subnet: [u8; 3],
    /// The test's directory (configs, certificates, logs); kept when the test fails, or when
    /// `LEGATURA_SYSTEM_KEEP` is set.
    dir: tempfile::TempDir,
}

impl Net {
    /// Creates the switch and one namespace per host, addresses `10.X.Y.1`, `.2`, … in order.
    pub fn new(hosts: &[&str]) -> Result<Net> {
        crate::require_namespaces();
        static CLEANUP: Once = Once::new();
        CLEANUP.call_once(remove_leftovers);

        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("{PREFIX}{pid}x{n}");
        // Only the namespaces of this topology ever see these addresses; the subnet differs
        // per test to keep logs of parallel tests apart.
        let subnet = [10, 100 + (pid % 100) as u8, (n % 250) as u8];
        let dir = tempfile::Builder::new()
            .prefix(&format!("{tag}-"))
            .tempdir()
            .context("creating the test directory")?;
        let mut net = Net {
            switch: format!("{tag}-sw"),
            tag,
            hosts: BTreeMap::new(),
            subnet,
            dir,
        };

        ip(&["netns", "add", &net.switch])?;
        ip(&["-n", &net.switch, "link", "set", "lo", "up"])?;
        ip(&["-n", &net.switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &net.switch, "link", "set", "br0", "up"])?;
        for (i, host) in hosts.iter().enumerate() {
            net.add_host(host, i as u8 + 1)?;
        }
        Ok(net)
    }

    fn add_host(&mut self, host: &str, last_octet: u8) -> Result<()> {
        let ns = format!("{}-{host}", self.tag);
        let port = format!("v-{host}");
        if port.len() > 15 {
            bail!("host name {host:?} too long: interface {port:?} must fit in 15 characters");
        }
        let [a, b, c] = self.subnet;
        let addr = Ipv4Addr::new(a, b, c, last_octet);
        // Registered before creation, so that Drop deletes a half-built host too.
        self.hosts.insert(host.to_owned(), (ns.clone(), addr));
        ip(&["netns", "add", &ns])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            &self.switch,
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &ns,
        ])?;
        ip(&[
            "-n",
            &self.switch,
            "link",
            "set",
            &port,
            "master",
            "br0",
            "up",
        ])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// The namespace of `host`.
    ///
    /// # Panics
    ///
    /// When the topology has no such host (a mistake in the test).
    pub fn ns(&self, host: &str) -> &str {
        match self.hosts.get(host) {
            Some((ns, _)) => ns,
            None => panic!("no host {host:?} in this topology"),
        }
    }

    /// The address of `host` on the bridge.
    ///
    /// # Panics
    ///
    /// When the topology has no such host.
    pub fn ip(&self, host: &str) -> Ipv4Addr {
        match self.hosts.get(host) {
            Some((_, addr)) => *addr,
            None => panic!("no host {host:?} in this topology"),
        }
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `f` in a thread inside `host`'s namespace, and returns what it returns.
    pub fn run_in<T: Send>(&self, host: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        in_ns(self.ns(host), f)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let mut all: Vec<&str> = self.hosts.values().map(|(ns, _)| ns.as_str()).collect();
        all.push(&self.switch);
        for ns in all {
            delete_namespace(ns);
        }
        let failed = std::thread::panicking();
        if failed || std::env::var_os("LEGATURA_SYSTEM_KEEP").is_some_and(|v| !v.is_empty()) {
            self.dir.disable_cleanup(true);
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "{}; configs and logs kept in {}",
                    if failed {
                        "system test failed"
                    } else {
                        "LEGATURA_SYSTEM_KEEP is set"
                    },
                    self.dir.path().display()
                );
            }
        }
    }
}

/// Runs `f` on a scoped thread that has entered the network namespace `ns`: sockets it creates
/// live there (and stay there when handed back to another thread).
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            enter(ns)?;
            f()
        });
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Moves the calling thread into the network namespace `ns` for the rest of its life.
pub(crate) fn enter(ns: &str) -> Result<()> {
    let path = Path::new("/run/netns").join(ns);
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {ns}"))
}

/// Runs `ip ARGS…`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// SIGKILLs every process still in `ns` (only ever ones a test started there), then deletes
/// the namespace. Best effort: it runs in Drop.
fn delete_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Deletes namespaces left by system-test processes that no longer exist (a run killed before
/// its Drop ran).
fn remove_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let owner = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = owner
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            delete_namespace(name);
        }
    }
}
