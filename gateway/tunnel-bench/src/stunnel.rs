//! The like-for-like baseline: a stunnel4 pair doing what our tunnel does, TLS 1.3 with ECDSA
//! P-256 certificates from the same fixture PKI and client certificates required, one TCP
//! connection (and one TLS session) per forwarded connection.
//!
//! Both processes are children of this one, started from config files in the benchmark's
//! temporary directory and killed by PID when the pair is dropped, also on error.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::certs::PkiFiles;

/// Debian's stunnel4 binary.
const STUNNEL: &str = "/usr/bin/stunnel4";

/// Fails, naming the package, when stunnel4 is missing.
pub(crate) fn check_installed() -> Result<()> {
    if !Path::new(STUNNEL).exists() {
        bail!(
            "{STUNNEL} not found: the baseline tunnel is Debian's stunnel4. Install it with `apt-get install stunnel4` (or `cargo xtask deps`)"
        );
    }
    Ok(())
}

/// A running stunnel client (ingress) and server (egress); killed on drop.
#[derive(Debug)]
pub(crate) struct StunnelPair {
    children: Vec<Child>,
    /// Ingress for the sink service.
    pub(crate) sink: SocketAddr,
    /// Ingress for the echo service.
    pub(crate) echo: SocketAddr,
}

impl StunnelPair {
    /// The PIDs of both stunnel processes.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for StunnelPair {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Child::kill sends SIGKILL to this child's PID and nothing else.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Options both ends share: TLS 1.3 only, the fleet CA, the chain verified, no delay on the
/// plaintext or TLS sockets (as our tunnel sets TCP_NODELAY), no waiting on close.
const COMMON: &str = "\
sslVersion = TLSv1.3
verifyChain = yes
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
TIMEOUTclose = 0
";

impl StunnelPair {
    /// Starts the pair in front of `sink` and `echo`, and waits until both ends accept.
    pub(crate) fn start(
        files: &PkiFiles,
        dir: &Path,
        sink: SocketAddr,
        echo: SocketAddr,
    ) -> Result<Self> {
        let (server_sink, server_echo, client_sink, client_echo) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let ca = files.ca.display();
        let server = format!(
            "foreground = yes\npid = {pid}\nsyslog = no\ndebug = 3\n\n\
             [sink]\naccept = {server_sink}\nconnect = {sink}\n{keys}\n\
             [echo]\naccept = {server_echo}\nconnect = {echo}\n{keys}",
            pid = dir.join("stunnel-server.pid").display(),
            keys = format!(
                "cert = {}\nkey = {}\nCAfile = {ca}\nrequireCert = yes\n{COMMON}",
                files.hub_cert.display(),
                files.hub_key.display()
            ),
        );
        let client = format!(
            "foreground = yes\npid = {pid}\nsyslog = no\ndebug = 3\n\n\
             [sink]\nclient = yes\naccept = {client_sink}\nconnect = {server_sink}\n{keys}\n\
             [echo]\nclient = yes\naccept = {client_echo}\nconnect = {server_echo}\n{keys}",
            pid = dir.join("stunnel-client.pid").display(),
            keys = format!(
                "cert = {}\nkey = {}\nCAfile = {ca}\ncheckHost = {}\n{COMMON}",
                files.appliance_cert.display(),
                files.appliance_key.display(),
                pki::fixture::HUB_DNS_NAME
            ),
        );
        let mut pair = Self {
            children: Vec::new(),
            sink: client_sink,
            echo: client_echo,
        };
        for (name, config, ports) in [
            ("server", server, [server_sink, server_echo]),
            ("client", client, [client_sink, client_echo]),
        ] {
            let path = dir.join(format!("stunnel-{name}.conf"));
            std::fs::write(&path, config)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let log_path = dir.join(format!("stunnel-{name}.log"));
            let log = std::fs::File::create(&log_path)
                .with_context(|| format!("cannot create {}", log_path.display()))?;
            let child = Command::new(STUNNEL)
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start {STUNNEL}"))?;
            pair.children.push(child);
            for port in ports {
                wait_accepting(port, pair.children.last_mut(), &log_path)
                    .with_context(|| format!("stunnel {name}"))?;
            }
        }
        Ok(pair)
    }
}

/// A port nobody listens on now. The namespace is ours alone, so nobody takes it before
/// stunnel binds it.
fn free_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

fn wait_accepting(addr: SocketAddr, child: Option<&mut Child>, log: &Path) -> Result<()> {
    let Some(child) = child else {
        bail!("no process")
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!(
                "exited ({status}) before accepting on {addr}:\n{}",
                text.trim()
            );
        }
        if Instant::now() > deadline {
            bail!("not accepting on {addr} after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
