//! The usual scene: a [`Net`] whose first host is the hub host, a fleet CA, the [`Upstream`]
//! on the hub host, and helpers to start hubs and gateways on it.
//!
//! Fixed addresses, all inside the topology's namespaces:
//! - hub host: upstream `127.0.0.1:7007` (TCP, service `echo`) and `127.0.0.1:7008` (UDP,
//!   service `uecho`); each hub's QUIC port on every address, its admin on `127.0.0.1`;
//! - embassy hosts: gatewayd's `echo` on `127.0.0.1:7000`, `uecho` on `127.0.0.1:7001/udp`,
//!   admin on `127.0.0.1:9101` (its default).

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{
    AppsSpec, Bin, ConsoleSpec, Daemon, Fleet, GatewaySpec, HubSpec, ListenSpec, Net, Noc, Output,
    PortalSpec, ServiceSpec, TlsFiles, Upstream, bin_path, http_get, request_line, run_bin, status,
};

/// The hub host's name in every lab.
pub const HUB_HOST: &str = "hub";

/// A topology with the fleet CA and the upstream ready.
#[derive(Debug)]
pub struct Lab {
    // Fields drop in order: the servers before the namespaces they live in.
    pub upstream: Upstream,
    pub fleet: Fleet,
    pub net: Net,
}

/// A `hubd` on the hub host.
#[derive(Debug)]
pub struct HubNode {
    pub daemon: Daemon,
    pub spec: HubSpec,
    pub name: String,
    ns: String,
    config: PathBuf,
    dir: PathBuf,
    starts: u32,
    /// Where gateways dial it.
    pub addr: SocketAddr,
}

/// A `gatewayd` on an embassy host.
#[derive(Debug)]
pub struct GatewayNode {
    pub daemon: Daemon,
    pub spec: GatewaySpec,
    pub host: String,
    pub ns: String,
    /// The gateway's local listener for the `echo` service.
    pub echo: SocketAddr,
    /// The gateway's local listener for the `uecho` service.
    pub uecho: SocketAddr,
    config: PathBuf,
    dir: PathBuf,
    starts: u32,
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

impl Lab {
    /// `hosts` besides [`HUB_HOST`], which is always created first (address `.1`).
    pub fn new(hosts: &[&str]) -> Result<Lab> {
        // Missing binaries fail the test before anything is set up.
        bin_path(Bin::Hubd);
        bin_path(Bin::Gatewayd);
        bin_path(Bin::Legatura);
        let mut all = vec![HUB_HOST];
        all.extend_from_slice(hosts);
        let net = Net::new(&all)?;
        let fleet = Fleet::new(net.dir())?;
        let upstream = Upstream::start(net.ns(HUB_HOST), local(7007), local(7008))?;
        Ok(Lab {
            upstream,
            fleet,
            net,
        })
    }

    /// The configuration of hub `name` (its id too) on `port`, admin on
    /// `127.0.0.1:<admin_port>`, state in `<dir>/<name>-state`, serving `echo` and `uecho` to
    /// every appliance, with a server certificate from the lab's fleet CA and no `[pki]`.
    pub fn hub_spec(&self, name: &str, port: u16, admin_port: u16) -> Result<HubSpec> {
        let dir = self.net.dir();
        Ok(HubSpec {
            hub_id: name.to_owned(),
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            admin: local(admin_port),
            state_dir: dir.join(format!("{name}-state")),
            tls: self.fleet.hub(name)?,
            services: vec![
                ServiceSpec {
                    name: "echo".into(),
                    protocol: "tcp",
                    upstream: self.upstream.tcp(),
                },
                ServiceSpec {
                    name: "uecho".into(),
                    protocol: "udp",
                    upstream: self.upstream.udp(),
                },
            ],
            pki: None,
            noc: None,
        })
    }

    /// As [`Lab::hub_spec`], but with the fleet PKI of `noc`: `[tls]` from `ca init` (the root
    /// as fleet CA, `hub.pem`/`hub.key`), `[pki]` with the fleet records in `<dir>/fleet`
    /// (shared by every hub of the lab), its own audit log `<dir>/<name>-audit.log`, leaves of
    /// 24 h and codes of 14 days (change them in `spec.pki`); with `noc_port`, the NOC API on
    /// `127.0.0.1:<noc_port>`, and the CLI pointed at it.
    pub fn pki_hub_spec(
        &self,
        name: &str,
        port: u16,
        admin_port: u16,
        noc: &Noc,
        noc_port: Option<u16>,
    ) -> Result<HubSpec> {
        let dir = self.net.dir();
        let mut spec = self.hub_spec(name, port, admin_port)?;
        spec.tls = noc.hub_tls();
        spec.pki = Some(noc.pki_spec(
            &dir.join("fleet"),
            &dir.join(format!("{name}-audit.log")),
            "24h",
            "14d",
        ));
        spec.noc = noc_port.map(|p| noc.noc_spec(local(p))).transpose()?;
        Ok(spec)
    }

    /// Starts hub `name` with [`Lab::hub_spec`].
    pub fn start_hub(&self, name: &str, port: u16, admin_port: u16) -> Result<HubNode> {
        let spec = self.hub_spec(name, port, admin_port)?;
        self.start_hub_with(name, spec)
    }

    /// Starts hub `name` on the hub host with `spec` (written to `<dir>/<name>.toml`).
    pub fn start_hub_with(&self, name: &str, spec: HubSpec) -> Result<HubNode> {
        let text = spec.to_toml();
        self.start_hub_text(name, spec, text)
    }

    /// The portal and the console of a hub with the fleet PKI of `noc`: one case store
    /// `<dir>/cases.db` shared by both, documents in `<dir>/attachments`, receipts signed with
    /// the key `ca init` made, the portal on every address of the hub host at `portal_port`,
    /// the console's tunnel side on `127.0.0.1:<console_port>`. No clamd: the portal scans
    /// uploads only, so a test that uploads must start one and set `portal.clamd`.
    pub fn apps_spec(&self, noc: &Noc, portal_port: u16, console_port: u16) -> AppsSpec {
        let dir = self.net.dir();
        let database = dir.join("cases.db");
        AppsSpec {
            portal: Some(PortalSpec {
                listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, portal_port)),
                database: database.clone(),
                attachments: dir.join("attachments"),
                clamd: dir.join("no-clamd.sock"),
                receipt_key: format!(
                    "keystore:{}",
                    noc.pki_dir().join("keys/receipt-signing.key").display()
                ),
            }),
            console: Some(ConsoleSpec {
                tunnel_listen: local(console_port),
                central_listen: None,
                database,
            }),
        }
    }

    /// As [`Lab::start_hub_with`], with `apps` after the hub's own configuration.
    pub fn start_hub_with_apps(
        &self,
        name: &str,
        spec: HubSpec,
        apps: &AppsSpec,
    ) -> Result<HubNode> {
        let text = spec.to_toml() + &apps.to_toml();
        self.start_hub_text(name, spec, text)
    }

    fn start_hub_text(&self, name: &str, spec: HubSpec, text: String) -> Result<HubNode> {
        let dir = self.net.dir().to_owned();
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, text).context("writing hubd.toml")?;
        let ns = self.net.ns(HUB_HOST).to_owned();
        let daemon = Daemon::start(&ns, Bin::Hubd, &config, &dir, name)?;
        let addr = SocketAddr::from((self.net.ip(HUB_HOST), spec.listen.port()));
        Ok(HubNode {
            daemon,
            spec,
            name: name.to_owned(),
            ns,
            config,
            dir,
            starts: 1,
            addr,
        })
    }

    /// A gateway configuration for `mission/appliance` (its certificate issued now) dialing
    /// `hubs`, with the `echo` and `uecho` listeners.
    pub fn gateway_spec(
        &self,
        mission: &str,
        appliance: &str,
        hubs: &[SocketAddr],
    ) -> Result<GatewaySpec> {
        Ok(GatewaySpec {
            hubs: hubs.to_vec(),
            admin: local(9101),
            tls: self.fleet.appliance(mission, appliance)?,
            listeners: vec![
                ListenSpec {
                    service: "echo".into(),
                    tcp: Some(local(7000)),
                    udp: None,
                },
                ListenSpec {
                    service: "uecho".into(),
                    tcp: None,
                    udp: Some(local(7001)),
                },
            ],
            handshake_timeout: "1s",
        })
    }

    /// A gateway configuration for an appliance that is not enrolled yet: it pins `hub_ca`
    /// (copied to `<dir>/<host>/hub-ca.pem`), and enrollment will write its key and certificate
    /// to `<dir>/<host>/tls.key` and `tls.cert`. Same listeners as [`Lab::gateway_spec`].
    pub fn enrolling_gateway_spec(
        &self,
        host: &str,
        hub_ca: &Path,
        hubs: &[SocketAddr],
    ) -> Result<GatewaySpec> {
        let dir = self.net.dir().join(host);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let pinned = dir.join("hub-ca.pem");
        std::fs::copy(hub_ca, &pinned).context("copying the hub CA to the embassy")?;
        Ok(GatewaySpec {
            hubs: hubs.to_vec(),
            admin: local(9101),
            tls: TlsFiles {
                ca: pinned,
                cert: dir.join("tls.cert"),
                key: dir.join("tls.key"),
            },
            listeners: vec![
                ListenSpec {
                    service: "echo".into(),
                    tcp: Some(local(7000)),
                    udp: None,
                },
                ListenSpec {
                    service: "uecho".into(),
                    tcp: None,
                    udp: Some(local(7001)),
                },
            ],
            handshake_timeout: "1s",
        })
    }

    /// Writes `spec` as `<dir>/gatewayd-<host>.toml`; returns the path.
    pub fn write_gateway_config(&self, host: &str, spec: &GatewaySpec) -> Result<PathBuf> {
        let config = self.net.dir().join(format!("gatewayd-{host}.toml"));
        std::fs::write(&config, spec.to_toml()).context("writing gatewayd.toml")?;
        Ok(config)
    }

    /// Runs `gatewayd --config … enroll CODE` on `host` to completion (it exits once enrolled
    /// or refused).
    pub fn gatewayd_enroll(&self, host: &str, spec: &GatewaySpec, code: &str) -> Result<Output> {
        let config = self.write_gateway_config(host, spec)?;
        run_bin(
            Some(self.net.ns(host)),
            Bin::Gatewayd,
            &[
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("enroll"),
                OsStr::new(code),
            ],
            Duration::from_secs(20),
        )
    }

    /// Starts `gatewayd` on `host` with `spec`.
    pub fn start_gateway(&self, host: &str, spec: GatewaySpec) -> Result<GatewayNode> {
        let dir = self.net.dir().to_owned();
        let config = self.write_gateway_config(host, &spec)?;
        let ns = self.net.ns(host).to_owned();
        let daemon = Daemon::start(&ns, Bin::Gatewayd, &config, &dir, &format!("gw-{host}"))?;
        let echo = spec
            .listeners
            .iter()
            .find_map(|l| l.tcp)
            .unwrap_or(local(7000));
        let uecho = spec
            .listeners
            .iter()
            .find_map(|l| l.udp)
            .unwrap_or(local(7001));
        Ok(GatewayNode {
            daemon,
            spec,
            host: host.to_owned(),
            ns,
            echo,
            uecho,
            config,
            dir,
            starts: 1,
        })
    }
}

/// Polls `/readyz` of a daemon until 200, failing at once if the daemon exits.
fn wait_ready(
    daemon: &mut Daemon,
    ns: &str,
    admin: SocketAddr,
    timeout: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let mut last = String::from("no answer");
    while started.elapsed() < timeout {
        daemon.check_running()?;
        match http_get(ns, admin, "/readyz") {
            Ok((200, _)) => return Ok(started.elapsed()),
            Ok((code, body)) => last = format!("{code} {}", body.trim()),
            Err(error) => last = format!("{error:#}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!(
        "{} not ready after {timeout:?}; /readyz: {last}",
        daemon.label()
    )
}

impl HubNode {
    /// Starts the same configuration and state directory again, once the old process is gone
    /// (kill or wait for it first). Logs go to `<name>.<n>.stderr`.
    pub fn restart(&mut self) -> Result<()> {
        if self.daemon.try_status()?.is_none() {
            bail!(
                "{} is still running; stop it before restarting",
                self.daemon.label()
            );
        }
        self.starts += 1;
        let label = format!("{}.{}", self.name, self.starts);
        // Replacing the field drops (and reaps) the old, exited process.
        self.daemon = Daemon::start(&self.ns, Bin::Hubd, &self.config, &self.dir, &label)?;
        Ok(())
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        wait_ready(&mut self.daemon, &self.ns, self.spec.admin, timeout)
    }

    /// The admitted appliances as `/status` lists them, `mission/appliance`, sorted.
    pub fn appliances(&self) -> Result<Vec<String>> {
        let doc = status(&self.ns, self.spec.admin)?;
        let rows = doc["appliances"]
            .as_array()
            .with_context(|| format!("no appliances in /status: {doc}"))?;
        let mut ids: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["mission"].as_str().unwrap_or("?"),
                    r["appliance"].as_str().unwrap_or("?")
                )
            })
            .collect();
        ids.sort();
        Ok(ids)
    }
}

impl GatewayNode {
    /// Starts the same configuration again, once the old process is gone (kill it first).
    /// Logs go to `gw-<host>.<n>.stderr`.
    pub fn restart(&mut self) -> Result<()> {
        if self.daemon.try_status()?.is_none() {
            bail!(
                "{} is still running; stop it before restarting",
                self.daemon.label()
            );
        }
        self.starts += 1;
        let label = format!("gw-{}.{}", self.host, self.starts);
        self.daemon = Daemon::start(&self.ns, Bin::Gatewayd, &self.config, &self.dir, &label)?;
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (an admitted tunnel is up).
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        wait_ready(&mut self.daemon, &self.ns, self.spec.admin, timeout)
    }

    /// Whether `/readyz` answers 200 right now.
    pub fn is_ready(&self) -> bool {
        matches!(http_get(&self.ns, self.spec.admin, "/readyz"), Ok((200, _)))
    }

    /// The admin `/status` document.
    pub fn status(&self) -> Result<serde_json::Value> {
        status(&self.ns, self.spec.admin)
    }

    /// One request through the tunnel on a new connection to the local `echo` listener.
    pub fn echo(&self, line: &str) -> Result<String> {
        request_line(&self.ns, self.echo, line)
    }
}
