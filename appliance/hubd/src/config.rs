//! `hubd.toml`. A typo fails closed, naming the key; keys and certificates are referenced by
//! path, never inlined.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{ConfigError, TransportSection};
use serde::Deserialize;
use tunnel::{AllowRule, Protocol, Service, ServiceName, ServiceTable};

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
    /// Services gateways may reach, by name. Default deny.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceEntry>,
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
    /// `host:port` of the upstream.
    pub upstream: String,
    /// Who may use it: `*`, `mission/*`, `mission/appliance`, `*/appliance`. Empty: nobody.
    #[serde(default)]
    pub allow: Vec<String>,
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
        if config.limits.max_concurrent_handshakes == 0 {
            return Err(ConfigError::invalid(origin, "limits.max_concurrent_handshakes", "must be at least 1"));
        }
        Ok(config)
    }

    /// Loads a file; relative paths in it are taken relative to the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError { origin: origin.clone(), message: format!("cannot read: {e}") })?;
        let mut config = Self::parse(&text, &origin)?;
        for p in [&mut config.tls.fleet_ca, &mut config.tls.cert, &mut config.tls.key, &mut config.state_dir] {
            *p = daemon::config::relative_to(path, p);
        }
        Ok(config)
    }

    /// The validated service table.
    pub fn service_table(&self, origin: &str) -> Result<ServiceTable, ConfigError> {
        let mut services = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            let key = |field: &str| format!("service[{i}].{field}");
            let name = ServiceName::new(&s.name).map_err(|e| ConfigError::invalid(origin, &key("name"), e))?;
            let protocol = match s.protocol.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => return Err(ConfigError::invalid(origin, &key("protocol"), format!("{other:?}: use \"tcp\" or \"udp\""))),
            };
            if s.upstream.rsplit_once(':').is_none_or(|(_, p)| p.parse::<u16>().is_err()) {
                return Err(ConfigError::invalid(origin, &key("upstream"), format!("{:?} is not host:port", s.upstream)));
            }
            let allow = s
                .allow
                .iter()
                .map(|r| r.parse::<AllowRule>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::invalid(origin, &key("allow"), e))?;
            services.push(Service { name, protocol, upstream: s.upstream.clone(), allow });
        }
        ServiceTable::new(services).map_err(|e| ConfigError::invalid(origin, "service", e))
    }
}

#[cfg(test)]
mod tests;
