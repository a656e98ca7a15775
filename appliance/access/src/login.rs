//! Login paths: a session is bound to the way it came in, and an account may come in only
//! through its own mission's appliances or the central network.

use std::fmt;

use crate::{Policy, Staff};

/// How a request reached the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccessPath {
    /// The central network, where the contact centre and the ministry sit.
    Central,
    /// An embassy appliance, known to the hub from the tunnel's mTLS identity, never from
    /// anything the browser sends.
    Appliance {
        /// The fleet's mission id, which is the consulate id (`ro-emb-paris`).
        mission: String,
        /// The appliance's name within the mission (`PAR-01`).
        appliance: String,
    },
}

impl AccessPath {
    /// The stable text a session is bound to: `central` or `appliance:MISSION/APPLIANCE`.
    ///
    /// Two paths have the same key only if they are equal, because a mission id (a consulate
    /// id) never contains `/`.
    pub fn key(&self) -> String {
        match self {
            AccessPath::Central => "central".to_owned(),
            AccessPath::Appliance { mission, appliance } => {
                format!("appliance:{mission}/{appliance}")
            }
        }
    }

    /// The path a [`AccessPath::key`] was made from, or `None` for text no key looks like.
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "central" {
            return Some(AccessPath::Central);
        }
        let (mission, appliance) = key.strip_prefix("appliance:")?.split_once('/')?;
        if mission.is_empty() || appliance.is_empty() {
            return None;
        }
        Some(AccessPath::Appliance {
            mission: mission.to_owned(),
            appliance: appliance.to_owned(),
        })
    }
}

impl fmt::Display for AccessPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessPath::Central => f.write_str("the central network"),
            AccessPath::Appliance { mission, appliance } => {
                write!(f, "appliance {appliance} of mission {mission}")
            }
        }
    }
}

/// Why an account may not log in through a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginDenied {
    /// Central staff log in only from the central network, never through an embassy.
    #[error("central staff log in only through the central network, not through {path}")]
    CentralOnly { path: AccessPath },
    /// The account belongs to another mission than the appliance it came through.
    #[error("an account of {consulate} may not log in through {path}")]
    OtherMission { consulate: String, path: AccessPath },
}

impl Policy {
    /// Whether `staff` may log in through `path`: the central network admits everyone; an
    /// appliance admits only the accounts of its own mission, and never central staff.
    pub fn may_log_in(&self, staff: &Staff, path: &AccessPath) -> Result<(), LoginDenied> {
        let AccessPath::Appliance { mission, .. } = path else {
            return Ok(());
        };
        if self.is_central(staff) {
            return Err(LoginDenied::CentralOnly { path: path.clone() });
        }
        if staff.consulate.as_str() != mission {
            return Err(LoginDenied::OtherMission {
                consulate: staff.consulate.to_string(),
                path: path.clone(),
            });
        }
        Ok(())
    }
}
