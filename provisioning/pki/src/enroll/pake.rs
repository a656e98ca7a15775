//! The SPAKE2 exchange and its confirmation MACs, for both sides.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hkdf, hmac};
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::{EnrollCode, Message, Refusal};

const GATEWAY_ID: &[u8] = b"legatura-appliance";
const HUB_ID: &[u8] = b"legatura-hub";
const DOMAIN: &[u8] = b"legatura-enroll-v1";

/// What a successful enrollment gives the appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub cert_pem: String,
    pub hub_ca_pem: String,
    pub mission: String,
    pub appliance: String,
    /// Set when the code enrolled a NOC operator rather than an appliance.
    pub operator: Option<String>,
}

/// Why enrollment failed, as the appliance sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrollError {
    #[error("{}", .0.explain())]
    Refused(Refusal),
    #[error("the hub's answer did not prove it knows the code; not trusting it")]
    HubNotConfirmed,
    #[error("unexpected {0} message")]
    Unexpected(&'static str),
    #[error("malformed PAKE message")]
    Pake,
}

/// The appliance side, after `Start`.
pub struct GatewayEnrollment {
    spake: Spake2<Ed25519Group>,
    code_id: String,
    ours: Vec<u8>,
}

/// The appliance side, after `Finish`.
pub struct GatewayAwaitingIssue {
    hub_confirm: hmac::Key,
}

impl std::fmt::Debug for GatewayEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayEnrollment")
            .field("code_id", &self.code_id)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GatewayAwaitingIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayAwaitingIssue")
    }
}

impl GatewayEnrollment {
    /// Begins: the first PAKE message, keyed by the code's secret.
    pub fn start(code: &EnrollCode, software: &str, unix_time: i64) -> (Self, Message) {
        let (spake, ours) = Spake2::<Ed25519Group>::start_a(
            &Password::new(code.secret().as_bytes()),
            &Identity::new(GATEWAY_ID),
            &Identity::new(HUB_ID),
        );
        let start = Message::Start {
            code_id: code.id().to_owned(),
            pake: B64.encode(&ours),
            software: software.to_owned(),
            unix_time,
        };
        (
            Self {
                spake,
                code_id: code.id().to_owned(),
                ours,
            },
            start,
        )
    }

    /// Takes the hub's `Challenge` and sends the CSR with the confirmation MAC.
    pub fn finish(
        self,
        reply: Message,
        csr_pem: &str,
    ) -> Result<(GatewayAwaitingIssue, Message), EnrollError> {
        let theirs = match reply {
            Message::Challenge { pake } => B64.decode(pake).map_err(|_| EnrollError::Pake)?,
            Message::Refused { reason } => return Err(EnrollError::Refused(reason)),
            other => return Err(EnrollError::Unexpected(other.name())),
        };
        let transcript = transcript(&self.code_id, &self.ours, &theirs);
        let key = self.spake.finish(&theirs).map_err(|_| EnrollError::Pake)?;
        let (gateway_confirm, hub_confirm) = confirm_keys(&key, &transcript);
        let confirm = hmac::sign(&gateway_confirm, &bind(&[csr_pem.as_bytes()]));
        let finish = Message::Finish {
            csr_pem: csr_pem.to_owned(),
            confirm: B64.encode(confirm.as_ref()),
        };
        Ok((GatewayAwaitingIssue { hub_confirm }, finish))
    }
}

impl GatewayAwaitingIssue {
    /// Takes the hub's answer; accepts the certificate only if the hub's MAC proves it ran the
    /// PAKE with the same code.
    pub fn accept(self, reply: Message) -> Result<Enrolled, EnrollError> {
        match reply {
            Message::Issued {
                cert_pem,
                hub_ca_pem,
                mission,
                appliance,
                operator,
                confirm,
            } => {
                let tag = B64
                    .decode(confirm)
                    .map_err(|_| EnrollError::HubNotConfirmed)?;
                let msg = issued_binding(
                    &cert_pem,
                    &hub_ca_pem,
                    &mission,
                    &appliance,
                    operator.as_deref(),
                );
                hmac::verify(&self.hub_confirm, &msg, &tag)
                    .map_err(|_| EnrollError::HubNotConfirmed)?;
                Ok(Enrolled {
                    cert_pem,
                    hub_ca_pem,
                    mission,
                    appliance,
                    operator,
                })
            }
            Message::Refused { reason } => Err(EnrollError::Refused(reason)),
            other => Err(EnrollError::Unexpected(other.name())),
        }
    }
}

/// The hub side, after answering `Start`.
pub struct HubEnrollment {
    gateway_confirm: hmac::Key,
    hub_confirm: hmac::Key,
}

impl std::fmt::Debug for HubEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubEnrollment")
    }
}

impl HubEnrollment {
    /// Answers `Start` (whose code id the caller already looked up) with the second PAKE
    /// message. Nothing here tells the appliance whether its code is right.
    pub fn respond(code: &EnrollCode, their_pake: &str) -> Result<(Self, Message), Refusal> {
        let theirs = B64.decode(their_pake).map_err(|_| Refusal::Malformed)?;
        let (spake, ours) = Spake2::<Ed25519Group>::start_b(
            &Password::new(code.secret().as_bytes()),
            &Identity::new(GATEWAY_ID),
            &Identity::new(HUB_ID),
        );
        let transcript = transcript(code.id(), &theirs, &ours);
        let key = spake.finish(&theirs).map_err(|_| Refusal::Malformed)?;
        let (gateway_confirm, hub_confirm) = confirm_keys(&key, &transcript);
        Ok((
            Self {
                gateway_confirm,
                hub_confirm,
            },
            Message::Challenge {
                pake: B64.encode(&ours),
            },
        ))
    }

    /// Checks `Finish`: the appliance proved it knows the code, and the CSR is the one it
    /// meant. Returns the CSR.
    pub fn check_finish(&self, finish: Message) -> Result<String, Refusal> {
        let Message::Finish { csr_pem, confirm } = finish else {
            return Err(Refusal::Malformed);
        };
        let tag = B64.decode(confirm).map_err(|_| Refusal::WrongCode)?;
        hmac::verify(&self.gateway_confirm, &bind(&[csr_pem.as_bytes()]), &tag)
            .map_err(|_| Refusal::WrongCode)?;
        Ok(csr_pem)
    }

    /// The `Issued` answer, MACed so the appliance can tell it came from this exchange.
    pub fn issued(
        &self,
        cert_pem: String,
        hub_ca_pem: String,
        mission: String,
        appliance: String,
        operator: Option<String>,
    ) -> Message {
        let tag = hmac::sign(
            &self.hub_confirm,
            &issued_binding(
                &cert_pem,
                &hub_ca_pem,
                &mission,
                &appliance,
                operator.as_deref(),
            ),
        );
        Message::Issued {
            cert_pem,
            hub_ca_pem,
            mission,
            appliance,
            operator,
            confirm: B64.encode(tag.as_ref()),
        }
    }
}

/// SHA-256 over the domain, the code id and both PAKE messages, each length-prefixed.
fn transcript(code_id: &str, gateway_msg: &[u8], hub_msg: &[u8]) -> [u8; 32] {
    bind_parts(&[DOMAIN, code_id.as_bytes(), gateway_msg, hub_msg])
}

fn bind(parts: &[&[u8]]) -> [u8; 32] {
    bind_parts(parts)
}

fn issued_binding(
    cert: &str,
    ca: &str,
    mission: &str,
    appliance: &str,
    operator: Option<&str>,
) -> [u8; 32] {
    bind_parts(&[
        cert.as_bytes(),
        ca.as_bytes(),
        mission.as_bytes(),
        appliance.as_bytes(),
        operator.unwrap_or_default().as_bytes(),
    ])
}

fn bind_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Two MAC keys from the PAKE output, one per direction, salted with the transcript.
fn confirm_keys(pake_key: &[u8], transcript: &[u8; 32]) -> (hmac::Key, hmac::Key) {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, transcript).extract(pake_key);
    let key = |info: &'static [u8]| -> hmac::Key {
        // Expanding 32 bytes from SHA-256 HKDF is always within bounds.
        match prk.expand(&[info], hmac::HMAC_SHA256) {
            Ok(okm) => hmac::Key::from(okm),
            Err(_) => hmac::Key::new(hmac::HMAC_SHA256, transcript),
        }
    };
    (key(b"gateway confirm"), key(b"hub confirm"))
}

#[cfg(test)]
mod tests;
