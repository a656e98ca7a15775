//! Our engine under test, in a process of its own as hubd runs it: `telephony::Telephony`
//! on a real UDP socket, on a multi-threaded tokio runtime, with hubd's settings
//! (`EngineConfig::new`'s limits, 1024 TCP connections) and one agent account. Its own
//! process so that its resident memory and CPU time are its own, not the load generator's.
//!
//! The bench runs its own binary as `telephony-bench serve [--media FIRST-LAST]`; the child
//! prints `ready ADDR`, then answers each `stats` line on stdin with one line of counters,
//! and ends when stdin closes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{EngineConfig, MediaSettings, ServerConfig, Telephony};

use crate::procs;

/// The agent the phone registers as, and the user part every call dials.
pub(crate) const AGENT: &str = "bench";
pub(crate) const PASSWORD: &str = "bench-secret";
const REALM: &str = "legatura";

/// The child's side: runs until stdin closes.
pub(crate) fn serve(media_ports: Option<(u16, u16)>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("telephony")
        .build()?;
    let bridge = runtime.block_on(start(media_ports))?;
    println!("ready {}", bridge.udp_addr());
    std::io::stdout().flush()?;
    for line in std::io::stdin().lock().lines() {
        if line?.trim() == "stats" {
            let dropped = bridge.media_stats().map_or(0, |s| s.dropped);
            println!(
                "active_calls={} calls={} media_dropped={dropped}",
                bridge.active_calls(),
                bridge.stats().calls,
            );
            std::io::stdout().flush()?;
        }
    }
    runtime.block_on(bridge.shutdown());
    Ok(())
}

async fn start(media_ports: Option<(u16, u16)>) -> Result<Telephony> {
    let agents = [NewAgent {
        username: AGENT,
        password: PASSWORD,
        extension: None,
        staff: None,
    }];
    let accounts = parse(&render(REALM, &agents), REALM).map_err(anyhow::Error::msg)?;
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let mut engine = EngineConfig::new(listen, REALM, accounts);
    if let Some((first, last)) = media_ports {
        let mut relay = media::MediaConfig::new(listen.ip());
        relay.ports = media::PortRange { first, last };
        engine.media = Some(MediaSettings::new(relay));
    }
    Ok(Telephony::start(ServerConfig {
        listen,
        advertise: None,
        engine,
        max_connections: 1024,
    })
    .await?)
}

/// The parent's side: the running child, stopped by PID when dropped.
#[derive(Debug)]
pub(crate) struct EngineProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub(crate) addr: SocketAddr,
}

/// The child's counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EngineStats {
    pub(crate) active_calls: u64,
    pub(crate) media_dropped: u64,
}

impl EngineProcess {
    pub(crate) fn start(media_ports: Option<(u16, u16)>) -> Result<EngineProcess> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("serve");
        if let Some((first, last)) = media_ports {
            command.args(["--media", &format!("{first}-{last}")]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the engine process")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the engine process has no pipes");
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("ready ") else {
            procs::stop(&mut child, Duration::from_secs(1));
            bail!("the engine process did not start: {line:?}");
        };
        let addr = addr.parse()?;
        Ok(EngineProcess {
            child,
            stdin: Some(stdin),
            stdout,
            addr,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stats(&mut self) -> Result<EngineStats> {
        let stdin = self.stdin.as_mut().context("engine process stopped")?;
        stdin.write_all(b"stats\n")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let mut stats = EngineStats::default();
        for pair in line.split_whitespace() {
            match pair.split_once('=') {
                Some(("active_calls", v)) => stats.active_calls = v.parse()?,
                Some(("media_dropped", v)) => stats.media_dropped = v.parse()?,
                _ => {}
            }
        }
        Ok(stats)
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; the signal makes sure.
        drop(self.stdin.take());
        procs::stop(&mut self.child, Duration::from_secs(2));
    }
}
