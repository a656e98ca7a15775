//! `hubd.toml` and `gatewayd.toml` as the tests write them: the formats of the daemons'
//! `config/tests.rs`, with timeouts short enough for tests to see reconnections in seconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::TlsFiles;

/// Both daemons: keepalives every second, a connection silent 3 s is dead.
const TRANSPORT: &str = "[transport]\nkeepalive = \"1s\"\nidle_timeout = \"3s\"\n";

/// One `[[service]]` of a hub.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: String,
    /// `"tcp"` or `"udp"`.
    pub protocol: &'static str,
    pub upstream: SocketAddr,
}

/// One `hubd` instance.
#[derive(Debug, Clone)]
pub struct HubSpec {
    pub hub_id: String,
    pub listen: SocketAddr,
    /// Admin endpoint, on loopback inside the hub's namespace.
    pub admin: SocketAddr,
    pub state_dir: PathBuf,
    pub tls: TlsFiles,
    pub services: Vec<ServiceSpec>,
    /// `[pki]`: the fleet PKI (enrollment, renewal, revocation, audit); `None` admits every
    /// certificate of the fleet CA.
    pub pki: Option<PkiSpec>,
    /// `[noc]`: the NOC API, on loopback inside the hub's namespace.
    pub noc: Option<NocSpec>,
}

/// A hub's `[pki]`, as `legatura ca init` lays the files out.
#[derive(Debug, Clone)]
pub struct PkiSpec {
    /// The software key store holding `fleet-issuing.key` and `audit-checkpoint.key`.
    pub keys_dir: PathBuf,
    pub issuing_cert: PathBuf,
    /// What gateways pin for the hub (the root).
    pub hub_ca: PathBuf,
    /// Shared by every hub instance of the fleet.
    pub fleet_dir: PathBuf,
    /// One per hub instance: the log is locked by the process appending to it.
    pub audit_log: PathBuf,
    /// humantime, e.g. `"24h"`.
    pub leaf_lifetime: String,
    /// humantime, e.g. `"14d"`.
    pub code_lifetime: String,
}

/// A hub's `[noc]`.
#[derive(Debug, Clone)]
pub struct NocSpec {
    pub listen: SocketAddr,
    /// The CA operator certificates chain to (the root).
    pub operator_ca: PathBuf,
}

/// One `[[listen]]` of a gateway.
#[derive(Debug, Clone)]
pub struct ListenSpec {
    pub service: String,
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
}

/// One `gatewayd` instance.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub hubs: Vec<SocketAddr>,
    /// Admin endpoint, on loopback inside the embassy's namespace.
    pub admin: SocketAddr,
    pub tls: TlsFiles,
    pub listeners: Vec<ListenSpec>,
    /// `[reconnect] handshake_timeout`; 1 s unless the link is slow.
    pub handshake_timeout: &'static str,
}

impl HubSpec {
    /// The file's text. Every service is open to every appliance of the fleet.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "hub_id = {}\nlisten = \"{}\"\nadmin = \"{}\"\nstate_dir = {}\ndrain_grace = \"5s\"\n\n",
            q(&self.hub_id),
            self.listen,
            self.admin,
            path(&self.state_dir)
        );
        out += &format!(
            "[tls]\nfleet_ca = {}\ncert = {}\nkey = {}\n\n{TRANSPORT}\n",
            path(&self.tls.ca),
            path(&self.tls.cert),
            path(&self.tls.key)
        );
        for s in &self.services {
            out += &format!(
                "[[service]]\nname = {}\nprotocol = \"{}\"\nupstream = \"{}\"\nallow = [\"*\"]\n\n",
                q(&s.name),
                s.protocol,
                s.upstream
            );
        }
        // After the array of tables: a table header ends its last element.
        if let Some(p) = &self.pki {
            out += &format!(
                "[pki]\nissuing_key = {}\nissuing_cert = {}\nhub_ca = {}\nfleet_dir = {}\n\
                 audit_log = {}\naudit_key = {}\nleaf_lifetime = {}\ncode_lifetime = {}\n\n",
                q(&format!(
                    "keystore:{}",
                    p.keys_dir.join("fleet-issuing.key").display()
                )),
                path(&p.issuing_cert),
                path(&p.hub_ca),
                path(&p.fleet_dir),
                path(&p.audit_log),
                q(&format!(
                    "keystore:{}",
                    p.keys_dir.join("audit-checkpoint.key").display()
                )),
                q(&p.leaf_lifetime),
                q(&p.code_lifetime),
            );
        }
        if let Some(n) = &self.noc {
            out += &format!(
                "[noc]\nlisten = \"{}\"\noperator_ca = {}\n\n",
                n.listen,
                path(&n.operator_ca)
            );
        }
        out
    }
}

impl GatewaySpec {
    /// The file's text; `server_name` is left at its default, `hub.legatura`.
    pub fn to_toml(&self) -> String {
        let hubs: Vec<String> = self.hubs.iter().map(|h| format!("\"{h}\"")).collect();
        let mut out = format!(
            "hubs = [{}]\nadmin = \"{}\"\n\n",
            hubs.join(", "),
            self.admin
        );
        out += &format!(
            "[tls]\nhub_ca = {}\ncert = {}\nkey = {}\n\n{TRANSPORT}\n",
            path(&self.tls.ca),
            path(&self.tls.cert),
            path(&self.tls.key)
        );
        out += &format!(
            "[reconnect]\nbackoff_cap = \"1s\"\nhandshake_timeout = \"{}\"\nwatchdog = \"1s\"\n\n",
            self.handshake_timeout
        );
        for l in &self.listeners {
            out += &format!("[[listen]]\nservice = {}\n", q(&l.service));
            if let Some(tcp) = l.tcp {
                out += &format!("tcp = \"{tcp}\"\n");
            }
            if let Some(udp) = l.udp {
                out += &format!("udp = \"{udp}\"\n");
            }
            out.push('\n');
        }
        out
    }
}

/// A TOML basic string (a JSON string is one).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn path(p: &Path) -> String {
    q(&p.to_string_lossy())
}
