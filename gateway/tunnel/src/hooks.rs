//! What the tunnel asks of the fleet manager. The tunnel carries bytes and enforces answers;
//! the fleet manager (enrollment, issuance, revocation) decides.

use std::fmt;
use std::net::SocketAddr;

use tunnel_proto::ApplianceId;

/// The fleet manager's side of the hub. Every method has a default so a hub without a fleet
/// manager (tests, benchmarks) admits every certificate of its CA and enrolls nobody.
///
/// Methods are called from blocking-safe contexts: `enroll`, `next` and `renew` run on a
/// blocking thread (they may sign with an HSM); `is_revoked` is called per handshake and per
/// stream and must be fast.
pub trait FleetHooks: Send + Sync + fmt::Debug + 'static {
    /// Whether `appliance` is revoked: checked in the TLS verifier, on every stream, and by a
    /// sweep over live connections.
    fn is_revoked(&self, appliance: &ApplianceId) -> bool {
        let _ = appliance;
        false
    }

    /// An appliance was admitted.
    fn connected(&self, appliance: &ApplianceId, remote: SocketAddr, software: &str) {
        let _ = (appliance, remote, software);
    }

    /// An appliance's connection ended.
    fn disconnected(&self, appliance: &ApplianceId) {
        let _ = appliance;
    }

    /// The first enrollment message of an unauthenticated client. Returns the reply, and a
    /// session for the next message when the exchange continues.
    fn enroll(
        &self,
        remote: SocketAddr,
        first: &[u8],
    ) -> (Vec<u8>, Option<Box<dyn EnrollSession>>) {
        let _ = (remote, first);
        (
            b"{\"type\":\"refused\",\"reason\":\"unavailable\"}".to_vec(),
            None,
        )
    }

    /// A renewal request from an admitted appliance; returns the reply.
    fn renew(&self, appliance: &ApplianceId, request: &[u8]) -> Vec<u8> {
        let _ = (appliance, request);
        b"{\"error\":\"renewal is not offered by this hub\"}".to_vec()
    }
}

/// The rest of one enrollment exchange.
pub trait EnrollSession: Send {
    /// The reply to the next message; `None` ends the exchange.
    fn next(self: Box<Self>, message: &[u8]) -> (Vec<u8>, Option<Box<dyn EnrollSession>>);
}

/// Admits every certificate of the CA; offers no enrollment or renewal.
#[derive(Debug, Default)]
pub struct OpenFleet;

impl FleetHooks for OpenFleet {}
