//! The real binaries on loopback: building them, `legatura up`, extra gateways, and the small
//! HTTP client that watches them. Every process started here is owned by a [`Daemon`], which
//! stops it by PID when dropped, so an error anywhere still tears everything down.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::progress;

/// How long `legatura up` may take to print its banner.
const UP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a gateway may take from its start to `/readyz` answering 200.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a daemon may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The workspace root (see [`benchkit::workspace_root`]).
pub(crate) fn workspace_root() -> Result<PathBuf> {
    Ok(benchkit::workspace_root()?)
}

/// Cargo's target directory (see [`benchkit::target_dir`]).
pub(crate) fn target_dir() -> Result<PathBuf> {
    Ok(benchkit::target_dir()?)
}

/// The release binaries of `legatura` and `gatewayd`.
#[derive(Debug)]
pub(crate) struct Binaries {
    pub(crate) legatura: PathBuf,
    pub(crate) gatewayd: PathBuf,
}

impl Binaries {
    /// `cargo build --release -p legatura -p gatewayd` (quick when they are up to date).
    pub(crate) fn build() -> Result<Self> {
        progress!("building the release binaries of legatura and gatewayd");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "legatura",
                "-p",
                "gatewayd",
            ])
            .current_dir(workspace_root()?)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release -p legatura -p gatewayd failed ({status})");
        }
        let release = target_dir()?.join("release");
        let binaries = Self {
            legatura: release.join("legatura"),
            gatewayd: release.join("gatewayd"),
        };
        for path in [&binaries.legatura, &binaries.gatewayd] {
            if !path.exists() {
                bail!("{} is missing after the build", path.display());
            }
        }
        Ok(binaries)
    }

    /// `legatura fleet enroll`: a one-time code for `mission/appliance`, from the hub whose
    /// operator credentials are in `data`.
    pub(crate) fn enrollment_code(
        &self,
        data: &Path,
        mission: &str,
        appliance: &str,
    ) -> Result<String> {
        let out = Command::new(&self.legatura)
            .args(["fleet", "enroll", "--data"])
            .arg(data)
            .args(["--mission", mission, "--appliance", appliance])
            .output()
            .context("running legatura fleet enroll")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "legatura fleet enroll {mission}/{appliance} failed ({}): {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The code is the last line printed, indented on its own.
        stdout
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_owned)
            .with_context(|| format!("no code in the output of legatura fleet enroll: {stdout}"))
    }
}

/// A child process stopped when dropped: SIGTERM, then SIGKILL after [`STOP_GRACE`].
#[derive(Debug)]
pub(crate) struct Daemon {
    name: String,
    child: Child,
    log: Option<PathBuf>,
}

impl Daemon {
    pub(crate) fn spawn(name: &str, command: &mut Command, log: Option<&Path>) -> Result<Self> {
        if let Some(path) = log {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            command.stderr(file);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.map(Path::to_path_buf),
        })
    }

    /// Fails naming the daemon and the end of its log if it has exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its log ends:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    pub(crate) fn log_tail(&self) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return "(no log)".into();
        };
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        progress!(
            "{} ignored SIGTERM for {STOP_GRACE:?}; killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `legatura up`: a hub and its enrolled demo gateway, with the data directory the CLI uses.
#[derive(Debug)]
pub(crate) struct Up {
    pub(crate) data: PathBuf,
    /// Whether the banner said the demo gateway's tunnel was up.
    pub(crate) demo_ready: bool,
    daemon: Daemon,
}

impl Up {
    /// Starts `legatura up --data DATA --port-base P` and waits for "Press Ctrl-C".
    pub(crate) fn start(binaries: &Binaries, data: &Path) -> Result<Self> {
        let base = free_port_base()?;
        progress!("starting legatura up (ports {base}…{})", base + 5);
        let mut command = Command::new(&binaries.legatura);
        command
            .args(["up", "--data"])
            .arg(data)
            .args(["--port-base", &base.to_string()])
            .stdout(Stdio::piped());
        let log = data.with_extension("log");
        let mut daemon = Daemon::spawn("legatura up", &mut command, Some(&log))?;
        let stdout = daemon.child.stdout.take().context("no stdout")?;
        let (tx, lines) = mpsc::channel();
        // Keeps reading for as long as `up` runs, so its stdout never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + UP_TIMEOUT;
        let mut printed = String::new();
        loop {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let done = line.contains("Press Ctrl-C");
                    printed.push_str(&line);
                    printed.push('\n');
                    if done {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => daemon.check_running()?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    daemon.check_running()?;
                    bail!("legatura up closed its output before the banner: {printed}");
                }
            }
            if Instant::now() > deadline {
                bail!("legatura up printed no banner within {UP_TIMEOUT:?}: {printed}");
            }
        }
        Ok(Self {
            data: data.to_path_buf(),
            demo_ready: printed.contains("Legătura is up."),
            daemon,
        })
    }

    /// Fails if `up` has exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        self.daemon.check_running()
    }

    /// The configuration of the demo gateway, the model for the others.
    fn gateway_dir(&self) -> PathBuf {
        self.data.join("gateway")
    }
}

/// A gateway of its own: a directory with its configuration (the demo gateway's, with new
/// ports and its own key, certificate and copy of the pinned hub CA) and its ports.
#[derive(Debug)]
pub(crate) struct GatewayFiles {
    pub(crate) config: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) admin_port: u16,
    pub(crate) listen_port: u16,
}

impl GatewayFiles {
    /// Copies the demo gateway's `gatewayd.toml` into `dir`, changing the admin address, the
    /// `status` listener and the TLS paths, and copies `hub-ca.pem` beside it.
    pub(crate) fn create(up: &Up, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let model = up.gateway_dir();
        let model_config = model.join("gatewayd.toml");
        let text = std::fs::read_to_string(&model_config)
            .with_context(|| format!("reading {}", model_config.display()))?;
        let mut config: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", model_config.display()))?;
        let (admin_port, listen_port) = (free_tcp_port()?, free_tcp_port()?);
        config.insert("admin".into(), format!("127.0.0.1:{admin_port}").into());
        let mut tls = toml::Table::new();
        tls.insert("hub_ca".into(), "hub-ca.pem".into());
        tls.insert("cert".into(), "gateway.pem".into());
        tls.insert("key".into(), "gateway.key".into());
        config.insert("tls".into(), tls.into());
        let mut status = toml::Table::new();
        status.insert("service".into(), "status".into());
        status.insert("tcp".into(), format!("127.0.0.1:{listen_port}").into());
        config.insert("listen".into(), vec![toml::Value::from(status)].into());
        let path = dir.join("gatewayd.toml");
        std::fs::write(&path, toml::to_string(&config)?)
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::copy(model.join("hub-ca.pem"), dir.join("hub-ca.pem"))
            .context("copying the pinned hub CA")?;
        Ok(Self {
            config: path,
            dir: dir.to_path_buf(),
            admin_port,
            listen_port,
        })
    }

    /// `gatewayd --config … enroll CODE`, to completion.
    pub(crate) fn enroll(&self, binaries: &Binaries, code: &str) -> Result<()> {
        let log = self.dir.join("enroll.log");
        let out = Command::new(&binaries.gatewayd)
            .arg("--config")
            .arg(&self.config)
            .args(["enroll", code])
            .stderr(std::fs::File::create(&log)?)
            .output()
            .context("running gatewayd enroll")?;
        if !out.status.success() {
            bail!(
                "gatewayd enroll failed ({}): {}",
                out.status,
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Starts `gatewayd --config …`.
    pub(crate) fn start(&self, binaries: &Binaries, name: &str) -> Result<Daemon> {
        let mut command = Command::new(&binaries.gatewayd);
        command
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null());
        Daemon::spawn(name, &mut command, Some(&self.dir.join("gatewayd.log")))
    }

    /// Polls `/readyz` every 10 ms until it answers 200; fails if the daemon exits or
    /// [`READY_TIMEOUT`] passes.
    pub(crate) fn wait_ready(&self, daemon: &mut Daemon) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if readyz(self.admin_port) == Some(200) {
                return Ok(());
            }
            daemon.check_running()?;
            if Instant::now() > deadline {
                bail!(
                    "gatewayd was not ready within {READY_TIMEOUT:?}; its log ends:\n{}",
                    daemon.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running gateway with its files; stopped when dropped.
#[derive(Debug)]
pub(crate) struct RunningGateway {
    pub(crate) files: GatewayFiles,
    pub(crate) daemon: Daemon,
}

impl RunningGateway {
    /// Whether the daemon still runs and its `/readyz` answers 200.
    pub(crate) fn is_ready(&mut self) -> bool {
        self.daemon.check_running().is_ok() && readyz(self.files.admin_port) == Some(200)
    }
}

/// The status code of `GET /readyz` on the admin port, `None` if there was no HTTP answer.
pub(crate) fn readyz(admin_port: u16) -> Option<u16> {
    http_get(admin_port, "/readyz", Duration::from_secs(1)).ok()
}

/// `GET path` on 127.0.0.1:`port`, one connection, returning the status code.
pub(crate) fn http_get(port: u16, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let head = String::from_utf8_lossy(&response[..response.len().min(32)]).into_owned();
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))
}

/// A TCP port free on loopback now.
fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A base for `legatura up --port-base`: twelve consecutive ports, the first free for UDP (QUIC)
/// and the others for TCP (and SIP over UDP).
fn free_port_base() -> Result<u16> {
    let seed = std::process::id();
    for attempt in 0..100u32 {
        let offset = seed.wrapping_add(attempt.wrapping_mul(7919)) % 30_000;
        let Ok(base) = u16::try_from(20_000 + offset) else {
            continue;
        };
        // QUIC at the base, SIP at base+11 (with TCP) and the gateway's SIP at base+12.
        let udp_free = [0, 11, 12]
            .iter()
            .all(|i| UdpSocket::bind(("127.0.0.1", base + i)).is_ok());
        let tcp_free = (1..12).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if udp_free && tcp_free {
            return Ok(base);
        }
    }
    bail!("found no thirteen consecutive free ports for legatura up")
}
