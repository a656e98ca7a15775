//! `[telephony]`: the SIP bridge (registrar and B2BUA; docs/telephony.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::ConfigError;
use serde::Deserialize;

/// `[telephony]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelephonySection {
    /// SIP on UDP and TCP, the same port on both.
    pub listen: SocketAddr,
    /// The address the trunk and the phones reach the hub at, written in Via and Contact.
    /// Required when `listen` is a wildcard (`0.0.0.0` or `[::]`).
    pub advertise: Option<SocketAddr>,
    /// The digest realm. The agents file's HA1s were computed with it, so changing it means
    /// recomputing them all.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The agents' credentials: username, HA1 (never the password), extension. Mode 0600:
    /// an HA1 answers any challenge of this realm.
    pub agents: PathBuf,
    /// How long an agent's phone rings before the caller hears 480 and the phone is
    /// cancelled.
    #[serde(default = "default_ring", with = "humantime_serde")]
    pub ring_timeout: Duration,
}

fn default_realm() -> String {
    "legatura".to_owned()
}

fn default_ring() -> Duration {
    Duration::from_secs(60)
}

impl TelephonySection {
    pub(super) fn check(&self, origin: &str) -> Result<(), ConfigError> {
        if self.listen.ip().is_unspecified() && self.advertise.is_none() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.advertise",
                "is needed when telephony.listen is a wildcard: Via and Contact need an address",
            ));
        }
        if self.realm.is_empty() || self.realm.contains(['"', '\\']) {
            return Err(ConfigError::invalid(
                origin,
                "telephony.realm",
                "must be non-empty, without quotes or backslashes",
            ));
        }
        if self.ring_timeout.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.ring_timeout",
                "must not be zero",
            ));
        }
        Ok(())
    }

    pub(super) fn resolve(&mut self, config: &Path) {
        self.agents = daemon::config::relative_to(config, &self.agents);
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const BASE: &str = "listen = \"0.0.0.0:4433\"\nstate_dir = \"state\"\n\
[tls]\nfleet_ca = \"ca.pem\"\ncert = \"hub.pem\"\nkey = \"hub.key\"\n";

    fn parse(section: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}[telephony]\n{section}"), "hubd.toml")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_section_parses_with_defaults() {
        let c =
            parse("listen = \"127.0.0.1:5060\"\nagents = \"sip-agents.toml\"\n").expect("valid");
        let t = c.telephony.expect("section");
        assert_eq!(t.realm, "legatura");
        assert_eq!(t.ring_timeout, std::time::Duration::from_secs(60));
        assert!(t.advertise.is_none());
    }

    #[test]
    fn mistakes_name_their_key() {
        for (section, key) in [
            (
                "listen = \"0.0.0.0:5060\"\nagents = \"a\"\n",
                "telephony.advertise",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nrealm = \"a\\\"b\"\n",
                "telephony.realm",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nring_timeout = \"0s\"\n",
                "telephony.ring_timeout",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\npassword = \"x\"\n",
                "password",
            ),
        ] {
            let error = parse(section).expect_err(section);
            assert!(error.contains(key), "{section}: {error}");
        }
        let wildcard =
            "listen = \"0.0.0.0:5060\"\nadvertise = \"192.0.2.1:5060\"\nagents = \"a\"\n";
        assert!(parse(wildcard).is_ok());
    }
}
