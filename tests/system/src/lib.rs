//! Test support for Legătura's system tests: the real `hubd` and `gatewayd` binaries, each in
//! its own Linux network namespace, joined through a bridge, with certificates from the
//! development CA and small upstream servers run by the test process itself.
//!
//! How it fits together:
//! - [`Net`] builds a private topology: a "switch" namespace holding a bridge and one namespace
//!   per host, each joined to the bridge by a veth pair, with an address from a per-test
//!   `10.X.Y.0/24`. Names carry a per-process, per-topology tag so tests may run in parallel.
//! - The test process does its own network I/O inside a namespace with [`in_ns`]: a scoped
//!   thread enters the namespace (`setns`) and runs ordinary blocking `std::net` code there.
//!   Admin probes, clients, the [`Upstream`] servers and the impairment [`Relay`] all work so.
//!   The daemons' admin endpoints therefore stay on `127.0.0.1`, as in production: a probe
//!   enters the daemon's namespace rather than the endpoint being exposed on the bridge.
//! - [`Daemon`] runs a binary under `ip netns exec`, logging to files in the test's directory.
//! - [`Lab`] wires the usual scene: a fleet CA, a hub host with an upstream, hubs and gateways.
//! - [`Noc`] is the fleet PKI made by `legatura ca init` and the operator's `legatura` CLI
//!   bound to it, for hubs with `[pki]` and `[noc]` and gateways that enrol with a code.
//! - [`AppsSpec`] adds the hub's applications (the citizens' portal, the agents' console and
//!   the `console` service with its PROXY header), and [`run_script`] drives them from a host
//!   with a Playwright script in headless Chromium running inside that host's namespace.
//!
//! Invariants:
//! - every namespace, process and thread a test starts is gone when its owner is dropped:
//!   processes are killed by PID before their namespace is deleted;
//! - packets never leave the namespaces a test creates: every address used lives inside them
//!   (the config-error test, which runs the binaries outside any namespace, uses loopback only);
//! - a missing capability (root, `ip netns`, a daemon binary) fails the test loudly, naming
//!   what is missing and how to get it; nothing passes by skipping;
//! - when a test fails, the tail of every daemon's log is printed and the test directory kept.

mod apps;
mod bins;
mod browser;
mod certs;
mod configs;
mod daemon;
mod impair;
mod lab;
mod net;
mod noc;
mod probe;
mod upstream;
mod vm;

pub use apps::{AppsSpec, ConsoleSpec, PortalSpec};
pub use bins::{Bin, bin_path, require_namespaces};
pub use browser::{CHROMIUM, ScriptRun, browser_dir, require_browser, run_script};
pub use certs::{Fleet, HUB_NAME, TlsFiles};
pub use configs::{GatewaySpec, HubSpec, ListenSpec, NocSpec, PkiSpec, ServiceSpec};
pub use daemon::{Daemon, LogEvent};
pub use impair::{Impairment, Relay};
pub use lab::{GatewayNode, HUB_HOST, HubNode, Lab};
pub use net::{Net, in_ns};
pub use noc::{
    FleetRow, Noc, Output, audit_entries, cert_identity, first_cert_der, forge_code, parse_code,
    parse_fleet_table, run_bin,
};
pub use probe::{LoopReport, RequestLoop, http_get, request_line, status, wait_ready};
pub use upstream::{Upstream, pattern};
pub use vm::{
    Credential, Forward, STATUS_PAGE, Vm, appliance_image, image, line_with, machine_lock,
};

use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it returns `Some`, or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
