//! Appliance identity as carried in a certificate's URI SAN:
//! `urn:legatura:appliance:<mission>:<appliance>`.
//!
//! The hub never trusts anything else the peer says about who it is.

use std::fmt;

const PREFIX: &str = "urn:legatura:appliance:";
const MAX_PART: usize = 32;

/// Which appliance, at which mission. Both parts are 1–32 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplianceId {
    mission: String,
    appliance: String,
}

/// A mission or appliance id broke the rules of [`ApplianceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid appliance identity {0:?}: mission and appliance must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-'"
)]
pub struct InvalidIdentity(pub String);

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PART
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl ApplianceId {
    /// Validates and builds an identity.
    pub fn new(mission: &str, appliance: &str) -> Result<Self, InvalidIdentity> {
        if valid_part(mission) && valid_part(appliance) {
            Ok(Self {
                mission: mission.to_owned(),
                appliance: appliance.to_owned(),
            })
        } else {
            Err(InvalidIdentity(format!("{mission}/{appliance}")))
        }
    }

    /// Parses the URI form found in a certificate SAN.
    pub fn from_uri(uri: &str) -> Result<Self, InvalidIdentity> {
        let rest = uri
            .strip_prefix(PREFIX)
            .ok_or_else(|| InvalidIdentity(uri.to_owned()))?;
        let (mission, appliance) = rest
            .split_once(':')
            .ok_or_else(|| InvalidIdentity(uri.to_owned()))?;
        Self::new(mission, appliance).map_err(|_| InvalidIdentity(uri.to_owned()))
    }

    /// The URI form for a certificate SAN.
    pub fn to_uri(&self) -> String {
        format!("{PREFIX}{}:{}", self.mission, self.appliance)
    }

    /// The mission (embassy or consulate) id, e.g. `paris`.
    pub fn mission(&self) -> &str {
        &self.mission
    }

    /// The appliance id, e.g. `PAR-01`.
    pub fn appliance(&self) -> &str {
        &self.appliance
    }
}

impl fmt::Display for ApplianceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mission, self.appliance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trip() {
        let id = ApplianceId::new("paris", "PAR-01").expect("valid");
        assert_eq!(id.to_uri(), "urn:legatura:appliance:paris:PAR-01");
        assert_eq!(ApplianceId::from_uri(&id.to_uri()), Ok(id.clone()));
        assert_eq!(id.to_string(), "paris/PAR-01");
    }

    #[test]
    fn rejects_foreign_and_malformed_uris() {
        for bad in [
            "https://example.org",
            "urn:legatura:appliance:paris",
            "urn:legatura:appliance::PAR-01",
            "urn:legatura:appliance:paris:PAR:01",
            "urn:legatura:appliance:par is:PAR-01",
            "urn:legatura:operator:noc:alice",
        ] {
            assert!(ApplianceId::from_uri(bad).is_err(), "{bad}");
        }
    }
}
