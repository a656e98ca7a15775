//! `hubd.toml`. A typo fails closed, naming the key; keys and certificates are referenced by
//! path, never inlined.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{ConfigError, TransportSection};
use serde::Deserialize;
use tunnel::{AllowRule, Protocol, Service, ServiceName, ServiceTable, Upstream};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The name this hub gives itself to gateways and in logs.
    #[serde(default = "default_hub_id")]
    pub hub_id: String,
    /// QUIC listen address.
    pub listen: SocketAddr,
    /// Local admin endpoint (`/readyz`, `/metrics`, `/status`); keep it on loopback.
    #[serde(default = "default_admin")]
    pub admin: SocketAddr,
    /// Where the hub keeps its state (the stateless-reset key).
    pub state_dir: PathBuf,
    pub tls: Tls,
    #[serde(default)]
    pub transport: TransportSection,
    #[serde(default)]
    pub limits: Limits,
    /// Time in-flight streams get to finish on SIGTERM.
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub drain_grace: Duration,
    /// The built-in status page, offered to gateways as an ordinary service.
    pub status_page: Option<StatusPage>,
    /// Fleet PKI: issuing CA, enrollment, renewal, revocation, audit. Without it the hub
    /// admits every certificate of its fleet CA and enrols nobody.
    pub pki: Option<PkiSection>,
    /// The NOC API (mutual TLS with operator certificates).
    pub noc: Option<NocSection>,
    /// The citizens' portal and the case store behind it.
    pub portal: Option<PortalSection>,
    /// The agents' console (needs `[pki]` for its audit log).
    pub console: Option<ConsoleSection>,
    /// The e-mail channel: SMTP in, the outbox worker out.
    pub mail: Option<MailSection>,
    /// The telephony bridge: SIP registrar and B2BUA (docs/telephony.md).
    pub telephony: Option<TelephonySection>,
    /// Services gateways may reach, by name. Default deny.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceEntry>,
    /// `[sandbox]`: the confinement after start-up (docs/hardening.md).
    #[serde(default)]
    pub sandbox: sandbox::Settings,
}

/// `[tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The fleet CA: appliance certificates must chain to it.
    pub fleet_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_concurrent_handshakes: usize,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub flow_idle_timeout: Duration,
    pub max_flows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_handshakes: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            flow_idle_timeout: Duration::from_secs(120),
            max_flows: 1024,
        }
    }
}

/// `[pki]`. Keys are referenced (`keystore:DIR/ROLE.key` or `pkcs11:token=…;object=…`),
/// never inlined.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiSection {
    /// The issuing CA's key (role fleet-issuing).
    pub issuing_key: String,
    /// The issuing CA's certificate.
    pub issuing_cert: PathBuf,
    /// The CA gateways pin for the hub, handed over at enrollment.
    pub hub_ca: PathBuf,
    /// Where the fleet's records live (shared by hub instances on one host).
    pub fleet_dir: PathBuf,
    /// The hash-chained audit log.
    pub audit_log: PathBuf,
    /// The audit-checkpoint key.
    pub audit_key: String,
    #[serde(default = "default_leaf", with = "humantime_serde")]
    pub leaf_lifetime: Duration,
    #[serde(default = "default_code", with = "humantime_serde")]
    pub code_lifetime: Duration,
}

fn default_leaf() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_code() -> Duration {
    Duration::from_secs(14 * 86_400)
}

/// `[portal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSection {
    /// Where citizens' browsers (through the ministry's front proxy) reach the portal.
    pub listen: SocketAddr,
    /// The case store (SQLite file).
    pub database: PathBuf,
    /// Where documents are kept, content-addressed.
    pub attachments: PathBuf,
    /// clamd's Unix socket.
    pub clamd: PathBuf,
    /// The receipt-signing key (`keystore:…` or `pkcs11:…`).
    pub receipt_key: String,
    /// How long a new live chat waits for an agent before the citizen is told that the answer
    /// comes by e-mail or on the status page.
    #[serde(default = "default_chat_wait", with = "humantime_serde")]
    pub chat_wait: Duration,
}

fn default_chat_wait() -> Duration {
    Duration::from_secs(120)
}

/// `[console]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// Where the tunnel's console service delivers (its `[[service]]` upstream, with
    /// `proxy_protocol = true`). Loopback only: whoever reaches it could claim any appliance.
    pub tunnel_listen: SocketAddr,
    /// The central network's listener, if the central centre uses this hub directly.
    pub central_listen: Option<SocketAddr>,
    /// The case store (the same file as `portal.database` to work on the portal's cases).
    pub database: PathBuf,
    /// The central contact centre's consulate id.
    #[serde(default = "default_central")]
    pub central_consulate: String,
    #[serde(default = "default_idle", with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(default = "default_absolute", with = "humantime_serde")]
    pub absolute_timeout: Duration,
    /// Mark session cookies `Secure` (a TLS terminator in front of the console).
    #[serde(default)]
    pub secure_cookies: bool,
}

fn default_central() -> String {
    "ro-ccscrs".to_owned()
}
fn default_idle() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_absolute() -> Duration {
    Duration::from_secs(8 * 3600)
}

/// `[noc]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocSection {
    pub listen: SocketAddr,
    /// CA that operator certificates chain to.
    pub operator_ca: PathBuf,
}

/// `[status_page]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    pub listen: SocketAddr,
}

/// `[[service]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub name: String,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// `host:port` of the upstream, or `"routed"` (udp only): each datagram goes where the
    /// telephony bridge's router says (docs/tunnel.md, *Routed services*).
    pub upstream: String,
    /// Who may use it: `*`, `mission/*`, `mission/appliance`, `*/appliance`. Empty: nobody.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Write a PROXY protocol v2 header naming the appliance before the first byte (TCP only;
    /// the upstream must listen on loopback, see docs/tunnel.md).
    #[serde(default)]
    pub proxy_protocol: bool,
}

fn default_hub_id() -> String {
    "hub".to_owned()
}
fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9100))
}
fn default_grace() -> Duration {
    Duration::from_secs(30)
}
fn default_protocol() -> String {
    "tcp".to_owned()
}

impl Config {
    /// Parses and checks a configuration; paths stay as written.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = daemon::config::parse(text, origin)?;
        config.transport.validate(origin)?;
        config.service_table(origin)?;
        if let Some(pki) = &config.pki {
            for (key, value) in [
                ("pki.issuing_key", &pki.issuing_key),
                ("pki.audit_key", &pki.audit_key),
            ] {
                value
                    .parse::<keys::KeyRef>()
                    .map_err(|e| ConfigError::invalid(origin, key, e))?;
            }
        }
        if let Some(portal) = &config.portal {
            portal
                .receipt_key
                .parse::<keys::KeyRef>()
                .map_err(|e| ConfigError::invalid(origin, "portal.receipt_key", e))?;
        }
        if let Some(mail) = &config.mail {
            mail.check(origin)?;
        }
        if let Some(telephony) = &config.telephony {
            telephony.check(origin)?;
        }
        if let Some(console) = &config.console {
            if config.pki.is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    "console",
                    "needs [pki]: every change is written to its audit log",
                ));
            }
            if !console.tunnel_listen.ip().is_loopback() {
                return Err(ConfigError::invalid(
                    origin,
                    "console.tunnel_listen",
                    "must be a loopback address: whoever reaches it could claim any appliance",
                ));
            }
            if casestore::ConsulateId::new(&console.central_consulate).is_err() {
                return Err(ConfigError::invalid(
                    origin,
                    "console.central_consulate",
                    "is not a consulate id",
                ));
            }
            if console.idle_timeout.is_zero() || console.absolute_timeout < console.idle_timeout {
                return Err(ConfigError::invalid(
                    origin,
                    "console.absolute_timeout",
                    "must be at least console.idle_timeout, which must not be zero",
                ));
            }
        }
        if config.limits.max_concurrent_handshakes == 0 {
            return Err(ConfigError::invalid(
                origin,
                "limits.max_concurrent_handshakes",
                "must be at least 1",
            ));
        }
        Ok(config)
    }

    /// Loads a file; relative paths in it are taken relative to the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (text, origin) = daemon::config::read(path)?;
        let mut config = Self::parse(&text, &origin)?;
        for p in [
            &mut config.tls.fleet_ca,
            &mut config.tls.cert,
            &mut config.tls.key,
            &mut config.state_dir,
        ] {
            *p = daemon::config::relative_to(path, p);
        }
        if let Some(pki) = &mut config.pki {
            for p in [
                &mut pki.issuing_cert,
                &mut pki.hub_ca,
                &mut pki.fleet_dir,
                &mut pki.audit_log,
            ] {
                *p = daemon::config::relative_to(path, p);
            }
            for k in [&mut pki.issuing_key, &mut pki.audit_key] {
                if let Some(rest) = k.strip_prefix("keystore:") {
                    *k = format!(
                        "keystore:{}",
                        daemon::config::relative_to(path, std::path::Path::new(rest)).display()
                    );
                }
            }
        }
        if let Some(portal) = &mut config.portal {
            for p in [
                &mut portal.database,
                &mut portal.attachments,
                &mut portal.clamd,
            ] {
                *p = daemon::config::relative_to(path, p);
            }
            if let Some(rest) = portal.receipt_key.strip_prefix("keystore:") {
                portal.receipt_key = format!(
                    "keystore:{}",
                    daemon::config::relative_to(path, std::path::Path::new(rest)).display()
                );
            }
        }
        if let Some(console) = &mut config.console {
            console.database = daemon::config::relative_to(path, &console.database);
        }
        if let Some(noc) = &mut config.noc {
            noc.operator_ca = daemon::config::relative_to(path, &noc.operator_ca);
        }
        if let Some(mail) = &mut config.mail {
            mail.resolve(path);
        }
        if let Some(telephony) = &mut config.telephony {
            telephony.resolve(path);
        }
        let s = &mut config.sandbox;
        for p in s.read_only.iter_mut().chain(s.read_write.iter_mut()) {
            *p = daemon::config::relative_to(path, p);
        }
        Ok(config)
    }

    /// The validated service table.
    pub fn service_table(&self, origin: &str) -> Result<ServiceTable, ConfigError> {
        let mut services = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            let key = |field: &str| format!("service[{i}].{field}");
            let name = ServiceName::new(&s.name)
                .map_err(|e| ConfigError::invalid(origin, &key("name"), e))?;
            let protocol = match s.protocol.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => {
                    return Err(ConfigError::invalid(
                        origin,
                        &key("protocol"),
                        format!("{other:?}: use \"tcp\" or \"udp\""),
                    ));
                }
            };
            let upstream = Upstream::parse(&s.upstream);
            match &upstream {
                Upstream::Routed if protocol != Protocol::Udp => {
                    return Err(ConfigError::invalid(
                        origin,
                        &key("upstream"),
                        "\"routed\" is for udp services only",
                    ));
                }
                Upstream::Routed => {}
                Upstream::Address(a) => {
                    if a.rsplit_once(':')
                        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
                    {
                        return Err(ConfigError::invalid(
                            origin,
                            &key("upstream"),
                            format!("{a:?} is not host:port (or \"routed\", for udp)"),
                        ));
                    }
                }
            }
            if s.proxy_protocol && protocol != Protocol::Tcp {
                return Err(ConfigError::invalid(
                    origin,
                    &key("proxy_protocol"),
                    "a PROXY header is for tcp services only",
                ));
            }
            let allow = s
                .allow
                .iter()
                .map(|r| r.parse::<AllowRule>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::invalid(origin, &key("allow"), e))?;
            services.push(Service {
                name,
                protocol,
                upstream,
                allow,
                proxy_protocol: s.proxy_protocol,
            });
        }
        ServiceTable::new(services).map_err(|e| ConfigError::invalid(origin, "service", e))
    }
}

mod mail;
pub use mail::{MailRecipient, MailSection};
mod telephony;
pub use self::telephony::TelephonySection;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proxy_protocol_tests {
    use super::*;

    const BASE: &str = r#"
listen = "0.0.0.0:4433"
state_dir = "state"

[tls]
fleet_ca = "fleet-ca.pem"
cert = "hub.pem"
key = "hub.key"

[[service]]
name = "console"
upstream = "127.0.0.1:8443"
allow = ["*"]
"#;

    fn console(extra: &str) -> Result<Service, ConfigError> {
        let text = format!("{BASE}{extra}\n");
        let config = Config::parse(&text, "hubd.toml")?;
        let table = config.service_table("hubd.toml")?;
        Ok(table.iter().next().expect("one service").clone())
    }

    #[test]
    fn the_proxy_header_is_off_unless_asked_for() {
        assert!(!console("").expect("valid").proxy_protocol);
        assert!(
            console("proxy_protocol = true")
                .expect("valid")
                .proxy_protocol
        );
    }

    #[test]
    fn a_misspelt_or_misplaced_proxy_protocol_fails_closed_naming_the_key() {
        for (extra, expected) in [
            ("proxy_protocl = true", "unknown field `proxy_protocl`"),
            ("proxy_protocol = \"yes\"", "expected a boolean"),
            (
                "protocol = \"udp\"\nproxy_protocol = true",
                "service[0].proxy_protocol",
            ),
        ] {
            let err = console(extra).expect_err(extra).to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
