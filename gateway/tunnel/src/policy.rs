//! The hub's service table: which upstream each service name reaches and which appliances may
//! use it. Default deny: a service with no matching allow rule is forbidden.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use tunnel_proto::{ApplianceId, ErrorCode, ServiceName};

/// Transport of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// One allow rule: `*`, `MISSION/*`, `MISSION/APPLIANCE` or `*/APPLIANCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    mission: Option<String>,
    appliance: Option<String>,
}

/// An allow rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid allow rule {0:?}: use \"*\", \"mission/*\", \"mission/appliance\" or \"*/appliance\""
)]
pub struct InvalidAllowRule(pub String);

impl FromStr for AllowRule {
    type Err = InvalidAllowRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let part = |p: &str| -> Result<Option<String>, InvalidAllowRule> {
            if p == "*" {
                return Ok(None);
            }
            // Reuse the identity rules so a rule can only name something a certificate can.
            ApplianceId::new(p, p)
                .map(|_| Some(p.to_owned()))
                .map_err(|_| InvalidAllowRule(s.to_owned()))
        };
        match s.split_once('/') {
            None if s == "*" => Ok(Self {
                mission: None,
                appliance: None,
            }),
            None => Err(InvalidAllowRule(s.to_owned())),
            Some((m, a)) => Ok(Self {
                mission: part(m)?,
                appliance: part(a)?,
            }),
        }
    }
}

impl AllowRule {
    fn matches(&self, id: &ApplianceId) -> bool {
        self.mission.as_deref().is_none_or(|m| m == id.mission())
            && self
                .appliance
                .as_deref()
                .is_none_or(|a| a == id.appliance())
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.mission, &self.appliance) {
            (None, None) => f.write_str("*"),
            (m, a) => write!(
                f,
                "{}/{}",
                m.as_deref().unwrap_or("*"),
                a.as_deref().unwrap_or("*")
            ),
        }
    }
}

/// Where a service's streams or flows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `host:port`, resolved at each connect (each new flow, for UDP).
    Address(String),
    /// UDP only: each datagram goes where the hub's [`UdpRouter`](crate::UdpRouter) says, from
    /// one unconnected socket per flow (`upstream = "routed"` in hubd.toml).
    Routed,
}

impl Upstream {
    /// The configuration word for [`Upstream::Routed`].
    pub const ROUTED: &'static str = "routed";

    /// `"routed"`, or else an address as written (its syntax is the daemon's to check).
    pub fn parse(s: &str) -> Self {
        if s == Self::ROUTED {
            Self::Routed
        } else {
            Self::Address(s.to_owned())
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(a) => f.write_str(a),
            Self::Routed => f.write_str(Self::ROUTED),
        }
    }
}

/// A service the hub offers through the tunnel.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: ServiceName,
    pub protocol: Protocol,
    /// Where its streams or flows go; [`Upstream::Routed`] is for UDP services only (a TCP
    /// stream to one is refused as unreachable).
    pub upstream: Upstream,
    pub allow: Vec<AllowRule>,
    /// Write a PROXY protocol v2 header naming the appliance (`tunnel_origin::encode`) to the
    /// upstream before the first forwarded byte. TCP only; the upstream must listen on loopback.
    pub proxy_protocol: bool,
}

/// Two services share a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service {0} is defined twice")]
pub struct DuplicateService(pub String);

/// Every service of the hub, by name.
#[derive(Debug, Clone, Default)]
pub struct ServiceTable {
    services: HashMap<ServiceName, Service>,
}

impl ServiceTable {
    pub fn new(services: impl IntoIterator<Item = Service>) -> Result<Self, DuplicateService> {
        let mut table = HashMap::new();
        for s in services {
            if let Some(dup) = table.insert(s.name.clone(), s) {
                return Err(DuplicateService(dup.name.to_string()));
            }
        }
        Ok(Self { services: table })
    }

    /// The service `name` if `id` may use it over `protocol`; otherwise the error code to reset
    /// the stream with. An unknown name and a name of the wrong protocol look the same.
    pub fn authorize(
        &self,
        id: &ApplianceId,
        name: &ServiceName,
        protocol: Protocol,
    ) -> Result<&Service, ErrorCode> {
        let service = self
            .services
            .get(name)
            .filter(|s| s.protocol == protocol)
            .ok_or(ErrorCode::UnknownService)?;
        if service.allow.iter().any(|rule| rule.matches(id)) {
            Ok(service)
        } else {
            Err(ErrorCode::Forbidden)
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, protocol: Protocol, allow: &[&str]) -> Service {
        Service {
            name: ServiceName::new(name).expect("valid"),
            protocol,
            upstream: Upstream::Address("127.0.0.1:1".into()),
            proxy_protocol: false,
            allow: allow
                .iter()
                .map(|r| r.parse().expect("valid rule"))
                .collect(),
        }
    }

    fn id(m: &str, a: &str) -> ApplianceId {
        ApplianceId::new(m, a).expect("valid")
    }

    #[test]
    fn default_deny_and_rules_by_mission_and_appliance() {
        let table = ServiceTable::new([
            svc("console", Protocol::Tcp, &["*"]),
            svc("sip", Protocol::Udp, &["paris/*", "*/BER-02"]),
            svc("vault", Protocol::Tcp, &[]),
        ])
        .expect("unique");
        let name = |n| ServiceName::new(n).expect("valid");
        let paris = id("paris", "PAR-01");
        let berlin1 = id("berlin", "BER-01");
        let berlin2 = id("berlin", "BER-02");
        assert!(
            table
                .authorize(&berlin1, &name("console"), Protocol::Tcp)
                .is_ok()
        );
        assert!(table.authorize(&paris, &name("sip"), Protocol::Udp).is_ok());
        assert!(
            table
                .authorize(&berlin2, &name("sip"), Protocol::Udp)
                .is_ok()
        );
        assert_eq!(
            table.authorize(&berlin1, &name("sip"), Protocol::Udp).err(),
            Some(ErrorCode::Forbidden)
        );
        assert_eq!(
            table.authorize(&paris, &name("vault"), Protocol::Tcp).err(),
            Some(ErrorCode::Forbidden)
        );
        assert_eq!(
            table.authorize(&paris, &name("sip"), Protocol::Tcp).err(),
            Some(ErrorCode::UnknownService)
        );
        assert_eq!(
            table.authorize(&paris, &name("nope"), Protocol::Tcp).err(),
            Some(ErrorCode::UnknownService)
        );
    }

    #[test]
    fn rules_parse_strictly() {
        for ok in ["*", "paris/*", "paris/PAR-01", "*/PAR-01", "*/*"] {
            let rule: AllowRule = ok.parse().expect(ok);
            assert_eq!(rule.to_string().replace("*/*", "*"), ok.replace("*/*", "*"));
        }
        for bad in ["", "paris", "paris/", "/x", "par is/*", "a/b/c"] {
            assert!(bad.parse::<AllowRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn routed_is_a_word_and_anything_else_an_address() {
        assert_eq!(Upstream::parse("routed"), Upstream::Routed);
        assert_eq!(Upstream::Routed.to_string(), "routed");
        let addr = Upstream::parse("127.0.0.1:5060");
        assert_eq!(addr, Upstream::Address("127.0.0.1:5060".into()));
        assert_eq!(addr.to_string(), "127.0.0.1:5060");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let err =
            ServiceTable::new([svc("a", Protocol::Tcp, &[]), svc("a", Protocol::Udp, &[])]).err();
        assert_eq!(err, Some(DuplicateService("a".into())));
    }
}
