//! SIPp peers for tests: the trunk calling in and the agents' phones, each a SIPp process on a
//! loopback port the test picked, killed when dropped. Shared by the telephony and console
//! tests (included with `#[path]`), so scenario files are found from either crate.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use telephony::{Outcome, Telephony};
use tokio::process::{Child, Command};

pub(crate) fn scenario(name: &str) -> PathBuf {
    // Both appliance/telephony and appliance/console sit beside each other.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../telephony/tests/sipp")
        .join(name)
}

/// A loopback port free for both UDP and TCP just now.
pub(crate) fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A SIPp process, killed when dropped unless it has exited.
pub(crate) struct Sipp {
    child: Child,
    name: String,
    dir: tempfile::TempDir,
}

impl Sipp {
    pub(crate) fn start(name: &str, args: &[String]) -> Sipp {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("sipp")
            .args(args)
            .args([
                "-nostdin",
                "-trace_err",
                "-trace_msg",
                "-timeout",
                "30",
                "-timeout_error",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp (Debian package sip-tester; `cargo xtask deps` installs it)");
        Sipp {
            child,
            name: name.to_owned(),
            dir,
        }
    }

    /// Waits for SIPp to finish and asserts it exited 0, showing its logs if not.
    pub(crate) async fn success(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not finish", self.name))
            .unwrap();
        if !status.success() {
            let mut logs = String::new();
            for entry in std::fs::read_dir(self.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(6000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                logs.push_str(&format!("==> {} <==\n{tail}\n", path.display()));
            }
            let kept = self.dir.keep();
            panic!(
                "{} exited with {status} (logs in {})\n{logs}",
                self.name,
                kept.display()
            );
        }
    }
}

pub(crate) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Registers `agent` whose phone answers on `contact_port`.
pub(crate) async fn register(
    bridge: SocketAddr,
    agent: &str,
    password: &str,
    contact_port: u16,
    transport: &str,
    expires: u32,
) {
    let port = free_port().to_string();
    Sipp::start(
        &format!("REGISTER {agent}"),
        &args(&[
            "-sf",
            scenario("register.xml").to_str().unwrap(),
            &bridge.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            transport,
            "-m",
            "1",
            "-s",
            agent,
            "-au",
            agent,
            "-ap",
            password,
            "-key",
            "contact_port",
            &contact_port.to_string(),
            "-key",
            "expires",
            &expires.to_string(),
        ]),
    )
    .success()
    .await;
}

/// An agent's phone: SIPp as UAS on `port`, built-in scenario `uas` or a file.
pub(crate) fn phone(port: u16, scenario_arg: &[&str], transport: &str, calls: u32) -> Sipp {
    let mut a = args(scenario_arg);
    a.extend(args(&[
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        transport,
        "-m",
        &calls.to_string(),
    ]));
    Sipp::start(&format!("phone on {port}"), &a)
}

/// The trunk: SIPp as UAC dialling `service` through the bridge.
pub(crate) fn trunk(
    bridge: SocketAddr,
    service: &str,
    scenario_arg: &[&str],
    transport: &str,
    extra: &[&str],
) -> Sipp {
    let port = free_port().to_string();
    let mut a = args(scenario_arg);
    a.extend(args(&[
        &bridge.to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        transport,
        "-s",
        service,
    ]));
    a.extend(args(extra));
    if !extra.contains(&"-m") {
        a.extend(args(&["-m", "1"]));
    }
    Sipp::start(&format!("trunk calling {service}"), &a)
}

pub(crate) async fn settle(bridge: &Telephony, calls: usize) {
    for _ in 0..100 {
        let done = bridge
            .call_records()
            .iter()
            .filter(|r| r.outcome != Outcome::InProgress)
            .count();
        if done >= calls && bridge.active_calls() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
