//! A hub in its own process (`tunnel-bench hub`) facing many simulated appliances: how many it
//! holds and at what RSS each, and how fast they return after it is SIGKILLed and restarted.
//!
//! The child prints `port N` once it listens, then `conns N` whenever the number of admitted
//! connections changes; its RSS is read from `/proc/PID/status`. The appliances are
//! `tunnel::Gateway`s in this process, each with its own certificate, endpoint and UDP socket.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::runtime::Runtime;
use tunnel::{Credentials, Gateway, Hub, HubConfig, Metrics, ServiceTable};

use crate::certs::PkiFiles;
use crate::{pair, progress};

/// Keepalive of the idle fleet (the G4 profile).
pub(crate) const FLEET_KEEPALIVE: Duration = Duration::from_secs(10);
/// Keepalive and watchdog of the reconnecting appliances (the test profile of G5).
pub(crate) const STORM_KEEPALIVE: Duration = Duration::from_secs(1);
/// Idle timeout of the reconnecting appliances: the gateway's default.
pub(crate) const STORM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the reconnect storm may take before it is reported as unfinished.
const STORM_DEADLINE: Duration = Duration::from_secs(45);
/// Appliances started together; each batch is admitted before the next starts, so this
/// measures holding, not a storm.
const BATCH: usize = 100;
/// Stateless-reset key the restarted hub shares with the killed one.
const RESET_KEY: [u8; 32] = [0x5a; 32];

/// Raises the soft open-file limit to the hard one; fails if that is below `needed`.
pub(crate) fn raise_nofile(needed: usize) -> Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit(RLIMIT_NOFILE)")?;
    }
    if hard < needed as u64 {
        bail!(
            "the open-file limit is {hard}; {needed} appliances need at least {needed} (raise `ulimit -Hn`)"
        );
    }
    Ok(())
}

/// `tunnel-bench hub --pki DIR [--port N] [--reset-key HEX]`.
pub(crate) fn hub_main(args: &[String]) -> Result<()> {
    let (mut pki, mut port, mut reset_key) = (None, 0u16, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--pki" => pki = Some(Path::new(value).to_owned()),
            "--port" => port = value.parse().context("--port")?,
            "--reset-key" => reset_key = Some(parse_key(value)?),
            _ => bail!("unknown flag {flag}"),
        }
    }
    let pki = pki.context("--pki DIR is required")?;
    crate::init_logs();
    let creds = Credentials::from_files(
        &pki.join("ca.pem"),
        &pki.join("hub.pem"),
        &pki.join("hub.key"),
    )
    .context("hub credentials")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(async {
        let mut config = HubConfig::new(
            ([127, 0, 0, 1], port).into(),
            creds,
            ServiceTable::default(),
        );
        config.reset_key = reset_key;
        let metrics = Metrics::default();
        let hub = Hub::bind(config, metrics.clone()).context("cannot start the hub")?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "port {}", hub.local_addr()?.port())?;
        out.flush()?;
        let mut last = -1;
        loop {
            let now = metrics.connections.get();
            if now != last {
                writeln!(out, "conns {now}")?;
                out.flush()?;
                last = now;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

fn parse_key(hex: &str) -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        bail!("--reset-key takes 64 hex digits");
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("--reset-key is not hex")?;
    }
    Ok(key)
}

/// The hub child process; SIGKILLed on drop.
#[derive(Debug)]
struct HubChild {
    child: Child,
    addr: SocketAddr,
    conns: Arc<AtomicI64>,
}

impl HubChild {
    fn spawn(pki: &Path, port: u16) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program's executable")?;
        let key: String = RESET_KEY.iter().map(|b| format!("{b:02x}")).collect();
        let mut child = Command::new(exe)
            .args([
                "hub",
                "--port",
                &port.to_string(),
                "--reset-key",
                &key,
                "--pki",
            ])
            .arg(pki)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the hub process")?;
        let mut stdout = BufReader::new(child.stdout.take().context("hub process has no stdout")?);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .context("cannot read from the hub process")?;
        let Some(port) = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the hub process did not start (it said {:?})", line.trim());
        };
        let conns = Arc::new(AtomicI64::new(0));
        let seen = conns.clone();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("conns ").and_then(|n| n.parse().ok()) {
                    seen.store(n, Ordering::Release);
                }
            }
        });
        Ok(Self {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            conns,
        })
    }

    fn conns(&self) -> i64 {
        self.conns.load(Ordering::Acquire)
    }

    fn rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no VmRSS in {path}"))
    }

    /// SIGKILL, then reap, so the port is free when this returns.
    fn kill(&mut self) -> Result<()> {
        self.child.kill().context("cannot kill the hub process")?;
        self.child.wait().context("cannot reap the hub process")?;
        Ok(())
    }
}

impl Drop for HubChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts one gateway per credential in batches of [`BATCH`]; returns them once each batch is
/// admitted, or fails naming how many were not.
fn connect_fleet(
    rt: &Runtime,
    hub: &HubChild,
    creds: &[Credentials],
    keepalive: Duration,
    idle: Duration,
) -> Result<Vec<Gateway>> {
    let mut gateways = Vec::with_capacity(creds.len());
    for batch in creds.chunks(BATCH) {
        let started: Vec<Gateway> = batch
            .iter()
            .map(|c| {
                let mut config = pair::gateway_config(hub.addr, c.clone());
                config.transport.keepalive = keepalive;
                config.watchdog_interval = keepalive;
                config.transport.idle_timeout = idle;
                let gateway =
                    Gateway::new(config, Metrics::default()).context("cannot create a gateway")?;
                gateway.start();
                Ok(gateway)
            })
            .collect::<Result<_>>()?;
        let ready = rt.block_on(async {
            let mut ready = 0;
            for g in &started {
                ready += usize::from(g.wait_ready(Duration::from_secs(20)).await);
            }
            ready
        });
        gateways.extend(started);
        if ready < batch.len() {
            shutdown(rt, gateways);
            bail!(
                "only {ready} of a batch of {} appliances were admitted within 20 s",
                batch.len()
            );
        }
    }
    Ok(gateways)
}

fn shutdown(rt: &Runtime, gateways: Vec<Gateway>) {
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for g in gateways {
            tasks.spawn(async move { g.shutdown().await });
        }
        while tasks.join_next().await.is_some() {}
    });
}

fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    f()
}

/// What the idle fleet cost.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) held: i64,
    pub(crate) kib_per_connection: f64,
    pub(crate) rss_before_kib: u64,
    pub(crate) rss_after_kib: u64,
    pub(crate) connect_s: f64,
}

/// Connects every appliance of `creds` to a fresh hub process and measures its RSS.
pub(crate) fn held(rt: &Runtime, files: &PkiFiles, creds: &[Credentials]) -> Result<Held> {
    let hub = HubChild::spawn(&files.dir, 0)?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_before_kib = hub.rss_kib()?;
    let start = Instant::now();
    let gateways = connect_fleet(
        rt,
        &hub,
        creds,
        FLEET_KEEPALIVE,
        tunnel::TransportSettings::default().idle_timeout,
    )?;
    let connect_s = start.elapsed().as_secs_f64();
    let all = wait_until(Duration::from_secs(10), || {
        hub.conns() >= creds.len() as i64
    });
    // Let the first keepalives, watchdog pings and statistics samples pass.
    std::thread::sleep(Duration::from_secs(6));
    let held = hub.conns();
    let rss_after_kib = hub.rss_kib()?;
    if !all {
        progress!(
            "  the hub admitted only {held} of {} appliances",
            creds.len()
        );
    }
    let ready = gateways.iter().filter(|g| g.is_ready()).count();
    progress!(
        "  {held} held by the hub, {ready} gateways ready; hub RSS {rss_before_kib} → {rss_after_kib} KiB"
    );
    shutdown(rt, gateways);
    let kib_per_connection =
        (rss_after_kib.saturating_sub(rss_before_kib)) as f64 / held.max(1) as f64;
    Ok(Held {
        held,
        kib_per_connection,
        rss_before_kib,
        rss_after_kib,
        connect_s,
    })
}

/// How the storm went.
#[derive(Debug)]
pub(crate) struct Storm {
    pub(crate) from_restart_s: f64,
    pub(crate) from_kill_s: f64,
    pub(crate) reconnected: usize,
}

/// Connects `creds` with a 1 s keepalive and watchdog, SIGKILLs the hub, restarts it at once
/// on the same port with the same reset key, and times until every appliance is admitted by
/// the new process.
pub(crate) fn reconnect(rt: &Runtime, files: &PkiFiles, creds: &[Credentials]) -> Result<Storm> {
    let mut hub = HubChild::spawn(&files.dir, 0)?;
    let port = hub.addr.port();
    let gateways = connect_fleet(rt, &hub, creds, STORM_KEEPALIVE, STORM_IDLE_TIMEOUT)?;
    if !wait_until(Duration::from_secs(10), || {
        hub.conns() >= creds.len() as i64
    }) {
        bail!(
            "the hub admitted {} of {} appliances",
            hub.conns(),
            creds.len()
        );
    }
    std::thread::sleep(Duration::from_secs(2));

    let killed = Instant::now();
    hub.kill()?;
    let restarted = Instant::now();
    let hub = HubChild::spawn(&files.dir, port).context("restarting the hub on the same port")?;
    // Back means admitted by the new process: a link younger than the restart.
    let back =
        |g: &Gateway| g.is_ready() && g.status().up_for.is_some_and(|up| up < restarted.elapsed());
    let all = wait_until(STORM_DEADLINE, || {
        hub.conns() >= creds.len() as i64 && gateways.iter().all(back)
    });
    let (from_restart_s, from_kill_s) = (
        restarted.elapsed().as_secs_f64(),
        killed.elapsed().as_secs_f64(),
    );
    let reconnected = gateways.iter().filter(|g| back(g)).count();
    shutdown(rt, gateways);
    if !all {
        progress!(
            "  only {reconnected} of {} appliances came back within {} s",
            creds.len(),
            STORM_DEADLINE.as_secs()
        );
        return Ok(Storm {
            from_restart_s: f64::NAN,
            from_kill_s: f64::NAN,
            reconnected,
        });
    }
    progress!(
        "  {reconnected} back {from_restart_s:.3} s after the restart ({from_kill_s:.3} s after the kill)"
    );
    Ok(Storm {
        from_restart_s,
        from_kill_s,
        reconnected,
    })
}
