//! A throw-away PKI, all in memory, for tests and benchmarks: a fleet CA, a hub certificate and
//! appliance certificates on demand, each issued the way production issues them.

use std::time::Duration;

use time::OffsetDateTime;
use tunnel_proto::ApplianceId;

use crate::ca::window_from_now;
use crate::{Ca, IssueError, Issued, generate_key_and_csr};

/// The hub's name in fixture certificates; resolve it to the hub's address in tests.
pub const HUB_DNS_NAME: &str = "hub.legatura.test";

/// Every DNS name in the fixture hub certificate.
pub const HUB_DNS_NAMES: [&str; 2] = [HUB_DNS_NAME, "localhost"];

/// Common name of the fixture fleet CA.
pub const CA_COMMON_NAME: &str = "Legătura test fleet CA";

const CA_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);
const LEAF_VALIDITY: Duration = Duration::from_secs(24 * 3600);
const HOUR: time::Duration = time::Duration::hours(1);

/// A fleet CA and a hub certificate it issued for [`HUB_DNS_NAMES`].
#[derive(Debug)]
pub struct Fleet {
    pub ca: Ca,
    pub hub: Issued,
}

/// A new fleet: a CA valid 30 days and a hub server certificate valid 24 hours.
pub fn fleet() -> Result<Fleet, IssueError> {
    let ca = Ca::generate(CA_COMMON_NAME, CA_VALIDITY)?;
    let hub = ca.issue_server(&HUB_DNS_NAMES, LEAF_VALIDITY)?;
    Ok(Fleet { ca, hub })
}

impl Fleet {
    /// The fleet CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// The hub's server certificate and key.
    pub fn hub(&self) -> &Issued {
        &self.hub
    }

    /// A key and client certificate for `urn:legatura:appliance:<mission>:<appliance>`, valid
    /// from five minutes ago for 24 hours. The key is generated and the certificate issued from
    /// a CSR, as in production.
    pub fn appliance(&self, mission: &str, appliance: &str) -> Result<Issued, IssueError> {
        let (not_before, not_after) = window_from_now(LEAF_VALIDITY)?;
        self.appliance_between(mission, appliance, not_before, not_after)
    }

    /// As [`Fleet::appliance`], but the certificate expired an hour ago (it was valid for the
    /// 24 hours before that).
    pub fn expired_appliance(&self, mission: &str, appliance: &str) -> Result<Issued, IssueError> {
        let now = OffsetDateTime::now_utc();
        self.appliance_between(mission, appliance, now - 25 * HOUR, now - HOUR)
    }

    /// As [`Fleet::appliance`], with an explicit validity period.
    pub fn appliance_between(
        &self,
        mission: &str,
        appliance: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Issued, IssueError> {
        let id = ApplianceId::new(mission, appliance).map_err(IssueError::InvalidIdentity)?;
        let request = generate_key_and_csr(&id)?;
        let cert_pem =
            self.ca
                .sign_appliance_csr_between(&request.csr_pem, &id, not_before, not_after)?;
        Ok(Issued {
            cert_pem,
            key_pem: request.key_pem,
        })
    }
}

#[cfg(test)]
mod tests;
