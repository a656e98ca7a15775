//! `gatewayd.toml`. A typo fails closed, naming the key; keys and certificates are referenced by
//! path, never inlined.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{ConfigError, TransportSection};
use serde::Deserialize;
use tunnel::ServiceName;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hub addresses as `host:port`, tried in turn.
    pub hubs: Vec<String>,
    /// Name on the hub's certificate.
    #[serde(default = "default_server_name")]
    pub server_name: String,
    /// Local admin endpoint (`/readyz`, `/metrics`, `/status`); keep it on loopback.
    #[serde(default = "default_admin")]
    pub admin: SocketAddr,
    pub tls: Tls,
    #[serde(default)]
    pub transport: TransportSection,
    #[serde(default)]
    pub reconnect: Reconnect,
    /// Local listeners, one per service.
    #[serde(default, rename = "listen")]
    pub listeners: Vec<Listener>,
    /// `[sandbox]`: the confinement after start-up (docs/hardening.md).
    #[serde(default)]
    pub sandbox: sandbox::Settings,
}

/// `[tls]`: what the gateway trusts and proves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The pinned hub CA: the only root trusted for the hub.
    pub hub_ca: PathBuf,
    /// This appliance's certificate.
    pub cert: PathBuf,
    /// This appliance's private key (mode 0600).
    pub key: PathBuf,
}

/// `[reconnect]`: pacing of reconnection attempts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reconnect {
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_cap: Duration,
    /// A connection up this long resets the backoff.
    #[serde(with = "humantime_serde")]
    pub stable_after: Duration,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Watchdog ping interval on the control stream.
    #[serde(with = "humantime_serde")]
    pub watchdog: Duration,
    /// How long a replaced connection may finish its streams.
    #[serde(with = "humantime_serde")]
    pub drain_grace: Duration,
    /// Connections kept at once (to different hubs when several are listed); streams are
    /// spread over them. 2 suits sites with bulk traffic and two hubs.
    pub connections: usize,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            watchdog: Duration::from_secs(5),
            drain_grace: Duration::from_secs(30),
            connections: 1,
        }
    }
}

/// `[[listen]]`: a local listener bound to a service name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub service: String,
    /// Local TCP address; each accepted connection becomes one stream.
    pub tcp: Option<SocketAddr>,
    /// Local UDP address; each local peer becomes one datagram flow.
    pub udp: Option<SocketAddr>,
    /// `ip:port` the LAN's clients send to for the UDP listener, when that is not the bound
    /// address (a wildcard bind, a port mapping): the hub's upstreams learn it with each flow.
    /// A string here so a bad value is reported with its key.
    pub advertise: Option<String>,
}

/// A listener as the daemon binds it, its values checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceListener {
    pub service: ServiceName,
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
    pub advertise: Option<SocketAddr>,
}

impl Listener {
    /// `advertise`, parsed: a concrete address and port, since a client cannot send to a
    /// wildcard.
    fn advertise(&self) -> Result<Option<SocketAddr>, String> {
        let Some(text) = &self.advertise else {
            return Ok(None);
        };
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| format!("{text:?} is not ip:port"))?;
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(format!(
                "{text:?} is a wildcard: name the address and port clients send to"
            ));
        }
        Ok(Some(addr))
    }
}

fn default_server_name() -> String {
    "hub.legatura".to_owned()
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9101))
}

impl Config {
    /// Parses and checks a configuration; paths stay as written.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = daemon::config::parse(text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Loads a file; relative paths in it are taken relative to the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (text, origin) = daemon::config::read(path)?;
        let mut config = Self::parse(&text, &origin)?;
        for p in [
            &mut config.tls.hub_ca,
            &mut config.tls.cert,
            &mut config.tls.key,
        ] {
            *p = daemon::config::relative_to(path, p);
        }
        let s = &mut config.sandbox;
        for p in s.read_only.iter_mut().chain(s.read_write.iter_mut()) {
            *p = daemon::config::relative_to(path, p);
        }
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.hubs.is_empty() {
            return Err(ConfigError::invalid(
                origin,
                "hubs",
                "list at least one hub address",
            ));
        }
        if let Some(bad) = self.hubs.iter().find(|h| {
            h.rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        }) {
            return Err(ConfigError::invalid(
                origin,
                "hubs",
                format!("{bad:?} is not host:port"),
            ));
        }
        self.transport.validate(origin)?;
        if !(1..=8).contains(&self.reconnect.connections) {
            return Err(ConfigError::invalid(
                origin,
                "reconnect.connections",
                "must be between 1 and 8",
            ));
        }
        for (i, l) in self.listeners.iter().enumerate() {
            let key = format!("listen[{i}]");
            ServiceName::new(&l.service)
                .map_err(|e| ConfigError::invalid(origin, &format!("{key}.service"), e))?;
            if l.tcp.is_none() && l.udp.is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    &key,
                    "give a tcp or udp address (or both)",
                ));
            }
            let advertise = format!("{key}.advertise");
            l.advertise()
                .map_err(|why| ConfigError::invalid(origin, &advertise, why))?;
            if l.advertise.is_some() && l.udp.is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    &advertise,
                    "is for a udp listener: give its udp address",
                ));
            }
        }
        Ok(())
    }

    /// The listeners, with their values checked (`parse` refuses a file where one is not).
    pub fn services(&self) -> Vec<ServiceListener> {
        self.listeners
            .iter()
            .filter_map(|l| {
                Some(ServiceListener {
                    service: ServiceName::new(&l.service).ok()?,
                    tcp: l.tcp,
                    udp: l.udp,
                    advertise: l.advertise().ok()?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
